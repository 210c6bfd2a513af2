"""Every config in the repository parses and expands into valid runs whose every sweep-axis value reaches the
objects built for the run; CPU scale differs from paper scale only in scale keys."""
import functools
import importlib
from pathlib import Path

import pytest
import torch
import yaml
from lightning import LightningModule

from common.config import build, parse, plan_runs
from common.sweep import get_dotted, set_dotted

ROOT = Path(__file__).parents[1]
CONFIGS = sorted(ROOT.glob("replications/*/configs/*.yaml"))

# Keys allowed to differ between a CPU-scale config and its paper-scale twin: sizes, lengths, steps,
# batch, learning rate (tiny models need a larger one), devices, and the figure's id/labels/thresholds;
# also the token embedding (a frozen sinusoidal table that a paper-size model trains around in 78k steps
# keeps a 64-wide CPU model at chance for 2,000: rnns_not_transformers README, "CPU scale"); and the order k
# of a sparse parity, whose cost grows as n^k (a CPU twin leaves out the costliest k).
SCALE_KEYS = {
    "d_model", "n_layer", "n_head", "d_ff", "num_masked_heads", "d_state", "expand", "n_attn_layers",
    "max_steps", "val_check_interval", "batch_size", "eval_batch_size", "eval_examples",
    "min_train_len", "max_train_len", "context_len", "val_lengths", "test_lengths", "lengths", "n_nodes", "n_facts",
    "dup_length", "chunk_size", "val_examples", "embedding", "k",
    "lr", "warmup_steps", "accelerator", "devices", "precision", "num_workers", "workers",
    "id", "title", "y", "scale", "holds_if", "xlog", "values", "published_series", "published_x",
}


def is_scale(key) -> bool:
    """A scale key, also when written as a dotted override in a sweep axis ("model.init_args.lr")."""
    return str(key).rsplit(".", 1)[-1] in SCALE_KEYS


def replication_of(path: Path) -> str:
    return f"replications.{path.parent.parent.name}"


@functools.lru_cache(maxsize=None)
def planned(path: Path):
    parser, cfg = parse(replication_of(path), ["--config", str(path)], "test")
    return cfg, plan_runs(parser, cfg)


def n_runs(path: Path) -> int:
    """Runs of a config's sweep, from its YAML alone (each run is parsed and checked: ~0.1 s apiece)."""
    n = 1
    for axis in yaml.safe_load(path.read_text())["sweep"].get("grid") or []:
        n *= len(axis["values"])
    return n


# Sweeps of more than 100 runs take over 10 s to plan: slow (the quick loop checks the other configs).
SIZED = [pytest.param(p, marks=pytest.mark.slow) if n_runs(p) > 100 else p for p in CONFIGS]
CONFIG_IDS = {"ids": lambda p: f"{p.parent.parent.name}/{p.name}"}


@pytest.mark.parametrize("path", SIZED, **CONFIG_IDS)
def test_config_parses_and_every_run_validates(path):
    cfg, runs = planned(path)
    assert runs and len({r.run_id for r in runs}) == len(runs)
    assert cfg.figure.id and cfg.figure.scale in ("paper", "cpu")


def leaves_set(overrides: dict):
    """(path, value) of every leaf a run's overrides set, a later override winning inside an earlier subtree."""
    tree = {}
    for key, value in overrides.items():
        set_dotted(tree, key, value)

    def walk(node, path):
        if isinstance(node, dict) and node:
            for k, v in node.items():
                yield from walk(v, path + (k,))
        else:
            yield path, node
    return walk(tree, ())


def same(a, b) -> bool:
    """Equal up to YAML's spelling: lists vs tuples, '1e-3' (a string to YAML) vs 0.001."""
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, str) and isinstance(b, float) and not isinstance(b, bool):
        try:
            return float(a) == b
        except ValueError:
            return False
    return a == b


def resolve_class(class_path: str) -> type:
    module, _, name = class_path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def built_value(path: tuple, config: dict, init, calls: list):
    """The value the built objects received at a config ``path``: the constructor argument (or, for
    ``class_path``, the class) of the object that path configures; the Trainer's keyword arguments."""
    if path[0] == "seed_everything":
        return init.seed_everything
    if path[0] == "trainer":
        return get_dotted(init.trainer, ".".join(path[1:]))
    node, i = path[:1], 1  # a class node: the config at `node` has class_path and init_args
    while True:
        cls = resolve_class(get_dotted(config, ".".join(node + ("class_path",))))
        if path[i] == "class_path":  # the class was built (there is exactly one object of each class in a run)
            return next(c for c, _, _ in calls if c is cls)
        assert path[i] == "init_args", path
        arg, rest = path[i + 1], path[i + 2:]
        kwargs, obj = next((k, o) for c, k, o in calls if c is cls)
        if rest and rest[0] in ("class_path", "init_args"):  # a nested class (the module's model)
            node, i = node + ("init_args", arg), i + 2
            continue
        got = kwargs[arg] if not rest else get_dotted(kwargs[arg], ".".join(rest))
        if isinstance(obj, LightningModule) and arg in obj.hparams:  # what configure_optimizers reads
            assert same(obj.hparams[arg], got), f"{'.'.join(path)}: hparams hold {obj.hparams[arg]!r}, built with {got!r}"
        return got


