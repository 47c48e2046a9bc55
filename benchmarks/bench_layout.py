#!/usr/bin/env python
"""What the chunked batch layout saves in an AutoRec Adam step.

One I-AutoRec (k=500, sigmoid / identity, Adam, the package's sparse path:
``SparseRows``, ``AutoRecNet``, ``_objective`` as ``train_autorec`` runs
them, denormals flushed) is trained on a synthetic matrix of the chosen
shape; blocks of ``--steps`` mini-batch steps alternate between batch
layouts on the same model as it trains: one chunk (each row's entries
gathered in row order, the layout before chunking) and coordinate chunks of
each ``--chunk-kib`` size of weight rows (``chunk_coords_for`` gives the
package's choice, 4096 KiB).  Reports the median milliseconds per step of
each phase for each layout, and the time of the least weight-sized memory
traffic any exact per-entry pass has: reading the two weight matrices once
and writing their two gradients.

Usage::

    python benchmarks/bench_layout.py --shape ml10m --threads 1
    python benchmarks/bench_layout.py --shape ml10m --threads 2 --chunk-kib 1024,2048,4096,8192
"""

import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_denormals import adam_model, load_items, step_arguments  # noqa: E402
from bench_scale import SHAPES  # noqa: E402
from sklearn_autorec import _torch_autorec as backend  # noqa: E402
from sklearn_autorec._denormals import flush_denormals  # noqa: E402

PHASES = ("build", "encoder", "decoder", "backward", "adam", "step")
K = 500


def main(argv=None):
    p = step_arguments(__doc__.split("\n")[0], 1, "layout")
    p.add_argument("--chunk-kib", default="4096",
                   help="comma-separated chunk sizes in KiB of weight rows")
    args = p.parse_args(argv)
    items = load_items(args)
    cpu = torch.device("cpu")
    n_coords = items.shape[1]
    layouts = {"one chunk": backend.SparseRows(items, cpu, torch.float32)}
    package = backend.chunk_coords_for(n_coords, K, torch.float32, cpu)
    for kib in (int(x) for x in args.chunk_kib.split(",")):
        chunk = max(1, (kib << 10) // (K * 4))
        label = f"chunks of {chunk} coords ({kib} KiB)" + (
            ", the package's" if chunk == package else "")
        layouts[label] = backend.SparseRows(items, cpu, torch.float32, chunk_coords=chunk)
    n = items.nnz
    net, opt, gen = adam_model(args, n_coords, items.shape[0], n,
                               (float(items.data.min()), float(items.data.max())),
                               float(items.data.mean()))
    times = {name: {ph: [] for ph in PHASES} for name in layouts}

    def block(name):
        for _ in range(args.steps):
            rows = torch.randperm(items.shape[0], generator=gen)[:args.batch_size]
            t = [time.perf_counter()]
            batch = layouts[name].batch(rows)
            batch.by_coord()
            t.append(time.perf_counter())
            net.clear_grads()
            codes = net.encode(batch)
            t.append(time.perf_counter())
            loss = (net.decode_observed(codes, batch) - batch.targets).pow(2).sum()
            t.append(time.perf_counter())
            (loss / n).backward()
            t.append(time.perf_counter())
            opt.step()
            t.append(time.perf_counter())
            for i, ph in enumerate(PHASES[:-1]):
                times[name][ph].append(1e3 * (t[i + 1] - t[i]))
            times[name]["step"].append(1e3 * (t[-1] - t[0]))

    with flush_denormals(cpu):
        for name in layouts:  # warm-up: first touches of the buffers
            block(name)
        for name in times:
            for ph in PHASES:
                times[name][ph].clear()
        for _ in range(args.blocks):
            for name in layouts:
                block(name)
        # The least weight-sized traffic of the per-entry work: reading the two
        # (n_coords, k) weight matrices once and writing two gradient-sized buffers.
        dst = [torch.empty_like(net.encoder_weight), torch.empty_like(net.decoder_weight)]
        floor = []
        for _ in range(args.blocks * args.steps):
            t0 = time.perf_counter()
            with torch.no_grad():
                dst[0].copy_(net.encoder_weight)
                dst[1].copy_(net.decoder_weight)
            floor.append(1e3 * (time.perf_counter() - t0))
    shape = SHAPES[args.shape]
    print(f"I-AutoRec k={K}, Adam, batch {args.batch_size}, {args.shape} shape "
          f"({shape[0]:,} x {shape[1]:,}, {shape[2]:,} ratings), {args.threads} threads, "
          f"denormals flushed, {args.blocks} blocks of {args.steps} steps per layout, "
          f"interleaved; load average {os.getloadavg()[0]:.2f}")
    print("")
    names = list(layouts)
    print("| phase | " + " | ".join(f"ms / step, {name}" for name in names) + " |")
    print("|---|" + "---:|" * len(names))
    for ph in PHASES:
        cells = [f"{np.median(times[name][ph]):.1f}" for name in names]
        print(f"| {ph} | " + " | ".join(cells) + " |")
    print("")
    print(f"Reading both weight matrices once and writing two buffers of their size "
          f"(two copy_ calls): {np.median(floor):.1f} ms")


if __name__ == "__main__":
    main()
