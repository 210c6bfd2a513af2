"""Models owned by this replication: a selective diagonal SSM whose recurrent state is quantised
to p bits at every step (E1-E4b), and a hand-set counter SSM run in a chosen float dtype (E4a).

``QuantSSM`` makes the state budget of Theorem 1 explicit. Per layer l and step t:

    u_t = input of the layer at t (layer 1: the embedding of the last ``context`` tokens)
    a_t = sigmoid(W_a u_t + c_a)                     (input-dependent decay, in (0, 1)^d)
    h_t = Q_p( a_t * h_{t-1} + (1 - a_t) * tanh(W_b u_t) )
    x_{l+1, t} = x_{l, t} + MLP([h_t, u_t])

The update is affine in h (input-dependent coefficients, as the paper's SSM) and a convex
combination, so h stays in [-1, 1], the range of the p-bit grid Q_p (2^p levels, straight-through
gradient in training). With ``bits=None`` Q_p is the identity (float32 state). A state is then one of
at most 2^(n_layer * d_state * bits) values, plus the ``context - 1`` buffered token ids: the count
``state_bits`` reports and the bounds in ``bounds.py`` use. The scan runs step by step (rounding
after every step cannot be parallelised), so ``forward`` and ``step`` share one loop and agree.
"""
from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from common.models.base import SequenceModel
from replications.limits_dl.quantize import quantize

__all__ = ["QuantSSM", "CounterSSM"]


class _QuantizeSTE(torch.autograd.Function):
    """``quantize.quantize_ste`` on [-1, 1] as one autograd node (the scan calls it every step):
    forward the p-bit grid value, backward identity inside [-1, 1] and zero outside."""

    @staticmethod
    def forward(ctx, x, bits):
        ctx.save_for_backward(x.abs() <= 1)
        return quantize(x, bits, -1.0, 1.0)

    @staticmethod
    def backward(ctx, g):
        (inside,) = ctx.saved_tensors
        return g * inside, None


class _QuantSSMLayer(nn.Module):
    """One diagonal selective SSM layer with a p-bit state and an MLP readout of [h_t, u_t]."""

    def __init__(self, d_model: int, d_state: int, bits: int | None, d_hidden: int, decay_bias: float,
                 readout_depth: int = 1):
        super().__init__()
        self.d_state = d_state
        self.norm = nn.LayerNorm(d_model)
        self.gate = nn.Linear(d_model, d_state)
        self.write = nn.Linear(d_model, d_state)
        self.bits = bits
        hidden = [m for _ in range(readout_depth - 1) for m in (nn.Linear(d_hidden, d_hidden), nn.GELU())]
        self.readout = nn.Sequential(nn.Linear(d_state + d_model, d_hidden), nn.GELU(), *hidden,
                                     nn.Linear(d_hidden, d_model))
        nn.init.constant_(self.gate.bias, decay_bias)

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, T, d_model), h (B, d_state) before x -> (x + readout (B, T, d_model), last h)."""
        out, states = self.scan(x, h)
        return out, states[:, -1]

    def scan(self, x: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Like ``forward`` but returns every state (B, T, d_state)."""
        u = self.norm(x)
        a = torch.sigmoid(self.gate(u))
        w = (1 - a) * torch.tanh(self.write(u))  # both (B, T, d_state), computed in parallel
        hs = []
        for a_t, w_t in zip(a.unbind(1), w.unbind(1)):
            h = a_t * h + w_t
            if self.bits is not None:
                h = _QuantizeSTE.apply(h, self.bits)
            hs.append(h)
        states = torch.stack(hs, dim=1)
        return x + self.readout(torch.cat([states, u], dim=-1)), states


