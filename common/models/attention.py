"""Causal attention behind one call, four kernels, and the rule that picks one ("auto").

Every backend computes softmax(q k^T / sqrt(D) + bias) v for the same *pattern*: the Tq queries
are the newest Tq of the Tk keys (a full pass has Tq == Tk, a KV-cache step Tq < Tk), so query i
sees key j iff j <= i + Tk - Tq ("lower-right" causal), optionally only the ``w_h`` latest keys
in head h (Hard-ALiBi windows), optionally with ALiBi's term -slope_h * (distance).

- ``naive``: the dense (H, Tq, Tk) bias of ``positions.attention_bias`` and a softmax in at least float32.
  Readable and slow: the reference every other backend is tested against.
- ``sdpa``: ``F.scaled_dot_product_attention``. Without a positional bias it passes
  ``is_causal=True`` (Tq == Tk), nothing (Tq == 1) or a lower-right ``CausalBias`` (otherwise),
  so PyTorch may pick its fused kernels; ALiBi and windows go in as one dense additive bias (0 /
  -inf for windows), built once per forward, shared by every layer, broadcast over the batch.
- ``flex``: ``torch.nn.attention.flex_attention``: ALiBi as a ``score_mod``, causality and the
  per-head windows as a block mask, so masked blocks are skipped. Compiled on CUDA (needs
  triton); on CPU it runs eagerly, forward only (torch has no CPU backward for it).
- ``flash_attn``: ``flash_attn_func`` (CUDA, fp16/bf16): bottom-right causal, ``alibi_slopes``
  and one ``window_size`` for all heads; it cannot express Hard-ALiBi's per-head windows.

``auto`` takes flash-attn when it can run the call, else FlexAttention for per-head windows on
CUDA, else SDPA. The name of what ran is returned by ``resolve`` so results can record it. Under
CPU autocast every backend attends in fp32 (PyTorch's bf16 CPU kernels are the slower ones).
"""
from __future__ import annotations

import functools
import math
import warnings
from dataclasses import dataclass
from typing import Literal, get_args

import torch
from torch.nn.functional import scaled_dot_product_attention as sdpa

from common import backends
from common.models.positions import POSITIONS, alibi_slopes, attention_bias, hard_alibi_windows

AttentionBackend = Literal["auto", "sdpa", "naive", "flex", "flash_attn"]
BACKENDS = get_args(AttentionBackend)
_HALF = (torch.float16, torch.bfloat16)


@dataclass(frozen=True)
class Pattern:
    """Which keys each head sees and the additive positional term: all a kernel needs to know."""

    position: str
    n_head: int
    num_masked_heads: int = 0

    def __post_init__(self):
        if self.position not in POSITIONS:
            raise ValueError(f"unknown position={self.position!r}; choose one of {POSITIONS}")
        if self.position == "hard_alibi":
            hard_alibi_windows(self.n_head, self.num_masked_heads)  # validates the head count

    @property
    def has_alibi(self) -> bool:
        return self.position == "alibi"

    @property
    def windows(self) -> list[int | None] | None:
        """Per-head window sizes, or None when no head is windowed."""
        if self.position != "hard_alibi" or self.num_masked_heads == 0:
            return None
        return hard_alibi_windows(self.n_head, self.num_masked_heads)

    @property
    def plain_causal(self) -> bool:
        """No positional term in the scores (NoPE, RoPE, Hard-ALiBi with no masked head)."""
        return not self.has_alibi and self.windows is None

    @property
    def uniform_window(self) -> bool:
        """Every head sees the same keys (what flash-attn's single ``window_size`` can express)."""
        w = self.windows
        return w is None or len(set(w)) == 1


