"""The three ways a command ends early, each with one line: bad input, a crash in training, a signal."""
from __future__ import annotations


class ConfigError(Exception):
    """Bad user input: printed as one line, exit code 2, nothing written."""


class TrainingCrash(Exception):
    """A run crashed inside training (a bug, not bad input): one line with its log, exit code 1."""


class Interrupted(BaseException):
    """SIGINT or SIGTERM: stop training now; every unfinished run keeps its last checkpoint."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum
