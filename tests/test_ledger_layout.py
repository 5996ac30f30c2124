"""A ledger export in the company's own layout, read through the [ledger] mapping as delivered.

tests/data/spec/buchungsjournal_20261121.csv is written by hand to docs/formats.md ("Ledger
export"): CP1252, CRLF, two lines above the header, semicolons, dd.mm.yyyy dates with the time in
a column of its own (Europe/Berlin, no offset), decimal comma with thousands dots, positive amounts
with an S/H indicator (S: money in), the company's own types, channels and statuses.
"""
from __future__ import annotations

import logging
import re
import shutil
from datetime import date, datetime, timezone
from pathlib import Path

import polars as pl
import pytest

from connectors.archive import Archive
from connectors.local import fetch_local
from recon import config, pipeline, warehouse
from recon.errors import ParseError
from recon.generate import generate_day
from schemas.ledger import parse_ledger
from tests.worlds import CONFIG, DAY, assert_config_error, config_head

SPEC = Path(__file__).parent / "data" / "spec" / "buchungsjournal_20261121.csv"
SFTP = """  [sources.sftp]
  host = "127.0.0.1"
  user = "recon"
  private_key = "key"
  known_hosts = "known_hosts"
  pattern = "{name}_{{date:%Y%m%d}}.csv"
"""
MAPPING = """delimiter = ";"
encoding = "cp1252"
header_row = 3
date_format = "%d.%m.%Y"
datetime_format = "%d.%m.%Y %H:%M:%S"
timezone = "Europe/Berlin"
decimal_separator = ","
thousands_separator = "."
sign = "indicator"
money_in = ["S"]
money_out = ["H"]
unmatched_statuses = ["FAILED", "PENDING"]
default_source = "bank"

[ledger.columns]
entry_id = "Belegnr"
business_date = "Buchungsdatum"
booked_at = ["Buchungsdatum", "Uhrzeit"]
channel = "Kanal"
txn_type = "Vorgang"
merchant_reference = "Auftragsnr"
psp_reference = "Zahlungsref"
original_reference = "Bezug"
amount = "Betrag"
direction = "S/H"
currency = "Währung"
status = "Status"
description = "Verwendungszweck"

[ledger.types]
Zahlungseingang = "payment"
Erstattung = "refund"
"Rückbelastung" = "chargeback"
"Gebühr" = "fee"
Auszahlung = "payout"
"Kontoführung" = "bank_charge"
Umbuchung = "transfer"
Gehalt = "salary"
Sonstiges = "other"

[ledger.channels]
WeChatPay = "wechatpay"
"WeChat Pay" = "wechatpay"
Stripe = "stripe"
Hausbank = "bank"
"""


def _query(cfg, *queries: str) -> list[list[tuple]]:
    """All rows of each query, on a connection of its own to the warehouse."""
    con = warehouse.connect(cfg.warehouse)
    try:
        return [warehouse.rows(con, q) for q in queries]
    finally:
        con.close()


def _config(tmp_path: Path, mapping: str = MAPPING) -> Path:
    sources = "".join(
        f'\n[[sources]]\nname = "{name}"\nkind = "{kind}"\nformat = "{fmt}"\ncurrency = "{cur}"\n{extra}'
        + SFTP.format(name=name)
        for name, kind, fmt, cur, extra in (
            ("wechatpay", "psp", "wechatpay_trade", "CNY", ""), ("stripe", "psp", "stripe_itemized", "USD", ""),
            ("bank", "bank", "camt053", "CNY", 'payouts_for = ["wechatpay", "stripe"]\n')))
    path = tmp_path / "recon.toml"
    path.write_text(config_head() + f"""
[ledger]
directory = "inbox"
pattern = "buchungsjournal_{{date:%Y%m%d}}.csv"
{mapping}{sources}""", encoding="utf-8")
    return path


