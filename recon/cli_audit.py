"""`recon` commands over the warehouse's records: ledger load, runs, rerun, trace, annotations,
journal; and over single files: identify, parse."""
from __future__ import annotations

import sys
from pathlib import Path
from datetime import date

from recon.cli_common import FMT, config_path, date_arg


def cmd_ledger_load(args) -> int:
    import getpass

    from recon import auditcli, config
    who = args.who or (getpass.getuser() if args.why else None)
    return auditcli.ledger_load(config.load(config_path(args)), args.file.resolve(), who, args.why)


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
    cfg = config.load(config_path(args))
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
    cfg = config.load(config_path(args))
    result = rerun(cfg, args.date, args.run, keep=args.keep)
    print(auditcli.rerun_text(cfg, result))
    return 0 if result.identical else 1


def cmd_trace(args) -> int:
    from recon import audit, config
    t = audit.trace(config.load(config_path(args)), args.break_id, args.run)
    print(audit.write_json(t, None) if args.json else audit.format_trace(t))
    return 0


def cmd_identify(args) -> int:
    from schemas import registry
    print(registry.identify(args.file.read_bytes(), args.file.name))
    return 0


def cmd_annotations_import(args) -> int:
    from recon import config
    from recon.annotations import import_workbook
    res = import_workbook(config.load(config_path(args)), args.workbook, who=args.who)
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
    cfg = config.load(config_path(args))
    run_id, started, statuses = latest_run(cfg, args.date)
    summary = build_summary(cfg, run_id, args.date, started, statuses)
    out = args.out or pipeline.reports_dir(cfg, args.date, run_id) / f"journal_{args.date:%Y-%m-%d}.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    write_journal(summary, out, load_accounts(args.accounts or journal_accounts(cfg)))
    print(out)
    return 0


def add_parsers(sub) -> None:
    fmt = FMT
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
    pa.add_argument("--date", type=date_arg, default=date.today(), help="business date to stamp (default today)")
    pa.add_argument("--timezone", default="UTC", help="the statement's timezone (default UTC)")
    pa.add_argument("--source", help="source name to stamp (default: the format name)")
    pa.add_argument("--options", type=Path, help="a TOML file of format options (bankcsv column mapping)")
    pa.add_argument("--raw", action="store_true", help="include the raw original fields (JSON)")
    pa.set_defaults(func=cmd_parse)

    ru = sub.add_parser("runs", help="what ran, when, with what; how two runs differ")
    ru_sub = ru.add_subparsers(dest="runs_command", required=True, metavar="ACTION")
    rl = ru_sub.add_parser("list", formatter_class=fmt, help="the runs in the warehouse",
                           epilog="example:\n  recon runs list --date 2026-11-21")
    rl.add_argument("--date", type=date_arg, default=None)
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
    rr.add_argument("--date", type=date_arg, required=True, help="business date of the run")
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
    j.add_argument("--date", type=date_arg, required=True, help="business date, YYYY-MM-DD")
    j.add_argument("--out", type=Path, help="CSV path (default: beside the run's workbook)")
    j.add_argument("--accounts", type=Path,
                   help="accounts TOML (default: journal.toml beside the config, else data/journal.toml)")
    j.add_argument("--config", help="config file")
    j.set_defaults(func=cmd_journal)
