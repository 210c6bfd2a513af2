"""Mamba (Gu & Dao, 2023): the selective-SSM mixer and a language model built from it.

``Mamba`` uses the parameter names and shapes of ``mamba_ssm.modules.mamba_simple.Mamba``, so a
mixer state dict loads in either; ``MambaLM`` names its modules like mamba_ssm's
``MambaLMHeadModel`` (backbone.embedding, backbone.layers.i.{norm,mixer}, backbone.norm_f,
lm_head). The pure-PyTorch path runs anywhere; the mamba-ssm CUDA kernels (``pip install
'.[gpu]'``) are imported only when a forward pass actually uses them.
"""
from __future__ import annotations

import math
from typing import Literal, get_args

import torch
import torch.nn.functional as F
from torch import nn

from common import backends
from common.models.base import SequenceModel
from common.models.embedding import Embedding, apply_embedding, check_embedding
from common.models.scan import implementation, selective_scan

__all__ = ["Mamba", "MambaLM"]

MambaBackend = Literal["auto", "torch", "mamba_ssm"]
BACKENDS = get_args(MambaBackend)
Norm = Literal["rms", "layer"]
DtInit = Literal["random", "constant"]
_KERNEL_DTYPES = (torch.float32, torch.float16, torch.bfloat16)


def _up(t: torch.Tensor) -> torch.Tensor:
    """At least float32 (float64 stays float64)."""
    return t.to(torch.promote_types(t.dtype, torch.float32))


def _check_backend(backend: str) -> None:
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend={backend!r}; choose one of {BACKENDS}")
    if backend == "mamba_ssm":
        backends.require("mamba_ssm")


def _kernel_usable(x: torch.Tensor) -> bool:
    """The CUDA kernels need CUDA tensors of a dtype they were built for."""
    return x.is_cuda and x.dtype in _KERNEL_DTYPES


def _resolve_backend(backend: str, x: torch.Tensor) -> str:
    """The path a forward on ``x`` takes ("auto" falls back to torch; a forced backend is kept)."""
    if backend == "auto":
        return "mamba_ssm" if _kernel_usable(x) and backends.importable("mamba_ssm")[0] else "torch"
    return backend


