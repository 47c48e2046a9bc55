"""Accuracy of AutoRecRegressor on MovieLens, the issue's protocol.

Random 90/10 split of the ratings (numpy ``default_rng(seed)`` permutation,
first 90% train), test RMSE of ``AutoRecRegressor(**params)`` beside
``BaselineRegressor()``, fit seconds, machine.  Writes a markdown table.

    python benchmarks/bench_accuracy.py --dataset ml-100k
    python benchmarks/bench_accuracy.py --dataset ml-1m
    python benchmarks/bench_accuracy.py --dataset ml-1m --params "alpha=400, max_iter=700"

Datasets are read from ``../shared/data`` (or ``--data-dir``); ML-100K and ML-1M
are never shipped with the package.
"""

import argparse
import os
import platform
import time
import warnings
from pathlib import Path

import numpy as np

from sklearn_autorec import AutoRecRegressor, BaselineRegressor
from sklearn_autorec.datasets import load_movielens

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parent.parent / "shared" / "data"
FILES = {"ml-100k": "ml-100k", "ml-1m": "ml-1m", "ml-latest-small": "ml-latest-small"}


def split(n, seed=0, train_fraction=0.9):
    perm = np.random.default_rng(seed).permutation(n)
    n_train = int(train_fraction * n)
    return perm[:n_train], perm[n_train:]


def evaluate(model, X, y, train, test):
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(X[train], y[train])
    seconds = time.perf_counter() - start
    pred = model.predict(X[test])
    rmse = float(np.sqrt(np.mean((pred - y[test]) ** 2)))
    notes = sorted({type(w.message).__name__ for w in caught})
    return rmse, seconds, notes


def machine():
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    import torch
    return (f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__} "
            f"({torch.get_num_threads()} threads)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="ml-100k", choices=sorted(FILES))
    parser.add_argument("--data-dir", default=str(DEFAULT_DATA))
    parser.add_argument("--params", default="", help='AutoRec parameters, e.g. "alpha=400"')
    parser.add_argument("--seed", type=int, default=0, help="split seed")
    parser.add_argument("--model-seed", type=int, default=None,
                        help="AutoRec's random_state (default: the split seed)")
    parser.add_argument("--out", default=None, help="markdown file to append the table to")
    args = parser.parse_args()

    data = load_movielens(args.dataset, path=os.path.join(args.data_dir, FILES[args.dataset]),
                          download=False)
    X, y = data.X, data.y
    train, test = split(len(y), args.seed)
    params = eval(f"dict({args.params})")  # noqa: S307 - a benchmark's own command line
    rows = []
    for name, model in [
        ("BaselineRegressor()", BaselineRegressor()),
        (f"AutoRecRegressor({args.params})",
         AutoRecRegressor(random_state=args.seed if args.model_seed is None
                          else args.model_seed, **params)),
    ]:
        rmse, seconds, notes = evaluate(model, X, y, train, test)
        iters = getattr(model, "n_iter_", "")
        rows.append((name, rmse, seconds, iters, ", ".join(notes)))
        print(f"{name}: RMSE {rmse:.4f}, fit {seconds:.1f} s, iterations {iters} {notes}",
              flush=True)
    table = [
        f"### {args.dataset}: random 90/10 split, default_rng({args.seed})",
        "",
        f"{len(y):,} ratings; {len(train):,} train, {len(test):,} test. Machine: {machine()}.",
        f"Command: `python benchmarks/bench_accuracy.py --dataset {args.dataset}"
        + (f" --seed {args.seed}" if args.seed else "")
        + (f" --model-seed {args.model_seed}" if args.model_seed is not None else "")
        + (f' --params "{args.params}"' if args.params else "") + "`",
        "",
        "| model | test RMSE | fit (s) | iterations | warnings |",
        "|---|---|---|---|---|",
    ] + [f"| `{n}` | {r:.4f} | {s:.1f} | {i} | {w} |" for n, r, s, i, w in rows] + [""]
    text = "\n".join(table)
    print(text)
    if args.out:
        with open(args.out, "a") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
