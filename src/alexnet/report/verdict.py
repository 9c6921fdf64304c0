"""The verdict on a claim: what the interval of the measured effect says about the paper's size.

The effect is oriented so that the paper's claim is a positive size c (for an error, the arm
without the idea minus the paper's arm; for Figure 1, the log of the epochs ratio). With its
interval [lo, hi] (paired t over seeds, Bonferroni-corrected when seeds were added until
decided) and a margin m = c / 2 of "no practical effect", exactly one of:

- **opposite**: hi < 0 — the idea measurably hurts;
- **larger than claimed**: lo > c (not for "c or more" claims, where it is consistent);
- **reproduced**: lo > 0 and hi ≥ c — an effect in the claimed direction, of a size the data
  allow to be the paper's;
- **smaller than claimed**: 0 < lo and hi < c — a real effect, but the paper's size is ruled out;
- **no effect**: lo ≤ 0 ≤ hi and −m ≤ lo, hi ≤ m — the interval lies inside the margin;
- **not reproduced**: lo ≤ 0 ≤ hi < c, wider than the margin — the paper's size is ruled out,
  the sign is not known;
- **undecided**: lo ≤ 0 and hi ≥ c — both "no effect" and the claim fit; the verdict says how
  many seeds per arm would decide at the observed spread.

Fewer than two paired seeds give no interval: undecided. A spread below the measure's
resolution (one test image; one epoch for Figure 1) is raised to it, so identical seeds never
give certainty. An interval left open by censored runs decides only through its closed end:
beyond the margin (reproduced or larger) or below 0 (opposite); otherwise undecided, "train
longer". Moving a closed interval up only ever moves the verdict along opposite → not
reproduced / no effect → undecided / smaller → reproduced → larger (undecided and smaller need
different widths), so the rule is monotone in the evidence.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from alexnet.report.stats import Estimate, t_quantile

REPRODUCED, SMALLER, LARGER = "reproduced", "smaller than claimed", "larger than claimed"
NO_EFFECT, NOT_REPRODUCED, OPPOSITE, UNDECIDED = "no effect", "not reproduced", "opposite", "undecided"
OUTCOMES = (REPRODUCED, LARGER, SMALLER, NO_EFFECT, NOT_REPRODUCED, OPPOSITE, UNDECIDED)
MARGIN_FRACTION = 0.5  # "no practical effect" is an effect under half the claimed size
MAX_SEEDS_ESTIMATE = 1000
POWER_Z = 0.8416  # the normal quantile of 80 %: seeds that decide four times in five

RULE = (
    "The effect is oriented so that the paper's claim is a positive size c; [lo, hi] is its "
    "interval (paired t over seeds, df = n − 1; Bonferroni-corrected when seeds were added "
    "until decided) and m = c/2 the margin of no practical effect. opposite: hi < 0. "
    "larger than claimed: lo > c. reproduced: lo > 0 and hi ≥ c. smaller than claimed: "
    "0 < lo and hi < c. no effect: lo ≤ 0 ≤ hi and the interval inside [−m, m]. not "
    "reproduced: lo ≤ 0 ≤ hi < c, wider than the margin (the claimed size is ruled out, the "
    "sign is not). undecided: lo ≤ 0 and hi ≥ c, with the seeds per arm that would decide at "
    "the observed spread. Fewer than two paired seeds: undecided. A spread below the measure's "
    "resolution (one test image, one epoch) is raised to it, so zero variance never gives "
    "certainty."
)
RULE_CENSORED = ("An interval left open by censored runs (Figure 1) decides only if its closed end "
                 "lies beyond the margin or below 0.")


def rule(censored: bool) -> str:
    """The rule as a report states it: the censored case only where a claim can be censored."""
    return f"{RULE} {RULE_CENSORED}" if censored else RULE


# What each outcome says about the claim in plain words: {c} the claimed size, {neg_m} to {m} the margin.
IN_WORDS = {
    REPRODUCED: "an effect in the paper's direction, consistent with the paper's {c}",
    LARGER: "an effect in the paper's direction, larger than the paper's {c}",
    SMALLER: "a real effect in the paper's direction, but smaller than the paper's {c}",
    NO_EFFECT: "no effect of practical size: the interval lies between {neg_m} and {m}, under half the paper's {c}",
    NOT_REPRODUCED: "the paper's {c} is ruled out, but this sample cannot tell whether the effect is "
                    "positive, zero or negative",
    OPPOSITE: "the opposite of the paper's claim: its choice did measurably worse here",
    UNDECIDED: "this sample cannot tell the paper's {c} from no effect",
}


@dataclass(frozen=True)
class Verdict:
    outcome: str
    reason: str
    seeds_needed: int | None = None  # undecided: seeds per arm that would decide at this spread

    @property
    def decided(self) -> bool:
        return self.outcome != UNDECIDED

    def __str__(self) -> str:
        return f"{self.outcome} ({self.reason})"


def seeds_needed(est: Estimate, claimed: float, confidence: float) -> int | None:
    """Seeds per arm that would decide with ~80 % probability if the observed mean and spread
    of the paired differences were the truth: the smallest n with (t + z₀.₈) · sd / √n below
    the distance from the mean to the nearer of 0 and the claimed size's far side, i.e. an
    interval that then excludes 0 or the claim. None without a per-seed spread (one seed, or
    a per-image estimate, whose spread is over images)."""
    if est.sd is None or est.sd == 0 or not math.isfinite(est.delta) or est.method != "paired t":
        return None
    target = max(abs(est.delta), abs(claimed - est.delta))
    for n in range(2, MAX_SEEDS_ESTIMATE + 1):
        if (t_quantile(0.5 + confidence / 2.0, n - 1) + POWER_Z) * est.sd / math.sqrt(n) < target:
            return n
    return MAX_SEEDS_ESTIMATE


def points(v: float) -> str:
    return f"{v:g} point{'' if abs(v) == 1 else 's'}"


def in_words(v: Verdict, est: Estimate | None, claimed: float, at_least: bool = False,
             show: Callable[[float], str] = points) -> str:
    """What the sample shows and what it cannot resolve, from the verdict and the interval it
    was judged on: no new rule, the outcome above in words (with the seeds that would decide)."""
    if est is None:
        return "no completed pair of runs: nothing is resolved yet"
    if est.ci is None:
        return "one pair cannot show its spread, so this sample resolves nothing yet; run at least 2 seeds"
    if v.outcome == UNDECIDED and not all(map(math.isfinite, est.ci)):
        return "some runs never reached the threshold, so the interval is open and cannot decide; train longer"
    m = MARGIN_FRACTION * abs(claimed)
    text = IN_WORDS[v.outcome].format(c=("≥ " if at_least else "") + show(claimed), m=show(m), neg_m=show(-m))
    if v.seeds_needed:
        text += f"; about {v.seeds_needed} paired seeds would decide"
    return text


def judge(est: Estimate | None, claimed: float, at_least: bool = False,
          show: Callable[[float], str] = points) -> Verdict:
    """The rule above. `claimed` is the paper's size in the units of `est` (its sign says
    which way: positive means the other arm is worse); `at_least` reads it as "c or more";
    `show` writes a size of those units in the reasons."""
    if claimed == 0:
        raise ValueError("judge needs a non-zero claimed size")
    if est is None:
        return Verdict(UNDECIDED, "no completed pair of runs")
    if est.ci is None:
        return Verdict(UNDECIDED, f"{est.n} paired seed(s): no interval is possible; run at least 2")
    sign = 1.0 if claimed > 0 else -1.0
    c = abs(claimed)
    lo, hi = sorted((sign * est.ci[0], sign * est.ci[1]))
    m = MARGIN_FRACTION * c
    floor = " (spread floored at the measure's resolution)" if est.floored else ""
    level = f"{100 * est.confidence:.3g} %"
    if hi < 0:
        return Verdict(OPPOSITE, f"the {level} interval lies on the other side of {show(0)}{floor}")
    if math.isinf(lo) or math.isinf(hi):
        # censored runs leave an end open, and the claim "fits" any interval open above: only
        # the closed end decides, beyond the margin (or, closed above, below the claim)
        open_note = f"the {level} interval is open ({show(lo)} to {show(hi)}): an arm never reached the threshold in some seeds"
        if math.isinf(hi) and lo > c and not at_least:
            return Verdict(LARGER, f"{open_note}; its lower end lies above the claimed {show(c)}")
        if math.isinf(hi) and lo > m:
            return Verdict(REPRODUCED, f"{open_note}; its lower end lies beyond {show(m)}, half the claim")
        if math.isinf(lo) and hi < c:
            return Verdict(NOT_REPRODUCED, f"{open_note}; its upper end rules out the claimed {show(c)}")
        return Verdict(UNDECIDED, f"censored: {open_note}; train longer")
    if lo > c and not at_least:
        return Verdict(LARGER, f"the {level} interval lies above the claimed {show(c)}{floor}")
    if lo > 0:
        if hi >= c:  # for "c or more", lo > c lands here too
            return Verdict(REPRODUCED, f"the {level} interval excludes {show(0)} and holds the claimed {show(c)}{floor}")
        return Verdict(SMALLER, f"the {level} interval excludes {show(0)} but lies below the claimed {show(c)}{floor}")
    if hi < c:
        if lo >= -m and hi <= m:
            return Verdict(NO_EFFECT, f"the {level} interval lies between {show(-m)} and {show(m)}, half the claim{floor}")
        return Verdict(NOT_REPRODUCED, f"the {level} interval rules out the claimed {show(c)} "
                                       f"but not the opposite sign{floor}")
    needed = seeds_needed(est, claimed, est.confidence)
    more = f"; ~{needed} seeds per arm would decide (80 % power at the observed mean and spread)" if needed else ""
    return Verdict(UNDECIDED, f"the {level} interval holds both {show(0)} and the claimed {show(c)}{more}", needed)
