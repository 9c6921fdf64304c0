"""The plain verdict on a claim: reproduced, not reproduced, or inconclusive at this sample size.

The rule, for a measured difference d = (arm without the idea) − (paper's arm) with a 95 %
Welch interval [lo, hi], and the paper's claimed difference c (its sign says which arm is worse):

- fewer than two completed seeds in either arm → **inconclusive** (one seed: no interval is
  possible, and none is made up);
- the interval excludes 0 on the paper's side (lo > 0 for c > 0) → **reproduced**; if it also
  lies entirely below a stated size c, the note says the effect is smaller than claimed;
- the interval excludes 0 on the other side → **not reproduced** (the idea hurt);
- the interval contains 0 but lies entirely below the claimed size (hi < c) → **not
  reproduced** (an effect as large as the paper's is ruled out);
- otherwise → **inconclusive** at this sample size (more seeds would decide).

The Figure 1 claim (ReLU trains faster) is judged on epochs to a training-error threshold with
the same rule, the claimed size being "the other arm needs more epochs"; an arm whose every seed
never reaches the threshold is censored: if the paper's arm reached it in every seed (≥ 2
seeds) and the other arm in none, the claim is reproduced with a lower bound on the ratio.
"""

from __future__ import annotations

from dataclasses import dataclass

from alexnet.report.stats import Difference

REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE = "reproduced", "not reproduced", "inconclusive"
RULE = (
    "Verdict rule: d = (arm without the idea) − (paper's arm), 95 % Welch interval. "
    "Fewer than two seeds in an arm → inconclusive (no interval possible). "
    "Interval excludes 0 with the paper's sign → reproduced. "
    "Interval excludes 0 with the opposite sign, or lies entirely below the claimed size → "
    "not reproduced. Otherwise → inconclusive at this sample size."
)


@dataclass(frozen=True)
class Verdict:
    outcome: str  # REPRODUCED | NOT_REPRODUCED | INCONCLUSIVE
    reason: str

    def __str__(self) -> str:
        return f"{self.outcome} ({self.reason})"


def judge(diff: Difference | None, claimed: float | None, sign: int | None = None) -> Verdict:
    """The rule above. `claimed` is the paper's size in the units of `diff` (None: the paper
    states a direction only, given by `sign`, +1 meaning the other arm is worse)."""
    if sign is None:
        if claimed is None or claimed == 0:
            raise ValueError("judge needs a claimed size or a sign")
        sign = 1 if claimed > 0 else -1
    if diff is None:
        return Verdict(INCONCLUSIVE, "no completed run in one arm")
    if diff.ci is None:
        return Verdict(INCONCLUSIVE, "one seed in an arm: no CI possible")
    lo, hi = (diff.ci[0], diff.ci[1]) if sign > 0 else (-diff.ci[1], -diff.ci[0])
    size = abs(claimed) if claimed is not None else None
    if lo > 0:
        if size is not None and hi < size:
            return Verdict(REPRODUCED, "direction reproduced, effect smaller than claimed")
        return Verdict(REPRODUCED, "CI excludes 0 with the paper's sign")
    if hi < 0:
        return Verdict(NOT_REPRODUCED, "CI excludes 0 with the opposite sign")
    if size is not None and hi < size:
        return Verdict(NOT_REPRODUCED, "CI rules out an effect as large as claimed")
    return Verdict(INCONCLUSIVE, "CI contains 0: more seeds needed")


def judge_censored(paper_reached: list[bool], other_reached: list[bool]) -> Verdict | None:
    """The Figure 1 case the interval cannot handle: the other arm never reaches the threshold.
    None when both arms reached it in every seed (then `judge` decides on the epochs)."""
    if all(paper_reached) and all(other_reached):
        return None
    if len(paper_reached) < 2 or len(other_reached) < 2:
        return Verdict(INCONCLUSIVE, "one seed in an arm: no CI possible")
    if not any(paper_reached) and not any(other_reached):
        return Verdict(INCONCLUSIVE, "neither arm reached the threshold: train longer")
    if all(paper_reached) and not any(other_reached):
        return Verdict(REPRODUCED, "only the paper's arm reached the threshold, in every seed")
    if not any(paper_reached) and all(other_reached):
        return Verdict(NOT_REPRODUCED, "only the other arm reached the threshold, in every seed")
    return Verdict(INCONCLUSIVE, "some seeds never reached the threshold")
