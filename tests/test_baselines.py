"""BaselineRegressor and BiasedMFRegressor against float64 references written here."""

import subprocess
import sys
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_info

from contract import as_pairs, small_ratings, split_matrix
from sklearn_autorec import AutoRecRegressor, BaselineRegressor, BiasedMFRegressor
from sklearn_autorec._mf import _als_chunks, als_half_step


@pytest.fixture(scope="module")
def ratings():
    return small_ratings(n_users=40, n_items=30, density=0.3, seed=0)


def encoded(model, R):
    """Encoded (users, items, ratings) of a matrix the model was fitted on."""
    coo = R.tocoo()
    return (np.searchsorted(model.user_ids_, coo.row),
            np.searchsorted(model.item_ids_, coo.col), coo.data)


def mf_objective(u, i, r, mu, bu, bi, P, Q, alpha):
    """The documented objective, term by term, divided by the number of ratings."""
    total = 0.0
    for k in range(len(r)):
        err = r[k] - mu - bu[u[k]] - bi[i[k]] - P[u[k]] @ Q[i[k]]
        total += err ** 2 + alpha * (P[u[k]] @ P[u[k]] + Q[i[k]] @ Q[i[k]]
                                     + bu[u[k]] ** 2 + bi[i[k]] ** 2)
    return total / len(r)


# --------------------------------------------------------------------- baseline
def test_baseline_equals_dense_ridge_solution(ratings):
    model = BaselineRegressor(user_alpha=3.0, item_alpha=2.0, max_iter=10_000,
                              tol=1e-13).fit(ratings)
    u, i, r = encoded(model, ratings)
    n_u, n_i = model.n_users_, model.n_items_
    # the design matrix [one-hot user | one-hot item], solved densely
    D = np.zeros((len(r), n_u + n_i))
    D[np.arange(len(r)), u] = 1.0
    D[np.arange(len(r)), n_u + i] = 1.0
    penalty = np.r_[np.full(n_u, 3.0), np.full(n_i, 2.0)]
    mu = r.mean()
    b = np.linalg.solve(D.T @ D + np.diag(penalty), D.T @ (r - mu))
    assert model.global_mean_ == pytest.approx(mu)
    np.testing.assert_allclose(model.user_bias_, b[:n_u], atol=1e-9)
    np.testing.assert_allclose(model.item_bias_, b[n_u:], atol=1e-9)
    np.testing.assert_allclose(model.predict(ratings).data,
                               np.clip(mu + D @ b, r.min(), r.max()), atol=1e-9)
    assert 1 < model.n_iter_ < 10_000


def test_baseline_fits_biases_once_with_its_own_alphas(ratings, monkeypatch):
    import sklearn_autorec._base as base

    calls = []
    original = base.fit_biases

    def counting(*args, **kwargs):
        calls.append(kwargs)
        return original(*args, **kwargs)

    monkeypatch.setattr(base, "fit_biases", counting)
    BaselineRegressor(user_alpha=1.5, item_alpha=2.5).fit(ratings)
    assert [(c["user_alpha"], c["item_alpha"]) for c in calls] == [(1.5, 2.5)]
    calls.clear()
    BiasedMFRegressor(n_components=2, random_state=0).fit(ratings)
    assert calls == []  # the model's own biases are the fallback
    calls.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        AutoRecRegressor(hidden_layer_sizes=(2,), max_iter=1, early_stopping=False,
                         random_state=0).fit(ratings)
    assert [(c["user_alpha"], c["item_alpha"]) for c in calls] == [(15.0, 10.0)]


def test_baseline_warns_at_max_iter(ratings):
    with pytest.warns(ConvergenceWarning, match="max_iter=1"):
        BaselineRegressor(max_iter=1).fit(ratings)


# ------------------------------------------------------------------------ ALS
def random_csr(n_rows, n_other, density, seed):
    rng = np.random.default_rng(seed)
    M = sp.random(n_rows, n_other, density=density, format="csr", random_state=seed)
    M.sort_indices()
    # one empty row and one long row exercise the padding and the chunking
    M = sp.vstack([M, sp.csr_matrix((1, n_other)),
                   sp.csr_matrix(np.ones((1, n_other)))]).tocsr()
    target = rng.normal(size=M.nnz)
    return M.indptr, M.indices.astype(np.int64), target


