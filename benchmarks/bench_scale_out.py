"""Time a small GridSearchCV serially and over 2 loky processes (docs/scale_out.md)."""
import os
import sys
import time
import warnings

import joblib
import torch
from joblib.externals.loky import get_reusable_executor
from sklearn.model_selection import GridSearchCV, KFold
from sklearn_autorec import AutoRecRegressor
from sklearn_autorec.datasets import make_ratings

warnings.simplefilter("ignore")
os.environ["PYTHONWARNINGS"] = "ignore"  # inherited by the workers
data = make_ratings(500, 300, random_state=0)
X, y = data.X, data.y
grid = {"alpha": [30.0, 300.0], "activation": ["sigmoid", "identity"]}  # 4 candidates


def run(n_jobs, cold=True):
    if cold:
        get_reusable_executor().shutdown(wait=True)
    search = GridSearchCV(AutoRecRegressor(hidden_layer_sizes=(32,), max_iter=20,
                                           device="cpu", random_state=0),
                          grid, cv=KFold(3, shuffle=True, random_state=0), n_jobs=n_jobs,
                          scoring="neg_root_mean_squared_error")
    t = time.perf_counter()
    with joblib.parallel_config("loky"):
        search.fit(X, y)
    return time.perf_counter() - t, search.cv_results_["mean_test_score"]


def worker_threads():
    get_reusable_executor().shutdown(wait=True)
    with joblib.parallel_config("loky"):
        return joblib.Parallel(2)(joblib.delayed(torch.get_num_threads)() for _ in range(2))


print(f"{os.cpu_count()} CPUs, torch {torch.__version__}, main process threads "
      f"{torch.get_num_threads()}, loky worker threads {worker_threads()}", flush=True)
default = torch.get_num_threads()
ref = None
for rep in range(2):
    # (name, n_jobs, torch threads of the main process, cold executor)
    cases = [("n_jobs=1, 1 torch thread", 1, 1, True),
             ("n_jobs=2 (loky, 1 thread each), cold", 2, 1, True),
             ("n_jobs=2 (loky, 1 thread each), warm", 2, 1, False)]
    if rep == 1 or "--all" in sys.argv:
        cases.append((f"n_jobs=1, {default} torch threads", 1, default, True))
    for name, n_jobs, threads, cold in cases:
        torch.set_num_threads(threads)
        sec, scores = run(n_jobs, cold=cold)
        ref = scores if ref is None else ref
        print(f"rep {rep}: {name:40s} {sec:6.2f} s  same scores: {(scores == ref).all()}",
              flush=True)