def _load_spec(tmp_path: Path, caplog) -> tuple[config.Config, list[tuple]]:
    cfg = config.load(_config(tmp_path))
    (tmp_path / "inbox").mkdir()
    shutil.copy(SPEC, tmp_path / "inbox")
    run_id = pipeline.new_run_id(DAY)
    pipeline.begin_run(cfg, run_id, DAY)
    (f,) = fetch_local(cfg.ledger.directory, cfg.ledger.pattern, DAY, Archive(cfg.archive), source="ledger")
    with caplog.at_level(logging.INFO, logger="recon.pipeline"):
        status = pipeline.load_ledger_file(cfg, f, DAY, run_id)
    assert (status.status, status.lines, status.quarantined) == ("loaded", 12, 5)
    con = warehouse.connect(cfg.warehouse)
    try:
        rows = con.execute("SELECT entry_id, source, business_date::VARCHAR, strftime(booked_at AT TIME ZONE 'UTC', "
                           "'%Y-%m-%d %H:%M:%S'), txn_type, amount_minor, currency, merchant_reference, status, "
                           "hold, file_line FROM ledger_entries ORDER BY entry_id").fetchall()
    finally:
        con.close()
    return cfg, rows


def test_a_foreign_ledger_export_loads_every_row_as_delivered(tmp_path, caplog):
    cfg, rows = _load_spec(tmp_path, caplog)
    d = "2026-11-21"
    assert rows == [
        ("B-1001", "wechatpay", d, "2026-11-21 08:15:02", "payment", 123456, "CNY", "ORD-A1", "SUCCESS", None, 4),
        ("B-1002", "wechatpay", d, "2026-11-21 08:20:00", "payment", 8800, "CNY", "ORD-A2", "FAILED",
         "status failed", 5),
        ("B-1003", "stripe", d, "2026-11-21 09:00:00", "payment", 4590, "USD", "ORD-B1", "PENDING",
         "status pending", 6),
        ("B-1004", "stripe", d, "2026-11-21 10:30:00", "refund", -1250, "USD", "RFD-B0", "SUCCESS", None, 7),
        ("B-1005", "wechatpay", d, "2026-11-21 11:00:00", "fee", -370, "CNY", None, "SUCCESS",
         "fee on a PSP channel", 8),
        ("B-1006", "stripe", d, "2026-11-21 12:00:00", "payout", -50000, "USD", "po_1", "SUCCESS",
         "payout: left to the clearing", 9),
        # a bank charge with no channel: the default source; bank lines are transfers
        ("B-1007", "bank", d, "2026-11-21 13:00:00", "transfer", -1500, "CNY", None, "SUCCESS", None, 10),
        ("B-1008", "bank", d, "2026-11-21 14:00:00", "transfer", -1200000, "CNY", "SAL-11", "SUCCESS", None, 11),
        ("B-1009", "bank", d, "2026-11-21 15:00:00", "transfer", 250000, "CNY", "TRF-7", "SUCCESS", None, 12),
        ("B-1010", "bank", d, "2026-11-21 16:00:00", "payout", 987654, "CNY", "PO-WX-1", "SUCCESS",
         "payout: left to the clearing", 13),
        ("B-1011", "wechatpay", d, "2026-11-21 17:00:00", "chargeback", -9900, "CNY", "CB-1", "SUCCESS", None, 14),
        ("B-1012", "wechatpay", d, "2026-11-21 18:00:00", "adjustment", 100, "CNY", None, "SUCCESS",
         "other on a PSP channel", 15),
    ]
    quarantine, description = _query(
        cfg, "SELECT file_line, field, value, reason FROM quarantine ORDER BY file_line, field",
        "SELECT description FROM ledger_entries WHERE entry_id = 'B-1001'")
    assert description == [("Bestellung A1 für Müller",)]  # CP1252 decoded
    assert quarantine == [
        (16, "source", "Alipay",
         "'Alipay' is not a channel in [ledger.channels] nor a configured source (and no default_source)"),
        (17, "txn_type", "Gutschein", "'Gutschein' is not a type in [ledger.types] (nor one of recon's: "
                                      "payment, refund, chargeback, fee, payout, bank_charge, transfer, salary, other, "
                                      "allocation, allocation_return)"),
        (18, "amount_minor", "1.23,4 S", "'1.23,4 S' is not an amount with at most 2 decimal places for CNY"),
        (19, "direction", "X", "'X' is not a debit/credit indicator of the mapping (money_in ['S'], money_out ['H'])"),
        (20, "booked_at", "31.11.2026 22:00:00",
         "'31.11.2026 22:00:00' is not a date-time in datetime_format '%d.%m.%Y %H:%M:%S'"),
        (20, "business_date", "31.11.2026", "'31.11.2026' is not a date in date_format '%d.%m.%Y'"),
    ]
    text = caplog.text
    assert "buchungsjournal_20261121.csv: 12 entries new, 0 unchanged, 5 quarantined" in text
    assert "ledger entries kept but not matched (status failed): 1" in text
    assert "ledger entries kept but not matched (status pending): 1" in text
    assert "ledger entries kept but not matched (payout: left to the clearing): 2" in text


