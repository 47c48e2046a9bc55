"""recommend() and similar_items() of every estimator, against brute force.

The reference ranks, for a few users, all items by ``predict`` on every
(user, item) pair of the small contract data; ``similar_items`` is checked
against the cosine similarities of the item vectors computed densely here.
"""

import copy

import joblib
import numpy as np
import pytest
from sklearn.base import clone

from sklearn_autorec import AutoRecRegressor, BaselineRegressor, BiasedMFRegressor
from sklearn_autorec import _base
from sklearn_autorec._base import RatingRegressorBase

from contract import as_pairs, small_ratings

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

ESTIMATORS = {
    "baseline": BaselineRegressor(),
    "mf": BiasedMFRegressor(n_components=3, max_iter=5, random_state=0),
    "autorec-i": AutoRecRegressor(hidden_layer_sizes=(8,), max_iter=5, random_state=0),
    "autorec-u": AutoRecRegressor(hidden_layer_sizes=(8,), max_iter=5, item_based=False,
                                  random_state=0),
}
MODEL_NAMES = ["mf", "autorec-i", "autorec-u"]  # the estimators with item vectors
TOL = 1e-5  # AutoRec predicts in float32


@pytest.fixture(scope="module")
def data():
    # ids shifted so that encoded and raw ids differ
    X, y = as_pairs(small_ratings(n_users=40, n_items=30, density=0.3, seed=1))
    return X + np.array([100, 500]), y


@pytest.fixture(scope="module")
def fitted(data):
    X, y = data
    return {name: clone(est).fit(X, y) for name, est in ESTIMATORS.items()}


def seen_items(X, user):
    return set(X[X[:, 0] == user, 1].tolist())


def brute_force(model, user):
    """predict() of ``user`` with every item of the model."""
    items = model.item_ids_
    return items, model.predict(np.column_stack([np.full(len(items), user), items]))


def check_top_n(model, X, user, items, scores, n, exclude_seen=True):
    """items/scores are a correct top-n of brute force (ties aside)."""
    assert items.shape == scores.shape == (n,)
    assert len(set(items.tolist())) == n
    all_items, ref = brute_force(model, user)
    # the scores are the predictions of predict()
    np.testing.assert_allclose(scores, ref[np.searchsorted(all_items, items)], atol=TOL)
    assert np.all(np.diff(scores) <= TOL), "scores must be non-increasing"
    candidates = np.ones(len(all_items), dtype=bool)
    if exclude_seen:
        seen = seen_items(X, user)
        assert not seen & set(items.tolist()), "a seen item was recommended"
        candidates &= ~np.isin(all_items, list(seen))
    rest = candidates & ~np.isin(all_items, items)
    if rest.any():
        # no candidate left out has a higher prediction than a returned one
        assert scores.min() >= ref[rest].max() - TOL
        # without a tie at the cut, the top-n sets are equal
        best = np.sort(ref[candidates])[::-1]
        if best[n - 1] - best[n] > 1e-4:
            assert set(items.tolist()) == set(all_items[candidates][
                np.argsort(-ref[candidates], kind="stable")[:n]].tolist())


