"""The one configuration file (TOML), typed and validated at load.

A mistake names the file, the key and what was expected (``ConfigError``). String values may
use ``${VAR}`` or ``${VAR:-default}`` so that secrets and per-machine settings come from the
environment and never sit in the file; relative paths are relative to the config file.
"""
from __future__ import annotations

import hashlib
import os
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connectors.endpoints import LocalEndpoint, SftpEndpoint
from connectors.settle import DEFAULT_SETTLE_S
from recon import rules as registry
from recon.errors import ConfigError
from recon.config_ledger import LedgerConfig, ledger_config
from recon.permissions import parse as parse_umask
from recon.config_payouts import PayoutReferences, payout_keys
from recon.config_ops import AlertsConfig, DaskConfig, SignalsConfig, _alerts, _dask, _signals
from recon.money import EXPONENTS

KINDS = ("psp", "bank")
RULES = registry.CASCADE  # the registry's cascade rules, in their default order
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@dataclass(frozen=True)
class Matching:
    """A source's matching cascade and its tolerances (all money in minor units). One field per
    setting of the rule registry (recon.rules.SETTINGS), with its default there."""
    rules: tuple[str, ...] = RULES
    amount_tolerance_minor: int = 0  # absolute, for reference_tolerance
    amount_tolerance_bps: int = 0  # relative (basis points of the ledger amount), whichever is larger
    window_before_days: int = 1  # statement business date may be this many days before the ledger's
    window_after_days: int = 1  # ... or this many days after (T+N)
    timing_window_minutes: int = 15  # unmatched items this close to the cut-off are `timing`
    fee_tolerance_minor: int = 0
    fx_tolerance_minor: int = 0  # residue allowed between ledger amount and the original amount
    fuzzy_threshold: str = "0.92"  # Jaro-Winkler similarity of counterparty/description
    fuzzy_requires_missing_reference: bool = True  # fuzzy only for lines without a merchant reference
    reference_prefixes: tuple[str, ...] = ()  # stripped by normalized_reference, e.g. "REF:"
    max_group: int = 20  # aggregate_reference: largest group (both sides) it will sum
    late_pending_days: int = 2  # business days a late source's ledger items wait as pending
    payout_window_days: int = 2  # a payout's bank credit may come this many days after expected


@dataclass(frozen=True)
class Source:
    name: str
    kind: str
    format: str
    timezone: str
    cutoff: time
    currency: str
    sftp: SftpEndpoint | None  # exactly one of sftp and local is set
    matching: Matching = field(default_factory=Matching)
    rate_card: Path | None = None
    statement_lag_days: int = 0  # a bank naming D's statement by delivery date: file D+lag is D's
    payouts_for: tuple[str, ...] = ()  # bank sources: the PSPs whose payouts land here
    payout_references: PayoutReferences = field(default_factory=PayoutReferences)  # bank sources
    payout_lag_days: int | None = None  # PSP sources: payout D+n (recon.config_payouts)
    payer_names: tuple[str, ...] = ()  # PSP sources: the bank's name for the payer
    options: dict = field(default_factory=dict)  # format-specific settings, checked by the parser
    local: LocalEndpoint | None = None

    @property
    def transport(self) -> str:
        return "local" if self.local is not None else "sftp"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def file_date(self, business_date: date) -> date:
        return business_date + timedelta(days=self.statement_lag_days)


@dataclass(frozen=True)
class Config:
    path: Path
    sha256: str
    warehouse: Path
    archive: Path
    reports: Path
    timezone: str
    schedule: str
    ledger: LedgerConfig
    sources: tuple[Source, ...]
    alerts: AlertsConfig = field(default_factory=AlertsConfig)
    signals: SignalsConfig = field(default_factory=SignalsConfig)
    dask: DaskConfig | None = None  # [dask]: fan fetch and parse out on Dask (flows/fanout.py)
    umask: int | None = None  # [paths] umask (recon/permissions.py; None: $RECON_UMASK or 077)
    lock_wait_s: float = 0.0  # [run] lock_wait_seconds: how long a second run waits for the first

    def source(self, name: str) -> Source:
        for s in self.sources:
            if s.name == name:
                return s
        raise KeyError(name)


