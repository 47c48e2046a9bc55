"""The top-N contract (RecommenderBase), EASE against a reference, popularity."""

import pickle

import joblib
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone

from sklearn_autorec import EASERecommender, PopularityRecommender


def interactions(seed=0, n_users=30, n_items=25, n=400):
    rng = np.random.default_rng(seed)
    return np.unique(rng.integers(0, [n_users, n_items], size=(n, 2)), axis=0)


def ease_reference(X, lam):
    """Column by column: item j regressed on the other items (ridge), float64 dense."""
    X = np.asarray(X, dtype=np.float64)
    n = X.shape[1]
    B = np.zeros((n, n))
    for j in range(n):
        others = [i for i in range(n) if i != j]
        A = X[:, others]
        B[others, j] = np.linalg.solve(A.T @ A + lam * np.eye(n - 1), A.T @ X[:, j])
    return B


# ----------------------------------------------------------------- contract
def test_fit_forms_agree_and_store_the_training_items():
    X = interactions()
    R = sp.csr_matrix((np.ones(len(X)), (X[:, 0], X[:, 1])))
    a = EASERecommender(alpha=3.0).fit(X)
    b = EASERecommender(alpha=3.0).fit(R)
    assert np.allclose(a.coef_, b.coef_)
    assert a.n_features_in_ == 2 and not hasattr(b, "n_features_in_")
    u = 4
    assert set(a.item_ids_[a.seen_indices_[a.seen_indptr_[u]:a.seen_indptr_[u + 1]]]) == \
        set(X[X[:, 0] == a.user_ids_[u], 1])


def test_string_ids():
    X = [["ann", "x"], ["ann", "y"], ["bob", "y"], ["bob", "z"], ["cy", "x"]]
    model = PopularityRecommender().fit(X)
    items, scores = model.recommend("cy", n=2)
    assert list(items) == ["y", "z"] and list(scores) == [2.0, 1.0]
    with pytest.raises(TypeError, match="string user ids"):
        model.recommend(1)


@pytest.mark.parametrize("X, y, match", [
    (np.array([[0, 1], [0, 1]]), None, "more than once"),
    (np.array([[0, 1], [1, 1]]), [1.0, -2.0], "weights must be >= 0"),
    (np.array([[0, 1], [1, 1]]), [1.0, np.nan], "finite"),
    (np.array([[0, 1], [1, 1]]), [1.0], "different lengths"),
    (np.zeros((0, 2), dtype=int), None, "at least one positive interaction"),
    (np.array([[0, 1, 2]]), None, "shape"),
])
def test_bad_training_input(X, y, match):
    with pytest.raises(ValueError, match=match):
        PopularityRecommender().fit(X, y)


def test_positive_threshold():
    X = np.array([[0, 0], [0, 1], [1, 1], [1, 2], [2, 2]])
    y = np.array([5.0, 2.0, 4.0, 4.5, 1.0])
    model = PopularityRecommender(positive_threshold=4).fit(X, y)
    assert model.n_below_threshold_ == 2
    assert list(model.user_ids_) == [0, 1]  # user 2 has no positive
    assert list(model.item_ids_) == [0, 1, 2]
    assert np.array_equal(model.item_popularity_, [1.0, 1.0, 1.0])  # weight 1 each
    # a rating below the threshold is not a training item: it can be recommended
    assert 1 in model.recommend(0, n=2)[0]
    with pytest.raises(ValueError, match="no ratings were given"):
        PopularityRecommender(positive_threshold=4).fit(X)
    with pytest.raises(ValueError, match="2 interactions were below"):
        PopularityRecommender(positive_threshold=6).fit(X[:2], y[:2])


# ---------------------------------------------------------------- recommend
def test_recommend_excludes_training_items_and_matches_predict():
    X = interactions()
    model = EASERecommender(alpha=2.0).fit(X)
    users = model.user_ids_[:5]
    items, scores = model.recommend(users, n=6)
    assert items.shape == scores.shape == (5, 6)
    for u, row, s in zip(users, items, scores):
        assert not set(row) & set(X[X[:, 0] == u, 1])
        assert np.all(np.diff(s) <= 0)
        pairs = np.column_stack([np.full(6, u), row])
        assert np.allclose(model.predict(pairs), s)
    all_items, _ = model.recommend(users[0], n=model.n_items_, exclude_seen=False)
    assert sorted(all_items) == sorted(model.item_ids_)


def test_recommend_errors():
    X = interactions()
    model = EASERecommender(alpha=2.0).fit(X)
    with pytest.raises(ValueError, match="recommend_new"):
        model.recommend([0, 999])
    with pytest.raises(ValueError, match="n must be a positive int"):
        model.recommend(0, n=0)
    with pytest.raises(ValueError, match="items of the model's .* not interacted"):
        model.recommend(0, n=model.n_items_)
    with pytest.raises(ValueError, match="without training interactions"):
        model.predict([[0, 999]])


def test_predict_matrix_form():
    X = interactions()
    R = sp.csr_matrix((np.ones(len(X)), (X[:, 0], X[:, 1])))
    model = EASERecommender(alpha=2.0).fit(R)
    query = sp.csr_matrix(([1.0, 1.0], ([0, 3], [2, 5])), shape=R.shape)
    out = model.predict(query)
    assert sp.issparse(out) and out.shape == R.shape
    assert np.allclose(out.data, model.predict([[0, 2], [3, 5]]))
    with pytest.raises(ValueError, match="columns"):
        model.predict(sp.csr_matrix((1, R.shape[1] + 1)))