def assert_same_top_n(items, scores, ref_items, ref_scores, rtol=1e-12, atol=1e-12):
    """A top-n computed by another code path equals the reference up to rounding.

    Two code paths (e.g. one matrix product per block of users instead of one
    for all users) may round differently in the last bits: BLAS picks its
    kernel by matrix shape and CPU (``OPENBLAS_CORETYPE``).  So the scores are
    compared within ``rtol``/``atol``, position by position (both rows are
    non-increasing), and the items exactly, in order -- except within a run of
    reference scores tied within that same tolerance, whose order rounding may
    legitimately flip: such a run is compared as a set.  ``ref_items`` and
    ``ref_scores`` are the reference top-(n + 1), one column more than
    ``items``, so that a tie across the cut is seen too: the items returned of
    a run straddling the cut must be among that run's reference items.

    Returns the number of returned positions that lie in a tied run, so that a
    caller can check the exact-order comparison was not vacuous.
    """
    items, scores = np.atleast_2d(items), np.atleast_2d(scores)
    ref_items, ref_scores = np.atleast_2d(ref_items), np.atleast_2d(ref_scores)
    n = items.shape[1]
    assert items.shape == scores.shape
    assert ref_items.shape == ref_scores.shape == (len(items), n + 1)
    np.testing.assert_allclose(scores, ref_scores[:, :n], rtol=rtol, atol=atol)
    n_tied = 0
    for row in range(len(items)):
        s = ref_scores[row]
        tied = np.abs(np.diff(s)) <= atol + rtol * np.abs(s[1:])
        run = np.concatenate([[0], np.cumsum(~tied)])  # run id of each position
        for r in np.unique(run[:n]):
            pos = np.flatnonzero(run == r)
            got = items[row, pos[pos < n]].tolist()
            want = ref_items[row, pos].tolist()
            if len(pos) == 1:  # no tie: same item at the same position
                assert got == want, f"row {row}, position {pos[0]}: {got} != {want}"
                continue
            n_tied += int((pos < n).sum())
            if pos[-1] < n:
                assert set(got) == set(want), f"row {row}, tied run {pos}: {got} vs {want}"
            else:
                assert set(got) <= set(want), f"row {row}, tie at the cut: {got} vs {want}"
    return n_tied


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_recommend_matches_brute_force(fitted, data, name):
    X, _ = data
    model = fitted[name]
    users = model.user_ids_[[0, 3, 7, 20, 39]]
    items, scores = model.recommend(users, n=5)
    assert items.shape == scores.shape == (5, 5)
    assert items.dtype == model.item_ids_.dtype and scores.dtype == np.float64
    for row, user in enumerate(users):
        check_top_n(model, X, user, items[row], scores[row], 5)


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_recommend_include_seen(fitted, data, name):
    X, _ = data
    model = fitted[name]
    users = model.user_ids_[:4]
    items, scores = model.recommend(users, n=8, exclude_seen=False)
    for row, user in enumerate(users):
        check_top_n(model, X, user, items[row], scores[row], 8, exclude_seen=False)
    # every item may be asked for when nothing is excluded
    items, scores = model.recommend(users[0], n=model.n_items_, exclude_seen=False)
    assert sorted(items.tolist()) == model.item_ids_.tolist()


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_score_items_hook_equals_generic_version(fitted, name):
    # each estimator's fast _score_items == the base's pairing of predict_encoded
    model = fitted[name]
    users = np.array([0, 5, 11])
    fast = model._score_items(users)
    generic = RatingRegressorBase._score_items(model, users)
    assert fast.shape == (3, model.n_items_)
    np.testing.assert_allclose(fast, generic, rtol=1e-6, atol=1e-6)


def test_recommend_blocks_give_the_same_result(fitted, monkeypatch):
    # Unclipped, so that the compared scores are the ones items are ranked by.
    model = copy.deepcopy(fitted["mf"]).set_params(clip=False)
    users = model.user_ids_
    expected = model.recommend(users, n=5)  # top-5: to see ties at the top-4 cut
    calls = []
    score_items = type(model)._score_items

    def spy(self, block):
        calls.append(len(block))
        return score_items(self, block)

    monkeypatch.setattr(_base, "_SCORE_BLOCK", 3 * model.n_items_)
    monkeypatch.setattr(type(model), "_score_items", spy)
    items, scores = model.recommend(users, n=4)
    # A (3, k) @ (k, n_items) product per block instead of one (40, k) one: the
    # same floats up to the last bits, the same items in the same order but
    # for ties within that rounding.
    n_tied = assert_same_top_n(items, scores, *expected)
    assert n_tied <= items.size // 10  # mostly strictly ranked: the order was checked
    # users are scored three at a time, never all users x all items at once:
    # memory O(n_items * 3)
    assert max(calls) == 3 and sum(calls) == len(users)


def test_seen_items_are_stored_at_fit(data):
    X, y = data
    model = BaselineRegressor().fit(X, y)
    for u, user in enumerate(model.user_ids_):
        stored = model.seen_indices_[model.seen_indptr_[u]:model.seen_indptr_[u + 1]]
        assert model.item_ids_[stored].tolist() == sorted(seen_items(X, user))
    assert model.seen_indptr_[-1] == len(y)
    assert len(model.seen_indptr_) == model.n_users_ + 1


