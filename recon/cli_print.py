"""The outcome of a nightly run as `recon run` prints it."""
from __future__ import annotations


def print_result(result: dict) -> None:
    """What `recon run` / `recon backfill` print for one run's outcome (the flow's result)."""
    print(f"run {result['run_id']} for {result['business_date']}: {result['status']}")
    for source, status in result["sources"].items():
        print(f"  source {source:<12} {status}")
    for category, n in result["breaks"].items():
        print(f"  breaks {category:<22} {n}")
    if result.get("quarantined"):
        print(f"  quarantined lines             {result['quarantined']}")
    for p in result.get("pending", []):
        print(f"  pending (source late) {p['source']:<8} {p['items']} items {p['currency']}, since {p['oldest']}")
    for g in result.get("statement_gaps", []):
        kinds = " and ".join(k for k in ("balance_gap", "sequence_gap") if g[k]).replace("_", " ")
        print(f"  statement gap {g['source']} {g['account']} since {g['previous_date']}: {kinds}")
    for text in result.get("tie_out", []):
        print(f"  WARNING reports do not tie: {text}")
    for name, path in result["outputs"].items():
        print(f"  {name:<8} {path}")
    if result.get("dask"):
        print(f"  dask     {result['dask']['scheduler']}, {len(result['dask']['workers'])} workers")
