"""Every benchmark in one run: ``python -m benchmarks`` (add ``--quick`` for fewer repeats).

Prints ratios that hold on a noisy machine (interleaved repeats, medians): the package's
Lightning overhead, cached vs recomputed decoding, data generation vs consumption, the C kernels
against their baselines, the Transformer against Hugging Face Llama, the training throughput of
each family, and the roofline of every CPU figure with each figure's training time.
"""
import argparse
import time

import torch

from benchmarks import cpu_kernels, datagen, decoding, lightning_overhead, peers, roofline, throughput

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("--quick", action="store_true")
ap.add_argument("--threads", type=int, default=None, help="CPU threads (1 on a shared machine)")
args = ap.parse_args()
if args.threads:
    torch.set_num_threads(args.threads)
repeats = 2 if args.quick else 3
t0 = time.time()
print(lightning_overhead.run(steps=100 if args.quick else 200, repeats=repeats), end="\n\n", flush=True)
print(decoding.run(lengths=(32, 128) if args.quick else (32, 64, 128, 256), repeats=repeats), end="\n\n", flush=True)
print(datagen.run(repeats=repeats), end="\n\n", flush=True)
print(cpu_kernels.run(repeats=repeats + 2), end="\n\n", flush=True)
print(peers.run(batch=16 if args.quick else 64, repeats=repeats), end="\n\n", flush=True)
throughput.main(["--quick"] + (["--threads", str(args.threads)] if args.threads else []))
print()
roofline.main(["--repeats", "2" if args.quick else "3"] + (["--threads", str(args.threads)] if args.threads else []))
print(f"\ntotal {time.time() - t0:.0f} s")
