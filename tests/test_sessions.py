"""The session contract, its baselines, the time split and session_report."""

import pickle

import numpy as np
import pandas as pd
import pytest

from sklearn_autorec import ItemTransitionRecommender, SessionPopularityRecommender
from sklearn_autorec._sessions import parse_sessions
from sklearn_autorec.metrics import make_session_scorer, session_report
from sklearn_autorec.model_selection import SessionTimeSplit, session_time_split


def test_the_three_forms_agree():
    seqs = [[3, 1, 2], [2, 2], [5, 3]]
    rows = np.array([[10, 3], [10, 1], [11, 2], [10, 2], [11, 2], [12, 5], [12, 3]])
    frame = pd.DataFrame(rows, columns=["session_id", "item_id"])
    for form in (seqs, rows, frame):
        parsed = parse_sessions(form)
        assert [list(parsed.items[a:b]) for a, b in
                zip(parsed.offsets[:-1], parsed.offsets[1:])] == seqs


def test_timestamps_order_the_clicks_whatever_the_row_order():
    rows = np.array([[1, 7, 30.0], [2, 8, 5.0], [1, 9, 10.0], [1, 6, 10.0], [2, 5, 1.0]])
    parsed = parse_sessions(rows)
    assert list(parsed.session_ids) == [1, 2]
    assert list(parsed.items) == [9, 6, 7, 5, 8]  # equal times keep their row order
    assert list(parsed.times) == [10.0, 10.0, 30.0, 1.0, 5.0]


@pytest.mark.parametrize("X, match", [
    (pd.DataFrame({"session": [1], "item_id": [2]}), "session_id"),
    (np.array([[1, 2, np.nan]]), "finite"),
    (np.zeros((3, 4)), "shape"),
    ([[1, [2]]], "item"),
])
def test_bad_sessions(X, match):
    with pytest.raises((ValueError, TypeError), match=match):
        parse_sessions(X)


def test_single_click_sessions_are_left_out_with_a_warning():
    with pytest.warns(UserWarning, match="1 of the 3 sessions have a single click"):
        model = SessionPopularityRecommender().fit([[1, 2], [3], [2, 4]])
    assert model.n_short_sessions_ == 1 and 3 not in model.item_ids_
    with pytest.raises(ValueError, match="at least one session of two"):
        with pytest.warns(UserWarning):
            SessionPopularityRecommender().fit([[1], [2]])


def transition_reference(train, prefix):
    """Counts of the items following the prefix's last known item, by a loop."""
    items = sorted({i for s in train for i in s})
    counts = {i: 0.0 for i in items}
    pop = {i: sum(s.count(i) for s in train) for i in items}
    total = sum(pop.values())
    last = [i for i in prefix if i in counts][-1]
    for s in train:
        for a, b in zip(s[:-1], s[1:]):
            if a == last:
                counts[b] += 1
    return np.array([counts[i] + pop[i] / (1 + total) for i in items])


def test_item_transitions_against_a_loop():
    rng = np.random.default_rng(0)
    train = [list(rng.integers(0, 12, rng.integers(2, 7))) for _ in range(40)]
    model = ItemTransitionRecommender().fit(train)
    prefixes = [[1, 2], [5], [3, 99, 4], [7, 7]]
    scores = model._score_prefixes(model._encode_prefixes(prefixes, "test"))
    for row, prefix in zip(scores, prefixes):
        assert np.allclose(row, transition_reference(train, prefix))
    items, top = model.recommend(prefixes, n=3)
    assert items.shape == (4, 3) and np.all(np.diff(top, axis=1) <= 0)


def test_recommend_rules():
    model = ItemTransitionRecommender().fit([[1, 2, 3], [1, 2], [2, 3], [3, 1]])
    with pytest.raises(ValueError, match="no item the model was trained on"):
        model.recommend([[1], [42]])
    with pytest.raises(ValueError, match="list of item sequences"):
        model.recommend([1, 2])
    with pytest.raises(ValueError, match="n=4 but the model has only 3"):
        model.recommend([[1]], n=4)
    items, _ = model.recommend([[1, 2]], n=1, exclude_seen=True)
    assert items[0, 0] == 3
    again = pickle.loads(pickle.dumps(model))
    assert np.array_equal(again.recommend([[2]], n=2)[0], model.recommend([[2]], n=2)[0])


def report_reference(model, sessions, k):
    """Every position of every session, scored one prefix at a time."""
    known = set(model.item_ids_.tolist())
    hits = rr = n = 0
    for s in sessions:
        for t in range(1, len(s)):
            n += 1
            prefix = [i for i in s[:t] if i in known]
            if not prefix or s[t] not in known:
                continue
            scores = model._score_prefixes(model._encode_prefixes([prefix], "ref"))[0]
            target = scores[list(model.item_ids_).index(s[t])]
            rank = int(np.sum(scores >= target))
            hits += rank <= k
            rr += 1 / rank if rank <= k else 0
    return hits / n, rr / n, n


def test_session_report_against_one_prefix_at_a_time():
    rng = np.random.default_rng(1)
    train = [list(rng.integers(0, 15, rng.integers(2, 8))) for _ in range(60)]
    test = [list(rng.integers(0, 18, rng.integers(1, 6))) for _ in range(25)]  # 15-17 unknown
    model = ItemTransitionRecommender().fit(train)
    for k in (1, 5):
        report = session_report(model, test, k=k)
        recall, mrr, n = report_reference(model, test, k)
        assert report["n_targets"] == n
        assert report[f"recall@{k}"] == pytest.approx(recall)
        assert report[f"mrr@{k}"] == pytest.approx(mrr)
    assert model.score(test) == pytest.approx(session_report(model, test)["recall@20"])
    with pytest.raises(ValueError, match="'recall' and 'mrr'"):
        session_report(model, test, metrics=("ndcg",))


