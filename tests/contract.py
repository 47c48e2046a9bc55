"""The package's data contract, as one reusable check every estimator runs.

``check_rating_estimator(estimator)`` asserts, on small rating data, everything
DESIGN.md promises for every estimator: both input forms, the same model on
both, pickles without torch, determinism, the unknown-id policy, clipping and
the errors on bad input.  Each new estimator adds one line to
``tests/test_contract.py``.
"""

import pickle

import joblib
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.exceptions import NotFittedError


def small_ratings(n_users=40, n_items=30, density=0.3, seed=0):
    """A rating matrix with structure: integer ratings 1..5, every row/col rated."""
    rng = np.random.default_rng(seed)
    users = rng.normal(size=(n_users, 3))
    items = rng.normal(size=(n_items, 3))
    mask = rng.random((n_users, n_items)) < density
    mask[np.arange(n_users), rng.integers(0, n_items, n_users)] = True
    mask[rng.integers(0, n_users, n_items), np.arange(n_items)] = True
    rows, cols = np.nonzero(mask)
    score = (users[rows] * items[cols]).sum(1) + rng.normal(0, 0.3, len(rows))
    ratings = np.clip(np.round(3 + score), 1, 5)
    return sp.csr_matrix((ratings, (rows, cols)), shape=(n_users, n_items))


def split_matrix(R, test_fraction=0.2, seed=0):
    """Split stored entries into train/test matrices of R's shape (test kept warm)."""
    coo = R.tocoo()
    rng = np.random.default_rng(seed)
    test = rng.random(coo.nnz) < test_fraction
    # keep every row and column in training
    for ids in (coo.row, coo.col):
        for k in np.unique(ids):
            idx = np.flatnonzero(ids == k)
            if test[idx].all():
                test[idx[0]] = False
    def part(m):
        return sp.csr_matrix((coo.data[m], (coo.row[m], coo.col[m])), shape=R.shape)
    return part(~test), part(test)


def as_pairs(R):
    coo = R.tocoo()
    order = np.lexsort((coo.col, coo.row))
    return np.column_stack([coo.row, coo.col])[order], coo.data[order]


def check_rating_estimator(estimator):
    """Run every contract check on ``estimator`` (an unfitted instance)."""
    R = small_ratings()
    R_train, R_test = split_matrix(R)
    X_train, y_train = as_pairs(R_train)
    X_test, y_test = as_pairs(R_test)
    check_not_fitted(estimator, X_test)
    check_matrix_form(estimator, R_train, R_test)
    check_pairs_form(estimator, X_train, y_train, X_test)
    check_forms_agree(estimator, R_train, X_train, y_train, R_test, X_test)
    check_pickle(estimator, X_train, y_train, X_test)
    check_deterministic(estimator, X_train, y_train, X_test)
    check_unknown_ids(estimator, X_train, y_train)
    check_clipping(estimator, X_train, y_train, X_test)
    check_bad_input(estimator, R_train, X_train, y_train)
    check_stored_zeros_are_ratings(estimator)


def check_not_fitted(estimator, X):
    with pytest.raises(NotFittedError):
        clone(estimator).predict(X)


def check_matrix_form(estimator, R_train, R_test):
    model = clone(estimator).fit(R_train)
    pred = model.predict(R_test)
    assert sp.issparse(pred) and pred.format == "csr"
    assert pred.shape == R_test.shape
    np.testing.assert_array_equal(pred.indptr, R_test.indptr)
    np.testing.assert_array_equal(pred.indices, R_test.indices)
    assert np.all(np.isfinite(pred.data))
    from sklearn.metrics import r2_score
    assert model.score(R_test) == pytest.approx(r2_score(R_test.data, pred.data))
    # a sparse array in gives a sparse array out
    pred_array = model.predict(sp.csr_array(R_test))
    assert isinstance(pred_array, sp.csr_array)
    np.testing.assert_allclose(pred_array.data, pred.data)
    assert model.matrix_shape_ == R_train.shape


