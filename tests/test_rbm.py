"""RBMRegressor: CD gradient and prediction against dense float64 references, the
rating contract, the Gibbs schedule, pickles, GridSearchCV and bad parameters."""

import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV

from contract import check_rating_estimator, small_ratings, split_matrix
from sklearn_autorec import RBMRegressor
from sklearn_autorec._rbm import cd_gradient, hidden_probabilities


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def tiny_rbm(n_rows=5, n_visible=6, K=3, F=4, seed=0):
    rng = np.random.default_rng(seed)
    mask = rng.random((n_rows, n_visible)) < 0.5
    mask[np.arange(n_rows), rng.integers(0, n_visible, n_rows)] = True
    levels = np.where(mask, rng.integers(0, K, (n_rows, n_visible)), -1)
    W = rng.normal(0, 0.8, (n_visible, K, F))
    vb = rng.normal(0, 0.5, (n_visible, K))
    hb = rng.normal(0, 0.5, F)
    return mask, levels, W, vb, hb


def dense_cd(mask, levels, W, vb, hb, n_steps, rng):
    """CD-T of the paper on dense one-hot arrays (rows x visible x K), float64."""
    R, _ = mask.shape
    K, F = W.shape[1], W.shape[2]
    V0 = (levels[:, :, None] == np.arange(K)) & mask[:, :, None]
    V0 = V0.astype(float)
    p0 = sigmoid(hb + np.einsum("rik,ikf->rf", V0, W))
    h = (rng.random((R, F)) < p0).astype(float)
    for t in range(1, n_steps + 1):
        probs = softmax(vb[None] + np.einsum("rf,ikf->rik", h, W)) * mask[:, :, None]
        if t < n_steps:
            u = rng.random(int(mask.sum()))  # one per observed entry, row-major
            Vt = np.zeros_like(V0)
            for e, (r, i) in enumerate(zip(*np.nonzero(mask))):
                k = int(np.argmax(np.cumsum(probs[r, i]) > u[e]))
                Vt[r, i, k] = 1.0
            q = sigmoid(hb + np.einsum("rik,ikf->rf", Vt, W))
            h = (rng.random((R, F)) < q).astype(float)
        else:
            VT = probs
            q = sigmoid(hb + np.einsum("rik,ikf->rf", VT, W))
    dW = (np.einsum("rik,rf->ikf", V0, p0) - np.einsum("rik,rf->ikf", VT, q)) / R
    return dW, (V0 - VT).sum(0) / R, (p0 - q).sum(0) / R


def as_csr(mask, levels):
    m = sp.csr_matrix(np.where(mask, levels + 1, 0))  # +1: level 0 must be stored
    return m.indptr, m.indices.astype(np.int64), (m.data - 1).astype(np.int64)


@pytest.mark.parametrize("n_steps", [1, 3])
def test_cd_gradient_matches_the_dense_reference(n_steps):
    mask, levels, W, vb, hb = tiny_rbm()
    indptr, cols, lev = as_csr(mask, levels)
    touched, dW, dvb, dhb = cd_gradient(indptr, cols, lev, W, vb, hb, n_steps,
                                        np.random.default_rng(42))
    ref_W, ref_vb, ref_hb = dense_cd(mask, levels, W, vb, hb, n_steps,
                                     np.random.default_rng(42))
    np.testing.assert_array_equal(touched, np.flatnonzero(mask.any(0)))
    np.testing.assert_allclose(dW, ref_W[touched], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dvb, ref_vb[touched], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dhb, ref_hb, rtol=1e-10, atol=1e-12)
    assert np.abs(dW).max() > 1e-3  # a real gradient, not zeros
    # the visible units no row observed get no gradient at all
    untouched = np.setdiff1d(np.arange(mask.shape[1]), touched)
    np.testing.assert_allclose(ref_W[untouched], 0.0, atol=1e-12)


def test_cd1_gradient_is_data_minus_mean_field_reconstruction():
    # CD-1 with the last step's probabilities: dhb = mean(p0 - sigmoid(hb +
    # sum_k softmax(vb + W h) W)), checked without the sampler's draw order
    mask, levels, W, vb, hb = tiny_rbm(seed=3)
    indptr, cols, lev = as_csr(mask, levels)
    rng = np.random.default_rng(5)
    _, _, _, dhb = cd_gradient(indptr, cols, lev, W, vb, hb, 1, rng)
    u = np.random.default_rng(5).random((mask.shape[0], W.shape[2]))
    V0 = ((levels[:, :, None] == np.arange(W.shape[1])) & mask[:, :, None]).astype(float)
    p0 = sigmoid(hb + np.einsum("rik,ikf->rf", V0, W))
    h = (u < p0).astype(float)
    probs = softmax(vb[None] + np.einsum("rf,ikf->rik", h, W)) * mask[:, :, None]
    q = sigmoid(hb + np.einsum("rik,ikf->rf", probs, W))
    np.testing.assert_allclose(dhb, (p0 - q).mean(0), rtol=1e-10, atol=1e-12)


