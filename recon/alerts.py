"""The notification each nightly run ends with, by webhook (JSON POST) and e-mail (SMTP).

Two lines say whether the day reconciled — sources received/late/rejected, breaks by category
with amounts, anything above threshold — followed by one line per finding (a late or missing
source, a rejected file, quarantined rows, open breaks above a count or amount threshold, aged
breaks, a statement balance or sequence gap, each risk signal). A failed run gets its own short
alert from the flow's ``except`` branch.

Sending never raises: a channel that fails is logged as a warning and reported back as
``{"webhook": "failed: …"}`` for the run's output, so a notification can neither fail nor hide
the run. Secrets (the webhook token, the SMTP password) are read from the environment variables the
config names, at send time, and never logged or put in the message.
"""
from __future__ import annotations

import json
import logging
import os
import smtplib
import urllib.request
from dataclasses import asdict, dataclass, field
from datetime import date
from email.message import EmailMessage

from recon import redact
from recon.config import AlertsConfig, Config
from recon.money import format_amount
from recon.reports.model import RunSummary, SourceStatus
from recon.reports.summary import break_totals
from recon.reports.summary import signals_list

log = logging.getLogger(__name__)

RECEIVED = ("loaded", "corrected", "duplicate")
RUNBOOK = "docs/operations.md"


@dataclass(frozen=True)
class Finding:
    kind: str  # source_late | source_missing | pending | file_rejected | quarantine | open_breaks | open_amount | aged_breaks | balance_gap | sequence_gap | signal | run_failed
    message: str
    runbook: str = ""  # the docs/operations.md anchor that says what to do

    def __post_init__(self):  # every error text an alert carries passes here: no file text, no card
        object.__setattr__(self, "message", redact.error_text(self.message))


@dataclass(frozen=True)
class Notification:
    business_date: str
    run_id: str
    status: str  # reconciled | breaks | failed
    exit_code: int
    headline: str  # line 1: did the day reconcile, and the sources
    detail: str  # line 2: breaks by category with amounts, what is above threshold
    findings: tuple[Finding, ...] = ()
    sources: dict[str, str] = field(default_factory=dict)
    breaks: dict[str, dict] = field(default_factory=dict)  # category → {count, by_currency}
    signals: list[dict] = field(default_factory=list)

    @property
    def problems(self) -> bool:
        return self.status != "reconciled" or bool(self.findings)

    def text(self) -> str:
        lines = [self.headline, self.detail]
        if self.findings:
            lines.append("")
            lines += [f"- {f.message}" + (f" (see {RUNBOOK}#{f.runbook})" if f.runbook else "")
                      for f in self.findings]
        return "\n".join(lines) + "\n"

    def payload(self) -> dict:
        body = asdict(self)
        body["text"] = f"{self.headline}\n{self.detail}"
        return body


def _sources_line(statuses: list[SourceStatus] | tuple[SourceStatus, ...]) -> str:
    def named(states: tuple[str, ...]) -> str:
        names = sorted({s.source for s in statuses if s.status in states})
        return f"{len(names)}" + (f" ({', '.join(names)})" if names else "")
    return (f"sources {named(RECEIVED)} received, {named(('late',))} late, "
            f"{named(('rejected',))} rejected, {named(('missing',))} missing")


def _source_findings(statuses) -> list[Finding]:
    out = []
    for s in statuses:
        if s.status == "late":
            out.append(Finding("source_late", f"{s.source}: late, no file by its deadline", "late-file"))
        elif s.status == "missing":
            out.append(Finding("source_missing", f"{s.source}: no file", "late-file"))
        elif s.status == "rejected":
            integrity = "control total" in (s.error or "") or (s.control_total not in ("", "ok", "n/a"))
            out.append(Finding("file_rejected", f"{s.source}: {s.file_name} rejected: {s.error or s.control_total}",
                               "integrity-error" if integrity else "validation-quarantine"))
        if s.quarantined:
            out.append(Finding("quarantine", f"{s.source}: {s.quarantined} rows of {s.file_name} quarantined",
                               "validation-quarantine"))
        if s.status == "corrected":
            out.append(Finding("corrected_file", f"{s.source}: {s.file_name} is a corrected delivery",
                               "corrected-file"))
    return out


