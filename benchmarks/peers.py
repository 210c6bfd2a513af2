"""The project's Transformer against Hugging Face ``LlamaForCausalLM`` at the IsTree paper's sizes.

    python -m benchmarks.peers                 # 0.5M / 1M / 2M, batch 64 x 128
    python -m benchmarks.peers --quick --threads 1
    python -m benchmarks.peers --threads 2 --repeats 9   # a steadier median

"RNNs are not Transformers (Yet)" trains ``LlamaForCausalLM`` from its official configs
(``0.5m_transformer`` d64 x 8, ``1m_transformer`` d64 x 16, ``2m_transformer`` d128 x 12; 4 heads,
MLP 256, RMSNorm, rotary positions on the whole head, SwiGLU, no biases; our configs of that paper
use the same). Both models are built with those shapes,
checked to have equal parameter counts, and timed on the same batch, one full training step each
(forward, loss, backward, AdamW step), interleaved A B A B so drifting load hits both alike.
"""
from __future__ import annotations

import argparse

import torch

from benchmarks.common import interleaved, table
from common.models import Transformer

VOCAB = 32
SIZES = {  # (d_model, n_layer), 4 heads and MLP 256 throughout
    "0.5M": (64, 8),
    "1M": (64, 16),
    "2M": (128, 12),
}


def ours(d: int, n_layer: int, seq: int) -> torch.nn.Module:
    return Transformer(VOCAB, d_model=d, n_layer=n_layer, n_head=4, d_ff=256, norm="rms", mlp="swiglu",
                       bias=False, position="rope", rope_fraction=1.0, max_seq_len=seq)


def llama(d: int, n_layer: int, seq: int) -> torch.nn.Module:
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(vocab_size=VOCAB, hidden_size=d, intermediate_size=256, num_hidden_layers=n_layer,
                      num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=seq,
                      tie_word_embeddings=False, attn_implementation="sdpa")
    return LlamaForCausalLM(cfg)


def train_step(model, logits_of, x):
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)

    def step():
        logits = logits_of(model, x[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), x[:, 1:].flatten())
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    return step


def run(batch: int = 64, seq: int = 128, repeats: int = 3) -> str:
    rows = []
    for name, (d, n_layer) in SIZES.items():
        torch.manual_seed(0)
        a, b = ours(d, n_layer, seq), llama(d, n_layer, seq)
        pa, pb = (sum(p.numel() for p in m.parameters()) for m in (a, b))
        x = torch.randint(0, VOCAB, (batch, seq + 1))
        steps = {"ours": train_step(a, lambda m, i: m(i), x),
                 "llama": train_step(b, lambda m, i: m(input_ids=i).logits, x)}
        for f in steps.values():
            f()  # warm-up
        t = interleaved(steps, repeats=repeats)
        rows.append([name, f"{pa:,}", f"{pb:,}", f"{t['ours'] * 1e3:.0f}", f"{t['llama'] * 1e3:.0f}",
                     f"{t['llama'] / t['ours']:.2f}"])
    header = ["size", "params ours", "params llama", "ours ms/step", "llama ms/step", "speed-up (llama/ours)"]
    return (f"Training step, batch {batch} x {seq}, {torch.get_num_threads()} thread(s), median of {repeats} "
            f"interleaved repeats\n" + table(header, rows))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="batch 16, 2 repeats")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--repeats", type=int, default=None, help="interleaved repeats (default 3; 2 with --quick)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(run(batch=16 if args.quick else 64, repeats=args.repeats or (2 if args.quick else 3)))


if __name__ == "__main__":
    main()
