"""Score a run's breaks against the synthetic world's ground truth: precision and recall.

A found break and an injected one are the same when category, source and key agree (the key is
the merchant reference for transaction breaks, the payout id for payout breaks).
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

Key = tuple[str, str, str]  # (category, source, key)


@dataclass(frozen=True)
class Score:
    category: str
    expected: int
    found: int
    true_positives: int

    @property
    def precision(self) -> float:
        return self.true_positives / self.found if self.found else 1.0

    @property
    def recall(self) -> float:
        return self.true_positives / self.expected if self.expected else 1.0


def read_truth(path: Path) -> set[Key]:
    with path.open(newline="", encoding="utf-8") as fh:
        return {(r["category"], r["source"], r["key"]) for r in csv.DictReader(fh)}


def score(found: set[Key], truth: set[Key]) -> dict[str, Score]:
    """Per category, plus the key ``"all"`` for the whole day."""
    cats = sorted({c for c, _, _ in truth} | {c for c, _, _ in found})
    out = {}
    for c in cats + ["all"]:
        t = {x for x in truth if c in ("all", x[0])}
        f = {x for x in found if c in ("all", x[0])}
        out[c] = Score(c, len(t), len(f), len(t & f))
    return out


def explain(found: set[Key], truth: set[Key]) -> list[str]:
    """The differences, for a person: what was expected and not found, and the reverse."""
    return ([f"missed: {c} {s} {k}" for c, s, k in sorted(truth - found)]
            + [f"unexpected: {c} {s} {k}" for c, s, k in sorted(found - truth)])


def format_table(scores: dict[str, Score]) -> str:
    lines = [f"{'category':<22}{'expected':>9}{'found':>7}{'precision':>11}{'recall':>8}"]
    for c, s in scores.items():
        lines.append(f"{c:<22}{s.expected:>9}{s.found:>7}{s.precision:>10.1%}{s.recall:>8.1%}")
    return "\n".join(lines)
