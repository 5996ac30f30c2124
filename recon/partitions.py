"""The first reference pass per hash partition: the match of a day whose one join does not fit in
memory, or spread over Dask workers (flows/fanout.py). The same candidate pairs as one join."""
from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb

import sql
from recon.warehouse import REFERENCE_MACROS, apply_settings, scalar

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Partitions:
    """The first reference pass, which links the bulk of a day, run per hash partition of its key.

    The open items go to ``directory`` as parquet partitioned by ``hash(merchant_key) % n`` (every
    candidate pair of an item shares its key, so each item's candidates, and so its one-candidate
    counts, are all in one partition); ``map`` runs ``partition_candidates`` for each partition,
    anywhere that sees ``directory`` (on Dask: flows/fanout.py), and returns what each call
    returned. The candidates come back as parquet and are recorded here, as a single-process run
    records them: the same matches, ambiguities and breaks (tests/test_partitions.py, test_dask.py).
    """
    n: int
    directory: Path
    map: Callable[[list[dict]], list]


def partition_candidates(directory: str, part: int, rule: str, mode: str, key: str) -> dict:
    """The candidate pairs (work_cand of match_reference.sql) of one partition, in a DuckDB of its
    own: reads ``directory``/{ledger,stmt}/part=``part`` and rules.parquet, writes
    cand/part-``part``.parquet. Returns its counts and seconds (fanout adds where it ran)."""
    t = time.perf_counter()
    root = Path(directory)
    con = duckdb.connect()
    try:
        # The run's thread and memory settings where they are set (on a Dask worker usually
        # not), spilling beside its parquet, which the caller removes.
        apply_settings(con, ":memory:", spill_dir=root / f"spill-{int(part):05d}")
        con.execute(REFERENCE_MACROS)
        for table, name in (("work_ledger", "ledger"), ("work_stmt", "stmt")):
            con.execute(f"CREATE TEMP TABLE {table} AS SELECT * EXCLUDE (part) FROM read_parquet("
                        f"'{root / name}/*/*.parquet', hive_partitioning = true) WHERE part = {int(part)}")
        con.execute(f"CREATE TEMP TABLE work_rules AS SELECT * FROM read_parquet('{root / 'rules.parquet'}')")
        sql.execute(con, "match_reference", {"rule": rule, "mode": mode}, key=key)
        out = root / "cand" / f"part-{int(part):05d}.parquet"
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.tmp")
        con.execute(f"COPY work_cand TO '{tmp}' (FORMAT parquet)")
        tmp.replace(out)  # the flow never reads a half-written file
        counts = con.execute("SELECT (SELECT count(*) FROM work_ledger), (SELECT count(*) FROM work_stmt), "
                             "(SELECT count(*) FROM work_cand)").fetchone()
    finally:
        con.close()
    return {"part": part, "ledger": counts[0], "lines": counts[1], "pairs": counts[2],
            "seconds": round(time.perf_counter() - t, 3)}


def in_process(n: int, directory: Path) -> Partitions:
    """The first reference pass per hash partition, one partition after another in this process
    (``RECON_MATCH_PARTITIONS``): a day whose one join of the open items does not fit in memory
    joins about 1/n of each side at a time."""
    return Partitions(n, directory, lambda calls: [partition_candidates(**c) for c in calls])


def candidates_in_partitions(con, partitions: Partitions, rule: str, mode: str, key: str) -> bool:
    """match_reference.sql's first statement (work_cand, the candidate pairs) per partition.
    False, and nothing done, when one side has nothing open: no pair can form, and there is
    nothing to hand out."""
    if not scalar(con, "SELECT (SELECT count(*) FROM work_ledger WHERE state IS NULL) > 0 "
                       "AND (SELECT count(*) FROM work_stmt WHERE state IS NULL) > 0"):
        return False
    root = partitions.directory
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    try:
        for table, name in (("work_ledger", "ledger"), ("work_stmt", "stmt")):
            con.execute(f"COPY (SELECT *, hash(merchant_key) % {int(partitions.n)} AS part FROM {table} "
                        f"WHERE state IS NULL) TO '{root / name}' (FORMAT parquet, PARTITION_BY (part))")
        con.execute(f"COPY work_rules TO '{root / 'rules.parquet'}' (FORMAT parquet)")
        done = partitions.map([{"directory": str(root), "part": i, "rule": rule, "mode": mode, "key": key}
                               for i in range(partitions.n)])
        log.info("Reference pass %s in %d partitions: %s candidate pairs", rule, partitions.n,
                 f"{sum(d['pairs'] for d in done):,}")
        con.execute(f"CREATE OR REPLACE TEMP TABLE work_cand AS SELECT * FROM read_parquet('{root / 'cand'}/*.parquet')")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return True
