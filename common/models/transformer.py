"""Decoder-only Transformer with NoPE, RoPE, ALiBi or Hard-ALiBi positions (one file, nanoGPT style).

Pre-norm blocks; LayerNorm + GELU MLP (GPT-style, as the copying paper's GPT-NeoX models) or
RMSNorm + SwiGLU (LLaMA-style, as the official code of "RNNs are not Transformers (Yet)").
Decoding keeps a KV cache; ``step`` on a cache equals ``forward`` on the whole sequence.
Attention runs on the kernel ``attention_backend`` names ("auto": flash-attn / FlexAttention /
SDPA as ``attention.resolve`` decides); ``backend`` reports the ones that actually ran.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

import torch
import torch.nn.functional as F
from torch import nn

from common.models.attention import AttentionBackend, Pattern, attention, check_backend, resolve
from common.models.base import SequenceModel
from common.models.embedding import Embedding, apply_embedding, check_embedding
from common.models.mamba import RMSNorm
from common.models.positions import Position, apply_rope, rope_tables

Norm = Literal["layer", "rms"]
MLPKind = Literal["gelu", "swiglu"]


def make_norm(kind: str, dim: int) -> nn.Module:
    if kind == "layer":
        return nn.LayerNorm(dim)
    if kind == "rms":  # not nn.RMSNorm: its forward + backward costs 1.7x these few ops on a CPU (benchmarks.md)
        return RMSNorm(dim, eps=1e-6)
    raise ValueError(f"unknown norm={kind!r}; choose 'layer' or 'rms'")


class MLP(nn.Module):
    def __init__(self, d_model: int, d_ff: int, kind: str, bias: bool):
        super().__init__()
        if kind not in get_args(MLPKind):
            raise ValueError(f"unknown mlp={kind!r}; choose 'gelu' or 'swiglu'")
        self.kind = kind
        self.up = nn.Linear(d_model, d_ff * (2 if kind == "swiglu" else 1), bias=bias)
        self.down = nn.Linear(d_ff, d_model, bias=bias)

    def forward(self, x):
        if self.kind == "swiglu":  # gate and value from the halves of ``up``'s weight: see ``split_linear``
            gate, h = split_linear(x, self.up, 2)
            return self.down(F.silu(gate) * h)
        return self.down(F.gelu(self.up(x)))


def split_linear(x: torch.Tensor, linear: nn.Linear, parts: int) -> list[torch.Tensor]:
    """``linear(x).chunk(parts, -1)`` as one product per chunk of the weight: the outputs come out
    contiguous, which makes the step after them (and the backward's gradient, no longer a concat)
    cheaper; fused q/k/v and gate/up stay one parameter each. 1.2x faster forward + backward for
    the SwiGLU MLP on a CPU at the IsTree paper's sizes (``docs/benchmarks.md``)."""
    biases = linear.bias.chunk(parts) if linear.bias is not None else [None] * parts
    return [F.linear(x, w, b) for w, b in zip(linear.weight.chunk(parts), biases)]


class SelfAttention(nn.Module):
    def __init__(self, d_model: int, n_head: int, position: str, rope_fraction: float, num_masked_heads: int,
                 bias: bool, backend: str):
        super().__init__()
        self.n_head, self.head_dim = n_head, d_model // n_head
        self.pattern = Pattern(position, n_head, num_masked_heads)
        check_backend(backend, self.pattern)
        self.backend = backend
        self.ran: set[str] = set()  # kernels that actually ran (provenance)
        self.rot_dim = 2 * int(self.head_dim * rope_fraction / 2) if position == "rope" else 0
        self.qkv = nn.Linear(d_model, 3 * d_model, bias=bias)
        self.proj = nn.Linear(d_model, d_model, bias=bias)

    def forward(self, x, positions, cache=None, memo=None):
        """x (B, T, C) at absolute ``positions``; ``cache`` is this layer's KV cache, ``memo`` the pass's masks."""
        B, T, C = x.shape
        q, k, v = (t.view(B, T, self.n_head, self.head_dim).transpose(1, 2) for t in split_linear(x, self.qkv, 3))
        if self.rot_dim:
            cos, sin = rope_tables(self.rot_dim, positions, dtype=q.dtype)
            q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        if cache is not None:  # append to the KV cache of this layer
            if cache["k"] is not None:
                k, v = torch.cat([cache["k"], k], dim=2), torch.cat([cache["v"], v], dim=2)
            cache["k"], cache["v"] = k, v
        kernel = resolve(self.backend, self.pattern, q)
        self.ran.add(kernel)
        y = attention(q, k, v, self.pattern, kernel, memo)  # (B, H, T, D)
        return self.proj(y.transpose(1, 2).reshape(B, T, C))


class Block(nn.Module):
    def __init__(self, d_model, n_head, d_ff, position, rope_fraction, num_masked_heads, norm, mlp, bias, backend):
        super().__init__()
        self.norm1, self.norm2 = make_norm(norm, d_model), make_norm(norm, d_model)
        self.attn = SelfAttention(d_model, n_head, position, rope_fraction, num_masked_heads, bias, backend)
        self.mlp = MLP(d_model, d_ff, mlp, bias)

    def forward(self, x, positions, cache=None, memo=None):
        x = x + self.attn(self.norm1(x), positions, cache, memo)
        return x + self.mlp(self.norm2(x))


@dataclass
class KVCache:
    layers: list[dict]
    length: int = 0


class Transformer(SequenceModel):
    """Decoder-only Transformer language model.

    Args:
        vocab_size: number of token ids.
        d_model, n_layer, n_head: width, depth, heads.
        d_ff: MLP hidden width (default 4 * d_model).
        position: "nope", "rope", "alibi" or "hard_alibi".
        rope_fraction: share of each head's dims that RoPE rotates (GPT-NeoX default 0.25, LLaMA 1.0).
        num_masked_heads: Hard-ALiBi heads with a window (head h sees h+1 keys); the rest are NoPE.
        max_seq_len: longest sequence accepted (None: unbounded; every scheme here is relative).
        norm: "layer" or "rms"; mlp: "gelu" or "swiglu"; bias: biases in linear layers.
        attention_backend: "auto", "sdpa", "naive", "flex" or "flash_attn" (see ``attention.py``);
            a forced backend that cannot run here fails at construction.
        embedding: "learned" or "sinusoidal" (a frozen sinusoidal table tied to the LM head, see
            ``common.models.embedding``; needs ``tie_embeddings``).
    """

    def __init__(
        self,
        vocab_size: int,
        d_model: int = 64,
        n_layer: int = 2,
        n_head: int = 4,
        d_ff: int | None = None,
        position: Position = "rope",
        rope_fraction: float = 1.0,
        num_masked_heads: int = 0,
        max_seq_len: int | None = None,
        norm: Norm = "layer",
        mlp: MLPKind = "gelu",
        bias: bool = True,
        tie_embeddings: bool = True,
        attention_backend: AttentionBackend = "auto",
        embedding: Embedding = "learned",
    ):
        super().__init__()
        check_embedding(embedding, tie_embeddings)
        if d_model % n_head:
            raise ValueError(f"d_model={d_model} is not divisible by n_head={n_head}")
        check_backend(attention_backend, Pattern(position, n_head, num_masked_heads))  # validates position too
        if not 0.0 <= rope_fraction <= 1.0:
            raise ValueError(f"rope_fraction={rope_fraction} must lie in [0, 1]")
        self.vocab_size, self.d_model, self.n_layer, self.n_head = vocab_size, d_model, n_layer, n_head
        self._max_seq_len, self._backend = max_seq_len, attention_backend
        self.wte = nn.Embedding(vocab_size, d_model)
        self.blocks = nn.ModuleList(
            Block(d_model, n_head, d_ff or 4 * d_model, position, rope_fraction, num_masked_heads, norm, mlp, bias,
                  attention_backend)
            for _ in range(n_layer)
        )
        self.norm_f = make_norm(norm, d_model)
        self.lm_head = nn.Linear(d_model, vocab_size, bias=False)
        if tie_embeddings:
            self.lm_head.weight = self.wte.weight
        self.apply(self._init_weights)
        for name, p in self.named_parameters():  # GPT-2 scaled init of residual projections
            if name.endswith(("attn.proj.weight", "mlp.down.weight")):
                nn.init.normal_(p, mean=0.0, std=0.02 / (2 * n_layer) ** 0.5)
        apply_embedding(self.wte, self.lm_head, embedding)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    @property
    def max_seq_len(self):
        return self._max_seq_len

    @property
    def backend(self) -> str:
        """Kernels that ran so far ("flash_attn", "sdpa", ...; comma-joined if several), else the one that would."""
        return attention_backend_name(self.blocks, self.wte.weight)

    def _run(self, idx, cache: KVCache | None):
        offset = cache.length if cache is not None else 0
        T = idx.shape[1]
        if self._max_seq_len is not None and offset + T > self._max_seq_len:
            raise ValueError(f"sequence of {offset + T} tokens exceeds max_seq_len={self._max_seq_len}")
        positions = torch.arange(offset, offset + T, device=idx.device)
        x = self.wte(idx)
        memo: dict = {}  # masks shared by the layers of this pass
        for i, block in enumerate(self.blocks):
            x = block(x, positions, cache.layers[i] if cache is not None else None, memo)
        if cache is not None:
            cache.length += T
        return self.lm_head(self.norm_f(x))

    def forward(self, idx):
        return self._run(idx, None)

    def init_state(self, batch_size, device=None):
        return KVCache([{"k": None, "v": None} for _ in range(self.n_layer)])

    def step(self, idx, state):
        return self._run(idx, state), state

    def state_size(self, seq_len: int) -> int:
        return 2 * self.n_layer * self.d_model * seq_len


def attention_backend_name(blocks, weight: torch.Tensor) -> str:
    """What ``blocks`` (with an ``attn`` each) ran, or what a call on ``weight``'s device and dtype would run."""
    ran = sorted(set().union(*(b.attn.ran for b in blocks)))
    if not blocks:
        return "none"
    if ran:
        return ",".join(ran)
    a = blocks[0].attn
    return resolve(a.backend, a.pattern, weight.new_empty(1, a.n_head, 1, a.head_dim))
