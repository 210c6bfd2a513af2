"""Atomic file writes: a result or report is either whole on disk or absent."""
from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import socket
import tempfile
from pathlib import Path


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` whole or not at all, with the mode a plain ``open`` would give (the umask's).

    An OSError names ``path`` (not the temporary file), so the one-line message says where.
    """
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.fchmod(fd, 0o666 & ~current_umask())  # mkstemp makes 0600: a group could not read results
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(e, OSError) and e.errno is not None:
            raise OSError(e.errno, e.strerror, str(e.filename if e.filename and tmp is None else path)) from None
        raise


def current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


FIXES = {
    errno.ENOSPC: "free disk space, then rerun the same command (finished runs are kept, interrupted ones resume)",
    errno.EDQUOT: "free space in your quota, then rerun the same command (finished runs are kept, interrupted ones resume)",
    errno.EACCES: "make it writable, or choose another folder with --sweep.runs_dir",
    errno.EPERM: "make it writable, or choose another folder with --sweep.runs_dir",
    errno.EROFS: "it is on a read-only file system: choose another folder with --sweep.runs_dir",
    errno.ENOTDIR: "a file stands where a folder is needed: move it away, or choose another --sweep.runs_dir",
    errno.EISDIR: "a folder stands where a file is needed: move it away",
    errno.ENOENT: "a folder on the way is missing or cannot be made: check the path or choose another --sweep.runs_dir",
}


def os_error_line(e: OSError) -> str:
    """One line for an OSError: the path, what went wrong, and what to do."""
    where = e.filename or "a file in the runs folder"
    return f"{where}: {e.strerror or e}; {FIXES.get(e.errno, 'check that path, then rerun the same command')}"


def atomic_write_text(path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def atomic_write_json(path, obj) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def read_json(path) -> dict:
    """Read a JSON file; a corrupt one raises a one-line error naming it and the fix."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(f"{path} is not valid JSON ({e.msg} at line {e.lineno}); delete it to redo that run") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not text (not UTF-8); delete it to redo that run") from None
    except IsADirectoryError:
        raise ValueError(f"{path} is a folder, not a result file; move it away to redo that run") from None


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
