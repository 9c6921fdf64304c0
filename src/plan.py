"""Power analysis before a seeds-until-decided sweep: which ablation.max_seeds to plan.

    python src/plan.py experiment=ablate_all [spreads=DIR ...] [reference=DIR] [power=0.8]
                       [ablation.min_seeds=3] [ablation.max_seeds=N]

Per claim of the experiment: the paper's size c, the per-seed sd of the paired difference in
the published records of DIR (same protocol, or a pilot), the max_seeds at which the plan
reads "reproduced" (lo > c/2) with the given power when the effect is c — at that sd, and at
its one-sided 80 % upper confidence bound (the sd of a few seeds is itself uncertain) — and the
simulated error rates of the whole sequential procedure at the chosen max_seeds (given, or the
seeds needed at the sd), with how often it ends decided and after how many seeds on average. Run
it before the sweep: the plan is fixed at seed 0.

A pilot that ran only some claims under the new protocol (e.g. ablate_lrn) plans the others
from `reference=DIR`, an older sweep of them all: its spreads scaled by how much the claims both
hold narrowed (the geometric mean of their sd ratios), counted at the pilot's seeds.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import yaml

from alexnet.paper import CLAIMS
from alexnet.sequential import SEEDS_CAP, Plan, sd_upper, seeds_needed, simulate

CONF = Path(__file__).resolve().parents[1] / "conf"


def fail(line: str) -> None:
    print(f"error: {line}", file=sys.stderr)
    raise SystemExit(2)


def parse(argv: list[str]) -> dict:
    args: dict = {"spreads": [], "power": 0.8, "ablation.max_seeds": None, "reference": None}
    for a in argv:
        key, eq, value = a.partition("=")
        if not eq or key not in {"experiment", "spreads", "reference", "power",
                                 "ablation.min_seeds", "ablation.max_seeds"}:
            fail(f"{a!r}: expected experiment=NAME, spreads=DIR, reference=DIR, power=P, "
                 "ablation.min_seeds=N or ablation.max_seeds=N")
        try:
            args[key] = (args["spreads"] + [Path(value)] if key == "spreads" else Path(value)
                         if key == "reference" else value if key == "experiment"
                         else float(value) if key == "power" else int(value))
        except ValueError:
            fail(f"{a!r}: {key} must be a number")
    if "experiment" not in args:
        fail("which claims? give experiment=NAME (e.g. experiment=ablate_all)")
    if not 0 < args["power"] < 1:
        fail(f"power={args['power']:g} must lie between 0 and 1")
    for d in args["spreads"]:
        if not d.is_dir():
            fail(f"spreads={d}: no such directory")
    if args["reference"] is not None and not args["reference"].is_dir():
        fail(f"reference={args['reference']}: no such directory")
    return args


def claims_of(experiment: str) -> tuple[list[str], int]:
    """The claims an experiment judges and its min_seeds, read from the repo's conf/."""
    path = CONF / "experiment" / f"{experiment}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in path.parent.glob("ablate_*.yaml")))
        fail(f"experiment={experiment}: no {path.name} in conf/experiment (known: {known})")
    ablation = {**yaml.safe_load((CONF / "config.yaml").read_text())["ablation"],
                **(yaml.safe_load(path.read_text()).get("ablation") or {})}
    claim = ablation.get("claim")
    if claim == "all":
        return [k for k, c in CLAIMS.items() if c.arch == "alexnet"], ablation["min_seeds"]
    if claim not in CLAIMS:
        fail(f"experiment={experiment} judges no claim (ablation.claim={claim!r})")
    return [claim], ablation["min_seeds"]


def paper_size(name: str) -> tuple[float, bool]:
    from alexnet.report.measures import MEASURES

    c = CLAIMS[name]
    return MEASURES[c.measure].claimed(c), c.at_least


def spreads(ablations: list) -> dict[str, tuple[float, int, float]]:
    """claim → (per-seed sd, seeds, claimed size in the estimate's units) of judged ablations
    (alexnet.report.measures.Ablation) whose primary estimate has a finite, non-zero spread."""
    out = {}
    for ab in ablations:
        est = ab.primary.estimate if ab.primary else None
        if est is not None and est.sd and est.n >= 2 and math.isfinite(est.sd):
            out[ab.name] = (est.sd, est.n, ab.primary.claimed)
    return out


