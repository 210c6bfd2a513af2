"""Figure-specific plots the common report plot cannot draw: E1 against its information boundary
(x = S / (n log2 n), with the Fano curve, the "store what fits" strategy, chance and the majority
shortcut), and E4b's exact-n staircases with each series' 2^p limit.

``python -m replications.limits_dl.plots e1 runs/limits_dl/e1_cpu`` (or ``e4b ...``) reads the
finished runs' ``result.json`` files in that figure folder, keeping only the runs its figure config
plans (``configs/<folder>.yaml``, or ``--config``; runs of an earlier config stay out, and a result
file that its run's config did not make is an error), and writes
``<figure>_boundary.png`` / ``<figure>_staircase.png`` beside the report.
"""
from __future__ import annotations

import argparse
import itertools
import json
import math
from collections import Counter, defaultdict
from pathlib import Path
from statistics import mean, pstdev

from replications.limits_dl import bounds as B


def majority_shortcut(n: int) -> float:
    """Accuracy of answering the most frequent value of a uniform random table [n] -> [n] (exact,
    by enumeration; 0.531 at n = 4)."""
    total = sum(max(Counter(f).values()) for f in itertools.product(range(n), repeat=n))
    return total / n ** (n + 1)


def store_what_fits(n: int, state_bits: float) -> float:
    """Accuracy of storing floor(S / log2 n) entries exactly and guessing the others uniformly:
    an achievable strategy, below the Fano bound."""
    m = min(n, int(state_bits // math.log2(n)))
    return m / n + (n - m) / n / n


CONFIGS = Path(__file__).parent / "configs"
REPLICATION = "replications.limits_dl"


def load_results(fig_dir: Path, config: Path | None = None) -> list[dict]:
    """Finished runs in ``fig_dir`` that the figure config plans, each checked to come from its run's config
    (every result file in the folder when no config is found)."""
    fig_dir = Path(fig_dir)
    config = Path(config) if config else CONFIGS / f"{fig_dir.name}.yaml"
    if not config.exists():
        return [json.loads(p.read_text()) for p in sorted(fig_dir.glob("*/result.json"))]
    from common.config import parse, plan_runs
    from common.errors import ConfigError
    from common.reporting import finished_results
    from common.runner import figure_dir

    _, ns = parse(REPLICATION, ["--config", str(config), "--sweep.runs_dir", str(fig_dir.parent.parent)], "plots")
    if figure_dir(ns, REPLICATION).resolve() != fig_dir.resolve():
        raise ConfigError(f"{config} is figure {ns.figure.id!r}, whose runs are not in {fig_dir}; "
                          f"pass the folder {figure_dir(ns, REPLICATION)} or that folder's config")
    return finished_results(REPLICATION, ns, plan_runs(None, ns))


def e1_points(results: list[dict], metric: str = "acc_seq@first") -> dict[tuple, dict[float, tuple]]:
    """{(n, k, p): {S / (n log2 n): (mean, std, runs)}} over seeds; S = layers d p."""
    acc = defaultdict(list)
    for r in results:
        lab, cfg = r["labels"], r["config"]["model"]["init_args"]["model"]["init_args"]
        n, k, p, d = int(lab["n"]), int(lab["k"]), int(lab["p"]), int(lab["d"])
        x = cfg.get("n_layer", 1) * d * p / B.composition_entropy_bits(n)
        acc[(n, k, p), x].append(r["final"][metric])
    out = defaultdict(dict)
    for (series, x), vals in acc.items():
        out[series][x] = (mean(vals), pstdev(vals), len(vals))
    return dict(out)


def plot_e1(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.8, 4.4))
    first, per_query = e1_points(results), e1_points(results, "acc_token@final")
    ns = sorted({s[0] for s in first})
    for i, series in enumerate(sorted(first)):
        c = f"C{i}"
        xs = sorted(first[series])
        name = f"n={series[0]}, k={series[1]}, p={series[2]}"
        ax.errorbar(xs, [first[series][x][0] for x in xs], yerr=[first[series][x][1] for x in xs], fmt="o-",
                    color=c, capsize=3, label=f"{name}: first query")
        xq = sorted(per_query.get(series, {}))
        ax.plot(xq, [per_query[series][x][0] for x in xq], "--", color=c, lw=1, label=f"{name}: every query")
    for n in ns:
        star = B.composition_entropy_bits(n)
        grid = [2 ** (e / 8) for e in range(-48, 24)]
        ax.plot(grid, [B.fano_accuracy_bound(n, g * star) for g in grid], "k-", lw=1.2,
                label=f"Fano bound (n={n}): no model can be above")
        ax.plot(grid, [store_what_fits(n, g * star) for g in grid], "k:", lw=1, label="store what fits, guess the rest")
        ax.axhline(1 / n, color="grey", lw=0.8, ls="-.", label=f"chance 1/n = {1 / n:.2f}")
        ax.axhline(majority_shortcut(n), color="tab:red", lw=0.8, ls="-.",
                   label=f"majority shortcut {majority_shortcut(n):.2f}")
    ax.axvline(1, color="grey", lw=0.8)
    ax.set(xscale="log", xlabel="S / (n log2 n)   (S = L d p state bits)", ylabel="accuracy", ylim=(0, 1.05),
           title="E1: accuracy against the information boundary")
    ax.legend(fontsize=6.5, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def e4b_points(results: list[dict]) -> dict[str, dict[int, float]]:
    """{"p/d": {n: mean exact-n accuracy over seeds}}."""
    acc = defaultdict(list)
    for r in results:
        s = f"{r['labels']['p']}/{r['labels']['d']}"
        for key, v in r["final"].items():
            if key.startswith("acc_seq@n="):
                acc[s, int(key.split("=")[1])].append(v)
    out = defaultdict(dict)
    for (s, n), vals in acc.items():
        out[s][n] = mean(vals)
    return dict(out)


def plot_e4b(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pts = e4b_points(results)
    fig, axes = plt.subplots(len(pts), 1, figsize=(6.4, 1.0 + 0.8 * len(pts)), sharex=True, squeeze=False)
    for ax, s in zip(axes[:, 0], sorted(pts)):
        ns = sorted(pts[s])
        ax.bar(ns, [pts[s][n] for n in ns], color="C0" if not s.startswith("None") else "C2")
        p = s.split("/")[0]
        solved = sum(pts[s].values())
        limit = f", limit 2^p = {2 ** int(p)}" if p != "None" else " (float state)"
        ax.set_ylabel(f"p/d={s}", fontsize=7)
        ax.set_ylim(0, 1.1)
        ax.text(0.99, 0.8, f"solved {solved:.1f}{limit}", transform=ax.transAxes, ha="right", fontsize=7)
    axes[-1, 0].set_xlabel("n (exact a^n b^n prompt)")
    axes[0, 0].set_title("E4b: completion right at each exact n (trained)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("kind", choices=["e1", "e4b"])
    ap.add_argument("figure_dir")
    ap.add_argument("--config", default=None, help="figure config whose runs to plot (default: configs/<folder>.yaml)")
    args = ap.parse_args(argv)
    fig_dir = Path(args.figure_dir)
    results = load_results(fig_dir, args.config)
    if not results:
        raise SystemExit(f"no finished runs (result.json) under {fig_dir}")
    out = fig_dir / f"{fig_dir.name}_{'boundary' if args.kind == 'e1' else 'staircase'}.png"
    (plot_e1 if args.kind == "e1" else plot_e4b)(results, out)
    print(f"Written: {out}")


if __name__ == "__main__":
    main()
