"""The AutoRec paper's evaluation protocol, in one command.

Reproduces the tables of Sedhain, Menon, Sanner, Xie, "AutoRec: Autoencoders
Meet Collaborative Filtering" (WWW 2015) with this package's estimators:

* ``main``: I-AutoRec, U-AutoRec, BiasedMF, I-RBM, U-RBM, LLORMA and the
  baseline predictor, beside the paper's numbers (its Table 1(a) and 1(c),
  ML-1M); ``--models`` restricts it to some rows, and ``--quick`` leaves out
  the RBM and LLORMA rows unless ``--models`` names them;
* ``activations``: I-AutoRec with the hidden activation g and the output
  activation f each identity or sigmoid (the paper's Table 1(b), ML-1M);
* ``hidden``: test RMSE of I-AutoRec against the number of hidden units (the
  paper's hidden-units figure), with a PNG plot;
* ``deep``: I-AutoRec with hidden layers (500, 250, 500) against (500,)
  (the paper's text: 0.827 against 0.831 on ML-1M).

Protocol, for each repeat r = 0 .. repeats-1: a random 90/10 split of the
ratings (``numpy.random.default_rng(r).permutation``, the first 90% train),
every model seeded with ``random_state=r`` and fitted on the training pairs,
test RMSE over all test ratings.  A test pair whose user or item has no
training rating gets the package's default fallback (``unknown="baseline"``:
the global mean plus whatever user or item bias is known); how many pairs did
is reported.  Results are the mean over repeats with a 95% confidence interval
from the t-distribution: ``t.ppf(0.975, n - 1) * std / sqrt(n)`` with the
sample standard deviation (``ddof=1``); one repeat gives no interval.

Without ``--tune`` every model uses the package defaults.  With ``--tune``
each model picks its hyper-parameters from a small grid (``TUNE_GRIDS``; the
activation and deep experiments' AutoRec models have wider alpha grids of
their own, ``ACTIVATION_GRID`` and ``DEEP_GRID``) by the RMSE on a random 10%
of the repeat's training ratings (``default_rng([r, 1]).permutation`` of the
training ratings, the last 10%), fitted on the other 90% (an AutoRec tuning
fit keeps its early-stopped weights: no refit); it is then refitted on all
the training ratings with the chosen values, which are recorded.

Every fit is cached in a JSON file beside the markdown page (``--out`` with
the suffix ``.json``), keyed by (dataset, estimator, all its parameters,
repeat, tuning grid): an interrupted run continues where it stopped when the
same command is run again, a fit shared by two experiments (I-AutoRec with
500 hidden units appears in all four) runs once, and the page is rewritten
from the cache (``--report-only`` rewrites it without fitting anything).  A
changed package default changes the key, so it is refitted; to start over
after a change of the code, delete the JSON file.

Before fitting, the script times a few iterations of every architecture it
still has to fit and prints the expected total time (``--estimate-only``
stops there), so the options can be chosen to fit the time available.

    python benchmarks/paper_table.py --quick                    # smoke test, ML-100K
    python benchmarks/paper_table.py --estimate-only            # how long would it take?
    python benchmarks/paper_table.py --datasets ml-100k ml-1m   # defaults, 5 repeats
    python benchmarks/paper_table.py --tune main                # tune the main table only
    python benchmarks/paper_table.py --experiments main --models I-RBM U-RBM LLORMA --repeats 1

ML-100K and ML-1M are read from ``--data-dir`` (default ``../shared/data``
beside the repository); they are research-only and never copied into it.
"""

import argparse
import datetime
import json
import math
import os
import platform
import shlex
import sys
import time
import warnings
from collections import namedtuple
from itertools import product
from pathlib import Path

import numpy as np
from scipy import stats

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

from sklearn_autorec import (  # noqa: E402 - after the path set-up
    AutoRecRegressor,
    BaselineRegressor,
    BiasedMFRegressor,
    LLORMARegressor,
    RBMRegressor,
)
from sklearn_autorec.datasets import load_movielens, load_ratings_file  # noqa: E402

DEFAULT_DATA = REPO.parent / "shared" / "data"
DEFAULT_OUT = REPO / "docs" / "paper_results.md"
DEFAULT_QUICK_OUT = REPO / "docs" / "paper_results_quick.md"
DEFAULT_PLOTS = REPO / "docs" / "_static"
EXPERIMENTS = ("main", "activations", "hidden", "deep")
DEFAULT_HIDDEN_UNITS = (10, 20, 40, 80, 100, 200, 300, 400, 500)

ESTIMATORS = {
    "AutoRec": AutoRecRegressor,
    "BiasedMF": BiasedMFRegressor,
    "Baseline": BaselineRegressor,
    "RBM": RBMRegressor,
    "LLORMA": LLORMARegressor,
}
#: Rows of ``main`` left out of ``--quick`` smoke tests unless ``--models``
#: names them (they have no tiny settings of their own).
FULL_ONLY_MODELS = ("I-RBM", "U-RBM", "LLORMA")
#: Parameters that do not change the fitted function (or only within float
#: tolerance: the device), left out of the cache key.
KEY_EXCLUDE = {"random_state", "verbose", "device"}
#: AutoRec as the paper ran it, and as every cached result was fitted: the
#: package's own defaults have moved on (alpha="auto", baseline_offset=True,
#: solver, n_iter_no_change and refit "auto"; docs/accuracy.md), so this
#: protocol pins the paper's model and the settings its results used.
#: ``baseline_offset`` did not exist when the cache was written; it is left out
#: of the key and always False here.
PAPER_AUTOREC = {"alpha": 300.0, "baseline_offset": False, "solver": "lbfgs",
                 "n_iter_no_change": 50, "refit": True}
LEGACY_KEY_EXCLUDE = {"baseline_offset"}

