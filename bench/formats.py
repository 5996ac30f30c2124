"""Parsing speed per statement format: lines per second, parse + control totals + validation.

CSV formats on at least 1M lines (the synthetic world's files, generated once and cached under
var/bench/), XML and SWIFT formats on 100k entries built here with balanced control totals.

    python -m bench.formats                 # all formats, results to bench/results/<date>-formats.json
    python -m bench.formats --only mt940    # one format
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DAY = date(2026, 11, 21)


def camt053(n: int) -> bytes:
    entries = "".join(
        f"<Ntry><Amt Ccy=\"EUR\">1.{i % 100:02d}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>"
        f"<BookgDt><Dt>2026-11-21</Dt></BookgDt><ValDt><Dt>2026-11-21</Dt></ValDt><AcctSvcrRef>B{i}</AcctSvcrRef>"
        f"<NtryDtls><TxDtls><Refs><EndToEndId>E2E{i}</EndToEndId></Refs></TxDtls></NtryDtls></Ntry>\n"
        for i in range(n))
    total = sum(100 + i % 100 for i in range(n))
    amt = f"{total // 100}.{total % 100:02d}"
    return (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.08\">"
            f"<BkToCstmrStmt><GrpHdr><MsgId>B</MsgId><CreDtTm>2026-11-22T00:00:00</CreDtTm></GrpHdr><Stmt><Id>S1</Id>"
            f"<CreDtTm>2026-11-22T00:00:00</CreDtTm><Acct><Id><IBAN>DE89370400440532013000</IBAN></Id><Ccy>EUR</Ccy></Acct>"
            f"<Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy=\"EUR\">0.00</Amt><CdtDbtInd>CRDT</CdtDbtInd>"
            f"<Dt><Dt>2026-11-21</Dt></Dt></Bal><Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy=\"EUR\">{amt}"
            f"</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-11-21</Dt></Dt></Bal>\n{entries}</Stmt></BkToCstmrStmt></Document>\n"
            ).encode()


def mt940(n: int) -> bytes:
    lines = [":20:BENCH", ":25:DE89370400440532013000", ":28C:00001/001", ":60F:C261121EUR0,00"]
    total = 0
    for i in range(n):
        cents = 100 + i % 100
        total += cents
        lines += [f":61:2611211121C{cents // 100},{cents % 100:02d}NTRFREF{i}//B{i}",
                  f":86:166?00GUTSCHRIFT?20EREF+E2E{i}?21SVWZ+Invoice {i}?32Payer {i}"]
    lines += [f":62F:C261121EUR{total // 100},{total % 100:02d}", "-"]
    return ("\r\n".join(lines) + "\r\n").encode()


def bai2(n: int) -> bytes:
    amounts = [100 + i % 100 for i in range(n)]
    total = sum(amounts)
    body = [f"16,195,{a},0,REF{i},CUST{i},TRANSFER {i}/" for i, a in enumerate(amounts)]
    account = ["03,1234567890,USD/"] + body
    account.append(f"49,{total},{len(account) + 1}/")
    group = ["02,RECEIVER,SENDER,1,261121,0800,USD,2/"] + account
    group.append(f"98,{total},1,{len(group) + 1}/")
    records = ["01,SENDER,RECEIVER,261121,0800,1,,,2/"] + group
    records.append(f"99,{total},1,{len(records) + 1}/")
    return ("\n".join(records) + "\n").encode()


def csv_files(scale: int) -> dict[str, tuple[str, Path]]:
    from recon.generate import generate_day
    out = ROOT / "var" / "bench" / f"formats-{scale}"
    marker = out / ".done"
    if not marker.exists():
        print(f"generating the synthetic day at scale {scale:,} (cached in {out}) …", file=sys.stderr)
        generate_day(DAY, out, seed=7, scale=scale)
        marker.write_text("ok")
    d = f"{DAY:%Y%m%d}"
    return {"wechatpay_trade": ("Asia/Shanghai", out / "wechatpay" / f"wechatpay_trade_{d}.csv"),
            "stripe_itemized": ("Asia/Shanghai", out / "stripe" / f"stripe_itemized_{d}.csv"),
            "ledger": ("Asia/Shanghai", out / "ledger" / f"ledger_{d}.csv")}


def measure(fmt: str, data: bytes, tz: str) -> dict:
    from schemas import registry
    from schemas.ledger import parse_ledger
    sha = hashlib.sha256(data).hexdigest()
    t = time.perf_counter()
    if fmt == "ledger":
        frame, quarantine = parse_ledger(data, name=f"bench.{fmt}", sha256=sha)
        checks = 0
    else:
        parsed = registry.parse(fmt, data, name=f"bench.{fmt}", source=fmt, sha256=sha, business_date=DAY,
                                timezone=tz)
        frame, quarantine, checks = parsed.frame, parsed.quarantine, len(parsed.checks)
    seconds = time.perf_counter() - t
    return {"format": fmt, "lines": frame.height, "quarantined": quarantine.height, "bytes": len(data),
            "control_totals": checks, "seconds": round(seconds, 3),
            "lines_per_second": round(frame.height / seconds)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", help="one format: wechatpay_trade, stripe_itemized, ledger, camt053, mt940, bai2")
    p.add_argument("--entries", type=int, default=100_000, help="entries for camt053/mt940/bai2 (default 100k)")
    p.add_argument("--scale", type=int, default=1_000_000,
                   help="generator scale for the CSV formats (payments per PSP; default 1M → ~1.05M lines)")
    args = p.parse_args(argv)
    built = {"camt053": (camt053, "UTC"), "mt940": (mt940, "UTC"), "bai2": (bai2, "UTC")}
    results = []
    wanted = [args.only] if args.only else ["wechatpay_trade", "stripe_itemized", "ledger", *built]
    files = csv_files(args.scale) if any(f not in built for f in wanted) else {}
    for fmt in wanted:
        if fmt in built:
            maker, tz = built[fmt]
            data = maker(args.entries)
        else:
            tz, path = files[fmt]
            data = path.read_bytes()
        try:
            r = measure(fmt, data, tz)
        except Exception as e:  # noqa: BLE001 - a bench reports, it does not stop
            r = {"format": fmt, "error": str(e)[:300]}
        results.append(r)
        if "error" in r:
            print(f"{fmt:<16} error: {r['error']}")
        else:
            print(f"{fmt:<16}{r['lines']:>11,} lines {r['seconds']:>8.2f} s {r['lines_per_second']:>11,} lines/s "
                  f"({r['control_totals']} control totals checked, {r['quarantined']} quarantined)")
    out = ROOT / "bench" / "results" / f"{date.today():%Y-%m-%d}-formats.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n", "utf-8")
    print(f"results in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