class Mamba(nn.Module):
    """One selective-SSM mixer: in_proj -> causal depthwise conv -> SiLU -> selective scan (gated) -> out_proj.

    The block owns the SSM initialisation (S4D-real A, D = 1, dt bias = inverse softplus of a
    log-uniform dt in [dt_min, dt_max]) and marks those parameters ``_no_reinit`` so a model-wide
    init leaves them alone; A_log and D are also marked ``_no_weight_decay``.

    Decoding state per sequence: the last ``d_conv`` conv inputs (d_inner, d_conv) and the SSM
    state (d_inner, d_state). ``step`` takes any number of new tokens.
    """

    def __init__(self, d_model: int, d_state: int = 16, d_conv: int = 4, expand: int = 2,
                 dt_rank: int | str = "auto", dt_min: float = 0.001, dt_max: float = 0.1,
                 dt_init: DtInit = "random", dt_scale: float = 1.0, dt_init_floor: float = 1e-4,
                 conv_bias: bool = True, bias: bool = False, backend: MambaBackend = "auto", chunk_size: int | None = None,
                 device=None, dtype=None):
        super().__init__()
        _check_backend(backend)
        if dt_init not in get_args(DtInit):
            raise ValueError(f"unknown dt_init={dt_init!r}; choose 'random' or 'constant'")
        if not 0 < dt_min <= dt_max:
            raise ValueError(f"need 0 < dt_min <= dt_max; got {dt_min}, {dt_max}")
        fk = {"device": device, "dtype": dtype}
        self.d_model, self.d_state, self.d_conv, self.expand = d_model, d_state, d_conv, expand
        self.d_inner = int(expand * d_model)
        self.dt_rank = math.ceil(d_model / 16) if dt_rank == "auto" else int(dt_rank)
        self.backend_pref, self.chunk_size = backend, chunk_size
        self.ran: set[str] = set()  # scan implementations that training forwards ran (provenance)

        self.in_proj = nn.Linear(d_model, 2 * self.d_inner, bias=bias, **fk)
        self.conv1d = nn.Conv1d(self.d_inner, self.d_inner, kernel_size=d_conv, groups=self.d_inner,
                                padding=d_conv - 1, bias=conv_bias, **fk)
        self.x_proj = nn.Linear(self.d_inner, self.dt_rank + 2 * d_state, bias=False, **fk)
        self.dt_proj = nn.Linear(self.dt_rank, self.d_inner, bias=True, **fk)
        A = torch.arange(1, d_state + 1, dtype=torch.float32, device=device).repeat(self.d_inner, 1)
        self.A_log = nn.Parameter(torch.log(A))  # A_log and D stay float32 whatever dtype, as in mamba_ssm
        self.D = nn.Parameter(torch.ones(self.d_inner, device=device))
        self.out_proj = nn.Linear(self.d_inner, d_model, bias=bias, **fk)
        self.reset_ssm_parameters(dt_min, dt_max, dt_init, dt_scale, dt_init_floor)

    @torch.no_grad()
    def reset_ssm_parameters(self, dt_min=0.001, dt_max=0.1, dt_init="random", dt_scale=1.0, dt_init_floor=1e-4):
        """Mamba's SSM init; called by the constructor, exposed for explicit re-initialisation."""
        std = self.dt_rank ** -0.5 * dt_scale
        if dt_init == "constant":
            nn.init.constant_(self.dt_proj.weight, std)
        else:
            nn.init.uniform_(self.dt_proj.weight, -std, std)
        # dt ~ log-uniform in [dt_min, dt_max], floored; the bias is its inverse softplus
        # (log(expm1(dt)), written stably) so that softplus(bias) == dt at init.
        dt = torch.exp(torch.rand(self.d_inner, dtype=torch.float64) * (math.log(dt_max) - math.log(dt_min))
                       + math.log(dt_min)).clamp(min=dt_init_floor)
        self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))
        self.A_log.copy_(torch.log(torch.arange(1, self.d_state + 1, dtype=torch.float64)).repeat(self.d_inner, 1))
        self.D.fill_(1.0)
        for p in (self.dt_proj.weight, self.dt_proj.bias, self.A_log, self.D):
            p._no_reinit = True
        self.A_log._no_weight_decay = True
        self.D._no_weight_decay = True

    # -- shared pieces --------------------------------------------------------------------------

    def _ssm(self, x, z, backend, initial_state=None, return_last_state=False):
        """x, z: (B, d_inner, T) after the conv; returns the gated scan output (and last state)."""
        x_dbl = self.x_proj(x.transpose(1, 2))  # (B, T, dt_rank + 2 d_state)
        dt, Bm, Cm = torch.split(x_dbl, [self.dt_rank, self.d_state, self.d_state], dim=-1)
        dt = F.linear(dt, self.dt_proj.weight).transpose(1, 2)  # bias goes in as delta_bias
        A = -torch.exp(_up(self.A_log))
        chunk = self._chunk(x)
        return selective_scan(x, dt, A, Bm.transpose(1, 2).contiguous(), Cm.transpose(1, 2).contiguous(),
                              D=_up(self.D), z=z, delta_bias=_up(self.dt_proj.bias), delta_softplus=True,
                              return_last_state=return_last_state, initial_state=initial_state,
                              backend=backend, chunk_size=chunk)

    def _chunk(self, x: torch.Tensor) -> int:
        return self.chunk_size or (1 if x.device.type == "cpu" else 64)

    def _conv_kernel(self, x):
        """Causal depthwise conv + SiLU with causal_conv1d when it imports (as mamba_ssm does)."""
        if backends.importable("causal_conv1d")[0]:
            from causal_conv1d import causal_conv1d_fn

            w = self.conv1d.weight.squeeze(1)
            return causal_conv1d_fn(x.contiguous(), w, self.conv1d.bias, activation="silu")
        return F.silu(self.conv1d(x)[..., : x.shape[-1]])

    # -- public API -----------------------------------------------------------------------------

    def backend_for(self, x: torch.Tensor) -> str:
        """Which path ``forward`` takes on ``x``: "mamba_ssm" or "torch" (the setting, resolved)."""
        return _resolve_backend(self.backend_pref, x)

    def scan_for(self, x: torch.Tensor) -> str:
        """The scan code ``forward`` runs on ``x``: "mamba_ssm", "c_scan", "torch_scan" or "chunked_scan"
        (see ``scan.implementation``, on which the scan itself dispatches)."""
        return implementation(self.backend_for(x), self._chunk(x), x.device)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        """hidden (B, L, d_model) -> (B, L, d_model), from an empty state."""
        L = hidden.shape[1]
        backend = self.backend_for(hidden)
        if backend == "mamba_ssm" and not _kernel_usable(hidden):
            raise RuntimeError(f"backend=mamba_ssm needs CUDA tensors in {_KERNEL_DTYPES}; "
                               f"got {hidden.device}, {hidden.dtype}")
        x, z = self.in_proj(hidden).transpose(1, 2).chunk(2, dim=1)  # (B, d_inner, L) each
        if backend == "mamba_ssm":
            x = self._conv_kernel(x)
        else:
            # Channels innermost from here on, as in_proj left them: x_proj, the CPU scan and the
            # gate then read every tensor in one memory order with no copies (mixed layouts made
            # the elementwise ops around the scan several times slower).
            x = F.silu(self.conv1d(x)[..., :L].transpose(1, 2).contiguous()).transpose(1, 2)
        if torch.is_grad_enabled():
            self.ran.add(implementation(backend, self._chunk(x), x.device))
        y = self._ssm(x, z, backend)
        return self.out_proj(y.transpose(1, 2))

    def init_state(self, batch_size: int, device=None, dtype=None) -> tuple[torch.Tensor, torch.Tensor]:
        """(conv buffer (B, d_inner, d_conv), ssm state (B, d_inner, d_state)), all zeros."""
        w = self.in_proj.weight
        device = w.device if device is None else device
        dtype = w.dtype if dtype is None else dtype
        conv = torch.zeros(batch_size, self.d_inner, self.d_conv, device=device, dtype=dtype)
        ssm = torch.zeros(batch_size, self.d_inner, self.d_state, device=device,
                          dtype=torch.promote_types(dtype, torch.float32))
        return conv, ssm

    def step(self, hidden: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]):
        """hidden (B, T, d_model) following ``state`` -> (output (B, T, d_model), new state).

        The conv runs over [buffer, new inputs] and the scan continues from the SSM state, so a
        prefill of T tokens and T single steps give the same outputs. Always the PyTorch path:
        the CUDA scan kernel cannot start from a state.
        """
        conv_state, ssm_state = state
        x, z = self.in_proj(hidden).transpose(1, 2).chunk(2, dim=1)
        xx = torch.cat([conv_state.to(x.dtype), x], dim=-1)  # (B, d_inner, d_conv + T)
        new_conv = xx[..., -self.d_conv:]
        # The oldest buffered input is outside the window of the first new token; drop it.
        x = F.silu(F.conv1d(xx[..., 1:], self.conv1d.weight, self.conv1d.bias, groups=self.d_inner))
        y, new_ssm = self._ssm(x, z, "torch", initial_state=ssm_state, return_last_state=True)
        return self.out_proj(y.transpose(1, 2)), (new_conv, new_ssm)