def spreads_of(dirs: list[Path]) -> dict[str, tuple[float, int, float]]:
    """spreads() of the published records under `dirs`."""
    if not dirs:
        return {}
    from alexnet.report.collect import find_runs
    from alexnet.report.measures import analyse_runs

    return spreads(analyse_runs(find_runs(dirs)))


def scaled(own: dict, reference: dict) -> tuple[dict, float, list[str]]:
    """The claims `own` lacks, from `reference`, their sd times the geometric mean of own/ref
    over the claims both hold, at own's smallest seed count among those; and that factor."""
    shared = sorted(own.keys() & reference.keys())
    if not shared:
        fail("reference= shares no claim with a spread with spreads=: nothing to scale it by")
    factor = math.exp(sum(math.log(own[k][0] / reference[k][0]) for k in shared) / len(shared))
    n = min(own[k][1] for k in shared)
    return ({k: (sd * factor, n, c) for k, (sd, _, c) in reference.items() if k not in own},
            factor, shared)


def row(name: str, spread: tuple | None, min_seeds: int, power: float, chosen: int | None,
        scaled: bool = False) -> str:
    from alexnet.report.verdict import DIRECTION, FINAL, LARGER, REPRODUCED, SMALLER

    c, at_least = paper_size(name)
    if spread is None:
        return (f"| {name} | {c:.3g} | no finite sd in spreads= (no records, or censored) "
                "| – | – | – | – | – | – | – |")
    sd, n, claimed = spread
    c = abs(claimed or c)
    upper = sd_upper(sd, n)  # its one-sided 80 % bound
    need, need_up = (seeds_needed(s, c, min_seeds, power=power) for s in (sd, upper))
    top = "≥ " if need_up >= SEEDS_CAP else ""
    n_max = max(chosen or need, min_seeds)
    plan = Plan(min_seeds, n_max)
    at_c, at_0 = simulate(plan, c, sd, c, at_least), simulate(plan, 0.0, sd, c, at_least)
    hit, null = at_c["outcomes"][REPRODUCED], at_0["outcomes"]
    false = sum(null.get(k, 0.0) for k in (REPRODUCED, LARGER, SMALLER, DIRECTION))  # Δ's sign
    decided = [100 * sum(v for k, v in sim["outcomes"].items() if k in FINAL)
               for sim in (at_c, at_0)]
    how = "scaled, counted as " if scaled else ""
    return (f"| {name} | {c:.3g} | {sd:.3g} ({how}{n} seeds; ≤ {upper:.3g} at 80 %) | {need} | "
            f"{need}–{top}{need_up} | {n_max} | {100 * hit:.1f} % | {100 * false:.1f} % | "
            f"{decided[0]:.0f} % / {decided[1]:.0f} % | {at_c['mean_seeds']:.1f} |")


def main(argv: list[str]) -> None:
    args = parse(argv)
    names, min_seeds = claims_of(args["experiment"])
    min_seeds = args.get("ablation.min_seeds", min_seeds)
    if min_seeds < 2:
        fail(f"ablation.min_seeds={min_seeds} must be at least 2")
    spreads = spreads_of(args["spreads"])
    from_reference: dict = {}
    if args["reference"] is not None:
        from_reference, factor, shared = scaled(spreads, spreads_of([args["reference"]]))
        print(f"Spreads not in spreads= are reference={args['reference']}'s times {factor:.3g}, "
              f"how much {', '.join(shared)} narrowed from there to spreads=.\n")
    power = args["power"]
    print(f"Seeds per arm for `{args['experiment']}`: first look at {min_seeds} seeds, α = 0.05 "
          f"spent O'Brien–Fleming-like over the looks, {100 * power:g} % power for "
          "\"reproduced\" (lo > c/2) at Δ = c; the last three columns simulate the whole "
          "procedure (20,000 normal paths) at the chosen max_seeds: \"decided\" is any final "
          "verdict by max_seeds, seeds the mean number at which the claim's arm stops.\n")
    print("| claim | c | per-seed sd | seeds needed at sd | at sd's 80 % upper bound | "
          "max_seeds | P(reproduced \\| Δ = c) | P(false sign \\| Δ = 0) | "
          "P(decided \\| Δ = c / Δ = 0) | seeds at Δ = c |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name in names:
        print(row(name, spreads.get(name) or from_reference.get(name), min_seeds, power,
                  args["ablation.max_seeds"], scaled=name in from_reference))


if __name__ == "__main__":
    main(sys.argv[1:])
