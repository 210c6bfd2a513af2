"""Training several runs at once, each in its own process, and stopping cleanly on SIGINT / SIGTERM."""
from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time

from common.errors import ConfigError, Interrupted, TrainingCrash
from common.io import run_lock
from common.results import RESULT_FILE

WORKER_ENV = "LIMITS_SWEEP_WORKER"  # set in worker processes: they train one run and leave the report to the parent


def train_in_workers(replication: str, argv: list[str], pending: list, total: int, workers: int) -> None:
    """Train ``pending`` runs, ``workers`` at a time, each in a child process running this CLI on one run.

    ``pending`` holds (run, run directory) pairs of the figure ``argv`` names, or (run, run directory,
    argv) triples whose runs come from several figures (``reproduce`` shares one pool among them).

    Each child gets cores // workers intra-op threads (unless OMP_NUM_THREADS is set) and writes its
    output to ``train.log`` in its run directory; a failed run is reported at the end, with its log.
    If this process is stopped (SIGINT, SIGTERM), the children are stopped too (they keep their
    last checkpoints); a child also ends if this process dies without cleaning up.
    """
    threads = os.environ.get("OMP_NUM_THREADS") or str(max(1, (os.cpu_count() or 1) // workers))
    env = {**os.environ, WORKER_ENV: "1", "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
    queue, running, failed, crashed = list(pending), {}, [], False
    print(f"training {len(pending)} runs, {workers} at a time, {threads} thread(s) each; logs: <run dir>/train.log", flush=True)
    try:
        while queue or running:
            while queue and len(running) < workers:
                run, run_dir, *own = queue.pop(0)
                with run_lock(run_dir) as holder:  # only a look: the child takes the lock itself
                    pass
                if holder:
                    print(f"[{run.index + 1}/{total}] {run.name}: skipped, {holder} is training it "
                          f"(lock {run_dir / 'lock'}); run fit again once it has finished", flush=True)
                    continue
                log = open(run_dir / "train.log", "ab")
                cmd = [sys.executable, "-m", replication, "fit", *(own[0] if own else argv), "--sweep.only", str(run.index),
                       "--sweep.workers", "1"]
                running[subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)] = (run, run_dir, log, time.time())
                print(f"[{run.index + 1}/{total}] {run.name}: training in {run_dir}", flush=True)
            time.sleep(0.2)
            for proc in [p for p in running if p.poll() is not None]:
                run, run_dir, log, t0 = running.pop(proc)
                log.close()
                tag = f"[{run.index + 1}/{total}] {run.name}"
                if proc.returncode == 0 and (run_dir / RESULT_FILE).exists():
                    print(f"{tag}: finished in {time.time() - t0:.0f} s", flush=True)
                elif proc.returncode == 0:
                    print(f"{tag}: not finished (see {run_dir / 'train.log'})", flush=True)
                else:
                    crashed |= proc.returncode not in (2,)
                    failed.append(f"{run.name} (exit {proc.returncode}, log {run_dir / 'train.log'})")
                    print(f"{tag}: FAILED, see {run_dir / 'train.log'}", flush=True)
    finally:
        stop_children(list(running))
        for _, _, log, _ in running.values():
            log.close()
    if failed:
        error = TrainingCrash if crashed else ConfigError
        raise error(f"{len(failed)} of {len(pending)} runs failed: " + "; ".join(failed))


def stop_children(procs: list[subprocess.Popen], grace_s: float = 60.0) -> None:
    """SIGTERM each child (it stops training and keeps its last checkpoint), then SIGKILL any still alive after ``grace_s``."""
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    deadline = time.time() + grace_s
    for proc in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _interrupt(signum, frame):
    raise Interrupted(signum)


@contextlib.contextmanager
def stop_on_signals():
    """Turn SIGINT and SIGTERM into ``Interrupted`` for the block (Lightning calls this handler after its own)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    for s in old:
        signal.signal(s, _interrupt)
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def die_with_parent() -> None:
    """In a worker: ask Linux to send SIGTERM when the parent fit dies, even by SIGKILL (no orphans left training)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))  # 1 = PR_SET_PDEATHSIG
