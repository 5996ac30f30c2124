"""One module per workbook sheet; :mod:`recon.reports.workbook` puts them in one file.

``cells`` holds what every sheet shares: typed write-only cells, widths, tables, labels.
"""