def check_pairs_form(estimator, X_train, y_train, X_test):
    model = clone(estimator).fit(X_train, y_train)
    pred = model.predict(X_test)
    assert isinstance(pred, np.ndarray) and pred.shape == (len(X_test),)
    assert model.n_features_in_ == 2
    # string ids, lists and DataFrames are the same data
    to_str = np.vectorize(lambda v: f"id{v}")
    X_str = np.column_stack([to_str(X_train[:, 0]), to_str(X_train[:, 1])])
    pred_str = clone(estimator).fit(X_str, y_train).predict(
        np.column_stack([to_str(X_test[:, 0]), to_str(X_test[:, 1])]))
    # string ids sort differently from ints, so the encoding differs: compare
    # models whose ids sort alike (zero-padded) for exact equality
    pad = np.vectorize(lambda v: f"id{v:04d}")
    Xp = np.column_stack([pad(X_train[:, 0]), pad(X_train[:, 1])])
    pred_pad = clone(estimator).fit(Xp, y_train).predict(
        np.column_stack([pad(X_test[:, 0]), pad(X_test[:, 1])]))
    np.testing.assert_allclose(pred_pad, pred, rtol=1e-5, atol=1e-5)
    assert pred_str.shape == pred.shape and np.all(np.isfinite(pred_str))
    pred_list = clone(estimator).fit(X_train.tolist(), y_train.tolist()).predict(X_test.tolist())
    np.testing.assert_allclose(pred_list, pred, rtol=1e-5, atol=1e-5)
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"user": X_train[:, 0], "item": X_train[:, 1]})
    pred_df = clone(estimator).fit(df, pd.Series(y_train)).predict(
        pd.DataFrame({"user": X_test[:, 0], "item": X_test[:, 1]}))
    np.testing.assert_allclose(pred_df, pred, rtol=1e-5, atol=1e-5)