class RMSNorm(nn.Module):
    """x / rms(x) * weight, computed in at least float32 (parameter name ``weight`` as in mamba_ssm)."""

    def __init__(self, d: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x):
        xf = _up(x)
        return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight).to(x.dtype)


class _Block(nn.Module):
    """Pre-norm residual block: x + mixer(norm(x))."""

    def __init__(self, d_model: int, norm: str, **mixer_kwargs):
        super().__init__()
        self.norm = RMSNorm(d_model) if norm == "rms" else nn.LayerNorm(d_model, eps=1e-5)
        self.mixer = Mamba(d_model, **mixer_kwargs)

    def forward(self, x):
        return x + self.mixer(self.norm(x))

    def step(self, x, state):
        y, state = self.mixer.step(self.norm(x), state)
        return x + y, state


class _Backbone(nn.Module):
    def __init__(self, vocab_size: int, d_model: int, n_layer: int, norm: str, **mixer_kwargs):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, d_model)
        self.layers = nn.ModuleList([_Block(d_model, norm, **mixer_kwargs) for _ in range(n_layer)])
        self.norm_f = RMSNorm(d_model) if norm == "rms" else nn.LayerNorm(d_model, eps=1e-5)


class MambaLM(SequenceModel):
    """Embedding -> n_layer x (norm -> Mamba, residual) -> final norm -> LM head (tied by default).

    Init as mamba_ssm's ``_init_weights``: embedding N(0, 0.02); each out_proj Kaiming-uniform
    then divided by sqrt(n_layer) (one residual branch per layer); the SSM parameters keep the
    block's own init.

    backend: "torch" (no CUDA kernels: the C scan on CPU where it builds, else PyTorch ops; any
    device), "mamba_ssm" (CUDA kernels; an error if the package does not import), or "auto" (the
    kernels when they import and the model is on CUDA). The ``backend`` property names the code
    that actually ran.
    chunk_size: of the PyTorch scan; 1 is the sequential form (fastest on CPUs), larger values the
    chunked doubling form (for GPUs without the kernels); null picks 1 on CPU and 64 elsewhere.
    embedding: "learned" or "sinusoidal" (frozen, tied; see ``common.models.embedding``).
    """

    def __init__(self, vocab_size: int, d_model: int = 64, n_layer: int = 2, d_state: int = 16,
                 d_conv: int = 4, expand: int = 2, dt_rank: int | str = "auto", norm: Norm = "rms",
                 tie_embeddings: bool = True, backend: MambaBackend = "auto", chunk_size: int | None = None,
                 embedding: Embedding = "learned"):
        super().__init__()
        check_embedding(embedding, tie_embeddings)
        if norm not in get_args(Norm):
            raise ValueError(f"unknown norm={norm!r}; choose 'rms' or 'layer'")
        _check_backend(backend)
        self.vocab_size, self.d_model, self.n_layer = vocab_size, d_model, n_layer
        self.d_state, self.d_conv, self.d_inner = d_state, d_conv, int(expand * d_model)
        self.backbone = _Backbone(vocab_size, d_model, n_layer, norm, d_state=d_state, d_conv=d_conv,
                                  expand=expand, dt_rank=dt_rank, backend=backend, chunk_size=chunk_size)
        self.lm_head = nn.Linear(d_model, vocab_size, bias=False)
        if tie_embeddings:
            self.lm_head.weight = self.backbone.embedding.weight
        self._init_weights()
        apply_embedding(self.backbone.embedding, self.lm_head, embedding)

    @torch.no_grad()
    def _init_weights(self) -> None:
        nn.init.normal_(self.backbone.embedding.weight, std=0.02)
        for layer in self.backbone.layers:
            w = layer.mixer.out_proj.weight
            nn.init.kaiming_uniform_(w, a=math.sqrt(5))
            w /= math.sqrt(self.n_layer)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        h = self.backbone.embedding(idx)
        for layer in self.backbone.layers:
            h = layer(h)
        return self.lm_head(self.backbone.norm_f(h))

    def init_state(self, batch_size: int, device=None) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per layer (conv buffer, ssm state), zeros: the state before any token."""
        return [layer.mixer.init_state(batch_size, device) for layer in self.backbone.layers]

    def step(self, idx: torch.Tensor, state):
        h = self.backbone.embedding(idx)
        new_state = []
        for layer, s in zip(self.backbone.layers, state):
            h, s = layer.step(h, s)
            new_state.append(s)
        return self.lm_head(self.backbone.norm_f(h)), new_state

    def state_size(self, seq_len: int) -> int:
        """n_layer * d_inner * (d_state + d_conv) floats: SSM state plus the conv buffer, any seq_len."""
        return self.n_layer * self.d_inner * (self.d_state + self.d_conv)

    @property
    def backend(self) -> str:
        """The scan code the training passes ran (comma-joined if several), else the one they would run here.

        "c_scan" (C loop, CPU), "torch_scan" (PyTorch ops: ``LIMITS_CPU_KERNELS=0`` or no C
        compiler), "chunked_scan" (PyTorch, chunked doubling) or "mamba_ssm" (CUDA kernels).
        """
        return scan_name([layer.mixer for layer in self.backbone.layers], self.lm_head.weight)


def scan_name(mixers: list[Mamba], weight: torch.Tensor) -> str:
    """What ``mixers`` ran in forwards with gradients, or what one on ``weight``'s device and dtype would run."""
    if not mixers:
        return "none"
    ran = sorted(set().union(*(m.ran for m in mixers)))
    return ",".join(ran) if ran else mixers[0].scan_for(weight)
