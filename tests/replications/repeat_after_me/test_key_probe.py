"""The key probe: checked on scripted copiers whose key length is known, and on a trained tiny run."""
import itertools

import pytest
import torch

from common.models.base import ForwardOnly
from replications.repeat_after_me import key_probe
from replications.repeat_after_me.copy_task import special_ids
from replications.repeat_after_me.data import DuplicateNgramDataModule, NgramLookupDataModule
from replications.repeat_after_me.key_probe import ideal_accuracy, probe, strings_of

ALPHABET = 26


class FirstMatchCopier(ForwardOnly):
    """Copies by a k-token key, deterministically: it finds the first place in the prompt ``$ s |`` whose
    preceding k tokens equal the last k it emitted (the copy aligned with ``$``, as in ``ngram_copier``)
    and emits the token there (the end marker where that is the separator)."""

    def __init__(self, k: int):
        super().__init__()
        self.k, self.vocab_size = k, ALPHABET + 4
        ids = special_ids(ALPHABET)
        self.bos, self.sep, self.eos = ids["bos"], ids["sep"], ids["eos"]

    def forward(self, idx):
        logits = torch.zeros(*idx.shape, self.vocab_size)
        for b, row in enumerate(idx.tolist()):
            sep = row.index(self.sep)
            source = row[: sep + 1]
            for t in range(sep, len(row)):
                key = ([self.bos] + row[sep + 1: t + 1])[-self.k:]
                j = next((j for j in range(1, len(source)) if source[max(0, j - len(key)): j] == key), None)
                out = self.eos if j is None or source[j] == self.sep else source[j]
                logits[b, t, out] = 1.0
        return logits


def test_a_copiers_key_length_is_where_its_accuracy_drops():
    rows = {r["n"]: r for r in probe(FirstMatchCopier(3), ALPHABET, length=12, ngrams=[0, 1, 2, 3, 4], keys=[2, 3, 4],
                                     examples=64)}
    for n in (0, 1, 2):
        assert rows[n]["model"] >= 0.9, (n, rows[n])
    for n in (3, 4):  # the planted 3-gram sends the first-match copier back to its first occurrence
        assert rows[n]["model"] <= 0.15, (n, rows[n])
    # The ideal copier picks among the candidates at random: two ambiguous picks of 1/2 at n = k.
    assert rows[3]["key3"] == pytest.approx(0.25, abs=0.05) and rows[3]["key4"] >= 0.85
    assert rows[2]["key2"] <= 0.3 and rows[2]["key3"] >= 0.85


def test_the_probe_strings_are_the_planted_ones():
    dm = DuplicateNgramDataModule(ngram_sizes=[3], dup_length=10, alphabet=ALPHABET, eval_examples=20)
    strings = strings_of(dm.eval_data("test")["n=3"], ALPHABET)
    assert len(strings) == 20 and all(len(s) == 10 for s in strings)
    for s in strings:  # brute force: some 3-gram occurs at two non-overlapping places
        assert any(s[p: p + 3] == s[q: q + 3] for p, q in itertools.combinations(range(8), 2) if q - p >= 3)
    assert ideal_accuracy([[0, 1, 2, 3]], 1) == 1.0 and ideal_accuracy([[0, 0, 1]], 1) == pytest.approx(1 / 4)


@pytest.fixture(scope="module")
def run_dir(tiny_transformer_run):
    return tiny_transformer_run(20)


def test_the_command_prints_one_row_per_ngram(run_dir, capsys):
    capsys.readouterr()
    assert key_probe.main([str(run_dir), "--length", "6", "--ngrams", "0", "3", "--keys", "2", "3", "--examples", "8"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| n = ")]
    assert [r.split("|")[1].strip() for r in rows] == ["n = 0", "n = 3"]
    assert all(len(r.split("|")) == 6 for r in rows)  # n, the run, two ideal copiers


def test_impossible_ngrams_and_other_tasks_are_refused(run_dir, capsys, monkeypatch):
    with pytest.raises(SystemExit):
        key_probe.main([str(run_dir), "--length", "6", "--ngrams", "4"])
    assert "need 0 <= n and 2n <= --length (6)" in capsys.readouterr().err
    lookup = NgramLookupDataModule(alphabet=ALPHABET, n_gram=2, min_train_len=6, max_train_len=8, context_len=40,
                                   val_lengths=[8])
    import common.load

    monkeypatch.setattr(common.load, "load_run", lambda path: (None, lookup))
    assert key_probe.main([str(run_dir)]) == 2
    assert "NgramLookupDataModule run; the key probe needs a copying run" in capsys.readouterr().err
