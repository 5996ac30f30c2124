"""The ledger layout's two readers without a config: amounts written with a mapping's separators,
and the general mapped route reading recon's own layout exactly as the fast path does."""
from __future__ import annotations

import polars as pl

from recon.generate import generate_day
from schemas.ledger import parse_ledger
from schemas.ledger_layout import DEFAULT, number_text
from tests.worlds import DAY


def test_amount_text_in_the_mappings_separators():
    from dataclasses import replace
    german = replace(DEFAULT, decimal_separator=",", thousands_separator=".")
    swiss = replace(DEFAULT, thousands_separator="'")
    values = ["1.234,56", "1234,56", "12,50-", "-0,01", "1.23,4", "1234.56", "12,345", "", "1.234.567",
              "(1.234,50)", "(-5)", "--5"]
    got = pl.select(number_text(pl.lit(pl.Series(values)), german)).to_series()
    assert got.to_list() == ["1234.56", "1234.56", "-12.50", "-0.01", None, None, "12.345", None, "1234567",
                             "-1234.50", None, None]
    got = pl.select(number_text(pl.lit(pl.Series(["1'234.50", "12'34.5", "99"])), swiss)).to_series()
    assert got.to_list() == ["1234.50", None, "99"]
    french = replace(DEFAULT, decimal_separator=",", thousands_separator=" ")
    got = pl.select(number_text(pl.lit(pl.Series(["1 234,56", "1\u00a0234,56", "1\u202f234,56-"])), french))
    assert got.to_series().to_list() == ["1234.56", "1234.56", "-1234.56"]


def test_the_mapped_route_reads_recons_own_layout_as_the_fast_path_does(tmp_path):
    """The default layout's fast path and the general mapped route, on one generated export
    (payments, refunds, chargebacks, EUR, duplicates): the same entries, holds and quarantine."""
    from dataclasses import replace
    generate_day(DAY, tmp_path, seed=3, scale=100, scenario="hard")
    data = (tmp_path / "ledger" / f"ledger_{DAY:%Y%m%d}.csv").read_bytes()
    cfg_layout = replace(DEFAULT, psp_sources=("wechatpay", "stripe"), bank_sources=("bank",))
    fast = parse_ledger(data, name="l.csv", sha256="0" * 64, layout=cfg_layout)
    mapped = parse_ledger(data, name="l.csv", sha256="0" * 64, layout=replace(cfg_layout, custom=True))
    assert fast[0].height > 50
    assert mapped[0].equals(fast[0]) and mapped[1].equals(fast[1])
