"""A run records what its numbers depend on beyond config and seed: here, the CPU thread count."""
from types import SimpleNamespace

import pytest
import torch

from common.results import provenance


@pytest.fixture
def threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("n", [1, 2])
def test_provenance_records_the_thread_count_the_run_trained_with(threads, n):
    torch.set_num_threads(n)
    trainer = SimpleNamespace(strategy=SimpleNamespace(root_device=torch.device("cpu")), precision="32-true",
                              world_size=1)
    p = provenance(trainer, SimpleNamespace(backend="sdpa"))
    assert p["cpu_threads"] == n and p["device"] == "cpu"

