"""Which Dask cluster a nightly run fans out to, if any: ``recon run --dask``, the environment
variable ``RECON_DASK_ADDRESS`` (recon.tuning) or a ``[dask]`` table in the config (README,
"Beyond one machine"); flows/fanout.py runs the stages there."""
from __future__ import annotations

import re

from recon import tuning
from recon.config import Config
from recon.config_ops import DASK_ADDRESS, DaskConfig
from recon.errors import ReconError

ENV = tuning.DASK_ADDRESS


class DaskUnavailable(ReconError):
    """The Dask scheduler named by --dask / RECON_DASK_ADDRESS / [dask] did not answer."""

    runbook = "dask"
    hint = ("Check that the scheduler is running and reachable from this machine (`dask scheduler`, "
            "port 8786), or run without Dask: `recon run --dask off`.")


def parse_spec(text: str, where: str = ENV) -> DaskConfig | None:
    """``tcp://host:8786`` (an existing scheduler), ``local`` or ``local:N`` (a LocalCluster of N
    worker processes, one thread each), or ``off``."""
    text = text.strip()
    if text.lower() in ("off", "none", "no", "0"):
        return None
    if m := re.fullmatch(r"local(?::(\d+))?", text):
        n = int(m.group(1)) if m.group(1) else None
        if n == 0:
            raise ReconError(f"{where}: local:0 would start a cluster without workers.",
                             hint="Use local:N with N >= 1, or off.")
        return DaskConfig(n_workers=n)
    if DASK_ADDRESS.fullmatch(text):
        return DaskConfig(address=text)
    raise ReconError(f"{where}: expected a Dask scheduler address like tcp://10.0.0.5:8786, local, "
                     f"local:N or off, found {text!r}.",
                     hint="See README, section \"Beyond one machine\".")


def resolve(cfg: Config) -> DaskConfig | None:
    """The Dask cluster the config and environment ask for (the environment wins), or None."""
    env = tuning.dask_address()
    if env:
        return parse_spec(env)
    return cfg.dask


def task_runner(spec: DaskConfig):
    """A ``DaskTaskRunner`` for ``spec``: connect to ``address``, or start a LocalCluster."""
    from prefect_dask import DaskTaskRunner
    if spec.address:
        return DaskTaskRunner(address=spec.address)
    kwargs = {"processes": True, "threads_per_worker": spec.threads_per_worker}
    if spec.n_workers:
        kwargs["n_workers"] = spec.n_workers
    return DaskTaskRunner(cluster_kwargs=kwargs)
