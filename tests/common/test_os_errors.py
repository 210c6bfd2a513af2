"""OS errors while writing become one line naming the file and the fix; result files get the user's umask."""
import errno
import os

import pytest

from common.cli import main
from common.io import atomic_write_text, os_error_line

REPLICATION = "replications.repeat_after_me"


@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)])
def test_written_files_get_the_umask_mode(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        atomic_write_text(tmp_path / "result.json", "{}")
    finally:
        os.umask(old)
    assert (tmp_path / "result.json").stat().st_mode & 0o777 == mode


def test_disk_full_while_checkpointing_is_one_line_naming_the_checkpoint(tiny_config, tmp_path, monkeypatch, capsys):
    """Newcomer trial 61: ENOSPC in the middle of training was a traceback."""
    real_fsync, calls = os.fsync, []

    def fsync(fd):
        calls.append(fd)
        if len(calls) > 1:  # config.yaml is written, the first checkpoint is not
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    runs = tmp_path / "runs"
    rc = main(REPLICATION, ["fit", "--config", str(tiny_config()), "--sweep.runs_dir", str(runs), "--sweep.only", "arch=lstm"])
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert rc == 2 and len(err) == 1, err
    assert "last.ckpt: No space left on device; free disk space" in err[0]
    assert not list(runs.rglob("*.tmp"))


def test_os_error_lines_say_what_to_do():
    line = os_error_line(OSError(errno.EROFS, "Read-only file system", "/mnt/ro/runs"))
    assert line.startswith("/mnt/ro/runs: Read-only file system;") and "--sweep.runs_dir" in line