class _Reader:
    """Typed access to one TOML table that reports mistakes by their dotted key."""

    def __init__(self, path: Path, table: dict[str, Any], prefix: str):
        self.path, self.table, self.prefix = path, table, prefix

    def _key(self, key: str) -> str:
        return f"{self.prefix}.{key}" if self.prefix else key

    def fail(self, key: str, message: str):
        raise ConfigError(str(self.path), self._key(key), message)

    def get(self, key: str, typ: type, default: Any = ..., *, choices: tuple | None = None) -> Any:
        if key not in self.table:
            if default is ...:
                self.fail(key, f"missing; expected a {typ.__name__}")
            return default
        value = self.table[key]
        if isinstance(value, str):
            value = _expand(value, lambda msg: self.fail(key, msg))
            if typ is int and value.strip().lstrip("-").isdigit():
                value = int(value)
            elif typ is float and re.fullmatch(r"\s*-?\d+(\.\d+)?\s*", value):
                value = float(value)
        if typ is float and isinstance(value, int):
            value = float(value)
        if not isinstance(value, typ) or (typ is int and isinstance(value, bool)):
            self.fail(key, f"expected a {typ.__name__}, found {value!r}")
        if choices is not None and value not in choices:
            self.fail(key, f"expected one of {', '.join(choices)}, found {value!r}")
        return value

    def path_(self, key: str, default: Any = ...) -> Path:
        raw = self.get(key, str, default)
        if raw is None:
            return None
        p = Path(raw).expanduser()
        return (p if p.is_absolute() else self.path.parent / p).resolve()

    def sub(self, key: str) -> "_Reader":
        value = self.table.get(key)
        if not isinstance(value, dict):
            self.fail(key, "missing; expected a table")
        return _Reader(self.path, value, self._key(key))

    def unknown(self, allowed: set[str]) -> None:
        for k in self.table:
            if k not in allowed:
                self.fail(k, f"unknown key; expected one of {', '.join(sorted(allowed))}")


def _expand(value: str, fail) -> str:
    def repl(m: re.Match) -> str:
        name, default = m.group(1), m.group(2)
        if name in os.environ:
            return os.environ[name]
        if default is not None:
            return default
        fail(f"environment variable {name} is not set (and no ${{{name}:-default}} given)")
        return ""

    return _ENV.sub(repl, value)


def _time(r: _Reader, key: str, default: str) -> time:
    raw = r.get(key, str, default)
    try:
        return time.fromisoformat(raw)
    except ValueError:
        r.fail(key, f"expected a time of day like \"00:00\", found {raw!r}")


def _pattern(r: _Reader, key: str) -> str:
    raw = r.get(key, str)
    try:
        raw.format(date=date(2000, 1, 2))
    except (KeyError, IndexError, ValueError) as e:
        r.fail(key, f"expected a filename pattern using {{date:%Y%m%d}} ({e})")
    if "/" in raw:
        r.fail(key, "expected a file name pattern without '/' (put directories in remote_dir)")
    return raw


def _sftp(r: _Reader) -> SftpEndpoint:
    r.unknown({"host", "port", "user", "private_key", "known_hosts", "remote_dir", "pattern",
               "timeout_s", "retries", "settle_s", "done_marker", "deadline", "deadline_timezone",
               "poll_s", "passphrase", "connect_timeout_s", "banner_timeout_s", "auth_timeout_s"})
    port = r.get("port", int, 22)
    if not 0 < port < 65536:
        r.fail("port", f"expected a TCP port 1-65535, found {port}")
    marker = _marker(r)
    deadline_tz = r.get("deadline_timezone", str, "UTC")
    try:
        ZoneInfo(deadline_tz)
    except (ZoneInfoNotFoundError, ValueError):
        r.fail("deadline_timezone", f"expected an IANA timezone, found {deadline_tz!r}")
    _seconds(r, "timeout_s", "settle_s", "poll_s")
    _seconds(r, "connect_timeout_s", "banner_timeout_s", "auth_timeout_s", positive=True)
    return SftpEndpoint(
        host=r.get("host", str), port=port, user=r.get("user", str),
        private_key=r.path_("private_key"), known_hosts=r.path_("known_hosts"),
        remote_dir=r.get("remote_dir", str, "."), pattern=_pattern(r, "pattern"),
        timeout_s=r.get("timeout_s", float, 30.0), retries=r.get("retries", int, 3),
        settle_s=r.get("settle_s", float, DEFAULT_SETTLE_S), done_marker=marker,
        connect_timeout_s=r.get("connect_timeout_s", float, SftpEndpoint.connect_timeout_s),
        banner_timeout_s=r.get("banner_timeout_s", float, SftpEndpoint.banner_timeout_s),
        auth_timeout_s=r.get("auth_timeout_s", float, SftpEndpoint.auth_timeout_s),
        deadline=_time(r, "deadline", None) if "deadline" in r.table else None,
        deadline_timezone=deadline_tz, poll_s=r.get("poll_s", float, 60.0),
        passphrase=r.get("passphrase", str, "") or None,
    )


