#!/usr/bin/env python
"""Do AutoRec's defaults hold up on data they were not tuned on?

For each data set: a random 90/10 split of the ratings (numpy
``default_rng(0)`` permutation, the first 90% train), test RMSE of
``BaselineRegressor()``, ``AutoRecRegressor()`` (the defaults: ``alpha="auto"``,
``baseline_offset=True``, ``solver="auto"``) and ``AutoRecRegressor(alpha=a)``
for every ``a`` of a fixed grid (all other parameters at their defaults), with
fit seconds.  The acceptance rule of the defaults: ``AutoRecRegressor()`` is no
worse than ``BaselineRegressor()`` and within 0.005 RMSE of the best alpha of
the grid, on every data set.

Data sets: MovieLens 100K and 1M (read from ``../shared/data``, never shipped),
the shipped latest-small, and synthetic sets of several shapes and densities
from ``sklearn_autorec.datasets.make_ratings`` (a small square one among them).
Results are cached in a JSON file (``--out``), one entry per (data set,
model), so runs can be split and resumed; the markdown page is rendered from
the cache.

    python benchmarks/bench_defaults.py                       # everything (~40 min, 2 cores)
    python benchmarks/bench_defaults.py --datasets ml-100k synth-square
    python benchmarks/bench_defaults.py --report-only
"""

import argparse
import json
import os
import time
import warnings
from pathlib import Path

import numpy as np

from sklearn_autorec import AutoRecRegressor, BaselineRegressor
from sklearn_autorec.datasets import load_movielens, load_ratings_file, make_ratings

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parent.parent / "shared" / "data"
GRID = (30.0, 100.0, 300.0, 1000.0, 3000.0)
#: synthetic sets: (n_users, n_items, density, popularity_skew, noise)
SYNTHETIC = {
    "synth-square": (300, 300, 0.10, 1.0, 0.3),
    "synth-wide": (500, 4000, 0.01, 1.0, 0.5),
    "synth-tall": (5000, 500, 0.04, 1.0, 0.5),
    "synth-dense": (1000, 800, 0.15, 0.5, 0.8),
}
REAL = {"ml-100k": "ml-100k/u.data", "ml-1m": "ml-1m/ratings.csv.gz"}
ALL = [*REAL, "ml-latest-small", *SYNTHETIC]


def load(name, data_dir):
    """(X, y) pairs of data set ``name``."""
    if name == "ml-latest-small":
        data = load_movielens("ml-latest-small")
    elif name in REAL:
        data = load_ratings_file(Path(data_dir) / REAL[name])
    else:
        n_users, n_items, density, skew, noise = SYNTHETIC[name]
        data = make_ratings(n_users, n_items, density=density, popularity_skew=skew,
                            noise=noise, random_state=0)
    return data.X, data.y


def describe(name):
    if name in SYNTHETIC:
        n_users, n_items, density, skew, noise = SYNTHETIC[name]
        return (f"`make_ratings({n_users}, {n_items}, density={density}, "
                f"popularity_skew={skew}, noise={noise}, random_state=0)`")
    return {"ml-100k": "MovieLens 100K (`u.data`)", "ml-1m": "MovieLens 1M",
            "ml-latest-small": "MovieLens latest-small (shipped)"}[name]


def models():
    yield "BaselineRegressor()", lambda: BaselineRegressor()
    yield "AutoRecRegressor()", lambda: AutoRecRegressor(random_state=0)
    for alpha in GRID:
        yield f"AutoRecRegressor(alpha={alpha:g})", (
            lambda alpha=alpha: AutoRecRegressor(alpha=alpha, random_state=0))


def run(name, data_dir, cache, out):
    X, y = load(name, data_dir)
    perm = np.random.default_rng(0).permutation(len(y))
    n_train = int(0.9 * len(y))
    train, test = perm[:n_train], perm[n_train:]
    for label, make in models():
        key = f"{name} | {label}"
        if key in cache:
            continue
        model = make()
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(X[train], y[train])
        seconds = time.perf_counter() - start
        rmse = float(np.sqrt(np.mean((model.predict(X[test]) - y[test]) ** 2)))
        import torch

        entry = {"dataset": name, "model": label, "rmse": rmse, "seconds": seconds,
                 "n_ratings": int(len(y)), "n_train": int(n_train),
                 "threads": torch.get_num_threads(), "load": os.getloadavg()[0]}
        if isinstance(model, AutoRecRegressor):
            entry.update(alpha=model.alpha_, solver=model.solver_, n_iter=model.n_iter_)
        cache[key] = entry
        print(f"{key}: RMSE {rmse:.4f}, {seconds:.1f} s", flush=True)
        out.write_text(json.dumps(cache, indent=1))


