import random

import pytest
import torch

from common.seeding import rng_for
from replications.repeat_after_me.copy_task import copy_example, pack, render, special_ids
from replications.repeat_after_me.data import CopyDataModule


@pytest.mark.parametrize("seed", range(20))
def test_copy_target_is_the_string_then_eos(seed):
    rng = random.Random(seed)
    n, V = rng.randint(1, 40), rng.choice([2, 10, 26])
    e = copy_example(rng, n, V)
    s = special_ids(V)
    string = e.tokens[1: 1 + n]
    assert e.tokens[0] == s["bos"] and e.tokens[n + 1] == s["sep"]
    assert e.prompt == [s["bos"], *string, s["sep"]]
    assert e.answer == [*string, s["eos"]]  # the answer is exactly the copied string
    assert all(0 <= t < V for t in string)
    assert e.target_mask == [False] * (n + 2) + [True] * (n + 1)
    assert render(e.tokens, V) == "$" + render(string, V) + "|" + render(string, V) + "."


def test_packing_masks_the_cut_example_and_keeps_the_rest():
    V = 5
    exs = iter([copy_example(random.Random(i), 4, V) for i in range(10)])  # 11 tokens each
    tokens, mask = pack(exs, context_len=29, pad_id=V + 3)
    assert len(tokens) == len(mask) == 30
    first_two = [copy_example(random.Random(i), 4, V) for i in range(2)]
    assert tokens[:22] == first_two[0].tokens + first_two[1].tokens
    assert mask[:22] == first_two[0].target_mask + first_two[1].target_mask
    assert mask[22:] == [False] * 8  # the third example is cut by the window: never a target


def test_training_batches_are_reproducible_and_seeded_per_step():
    dm = CopyDataModule(alphabet=8, max_train_len=6, context_len=20, batch_size=4, seed=3)
    a = dm.train_batch(rng_for(3, "train", 0))
    b = dm.train_batch(rng_for(3, "train", 0))
    c = dm.train_batch(rng_for(3, "train", 1))
    assert torch.equal(a["inputs"], b["inputs"]) and not torch.equal(a["inputs"], c["inputs"])
    assert torch.equal(a["inputs"][:, 1:], a["targets"][:, :-1])


def test_eval_sets_do_not_depend_on_training_seed_and_val_differs_from_test():
    kw = dict(alphabet=8, max_train_len=6, context_len=20, val_lengths=[6], test_lengths=[6], eval_examples=32)
    d1, d2 = CopyDataModule(seed=1, **kw), CopyDataModule(seed=2, **kw)
    v1, v2, t1 = d1.eval_data("val")["len=6"], d2.eval_data("val")["len=6"], d1.eval_data("test")["len=6"]
    assert torch.equal(v1[0]["prompt"], v2[0]["prompt"])
    assert not torch.equal(v1[0]["prompt"], t1[0]["prompt"])
    # training strings of the first batches never reuse the evaluation stream
    train = d1.train_batch(rng_for(1, "train", 0))["inputs"]
    assert not torch.equal(train[0, : v1[0]["prompt"].shape[1]], v1[0]["prompt"][0])


def test_eval_batches_hold_prompt_and_answer_of_the_requested_length():
    dm = CopyDataModule(alphabet=8, max_train_len=6, context_len=20, test_lengths=[3, 9], eval_examples=10,
                        eval_batch_size=4)
    data = dm.eval_data("test")
    assert list(data) == ["len=3", "len=9"]
    b = data["len=9"][0]
    assert b["prompt"].shape == (4, 11) and b["answer"].shape == (4, 10)
    assert torch.equal(b["prompt"][:, 1:10], b["answer"][:, :9]) and b["answer_mask"].all()
    assert sum(x["prompt"].shape[0] for x in data["len=9"]) == 10


def test_context_too_short_for_one_example_is_refused():
    with pytest.raises(ValueError, match="context_len"):
        CopyDataModule(max_train_len=30, context_len=40)
