"""recon.pan.mask_frame_fast (vectorised where it can be) gives the bytes of recon.pan.mask_frame."""
from __future__ import annotations

import random

import polars as pl
import pytest

from recon import pan
from recon.reports.safe import luhn_ok
from recon.reports.safe import mask_pans as safe_mask


def _luhn_complete(prefix: str) -> str:
    """``prefix`` plus the check digit that makes it Luhn-valid."""
    for d in "0123456789":
        if luhn_ok(prefix + d):
            return prefix + d
    raise AssertionError(prefix)


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def _card(rng: random.Random, n: int) -> str:
    return _luhn_complete(rng.choice("3456") + _digits(rng, n - 2))


def _separate(rng: random.Random, digits: str) -> str:
    if not SEPARATORS[0]:
        return digits
    out = [digits[0]]
    for ch in digits[1:]:
        out.append(rng.choice(["", "", "", " ", "-"]) + ch)
    return "".join(out)


SEPARATORS = [True]  # False: runs without separators only (the vectorised path)


def _piece(rng: random.Random, refs: list[str]) -> str:
    kind = rng.randrange(12)
    n = rng.randint(11, 21)
    if kind == 0:
        return _card(rng, rng.randint(13, 19))
    if kind == 1:
        return _separate(rng, _card(rng, rng.randint(13, 19)))
    if kind == 2:
        return _digits(rng, n)
    if kind == 3:
        return _separate(rng, _digits(rng, n))
    if kind == 4 and refs:
        return rng.choice(refs)
    if kind == 5:
        return "Ref 2024 " + " ".join(_card(rng, 16)[i:i + 4] for i in range(0, 16, 4))
    if kind == 6:
        return _card(rng, rng.randint(13, 19)) + rng.choice(["", "0", "1", "7"])  # 14–20 digits
    if kind == 7:
        return rng.choice(['{"a":"', '","b":', "txn_", "ch_", " ", "-", "--", "  ", "\n", "é", "€", ",",
                           "\x00" if rng.random() < 0.1 else "_"])
    if kind == 8:
        return _card(rng, 16) + (rng.choice(["", " ", "-"]) if SEPARATORS[0] else "x") + _card(rng, 13)
    if kind == 9:
        return str(rng.randint(0, 10**12))
    if kind == 10:  # a card glued to letters: part of an identifier, never masked
        card = _card(rng, rng.randint(13, 19))
        return rng.choice(["INV" + card, card + "D", "3M" + card + "D", "é" + card, "_" + card + "x"])
    return rng.choice(["card ", "order ", "x", "", "=SUM(", "·", "\t"])


def _frame(rng: random.Random, rows: int) -> pl.DataFrame:
    data: dict[str, list] = {c: [] for c in (*pan.STATEMENT_TEXT, "psp_reference", "merchant_reference")}
    for _ in range(rows):
        card = _card(rng, rng.randint(13, 19))
        psp = rng.choice([card, _separate(rng, card), _digits(rng, 16), None, "ch_" + _digits(rng, 14)])
        merchant = rng.choice([_card(rng, 16), "ORDER-" + _digits(rng, 8), None, ""])
        refs = [r for r in (psp, merchant, card) if r]
        for c in pan.STATEMENT_TEXT:
            if rng.random() < 0.1:
                data[c].append(None)
            else:
                data[c].append("".join(_piece(rng, refs) for _ in range(rng.randint(0, 8))))
        data["psp_reference"].append(psp)
        data["merchant_reference"].append(merchant)
    return pl.DataFrame(data, schema={c: pl.String for c in data})


@pytest.mark.parametrize("separators", [True, False])
@pytest.mark.parametrize("seed", range(4))
def test_mask_pans_equals_mask_frame_on_generated_text(seed, separators):
    SEPARATORS[0] = separators
    try:
        frame = _frame(random.Random(seed), 3000)
    finally:
        SEPARATORS[0] = True
    before = frame.clone()
    fast = pan.mask_frame_fast(frame, pan.STATEMENT_TEXT)
    assert fast.equals(pan.mask_frame(frame, pan.STATEMENT_TEXT))
    assert frame.equals(before)  # the input is not changed