@pytest.mark.parametrize("budget, n_workers", [(10_000, 1), (40, 1), (40, 2)])
def test_als_half_step_equals_direct_ridge_solves(budget, n_workers):
    indptr, cols, target = random_csr(25, 12, 0.3, seed=0)
    rng = np.random.default_rng(1)
    other = rng.normal(size=(12, 4))
    reg = rng.uniform(0.1, 2.0, len(indptr) - 1)
    x, value = als_half_step(indptr, cols, target, other, reg,
                             _als_chunks(indptr, budget), n_workers)
    expected_value = 0.0
    for row in range(len(indptr) - 1):
        sl = slice(indptr[row], indptr[row + 1])
        if sl.start == sl.stop:
            np.testing.assert_array_equal(x[row], 0.0)
            continue
        A = np.column_stack([np.ones(sl.stop - sl.start), other[cols[sl]]])
        direct = np.linalg.solve(A.T @ A + reg[row] * np.eye(5), A.T @ target[sl])
        np.testing.assert_allclose(x[row], direct, rtol=1e-10, atol=1e-12)
        resid = target[sl] - A @ direct
        expected_value += resid @ resid + reg[row] * direct @ direct
    assert value == pytest.approx(expected_value, rel=1e-10)


def test_als_objective_decreases_monotonically_and_is_exact(ratings):
    model = BiasedMFRegressor(n_components=3, alpha=0.05, max_iter=15, tol=0.0,
                              random_state=0)
    with pytest.warns(ConvergenceWarning):
        model.fit(ratings)
    curve = np.array(model.loss_curve_)
    assert len(curve) == model.n_iter_ == 15
    assert np.all(np.diff(curve) <= 1e-12 * curve[1:])
    u, i, r = encoded(model, ratings)
    direct = mf_objective(u, i, r, model.global_mean_, model.user_bias_, model.item_bias_,
                          model.user_factors_, model.item_factors_, 0.05)
    assert curve[-1] == pytest.approx(direct, rel=1e-10)


