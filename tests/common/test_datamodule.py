"""SyntheticDataModule: the training stream is the same with and without DataLoader workers, and
validation may use fewer examples than the test."""
import random
from itertools import islice

import pytest
import torch

from common.lit.datamodule import SyntheticDataModule
from common.tasks import Example


class Counting(SyntheticDataModule):
    """Each example records the first number its generator draws, so batches name their seed."""

    vocab_size = 1000

    def train_example(self, rng: random.Random) -> Example:
        x = rng.randrange(1000)
        return Example(tokens=[x, x], target_mask=[False, True], prompt_len=1)

    def eval_sets(self, stage):
        return {"a": self.train_example}


class FakeTrainer:
    global_step, accumulate_grad_batches, global_rank, world_size = 7, 1, 0, 1


def first_batches(dm, k=6):
    return [b["inputs"] for b in islice(iter(dm.train_dataloader()), k)]


@pytest.mark.parametrize("workers", [1, 2])
def test_workers_give_the_same_batches_in_the_same_order(workers):
    plain = first_batches(Counting(batch_size=4, seed=5))
    parallel = first_batches(Counting(batch_size=4, seed=5, num_workers=workers))
    assert all(torch.equal(a, b) for a, b in zip(plain, parallel))
    assert not torch.equal(plain[0], plain[1])


def test_workers_resume_the_stream_at_the_restored_step():
    plain, parallel = Counting(batch_size=4, seed=5), Counting(batch_size=4, seed=5, num_workers=2)
    plain.trainer = parallel.trainer = FakeTrainer()  # a run restored at step 7 starts with batch 7
    from_start = first_batches(Counting(batch_size=4, seed=5), 9)
    for dm in (plain, parallel):
        got = first_batches(dm, 2)
        assert torch.equal(got[0], from_start[7]) and torch.equal(got[1], from_start[8])


def test_validation_uses_val_examples_and_the_test_eval_examples():
    dm = Counting(batch_size=2, eval_examples=40, eval_batch_size=16, val_examples=10)
    assert sum(len(b["prompt"]) for b in dm.eval_data("val")["a"]) == 10
    assert sum(len(b["prompt"]) for b in dm.eval_data("test")["a"]) == 40
    with pytest.raises(ValueError, match="val_examples"):
        Counting(val_examples=0)
    with pytest.raises(ValueError, match="num_workers"):
        Counting(num_workers=-1)
