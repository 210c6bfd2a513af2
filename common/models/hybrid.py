"""Hybrid: a recurrent stack (Mamba, LSTM or GRU blocks) with one attention layer at a chosen depth.

The hybrid of "RNNs are not Transformers (Yet)" (Wen, Dang, Lyu, ICLR 2025; official
``rnn/hybrid.py``): N Mamba blocks -> final norm -> **one** LLaMA decoder layer (RMSNorm,
attention with RoPE, SwiGLU MLP, no biases) -> LM head tied to the embedding, with no norm
after the attention layer. That is the default (``attn_layer=None``: on top). With
``attn_layer=i < n_layer`` the attention layer sits before recurrent block i and the final norm
comes after the last block. The attention mask is causal with -inf (the official code used an
additive -100 after its April 2024 fix; before it, no mask at all).

Decoding state: each recurrent block's state plus the attention layer's KV cache, so
``state_size(seq_len)`` is constant recurrent state + 2 * d_model * seq_len.

Init: every part owns its init. Embedding N(0, 0.02) and each Mamba out_proj Kaiming-uniform /
sqrt(n_layer), as mamba_ssm (and ``MambaLM``); Mamba's SSM parameters keep the block's own
init; LSTM/GRU and the attention layer keep PyTorch's default init (the official attention layer
is a bare ``LlamaDecoderLayer``, which HF's model-level init never reaches).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal, get_args

import torch
from torch import nn

from common.models.base import SequenceModel
from common.models.attention import AttentionBackend
from common.models.embedding import Embedding, apply_embedding, check_embedding
from common.models.gru_cpu import implementation, run_rnn
from common.models.mamba import Mamba, MambaBackend, RMSNorm, scan_name
from common.models.transformer import Block, attention_backend_name

Mixer = Literal["mamba", "lstm", "gru"]
MIXERS = get_args(Mixer)
Norm = Literal["layer", "rms"]


def _recurrent_norm(kind: str, d_model: int) -> nn.Module:
    """Norm of the recurrent blocks and the final norm: mamba_ssm's RMSNorm or LayerNorm, both eps 1e-5."""
    return RMSNorm(d_model) if kind == "rms" else nn.LayerNorm(d_model, eps=1e-5)


class RecurrentBlock(nn.Module):
    """Pre-norm residual block around one recurrent mixer: x + mixer(norm(x))."""

    def __init__(self, d_model: int, mixer: str, norm: str, **mamba_kwargs):
        super().__init__()
        self.kind = mixer
        self.norm = _recurrent_norm(norm, d_model)
        if mixer == "mamba":
            self.mixer = Mamba(d_model, **mamba_kwargs)
        else:
            self.mixer = (nn.LSTM if mixer == "lstm" else nn.GRU)(d_model, d_model, batch_first=True)
        self.ran: set[str] = set()  # LSTM/GRU code that training forwards ran (a Mamba mixer keeps its own)

    def forward(self, x):
        if self.kind == "mamba":
            return x + self.mixer(self.norm(x))
        h = self.norm(x)
        if torch.is_grad_enabled():
            self.ran.add(implementation(self.mixer, h))
        return x + run_rnn(self.mixer, h)[0]

    def implementation(self, weight: torch.Tensor) -> str:
        """What a training forward of this LSTM/GRU block on ``weight``'s device and dtype runs."""
        return implementation(self.mixer, weight[:1, None], grad=True)

    def init_state(self, batch_size: int, device=None):
        return self.mixer.init_state(batch_size, device) if self.kind == "mamba" else None  # torch RNNs: zeros

    def step(self, x, state):
        y, state = self.mixer.step(self.norm(x), state) if self.kind == "mamba" else self.mixer(self.norm(x), state)
        return x + y, state

    def state_size(self) -> int:
        if self.kind == "mamba":
            return self.mixer.d_inner * (self.mixer.d_state + self.mixer.d_conv)
        return self.mixer.hidden_size * (2 if self.kind == "lstm" else 1)


@dataclass
class HybridState:
    """Per recurrent block its state, the attention layer's KV cache, and the tokens seen."""

    layers: list
    kv: dict = field(default_factory=lambda: {"k": None, "v": None})
    length: int = 0


