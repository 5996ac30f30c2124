"""Builders of PSP files in their documented layouts (quirks included), shared by the PSP tests."""
from __future__ import annotations

import io
import zipfile

WX_FLOW_HEADER = ("记账时间,微信支付业务单号,资金流水单号,业务名称,业务类型,收支类型,收支金额（元）,账户结余（元）,"
                  "资金变更提交申请人,备注,业务凭证号")


def wx_fundflow(rows=None, summary=None) -> bytes:
    rows = rows if rows is not None else [
        ("2026-11-21 09:15:02", "4200001", "F0001", "交易", "交易", "收入", "100.00", "1100.00", "系统", "", "ORD0001"),
        ("2026-11-21 09:15:02", "4200001", "F0002", "扣除交易手续费", "扣除交易手续费", "支出", "0.60", "1099.40", "系统", "", "ORD0001"),
        ("2026-11-21 12:00:00", "5000001", "F0003", "退款", "退款", "支出", "30.00", "1069.40", "系统", "", "RFD0001"),
        ("2026-11-21 18:00:00", "WD20261121", "F0004", "提现", "提现", "支出", "1000.00", "69.40", "商户", "T+1", "WD1"),
    ]
    summary = summary or ("4", "1", "100.00", "3", "1030.60")
    body = [WX_FLOW_HEADER, *(",".join("`" + f for f in r) for r in rows),
            "资金流水总笔数,收入笔数,收入金额,支出笔数,支出金额", ",".join("`" + s for s in summary), ""]
    return "\r\n".join(body).encode()


ALIPAY_TRADE_COLUMNS = ("支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,"
                        "对方账户,订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,"
                        "券核销金额（元）,券名称,商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注")


def _pad(fields) -> str:
    return ",".join(f"{f}\t" if i % 2 == 0 else f"{f}    " for i, f in enumerate(fields))


def _alipay_export(kind: str, columns: str, rows, footer, newline: str) -> bytes:
    """An Alipay 明细 export (kind 业务 or 账务) as the merchant site writes it, in GBK."""
    lines = [f"#支付宝{kind}明细查询", "#账号：[20881234567890120156]",
             "#起始日期：[2026年11月21日 00:00:00]   终止日期：[2026年11月22日 00:00:00]",
             f"#-----------------------------------------{kind}明细列表----------------------------------------",
             columns, *(_pad(r) for r in rows),
             f"#-----------------------------------------{kind}明细列表结束------------------------------------",
             *footer, "#导出时间：[2026年11月22日 09:12:52]", ""]
    return newline.join(lines).encode("gbk")


def alipay_trade(rows=None, footer=None) -> bytes:
    rows = rows if rows is not None else [
        ("2026112122001", "ORD0001", "交易", "咖啡", "2026-11-21 09:15:00", "2026-11-21 09:15:02", "", "", "", "",
         "buyer@x.cn", "100.00", "100.00", "0.00", "0.00", "0.00", "0.00", "0.00", "", "0.00", "0.00", "", "-0.60", "0.00", ""),
        ("2026112122002", "ORD0002", "交易", "茶", "2026-11-21 10:00:00", "2026-11-21 10:00:01", "", "", "", "",
         "b2@x.cn", "50.00", "50.00", "0.00", "0.00", "0.00", "0.00", "0.00", "", "0.00", "0.00", "", "-0.30", "0.00", ""),
        ("2026112122001", "ORD0001", "退款", "咖啡", "2026-11-21 11:00:00", "2026-11-21 11:00:05", "", "", "", "",
         "buyer@x.cn", "-30.00", "-30.00", "0.00", "0.00", "0.00", "0.00", "0.00", "", "0.00", "0.00", "RFD0001", "0.18", "0.00", ""),
    ]
    footer = footer or ["#交易合计：2笔，商家实收共150.00元，商家优惠共0.00元",
                        "#退款合计：1笔，商家实收共-30.00元，商家优惠共0.00元"]
    return _alipay_export("业务", ALIPAY_TRADE_COLUMNS, rows, footer, "\r\n")


ALIPAY_ACCOUNT_COLUMNS = ("账务流水号,业务流水号,商户订单号,商品名称,发生时间,对方账号,收入金额（+元）,支出金额（-元）,"
                          "账户余额（元）,交易渠道,业务类型,备注")