def test_recommend_new_folds_in():
    X = interactions()
    model = EASERecommender(alpha=2.0).fit(X)
    u = model.user_ids_[3]
    own = X[X[:, 0] == u]
    users, items, scores = model.recommend_new(own, n=5)
    expected_items, expected_scores = model.recommend(u, n=5)
    assert list(users) == [u]
    assert np.array_equal(items[0], expected_items)
    assert np.allclose(scores[0], expected_scores)
    # a matrix of new users: rows are the users
    new = sp.csr_matrix(([1.0, 1.0, 1.0], ([0, 1, 1], [2, 3, 4])),
                        shape=(2, model.n_items_))
    users, items, _ = model.recommend_new(new, n=3)
    assert list(users) == [0, 1] and items.shape == (2, 3)
    assert 2 not in items[0] and not {3, 4} & set(items[1])


def test_recommend_new_errors():
    model = EASERecommender(alpha=2.0).fit(interactions())
    with pytest.raises(ValueError, match="items the model was not trained on"):
        model.recommend_new([[100, 1], [100, 999]])
    users, _, _ = model.recommend_new([[100, 1], [100, 999]], unknown_items="ignore")
    assert list(users) == [100]
    with pytest.raises(ValueError, match="nothing to fold in"):
        model.recommend_new(sp.csr_matrix((2, model.n_items_)))
    with pytest.raises(ValueError, match="unknown_items must be"):
        model.recommend_new([[100, 1]], unknown_items="drop")


def test_pickle_clone_and_params():
    model = EASERecommender(alpha=2.0, random_state=0).fit(interactions())
    again = pickle.loads(pickle.dumps(model))
    assert np.array_equal(again.recommend(0, n=3)[0], model.recommend(0, n=3)[0])
    assert clone(model).get_params() == model.get_params()
    assert not hasattr(clone(model), "coef_")


def test_similar_items():
    model = EASERecommender(alpha=2.0).fit(interactions())
    similar, sims = model.similar_items([0, 1], n=4)
    assert similar.shape == (2, 4) and not (similar == [[0], [1]]).any()
    assert np.all(np.diff(sims, axis=1) <= 1e-12)
    assert not hasattr(PopularityRecommender(), "similar_items")


# --------------------------------------------------------------------- EASE
@pytest.mark.parametrize("lam", [0.5, 20.0])
def test_ease_matches_the_columnwise_ridge_reference(lam):
    X = interactions()
    R = sp.csr_matrix((np.ones(len(X)), (X[:, 0], X[:, 1]))).toarray()
    model = EASERecommender(alpha=lam).fit(sp.csr_matrix(R))
    assert np.allclose(model.coef_, ease_reference(R, lam), atol=1e-10)
    assert np.allclose(np.diag(model.coef_), 0.0)
    assert np.allclose(model.predict(np.array([[0, 1]])), R[0] @ model.coef_[:, 1])


def test_ease_weights_are_the_matrix_values():
    X = interactions()
    w = np.random.default_rng(0).uniform(1, 5, len(X))
    R = sp.csr_matrix((w, (X[:, 0], X[:, 1])))
    model = EASERecommender(alpha=3.0).fit(X, w)
    assert np.allclose(model.coef_, ease_reference(R.toarray(), 3.0), atol=1e-10)


def test_ease_refuses_too_many_items_before_allocating():
    X = np.column_stack([np.zeros(5000, dtype=int), np.arange(5000)])
    with pytest.raises(MemoryError, match="three 5000 x 5000 .*0.6 GB.*max_memory_gb=0.1"):
        EASERecommender(alpha=1.0, max_memory_gb=0.1).fit(X)


def test_ease_auto_alpha_walks_to_a_validated_optimum():
    X = interactions(n_users=80, n_items=40, n=1500)
    model = EASERecommender(random_state=0).fit(X)
    path = model.alpha_path_
    scores = [p["ndcg@100"] for p in path]
    best = int(np.argmax(scores))
    # the walk stops at the first alpha that does not improve
    assert best == len(path) - 2 or (best == 0 and len(path) == 3)
    alphas = [p["alpha"] for p in path]
    # refined between the best alpha's two neighbours
    assert alphas[best] / 1.5 <= model.alpha_ <= 1.5 * alphas[best]
    again = EASERecommender(random_state=0).fit(X)
    assert again.alpha_ == model.alpha_


def test_ease_bad_params():
    with pytest.raises(ValueError, match="alpha"):
        EASERecommender(alpha=-1.0).fit(interactions())
    with pytest.raises(ValueError, match="alpha"):
        EASERecommender(alpha="best").fit(interactions())


def test_joblib_roundtrip(tmp_path):
    model = PopularityRecommender().fit(interactions())
    joblib.dump(model, tmp_path / "m.joblib")
    again = joblib.load(tmp_path / "m.joblib")
    assert np.array_equal(again.item_popularity_, model.item_popularity_)


def test_new_user_ids_need_not_be_of_the_training_users_type():
    model = EASERecommender(alpha=2.0).fit(interactions())  # integer user ids
    users, items, _ = model.recommend_new([["new", 1], ["new", 2]], n=2)
    assert list(users) == ["new"] and items.shape == (1, 2)
