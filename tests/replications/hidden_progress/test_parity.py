"""The sparse-parity generator against a brute-force oracle over every input, and its DataModule's streams."""
import itertools

import pytest
import torch

from replications.hidden_progress import parity
from replications.hidden_progress.data import ParityDataModule


def oracle_label(x: tuple[int, ...], subset: set[int]) -> int:
    """+1 when an even number of the coordinates in ``subset`` are -1, else -1 (counted, not multiplied)."""
    return 1 if sum(1 for i in subset if x[i] == -1) % 2 == 0 else -1


@pytest.mark.parametrize("n,k", [(5, 1), (6, 2), (7, 3), (8, 4)])
def test_parity_matches_oracle_on_every_input(n, k):
    subset = parity.hidden_set(n, k, torch.Generator().manual_seed(n * 10 + k))
    every = list(itertools.product((-1, 1), repeat=n))
    y = parity.parity(torch.tensor(every, dtype=torch.float), subset)
    expected = [oracle_label(x, set(subset.tolist())) for x in every]
    assert y.tolist() == expected


@pytest.mark.parametrize("n,k", [(6, 2), (7, 3)])
def test_label_depends_exactly_on_the_hidden_coordinates(n, k):
    """Flipping coordinate i flips every label if i is in S and none otherwise (found by brute force)."""
    subset = parity.hidden_set(n, k, torch.Generator().manual_seed(3))
    every = torch.tensor(list(itertools.product((-1, 1), repeat=n)), dtype=torch.float)
    y = parity.parity(every, subset)
    relevant = []
    for i in range(n):
        flipped = every.clone()
        flipped[:, i] *= -1
        changed = parity.parity(flipped, subset) != y
        assert bool(changed.all()) or not bool(changed.any())
        if changed.all():
            relevant.append(i)
    assert relevant == subset.tolist() and len(relevant) == k


def test_hidden_set_is_k_distinct_coordinates_and_varies_with_the_seed():
    sets = {tuple(parity.hidden_set(30, 3, torch.Generator().manual_seed(s)).tolist()) for s in range(20)}
    assert all(len(set(s)) == 3 and all(0 <= i < 30 for i in s) and list(s) == sorted(s) for s in sets)
    assert len(sets) > 10
    with pytest.raises(ValueError, match="1 <= k <= n"):
        parity.hidden_set(3, 4, torch.Generator())


def test_inputs_are_uniform_signs():
    x = parity.inputs(4096, 20, torch.Generator().manual_seed(0))
    assert set(x.unique().tolist()) == {-1.0, 1.0}
    assert abs(float(x.mean())) < 0.02


def test_datamodule_streams_are_seeded_online_and_eval_sets_fixed():
    dm = ParityDataModule(n=12, k=3, batch_size=64, eval_examples=512, seed=5)
    from common.seeding import rng_for
    a, b = dm.train_batch(rng_for(5, "train", 0)), dm.train_batch(rng_for(5, "train", 0))
    c = dm.train_batch(rng_for(5, "train", 1))
    assert torch.equal(a["x"], b["x"]) and not torch.equal(a["x"], c["x"])  # fresh batch every step
    assert torch.equal(a["y"], parity.parity(a["x"], dm.subset))
    val, test = dm.eval_data("val")["fresh"][0], dm.eval_data("test")["fresh"][0]
    assert val["x"].shape == (512, 12) and not torch.equal(val["x"], test["x"])
    assert torch.equal(val["x"], ParityDataModule(n=12, k=3, seed=6, eval_examples=512).eval_data("val")["fresh"][0]["x"])
    assert not torch.equal(dm.subset, ParityDataModule(n=12, k=3, seed=7).subset) or \
        not torch.equal(dm.subset, ParityDataModule(n=12, k=3, seed=8).subset)
    assert dm.input_size == 12 and not hasattr(dm, "vocab_size")


def test_random_labels_carry_no_parity():
    dm = ParityDataModule(n=10, k=2, labels="random", eval_examples=4096, seed=0)
    batch = dm.eval_data("val")["fresh"][0]
    agreement = float((batch["y"] * parity.parity(batch["x"], dm.subset)).mean())
    assert set(batch["y"].unique().tolist()) == {-1.0, 1.0} and abs(agreement) < 0.06


def test_bad_task_arguments_say_what_to_change():
    with pytest.raises(ValueError, match="data.labels"):
        ParityDataModule(labels="noisy")
    with pytest.raises(ValueError, match=r"data.k=9 must lie in \[1, data.n=5\]"):
        ParityDataModule(n=5, k=9)
