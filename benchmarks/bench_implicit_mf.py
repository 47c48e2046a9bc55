"""ImplicitMFRecommender on the ML-1M top-N protocol (benchmarks/_topn_protocol.py).

Hyper-parameters are chosen on ``val_train``/``val_test`` only; ``test`` numbers
are reported for the defaults and for the best validation setting.  Run from the
repository root::

    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 python benchmarks/bench_implicit_mf.py \
        [--grid] [--max-iter N]

Without ``--grid`` it fits the defaults (and the best setting listed in
``BEST``) on ``train`` and reports Recall@20 / NDCG@100 on ``test``.  With
``--grid`` it first scores the grid ``GRID`` on the validation split.
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.dirname(__file__))

from _topn_protocol import load_protocol  # noqa: E402

from sklearn_autorec._implicit_mf import ImplicitMFRecommender  # noqa: E402
from sklearn_autorec.metrics import ranking_report  # noqa: E402

#: The validation grid of ``--grid`` (run with ``--max-iter 10``).
GRID = ([{"n_components": 64, "alpha": a, "confidence": c}
         for a in (10.0, 100.0, 300.0) for c in (3.0, 10.0, 30.0)]
        + [{"n_components": 128, "alpha": 100.0, "confidence": 10.0}])
#: The best setting found on validation (fill in from a --grid run).
BEST = {"n_components": 128, "alpha": 100.0, "confidence": 10.0}


def evaluate(params, train, test, max_iter=None):
    if max_iter is not None:
        params = {**params, "max_iter": max_iter}
    model = ImplicitMFRecommender(random_state=0, **params)
    start = time.perf_counter()
    model.fit(train)
    fit_s = time.perf_counter() - start
    report = ranking_report(model, test, k=(20, 100), metrics=("recall", "ndcg"))
    return report["recall@20"], report["ndcg@100"], fit_s, model.loss_curve_


def main():
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover - the benchmark itself needs no torch
        pass
    parser = argparse.ArgumentParser()
    parser.add_argument("--grid", action="store_true")
    parser.add_argument("--max-iter", type=int, default=None, help="sweeps of the grid fits")
    args = parser.parse_args()
    p = load_protocol()
    if args.grid:
        print("validation (fit val_train, score val_test)")
        for params in GRID:
            r, n, s, _ = evaluate(params, p["val_train"], p["val_test"], args.max_iter)
            print(f"  {params}: recall@20 {r:.4f} ndcg@100 {n:.4f} fit {s:.1f} s",
                  flush=True)
    for name, params in (("defaults", {}), ("best on validation", BEST)):
        r, n, s, curve = evaluate(params, p["train"], p["test"])
        print(f"{name} {params} test: recall@20 {r:.4f} ndcg@100 {n:.4f} "
              f"fit {s:.1f} s, objective {curve[0]:.4f} -> {curve[-1]:.4f}", flush=True)


if __name__ == "__main__":
    main()
