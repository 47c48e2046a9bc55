#!/usr/bin/env python
"""Training time per epoch: the sparse AutoRec backend against the dense textbook I-AutoRec.

Both sides train the same model (I-AutoRec, k hidden units, sigmoid/identity,
masked squared error, the L2 penalty through the optimizer's weight decay on
the weight matrices only) with the same optimizer (torch Adam, fused) on the
same data, in the same process, and their epochs are interleaved
(sparse, dense, sparse, dense, ...), so the ratio dense/sparse is measured
under the same machine load; the medians over the repetitions are reported.

* sparse: the package's own path: ``SparseRows`` over the CSR (items x users),
  ``AutoRecNet`` and ``_objective`` from ``sklearn_autorec._torch_autorec``,
  run in the same loop as ``train_autorec(solver="adam")``, with denormal
  floats flushed to zero as ``train_autorec`` flushes them.  The full-batch
  pass that ``solver="lbfgs"`` (the default) pays per function evaluation is
  timed too (one closure evaluation = one pass over all ratings).
* dense: the textbook formulation: the dense ``n_items x n_users`` rating
  tensor and its mask, a batch of item rows, ``g(R_b E + mu)`` then
  ``h W^T + b`` over all users, the masked squared error.  Where a dense epoch
  would take long (ML-10M scale) only ``--dense-rows`` rows are timed and the
  time is extrapolated to the epoch (the dense cost does not depend on which
  rows are in a batch); the table says so.  The dense epoch is timed twice:
  as written (denormals computed, what the textbook code gets) and with
  denormals flushed like the sparse side (``--no-dense-flushed`` skips it),
  so that the ratio of the formulations is also shown apart from the
  floating-point mode.

Peak memory is the resident set high-water mark (``ru_maxrss``) of a fresh
subprocess per configuration that builds the data and trains a little, minus
the high-water mark right after the imports (torch alone is several hundred MB).

Usage::

    python benchmarks/bench_backend.py --scale all --out benchmarks/results/backend.md
    python benchmarks/bench_backend.py --scale ml-1m --profile
"""

import argparse
import inspect
import json
import math
import os
import platform
import resource
import shlex
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from sklearn_autorec import _torch_autorec as backend
from sklearn_autorec._denormals import flush_denormals
from sklearn_autorec.datasets import load_ratings_file, make_ratings

ML1M_PATH = "/work/shared/data/ml-1m/ratings.csv.gz"
SHAPES = {  # (n_users, n_items, n_ratings) of the real data sets
    "ml-1m": (6040, 3706, 1_000_209),
    "ml-10m": (69878, 10677, 10_000_054),
}
ALPHA = 400.0  # the lambda of the objective; only scales the weight decay
LR = 1e-3


# --------------------------------------------------------------------------- data

def datasets_for(scale, ml1m_path):
    """[(key, label), ...] of the data sets timed at ``scale``."""
    out = []
    if scale == "ml-1m":
        if ml1m_path and os.path.exists(ml1m_path):
            out.append(("ml-1m-real", "ML-1M (real)"))
        out.append(("ml-1m-synth", "ML-1M shape (synthetic)"))
    else:
        out.append(("ml-10m-synth", "ML-10M shape (synthetic)"))
    return out


def load_data(key, ml1m_path):
    """The ratings of data set ``key`` as a CSR of shape (n_users, n_items)."""
    if key == "ml-1m-real":
        return load_ratings_file(ml1m_path).ratings
    n_users, n_items, nnz = SHAPES["ml-1m" if key.startswith("ml-1m") else "ml-10m"]
    return make_ratings(n_users, n_items, density=nnz / (n_users * n_items),
                        popularity_skew=1.0, random_state=0).ratings


# --------------------------------------------------------------------------- models