def test_popularity_ties_score_nothing_for_a_constant_model():
    model = SessionPopularityRecommender().fit([[1, 2], [2, 1]])  # equal popularity
    assert session_report(model, [[1, 2]], k=1)["recall@1"] == 0.0


def test_session_time_split():
    day = 86400.0
    clicks = pd.DataFrame({
        "session_id": [1, 1, 2, 2, 3, 3, 3, 4, 4],
        "item_id": [10, 11, 10, 12, 10, 13, 11, 13, 14],
        "timestamp": [0, 60, day, day + 1, 3 * day, 3 * day + 1, 3 * day + 2,
                      2.5 * day, 3 * day + 5],
    })
    train, test, info = session_time_split(clicks, test_days=1)
    assert sorted(train.session_id.unique()) == [1, 2]
    # session 3: item 13 has no training click, dropped; session 4 left with one click
    assert list(test.item_id) == [10, 11]
    assert info == {"n_dropped_clicks": 3, "n_dropped_sessions": 1}
    _, kept, _ = session_time_split(clicks, test_days=1, unseen_items="keep")
    assert len(kept) == 5
    with pytest.raises(ValueError, match="needs timestamps"):
        session_time_split(clicks[["session_id", "item_id"]])
    with pytest.raises(ValueError, match="every session"):
        session_time_split(clicks, test_days=10)


def _timed_clicks():
    day = 86400.0
    return pd.DataFrame({
        "session_id": [1, 1, 2, 2, 3, 3, 3, 4, 4],
        "item_id": [10, 11, 10, 12, 10, 13, 11, 13, 14],
        "timestamp": [0, 60, day, day + 1, 3 * day, 3 * day + 1, 3 * day + 2,
                      2.5 * day, 3 * day + 5],
    })


def test_session_time_split_splitter_is_the_function_on_rows():
    clicks = _timed_clicks().sample(frac=1.0, random_state=0)  # row order must not matter
    (train_rows, test_rows), = SessionTimeSplit(test_days=1).split(clicks)
    train, test, _ = session_time_split(clicks, test_days=1)
    assert sorted(clicks.iloc[train_rows].session_id.unique()) == [1, 2]
    parsed = parse_sessions(clicks.iloc[test_rows])
    assert list(parsed.items) == list(test.item_id)
    assert len(train_rows) == len(train)
    assert SessionTimeSplit(n_splits=2).get_n_splits() == 2


def test_session_time_split_folds_walk_back_without_the_future():
    day = 86400.0
    # one two-click session ending each day, on days 0..5
    clicks = np.array([(s, i, s * day + t) for s in range(6) for t, i in enumerate((1, 2))])
    folds = list(SessionTimeSplit(n_splits=3, test_days=0.9).split(clicks))
    assert len(folds) == 3
    for j, (train, test) in enumerate(folds):  # oldest first: tests days 3, 4, 5
        test_sessions = set(clicks[test, 0])
        assert test_sessions == {3.0 + j}
        assert set(clicks[train, 0]) == set(range(3 + j))  # never a later session
    with pytest.raises(ValueError, match="no training session"):
        list(SessionTimeSplit(n_splits=6, test_days=0.9).split(clicks))


@pytest.mark.parametrize("bad, match", [
    (dict(n_splits=0), "n_splits must be a positive int"),
    (dict(test_days=-1), "test_days must be a positive number"),
    (dict(unseen_items="ignore"), "unseen_items must be"),
])
def test_session_time_split_bad_parameters(bad, match):
    with pytest.raises(ValueError, match=match):
        list(SessionTimeSplit(**bad).split(_timed_clicks()))


def test_session_time_split_needs_timed_clicks():
    with pytest.raises(ValueError, match="needs timestamps"):
        list(SessionTimeSplit().split(_timed_clicks()[["session_id", "item_id"]]))
    with pytest.raises(ValueError, match="not a list of sequences"):
        list(SessionTimeSplit().split([[1, 2], [2, 3]]))


def test_grid_search_on_a_time_split_with_a_session_scorer():
    from sklearn.model_selection import GridSearchCV, cross_validate
    from sklearn.pipeline import Pipeline

    rng = np.random.default_rng(0)
    n_items, rows = 12, []
    for s in range(120):  # a deterministic chain i -> i + 1: transitions are perfect
        start = rng.integers(n_items)
        rows += [(s, (start + t) % n_items, 600.0 * s + t) for t in range(4)]
    clicks = pd.DataFrame(rows, columns=["session_id", "item_id", "timestamp"])
    cv = SessionTimeSplit(n_splits=2, test_days=0.1)
    models = [SessionPopularityRecommender(), ItemTransitionRecommender()]
    pipe = Pipeline([("model", models[0])])
    search = GridSearchCV(pipe, {"model": models}, cv=cv,
                          scoring=make_session_scorer("mrr", k=3)).fit(clicks)
    assert isinstance(search.best_params_["model"], ItemTransitionRecommender)
    assert search.best_score_ == pytest.approx(1.0)
    scores = cross_validate(ItemTransitionRecommender(), clicks, cv=cv,
                            scoring={"recall": make_session_scorer("recall", 1)})
    assert np.allclose(scores["test_recall"], 1.0)
    with pytest.raises(ValueError, match="'recall' or 'mrr'"):
        make_session_scorer("ndcg")
