"""Benchmark LLORMARegressor (parallel LLORMA) on a random 90/10 split of MovieLens.

Random 90/10 split of the ratings (``numpy.random.default_rng(seed).permutation``,
the first 90% train), the protocol of ``bench_baselines.py``.  With
``--validation`` the test ratings are never read: the model is fitted on the
first 90% of the training part and scored on its last 10% (tune settings there).
Fit times are wall-clock seconds of ``fit`` with ``--threads`` BLAS/OpenMP/torch
threads (default 1) and ``n_jobs=--n-jobs`` (default 1).

    python benchmarks/bench_llorma.py --dataset ml-100k
    python benchmarks/bench_llorma.py --dataset ml-1m --baseline
    python benchmarks/bench_llorma.py --dataset ml-1m --validation --n-anchors 20

The ML files are read from ``--data-dir`` (default /work/shared/data); they are
research-only and never copied into the repository.  The paper (Lee et al.,
JMLR 2016) reports a test RMSE of 0.833 on ML-1M; unlike the authors' code,
nothing here is chosen on the test ratings.
"""

import argparse
import os
import platform
import sys
import time
from pathlib import Path

FILES = {"ml-100k": "ml-100k/u.data", "ml-1m": "ml-1m/ratings.csv.gz"}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=sorted(FILES), default="ml-100k")
    parser.add_argument("--data-dir", default="/work/shared/data")
    parser.add_argument("--seed", type=int, default=0, help="split and model seed")
    parser.add_argument("--threads", type=int, default=1, help="BLAS/OpenMP/torch threads")
    parser.add_argument("--n-jobs", type=int, default=1, help="LLORMARegressor(n_jobs=...)")
    parser.add_argument("--validation", action="store_true",
                        help="score on a validation split of the training ratings, not test")
    parser.add_argument("--baseline", action="store_true",
                        help="also fit BiasedMFRegressor() on the same ratings")
    parser.add_argument("--n-anchors", type=int, default=None)
    parser.add_argument("--n-components", type=int, default=None)
    parser.add_argument("--alpha", type=float, default=None)
    parser.add_argument("--kernel-width", type=float, default=None)
    parser.add_argument("--max-iter", type=int, default=None)
    parser.add_argument("--output", default=None, help="also write the table to this file")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    import warnings

    import numpy as np
    from sklearn.exceptions import ConvergenceWarning

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import sklearn_autorec
    from sklearn_autorec import BiasedMFRegressor
    from sklearn_autorec._llorma import LLORMARegressor
    from sklearn_autorec.datasets import load_ratings_file

    try:  # no timed fit pays torch's import; one thread, as everywhere here
        import torch

        torch.set_num_threads(args.threads)
    except ImportError:  # pragma: no cover - torch is optional for this script
        pass

    data = load_ratings_file(Path(args.data_dir) / FILES[args.dataset])
    X, y = data.X, data.y
    perm = np.random.default_rng(args.seed).permutation(len(y))
    n_train = int(0.9 * len(y))
    train, test = perm[:n_train], perm[n_train:]
    what = "test"
    if args.validation:  # the test ratings are never touched
        n_fit = int(0.9 * n_train)
        train, test = train[:n_fit], train[n_fit:]
        what = "validation"
    X_train, y_train, X_test, y_test = X[train], y[train], X[test], y[test]
    print(f"{args.dataset}: {len(y)} ratings; fit on {len(train)}, {what} {len(test)}",
          flush=True)

    params = {name: value for name, value in (
        ("n_anchors", args.n_anchors), ("n_components", args.n_components),
        ("alpha", args.alpha), ("kernel_width", args.kernel_width),
        ("max_iter", args.max_iter)) if value is not None}
    models = [(f"LLORMARegressor({', '.join(f'{k}={v}' for k, v in params.items())})",
               lambda: LLORMARegressor(**params, n_jobs=args.n_jobs,
                                       random_state=args.seed))]
    if args.baseline:
        models.append(("BiasedMFRegressor()",
                       lambda: BiasedMFRegressor(random_state=args.seed)))
    rows = []
    for name, make in models:
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model = make().fit(X_train, y_train)
        seconds = time.perf_counter() - start
        score = float(np.sqrt(np.mean((model.predict(X_test) - y_test) ** 2)))
        extra = ""
        if isinstance(model, LLORMARegressor):
            extra = (f"; local models hold {model.local_n_ratings_.mean() / len(train):.1%}"
                     " of the ratings on average")
        rows.append((name, score, seconds))
        print(f"{name:60s} {what} RMSE {score:.4f}  fit {seconds:8.1f} s{extra}", flush=True)

    lines = [f"| model | {what} RMSE | fit seconds |", "|---|---|---|"]
    lines += [f"| `{name}` | {score:.4f} | {seconds:.1f} |" for name, score, seconds in rows]
    command = "python benchmarks/bench_llorma.py " + " ".join(argv or sys.argv[1:])
    header = [
        f"# LLORMARegressor on {args.dataset}", "",
        f"Command: `{command.strip()}`", "",
        f"Split: `numpy.random.default_rng({args.seed}).permutation`, first 90% train"
        + (", of which the first 90% fit and the last 10% validate" if args.validation
           else ", last 10% test") + f"; seed {args.seed}.", "",
        f"Machine: {os.cpu_count()}-core CPU ({platform.machine()}), shared with other "
        f"jobs, so times are noisy; {args.threads} BLAS thread(s), n_jobs={args.n_jobs}. "
        f"Versions: sklearn_autorec {sklearn_autorec.__version__}, numpy {np.__version__}.",
        "",
    ]
    print("\n" + "\n".join(lines))
    if args.output:
        Path(args.output).write_text("\n".join(header + lines) + "\n")
        print(f"\nwritten to {args.output}")


if __name__ == "__main__":
    main()
