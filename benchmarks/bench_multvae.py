"""Mult-VAE / Mult-DAE on the ML-1M top-N protocol, and the ML-20M-scale memory check.

Accuracy (the default mode): fit ``MultVAERecommender()`` and
``MultDAERecommender()`` (defaults, ``random_state=0``) on the protocol's
``train`` and report Recall@20 / NDCG@100 on ``test`` with
:func:`sklearn_autorec.metrics.ranking_report`, plus the fit time.

``--validation``: the runs the defaults were chosen on, fit on ``val_train``
and scored on ``val_test`` (never on ``test``), 100 epochs without early
stop, each recording its per-epoch NDCG@100 on the internal hold-out: the
default annealing (beta at its cap 0.2 after 20 epochs) against Liang et
al.'s ML-20M horizon of 200,000 updates (beta stays below 0.006 here), and
the DAE's L2 penalty at Liang et al.'s 0.01 against the default 0.001.

``--scale``: synthetic interactions of ML-20M's size (136,677 users x 20,720
items, 10M interactions, item popularity Zipf-like), one epoch of this
package's Mult-VAE (sparse input) and, in a separate process, of a plain
PyTorch Mult-VAE fed a dense float32 users x items matrix; each process
reports its epoch time and the peak RSS of the whole fit
(``resource.getrusage``).  ``--scale-factor`` shrinks the users and
interactions (the dense baseline needs ``n_users * n_items * 4`` bytes: 11.3
GB at full size; ``--no-dense`` skips it).

    OMP_NUM_THREADS=1 python benchmarks/bench_multvae.py
    OMP_NUM_THREADS=1 python benchmarks/bench_multvae.py --only vae --seeds 0 1 2
    OMP_NUM_THREADS=1 python benchmarks/bench_multvae.py --validation
    OMP_NUM_THREADS=1 python benchmarks/bench_multvae.py --scale --scale-factor 0.1

Threads: torch, BLAS and OpenMP are limited to ``--threads`` (default 1).
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
N_USERS, N_ITEMS, NNZ = 136_677, 20_720, 10_000_000


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--validation", action="store_true",
                        help="the default-choosing runs on val_train/val_test")
    parser.add_argument("--only", choices=("vae", "dae"), default=None)
    parser.add_argument("--scale", action="store_true", help="ML-20M-scale epoch and RSS")
    parser.add_argument("--scale-factor", type=float, default=1.0)
    parser.add_argument("--no-dense", action="store_true")
    parser.add_argument("--worker", choices=("ours", "dense"), default=None,
                        help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0],
                        help="random_state of each fit (the spread across seeds)")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--output", default=None, help="append JSON lines to this file")
    return parser.parse_args(argv)


def peak_rss_gb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # kB on Linux


def synthetic(scale_factor, seed=0):
    import numpy as np
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    n_users = max(1, int(N_USERS * scale_factor))
    nnz = int(NNZ * scale_factor)
    popularity = 1.0 / np.arange(1, N_ITEMS + 1) ** 0.8
    popularity /= popularity.sum()
    rows = rng.integers(0, n_users, nnz)
    cols = rng.choice(N_ITEMS, size=nnz, p=popularity)
    X = sp.csr_matrix((np.ones(nnz), (rows, cols)), shape=(n_users, N_ITEMS))
    X.data[:] = 1.0  # repeats summed by csr_matrix: back to binary
    X.sort_indices()
    return X


def dense_mult_vae_epoch(X, batch_size=500, seed=0):
    """One epoch of a plain PyTorch Mult-VAE whose input is a dense matrix."""
    import numpy as np
    import torch

    torch.manual_seed(seed)
    dense = torch.zeros(X.shape, dtype=torch.float32)
    coo = X.tocoo()
    dense[torch.as_tensor(coo.row, dtype=torch.int64),
          torch.as_tensor(coo.col, dtype=torch.int64)] = 1.0
    n_items = X.shape[1]
    enc = torch.nn.Sequential(torch.nn.Linear(n_items, 600), torch.nn.Tanh(),
                              torch.nn.Linear(600, 400))
    dec = torch.nn.Sequential(torch.nn.Linear(200, 600), torch.nn.Tanh(),
                              torch.nn.Linear(600, n_items))
    opt = torch.optim.Adam([*enc.parameters(), *dec.parameters()], lr=1e-3)
    order = np.random.default_rng(seed).permutation(X.shape[0])
    start = time.perf_counter()
    for lo in range(0, X.shape[0], batch_size):
        x = dense[torch.as_tensor(order[lo:lo + batch_size])]
        h = torch.nn.functional.dropout(torch.nn.functional.normalize(x, dim=1), 0.5)
        mu, logvar = enc(h).chunk(2, dim=1)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        nll = -(torch.log_softmax(dec(z), dim=1) * x).sum(1).mean()
        kl = 0.5 * (torch.exp(logvar) + mu ** 2 - 1 - logvar).sum(1).mean()
        loss = nll + 0.2 * kl
        opt.zero_grad()
        loss.backward()
        opt.step()
    return time.perf_counter() - start


def scale_worker(args):
    import torch

    torch.set_num_threads(args.threads)
    X = synthetic(args.scale_factor)
    record = {"mode": "scale", "model": args.worker, "shape": list(X.shape), "nnz": X.nnz}
    start = time.perf_counter()
    if args.worker == "ours":
        sys.path.insert(0, str(ROOT))
        from sklearn_autorec._multvae import MultVAERecommender

        MultVAERecommender(max_iter=1, early_stopping=False, device="cpu",
                           random_state=0, verbose=args.verbose).fit(X)
        record["epoch_s"] = time.perf_counter() - start  # the whole one-epoch fit
    else:
        record["epoch_s"] = dense_mult_vae_epoch(X)
    record["fit_s"] = time.perf_counter() - start
    record["peak_rss_gb"] = peak_rss_gb()
    print(json.dumps(record), flush=True)


def report(record, output):
    print(json.dumps(record), flush=True)
    if output:
        with open(output, "a") as f:
            f.write(json.dumps(record) + "\n")


def main(argv=None):
    args = parse_args(argv)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    if args.worker:
        return scale_worker(args)
    if args.scale:
        workers = ["ours"] + ([] if args.no_dense else ["dense"])
        for worker in workers:
            cmd = [sys.executable, __file__, "--worker", worker, "--scale-factor",
                   str(args.scale_factor), "--threads", str(args.threads)]
            out = subprocess.run(cmd, capture_output=True, text=True)
            if out.returncode:
                print(f"{worker}: failed ({out.returncode}): {out.stderr[-2000:]}")
                continue
            report(json.loads(out.stdout.strip().splitlines()[-1]), args.output)
        return

    import torch

    torch.set_num_threads(args.threads)
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from _topn_protocol import load_protocol

    from sklearn_autorec._multvae import MultDAERecommender, MultVAERecommender
    from sklearn_autorec.metrics import ranking_report

    protocol = load_protocol()
    if args.validation:
        train, test, split = protocol["val_train"], protocol["val_test"], "val"
        # long runs (no early stop) whose per-epoch validation curves chose
        # AUTO_ANNEAL_EPOCHS and max_iter
        long = {"max_iter": 100, "n_iter_no_change": 100}
        runs = [("vae", long), ("vae", {**long, "total_anneal_steps": 200000}),
                ("dae", {"alpha": 0.01}), ("dae", {})]
    else:
        train, test, split = protocol["train"], protocol["test"], "test"
        runs = [("vae", {}), ("dae", {})]
    classes = {"vae": MultVAERecommender, "dae": MultDAERecommender}
    for (kind, params), seed in ((run, seed) for run in runs for seed in args.seeds):
        if args.only and kind != args.only:
            continue
        start = time.perf_counter()
        model = classes[kind](random_state=seed, device="cpu", verbose=args.verbose,
                              **params).fit(train)
        fit_s = time.perf_counter() - start
        metrics = ranking_report(model, test, k=(20, 100), metrics=("recall", "ndcg"))
        report({"mode": split, "model": type(model).__name__, "params": params,
                "random_state": seed,
                "recall@20": round(metrics["recall@20"], 4),
                "ndcg@100": round(metrics["ndcg@100"], 4), "fit_s": round(fit_s, 1),
                "n_iter": model.n_iter_, "best_epoch": model.best_epoch_,
                "threads": args.threads,
                "validation_scores": [round(v, 5) for v in model.validation_scores_ or []]},
               args.output)


if __name__ == "__main__":
    main()