class Hybrid(SequenceModel):
    """Recurrent LM with one attention layer.

    Args:
        vocab_size: number of token ids.
        d_model: width; n_layer: recurrent blocks (the attention layer comes on top of these).
        mixer: "mamba", "lstm" or "gru".
        attn_layer: depth of the attention layer, 0..n_layer (None: n_layer, on top, as the paper).
        n_head, d_ff: attention heads and SwiGLU hidden width (default 4 * d_model).
        norm: norm of the recurrent blocks and the final norm, "rms" (the official hybrid: its
            ``MambaConfig`` defaults to ``rms_norm=True``) or "layer"; the attention layer always uses
            RMSNorm (LLaMA).
        d_state, d_conv, expand, mamba_backend: Mamba block settings (see ``Mamba``).
        attention_backend: see ``Transformer``.
        max_seq_len: longest sequence accepted (None: unbounded; RoPE is relative).
        embedding: "learned" or "sinusoidal" (frozen, tied; see ``common.models.embedding``).
    """

    def __init__(self, vocab_size: int, d_model: int = 64, n_layer: int = 2, mixer: Mixer = "mamba",
                 attn_layer: int | None = None, n_head: int = 4, d_ff: int | None = None, norm: Norm = "rms",
                 d_state: int = 16, d_conv: int = 4, expand: int = 2, mamba_backend: MambaBackend = "auto",
                 attention_backend: AttentionBackend = "auto", tie_embeddings: bool = True,
                 max_seq_len: int | None = None, embedding: Embedding = "learned"):
        super().__init__()
        check_embedding(embedding, tie_embeddings)
        if mixer not in MIXERS:
            raise ValueError(f"unknown mixer={mixer!r}; choose one of {MIXERS}")
        if norm not in get_args(Norm):
            raise ValueError(f"unknown norm={norm!r}; choose 'layer' or 'rms'")
        self.attn_layer = n_layer if attn_layer is None else attn_layer
        if not 0 <= self.attn_layer <= n_layer:
            raise ValueError(f"attn_layer={attn_layer} must lie in [0, n_layer={n_layer}] (None: on top)")
        if d_model % n_head:
            raise ValueError(f"d_model={d_model} is not divisible by n_head={n_head}")
        self.vocab_size, self.d_model, self.n_layer, self.mixer = vocab_size, d_model, n_layer, mixer
        self._max_seq_len = max_seq_len
        mamba_kwargs = {}
        if mixer == "mamba":
            mamba_kwargs = dict(d_state=d_state, d_conv=d_conv, expand=expand, backend=mamba_backend)
        self.embedding = nn.Embedding(vocab_size, d_model)
        self.layers = nn.ModuleList(RecurrentBlock(d_model, mixer, norm, **mamba_kwargs) for _ in range(n_layer))
        self.norm_f = _recurrent_norm(norm, d_model)
        # LLaMA decoder layer: RMSNorm, RoPE on the whole head, SwiGLU, no biases.
        self.attention = Block(d_model, n_head, d_ff or 4 * d_model, "rope", 1.0, 0, "rms", "swiglu", False,
                               attention_backend)
        self.lm_head = nn.Linear(d_model, vocab_size, bias=False)
        if tie_embeddings:
            self.lm_head.weight = self.embedding.weight
        self._init_weights()
        apply_embedding(self.embedding, self.lm_head, embedding)

    @torch.no_grad()
    def _init_weights(self) -> None:
        """Only what mamba_ssm's model-level init sets; every block keeps its own init otherwise."""
        nn.init.normal_(self.embedding.weight, std=0.02)
        for layer in self.layers:
            if layer.kind == "mamba":
                w = layer.mixer.out_proj.weight
                nn.init.kaiming_uniform_(w, a=math.sqrt(5))
                w /= math.sqrt(self.n_layer)

    @property
    def max_seq_len(self):
        return self._max_seq_len

    def _run(self, idx: torch.Tensor, state: HybridState | None):
        offset = state.length if state is not None else 0
        T = idx.shape[1]
        if self._max_seq_len is not None and offset + T > self._max_seq_len:
            raise ValueError(f"sequence of {offset + T} tokens exceeds max_seq_len={self._max_seq_len}")
        positions = torch.arange(offset, offset + T, device=idx.device)
        kv = state.kv if state is not None else None
        h = self.embedding(idx)
        for i, layer in enumerate(self.layers):
            if i == self.attn_layer:
                h = self.attention(h, positions, kv)
            if state is None:
                h = layer(h)
            else:
                h, state.layers[i] = layer.step(h, state.layers[i])
        h = self.norm_f(h)
        if self.attn_layer == self.n_layer:  # on top, after the final norm (official code)
            h = self.attention(h, positions, kv)
        if state is not None:
            state.length += T
        return self.lm_head(h)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return self._run(idx, None)

    def init_state(self, batch_size: int, device=None) -> HybridState:
        return HybridState([layer.init_state(batch_size, device) for layer in self.layers])

    def step(self, idx: torch.Tensor, state: HybridState):
        return self._run(idx, state), state

    def state_size(self, seq_len: int) -> int:
        """Recurrent states (constant) plus the attention layer's keys and values (2 * d_model per token)."""
        return sum(layer.state_size() for layer in self.layers) + 2 * self.d_model * seq_len

    @property
    def backend(self) -> str:
        """E.g. "mamba:c_scan+attn:sdpa": the code that ran the recurrent blocks and the attention layer
        (see ``MambaLM.backend`` and ``RNNLM.backend`` for the names)."""
        w = self.lm_head.weight
        if self.mixer == "mamba":
            rec = scan_name([layer.mixer for layer in self.layers], w)
        else:
            ran = sorted(set().union(*(layer.ran for layer in self.layers)))
            rec = ",".join(ran) if ran else (self.layers[0].implementation(w) if self.layers else "none")
        return f"{self.mixer}:{rec}+attn:{attention_backend_name([self.attention], w)}"
