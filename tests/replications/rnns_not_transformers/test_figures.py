"""Every figure config of this replication runs end to end on a tiny override, and the paper-scale
configs build the official model sizes.

Each end-to-end test trains a few runs of the real config for a couple of steps (tiny batch, a
handful of evaluation graphs) through ``common.cli.main`` into a temporary runs directory, then
checks the result files and the report. The accuracies of such runs mean nothing; what is checked
is that the whole path (data, models, generation with the retriever, scoring, report) works.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

from common.cli import main, parse, plan_runs

REPLICATION = "replications.rnns_not_transformers"
CONFIGS = Path(__file__).parents[3] / "replications" / "rnns_not_transformers" / "configs"
TINY = ["--trainer.val_check_interval", "1", "--data.init_args.eval_examples", "3",
        "--data.init_args.eval_batch_size", "3", "--trainer.accelerator", "cpu", "--trainer.log_every_n_steps", "1"]


def tiny_grid(config: str, n: int | None = None) -> str:
    """The config's own sweep grid with 2 training steps on batches of 2 wherever an axis sets the
    budget (such keys cannot be overridden on the command line: the axis would replace them)."""
    grid = yaml.safe_load((CONFIGS / f"{config}.yaml").read_text())["sweep"]["grid"]
    for axis in grid:
        if axis.get("key") == "data.init_args.n_nodes" and n is not None:
            axis["values"] = [n]
        if isinstance(axis["values"], dict):
            for over in axis["values"].values():
                for key in ("trainer.max_steps", "data.init_args.batch_size"):
                    if key in over:
                        over[key] = 2
    return json.dumps(grid)


def run_tiny(tmp_path: Path, config: str, only: str, extra: list[str] = (), n: int | None = None) -> list[dict]:
    runs = tmp_path / "runs"
    budget = [] if "max_steps" in json.dumps(tiny_grid(config)) else ["--trainer.max_steps", "2",
                                                                         "--data.init_args.batch_size", "2"]
    rc = main(REPLICATION, ["fit", "--config", config, "--sweep.runs_dir", str(runs), "--sweep.only", only,
                            "--sweep.grid", tiny_grid(config, n), *budget, *TINY, *extra])
    assert rc == 0
    fig_dir = next((runs / "rnns_not_transformers").iterdir())
    results = [json.loads(p.read_text()) for p in sorted(fig_dir.glob("*/result.json"))]
    assert (fig_dir / "report.md").exists() and (fig_dir / "report.csv").exists()
    for r in results:
        (key,) = [k for k in r["final"] if k.startswith("acc_seq@")]  # one evaluation set: n=<n> or k=<k>
        assert 0.0 <= r["final"][key] <= 1.0 and r["final"][key.replace("acc_seq", "n")] == 3.0
        assert r["steps"] == 2 and r["history"], "validation ran during training"
    return results


@pytest.mark.slow
def test_fig3_cpu_runs_end_to_end(tmp_path, capsys):
    results = run_tiny(tmp_path, "fig3_cpu", "format=retrieval")
    assert {r["labels"]["model"] for r in results} == {"transformer", "mamba", "hybrid"}
    out = capsys.readouterr().out
    assert "Claims (" in out and "Measured (acc_seq by eval:n)" in out


@pytest.mark.slow
@pytest.mark.parametrize("config", ["fig3", "fig3_sizes"])
def test_paper_scale_configs_start_and_run_on_a_tiny_override(tmp_path, config):
    # The smallest graphs of the paper grid, both families that need care: the RNN with the retriever
    # and the hybrid with CoT, at the paper's model sizes (2 steps on CPU).
    label = "hybrid" if config == "fig3" else "hybrid-0.5m"
    results = run_tiny(tmp_path, config, f"n=16,format=cot,model={label}")
    if config == "fig3":
        results += run_tiny(tmp_path / "b", config, "n=16,format=retrieval,model=mamba")
    assert all(r["config"]["trainer"]["max_steps"] == 2 for r in results)


@pytest.mark.slow
def test_fact_lookup_config_runs_end_to_end(tmp_path):
    results = run_tiny(tmp_path, "factlookup_cpu", "format=retrieval", ["--data.init_args.n_facts", "4"])
    assert {r["labels"]["model"] for r in results} == {"transformer", "mamba"}


# Non-embedding parameter counts of the official configs (research note, section 4.1), in millions.
OFFICIAL = {"transformer-0.5m": 0.53, "transformer-1m": 1.05, "transformer-2m": 1.97, "mamba-0.5m": 0.52,
            "mamba-1m": 1.17, "mamba-2m": 2.10, "hybrid-0.5m": 0.46, "hybrid-1m": 0.98, "hybrid-2m": 1.80}


def test_paper_scale_models_have_the_official_sizes():
    parser, cfg = parse(REPLICATION, ["--config", str(CONFIGS / "fig3_sizes.yaml")], "test")
    seen = {}
    for run in plan_runs(parser, cfg):
        if run.labels["n"] != "32" or run.labels["format"] != "cot":
            continue
        with torch.device("meta"):
            init = parser.instantiate(run.namespace)
        m = init.model.model
        emb = m.vocab_size * m.d_model  # tied embedding, which the official counts leave out
        seen[run.labels["model"]] = (m.num_params() - emb) / 1e6
    assert seen.keys() == OFFICIAL.keys()
    for label, millions in OFFICIAL.items():
        assert seen[label] == pytest.approx(millions, rel=0.02), label


def test_fig3_is_the_2m_tier_of_fig3_sizes_and_lrs_follow_the_official_readme():
    fig3 = yaml.safe_load((CONFIGS / "fig3.yaml").read_text())
    sizes = yaml.safe_load((CONFIGS / "fig3_sizes.yaml").read_text())
    models3 = {k: v for k, v in fig3["sweep"]["grid"][2]["values"].items()}
    models_all = sizes["sweep"]["grid"][2]["values"]
    for family, over in models3.items():
        assert over == models_all[f"{family}-2m"]
    assert {k: v["model.init_args.lr"] for k, v in models3.items()} == {
        "transformer": 0.001, "mamba": 0.0003, "hybrid": 0.0003}
    assert fig3["trainer"]["max_steps"] * fig3["data"]["init_args"]["batch_size"] == 5_000_000
    assert fig3["data"]["init_args"]["eval_examples"] == 5000 and fig3["data"]["init_args"]["train_pool"] == 1_000_000