def _threshold_findings(summary: RunSummary, cfg: AlertsConfig) -> list[Finding]:
    out = []
    if cfg.max_open_breaks is not None and len(summary.breaks) > cfg.max_open_breaks:
        out.append(Finding("open_breaks", f"open breaks {len(summary.breaks)} > {cfg.max_open_breaks}",
                           "breaks-above-threshold"))
    absolute: dict[str, int] = {}
    for b in summary.breaks:
        absolute[b.currency] = absolute.get(b.currency, 0) + abs(b.difference_minor)
    for ccy, total in sorted(absolute.items()):
        limit = cfg.max_open_amount.get(ccy)
        if limit is not None and total > limit:
            out.append(Finding("open_amount", f"open breaks {ccy} {format_amount(total, ccy)} > "
                                              f"{format_amount(limit, ccy)}", "breaks-above-threshold"))
    if cfg.max_break_age_days is not None:
        old = [b for b in summary.breaks if (b.age_days or 0) >= cfg.max_break_age_days]
        if old:
            oldest = max(b.age_days or 0 for b in old)
            out.append(Finding("aged_breaks", f"{len(old)} open breaks at least {cfg.max_break_age_days} "
                                              f"days old (oldest {oldest} days)", "breaks-above-threshold"))
    return out


def _chain_findings(gaps) -> list[Finding]:
    out = []
    for g in gaps:
        if g.balance_gap:
            prev = "none" if g.previous_closing_minor is None else format_amount(g.previous_closing_minor, g.currency)
            now = "none" if g.opening_minor is None else format_amount(g.opening_minor, g.currency)
            out.append(Finding("balance_gap", f"{g.source} {g.account} {g.currency}: closing balance "
                                              f"{prev} on {g.previous_date} but opening {now} on "
                                              f"{g.business_date}", "statement-gap"))
        if g.sequence_gap:
            out.append(Finding("sequence_gap", f"{g.source} {g.account}: statement sequence "
                                               f"{g.previous_sequence} then {g.sequence}", "statement-gap"))
    return out


def _breaks_line(summary: RunSummary) -> tuple[str, dict[str, dict]]:
    by_cat: dict[str, dict] = {}
    parts: dict[str, list[str]] = {}
    for t in break_totals(summary.breaks):
        cat = by_cat.setdefault(t.category, {"count": 0, "by_currency": {}})
        cat["count"] += t.count
        cat["by_currency"][t.currency] = format_amount(t.absolute_minor, t.currency)
        parts.setdefault(t.category, []).append(f"{t.currency} {format_amount(t.absolute_minor, t.currency)}")
    text = ", ".join(f"{c} {by_cat[c]['count']} ({', '.join(parts[c])})" for c in by_cat) or "none"
    return f"breaks {len(summary.breaks)}: {text}", by_cat


def _signal_text(g) -> str:
    vs = f" against {g.baseline}" if g.baseline else ""
    limit = f", threshold {g.threshold}" if g.threshold else ""
    return f"signal {g.kind} {g.source} {g.currency}: {g.observed}{vs}{limit}; {g.detail}"


def run_notification(cfg: Config, summary: RunSummary, exit_code: int, gaps=()) -> Notification:
    """The notification of a finished run (reconciled or with breaks)."""
    statuses = list(summary.sources)
    findings = (_source_findings(statuses) + _threshold_findings(summary, cfg.alerts)
                + _chain_findings(gaps)
                + [Finding("signal", _signal_text(g), "risk-signals") for g in summary.signals]
                + [Finding("pending", f"{p.source}: {p.items} ledger items pending (source late), "
                           f"{p.currency} {format_amount(p.amount_minor, p.currency)}, oldest {p.oldest} "
                           f"({p.age_days} days)", "late-file") for p in summary.pending])
    state = "RECONCILED" if summary.reconciled else "NOT RECONCILED"
    status = "reconciled" if summary.reconciled else "breaks"
    headline = (f"recon {summary.business_date}: {state} (exit {exit_code}), "
                f"{_sources_line(statuses)}, {summary.quarantined} lines quarantined, "
                f"{sum(p.items for p in summary.pending)} items pending (source late)")
    breaks_text, by_cat = _breaks_line(summary)
    above = [f.message for f in findings if f.kind in ("open_breaks", "open_amount", "aged_breaks")]
    more = [f"{len(summary.signals)} risk signals"] if summary.signals else []
    gaps_n = sum(1 for f in findings if f.kind in ("balance_gap", "sequence_gap"))
    more += [f"{gaps_n} statement gaps"] if gaps_n else []
    detail = f"{breaks_text}; above threshold: {'; '.join(above) or 'nothing'}" + (
        f"; {', '.join(more)}" if more else "")
    return Notification(summary.business_date.isoformat(), summary.run_id, status, exit_code, headline,
                        detail, tuple(findings), {s.source: s.status for s in statuses}, by_cat,
                        signals_list(summary))


def failure_notification(run_id: str, business_date: date, statuses, error: BaseException) -> Notification:
    """The alert of a run that failed: what broke, and what had arrived before it did."""
    from recon.errors import ReconError
    what = redact.error_text(error if isinstance(error, ReconError) else f"{type(error).__name__}: {error}")
    findings = _source_findings(statuses) + [Finding("run_failed", f"run {run_id} failed: {what}", "run-crash")]
    return Notification(business_date.isoformat(), run_id, "failed", 2,
                        f"recon {business_date}: RUN FAILED (exit 2), {_sources_line(statuses)}",
                        f"the day is not reconciled: {what.splitlines()[0] if what else type(error).__name__}"[:500],
                        tuple(findings), {s.source: s.status for s in statuses})