# ----- availability ------------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def available(backend: str) -> tuple[bool, str]:
    """(usable on this machine, why not): the same answer ``python -m common.doctor`` prints."""
    if backend in ("auto", "sdpa", "naive"):
        return True, "ok"
    if backend == "flex":
        ok, reason = backends.importable("flex_attention")
        if not ok:
            return False, f"torch {torch.__version__} has no FlexAttention ({reason}); it needs torch>=2.5"
        if torch.cuda.is_available() and not backends.importable("triton")[0]:
            return False, "FlexAttention on CUDA is compiled with triton, which does not import"
        return True, "ok" if torch.cuda.is_available() else "ok (CPU: eager, forward only)"
    if backend == "flash_attn":
        return backends.probe("flash_attn")
    raise ValueError(f"unknown attention_backend={backend!r}; choose one of {BACKENDS}")


def check_backend(backend: str, pattern: Pattern) -> None:
    """Fail at construction, in one line, when a forced backend cannot run this pattern here."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown attention_backend={backend!r}; choose one of {BACKENDS}")
    if backend == "flash_attn" and not pattern.uniform_window:
        raise ValueError("attention_backend=flash_attn cannot express Hard-ALiBi's per-head windows; "
                         "use attention_backend=flex or sdpa")
    ok, reason = available(backend)
    if not ok:
        raise RuntimeError(f"attention_backend={backend} is unavailable ({reason}); use attention_backend=auto or sdpa")


def resolve(backend: str, pattern: Pattern, q: torch.Tensor) -> str:
    """The kernel that runs a call on ``q`` (B, H, Tq, D): ``backend`` unless it is "auto"."""
    if backend != "auto":
        return backend
    on_gpu = q.is_cuda
    if (on_gpu and q.dtype in _HALF and q.shape[-1] <= 256 and pattern.uniform_window
            and available("flash_attn")[0]):
        return "flash_attn"
    if (on_gpu and pattern.windows is not None and q.dtype in _HALF + (torch.float32,) and q.shape[-1] >= 16
            and available("flex")[0]):
        return "flex"
    return "sdpa"


# ----- kernels -----------------------------------------------------------------------------------

def naive_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """softmax(q k^T / sqrt(d) + bias) v, computed in full. q: (B, H, Tq, D), bias: (H, Tq, Tk)."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]) + bias
    return torch.softmax(scores.to(torch.promote_types(scores.dtype, torch.float32)), dim=-1).to(q.dtype) @ v


def _memo(memo: dict | None, key, build):
    """Masks are built once per forward and shared by the layers (``memo`` lives for one pass)."""
    if memo is None:
        return build()
    if key not in memo:
        memo[key] = build()
    return memo[key]


def _positions(Tq: int, Tk: int, device):
    return torch.arange(Tk - Tq, Tk, device=device), torch.arange(Tk, device=device)


def _naive(q, k, v, pattern, memo):
    Tq, Tk = q.shape[2], k.shape[2]
    bias = _memo(memo, ("bias", Tq, Tk, q.dtype, q.device), lambda: attention_bias(
        pattern.position, pattern.n_head, *_positions(Tq, Tk, q.device), pattern.num_masked_heads, dtype=q.dtype))
    return naive_attention(q, k, v, bias)


def _sdpa(q, k, v, pattern, memo):
    Tq, Tk = q.shape[2], k.shape[2]
    if pattern.plain_causal:
        if Tq == Tk:
            return sdpa(q, k, v, is_causal=True)
        if Tq == 1:  # the newest query sees every key
            return sdpa(q, k, v)
        # is_causal=True would align the mask top-left (query i sees keys <= i): wrong with a cache.
        from torch.nn.attention.bias import causal_lower_right

        return sdpa(q, k, v, attn_mask=causal_lower_right(Tq, Tk))
    # ALiBi's bias, or the windows' 0 / -inf (a query always sees itself, so no row is all -inf).
    mask = _memo(memo, ("bias", Tq, Tk, q.dtype, q.device), lambda: attention_bias(
        pattern.position, pattern.n_head, *_positions(Tq, Tk, q.device), pattern.num_masked_heads, dtype=q.dtype))
    # Given as a (B, H, Tq, Tk) view: with the (H, Tq, Tk) mask itself, or a boolean one, PyTorch's CPU
    # kernel took about twice as long forward + backward (docs/benchmarks.md).
    return sdpa(q, k, v, attn_mask=mask.expand(q.shape[0], -1, -1, -1))


