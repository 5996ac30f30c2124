"""The clearing's source keys (recon/config_payouts.py): a bank's payout references, a PSP's
payout lag and payer names, read from TOML and refused naming the key when wrong."""
from __future__ import annotations

import pytest

from recon import config
from recon.config_payouts import PayoutReferences
from recon.errors import ConfigError
from tests.test_config import DEFAULT, write

WECHAT = 'name = "wechatpay"\n'
BANK = next(line + "\n" for line in DEFAULT.splitlines() if line.startswith("payouts_for = "))
REFS = 'payouts_for = ["wechatpay", "stripe"]\n' + """  [sources.payout_references]
  fields = ["end_to_end_id", "bank_reference", "description"]
  stripe = '\\b(po_[A-Za-z0-9]+)\\b'
"""


def test_payout_keys_are_read(tmp_path):
    text = DEFAULT.replace(WECHAT, WECHAT + 'payout_lag_days = 1\npayer_names = ["财付通支付科技有限公司", "Tenpay"]\n')
    cfg = config.load(write(tmp_path, text.replace(BANK, REFS)))
    assert cfg.source("wechatpay").payout_lag_days == 1
    assert cfg.source("wechatpay").payer_names == ("财付通支付科技有限公司", "Tenpay")
    assert cfg.source("bank").payout_references == PayoutReferences(
        fields=("end_to_end_id", "bank_reference", "description"),
        patterns={"stripe": r"\b(po_[A-Za-z0-9]+)\b"}, declared=True)
    # not declared: the payout is expected the same day, the end-to-end id read whole
    assert cfg.source("stripe").payout_lag_days is None
    assert config.load(write(tmp_path, DEFAULT)).source("bank").payout_references == PayoutReferences()


def test_a_pattern_without_a_group_is_the_whole_match(tmp_path):
    cfg = config.load(write(tmp_path, DEFAULT.replace(BANK, REFS.replace("\\b(po_[A-Za-z0-9]+)\\b", "po_[A-Za-z0-9]+"))))
    assert cfg.source("bank").payout_references.patterns == {"stripe": "(po_[A-Za-z0-9]+)"}


@pytest.mark.parametrize(("old", "new", "message"), [
    ('"description"]', '"memo"]', r"sources\[2\].payout_references.fields\[2\]: expected one of end_to_end_id, "
                                  r"bank_reference, merchant_reference, description, counterparty, raw, found 'memo'"),
    ("stripe = '", "adyen = '", r"sources\[2\].payout_references.adyen: expected a PSP of this bank's payouts_for "
                                r"\(wechatpay, stripe\) or fields"),
    ("(po_[A-Za-z0-9]+)", "(po_[A-Za-z0-9]+", r"sources\[2\].payout_references.stripe: expected a regular expression"),
    ("(po_[A-Za-z0-9]+)", "(?<=REF )(po_[A-Za-z0-9]+)", r"sources\[2\].payout_references.stripe: expected a pattern "
                                                       r"without look-around"),
])
def test_a_bad_payout_reference_names_the_key(tmp_path, old, new, message):
    with pytest.raises(ConfigError, match=message):
        config.load(write(tmp_path, DEFAULT.replace(BANK, REFS.replace(old, new, 1))))


@pytest.mark.parametrize(("line", "message"), [
    ("payout_lag_days = 40\n", r"sources\[0\].payout_lag_days: expected business days between 0 and 31, found 40"),
    ('payer_names = ["", "Tenpay"]\n', r"sources\[0\].payer_names: expected a list of non-empty strings"),
])
def test_bad_psp_payout_keys_are_named(tmp_path, line, message):
    with pytest.raises(ConfigError, match=message):
        config.load(write(tmp_path, DEFAULT.replace(WECHAT, WECHAT + line)))
