"""Faults and bad input with real processes: SIGKILL and resume, corrupt files, NaN, DDP, determinism."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from common.checkpoints import AtomicCheckpointIO
from common.cli import main

REPLICATION = "replications.repeat_after_me"
LONGER = {"max_steps": 160, "val_check_interval": 8}


def fig_dir(runs: Path) -> Path:
    return runs / "repeat_after_me" / "tiny"


def results(runs: Path) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text()) for p in fig_dir(runs).glob("*/result.json")}


def fit_cmd(cfg: Path, runs: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", REPLICATION, "fit", "--config", str(cfg), "--sweep.runs_dir", str(runs), *extra]


def comparable(r: dict) -> tuple:
    return r["final"], [(h["step"], h["metrics"]) for h in r["history"]], r["steps"]


@pytest.mark.slow
def test_sigkill_mid_sweep_then_rerun_resumes_and_matches_uninterrupted(tiny_config, tmp_path, capsys):
    cfg = tiny_config(trainer=LONGER)
    reference = tmp_path / "reference"  # in this process; only the run to kill needs one of its own
    assert main(REPLICATION, fit_cmd(cfg, reference)[3:]) == 0

    runs = tmp_path / "killed"
    proc = subprocess.Popen(fit_cmd(cfg, runs), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    # Kill while the second run is part-way: the first has its result, the second only a checkpoint.
    while time.time() < deadline and proc.poll() is None:
        done = list(fig_dir(runs).glob("*/result.json"))
        partial = [p for p in fig_dir(runs).glob("*/checkpoints/last.ckpt") if not (p.parents[1] / "result.json").exists()]
        if len(done) == 1 and partial:
            break
        time.sleep(0.01)
    assert proc.poll() is None, "the run finished before it could be killed; make it longer"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    first = {p: p.stat().st_mtime_ns for p in fig_dir(runs).glob("*/result.json")}
    assert len(first) == 1

    assert main(REPLICATION, fit_cmd(cfg, runs)[3:]) == 0
    assert "done, skipped" in capsys.readouterr().out
    assert all(p.stat().st_mtime_ns == t for p, t in first.items())  # the finished run was not redone
    got, want = results(runs), results(reference)
    assert set(got) == set(want)
    for name in want:
        assert comparable(got[name]) == comparable(want[name]), name


def test_same_config_and_seed_give_identical_metrics(tiny_config, tmp_path):
    cfg = tiny_config()
    for d in ("a", "b"):
        assert main(REPLICATION, ["fit", "--config", str(cfg), "--sweep.runs_dir", str(tmp_path / d)]) == 0
    a, b = results(tmp_path / "a"), results(tmp_path / "b")
    assert a.keys() == b.keys() and all(comparable(a[k]) == comparable(b[k]) for k in a)


def _one_finished(tiny_config, tmp_path):
    cfg = tiny_config()
    runs = tmp_path / "runs"
    assert main(REPLICATION, ["fit", "--config", str(cfg), "--sweep.runs_dir", str(runs), "--sweep.only", "0"]) == 0
    return cfg, runs


def test_corrupt_checkpoint_is_refused_with_its_name(tiny_config, tmp_path, capsys):
    cfg, runs = _one_finished(tiny_config, tmp_path)
    run_dir = next(fig_dir(runs).glob("*/result.json")).parent
    (run_dir / "result.json").unlink()
    (run_dir / "checkpoints" / "last.ckpt").write_bytes(b"not a checkpoint")
    assert main(REPLICATION, ["fit", "--config", str(cfg), "--sweep.runs_dir", str(runs), "--sweep.only", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "last.ckpt" in err[0] and "delete it" in err[0]


def test_foreign_checkpoint_is_refused(tiny_config, tmp_path, capsys):
    cfg, runs = _one_finished(tiny_config, tmp_path)
    src = next(fig_dir(runs).glob("*/checkpoints/last.ckpt"))
    assert main(REPLICATION, ["fit", "--config", str(cfg), "--sweep.runs_dir", str(runs), "--sweep.dry_run", "true"]) == 0
    other = [p for p in capsys.readouterr().out.splitlines() if "todo" in p]
    assert other
    # plant the first run's checkpoint in the second run's directory
    from common.results import run_dir_name
    from common.cli import parse, plan_runs
    parser, ns = parse(REPLICATION, ["--config", str(cfg), "--sweep.runs_dir", str(runs)], "t")
    second = plan_runs(parser, ns)[1]
    dst = fig_dir(runs) / run_dir_name(second.labels, second.run_id) / "checkpoints" / "last.ckpt"
    dst.parent.mkdir(parents=True)
    dst.write_bytes(src.read_bytes())
    assert main(REPLICATION, ["fit", "--config", str(cfg), "--sweep.runs_dir", str(runs), "--sweep.only", "1"]) == 2
    assert "belongs to run" in capsys.readouterr().err


def test_corrupt_or_foreign_result_is_refused(tiny_config, tmp_path, capsys):
    cfg, runs = _one_finished(tiny_config, tmp_path)
    path = next(fig_dir(runs).glob("*/result.json"))
    good = path.read_text()
    path.write_text(good[: len(good) // 2])
    assert main(REPLICATION, ["report", "--config", str(cfg), "--sweep.runs_dir", str(runs)]) == 2
    assert "result.json is not valid JSON" in capsys.readouterr().err
    mixed = json.loads(good)
    mixed["config"]["model"]["init_args"]["lr"] = 0.5  # a result made by another config
    path.write_text(json.dumps(mixed))
    assert main(REPLICATION, ["report", "--config", str(cfg), "--sweep.runs_dir", str(runs)]) == 2
    assert "different config" in capsys.readouterr().err


def test_non_finite_loss_stops_the_run_with_a_clear_message(tiny_config, tmp_path, capsys):
    cfg = tiny_config()
    runs = tmp_path / "runs"
    rc = main(REPLICATION, ["fit", "--config", str(cfg), "--sweep.runs_dir", str(runs), "--sweep.only", "1",
                            "--model.init_args.lr", "1e30"])
    err = capsys.readouterr().err
    assert rc == 2 and "non-finite training loss" in err and "lr" in err
    assert not list(runs.rglob("result.json"))


@pytest.mark.parametrize("override,expect", [
    (["--trainer.max_steps", "-5"], "max_steps"),
    (["--data.init_args.test_lengths", "[0]"], "test_lengths"),
    (["--data.init_args.batch_size", "0"], "batch_size"),
])
def test_bad_values_fail_before_anything_is_written(tiny_config, tmp_path, capsys, override, expect):
    runs = tmp_path / "runs"
    rc = main(REPLICATION, ["fit", "--config", str(tiny_config()), "--sweep.runs_dir", str(runs), *override])
    assert rc == 2 and expect in capsys.readouterr().err and not runs.exists()


def test_eval_longer_than_model_context_is_refused(tiny_config, tmp_path, capsys):
    grid = [{"name": "arch", "values": {"transformer": {"model.init_args.model": {
        "class_path": "common.models.Transformer", "init_args": {"d_model": 16, "n_layer": 1, "n_head": 2, "max_seq_len": 10}}}}}]
    cfg = tiny_config(sweep={"grid": grid}, figure={"claims": []})
    runs = tmp_path / "runs"
    assert main(REPLICATION, ["fit", "--config", str(cfg), "--sweep.runs_dir", str(runs)]) == 2
    assert "max_seq_len" in capsys.readouterr().err and not runs.exists()


def test_atomic_checkpoint_keeps_the_old_file_when_a_save_dies(tmp_path, monkeypatch):
    path = tmp_path / "last.ckpt"
    io = AtomicCheckpointIO()
    io.save_checkpoint({"state_dict": {"w": torch.ones(2)}}, path)

    def boom(fd):
        raise OSError("disk gone")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError):
        io.save_checkpoint({"state_dict": {"w": torch.zeros(2)}}, path)
    assert torch.equal(torch.load(path)["state_dict"]["w"], torch.ones(2))
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]  # no temporary file left behind


@pytest.mark.slow
def test_ddp_with_two_cpu_processes_writes_one_result(tiny_config, tmp_path):
    cfg = tiny_config()
    runs = tmp_path / "runs"
    proc = subprocess.run(fit_cmd(cfg, runs, "--sweep.only", "arch=lstm", "--trainer.strategy", "ddp",
                                  "--trainer.devices", "2", "--trainer.accelerator", "cpu"),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = results(runs)
    assert len(got) == 1
    r = next(iter(got.values()))
    assert r["provenance"]["world_size"] == 2 and r["steps"] == 4
    batch = r["config"]["data"]["init_args"]["batch_size"]
    assert [h["samples"] for h in r["history"]] == [h["step"] * batch * 2 for h in r["history"]]  # both ranks counted
    assert proc.stdout.count("Runs finished") == 1  # only rank 0 reports
