#!/usr/bin/env python
"""Peak memory and time of AutoRecRegressor fits at the paper's scale (synthetic data).

Each case runs in a fresh process that loads a cached synthetic rating matrix
(``make_ratings`` with the shape and number of ratings of ML-10M or Netflix
and a Zipf popularity skew, generated once by a separate process so that the
generator's own memory is not counted), fits ``AutoRecRegressor(**params)`` on
it as a user would (``fit(R)``), and reports

* the peak resident set size of the whole process (``ru_maxrss``: the imports,
  the loaded matrix, the data contract and training), and
* the fit's wall time, the epochs run and the seconds of each epoch (from the
  ``verbose`` lines).

Beside each measured peak the page prints the memory model of
``docs/performance.md`` for the case, so the model is checked against it.

    python benchmarks/bench_scale.py --cases ml10m-default-1 ml10m-adam-noes-1
    python benchmarks/bench_scale.py --cases netflix-default-1        # ~25 min, ~20 GB
    python benchmarks/bench_scale.py --cases ml10m-default            # to convergence
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from sklearn_autorec import _autorec

HERE = Path(__file__).resolve().parent
SHAPES = {  # (n_users, n_items, n_ratings)
    "ml1m": (6040, 3706, 1_000_209),
    "ml10m": (69878, 10677, 10_000_054),
    "netflix": (480189, 17770, 100_480_507),
}
CASES = {  # name: (shape, AutoRecRegressor parameters)
    "ml1m-lbfgs-1": ("ml1m", {"max_iter": 1, "solver": "lbfgs"}),
    "ml1m-lbfgs-noes-1": ("ml1m", {"max_iter": 1, "solver": "lbfgs", "early_stopping": False}),
    "ml1m-adam-1": ("ml1m", {"max_iter": 1, "solver": "adam"}),
    "ml10m-default-1": ("ml10m", {"max_iter": 1}),
    "ml10m-adam-noes-1": ("ml10m", {"max_iter": 1, "early_stopping": False}),
    "ml10m-lbfgs-noes-1": ("ml10m", {"max_iter": 1, "solver": "lbfgs",
                                     "early_stopping": False}),
    "ml10m-default": ("ml10m", {}),
    "netflix-default-1": ("netflix", {"max_iter": 1}),
}
#: peak RSS of a tiny fit (50 x 40 ratings, k=8): python, numpy, scipy, sklearn, torch
IMPORT_BYTES = 0.51e9


def model_bytes(shape, params, k=500):
    """The memory model of docs/performance.md: predicted peak bytes of the fit."""
    n_users, n_items, nnz = shape
    solver = params.get("solver", "auto")
    n_weights = 2 * n_users * k  # I-AutoRec: encoder and decoder rows are users
    if solver == "auto":  # the estimator's own rule
        solver = ("lbfgs" if n_weights <= _autorec.LBFGS_MAX_WEIGHTS
                  and nnz <= _autorec.LBFGS_MAX_RATINGS else "adam")
    early = params.get("early_stopping", True)
    # the caller's CSR (12), encoded triplets (24), seen items (4), the device
    # copy (16); early stopping: the held-out pairs (6; the training subset is
    # copied only while the device copy is built)
    per_rating = 12 + 24 + 4 + 16 + (6 if early else 0)
    # weights, gradients (4 + 4) and the numpy copy made at the end of the fit
    # (4); Adam's two moments (8) or L-BFGS's 10 pairs of history and its flat
    # copies (68); early stopping: the best weights (4)
    per_weight = {"adam": 20, "lbfgs": 80}[solver] + (4 if early else 0)
    return IMPORT_BYTES + per_rating * nnz + per_weight * n_weights, solver


def matrix_path(name, cache):
    path = Path(cache) / f"{name}.npz"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        n_users, n_items, nnz = SHAPES[name]
        code = (
            "import scipy.sparse as sp\n"
            "from sklearn_autorec.datasets import make_ratings\n"
            f"R = make_ratings({n_users}, {n_items}, density={nnz}/({n_users}*{n_items}), "
            "popularity_skew=1.0, random_state=0).ratings\n"
            f"sp.save_npz({str(path)!r}, R, compressed=False)\n")
        subprocess.run([sys.executable, "-c", code], check=True)
    return path


CHILD = """
import json, resource, sys, time, warnings
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn_autorec import AutoRecRegressor
R = sp.load_npz(sys.argv[1]).tocsr()
params = json.loads(sys.argv[2])
model = AutoRecRegressor(random_state=0, verbose=True, **params)
start = time.perf_counter()
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    model.fit(R)
converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
seconds = time.perf_counter() - start
print("RESULT " + json.dumps({
    "seconds": seconds, "solver": model.solver_, "alpha": model.alpha_,
    "n_iter": model.n_iter_, "converged": converged,
    "best_validation_score": model.best_validation_score_,
    "alpha_path": model.alpha_path_, "threads": __import__("torch").get_num_threads(),
    "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""


def run_case(name, cache, threads=None):
    shape_name, params = CASES[name]
    path = matrix_path(shape_name, cache)
    start = time.time()
    env = dict(os.environ)
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    # The child's epoch lines are echoed to stderr as they come (a fit to
    # convergence at ML-10M scale runs for many minutes).
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(path), json.dumps(params)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)
    lines = []
    for line in proc.stdout:
        lines.append(line.rstrip("\n"))
        print(f"[{name}] {lines[-1]}", file=sys.stderr, flush=True)
    stderr = proc.stderr.read()
    if proc.wait() != 0:
        raise RuntimeError(f"{name} failed:\n{stderr[-3000:]}")
    result = json.loads([ln for ln in lines if ln.startswith("RESULT ")][-1][7:])
    epochs = [float(m.group(1)) for ln in lines
              if (m := re.search(r"^Iteration \d+, .*, ([0-9.]+)s$", ln))]
    predicted, solver = model_bytes(SHAPES[shape_name], params)
    result.update(case=name, params=params, shape=SHAPES[shape_name], epochs=epochs,
                  predicted_peak=predicted, wall=time.time() - start,
                  load=os.getloadavg()[0])
    return result


def render(results):
    import torch

    lines = [
        "| case | parameters | solver | epochs run | s / epoch (median) | fit | peak RSS | "
        "model (error) | validation RMSE | stopping rule met |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results.values():
        ep = sorted(r["epochs"])
        med = ep[len(ep) // 2] if ep else float("nan")
        params = ", ".join(f"{k}={v!r}" for k, v in r["params"].items()) or "(defaults)"
        score = r["best_validation_score"]
        r["predicted_peak"] = model_bytes(r["shape"], r["params"])[0]
        lines.append(
            f"| {r['case']} | `{params}` | {r['solver']} ({r.get('threads', '?')} thr.) | "
            f"{len(ep)} | {med:.1f} | "
            f"{r['seconds'] / 60:.1f} min | {r['peak_rss'] / 1e9:.2f} GB | "
            f"{r['predicted_peak'] / 1e9:.2f} GB "
            f"({(r['predicted_peak'] - r['peak_rss']) / r['peak_rss']:+.0%}) | "
            + (f"{score:.4f}" if score is not None else "") + " | "
            + {True: "yes", False: "no (max_iter)", None: "not recorded"}[r.get("converged")]
            + " |")
    lines.append("")
    lines.append(f"Machine: {os.cpu_count()} cores, torch {torch.__version__} "
                 f"({torch.get_num_threads()} threads).")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", default=["ml10m-default-1"], choices=sorted(CASES))
    parser.add_argument("--cache", default="/tmp/sklearn_autorec_bench")
    parser.add_argument("--out", default=str(HERE / "results" / "scale.json"))
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument("--threads", type=int, default=None,
                        help="OMP_NUM_THREADS of the fitting process (default: unset)")
    args = parser.parse_args()
    out = Path(args.out)
    results = json.loads(out.read_text()) if out.exists() else {}
    if not args.report_only:
        for name in args.cases:
            print(f"running {name} ...", flush=True)
            results[name] = run_case(name, args.cache, args.threads)
            r = results[name]
            print(f"  {r['seconds']:.0f} s, peak {r['peak_rss'] / 1e9:.2f} GB "
                  f"(model {r['predicted_peak'] / 1e9:.2f} GB)", flush=True)
            out.write_text(json.dumps(results, indent=1))
    page = HERE / "results" / "scale.md"
    page.write_text("# AutoRec at the paper's scale (synthetic data)\n\nProduced by "
                    "`python benchmarks/bench_scale.py --cases ...` (cache: "
                    "`benchmarks/results/scale.json`).\n\n" + render(results))
    print(f"wrote {page}")


if __name__ == "__main__":
    main()