def test_held_entries_never_match_and_never_break(tmp_path, caplog):
    """With no statement at all, every entry the cascade sees becomes missing_in_statement: the
    held ones (failed, pending, a PSP's fee and rounding, the bank's payout) are not among them;
    the Stripe payout is the clearing's (ledger_payout: no PSP payout, Stripe declares no lag)."""
    cfg, _ = _load_spec(tmp_path, caplog)
    run_id = pipeline.new_run_id(DAY)
    pipeline.begin_run(cfg, run_id, DAY)
    pipeline.match(cfg, run_id, DAY, [s.name for s in cfg.sources])
    breaks, matched = _query(cfg, "SELECT ledger_entry_id, category, source FROM breaks ORDER BY 1",
                             "SELECT count(*) FROM matches")
    assert matched == [(0,)]
    assert breaks == [("B-1001", "missing_in_statement", "wechatpay"), ("B-1004", "missing_in_statement", "stripe"),
                      ("B-1006", "missing_in_statement", "stripe"), ("B-1007", "missing_in_statement", "bank"), ("B-1008", "missing_in_statement", "bank"),
                      ("B-1009", "missing_in_statement", "bank"), ("B-1011", "missing_in_statement", "wechatpay")]


def _german(ledger: Path, out: Path, failed: int) -> None:
    """recon's own export of a generated day rewritten in the company layout of MAPPING (UTF-8,
    which is read before the declared CP1252; local time in Asia/Shanghai),
    with ``failed`` failed attempts and one pending of the first payments (same entry as the
    successful one but for the id and status: unheld, each would be a duplicate)."""
    rows = pl.read_csv(ledger, infer_schema=False)
    booked = pl.col("booked_at").str.to_datetime("%Y-%m-%dT%H:%M:%S%:z").dt.convert_time_zone("Asia/Shanghai")
    amount = pl.col("amount").str.strip_chars_start("-")
    whole = amount.str.split(".").list.first()
    whole = whole.map_elements(lambda w: f"{int(w):,}".replace(",", "."), return_dtype=pl.String)  # test helper
    german = rows.select(
        pl.col("entry_id").alias("Belegnr"),
        booked.dt.strftime("%d.%m.%Y").alias("Buchungsdatum"), booked.dt.strftime("%H:%M:%S").alias("Uhrzeit"),
        pl.col("channel").replace_strict({"wechatpay": "WeChat Pay", "stripe": "Stripe"}).alias("Kanal"),
        pl.col("txn_type").replace_strict({"payment": "Zahlungseingang", "refund": "Erstattung",
                                           "chargeback": "Rückbelastung"}).alias("Vorgang"),
        pl.col("merchant_reference").alias("Auftragsnr"), pl.col("psp_reference").alias("Zahlungsref"),
        pl.col("original_reference").alias("Bezug"),
        (whole + pl.lit(",") + amount.str.split(".").list.last()).alias("Betrag"),
        pl.when(pl.col("amount").str.starts_with("-")).then(pl.lit("H")).otherwise(pl.lit("S")).alias("S/H"),
        pl.col("currency").alias("Währung"), pl.lit("SUCCESS").alias("Status"),
        pl.col("description").alias("Verwendungszweck"), pl.col("counterparty").alias("Kunde"))
    attempts = german.filter(pl.col("Vorgang") == "Zahlungseingang").head(failed + 1).with_columns(
        pl.col("Belegnr") + pl.lit("-F"), pl.lit("FAILED").alias("Status"))
    attempts = attempts.with_columns(pl.when(pl.int_range(pl.len()) == failed).then(pl.lit("PENDING"))
                                     .otherwise(pl.col("Status")).alias("Status"))
    body = pl.concat([german, attempts]).write_csv(separator=";", line_terminator="\r\n")
    out.write_bytes(("Buchungsjournal;\r\nExport;\r\n" + body).encode("utf-8"))


