"""RBM-CF benchmarks: test RMSE of I-RBM and U-RBM on random 90/10 splits.

Usage::

    python benchmarks/bench_rbm.py [ml-100k|ml-1m ...] [--tune] [--models I-RBM U-RBM]
        [--grid '[{"learning_rate_decay": 0.95}]']

Data from ``../shared/data``.  The split of ``bench_defaults.py``: a
``numpy.random.default_rng(0)`` permutation of the ratings, the first 90% train,
the rest test.  Each model is ``RBMRegressor`` with its documented defaults
(``item_based`` True for I-RBM, False for U-RBM) and ``random_state=0``,
fitted on one thread; fit seconds, epochs and the test RMSE go to
``benchmarks/results/rbm.json`` (merged) and are printed.

``--tune`` instead splits the training 90% again (its first 90% for fitting,
the rest for scoring; the test ratings are never read) and scores the
settings of ``TUNE_GRID`` (or of ``--grid``, a JSON list of parameter dicts
added to each model's ``item_based``): how the defaults were chosen.
``--models`` restricts the run to I-RBM or U-RBM.

The paper (Salakhutdinov et al. 2007) does not report MovieLens; the AutoRec
paper's table (ML-1M, 90/10) gives I-RBM 0.854 and U-RBM 0.881.
"""

import json
import os
import sys
import time
from pathlib import Path

for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
DATA = HERE.parent.parent / "shared" / "data"
OUT = HERE / "results" / "rbm.json"
FILES = {"ml-100k": "ml-100k/u.data", "ml-1m": "ml-1m/ratings.csv.gz"}
PAPER = {("ml-1m", "I-RBM"): 0.854, ("ml-1m", "U-RBM"): 0.881}
#: The settings ``--tune`` scores, each spelled out against the current
#: defaults (``learning_rate=0.2``, ``learning_rate_decay=0.95``, momentum 0.5
#: for 5 epochs then 0.9, ``alpha=0.003``, 200 hidden units for I-RBM and 100
#: for U-RBM, 15-epoch stages):
#: the former defaults first, then one change at a time.  Their ML-100K scores
#: are in the numpydoc of RBMRegressor; the ML-1M ones (``--grid``, 2-4
#: minutes a fit) in ``results/rbm.json``.
FORMER = dict(learning_rate_decay=1.0, momentum_epochs=0, alpha=0.01, n_components=100)
TUNE_GRID = [
    FORMER,
    dict(alpha=0.01, momentum_epochs=0, n_components=100),
    *(dict(alpha=0.01, learning_rate_decay=d, n_components=100) for d in (0.9, 0.95, 0.97)),
    *(dict(alpha=0.01, learning_rate=lr, n_components=100) for lr in (0.1, 0.4)),
    *(dict(alpha=0.01, n_components=f) for f in (200, 500)),
    *(dict(alpha=a, n_components=100) for a in (0.001, 0.003, 0.03)),
    dict(learning_rate=0.1, n_components=100),
    dict(batch_size=20, n_components=100),
    dict(n_components=100),
    dict(n_components=200),
    dict(momentum_epochs=0, n_components=100),
]


def save(key, record):
    results = json.loads(OUT.read_text()) if OUT.exists() else {}
    results[key] = record
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(results, indent=1))
    print(key, json.dumps(record), flush=True)


def run(name, label, params, X_fit, y_fit, X_score, y_score, what):
    from sklearn_autorec._rbm import RBMRegressor

    start = time.perf_counter()
    model = RBMRegressor(random_state=0, **params).fit(X_fit, y_fit)
    seconds = time.perf_counter() - start
    rmse = float(np.sqrt(np.mean((model.predict(X_score) - y_score) ** 2)))
    record = {what: rmse, "fit_seconds": round(seconds, 1), "threads": 1,
              "n_iter": model.n_iter_, "best_iter": model.best_iter_,
              "cd_steps_curve": model.cd_steps_curve_,
              "best_validation_rmse": model.best_validation_score_,
              "params": params,
              # every parameter, so that the record outlives a change of defaults
              "model_params": {k: list(v) if isinstance(v, tuple) else v
                               for k, v in sorted(model.get_params().items())
                               if k not in ("random_state", "verbose")}}
    if (name, label) in PAPER and what == "test_rmse":
        record["paper"] = PAPER[(name, label)]
    # keyed by every parameter: a run of the same options after a change of
    # the defaults is a new record, not an overwrite
    save(f"{what} | {name} | {label} {json.dumps(record['model_params'], sort_keys=True)}",
         record)


def main(argv):
    from sklearn_autorec.datasets import load_ratings_file

    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="*", help=f"of {sorted(FILES)} (default all)")
    parser.add_argument("--tune", action="store_true")
    parser.add_argument("--models", nargs="+", choices=["I-RBM", "U-RBM"],
                        default=["I-RBM", "U-RBM"])
    parser.add_argument("--grid", type=json.loads, default=TUNE_GRID)
    args = parser.parse_args(argv)
    tune, names = args.tune, args.datasets or ["ml-100k", "ml-1m"]
    unknown = sorted(set(names) - set(FILES))
    if unknown:
        parser.error(f"unknown datasets {unknown}; choose from {sorted(FILES)}")
    models = [(label, label == "I-RBM") for label in args.models]
    for name in names:
        d = load_ratings_file(DATA / FILES[name])
        perm = np.random.default_rng(0).permutation(len(d.y))
        n = int(0.9 * len(d.y))
        train, test = perm[:n], perm[n:]
        if tune:
            m = int(0.9 * n)
            fit, score = train[:m], train[m:]
            for label, based in models:
                for grid in args.grid:
                    run(name, label, dict(item_based=based, **grid), d.X[fit], d.y[fit],
                        d.X[score], d.y[score], "validation_rmse")
        else:
            for label, based in models:
                run(name, label, dict(item_based=based), d.X[train], d.y[train],
                    d.X[test], d.y[test], "test_rmse")


if __name__ == "__main__":
    main(sys.argv[1:])
