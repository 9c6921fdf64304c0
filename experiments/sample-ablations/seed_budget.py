"""Where a sample sweep's minutes buy statistical power: epochs per seed against seeds.

For every two-arm ablation under the given sweep directories: per epoch e, the seed-to-seed
spread (sd) of the paired difference in held-out val top-1 error at that epoch, the seeds per
arm a paired 95 % interval of that spread needs to tell the claimed size from 0 (half-width
below c/2), and what those seeds cost at e epochs (measured seconds per epoch of a seed pair).
Reads run records only (metrics.csv, summary.json).

    python experiments/sample-ablations/seed_budget.py experiments/sample-ablations/ablate_*
"""

from __future__ import annotations

import math
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

from scipy.stats import t  # noqa: E402

from alexnet import paper  # noqa: E402
from alexnet.report.collect import find_runs  # noqa: E402
from alexnet.report.measures import analyse_runs  # noqa: E402


def seeds_to_resolve(sd: float, claimed: float) -> int:
    for n in range(2, 10_000):
        if t.ppf(0.975, n - 1) * sd / math.sqrt(n) < abs(claimed) / 2:
            return n
    return 10_000


def main(dirs: list[str]) -> None:
    print("| ablation | epochs | paired sd of val top-1 (points) | "
          "seeds per arm to resolve the claim | min per seed pair | min to resolve |")
    print("|---|---:|---:|---:|---:|---:|")
    for ab in analyse_runs(find_runs(dirs)):
        claim = paper.CLAIMS.get(ab.name)
        if claim is None or claim.top1_delta is None or len(ab.arms) < 2:
            continue
        base, other = ab.arms[0], ab.arms[1]
        walls = [r.summary["wall_time_s"] / r.summary["epochs"]
                 for a in (base, other) for r in a.runs]
        per_epoch_pair = 2 * statistics.fmean(walls) / 60
        epochs = min(len(r.metrics) for a in (base, other) for r in a.runs)
        for e in range(epochs):
            b = {r.seed: 100 * r.metrics[e]["val/top1_err"] for r in base.runs}
            o = {r.seed: 100 * r.metrics[e]["val/top1_err"] for r in other.runs}
            d = [o[s] - b[s] for s in b if s in o]
            if len(d) < 2:
                continue
            sd = statistics.stdev(d)
            n = seeds_to_resolve(sd, claim.top1_delta)
            print(f"| `{ab.name}` | {e + 1} | {sd:.2f} | {n} | {per_epoch_pair * (e + 1):.1f} | "
                  f"{n * per_epoch_pair * (e + 1):.0f} |")


if __name__ == "__main__":
    main(sys.argv[1:] or [str(Path(__file__).parent)])