def test_recommend_after_fit_on_a_matrix():
    R = small_ratings(n_users=20, n_items=15, seed=2)
    model = BiasedMFRegressor(n_components=2, max_iter=5, random_state=0).fit(R)
    X, _ = as_pairs(R)
    items, scores = model.recommend([0, 4], n=3)
    for row, user in enumerate([0, 4]):
        check_top_n(model, X, user, items[row], scores[row], 3)
    # the seen items are the stored entries of the user's row
    assert not set(items[0].tolist()) & set(R[0].indices.tolist())


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_recommend_single_user_and_pickle(fitted, name, tmp_path):
    model = fitted[name]
    user = model.user_ids_[2]
    items, scores = model.recommend(user, n=3)
    assert items.shape == scores.shape == (3,)
    rows = model.recommend([user], n=3)
    np.testing.assert_array_equal(rows[0][0], items)
    joblib.dump(model, tmp_path / "m.joblib")
    loaded = joblib.load(tmp_path / "m.joblib")
    np.testing.assert_array_equal(loaded.recommend(user, n=3)[0], items)
    np.testing.assert_array_equal(loaded.recommend(user, n=3)[1], scores)


@pytest.mark.parametrize("name", list(ESTIMATORS))
@pytest.mark.parametrize("unknown", ["baseline", "nan", 3.0])
def test_unknown_user_gets_the_baseline_ranking(fitted, name, unknown):
    model = copy.deepcopy(fitted[name]).set_params(unknown=unknown)
    known = model.user_ids_[0]
    items, scores = model.recommend([known, 9999, 8888], n=4)
    baseline = np.clip(model.global_mean_ + model.item_bias_,
                       model.rating_min_, model.rating_max_)
    order = np.argsort(-(model.global_mean_ + model.item_bias_), kind="stable")[:4]
    for row in (1, 2):
        np.testing.assert_array_equal(items[row], model.item_ids_[order])
        np.testing.assert_allclose(scores[row], baseline[order])
    # the baseline scores are what predict gives with unknown="baseline"
    ref = copy.deepcopy(model).set_params(unknown="baseline")
    np.testing.assert_allclose(
        ref.predict(np.column_stack([np.full(4, 9999), items[1]])), scores[1])
    # the known user is unaffected by the unknown ones
    np.testing.assert_array_equal(items[0], fitted[name].recommend(known, n=4)[0])


def test_unknown_user_raises_with_unknown_raise(fitted):
    model = copy.deepcopy(fitted["mf"]).set_params(unknown="raise")
    with pytest.raises(ValueError, match=r"1 of the 2 users have no training ratings "
                                         r"\(first: user 9999\)"):
        model.recommend([model.user_ids_[0], 9999], n=3)


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_recommend_n_errors(fitted, data, name):
    X, _ = data
    model = fitted[name]
    with pytest.raises(ValueError, match="only 30 items"):
        model.recommend(model.user_ids_[0], n=31, exclude_seen=False)
    busiest = model.user_ids_[np.argmax(np.diff(model.seen_indptr_))]
    n_unseen = model.n_items_ - len(seen_items(X, busiest))
    with pytest.raises(ValueError, match=rf"user {busiest} has only {n_unseen} unrated"):
        model.recommend([model.user_ids_[0], busiest], n=n_unseen + 1)
    items, _ = model.recommend(busiest, n=n_unseen)  # exactly all candidates
    assert set(items.tolist()) == set(model.item_ids_.tolist()) - seen_items(X, busiest)
    for bad in (0, -1, 2.5, True, "3"):
        with pytest.raises(ValueError, match="n must be a positive int"):
            model.recommend(model.user_ids_[0], n=bad)


