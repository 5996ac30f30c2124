"""The workbook's Chinese edition (``--language zh``): labels, sheet names and the values recon
itself writes (rule names, break details, payout and source statuses, transaction types).

English is the key everywhere; anything missing stays English. Codes a bank, PSP or ISO defines
(currency codes, references, ids, file names) are never translated. Break details are rewritten
from the text the matching SQL stores (amounts in minor units) into major units, in either language:
one pattern per kind of detail, see :func:`detail_text`.
"""
from __future__ import annotations

import re
from collections.abc import Callable

from recon.money import to_decimal

# Column headers, Summary facts and section titles.
ZH: dict[str, str] = {
    "break id": "差异编号", "category": "类别", "source": "渠道", "reference": "商户订单号",
    "PSP reference": "渠道流水号", "currency": "币种", "ledger amount": "账面金额",
    "statement amount": "对账单金额", "difference": "差额", "booked at": "交易时间",
    "timezone": "时区", "file": "文件", "line": "行号", "ledger entry": "账务流水",
    "matched by": "匹配规则", "ledger difference": "账务差额",
    "rule": "规则", "detail": "说明", "first seen": "首次出现", "age (days)": "账龄(天)",
    "latest annotation": "最新备注", "history": "历史", "reason": "原因", "status": "状态",
    "comment": "备注", "date": "日期", "method": "支付方式", "type": "类型", "count": "笔数",
    "gross": "交易金额", "actual fee": "实收手续费", "expected fee": "应收手续费",
    "variance": "差异", "effective rate": "实际费率", "payout id": "结算单号", "items": "笔数",
    "settled net": "应结净额", "declared": "渠道申报", "bank credit": "银行入账",
    "bank line": "银行流水", "merchant": "商户号", "sub-merchant": "特约商户号",
    "payments": "收款", "refunds": "退款", "chargebacks": "拒付", "fees": "手续费",
    "other": "其他", "owed": "应结", "in payouts": "已结算", "paid": "已到账",
    "outstanding": "未到账", "payment count": "收款笔数", "success rate": "成功率",
    "refund rate": "退款率", "chargeback rate": "拒付率", "match rate": "匹配率",
    "fee rate": "费率", "lines": "笔数", "matched": "已匹配", "total": "合计",
    "0-1": "0-1天", "2-3": "2-3天", "4-7": "4-7天", "8-30": "8-30天", ">30": "30天以上",
    "amount": "金额", "kind": "类型", "sha256": "文件哈希", "quarantined": "隔离",
    "control total": "控制总数", "error": "错误", "run id": "运行编号",
    "business date": "业务日期", "reconciled": "已平账", "breaks": "差异数",
    # the Breaks sheet's two sides, resolution and check columns
    "ledger version": "账务版本", "ledger reference": "账面订单号", "ledger booked at": "账面交易时间",
    "ledger date": "账面日期", "ledger counterparty": "账面交易对方", "ledger description": "账面摘要",
    "ledger file": "账务文件", "ledger line": "账务行号", "statement reference": "对账单订单号",
    "statement booked at": "对账单交易时间", "value date": "起息日", "counterparty": "交易对方",
    "description": "摘要", "owner": "负责人", "due date": "到期日", "payout items net": "结算明细净额",
    "annotation version": "备注版本", "row check": "行校验值",
    # Summary
    "started at (UTC)": "开始时间(UTC)", "finished at (UTC)": "结束时间(UTC)",
    "code version": "程序版本", "config sha256": "配置哈希", "ledger entries": "账务笔数",
    "statement lines": "对账单笔数", "matched ledger entries": "已匹配账务笔数",
    "matched statement lines": "已匹配对账单笔数", "quarantined rows": "隔离行数",
    "note": "注", "source text": "源文本", "yes": "是", "no": "否",
    "Sources": "数据来源", "Matched": "已匹配金额", "Matched by rule": "按规则匹配",
    "Breaks by category": "差异按类别", "Breaks per category": "各类别差异笔数",
    "Match rate, last 30 days": "匹配率(近30天)", "sum of differences": "差额合计",
    "sum of |differences|": "差额绝对值合计",
    # roll-forward, Cleared sheet, tie-out
    "Roll-forward of open breaks": "未结差异滚动", "opening": "期初", "new": "新增",
    "auto-cleared": "自动核销", "resolved": "已解决", "corrected": "更正", "closing": "期末",
    "check": "校验", "left on": "移出日期", "how": "方式", "by": "经办人", "why": "原因说明",
    "no longer raised": "不再出现", "Statement gaps": "对账单断档", "account": "账号",
    "previous date": "上期日期", "previous closing": "上期期末余额",
    "previous sequence": "上期序号", "sequence": "序号", "none": "无",
    "Tie-out": "勾稽核对", "tie-out": "勾稽核对", "left side": "左方", "right side": "右方",
    "all reports agree": "各报表一致", "ok": "一致",
    "pending (source late)": "待对账(渠道账单迟到)", "Late sources": "迟到渠道", "oldest": "最早日期",
    # sheet names (Excel: at most 31 characters, none of []:*?/\)
    "Summary": "汇总", "Breaks": "差异明细", "Aging": "账龄", "Payouts": "结算单",
    "Fees": "手续费", "Channels": "渠道", "Positions": "结算头寸", "Cleared": "已清差异",
    "Tolerances": "容差匹配", "Receivers": "分账接收方",
    # split settlement (分账) per receiver (Receivers sheet)
    "receiver": "分账接收方账号", "allocated": "分账金额", "returned": "回退金额", "net": "净分账",
    "open (bill)": "未入账(账单)", "open (ledger)": "未到账(账务)",
    # links made within a tolerance (Tolerances sheet, Summary)
    "statement line": "对账单流水", "linked within tolerance": "容差内匹配笔数",
    "Linked within tolerance": "容差内匹配",
    # print header and footer
    "page &P of &N": "第 &P 页，共 &N 页",
}