def test_hidden_probabilities_match_the_dense_reference():
    mask, levels, W, vb, hb = tiny_rbm(seed=1)
    indptr, cols, lev = as_csr(mask, levels)
    V0 = ((levels[:, :, None] == np.arange(W.shape[1])) & mask[:, :, None]).astype(float)
    np.testing.assert_allclose(hidden_probabilities(indptr, cols, lev, W, hb),
                               sigmoid(hb + np.einsum("rik,ikf->rf", V0, W)), rtol=1e-12)


def half_star_ratings(seed=0):
    R = small_ratings(n_users=30, n_items=20, density=0.4, seed=seed)
    rng = np.random.default_rng(seed)
    R.data = np.clip(R.data - 0.5 * rng.integers(0, 2, R.nnz), 0.5, 5.0)
    return R


@pytest.mark.parametrize("item_based", [True, False])
def test_prediction_is_the_expected_rating_given_mean_field_hidden(item_based):
    R = half_star_ratings()
    model = RBMRegressor(n_components=6, item_based=item_based, max_iter=4,
                         early_stopping=False, random_state=0).fit(R)
    levels = np.unique(R.data)
    np.testing.assert_array_equal(model.levels_, levels)
    assert model.coefs_.shape == (R.shape[0] if item_based else R.shape[1], len(levels), 6)
    D = R.toarray()
    M = np.zeros(R.shape, bool)
    M[R.nonzero()] = True
    # rows of the RBMs: items for I-RBM (visible units = users), else users
    if item_based:
        D, M = D.T, M.T
    W, vb, hb = model.coefs_, model.visible_bias_, model.hidden_bias_
    onehot = (D[:, :, None] == levels) & M[:, :, None]
    hidden = sigmoid(hb + np.einsum("rik,ikf->rf", onehot.astype(float), W))
    np.testing.assert_allclose(model.hidden_, hidden, rtol=1e-10)
    expected = softmax(vb[None] + np.einsum("rf,ikf->rik", hidden, W)) @ levels
    if item_based:
        expected = expected.T  # back to users x items
    users, items = np.meshgrid(np.arange(R.shape[0]), np.arange(R.shape[1]), indexing="ij")
    pairs = np.column_stack([users.ravel(), items.ravel()])
    np.testing.assert_allclose(model.predict(pairs), expected.ravel(), rtol=1e-10)
    # recommend's all-items scores are the same numbers
    top, scores = model.recommend([0, 3], n=4, exclude_seen=False)
    np.testing.assert_allclose(scores, np.take_along_axis(expected[[0, 3]], top, 1),
                               rtol=1e-10)
    assert model.similar_items(0, n=3)[0].shape == (3,)


FAST = [RBMRegressor(n_components=8, max_iter=4, random_state=0),
        RBMRegressor(n_components=8, item_based=False, max_iter=4, cd_steps=(1, 2),
                     stage_epochs=2, early_stopping=False, random_state=0)]


@pytest.mark.parametrize("estimator", FAST, ids=repr)
def test_data_contract(estimator):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check_rating_estimator(estimator)


@pytest.mark.parametrize("item_based", [True, False])
def test_learns_beyond_the_global_mean(item_based):
    R = small_ratings(n_users=120, n_items=80, density=0.3, seed=2)
    train, test = split_matrix(R, seed=2)
    model = RBMRegressor(n_components=20, item_based=item_based, batch_size=10,
                         max_iter=60, random_state=0).fit(train)
    rmse = np.sqrt(np.mean((model.predict(test).data - test.data) ** 2))
    mean_rmse = np.sqrt(np.mean((train.data.mean() - test.data) ** 2))
    assert rmse < 0.8 * mean_rmse  # 1.00 (I-RBM), 0.95 (U-RBM) against 1.32
    assert model.best_validation_score_ == pytest.approx(min(model.validation_scores_))
    assert model.validation_scores_[model.best_iter_ - 1] == model.best_validation_score_


def test_gibbs_schedule_grows_by_stage():
    R = small_ratings()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # no stopping rule to miss
        model = RBMRegressor(n_components=4, max_iter=7, stage_epochs=2, cd_steps=(1, 3, 5),
                             early_stopping=False, random_state=0).fit(R)
    assert model.cd_steps_curve_ == [1, 1, 3, 3, 5, 5, 5]
    assert model.n_iter_ == 7 and len(model.loss_curve_) == 7
    assert model.validation_scores_ is None and model.best_validation_score_ is None
    # with early stopping a stall ends a stage early; the schedule never shrinks
    stalled = RBMRegressor(n_components=4, max_iter=60, stage_epochs=50, n_iter_no_change=1,
                           learning_rate=0.5, random_state=0).fit(R)
    steps = stalled.cd_steps_curve_
    assert steps[0] == 1 and all(a <= b for a, b in zip(steps, steps[1:]))
    assert 3 in steps and len(steps) < 60


