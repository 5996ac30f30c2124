"""The rule registry (recon.rules) is the one declaration of the rules: the config, the cascade,
the work_rules table and docs/rules.md all agree with it."""
from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path

import pytest

import sql
from recon import config, matching, rules
from recon.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def test_every_rule_has_its_sql_and_known_settings():
    for rule in rules.RULES.values():
        assert rule.kind in rules.KINDS
        assert sql.load(rule.sql).lstrip().startswith("-- Grain:"), rule.sql
        assert set(rule.settings) <= set(rules.SETTINGS), rule.name
        assert (rule.mode is not None) == (rule.kind == "reference")


def test_the_config_takes_its_rules_and_settings_from_the_registry():
    # a source's `rules` list orders the cascade; the payout rules run in the clearing stage
    assert config.RULES == tuple(n for n, r in rules.RULES.items() if r.kind != "payout") == rules.CASCADE
    assert rules.PAYOUT == ("payout_reference", "payout_amount", "ledger_payout")
    fields = {f.name: f.default for f in dataclasses.fields(config.Matching)}
    assert set(fields) == {"rules", *rules.SETTINGS}
    for name, s in rules.SETTINGS.items():
        assert fields[name] == s.default, name
    assert matching.REFERENCE_MODES == {"exact_reference": "exact", "normalized_reference": "normalized",
                                        "fx_reference": "fx", "reference_tolerance": "tolerance"}


def test_work_rules_has_a_column_per_setting(con, cfg):
    matching._work_tables(con, cfg, [s.name for s in cfg.sources])
    columns = {r[0] for r in con.execute("DESCRIBE work_rules").fetchall()}
    assert {s.column_name for s in rules.SETTINGS.values()} <= columns
    row = con.execute("SELECT amount_tolerance_minor, window_after_days, prefixes, fuzzy_threshold "
                      "FROM work_rules WHERE source = 'wechatpay'").fetchone()
    m = cfg.source("wechatpay").matching
    assert row == (m.amount_tolerance_minor, m.window_after_days, list(m.reference_prefixes),
                   Decimal(m.fuzzy_threshold))


def test_an_unknown_rule_or_setting_is_refused_naming_the_registry(tmp_path):
    text = (ROOT / "data" / "recon.toml").read_text().replace(
        'rate_card = "rate_cards/', f'rate_card = "{ROOT}/data/rate_cards/')
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace('"fuzzy"]', '"nearest_amount"]', 1))
    with pytest.raises(ConfigError, match="sources\\[0\\].matching.rules\\[6\\]: expected one of exact_reference, .*fuzzy, "
                                          "found 'nearest_amount'"):
        config.load(bad)
    bad.write_text(text.replace("fuzzy_threshold", "fuzzy_slack", 1))
    with pytest.raises(ConfigError, match="fuzzy_slack"):
        config.load(bad)


def test_docs_rules_page_shows_the_registry():
    page = (ROOT / "docs" / "rules.md").read_text()
    assert rules.markdown_table() in page
    assert rules.settings_table() in page


# The modules whose truth tables run on both routes of the cascade (their pytestmark: route).
TRUTH_TABLES = ("tests.test_rules", "tests.test_rules_reversal", "tests.test_allocations",
                "tests.test_rules_payout")


def test_every_rule_has_a_truth_table_on_both_routes():
    """Each rule of the registry has a test marked ``rule(name)`` in a module that runs every test
    on the bulk and the reference route (conftest.route), and not marked one_route."""
    import importlib
    covered: dict[str, list[str]] = {}
    for module_name in TRUTH_TABLES:
        module = importlib.import_module(module_name)
        marks = module.pytestmark if isinstance(module.pytestmark, list) else [module.pytestmark]
        assert any(m.name == "usefixtures" and "route" in m.args for m in marks), module_name
        for name, fn in vars(module).items():
            marks = getattr(fn, "pytestmark", []) if name.startswith("test_") else []
            if any(m.name == "one_route" for m in marks):
                continue
            for m in marks:
                if m.name == "rule":
                    for rule in m.args:
                        covered.setdefault(rule, []).append(name)
    assert set(covered) == set(rules.RULES), sorted(set(rules.RULES) ^ set(covered))
