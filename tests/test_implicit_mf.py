"""ImplicitMFRecommender (weighted ALS, Hu et al. 2008) against dense references."""

import joblib
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_autorec._implicit_mf import (ImplicitMFRecommender, implicit_half_step,
                                          implicit_objective)
from sklearn_autorec._mf import _als_chunks, als_half_step
from sklearn_autorec.metrics import make_ranking_scorer


def tiny_weighted(n_users=12, n_items=9, density=0.35, seed=0):
    """A users x items CSR of positive non-binary weights, every row and column stored."""
    rng = np.random.default_rng(seed)
    mask = rng.random((n_users, n_items)) < density
    mask[np.arange(n_users), rng.integers(0, n_items, n_users)] = True
    mask[rng.integers(0, n_users, n_items), np.arange(n_items)] = True
    weights = np.where(mask, rng.integers(1, 5, (n_users, n_items)), 0).astype(float)
    return sp.csr_matrix(weights)


def dense_objective(W, X, Y, alpha, confidence):
    """The objective written cell by cell from its definition."""
    P = (W > 0).astype(float)
    C = 1.0 + confidence * W
    return float(np.sum(C * (P - X @ Y.T) ** 2)
                 + alpha * (np.sum(X ** 2) + np.sum(Y ** 2)))


def dense_user_solve(w_row, Y, alpha, confidence):
    """argmin_x sum_i c_i (p_i - x . y_i)^2 + alpha ||x||^2, by a dense normal equation."""
    C = np.diag(1.0 + confidence * w_row)
    p = (w_row > 0).astype(float)
    return np.linalg.solve(Y.T @ C @ Y + alpha * np.eye(Y.shape[1]), Y.T @ C @ p)


def block_interactions(seed=0):
    """Two groups of users, each interacting only with its group of items (pairs)."""
    rng = np.random.default_rng(seed)
    pairs = []
    for group, (users, items) in enumerate([(range(0, 20), range(0, 10)),
                                            (range(20, 40), range(10, 20))]):
        for u in users:
            chosen = rng.choice(list(items), size=6, replace=False)
            pairs += [(u, i) for i in chosen]
    return np.array(pairs)


