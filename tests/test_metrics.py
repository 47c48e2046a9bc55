"""Ranking metrics against a loop-by-loop reference of their written definitions."""

import math

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.model_selection import GridSearchCV, KFold

from sklearn_autorec import EASERecommender, PopularityRecommender
from sklearn_autorec import metrics as M


def reference(name, relevant, ranked, k, n_items=None):
    """The module docstring's definitions, one user at a time, in plain Python."""
    if name == "coverage":
        return len({i for row in ranked for i in row[:k] if i >= 0}) / n_items
    values = []
    for rel, rank in zip(relevant, ranked):
        rel = set(rel)
        if not rel:
            continue
        hits = [1.0 if i in rel else 0.0 for i in rank[:k]]
        cap = min(k, len(rel))
        if name == "recall":
            values.append(sum(hits) / cap)
        elif name == "plain_recall":
            values.append(sum(hits) / len(rel))
        elif name == "precision":
            values.append(sum(hits) / k)
        elif name == "hit_rate":
            values.append(float(any(hits)))
        elif name == "mrr":
            values.append(next((1.0 / (j + 1) for j, h in enumerate(hits) if h), 0.0))
        elif name == "map":
            ap, n_hit = 0.0, 0
            for j, h in enumerate(hits):
                if h:
                    n_hit += 1
                    ap += n_hit / (j + 1)
            values.append(ap / cap)
        elif name == "ndcg":
            dcg = sum(h / math.log2(j + 2) for j, h in enumerate(hits))
            idcg = sum(1.0 / math.log2(j + 2) for j in range(cap))
            values.append(dcg / idcg)
    return float(np.mean(values))


@pytest.fixture
def rankings():
    rng = np.random.default_rng(0)
    n_users, n_items = 40, 30
    relevant = [rng.choice(n_items, size=rng.integers(0, 12), replace=False)
                for _ in range(n_users)]
    ranked = np.array([rng.permutation(n_items)[:15] for _ in range(n_users)])
    ranked[3, 10:] = -1  # a short ranking, padded
    return relevant, ranked, n_items


FUNCTIONS = {
    "recall": M.recall_at_k, "plain_recall": M.plain_recall_at_k,
    "precision": M.precision_at_k, "ndcg": M.ndcg_at_k, "map": M.map_at_k,
    "mrr": M.mrr_at_k, "hit_rate": M.hit_rate_at_k,
}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
@pytest.mark.parametrize("k", [1, 5, 15])
def test_metric_functions_match_the_definitions(rankings, name, k):
    relevant, ranked, n_items = rankings
    got = FUNCTIONS[name](relevant, ranked, k=k)
    assert got == pytest.approx(reference(name, relevant, ranked, k), rel=1e-12)
    # the same relevant items as a sparse matrix
    rows = np.repeat(np.arange(len(relevant)), [len(r) for r in relevant])
    matrix = sp.csr_matrix((np.ones(len(rows)), (rows, np.concatenate(relevant))),
                           shape=(len(relevant), n_items))
    assert FUNCTIONS[name](matrix, ranked, k=k) == pytest.approx(got, rel=1e-12)


def test_coverage(rankings):
    _, ranked, n_items = rankings
    for k in (1, 3, 15):
        assert M.coverage_at_k(ranked, n_items, k) == pytest.approx(
            reference("coverage", None, ranked, k, n_items))


def test_perfect_and_worst_rankings():
    relevant = [[0, 1, 2]]
    assert M.recall_at_k(relevant, [[0, 1, 2, 3]], k=2) == 1.0  # min(k, |R|)
    assert M.plain_recall_at_k(relevant, [[0, 1, 2, 3]], k=2) == pytest.approx(2 / 3)
    assert M.ndcg_at_k(relevant, [[2, 0, 1, 3]], k=4) == pytest.approx(1.0)
    assert M.ndcg_at_k(relevant, [[3, 4, 5, 6]], k=4) == 0.0


