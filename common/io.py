"""Atomic file writes: a result or report is either whole on disk or absent."""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import tempfile
from pathlib import Path


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def atomic_write_json(path, obj) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def read_json(path) -> dict:
    """Read a JSON file; a corrupt one raises a one-line error naming it and the fix."""
    try:
        with open(path) as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(f"{path} is not valid JSON ({e.msg} at line {e.lineno}); delete it to redo that run") from None


@contextlib.contextmanager
def run_lock(run_dir: str | os.PathLike):
    """Hold ``<run_dir>/lock`` for the block; yields None, or the holder ("pid N on host") when another process has it.

    An advisory ``flock``: released by the kernel when its process ends, however it ends, so a
    killed fit never leaves a stale lock.
    """
    path = Path(run_dir) / "lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            yield f.read().strip() or "another process"
            return
        f.truncate(0)
        f.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
        f.flush()
        try:
            yield None
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