# ---------------------------------------------------------------- half-steps
@pytest.mark.parametrize("budget, n_workers", [(10_000, 1), (7, 1), (7, 2)])
def test_half_step_equals_dense_weighted_least_squares(budget, n_workers):
    W = tiny_weighted().toarray()
    W = np.vstack([W, np.zeros(W.shape[1])])  # an empty row gets zeros
    R = sp.csr_matrix(W)
    rng = np.random.default_rng(1)
    Y = rng.normal(size=(W.shape[1], 4))
    alpha, confidence = 0.7, 3.0
    x = implicit_half_step(R.indptr, R.indices, R.data, Y, alpha, confidence,
                           _als_chunks(R.indptr, budget), n_workers)
    assert x.shape == (W.shape[0], 4)
    for u in range(W.shape[0]):
        np.testing.assert_allclose(x[u], dense_user_solve(W[u], Y, alpha, confidence),
                                   rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(x[-1], 0.0)


def test_generalised_als_half_step_equals_direct_solves():
    # weight, base_gram and intercept=False: the system documented in _mf.py
    R = tiny_weighted(seed=3)
    rng = np.random.default_rng(2)
    other = rng.normal(size=(R.shape[1], 3))
    target = rng.normal(size=R.nnz)
    weight = rng.uniform(0.5, 2.0, R.nnz)
    reg = rng.uniform(0.1, 1.0, R.shape[0])
    base = np.cov(rng.normal(size=(3, 10)))  # symmetric positive definite
    for intercept in (True, False):
        A_all = np.column_stack([np.ones(len(other)), other]) if intercept else other
        k1 = A_all.shape[1]
        gram0 = base if not intercept else np.pad(base, ((1, 0), (1, 0)))
        x, value = als_half_step(R.indptr, R.indices, target, other, reg,
                                 weight=weight, base_gram=gram0, intercept=intercept)
        assert value is None
        for u in range(R.shape[0]):
            sl = slice(R.indptr[u], R.indptr[u + 1])
            A = A_all[R.indices[sl]]
            lhs = gram0 + A.T @ np.diag(weight[sl]) @ A + reg[u] * np.eye(k1)
            np.testing.assert_allclose(x[u], np.linalg.solve(lhs, A.T @ target[sl]),
                                       rtol=1e-9, atol=1e-12)


def test_objective_equals_dense_reference():
    R = tiny_weighted(seed=4)
    rng = np.random.default_rng(5)
    X, Y = rng.normal(size=(R.shape[0], 3)), rng.normal(size=(R.shape[1], 3))
    fast = implicit_objective(R, X, Y, 0.3, 2.5)
    assert fast == pytest.approx(dense_objective(R.toarray(), X, Y, 0.3, 2.5), rel=1e-10)


# ------------------------------------------------------------------- fitting
@pytest.fixture(scope="module")
def weighted():
    return tiny_weighted(n_users=30, n_items=20, density=0.3, seed=7)


@pytest.fixture(scope="module")
def fitted(weighted):
    return ImplicitMFRecommender(n_components=4, alpha=0.5, confidence=2.0, max_iter=8,
                                 random_state=0).fit(weighted)


def test_loss_curve_is_the_exact_objective_and_never_increases(weighted, fitted):
    curve = np.array(fitted.loss_curve_)
    assert fitted.n_iter_ == len(curve) == 8
    assert np.all(np.diff(curve) <= 1e-12 * curve[:-1])
    assert curve[-1] < curve[0]
    dense = dense_objective(weighted.toarray(), fitted.user_factors_, fitted.item_factors_,
                            0.5, 2.0)
    assert curve[-1] == pytest.approx(dense / weighted.nnz, rel=1e-10)


def test_fit_is_alternating_exact_solves(weighted, fitted):
    # the final user factors solve the users' problems against the final items,
    # and the items' against the user factors one half-step earlier: checked
    # densely on the user side (exact fixed point of the last half-step)
    W = weighted.toarray()
    for u in range(W.shape[0]):
        np.testing.assert_allclose(fitted.user_factors_[u],
                                   dense_user_solve(W[u], fitted.item_factors_, 0.5, 2.0),
                                   rtol=1e-8, atol=1e-10)
    assert fitted.user_factors_.dtype == fitted.item_factors_.dtype == np.float64
    assert fitted.user_factors_.shape == (30, 4) and fitted.item_factors_.shape == (20, 4)


def test_fold_in_of_a_training_row_reproduces_its_factor_and_scores(weighted, fitted):
    rows = fitted._user_rows(np.arange(fitted.n_users_))
    np.testing.assert_allclose(fitted._fold_in(rows), fitted.user_factors_,
                               rtol=1e-8, atol=1e-10)
    users = np.arange(5)
    np.testing.assert_allclose(fitted._score_new(rows[users]), fitted._score_users(users),
                               rtol=1e-8, atol=1e-10)
    _, items, scores = fitted.recommend_new(weighted[:5], n=5)
    expected_items, expected_scores = fitted.recommend(np.arange(5), n=5)
    np.testing.assert_allclose(scores, expected_scores, rtol=1e-8, atol=1e-10)
    # ties aside (none in continuous scores), the same items
    np.testing.assert_array_equal(items, expected_items)


def test_deterministic_and_seed_matters(weighted, fitted):
    again = clone(fitted).fit(weighted)
    np.testing.assert_allclose(again.user_factors_, fitted.user_factors_, rtol=1e-12)
    other = clone(fitted).set_params(random_state=1).fit(weighted)
    assert not np.allclose(other.user_factors_, fitted.user_factors_)


def test_confidence_weighs_interactions(weighted):
    # confidence=0 is plain least squares on the 0/1 matrix: the weights are unused
    binary = weighted.copy()
    binary.data[:] = 1.0
    a = ImplicitMFRecommender(4, alpha=0.5, confidence=0.0, max_iter=3,
                              random_state=0).fit(weighted)
    b = ImplicitMFRecommender(4, alpha=0.5, confidence=0.0, max_iter=3,
                              random_state=0).fit(binary)
    np.testing.assert_allclose(a.user_factors_, b.user_factors_, rtol=1e-10, atol=1e-12)
    c = ImplicitMFRecommender(4, alpha=0.5, confidence=5.0, max_iter=3,
                              random_state=0).fit(weighted)
    d = ImplicitMFRecommender(4, alpha=0.5, confidence=5.0, max_iter=3,
                              random_state=0).fit(binary)
    assert not np.allclose(c.user_factors_, d.user_factors_)


def test_positive_threshold_keeps_high_ratings_as_unit_weights(weighted):
    ratings = weighted.copy()  # weights 1..4 read as ratings
    model = ImplicitMFRecommender(3, alpha=0.5, positive_threshold=3, max_iter=2,
                                  random_state=0).fit(ratings)
    assert model.n_below_threshold_ == int((weighted.data < 3).sum())
    np.testing.assert_array_equal(model.seen_weights_, 1.0)


def test_recovers_block_structure():
    X = block_interactions()
    model = ImplicitMFRecommender(n_components=2, alpha=0.1, confidence=5.0, max_iter=10,
                                  random_state=0).fit(X)
    items, _ = model.recommend([0, 25], n=4)
    assert set(items[0].tolist()) <= set(range(10))
    assert set(items[1].tolist()) <= set(range(10, 20))
    similar, sims = model.similar_items(3, n=5)
    assert set(similar.tolist()) <= set(range(10))
    assert np.all(sims > 0.9)


# ------------------------------------------------------------- public API
def test_recommend_predict_and_similar_items_agree_with_factors(weighted, fitted):
    user = 3
    items, scores = fitted.recommend(user, n=6)
    dense = fitted.user_factors_[user] @ fitted.item_factors_.T
    dense[weighted[user].indices] = -np.inf
    np.testing.assert_array_equal(items, np.argsort(-dense)[:6])
    np.testing.assert_allclose(scores, np.sort(dense)[::-1][:6], rtol=1e-10)
    pairs = np.column_stack([np.full(6, user), items])
    np.testing.assert_allclose(fitted.predict(pairs), scores, rtol=1e-10)
    similar, sims = fitted.similar_items(0, n=3)
    unit = fitted.item_factors_ / np.linalg.norm(fitted.item_factors_, axis=1)[:, None]
    cos = unit @ unit[0]
    cos[0] = -np.inf
    np.testing.assert_array_equal(similar, np.argsort(-cos)[:3])
    np.testing.assert_allclose(sims, np.sort(cos)[::-1][:3], rtol=1e-10)


def test_recommend_new_for_an_unseen_user_is_its_dense_fold_in(fitted):
    row = np.zeros(fitted.n_items_)
    row[[1, 4, 7]] = [1.0, 3.0, 2.0]
    x = dense_user_solve(row, fitted.item_factors_, 0.5, 2.0)
    ids, items, scores = fitted.recommend_new(sp.csr_matrix(row), n=4)
    expected = x @ fitted.item_factors_.T
    expected[[1, 4, 7]] = -np.inf
    np.testing.assert_array_equal(ids, [0])
    np.testing.assert_array_equal(items[0], np.argsort(-expected)[:4])
    np.testing.assert_allclose(scores[0], np.sort(expected)[::-1][:4], rtol=1e-8)


def test_pickle_and_clone(tmp_path, weighted, fitted):
    path = tmp_path / "model.joblib"
    joblib.dump(fitted, path)
    loaded = joblib.load(path)
    a, b = fitted.recommend([0, 1, 2], n=5), loaded.recommend([0, 1, 2], n=5)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_allclose(a[1], b[1], rtol=1e-12)
    fresh = clone(fitted)
    assert not hasattr(fresh, "user_factors_")
    assert fresh.get_params() == fitted.get_params()


def test_grid_search_with_ranking_scorer():
    X = block_interactions(seed=1)
    try:
        from sklearn_autorec.model_selection import PerUserHoldout

        cv = PerUserHoldout(n_splits=2, random_state=0)
    except ImportError:  # every user keeps training pairs in each fold (6 pairs each)
        cv = KFold(n_splits=3, shuffle=True, random_state=0)
    search = GridSearchCV(
        ImplicitMFRecommender(n_components=2, max_iter=4, random_state=0),
        {"alpha": [0.1, 1e4]}, cv=cv, scoring=make_ranking_scorer("ndcg", k=5))
    search.fit(X)
    # an enormous penalty shrinks the factors to ~0: no ranking signal left
    assert search.best_params_ == {"alpha": 0.1}
    scores = search.cv_results_["mean_test_score"]
    assert scores[0] > scores[1]
    assert search.best_estimator_.recommend(0, n=2)[0].shape == (2,)


@pytest.mark.parametrize("params, match", [
    ({"alpha": 0.0}, "alpha"),
    ({"alpha": -1.0}, "alpha"),
    ({"confidence": -0.5}, "confidence"),
    ({"n_components": 0}, "n_components"),
    ({"max_iter": 0}, "max_iter"),
    ({"n_components": 2.5}, "n_components"),
])
def test_bad_parameters_raise(params, match):
    with pytest.raises(InvalidParameterError, match=match):
        ImplicitMFRecommender(**params).fit(block_interactions())


def test_bad_input_raises():
    X = block_interactions()
    with pytest.raises(ValueError, match="positive_threshold"):
        ImplicitMFRecommender(positive_threshold=4).fit(X)
    with pytest.raises(ValueError, match=">= 0"):
        ImplicitMFRecommender().fit(X, -np.ones(len(X)))
    model = ImplicitMFRecommender(n_components=2, max_iter=2, random_state=0).fit(X)
    with pytest.raises(ValueError, match="no training interactions"):
        model.recommend(999)
    with pytest.raises(ValueError, match="not trained on"):
        model.recommend_new([[7, 999]])