def test_learning_rate_decays_and_momentum_ramps_up():
    R = small_ratings()
    common = dict(n_components=4, batch_size=5, early_stopping=False, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        # a decay of 1e-9: every epoch after the first steps by ~0, so three
        # epochs end where one does (no momentum carries the first one on)
        still = dict(common, momentum=0.0, initial_momentum=0.0, learning_rate_decay=1e-9)
        one = RBMRegressor(max_iter=1, **still).fit(R)
        three = RBMRegressor(max_iter=3, **still).fit(R)
        np.testing.assert_allclose(three.coefs_, one.coefs_, rtol=1e-5, atol=1e-7)
        steady = RBMRegressor(max_iter=3, **dict(still, learning_rate_decay=1.0)).fit(R)
        assert np.abs(steady.coefs_ - one.coefs_).max() > 1e-3
        # momentum_epochs epochs run with initial_momentum, then momentum
        ramp = dict(common, momentum=0.9, initial_momentum=0.0, momentum_epochs=1)
        flat = dict(common, momentum=0.0, momentum_epochs=0)
        np.testing.assert_allclose(RBMRegressor(max_iter=1, **ramp).fit(R).coefs_,
                                   RBMRegressor(max_iter=1, **flat).fit(R).coefs_,
                                   rtol=1e-5, atol=1e-7)
        fast = RBMRegressor(max_iter=1, **dict(ramp, momentum_epochs=0)).fit(R)
        assert np.abs(fast.coefs_ - one.coefs_).max() > 1e-3


@pytest.mark.parametrize("item_based, hidden", [(True, 200), (False, 100)])
def test_auto_hidden_units(item_based, hidden):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = RBMRegressor(item_based=item_based, max_iter=1, early_stopping=False,
                             random_state=0).fit(small_ratings())
    assert model.coefs_.shape[2] == hidden and model.hidden_.shape[1] == hidden


def test_pickle_round_trip_and_no_torch():
    R = half_star_ratings(seed=1)
    model = RBMRegressor(n_components=5, max_iter=3, random_state=0).fit(R)
    blob = pickle.dumps(model)
    assert b"torch" not in blob
    loaded = pickle.loads(blob)
    np.testing.assert_array_equal(loaded.predict(R).data, model.predict(R).data)
    for name, value in vars(model).items():
        if isinstance(value, np.ndarray) and value.dtype.kind == "f":
            assert value.dtype == np.float64, name


def test_grid_search():
    R = small_ratings()
    X = np.column_stack(R.nonzero())
    y = np.asarray(R[X[:, 0], X[:, 1]]).ravel()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search = GridSearchCV(
            RBMRegressor(max_iter=3, early_stopping=False, random_state=0),
            {"n_components": [4, 8], "item_based": [True, False]},
            cv=2, scoring="neg_root_mean_squared_error").fit(X, y)
    assert search.best_params_["n_components"] in (4, 8)
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    assert search.best_estimator_.predict(X[:5]).shape == (5,)


@pytest.mark.parametrize("params, match", [
    (dict(n_components=0), "n_components"),
    (dict(n_components="many"), "n_components"),
    (dict(learning_rate=0.0), "learning_rate"),
    (dict(momentum=1.0), "momentum"),
    (dict(initial_momentum=-0.1), "initial_momentum"),
    (dict(momentum_epochs=-1), "momentum_epochs"),
    (dict(learning_rate_decay=0.0), "learning_rate_decay"),
    (dict(learning_rate_decay=1.5), "learning_rate_decay"),
    (dict(alpha=-1.0), "alpha"),
    (dict(batch_size=0), "batch_size"),
    (dict(cd_steps=(1, 0)), "cd_steps must be a non-empty tuple of positive ints"),
    (dict(cd_steps=()), "cd_steps must be a non-empty tuple"),
    (dict(cd_steps=(1, 2.5)), "cd_steps must be"),
    (dict(stage_epochs=0), "stage_epochs"),
    (dict(validation_fraction=1.0), "validation_fraction"),
])
def test_bad_parameters(params, match):
    with pytest.raises(ValueError, match=match):
        RBMRegressor(**params).fit(small_ratings())


def test_continuous_ratings_are_refused():
    R = small_ratings()
    R.data = R.data + np.random.default_rng(0).random(R.nnz)
    with pytest.raises(ValueError, match="distinct values.*Round the ratings"):
        RBMRegressor().fit(R)


def test_early_stopping_needs_ratings_to_hold_out():
    R = sp.csr_matrix(np.eye(3) * 4.0)  # one rating per user and item
    with pytest.raises(ValueError, match="no rating could be held out"):
        RBMRegressor(n_components=2).fit(R)
    assert RBMRegressor(n_components=2, max_iter=2, early_stopping=False).fit(
        R).predict(R).nnz == 3
