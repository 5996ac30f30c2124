"""The config file: typed, validated at load, mistakes named by key."""
from __future__ import annotations

from datetime import date, time
from pathlib import Path

import pytest

from recon import config
from recon.errors import ConfigError
from schemas.registry import FORMATS
from tests.worlds import assert_config_error

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = (ROOT / "data" / "recon.toml").read_text("utf-8")


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "rate_cards").mkdir(exist_ok=True)
    for card in (ROOT / "data" / "rate_cards").glob("*.toml"):
        (tmp_path / "rate_cards" / card.name).write_bytes(card.read_bytes())
    p = tmp_path / "recon.toml"
    p.write_text(text, "utf-8")
    return p


def test_default_config_resolves_every_source(monkeypatch):
    monkeypatch.setenv("RECON_SFTP_PORT", "2022")
    cfg = config.load(ROOT / "data" / "recon.toml")
    assert [s.name for s in cfg.sources] == ["wechatpay", "stripe", "bank"]
    for s in cfg.sources:
        # every configured source resolves to a parser, its rules and (for PSPs) a rate card
        assert s.format in FORMATS
        assert s.sftp.port == 2022
        assert s.kind == "bank" or s.rate_card.is_file()
    wx = cfg.source("wechatpay")
    assert wx.cutoff == time(0, 0) and wx.timezone == "Asia/Shanghai" and wx.currency == "CNY"
    assert wx.sftp.filename(date(2026, 11, 21)) == "wechatpay_trade_20261121.csv"
    bank = cfg.source("bank")
    assert bank.file_date(date(2026, 11, 21)) == date(2026, 11, 21)  # each bank file on its own day
    assert bank.payouts_for == ("wechatpay", "stripe")
    assert len(cfg.sha256) == 64


@pytest.mark.parametrize("old, new, key, expected", [
    ('timezone = "Asia/Shanghai"\ncutoff', 'timezone = "Mars/Olympus"\ncutoff', "sources[0].timezone",
     "IANA timezone"),
    ('currency = "CNY"', 'currency = "XYZ"', "sources[0].currency", "ISO 4217"),
    ('format = "wechatpay_trade"', 'format = "excel"', "sources[0].format", "expected one of"),
    ('kind = "psp"', 'kind = "acquirer"', "sources[0].kind", "expected one of psp, bank"),
    ('cutoff = "00:00"', 'cutoff = "midnight"', "sources[0].cutoff", 'time of day like "00:00"'),
    ('port = "${RECON_SFTP_PORT:-2222}"', 'port = 70000', "sources[0].sftp.port", "TCP port"),
    ('pattern = "wechatpay_trade_{date:%Y%m%d}.csv"', 'pattern = "wechatpay_{day}.csv"',
     "sources[0].sftp.pattern", "filename pattern"),
    ('amount_tolerance_minor = 0', 'amount_tolerance_minor = -1', "sources[0].matching.amount_tolerance_minor",
     ">= 0"),
    ('rules = ["exact_reference", "normalized_reference",', 'rules = ["exact_reference", "magic",',
     "sources[0].matching.rules[1]", "expected one of"),
    ('fuzzy_threshold = "0.92"', 'fuzzy_threshold = "high"', "sources[0].matching.fuzzy_threshold",
     "similarity between 0 and 1"),
    ('payouts_for = ["wechatpay", "stripe"]', 'payouts_for = ["wechatpay", "alipay"]',
     "sources[2].payouts_for[1]", "psp source"),
    ('rate_card = "rate_cards/wechatpay.toml"', 'rate_card = "rate_cards/nope.toml"', "sources[0].rate_card",
     "does not exist"),
    ('[run]', '[run]\ncolour = "blue"', "run.colour", "unknown key"),
])
def test_a_bad_config_names_the_key_and_what_was_expected(tmp_path, old, new, key, expected):
    assert old in DEFAULT
    assert_config_error(write(tmp_path, DEFAULT.replace(old, new, 1)), key, expected)


def test_missing_environment_variable_is_named(tmp_path, monkeypatch):
    monkeypatch.delenv("RECON_SECRET_KEY_PATH", raising=False)
    text = DEFAULT.replace('private_key = "${RECON_SFTP_KEY:-~/.ssh/id_ed25519}"',
                           'private_key = "${RECON_SECRET_KEY_PATH}"', 1)
    with pytest.raises(ConfigError) as err:
        config.load(write(tmp_path, text))
    assert err.value.key == "sources[0].sftp.private_key"
    assert "RECON_SECRET_KEY_PATH is not set" in str(err.value)


def test_invalid_toml_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not valid TOML"):
        config.load(write(tmp_path, "[paths\nwarehouse = 1"))
    with pytest.raises(ConfigError, match="cannot be read"):
        config.load(tmp_path / "absent.toml")


def test_relative_paths_are_relative_to_the_config_file(tmp_path, monkeypatch):
    monkeypatch.delenv("RECON_HOME", raising=False)
    cfg = config.load(write(tmp_path, DEFAULT))
    assert cfg.warehouse == (tmp_path.parent / "var" / "warehouse.duckdb").resolve()
    assert cfg.source("stripe").rate_card == tmp_path / "rate_cards" / "stripe.toml"
