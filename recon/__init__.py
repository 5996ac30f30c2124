"""recon: batch reconciliation and clearing for payment operations."""

__version__ = "0.1.0"