#: Hyper-parameter grids of ``--tune``.  AutoRec's alpha is the lambda of the
#: paper's objective, a penalty against a squared-error *sum*, so good values
#: grow slowly with the data: 300-400 on ML-100K and ML-1M (DESIGN.md, section
#: 7); the grid brackets them.  BiasedMF's alpha is counted once per rating
#: (Surprise's reg_all).  The baseline's penalties are global sums.
TUNE_GRIDS = {
    "AutoRec": {"alpha": [100.0, 300.0, 1000.0]},
    "BiasedMF": {"n_components": [40, 100], "alpha": [0.05, 0.1, 0.2]},
    "Baseline": {"user_alpha": [5.0, 15.0, 30.0], "item_alpha": [3.0, 10.0, 25.0]},
    "RBM": {"alpha": [0.003, 0.01, 0.03]},
    "LLORMA": {"alpha": [0.03, 0.05, 0.1]},
}

#: AutoRec grids of single models (``Spec.tune_grid``), wider than the default
#: one where the architecture moves the best alpha away from 300.  Set from
#: development runs on ML-100K (repeat 0, package defaults otherwise): with a
#: linear hidden layer the penalty must be much stronger (identity/identity:
#: test RMSE 1.125 at alpha 300, 0.920 at 1000, 0.914 at 3000, 0.962 at
#: 10000; identity/sigmoid: 0.986 at 300, 0.906 at 1000), with three penalised
#: weight matrices much weaker (500-250-500: 0.946 at 300, 0.900 at 30, 0.901
#: at 10).  All four rows of the activation table share one grid, so the
#: sigmoid/identity row is the same fit as the (500,) row of ``deep``.
ACTIVATION_GRID = {"alpha": [100.0, 300.0, 1000.0, 3000.0]}
DEEP_GRID = {"alpha": [10.0, 30.0, 100.0]}

#: The paper's ML-1M numbers (it reports no ML-100K result).  Keys are the
#: ``paper_key`` of the model specifications below.  Table 1(b) of the paper
#: lists (f, g, RMSE) for h(r) = f(W g(V r + mu) + b): f is the output and g
#: the hidden activation; its best row (f identity, g sigmoid: 0.831) is its
#: I-AutoRec of Table 1(a), which confirms the orientation.
PAPER = {
    "ml-1m": {
        "I-AutoRec": 0.831,
        "U-AutoRec": 0.874,
        "BiasedMF": 0.845,
        "I-RBM": 0.854,
        "U-RBM": 0.881,
        "LLORMA": 0.833,
        "act:identity:identity": 0.872,  # act:<g hidden>:<f output>
        "act:identity:sigmoid": 0.852,
        "act:sigmoid:identity": 0.831,
        "act:sigmoid:sigmoid": 0.836,
        "shallow": 0.831,
        "deep": 0.827,
    },
}
PAPER_SOURCE = {
    "main": "Table 1(a) (I-/U-AutoRec, I-/U-RBM) and Table 1(c) (BiasedMF, LLORMA)",
    "activations": "Table 1(b)",
    "deep": "the text of section 3 (deep I-AutoRec 0.827 against 0.831)",
}
TITLES = {
    "main": "Main comparison",
    "activations": "Activation functions (I-AutoRec)",
    "hidden": "Hidden units (I-AutoRec)",
    "deep": "Deep I-AutoRec",
}

Spec = namedtuple("Spec", "experiment label estimator params paper_key tune_grid",
                  defaults=(None,))
Spec.__doc__ = """One model of an experiment.

``tune_grid`` overrides the estimator's ``TUNE_GRIDS`` entry for this model
(None: use it); only used when the experiment is tuned.
"""


# --------------------------------------------------------------------------- statistics


def confidence_interval(values, level=0.95):
    """Mean and half-width of the t-distribution confidence interval.

    ``half = t.ppf((1 + level) / 2, n - 1) * std / sqrt(n)`` with the sample
    standard deviation (``ddof=1``).

    Parameters
    ----------
    values : sequence of float
        One value per repeat.
    level : float, default=0.95
        Confidence level.

    Returns
    -------
    mean : float
        The mean of ``values`` (NaN when empty).
    half : float or None
        Half-width of the interval; None for fewer than two values.
    """
    values = np.asarray(values, dtype=float)
    n = len(values)
    if n == 0:
        return float("nan"), None
    mean = float(values.mean())
    if n < 2:
        return mean, None
    std = float(values.std(ddof=1))
    return mean, float(stats.t.ppf((1 + level) / 2, n - 1) * std / math.sqrt(n))


def format_ci(values, digits=4, expected=None):
    """``"0.8312 ± 0.0021"`` (n >= 2), ``"0.8312"`` (n = 1) or ``"—"`` (none).

    With ``expected`` (the repeats asked for) and fewer values than that, the
    count is added: ``"0.8312 (n=1)"``.
    """
    if len(values) == 0:
        return "—"
    mean, half = confidence_interval(values)
    text = f"{mean:.{digits}f}" if half is None else f"{mean:.{digits}f} ± {half:.{digits}f}"
    if expected is not None and len(values) < expected:
        text += f" (n={len(values)})"
    return text


# --------------------------------------------------------------------------- data and splits


def split_indices(n, repeat, train_fraction=0.9):
    """The repeat's split: ``default_rng(repeat).permutation(n)``, first 90% train."""
    perm = np.random.default_rng(repeat).permutation(n)
    n_train = int(train_fraction * n)
    return perm[:n_train], perm[n_train:]


def selection_indices(n_train, repeat, selection_fraction=0.1):
    """Positions (within the training ratings) of the tuning fit and selection sets.

    ``default_rng([repeat, 1]).permutation(n_train)``: the last
    ``selection_fraction`` of it is the selection set, the rest the fit set.
    """
    perm = np.random.default_rng([repeat, 1]).permutation(n_train)
    n_fit = n_train - max(1, int(round(selection_fraction * n_train)))
    return perm[:n_fit], perm[n_fit:]


def load_datasets(names, data_dir, data_files):
    """Load the datasets by name (from ``data_dir``) and the extra rating files.

    Returns an ordered dict ``{name: Bunch}``; a file given by path is named
    by its file name without suffixes (``ratings.csv.gz`` -> ``ratings``).
    """
    out = {}
    for name in names:
        folder = Path(data_dir) / name
        if folder.exists():
            out[name] = load_movielens(name, path=folder, download=False)
        else:
            out[name] = load_movielens(name, download=False)
    for path in data_files:
        out[Path(path).name.split(".")[0]] = load_ratings_file(path)
    return out


