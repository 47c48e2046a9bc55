"""The contract every top-N recommender keeps, run on each of them.

Small, fast settings per estimator; each test states one rule of
``docs/topn.md`` and checks it for every recommender.
"""

import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

import sklearn_autorec
from sklearn_autorec.metrics import make_ranking_scorer
from sklearn_autorec.model_selection import PerUserHoldout

#: estimator name -> fast constructor parameters (a few epochs, small sizes)
FAST = {
    "PopularityRecommender": {},
    "EASERecommender": {"alpha": 5.0},
    "ImplicitMFRecommender": {"n_components": 4, "alpha": 1.0, "max_iter": 4,
                              "random_state": 0},
    "CDAERecommender": {"n_components": 8, "max_iter": 5, "batch_size": 16,
                        "random_state": 0},
    "MultVAERecommender": {"hidden_layer_sizes": (16, 4), "max_iter": 15, "batch_size": 16,
                           "learning_rate": 1e-2, "random_state": 0},
    "MultDAERecommender": {"hidden_layer_sizes": (16, 4), "max_iter": 15, "batch_size": 16,
                           "learning_rate": 1e-2, "random_state": 0},
    "NCFRecommender": {"n_components": 4, "hidden_layer_sizes": (8, 4), "max_iter": 8,
                       "batch_size": 64, "learning_rate_init": 1e-2, "random_state": 0},
}
#: models with one learned vector per training user: no fold-in (recommend_new raises)
NO_FOLD_IN = {"NCFRecommender"}
#: a parameter and two values for the GridSearchCV test
GRIDS = {
    "PopularityRecommender": None,
    "EASERecommender": {"alpha": [1.0, 50.0]},
    "ImplicitMFRecommender": {"alpha": [0.1, 10.0]},
    "CDAERecommender": {"corruption": [0.2, 0.5]},
    "MultVAERecommender": {"beta": [0.1, 0.2]},
    "MultDAERecommender": {"dropout": [0.2, 0.5]},
    "NCFRecommender": {"model": ["gmf", "neumf"]},
}


def make(name, **extra):
    return getattr(sklearn_autorec, name)(**{**FAST[name], **extra})


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    # a low-rank preference structure, so the models have something to learn
    n_users, n_items = 60, 40
    taste = rng.normal(size=(n_users, 3)) @ rng.normal(size=(3, n_items))
    p = 1 / (1 + np.exp(-(taste - 1.5)))
    dense = rng.random((n_users, n_items)) < p
    dense[np.arange(n_users), rng.integers(0, n_items, n_users)] = True
    dense[:, :2] = True  # every item... at least two popular ones
    rows, cols = np.nonzero(dense)
    return np.column_stack([rows, cols])


ALL = sorted(FAST)


@pytest.mark.parametrize("name", ALL)
def test_fit_returns_self_and_the_two_forms_agree(name, data):
    model = make(name)
    assert model.fit(data) is model
    R = sp.csr_matrix((np.ones(len(data)), (data[:, 0], data[:, 1])))
    other = make(name).fit(R)
    users = model.user_ids_[:5]
    assert np.allclose(model.predict(np.column_stack([users, users % 7])),
                       other.predict(np.column_stack([users, users % 7])), atol=1e-6)


@pytest.mark.parametrize("name", ALL)
def test_recommend_excludes_training_items_and_agrees_with_predict(name, data):
    model = make(name).fit(data)
    users = model.user_ids_[:4]
    items, scores = model.recommend(users, n=5)
    for u, row, s in zip(users, items, scores):
        assert not set(row) & set(data[data[:, 0] == u, 1])
        assert np.all(np.diff(s) <= 1e-12)
        assert np.allclose(model.predict(np.column_stack([np.full(5, u), row])), s,
                           atol=1e-6)
    with pytest.raises(ValueError, match="items of the model's"):
        model.recommend(users[0], n=model.n_items_)


@pytest.mark.parametrize("name", ALL)
def test_recommend_new_accepts_unseen_users(name, data):
    model = make(name).fit(data)
    if name in NO_FOLD_IN:
        with pytest.raises(AttributeError, match="recommend_new"):
            model.recommend_new([[1000, 3]])
        return
    new = np.array([[1000, 3], [1000, 5], [1001, 7]])
    users, items, scores = model.recommend_new(new, n=4)
    assert list(users) == [1000, 1001] and items.shape == (2, 4)
    assert not {3, 5} & set(items[0]) and 7 not in items[1]
    assert np.isfinite(scores).all()


@pytest.mark.parametrize("name", ALL)
def test_pickled_model_recommends_without_torch(name, data, tmp_path):
    model = make(name).fit(data)
    path = tmp_path / "model.pkl"
    with open(path, "wb") as f:
        pickle.dump(model, f)
    code = (
        "import pickle, sys\n"
        f"m = pickle.load(open({str(path)!r}, 'rb'))\n"
        "items, scores = m.recommend([0, 1], n=3)\n"
        + ("" if name in NO_FOLD_IN else "m.recommend_new([[99, 1]], n=3)\n") +
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "print(items.tolist())\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, check=True).stdout
    assert out.strip() == str(model.recommend([0, 1], n=3)[0].tolist())


@pytest.mark.parametrize("name", ALL)
def test_clone_and_reproducibility(name, data):
    model = make(name)
    assert clone(model).get_params() == model.get_params()
    # FAST seeds every randomised model with random_state=0
    a = make(name).fit(data).recommend([0, 1], n=5)
    b = make(name).fit(data).recommend([0, 1], n=5)
    assert np.array_equal(a[0], b[0]) and np.allclose(a[1], b[1])


@pytest.mark.parametrize("name", [n for n in ALL if GRIDS[n]])
def test_grid_search_with_a_ranking_scorer(name, data):
    search = GridSearchCV(make(name), GRIDS[name], cv=PerUserHoldout(n_splits=2, random_state=0),
                          scoring=make_ranking_scorer("ndcg", k=10)).fit(data)
    assert set(search.best_params_) == set(GRIDS[name])
    assert 0 <= search.best_score_ <= 1
    # default scoring: score() = NDCG@100
    GridSearchCV(make(name), GRIDS[name], cv=PerUserHoldout(n_splits=2, random_state=0)).fit(data)


@pytest.mark.parametrize("name", ALL)
def test_bad_input_is_an_error(name, data):
    with pytest.raises(ValueError, match="more than once"):
        make(name).fit(np.vstack([data, data[:1]]))
    with pytest.raises(ValueError, match=">= 0"):
        make(name).fit(data, -np.ones(len(data)))
    with pytest.raises(ValueError, match="shape"):
        make(name).fit(np.zeros((3, 3)))


@pytest.mark.parametrize("name", ALL)
def test_learns_better_than_chance(name, data):
    """The held-out items rank above random (NDCG@10 of a random ranking is ~0.2 here)."""
    if name == "PopularityRecommender":
        pytest.skip("the baseline itself")
    cv = PerUserHoldout(n_splits=1, random_state=0)
    train, test = next(cv.split(data))
    model = make(name).fit(data[train])
    pop = make("PopularityRecommender").fit(data[train])
    scorer = make_ranking_scorer("ndcg", k=10)
    assert scorer(model, data[test]) > 0.9 * scorer(pop, data[test])
