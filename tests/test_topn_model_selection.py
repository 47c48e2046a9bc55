"""Tests of the top-N evaluation protocols of sklearn_autorec.model_selection."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.model_selection import GridSearchCV

from sklearn_autorec import EASERecommender
from sklearn_autorec.metrics import make_ranking_scorer, ndcg_at_k, ranking_report
from sklearn_autorec.model_selection import (
    PerUserHoldout,
    held_out_users_split,
    leave_one_out_split,
    matrix_to_pairs,
    per_user_holdout,
)


def interactions(n_users=80, n_items=40, density=0.25, seed=0, dtype=np.float64):
    """Interactions with weights 1..5 and per-user counts from 0 to ~25."""
    rng = np.random.default_rng(seed)
    activity = rng.uniform(0.0, 2 * density, size=(n_users, 1))
    mask = rng.random((n_users, n_items)) < activity
    rows, cols = np.nonzero(mask)
    data = rng.integers(1, 6, size=len(rows)).astype(dtype)
    X = sp.csr_matrix((data, (rows, cols)), shape=(n_users, n_items))
    X.sort_indices()
    return X


def triplets(R):
    coo = R.tocoo()
    return set(zip(coo.row.tolist(), coo.col.tolist(), coo.data.tolist()))


def pairs(R):
    coo = R.tocoo()
    return set(zip(coo.row.tolist(), coo.col.tolist()))


def row_counts(R):
    return np.diff(sp.csr_matrix(R).indptr)


def with_duplicate(X):
    coo = X.tocoo()
    rows, cols = np.r_[coo.row, coo.row[0]], np.r_[coo.col, coo.col[0]]
    return sp.coo_matrix((np.r_[coo.data, 1.0], (rows, cols)), shape=X.shape)


# ----------------------------------------------------------------------------- per_user_holdout


@pytest.mark.parametrize("test_size", [0.2, 0.3, 0.5])
def test_per_user_holdout_partitions_with_floor_counts(test_size):
    X = interactions()
    train, test = per_user_holdout(X, test_size=test_size, random_state=0)
    assert train.shape == test.shape == X.shape
    assert isinstance(train, sp.csr_matrix) and isinstance(test, sp.csr_matrix)
    assert train.has_sorted_indices and test.has_sorted_indices
    assert triplets(train) | triplets(test) == triplets(X)
    assert not pairs(train) & pairs(test)
    n_u = row_counts(X)
    np.testing.assert_array_equal(row_counts(test), np.floor(test_size * n_u))
    assert np.all(row_counts(train)[n_u > 0] >= 1)
    assert test.nnz > 0


@pytest.mark.parametrize("kind", ["csr_array", "coo", "csc", "lil"])
def test_per_user_holdout_kinds_and_dtype(kind):
    X = interactions(dtype=np.float32)
    Xk = sp.csr_array(X) if kind == "csr_array" else X.asformat(kind)
    train, test = per_user_holdout(Xk, random_state=0)
    cls = sp.csr_array if kind == "csr_array" else sp.csr_matrix
    assert isinstance(train, cls) and isinstance(test, cls)
    assert train.dtype == test.dtype == np.float32
    assert triplets(train) | triplets(test) == triplets(X)


def test_per_user_holdout_keeps_stored_zeros_and_int_values():
    X = sp.csr_matrix((np.array([0, 3, 0, 2, 7, 1, 4, 0, 5, 6]),
                       ([0] * 10, list(range(10)))), shape=(2, 10))
    train, test = per_user_holdout(X, test_size=0.3, random_state=0)
    assert train.dtype == X.dtype and test.nnz == 3 and train.nnz == 7
    assert triplets(train) | triplets(test) == triplets(X)


def test_per_user_holdout_seeds():
    X = interactions()
    a = per_user_holdout(X, random_state=3)
    b = per_user_holdout(X, random_state=np.random.RandomState(3))
    c = per_user_holdout(X, random_state=4)
    assert triplets(a[1]) == triplets(b[1])
    assert triplets(a[1]) != triplets(c[1])
    assert np.array_equal(row_counts(a[1]), row_counts(c[1]))


def test_per_user_holdout_is_uniform_within_a_user():
    X = sp.csr_matrix(np.ones((1, 5)))
    hits = np.zeros(5)
    for seed in range(500):
        hits += per_user_holdout(X, test_size=0.2, random_state=seed)[1].toarray()[0]
    # each item is the test item 1/5 of the time: 100 expected, sd ~ 9
    assert np.all(np.abs(hits - 100) < 45), hits


@pytest.mark.parametrize("bad", [0, 1, 0.0, 1.0, -0.1, 1.5, True, "0.2", None, np.nan, 3])
def test_per_user_holdout_bad_test_size(bad):
    with pytest.raises(ValueError, match="test_size must be a fraction in"):
        per_user_holdout(interactions(), test_size=bad)


@pytest.mark.parametrize("bad", [np.ones((3, 3)), [[0, 1], [1, 2]], None])
def test_per_user_holdout_needs_sparse(bad):
    with pytest.raises(TypeError, match="must be a scipy sparse interaction matrix.*"
                                        "pairs_to_matrix"):
        per_user_holdout(bad)


def test_per_user_holdout_refuses_duplicates_and_empty_test():
    with pytest.raises(ValueError, match="more than once"):
        per_user_holdout(with_duplicate(interactions()))
    few = sp.csr_matrix(np.eye(6) + np.eye(6, k=1))  # at most 2 interactions per user
    with pytest.raises(ValueError, match=r"puts no interaction in test.*2 interaction"):
        per_user_holdout(few, test_size=0.2)
    train, test = per_user_holdout(few, test_size=0.5, random_state=0)
    assert test.nnz == 5


# ----------------------------------------------------------------------------- PerUserHoldout


def test_per_user_holdout_splitter_partitions_pairs():
    X = interactions()
    X_pairs, _ = matrix_to_pairs(X)
    cv = PerUserHoldout(n_splits=3, test_size=0.25, random_state=0)
    assert cv.get_n_splits() == 3
    splits = list(cv.split(X_pairs))
    assert len(splits) == 3
    expected = np.floor(0.25 * np.bincount(X_pairs[:, 0], minlength=X.shape[0]))
    for train, test in splits:
        assert train.dtype == test.dtype == np.int64
        assert np.array_equal(np.sort(np.r_[train, test]), np.arange(len(X_pairs)))
        assert not np.intersect1d(train, test).size
        counts = np.bincount(X_pairs[test, 0], minlength=X.shape[0])
        np.testing.assert_array_equal(counts, expected)
        assert set(X_pairs[test, 0]) <= set(X_pairs[train, 0])
    # independent repeated holdouts, not folds: the test sets differ and overlap
    tests = [set(t.tolist()) for _, t in splits]
    assert tests[0] != tests[1] and tests[0] & tests[1]
    # an int seed gives the same splits at every call
    again = list(cv.split(X_pairs))
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(splits, again))
    # and the first split is per_user_holdout's on the matrix
    _, test_matrix = per_user_holdout(X, test_size=0.25, random_state=0)
    assert pairs(test_matrix) == {tuple(p) for p in X_pairs[splits[0][1]].tolist()}


def test_per_user_holdout_splitter_any_ids():
    X_pairs, _ = matrix_to_pairs(interactions(seed=1))
    names = np.array([f"user{u}" for u in X_pairs[:, 0]])
    frame = pd.DataFrame({"user": names, "item": X_pairs[:, 1]})
    for data in (frame, np.column_stack([names, X_pairs[:, 1].astype(str)]).tolist()):
        cv = PerUserHoldout(n_splits=2, random_state=0)
        ((train, test), _) = list(cv.split(data))
        users = np.asarray(names)
        _, n_u = np.unique(users, return_counts=True)
        assert len(test) == int(np.floor(0.2 * n_u).sum())
        assert set(users[test]) <= set(users[train])


def test_per_user_holdout_splitter_errors():
    X = interactions()
    with pytest.raises(TypeError, match="matrix_to_pairs"):
        next(PerUserHoldout().split(X))
    X_pairs, _ = matrix_to_pairs(X)
    dup = np.vstack([X_pairs, X_pairs[:1]])
    with pytest.raises(ValueError, match="more than once"):
        next(PerUserHoldout().split(dup))
    with pytest.raises(ValueError, match="puts no interaction in test"):
        next(PerUserHoldout(test_size=0.2).split([[0, 0], [0, 1], [1, 0]]))
    for bad in (0, -1, 2.0, True):
        with pytest.raises(ValueError, match="n_splits"):
            PerUserHoldout(n_splits=bad)
    for bad in (0.0, 1, 1.2, "half"):
        with pytest.raises(ValueError, match="test_size must be a fraction"):
            PerUserHoldout(test_size=bad)


def test_per_user_holdout_in_grid_search_with_ease():
    rng = np.random.default_rng(0)
    X_pairs = np.unique(rng.integers(0, 40, size=(600, 2)), axis=0)
    search = GridSearchCV(EASERecommender(), {"alpha": [1.0, 100.0]},
                          cv=PerUserHoldout(n_splits=2, random_state=0),
                          scoring=make_ranking_scorer("ndcg", k=10)).fit(X_pairs)
    assert search.best_params_["alpha"] in (1.0, 100.0)
    scores = np.array([search.cv_results_[f"split{i}_test_score"] for i in range(2)])
    assert scores.shape == (2, 2) and np.all((scores >= 0) & (scores <= 1))
    # the splits' scores are those of the scorer on the splits
    train, test = next(PerUserHoldout(n_splits=2, random_state=0).split(X_pairs))
    model = EASERecommender(alpha=1.0).fit(X_pairs[train])
    expected = ranking_report(model, X_pairs[test], k=10, metrics="ndcg")["ndcg@10"]
    assert search.cv_results_["split0_test_score"][0] == pytest.approx(expected, rel=1e-9)


# ----------------------------------------------------------------------------- held_out_users_split


def test_held_out_users_split_keep():
    X = interactions(n_users=100)
    train, fold_in, test = held_out_users_split(X, 20, test_size=0.2, random_state=0)
    assert train.shape == fold_in.shape == test.shape == X.shape
    assert all(isinstance(m, sp.csr_matrix) for m in (train, fold_in, test))
    assert triplets(train) | triplets(fold_in) | triplets(test) == triplets(X)
    assert train.nnz + fold_in.nnz + test.nnz == X.nnz
    n_u = row_counts(X)
    held = np.flatnonzero(row_counts(fold_in) + row_counts(test))
    assert len(held) == 20 and np.all(n_u[held] > 0)
    assert np.all(row_counts(train)[held] == 0)
    kept = np.setdiff1d(np.arange(X.shape[0]), held)
    np.testing.assert_array_equal(row_counts(train)[kept], n_u[kept])
    np.testing.assert_array_equal(row_counts(test)[held], np.floor(0.2 * n_u[held]))
    np.testing.assert_array_equal(row_counts(fold_in)[held],
                                  n_u[held] - np.floor(0.2 * n_u[held]))


def test_held_out_users_split_fraction_seed_and_kind():
    X = sp.csr_array(interactions(n_users=100, dtype=np.float32))
    n_active = int((row_counts(X) > 0).sum())
    a = held_out_users_split(X, 0.25, random_state=1)
    assert all(isinstance(m, sp.csr_array) and m.dtype == np.float32 for m in a)
    assert int((row_counts(a[1]) > 0).sum()) == round(0.25 * n_active)
    b = held_out_users_split(X, 0.25, random_state=np.random.RandomState(1))
    c = held_out_users_split(X, 0.25, random_state=2)
    assert all(triplets(p) == triplets(q) for p, q in zip(a, b))
    assert triplets(a[2]) != triplets(c[2])
    held_a, held_c = (set(np.flatnonzero(row_counts(s[1])).tolist()) for s in (a, c))
    assert held_a != held_c  # the held-out users are drawn at random


def test_held_out_users_split_drop_unseen_items():
    # sparse columns, so that many items of held-out users are unseen in training
    X = interactions(n_users=60, n_items=200, density=0.05, seed=3)
    kept_train, kept_fold, kept_test = held_out_users_split(X, 30, random_state=0)
    train, fold_in, test = held_out_users_split(X, 30, unseen_items="drop", random_state=0)
    assert triplets(train) == triplets(kept_train)
    trained = set(train.tocoo().col.tolist())
    unseen = {(r, c, v) for r, c, v in triplets(kept_fold) | triplets(kept_test)
              if c not in trained}
    assert unseen, "the data must have unseen items for this test"
    assert triplets(fold_in) | triplets(test) == (
        triplets(kept_fold) | triplets(kept_test)) - unseen
    assert not pairs(fold_in) & pairs(test)
    # the per-user split is of the interactions left after dropping
    n_left = row_counts(fold_in) + row_counts(test)
    np.testing.assert_array_equal(row_counts(test), np.floor(0.2 * n_left))


@pytest.mark.parametrize("bad", [0, 80, 100, -1, 0.0, 1.0, 1.5, 0.001, True, "10", None])
def test_held_out_users_split_bad_n_heldout_users(bad):
    X = sp.csr_matrix(np.ones((80, 6)))  # 80 users with interactions
    with pytest.raises(ValueError, match="n_heldout_users"):
        held_out_users_split(X, bad)


def test_held_out_users_split_other_errors():
    X = interactions()
    with pytest.raises(TypeError, match="sparse interaction matrix"):
        held_out_users_split(X.toarray(), 10)
    with pytest.raises(ValueError, match="test_size must be a fraction"):
        held_out_users_split(X, 10, test_size=1.0)
    with pytest.raises(ValueError, match="unseen_items must be 'keep' or 'drop'"):
        held_out_users_split(X, 10, unseen_items="ignore")
    with pytest.raises(ValueError, match="more than once"):
        held_out_users_split(with_duplicate(X), 10)
    with pytest.raises(ValueError, match="puts no interaction in test"):
        held_out_users_split(sp.csr_matrix(np.eye(5)), 2)


def fitted_strong_generalisation():
    X = interactions(n_users=150, n_items=40, density=0.3, seed=5)
    X.data[:] = 1.0
    train, fold_in, test = held_out_users_split(X, 30, unseen_items="drop", random_state=0)
    return EASERecommender(alpha=10.0).fit(train), fold_in, test


def test_held_out_users_split_scores_with_held_out_rows():
    model, fold_in, test = fitted_strong_generalisation()
    held = np.flatnonzero(row_counts(fold_in))
    report = ranking_report(model, test[held], X_fold_in=fold_in[held], k=10,
                            metrics="ndcg")
    assert report["n_users"] == int((row_counts(test) > 0).sum())
    # the same as ranking each held-out user's items from its fold-in alone
    with_test = held[row_counts(test)[held] > 0]
    _, ranked, _ = model.recommend_new(fold_in[with_test], n=10)
    expected = ndcg_at_k(test[with_test], ranked, k=10)
    assert report["ndcg@10"] == pytest.approx(expected, rel=1e-9)


def test_held_out_users_split_scores_with_full_matrices():
    # the non-held-out rows of X_fold_in and X_test are empty
    model, fold_in, test = fitted_strong_generalisation()
    report = ranking_report(model, test, X_fold_in=fold_in, k=10, metrics="ndcg")
    held = np.flatnonzero(row_counts(fold_in))
    sliced = ranking_report(model, test[held], X_fold_in=fold_in[held], k=10,
                            metrics="ndcg")
    assert report["n_users"] == sliced["n_users"]
    assert report["ndcg@10"] == pytest.approx(sliced["ndcg@10"], rel=1e-9)


def test_held_out_users_split_keep_scores_unseen_items_as_misses():
    X = interactions(n_users=60, n_items=200, density=0.05, seed=3)
    X.data[:] = 1.0
    train, fold_in, test = held_out_users_split(X, 30, random_state=0)
    model = EASERecommender(alpha=10.0).fit(train)
    report = ranking_report(model, test, X_fold_in=fold_in, k=10, metrics="recall")
    assert report["n_users"] == int((row_counts(test) > 0).sum())
    assert 0.0 <= report["recall@10"] <= 1.0


# ----------------------------------------------------------------------------- leave_one_out_split


def test_leave_one_out_latest_timestamp():
    X = interactions()
    rng = np.random.default_rng(0)
    times = X.copy()
    times.data = rng.permutation(X.nnz).astype(np.float64) * 1e3  # distinct times
    train, test, negatives = leave_one_out_split(X, timestamps=times, random_state=0)
    assert negatives is None
    assert train.shape == test.shape == X.shape
    assert isinstance(train, sp.csr_matrix) and isinstance(test, sp.csr_matrix)
    assert triplets(train) | triplets(test) == triplets(X)
    assert not pairs(train) & pairs(test)
    n_u = row_counts(X)
    np.testing.assert_array_equal(row_counts(test), (n_u >= 2).astype(int))
    for u in np.flatnonzero(n_u >= 2):
        lo, hi = times.indptr[u], times.indptr[u + 1]
        latest = times.indices[lo + np.argmax(times.data[lo:hi])]
        assert test.indices[test.indptr[u]] == latest
    # the timestamps decide: the same test set for any seed
    other = leave_one_out_split(X, timestamps=times, random_state=1)[1]
    assert pairs(other) == pairs(test)


def test_leave_one_out_timestamps_exact_int64_and_other_format():
    base = 1_700_000_000_000_000_000  # nanoseconds: float64 cannot tell these apart
    X = sp.csr_matrix(np.ones((1, 3)))
    times = sp.csr_matrix((np.array([base + 1, base + 2, base], dtype=np.int64),
                           ([0, 0, 0], [0, 1, 2])), shape=(1, 3)).tocoo()
    for seed in range(5):
        _, test, _ = leave_one_out_split(X, timestamps=times, random_state=seed)
        assert test.indices.tolist() == [1]


def test_leave_one_out_ties_and_no_timestamps_are_random():
    X = sp.csr_matrix(np.ones((1, 4)))
    times = sp.csr_matrix(np.array([[5.0, 9.0, 1.0, 9.0]]))
    chosen = {leave_one_out_split(X, timestamps=times, random_state=s)[1].indices[0]
              for s in range(30)}
    assert chosen == {1, 3}
    chosen = {leave_one_out_split(X, random_state=s)[1].indices[0] for s in range(60)}
    assert chosen == {0, 1, 2, 3}
    Y = interactions()
    a = leave_one_out_split(Y, random_state=7)[1]
    b = leave_one_out_split(Y, random_state=np.random.RandomState(7))[1]
    assert pairs(a) == pairs(b) and pairs(a) != pairs(leave_one_out_split(Y, random_state=8)[1])


def test_leave_one_out_single_interaction_users_stay_in_train():
    X = sp.csr_array(np.array([[1, 0, 2, 0], [0, 3, 0, 0], [0, 0, 0, 0], [4, 4, 4, 0]],
                              dtype=np.float32))
    train, test, negatives = leave_one_out_split(X, n_negatives=1, random_state=0)
    assert isinstance(train, sp.csr_array) and train.dtype == np.float32
    assert row_counts(test).tolist() == [1, 0, 0, 1]
    assert row_counts(train).tolist() == [1, 1, 0, 2]
    assert negatives.shape == (2, 1) and negatives.dtype == np.int64
    assert negatives[0, 0] in (1, 3) and negatives[1, 0] == 3


def test_leave_one_out_negatives():
    X = interactions(n_users=60, n_items=300, density=0.1, seed=2)
    train, test, negatives = leave_one_out_split(X, n_negatives=99, random_state=0)
    users = np.flatnonzero(row_counts(test))
    np.testing.assert_array_equal(users, np.flatnonzero(row_counts(X) >= 2))
    assert negatives.shape == (len(users), 99) and negatives.dtype == np.int64
    dense = X.toarray() != 0
    for row, u in zip(negatives, users):
        assert len(np.unique(row)) == 99
        assert row.min() >= 0 and row.max() < X.shape[1]
        assert not dense[u, row].any()
    again = leave_one_out_split(X, n_negatives=99, random_state=0)[2]
    assert np.array_equal(again, negatives)
    assert not np.array_equal(leave_one_out_split(X, n_negatives=99, random_state=1)[2],
                              negatives)


def test_leave_one_out_negatives_are_uniform_and_exhaustive():
    # 2000 identical users with items 0, 3, 5, 9, 11 of 15: free items 10
    n_users, items = 2000, [0, 3, 5, 9, 11]
    X = sp.csr_matrix((np.ones(n_users * 5), (np.repeat(np.arange(n_users), 5),
                                              np.tile(items, n_users))), shape=(n_users, 15))
    free = np.setdiff1d(np.arange(15), items)
    _, _, negatives = leave_one_out_split(X, n_negatives=3, random_state=0)
    counts = np.bincount(negatives.ravel(), minlength=15)
    assert np.all(counts[items] == 0)
    # 600 expected per free item (sd ~ 20), in each of the 3 positions (200, sd ~ 13)
    assert np.all(np.abs(counts[free] - 600) < 100), counts
    for j in range(3):
        per_position = np.bincount(negatives[:, j], minlength=15)[free]
        assert np.all(np.abs(per_position - 200) < 70), per_position
    _, _, all_free = leave_one_out_split(X[:3], n_negatives=10, random_state=0)
    assert all(np.array_equal(np.sort(row), free) for row in all_free)


def test_leave_one_out_errors():
    X = interactions()
    with pytest.raises(TypeError, match="sparse interaction matrix"):
        leave_one_out_split(X.toarray())
    with pytest.raises(ValueError, match="more than once"):
        leave_one_out_split(with_duplicate(X))
    for bad in (0, -1, 1.5, True, "99"):
        with pytest.raises(ValueError, match="n_negatives must be a positive int"):
            leave_one_out_split(X, n_negatives=bad)
    too_many = X.shape[1] - int(row_counts(X).max()) + 1
    with pytest.raises(ValueError, match=f"n_negatives={too_many} but user"):
        leave_one_out_split(X, n_negatives=too_many)
    leave_one_out_split(X, n_negatives=too_many - 1, random_state=0)
    with pytest.raises(ValueError, match="no user of X has two interactions"):
        leave_one_out_split(sp.csr_matrix(np.eye(4)))


def test_leave_one_out_timestamps_must_match_the_pattern():
    X = interactions()
    times = X.copy()
    with pytest.raises(TypeError, match="timestamps must be a scipy sparse"):
        leave_one_out_split(X, timestamps=times.toarray())
    with pytest.raises(ValueError, match="timestamps has shape"):
        leave_one_out_split(X, timestamps=times[:, :-1])
    missing = times.tolil()
    r, c = X.nonzero()
    missing[r[0], c[0]] = 0
    missing = sp.csr_matrix(missing)
    missing.eliminate_zeros()
    with pytest.raises(ValueError, match=rf"X stores \({r[0]}, {c[0]}\) but timestamps"):
        leave_one_out_split(X, timestamps=missing)
    extra = times.tolil()
    free_r, free_c = np.argwhere(X.toarray() == 0)[0]
    extra[free_r, free_c] = 1.0
    with pytest.raises(ValueError, match="timestamps stores .* but X does not"):
        leave_one_out_split(X, timestamps=sp.csr_matrix(extra))
    with pytest.raises(ValueError, match="more than once"):
        leave_one_out_split(X, timestamps=with_duplicate(X))
    # a stored zero time is an entry: it matches X's entry
    zero_time = times.copy()
    zero_time.data[0] = 0.0
    for ts in (zero_time, zero_time.tocoo(), zero_time.tocsc()):
        train, test, _ = leave_one_out_split(X, timestamps=ts, random_state=0)
        assert test.nnz == int((row_counts(X) >= 2).sum())
