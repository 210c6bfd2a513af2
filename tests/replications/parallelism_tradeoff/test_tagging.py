"""TaggingLM scores every position from one forward pass: checked with models that are right by
construction (an oracle that multiplies with the table) and wrong at exactly one position."""
import lightning as L
import pytest
import torch

from common.models.base import SequenceModel
from replications.parallelism_tradeoff.data import EVAL_SET, WordProblemDataModule
from replications.parallelism_tradeoff.groups import group
from replications.parallelism_tradeoff.tagging import TaggingLM


class TableOracle(SequenceModel):
    """Logits that put all mass on the true running product; ``wrong_at`` shifts one position's answer."""

    def __init__(self, vocab_size, name="A5", wrong_at=None):
        super().__init__()
        self.vocab_size, self.table, self.wrong_at = vocab_size, torch.tensor(group(name).table), wrong_at
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def forward(self, idx):
        order = self.table.shape[0]
        acc = torch.zeros(idx.shape[0], dtype=torch.long)
        labels = torch.zeros_like(idx)
        for t in range(1, idx.shape[1]):
            acc = self.table[acc, idx[:, t].clamp(max=order - 1)]
            labels[:, t] = acc
        if self.wrong_at is not None:
            labels[:, self.wrong_at] = (labels[:, self.wrong_at] + 1) % order
        return torch.nn.functional.one_hot(labels, self.vocab_size).float() + 0 * self.dummy


@pytest.mark.parametrize("wrong_at,seq,token", [(None, 1.0, 1.0), (3, 0.0, 5 / 6), (0, 1.0, 1.0)])
def test_sequence_accuracy_needs_every_position_and_bos_is_not_scored(wrong_at, seq, token):
    dm = WordProblemDataModule(group="A5", length=6, eval_examples=40, eval_batch_size=16)
    module = TaggingLM(lambda v: TableOracle(v, wrong_at=wrong_at), vocab_size=dm.vocab_size)
    trainer = L.Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False, accelerator="cpu")
    trainer.test(module, dm, verbose=False)
    final = module.last_eval["test"]
    assert final[f"acc_seq@{EVAL_SET}"] == pytest.approx(seq)
    assert final[f"acc_token@{EVAL_SET}"] == pytest.approx(token)
    assert final[f"n@{EVAL_SET}"] == 40