def display_name(dataset):
    return {"ml-100k": "ML-100K", "ml-1m": "ML-1M", "ml-10m": "ML-10M"}.get(dataset, dataset)


# --------------------------------------------------------------------------- models


def experiment_specs(experiments, hidden_units, quick, models=None):
    """The models of each experiment, as ``Spec`` tuples (params: non-default ones).

    ``models``: labels of the ``main`` rows to keep (None: all of them, but
    without ``FULL_ONLY_MODELS`` when ``quick``); the other experiments are
    not filtered.
    """
    width = 20 if quick else 500
    deep = [width, width // 2, width] if quick else [500, 250, 500]
    specs = {}
    if "main" in experiments:
        specs["main"] = [
            Spec("main", "I-AutoRec", "AutoRec", {"hidden_layer_sizes": [width]}, "I-AutoRec"),
            Spec("main", "U-AutoRec", "AutoRec",
                 {"hidden_layer_sizes": [width], "item_based": False}, "U-AutoRec"),
            Spec("main", "BiasedMF", "BiasedMF", {}, "BiasedMF"),
            Spec("main", "I-RBM", "RBM", {}, "I-RBM"),
            Spec("main", "U-RBM", "RBM", {"item_based": False}, "U-RBM"),
            Spec("main", "LLORMA", "LLORMA", {}, "LLORMA"),
            Spec("main", "Baseline", "Baseline", {}, None),
        ]
        if models is not None:
            specs["main"] = [spec for spec in specs["main"] if spec.label in models]
        elif quick:
            specs["main"] = [spec for spec in specs["main"]
                             if spec.label not in FULL_ONLY_MODELS]
    if "activations" in experiments:
        # the paper's row order: (f, g) = (id, id), (sig, id), (id, sig), (sig, sig)
        specs["activations"] = [
            Spec("activations", f"g={g}, f={f}", "AutoRec",
                 {"hidden_layer_sizes": [width], "activation": g, "output_activation": f},
                 f"act:{g}:{f}", ACTIVATION_GRID)
            for g, f in (("identity", "identity"), ("identity", "sigmoid"),
                         ("sigmoid", "identity"), ("sigmoid", "sigmoid"))
        ]
    if "hidden" in experiments:
        specs["hidden"] = [
            Spec("hidden", str(k), "AutoRec", {"hidden_layer_sizes": [int(k)]}, None)
            for k in hidden_units
        ]
    if "deep" in experiments:
        specs["deep"] = [
            Spec("deep", f"I-AutoRec ({width},)", "AutoRec",
                 {"hidden_layer_sizes": [width]}, "shallow", ACTIVATION_GRID),
            Spec("deep", f"Deep I-AutoRec {tuple(deep)}", "AutoRec",
                 {"hidden_layer_sizes": deep}, "deep", DEEP_GRID),
        ]
    return specs


def tune_grid(spec):
    """The grid ``--tune`` searches for ``spec``: its own, else its estimator's."""
    return spec.tune_grid if spec.tune_grid is not None else TUNE_GRIDS[spec.estimator]


def _jsonable(value):
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def full_params(spec, max_iter=None):
    """All parameters of the spec's estimator (JSON-ready), ``max_iter`` applied to AutoRec."""
    params = dict(spec.params)
    if spec.estimator == "AutoRec":
        params = {**PAPER_AUTOREC, **params}
        if max_iter is not None:
            params["max_iter"] = int(max_iter)
    estimator = ESTIMATORS[spec.estimator](**params)
    return {k: _jsonable(v) for k, v in sorted(estimator.get_params().items())
            if k not in KEY_EXCLUDE | LEGACY_KEY_EXCLUDE}


def make_model(estimator, params, repeat):
    """A fresh estimator with ``params``, seeded with the repeat where it takes a seed."""
    cls = ESTIMATORS[estimator]
    kwargs = {k: tuple(v) if k == "hidden_layer_sizes" else v for k, v in params.items()}
    if estimator == "AutoRec":
        kwargs = {**PAPER_AUTOREC, **kwargs}
    if "random_state" in cls().get_params():
        kwargs["random_state"] = repeat
    return cls(**kwargs)


def fit_key(dataset, estimator, params, repeat, grid):
    """The cache key of one fit (a canonical JSON string)."""
    return json.dumps({"dataset": dataset, "estimator": estimator, "params": params,
                       "repeat": repeat, "tune_grid": grid}, sort_keys=True)


def rmse(model, X, y):
    return float(np.sqrt(np.mean((model.predict(X) - y) ** 2)))


def timed_fit(model, X, y):
    """Fit; return the seconds and the names of the warnings raised (not shown)."""
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(X, y)
    return time.perf_counter() - start, sorted({type(w.message).__name__ for w in caught})


def tuning_params(estimator, params):
    """The parameters of a tuning (grid) fit of a model with ``params``.

    The selection RMSE only ranks the grid points, so an AutoRec tuning fit
    keeps its early-stopped weights: the refit on the fit set would double
    its cost and change nothing the ranking needs.
    """
    return dict(params, refit=False) if estimator == "AutoRec" else dict(params)


def run_fit(data, job):
    """Fit one job (tuning first when it has a grid) and return its record."""
    X, y = data.X, data.y
    train, test = split_indices(len(y), job["repeat"])
    params, grid, record = dict(job["params"]), job["grid"], {}
    tune_seconds, notes = 0.0, set()
    if grid:
        fit_pos, sel_pos = selection_indices(len(train), job["repeat"])
        fit_idx, sel_idx = train[fit_pos], train[sel_pos]
        scores = []
        names = sorted(grid)
        for values in product(*(grid[n] for n in names)):
            trial = tuning_params(job["estimator"], {**params, **dict(zip(names, values))})
            model = make_model(job["estimator"], trial, job["repeat"])
            seconds, caught = timed_fit(model, X[fit_idx], y[fit_idx])
            tune_seconds += seconds
            notes.update(caught)
            scores.append({"values": dict(zip(names, values)),
                           "selection_rmse": rmse(model, X[sel_idx], y[sel_idx])})
        best = min(scores, key=lambda s: s["selection_rmse"])
        params.update(best["values"])
        record.update(chosen=best["values"], selection=scores)
    model = make_model(job["estimator"], params, job["repeat"])
    seconds, caught = timed_fit(model, X[train], y[train])
    notes.update(caught)
    mask = model.fallback_mask(X[test])
    record.update(
        dataset=job["dataset"], estimator=job["estimator"], params=job["params"],
        repeat=job["repeat"], tune_grid=grid, used_by=[],
        rmse=rmse(model, X[test], y[test]),
        fit_seconds=seconds, tune_seconds=tune_seconds,
        n_train=int(len(train)), n_test=int(len(test)), n_fallback=int(mask.sum()),
        n_iter=getattr(model, "n_iter_", None),
        device=getattr(model, "device_", "cpu"),
        warnings=sorted(notes),
    )
    return record


# --------------------------------------------------------------------------- time estimate


def _fit_units(estimator, params):
    """How many fits and iterations (or sweeps) one fit of the model may run.

    An upper bound: AutoRec with early stopping and refit runs up to
    ``max_iter`` iterations on 90% of the ratings, then (refit) the best
    number of them again on all of them.

    Returns
    -------
    n_fits : int
        Trainings run, each paying the fixed set-up cost once.
    units : float
        Iterations (sweeps), in units of one iteration on all the ratings.
    """
    if estimator == "AutoRec":
        n = params["max_iter"]
        return (2, n * 1.9) if params["early_stopping"] and params["refit"] else (1, n)
    if estimator in ("BiasedMF", "RBM"):
        return 1, params["max_iter"]
    if estimator == "LLORMA":  # one "iteration" is a local model
        return 1, params["n_anchors"]
    return 1, 0


def _probe_key(estimator, params):
    if estimator == "AutoRec":
        return (estimator, tuple(params["hidden_layer_sizes"]), params["item_based"])
    if estimator == "BiasedMF":
        return (estimator, params["n_components"], params["solver"])
    if estimator == "RBM":
        return (estimator, params["n_components"], params["item_based"])
    if estimator == "LLORMA":
        return (estimator, params["n_components"], params["max_iter"])
    return (estimator,)


def probe_costs(datasets, jobs):
    """Fixed and per-iteration seconds of every (dataset, architecture) of ``jobs``.

    On repeat 0's training ratings, times a fit of 1 and one of 3 iterations
    (AutoRec and RBM epochs without early stopping; BiasedMF sweeps; LLORMA
    local models, ``n_anchors``): the difference over 2
    is the cost of an iteration, the rest of the 1-iteration fit the fixed
    cost (encoding the ratings, the fallback biases).  A baseline fit is timed
    whole.  One untimed 1-iteration AutoRec fit first pays torch's start-up.
    The architecture is what matters: activations are not probed separately.

    Returns
    -------
    costs : dict
        ``{(dataset, *architecture): (fixed_seconds, seconds_per_iteration)}``.
    """
    costs = {}
    warmed = set()
    for job in jobs:
        key = (job["dataset"],) + _probe_key(job["estimator"], job["params"])
        if key in costs:
            continue
        data = datasets[job["dataset"]]
        train, _ = split_indices(len(data.y), 0)
        X, y = data.X[train], data.y[train]
        params = dict(job["params"])
        if job["estimator"] == "Baseline":
            seconds, _ = timed_fit(make_model("Baseline", params, 0), X, y)
            costs[key] = (seconds, 0.0)
            continue
        if job["estimator"] == "AutoRec":
            if job["dataset"] not in warmed:
                warm = dict(params, hidden_layer_sizes=[8], max_iter=1, early_stopping=False)
                timed_fit(make_model("AutoRec", warm, 0), X, y)
                warmed.add(job["dataset"])
            params.update(early_stopping=False)
        elif job["estimator"] != "LLORMA":
            params.update(tol=0.0, early_stopping=False)
        size = "n_anchors" if job["estimator"] == "LLORMA" else "max_iter"
        one, _ = timed_fit(make_model(job["estimator"], dict(params, **{size: 1}), 0), X, y)
        three, _ = timed_fit(make_model(job["estimator"], dict(params, **{size: 3}), 0), X, y)
        per_iter = max((three - one) / 2, three / 30)  # timing noise can make it negative
        costs[key] = (max(one - per_iter, 0.0), per_iter)
    return costs


def estimated_seconds(job, costs):
    """Expected seconds of one job, tuning included (an upper bound; see ``_fit_units``).

    The grid fits are costed as fits of the job's own architecture on 90% of
    the training ratings (BiasedMF's grid of ``n_components`` makes that rough),
    with the parameters of a tuning fit (``tuning_params``).
    """
    estimator, params = job["estimator"], job["params"]
    fixed, per_iter = costs[(job["dataset"],) + _probe_key(estimator, params)]

    def seconds(params):
        n_fits, units = _fit_units(estimator, params)
        return n_fits * fixed + units * per_iter

    if not job["grid"]:
        return seconds(params)
    n_grid = int(np.prod([len(v) for v in job["grid"].values()]))
    return seconds(params) + 0.9 * n_grid * seconds(tuning_params(estimator, params))


def plural(n, word):
    """``"1 repeat"``, ``"5 repeats"``."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def format_duration(seconds):
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


# --------------------------------------------------------------------------- machine


def machine_description():
    """CPU model, cores, torch version and threads, and the GPU if torch sees one."""
    cpu = platform.processor() or platform.machine() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f
                     if line.startswith("model name")]
        if names:
            cpu = names[0]
    except OSError:
        pass
    import torch

    text = (f"{cpu}, {plural(os.cpu_count(), 'core')}, torch {torch.__version__} "
            f"({plural(torch.get_num_threads(), 'thread')})")
    if torch.cuda.is_available():
        text += f", GPU {torch.cuda.get_device_name(0)}"
    return text


# --------------------------------------------------------------------------- cache


def load_cache(path):
    if path.exists():
        with open(path) as f:
            cache = json.load(f)
        cache.setdefault("results", {})
        cache.setdefault("datasets", {})
        cache.setdefault("runs", [])
        return cache
    return {"description": "Raw per-repeat results of benchmarks/paper_table.py; the page "
                           "beside this file is rendered from them.",
            "results": {}, "datasets": {}, "runs": []}


def merge_cache(cache, other):
    """Add to ``cache`` (in place) the fits, dataset facts and runs of ``other`` it lacks.

    A fit ``cache`` already has is kept (the same key is the same fit); runs
    are the union, in date order.
    """
    for key, rec in other["results"].items():
        cache["results"].setdefault(key, rec)
    for name, info in other["datasets"].items():
        mine = cache["datasets"].setdefault(name, {})
        fallback = {**info.get("fallback", {}), **mine.get("fallback", {})}
        mine.update({k: v for k, v in info.items() if k not in mine})
        mine["fallback"] = fallback
    runs = {json.dumps(run, sort_keys=True): run for run in other["runs"] + cache["runs"]}
    cache["runs"] = sorted(runs.values(), key=lambda run: run["date"])


def save_cache(cache, path):
    """Merge with the file on disk, then write it atomically.

    Under an exclusive lock (``<json>.lock``, where ``fcntl`` exists) the
    file is read again and what another invocation added since is merged in
    (``merge_cache``), so two invocations with the same ``--out`` (one per
    core, say) share one cache without losing each other's fits.  The write
    goes to a temporary file, then a rename: an interruption keeps a valid
    file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock, one invocation at a time
        fcntl = None
    with open(path.with_name(path.name + ".lock"), "w") as lock:
        if fcntl is not None:
            fcntl.flock(lock, fcntl.LOCK_EX)
        if path.exists():
            merge_cache(cache, load_cache(path))
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "w") as f:
            json.dump(cache, f, indent=1, sort_keys=True)
            f.write("\n")
        os.replace(tmp, path)