def covering(runs):
    """One run per (axis, label): every value of every axis, without the whole cartesian product."""
    picked = {}
    for run in runs:
        for axis, label in run.labels.items():
            picked.setdefault((axis, label), run)
    return list({id(r): r for r in picked.values()}.values()) or runs[:1]


@pytest.mark.parametrize("path", SIZED, **CONFIG_IDS)
def test_every_sweep_axis_value_reaches_the_built_objects(path):
    """lr, schedule, sizes, data keys, seeds: what a run's axes set is what its module, model, data and
    trainer are built with (the module's hyperparameters included), built on the meta device."""
    _, runs = planned(path)
    for run in covering(runs):
        calls = []

        def record(cls, *args, applied_instantiation_links=None, **kwargs):
            obj = cls(*args, **kwargs)
            calls.append((cls, kwargs, obj))
            return obj

        with torch.device("meta"):
            init = build(run.namespace, instantiators=[(record, object, True)])
        opt = init.model.configure_optimizers()  # {"optimizer", "lr_scheduler"} or a bare optimizer (constant rate)
        group = (opt["optimizer"] if isinstance(opt, dict) else opt).param_groups[0]
        assert group.get("initial_lr", group["lr"]) == init.model.hparams.lr
        for path, raw in leaves_set(run.overrides):
            want = get_dotted(run.config, ".".join(path))
            if path[-1] == "class_path":  # jsonargparse writes the shortest import path of the class
                raw, want = resolve_class(raw), resolve_class(want)
            assert same(raw, want), f"run {run.name}: {'.'.join(path)} is {want!r} in its config, the axis says {raw!r}"
            got = built_value(path, run.config, init, calls)
            assert same(want, got), f"run {run.name}: {'.'.join(path)}={want!r} but the objects got {got!r}"


def leaves(node, prefix=()):
    """Dotted leaf paths; a whitelisted key counts as one leaf (its lists may differ in length)."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k in SCALE_KEYS and prefix[-2:-1] != ("grid",):
                yield prefix + (k,), v
            else:
                yield from leaves(v, prefix + (k,))
    elif isinstance(node, list) and node and all(isinstance(x, dict) for x in node):
        for i, v in enumerate(node):
            yield from leaves(v, prefix + (i,))
    else:
        yield prefix, node


def swept_point_of_one_scale(path: tuple, a: dict, b: dict) -> bool:
    """A leaf under a label of a labelled sweep axis that only one scale sweeps (e.g. p = 4 at paper scale
    only): which points are swept is a scale choice, as a keyed axis's list of values is."""
    if len(path) < 5 or path[:2] != ("sweep", "grid") or path[3] != "values":
        return False
    label = path[:5]
    return not (any(k[:5] == label for k in a) and any(k[:5] == label for k in b))


def twins():
    by_id = {}
    for p in CONFIGS:
        cfg = yaml.safe_load(p.read_text())
        by_id[(p.parent.parent.name, cfg["figure"]["id"])] = (p, cfg)
    pairs = []
    for (rep, _), (p, cfg) in by_id.items():
        if cfg["figure"].get("scale") == "cpu":
            twin = by_id.get((rep, cfg["figure"].get("published_id")))
            pairs.append((p, twin[0] if twin else None))
    return pairs


@pytest.mark.parametrize("cpu,paper", twins(), ids=lambda p: p.name if p else "none")
def test_cpu_config_differs_from_paper_config_only_in_scale_keys(cpu, paper):
    assert paper is not None, f"{cpu.name} names no paper-scale twin through figure.published_id"
    assert yaml.safe_load(paper.read_text())["figure"].get("scale") == "paper", \
        f"{cpu.name}'s twin {paper.name} is not a paper-scale config"
    a = dict(leaves(yaml.safe_load(cpu.read_text())))
    b = dict(leaves(yaml.safe_load(paper.read_text())))
    structural = [k for k in set(a) ^ set(b) if not is_scale(k[-1]) and not swept_point_of_one_scale(k, a, b)]
    assert not structural, f"structure differs: {sorted(structural, key=str)}"
    differ = [k for k in a if k in b and a[k] != b[k] and not is_scale(k[-1])]
    assert not differ, f"non-scale keys differ: {differ}"