@pytest.mark.parametrize("seed", range(4))
def test_mask_pans_equals_mask_frame_on_random_text(seed):
    rng = random.Random(1000 + seed)
    alphabet = "0123456789" * 6 + " -  --abZ\x00\n"
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 80))) for _ in range(4000)]
    refs = ["".join(ch for ch in t if ch.isdigit())[:16] if rng.random() < 0.3 else None for t in texts]
    frame = pl.DataFrame({"description": texts, "raw": list(reversed(texts)), "psp_reference": refs},
                         schema={"description": pl.String, "raw": pl.String, "psp_reference": pl.String})
    assert pan.mask_frame_fast(frame, pan.STATEMENT_TEXT).equals(pan.mask_frame(frame, pan.STATEMENT_TEXT))


def test_plain_cards_masked_vectorised_and_own_references_kept():
    card, other = "4111111111111111", "5555555555554444"
    frame = pl.DataFrame({
        "description": [f"card {card}", f"{card}0 and {card}", f"ref {other} 1234567890123"],
        "raw": [f'{{"id":"{card}"}}', None, f'{{"ch":"ch_{other}","n":"{card}"}}'],
        "psp_reference": [None, None, other],
    })
    out = pan.mask_frame_fast(frame, pan.STATEMENT_TEXT)
    assert out.equals(pan.mask_frame(frame, pan.STATEMENT_TEXT))
    assert out["description"].to_list() == ["card 411111******1111", f"{card}0 and 411111******1111",
                                            f"ref {other} 1234567890123"]
    assert out["raw"].to_list() == ['{"id":"411111******1111"}', None,
                                    f'{{"ch":"ch_{other}","n":"411111******1111"}}']


def test_no_text_columns_or_empty_frame():
    empty = pl.DataFrame({"description": pl.Series([], dtype=pl.String)})
    assert pan.mask_frame_fast(empty, pan.STATEMENT_TEXT).equals(empty)
    numbers = pl.DataFrame({"amount": [1, 2]})
    assert pan.mask_frame_fast(numbers, pan.STATEMENT_TEXT).equals(numbers)


def test_zero_padded_counters_in_ids_are_not_cards():
    """No issued card number begins with 0; Stripe's balance-transaction ids end in a zero-padded
    13-digit counter that passes Luhn one time in ten. Masking it spoiled those ids in the audit
    copy; a real card beside it is still masked."""
    counter = "0000000160069"
    assert luhn_ok(counter)
    raw = f'{{"balance_transaction_id":"txn_320261120C{counter}","note":"card 4111111111111111"}}'
    frame = pl.DataFrame({"description": [f"counter {counter}"], "raw": [raw], "psp_reference": ["ch_1"]})
    out = pan.mask_frame_fast(frame, pan.STATEMENT_TEXT)
    assert out.equals(pan.mask_frame(frame, pan.STATEMENT_TEXT))
    assert out["description"].to_list() == [f"counter {counter}"]
    assert out["raw"].to_list() == [raw.replace("4111111111111111", "411111******1111")]
    zero = _luhn_complete("041111111111111")  # 16 digits, Luhn-valid, beginning with 0
    assert pan.mask_text(f"id {zero}") == f"id {zero}"
    assert pan.mask_text("0 4111 1111 1111 1111") == "0 411111******1111"  # the 0 is its own group