def render(cache, datasets):
    import torch

    threads = sorted({v.get("threads") for v in cache.values()} - {None})
    loads = [v["load"] for v in cache.values() if "load" in v]
    lines = [
        "# AutoRec's defaults on data they were not tuned on", "",
        "Produced by `python benchmarks/bench_defaults.py` (results cached in "
        "`benchmarks/results/defaults.json`). Random 90/10 split of the ratings "
        "(`default_rng(0)` permutation), test RMSE; every model with "
        "`random_state=0` and otherwise its defaults, the alpha rows with only "
        f"`alpha` set. Machine: {os.cpu_count()} CPU cores, torch {torch.__version__}, "
        f"{' or '.join(map(str, threads))} torch thread(s) per fit"
        + (f"; 1-minute load average {min(loads):.1f}-{max(loads):.1f} during the fits "
           "(other jobs shared the machine: fit seconds are indicative)" if loads else "")
        + ".", "",
        "Rule: `AutoRecRegressor()` no worse than `BaselineRegressor()` and within 0.005 of "
        "the best alpha of the grid.", "",
        "| data | ratings | baseline | AutoRec() (alpha chosen, solver) | best of grid "
        "(alpha) | AutoRec() - best | fit: AutoRec() / alpha=300 | rule |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name in datasets:
        rows = {v["model"]: v for v in cache.values() if v["dataset"] == name}
        if "AutoRecRegressor()" not in rows or "BaselineRegressor()" not in rows:
            continue
        base, auto = rows["BaselineRegressor()"], rows["AutoRecRegressor()"]
        grid = [rows[f"AutoRecRegressor(alpha={a:g})"] for a in GRID
                if f"AutoRecRegressor(alpha={a:g})" in rows]
        best = min(grid, key=lambda v: v["rmse"]) if grid else None
        fixed = rows.get("AutoRecRegressor(alpha=300)")
        ok = auto["rmse"] <= base["rmse"] and (best is None or auto["rmse"] <= best["rmse"] + 0.005)
        lines.append(
            f"| {describe(name)} | {auto['n_ratings']:,} | {base['rmse']:.4f} | "
            f"**{auto['rmse']:.4f}** ({auto['alpha']:g}, {auto['solver']}) | "
            + (f"{best['rmse']:.4f} ({best['alpha']:g}) | {auto['rmse'] - best['rmse']:+.4f} | "
               if best else "n/a | n/a | ")
            + f"{auto['seconds']:.0f} s / "
            + (f"{fixed['seconds']:.0f} s" if fixed else "n/a")
            + f" | {'pass' if ok else '**fail**'} |")
    lines += ["", "All grid points (test RMSE, fit seconds):", "",
              "| data | " + " | ".join(f"alpha={a:g}" for a in GRID) + " |",
              "|---|" + "---:|" * len(GRID)]
    for name in datasets:
        rows = {v["model"]: v for v in cache.values() if v["dataset"] == name}
        cells = []
        for a in GRID:
            v = rows.get(f"AutoRecRegressor(alpha={a:g})")
            cells.append(f"{v['rmse']:.4f} ({v['seconds']:.0f} s)" if v else "")
        if any(cells):
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=ALL, choices=ALL)
    parser.add_argument("--data-dir", default=str(DEFAULT_DATA))
    parser.add_argument("--out", default=str(HERE / "results" / "defaults.json"))
    parser.add_argument("--page", default=str(HERE.parent / "docs" / "defaults_results.md"))
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch.set_num_threads (default: torch's own setting)")
    args = parser.parse_args()
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
    out = Path(args.out)
    cache = json.loads(out.read_text()) if out.exists() else {}
    if not args.report_only:
        for name in args.datasets:
            if name in REAL and not (Path(args.data_dir) / REAL[name]).exists():
                print(f"skipping {name}: {Path(args.data_dir) / REAL[name]} not found")
                continue
            run(name, args.data_dir, cache, out)
    Path(args.page).write_text(render(cache, ALL))
    print(f"wrote {args.page}")


if __name__ == "__main__":
    main()