# --------------------------------------------------------------------------- report


def cell(dataset, spec):
    """The key of one table cell: (dataset, experiment, model label)."""
    return (dataset, spec.experiment, spec.label)


def _cells(cache, jobs_by_cell, dataset, spec):
    """The cached records of one (dataset, spec), in repeat order."""
    return [cache["results"][key] for key in jobs_by_cell.get(cell(dataset, spec), [])
            if key in cache["results"]]


def _rmses(cache, keys_by_cell, dataset, spec):
    """The cached test RMSEs of one (dataset, spec), in repeat order."""
    return [rec["rmse"] for rec in _cells(cache, keys_by_cell, dataset, spec)]


def _paper_value(dataset, spec):
    return PAPER.get(dataset, {}).get(spec.paper_key) if spec.paper_key else None


def _gap_text(values, paper):
    if not values or paper is None:
        return "—"
    return f"{np.mean(values) - paper:+.4f}"


def _comparison_sentence(experiment, datasets, specs, values_of):
    """One sentence per dataset: where we are worse than the paper, and by how much."""
    sentences = []
    for dataset in datasets:
        if dataset not in PAPER:
            sentences.append(f"{display_name(dataset)}: the paper reports no "
                             f"{display_name(dataset)} result, so there is nothing to "
                             "compare with.")
            continue
        worse, better = [], []
        for spec in specs:
            paper, values = _paper_value(dataset, spec), values_of(dataset, spec)
            if paper is None or not values:
                continue
            mean, half = confidence_interval(values)
            gap = mean - paper
            inside = half is not None and abs(gap) <= half
            text = (f"{spec.label} by {abs(gap):.4f} ({mean:.4f} against {paper:.3f}"
                    + ("; the paper's value is inside our 95% interval)" if inside else ")"))
            (worse if gap > 0 else better).append(text)
        if not worse and not better:
            sentences.append(f"{display_name(dataset)}: no result to compare yet.")
            continue
        parts = []
        if worse:
            parts.append("we are worse than the paper for " + "; ".join(worse))
        if better:
            parts.append(("and " if worse else "we are ") + "no worse (equal or better) for "
                         + "; ".join(better))
        sentences.append(f"{display_name(dataset)}: " + ", ".join(parts) + ".")
    return " ".join(sentences)


