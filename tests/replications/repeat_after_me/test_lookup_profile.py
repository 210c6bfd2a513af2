"""Lookup accuracy by key position: checked on a scripted solver whose reach is known, on both key placements."""
import pytest
import torch

from common.models.base import ForwardOnly
from replications.repeat_after_me import lookup_profile
from replications.repeat_after_me.copy_task import special_ids
from replications.repeat_after_me.data import NgramLookupDataModule
from replications.repeat_after_me.lookup_profile import by_key_position, key_position
from replications.repeat_after_me.ngram_lookup import lookup_example_of

ALPHABET, N, ANSWER = 26, 2, 3


class ScriptedLookup(ForwardOnly):
    """Answers an n-gram lookup right when the key's occurrence starts before string position ``reach``, and
    with a wrong first letter otherwise."""

    def __init__(self, key: str, reach: int):
        super().__init__()
        self.key, self.reach, self.vocab_size = key, reach, ALPHABET + 4
        self.ids = special_ids(ALPHABET)

    def forward(self, idx):
        logits = torch.zeros(*idx.shape, self.vocab_size)
        sep, eos = self.ids["sep"], self.ids["eos"]
        for b, row in enumerate(idx.tolist()):
            if self.key == "prefix":
                k = row[1: 1 + N]
                second = row.index(sep, 2 + N)
                string, start = row[2 + N: second], second
            else:
                first = row.index(sep)
                string, k, start = row[1:first], row[first + 1: first + 1 + N], first + N
            p = next(i for i in range(len(string)) if string[i: i + N] == k)
            truth = string[p + N: p + N + ANSWER] + [eos]
            for t in range(start, len(row)):
                j = t - start
                want = truth[j] if j < len(truth) else eos
                if j == 0 and p >= self.reach:
                    want = (want + 1) % ALPHABET
                logits[b, t, want] = 1.0
        return logits


@pytest.mark.parametrize("key", ["prefix", "suffix"])
def test_the_key_position_is_read_off_the_prompt(key):
    string = [5, 1, 2, 7, 1, 3, 9, 4, 0, 6]
    prompt_len = lookup_example_of(string, 4, ALPHABET, N, ANSWER, key).prompt_len
    tokens = lookup_example_of(string, 4, ALPHABET, N, ANSWER, key).tokens[:prompt_len]
    assert key_position(tokens, key, N) == 4  # the key (1, 3) first occurs at 4


@pytest.mark.parametrize("key", ["prefix", "suffix"])
def test_accuracy_falls_exactly_where_the_scripted_reach_ends(key):
    dm = NgramLookupDataModule(key=key, alphabet=ALPHABET, n_gram=N, answer_len=ANSWER, min_train_len=6,
                               max_train_len=8, context_len=60, val_lengths=[8], test_lengths=[16], eval_examples=96)
    counts = by_key_position(ScriptedLookup(key, reach=5), dm.eval_data("test")["len=16"], key, N)
    assert sum(c[0] for c in counts.values()) == 96
    assert set(counts) <= set(range(16 - N - ANSWER + 1)) and len(counts) > 6
    for p, (n, ok) in counts.items():
        assert ok == (n if p < 5 else 0), (p, n, ok)
    out = lookup_profile.table("len=16", counts, 5, 16, N)
    rows = [line.split("|")[1:5] for line in out.splitlines() if line.startswith("| ") and "key at" not in line]
    assert rows[0][0].strip() == "1-5" and rows[0][1].strip() == f"{16 - 4 - N}-{16 - 0 - N}"
    assert float(rows[0][3]) == 1.0 and all(float(r[3]) == 0.0 for r in rows[1:])


def test_the_command_prints_a_table_per_set_and_refuses_other_tasks(monkeypatch, capsys):
    import types

    import common.load
    from replications.repeat_after_me.data import CopyDataModule

    dm = NgramLookupDataModule(key="suffix", alphabet=ALPHABET, n_gram=N, answer_len=ANSWER, min_train_len=6,
                               max_train_len=8, context_len=60, val_lengths=[8], test_lengths=[8, 16], eval_examples=32)
    monkeypatch.setattr(common.load, "load_run", lambda path: (types.SimpleNamespace(model=ScriptedLookup("suffix", 99)), dm))
    assert lookup_profile.main(["some/run", "--sets", "len=16", "--bin", "4"]) == 0
    out = capsys.readouterr().out
    assert "**len=16**" in out and "**len=8**" not in out and "| 1-4 | 11-14 |" in out
    assert lookup_profile.main(["some/run", "--sets", "len=99"]) == 2
    assert "no test set named len=99; this run has: len=8, len=16" in capsys.readouterr().err
    copy = CopyDataModule(alphabet=ALPHABET, min_train_len=2, max_train_len=4, context_len=20, val_lengths=[4])
    monkeypatch.setattr(common.load, "load_run", lambda path: (None, copy))
    assert lookup_profile.main(["some/run"]) == 2
    assert "CopyDataModule run; the lookup profile needs an n-gram lookup run" in capsys.readouterr().err
