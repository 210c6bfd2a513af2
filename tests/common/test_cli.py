"""The CLI end to end on a tiny copy figure: results, report, plot, resume-by-skip, errors."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from common.cli import ConfigError, main, resolve_config_names
from common.sweep import run_id

REPLICATION = "replications.repeat_after_me"
CONFIGS = Path(__file__).parents[2] / "replications" / "repeat_after_me" / "configs"

@pytest.fixture(scope="module")
def tiny_fit(tmp_path_factory, tiny_dict):
    tmp = tmp_path_factory.mktemp("cli")
    cfg = tmp / "tiny.yaml"
    cfg.write_text(yaml.safe_dump(tiny_dict))
    runs = tmp / "runs"
    rc = main(REPLICATION, ["fit", "--config", str(cfg), "--sweep.runs_dir", str(runs)])
    return cfg, runs, rc


def test_fit_writes_a_result_per_run_a_report_and_a_plot(tiny_fit):
    cfg, runs, rc = tiny_fit
    assert rc == 0
    fig_dir = runs / "repeat_after_me" / "tiny"
    results = sorted(fig_dir.glob("*/result.json"))
    assert [p.parent.name.split("-")[0] for p in results] == ["arch=lstm", "arch=transformer"]
    for p in results:
        r = json.loads(p.read_text())
        assert r["steps"] == 4 and set(r["final"]) >= {"acc_seq@len=3", "acc_seq@len=5", "acc_token@len=5", "n@len=5"}
        assert r["final"]["n@len=5"] == 8
        assert [h["step"] for h in r["history"]] == [2, 4]
        assert r["provenance"]["torch"] and r["provenance"]["git_commit"] and r["num_params"] > 0
        assert r["run_id"] == run_id(r["config"])
        assert (p.parent / "checkpoints" / "last.ckpt").exists()
    md = (fig_dir / "report.md").read_text()
    assert "| both run | paper | holds |" in md and "| unmeasured length | paper | inconclusive |" in md
    assert (fig_dir / "tiny.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "claim" in (fig_dir / "report.csv").read_text()


def test_second_fit_skips_finished_runs(tiny_fit, capsys):
    cfg, runs, _ = tiny_fit
    before = {p: p.stat().st_mtime_ns for p in runs.rglob("result.json")}
    assert main(REPLICATION, ["fit", "--config", str(cfg), "--sweep.runs_dir", str(runs)]) == 0
    assert capsys.readouterr().out.count("done, skipped") == 2
    assert before == {p: p.stat().st_mtime_ns for p in runs.rglob("result.json")}


def test_report_command_alone(tiny_fit, capsys):
    cfg, runs, _ = tiny_fit
    assert main(REPLICATION, ["report", "--config", str(cfg), "--sweep.runs_dir", str(runs)]) == 0
    assert "Runs finished: 2 of 2" in capsys.readouterr().out


def test_dry_run_and_only_select_runs(tiny_fit, tmp_path, capsys):
    cfg, runs, _ = tiny_fit
    assert main(REPLICATION, ["fit", "--config", str(cfg), "--sweep.runs_dir", str(runs), "--sweep.dry_run", "true"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and all("done" in line for line in out)
    fresh = tmp_path / "runs"
    assert main(REPLICATION, ["fit", "--config", str(cfg), "--sweep.runs_dir", str(fresh), "--sweep.only", "arch=lstm"]) == 0
    assert [p.parent.name.split("-")[0] for p in fresh.rglob("result.json")] == ["arch=lstm"]
    assert main(REPLICATION, ["fit", "--config", str(cfg), "--sweep.runs_dir", str(fresh), "--sweep.only", "7"]) == 2


@pytest.mark.slow
def test_wrong_config_key_is_one_line_naming_the_key_and_writes_nothing(tiny_fit, tmp_path):
    cfg, _, _ = tiny_fit
    runs = tmp_path / "runs"
    proc = subprocess.run([sys.executable, "-m", REPLICATION, "fit", "--config", str(cfg), "--sweep.runs_dir", str(runs),
                           "--data.init_args.alphabett", "5"], capture_output=True, text=True)
    assert proc.returncode == 2
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and "alphabett" in lines[0]
    assert not runs.exists()


def test_impossible_size_fails_before_training(tiny_fit, tmp_path, capsys):
    cfg, _, _ = tiny_fit
    runs = tmp_path / "runs"
    rc = main(REPLICATION, ["fit", "--config", str(cfg), "--sweep.runs_dir", str(runs),
                            "--data.init_args.context_len", "5"])
    assert rc == 2 and "context_len" in capsys.readouterr().err and not runs.exists()


def test_bare_config_names_resolve_to_the_replication_configs(tmp_path):
    assert resolve_config_names(["--config", "copy_cpu.yaml"], CONFIGS) == ["--config", str(CONFIGS / "copy_cpu.yaml")]
    assert resolve_config_names(["--config=copy_cpu"], CONFIGS) == [f"--config={CONFIGS / 'copy_cpu.yaml'}"]
    own = tmp_path / "mine.yaml"
    own.write_text("{}")
    assert resolve_config_names(["--config", str(own)], CONFIGS) == ["--config", str(own)]
    with pytest.raises(ConfigError, match="copy_cpu"):
        resolve_config_names(["--config", "nope.yaml"], CONFIGS)


def test_help_and_print_config(tiny_fit, capsys):
    cfg, _, _ = tiny_fit
    assert main(REPLICATION, ["--help"]) == 0
    assert "copy_cpu" in capsys.readouterr().out
    with pytest.raises(SystemExit) as e:
        main(REPLICATION, ["fit", "--config", str(cfg), "--print_config"])
    assert e.value.code == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["sweep"]["grid"][0]["name"] == "arch" and printed["figure"]["id"] == "tiny"


def test_run_id_tracks_result_relevant_values_only():
    base = {"model": {"lr": 1.0}, "trainer": {"max_steps": 3, "enable_progress_bar": False}}
    other = {"model": {"lr": 2.0}, "trainer": {"max_steps": 3, "enable_progress_bar": False}}
    cosmetic = {"model": {"lr": 1.0}, "trainer": {"max_steps": 3, "enable_progress_bar": True}}
    assert run_id(base) != run_id(other) and run_id(base) == run_id(cosmetic)


@pytest.mark.slow
def test_workers_train_runs_in_parallel_processes_with_the_same_results(tiny_fit, tmp_path, capsys):
    cfg, runs, _ = tiny_fit
    par = tmp_path / "runs"
    assert main(REPLICATION, ["fit", "--config", str(cfg), "--sweep.runs_dir", str(par), "--sweep.workers", "2"]) == 0
    out = capsys.readouterr().out
    assert "2 at a time" in out and out.count("finished in") == 2 and "Runs finished: 2 of 2" in out
    seq = {p.parent.name: json.loads(p.read_text())["final"] for p in (runs / "repeat_after_me" / "tiny").glob("*/result.json")}
    got = {p.parent.name: json.loads(p.read_text())["final"] for p in (par / "repeat_after_me" / "tiny").glob("*/result.json")}
    assert got == seq  # same run ids, same numbers: a worker is the sequential run in another process
    assert all((par / "repeat_after_me" / "tiny" / name / "train.log").exists() for name in got)


@pytest.mark.slow
def test_a_failed_worker_run_is_named_with_its_log(tiny_fit, tmp_path, capsys):
    cfg, runs, _ = tiny_fit
    par = tmp_path / "runs"
    lstm = next((runs / "repeat_after_me" / "tiny").glob("arch=lstm-*")).name
    bad = par / "repeat_after_me" / "tiny" / lstm / "checkpoints" / "last.ckpt"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"not a checkpoint")
    assert main(REPLICATION, ["fit", "--config", str(cfg), "--sweep.runs_dir", str(par), "--sweep.workers", "2"]) == 2
    err = capsys.readouterr().err
    assert "1 of 2 runs failed: arch=lstm" in err and "train.log" in err
    assert len(list(par.rglob("result.json"))) == 1


def test_a_sweep_axis_setting_module_arguments_is_what_trains(tiny_config, tmp_path):
    """A run's lr / warm-up / schedule come from its own config, never from the base config the CLI parsed."""
    import torch

    grid = [{"name": "opt", "values": {
        "fast": {"model.init_args.lr": 0.02, "model.init_args.warmup_steps": 1, "model.init_args.schedule": "constant"},
        "slow": {"model.init_args.lr": 0.0005}}}]
    cfg = tiny_config(sweep={"grid": grid}, figure={"id": "tiny", "x": "eval:len", "y": "acc_seq", "series": ["opt"],
                                                    "published_id": "fig1a", "scale": "cpu", "claims": []})
    runs = tmp_path / "runs"
    assert main(REPLICATION, ["fit", "--config", str(cfg), "--sweep.runs_dir", str(runs)]) == 0
    for label, lr, final_lr in (("fast", 0.02, 0.02), ("slow", 0.0005, 0.0)):
        ckpt = torch.load(next(runs.rglob(f"opt={label}-*/checkpoints/last.ckpt")), map_location="cpu", weights_only=False)
        group = ckpt["optimizer_states"][0]["param_groups"][0]
        assert ckpt["hyper_parameters"]["lr"] == lr and group["initial_lr"] == lr
        assert group["lr"] == pytest.approx(final_lr, abs=1e-12)  # constant stays; cosine ends at 0
