#!/usr/bin/env python
"""What flushing denormal floats saves in an AutoRec Adam step.

One I-AutoRec (k=500, sigmoid / identity, Adam, the package's sparse path:
``SparseRows``, ``AutoRecNet``, ``_objective`` as ``train_autorec`` runs
them) is trained on a synthetic matrix of the chosen shape; blocks of
``--steps`` mini-batch steps alternate between denormals computed and
denormals flushed to zero (:func:`sklearn_autorec._denormals.flush_denormals`,
what ``train_autorec`` does), on the same model as it trains, so that both
modes see the same weights.  Reports the median milliseconds per step of each
phase in each mode and their ratio.

Usage::

    python benchmarks/bench_denormals.py --shape ml10m --threads 2
"""

import argparse
import contextlib
import os
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_scale import SHAPES, matrix_path  # noqa: E402
from sklearn_autorec import _torch_autorec as backend  # noqa: E402
from sklearn_autorec._denormals import flush_denormals  # noqa: E402

PHASES = ("encoder", "decoder", "backward", "adam", "step")


def step_arguments(description, threads, per_block):
    """The arguments of the one-step benchmarks (this one and bench_layout.py)."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--shape", default="ml10m", choices=sorted(SHAPES))
    p.add_argument("--cache", default="/tmp/sklearn_autorec_bench")
    p.add_argument("--threads", type=int, default=threads)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--steps", type=int, default=5, help="steps per block")
    p.add_argument("--blocks", type=int, default=4, help=f"blocks per {per_block}")
    p.add_argument("--alpha", type=float, default=300.0)
    return p


def adam_model(args, n_coords, n_rows, nnz, rating_range, mean):
    """I-AutoRec (k=500, sigmoid / identity) and its fused Adam as train_autorec
    builds them; the weight decay spreads alpha over the epoch's batches."""
    gen = torch.Generator().manual_seed(0)
    net = backend.AutoRecNet(n_coords, [500], "sigmoid", "identity", rating_range, gen,
                             torch.float32, init_output=mean)
    n_batches = int(np.ceil(n_rows / args.batch_size))
    opt = torch.optim.Adam(
        [{"params": net.penalized(), "weight_decay": args.alpha / (nnz * n_batches)},
         {"params": net.unpenalized(), "weight_decay": 0.0}], lr=1e-3, fused=True)
    return net, opt, gen


def load_items(args):
    """Set the threads, start torch's OpenMP workers (as a fit has by then) and
    load the shape's matrix as float32 item rows."""
    torch.set_num_threads(args.threads)
    (torch.rand(1 << 22) * 2).sum()
    R = sp.load_npz(matrix_path(args.shape, args.cache)).tocsr()
    return R.T.tocsr().astype(np.float32)


def main(argv=None):
    args = step_arguments(__doc__.split("\n")[0], 2, "mode").parse_args(argv)
    items = load_items(args)
    cpu = torch.device("cpu")
    chunk = backend.chunk_coords_for(items.shape[1], 500, torch.float32, cpu)  # as a fit
    data = backend.SparseRows(items, cpu, torch.float32, chunk_coords=chunk)
    n = data.nnz
    net, opt, gen = adam_model(args, data.n_coords, data.n_rows, n,
                               (float(items.data.min()), float(items.data.max())),
                               float(items.data.mean()))

    def batches():
        while True:
            order = torch.randperm(data.n_rows, generator=gen)
            yield from data.batches(order, args.batch_size)

    stream = batches()
    times = {mode: {ph: [] for ph in PHASES} for mode in ("computed", "flushed")}

    def block(mode):
        ctx = flush_denormals("cpu") if mode == "flushed" else contextlib.nullcontext()
        with ctx:
            for _ in range(args.steps):
                batch = next(stream)
                batch.by_coord()
                t0 = time.perf_counter()
                net.clear_grads()
                codes = net.encode(batch)
                t1 = time.perf_counter()
                err = net.decode_observed(codes, batch) - batch.targets
                loss = err.pow(2).sum()
                t2 = time.perf_counter()
                (loss / n).backward()
                t3 = time.perf_counter()
                opt.step()
                t4 = time.perf_counter()
                for ph, t in zip(PHASES, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t4 - t0)):
                    times[mode][ph].append(t * 1000)

    block("computed")  # warm-up: first touches of the gradient and Adam buffers
    for mode in times:
        for ph in PHASES:
            times[mode][ph].clear()
    for _ in range(args.blocks):
        block("computed")
        block("flushed")
    shape = SHAPES[args.shape]
    print(f"I-AutoRec k=500, Adam, batch {args.batch_size}, {args.shape} shape "
          f"({shape[0]:,} x {shape[1]:,}, {shape[2]:,} ratings), {args.threads} threads, "
          f"{args.blocks} blocks of {args.steps} steps per mode, interleaved; "
          f"load average {os.getloadavg()[0]:.2f}")
    print("")
    print("| phase | ms / step, denormals computed | ms / step, flushed | ratio |")
    print("|---|---:|---:|---:|")
    for ph in PHASES:
        a, b = np.median(times["computed"][ph]), np.median(times["flushed"][ph])
        print(f"| {ph} | {a:.1f} | {b:.1f} | {a / b:.2f}x |")


if __name__ == "__main__":
    main()
