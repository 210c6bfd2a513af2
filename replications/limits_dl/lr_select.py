"""Each model of a figure at its own learning rate: try a few rates, keep the best on the validation split.

A figure's series (named by ``--point``, axis labels such as ``arch=ssm_L2`` or ``p=2,d=8``) are trained at
every rate of ``--lrs`` on one seed (0 by default); the rate whose run scores best on the *validation*
examples (the figure's y, then ``acc_token@final``, then the figure's configured rate on a tie) is chosen.
Reported numbers are test-set scores (distinct prompts), so choosing on seed 0's validation split does not
choose on them. A run at the configured rate is the figure's own run, reused; the others train in the
figure ``<id>_lr``. ``--apply`` writes the figure config with each chosen rate set on the axis value named
by ``--by`` (``<runs>/limits_dl/<id>_lr/chosen.yaml``), which ``fit`` then runs::

    python -m replications.limits_dl.lr_select --config e2_cpu --by arch \\
        --point arch=ssm_L2 --point arch=ssm_L4 --lrs 0.003 0.01 0.03 --apply
"""
from __future__ import annotations

import argparse
import copy
import json
import subprocess
import sys
from pathlib import Path

import yaml

from common.config import parse, plan_runs, resolve_config_names
from common.io import atomic_write_text
from common.results import load_result, run_dir_name
from common.sweep import get_dotted, set_dotted

REPLICATION = "replications.limits_dl"
LR_KEY = "model.init_args.lr"
CONFIGS = Path(__file__).parent / "configs"


def parse_point(text: str) -> dict[str, str]:
    """``"p=2,d=8"`` -> {"p": "2", "d": "8"}."""
    try:
        return dict(kv.split("=", 1) for kv in text.split(","))
    except ValueError:
        raise ValueError(f"--point {text!r}: write axis labels as name=label[,name=label]") from None


def point_label(point: dict[str, str]) -> str:
    return "+".join(f"{k}:{v}" for k, v in point.items())


def axis_points(axis: dict) -> dict[str, dict]:
    """{label: overrides} of one sweep axis, keyed or labelled (as ``common.sweep.Axis.points``)."""
    if "key" in axis:
        return {str(v): {axis["key"]: v} for v in axis["values"]}
    return {str(k): dict(v) for k, v in axis["values"].items()}


def point_overrides(cfg: dict, point: dict[str, str], seed_axis: str = "seed") -> dict:
    """The overrides of the series ``point`` names; an axis it does not name must have a single value."""
    over: dict = {}
    for axis in cfg["sweep"]["grid"]:
        if axis["name"] == seed_axis:
            continue
        pts = axis_points(axis)
        if axis["name"] in point:
            label = point[axis["name"]]
            if label not in pts:
                raise ValueError(f"axis {axis['name']!r} has no value {label!r}; it has {', '.join(pts)}")
            over.update(pts[label])
        elif len(pts) == 1:
            over.update(next(iter(pts.values())))
        else:
            raise ValueError(f"point {point} leaves axis {axis['name']!r} with {len(pts)} values; name one")
    unknown = set(point) - {a["name"] for a in cfg["sweep"]["grid"]}
    if unknown:
        raise ValueError(f"point {point} names axes the sweep does not have: {sorted(unknown)}")
    return over


def lr_of(cfg: dict, overrides: dict) -> float:
    """The learning rate a run with these overrides trains at."""
    full = copy.deepcopy(cfg)
    for key, value in overrides.items():
        set_dotted(full, key, value)
    return float(get_dotted(full, LR_KEY))


def selection_config(cfg: dict, trials: dict[str, dict], seed: int) -> dict:
    """The figure config reduced to one seed and one labelled axis of trials (series x rate), no claims."""
    sel = copy.deepcopy(cfg)
    sel["seed_everything"] = seed
    sel["sweep"]["grid"] = [{"name": "seed", "key": "seed_everything", "values": [seed]},
                            {"name": "trial", "values": trials}]
    fig = sel["figure"]
    fig.update(id=f"{fig['id']}_lr", title=f"learning-rate selection for {fig['id']} (validation split, seed {seed})",
               x="axis:seed", series=["trial"], claims=[], xlog=False)
    return sel


def score(result: dict, y: str) -> tuple[float, float]:
    """Validation score of a finished run: (the figure's y, acc_token@final) at the last validation."""
    metrics = result["history"][-1]["metrics"]
    return float(metrics[y]), float(metrics.get("acc_token@final", 0.0))


def choose(scores: dict[float, tuple[float, float]], configured: float) -> float:
    """The best rate; on a tie the configured one (its runs are reused), else the smallest."""
    best = max(scores.values())
    tied = sorted(lr for lr, s in scores.items() if s == best)
    return configured if configured in tied else tied[0]


def apply_choice(cfg: dict, by: str, chosen: dict[str, float]) -> dict:
    """The figure config with rate ``chosen[label]`` on each value ``label`` of axis ``by``."""
    out = copy.deepcopy(cfg)
    for i, axis in enumerate(out["sweep"]["grid"]):
        if axis["name"] != by:
            continue
        pts = axis_points(axis)
        missing = set(chosen) - set(pts)
        if missing:
            raise ValueError(f"axis {by!r} has no value {sorted(missing)}")
        if "key" in axis:  # a keyed axis becomes a labelled one so that each value can carry its rate
            out["sweep"]["grid"][i] = axis = {"name": by, "values": pts}
        for label, lr in chosen.items():
            axis["values"][label] = {**axis["values"][label], LR_KEY: lr}
        return out
    raise ValueError(f"--by {by!r} is not a sweep axis")