# Values recon writes: rule names, statuses, kinds and transaction types.
VALUES_ZH: dict[str, str] = {
    "exact_reference": "订单号精确匹配", "normalized_reference": "订单号规范化匹配",
    "fx_reference": "外币订单号匹配", "reference_tolerance": "订单号+容差匹配",
    "aggregate_reference": "汇总匹配", "fuzzy": "模糊匹配", "reversal_reference": "原订单号匹配(退款/拒付)",
    "reference_mismatch": "订单号相同金额不符", "duplicate_line": "对账单重复",
    "duplicate_entry": "账务重复", "ambiguous_candidates": "多个候选",
    "unmatched_ledger": "账务未匹配", "unmatched_statement": "对账单未匹配",
    "rate_card": "费率卡", "three_way_payout": "三方结算核对", "payout_reference": "结算单号匹配",
    "payout_amount": "结算金额与付款方匹配", "ledger_payout": "账务结算匹配", "in_transit": "在途",
    "ambiguous": "多重匹配",
    "matched": "已匹配", "payout_mismatch": "结算不符", "unsettled": "未结算",
    "loaded": "已加载", "missing": "缺失", "rejected": "被拒", "duplicate": "重复文件",
    "corrected": "已更正", "psp": "支付渠道", "bank": "银行", "ledger": "账务",
    "payment": "收款", "refund": "退款", "chargeback": "拒付", "fee": "手续费",
    "payout": "结算", "adjustment": "调整", "transfer": "转账", "reversal": "冲正",
    "ok": "通过", "n/a": "不适用",
    "success_rate_drop": "成功率下降", "refund_rate_spike": "退款率突增",
    "chargeback_rate_spike": "拒付率突增", "fee_rate_drift": "费率偏离", "payout_late": "结算延迟",
    "large_break": "大额差异", "repeated_reference": "订单号重复",
    "allocation_receiver": "分账按订单与接收方匹配", "allocation_check": "分账逐单核对",
    "allocation": "分账", "allocation_return": "分账回退", "unfreeze": "解冻给分账方",
}


def label(text: str, language: str) -> str:
    return ZH.get(text, text) if language == "zh" else text


def value(text: str | None, language: str) -> str | None:
    """A value recon writes (rule, status, kind, type) in the workbook's language."""
    if language != "zh" or text is None:
        return text
    return VALUES_ZH.get(text, text)