def plot_hidden(dataset, specs, values_of, path):
    """RMSE against hidden units, with 95% intervals; returns the path or None."""
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points, n_repeats = [], 0
    for spec in specs:
        values = values_of(dataset, spec)
        if values:
            mean, half = confidence_interval(values)
            points.append((spec.params["hidden_layer_sizes"][0], mean, half or 0.0))
            n_repeats = max(n_repeats, len(values))
    if not points:
        return None
    k, mean, half = (np.array(v) for v in zip(*points))
    fig, ax = plt.subplots(figsize=(5.5, 3.6), dpi=100)
    ax.errorbar(k, mean, yerr=half, marker="o", capsize=3, label="I-AutoRec (this package)")
    ax.set_xlabel("number of hidden units")
    ax.set_ylabel("test RMSE")
    ax.set_title(f"{display_name(dataset)}: I-AutoRec, mean of {n_repeats} repeats, 95% CI"
                 if n_repeats > 1 else f"{display_name(dataset)}: I-AutoRec, 1 repeat")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def render(cache, config, specs, jobs_by_cell, plots, default_by_cell=None):
    """The markdown page.

    ``default_by_cell`` holds, for the cells of tuned experiments, the keys
    of the same models fitted with the package defaults (not tuned); where
    the cache has them, the table shows them beside the tuned results.
    """
    default_by_cell = default_by_cell or {}
    datasets = config["datasets"]
    lines = [f"# AutoRec paper protocol: {'smoke test' if config['quick'] else 'results'}", ""]
    if config["quick"]:
        lines += [
            "> **Smoke test with tiny settings** (`--quick`: "
            f"{plural(config['repeats'], 'repeat')}, hidden layers of 20 units, "
            f"max_iter={config['max_iter']}). These numbers only show that the "
            "pipeline runs; they say nothing about accuracy. The real page is "
            "`docs/paper_results.md`, produced by a full run.", ""]
    tuned = config["tune"]
    lines += [
        "Produced by `benchmarks/paper_table.py`; [docs/paper.md]("
        + os.path.relpath(REPO / "docs" / "paper.md", Path(config["out"]).parent)
        + ") explains the protocol. The raw per-repeat results are in "
        f"`{Path(config['json']).name}` beside this page, from which it is rendered.",
        "",
        f"- Last command: `{config['command']}` ({config['date']}, "
        f"{format_duration(config['wall_seconds'])}: {config['n_run']} fits run, "
        f"{config['n_cached']} taken from the cache)",
        "- Machine: " + "; ".join(sorted(
            {run["machine"] for run in cache["runs"] if run["n_run"]} or {config["machine"]})),
        f"- Fit time of all the results on this page: "
        f"{format_duration(config['total_fit_seconds'])}; the runs that fitted them "
        "are listed at the end",
        f"- Protocol: {plural(config['repeats'], 'repeat')} r of a random 90/10 split of the "
        "ratings (`numpy.random.default_rng(r).permutation`, first 90% train), models "
        "seeded with `random_state=r`; test RMSE as mean ± 95% confidence interval "
        "(t-distribution, `t.ppf(0.975, n-1) * std / sqrt(n)`, sample std; none for "
        "one repeat). Test pairs whose user or item has no training rating get "
        "`unknown=\"baseline\"` (global mean plus the known bias).",
        "- Hyper-parameters: " + (
            "package defaults, except the hidden layer sizes each experiment varies"
            + (f" and AutoRec's `max_iter={config['max_iter']}`" if config["max_iter"] else "")
            + "." if not tuned else
            "tuned for the experiments " + ", ".join(f"`{e}`" for e in tuned)
            + " on a random 10% of each repeat's training ratings (fitted on the other "
            "90%), then refitted on all training ratings; grids: "
            + "; ".join(_grid_text(spec) for e in tuned for spec in specs.get(e, []))
            + ". Other parameters, and every parameter of the experiments not tuned: "
            "package defaults"
            + (f", AutoRec's `max_iter={config['max_iter']}`" if config["max_iter"] else "")
            + "."),
        "",
        "| dataset | ratings | users | items | train / test ratings | test pairs with the "
        "fallback (per repeat) |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for dataset in datasets:
        info = cache["datasets"].get(dataset, {})
        fallback = info.get("fallback", {})
        counts = [fallback[str(r)] for r in range(config["repeats"]) if str(r) in fallback]
        fb = (", ".join(map(str, counts))
              + f" ({100 * np.mean(counts) / max(info.get('n_test', 1), 1):.2f}% on average)"
              if counts else "—")
        lines.append(
            f"| {display_name(dataset)} | {info.get('n_ratings', 0):,} | "
            f"{info.get('n_users', 0):,} | {info.get('n_items', 0):,} | "
            f"{info.get('n_train', 0):,} / {info.get('n_test', 0):,} | {fb} |")
    lines.append("")

    def values_of(dataset, spec):
        return _rmses(cache, jobs_by_cell, dataset, spec)

    def defaults_of(dataset, spec):
        return _rmses(cache, default_by_cell, dataset, spec)

    repeats = config["repeats"]

    for experiment in EXPERIMENTS:
        if experiment not in specs:
            continue
        rows = specs[experiment]
        lines += [f"## {TITLES[experiment]}", ""]
        if experiment == "hidden":
            lines += ["Test RMSE of I-AutoRec against the number of hidden units k "
                      "(other parameters as above). The paper shows this on ML-1M as a "
                      "figure only, without numbers to compare with.", ""]
            lines.append("| hidden units | " + " | ".join(
                display_name(d) for d in datasets) + " |")
            lines.append("|---:|" + "---|" * len(datasets))
            for spec in rows:
                lines.append(f"| {spec.label} | " + " | ".join(
                    format_ci(values_of(d, spec), expected=repeats) for d in datasets) + " |")
            lines.append("")
            for dataset in datasets:
                if dataset in plots:
                    rel = os.path.relpath(plots[dataset], Path(config["out"]).parent)
                    lines.append(f"![{display_name(dataset)}: RMSE against hidden units]"
                                 f"({rel})")
                    lines.append("")
                elif config.get("plots_missing"):
                    lines += [f"No plot for {display_name(dataset)}: "
                              f"{config['plots_missing']}.", ""]
            continue
        lines += [f"The paper's numbers: {PAPER_SOURCE[experiment]}, ML-1M; the gap is "
                  "ours minus the paper's (positive: we are worse).", ""]
        with_defaults = [d for d in datasets if experiment in tuned and any(
            defaults_of(d, spec) for spec in rows)]
        header, rule = ["model"], ["---"]
        for dataset in datasets:
            name = display_name(dataset)
            if dataset in with_defaults:
                header += [f"{name} (ours, tuned)", f"{name} (ours, defaults)"]
                rule += ["---", "---"]
            else:
                header.append(f"{name} (ours{', tuned' if experiment in tuned else ''})")
                rule.append("---")
            header += [f"{name} paper", f"{name} gap"]
            rule += ["---:", "---:"]
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "|".join(rule) + "|")
        for spec in rows:
            cells = [spec.label]
            for dataset in datasets:
                paper = _paper_value(dataset, spec)
                values = values_of(dataset, spec)
                paper_text = (f"{paper:.3f}" if paper is not None else
                              "not reported" if dataset not in PAPER else "—")
                cells.append(format_ci(values, expected=repeats))
                if dataset in with_defaults:
                    cells.append(format_ci(defaults_of(dataset, spec), expected=repeats))
                cells += [paper_text, _gap_text(values, paper)]
            lines.append("| " + " | ".join(cells) + " |")
        if with_defaults:
            lines += ["", "\"defaults\": the same models with the package defaults "
                      "(`alpha=300`), not tuned; the gap is the tuned result's."]
        lines += ["", _comparison_sentence(experiment, datasets, rows, values_of), ""]
        if experiment == "activations":
            lines += ["g is the hidden activation (`activation`), f the output activation "
                      "(`output_activation`), as in the paper's h(r) = f(W g(V r + mu) + b); "
                      "its Table 1(b) lists f first.", ""]

    lines += ["## Every fit", "",
              "Per-repeat test RMSE, mean fit seconds (the final fit; tuning fits "
              "separately), iterations of the final fit, the values chosen by tuning "
              "and any warning raised during the fits.", "",
              "| dataset | experiment | model | test RMSE per repeat | fit s | tuning s | "
              "iterations | chosen | warnings |",
              "|---|---|---|---|---:|---:|---|---|---|"]
    for dataset in datasets:
        for experiment in EXPERIMENTS:
            for spec in specs.get(experiment, []):
                recs = _cells(cache, jobs_by_cell, dataset, spec)
                if not recs:
                    continue
                chosen = "; ".join(", ".join(f"{k}={v}" for k, v in rec["chosen"].items())
                                   for rec in recs if rec.get("chosen")) or "—"
                notes = sorted({w for rec in recs for w in rec["warnings"]})
                lines.append(
                    f"| {display_name(dataset)} | {experiment} | {spec.label} | "
                    + ", ".join(f"{rec['rmse']:.4f}" for rec in recs)
                    + f" | {np.mean([rec['fit_seconds'] for rec in recs]):.1f} | "
                    f"{np.mean([rec['tune_seconds'] for rec in recs]):.1f} | "
                    + ", ".join(str(rec["n_iter"]) for rec in recs)
                    + f" | {chosen} | {', '.join(notes) or '—'} |")
    lines += ["", "## Runs", "",
              "Every invocation that added fits to the JSON beside this page (a run "
              "may have fitted models of other pages' experiments too).", "",
              "| command | finished | machine | wall time | fits run |",
              "|---|---|---|---:|---:|"]
    for run in cache["runs"]:
        if run["n_run"]:
            lines.append(f"| `{run['command']}` | {run['date']} | {run['machine']} | "
                         f"{format_duration(run['wall_seconds'])} | {run['n_run']} |")
    lines.append("")
    return "\n".join(lines)


