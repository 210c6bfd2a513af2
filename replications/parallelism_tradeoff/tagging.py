"""TaggingLM: the shared SequenceLM, scored on one label per input position.

Training is SequenceLM's (cross-entropy where ``loss_mask`` is set; the task puts the labels
in ``targets``, aligned with ``inputs`` rather than shifted). Evaluation differs: the label of
every position is the argmax of one causal forward pass over the input, with no decoding, as
in the paper's token-tagging setup. The task's evaluation batches carry the input as
``prompt`` and the labels as ``answer`` (see ``word_problem.eval_example``).
"""
from __future__ import annotations

import torch

from common.lit.module import SequenceLM


class TaggingLM(SequenceLM):
    """SequenceLM for tagging tasks: predictions at every input position from one forward pass."""

    tags_every_position = True

    def generate_answers(self, batch) -> torch.Tensor:
        prompt, answer = batch["prompt"], batch["answer"]
        if prompt.shape != answer.shape:
            raise ValueError(f"a tagging batch needs one label per input token; got inputs {tuple(prompt.shape)} "
                             f"and labels {tuple(answer.shape)}")
        return self.model(prompt).argmax(-1)
