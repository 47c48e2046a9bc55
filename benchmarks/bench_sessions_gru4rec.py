"""GRU4Rec against the last-item transition baseline on rsc15-100k and Diginetica.

Data (never shipped): ``../shared/data/rsc15-100k/`` (tab-separated
``SessionId ItemId Time``: ``train_full``/``test``, and ``train_tr``/
``train_valid`` for tuning) and ``../shared/data/diginetica/`` (csv
``session_id,item_id`` in click order).  Both are scored with
:func:`sklearn_autorec.metrics.session_report` (Recall@20 and MRR@20 at
every position of the test sessions).  One thread, as the numbers in
``docs`` are measured::

    OMP_NUM_THREADS=1 python benchmarks/bench_sessions_gru4rec.py rsc15
    OMP_NUM_THREADS=1 python benchmarks/bench_sessions_gru4rec.py rsc15 --tune
    OMP_NUM_THREADS=1 python benchmarks/bench_sessions_gru4rec.py diginetica \\
        --hidden 192 --batch-size 128 --max-iter 5 --no-early-stopping

``--tune`` fits on ``train_tr`` and scores ``train_valid`` (for choosing
parameters; the test set is never used then).  Extra ``--set name=value``
pairs are passed to the estimator.
"""

import argparse
import ast
import json
import os
import sys
import time
from pathlib import Path

import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sklearn_autorec import ItemTransitionRecommender  # noqa: E402
from sklearn_autorec._gru4rec import GRU4RecRecommender  # noqa: E402
from sklearn_autorec.metrics import session_report  # noqa: E402

DATA = Path(os.environ.get("AUTOREC_SHARED_DATA",
                           Path(__file__).resolve().parents[2] / "shared" / "data"))


def load(dataset, tune):
    if dataset == "rsc15":
        root = DATA / "rsc15-100k"
        names = ("train_tr", "train_valid") if tune else ("train_full", "test")

        def read(name):
            df = pd.read_csv(root / f"yoochoose-clicks-100k_{name}.txt", sep="\t")
            return df.rename(columns={"SessionId": "session_id", "ItemId": "item_id",
                                      "Time": "timestamp"})

        return read(names[0]), read(names[1])
    root = DATA / "diginetica"
    if tune:
        raise SystemExit("diginetica has no tuning split here; tune on rsc15.")
    return pd.read_csv(root / "train.csv.gz"), pd.read_csv(root / "test.csv.gz")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("dataset", choices=("rsc15", "diginetica"))
    parser.add_argument("--tune", action="store_true")
    parser.add_argument("--hidden", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--max-iter", type=int, default=None)
    stopping = parser.add_mutually_exclusive_group()
    stopping.add_argument("--early-stopping", dest="early_stopping", action="store_const",
                          const=True, default=None)
    stopping.add_argument("--no-early-stopping", dest="early_stopping",
                          action="store_const", const=False)
    parser.add_argument("--baseline", action="store_true", help="also score transitions")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    args = parser.parse_args()
    torch.set_num_threads(1)
    train, test = load(args.dataset, args.tune)
    results = {"dataset": args.dataset, "split": "tune" if args.tune else "test"}
    if args.baseline:
        start = time.perf_counter()
        base = ItemTransitionRecommender().fit(train)
        results["transitions"] = session_report(base, test)
        results["transitions"]["seconds"] = time.perf_counter() - start
        print("transitions", results["transitions"], flush=True)
    extra = {}
    for pair in args.set:
        name, value = pair.split("=", 1)
        try:
            extra[name] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            extra[name] = value
    given = dict(hidden_layer_sizes=None if args.hidden is None else (args.hidden,),
                 batch_size=args.batch_size, max_iter=args.max_iter,
                 early_stopping=args.early_stopping)  # None: the estimator's default
    params = dict({k: v for k, v in given.items() if v is not None},
                  random_state=args.seed, verbose=True, device="cpu", **extra)
    model = GRU4RecRecommender(**params)
    start = time.perf_counter()
    model.fit(train)
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    report = session_report(model, test)
    report.update(fit_seconds=fit_seconds, eval_seconds=time.perf_counter() - start,
                  epoch_seconds=model.epoch_seconds_, n_iter=model.n_iter_,
                  best_epoch=model.best_epoch_,
                  validation_scores=model.validation_scores_)
    results["gru4rec"] = {"params": {k: repr(v) for k, v in params.items()}, **report}
    print(json.dumps(results, indent=1), flush=True)


if __name__ == "__main__":
    main()