def _marker(r: _Reader) -> str | None:
    marker = r.get("done_marker", str, None)
    if marker is not None:
        try:
            marker.format(name="x.csv", date=date(2000, 1, 2))
        except (KeyError, IndexError, ValueError) as e:
            r.fail("done_marker", f"expected a file name using {{name}} and/or {{date:%Y%m%d}} ({e})")
        if "/" in marker:
            r.fail("done_marker", "expected a file name without '/' (it sits beside the file)")
    return marker


def _seconds(r: _Reader, *keys: str, positive: bool = False) -> None:
    for key in keys:
        if key in r.table and (r.get(key, float) <= 0 if positive else r.get(key, float) < 0):
            r.fail(key, f"expected a number of seconds {'> 0' if positive else '>= 0'}")


def _local(r: _Reader) -> LocalEndpoint:
    r.unknown({"path", "pattern", "settle_s", "done_marker"})
    _seconds(r, "settle_s")
    return LocalEndpoint(path=r.path_("path"), pattern=_pattern(r, "pattern"),
                         settle_s=r.get("settle_s", float, DEFAULT_SETTLE_S), done_marker=_marker(r))


_INT_KNOBS = tuple(name for name, s in registry.SETTINGS.items() if s.type is int)


def _matching(r: _Reader) -> Matching:
    r.unknown({"rules", *registry.SETTINGS})
    rules = r.get("rules", list, list(RULES))
    for i, rule in enumerate(rules):
        if rule not in RULES:
            r.fail(f"rules[{i}]", f"expected one of {', '.join(RULES)}, found {rule!r}")
    if len(set(rules)) != len(rules):
        r.fail("rules", "expected each rule at most once")
    ints = {k: r.get(k, int, getattr(Matching, k)) for k in _INT_KNOBS}
    for k, v in ints.items():
        if v < 0:
            r.fail(k, f"expected a number >= 0, found {v}")
    threshold = r.get("fuzzy_threshold", str, Matching.fuzzy_threshold)
    if not re.fullmatch(r"0?\.\d{1,3}|1(\.0{1,3})?", threshold):
        r.fail("fuzzy_threshold", f"expected a similarity between 0 and 1 as text like \"0.92\", found {threshold!r}")
    prefixes = r.get("reference_prefixes", list, [])
    if not all(isinstance(p, str) and p.strip() for p in prefixes):
        r.fail("reference_prefixes", "expected a list of non-empty strings")
    return Matching(rules=tuple(rules), fuzzy_threshold=threshold,
                    fuzzy_requires_missing_reference=r.get("fuzzy_requires_missing_reference", bool, True),
                    reference_prefixes=tuple(p.strip().upper() for p in prefixes), **ints)