def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def make_net(n_coords, k, rating_range, seed, dtype=torch.float32):
    """``AutoRecNet`` as ``train_autorec`` builds it (tolerates signature changes)."""
    kwargs = dict(n_coords=n_coords, hidden_layer_sizes=(k,), activation="sigmoid",
                  output_activation="identity", rating_range=rating_range,
                  generator=torch.Generator().manual_seed(seed), dtype=dtype)
    params = inspect.signature(backend.AutoRecNet).parameters
    if "init_output" in params:
        kwargs["init_output"] = float(np.mean(rating_range))
    return backend.AutoRecNet(**{n: v for n, v in kwargs.items() if n in params})


def adam(weights, biases, decay, device):
    groups = [{"params": weights, "weight_decay": decay},
              {"params": biases, "weight_decay": 0.0}]
    kwargs = {"fused": True} if device.type in ("cpu", "cuda") else {}
    return torch.optim.Adam(groups, lr=LR, **kwargs)


class Sparse:
    """The package's path: SparseRows + AutoRecNet + _objective + fused Adam."""

    def __init__(self, items_csr, k, batch_size, device, seed=0):
        self.device, self.batch_size = device, batch_size
        # The cache layout train_autorec chooses for this shape and device.
        chunk = backend.chunk_coords_for(items_csr.shape[1], k, torch.float32, device)
        self.data = backend.SparseRows(items_csr, device, torch.float32, chunk_coords=chunk)
        self.n = self.data.nnz
        r = items_csr.data
        self.net = make_net(self.data.n_coords, k, (float(r.min()), float(r.max())),
                            seed).to(device)
        self.n_batches = math.ceil(self.data.n_rows / batch_size)
        decay = ALPHA / (self.n * self.n_batches)  # as in train_autorec
        self.opt = adam(self.net.penalized(), self.net.unpenalized(), decay, device)
        self.gen = torch.Generator().manual_seed(seed)
        self._fixed = None

    def epoch(self, max_batches=None):
        """One epoch of ``train_autorec``'s mini-batch loop (solver='adam')."""
        with flush_denormals(self.device):
            return self._epoch(max_batches)

    def _epoch(self, max_batches):
        order = torch.randperm(self.data.n_rows, generator=self.gen).to(self.device)
        if max_batches is not None:
            order = order[:max_batches * self.batch_size]
        sse = 0.0
        for batch in self.data.batches(order, self.batch_size):
            self.net.clear_grads()  # as train_autorec clears them
            sse += backend._objective(self.net, [batch], self.n, ALPHA, 0.0, 0.0, None)
            self.opt.step()
        loss = (sse + 0.5 * ALPHA * backend._penalty(self.net)) / self.n
        sync(self.device)
        return loss

    def full_pass(self):
        """One function + gradient evaluation of the full-batch solvers (L-BFGS)."""
        with flush_denormals(self.device):
            return self._full_pass()

    def _full_pass(self):
        if self._fixed is None:  # built once per fit in train_autorec
            rows = torch.arange(self.data.n_rows, device=self.device)
            self._fixed = list(self.data.batches(rows, self.data.n_rows))
        params = list(self.net.parameters())
        for p in params:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
            else:
                p.grad.zero_()
        sse = backend._objective(self.net, self._fixed, self.n, ALPHA, 0.0, 0.0, None)
        with torch.no_grad():
            for w in self.net.penalized():
                w.grad.add_(w, alpha=ALPHA / self.n)
        loss = (sse + 0.5 * ALPHA * backend._penalty(self.net)) / self.n
        sync(self.device)
        return loss


