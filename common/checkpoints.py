"""Checkpoints that are whole or absent, written at every validation, and a clear refusal of a corrupt or foreign one."""
from __future__ import annotations

import io
from pathlib import Path

import torch
from lightning.pytorch.callbacks import Checkpoint
from lightning.pytorch.plugins.io import TorchCheckpointIO

from common.io import atomic_write_bytes


class AtomicCheckpointIO(TorchCheckpointIO):
    """Write to a temporary file, fsync, then rename: a kill mid-save leaves the previous checkpoint."""

    def save_checkpoint(self, checkpoint, path, storage_options=None):
        buf = io.BytesIO()
        torch.save(checkpoint, buf)
        atomic_write_bytes(path, buf.getvalue())


class ResumeCheckpoint(Checkpoint):
    """Keep one resumable checkpoint, ``path``, rewritten after every validation and at the end of training.

    Saving after a validation (not before it) keeps that validation's point of the learning curve in
    the checkpoint, so a resumed run's curve is whole. ``every_n_steps`` adds saves between
    validations. Before each save the module's ``check_finite`` runs (when it has one), so a diverged
    state is never written over the last good one. Being a ``Checkpoint``, Lightning calls it after
    the other callbacks (the result recorder has already added the validation point).
    """

    def __init__(self, path: str | Path, every_n_steps: int | None = None):
        self.path, self.every_n_steps = Path(path), every_n_steps

    def save(self, trainer, pl_module) -> None:
        if trainer.sanity_checking or trainer.state.fn != "fit":
            return
        check = getattr(pl_module, "check_finite", None)
        if check is not None:
            check(weights=True)
        trainer.save_checkpoint(self.path, weights_only=False)  # full state: this checkpoint resumes the run

    def on_validation_end(self, trainer, pl_module):
        self.save(trainer, pl_module)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if self.every_n_steps and trainer.global_step % self.every_n_steps == 0:
            self.save(trainer, pl_module)

    def on_train_end(self, trainer, pl_module):
        self.save(trainer, pl_module)


def check_resumable(path: Path, run_id: str) -> dict:
    """The checkpoint at ``path``; a one-line ValueError unless it is a readable checkpoint of run ``run_id``."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:  # truncated zip, pickle garbage, wrong file
        raise ValueError(f"{path} is not a readable checkpoint ({type(e).__name__}); delete it to restart this run "
                         "from scratch") from None
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise ValueError(f"{path} is not a Lightning checkpoint; delete it to restart this run from scratch")
    found = (ckpt.get("callbacks") or {}).get("ResultRecorder", {}).get("run_id")
    if found != run_id:
        raise ValueError(f"{path} belongs to run {found!r}, not {run_id!r} (its config differs); move it away or "
                         "delete it to restart this run")
    return ckpt