def _grid_text(spec):
    grid = tune_grid(spec)
    return f"{spec.label} " + " x ".join(f"`{k}` in {v}" for k, v in grid.items())


# --------------------------------------------------------------------------- main


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=None,
                        help="MovieLens datasets read from --data-dir (default: ml-100k "
                             "ml-1m; ml-100k with --quick; none with --data-file)")
    parser.add_argument("--data-dir", default=str(DEFAULT_DATA),
                        help="folder holding ml-100k/ and ml-1m/ (default: ../shared/data "
                             "beside the repository)")
    parser.add_argument("--data-file", action="append", default=[],
                        help="an extra ratings file (any format load_ratings_file reads), "
                             "named by its file name; repeatable")
    parser.add_argument("--repeats", type=int, default=None,
                        help="random 90/10 splits (default 5; 1 with --quick)")
    parser.add_argument("--experiments", nargs="+", choices=EXPERIMENTS,
                        default=list(EXPERIMENTS), help="any subset (default: all four)")
    parser.add_argument("--models", nargs="+", default=None, metavar="LABEL",
                        help="rows of the main table to run, e.g. I-RBM U-RBM LLORMA "
                             "(default: all; --quick leaves out "
                             f"{' '.join(FULL_ONLY_MODELS)} unless named)")
    parser.add_argument("--hidden-units", nargs="+", type=int, default=None,
                        help="hidden layer sizes of the 'hidden' experiment (default "
                             f"{' '.join(map(str, DEFAULT_HIDDEN_UNITS))}; 5 10 20 with --quick)")
    parser.add_argument("--tune", nargs="*", choices=EXPERIMENTS, default=None,
                        metavar="EXPERIMENT",
                        help="tune hyper-parameters on 10%% of the training ratings; "
                             "alone: for every experiment; with names: for those only")
    parser.add_argument("--max-iter", type=int, default=None,
                        help="AutoRec max_iter for every AutoRec model (default: the "
                             "package default; 20 with --quick)")
    parser.add_argument("--out", default=None,
                        help=f"markdown page (default {DEFAULT_OUT.relative_to(REPO)}; "
                             f"{DEFAULT_QUICK_OUT.relative_to(REPO)} with --quick); the "
                             "JSON cache is written beside it")
    parser.add_argument("--plots-dir", default=str(DEFAULT_PLOTS),
                        help="folder of the hidden-units plots (default: docs/_static)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: 1 repeat, hidden layers of 20 units, max_iter 20")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch and BLAS threads (default: torch's and the environment's "
                             "settings); 1 is much faster when other jobs share the cores")
    parser.add_argument("--estimate-only", action="store_true",
                        help="print the plan and the expected time, fit nothing")
    parser.add_argument("--report-only", action="store_true",
                        help="rewrite the page from the cached results, fit nothing")
    args = parser.parse_args(argv)
    if args.models is not None:
        labels = [spec.label for spec in experiment_specs(["main"], [], False)["main"]]
        unknown = [m for m in args.models if m not in labels]
        if unknown:
            parser.error(f"--models: unknown rows {unknown} of the main table; "
                         f"choose from {labels}")
    if args.datasets is None:
        args.datasets = [] if args.data_file else (
            ["ml-100k"] if args.quick else ["ml-100k", "ml-1m"])
    if args.repeats is None:
        args.repeats = 1 if args.quick else 5
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if args.threads is not None and args.threads < 1:
        parser.error("--threads must be at least 1")
    if args.hidden_units is None:
        args.hidden_units = [5, 10, 20] if args.quick else list(DEFAULT_HIDDEN_UNITS)
    if args.max_iter is None and args.quick:
        args.max_iter = 20
    if args.out is None:
        args.out = str(DEFAULT_QUICK_OUT if args.quick else DEFAULT_OUT)
    if args.tune is not None and not args.tune:
        args.tune = list(args.experiments)
    args.tune = [e for e in (args.tune or []) if e in args.experiments]
    if not args.datasets and not args.data_file:
        parser.error("no dataset: give --datasets or --data-file")
    return args