@functools.lru_cache(maxsize=None)
def _compiled_flex():
    from torch.nn.attention.flex_attention import flex_attention

    return torch.compile(flex_attention, dynamic=None)


def _flex(q, k, v, pattern, memo):
    from torch.nn.attention.flex_attention import create_block_mask, flex_attention

    if not q.is_cuda and torch.is_grad_enabled() and (q.requires_grad or k.requires_grad or v.requires_grad):
        raise RuntimeError(f"attention_backend=flex has no backward on CPU in torch {torch.__version__}; "
                           "train with attention_backend=sdpa (flex runs on CPU for inference only)")
    H, Tq, Tk = q.shape[1], q.shape[2], k.shape[2]
    dev = q.device

    def build():
        off = torch.tensor(Tk - Tq, device=dev)
        win = torch.tensor([w or Tk + 1 for w in (pattern.windows or [None] * H)], device=dev)

        def mask_mod(b, h, qi, ki):
            dist = qi + off - ki
            return (dist >= 0) & (dist < win[h])

        return create_block_mask(mask_mod, None, H, Tq, Tk, device=dev)

    block_mask = _memo(memo, ("flex", Tq, Tk, dev), build)
    score_mod = None
    if pattern.has_alibi:
        slopes = alibi_slopes(H).to(device=dev, dtype=torch.float64 if q.dtype == torch.float64 else torch.float32)
        off = torch.tensor(Tk - Tq, device=dev)

        def score_mod(score, b, h, qi, ki):
            return score - slopes[h] * (qi + off - ki)

    if q.is_cuda:
        return _compiled_flex()(q, k, v, score_mod=score_mod, block_mask=block_mask)
    with warnings.catch_warnings():  # eager on CPU by design: compiling costs more than it saves here
        warnings.filterwarnings("ignore", message=".*flex_attention called without torch.compile.*")
        return flex_attention(q, k, v, score_mod=score_mod, block_mask=block_mask)


def _flash(q, k, v, pattern, memo):
    if not (q.is_cuda and q.dtype in _HALF):
        raise RuntimeError(f"attention_backend=flash_attn needs CUDA fp16/bf16 tensors, got {q.dtype} on {q.device}; "
                           "use trainer.precision=bf16-mixed or attention_backend=sdpa")
    if not pattern.uniform_window:
        raise ValueError("attention_backend=flash_attn cannot express Hard-ALiBi's per-head windows; "
                         "use attention_backend=flex or sdpa")
    from flash_attn import flash_attn_func

    w = pattern.windows
    window = (w[0] - 1, 0) if w else (-1, -1)  # query sees keys [i - left, i]; flash aligns causal bottom-right
    slopes = alibi_slopes(pattern.n_head).to(q.device, torch.float32) if pattern.has_alibi else None
    y = flash_attn_func(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), causal=True,
                        window_size=window, alibi_slopes=slopes)  # (B, T, H, D) layout
    return y.transpose(1, 2)


_KERNELS = {"naive": _naive, "sdpa": _sdpa, "flex": _flex, "flash_attn": _flash}


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, pattern: Pattern, backend: str = "auto",
              memo: dict | None = None) -> torch.Tensor:
    """Causal attention of q (B, H, Tq, D) over k, v (B, H, Tk, D), Tq <= Tk, queries the newest."""
    if q.shape[2] > k.shape[2]:
        raise ValueError(f"more queries ({q.shape[2]}) than keys ({k.shape[2]}): queries must be the newest keys")
    kernel = _KERNELS[resolve(backend, pattern, q)]
    if q.device.type == "cpu" and torch.is_autocast_enabled("cpu"):
        # Under CPU autocast (trainer.precision: bf16-mixed) q, k, v arrive in bf16, where PyTorch's CPU
        # attention kernels run several times slower than in fp32 at small head sizes (docs/benchmarks.md):
        # attend in fp32; the projections around attention keep autocast's bf16.
        with torch.autocast("cpu", enabled=False):
            return kernel(q.float(), k.float(), v.float(), pattern, memo)
    return kernel(q, k, v, pattern, memo)
