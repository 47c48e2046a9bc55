"""LLORMARegressor: local models against direct weighted least squares, the blend, contract."""

import pickle
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.utils.estimator_checks import parametrize_with_checks

from contract import as_pairs, check_rating_estimator, small_ratings
from sklearn_autorec._llorma import LLORMARegressor, _WeightedALS
from test_sklearn_compat import EXPECTED_FAILED

FAST = dict(n_anchors=6, n_components=3, max_iter=3, random_state=0)


def _kernel(vectors, anchor, width):
    """Epanechnikov weights of the normalised arc-cosine distance, row by row."""
    out = np.empty(len(vectors))
    a = vectors[anchor]
    for j, v in enumerate(vectors):
        cos = v @ a / (np.linalg.norm(v) * np.linalg.norm(a))
        d = 2.0 / np.pi * np.arccos(min(1.0, max(-1.0, cos)))
        out[j] = max(0.0, 1.0 - (d / width) ** 2)
    return out


def _dense_weighted_ridge(rows, cols, target, weight, other, n_rows, alpha, intercept):
    """argmin_x sum_j w_j (t_j - a_j . x)^2 + alpha (sum_j w_j) ||x||^2, per row, densely."""
    k1 = other.shape[1] + (1 if intercept else 0)
    out = np.zeros((n_rows, k1))
    for r in range(n_rows):
        m = rows == r
        if not m.any():
            continue
        a = other[cols[m]]
        if intercept:
            a = np.column_stack([np.ones(m.sum()), a])
        w = weight[m]
        lhs = a.T @ (w[:, None] * a) + alpha * w.sum() * np.eye(k1)
        out[r] = np.linalg.solve(lhs, a.T @ (w * target[m]))
    return out


def _tiny(seed=0, n_users=7, n_items=6):
    rng = np.random.default_rng(seed)
    users, items = np.nonzero(rng.random((n_users, n_items)) < 0.7)
    ratings = rng.integers(1, 6, len(users)).astype(float)
    weights = rng.uniform(0.05, 1.0, len(users))
    return users, items, ratings, weights, rng


@pytest.mark.parametrize("intercept", [True, False])
def test_user_half_step_is_the_dense_weighted_ridge_solution(intercept):
    users, items, ratings, weights, rng = _tiny()
    n_users, n_items, alpha, k = 7, 6, 0.3, 2
    Q0 = rng.normal(size=(n_items, k))
    b0 = rng.normal(size=n_items) if intercept else None
    als = _WeightedALS(users, items, ratings, weights, n_users, n_items, alpha, Q0,
                       item_bias=b0, intercept=intercept)
    mu = weights @ ratings / weights.sum() if intercept else 0.0
    assert als.mu == pytest.approx(mu, rel=1e-12)
    als.user_step()
    target = ratings - mu - (b0[items] if intercept else 0.0)
    expected = _dense_weighted_ridge(users, items, target, weights, Q0, n_users, alpha,
                                     intercept)
    got = np.column_stack([als.bu, als.P]) if intercept else als.P
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)
    # the item half-step likewise, given the new user side
    als.item_step()
    target = ratings - mu - (expected[users, 0] if intercept else 0.0)
    P = expected[:, 1:] if intercept else expected
    expected_items = _dense_weighted_ridge(items, users, target, weights, P, n_items, alpha,
                                           intercept)
    got = np.column_stack([als.bi, als.Q]) if intercept else als.Q
    np.testing.assert_allclose(got, expected_items, rtol=1e-10, atol=1e-12)
    if not intercept:
        np.testing.assert_array_equal(als.bu, 0.0)


def test_weights_matter():
    # the same data with other weights gives another solution (weight= is used)
    users, items, ratings, weights, rng = _tiny(seed=1)
    Q0 = rng.normal(size=(6, 2))
    a = _WeightedALS(users, items, ratings, weights, 7, 6, 0.1, Q0)
    b = _WeightedALS(users, items, ratings, weights ** 3, 7, 6, 0.1, Q0)
    a.user_step()
    b.user_step()
    assert np.abs(a.P - b.P).max() > 1e-3


def _fitted(**params):
    R = small_ratings()
    X, y = as_pairs(R)
    model = LLORMARegressor(**{**FAST, **params}).fit(X, y)
    return model, X, y


