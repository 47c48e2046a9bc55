"""The command line (``autorec`` / ``python -m sklearn_autorec``), run in-process.

Tiny ratings files in ``tmp_path`` and tiny models keep every test fast; the
main job itself (a full AutoRec fit) is replaced by a stub here.
"""

import os
import subprocess
import sys

import joblib
import numpy as np
import pytest

import sklearn_autorec.__main__ as cli
from sklearn_autorec import AutoRecRegressor, BaselineRegressor, BiasedMFRegressor
from sklearn_autorec.__main__ import main
from sklearn_autorec.datasets import make_ratings

TINY = ["--param", "hidden_layer_sizes=(4,)", "--param", "max_iter=3", "--quiet"]


@pytest.fixture(scope="module")
def ratings_file(tmp_path_factory):
    data = make_ratings(n_users=30, n_items=20, density=0.4, random_state=0)
    path = tmp_path_factory.mktemp("data") / "ratings.csv"
    with open(path, "w") as f:
        f.write("user,item,rating\n")
        for (u, i), r in zip(data.X[:200], data.y[:200]):
            f.write(f"{u},{i},{r}\n")
    return path


@pytest.fixture(scope="module")
def model_file(ratings_file, tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "model.joblib"
    assert main(["fit", str(ratings_file), *TINY, "--output", str(path)]) == 0
    return path


def run(capsys, argv):
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def assert_one_line_error(status, err):
    assert status != 0
    lines = [line for line in err.splitlines() if not line.startswith("warning:")]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    assert "Traceback" not in err


# --------------------------------------------------------------------- fit
def test_fit_saves_the_model_and_reports_the_holdout(capsys, ratings_file, tmp_path):
    out_path = tmp_path / "m.joblib"
    status, out, _ = run(capsys, ["fit", ratings_file, *TINY, "--test-size", 0.2,
                                  "--seed", 3, "--output", out_path])
    assert status == 0
    assert out_path.is_file()
    model = joblib.load(out_path)
    assert isinstance(model, AutoRecRegressor)
    assert model.hidden_layer_sizes == (4,) and model.max_iter == 3
    assert model.random_state == 3  # --seed seeds the model too
    assert model.verbose is False  # --quiet
    assert "RMSE" in out and "MAE" in out and f"saved to {out_path}" in out
    assert model.seen_indptr_[-1] == 160  # trained on the 80% part of the split
    # evaluate on the same split reproduces the reported holdout line
    holdout = next(line for line in out.splitlines() if line.startswith("held-out"))
    status, out, _ = run(capsys, ["evaluate", out_path, ratings_file, "--test-size", 0.2,
                                  "--seed", 3])
    assert status == 0
    assert holdout.split(": ", 1)[1] in out


def test_fit_prints_progress_per_epoch(capsys, ratings_file, tmp_path):
    status, out, _ = run(capsys, ["fit", ratings_file, "--model", "mf", "--param",
                                  "n_components=2", "--param", "max_iter=3",
                                  "--output", tmp_path / "mf.joblib"])
    assert status == 0
    assert sum(line.startswith("Epoch") for line in out.splitlines()) >= 1
    model = joblib.load(tmp_path / "mf.joblib")
    assert isinstance(model, BiasedMFRegressor) and model.n_components == 2


def test_fit_baseline_and_string_params(capsys, ratings_file, tmp_path):
    status, _, _ = run(capsys, ["fit", ratings_file, "--model", "baseline", "--param",
                                "user_alpha=5", "--output", tmp_path / "b.joblib"])
    assert status == 0
    model = joblib.load(tmp_path / "b.joblib")
    assert isinstance(model, BaselineRegressor) and model.user_alpha == 5
    # a bare word is a string: solver=adam
    status, _, _ = run(capsys, ["fit", ratings_file, *TINY, "--param", "solver=adam",
                                "--param", "unknown=3.0", "--output", tmp_path / "a.joblib"])
    assert status == 0
    model = joblib.load(tmp_path / "a.joblib")
    assert model.solver == "adam" and model.unknown == 3.0


def test_fit_reads_a_folder(capsys, ratings_file, tmp_path):
    status, _, _ = run(capsys, ["fit", ratings_file.parent, "--model", "baseline",
                                "--output", tmp_path / "b.joblib"])
    assert status == 0


# ---------------------------------------------------------------- evaluate
def test_evaluate_prints_rmse_mae_and_fallbacks(capsys, model_file, ratings_file):
    status, out, _ = run(capsys, ["evaluate", model_file, ratings_file])
    assert status == 0
    model = joblib.load(model_file)
    data = np.loadtxt(ratings_file, delimiter=",", skiprows=1)
    X, y = data[:, :2].astype(np.int64), data[:, 2]
    pred = model.predict(X)
    rmse = np.sqrt(np.mean((pred - y) ** 2))
    mae = np.mean(np.abs(pred - y))
    assert f"RMSE {rmse:.4f}" in out and f"MAE {mae:.4f}" in out
    assert "0 fallback predictions" in out  # trained on all of it


def test_evaluate_counts_fallbacks(capsys, model_file, tmp_path):
    path = tmp_path / "new.csv"
    path.write_text("user,item,rating\n0,0,4\n999,0,3\n998,997,5\n")
    status, out, _ = run(capsys, ["evaluate", model_file, path])
    assert status == 0
    assert "2 fallback predictions" in out and "on 3 ratings" in out


# --------------------------------------------------------------- recommend
def test_recommend_prints_n_lines_per_user(capsys, model_file):
    model = joblib.load(model_file)
    users = model.user_ids_[[0, 5]]
    status, out, _ = run(capsys, ["recommend", model_file, "--users", *users, "-n", 4])
    assert status == 0
    lines = out.splitlines()
    assert lines[0] == "user\trank\titem\tpredicted_rating"
    rows = [line.split("\t") for line in lines[1:]]
    assert len(rows) == 8
    items, scores = model.recommend(users, n=4)
    for k, user in enumerate(users):
        mine = [r for r in rows if r[0] == str(user)]
        assert [r[1] for r in mine] == ["1", "2", "3", "4"]
        assert [int(r[2]) for r in mine] == items[k].tolist()
        np.testing.assert_allclose([float(r[3]) for r in mine], scores[k], atol=1e-4)


def test_recommend_include_seen_and_allow_unknown(capsys, model_file):
    model = joblib.load(model_file)
    user = model.user_ids_[0]
    status, out, _ = run(capsys, ["recommend", model_file, "--users", user, "-n",
                                  model.n_items_, "--include-seen"])
    assert status == 0 and len(out.splitlines()) == 1 + model.n_items_
    status, out, _ = run(capsys, ["recommend", model_file, "--users", 999, "-n", 2,
                                  "--allow-unknown"])
    assert status == 0
    items, _ = model.recommend([999], n=2)
    assert [line.split("\t")[2] for line in out.splitlines()[1:]] == [
        str(i) for i in items[0]]


def test_recommend_string_ids(capsys, tmp_path):
    model = BaselineRegressor().fit([["ann", "x"], ["ann", "y"], ["bob", "x"],
                                     ["bob", "z"]], [5.0, 3.0, 4.0, 2.0])
    joblib.dump(model, tmp_path / "s.joblib")
    status, out, _ = run(capsys, ["recommend", tmp_path / "s.joblib", "--users", "ann",
                                  "bob", "-n", 1])
    assert status == 0
    assert out.splitlines()[1:] == [
        f"ann\t1\tz\t{model.predict([['ann', 'z']])[0]:.4f}",
        f"bob\t1\ty\t{model.predict([['bob', 'y']])[0]:.4f}"]


# ------------------------------------------------------------------ errors
@pytest.mark.parametrize("argv, message", [
    (["fit", "{dir}/missing.csv"], "neither a dataset name"),
    (["fit", "{data}", "--param", "no_such_key=1"], "valid ones: activation, alpha"),
    (["fit", "{data}", "--param", "max_iter"], "--param expects key=value"),
    (["fit", "{data}", "--param", "max_iter=abc"], "'max_iter' parameter"),
    (["fit", "{data}", "--param", "hidden_layer_sizes=(0,)"], "hidden_layer_sizes"),
    (["fit", "{data}", "--model", "svd"], "invalid choice: 'svd'"),
    (["fit", "{data}", "--test-size", "1.5"], "between 0 and 1"),
    (["fit", "{bad}", "--model", "baseline", "--output", "{dir}/m.joblib"], "bad.csv"),
    (["fit", "{data}", "--model", "baseline", "--output", "{dir}/no/such/m.joblib"],
     "No such file"),
    (["evaluate", "{dir}/missing.joblib", "{data}"], "No model file"),
    (["evaluate", "{data}", "{data}"], "cannot read a model from"),
    (["evaluate", "{notmodel}", "{data}"], "does not hold a fitted sklearn_autorec model"),
    (["recommend", "{model}", "--users", "999"], "user 999 has no training ratings"),
    (["recommend", "{model}", "--users", "abc"], "user ids are integers; got 'abc'"),
    (["recommend", "{model}", "--users", "0", "-n", "0"], "must be at least 1"),
    (["recommend", "{model}", "--users", "0", "-n", "500"], "n=500"),
    (["recommend", "{model}"], "--users"),
    (["frobnicate"], "invalid choice"),
])
def test_errors_are_one_line(capsys, tmp_path, ratings_file, model_file, argv, message):
    (tmp_path / "bad.csv").write_text("user,item,rating\n1,2,3\n1,2\n")
    joblib.dump({"not": "a model"}, tmp_path / "dict.joblib")
    names = dict(dir=tmp_path, data=ratings_file, model=model_file,
                 bad=tmp_path / "bad.csv", notmodel=tmp_path / "dict.joblib")
    status, _, err = run(capsys, [a.format(**names) for a in argv])
    assert_one_line_error(status, err)
    assert message in err


def test_missing_dataset_suggests_download(capsys, tmp_path):
    status, _, err = run(capsys, ["fit", "ml-1m", "--data-home", tmp_path])
    assert_one_line_error(status, err)
    assert "--download" in err


# ---------------------------------------------------------------- main job
def test_no_subcommand_runs_the_main_job(capsys, monkeypatch):
    calls = []
    monkeypatch.setattr(cli, "run_main_job", lambda *args: calls.append(args))
    assert main([]) == 0
    assert main(["--data", "ml-100k", "--test-size", "0.2", "--seed", "4",
                 "--verbose"]) == 0
    assert calls == [("ml-latest-small", 0.1, 0, False), ("ml-100k", 0.2, 4, True)]


def test_main_job_errors_are_one_line(capsys, tmp_path):
    status, _, err = run(capsys, ["--data", tmp_path / "nothing"])
    assert_one_line_error(status, err)


def test_subcommand_help(capsys):
    for command in ("fit", "evaluate", "recommend"):
        with pytest.raises(SystemExit) as info:
            main([command, "--help"])
        assert info.value.code == 0
        out = capsys.readouterr().out
        assert "usage:" in out and "example" in out


def test_python_m_help():
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    result = subprocess.run([sys.executable, "-m", "sklearn_autorec", "--help"],
                            capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: python -m sklearn_autorec")
    for command in ("fit", "evaluate", "recommend", "--test-size"):
        assert command in result.stdout


def test_main_job_trains_and_reports_on_a_ratings_file(tmp_path):
    import io

    from contract import as_pairs, small_ratings

    X, y = as_pairs(small_ratings(n_users=60, n_items=40))
    path = tmp_path / "ratings.csv"
    path.write_text("user,item,rating\n" + "".join(
        f"{u},{i},{r:g}\n" for (u, i), r in zip(X, y)))
    out = io.StringIO()
    results = cli.run_main_job(str(path), seed=0, out=out,
                               autorec_params={"hidden_layer_sizes": (8,), "max_iter": 20})
    text = out.getvalue()
    assert set(results) == {"BaselineRegressor()", "AutoRec"}
    assert all(0 < v < 2 for v in results.values())
    assert "BaselineRegressor(): test RMSE" in text
    assert "AutoRecRegressor(hidden_layer_sizes=(8,), max_iter=20, random_state=0)" in text
    assert "AutoRec improves on the baseline by" in text
