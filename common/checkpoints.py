"""Checkpoints that are whole or absent, and a clear refusal of a corrupt or foreign one."""
from __future__ import annotations

import io
from pathlib import Path

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from common.io import atomic_write_bytes


class AtomicCheckpointIO(TorchCheckpointIO):
    """Write to a temporary file, fsync, then rename: a kill mid-save leaves the previous checkpoint."""

    def save_checkpoint(self, checkpoint, path, storage_options=None):
        buf = io.BytesIO()
        torch.save(checkpoint, buf)
        atomic_write_bytes(path, buf.getvalue())


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