def test_als_items_are_the_exact_ridge_solution_given_users(ratings):
    alpha = 0.2
    model = BiasedMFRegressor(n_components=3, alpha=alpha, max_iter=4, tol=0.0,
                              random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(ratings)
    u, i, r = encoded(model, ratings)
    mu, bu, P = model.global_mean_, model.user_bias_, model.user_factors_
    for item in range(model.n_items_):
        rows = np.flatnonzero(i == item)
        A = np.column_stack([np.ones(len(rows)), P[u[rows]]])
        t = r[rows] - mu - bu[u[rows]]
        x = np.linalg.solve(A.T @ A + alpha * len(rows) * np.eye(4), A.T @ t)
        np.testing.assert_allclose(model.item_bias_[item], x[0], atol=1e-10)
        np.testing.assert_allclose(model.item_factors_[item], x[1:], atol=1e-10)


def test_mf_prediction_formula(ratings):
    model = BiasedMFRegressor(n_components=3, random_state=0, clip=False).fit(ratings)
    u, i, _ = encoded(model, ratings)
    expected = (model.global_mean_ + model.user_bias_[u] + model.item_bias_[i]
                + np.sum(model.user_factors_[u] * model.item_factors_[i], axis=1))
    coo = ratings.tocoo()
    np.testing.assert_allclose(model.predict(np.column_stack([coo.row, coo.col])), expected)
    assert model.user_factors_.dtype == np.float64 and model.device_ == "cpu"


def test_mf_beats_baseline_on_held_out_ratings():
    R = small_ratings(n_users=80, n_items=60, density=0.4, seed=3)
    train, test = split_matrix(R, seed=1)

    def rmse(model):
        return np.sqrt(np.mean((model.fit(train).predict(test).data - test.data) ** 2))

    base = rmse(BaselineRegressor())
    assert rmse(BiasedMFRegressor(n_components=5, alpha=0.05, random_state=0)) < base - 0.05
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for solver, lr in (("sgd", 0.01), ("adam", 0.01)):
            model = BiasedMFRegressor(n_components=5, alpha=0.05, solver=solver,
                                      learning_rate_init=lr, batch_size=32, max_iter=30,
                                      tol=0.0, random_state=0)
            assert rmse(model) < base, solver
            assert model.loss_curve_[-1] < model.loss_curve_[0]


def test_early_stopping_keeps_the_best_epoch(ratings):
    model = BiasedMFRegressor(n_components=4, alpha=0.01, solver="sgd",
                              learning_rate_init=0.05, batch_size=8, max_iter=40,
                              early_stopping=True, n_iter_no_change=3, tol=0.0,
                              random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(*as_pairs(ratings))
    scores = model.validation_scores_
    assert len(scores) == len(model.loss_curve_) == model.n_iter_
    assert model.best_validation_score_ == min(scores)
    if model.n_iter_ < 40:  # stopped by the rule: the best epoch is n_iter_no_change back
        assert int(np.argmin(scores)) == model.n_iter_ - 4


def test_als_leaves_blas_threads_as_they_were(ratings):
    before = [info["num_threads"] for info in threadpool_info()]
    BiasedMFRegressor(n_components=2, random_state=0).fit(ratings)
    assert [info["num_threads"] for info in threadpool_info()] == before


def test_als_does_not_import_torch():
    code = ("import sys, numpy as np, scipy.sparse as sp\n"
            "from sklearn_autorec import BiasedMFRegressor, BaselineRegressor\n"
            "R = sp.random(20, 10, density=0.5, format='csr', random_state=0)\n"
            "BiasedMFRegressor(n_components=2, max_iter=2).fit(R).predict(R)\n"
            "BaselineRegressor().fit(R).predict(R)\n"
            "assert 'torch' not in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True)


# ------------------------------------------------------------------- errors
@pytest.mark.parametrize("estimator, match", [
    (BiasedMFRegressor(n_components=0), "n_components"),
    (BiasedMFRegressor(alpha=-1.0), "alpha"),
    (BiasedMFRegressor(solver="lbfgs"), "solver"),
    (BiasedMFRegressor(learning_rate_init=0.0), "learning_rate_init"),
    (BiasedMFRegressor(validation_fraction=1.0), "validation_fraction"),
    (BiasedMFRegressor(unknown="zero"), "unknown"),
    (BaselineRegressor(user_alpha=-1.0), "user_alpha"),
    (BaselineRegressor(max_iter=0), "max_iter"),
])
def test_parameter_errors(ratings, estimator, match):
    with pytest.raises(ValueError, match=match):
        estimator.fit(ratings)


def test_als_needs_a_penalty_and_device_is_checked(ratings):
    with pytest.raises(ValueError, match="solver='als' needs alpha > 0"):
        BiasedMFRegressor(alpha=0.0).fit(ratings)
    with pytest.raises(ValueError, match="device must be"):
        BiasedMFRegressor(solver="sgd", device="tpu").fit(ratings)


# ------------------------------------------------------------ model selection
def test_one_grid_search_over_autorec_and_mf():
    X, y = as_pairs(small_ratings(n_users=30, n_items=20, density=0.4, seed=2))
    pipe = Pipeline([("model", AutoRecRegressor())])
    grid = [
        {"model": [AutoRecRegressor(hidden_layer_sizes=(4,), max_iter=5, random_state=0)],
         "model__alpha": [1.0, 10.0]},
        {"model": [BiasedMFRegressor(n_components=3, random_state=0)],
         "model__alpha": [0.05, 0.2]},
        {"model": [BaselineRegressor()]},
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search = GridSearchCV(pipe, grid, cv=KFold(3, shuffle=True, random_state=0),
                              scoring="neg_root_mean_squared_error").fit(X, y)
    names = [type(p["model"]).__name__ for p in search.cv_results_["params"]]
    assert names == ["AutoRecRegressor"] * 2 + ["BiasedMFRegressor"] * 2 + ["BaselineRegressor"]
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    chosen = search.best_estimator_.named_steps["model"]
    assert type(chosen) is type(search.best_params_["model"])
    assert chosen.get_params().get("alpha") == search.best_params_.get(
        "model__alpha", chosen.get_params().get("alpha"))
    assert search.predict(X).shape == y.shape
