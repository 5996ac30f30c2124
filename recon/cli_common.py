"""What the `recon` subcommands share: the default config, argument types, Prefect's settings."""
from __future__ import annotations

import argparse
import os
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = ROOT / "data" / "recon.toml"
FMT = argparse.RawDescriptionHelpFormatter


def prefect_env(debug: bool = False):
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


def date_arg(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, found {text!r}") from None


def config_path(args) -> Path:
    return Path(args.config or os.environ.get("RECON_CONFIG") or DEFAULT_CONFIG)


def checked_config(args) -> Path:
    """The config path, validated before Prefect starts: a mistake is reported in about a second."""
    from recon import config
    config.load(config_path(args))
    return config_path(args)