def check_forms_agree(estimator, R_train, X_train, y_train, R_test, X_test):
    on_matrix = clone(estimator).fit(R_train)
    on_pairs = clone(estimator).fit(X_train, y_train)
    # a model fitted on one form predicts the other
    np.testing.assert_allclose(on_matrix.predict(X_test), on_pairs.predict(X_test),
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(on_pairs.predict(R_test).data, on_matrix.predict(R_test).data,
                               rtol=1e-5, atol=1e-5)


def check_pickle(estimator, X_train, y_train, X_test, tmp_dir=None):
    import tempfile
    import os
    model = clone(estimator).fit(X_train, y_train)
    blob = pickle.dumps(model)
    assert b"torch" not in blob, "the pickle must hold no torch object"
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.joblib")
        joblib.dump(model, path)
        loaded = joblib.load(path)
    np.testing.assert_array_equal(loaded.predict(X_test), model.predict(X_test))
    for name, value in vars(model).items():
        if name.endswith("_") and not name.startswith("_"):
            assert "torch" not in type(value).__module__, f"{name} is a torch object"


def check_deterministic(estimator, X_train, y_train, X_test):
    if "random_state" not in estimator.get_params():
        return
    a = clone(estimator).set_params(random_state=0).fit(X_train, y_train).predict(X_test)
    b = clone(estimator).set_params(random_state=0).fit(X_train, y_train).predict(X_test)
    np.testing.assert_array_equal(a, b)
    # global RNGs are left alone: the same seed gives the same model after they move
    np.random.seed(123)
    np.random.rand(5)
    c = clone(estimator).set_params(random_state=0).fit(X_train, y_train).predict(X_test)
    np.testing.assert_array_equal(a, c)


def check_unknown_ids(estimator, X_train, y_train):
    model = clone(estimator).fit(X_train, y_train)
    known_user, known_item = X_train[0]
    X_new = np.array([[known_user, 9999], [9999, known_item], [9999, 9998],
                      [known_user, known_item]])
    pred = model.predict(X_new)
    assert np.all(np.isfinite(pred))
    np.testing.assert_array_equal(model.fallback_mask(X_new), [True, True, True, False])
    mu, bu, bi = model.global_mean_, model.user_bias_, model.item_bias_
    u = np.searchsorted(model.user_ids_, known_user)
    i = np.searchsorted(model.item_ids_, known_item)
    lo, hi = model.rating_min_, model.rating_max_
    np.testing.assert_allclose(pred[:3], np.clip([mu + bu[u], mu + bi[i], mu], lo, hi))
    pred3 = clone(estimator).set_params(unknown=3.0).fit(X_train, y_train).predict(X_new)
    np.testing.assert_allclose(pred3[:3], 3.0)
    np.testing.assert_allclose(pred3[3], pred[3])
    pred_nan = clone(estimator).set_params(unknown="nan").fit(X_train, y_train).predict(X_new)
    assert np.isnan(pred_nan[:3]).all() and np.isfinite(pred_nan[3])
    strict = clone(estimator).set_params(unknown="raise").fit(X_train, y_train)
    with pytest.raises(ValueError, match="without training ratings.*item 9999"):
        strict.predict(X_new)
    strict.predict(X_new[3:])  # known pairs still predict
    with pytest.raises(ValueError, match="unknown"):
        clone(estimator).set_params(unknown="zero").fit(X_train, y_train)


def check_clipping(estimator, X_train, y_train, X_test):
    model = clone(estimator).fit(X_train, y_train)
    pred = model.predict(X_test)
    assert pred.min() >= y_train.min() and pred.max() <= y_train.max()
    unclipped = clone(estimator).set_params(clip=False).fit(X_train, y_train).predict(X_test)
    np.testing.assert_allclose(np.clip(unclipped, y_train.min(), y_train.max()), pred,
                               rtol=1e-6, atol=1e-6)


def check_bad_input(estimator, R_train, X_train, y_train):
    est = clone(estimator)
    dup_X = np.vstack([X_train, X_train[:1]])
    dup_y = np.append(y_train, 4.0)
    with pytest.raises(ValueError, match="more than once"):
        est.fit(dup_X, dup_y)
    coo = R_train.tocoo()
    dup = sp.coo_matrix((np.append(coo.data, 1.0), (np.append(coo.row, coo.row[0]),
                         np.append(coo.col, coo.col[0]))), shape=R_train.shape)
    with pytest.raises(ValueError, match="more than once"):
        est.fit(dup)
    for bad in (np.nan, np.inf):
        y_bad = y_train.copy()
        y_bad[3] = bad
        with pytest.raises(ValueError, match="finite"):
            est.fit(X_train, y_bad)
    R_bad = R_train.copy()
    R_bad.data[0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        est.fit(R_bad)
    X_nan = X_train.astype(float)
    X_nan[2, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        est.fit(X_nan, y_train)
    X_none = X_train.astype(object)
    X_none[2, 1] = None
    with pytest.raises(ValueError, match="missing item ids"):
        est.fit(X_none, y_train)
    with pytest.raises(ValueError, match=r"shape \(n_samples, 2\)"):
        est.fit(np.column_stack([X_train, X_train[:, :1]]), y_train)
    with pytest.raises(ValueError, match=r"shape \(n_samples, 2\)"):
        est.fit(X_train[:, 0], y_train)
    with pytest.raises(ValueError, match="different lengths"):
        est.fit(X_train, y_train[:-1])
    with pytest.raises(ValueError, match="at least one rating"):
        est.fit(np.empty((0, 2), dtype=int), np.empty(0))
    with pytest.raises(ValueError, match="at least one rating"):
        est.fit(sp.csr_matrix(R_train.shape))
    with pytest.raises(ValueError, match="requires y"):
        est.fit(X_train)
    with pytest.raises(ValueError, match="y must be None"):
        est.fit(R_train, np.ones(R_train.nnz))
    with pytest.raises(TypeError, match="all integers or all strings"):
        est.fit(np.array([[1, "a"], ["b", 2]], dtype=object), [3.0, 4.0])
    fitted = clone(estimator).fit(R_train)
    wrong = sp.csr_matrix((R_train.shape[0] + 1, R_train.shape[1]))
    with pytest.raises(ValueError, match="shapes must match"):
        fitted.predict(wrong)
    with pytest.raises(TypeError, match="integer user ids but got string"):
        fitted.predict(np.array([["a", "b"]]))


def check_stored_zeros_are_ratings(estimator):
    # ratings on a -2..2 scale, with stored zeros: the pattern is the mask
    R = small_ratings(seed=1)
    R.data = R.data - 3.0
    assert (R.data == 0).any() and (R.data < 0).any()
    model = clone(estimator).fit(R)
    assert model.rating_min_ == R.data.min() and model.rating_max_ == R.data.max()
    assert model.n_users_ == R.shape[0] and model.n_items_ == R.shape[1]
    X, y = as_pairs(R)
    assert len(y) == R.nnz  # stored zeros counted
    pred = model.predict(R)
    assert pred.nnz == R.nnz
