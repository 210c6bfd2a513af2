"""One run's result file: metrics, learning curve, and the provenance needed to trust it."""
from __future__ import annotations

import os
import platform
import subprocess
import time
from functools import lru_cache
from importlib import metadata
from pathlib import Path

import lightning as L
import torch

from common.io import atomic_write_json, read_json

RESULT_FILE = "result.json"
SCHEMA = 1


@lru_cache(maxsize=1)
def git_commit() -> str:
    """The package's commit, ``-dirty`` when tracked files differ from it, or "unknown"."""
    return describe_commit(Path(__file__).parent)


def describe_commit(repo: Path) -> str:
    """``git_commit`` for the repository holding ``repo``.

    ``--no-optional-locks`` keeps ``git status`` from refreshing (so locking and rewriting) the
    index: a status killed by the timeout, or run by two workers at once, must not leave
    ``.git/index.lock`` behind to block the user's next commit.
    """
    def git(*args):
        return subprocess.run(["git", "--no-optional-locks", *args], cwd=repo, capture_output=True, text=True, timeout=5)

    try:
        out = git("rev-parse", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no").stdout.strip()
        return out.stdout.strip() + ("-dirty" if dirty else "") if out.returncode == 0 else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def provenance(trainer: L.Trainer, model) -> dict:
    try:
        version = metadata.version("limits-replications")
    except metadata.PackageNotFoundError:
        version = "unknown"
    device = str(trainer.strategy.root_device)
    if device.startswith("cuda"):
        device += f" ({torch.cuda.get_device_name()})"
    return {
        "package_version": version,
        "git_commit": git_commit(),
        "torch": torch.__version__,
        "lightning": L.__version__,
        "python": platform.python_version(),
        "host": platform.node(),
        "device": device,
        "precision": str(trainer.precision),
        "world_size": trainer.world_size,
        "backend": model.backend,
        "deterministic_cpu": device == "cpu",
        # CPU kernels split their reductions by thread, so runs agree bit for bit only at equal counts.
        "cpu_threads": torch.get_num_threads(),
    }


class ResultRecorder(L.Callback):
    """Keeps the validation curve (saved in checkpoints, so it survives a resume)."""

    def __init__(self, batch_size: int, run_id: str = ""):
        self.batch_size, self.run_id = batch_size, run_id
        self.history: list[dict] = []
        self.started = time.time()
        self.wall_before = 0.0

    def on_validation_end(self, trainer, pl_module):
        if trainer.sanity_checking or not hasattr(pl_module, "last_eval"):
            return
        step = int(trainer.global_step)
        self.history = [h for h in self.history if h["step"] != step]
        # Examples seen by all processes: each rank draws its own batches.
        samples = step * self.batch_size * trainer.world_size * trainer.accumulate_grad_batches
        self.history.append({"step": step, "samples": samples,
                             "metrics": pl_module.last_eval.get("val", {})})

    def wall_time(self) -> float:
        return self.wall_before + time.time() - self.started

    def state_dict(self):
        return {"history": self.history, "wall_time": self.wall_time(), "run_id": self.run_id}

    def load_state_dict(self, state):
        self.history = list(state["history"])
        self.wall_before = float(state.get("wall_time", 0.0))
        self.started = time.time()


def write_result(run_dir: Path, *, run_id: str, labels: dict, config: dict, final: dict, recorder: ResultRecorder,
                 trainer: L.Trainer, model) -> dict:
    seq_model = model.model
    eval_len = trainer.datamodule.max_eval_tokens() if trainer.datamodule is not None else None
    result = {
        "schema": SCHEMA,
        "run_id": run_id,
        "labels": labels,
        "final": final,
        "history": recorder.history,
        "steps": int(trainer.global_step),
        "num_params": seq_model.num_params(),
        "state_size": seq_model.state_size(eval_len) if eval_len else None,
        "wall_time_s": round(recorder.wall_time(), 2),
        "provenance": provenance(trainer, seq_model),
        "config": config,
    }
    atomic_write_json(Path(run_dir) / RESULT_FILE, result)
    return result


def load_result(run_dir: Path) -> dict | None:
    path = Path(run_dir) / RESULT_FILE
    if not path.exists():
        return None
    result = read_json(path)
    if not isinstance(result, dict) or result.get("schema") != SCHEMA or "final" not in result:
        raise ValueError(f"{path} is not a limits-replications result (schema {SCHEMA}); delete it to redo that run")
    return result


def run_dir_name(labels: dict, run_id: str) -> str:
    safe = ",".join(f"{k}={v}" for k, v in labels.items()).replace(os.sep, "_")
    return f"{safe}-{run_id}" if safe else run_id
