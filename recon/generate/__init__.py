"""The synthetic world: one business day of ledger, PSP files, bank statement and ground truth.

``generate_day(D, out_dir)`` writes the files the nightly run pulls over SFTP (same layout as the
remote directories) plus ``ground_truth_YYYYMMDD.csv``, the injected discrepancies that a correct
reconciliation must find. Formats: docs/formats.md.
"""
from recon.generate.day import GeneratedDay, generate_day

__all__ = ["GeneratedDay", "generate_day"]
