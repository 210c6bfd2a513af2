"""n-gram lookup and duplicated n-gram generators against brute force; their DataModules."""
import random

import pytest
import torch

from common.seeding import rng_for
from replications.repeat_after_me.copy_task import random_string, render, special_ids
from replications.repeat_after_me.data import DuplicateNgramDataModule, NgramLookupDataModule
from replications.repeat_after_me.duplicate_ngram import duplicate_ngram_example, duplicated_string
from replications.repeat_after_me.ngram_lookup import key_positions, lookup_example, lookup_example_of


def occurrences(text: str, sub: str) -> list[int]:
    """Every start of ``sub`` in ``text``, overlapping ones included (brute force)."""
    return [i for i in range(len(text) - len(sub) + 1) if text[i: i + len(sub)] == sub]


def parse(tokens, V, key, n):
    """Split a rendered lookup example back into (string, key, answer) by its format alone."""
    text = render(tokens, V)
    assert text[0] == "$" and text[-1] == "."
    if key == "prefix":
        k, s, a = text[1:-1].split("|")
    else:
        s, rest = text[1:-1].split("|")
        k, a = rest[:n], rest[n:]
    return s, k, a


@pytest.mark.parametrize("key", ["prefix", "suffix"])
@pytest.mark.parametrize("unique", [True, False])
@pytest.mark.parametrize("seed", range(15))
def test_lookup_answer_is_what_follows_the_key_in_the_string(key, unique, seed):
    rng = random.Random(seed)
    V, n, a = rng.choice([3, 5, 26]), rng.randint(1, 4), rng.choice([-1, 1, 2, 5])
    L = rng.randint(n + max(a, 1) + 3, 40)
    try:
        e = lookup_example(rng, L, V, n, a, key=key, unique_key=unique)
    except ValueError:
        assert unique  # only the uniqueness requirement can be unsatisfiable
        return
    s, k, ans = parse(e.tokens, V, key, n)
    assert len(s) == L and len(k) == n and set(s) <= set("abcdefghijklmnopqrstuvwxyz"[:V])
    hits = occurrences(s, k)
    assert hits, "the key is an n-gram of the string"
    if unique:
        assert len(hits) == 1
    follow = s[hits[0] + n:]
    assert ans == (follow[:a] if a > 0 else follow)
    assert len(ans) == (a if a > 0 else L - n - hits[0]) and len(ans) >= 1
    # the prompt ends right before the answer; only the answer and '.' are targets
    assert e.prompt_len == len(e.tokens) - len(ans) - 1
    assert e.target_mask == [False] * e.prompt_len + [True] * (len(ans) + 1)
    assert render(e.answer, V) == ans + "."


def test_key_positions_match_brute_force():
    for seed in range(200):
        rng = random.Random(seed)
        V, n, a = rng.choice([2, 3, 4]), rng.randint(1, 3), rng.choice([-1, 1, 3])
        s = random_string(rng, rng.randint(n + max(a, 1), 25), V)
        text = render(s, V)
        room = [p for p in range(len(s)) if p + n + max(a, 1) <= len(s)]
        assert key_positions(s, n, a, unique_key=False) == room
        assert key_positions(s, n, a, unique_key=True) == [p for p in room if len(occurrences(text, text[p:p + n])) == 1]


def test_hand_checked_lookup_examples():
    V = 4  # a b c d, then $ | . *
    s = [0, 1, 2, 0, 1, 3, 3, 2]  # "abcabddc"
    assert render(lookup_example_of(s, 2, V, 2, 2, "prefix").tokens, V) == "$ca|abcabddc|bd."
    assert render(lookup_example_of(s, 5, V, 2, 1, "suffix").tokens, V) == "$abcabddc|ddc."
    # a repeated key ("ab" at 0 and 3): the answer follows the first occurrence, as in the official code
    assert render(lookup_example_of(s, 3, V, 2, 3, "suffix").tokens, V) == "$abcabddc|abcab."
    assert render(lookup_example_of(s, 4, V, 2, -1, "prefix").tokens, V) == "$bd|abcabddc|dc."


def test_unique_key_is_refused_when_impossible_and_short_strings_are_refused():
    with pytest.raises(ValueError, match="unique"):
        lookup_example(random.Random(0), 40, 2, 1, 1, unique_key=True)  # both letters repeat
    with pytest.raises(ValueError, match="cannot hold"):
        lookup_example(random.Random(0), 4, 26, 3, 2)


