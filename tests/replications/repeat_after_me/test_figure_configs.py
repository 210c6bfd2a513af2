"""Each CPU figure config of the replication runs end to end (tiny models, 2 steps) through the CLI, and
every claim it states can be evaluated on the series and x values it produces (no misspelt series)."""
import copy
import json
from pathlib import Path

import pytest
import yaml

from common.cli import main

CONFIGS = sorted((Path(__file__).parents[3] / "replications" / "repeat_after_me" / "configs").glob("*_cpu.yaml"))


def shrink(node):
    """Tiny models and data, same structure: widths 8-16 (2 per head for Hard-ALiBi, whose windows stay), one layer, 2 steps."""
    if isinstance(node, dict):
        out = {k: shrink(v) for k, v in node.items()}
        if "trainer.max_steps" in out:  # a sweep label's own step budget
            out["trainer.max_steps"] = 2
        if "d_model" in out:
            out.update(d_model=8 * max(1, out["d_model"] // 64), n_layer=1)  # widths 32 and 128 stay apart
            if "num_masked_heads" in out:  # keep the windows: sweep labels may differ only there
                out["d_model"] = 2 * out["n_head"]
            elif "n_head" in out:
                out["n_head"] = 2
            if "d_state" in out:
                out["d_state"] = 2
        return out
    if isinstance(node, list):
        return [shrink(v) for v in node]
    return node


def tiny(cfg: dict) -> dict:
    cfg = shrink(copy.deepcopy(cfg))
    cfg["data"]["init_args"].update(batch_size=2, eval_examples=3, eval_batch_size=4)
    cfg["trainer"].update(max_steps=2, val_check_interval=1, logger=False, enable_model_summary=False)
    cfg["model"]["init_args"]["warmup_steps"] = 1
    cfg["sweep"]["workers"] = 1  # in this process: a worker pays seconds of imports per run (workers: test_cli)
    return cfg


@pytest.mark.slow
@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_cpu_figure_runs_end_to_end_and_its_claims_are_decidable(path, tmp_path):
    cfg = tiny(yaml.safe_load(path.read_text()))
    small = tmp_path / path.name
    small.write_text(yaml.safe_dump(cfg))
    runs = tmp_path / "runs"
    assert main("replications.repeat_after_me", ["fit", "--config", str(small), "--sweep.runs_dir", str(runs)]) == 0
    fig_dir = runs / "repeat_after_me" / cfg["figure"]["id"]
    results = [json.loads(p.read_text()) for p in fig_dir.glob("*/result.json")]
    axes = cfg["sweep"]["grid"]
    expected = 1
    for axis in axes:
        expected *= len(axis["values"])
    assert len(results) == expected and all(r["steps"] == 2 for r in results)
    md = (fig_dir / "report.md").read_text()
    assert f"Runs finished: {expected} of {expected}" in md
    for claim in cfg["figure"]["claims"]:
        row = next(line for line in md.splitlines() if line.startswith(f"| {claim['text']} |"))
        assert row.split(" | ")[2] in ("holds", "fails"), f"claim cannot be evaluated: {row}"  # claim | kind | verdict


def _eval_lengths(data: dict) -> list[int]:
    args = data["init_args"]
    return [*args.get("val_lengths", []), *args.get("test_lengths", []), args.get("dup_length", 0)]


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_training_context_exceeds_twice_the_longest_evaluated_string(path):
    """The official code's rule (one context_len for training and evaluation, > 2 x max_eval_len)."""
    cfg = yaml.safe_load(path.read_text())
    assert cfg["data"]["init_args"]["context_len"] > 2 * max(_eval_lengths(cfg["data"]))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_claims_about_every_transformer_name_every_transformer(path):
    cfg = yaml.safe_load(path.read_text())
    arch = next((a for a in cfg["sweep"]["grid"] if a["name"] == "arch"), None)
    transformers = [label for label, over in (arch or {"values": {}})["values"].items()
                    if "Transformer" in over["model.init_args.model"]["class_path"]]
    for claim in cfg["figure"]["claims"]:
        if "every transformer" in claim["text"].lower():
            missing = [t for t in transformers if f"'{t}'" not in claim["holds_if"]]
            assert not missing, f"{claim['text']!r} does not test {missing}"


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_headline_series_have_at_least_two_seeds(path):
    cfg = yaml.safe_load(path.read_text())
    seeds = [a for a in cfg["sweep"]["grid"] if a.get("key") == "seed_everything"]
    assert seeds and len(seeds[0]["values"]) >= 2
    assert cfg["data"]["init_args"].get("seed", 0) is None  # the data stream follows the seed too
