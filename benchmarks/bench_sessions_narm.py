"""NARM on the session benchmarks: Diginetica (sorted clicks) and rsc15-100k.

Fits ``NARMRecommender`` (defaults unless overridden, ``random_state=0``) on
the training sessions and scores next-item prediction at every position of
the test sessions with :func:`sklearn_autorec.metrics.session_report`
(Recall@20, MRR@20), next to the last-item transition baseline.  Reports the
fit time, each epoch's time and validation Recall@20 (the early-stopping
hold-out: a random 10% of the training sessions; the data's sessions reach
the model without timestamps on both sets, see the NARM docstring).

* ``--data diginetica``: ``../shared/data/diginetica/train.csv.gz`` /
  ``test.csv.gz`` (``session_id,item_id`` in click order).
* ``--data rsc15``: ``../shared/data/rsc15-100k/`` ``_train_full`` /
  ``_test`` (``SessionId ItemId Time``); ``--tune``: fit on ``_train_tr`` and
  score ``_train_valid`` instead (the tuning split, never the test).

The published reference on Diginetica with sorted clicks: NARM 0.4970
Recall@20 / 0.1617 MRR@20 (trained to convergence); the transition baseline
about 0.348 / 0.130.  ``--max-iter`` caps the epochs (the machine is shared:
a capped run is a lower bound on the converged model, and says so).

    OMP_NUM_THREADS=1 python benchmarks/bench_sessions_narm.py --data rsc15
    OMP_NUM_THREADS=1 python benchmarks/bench_sessions_narm.py --data diginetica --max-iter 3

Threads: torch, BLAS and OpenMP are limited to ``--threads`` (default 1).
"""

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=("diginetica", "rsc15"), default="rsc15")
    parser.add_argument("--tune", action="store_true",
                        help="rsc15: fit train_tr, score train_valid")
    parser.add_argument("--max-iter", type=int, default=None)
    parser.add_argument("--param", action="append", default=[],
                        help="NAME=VALUE overrides of NARMRecommender (Python literals)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--time-batches", type=int, default=None,
                        help="only time this many training batches (full data, default "
                        "model) and extrapolate an epoch; no accuracy")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--output", default=None, help="append JSON lines to this file")
    return parser.parse_args(argv)


def load(name, tune):
    import pandas as pd

    if name == "diginetica":
        train = pd.read_csv(DATA / "diginetica" / "train.csv.gz")
        test = pd.read_csv(DATA / "diginetica" / "test.csv.gz")
        return train, test
    base = DATA / "rsc15-100k" / "yoochoose-clicks-100k"
    parts = ("_train_tr", "_train_valid") if tune else ("_train_full", "_test")
    frames = []
    for part in parts:
        df = pd.read_csv(f"{base}{part}.txt", sep="\t")
        frames.append(df.rename(columns={"SessionId": "session_id", "ItemId": "item_id",
                                         "Time": "timestamp"}))
    return frames[0], frames[1]


def run(model, train, test, label):
    from sklearn_autorec.metrics import session_report

    start = time.perf_counter()
    model.fit(train)
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    report = session_report(model, test, k=20)
    row = {"row": label, "estimator": type(model).__name__,
           "recall@20": report["recall@20"], "mrr@20": report["mrr@20"],
           "n_targets": report["n_targets"], "fit_seconds": fit_seconds,
           "eval_seconds": time.perf_counter() - start}
    if hasattr(model, "epoch_seconds_"):
        row.update(params={k: v for k, v in model.get_params().items()},
                   n_iter=model.n_iter_, best_epoch=model.best_epoch_,
                   epoch_seconds=model.epoch_seconds_, loss_curve=model.loss_curve_,
                   validation_recall20=model.validation_scores_,
                   n_train_prefixes=model.n_train_prefixes_)
    row["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    return row


def time_batches(train, params, n_batches):
    """Seconds per training batch of the default model on ``train`` (the fit's own
    batches, loss and Adam step), and the epoch time it extrapolates to."""
    import numpy as np
    import torch

    from sklearn_autorec._narm import (NARMRecommender, _batch_loss, _build_net,
                                       _prefix_examples, _torch_batch)
    from sklearn_autorec._data import IdIndex
    from sklearn_autorec._sessions import parse_sessions

    model = NARMRecommender(**params)
    parsed = parse_sessions(train)
    keep = parsed.lengths() >= 2
    parsed = parsed.subset(keep)
    index = IdIndex(parsed.items, "item")
    items = index.fit_transform(parsed.items)
    starts, lengths, targets = _prefix_examples(parsed.offsets, model.max_length)
    n_examples = int(round(len(targets) * (1 - model.validation_fraction)))
    net = _build_net(len(index), model.embedding_dim, model.hidden_size, torch.float32)
    gen = torch.Generator().manual_seed(0)
    net.reset(gen)
    net.train()
    optimizer = torch.optim.Adam(net.parameters(), lr=model.learning_rate)
    order = np.random.default_rng(0).permutation(len(targets))
    seconds = []
    for b in range(n_batches + 1):
        rows = order[b * model.batch_size:(b + 1) * model.batch_size]
        start = time.perf_counter()
        batch = _torch_batch(items, starts[rows], lengths[rows], targets[rows],
                             torch.device("cpu"))
        optimizer.zero_grad(set_to_none=True)
        loss = _batch_loss(net, batch, model.dropout_embedding, model.dropout_output,
                           model.n_negatives, gen)
        loss.backward()
        optimizer.step()
        seconds.append(time.perf_counter() - start)
    per_batch = float(np.median(seconds[1:]))  # the first one warms up
    n_per_epoch = -(-n_examples // model.batch_size)
    return {"row": "NARM batch timing", "n_items": len(index), "timed_batches": n_batches,
            "seconds_per_batch_median": per_batch,
            "seconds_per_batch_mean": float(np.mean(seconds[1:])),
            "batches_per_epoch": n_per_epoch,
            "extrapolated_epoch_seconds": per_batch * n_per_epoch,
            "n_negatives": model.n_negatives, "load_average": os.getloadavg()}


def main(argv=None):
    import ast

    args = parse_args(argv)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    import torch

    torch.set_num_threads(args.threads)
    sys.path.insert(0, str(ROOT))
    from sklearn_autorec import ItemTransitionRecommender
    from sklearn_autorec._narm import NARMRecommender

    train, test = load(args.data, args.tune)
    data = f"{args.data}{' (tune)' if args.tune else ''}"
    params = dict(random_state=0, verbose=args.verbose)
    if args.max_iter is not None:
        params["max_iter"] = args.max_iter
    for item in args.param:
        key, value = item.split("=", 1)
        params[key] = ast.literal_eval(value)
    rows = []
    if args.time_batches:
        params.pop("verbose")
        rows.append(time_batches(train, params, args.time_batches))
    elif not args.no_baseline:
        rows.append(run(ItemTransitionRecommender(), train, test, "ItemTransition"))
    if not args.time_batches:
        rows.append(run(NARMRecommender(**params), train, test, "NARM"))
    for row in rows:
        row.update(data=data, threads=args.threads)
        print(json.dumps(row), flush=True)
        if args.output:
            with open(args.output, "a") as fh:
                fh.write(json.dumps(row) + "\n")
    return rows


if __name__ == "__main__":
    main()