def _post_webhook(cfg: AlertsConfig, n: Notification) -> None:
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "recon-alerts"}
    token = os.environ.get(cfg.webhook_token_env) if cfg.webhook_token_env else None
    if token:
        headers["Authorization"] = f"Bearer {token}"
    body = json.dumps(n.payload(), ensure_ascii=False, sort_keys=True).encode("utf-8")
    req = urllib.request.Request(cfg.webhook_url, data=body, headers=headers, method="POST")
    with urllib.request.urlopen(req, timeout=cfg.timeout_s) as resp:  # noqa: S310 - configured URL
        resp.read()


def _send_mail(cfg: AlertsConfig, n: Notification) -> None:
    msg = EmailMessage()
    msg["Subject"] = n.headline
    msg["From"] = cfg.smtp_from
    msg["To"] = ", ".join(cfg.smtp_to)
    msg.set_content(n.text())
    with smtplib.SMTP(cfg.smtp_host, cfg.smtp_port, timeout=cfg.timeout_s) as smtp:
        if cfg.smtp_starttls:
            smtp.starttls()
        password = os.environ.get(cfg.smtp_password_env) if cfg.smtp_password_env else None
        if cfg.smtp_user and password:
            smtp.login(cfg.smtp_user, password)
        smtp.send_message(msg)


def configured(a: AlertsConfig) -> bool:
    return bool(a.webhook_url or (a.smtp_host and a.smtp_to))


def send(cfg: Config, n: Notification) -> dict[str, str]:
    """Deliver to every configured channel; ``{channel: "sent" | "skipped: …" | "failed: …"}``.
    Never raises."""
    a = cfg.alerts
    channels = {}
    if a.webhook_url:
        channels["webhook"] = _post_webhook
    if a.smtp_host and a.smtp_to:
        channels["email"] = _send_mail
    out: dict[str, str] = {}
    for name, deliver in channels.items():
        if a.notify == "problems" and not n.problems:
            out[name] = "skipped: reconciled"
            continue
        try:
            deliver(a, n)
            out[name] = "sent"
            log.info("Alert sent by %s for %s (%s)", name, n.business_date, n.status)
        except Exception as e:  # noqa: BLE001 - a notification must never fail the run
            reason = f"{type(e).__name__}: {e}"[:300]
            log.warning("Alert by %s for %s not delivered: %s", name, n.business_date, reason)
            out[name] = f"failed: {reason}"
    return out


def statement_gaps(cfg: Config, business_date: date) -> list:
    """The day's statement chain gaps (closing ≠ next opening, skipped sequence numbers), each
    logged; never raises (a check that cannot run is logged and reports nothing)."""
    from recon import chain
    try:
        gaps = chain.gaps(cfg, business_date)
    except Exception as e:  # noqa: BLE001 - the check must not cost the run
        log.warning("Statement chain check skipped: %s", e)
        return []
    for g in gaps:
        what = " and ".join(x for x, on in (("closing ≠ opening", g.balance_gap),
                                             ("sequence skipped", g.sequence_gap)) if on)
        log.warning("Statement gap at %s account %s %s: %s between %s and %s (closing %s, opening %s; "
                    "sequence %s → %s). See docs/operations.md#statement-gap", g.source, g.account,
                    g.currency, what, g.previous_date, g.business_date, g.previous_closing_minor,
                    g.opening_minor, g.previous_sequence, g.sequence)
    return gaps


def notify_run(cfg: Config, summary: RunSummary, exit_code: int, gaps: list | None = None) -> dict[str, str]:
    """Build and send the run's notification; never raises (a failure is in the returned dict)."""
    if not configured(cfg.alerts):
        return {}
    try:
        if gaps is None:
            gaps = statement_gaps(cfg, summary.business_date)
        return send(cfg, run_notification(cfg, summary, exit_code, gaps))
    except Exception as e:  # noqa: BLE001
        log.warning("Alert not built: %s: %s", type(e).__name__, e)
        return {"alerts": f"failed: {type(e).__name__}: {e}"[:300]}


def notify_failure(cfg: Config, run_id: str, business_date: date, statuses, error: BaseException) -> dict[str, str]:
    try:
        return send(cfg, failure_notification(run_id, business_date, statuses, error))
    except Exception as e:  # noqa: BLE001 - never mask the run's own error
        log.warning("Failure alert not sent: %s: %s", type(e).__name__, e)
        return {"alerts": f"failed: {type(e).__name__}"}