def test_metric_input_errors():
    with pytest.raises(ValueError, match="k must be a positive int"):
        M.recall_at_k([[0]], [[0, 1]], k=0)
    with pytest.raises(ValueError, match="rank at least k items"):
        M.ndcg_at_k([[0]], [[0, 1]], k=3)
    with pytest.raises(ValueError, match="2-d integer array"):
        M.ndcg_at_k([[0]], [[0.5, 1.0]], k=1)
    with pytest.raises(ValueError, match="one row of relevant items per ranking"):
        M.ndcg_at_k([[0], [1]], [[0, 1]], k=1)
    with pytest.raises(ValueError, match="No user has a relevant item"):
        M.ndcg_at_k([[]], [[0, 1]], k=1)
    with pytest.raises(ValueError, match="Unknown ranking metric 'auc'"):
        M.make_ranking_scorer("auc")


def _interactions(seed=0, n_users=50, n_items=40, n=900):
    rng = np.random.default_rng(seed)
    return np.unique(rng.integers(0, [n_users, n_items], size=(n, 2)), axis=0)


def test_ranking_report_matches_recommend_and_the_functions():
    X = _interactions()
    rng = np.random.default_rng(1)
    test_mask = rng.random(len(X)) < 0.2
    model = EASERecommender(alpha=10.0).fit(X[~test_mask])
    test = X[test_mask]
    report = M.ranking_report(model, test, k=(5, 10), metrics=M.RANKING_METRICS)
    users = np.unique(test[:, 0])
    n = 10
    items, _ = model.recommend(users, n=n)
    relevant = [test[test[:, 0] == u, 1] for u in users]
    # recommend returns raw ids; here the raw ids are not the encoded ones, so
    # compare with the raw-id rankings through the item-id lists
    for name in FUNCTIONS:
        for k in (5, 10):
            expected = reference(name, relevant, items.tolist(), k)
            assert report[f"{name}@{k}"] == pytest.approx(expected, rel=1e-12), name
    assert report["n_users"] == len(users)
    encoded_top = np.searchsorted(model.item_ids_, items)
    assert report["coverage@10"] == pytest.approx(
        M.coverage_at_k(encoded_top, model.n_items_, 10))


def test_ranking_report_counts_unknown_test_items_as_misses():
    X = np.array([[0, 0], [0, 1], [1, 1], [1, 2]])
    model = PopularityRecommender().fit(X)
    # user 0's relevant items: 2 (known) and 99 (never trained on)
    report = M.ranking_report(model, [[0, 2], [0, 99]], k=1, metrics="plain_recall")
    assert report["plain_recall@1"] == pytest.approx(0.5)


def test_ranking_report_errors():
    X = np.array([[0, 0], [0, 1], [1, 1], [1, 2]])
    model = PopularityRecommender().fit(X)
    with pytest.raises(ValueError, match="no training interactions.*X_fold_in"):
        M.ranking_report(model, [[7, 1]])
    with pytest.raises(ValueError, match="no fold-in interactions"):
        M.ranking_report(model, [[7, 1]], X_fold_in=[[8, 1]])


def test_fold_in_report_uses_the_fold_in_rows():
    X = _interactions(n_users=30)
    model = EASERecommender(alpha=5.0).fit(X[X[:, 0] < 20])
    new = X[X[:, 0] >= 20]
    rng = np.random.default_rng(0)
    out = rng.random(len(new)) < 0.3
    fold_in, test = new[~out], new[out]
    test = test[np.isin(test[:, 0], fold_in[:, 0])]
    report = M.ranking_report(model, test, X_fold_in=fold_in, k=10, metrics=("ndcg",))
    users, items, _ = model.recommend_new(fold_in, n=10)
    keep = np.isin(users, test[:, 0])
    relevant = [test[test[:, 0] == u, 1] for u in users[keep]]
    assert report["ndcg@10"] == pytest.approx(
        reference("ndcg", relevant, items[keep].tolist(), 10))