class QuantSSM(SequenceModel):
    """Embedding of the last ``context`` tokens -> ``n_layer`` quantised SSM layers -> norm -> head.

    Args:
        vocab_size: filled in from the data.
        d_model: width of the residual stream.
        d_state: numbers in each layer's recurrent state (the theorems' d).
        n_layer: stacked layers (E2 depth contrast).
        bits: p, bits per state number; None keeps the state in float32.
        context: tokens seen by the input embedding (1: the current token only; 2: also the previous
            one, like a width-2 causal convolution); the ``context - 1`` buffered ids are state too.
        d_hidden: width of each layer's readout MLP (default 4 * d_model).
        readout_depth: hidden layers of that MLP (the readout is any function of [h_t, u_t]; depth
            makes the double table look-up of composition learnable, it adds no state).
        decay_bias: initial bias of the decay gate. Default (None): 4 for a float state (a = 0.98 at
            init, so early tokens still reach the last position's loss) and 0 for a quantised one
            (a = 0.5): with a = 0.98 the write (1 - a) tanh(.) <= 0.02 is far below half a grid step
            for p <= 3, so every update rounds away and the state never moves at init.
    """

    def __init__(self, vocab_size: int, d_model: int = 64, d_state: int = 16, n_layer: int = 1,
                 bits: int | None = None, context: int = 2, d_hidden: int | None = None, readout_depth: int = 1,
                 decay_bias: float | None = None):
        super().__init__()
        if decay_bias is None:
            decay_bias = 4.0 if bits is None else 0.0
        if d_model < 1 or d_state < 1 or n_layer < 1:
            raise ValueError("d_model, d_state and n_layer must be >= 1")
        if context < 1:
            raise ValueError(f"context={context} must be >= 1")
        self.vocab_size, self.d_model, self.d_state, self.n_layer = vocab_size, d_model, d_state, n_layer
        self.bits, self.context = bits, context
        self.embed = nn.ModuleList(nn.Embedding(vocab_size, d_model) for _ in range(context))
        self.layers = nn.ModuleList(_QuantSSMLayer(d_model, d_state, bits, d_hidden or 4 * d_model, decay_bias, readout_depth)
                                    for _ in range(n_layer))
        self.norm_f = nn.LayerNorm(d_model)
        self.lm_head = nn.Linear(d_model, vocab_size, bias=False)
        for e in self.embed:
            nn.init.normal_(e.weight, std=0.5)

    def _embed(self, idx: torch.Tensor, prev: torch.Tensor) -> torch.Tensor:
        """Sum of per-offset embeddings of tokens t, t-1, ..., with ``prev`` (B, context-1) before idx."""
        full = torch.cat([prev, idx], dim=1)
        T, c = idx.shape[1], self.context
        x = self.embed[0](idx)
        for k in range(1, c):
            x = x + self.embed[k](full[:, c - 1 - k: c - 1 - k + T])
        return x

    def init_state(self, batch_size: int, device=None):
        """(buffered previous token ids (B, context-1), padded with <pad> = 0; per-layer zero states)."""
        device = self.lm_head.weight.device if device is None else device
        prev = torch.zeros(batch_size, self.context - 1, dtype=torch.long, device=device)
        hs = [torch.zeros(batch_size, self.d_state, device=device) for _ in self.layers]
        return prev, hs

    def step(self, idx: torch.Tensor, state):
        prev, hs = state
        x = self._embed(idx, prev)
        new_hs = []
        for layer, h in zip(self.layers, hs):
            x, h = layer(x, h)
            new_hs.append(h)
        new_prev = torch.cat([prev, idx], dim=1)[:, idx.shape[1]:] if self.context > 1 else prev
        return self.lm_head(self.norm_f(x)), (new_prev, new_hs)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return self.step(idx, self.init_state(idx.shape[0], idx.device))[0]

    @torch.no_grad()
    def states(self, idx: torch.Tensor) -> list[torch.Tensor]:
        """Every layer's state after every token, [(B, T, d_state)] (to inspect the p-bit grid)."""
        prev, hs = self.init_state(idx.shape[0], idx.device)
        x, out = self._embed(idx, prev), []
        for layer, h in zip(self.layers, hs):
            x, traj = layer.scan(x, h)
            out.append(traj)
        return out

    def state_size(self, seq_len: int) -> int:
        """Floats carried between steps: n_layer * d_state (plus context - 1 token ids)."""
        return self.n_layer * self.d_state + self.context - 1

    def state_bits(self, bits_per_buffered_token: float) -> float | None:
        """Upper bound on the information a state holds: n_layer d_state p plus the buffered tokens
        (``bits_per_buffered_token`` each, e.g. log2 n for value tokens of a domain of size n);
        None for a float32 state."""
        if self.bits is None:
            return None
        return self.n_layer * self.d_state * self.bits + (self.context - 1) * bits_per_buffered_token


DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32, "float64": torch.float64}


class CounterSSM(SequenceModel):
    """Hand-set one-channel SSM (eigenvalue 1, +1 on ``up`` tokens, -1 on ``down`` tokens) whose state
    is kept and updated in ``dtype``, one add per token (E4a). Its greedy completion of a prefix such
    as a^n b is ``down`` while the count is positive, then ``<eos>``: exact while the float counter
    is exact, wrong from the first count it cannot represent (``counter.predicted_failure``).

    Args:
        vocab_size: filled in from the data.
        up, down, stop: token ids that increment, decrement, and end the answer (defaults: the ids of
            ``a``, ``b`` and ``<eos>`` in ``vocab.VOCAB``).
        dtype: name of the state's float dtype ("bfloat16", "float16", "float32", "float64").
    """

    def __init__(self, vocab_size: int, up: int | None = None, down: int | None = None, stop: int | None = None,
                 dtype: Literal["bfloat16", "float16", "float32", "float64"] = "float32"):
        super().__init__()
        from replications.limits_dl.vocab import VOCAB

        if dtype not in DTYPES:
            raise ValueError(f"dtype={dtype!r}: choose one of {sorted(DTYPES)}")
        self.vocab_size, self.dtype_name = vocab_size, dtype
        up = VOCAB.id("a") if up is None else up
        down = VOCAB.id("b") if down is None else down
        self.stop = VOCAB.eos_id if stop is None else stop
        self.down = down
        inc = torch.zeros(vocab_size)
        inc[up], inc[down] = 1.0, -1.0
        # B of the SSM (input -> increment) and its eigenvalue are hand-set buffers, never trained.
        # The one parameter scales the logits (it cannot change an argmax while positive), so the
        # shared training loop has something to step: the E4a configs run one step at lr 0.
        self.register_buffer("increment", inc)
        self.register_buffer("eigenvalue", torch.ones(()))
        self.logit_scale = nn.Parameter(torch.ones(()))

    @property
    def dtype(self) -> torch.dtype:
        return DTYPES[self.dtype_name]

    def init_state(self, batch_size: int, device=None):
        device = self.increment.device if device is None else device
        return torch.zeros(batch_size, dtype=self.dtype, device=device)

    def _logits(self, h: torch.Tensor) -> torch.Tensor:
        out = torch.zeros(*h.shape, self.vocab_size, device=h.device)
        pos = h > 0
        out[..., self.down] = torch.where(pos, 1.0, -1.0)
        out[..., self.stop] = torch.where(pos, -1.0, 1.0)
        return out * self.logit_scale

    def step(self, idx: torch.Tensor, state: torch.Tensor):
        lam = self.eigenvalue.to(self.dtype)
        inc = self.increment.to(self.dtype)[idx]  # (B, T) in dtype
        h, hs = state, []
        for t in range(idx.shape[1]):
            h = lam * h + inc[:, t]  # one multiply-add per token, in dtype
            hs.append(h)
        return self._logits(torch.stack(hs, dim=1)), h

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return self.step(idx, self.init_state(idx.shape[0], idx.device))[0]

    def state_size(self, seq_len: int) -> int:
        return 1

    def state_bits(self) -> int:
        return torch.finfo(self.dtype).bits
