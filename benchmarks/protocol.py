"""Which CPU protocol decides AlexNet's claims in the fewest machine-hours (issue: a study that
decides). Reads the run records of LRN sweeps (and ablate_all sweeps) run under each candidate
protocol and prints one Markdown row per candidate:

    python benchmarks/protocol.py NAME=DIR[,DIR...] ... --reference DIR

- the paper's arm's test top-1 error (mean ± sd over seeds);
- the LRN claim's paired difference per seed: its mean, its sd (what the power analysis needs)
  and the correlation of the two arms across seeds (what pairing buys);
- minutes per run: the fastest completed run of the paper's arm (the slower arm; load on the
  machine only adds time, and these records ran beside code sessions);
- per claim of `experiment=ablate_all`: the max_seeds a plan needs for 80 % power at the
  claimed size (alexnet.sequential.seeds_needed), and the expected seeds when the claim is
  true (the whole sequential procedure simulated); from them the machine-hours of the study:
  every claim's arm for its expected seeds, the shared baseline for the largest max_seeds.

A candidate that ran only the LRN claim has no spreads of its own for the other claims: they are
the --reference sweep's (ablate_all) spreads scaled by the ratio of the two LRN spreads, and the
row says so. Hours are wall hours of the 2-core machines the records ran on.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from alexnet import paper  # noqa: E402
from alexnet.report.collect import find_runs  # noqa: E402
from alexnet.report.measures import analyse_runs  # noqa: E402
from alexnet.sequential import Plan, seeds_needed, simulate  # noqa: E402
from plan import spreads as spreads_of_ablations  # noqa: E402

CLAIMS = [k for k, c in paper.CLAIMS.items() if c.arch == "alexnet"]


def spreads(dirs: list[Path]) -> tuple[dict, dict]:
    """claim → (per-seed sd, claimed size) of its primary estimate (plan.py's rule); and the
    LRN facts."""
    ablations = analyse_runs(find_runs(dirs))
    out = {k: (sd, c) for k, (sd, _, c) in spreads_of_ablations(ablations).items()}
    lrn = {}
    for ab in ablations:
        if ab.name == "lrn" and ab.name in out:
            est = ab.primary.estimate
            base, other = ab.arms[0].by_seed("test/top1_err"), ab.arms[1].by_seed("test/top1_err")
            seeds = sorted(base.keys() & other.keys(), key=str)
            walls = [r.summary["wall_time_s"] for r in ab.arms[0].runs if r.summary.get("wall_time_s")]
            walls = walls or [float("nan")]
            lrn = {"base": [base[s] for s in seeds], "other": [other[s] for s in seeds],
                   "delta": est.delta, "sd": est.sd, "n": est.n, "minutes": min(walls) / 60,
                   "epochs": sorted({r.summary.get("epochs") for r in ab.runs})}
    return out, lrn


def hours(sd: dict, minutes: float) -> tuple[str, float, int]:
    """Per claim 'N (E)' seeds, the study's expected machine-hours, its largest max_seeds."""
    cells, runs, largest = [], 0.0, 3
    for name in CLAIMS:
        if name not in sd:
            cells.append(f"{name} –")
            continue
        s, c = sd[name]
        n = seeds_needed(s, c)
        expected = simulate(Plan(3, n), c, s, c, paper.CLAIMS[name].at_least, paths=4000)
        runs += expected["mean_seeds"] * (name != "ten_crop")  # ten-crop: the baseline's own pass
        largest = max(largest, n)
        cells.append(f"{name} {n} ({expected['mean_seeds']:.1f})")
    return "; ".join(cells), (runs + largest) * minutes / 60, largest


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("candidates", nargs="+", help="NAME=DIR[,DIR...]: one protocol's records")
    p.add_argument("--reference", type=Path, required=True,
                   help="an ablate_all sweep: the other claims' spreads, for LRN-only candidates")
    p.add_argument("--epoch-minutes", type=float, default=None,
                   help="cost every candidate at this many minutes per epoch (one machine's rate) "
                        "instead of its records' fastest run (records from different machines)")
    args = p.parse_args()
    ref, ref_lrn = spreads([args.reference])
    if not ref_lrn:
        p.error(f"--reference {args.reference}: no LRN claim with a spread (two or more seeds)")
    print("| protocol | epochs | paper arm test top-1 % | LRN Δ (per-seed sd) | arm–baseline r "
          "| min/run | seeds to decide: max_seeds (expected at Δ = c) | study, machine-hours |")
    print("|---|---|---|---|---|---|---|---|")
    for candidate in args.candidates:
        name, _, dirs = candidate.partition("=")
        own, lrn = spreads([Path(d) for d in dirs.split(",")])
        if not lrn:
            print(f"| {name} | no LRN claim with two or more paired seeds yet |")
            continue
        scaled = {k: (s * lrn["sd"] / ref_lrn["sd"], c) for k, (s, c) in ref.items()}
        sd = scaled | own
        note = "" if len(own) >= len(ref) else " (other claims: reference × LRN sd ratio)"
        if args.epoch_minutes:
            lrn["minutes"] = args.epoch_minutes * max(lrn["epochs"])
        cells, total, largest = hours(sd, lrn["minutes"])
        base = lrn["base"]
        r = np.corrcoef(base, lrn["other"])[0, 1] if len(base) > 2 else float("nan")
        print(f"| {name} | {', '.join(map(str, lrn['epochs']))} | {statistics.fmean(base):.2f} ± "
              f"{statistics.stdev(base):.2f} ({len(base)}) | {lrn['delta']:+.2f} ({lrn['sd']:.2f}, "
              f"{lrn['n']} seeds) | {r:+.2f} | {lrn['minutes']:.1f} | {cells}{note} | "
              f"{total:.1f} (max_seeds {largest}) |")


if __name__ == "__main__":
    main()
