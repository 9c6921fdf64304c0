"""The verdict: what the interval of the effect, oriented so that the claim is a positive size c
(m = c/2: no practical size), says about the paper's size. RULES is the rule, once: its rows, in
order (the first that holds decides; an open end ±inf alike), give the behaviour, the report's
sentence and the words."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from alexnet.report.stats import Estimate

REPRODUCED, LARGER = "reproduced", "larger than claimed"
DIRECTION = "direction confirmed, size unresolved"
SMALLER, NO_EFFECT, NOT_REPRODUCED = "smaller than claimed", "no effect", "not reproduced"
OPPOSITE, UNDECIDED, NOT_MEASURABLE = "opposite", "undecided", "not measurable at this length"
MARGIN_FRACTION = 0.5  # "no practical effect": under half the claimed size
# The reports' prose (str.format fields in braces), the rule's own words among it.
TEXT = yaml.safe_load((Path(__file__).parent / "text.yaml").read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Rule:
    outcome: str
    holds: Callable  # (lo, hi, c, m) -> bool, elementwise on numpy arrays too
    final: bool  # more seeds would only refine it: a seeds-until-decided sweep stops on it
    when: str  # the condition, as the report states it (text.yaml's rules)
    words: str  # what it says about the claim; {c} the claim, {m} the margin


RULES = tuple(Rule(outcome, holds, final, *TEXT["rules"][outcome]) for outcome, holds, final in (
    (OPPOSITE, lambda lo, hi, c, m: hi < 0, True),
    (LARGER, lambda lo, hi, c, m: lo > c, True),
    (REPRODUCED, lambda lo, hi, c, m: (lo > m) & (hi >= c), True),
    (DIRECTION, lambda lo, hi, c, m: (lo > 0) & (hi >= c), False),
    (SMALLER, lambda lo, hi, c, m: lo > 0, True),
    (NO_EFFECT, lambda lo, hi, c, m: (lo >= -m) & (hi <= m), True),
    (NOT_REPRODUCED, lambda lo, hi, c, m: hi < c, True),
    (UNDECIDED, lambda lo, hi, c, m: hi == hi, False),
))
FINAL = frozenset(r.outcome for r in RULES if r.final)


def rules_for(at_least: bool) -> tuple[Rule, ...]:
    """A claim of "c or more" is consistent with any larger effect: no "larger" row."""
    return tuple(r for r in RULES if not (at_least and r.outcome == LARGER))


def outcome_index(lo, hi, claimed: float, at_least: bool = False):
    """The rule, vectorised: the index into rules_for(at_least) of each (lo, hi) interval, for
    intervals oriented so that the claim is positive. Simulations call it as the report does."""
    c = abs(claimed)
    lo, hi = np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)
    rules = rules_for(at_least)
    held = [np.broadcast_to(r.holds(lo, hi, c, MARGIN_FRACTION * c), lo.shape) for r in rules]
    return np.select(held, np.arange(len(rules)), default=len(rules) - 1)


@dataclass(frozen=True)
class Verdict:
    outcome: str
    reason: str
    no_pair: bool = False  # no completed pair (or one seed): nothing to judge yet
    censored: bool = False  # an end of the interval is open: an arm never reached the threshold
    seeds_needed: tuple[int, int] | None = None  # undecided: the range that would decide (power)

    @property
    def final(self) -> bool:
        """More seeds of the same protocol would not turn it round (or cannot help)."""
        return self.outcome in FINAL or self.outcome == NOT_MEASURABLE

    def __str__(self) -> str:
        return f"{self.outcome} ({self.reason})"


def points(v: float) -> str:
    v = round(v, 2)
    return f"{v:g} point{'' if abs(v) == 1 else 's'}"


def judge(est: Estimate | None, claimed: float, at_least: bool = False,
          show: Callable[[float], str] = points) -> Verdict:
    """RULES applied to `est`. `claimed` is the paper's size in the units of `est` (its sign
    says which way: positive means the other arm is worse); `show` writes a size in the reason."""
    if est is None:
        return Verdict(UNDECIDED, "no completed pair of runs", no_pair=True)
    if est.ci is None:
        return Verdict(UNDECIDED, TEXT["notes"]["one_seed"].format(est.n), no_pair=True)
    if est.all_censored:
        return Verdict(NOT_MEASURABLE, TEXT["notes"]["all_censored"])
    sign, c = math.copysign(1.0, claimed), abs(claimed)
    lo, hi = sorted((sign * est.ci[0], sign * est.ci[1]))
    rule = rules_for(at_least)[int(outcome_index(lo, hi, c, at_least))]
    words = rule.words.format(c=("≥ " if at_least else "") + show(c), m=show(MARGIN_FRACTION * c))
    open_end = est.censored  # a runaway critical value is not censoring
    note = (" (spread floored at the measure's resolution)" if est.floored else "") + (
        "; an end is open: an arm never reached the threshold in some seeds" if open_end else "")
    return Verdict(rule.outcome, f"[{show(lo)}, {show(hi)}] against c = {show(c)}: {words}{note}",
                   censored=open_end)
