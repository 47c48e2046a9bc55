"""``python -m sklearn_autorec``: the main job.

Trains I-AutoRec with its default parameters on a random 90/10 split of a
rating dataset (by default the shipped MovieLens latest-small, so it runs
offline) and prints its test RMSE beside the baseline predictor's.
"""

import argparse
import sys
import time
import warnings

import numpy as np


def _split(n, test_size, seed):
    perm = np.random.default_rng(seed).permutation(n)
    n_train = int(round((1 - test_size) * n))
    return perm[:n_train], perm[n_train:]


def _rmse(y, pred):
    return float(np.sqrt(np.mean((np.asarray(y) - np.asarray(pred)) ** 2)))


def run_main_job(data="ml-latest-small", test_size=0.1, seed=0, verbose=False, out=sys.stdout):
    """Fit AutoRecRegressor() and BaselineRegressor() on a split; print and return RMSEs."""
    from . import AutoRecRegressor, BaselineRegressor
    from .datasets import load_movielens

    names = ("ml-100k", "ml-1m", "ml-10m", "ml-20m", "ml-latest-small")
    bunch = (load_movielens(data, download=False) if data in names
             else load_movielens(path=data))
    X, y = bunch.X, bunch.y
    train, test = _split(len(y), test_size, seed)
    print(f"data: {data}: {len(y):,} ratings, {len(bunch.user_ids):,} users, "
          f"{len(bunch.item_ids):,} items; random {1 - test_size:.0%}/{test_size:.0%} "
          f"split (numpy default_rng({seed}) permutation)", file=out)
    results = {}
    models = [("BaselineRegressor()", BaselineRegressor()),
              ("AutoRecRegressor()", AutoRecRegressor(random_state=seed, verbose=verbose))]
    for name, model in models:
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=UserWarning)
            model.fit(X[train], y[train])
        seconds = time.perf_counter() - start
        rmse = _rmse(y[test], model.predict(X[test]))
        n_fallback = int(model.fallback_mask(X[test]).sum())
        results[name] = rmse
        extra = f", device {model.device_}, {model.n_iter_} iterations" if hasattr(
            model, "device_") else ""
        print(f"{name:22s} test RMSE {rmse:.4f}   fit {seconds:6.1f} s{extra}; "
              f"{n_fallback} test pairs used the unknown-id fallback", file=out)
    gain = results["BaselineRegressor()"] - results["AutoRecRegressor()"]
    print(f"AutoRec improves on the baseline by {gain:.4f} RMSE", file=out)
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m sklearn_autorec",
        description="Train I-AutoRec with default parameters on a random 90/10 split and "
                    "report its test RMSE beside the baseline predictor (global mean plus "
                    "regularised user and item biases).")
    parser.add_argument("--data", default="ml-latest-small",
                        help="a dataset name (ml-latest-small, shipped; ml-100k, ml-1m, ... "
                             "from the cache) or a ratings file or folder "
                             "(default: ml-latest-small)")
    parser.add_argument("--test-size", type=float, default=0.1,
                        help="fraction of ratings held out for testing (default 0.1)")
    parser.add_argument("--seed", type=int, default=0, help="split and model seed (default 0)")
    parser.add_argument("--verbose", action="store_true", help="print one line per epoch")
    args = parser.parse_args(argv)
    if not 0 < args.test_size < 1:
        parser.error("--test-size must be between 0 and 1")
    try:
        run_main_job(args.data, args.test_size, args.seed, args.verbose)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