def test_scorer_in_grid_search():
    X = _interactions()
    scorer = M.make_ranking_scorer("recall", k=10)
    assert repr(scorer) == "make_ranking_scorer('recall', k=10, exclude_seen=True)"
    # plain KFold over pairs can leave a user without training pairs; these
    # users have many, so every test user is known
    search = GridSearchCV(EASERecommender(), {"alpha": [0.1, 1000.0]}, scoring=scorer,
                          cv=KFold(3, shuffle=True, random_state=0)).fit(X)
    scores = search.cv_results_["mean_test_score"]
    assert np.all((scores >= 0) & (scores <= 1)) and len(set(scores)) == 2
    assert search.best_params_["alpha"] in (0.1, 1000.0)
    train = np.random.default_rng(0).random(len(X)) < 0.8
    model = EASERecommender(alpha=1.0).fit(X[train])
    assert scorer(model, X[~train]) == M.ranking_report(model, X[~train], k=10,
                                                        metrics="recall")["recall@10"]


def test_fold_in_report_with_matrices_of_the_full_shape():
    """Held-out users' rows in full-shape matrices: empty rows are not users of X."""
    X = _interactions(n_users=30)
    R = sp.csr_matrix((np.ones(len(X)), (X[:, 0], X[:, 1])), shape=(30, 40))
    held = np.arange(30) >= 20
    train = sp.csr_matrix(R.multiply(~held[:, None]))
    train.eliminate_zeros()  # stored zeros would be interactions of weight 0
    rest = sp.csr_matrix(R.multiply(held[:, None]))
    rest.eliminate_zeros()
    rest = rest.tocoo()
    out = np.random.default_rng(0).random(rest.nnz) < 0.3
    fold_in = sp.csr_matrix((rest.data[~out], (rest.row[~out], rest.col[~out])), shape=R.shape)
    test = sp.csr_matrix((rest.data[out], (rest.row[out], rest.col[out])), shape=R.shape)
    model = EASERecommender(alpha=5.0).fit(train)
    report = M.ranking_report(model, test, X_fold_in=fold_in, k=10, metrics=("ndcg",),
                              exclude_seen=True)
    assert report["n_users"] == int((np.diff(test.indptr) > 0).sum())
    pairs = np.column_stack(fold_in.nonzero())
    test_pairs = np.column_stack(test.nonzero())
    assert report["ndcg@10"] == pytest.approx(M.ranking_report(
        model, test_pairs, X_fold_in=pairs, k=10, metrics=("ndcg",))["ndcg@10"])


def test_sampled_ranking_report_matches_a_loop():
    X = _interactions()
    model = EASERecommender(alpha=3.0).fit(X)
    rng = np.random.default_rng(3)
    users = model.user_ids_[:10]
    held = np.array([X[X[:, 0] == u, 1][0] for u in users])
    negatives = np.array([rng.choice(np.setdiff1d(model.item_ids_, X[X[:, 0] == u, 1]), 7,
                                     replace=False) for u in users])
    report = M.sampled_ranking_report(model, np.column_stack([users, held]), negatives, k=3)
    hr, nd = [], []
    for u, i, neg in zip(users, held, negatives):
        pos = model.predict([[u, i]])[0]
        rank = 1 + sum(model.predict([[u, j]])[0] >= pos for j in neg)
        hr.append(rank <= 3)
        nd.append(1 / math.log2(rank + 1) if rank <= 3 else 0.0)
    assert report["hit_rate@3"] == pytest.approx(np.mean(hr))
    assert report["ndcg@3"] == pytest.approx(np.mean(nd))
    with pytest.raises(ValueError, match="exactly one held-out interaction per user"):
        M.sampled_ranking_report(model, [[users[0], 1], [users[0], 2]], [[3], [4]])
    with pytest.raises(ValueError, match="one row per held-out user"):
        M.sampled_ranking_report(model, [[users[0], 1]], [[3], [4]])
    with pytest.raises(ValueError, match="only 'hit_rate' and 'ndcg'"):
        M.sampled_ranking_report(model, [[users[0], 1]], [[3]], metrics=("recall",))


def test_sampled_ranking_report_ranks_untrained_items_last():
    model = PopularityRecommender().fit([[0, 0], [1, 0], [1, 1], [2, 2]])
    # user 0: held-out item 1 against an item never trained on (9): a hit;
    # user 2: held-out item 9 (never trained on): a miss
    report = M.sampled_ranking_report(model, [[0, 1], [2, 9]], [[9], [0]], k=1)
    assert report["hit_rate@1"] == 0.5
