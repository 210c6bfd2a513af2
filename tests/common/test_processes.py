"""Processes: SIGTERM to a multi-worker fit stops its workers (no orphans) and prints one line; a per-run
lock makes a second fit skip a run another process is training, saying so."""
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from common.cli import main
from common.io import run_lock

REPLICATION = "replications.repeat_after_me"


def fig_dir(runs: Path) -> Path:
    return runs / "repeat_after_me" / "tiny"


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.slow
def test_sigterm_to_a_workers_fit_stops_every_worker_and_leaves_runs_resumable(tiny_config, tmp_path, capsys):
    cfg = tiny_config(trainer={"max_steps": 2000, "val_check_interval": 10})
    runs = tmp_path / "runs"
    proc = subprocess.Popen([sys.executable, "-m", REPLICATION, "fit", "--config", str(cfg), "--sweep.runs_dir", str(runs),
                             "--sweep.workers", "2"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 300
    while time.time() < deadline and len(list(fig_dir(runs).glob("*/checkpoints/last.ckpt"))) < 2:
        time.sleep(0.05)
    assert proc.poll() is None
    workers = [int(re.search(r"pid (\d+)", p.read_text()).group(1)) for p in fig_dir(runs).glob("*/lock")]
    assert len(workers) == 2 and all(alive(pid) for pid in workers)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM
    last = out.strip().splitlines()[-1]
    assert "interrupted (SIGTERM)" in last and "rerun the same command" in last and "Traceback" not in out
    time.sleep(0.5)
    assert not any(alive(pid) for pid in workers), "a worker outlived its fit"
    assert not list(runs.rglob("result.json")) and len(list(runs.rglob("last.ckpt"))) == 2
    assert main(REPLICATION, ["fit", "--config", str(cfg), "--sweep.runs_dir", str(runs), "--sweep.dry_run", "true"]) == 0
    assert capsys.readouterr().out.count("partial") == 2


def test_a_run_locked_by_another_fit_is_skipped_saying_so(tiny_config, tmp_path, capsys):
    cfg = tiny_config()
    runs = tmp_path / "runs"
    assert main(REPLICATION, ["fit", "--config", str(cfg), "--sweep.runs_dir", str(runs), "--sweep.dry_run", "true"]) == 0
    lstm_id = next(line.split()[2] for line in capsys.readouterr().out.splitlines() if "arch=lstm" in line)
    held = fig_dir(runs) / f"arch=lstm-{lstm_id}"
    with run_lock(held) as holder:
        assert holder is None
        assert main(REPLICATION, ["fit", "--config", str(cfg), "--sweep.runs_dir", str(runs)]) == 0
    out = capsys.readouterr().out
    assert re.search(rf"arch=lstm: skipped, pid {os.getpid()} on \S+ is training it", out)
    assert [p.parent.name.split("-")[0] for p in runs.rglob("result.json")] == ["arch=transformer"]
    assert "Runs finished: 1 of 2" in out
    with run_lock(held) as holder:  # released when its holder let go
        assert holder is None
