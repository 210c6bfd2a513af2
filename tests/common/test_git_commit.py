"""Recording a run's commit must not write to the repository (a killed ``git status`` left index.lock behind)."""
import os
import shutil
import subprocess

import pytest

from common.results import describe_commit

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def git(repo, *args):
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=repo, check=True,
                          capture_output=True, text=True).stdout.strip()


def test_describing_a_repository_never_rewrites_its_index(tmp_path):
    git(tmp_path, "init", "-q")
    (tmp_path / "a.txt").write_text("one")
    git(tmp_path, "add", "a.txt")
    git(tmp_path, "commit", "-qm", "first")
    head, index = git(tmp_path, "rev-parse", "HEAD"), tmp_path / ".git" / "index"
    before = index.stat().st_mtime_ns
    # Same content, newer mtime: the index's stat data is stale, which a plain `git status` refreshes by rewriting it.
    st = (tmp_path / "a.txt").stat()
    os.utime(tmp_path / "a.txt", ns=(st.st_atime_ns + 10**10, st.st_mtime_ns + 10**10))
    assert describe_commit(tmp_path) == head
    (tmp_path / "a.txt").write_text("two")
    assert describe_commit(tmp_path) == head + "-dirty"
    assert index.stat().st_mtime_ns == before and not (tmp_path / ".git" / "index.lock").exists()


def test_outside_a_repository_the_commit_is_unknown(tmp_path):
    assert describe_commit(tmp_path) == "unknown"
