"""LSTM and GRU language models behind the shared interface (the copying paper's LSTM baseline)."""
from __future__ import annotations

from typing import Literal, get_args

import torch
from torch import nn

from common.models.base import SequenceModel
from common.models.gru_cpu import implementation, run_rnn

Cell = Literal["lstm", "gru"]


class RNNLM(SequenceModel):
    """Embedding -> stacked LSTM/GRU -> linear head.

    Init follows the copying paper's official LSTM: uniform embeddings in [-0.1, 0.1];
    recurrent weights keep PyTorch's uniform(+-1/sqrt(d)).
    """

    def __init__(self, vocab_size: int, d_model: int = 128, n_layer: int = 1, cell: Cell = "lstm",
                 dropout: float = 0.0, tie_embeddings: bool = False):
        super().__init__()
        if cell not in get_args(Cell):
            raise ValueError(f"unknown cell={cell!r}; choose 'lstm' or 'gru'")
        self.vocab_size, self.d_model, self.n_layer, self.cell = vocab_size, d_model, n_layer, cell
        self.wte = nn.Embedding(vocab_size, d_model)
        rnn_cls = nn.LSTM if cell == "lstm" else nn.GRU
        self.rnn = rnn_cls(d_model, d_model, num_layers=n_layer, batch_first=True, dropout=dropout if n_layer > 1 else 0.0)
        self.drop = nn.Dropout(dropout)
        self.lm_head = nn.Linear(d_model, vocab_size)
        nn.init.uniform_(self.wte.weight, -0.1, 0.1)
        if tie_embeddings:
            self.lm_head.weight = self.wte.weight
        self.ran: set[str] = set()  # implementations that training forwards ran (provenance)

    def forward(self, idx):
        x = self.drop(self.wte(idx))
        if torch.is_grad_enabled():
            self.ran.add(implementation(self.rnn, x))
        out, _ = run_rnn(self.rnn, x)
        return self.lm_head(self.drop(out))

    def init_state(self, batch_size, device=None):
        return None  # PyTorch starts from zeros

    def step(self, idx, state):
        out, state = self.rnn(self.drop(self.wte(idx)), state)
        return self.lm_head(self.drop(out)), state

    def state_size(self, seq_len: int) -> int:
        return self.n_layer * self.d_model * (2 if self.cell == "lstm" else 1)

    @property
    def backend(self) -> str:
        """The recurrence code the training passes ran (comma-joined if several), else the one they would run here.

        GRU on CPU: "c_gru" (C time loops) or "torch_gru" (PyTorch ops: ``LIMITS_CPU_KERNELS=0`` or
        no C compiler); LSTM on CPU: "torch" (``nn.LSTM``); on CUDA: "cudnn".
        """
        if self.ran:
            return ",".join(sorted(self.ran))
        return implementation(self.rnn, self.wte.weight[:1, None], grad=True)


class LSTM(RNNLM):
    """LSTM language model."""

    def __init__(self, vocab_size: int, d_model: int = 128, n_layer: int = 1, dropout: float = 0.0,
                 tie_embeddings: bool = False):
        super().__init__(vocab_size, d_model, n_layer, "lstm", dropout, tie_embeddings)


class GRU(RNNLM):
    """GRU language model."""

    def __init__(self, vocab_size: int, d_model: int = 128, n_layer: int = 1, dropout: float = 0.0,
                 tie_embeddings: bool = False):
        super().__init__(vocab_size, d_model, n_layer, "gru", dropout, tie_embeddings)