def test_generated_stripe_ids_survive_masking(tmp_path):
    """Every balance-transaction id in the masked audit copy equals the file's."""
    import hashlib
    import json
    from datetime import date

    from recon.generate import generate_day
    from schemas import stripe

    day = generate_day(date(2026, 11, 21), tmp_path, seed=7, scale=300)
    data = day.paths["stripe"].read_bytes()
    parsed = stripe.parse(data, name="stripe.csv", source="stripe", sha256=hashlib.sha256(data).hexdigest(),
                          business_date=date(2026, 11, 21), timezone="UTC")
    sent = pl.read_csv(day.paths["stripe"], infer_schema=False)["balance_transaction_id"].to_list()
    luhn_counters = [s for s in sent if luhn_ok(s[-13:])]
    assert len(luhn_counters) > 10  # the case is exercised: these were masked before
    masked = pan.mask_frame_fast(parsed.frame, pan.STATEMENT_TEXT)
    assert [json.loads(r)["balance_transaction_id"] for r in masked["raw"]] == sent


def test_runs_touching_letters_are_identifiers_not_cards():
    """PayPal's transaction ids (``3M38516514197343D``, from the conformance corpus) and letter-
    prefixed references hold Luhn-valid runs by chance; a card beside them is still masked."""
    card = "4111111111111111"
    texts = ["3M38516514197343D", f"INV{card}", f"{card}D", f"INV{card} and {card}",
             f"card {card}.", f"é{card}", f"x-{card}", f"{card}\r\n", f"ref:{card}Z {card}"]
    frame = pl.DataFrame({"description": texts, "raw": list(reversed(texts))})
    out = pan.mask_frame_fast(frame, pan.STATEMENT_TEXT)
    assert out.equals(pan.mask_frame(frame, pan.STATEMENT_TEXT))
    assert out["description"].to_list() == [
        "3M38516514197343D", f"INV{card}", f"{card}D", f"INV{card} and 411111******1111",
        "card 411111******1111.", "é411111******1111", "x-411111******1111", "411111******1111\r\n",
        f"ref:{card}Z 411111******1111"]


@pytest.mark.parametrize("seed", range(3))
def test_every_cell_masking_changes_is_a_candidate_cell(seed):
    """The cheap pre-filter (pan._CANDIDATE_CELL) lets through every cell the exact masking
    would change: a cell it drops is left as it is without being looked at."""
    rng = random.Random(2000 + seed)
    refs: list[str] = []
    texts = ["".join(_piece(rng, refs) for _ in range(rng.randint(1, 6))) for _ in range(6000)]
    alphabet = "0123456789" * 8 + " -  -aZ_é"
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randint(13, 60))) for _ in range(6000)]
    changed = [t for t in texts if safe_mask(t)[0] != t]
    assert len(changed) > 1000  # the cases are there
    found = pl.Series(changed).str.contains(pan._CANDIDATE_CELL)
    assert found.all(), [t for t, ok in zip(changed, found) if not ok][:5]
    # ... and it does drop the ids on every PSP line that can not be cards
    ids = pl.Series(["txn_320261120C0000000012291", "ch_32026112000000000012291",
                     '"4200202611200000000000009336"', "2026-11-20 16:00:00", "ORD20261120S00012291"])
    assert not ids.str.contains(pan._CANDIDATE_CELL).any()


@pytest.mark.parametrize("seed", range(3))
def test_a_frame_stored_without_raw_is_masked_as_the_old_path_masked_it(seed):
    """The loads drop raw before masking where the line keeps a span instead (recon.lineage):
    every other free-text column comes out exactly as the old path (raw included, row by row)
    masked it, and the rows without a candidate run are left as they were."""
    cards = _frame(random.Random(seed), 300)
    plain = pl.DataFrame({c: ["coffee 2 cups, order 12", None] * 25 for c in cards.columns},
                         schema=cards.schema)  # no digit run a card could be in
    frame = pl.concat([cards, plain])
    old = pan.mask_frame(frame, pan.STATEMENT_TEXT)
    new = pan.mask_frame_fast(frame.drop("raw"), pan.STATEMENT_TEXT)
    assert new.equals(old.drop("raw"))
    assert new.head(300)["description"].to_list() != cards["description"].to_list()  # cards masked
    assert new.tail(50).equals(plain.drop("raw"))
