"""Backfill: reconcile a range of business days in order, each as a child `nightly` run, so that
each day carries forward what the day before it left open. Stops at the first day that fails."""

from datetime import date, timedelta

from prefect import flow

from flows.nightly import nightly


@flow(name="recon-backfill", flow_run_name="backfill {start} to {end}", validate_parameters=True)
def backfill(start: date, end: date, sources: list[str] | None = None, config_path: str | None = None) -> list[dict]:
    if end < start:
        raise ValueError(f"backfill: end {end} is before start {start}; expected start <= end")
    results = []
    day = start
    while day <= end:
        results.append(nightly(business_date=day, sources=sources, config_path=config_path))
        day += timedelta(days=1)
    return results
