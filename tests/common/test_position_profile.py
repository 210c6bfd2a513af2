"""Accuracy by answer position: checked on scripted copiers whose errors are known, and against a run's own metrics."""
import json

import pytest
import torch

from common.load import load_run
from common.models.base import ForwardOnly
from common.position_profile import main, profile
from replications.repeat_after_me.data import CopyDataModule

ALPHABET = 5


class ScriptedCopier(ForwardOnly):
    """Copies the prompt's string, with a wrong token at answer position ``k``; with ``compound``, also
    wherever the previous answer token in its context is not the string's (so errors chain under greedy decoding)."""

    def __init__(self, k: int, compound: bool):
        super().__init__()
        self.vocab_size, self.k, self.compound = ALPHABET + 4, k, compound
        self.sep, self.eos = ALPHABET + 1, ALPHABET + 2

    def forward(self, idx):
        logits = torch.zeros(*idx.shape, self.vocab_size)
        for b, row in enumerate(idx.tolist()):
            sep = row.index(self.sep)
            truth = row[1:sep] + [self.eos]
            for t in range(sep, len(row)):
                j = t - sep
                want = truth[j] if j < len(truth) else self.eos
                wrong = j == self.k or (self.compound and j > 0 and row[t] != truth[j - 1])
                logits[b, t, (want + 1) % ALPHABET if wrong else want] = 1.0
        return logits


def batches(length=6, n=12):
    dm = CopyDataModule(alphabet=ALPHABET, min_train_len=2, max_train_len=length, context_len=4 * length,
                        val_lengths=[length], test_lengths=[length], batch_size=2, eval_examples=n)
    return dm.eval_data("test")[f"len={length}"]


def test_an_error_at_one_position_is_found_there():
    prof = profile(ScriptedCopier(k=3, compound=False), batches())
    assert prof.scored == [12] * 7 and prof.answers == 12
    assert prof.teacher_forced == [12, 12, 12, 0, 12, 12, 12]
    assert prof.greedy == prof.teacher_forced  # the wrong token does not mislead later positions
    assert prof.first_error == [0, 0, 0, 12, 0, 0, 0] and prof.exact == 0.0


def test_greedy_errors_compound_where_teacher_forcing_does_not():
    prof = profile(ScriptedCopier(k=2, compound=True), batches())
    assert prof.teacher_forced == [12, 12, 0, 12, 12, 12, 12]
    assert prof.greedy == [12, 12, 0, 0, 0, 0, 0]
    assert prof.first_error[2] == 12 and prof.greedy_accuracy == pytest.approx(24 / 84)


@pytest.fixture(scope="module")
def run_dir(tiny_transformer_run):
    """One trained tiny Transformer run (200 steps: some answers right, some wrong)."""
    return tiny_transformer_run(200, lr=0.01)


def test_a_runs_profile_matches_its_recorded_test_metrics(run_dir):
    final = json.loads((run_dir / "result.json").read_text())["final"]
    module, data = load_run(run_dir)
    for name, sets in data.eval_data("test").items():
        prof = profile(module.model, sets)
        assert prof.greedy_accuracy == pytest.approx(final[f"acc_token@{name}"], abs=1e-6)
        assert prof.exact == pytest.approx(final[f"acc_seq@{name}"], abs=1e-6)


def test_the_command_prints_a_table_per_set(run_dir, capsys):
    capsys.readouterr()
    assert main([str(run_dir), "--sets", "len=5", "--bin", "2"]) == 0
    out = capsys.readouterr().out
    assert "**len=5** (8 answers" in out and "**len=3**" not in out
    rows = [line for line in out.splitlines() if line.startswith("| ") and "answer positions" not in line]
    assert [r.split("|")[1].strip() for r in rows] == ["1-2", "3-4", "5-6", "all"]  # 6 answer tokens by 2


def test_unknown_set_names_what_there_is(run_dir, capsys):
    capsys.readouterr()
    assert main([str(run_dir), "--sets", "len=99"]) == 2
    assert "no test set named len=99; this run has: len=3, len=5" in capsys.readouterr().err