def _reconcile(cfg: config.Config, world: Path) -> dict[str, list]:
    run_id = pipeline.new_run_id(DAY)
    pipeline.begin_run(cfg, run_id, DAY)
    archive = Archive(cfg.archive)
    for f in fetch_local(cfg.ledger.directory, cfg.ledger.pattern, DAY, archive, source="ledger"):
        assert pipeline.load_ledger_file(cfg, f, DAY, run_id).quarantined == 0
    for s in cfg.sources:
        for f in fetch_local(world / s.sftp.remote_dir, s.sftp.pattern, s.file_date(DAY), archive, source=s.name):
            assert pipeline.load_statement(cfg, s, f, DAY, run_id).status == "loaded"
    pipeline.match(cfg, run_id, DAY, [s.name for s in cfg.sources])
    con = warehouse.connect(cfg.warehouse)
    try:
        return {name: con.execute(q).fetchall() for name, q in (
            ("breaks", "SELECT * EXCLUDE (run_id) FROM breaks ORDER BY ALL"),
            ("matches", "SELECT * EXCLUDE (run_id) FROM matches ORDER BY ALL"),
            ("held", "SELECT entry_id, status, hold FROM ledger_entries WHERE hold IS NOT NULL ORDER BY ALL"))}
    finally:
        con.close()


def test_a_day_in_the_company_layout_gives_the_breaks_of_recons_own(tmp_path, monkeypatch):
    world = tmp_path / "world"
    generate_day(DAY, world, seed=11, scale=300, scenario="hard")
    monkeypatch.setenv("RECON_HOME", str(tmp_path / "own"))
    monkeypatch.setenv("RECON_LEDGER_DIR", str(world / "ledger"))
    own = _reconcile(config.load(CONFIG), world)

    company = tmp_path / "company"
    (company / "inbox").mkdir(parents=True)
    _german(world / "ledger" / f"ledger_{DAY:%Y%m%d}.csv", company / "inbox" / f"buchungen_{DAY:%Y%m%d}.csv", 5)
    shutil.copytree(CONFIG.parent / "rate_cards", company / "rate_cards")
    mapping = MAPPING.replace('timezone = "Europe/Berlin"', 'timezone = "Asia/Shanghai"').replace(
        'description = "Verwendungszweck"', 'description = "Verwendungszweck"\ncounterparty = "Kunde"')
    text = CONFIG.read_text(encoding="utf-8").replace(
        'pattern   = "ledger_{date:%Y%m%d}.csv"\n', f'pattern = "buchungen_{{date:%Y%m%d}}.csv"\n{mapping}', 1)
    (company / "recon.toml").write_text(text.replace("${RECON_LEDGER_DIR:-../var/inbox/ledger}", "inbox"),
                                        encoding="utf-8")
    monkeypatch.setenv("RECON_HOME", str(tmp_path / "theirs"))
    theirs = _reconcile(config.load(company / "recon.toml"), world)

    assert len(own["matches"]) > 500 and len(own["breaks"]) > 20
    assert theirs["breaks"] == own["breaks"]
    assert theirs["matches"] == own["matches"]
    assert own["held"] == []
    failed = [row for row in theirs["held"] if row[1] == "FAILED"]
    assert len(failed) == 5 and all(h == "status failed" for _, _, h in failed)
    assert [row[1:] for row in theirs["held"] if row[1] != "FAILED"] == [("PENDING", "status pending")]


