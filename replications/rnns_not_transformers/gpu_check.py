"""One-command check of the paper-scale IsTree figure on a GPU machine (under 10 minutes; not run here).

    python -m replications.rnns_not_transformers.gpu_check

1. Parity: the 2M Mamba and hybrid with the mamba_ssm kernels against the same weights on the
   pure-PyTorch scan (full forward, fp32, a 2,500-token retrieval sequence at n = 64), and the kernel
   forward against step-by-step decoding (the path generation uses).
2. Time: 20 training steps (batch 64, fp32) of each 2M family at n = 64, for cot and retrieval.
3. Time: one retrieval-generation batch (128 graphs, n = 64) with the in-context retriever.
4. Projection: fig3.yaml's cost on one GPU from these numbers (78,125 steps per run, 4 n x 3 formats
   x 3 models; n < 64 scaled by sequence length), plus the final 5,000-graph evaluations.
"""
from __future__ import annotations

import random
import time

import torch
import torch.nn.functional as F

from common.decoding import retrieval_generate_batch
from common.lit.datamodule import eval_batches
from common.models import Hybrid, MambaLM, Transformer
from replications.rnns_not_transformers.data import IsTreeDataModule

STEPS = 78_125
FAMILIES = {
    "transformer": lambda v, **k: Transformer(v, 128, 12, 4, 256, norm="rms", mlp="swiglu", bias=False, embedding="sinusoidal"),
    "mamba": lambda v, backend="auto": MambaLM(v, 128, 18, d_state=16, expand=2, embedding="sinusoidal", backend=backend),
    "hybrid": lambda v, backend="auto": Hybrid(v, 128, 14, n_head=4, d_ff=256, d_state=16, expand=2,
                                               embedding="sinusoidal", mamba_backend=backend),
}


def sync():
    torch.cuda.synchronize()


def parity(dev) -> None:
    dm = IsTreeDataModule(n_nodes=64, format="retrieval", batch_size=2)
    batch = dm.train_batch(random.Random(0))
    idx = batch["inputs"].to(dev)
    for name in ("mamba", "hybrid"):
        torch.manual_seed(0)
        fast = FAMILIES[name](dm.vocab_size, backend="mamba_ssm").to(dev)
        ref = FAMILIES[name](dm.vocab_size, backend="torch").to(dev)
        ref.load_state_dict(fast.state_dict())
        with torch.no_grad():
            a, b = fast(idx), ref(idx)
            state, outs = fast.init_state(idx.shape[0], dev), []
            for t in range(64):
                logits, state = fast.step(idx[:, t:t + 1], state)
                outs.append(logits)
            steps = torch.cat(outs, dim=1)
        print(f"parity {name}: L={idx.shape[1]}, kernel vs torch max |diff| {float((a - b).abs().max()):.2e}; "
              f"kernel forward vs step decoding (first 64 tokens) {float((a[:, :64] - steps).abs().max()):.2e}")


def time_training(dev) -> dict:
    out = {}
    for fmt in ("cot", "retrieval"):
        dm = IsTreeDataModule(n_nodes=64, format=fmt, batch_size=64)
        batches = [{k: v.to(dev) for k, v in dm.train_batch(random.Random(i)).items()} for i in range(4)]
        for name, build in FAMILIES.items():
            model = build(dm.vocab_size).to(dev)
            opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
            for i in range(25):
                if i == 5:
                    sync()
                    t0 = time.perf_counter()
                b = batches[i % 4]
                loss = F.cross_entropy(model(b["inputs"]).flatten(0, 1),
                                       b["targets"].masked_fill(~b["loss_mask"], -100).flatten(), ignore_index=-100)
                opt.zero_grad()
                loss.backward()
                opt.step()
            sync()
            out[(name, fmt)] = (time.perf_counter() - t0) / 20
            print(f"train {name} n=64 {fmt}: {out[(name, fmt)] * 1000:.1f} ms/step (batch 64, L={batches[0]['inputs'].shape[1]}, "
                  f"backend {model.backend})")
    return out


def time_generation(dev) -> float:
    dm = IsTreeDataModule(n_nodes=64, format="retrieval", eval_examples=128, eval_batch_size=128)
    rng = random.Random(1)
    batch = eval_batches([dm._example(rng) for _ in range(128)], 128, dm.pad_id)[0]
    model = FAMILIES["mamba"](dm.vocab_size).to(dev).eval()
    sync()
    t0 = time.perf_counter()
    with torch.no_grad():
        retrieval_generate_batch(model, batch["prompt"].to(dev), batch["answer"].shape[1], dm.retriever)
    sync()
    s = time.perf_counter() - t0
    print(f"generation: one batch of {len(batch['prompt'])} graphs, n=64 retrieval, "
          f"{batch['answer'].shape[1]} new tokens: {s:.1f} s")
    return s


def main() -> None:
    if not torch.cuda.is_available():
        raise SystemExit("gpu_check needs a CUDA device")
    dev = torch.device("cuda")
    print(torch.cuda.get_device_name(), torch.__version__)
    parity(dev)
    train = time_training(dev)
    gen = time_generation(dev)
    # Sequence length grows ~linearly in n (3n prompt tokens; a retrieval trace of up to 40n): scale n = 64's
    # step time by n / 64 (an upper bound for attention's quadratic part is not attempted).
    total = 0.0
    for (name, fmt), s in train.items():
        total += sum(s * n / 64 for n in (16, 32, 64, 128)) * STEPS
    no_cot = sum(train[(m, "cot")] for m in FAMILIES) * 0.5 * sum(n / 64 for n in (16, 32, 64, 128)) * STEPS
    evals = gen * (5000 / 128) * 3 * 4 * 3  # final 5,000-graph test + 2 validations per run, all runs, at most
    print(f"projected fig3.yaml on this GPU, one run at a time: training {(total + no_cot) / 3600:.1f} h, "
          f"evaluation <= {evals / 3600:.1f} h (retrieval generation bound)")


if __name__ == "__main__":
    main()