def retire(fig_dir: Path, keep: set[str], to: Path) -> None:
    """Move the figure's finished runs that the chosen config no longer plans (a rate that lost) to ``to``,
    so that the figure folder holds the chosen runs only (plots read every run in it); nothing is deleted."""
    for result in sorted(fig_dir.glob("*/result.json")):
        run = result.parent
        if run.name.rsplit("-", 1)[-1] not in keep:
            to.mkdir(parents=True, exist_ok=True)
            run.rename(to / run.name)
            print(f"superseded: {run.name} -> {to}")


def fit(config: Path, workers: int) -> None:
    cmd = [sys.executable, "-m", REPLICATION, "fit", "--config", str(config), "--sweep.workers", str(workers)]
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog=f"python -m {REPLICATION}.lr_select", description=__doc__.split("\n")[0])
    ap.add_argument("--config", required=True, help="figure config (bare names resolve to configs/)")
    ap.add_argument("--point", action="append", required=True, help="series to tune, e.g. arch=ssm_L2 (repeat)")
    ap.add_argument("--by", required=True, help="axis whose values get the chosen rates with --apply")
    ap.add_argument("--lrs", type=float, nargs="+", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--apply", action="store_true", help="write <id>_lr/chosen.yaml with the chosen rates")
    args = ap.parse_args(argv)

    path = Path(resolve_config_names(["--config", args.config], CONFIGS)[1])
    cfg = yaml.safe_load(path.read_text())
    runs_dir = Path(cfg["sweep"].get("runs_dir", "runs")) / REPLICATION.split(".")[-1]
    fig_dir, sel_dir = runs_dir / cfg["figure"]["id"], runs_dir / f"{cfg['figure']['id']}_lr"
    y = cfg["figure"]["y"]
    points = [parse_point(p) for p in args.point]
    for p in points:
        if args.by not in p:
            raise SystemExit(f"error: --point {p} does not name the --by axis {args.by!r}")

    _, fcfg = parse(REPLICATION, ["--config", str(path)], "lr_select")
    own = {}  # the figure's own seed runs at the configured rate, by point label
    for run in plan_runs(None, fcfg):
        for p in points:
            if run.labels.get("seed") == str(args.seed) and all(run.labels.get(k) == v for k, v in p.items()):
                own[point_label(p)] = load_result(fig_dir / run_dir_name(run.labels, run.run_id))

    trials, where = {}, {}
    for p in points:
        over = point_overrides(cfg, p)
        configured = lr_of(cfg, over)
        for lr in args.lrs:
            if lr == configured and own.get(point_label(p)) is not None:
                where[(point_label(p), lr)] = "own"
                continue
            label = f"{point_label(p)}@{lr:g}"
            trials[label] = {**over, LR_KEY: lr}
            where[(point_label(p), lr)] = label
    sel_dir.mkdir(parents=True, exist_ok=True)
    sel_path = sel_dir / "selection.yaml"
    atomic_write_text(sel_path, yaml.safe_dump(selection_config(cfg, trials, args.seed), sort_keys=False))
    if trials:
        fit(sel_path, args.workers)

    _, scfg = parse(REPLICATION, ["--config", str(sel_path)], "lr_select")
    by_trial = {r.labels["trial"]: load_result(sel_dir / run_dir_name(r.labels, r.run_id))
                for r in (plan_runs(None, scfg) if trials else [])}
    rows, chosen, record = [], {}, {}
    for p in points:
        key = point_label(p)
        configured = lr_of(cfg, point_overrides(cfg, p))
        scores, tests = {}, {}
        for lr in args.lrs:
            res = own[key] if where[(key, lr)] == "own" else by_trial.get(where[(key, lr)])
            if res is None:
                raise SystemExit(f"error: no finished run for {key} at lr {lr:g}")
            scores[lr], tests[lr] = score(res, y), res["final"][y]
        best = choose(scores, configured)
        if chosen.get(p[args.by], best) != best:
            raise SystemExit(f"error: two points of {args.by}={p[args.by]} chose different rates")
        chosen[p[args.by]] = best
        record[key] = {"configured": configured, "chosen": best,
                       "validation": {f"{lr:g}": scores[lr][0] for lr in args.lrs},
                       "validation_acc_token@final": {f"{lr:g}": scores[lr][1] for lr in args.lrs}}
        cells = " | ".join(f"{'**' if lr == best else ''}{scores[lr][0]:.3f}{'**' if lr == best else ''}"
                           for lr in args.lrs)
        rows.append(f"| {key} | {cells} | {best:g} (configured {configured:g}) |")
    head = " | ".join(f"lr {lr:g}" for lr in args.lrs)
    table = "\n".join([f"Validation {y}, seed {args.seed} ({cfg['figure']['id']}):", "",
                       f"| series | {head} | chosen |", "|---" * (len(args.lrs) + 2) + "|", *rows])
    print(table)
    atomic_write_text(sel_dir / "selection.md", table + "\n")
    atomic_write_text(sel_dir / "selection.json", json.dumps(record, indent=1))
    if args.apply:
        out = sel_dir / "chosen.yaml"
        atomic_write_text(out, yaml.safe_dump(apply_choice(cfg, args.by, chosen), sort_keys=False))
        print(f"chosen rates written to {out}")
        _, ccfg = parse(REPLICATION, ["--config", str(out)], "lr_select")
        retire(fig_dir, {r.run_id for r in plan_runs(None, ccfg)}, sel_dir / "superseded")
    return 0


if __name__ == "__main__":
    sys.exit(main())