def test_local_models_against_direct_computation():
    model, X, y = _fitted(n_anchors=4, kernel_width=0.5)
    users = np.searchsorted(model.user_ids_, X[:, 0])
    items = np.searchsorted(model.item_ids_, X[:, 1])
    n_zeroed = 0
    for t in range(4):
        ku = _kernel(model.user_factors_, model.anchor_users_[t], 0.5)
        ki = _kernel(model.item_factors_, model.anchor_items_[t], 0.5)
        w = ku[users] * ki[items]
        keep = w > 0
        assert model.local_n_ratings_[t] == keep.sum()
        assert keep.sum() < len(w)  # the kernels leave out some ratings
        # the stored kernels: the formula, zero where the local model has no rating
        has_user = np.isin(np.arange(model.n_users_), users[keep])
        has_item = np.isin(np.arange(model.n_items_), items[keep])
        n_zeroed += ((ku > 0) & ~has_user).sum() + ((ki > 0) & ~has_item).sum()
        np.testing.assert_allclose(model.user_kernels_[t], np.where(has_user, ku, 0.0),
                                   rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(model.item_kernels_[t], np.where(has_item, ki, 0.0),
                                   rtol=1e-10, atol=1e-12)
        mu = w[keep] @ y[keep] / w[keep].sum()
        assert model.local_means_[t] == pytest.approx(mu, rel=1e-12)
        # the last half-step solved the items: their [b_i, q_i] is the dense
        # weighted ridge solution given the stored user side
        target = y[keep] - mu - model.local_user_bias_[t, users[keep]]
        expected = _dense_weighted_ridge(items[keep], users[keep], target, w[keep],
                                         model.local_user_factors_[t], model.n_items_,
                                         model.alpha, True)
        got = np.column_stack([model.local_item_bias_[t], model.local_item_factors_[t]])
        np.testing.assert_allclose(got, expected, rtol=1e-8, atol=1e-10)
    assert n_zeroed > 0  # a kernel was zeroed for lack of local ratings


def test_prediction_is_the_kernel_weighted_average():
    model, X, y = _fitted(n_anchors=5, kernel_width=0.4, clip=False)
    rng = np.random.default_rng(3)
    u = rng.integers(0, model.n_users_, 300)
    i = rng.integers(0, model.n_items_, 300)
    expected = np.empty(300)
    for j in range(300):
        num = den = 0.0
        for t in range(5):
            w = model.user_kernels_[t, u[j]] * model.item_kernels_[t, i[j]]
            local = (model.local_means_[t] + model.local_user_bias_[t, u[j]]
                     + model.local_item_bias_[t, i[j]]
                     + model.local_user_factors_[t, u[j]] @ model.local_item_factors_[t, i[j]])
            num += w * local
            den += w
        glob = model.user_factors_[u[j]] @ model.item_factors_[i[j]]
        expected[j] = num / den if den > 0 else glob
    covered = (model.user_kernels_[:, u] * model.item_kernels_[:, i]).sum(0) > 0
    assert covered.any() and not covered.all()  # both branches are exercised
    pred = model.predict(np.column_stack([model.user_ids_[u], model.item_ids_[i]]))
    np.testing.assert_allclose(pred, expected, rtol=1e-10, atol=1e-12)
    # recommend's all-items scores are the same blend
    scores = model._score_items(np.unique(u))
    rows = np.searchsorted(np.unique(u), u)
    np.testing.assert_allclose(scores[rows, i], expected, rtol=1e-10, atol=1e-12)


def test_beats_the_global_model_on_training_data():
    # with the default kernel width the local models cover every training pair
    model, X, y = _fitted(n_anchors=8, max_iter=5)
    users = np.searchsorted(model.user_ids_, X[:, 0])
    items = np.searchsorted(model.item_ids_, X[:, 1])
    assert np.all((model.user_kernels_[:, users] * model.item_kernels_[:, items]).sum(0) > 0)
    glob = np.clip(np.einsum("ij,ij->i", model.user_factors_[users],
                             model.item_factors_[items]), 1, 5)
    rmse = np.sqrt(np.mean((model.predict(X) - y) ** 2))
    assert rmse < np.sqrt(np.mean((glob - y) ** 2))


def test_data_contract():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check_rating_estimator(LLORMARegressor(**FAST))


def test_pickle_round_trip_and_numpy_state():
    model, X, y = _fitted()
    loaded = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    for name, value in vars(model).items():
        if name.endswith("_") and not name.startswith("_"):
            assert isinstance(value, (np.ndarray, int, float, tuple, type(None))), name
    assert model.local_user_factors_.shape == (6, model.n_users_, 3)
    assert model.local_item_factors_.shape == (6, model.n_items_, 3)
    assert model.user_kernels_.shape == (6, model.n_users_)
    assert model.item_kernels_.shape == (6, model.n_items_)


def test_n_jobs_does_not_change_the_model():
    a, X, _ = _fitted(n_jobs=1)
    b, _, _ = _fitted(n_jobs=2)
    np.testing.assert_allclose(b.local_user_factors_, a.local_user_factors_,
                               rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(b.predict(X), a.predict(X), rtol=1e-12, atol=1e-14)


def test_seed_draws_the_anchors():
    a, _, _ = _fitted(random_state=0)
    b, _, _ = _fitted(random_state=1)
    assert not (np.array_equal(a.anchor_users_, b.anchor_users_)
                and np.array_equal(a.anchor_items_, b.anchor_items_))
    R = small_ratings()
    # every anchor is a training rating
    assert np.all(R[a.anchor_users_, a.anchor_items_].A1 != 0)


def test_grid_search():
    X, y = as_pairs(small_ratings())
    search = GridSearchCV(LLORMARegressor(**FAST), {"n_anchors": [2, 4], "alpha": [0.05, 0.5]},
                          cv=KFold(3, shuffle=True, random_state=0),
                          scoring="neg_root_mean_squared_error").fit(X, y)
    assert set(search.best_params_) == {"n_anchors", "alpha"}
    assert np.isfinite(search.best_score_)
    assert isinstance(search.best_estimator_, LLORMARegressor)


@pytest.mark.parametrize("params, match", [
    (dict(n_anchors=0), "n_anchors"),
    (dict(n_components=0), "n_components"),
    (dict(alpha=0.0), "alpha"),
    (dict(kernel_width=0.0), "kernel_width"),
    (dict(kernel_width=-1.0), "kernel_width"),
    (dict(max_iter=0), "max_iter"),
    (dict(n_jobs=1.5), "n_jobs"),
    (dict(unknown="zero"), "unknown"),
])
def test_bad_params(params, match):
    X, y = as_pairs(small_ratings())
    with pytest.raises(ValueError, match=match):
        clone(LLORMARegressor(**FAST)).set_params(**params).fit(X, y)


def test_more_anchors_than_ratings():
    X = np.array([[0, 0], [0, 1], [1, 0]])
    with pytest.raises(ValueError, match="n_anchors=5 but there are only 3 training"):
        LLORMARegressor(n_anchors=5, n_components=2).fit(X, [1.0, 2.0, 3.0])


@parametrize_with_checks([LLORMARegressor(**FAST)],
                         expected_failed_checks=lambda est: EXPECTED_FAILED)
def test_sklearn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)
