"""The synthetic world: business days of ledger, PSP files, bank statement and ground truth.

``generate_day(D, out_dir)`` writes the files the nightly run pulls over SFTP (same layout as the
remote directories) plus ``ground_truth_YYYYMMDD.csv``, the breaks a correct reconciliation must
raise new on that day's run. ``generate_days(start, n, out_dir)`` writes n consecutive days into
one tree, each day's truth seen from inside that world (see ``recon.generate.truth``). Scenarios:
``standard`` (the demo's mix) and ``hard`` (``recon.generate.hard``). The files of a day depend
only on (seed, date, scale, scenario); its truth also on the world's first and last day.
Formats: docs/formats.md.
"""
from recon.generate.day import GeneratedDay, generate_day, generate_days
from recon.generate.spec import SCENARIOS

__all__ = ["SCENARIOS", "GeneratedDay", "generate_day", "generate_days"]