def _source(r: _Reader) -> Source:
    r.unknown({"name", "kind", "format", "timezone", "cutoff", "currency", "sftp", "local", "matching",
               "rate_card", "statement_lag_days", "payouts_for", "options", "payout_references",
               "payout_lag_days", "payer_names"})
    if ("sftp" in r.table) == ("local" in r.table):
        r.fail("sftp", "expected exactly one of [sources.sftp] (fetched over SFTP) and "
                       "[sources.local] (a local folder)")
    name = r.get("name", str)
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,39}", name):
        r.fail("name", f"expected lower-case letters, digits and _, found {name!r}")
    tz = r.get("timezone", str, "UTC")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        r.fail("timezone", f"expected an IANA timezone like Asia/Shanghai, found {tz!r}")
    currency = r.get("currency", str)
    if currency not in EXPONENTS:
        r.fail("currency", f"expected an ISO 4217 code, found {currency!r}")
    kind = r.get("kind", str, choices=KINDS)
    rate_card = r.path_("rate_card", None)
    if rate_card is not None and not rate_card.is_file():
        r.fail("rate_card", f"file {rate_card} does not exist")
    from schemas.registry import FORMATS  # the parsers are the single list of formats
    return Source(
        name=name, kind=kind, format=r.get("format", str, choices=tuple(FORMATS)), timezone=tz,
        cutoff=_time(r, "cutoff", "00:00"), currency=currency,
        sftp=_sftp(r.sub("sftp")) if "sftp" in r.table else None,
        local=_local(r.sub("local")) if "local" in r.table else None,
        matching=_matching(r.sub("matching")) if "matching" in r.table else Matching(),
        rate_card=rate_card, statement_lag_days=r.get("statement_lag_days", int, 0),
        payouts_for=tuple(r.get("payouts_for", list, [])),
        **payout_keys(r),
        options=r.get("options", dict, {}),
    )


def load(path: str | Path) -> Config:
    """Read and validate a config file; raises ``ConfigError`` naming the bad key."""
    path = Path(path)
    try:
        blob = path.read_bytes()
    except OSError as e:
        raise ConfigError(str(path), "(file)", f"cannot be read ({e.strerror})",
                          hint="Check the path (--config, $RECON_CONFIG) and that the file is "
                               "readable by the user running recon.") from e
    try:
        doc = tomllib.loads(blob.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(str(path), "(syntax)", f"not valid TOML: {e}") from e
    top = _Reader(path, doc, "")
    top.unknown({"paths", "run", "ledger", "sources", "alerts", "signals", "dask"})
    paths, run, ledger = top.sub("paths"), top.sub("run"), top.sub("ledger")
    paths.unknown({"warehouse", "archive", "reports", "umask"})
    umask = paths.get("umask", str, None)
    if umask is not None and parse_umask(umask) is None:
        paths.fail("umask", f"expected an octal umask such as \"077\" or \"027\", found {umask!r}")
    run.unknown({"timezone", "schedule", "lock_wait_seconds"})
    _seconds(ledger, "settle_s")
    raw_sources = doc.get("sources")
    if not isinstance(raw_sources, list) or not raw_sources:
        top.fail("sources", "missing; expected at least one [[sources]] table")
    sources = tuple(_source(_Reader(path, s, f"sources[{i}]")) for i, s in enumerate(raw_sources))
    names = [s.name for s in sources]
    for i, s in enumerate(sources):
        if names.count(s.name) > 1:
            raise ConfigError(str(path), f"sources[{i}].name", f"duplicate source name {s.name!r}")
        for j, p in enumerate(s.payouts_for):
            if p not in names or sources[names.index(p)].kind != "psp":
                raise ConfigError(str(path), f"sources[{i}].payouts_for[{j}]",
                                  f"expected the name of a psp source, found {p!r}")
    tz = run.get("timezone", str, "UTC")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        run.fail("timezone", f"expected an IANA timezone, found {tz!r}")
    return Config(
        path=path.resolve(), sha256=hashlib.sha256(blob).hexdigest(),
        warehouse=paths.path_("warehouse"), archive=paths.path_("archive"),
        reports=paths.path_("reports"), timezone=tz,
        schedule=run.get("schedule", str, "0 6 * * *"),
        ledger=ledger_config(ledger, directory=ledger.path_("directory"), pattern=_pattern(ledger, "pattern"),
                             sources=sources, run_timezone=tz,
                             settle_s=ledger.get("settle_s", float, DEFAULT_SETTLE_S),
                             done_marker=_marker(ledger)),
        sources=sources,
        alerts=_alerts(top.sub("alerts") if "alerts" in doc else None),
        signals=_signals(top.sub("signals") if "signals" in doc else None),
        dask=_dask(top.sub("dask") if "dask" in doc else None),
        umask=None if umask is None else parse_umask(umask),
        lock_wait_s=run.get("lock_wait_seconds", float, 0.0),
    )