def test_a_mapped_column_missing_from_the_export_names_the_key_and_the_header(tmp_path):
    cfg = config.load(_config(tmp_path, MAPPING.replace('status = "Status"', 'status = "Buchungsstatus"')))
    with pytest.raises(ParseError) as err:
        parse_ledger(SPEC.read_bytes(), name="buchungsjournal_20261121.csv", sha256="0" * 64, layout=cfg.ledger.layout)
    message = str(err.value)
    assert message.startswith("buchungsjournal_20261121.csv, line 3: [ledger.columns] status = 'Buchungsstatus': "
                              "the export has no such column (its header: Belegnr, Buchungsdatum, Uhrzeit, Kanal,")
    assert "Währung, Status, Verwendungszweck)" in message and "\n" not in message


@pytest.mark.parametrize("old, new, key, expected", [
    ('entry_id = "Belegnr"', 'entry_id = "Belegnr"\nbuchungskreis = "BK"', "ledger.columns.buchungskreis",
     "not a canonical ledger field; expected one of entry_id, business_date"),
    ('entry_id = "Belegnr"\n', "", "ledger.columns.entry_id", "missing; expected the export's header name"),
    ('Gehalt = "salary"', 'Gehalt = "wages"', "ledger.types.Gehalt", "expected one of payment, refund"),
    ('Hausbank = "bank"', 'Hausbank = "sparkasse"', "ledger.channels.Hausbank",
     "expected a configured source name (wechatpay, stripe, bank)"),
    ('money_out = ["H"]\n', "", "ledger.money_out", 'sign = "indicator" needs'),
    ('sign = "indicator"', 'sign = "plus_minus"', "ledger.sign", "expected one of signed, indicator, columns"),
    ('timezone = "Europe/Berlin"', 'timezone = "Berlin"', "ledger.timezone", "IANA timezone"),
    ('date_format = "%d.%m.%Y"', 'date_format = "dd.mm.yyyy"', "ledger.date_format", "strftime pattern"),
    ('decimal_separator = ","', 'decimal_separator = ","\nrounding = "up"', "ledger.rounding", "unknown key"),
])
def test_a_bad_ledger_mapping_is_one_paragraph_naming_the_key(tmp_path, old, new, key, expected):
    assert old in MAPPING
    err = assert_config_error(_config(tmp_path, MAPPING.replace(old, new, 1)), key, expected)
    assert "\n" not in str(err)


def test_separate_money_in_and_out_columns_and_a_signed_layout(tmp_path):
    mapping = """delimiter = "\\t"
datetime_format = "%Y-%m-%d %H:%M:%S%z"
sign = "columns"
[ledger.columns]
entry_id = "Id"
booked_at = "Time"
channel = "Account"
amount_in = "Credit"
amount_out = "Debit"
currency = "Ccy"
"""
    cfg = config.load(_config(tmp_path, mapping))
    data = ("Id\tTime\tAccount\tCredit\tDebit\tCcy\n"
            "1\t2026-11-21 23:30:00+0100\tstripe\t10.00\t\tUSD\n"
            "2\t2026-11-21 09:00:00\tstripe\t\t2.5\tUSD\n"
            "3\t2026-11-21 09:00:00\twechatpay\t\t\tCNY\n").encode()
    valid, quarantine = parse_ledger(data, name="x.tsv", sha256="0" * 64, layout=cfg.ledger.layout)
    assert valid.select("entry_id", "business_date", "booked_at", "txn_type", "amount_minor").rows() == [
        # no business_date column: the booking's date in the ledger's timezone (run's: Asia/Shanghai)
        ("1", date(2026, 11, 22), datetime(2026, 11, 21, 22, 30, tzinfo=timezone.utc), "payment", 1000),
        ("2", date(2026, 11, 21), datetime(2026, 11, 21, 1, 0, tzinfo=timezone.utc), "refund", -250),
    ]
    assert quarantine.select("file_line", "field", "value", "reason").rows() == [
        (4, "amount_in", "in  / out ", "'in  / out ' has no amount: both the money-in and the money-out column are empty")]


