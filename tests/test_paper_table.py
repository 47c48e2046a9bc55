"""Tests of benchmarks/paper_table.py (the paper's protocol) on tiny synthetic data.

The script runs its ``--quick`` configuration on a few hundred synthetic
ratings written to a CSV file (``--data-file``), so the whole pipeline (splits,
fits, tuning, cache, markdown, plot) runs in seconds.
"""

import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pytest

from sklearn_autorec import AutoRecRegressor, BaselineRegressor
from sklearn_autorec.datasets import make_ratings

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "paper_table.py"

# Student t quantiles t.ppf(0.975, df), from a table (not from scipy).
T975 = {1: 12.706204736174698, 3: 3.182446305284263}


@pytest.fixture(scope="module")
def pt():
    spec = importlib.util.spec_from_file_location("paper_table", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def ratings_file(tmp_path_factory):
    data = make_ratings(n_users=200, n_items=60, density=0.05, random_state=0)
    path = tmp_path_factory.mktemp("data") / "synthetic.csv"
    lines = ["user,item,rating"] + [f"{u},{i},{r:g}" for (u, i), r in zip(data.X, data.y)]
    path.write_text("\n".join(lines) + "\n")
    return path, data


@pytest.fixture(scope="module")
def quick_run(pt, ratings_file, tmp_path_factory):
    """One --quick run (2 repeats, max_iter 3) of every experiment: argv, folder, page."""
    path, _ = ratings_file
    out_dir = tmp_path_factory.mktemp("out")
    argv = ["--quick", "--data-file", str(path), "--repeats", "2", "--max-iter", "3",
            "--threads", "1", "--out", str(out_dir / "page.md"),
            "--plots-dir", str(out_dir / "static")]
    page = pt.main(argv)
    return argv, out_dir, page


def cell_records(cache, dataset, label_filter):
    """Records of the cache whose used_by contains ``label_filter``, by repeat."""
    recs = [rec for rec in cache["results"].values()
            if rec["dataset"] == dataset and label_filter in rec["used_by"]]
    return sorted(recs, key=lambda rec: rec["repeat"])


# --------------------------------------------------------------------------- statistics


def test_confidence_interval_matches_hand_computation(pt):
    values = [0.90, 0.92, 0.91, 0.95]
    # mean 0.92; deviations -0.02, 0, -0.01, 0.03; sample variance 0.0014 / 3
    std = math.sqrt(0.0014 / 3)
    mean, half = pt.confidence_interval(values)
    assert mean == pytest.approx(0.92)
    assert half == pytest.approx(T975[3] * std / math.sqrt(4))
    assert half == pytest.approx(0.034375, abs=1e-6)
    assert pt.format_ci(values) == "0.9200 ± 0.0344"


def test_confidence_interval_of_one_and_no_value(pt):
    assert pt.confidence_interval([0.9]) == (0.9, None)
    assert pt.format_ci([0.9]) == "0.9000"
    mean, half = pt.confidence_interval([])
    assert math.isnan(mean) and half is None
    assert pt.format_ci([]) == "—"


def test_format_ci_counts_missing_repeats(pt):
    assert pt.format_ci([0.9], expected=5) == "0.9000 (n=1)"
    assert pt.format_ci([0.90, 0.92], expected=2) == pt.format_ci([0.90, 0.92])
    assert pt.format_ci([], expected=5) == "—"


def test_splits_follow_the_protocol(pt):
    train, test = pt.split_indices(1000, 3)
    perm = np.random.default_rng(3).permutation(1000)
    np.testing.assert_array_equal(train, perm[:900])
    np.testing.assert_array_equal(test, perm[900:])
    fit, selection = pt.selection_indices(900, 3)
    assert len(selection) == 90 and len(fit) == 810
    np.testing.assert_array_equal(np.sort(np.concatenate([fit, selection])), np.arange(900))


def test_comparison_names_where_we_are_worse(pt):
    specs = pt.experiment_specs(["main"], [], quick=False)["main"]
    results = {"I-AutoRec": [0.840, 0.842], "BiasedMF": [0.840, 0.841]}
    text = pt._comparison_sentence(
        "main", ["ml-1m", "ml-100k"], specs, lambda d, s: results.get(s.label, []))
    assert "worse than the paper for I-AutoRec by 0.0100" in text
    assert "no worse (equal or better) for BiasedMF by 0.0045" in text
    assert "the paper reports no ML-100K result" in text


def test_paper_activation_table_orientation(pt):
    # Table 1(b) of the paper lists (f output, g hidden): f identity, g sigmoid
    # is its best (0.831), the I-AutoRec of Table 1(a).
    paper = pt.PAPER["ml-1m"]
    assert paper["act:sigmoid:identity"] == paper["I-AutoRec"] == 0.831
    assert paper["act:identity:sigmoid"] == 0.852


# --------------------------------------------------------------------------- quick run


def test_quick_page_has_every_table_and_row(quick_run):
    _, _, page = quick_run
    assert "Smoke test with tiny settings" in page
    for heading in ("## Main comparison", "## Activation functions (I-AutoRec)",
                    "## Hidden units (I-AutoRec)", "## Deep I-AutoRec", "## Every fit"):
        assert heading in page
    for row in ("| I-AutoRec |", "| U-AutoRec |", "| BiasedMF |", "| Baseline |",
                "| g=identity, f=identity |", "| g=identity, f=sigmoid |",
                "| g=sigmoid, f=identity |", "| g=sigmoid, f=sigmoid |",
                "| 5 |", "| 10 |", "| 20 |",
                "| I-AutoRec (20,) |", "| Deep I-AutoRec (20, 10, 20) |"):
        assert row in page, row
    assert "the paper reports no synthetic result" in page
    assert "Last command: `python benchmarks/paper_table.py --quick --data-file" in page
    assert "## Runs" in page


def test_quick_page_means_and_intervals_match_the_json(quick_run):
    _, out_dir, page = quick_run
    cache = json.loads((out_dir / "page.json").read_text())
    for label, row in (("main/Baseline", "| Baseline |"), ("main/I-AutoRec", "| I-AutoRec |")):
        recs = cell_records(cache, "synthetic", label)
        assert [rec["repeat"] for rec in recs] == [0, 1]
        values = [rec["rmse"] for rec in recs]
        half = T975[1] * np.std(values, ddof=1) / math.sqrt(2)
        expected = f"{row} {np.mean(values):.4f} ± {half:.4f} | not reported | — |"
        assert expected in page


def test_quick_results_are_the_protocol(pt, quick_run, ratings_file):
    """Split, seed, RMSE and fallback count of a record, recomputed by hand."""
    _, out_dir, _ = quick_run
    _, data = ratings_file
    cache = json.loads((out_dir / "page.json").read_text())
    X, y = data.X, data.y
    for repeat in (0, 1):
        perm = np.random.default_rng(repeat).permutation(len(y))
        train, test = perm[: int(0.9 * len(y))], perm[int(0.9 * len(y)):]
        baseline = BaselineRegressor().fit(X[train], y[train])
        rec = cell_records(cache, "synthetic", "main/Baseline")[repeat]
        assert rec["rmse"] == pytest.approx(
            np.sqrt(np.mean((baseline.predict(X[test]) - y[test]) ** 2)), rel=1e-9)
        known_users, known_items = set(X[train, 0]), set(X[train, 1])
        n_unknown = sum(u not in known_users or i not in known_items for u, i in X[test])
        assert rec["n_fallback"] == n_unknown
        # the protocol's AutoRec is the paper's model and settings, not the defaults
        autorec = AutoRecRegressor(**{**pt.PAPER_AUTOREC, "hidden_layer_sizes": (20,)},
                                   max_iter=3, random_state=repeat)
        with pytest.warns(Warning):  # stops at max_iter=3: a ConvergenceWarning
            autorec.fit(X[train], y[train])
        rec = cell_records(cache, "synthetic", "main/I-AutoRec")[repeat]
        assert rec["rmse"] == pytest.approx(
            np.sqrt(np.mean((autorec.predict(X[test]) - y[test]) ** 2)), rel=1e-5)
    assert any(rec["n_fallback"] > 0 for rec in cache["results"].values())


def test_shared_fit_runs_once_and_plot_is_written(quick_run):
    _, out_dir, _ = quick_run
    cache = json.loads((out_dir / "page.json").read_text())
    shared = cell_records(cache, "synthetic", "main/I-AutoRec")
    assert len(shared) == 2
    assert {"activations/g=sigmoid, f=identity", "hidden/20",
            "deep/I-AutoRec (20,)"} <= set(shared[0]["used_by"])
    # 10 distinct models (4 main, 3 more activations, 2 more hidden, 1 deep) x 2 repeats
    assert len(cache["results"]) == 20
    pytest.importorskip("matplotlib")
    plot = out_dir / "static" / "hidden_units_synthetic_quick.png"
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "](static/hidden_units_synthetic_quick.png)" in (out_dir / "page.md").read_text()


def test_rerun_is_served_from_the_cache(pt, quick_run, capsys):
    argv, out_dir, page = quick_run
    before = json.loads((out_dir / "page.json").read_text())["results"]
    capsys.readouterr()
    again = pt.main(argv)
    printed = capsys.readouterr().out
    assert "20 cached, 0 to run" in printed
    assert "[1/" not in printed
    assert json.loads((out_dir / "page.json").read_text())["results"] == before
    assert ": 0 fits run, 20 taken from the cache)" in again


def test_estimate_only_fits_and_writes_nothing(pt, ratings_file, tmp_path, capsys):
    torch = pytest.importorskip("torch")
    path, _ = ratings_file
    out = tmp_path / "page.md"
    threads = torch.get_num_threads()
    result = pt.main(["--quick", "--data-file", str(path), "--experiments", "main",
                      "--out", str(out), "--estimate-only", "--threads", "1"])
    printed = capsys.readouterr().out
    assert torch.get_num_threads() == threads  # --threads is undone on return
    assert result is None
    assert "Expected total: about" in printed
    assert not out.exists() and not out.with_suffix(".json").exists()


def test_tuning_chooses_the_best_grid_point(pt, ratings_file, tmp_path):
    path, _ = ratings_file
    out = tmp_path / "tuned.md"
    page = pt.main(["--quick", "--data-file", str(path), "--experiments", "main", "--tune",
                    "--max-iter", "3", "--threads", "1",
                    "--out", str(out), "--plots-dir", str(tmp_path)])
    cache = json.loads(out.with_suffix(".json").read_text())
    sizes = {"main/I-AutoRec": 3, "main/U-AutoRec": 3, "main/BiasedMF": 6,
             "main/Baseline": 9}
    for label, n_grid in sizes.items():
        (rec,) = cell_records(cache, "synthetic", label)
        assert len(rec["selection"]) == n_grid
        best = min(rec["selection"], key=lambda s: s["selection_rmse"])
        assert rec["chosen"] == best["values"]
        assert rec["tune_grid"] == pt.TUNE_GRIDS[rec["estimator"]]
    (rec,) = cell_records(cache, "synthetic", "main/I-AutoRec")
    assert f"alpha={rec['chosen']['alpha']}" in page
    assert "tuned for the experiments `main`" in page


def test_tuned_architectures_use_their_own_grids(pt, ratings_file, tmp_path, monkeypatch):
    path, _ = ratings_file
    out = tmp_path / "page.md"
    common = ["--quick", "--data-file", str(path), "--experiments", "activations", "deep",
              "--max-iter", "3", "--threads", "1", "--out", str(out),
              "--plots-dir", str(tmp_path)]
    pt.main(common)  # the package defaults first: the tuned page shows them beside
    made = []
    real_make_model = pt.make_model

    def recording_make_model(estimator, params, repeat):
        made.append(dict(params))
        return real_make_model(estimator, params, repeat)

    monkeypatch.setattr(pt, "make_model", recording_make_model)
    page = pt.main(common + ["--tune"])
    cache = json.loads(out.with_suffix(".json").read_text())
    for label, grid in (("activations/g=identity, f=identity", pt.ACTIVATION_GRID),
                        ("activations/g=sigmoid, f=sigmoid", pt.ACTIVATION_GRID),
                        ("deep/Deep I-AutoRec (20, 10, 20)", pt.DEEP_GRID)):
        tuned = [rec for rec in cell_records(cache, "synthetic", label) if rec["tune_grid"]]
        (rec,) = tuned
        assert rec["tune_grid"] == grid
        assert [s["values"] for s in rec["selection"]] == [{"alpha": a} for a in grid["alpha"]]
    # the (20,) row of `deep` is the sigmoid/identity fit of `activations`, run once
    (shared,) = [rec for rec in cell_records(cache, "synthetic", "deep/I-AutoRec (20,)")
                 if rec["tune_grid"]]
    assert "activations/g=sigmoid, f=identity" in shared["used_by"]
    # 5 tuned models: 4 + 4 + 4 + 4 + 3 grid fits without the refit, 5 final fits with it
    assert sum(1 for p in made if p.get("refit") is False) == 19
    finals = [p for p in made if p["refit"] and p["early_stopping"]]  # not the time probes
    assert len(finals) == 5
    assert "| synthetic (ours, tuned) | synthetic (ours, defaults) |" in page
    assert "`alpha` in [10.0, 30.0, 100.0]" in page


def test_concurrent_invocations_share_one_cache(pt, tmp_path):
    path = tmp_path / "page.json"
    first, second = pt.load_cache(path), pt.load_cache(path)  # both start empty
    run = {"command": "c", "date": "2026-01-01", "machine": "m", "wall_seconds": 1.0,
           "n_run": 1, "n_cached": 0}
    first["results"]["a"] = {"rmse": 1.0}
    first["datasets"]["d"] = {"n_ratings": 10, "fallback": {"0": 1}}
    first["runs"].append(run)
    pt.save_cache(first, path)
    second["results"]["b"] = {"rmse": 2.0}
    second["datasets"]["d"] = {"n_ratings": 10, "fallback": {"1": 3}}
    second["runs"].append(dict(run, date="2026-01-02"))
    pt.save_cache(second, path)  # must not lose what `first` wrote
    disk = json.loads(path.read_text())
    assert disk["results"] == {"a": {"rmse": 1.0}, "b": {"rmse": 2.0}}
    assert disk["datasets"]["d"]["fallback"] == {"0": 1, "1": 3}
    assert [r["date"] for r in disk["runs"]] == ["2026-01-01", "2026-01-02"]


def test_a_fit_another_invocation_made_meanwhile_is_not_redone(
        pt, ratings_file, tmp_path, monkeypatch, capsys):
    path, _ = ratings_file
    out = tmp_path / "page.md"
    argv = ["--quick", "--data-file", str(path), "--experiments", "main", "--max-iter", "3",
            "--threads", "1", "--out", str(out), "--plots-dir", str(tmp_path)]
    pt.main(argv)
    done = json.loads(out.with_suffix(".json").read_text())["results"]
    # A second invocation that made its plan before the first one saved
    # anything: its own cache starts empty, but by the time it reaches each
    # job the file on disk has it.
    real_load_cache = pt.load_cache
    calls = []

    def load_cache(p):
        calls.append(p)
        if len(calls) == 1:
            return {"description": "", "results": {}, "datasets": {}, "runs": []}
        return real_load_cache(p)

    monkeypatch.setattr(pt, "load_cache", load_cache)
    monkeypatch.setattr(pt, "run_fit", lambda data, job: pytest.fail("refitted " + job["key"]))
    capsys.readouterr()
    pt.main(argv)
    printed = capsys.readouterr().out
    assert "4 to run" in printed
    assert printed.count("fitted by another invocation meanwhile") == 4
    assert json.loads(out.with_suffix(".json").read_text())["results"] == done