class Dense:
    """The textbook I-AutoRec: dense item vectors, dense encoder and decoder."""

    def __init__(self, items_csr, k, batch_size, device, init_from=None, seed=0,
                 share=None):
        self.device, self.batch_size = device, batch_size
        n_items, n_users = items_csr.shape
        if share is not None:  # reuse the dense tensors (3.7 GB at ML-10M scale)
            self.R, self.M = share.R, share.M
        else:
            coo = items_csr.tocoo()
            rows = torch.as_tensor(coo.row.astype(np.int64)).to(device)
            cols = torch.as_tensor(coo.col.astype(np.int64)).to(device)
            self.R = torch.zeros((n_items, n_users), dtype=torch.float32, device=device)
            self.R[rows, cols] = torch.as_tensor(coo.data, dtype=torch.float32).to(device)
            self.M = torch.zeros((n_items, n_users), dtype=torch.bool, device=device)
            self.M[rows, cols] = True
        self.n = items_csr.nnz
        if init_from is None:
            r = items_csr.data
            init_from = make_net(n_users, k, (float(r.min()), float(r.max())), seed)
        with torch.no_grad():  # same starting point as the sparse side
            def param(t):
                return torch.nn.Parameter(t.detach().clone().to(device))
            self.E = param(init_from.encoder_weight)      # (n_users, k)
            self.mu = param(init_from.encoder_bias)       # (k,)
            self.W = param(init_from.decoder_weight)      # (n_users, k)
            self.b = param(init_from.decoder_bias)        # (n_users,)
        self.n_batches = math.ceil(n_items / batch_size)
        decay = ALPHA / (self.n * self.n_batches)
        self.opt = adam([self.E, self.W], [self.mu, self.b], decay, device)
        self.gen = torch.Generator().manual_seed(seed)

    def _sse(self, idx):
        r, m = self.R[idx], self.M[idx]
        h = torch.sigmoid(torch.addmm(self.mu, r, self.E))
        out = torch.addmm(self.b, h, self.W.t())
        return ((out - r) * m).pow(2).sum()

    def epoch(self, max_batches=None):
        order = torch.randperm(self.R.shape[0], generator=self.gen).to(self.device)
        if max_batches is not None:
            order = order[:max_batches * self.batch_size]
        for s in range(0, len(order), self.batch_size):
            self.opt.zero_grad(set_to_none=False)
            (self._sse(order[s:s + self.batch_size]) / self.n).backward()
            self.opt.step()
        sync(self.device)

    def full_pass(self, max_rows=None, chunk=None):
        """A full-batch evaluation, in chunks of rows when the dense batch is large."""
        n_items, n_users = self.R.shape
        chunk = chunk or max(1, min(n_items, 2 ** 27 // n_users))
        stop = n_items if max_rows is None else min(n_items, max_rows)
        for p in (self.E, self.mu, self.W, self.b):
            if p.grad is None:
                p.grad = torch.zeros_like(p)
            else:
                p.grad.zero_()
        for s in range(0, stop, chunk):
            idx = torch.arange(s, min(s + chunk, stop), device=self.device)
            (self._sse(idx) / self.n).backward()
        with torch.no_grad():
            for w in (self.E, self.W):
                w.grad.add_(w, alpha=ALPHA / self.n)
        sync(self.device)
        return stop


# --------------------------------------------------------------------------- timing

def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    fn(*args, **kwargs)
    return time.perf_counter() - start


def time_scale(key, label, csr_ui, args, device, log):
    """Interleaved timings of one data set; returns the table rows."""
    items = csr_ui.T.tocsr()
    n_items, n_users = items.shape
    rows = []
    big = key.startswith("ml-10m")
    dense_rows = args.dense_rows if args.dense_rows is not None else (2048 if big else None)
    reps = args.epochs if args.epochs is not None else (2 if big else 3)
    t0 = time.perf_counter()
    dense_shared = None
    for bs in args.batch_size:
        sp = Sparse(items, args.hidden, bs, device)
        dn = Dense(items, args.hidden, bs, device, init_from=sp.net, share=dense_shared)
        dense_shared = argparse.Namespace(R=dn.R, M=dn.M)  # not the parameters
        dense_batches = None if dense_rows is None else max(2, math.ceil(dense_rows / bs))
        dense_batches = None if dense_batches and dense_batches >= dn.n_batches else dense_batches
        # warm-up: first touches of every buffer, kernels, allocator
        sp.epoch(max_batches=2)
        dn.epoch(max_batches=2)
        ts, td, ratio, tf, ratio_f = [], [], [], [], []
        scale = 1.0 if dense_batches is None else dn.n_batches / dense_batches
        for rep in range(reps):
            a = timed(sp.epoch)
            b = timed(dn.epoch, max_batches=dense_batches) * scale
            ts.append(a)
            td.append(b)
            ratio.append(b / a)
            msg = f"  {label} batch {bs} rep {rep}: sparse {a:.3f}s dense {b:.3f}s"
            if args.dense_flushed:
                with flush_denormals(device):
                    c = timed(dn.epoch, max_batches=dense_batches) * scale
                tf.append(c)
                ratio_f.append(c / a)
                msg += f" dense flushed {c:.3f}s"
            log(f"{msg} ratio {b / a:.2f}")
        note = "" if dense_batches is None else (
            f"{dense_batches} of {dn.n_batches} batches timed, extrapolated")
        rows.append(dict(data=label, key=key, method="sparse (package)", solver="adam",
                         batch=bs, sec=float(np.median(ts)), times=ts, ratio=None, note=""))
        rows.append(dict(data=label, key=key, method="dense (textbook)", solver="adam",
                         batch=bs, sec=float(np.median(td)), times=td,
                         ratio=float(np.median(ratio)), note=note))
        if args.dense_flushed:
            rows.append(dict(data=label, key=key, method="dense (textbook), denormals flushed",
                             solver="adam", batch=bs, sec=float(np.median(tf)), times=tf,
                             ratio=float(np.median(ratio_f)), note=note))
        if bs == args.batch_size[0] and not args.no_lbfgs:
            # full-batch pass (L-BFGS function + gradient evaluation)
            sp.full_pass()  # warm-up (the dense side is warm from its epochs)
            ts, td, ratio = [], [], []
            for rep in range(reps):
                a = timed(sp.full_pass)
                start = time.perf_counter()
                done = dn.full_pass(max_rows=dense_rows)
                b = (time.perf_counter() - start) * n_items / done
                ts.append(a)
                td.append(b)
                ratio.append(b / a)
                log(f"  {label} full pass rep {rep}: sparse {a:.3f}s dense {b:.3f}s "
                    f"ratio {b / a:.2f}")
            note = "" if dense_rows is None or dense_rows >= n_items else (
                f"{min(dense_rows, n_items)} of {n_items} rows timed, extrapolated")
            rows.append(dict(data=label, key=key, method="sparse (package)",
                             solver="lbfgs pass", batch="all", sec=float(np.median(ts)),
                             times=ts, ratio=None, note=""))
            rows.append(dict(data=label, key=key, method="dense (textbook)",
                             solver="lbfgs pass", batch="all", sec=float(np.median(td)),
                             times=td, ratio=float(np.median(ratio)), note=note))
        del sp, dn
    log(f"  {label}: {time.perf_counter() - t0:.0f}s")
    return rows


# --------------------------------------------------------------------------- memory

def memory_child(spec):
    """Run in a fresh process: build the data, train a little, print the RSS peaks."""
    def maxrss_mb():
        # VmHWM: the peak RSS of this process image.  (ru_maxrss would carry the
        # parent's high-water mark over fork + exec on Linux.)
        try:
            for line in open("/proc/self/status"):
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if spec.get("threads"):
        torch.set_num_threads(spec["threads"])
    device = torch.device(spec["device"])
    base = maxrss_mb()
    items = load_data(spec["key"], spec["ml1m_path"]).T.tocsr()
    data_mb = maxrss_mb()
    if spec["method"] == "sparse":
        model = Sparse(items, spec["hidden"], spec["batch"] if spec["batch"] != "all" else 1,
                       device)
        for _ in range(spec["work"]):
            model.full_pass() if spec["batch"] == "all" else model.epoch()
    else:
        model = Dense(items, spec["hidden"], spec["batch"] if spec["batch"] != "all" else 1,
                      device)
        for _ in range(spec["work"]):
            if spec["batch"] == "all":
                model.full_pass(max_rows=spec.get("dense_rows"))
            else:
                model.epoch(max_batches=2)
    out = dict(base_mb=base, data_mb=data_mb, peak_mb=maxrss_mb())
    if device.type == "cuda":
        out["gpu_peak_mb"] = torch.cuda.max_memory_allocated(device) / 2 ** 20
    print("MEMORY " + json.dumps(out), flush=True)


def measure_memory(spec, log):
    cmd = [sys.executable, os.path.abspath(__file__), "--memory-child", json.dumps(spec)]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    line = [s for s in proc.stdout.splitlines() if s.startswith("MEMORY ")]
    if proc.returncode != 0 or not line:
        log(f"  memory child failed ({spec}): {proc.stderr[-2000:]}")
        return None
    res = json.loads(line[0][7:])
    log(f"  memory {spec['key']} {spec['method']} batch {spec['batch']}: peak "
        f"{res['peak_mb']:.0f} MB, after imports {res['base_mb']:.0f} MB "
        f"({time.perf_counter() - start:.0f}s)")
    return res


# --------------------------------------------------------------------------- profile

def profile_sparse(csr_ui, args, device, batch_size, log):
    """Where the time of a sparse epoch goes (torch.profiler, CPU/GPU self times)."""
    from torch.profiler import ProfilerActivity, profile, record_function

    sp = Sparse(csr_ui.T.tocsr(), args.hidden, batch_size, device)
    sp.epoch(max_batches=2)
    net, opt, data = sp.net, sp.opt, sp.data
    epochs = 2
    activities = [ProfilerActivity.CPU] + (
        [ProfilerActivity.CUDA] if device.type == "cuda" else [])
    start = time.perf_counter()
    with profile(activities=activities) as prof, flush_denormals(device):
        for _ in range(epochs):
            order = torch.randperm(data.n_rows, generator=sp.gen).to(device)
            with record_function("P:batch construction"):
                batches = data.batches(order, batch_size)
            for batch in batches:  # the body of _objective, phase by phase
                with record_function("P:zero_grad"):
                    net.clear_grads()
                with record_function("P:encoder forward (embedding_bag)"):
                    codes = net.encode(batch, batch.values, 0.0, None)
                with record_function("P:decoder forward (sampled_addmm)"):
                    pred = net.decode_observed(codes, batch)
                with record_function("P:loss"):
                    loss = (pred - batch.values).pow(2).sum()
                with record_function("P:backward"):
                    (loss / sp.n).backward()
                float(loss.detach())
                with record_function("P:adam step"):
                    opt.step()
        sync(device)
    wall = (time.perf_counter() - start) / epochs
    stats = {e.key: e for e in prof.key_averages()}

    def total(name):
        e = stats.get(name)
        if e is None:
            return 0.0
        return e.cpu_time_total / 1e6 / epochs

    def self_time(name):
        e = stats.get(name)
        return 0.0 if e is None else e.self_cpu_time_total / 1e6 / epochs

    enc_b = total("_SparseEncoderBackward")
    dec_b = total("_ObservedDecoderBackward")
    acc = total("torch::autograd::AccumulateGrad")
    bwd = total("P:backward")
    phases = [
        ("batch construction (SparseRows.batches)", total("P:batch construction")),
        ("zero_grad", total("P:zero_grad")),
        ("encoder forward (embedding_bag + bias + sigmoid)",
         total("P:encoder forward (embedding_bag)")),
        ("decoder forward (sampled_addmm + bias gather)",
         total("P:decoder forward (sampled_addmm)")),
        ("loss", total("P:loss")),
        ("backward: decoder (embedding_bag, sparse addmm into .grad, argsort)", dec_b),
        ("backward: encoder (sparse addmm into .grad)", enc_b),
        ("backward: gradient accumulation into .grad", acc),
        ("backward: rest (sigmoid, bias index, loss)", max(0.0, bwd - enc_b - dec_b - acc)),
        ("adam step (fused)", total("P:adam step")),
    ]
    ops = sorted((e for e in prof.key_averages() if not e.key.startswith("P:")),
                 key=lambda e: -e.self_cpu_time_total)[:12]
    top = [(e.key, e.self_cpu_time_total / 1e6 / epochs, e.count // epochs) for e in ops]
    log(f"  profile batch {batch_size}: {wall:.3f}s per epoch (profiled)")
    return dict(batch=batch_size, wall=wall, phases=phases, top=top)


# --------------------------------------------------------------------------- report

def machine_info(args):
    cpu = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count()
    info = {
        "CPU": f"{cpu} ({cores} cores available, os.cpu_count()={os.cpu_count()})",
        "Python": platform.python_version(),
        "torch": torch.__version__,
        "torch threads": str(torch.get_num_threads()) + (
            " (--threads)" if args.threads else " (torch default)"),
        "device": str(args.device) + (
            f" ({torch.cuda.get_device_name(0)})" if args.device.startswith("cuda") else ""),
        "numpy": np.__version__,
    }
    return info


def fmt_mem(res):
    if not res:
        return "n/a"
    s = f"{(res['peak_mb'] - res['base_mb']) / 1024:.2f} GB"
    if "gpu_peak_mb" in res:
        s += f" (GPU {res['gpu_peak_mb'] / 1024:.2f} GB)"
    return s


def write_report(path, rows, mem, profiles, info, command, args, load, elapsed):
    lines = ["# Sparse backend vs dense textbook AutoRec: time per epoch", "",
             f"Produced by `{command}` ({elapsed / 60:.1f} min).", "",
             "I-AutoRec, k = %d, sigmoid / identity, masked squared error, L2 penalty as "
             "weight decay on the weight matrices, torch Adam (fused, lr 1e-3); both sides "
             "start from the same weights and their epochs are interleaved in one process; "
             "medians over the repetitions. The sparse side flushes denormal floats to zero, "
             "as the package trains; the dense textbook is timed as written and, in the "
             "rows that say so, with denormals flushed too. *dense/sparse* is the median of "
             "the per-repetition ratios of the dense textbook epoch to the sparse epoch at "
             "the same batch size. *lbfgs pass* is one full-batch function + gradient "
             "evaluation (what `solver=\"lbfgs\"`, the default, pays per line-search "
             "step). *Peak RSS* is the resident-set high-water mark of a fresh process "
             "that builds the data (make_ratings or the file) and trains (%s), minus the mark right after importing "
             "torch and the package." % (args.hidden, "sparse: %s; dense: 2 batches" % (
                 "2 epochs at the first batch size at ML-1M scale, 1 epoch otherwise")),
             "",
             "| data | method | solver | batch | sec / epoch | dense / sparse | peak RSS | note |",
             "|---|---|---|---|---:|---:|---:|---|"]
    for r in rows:
        m = mem.get((r["key"], "sparse" if r["method"].startswith("sparse") else "dense",
                     str(r["batch"])))
        ratio = "" if r["ratio"] is None else f"**{r['ratio']:.1f}x**"
        times = ", ".join(f"{t:.2f}" for t in r["times"])
        lines.append(f"| {r['data']} | {r['method']} | {r['solver']} | {r['batch']} | "
                     f"{r['sec']:.2f} | {ratio} | {fmt_mem(m)} | "
                     f"{r['note'] + '; ' if r['note'] else ''}reps: {times} |")
    lines += ["", "Targets: dense/sparse >= 5x at ML-1M scale, >= 12x at ML-10M scale; "
              "ML-10M-scale sparse fit under 4 GB.", ""]
    if mem:
        lines += ["Memory children (MB; RSS high-water marks after imports, after building "
                  "the data, at the end):", ""]
        for (key, method, batch), res in mem.items():
            if res:
                lines.append(f"- {key} {method} batch {batch}: {res['base_mb']:.0f} / "
                             f"{res['data_mb']:.0f} / {res['peak_mb']:.0f}")
        lines.append("")
    for prof in profiles:
        lines += [f"## Where a sparse epoch goes ({prof['data']}, batch {prof['batch']})", "",
                  f"torch.profiler, {prof['wall']:.2f} s per epoch while profiled.", "",
                  "| phase | s / epoch | share |", "|---|---:|---:|"]
        tot = sum(t for _, t in prof["phases"]) or 1.0
        for name, t in prof["phases"]:
            lines.append(f"| {name} | {t:.3f} | {100 * t / tot:.0f}% |")
        lines += ["", "Top operators by self time:", "", "| operator | s / epoch | calls / epoch |",
                  "|---|---:|---:|"]
        for name, t, n in prof["top"]:
            lines.append(f"| `{name}` | {t:.3f} | {n} |")
        lines.append("")
    lines += ["## Machine", ""]
    lines += [f"- {k}: {v}" for k, v in info.items()]
    lines += [f"- load average (1 min) at start / end: {load[0]:.2f} / {load[1]:.2f} "
              "(other jobs share this machine: compare ratios, not absolute seconds)", ""]
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text("\n".join(lines))


# --------------------------------------------------------------------------- main

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--scale", choices=["ml-1m", "ml-10m", "all"], default="all")
    p.add_argument("--epochs", type=int, default=None,
                   help="timed repetitions per configuration (default 3 at ML-1M, 2 at ML-10M)")
    p.add_argument("--batch-size", type=lambda s: [int(x) for x in s.split(",")],
                   default=[256, 1024], help="comma-separated item batch sizes (256,1024)")
    p.add_argument("--hidden", type=int, default=500, help="k, the hidden units (500)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch.set_num_threads (default: torch's default)")
    p.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    p.add_argument("--dense-rows", type=int, default=None,
                   help="time only this many dense rows per epoch and extrapolate "
                        "(default: 2048 at ML-10M scale, whole epochs at ML-1M)")
    p.add_argument("--ml1m-path", default=ML1M_PATH)
    p.add_argument("--no-memory", action="store_true", help="skip the RSS subprocesses")
    p.add_argument("--no-lbfgs", action="store_true", help="skip the full-batch pass")
    p.add_argument("--no-dense-flushed", dest="dense_flushed", action="store_false",
                   help="skip the dense epochs timed with denormals flushed to zero")
    p.add_argument("--profile", action="store_true",
                   help="profile the sparse epoch at ML-1M scale (each batch size)")
    p.add_argument("--out", default="benchmarks/results/backend.md")
    p.add_argument("--memory-child", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.memory_child:
        return memory_child(json.loads(args.memory_child))
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        p.error("--device cuda but CUDA is not available")
    command = "python " + " ".join(shlex.quote(a) for a in [
        os.path.relpath(__file__)] + (sys.argv[1:] if argv is None else argv))
    load_start = os.getloadavg()[0]
    t_start = time.perf_counter()

    def log(msg):
        print(f"[{time.perf_counter() - t_start:6.0f}s] {msg}", flush=True)

    scales = ["ml-1m", "ml-10m"] if args.scale == "all" else [args.scale]
    rows, mem, profiles = [], {}, []
    for scale in scales:
        for key, label in datasets_for(scale, args.ml1m_path):
            log(f"{label}: loading")
            csr = load_data(key, args.ml1m_path)
            log(f"{label}: {csr.shape[0]} users x {csr.shape[1]} items, {csr.nnz} ratings")
            rows += time_scale(key, label, csr, args, device, log)
            if args.profile and scale == "ml-1m" and not profiles:
                for bs in args.batch_size:
                    prof = profile_sparse(csr, args, device, bs, log)
                    prof["data"] = label
                    profiles.append(prof)
            del csr
            if not args.no_memory:
                first, big = args.batch_size[0], key.startswith("ml-10m")
                configs = [("sparse", b, 2 if b == first and not big else 1)
                           for b in args.batch_size]
                configs += [("dense", b, 1) for b in args.batch_size]
                if not args.no_lbfgs:
                    configs += [("sparse", "all", 1), ("dense", "all", 1)]
                for method, batch, work in configs:
                    spec = dict(key=key, method=method, batch=batch, work=work,
                                hidden=args.hidden, device=args.device,
                                threads=args.threads, ml1m_path=args.ml1m_path,
                                dense_rows=args.dense_rows or (
                                    2048 if key.startswith("ml-10m") else None))
                    mem[(key, method, str(batch))] = measure_memory(spec, log)
    elapsed = time.perf_counter() - t_start
    write_report(args.out, rows, mem, profiles, machine_info(args), command, args,
                 (load_start, os.getloadavg()[0]), elapsed)
    log(f"wrote {args.out}")


if __name__ == "__main__":
    main()