def test_the_readme_mapping_example_loads(tmp_path):
    block = re.search(r"```toml\n\[ledger\]\n(.*?)```", (Path(__file__).parents[1] / "README.md").read_text(
        encoding="utf-8"), re.S).group(1)
    mapping = "\n".join(line for line in block.splitlines() if not line.startswith(("directory", "pattern")))
    layout = config.load(_config(tmp_path, mapping + "\n")).ledger.layout
    assert (layout.sign, layout.money_in, layout.columns["booked_at"]) == ("indicator", ("S",), ("Datum", "Uhrzeit"))


def test_recons_own_columns_in_another_dialect(tmp_path):
    cfg = config.load(_config(tmp_path, 'delimiter = ";"\ndecimal_separator = ","\n'))
    data = ("entry_id;business_date;booked_at;channel;txn_type;merchant_reference;psp_reference;"
            "original_reference;amount;currency;counterparty;description\n"
            "E1;2026-11-21;2026-11-21T09:15:02+08:00;stripe;payment;ORD1;;;1234,50;USD;;\n").encode()
    valid, quarantine = parse_ledger(data, name="l.csv", sha256="0" * 64, layout=cfg.ledger.layout)
    assert valid.select("entry_id", "source", "txn_type", "amount_minor", "hold").rows() == [
        ("E1", "stripe", "payment", 123450, None)]
    assert quarantine.height == 0


def test_bank_movements_of_the_ledger_match_the_bank_lines(tmp_path, caplog):
    """The salary and the transfer (by reference against the bank lines' end-to-end ids) and the
    bank charge (no reference: by amount, date and description) match the bank's lines, which a
    bank format types ``transfer``; what is left breaks as before, the held entries never (the
    Stripe payout is the clearing's: without Stripe's payout, missing_in_statement)."""
    from tests.tables import stmt, ts
    cfg, _ = _load_spec(tmp_path, caplog)
    bank = stmt(dict(end_to_end_id="SAL-11", amount_minor=-1200000, booked_at=ts(7)),
                dict(end_to_end_id="TRF-7", amount_minor=250000, booked_at=ts(8)),
                dict(amount_minor=-1500, booked_at=ts(9), description="Kontoführungsgebühr November"),
                source="bank", currency="CNY")
    bank = bank.with_columns(pl.lit("transfer").alias("txn_type"), pl.lit(None, pl.Int64).alias("fee_minor"),
                             pl.lit(None, pl.Int64).alias("net_minor"), pl.lit(None, pl.String).alias("payment_method"),
                             pl.lit("{}").alias("raw"))
    con = warehouse.connect(cfg.warehouse)
    try:
        warehouse.insert_frame(con, "statement_lines", bank)
    finally:
        con.close()
    run_id = pipeline.new_run_id(DAY)
    pipeline.begin_run(cfg, run_id, DAY)
    pipeline.match(cfg, run_id, DAY, [s.name for s in cfg.sources])
    matches, breaks = _query(cfg, "SELECT ledger_entry_id, line_id, rule FROM matches ORDER BY 1",
                             "SELECT ledger_entry_id, line_id, category FROM breaks ORDER BY ALL")
    f = "f" * 16
    assert matches == [("B-1007", f"{f}:4", "fuzzy"), ("B-1008", f"{f}:2", "exact_reference"),
                       ("B-1009", f"{f}:3", "exact_reference")]
    assert breaks == [("B-1001", None, "missing_in_statement"), ("B-1004", None, "missing_in_statement"),
                      ("B-1006", None, "missing_in_statement"),  # the Stripe payout: no PSP payout (ledger_payout)
                      ("B-1011", None, "missing_in_statement")]
