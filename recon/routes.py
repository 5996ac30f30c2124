"""The cascade's passes over the working sets, and the two routes a reference pass can take.

The semantics are the reference route's: every reference pass proposes its candidate pairs with
sql/match_reference.sql; a pair whose entry and line have exactly one candidate each is a link,
anything with more than one candidate is ambiguous (a break, never a pick); each pass and rule
sees only what the earlier ones left open; the duplicates are marked over the whole day before any
rule. The bulk route is an optimisation behind the same interface (``Route.candidates``): the
first exact or normalised pass runs as one join (sql/first_pass.sql) that also knows which items
stay open and, when it can, marks the duplicates. Both give the same links, breaks and evidence:
the rules' truth tables run on both (tests/conftest.py, ``route``).
"""
from __future__ import annotations

from collections.abc import Callable

from recon import rules as registry
from recon import tuning
from recon.partitions import Partitions, candidates_in_partitions
from recon.steps import Runner

REFERENCE_MODES = registry.reference_modes()
# A reference pass after its candidates: its links, then its ambiguities and work_links.
LINKS, CLOSE = "match_reference_links", "match_reference_close"


class ReferenceRoute:
    """The plain cascade: every reference pass as match_reference.sql states it."""

    name = "reference"

    def marks_in_first_pass(self, run: Runner, rule: str, key: str | None,
                            partitions: Partitions | None) -> bool:
        """Whether the first pass marks the duplicates itself (never here: the day is checked first)."""
        return False

    def candidates(self, run: Runner, rule: str, key: str, params: dict, *, first: bool,
                   day_checks: DayChecks | None = None) -> bool:
        """The pass's candidate pairs in work_cand; True when it also wrote which items stay open
        (work_open_ledger, work_open_lines), else unlinked.sql finds them."""
        run.sql("match_reference", params, key=key)
        return False


DayChecks = tuple[Callable[[], None], Callable[[], None]]


class BulkRoute(ReferenceRoute):
    """The first exact or normalised pass as one join of equal keys (first_pass.sql): the same
    pairs, and what stays open by id. When the join holds every item the duplicate check counts
    (an exact merchant-reference rule that every source uses, not partitioned), it marks the
    duplicates between its join and its counts, and ``day_checks`` (what runs before the fetch
    ahead, what runs after the pass) run there."""

    name = "bulk"

    def marks_in_first_pass(self, run, rule, key, partitions) -> bool:
        if partitions is not None or key != "merchant_reference" or REFERENCE_MODES.get(rule) != "exact":
            return False
        return bool(run.sql("every_source_uses", {"rule": rule})[0][0])

    def candidates(self, run, rule, key, params, *, first, day_checks=None) -> bool:
        if not first or params["mode"] not in ("exact", "normalized"):
            if day_checks is not None:  # marks_in_first_pass said this pass would be one join
                raise RuntimeError(f"{rule} on {key} did not run as first_pass.sql: the duplicates are not marked")
            return super().candidates(run, rule, key, params, first=first)
        run.sql("first_pass", params, key=key)
        if day_checks is not None:
            run.sql("mark_duplicates_first_pass")
            run.sql("mark_duplicates_week", {**params, "all": False})
            day_checks[0]()  # the fee groups, whose variance lines the fetch takes too
            run.sql("first_pass_fetch")  # what the marks, fee variances and set-aside read whole
            run.sql("mark_duplicates", {**params, "all": False})
            run.sql("first_pass_duplicates")
        run.sql("first_pass_counts", params)
        return True


ROUTES: dict[str, type[ReferenceRoute]] = {"bulk": BulkRoute, "reference": ReferenceRoute}


def choose(route: str | None) -> ReferenceRoute:
    """The route by name; default ``RECON_MATCH_ROUTE``, else bulk."""
    return ROUTES[tuning.match_route(route)]()  # refused there unless one of tuning.ROUTES


class Cascade:
    """Runs the passes over the working sets. Each matcher links what the earlier ones left and
    defines work_links over what it linked; those items are closed before the next one runs. The
    first pass links the bulk of the day: set_aside then keeps only the open items in the working
    sets, in all their columns; later passes mark the few they link."""

    def __init__(self, run: Runner, params: dict, partitions: Partitions | None, route: ReferenceRoute):
        self.run, self.con, self.params = run, run.con, params
        self.partitions, self.route = partitions, route
        self.aside = False
        self.open_known = False  # the first pass wrote which items stay open (work_open_*)

    def close(self) -> None:
        if self.aside:
            self.run.sql("mark_matched", {"state": "matched"})
            return
        if not self.open_known:
            self.run.sql("unlinked")
        self.run.sql("set_aside")
        self.aside = True

    def reference(self, rule: str, key: str, defer: bool = False,
                  day_checks: DayChecks | None = None) -> Callable[[], None] | None:
        """One reference pass, closed. ``defer``: its links are not written but returned, a
        function to call (after the close) in the run's transaction."""
        params = {**self.params, "rule": rule, "mode": REFERENCE_MODES[rule]}
        links = self.run.prepare(LINKS, params, key=key)
        # Partitioned only while the bulk is open, and where the join key is merchant_key
        # itself (normalized mode joins on another normalisation of the reference).
        partitioned = (self.partitions is not None and not self.aside and key == "merchant_reference"
                       and params["mode"] != "normalized"
                       and self.run.python("partitioned_candidates", lambda: candidates_in_partitions(
                           self.con, self.partitions, rule, params["mode"], key)))
        if partitioned:
            if day_checks is not None:
                raise RuntimeError(f"{rule} on {key} ran in partitions: the duplicates are not marked")
        else:
            self.open_known = self.route.candidates(self.run, rule, key, params, first=not self.aside,
                                                    day_checks=day_checks)
        if not defer:
            links()
        self.run.sql(CLOSE, params, key=key)
        if day_checks is not None:
            day_checks[1]()
        self.close()
        return links if defer else None

    def other(self, rule: str) -> None:
        """A rule that is not a reference pass: its SQL file from the registry, then closed."""
        found = registry.RULES[rule]
        if found.kind in registry.WHOLE_ROWS and not self.aside:  # it reads columns the views of the day leave out: widen first
            self.close()
        self.run.sql(found.sql, self.params)
        self.close()