def alipay_account(rows=None, footer=None) -> bytes:
    rows = rows if rows is not None else [
        ("A001", "2026112122001", "ORD0001", "咖啡", "2026-11-21 09:15:02", "buyer@x.cn", "100.00", "", "1100.00", "支付宝", "在线支付", ""),
        ("A002", "2026112122001", "ORD0001", "服务费", "2026-11-21 09:15:02", "", "", "-0.60", "1099.40", "支付宝", "收费", ""),
        ("A003", "TX20261121", "", "提现", "2026-11-21 20:00:00", "6222***1234", "", "-1000.00", "99.40", "支付宝", "提现", ""),
    ]
    footer = footer or ["#支出合计：2笔，共-1000.60元", "#收入合计：1笔，共100.00元"]
    return _alipay_export("账务", ALIPAY_ACCOUNT_COLUMNS, rows, footer, "\n")


def zipped(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


ADYEN_V1 = ["Company Account", "Merchant Account", "Psp Reference", "Merchant Reference", "Payment Method",
            "Creation Date", "TimeZone", "Type", "Modification Reference", "Gross Currency", "Gross Debit (GC)",
            "Gross Credit (GC)", "Exchange Rate", "Net Currency", "Net Debit (NC)", "Net Credit (NC)",
            "Commission (NC)", "Markup (NC)", "Scheme Fees (NC)", "Interchange (NC)", "Payment Method Variant",
            "Modification Merchant Reference", "Batch Number"]
ADYEN_ROWS = [
    {"Psp Reference": "8815001", "Merchant Reference": "ORD0001", "Payment Method": "visa",
     "Creation Date": "2026-11-21 10:15:02", "TimeZone": "CET", "Type": "Settled", "Gross Currency": "EUR",
     "Gross Credit (GC)": "100.00", "Net Currency": "EUR", "Net Credit (NC)": "98.50",
     "Commission (NC)": "0.50", "Markup (NC)": "0.20", "Scheme Fees (NC)": "0.30", "Interchange (NC)": "0.50"},
    {"Psp Reference": "8815002", "Merchant Reference": "ORD0002", "Payment Method": "mc",
     "Creation Date": "2026-11-21 11:00:00", "TimeZone": "CET", "Type": "Settled", "Gross Currency": "USD",
     "Gross Credit (GC)": "50.00", "Exchange Rate": "0.92", "Net Currency": "EUR", "Net Credit (NC)": "45.00",
     "Commission (NC)": "1.00"},
    {"Psp Reference": "8815001", "Merchant Reference": "ORD0001", "Payment Method": "visa",
     "Creation Date": "2026-11-21 12:00:00", "TimeZone": "CET", "Type": "Refunded", "Modification Reference": "8815901",
     "Modification Merchant Reference": "RFD0001", "Gross Currency": "EUR", "Gross Debit (GC)": "30.00",
     "Net Currency": "EUR", "Net Debit (NC)": "30.10", "Commission (NC)": "0.10"},
    {"Creation Date": "2026-11-21 23:00:00", "TimeZone": "CET", "Type": "Fee", "Net Currency": "EUR",
     "Net Debit (NC)": "2.00", "Modification Reference": "Monthly fee"},
    {"Creation Date": "2026-11-21 23:30:00", "TimeZone": "CET", "Type": "Balancetransfer", "Net Currency": "EUR",
     "Net Credit (NC)": "10.00"},
    {"Creation Date": "2026-11-21 23:59:00", "TimeZone": "CET", "Type": "MerchantPayout", "Net Currency": "EUR",
     "Net Debit (NC)": "121.40", "Modification Reference": "payout"},
]


def adyen(columns=ADYEN_V1, rows=ADYEN_ROWS, bom=False) -> bytes:
    base = {"Company Account": "AcmeCo", "Merchant Account": "AcmeEU", "Batch Number": "42"}
    lines = [",".join(columns)] + [",".join({**base, **r}.get(c, "") for c in columns) for r in rows]
    return (b"\xef\xbb\xbf" if bom else b"") + ("\n".join(lines) + "\n").encode()


PAYPAL_EN = ["Date", "Time", "TimeZone", "Name", "Type", "Status", "Currency", "Gross", "Fee", "Net",
             "From Email Address", "To Email Address", "Transaction ID", "Invoice Number", "Reference Txn ID",
             "Balance"]


def paypal_activity(decimal=".") -> bytes:
    rows = [
        ["11/21/2026", "09:15:02", "PST", "Ann Buyer", "Website Payment", "Completed", "USD", "1,234.56", "-36.10",
         "1,198.46", "ann@x.com", "shop@x.com", "1AB23456CD789012E", "ORD0001", "", "1,198.46"],
        ["11/21/2026", "10:00:00", "PST", "Ann Buyer", "Payment Refund", "Completed", "USD", "-100.00", "2.90",
         "-97.10", "shop@x.com", "ann@x.com", "2RF", "RFD0001", "1AB23456CD789012E", "1,101.36"],
        ["11/21/2026", "11:00:00", "PST", "Supplier", "Express Checkout Payment", "Completed", "EUR", "-50.00",
         "0.00", "-50.00", "shop@x.com", "s@x.com", "3PAY", "", "", "-50.00"],
        ["11/21/2026", "11:00:00", "PST", "", "General Currency Conversion", "Completed", "EUR", "50.00", "0.00",
         "50.00", "", "", "4CONV", "", "3PAY", "0.00"],
        ["11/21/2026", "11:00:00", "PST", "", "General Currency Conversion", "Completed", "USD", "-54.35", "0.00",
         "-54.35", "", "", "5CONV", "", "3PAY", "1,047.01"],
    ]
    if decimal == ",":
        swap = str.maketrans(",.", ".,")
        rows = [[f.translate(swap) if i in (7, 8, 9, 15) else f for i, f in enumerate(r)] for r in rows]
    lines = [",".join(f'"{h}"' for h in PAYPAL_EN)] + [",".join(f'"{f}"' for f in r) for r in rows]
    return ("\ufeff" + "\r\n".join(lines) + "\r\n").encode()


TRR_COLUMNS = ["Transaction ID", "Invoice ID", "PayPal Reference ID", "PayPal Reference ID Type",
               "Transaction Event Code", "Transaction Initiation Date", "Transaction Completion Date",
               "Transaction Debit or Credit", "Gross Transaction Amount", "Gross Transaction Currency",
               "Fee Debit or Credit", "Fee Amount", "Fee Currency"]


def paypal_trr(footer_count="3") -> bytes:
    body = [
        ["1AB", "ORD0001", "", "", "T0006", "2026/11/21 09:15:02 -0800", "2026/11/21 09:15:02 -0800", "CR", "10000", "USD", "DR", "320", "USD"],
        ["2RF", "RFD0001", "1AB", "TXN", "T1107", "2026/11/21 10:00:00 -0800", "2026/11/21 10:00:00 -0800", "DR", "3000", "USD", "CR", "87", "USD"],
        ["3WD", "", "", "", "T0400", "2026/11/21 23:00:00 -0800", "2026/11/21 23:00:00 -0800", "DR", "6767", "USD", "", "", ""],
    ]
    lines = ['"RH","2026/11/22 06:00:00 -0800","A","MERCHANT1",010', '"FH",01',
             '"SH","2026/11/21 00:00:00 -0800","2026/11/21 23:59:59 -0800","MERCHANT1",""',
             ",".join(f'"{c}"' for c in ["CH", *TRR_COLUMNS])]
    lines += [",".join(f'"{v}"' for v in ["SB", *r]) for r in body]
    lines += [f'"SF",{footer_count}', '"SC",3', '"RF",3', '"RC",3', '"FF",3', ""]
    return "\n".join(lines).encode()


def unionpay_record(code="S22", amount=10000, fee=("D", 38), trace="000123", when="1121091502",
                    settle="1121", order="ORD0001", rrn="632509123456") -> str:
    fields = [("48021000", 0, 11), ("48021000", 12, 11), (trace, 24, 6), (when, 31, 10),
              ("622588******1234", 42, 19), (f"{amount:012d}", 62, 12), (code, 75, 3), ("5812", 79, 4),
              ("T0000001", 84, 8), ("898310058120001", 93, 15), (rrn, 109, 12), ("A12345", 122, 6),
              ("00", 129, 2), (fee[0], 132, 1), (f"{fee[1]:012d}", 133, 12), (settle, 146, 4), (order, 151, 32)]
    line = [" "] * 183
    for value, start, width in fields:
        line[start:start + width] = list(value.ljust(width)[:width])
    return "".join(line).rstrip()


def unionpay(records=None, trailer=True, total=None) -> bytes:
    records = records if records is not None else [
        unionpay_record(), unionpay_record(code="S33", amount=3000, fee=("C", 11), trace="000124",
                                           when="1121120000", order="RFD0001", rrn="632509123457")]
    lines = list(records)
    if trailer:
        amounts = total if total is not None else sum(int(r[62:74]) for r in records)
        lines.append(f"TRL{len(records):010d}{amounts:016d}")
    return ("\r\n".join(lines) + "\r\n").encode()
