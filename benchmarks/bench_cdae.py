"""Measure CDAERecommender on the ML-1M top-N protocol (``benchmarks/_topn_protocol.py``).

Fits ``CDAERecommender(**params)`` (the defaults unless ``--param`` is given)
on the protocol's ``train`` matrix and reports Recall@20/100 and NDCG@20/100
on ``test``, with the fit time, epochs and best epoch.  ``--validation`` fits
``val_train`` and reports ``val_test`` instead: the split on which the
defaults were chosen (never on ``test``).  Threads are limited to
``--threads`` (default 1) before numpy and torch are imported.

    python benchmarks/bench_cdae.py                         # defaults, test split
    python benchmarks/bench_cdae.py --validation --param alpha=0.1 --param n_components=100
"""

import argparse
import ast
import json
import os
import sys
import time


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--validation", action="store_true",
                        help="fit val_train, report val_test (choosing parameters)")
    parser.add_argument("--param", action="append", default=[],
                        help="NAME=VALUE (a Python literal) passed to CDAERecommender")
    parser.add_argument("--seed", type=int, default=0, help="random_state of the model")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--verbose", action="store_true")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    sys.path.insert(0, os.path.dirname(__file__))
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
    import torch

    torch.set_num_threads(args.threads)
    from _topn_protocol import load_protocol

    from sklearn_autorec._cdae import CDAERecommender
    from sklearn_autorec.metrics import ranking_report

    params = {}
    for item in args.param:
        name, _, value = item.partition("=")
        try:
            params[name] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            params[name] = value
    data = load_protocol()
    train, test = ((data["val_train"], data["val_test"]) if args.validation
                   else (data["train"], data["test"]))
    model = CDAERecommender(random_state=args.seed, verbose=args.verbose, **params)
    start = time.perf_counter()
    model.fit(train)
    seconds = time.perf_counter() - start
    report = ranking_report(model, test, k=(20, 100), metrics=("recall", "ndcg"))
    out = {"split": "val_train/val_test" if args.validation else "train/test",
           "params": params, "seed": args.seed, "threads": args.threads,
           "fit_seconds": round(seconds, 1), "n_iter": model.n_iter_,
           "best_epoch": model.best_epoch_,
           **{k: (round(v, 4) if isinstance(v, float) else v) for k, v in report.items()}}
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
