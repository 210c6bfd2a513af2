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
        "--data.init_args.eval_batch_size", "3", "--trainer.accelerator", "cpu", "--trainer.log_every_n_steps", "1",
        "--sweep.workers", "1"]  # in this process: a worker pays seconds of imports per run (workers: test_cli)


def tiny_grid(config: str, n: int | None = None) -> str:
    """The config's own sweep grid with 2 training steps on batches of 2 wherever an axis sets the
    budget (such keys cannot be overridden on the command line: the axis would replace them)."""
    grid = yaml.safe_load((CONFIGS / f"{config}.yaml").read_text())["sweep"]["grid"]
    for axis in grid:
        if axis.get("key") == "data.init_args.n_nodes" and n is not None:
            axis["values"] = [n]
        if axis.get("key") == "seed_everything":
            axis["values"] = axis["values"][:1]
        if isinstance(axis["values"], dict):
            for over in axis["values"].values():
                for key in ("trainer.max_steps", "data.init_args.batch_size"):
                    if key in over:
                        over[key] = 2
                if "trainer.val_check_interval" in over:
                    over["trainer.val_check_interval"] = 1
    return json.dumps(grid)


def run_tiny(tmp_path: Path, config: str, only: str, extra: list[str] = (), n: int | None = None) -> list[dict]:
    runs = tmp_path / "runs"
    budget = [] if "max_steps" in json.dumps(tiny_grid(config)) else ["--trainer.max_steps", "2",
                                                                         "--data.init_args.batch_size", "2"]
    tiny = TINY[2:] if "val_check_interval" in tiny_grid(config) else TINY  # the axis sets it
    rc = main(REPLICATION, ["fit", "--config", config, "--sweep.runs_dir", str(runs), "--sweep.only", only,
                            "--sweep.grid", tiny_grid(config, n), *budget, *tiny, *extra])
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
    results = run_tiny(tmp_path, "fig3_cpu", "format=retrieval", n=6)
    assert {r["labels"]["model"] for r in results} == {"transformer", "mamba", "hybrid"}
    out = capsys.readouterr().out
    assert "Claims (" in out and "Measured: accuracy (whole answer exact) (`acc_seq`) by" in out


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
    assert all("acc_strict@n=16" in r["final"] for r in results)


@pytest.mark.slow
def test_report_from_a_finished_tiny_run_lays_out_the_published_cells(tmp_path):
    """One finished run of fig3: its published cell shows the measured value and the difference, the
    other 35 published cells of the 2M tier say "not run", and report rebuilds the same from the run dir."""
    import csv
    import io

    runs = tmp_path / "runs"
    run_tiny(tmp_path, "fig3", "n=16,format=cot,model=hybrid")
    fig_dir = runs / "rnns_not_transformers" / "fig3"
    result = json.loads(next(fig_dir.glob("*/result.json")).read_text())
    acc = result["final"]["acc_seq@n=16"]
    md = (fig_dir / "report.md").read_text()
    assert "Runs finished: 1 of 36" in md and "1 of 36 published cells measured" in md
    assert f"| hybrid/cot (published: hybrid-2m/cot) | 1.000 / {acc:.3f} ({acc - 1:+.3f}) | 0.998 / not run |" in md
    rows = list(csv.DictReader(io.StringIO((fig_dir / "report.csv").read_text())))
    pub = [r for r in rows if r["kind"] == "published"]
    assert len(pub) == 36 and sum(r["measured"] != "" for r in pub) == 1
    cell = next(r for r in pub if r["series"] == "hybrid-2m/cot" and r["x"] == "16")
    assert float(cell["measured"]) == pytest.approx(acc) and float(cell["published"]) == 1.0
    assert {r["status"] for r in rows if r["kind"].startswith("claim")} == {"inconclusive"}
    assert (fig_dir / "fig3.png").read_bytes()[:4] == b"\x89PNG"
    (fig_dir / "report.md").unlink()
    assert main(REPLICATION, ["report", "--config", "fig3", "--sweep.runs_dir", str(runs),
                              "--sweep.grid", tiny_grid("fig3"), *TINY[2:]]) == 0
    assert (fig_dir / "report.md").read_text() == md


@pytest.mark.slow
def test_fact_lookup_config_runs_end_to_end(tmp_path):
    results = run_tiny(tmp_path, "factlookup_cpu", "format=retrieval", ["--data.init_args.n_facts", "4"])
    assert {r["labels"]["model"] for r in results} == {"transformer", "mamba"}


# Trainable (non-embedding) parameter counts of the official configs, computed independently from
# HF LlamaForCausalLM / LlamaDecoderLayer and the mamba_ssm v1 block formula (the official embedding
# is a frozen table, so it is not counted; here `embedding: sinusoidal` freezes it too).
OFFICIAL = {"transformer-0.5m": 525_376, "transformer-1m": 1_050_688, "transformer-2m": 1_969_280,
            "mamba-0.5m": 523_328, "mamba-1m": 1_166_208, "mamba-2m": 2_099_072,
            "hybrid-0.5m": 458_176, "hybrid-1m": 980_480, "hybrid-2m": 1_796_736}


@pytest.mark.slow
def test_paper_scale_models_have_the_official_sizes_exactly():
    parser, cfg = parse(REPLICATION, ["--config", str(CONFIGS / "fig3_sizes.yaml")], "test")
    seen = {}
    for run in plan_runs(parser, cfg):
        if run.labels["n"] != "32" or run.labels["format"] != "cot":
            continue
        with torch.device("meta"):
            init = parser.instantiate(run.namespace)
        seen[run.labels["model"]] = init.model.model.num_params()
    assert seen == OFFICIAL


def _axis(cfg: dict, name: str):
    return next(a for a in cfg["sweep"]["grid"] if a["name"] == name)


def test_fig3_is_the_2m_tier_of_fig3_sizes_and_small_is_its_cheapest_cells():
    load = lambda c: yaml.safe_load((CONFIGS / f"{c}.yaml").read_text())
    fig3, sizes, small = load("fig3"), load("fig3_sizes"), load("fig3_small")
    models_all = _axis(sizes, "model")["values"]
    for family, over in _axis(fig3, "model")["values"].items():
        assert over == models_all[f"{family}-2m"]
        assert over["model.init_args.model"]["init_args"]["embedding"] == "sinusoidal"
    for label, over in _axis(small, "model")["values"].items():
        assert over == models_all[label] and label.endswith("-0.5m")
    assert {k: v["model.init_args.lr"] for k, v in _axis(fig3, "model")["values"].items()} == {
        "transformer": 0.001, "mamba": 0.0003, "hybrid": 0.0003}
    assert _axis(sizes, "model")["values"]["hybrid-1m"]["model.init_args.model"]["init_args"]["norm"] == "rms"
    for cfg in (fig3, sizes, small):
        assert _axis(cfg, "n")["values"][:2] == [16, 32]
        for over in _axis(cfg, "format")["values"].values():
            assert over["trainer.max_steps"] * over["data.init_args.batch_size"] == 5_000_000
        assert cfg["data"]["init_args"]["eval_examples"] == 5000 and cfg["data"]["init_args"]["train_pool"] == 1_000_000
    assert _axis(fig3, "n")["values"] == _axis(sizes, "n")["values"] == [16, 32, 64, 128]
    assert list(_axis(small, "format")["values"]) == ["no_cot", "cot"]
