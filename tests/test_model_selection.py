"""Tests of sklearn_autorec.model_selection: matrix split, warm K-fold, converters."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.dummy import DummyRegressor
from sklearn.model_selection import GridSearchCV, KFold, cross_validate

from sklearn_autorec.model_selection import (
    WarmStartKFold,
    matrix_to_pairs,
    pairs_to_matrix,
    train_test_split,
)


def triplets(R):
    """The stored (row, col, value) triplets of R, sorted, as a set."""
    coo = R.tocoo()
    return set(zip(coo.row.tolist(), coo.col.tolist(), coo.data.tolist()))


def random_matrix(n_users=60, n_items=40, density=0.2, seed=0):
    rng = np.random.RandomState(seed)
    R = sp.random(n_users, n_items, density=density, format="csr", random_state=rng)
    R.data = np.round(R.data * 10) - 5  # includes zeros and negative ratings
    return R


# --------------------------------------------------------------------------- train_test_split


def test_train_test_split_partitions_ratings():
    R = random_matrix()
    train, test = train_test_split(R, test_size=0.1, random_state=0)
    assert train.shape == test.shape == R.shape
    assert train.format == test.format == "csr"
    assert isinstance(train, sp.csr_matrix) and train.has_sorted_indices
    assert test.nnz == round(0.1 * R.nnz) and train.nnz + test.nnz == R.nnz
    assert triplets(train) | triplets(test) == triplets(R)
    train_pairs = {(r, c) for r, c, _ in triplets(train)}
    test_pairs = {(r, c) for r, c, _ in triplets(test)}
    assert not train_pairs & test_pairs
    assert train.dtype == R.dtype


def test_train_test_split_keeps_stored_zeros_and_negatives():
    R = sp.csr_matrix(
        (np.array([0.0, -3.0, 0.0, 2.0, -0.5, 0.0]), ([0, 0, 1, 2, 2, 3], [0, 2, 1, 0, 2, 1])),
        shape=(4, 3),
    )
    assert R.nnz == 6
    train, test = train_test_split(R, test_size=0.5, random_state=1)
    assert train.nnz == 3 and test.nnz == 3
    assert triplets(train) | triplets(test) == triplets(R)
    assert sorted(np.concatenate([train.data, test.data]).tolist()) == sorted(R.data.tolist())


def test_train_test_split_sizes_and_seed():
    R = random_matrix()
    _, test = train_test_split(R, test_size=7, random_state=0)
    assert test.nnz == 7
    a = train_test_split(R, test_size=0.2, random_state=3)
    b = train_test_split(R, test_size=0.2, random_state=np.random.RandomState(3))
    c = train_test_split(R, test_size=0.2, random_state=4)
    assert triplets(a[1]) == triplets(b[1]) and triplets(a[1]) != triplets(c[1])


@pytest.mark.parametrize("fmt", ["coo", "csc", "lil", "dok"])
def test_train_test_split_any_sparse_format(fmt):
    R = random_matrix().asformat(fmt)
    train, test = train_test_split(R, random_state=0)
    assert triplets(train) | triplets(test) == triplets(R)


def test_train_test_split_sparse_array_gives_sparse_array():
    R = sp.csr_array(random_matrix())
    train, test = train_test_split(R, random_state=0)
    assert isinstance(train, sp.csr_array) and isinstance(test, sp.csr_array)


def test_train_test_split_rejects_duplicates():
    R = sp.coo_matrix(([1.0, 2.0, 3.0], ([0, 1, 1], [0, 2, 2])), shape=(2, 3))
    match = r"the \(user, item\) pair \(1, 2\) more than once"
    with pytest.raises(ValueError, match=match):
        train_test_split(R)
    csr = sp.csr_matrix((np.array([1.0, 2.0]), np.array([1, 1]), np.array([0, 2])), shape=(1, 3))
    with pytest.raises(ValueError, match=r"pair \(0, 1\) more than once"):
        train_test_split(csr)


@pytest.mark.parametrize(
    "R, kwargs, error, match",
    [
        (np.eye(3), {}, TypeError, "must be a scipy sparse rating matrix; got ndarray"),
        (sp.csr_matrix((2, 2)), {}, ValueError, "R holds 0 rating"),
        (random_matrix(), {"test_size": 0.0}, ValueError, r"fraction in \(0, 1\)"),
        (random_matrix(), {"test_size": 1.0}, ValueError, r"fraction in \(0, 1\)"),
        (random_matrix(), {"test_size": 0}, ValueError, "must be between 1 and"),
        (random_matrix(), {"test_size": 10**6}, ValueError, "must be between 1 and"),
        (random_matrix(), {"test_size": "10%"}, ValueError, "test_size must be a fraction"),
        (
            sp.csr_matrix(([1.0, 2.0], ([0, 1], [0, 1])), shape=(2, 2)),
            {"test_size": 0.1},
            ValueError,
            "leaves an empty test matrix",
        ),
    ],
)
def test_train_test_split_errors(R, kwargs, error, match):
    with pytest.raises(error, match=match):
        train_test_split(R, **kwargs)


# --------------------------------------------------------------------------- converters


def test_matrix_to_pairs_and_back():
    R = random_matrix()
    X, y = matrix_to_pairs(R)
    assert X.shape == (R.nnz, 2) and X.dtype == np.int64 and y.shape == (R.nnz,)
    assert (y == 0).any() and (y < 0).any()  # stored zeros and negatives survive
    order = np.lexsort((X[:, 1], X[:, 0]))
    np.testing.assert_array_equal(order, np.arange(len(order)))  # row-major order
    back = pairs_to_matrix(X, y, shape=R.shape)
    assert back.nnz == R.nnz and triplets(back) == triplets(R)
    assert isinstance(back, sp.csr_matrix) and back.dtype == np.float64
    assert back.has_sorted_indices


def test_matrix_to_pairs_from_coo_order():
    R = sp.coo_matrix(([5.0, 0.0, 3.0], ([2, 0, 0], [1, 2, 0])), shape=(3, 3))
    X, y = matrix_to_pairs(R)
    assert X.tolist() == [[0, 0], [0, 2], [2, 1]] and y.tolist() == [3.0, 0.0, 5.0]


def test_matrix_to_pairs_errors():
    with pytest.raises(TypeError, match="scipy sparse rating matrix"):
        matrix_to_pairs([[1, 2]])
    R = sp.coo_matrix(([1.0, 2.0], ([0, 0], [1, 1])), shape=(1, 2))
    with pytest.raises(ValueError, match=r"pair \(0, 1\) more than once"):
        matrix_to_pairs(R)


def test_pairs_to_matrix_inputs():
    R = pairs_to_matrix([[0, 2], [1, 0]], [4.0, 0.0])
    assert R.shape == (2, 3) and R.nnz == 2 and float(R[1, 0]) == 0.0
    R = pairs_to_matrix(np.array([[0.0, 2.0]]), np.array([1]), shape=(5, 5))
    assert R.shape == (5, 5) and float(R[0, 2]) == 1.0
    empty = pairs_to_matrix(np.empty((0, 2), dtype=int), [], shape=(2, 2))
    assert empty.shape == (2, 2) and empty.nnz == 0


def test_pairs_to_matrix_dataframe():
    pd = pytest.importorskip("pandas")
    X = pd.DataFrame({"user": [0, 1, 1], "item": [1, 0, 1]})
    R = pairs_to_matrix(X, [1.0, 2.0, 3.0])
    assert triplets(R) == {(0, 1, 1.0), (1, 0, 2.0), (1, 1, 3.0)}


@pytest.mark.parametrize(
    "X, y, kwargs, match",
    [
        ([[0, 1], [2, 3], [0, 1]], [1, 2, 3], {}, r"duplicate pair: \(0, 1\) occurs more than once"),
        ([[0, -1]], [1], {}, r"column ids of X must be non-negative integers \(matrix indices\); got -1"),
        ([[0.5, 1]], [1], {}, "user ids must be integers or strings; got the non-integer float 0.5"),
        ([["a", 1]], [1], {}, r"row ids of X must be non-negative integers \(matrix indices\); got 'a'"),
        ([[0, 1]], [np.nan], {}, "Ratings must be finite; rating number 0 is nan"),
        ([[0, 1]], [1, 2], {}, "X and y have different lengths"),
        ([[0, 1]], ["x"], {}, "Ratings must be numbers"),
        ([[0, 1, 2]], [1], {}, r"pairs of shape \(n_samples, 2\)"),
        ([[3, 1]], [1], {"shape": (3, 3)}, "too small for the pairs: the largest row id is 3"),
        ([[0, 1]], [1], {"shape": (3,)}, "shape must be a pair"),
        (np.empty((0, 2)), [], {}, "pass shape= to build an empty matrix"),
    ],
)
def test_pairs_to_matrix_errors(X, y, kwargs, match):
    with pytest.raises(ValueError, match=match):
        pairs_to_matrix(X, y, **kwargs)


# --------------------------------------------------------------------------- WarmStartKFold


def skewed_pairs(n=3000, n_users=400, n_items=300, seed=0):
    """Pairs with long tails: many users and items with one or two ratings."""
    rng = np.random.RandomState(seed)
    u = np.minimum(rng.zipf(1.6, n) - 1, n_users - 1)
    i = np.minimum(rng.zipf(1.4, n) - 1, n_items - 1)
    X = np.unique(np.column_stack([rng.permutation(n_users)[u], i]), axis=0)
    X = X[rng.permutation(len(X))]
    y = rng.randint(1, 6, len(X)).astype(float)
    return X, y


def check_warm_folds(cv, X):
    X = np.asarray(X, dtype=object)
    n = len(X)
    splits = list(cv.split(X))
    assert len(splits) == cv.get_n_splits(X) == cv.n_splits
    tested = np.zeros(n, dtype=int)
    for train, test in splits:
        assert train.dtype.kind == "i" and test.dtype.kind == "i"
        assert len(np.intersect1d(train, test)) == 0
        assert len(train) + len(test) == n  # train is everything else
        assert set(X[test, 0]) <= set(X[train, 0])  # every test user is warm
        assert set(X[test, 1]) <= set(X[train, 1])  # every test item is warm
        tested[test] += 1
    assert tested.max() <= 1  # test folds are disjoint
    return splits, tested


def test_warm_kfold_every_test_user_and_item_is_warm():
    X, _ = skewed_pairs()
    cv = WarmStartKFold(n_splits=5, random_state=0)
    splits, tested = check_warm_folds(cv, X)
    # test folds + never-tested ratings = all ratings
    never = np.flatnonzero(tested == 0)
    all_test = np.concatenate([test for _, test in splits])
    assert sorted(np.concatenate([all_test, never]).tolist()) == list(range(len(X)))
    # ratings of single-rating users / items are never tested
    users, u_counts = np.unique(X[:, 0], return_counts=True)
    items, i_counts = np.unique(X[:, 1], return_counts=True)
    single = np.isin(X[:, 0], users[u_counts == 1]) | np.isin(X[:, 1], items[i_counts == 1])
    assert single.any() and tested[single].max() == 0
    # folds are only slightly smaller than KFold's (n // 5), most ratings tested
    sizes = [len(test) for _, test in splits]
    assert max(sizes) <= -(-len(X) // 5)
    assert min(sizes) > 0.6 * len(X) / 5
    # plain KFold on the same data would leave cold users in test folds
    cold = 0
    for train, test in KFold(5, shuffle=True, random_state=0).split(X):
        cold += len(set(X[test, 0]) - set(X[train, 0]))
    assert cold > 0


def test_warm_kfold_dense_data_moves_nothing():
    # Every user and item has many ratings: identical to KFold's fold sizes.
    X = np.array([(u, i) for u in range(30) for i in range(20)])
    cv = WarmStartKFold(n_splits=4, random_state=0)
    splits, tested = check_warm_folds(cv, X)
    assert [len(t) for _, t in splits] == [150, 150, 150, 150]
    assert tested.min() == 1


def test_warm_kfold_reproducible_and_shuffled():
    X, _ = skewed_pairs(seed=1)
    a = [t.tolist() for _, t in WarmStartKFold(3, random_state=5).split(X)]
    b = [t.tolist() for _, t in WarmStartKFold(3, random_state=5).split(X)]
    c = [t.tolist() for _, t in WarmStartKFold(3, random_state=6).split(X)]
    assert a == b and a != c


def test_warm_kfold_without_shuffle_uses_blocks():
    # Each block of 20 holds two ratings of every user and of every item.
    X = np.array([(u, (u + k) % 10) for k in range(10) for u in range(10)])
    splits, _ = check_warm_folds(WarmStartKFold(5, shuffle=False), X)
    assert [t.tolist() for _, t in splits] == [list(range(20 * k, 20 * k + 20)) for k in range(5)]


def test_warm_kfold_string_ids_list_and_dataframe():
    X, _ = skewed_pairs(n=800, seed=2)
    as_strings = [[f"user{u}", f"item{i}"] for u, i in X]
    cv = WarmStartKFold(4, random_state=0)
    check_warm_folds(cv, as_strings)
    mixed = [[int(u) if u % 2 else f"u{u}", i] for u, i in X]
    with pytest.raises(TypeError, match="all integers or all strings"):
        next(cv.split(mixed))  # the package's data contract: one id type per column
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(as_strings, columns=["user", "item"])
    folds_frame = [t.tolist() for _, t in cv.split(frame)]
    folds_list = [t.tolist() for _, t in cv.split(as_strings)]
    assert folds_frame == folds_list


def test_warm_kfold_cross_validate_and_grid_search():
    X, y = skewed_pairs()
    cv = WarmStartKFold(n_splits=3, random_state=0)
    scores = cross_validate(
        DummyRegressor(), X, y, cv=cv, scoring="neg_root_mean_squared_error"
    )
    assert scores["test_score"].shape == (3,)
    assert np.all(scores["test_score"] < 0)
    search = GridSearchCV(
        DummyRegressor(), {"strategy": ["mean", "median"]}, cv=cv,
        scoring="neg_mean_absolute_error",
    ).fit(X, y)
    assert search.n_splits_ == 3
    assert search.best_params_["strategy"] in ("mean", "median")


def test_warm_kfold_without_shuffle_moves_cold_block():
    # Sorted by user, the first block of 20 holds all ratings of users 0 and 1:
    # one rating of each goes back to training.
    X = np.array([(u, i) for u in range(10) for i in range(10)])
    splits, tested = check_warm_folds(WarmStartKFold(5, shuffle=False), X)
    assert [len(t) for _, t in splits] == [18] * 5
    assert tested.sum() == 90


def test_warm_kfold_repr_and_params():
    cv = WarmStartKFold(3, random_state=1)
    assert repr(cv) == "WarmStartKFold(n_splits=3, random_state=1, shuffle=True)"
    assert cv.get_n_splits() == 3


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"n_splits": 1}, ValueError, "at least 2 folds"),
        ({"n_splits": 2.0}, ValueError, "n_splits must be an integer"),
        ({"shuffle": "yes"}, TypeError, "shuffle must be True or False"),
        ({"shuffle": False, "random_state": 0}, ValueError, "no effect since shuffle is False"),
    ],
)
def test_warm_kfold_parameter_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        WarmStartKFold(**kwargs)


@pytest.mark.parametrize(
    "X, match",
    [
        ([[0, 1], [1, 0]], r"n_splits=3 greater than the number of ratings n_samples=2"),
        ([[0, 1, 2]] * 5, r"pairs of shape \(n_samples, 2\)"),
        ([[0, None]] * 5, r"missing item ids \(None or NaN\)"),
        (np.array([[0, np.nan]] * 5), "NaN or infinite item ids"),
    ],
)
def test_warm_kfold_data_errors(X, match):
    with pytest.raises(ValueError, match=match):
        list(WarmStartKFold(3).split(X))
