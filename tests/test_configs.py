"""Every config in the repository parses and expands into valid runs; CPU scale differs from paper scale only in scale keys."""
from pathlib import Path

import pytest
import yaml

from common.cli import parse, plan_runs

ROOT = Path(__file__).parents[1]
CONFIGS = sorted(ROOT.glob("replications/*/configs/*.yaml"))

# Keys allowed to differ between a CPU-scale config and its paper-scale twin: sizes, lengths, steps,
# batch, learning rate (tiny models need a larger one), devices, and the figure's id/labels/thresholds;
# also the token embedding (a frozen sinusoidal table that a paper-size model trains around in 78k steps
# keeps a 64-wide CPU model at chance for 2,000: rnns_not_transformers README, "CPU scale").
SCALE_KEYS = {
    "d_model", "n_layer", "n_head", "d_ff", "num_masked_heads", "d_state", "expand", "n_attn_layers",
    "max_steps", "val_check_interval", "batch_size", "eval_batch_size", "eval_examples",
    "min_train_len", "max_train_len", "context_len", "val_lengths", "test_lengths", "lengths", "n_nodes", "n_facts",
    "dup_length", "chunk_size", "val_examples", "embedding",
    "lr", "warmup_steps", "accelerator", "devices", "precision", "num_workers", "workers",
    "id", "title", "y", "scale", "holds_if", "xlog", "values", "published_series", "published_x",
}


def is_scale(key) -> bool:
    """A scale key, also when written as a dotted override in a sweep axis ("model.init_args.lr")."""
    return str(key).rsplit(".", 1)[-1] in SCALE_KEYS


def replication_of(path: Path) -> str:
    return f"replications.{path.parent.parent.name}"


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_config_parses_and_every_run_validates(path):
    parser, cfg = parse(replication_of(path), ["--config", str(path)], "test")
    runs = plan_runs(parser, cfg)
    assert runs and len({r.run_id for r in runs}) == len(runs)
    assert cfg.figure.id and cfg.figure.scale in ("paper", "cpu")


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
    structural = [k for k in set(a) ^ set(b) if not is_scale(k[-1])]
    assert not structural, f"structure differs: {sorted(structural, key=str)}"
    differ = [k for k in a if k in b and a[k] != b[k] and not is_scale(k[-1])]
    assert not differ, f"non-scale keys differ: {differ}"
