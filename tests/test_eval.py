"""`recon eval` on generated worlds, over SFTP under Prefect: the engine's targets (issue 4)."""
from __future__ import annotations

import pytest

from recon.eval import run_eval

pytestmark = pytest.mark.integration


def test_standard_world_over_four_days(prefect_harness, tmp_path):
    result = run_eval("standard", 4, seed=11, scale=200, out=tmp_path, progress=lambda m: None)
    assert result.misses == []
    total = result.scores["all"]
    assert (total.precision, total.recall) == (1.0, 1.0) and total.expected > 40
    assert result.auto_match >= 0.999
    assert result.last_line() == "eval standard: precision 100.00%, recall 100.00%, auto-match 100.00%"


def test_hard_world_over_five_days(prefect_harness, tmp_path):
    result = run_eval("hard", 5, seed=7, scale=200, out=tmp_path, progress=lambda m: None)
    total = result.scores["all"]
    assert total.precision >= 0.995 and total.recall >= 0.995, result.misses
    for category in ("ambiguous", "amount_mismatch", "duplicate", "timing", "unsettled", "missing_in_ledger",
                     "missing_in_statement", "fee_variance", "payout_mismatch"):
        assert result.scores[category].expected > 0, category
    assert result.matchable > 1500 and result.auto_match >= 0.995


def test_real_world_is_cleared_as_a_company_books_it(prefect_harness, tmp_path):
    """Issue 31's real world (published layouts, a mapped ledger with payouts and statuses, payout
    references in bank free text or absent, refunds without the PSP's id, cross-midnight items,
    分账): every file loads as delivered and every break is found, none invented."""
    result = run_eval("real", 5, seed=11, scale=50, out=tmp_path, progress=lambda m: None)
    assert "files: 25 loaded, 0 rejected; 0 rows quarantined" in result.notes
    assert "config: every feature key accepted" in result.notes
    assert "false breaks by category and cause: 0" in result.notes
    assert "misses by category and cause: 0" in result.notes
    total = result.scores["all"]
    assert total.expected > 30 and total.precision == 1.0 and total.recall == 1.0
    for category in ("unsettled", "payout_mismatch", "timing", "missing_in_ledger"):
        assert result.scores[category].recall == 1.0, category
    assert result.auto_match >= 0.999
