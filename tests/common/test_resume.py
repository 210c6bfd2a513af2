"""Resume for real: a fit killed (SIGKILL) or interrupted (SIGINT, SIGTERM) after its first validation
and before its end restarts from that validation's checkpoint, says so, and ends with the metrics
of an uninterrupted run (same final metrics, same learning curve, same step count)."""
import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from common.cli import main

REPLICATION = "replications.repeat_after_me"
LONG = {"max_steps": 240, "val_check_interval": 20}
ONLY = ["--sweep.only", "arch=transformer"]


def run_dirs(runs: Path) -> list[Path]:
    return sorted((runs / "repeat_after_me" / "tiny").glob("arch=transformer-*"))


def comparable(run_dir: Path) -> tuple:
    """Final metrics, learning curve, steps, and the final weights (as bytes: equal means bit for bit)."""
    r = json.loads((run_dir / "result.json").read_text())
    weights = torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)["state_dict"]
    return (r["final"], [(h["step"], h["metrics"]) for h in r["history"]], r["steps"],
            {k: v.numpy().tobytes() for k, v in weights.items()})


def fit_cmd(cfg: Path, runs: Path) -> list[str]:
    return [sys.executable, "-m", REPLICATION, "fit", "--config", str(cfg), "--sweep.runs_dir", str(runs), *ONLY]


@pytest.fixture(scope="module")
def long_cfg(tmp_path_factory, tiny_dict):
    import yaml
    cfg = dict(tiny_dict, trainer={**tiny_dict["trainer"], **LONG})
    cfg["model"] = {**cfg["model"], "init_args": {**cfg["model"]["init_args"], "check_finite_every": 50}}
    path = tmp_path_factory.mktemp("resume") / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.fixture(scope="module")
def uninterrupted(long_cfg, tmp_path_factory):
    runs = tmp_path_factory.mktemp("reference")
    assert main(REPLICATION, ["fit", "--config", str(long_cfg), "--sweep.runs_dir", str(runs), *ONLY]) == 0
    (d,) = run_dirs(runs)
    return comparable(d)


def interrupt_after_first_validation(cfg: Path, runs: Path, sig: int) -> int:
    """Start fit, send ``sig`` once the first checkpoint exists, return the step of the checkpoint left behind."""
    proc = subprocess.Popen(fit_cmd(cfg, runs), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if any((d / "checkpoints" / "last.ckpt").exists() for d in run_dirs(runs)):
            break
        time.sleep(0.005)
    assert proc.poll() is None, "the run ended before it could be interrupted; make it longer"
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=120)
    (d,) = run_dirs(runs)
    assert not (d / "result.json").exists(), "killed too late: the run had finished"
    step = torch.load(d / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)["global_step"]
    assert 0 < step < LONG["max_steps"]
    if sig != signal.SIGKILL:  # a clean stop: one line saying what happened and how to go on, no traceback
        assert proc.returncode == 128 + sig, out[-2000:]
        assert "Traceback" not in out and re.search(r"interrupted.*rerun the same command", out), out[-2000:]
    return step


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT, signal.SIGTERM], ids=["SIGKILL", "SIGINT", "SIGTERM"])
def test_interrupted_fit_resumes_from_its_last_validation_and_matches_uninterrupted(long_cfg, uninterrupted, tmp_path,
                                                                                    sig, capsys):
    runs = tmp_path / "runs"
    step = interrupt_after_first_validation(long_cfg, runs, sig)
    # The rerun in this process: a fresh process would only add seconds of imports (workers: test_processes).
    assert main(REPLICATION, fit_cmd(long_cfg, runs)[3:]) == 0
    assert f"resumed from step {step} " in capsys.readouterr().out
    (d,) = run_dirs(runs)
    assert comparable(d) == uninterrupted
