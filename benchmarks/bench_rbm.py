"""RBM-CF benchmarks: test RMSE of I-RBM and U-RBM on random 90/10 splits.

Usage::

    python benchmarks/bench_rbm.py [ml-100k|ml-1m ...] [--tune]

Data from ``../shared/data``.  The split of ``bench_defaults.py``: a
``numpy.random.default_rng(0)`` permutation of the ratings, the first 90% train,
the rest test.  Each model is ``RBMRegressor`` with its documented defaults
(``item_based`` True for I-RBM, False for U-RBM) and ``random_state=0``,
fitted on one thread; fit seconds, epochs and the test RMSE go to
``benchmarks/results/rbm.json`` (merged) and are printed.

``--tune`` instead splits the training 90% again (its first 90% for fitting,
the rest for scoring; the test ratings are never read) and scores the
settings of ``TUNE_GRID``: how the defaults were chosen.

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
TUNE_GRID = [dict(learning_rate=0.2, alpha=a) for a in (0.001, 0.01, 0.03)]


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
              "params": params}
    if (name, label) in PAPER and what == "test_rmse":
        record["paper"] = PAPER[(name, label)]
    save(f"{what} | {name} | {label} {json.dumps(params, sort_keys=True)}", record)


def main(argv):
    from sklearn_autorec.datasets import load_ratings_file

    tune = "--tune" in argv
    names = [a for a in argv if not a.startswith("--")] or ["ml-100k", "ml-1m"]
    for name in names:
        d = load_ratings_file(DATA / FILES[name])
        perm = np.random.default_rng(0).permutation(len(d.y))
        n = int(0.9 * len(d.y))
        train, test = perm[:n], perm[n:]
        if tune:
            m = int(0.9 * n)
            fit, score = train[:m], train[m:]
            for label, based in (("I-RBM", True), ("U-RBM", False)):
                for grid in TUNE_GRID:
                    run(name, label, dict(item_based=based, **grid), d.X[fit], d.y[fit],
                        d.X[score], d.y[score], "validation_rmse")
        else:
            for label, based in (("I-RBM", True), ("U-RBM", False)):
                run(name, label, dict(item_based=based), d.X[train], d.y[train],
                    d.X[test], d.y[test], "test_rmse")


if __name__ == "__main__":
    main(sys.argv[1:])
