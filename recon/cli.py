"""The `recon` command. Exit codes: 0 reconciled, 1 breaks (or a source late/rejected), 2 error.

The subcommands live in groups: cli_night (generate, run, backfill, serve, eval, demo), cli_audit
(ledger, identify, parse, runs, rerun, trace, annotations, journal), cli_whatif."""
from __future__ import annotations

import argparse
import logging
import sys

from recon import cli_audit, cli_night, cli_whatif
from recon.cli_common import FMT, config_path, date_arg
from recon.errors import EXIT_ERROR

log = logging.getLogger("recon")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="recon", formatter_class=FMT,
        description="Batch reconciliation and clearing for payment operations.",
        epilog="examples:\n  recon demo\n  recon run --date 2026-11-21\n"
               "  recon generate --date 2026-11-21 --out /tmp/world --scale 1000")
    p.add_argument("--debug", action="store_true", help="show tracebacks instead of one-paragraph errors")
    p.add_argument("-q", "--quiet", action="store_true", help="log warnings and errors only")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    cli_night.add_parsers(sub)
    cli_audit.add_parsers(sub)
    cli_whatif.add_parser(sub, date_arg)
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
            args, config_path(args) if hasattr(args, "config") else None))


if __name__ == "__main__":
    sys.exit(main())