def test_keys_are_drawn_among_all_candidates():
    seen = set()
    for seed in range(300):
        e = lookup_example(random.Random(seed), 12, 26, 2, 2, key="prefix")
        s, k, _ = parse(e.tokens, 26, "prefix", 2)
        seen.add(s.index(k))
    assert seen == set(range(12 - 2 - 2 + 1))  # every start with room for a full answer


@pytest.mark.parametrize("seed", range(30))
def test_duplicated_string_plants_one_repeat_and_changes_nothing_else(seed):
    rng = random.Random(seed)
    L, V = rng.randint(8, 40), rng.choice([4, 26])
    n = rng.randint(1, L // 2)
    s, (p, q) = duplicated_string(random.Random(seed), L, V, n)
    original = random_string(random.Random(seed), L, V)  # the same draws come first
    assert len(s) == L and abs(p - q) >= n
    assert s[p:p + n] == s[q:q + n] == original[p:p + n]
    assert [i for i in range(L) if s[i] != original[i]] == [i for i in range(q, q + n) if s[i] != original[i]]
    assert len(occurrences(render(s, V), render(s[p:p + n], V))) >= 2
    e = duplicate_ngram_example(random.Random(seed), L, V, n)
    assert render(e.tokens, V) == "$" + render(s, V) + "|" + render(s, V) + "."


def test_duplicated_string_with_n_zero_is_plain_and_impossible_sizes_are_refused():
    s, pq = duplicated_string(random.Random(3), 10, 26, 0)
    assert s == random_string(random.Random(3), 10, 26) and pq == (0, 0)
    with pytest.raises(ValueError):
        duplicated_string(random.Random(0), 5, 26, 3)


@pytest.mark.parametrize("key", ["prefix", "suffix"])
def test_lookup_datamodule_packs_rows_and_scores_only_answers(key):
    dm = NgramLookupDataModule(key=key, alphabet=6, n_gram=2, answer_len=2, min_train_len=6, max_train_len=9,
                               context_len=40, batch_size=3, seed=5)
    b = dm.train_batch(rng_for(5, "train", 0))
    assert b["inputs"].shape == (3, 40) and torch.equal(b["inputs"][:, 1:], b["targets"][:, :-1])
    eos = special_ids(6)["eos"]
    for row_t, row_m in zip(b["targets"], b["loss_mask"]):
        scored = row_t[row_m].tolist()
        assert len(scored) % 3 == 0 and len(scored) > 0  # whole answers (2 letters + '.') only
        assert all(t == eos for t in scored[2::3]) and all(t < 6 for i, t in enumerate(scored) if i % 3 != 2)
    again = dm.train_batch(rng_for(5, "train", 0))
    assert torch.equal(b["inputs"], again["inputs"])


def test_lookup_datamodule_eval_sets_and_checks():
    dm = NgramLookupDataModule(key="suffix", alphabet=26, n_gram=3, answer_len=3, min_train_len=6, max_train_len=10,
                               context_len=30, val_lengths=[10], test_lengths=[10, 30], eval_examples=8)
    data = dm.eval_data("test")
    assert list(data) == ["len=10", "len=30"]
    batch = data["len=30"][0]
    assert batch["prompt"].shape == (8, 1 + 30 + 1 + 3) and batch["answer"].shape == (8, 4)
    assert dm.max_eval_tokens() == 30 + 3 + 3 + 4
    with pytest.raises(ValueError, match="context_len"):
        NgramLookupDataModule(max_train_len=30, context_len=30)
    # a key off its list: tests/common/test_bad_input.py (trial L3, the parser's Literal check)


def test_duplicate_datamodule_tests_each_n_on_strings_with_a_repeat():
    dm = DuplicateNgramDataModule(ngram_sizes=[0, 2, 4], dup_length=12, alphabet=26, max_train_len=8,
                                  context_len=20, val_lengths=[8], eval_examples=6)
    assert dm.eval_set_names("val") == ["len=8"]
    test = dm.eval_data("test")
    assert list(test) == ["n=0", "n=2", "n=4"]
    for k in (2, 4):
        for row in test[f"n={k}"][0]["prompt"]:
            s = render(row[1:-1].tolist(), 26)
            assert len(s) == 12 and any(len(occurrences(s, s[i:i + k])) >= 2 for i in range(12 - k + 1))
    with pytest.raises(ValueError, match="ngram_sizes"):
        DuplicateNgramDataModule(ngram_sizes=[7], dup_length=12)


@pytest.mark.parametrize("module", ["ngram_lookup", "duplicate_ngram"])
def test_doctests(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(f"replications.repeat_after_me.{module}"))
    assert result.attempted > 0 and result.failed == 0
