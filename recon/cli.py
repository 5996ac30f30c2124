"""The `recon` command. Exit codes: 0 reconciled, 1 breaks (or a source late/rejected), 2 error."""
from __future__ import annotations

import argparse
import logging
import os
import sys
from datetime import date, timedelta
from pathlib import Path

from recon.cli_print import print_result
from recon.errors import EXIT_ERROR

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = ROOT / "data" / "recon.toml"
log = logging.getLogger("recon")


def _prefect_env(debug: bool = False):
    """Prefect settings that must be in place before prefect is imported (DESIGN.md traps); then
    prefect imported and, unless --debug, its and paramiko's tracebacks kept off the console; then
    the temporary API server started in the background. Returns ``ready()``: call it after the
    flow's modules are imported (that import overlaps the server's start-up), before the flow."""
    os.environ.setdefault("PREFECT_HOME", str(ROOT / "var" / "prefect"))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "recon,connectors,schemas,flows")
    # recon's loggers also log outside flow runs (eval's generator, the CLI's own steps): those
    # records go to the console only, without a UserWarning per record from Prefect's API handler.
    os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")
    os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "warning")  # --dask: no cluster life-cycle chatter
    # The temporary API server needs more than Prefect's 20 s on a busy machine: recon starts it
    # and waits this long by the clock (flows/ephemeral.py, docs/operations.md#prefect-start-up).
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "600")
    Path(os.environ["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)
    import prefect  # noqa: F401 - Prefect's logging set-up first, recon's console rules on top
    if not debug:
        from recon.console import quiet_console
        quiet_console()
    from flows.ephemeral import begin_api
    return begin_api()


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, found {text!r}") from None


def _config(args) -> Path:
    return Path(args.config or os.environ.get("RECON_CONFIG") or DEFAULT_CONFIG)


def cmd_generate(args) -> int:
    from recon.generate import generate_day
    day = generate_day(args.date, args.out, seed=args.seed, scale=args.scale,
                       progress=lambda m: print(f"  {m}", file=sys.stderr))
    for name, path in sorted(day.paths.items()):
        print(f"{name:<10} {path}")
    return 0


def _checked_config(args) -> Path:
    """The config path, validated before Prefect starts: a mistake is reported in about a second."""
    from recon import config
    config.load(_config(args))
    return _config(args)


def cmd_run(args) -> int:
    _checked_config(args)
    ready = _prefect_env(args.debug)
    from flows.nightly import nightly
    if args.dask:  # README "Beyond one machine"; --dask off overrides $RECON_DASK_ADDRESS and [dask]
        from flows import fanout
        if spec := fanout.parse_spec(args.dask, "--dask"):
            nightly = nightly.with_options(task_runner=fanout.task_runner(spec))
        else:
            os.environ[fanout.ENV] = "off"
    ready()
    result = nightly(business_date=args.date, sources=args.sources or None,
                     config_path=str(_config(args)), language=args.language)
    print_result(result)
    return result["exit_code"]


def cmd_backfill(args) -> int:
    _checked_config(args)
    ready = _prefect_env(args.debug)
    from flows.backfill import backfill
    ready()
    results = backfill(start=args.start, end=args.end, sources=args.sources or None,
                       config_path=str(_config(args)))
    for result in results:
        print_result(result)
    return max(r["exit_code"] for r in results)


def cmd_ledger_load(args) -> int:
    import getpass

    from recon import auditcli, config
    who = args.who or (getpass.getuser() if args.why else None)
    return auditcli.ledger_load(config.load(_config(args)), args.file.resolve(), who, args.why)


def cmd_parse(args) -> int:
    import hashlib
    import tomllib

    from schemas import registry
    data = args.file.read_bytes()
    fmt = args.format or registry.identify(data, args.file.name)
    try:
        options = tomllib.loads(args.options.read_text("utf-8")) if args.options else None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        from recon.errors import ConfigError
        raise ConfigError(str(args.options), "--options", f"not a TOML file of format options ({e})",
                          hint="Fix the line it names; docs/formats.md shows a bankcsv mapping.") from e
    parsed = registry.parse(fmt, data, name=args.file.name, source=args.source or fmt,
                            sha256=hashlib.sha256(data).hexdigest(), business_date=args.date,
                            timezone=args.timezone, options=options, raw=args.raw)
    frame = parsed.frame.drop("raw", strict=False) if not args.raw else parsed.frame
    if args.out and args.out.suffix == ".parquet":
        frame.write_parquet(args.out)
    elif args.out:
        frame.write_csv(args.out)
    else:
        sys.stdout.write(frame.write_csv())
    checks = ", ".join(f"{c.name} ok" for c in parsed.checks) or "none in this format"
    print(f"{args.file.name}: {fmt}, {parsed.frame.height} lines, {parsed.quarantine.height} quarantine "
          f"rows; control totals: {checks}", file=sys.stderr)
    for row in parsed.quarantine.iter_rows(named=True):
        print(f"  quarantined line {row['file_line']}, field {row['field']}: {row['reason']}", file=sys.stderr)
    if parsed.line_count and not parsed.frame.height:
        print(f"recon: {args.file.name}: every one of its {parsed.line_count} lines is quarantined; "
              f"nothing would be loaded (see the reasons above)", file=sys.stderr)
        return 1
    return 1 if parsed.quarantine.height else 0  # a quarantined line is never a clean parse


def cmd_runs(args) -> int:
    from recon import audit, auditcli, config
    cfg = config.load(_config(args))
    if args.runs_command == "list":
        print(auditcli.runs_table(audit.list_runs(cfg, args.date)))
    elif args.runs_command == "show":
        print(audit.write_json(audit.show_run(cfg, args.run_id), None))
    else:
        d = audit.diff_runs(cfg, args.run_a, args.run_b)
        print(audit.write_json(d, None) if args.json else auditcli.diff_text(d))
        return 1 if auditcli.differs(d) else 0
    return 0


def cmd_rerun(args) -> int:
    from recon import auditcli, config
    from recon.rerun import rerun
    cfg = config.load(_config(args))
    result = rerun(cfg, args.date, args.run, keep=args.keep)
    print(auditcli.rerun_text(cfg, result))
    return 0 if result.identical else 1


def cmd_trace(args) -> int:
    from recon import audit, config
    t = audit.trace(config.load(_config(args)), args.break_id, args.run)
    print(audit.write_json(t, None) if args.json else audit.format_trace(t))
    return 0


def cmd_identify(args) -> int:
    from schemas import registry
    print(registry.identify(args.file.read_bytes(), args.file.name))
    return 0


def cmd_serve(args) -> int:
    from recon import config
    cfg = config.load(_config(args))  # before Prefect starts
    ready = _prefect_env(args.debug)
    from flows.serve import serve
    ready()
    return serve(cfg, str(_config(args)))


def cmd_eval(args) -> int:
    ready = _prefect_env(args.debug)
    from recon.eval import report, run_eval
    import flows.nightly  # noqa: F401 - what run_eval imports, while the server starts
    ready()
    result = run_eval(args.scenario, args.days, args.seed, args.scale, args.out,
                      progress=lambda m: print(m, file=sys.stderr))
    print(report(result))
    return 0


def cmd_demo(args) -> int:
    ready = _prefect_env(args.debug)
    from recon.demo import run_demo
    import flows.nightly  # noqa: F401 - what run_demo imports, while the server starts
    ready()
    return run_demo(args.date, args.out.resolve(), seed=args.seed, scale=args.scale)


def cmd_annotations_import(args) -> int:
    from recon import config
    from recon.annotations import import_workbook
    res = import_workbook(config.load(_config(args)), args.workbook, who=args.who)
    print(f"{args.workbook.name}: run {res.run_id}, {res.rows} break rows, {res.recorded} "
          f"annotations recorded, {res.unchanged} unchanged, {res.ignored} other rows ignored "
          f"(workbook sha256 {res.workbook_sha[:12]}…)")
    if res.conflicts:
        print(f"{len(res.conflicts)} row(s) not applied: edited on an older annotation than the "
              "warehouse's latest (start from today's workbook and edit them again):")
        for c in res.conflicts:
            print(f"  {c}")
        return 1
    return 0


def cmd_journal(args) -> int:
    from recon.outputs import journal_accounts
    from recon import config, pipeline
    from recon.assemble import build_summary, latest_run
    from recon.reports.journal import load_accounts, write_journal
    cfg = config.load(_config(args))
    run_id, started, statuses = latest_run(cfg, args.date)
    summary = build_summary(cfg, run_id, args.date, started, statuses)
    out = args.out or pipeline.reports_dir(cfg, args.date, run_id) / f"journal_{args.date:%Y-%m-%d}.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    write_journal(summary, out, load_accounts(args.accounts or journal_accounts(cfg)))
    print(out)
    return 0


def build_parser() -> argparse.ArgumentParser:
    fmt = argparse.RawDescriptionHelpFormatter
    p = argparse.ArgumentParser(
        prog="recon", formatter_class=fmt,
        description="Batch reconciliation and clearing for payment operations.",
        epilog="examples:\n  recon demo\n  recon run --date 2026-11-21\n"
               "  recon generate --date 2026-11-21 --out /tmp/world --scale 1000")
    p.add_argument("--debug", action="store_true", help="show tracebacks instead of one-paragraph errors")
    p.add_argument("-q", "--quiet", action="store_true", help="log warnings and errors only")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    g = sub.add_parser("generate", formatter_class=fmt, help="write a synthetic day: ledger, PSP files, bank statement, ground truth",
                       epilog="example:\n  recon generate --date 2026-11-21 --out /tmp/world --seed 7 --scale 1000")
    g.add_argument("--date", type=_date, required=True, help="business date, YYYY-MM-DD")
    g.add_argument("--out", type=Path, required=True, help="output directory (laid out like the SFTP server)")
    g.add_argument("--seed", type=int, default=7, help="random seed (same seed, same bytes; default 7)")
    g.add_argument("--scale", type=int, default=200, help="payments per PSP per day (default 200)")
    g.set_defaults(func=cmd_generate)

    r = sub.add_parser("run", formatter_class=fmt, help="reconcile one business day (the nightly Prefect flow)",
                       epilog="example:\n  recon run --date 2026-11-21 --config data/recon.toml\n"
                              "exit codes: 0 reconciled, 1 breaks or a late/rejected source, 2 error")
    r.add_argument("--date", type=_date, default=date.today() - timedelta(days=1),
                   help="business date, YYYY-MM-DD (default: yesterday)")
    r.add_argument("--sources", type=lambda s: [x for x in s.split(",") if x], default=None,
                   help="comma-separated source names (default: all configured)")
    r.add_argument("--config", help=f"config file (default: $RECON_CONFIG or {DEFAULT_CONFIG})")
    r.add_argument("--language", choices=("en", "zh"), default="en", help="workbook labels")
    r.add_argument("--dask", nargs="?", const="local", metavar="ADDRESS|local[:N]|off",
                   help="fetch, parse and the match's first reference pass (per hash partition) on Dask: "
                        "a scheduler (tcp://host:8786) or a local cluster of N processes (default: "
                        "$RECON_DASK_ADDRESS, else [dask] in the config)")
    r.set_defaults(func=cmd_run)

    b = sub.add_parser("backfill", formatter_class=fmt,
                       help="reconcile a range of business days in order, carrying open items forward",
                       epilog="example:\n  recon backfill --from 2026-11-01 --to 2026-11-07\n"
                              "exit code: the worst of the days' codes")
    b.add_argument("--from", dest="start", type=_date, required=True, help="first business date")
    b.add_argument("--to", dest="end", type=_date, required=True, help="last business date")
    b.add_argument("--sources", type=lambda s: [x for x in s.split(",") if x], default=None)
    b.add_argument("--config", help="config file")
    b.set_defaults(func=cmd_backfill)

    led = sub.add_parser("ledger", help="ledger exports")
    led_sub = led.add_subparsers(dest="ledger_command", required=True, metavar="ACTION")
    ll = led_sub.add_parser("load", formatter_class=fmt, help="append a ledger export to the warehouse",
                            epilog="example:\n  recon ledger load var/inbox/ledger/ledger_20261121.csv\n"
                                   "  recon ledger load fix.csv --who ana --why 'ORD123 amount keyed wrong'")
    ll.add_argument("file", type=Path, help="the ledger export CSV")
    ll.add_argument("--who", help="who loads it (recorded with the load; default with --why: the OS user)")
    ll.add_argument("--why", help="why: the correction it makes (recorded; shown by runs show and trace)")
    ll.add_argument("--config", help="config file")
    ll.set_defaults(func=cmd_ledger_load)

    i = sub.add_parser("identify", formatter_class=fmt, help="print the statement format of a file",
                       epilog="example:\n  recon identify wechatpay_trade_20261121.csv")
    i.add_argument("file", type=Path)
    i.set_defaults(func=cmd_identify)

    pa = sub.add_parser("parse", formatter_class=fmt,
                        help="parse a statement file into canonical lines (CSV, or parquet by extension)",
                        epilog="example:\n  recon parse camt053_20261122.xml --out lines.parquet\n"
                               "  recon parse export.csv --format bankcsv --options mapping.toml\n"
                               "exit codes: 0 parsed; 1 some or every line quarantined; 2 rejected (the "
                               "error names file, line, field, expected and found)")
    pa.add_argument("file", type=Path)
    pa.add_argument("--format", help="format name (default: identify the file)")
    pa.add_argument("--out", type=Path, help="output .csv or .parquet (default: CSV on stdout)")
    pa.add_argument("--date", type=_date, default=date.today(), help="business date to stamp (default today)")
    pa.add_argument("--timezone", default="UTC", help="the statement's timezone (default UTC)")
    pa.add_argument("--source", help="source name to stamp (default: the format name)")
    pa.add_argument("--options", type=Path, help="a TOML file of format options (bankcsv column mapping)")
    pa.add_argument("--raw", action="store_true", help="include the raw original fields (JSON)")
    pa.set_defaults(func=cmd_parse)

    ru = sub.add_parser("runs", help="what ran, when, with what; how two runs differ")
    ru_sub = ru.add_subparsers(dest="runs_command", required=True, metavar="ACTION")
    rl = ru_sub.add_parser("list", formatter_class=fmt, help="the runs in the warehouse",
                           epilog="example:\n  recon runs list --date 2026-11-21")
    rl.add_argument("--date", type=_date, default=None)
    rs = ru_sub.add_parser("show", formatter_class=fmt, help="one run's manifest: inputs, config, outputs, timings",
                           epilog="example:\n  recon runs show 20261121-063000-ab12cd")
    rs.add_argument("run_id")
    rd = ru_sub.add_parser("diff", formatter_class=fmt, help="inputs, config and breaks that differ between runs",
                           epilog="example:\n  recon runs diff 20261121-063000-ab12cd 20261122-091500-ef34ab\n"
                                  "exit codes: 0 no difference, 1 differences")
    rd.add_argument("run_a")
    rd.add_argument("run_b")
    rd.add_argument("--json", action="store_true", help="machine-readable output")
    for x in (rl, rs, rd):
        x.add_argument("--config", help="config file")
        x.set_defaults(func=cmd_runs)

    rr = sub.add_parser("rerun", formatter_class=fmt,
                        help="reproduce a past run from the archive and its manifest (no SFTP) and compare",
                        epilog="example:\n  recon rerun --date 2026-11-21\n"
                               "exit codes: 0 identical (every output byte for byte), 1 differs (a diff "
                               "follows), 2 error")
    rr.add_argument("--date", type=_date, required=True, help="business date of the run")
    rr.add_argument("--run", help="the run to reproduce (default: the day's latest)")
    rr.add_argument("--keep", action="store_true", help="keep the scratch copy of the reports")
    rr.add_argument("--config", help="config file (must be the one the run used)")
    rr.set_defaults(func=cmd_rerun)

    tr = sub.add_parser("trace", formatter_class=fmt,
                        help="a break's lineage: rule, evidence, ledger rows, source lines and their bytes",
                        epilog="example:\n  recon trace 3f9a0c1d2e4b5a69")
    tr.add_argument("break_id")
    tr.add_argument("--run", help="the run to read it from (default: the latest run that has it)")
    tr.add_argument("--json", action="store_true", help="machine-readable output")
    tr.add_argument("--config", help="config file")
    tr.set_defaults(func=cmd_trace)

    s = sub.add_parser("serve", formatter_class=fmt, help="register the nightly schedule with a Prefect server",
                       epilog="example:\n  prefect server start --host 127.0.0.1 &\n"
                              "  PREFECT_API_URL=http://127.0.0.1:4200/api recon serve")
    s.add_argument("--config", help="config file")
    s.set_defaults(func=cmd_serve)

    an = sub.add_parser("annotations", help="accountants' resolutions from the break workbook")
    an_sub = an.add_subparsers(dest="annotations_command", required=True, metavar="ACTION")
    ai = an_sub.add_parser("import", formatter_class=fmt,
                           help="record the Breaks sheet's status/reason/owner/due date/comment "
                                "(append-only, versioned)",
                           epilog="example:\n  recon annotations import recon_2026-11-21.xlsx --who lwang\n"
                                  "refuses the whole workbook, naming each cell, when an identity or "
                                  "amount cell differs\nfrom the run, a row check fails or a value "
                                  "is not in its drop-down list; importing again\nadds nothing. "
                                  "Rows edited on an older annotation than the warehouse's are "
                                  "listed\nas conflicts and not applied (exit 1).")
    ai.add_argument("workbook", type=Path, help="the workbook recon wrote, annotated")
    ai.add_argument("--who", help="who annotated it (default: the OS user)")
    ai.add_argument("--config", help="config file")
    ai.set_defaults(func=cmd_annotations_import)

    j = sub.add_parser("journal", formatter_class=fmt,
                       help="write the day's balanced journal entries (CSV) from its latest run",
                       epilog="example:\n  recon journal --date 2026-11-21 --out /tmp/journal.csv")
    j.add_argument("--date", type=_date, required=True, help="business date, YYYY-MM-DD")
    j.add_argument("--out", type=Path, help="CSV path (default: beside the run's workbook)")
    j.add_argument("--accounts", type=Path,
                   help="accounts TOML (default: journal.toml beside the config, else data/journal.toml)")
    j.add_argument("--config", help="config file")
    j.set_defaults(func=cmd_journal)

    e = sub.add_parser("eval", formatter_class=fmt,
                       help="generate a world, reconcile N days on real parts, score precision/recall",
                       epilog="example:\n  recon eval --scenario hard --days 5 --seed 7\n"
                              "last line: eval <scenario>: precision <P>%, recall <R>%, auto-match <A>%")
    e.add_argument("--scenario", choices=("standard", "hard", "real"), default="standard")
    e.add_argument("--days", type=int, default=5, help="consecutive business days (default 5)")
    e.add_argument("--seed", type=int, default=7)
    e.add_argument("--scale", type=int, default=200, help="payments per PSP per day (default 200)")
    e.add_argument("--out", type=Path, default=None, help="working directory (default: a new temporary one)")
    e.set_defaults(func=cmd_eval)

    d = sub.add_parser("demo", formatter_class=fmt, help="the whole night on embedded defaults: world, sshd, flow, reports",
                       epilog="example:\n  recon demo --date 2026-11-21 --seed 7 --out demo-out")
    d.add_argument("--date", type=_date, default=date(2026, 11, 21), help="business date (default 2026-11-21)")
    d.add_argument("--seed", type=int, default=7)
    d.add_argument("--scale", type=int, default=200)
    d.add_argument("--out", type=Path, default=Path("demo-out"))
    d.set_defaults(func=cmd_demo)

    from recon import cli_whatif
    cli_whatif.add_parser(sub, _date)
    return p


def main(argv: list[str] | None = None) -> int:
    from recon import pan, permissions
    pan.install_log_masking()
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s", datefmt="%H:%M:%S")
    for noisy in ("httpx", "httpcore", "paramiko", "uvicorn", "docket"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from recon import cli_errors
    try:
        permissions.apply()  # $RECON_UMASK or 077; a run applies its config's [paths] umask
        return args.func(args)
    except KeyboardInterrupt:
        print("recon: interrupted; nothing after the last finished stage was recorded.", file=sys.stderr)
        return EXIT_ERROR
    except Exception as e:  # noqa: BLE001 - every error is one paragraph and an exit code
        return cli_errors.report(e, debug=args.debug, command=args.command, paths=lambda: cli_errors.command_paths(
            args, _config(args) if hasattr(args, "config") else None))


if __name__ == "__main__":
    sys.exit(main())