def test_recommend_and_similar_items_with_string_ids(data):
    X, y = data
    Xs = np.column_stack([[f"u{v:04d}" for v in X[:, 0]], [f"i{v:04d}" for v in X[:, 1]]])
    model = BiasedMFRegressor(n_components=3, max_iter=5, random_state=0).fit(Xs, y)
    ints = BiasedMFRegressor(n_components=3, max_iter=5, random_state=0).fit(X, y)
    items, scores = model.recommend(["u0100", "u0110"], n=4)
    assert items.dtype.kind == "U" and items[0, 0].startswith("i")
    expected, expected_scores = ints.recommend([100, 110], n=4)
    np.testing.assert_array_equal(items, np.vectorize(lambda v: f"i{v:04d}")(expected))
    np.testing.assert_allclose(scores, expected_scores)
    sim, _ = model.similar_items("i0500", n=3)
    np.testing.assert_array_equal(
        sim, np.vectorize(lambda v: f"i{v:04d}")(ints.similar_items(500, n=3)[0]))
    with pytest.raises(TypeError, match="string user ids"):
        model.recommend([100], n=2)
    with pytest.raises(TypeError, match="integer user ids"):
        ints.recommend(["u0100"], n=2)


def test_recommend_not_fitted():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        BiasedMFRegressor().recommend([1])
    with pytest.raises(NotFittedError):
        BiasedMFRegressor().similar_items([1])


# ------------------------------------------------------------- similar_items
def item_vectors(model):
    if isinstance(model, BiasedMFRegressor):
        return model.item_factors_
    return model.codes_ if model.item_based else model.coefs_[-1].T


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_similar_items_matches_brute_force(fitted, name):
    model = fitted[name]
    V = np.asarray(item_vectors(model), dtype=np.float64)
    assert V.shape[0] == model.n_items_
    unit = V / np.linalg.norm(V, axis=1, keepdims=True)
    cos = unit @ unit.T
    queries = model.item_ids_[[0, 4, 29]]
    similar, sims = model.similar_items(queries, n=6)
    assert similar.shape == sims.shape == (3, 6)
    for row, q in enumerate([0, 4, 29]):
        assert model.item_ids_[q] not in similar[row]
        pos = np.searchsorted(model.item_ids_, similar[row])
        np.testing.assert_allclose(sims[row], cos[q, pos], atol=1e-9)
        assert np.all(np.diff(sims[row]) <= 1e-12)
        others = np.delete(np.arange(model.n_items_), np.r_[q, pos])
        assert sims[row].min() >= cos[q, others].max() - 1e-9
    # one query alone: a (1, k) @ (k, n_items) product instead of a (3, k) one,
    # equal up to rounding (ties within it aside, the same items in the same order)
    single, single_sims = model.similar_items(queries[1], n=6)
    ref_similar, ref_sims = model.similar_items(queries, n=7)  # 7: ties at the cut
    assert assert_same_top_n(single, single_sims, ref_similar[1], ref_sims[1]) <= 2


def test_similar_items_finds_identical_items():
    # two items with the same factors (up to scale) are each other's best match
    model = BiasedMFRegressor(n_components=2, max_iter=5, random_state=0).fit(
        small_ratings(n_users=20, n_items=10, seed=3))
    model.item_factors_ = model.item_factors_.copy()
    model.item_factors_[7] = 2.5 * model.item_factors_[2]
    model.item_factors_[5] = 0.0  # a zero vector: similarity 0, no division by zero
    similar, sims = model.similar_items([2, 5], n=9)
    assert similar[0, 0] == 7 and sims[0, 0] == pytest.approx(1.0)
    np.testing.assert_array_equal(sims[1], 0.0)
    assert np.all(np.isfinite(sims))


def test_similar_items_errors(fitted):
    model = fitted["mf"]
    with pytest.raises(ValueError, match="Item 12345 has no training ratings"):
        model.similar_items([model.item_ids_[0], 12345])
    with pytest.raises(ValueError, match="only 29 other items"):
        model.similar_items(model.item_ids_[0], n=30)
    similar, _ = model.similar_items(model.item_ids_[0], n=29)  # every other item
    assert sorted(similar.tolist()) == model.item_ids_[1:].tolist()


def test_baseline_has_no_similar_items(fitted):
    model = fitted["baseline"]
    assert not hasattr(model, "similar_items")
    assert not hasattr(BaselineRegressor(), "similar_items")
    with pytest.raises(AttributeError, match="similar_items") as info:
        model.similar_items([500])
    assert "no item representation" in str(info.value.__cause__)
    for name in MODEL_NAMES:
        assert hasattr(fitted[name], "similar_items")
