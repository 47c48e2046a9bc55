"""Benchmark the matrix-factorization baselines against Surprise, in one process.

Random 90/10 split of the ratings (``numpy.random.default_rng(seed).permutation``,
the first 90% train), every model fitted on the same training ratings in the
same process, one after the other, and scored by RMSE on the held-out 10%.
Fit times are wall-clock seconds of ``fit`` alone (data conversion for Surprise
excluded).  BLAS/OpenMP/torch are limited to ``--threads`` threads (default 1)
before numpy is imported, because Surprise is single-threaded.

    python benchmarks/bench_baselines.py                      # ML-100K
    python benchmarks/bench_baselines.py --dataset ml-1m
    python benchmarks/bench_baselines.py --svdpp --repeats 3  # also SVD++, best of 3

The ML files are read from ``--data-dir`` (default /work/shared/data); they are
research-only and never copied into the repository.  Surprise is optional
(``pip install scikit-surprise``); without it only this package's models run.
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
    parser.add_argument("--threads", type=int, default=1,
                        help="BLAS/OpenMP/torch threads (default 1: Surprise uses one)")
    parser.add_argument("--repeats", type=int, default=1,
                        help="fit each model this many times and report the fastest")
    parser.add_argument("--svdpp", action="store_true", help="also run Surprise's SVDpp (slow)")
    parser.add_argument("--output", default=None,
                        help="markdown file (default benchmarks/results/baselines_<dataset>.md)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    import numpy as np

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import sklearn_autorec
    from sklearn_autorec import BaselineRegressor, BiasedMFRegressor
    from sklearn_autorec.datasets import load_ratings_file

    data = load_ratings_file(Path(args.data_dir) / FILES[args.dataset])
    X, y = data.X, data.y
    perm = np.random.default_rng(args.seed).permutation(len(y))
    n_train = int(0.9 * len(y))
    train, test = perm[:n_train], perm[n_train:]
    X_train, y_train, X_test, y_test = X[train], y[train], X[test], y[test]
    print(f"{args.dataset}: {len(y)} ratings, {len(data.user_ids)} users, "
          f"{len(data.item_ids)} items; train {len(train)}, test {len(test)}", flush=True)

    def rmse(pred):
        return float(np.sqrt(np.mean((np.asarray(pred) - y_test) ** 2)))

    s = args.seed
    ours = [
        ("BaselineRegressor()", lambda: BaselineRegressor()),
        ("BiasedMFRegressor()", lambda: BiasedMFRegressor(random_state=s)),
        ("BiasedMFRegressor(n_components=100, alpha=0.05)",
         lambda: BiasedMFRegressor(n_components=100, alpha=0.05, random_state=s)),
        ("BiasedMFRegressor(solver='sgd', alpha=0.02, max_iter=20, tol=0)",
         lambda: BiasedMFRegressor(solver="sgd", alpha=0.02, max_iter=20, tol=0.0,
                                   device="cpu", random_state=s)),
    ]
    rows = []

    def run(name, fit, predict):
        best = np.inf
        for _ in range(args.repeats):
            start = time.perf_counter()
            model = fit()
            best = min(best, time.perf_counter() - start)
        score = rmse(predict(model))
        rows.append((name, score, best))
        print(f"{name:70s} RMSE {score:.4f}  fit {best:7.2f} s", flush=True)

    import warnings

    from sklearn.exceptions import ConvergenceWarning

    import torch  # imported up front, so that no timed fit pays torch's import

    torch.set_num_threads(args.threads)
    for name, make in ours:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            run(name, lambda make=make: make().fit(X_train, y_train),
                lambda model: model.predict(X_test))

    try:
        import pandas as pd
        import surprise
    except ImportError:
        surprise = None
        print("surprise is not installed: skipping the Surprise models")
    if surprise is not None:
        from surprise import SVD, BaselineOnly, Dataset, Reader, SVDpp

        scale = (float(y.min()), float(y.max()))
        frame = pd.DataFrame({"user": X_train[:, 0], "item": X_train[:, 1], "rating": y_train})
        trainset = Dataset.load_from_df(frame, Reader(rating_scale=scale)).build_full_trainset()
        testset = list(zip(X_test[:, 0].tolist(), X_test[:, 1].tolist(), y_test.tolist()))
        theirs = [
            ("surprise BaselineOnly()", lambda: BaselineOnly(verbose=False)),
            ("surprise SVD()", lambda: SVD(random_state=s)),
            ("surprise SVD(n_factors=100, n_epochs=40, reg_all=0.05)",
             lambda: SVD(n_factors=100, n_epochs=40, reg_all=0.05, random_state=s)),
        ]
        if args.svdpp:
            theirs.append(("surprise SVDpp()", lambda: SVDpp(random_state=s)))
        for name, make in theirs:
            run(name, lambda make=make: make().fit(trainset),
                lambda algo: [p.est for p in algo.test(testset)])

    reference = dict((name, t) for name, _, t in rows).get("surprise SVD()")
    lines = ["| model | test RMSE | fit seconds |" + (" fit time / Surprise SVD() |"
                                                      if reference else ""),
             "|---|---|---|" + ("---|" if reference else "")]
    for name, score, seconds in rows:
        ratio = f" {seconds / reference:.2f} |" if reference else ""
        lines.append(f"| `{name}` | {score:.4f} | {seconds:.2f} |{ratio}")
    table = "\n".join(lines)
    print()
    print(table)

    versions = [f"sklearn_autorec {sklearn_autorec.__version__}", f"numpy {np.__version__}"]
    if surprise is not None:
        versions.append(f"scikit-surprise {surprise.__version__}")
    command = "python benchmarks/bench_baselines.py " + " ".join(argv or sys.argv[1:])
    header = [
        f"# Baselines on {args.dataset}",
        "",
        f"Command: `{command.strip()}`",
        "",
        f"Data: `{FILES[args.dataset]}` ({len(y)} ratings); split: "
        f"`numpy.random.default_rng({args.seed}).permutation`, first 90% train "
        f"({len(train)}), last 10% test ({len(test)}); seed {args.seed} for every model.",
        "",
        f"Machine: {os.cpu_count()}-core CPU ({platform.machine()}, "
        f"{platform.processor() or 'unknown processor'}), shared with other jobs, so "
        f"times are noisy; every model ran in the same process with {args.threads} "
        f"BLAS/OpenMP/torch thread(s); fit time is the fastest of {args.repeats} fit(s). "
        f"Versions: {', '.join(versions)}.",
        "",
    ]
    output = Path(args.output) if args.output else (
        Path(__file__).resolve().parent / "results" / f"baselines_{args.dataset}.md")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text("\n".join(header) + "\n" + table + "\n")
    print(f"\nwritten to {output}")


if __name__ == "__main__":
    main()