def main(argv=None):
    """Run the command line ``argv``; return the page (None with ``--estimate-only``).

    With ``--threads`` the torch and BLAS thread counts are restored on return.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.threads is None:
        return run(args, argv)
    import torch
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    try:
        with threadpool_limits(args.threads):
            return run(args, argv)
    finally:
        torch.set_num_threads(before)


def run(args, argv):
    """Plan, estimate, fit what the cache lacks, write the JSON, the plots and the page."""
    start = time.perf_counter()
    out = Path(args.out)
    json_path = out.with_suffix(".json")
    cache = load_cache(json_path)
    command = "python benchmarks/paper_table.py" + (" " + shlex.join(argv) if argv else "")

    datasets = load_datasets(args.datasets, args.data_dir, args.data_file)
    names = list(datasets)
    specs = experiment_specs(args.experiments, args.hidden_units, args.quick, args.models)

    # Jobs: one per (dataset, fit key); several specs may share one.
    jobs, jobs_by_cell, default_by_cell = {}, {}, {}
    for dataset in names:
        data = datasets[dataset]
        train, test = split_indices(len(data.y), 0)
        info = cache["datasets"].setdefault(dataset, {})
        info.update(n_ratings=int(len(data.y)), n_users=int(len(data.user_ids)),
                    n_items=int(len(data.item_ids)), n_train=int(len(train)),
                    n_test=int(len(test)))
        info.setdefault("fallback", {})
        for experiment, rows in specs.items():
            for spec in rows:
                params = full_params(spec, args.max_iter)
                grid = tune_grid(spec) if experiment in args.tune else None
                for repeat in range(args.repeats):
                    key = fit_key(dataset, spec.estimator, params, repeat, grid)
                    jobs_by_cell.setdefault(cell(dataset, spec), []).append(key)
                    job = jobs.setdefault(key, dict(
                        key=key, dataset=dataset, estimator=spec.estimator, params=params,
                        repeat=repeat, grid=grid, used_by=[]))
                    job["used_by"].append(f"{experiment}/{spec.label}")
                    if grid is not None:
                        default_by_cell.setdefault(cell(dataset, spec), []).append(
                            fit_key(dataset, spec.estimator, params, repeat, None))
    pending = [job for key, job in jobs.items() if key not in cache["results"]]
    n_cached = len(jobs) - len(pending)
    print(f"Plan: datasets {', '.join(names)}; experiments {', '.join(specs)}; "
          f"{plural(args.repeats, 'repeat')}; tuning: {', '.join(args.tune) or 'none'}; "
          f"{len(jobs)} distinct fits, {n_cached} cached, {len(pending)} to run.", flush=True)

    estimates = {}
    if pending and not args.report_only:
        print("Timing a few iterations of each architecture to estimate the run time...",
              flush=True)
        costs = probe_costs(datasets, pending)
        estimates = {job["key"]: estimated_seconds(job, costs) for job in pending}
        for dataset in names:
            for experiment in specs:
                todo = [job for job in pending if job["dataset"] == dataset
                        and job["used_by"][0].startswith(experiment + "/")]
                if todo:
                    print(f"  {dataset} {experiment}: {plural(len(todo), 'fit')}, about "
                          f"{format_duration(sum(estimates[j['key']] for j in todo))}")
        print(f"Expected total: about {format_duration(sum(estimates.values()))} (an upper "
              "bound: every AutoRec fit is assumed to run max_iter iterations, then a refit "
              "of as many; a fit shared by experiments is counted under the first).",
              flush=True)
    if args.estimate_only:
        return None

    n_run, spent, spent_estimated = 0, 0.0, 0.0
    if not args.report_only:
        for i, job in enumerate(pending, 1):
            if json_path.exists():
                # another invocation sharing this --out may have fitted it meanwhile
                disk = load_cache(json_path)
                if job["key"] in disk["results"]:
                    merge_cache(cache, disk)
                    estimates.pop(job["key"])
                    n_cached += 1
                    print(f"[{i}/{len(pending)}] {job['dataset']} "
                          f"{', '.join(job['used_by'])} repeat {job['repeat']}: fitted by "
                          "another invocation meanwhile, taken from the cache", flush=True)
                    continue
            rec = run_fit(datasets[job["dataset"]], job)
            cache["results"][job["key"]] = rec
            n_run += 1
            spent += rec["fit_seconds"] + rec["tune_seconds"]
            spent_estimated += estimates[job["key"]]
            # the estimates of the jobs left, corrected by how far off they were so far
            left = (sum(estimates.get(j["key"], 0.0) for j in pending[i:])
                    * spent / max(spent_estimated, 1e-9))
            save_cache(cache, json_path)
            tuning = f" + tuning {rec['tune_seconds']:.1f} s" if job["grid"] else ""
            chosen = (", chosen " + ", ".join(f"{k}={v}" for k, v in rec["chosen"].items())
                      if rec.get("chosen") else "")
            print(f"[{i}/{len(pending)}] {job['dataset']} {', '.join(job['used_by'])} "
                  f"repeat {job['repeat']}: RMSE {rec['rmse']:.4f}, fit "
                  f"{rec['fit_seconds']:.1f} s{tuning}, {rec['n_fallback']} fallback test "
                  f"pairs{chosen}; about {format_duration(left)} left", flush=True)
    for job in jobs.values():
        rec = cache["results"].get(job["key"])
        if rec is not None:
            rec["used_by"] = sorted(set(rec["used_by"]) | set(job["used_by"]))
            cache["datasets"][job["dataset"]]["fallback"][str(job["repeat"])] = rec["n_fallback"]

    plots, plots_missing = {}, None
    if "hidden" in specs:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            plots_missing = "matplotlib is not installed (pip install matplotlib)"
        for dataset in names:
            suffix = "_quick" if args.quick else ""
            path = plot_hidden(
                dataset, specs["hidden"],
                lambda d, s: _rmses(cache, jobs_by_cell, d, s),
                Path(args.plots_dir) / f"hidden_units_{dataset}{suffix}.png")
            if path is not None:
                plots[dataset] = path
                print(f"Plot: {path}")

    shown = {key for keys in jobs_by_cell.values() for key in keys if key in cache["results"]}
    wall = time.perf_counter() - start
    config = dict(
        datasets=names, quick=args.quick, repeats=args.repeats, max_iter=args.max_iter,
        tune=args.tune, command=command, out=str(out), json=str(json_path),
        date=datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        machine=machine_description(), wall_seconds=wall, n_run=n_run,
        n_cached=n_cached, plots_missing=plots_missing,
        total_fit_seconds=sum(cache["results"][k]["fit_seconds"]
                              + cache["results"][k]["tune_seconds"] for k in shown),
    )
    run_keys = ("command", "date", "machine", "wall_seconds", "n_run", "n_cached")
    cache["runs"].append({k: config[k] for k in run_keys})
    save_cache(cache, json_path)
    page = render(cache, config, specs, jobs_by_cell, plots, default_by_cell)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page)
    print(f"Wrote {out} and {json_path} ({format_duration(wall)}).")
    return page


if __name__ == "__main__":
    main()
