"""`make bench`: recon end to end against the DuckDB floor and a pandas baseline (bench/run.py)."""