def _money(ccy: str, minor: str) -> str:
    return f"{ccy} {to_decimal(int(minor), ccy)}"


# (pattern of the stored detail, English, Chinese); ``a``/``b`` are amounts in minor units of the
# break's currency unless a currency group precedes them.
_Render = Callable[[dict[str, str], str], str]


_DETAILS: tuple[tuple[re.Pattern[str], _Render, _Render], ...] = (
    (re.compile(r"same reference; ledger (?P<lc>[A-Z]{3}) (?P<la>-?\d+), statement (?P<sc>[A-Z]{3}) "
                r"(?P<sa>-?\d+)(?: presented as (?P<pc>[A-Z]{3}) (?P<pa>-?\d+))? \(minor units\)"),
     lambda g, c: (f"same reference; ledger {_money(g['lc'], g['la'])}, statement "
                   f"{_money(g['sc'], g['sa'])}"
                   + (f" presented as {_money(g['pc'], g['pa'])}" if g["pc"] else "")),
     lambda g, c: (f"订单号相同；账面 {_money(g['lc'], g['la'])}，对账单 {_money(g['sc'], g['sa'])}"
                   + (f"（按 {_money(g['pc'], g['pa'])} 列示）" if g["pc"] else ""))),
    (re.compile(r"fee charged (?P<a>-?\d+) vs contracted (?P<b>-?\d+) \(minor units\)"),
     lambda g, c: f"fee charged {_money(c, g['a'])} vs contracted {_money(c, g['b'])}",
     lambda g, c: f"实收手续费 {_money(c, g['a'])}，合同应收 {_money(c, g['b'])}"),
    (re.compile(r"bank credited (?P<a>-?\d+) in (?P<n>\d+) line\(s\), payout (?P<b>-?\d+) "
                r"\(minor units\)"),
     lambda g, c: f"bank credited {_money(c, g['a'])} in {g['n']} line(s), payout {_money(c, g['b'])}",
     lambda g, c: f"银行入账 {_money(c, g['a'])}（{g['n']} 笔），结算单 {_money(c, g['b'])}"),
    (re.compile(r"PSP declared (?P<a>-?\d+) but its items net to (?P<b>-?\d+)"),
     lambda g, c: f"PSP declared {_money(c, g['a'])} but its items net to {_money(c, g['b'])}",
     lambda g, c: f"渠道申报 {_money(c, g['a'])}，但明细净额为 {_money(c, g['b'])}"),
    (re.compile(r"(?P<n>\d+) equally good ledger candidates: (?P<ids>.*)"),
     lambda g, c: f"{g['n']} equally good ledger candidates: {g['ids']}",
     lambda g, c: f"{g['n']} 笔同等匹配的账务候选：{g['ids']}"),
)


# The details without amounts: as stored (English), and in Chinese.
_FIXED_ZH = {
    "no bank credit carries this payout id yet": "尚无银行入账对应此结算单号",
    "repeats an earlier line with the same reference, type and amount": "与先前一笔订单号、类型、金额均相同的对账单行重复",
    "repeats another ledger entry with the same reference and amount": "与另一笔订单号、金额相同的账务流水重复",
    "booked just before the cut-off; expected in the next statement": "截止时间前记账；预计出现在下一份对账单",
    "booked just after the cut-off; the ledger has it on the previous day": "截止时间后入账；账面记在前一日",
}


def detail_text(stored: str | None, currency: str, language: str) -> str:
    """A break's detail for the sheet: amounts in major units, in the workbook's language; a
    detail of no known kind is shown as stored."""
    if not stored:
        return ""
    if stored in _FIXED_ZH:
        return _FIXED_ZH[stored] if language == "zh" else stored
    for pattern, en, zh in _DETAILS:
        m = pattern.fullmatch(stored)
        if m is not None:
            groups = {k: v or "" for k, v in m.groupdict().items()}
            try:
                return (zh if language == "zh" else en)(groups, currency)
            except (ValueError, KeyError):  # an unknown currency: as stored
                return stored
    return stored
