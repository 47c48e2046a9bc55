"""Ranking metrics of top-N recommendation, and scikit-learn scorers built on them.

Definitions, for one user with the set ``R`` of relevant (held-out) items and
the model's ranking ``r_1, r_2, ...`` of the items it did not train on, with
``hit_i = 1`` when ``r_i`` is in ``R``:

=================  ==============================================================
``recall``         ``sum_{i<=k} hit_i / min(k, |R|)`` (Liang et al. 2018; 1 is
                   reachable for every user)
``plain_recall``   ``sum_{i<=k} hit_i / |R|``
``precision``      ``sum_{i<=k} hit_i / k``
``ndcg``           ``DCG / IDCG`` with binary gains, ``DCG = sum_{i<=k} hit_i /
                   log2(i + 1)`` and ``IDCG`` the DCG of ``min(k, |R|)`` hits
``map``            ``sum_{i<=k} hit_i * precision@i / min(k, |R|)``
``mrr``            ``1 / i`` of the first hit within ``k``, else 0
``hit_rate``       1 if any hit within ``k``, else 0
``coverage``       share of the model's items recommended (within ``k``) to at
                   least one user: a catalogue statistic, not a per-user mean
=================  ==============================================================

Every per-user metric is averaged over the users with at least one relevant
item.  A relevant item the model has never seen (absent from its training data)
stays in ``R``: it counts as missed, it is never dropped.

:func:`ranking_report` computes them for a fitted recommender a block of users at
a time (never a users x items score matrix), the users' training items excluded;
:func:`make_ranking_scorer` turns one into a scorer for ``GridSearchCV`` or
``cross_validate``.  The functions ``recall_at_k`` ... ``coverage_at_k`` compute
them from rankings you already have.
"""

import numbers

import numpy as np
import scipy.sparse as sp

from ._data import describe_id

#: session_report scores at most this many cells at once (8 MB of float64)
_SCORE_BLOCK_ROWS = 1 << 20

__all__ = [
    "RANKING_METRICS",
    "coverage_at_k",
    "hit_rate_at_k",
    "make_ranking_scorer",
    "make_session_scorer",
    "map_at_k",
    "mrr_at_k",
    "ndcg_at_k",
    "plain_recall_at_k",
    "precision_at_k",
    "ranking_report",
    "recall_at_k",
    "sampled_ranking_report",
    "session_report",
]

#: Names accepted by :func:`ranking_report` and :func:`make_ranking_scorer`.
RANKING_METRICS = ("recall", "plain_recall", "ndcg", "precision", "map", "mrr",
                   "hit_rate", "coverage")


def _check_k(k):
    ks = (k,) if isinstance(k, numbers.Integral) else tuple(k)
    for value in ks:
        if (isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral)
                or value < 1):
            raise ValueError(f"k must be a positive int or a sequence of them; got {k!r}.")
    if not ks:
        raise ValueError("k must name at least one cut-off; got an empty sequence.")
    return tuple(int(v) for v in ks)


def _check_metrics(metrics):
    names = (metrics,) if isinstance(metrics, str) else tuple(metrics)
    for name in names:
        if name not in RANKING_METRICS:
            raise ValueError(
                f"Unknown ranking metric {name!r}; choose from {', '.join(RANKING_METRICS)}.")
    return names


def _hits(relevant, ranked):
    """``hits[u, i]``: is ``ranked[u, i]`` a stored column of row ``u`` of ``relevant``?"""
    relevant = sp.csr_matrix(relevant)
    relevant.sort_indices()
    n_cols = max(relevant.shape[1], int(ranked.max(initial=-1)) + 1, 1)
    rows = np.repeat(np.arange(relevant.shape[0], dtype=np.int64), np.diff(relevant.indptr))
    keys = rows * n_cols + relevant.indices
    valid = ranked >= 0
    query = np.arange(len(ranked), dtype=np.int64)[:, None] * n_cols + np.maximum(ranked, 0)
    pos = np.minimum(np.searchsorted(keys, query), max(len(keys) - 1, 0))
    return valid & (keys[pos] == query) if len(keys) else np.zeros(ranked.shape, bool)


def _per_user(hits, n_relevant, k, name):
    """One metric at cut-off ``k`` for each row of ``hits`` (rows of >= 1 relevant)."""
    hits = hits[:, :k].astype(np.float64)
    n_hits = hits.sum(axis=1)
    cap = np.minimum(k, n_relevant)
    if name == "recall":
        return n_hits / cap
    if name == "plain_recall":
        return n_hits / n_relevant
    if name == "precision":
        return n_hits / k
    if name == "hit_rate":
        return (n_hits > 0).astype(np.float64)
    if name == "mrr":
        first = np.argmax(hits > 0, axis=1)
        return np.where(n_hits > 0, 1.0 / (first + 1), 0.0)
    if name == "map":
        precision_at = np.cumsum(hits, axis=1) / np.arange(1, hits.shape[1] + 1)
        return (hits * precision_at).sum(axis=1) / cap
    if name == "ndcg":
        discount = 1.0 / np.log2(np.arange(2, k + 2))
        dcg = hits @ discount[:hits.shape[1]]
        idcg = np.cumsum(discount)[cap - 1]
        return dcg / idcg
    raise ValueError(name)  # pragma: no cover - names are checked first


def _as_relevant(y_true, n_rows):
    """``y_true`` (sparse matrix, or a list of item-id sequences) as a CSR."""
    if sp.issparse(y_true):
        csr = sp.csr_matrix(y_true)
    else:
        rows = [np.asarray(r, dtype=np.int64).ravel() for r in y_true]
        indptr = np.concatenate([[0], np.cumsum([len(r) for r in rows])]).astype(np.int64)
        indices = np.concatenate(rows) if rows else np.empty(0, np.int64)
        if len(indices) and indices.min() < 0:
            raise ValueError("Relevant item ids must be >= 0 (-1 pads rankings only).")
        n_cols = int(indices.max()) + 1 if len(indices) else 1
        csr = sp.csr_matrix((np.ones(len(indices)), indices, indptr),
                            shape=(len(rows), n_cols))
        csr.sum_duplicates()
    if csr.shape[0] != n_rows:
        raise ValueError(
            f"y_true has {csr.shape[0]} users but y_ranked has {n_rows} rankings; pass "
            "one row of relevant items per ranking.")
    return csr


def _from_rankings(name, y_true, y_ranked, k):
    (k,) = _check_k(k)
    ranked = np.asarray(y_ranked)
    if ranked.ndim != 2 or ranked.dtype.kind not in "iu":
        raise ValueError(
            "y_ranked must be a 2-d integer array of item ids, one ranking per row, best "
            f"first (-1 pads a short ranking); got shape {ranked.shape}, dtype "
            f"{ranked.dtype}.")
    if ranked.shape[1] < k:
        raise ValueError(
            f"k={k} but the rankings hold only {ranked.shape[1]} items each; rank at "
            f"least k items (pad with -1).")
    relevant = _as_relevant(y_true, len(ranked))
    n_relevant = np.diff(relevant.indptr)
    keep = n_relevant > 0
    if not keep.any():
        raise ValueError("No user has a relevant item, so the metric is undefined.")
    hits = _hits(relevant[keep], ranked[keep].astype(np.int64))
    return float(_per_user(hits, n_relevant[keep], k, name).mean())


_RANKING_DOC = """{title} at ``k``, averaged over the users with a relevant item.

    {definition}

    Parameters
    ----------
    y_true : sparse matrix of shape (n_users, n_items), or list of sequences of int
        Relevant items of each user: the stored entries of row ``u`` (their
        values are ignored), or the item ids of ``y_true[u]``.
    y_ranked : ndarray of int of shape (n_users, >= k)
        Each user's ranked item ids, best first; ``-1`` pads a short ranking.
    k : int, default={k}
        Cut-off.

    Returns
    -------
    score : float

    Examples
    --------
    >>> from sklearn_autorec.metrics import {name}
    >>> {name}([[1, 2, 3], [0]], [[3, 2, 1], [2, 1, 0]], k=2)
    {example}
    """


def _ranking_function(name, title, definition, default_k, example):
    def metric(y_true, y_ranked, k=default_k):
        return _from_rankings(name, y_true, y_ranked, k)

    metric.__name__ = metric.__qualname__ = f"{name}_at_k"
    metric.__doc__ = _RANKING_DOC.format(title=title, definition=definition, k=default_k,
                                         name=f"{name}_at_k", example=example)
    return metric


recall_at_k = _ranking_function(
    "recall", "Recall (Liang et al. 2018)",
    "Hits in the top ``k`` divided by ``min(k, n_relevant)``.", 20, "0.5")
plain_recall_at_k = _ranking_function(
    "plain_recall", "Recall", "Hits in the top ``k`` divided by ``n_relevant``.", 20,
    "0.333...")
precision_at_k = _ranking_function(
    "precision", "Precision", "Hits in the top ``k`` divided by ``k``.", 10, "0.5")
ndcg_at_k = _ranking_function(
    "ndcg", "NDCG with binary gains",
    "``sum_i hit_i / log2(i + 1)`` over the top ``k``, divided by its value for "
    "``min(k, n_relevant)`` hits in front.", 100, "0.5")
map_at_k = _ranking_function(
    "map", "Mean average precision",
    "``sum_i hit_i * precision@i`` over the top ``k``, divided by "
    "``min(k, n_relevant)``.", 10, "0.5")
mrr_at_k = _ranking_function(
    "mrr", "Mean reciprocal rank", "``1 / i`` of the first hit in the top ``k``, else 0.",
    10, "0.5")
hit_rate_at_k = _ranking_function(
    "hit_rate", "Hit rate", "1 when the top ``k`` holds a relevant item, else 0.", 10,
    "0.5")


def coverage_at_k(y_ranked, n_items, k=10):
    """Share of the catalogue's ``n_items`` recommended in the top ``k`` of any user.

    Parameters
    ----------
    y_ranked : ndarray of int of shape (n_users, >= k)
        Ranked item ids ``0..n_items-1`` (``-1`` pads).
    n_items : int
        Size of the catalogue.
    k : int, default=10

    Returns
    -------
    coverage : float in [0, 1]

    Examples
    --------
    >>> from sklearn_autorec.metrics import coverage_at_k
    >>> coverage_at_k([[3, 2, 1], [2, 1, 0]], n_items=4, k=2)
    0.75
    """
    (k,) = _check_k(k)
    ranked = np.asarray(y_ranked)[:, :k]
    items = np.unique(ranked[ranked >= 0])
    return float(len(items) / n_items)


def ranking_report(estimator, X, y=None, *, k=(20, 100), metrics=("recall", "ndcg"),
                   X_fold_in=None, y_fold_in=None, exclude_seen=True):
    """Ranking metrics of a fitted recommender against held-out interactions.

    Every user of ``X`` is ranked all the model's items (less its training
    items with ``exclude_seen=True``) a block of users at a time, and the
    metrics of :mod:`sklearn_autorec.metrics` are averaged over these users.

    Parameters
    ----------
    estimator : fitted recommender
        Any ``...Recommender`` of this package.
    X : scipy sparse matrix or array-like of shape (n_samples, 2)
        Held-out interactions (the relevant items), in the form the model was
        fitted on.  Their users must have training interactions, unless
        ``X_fold_in`` is given.
    y : array-like of shape (n_samples,), default=None
        Weights or ratings of the pairs (the model's ``positive_threshold``
        decides which are relevant).
    k : int or sequence of int, default=(20, 100)
        Cut-offs.
    metrics : str or sequence of str, default=("recall", "ndcg")
        Names from :data:`RANKING_METRICS`.
    X_fold_in, y_fold_in : default=None
        For users the model did not train on (strong generalisation): their
        fold-in interactions, from which ``recommend_new`` ranks; the users
        of ``X`` must all be in ``X_fold_in`` (same ids, or same rows of a
        matrix), and their fold-in items are excluded with ``exclude_seen``.
        Fold-in interactions with items the model never trained on are left
        out (the model has no input for them); as relevant items in ``X``
        such items count as misses.
    exclude_seen : bool, default=True
        Leave out the training (or fold-in) items of each user.

    Returns
    -------
    report : dict
        ``"{metric}@{k}"`` -> float for every metric and cut-off, and
        ``"n_users"``: the number of users averaged over.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> from sklearn_autorec import PopularityRecommender
    >>> from sklearn_autorec.metrics import ranking_report
    >>> train = sp.csr_matrix([[1, 1, 0, 0], [1, 0, 1, 0], [0, 1, 1, 0]])
    >>> test = sp.csr_matrix([[0, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 1]])
    >>> model = PopularityRecommender().fit(train)
    >>> ranking_report(model, test, k=1, metrics="hit_rate")
    {'hit_rate@1': 0.666..., 'n_users': 3}
    """
    ks = _check_k(k)
    names = _check_metrics(metrics)
    parsed, users, items = estimator.encode_interactions(X, y, context="ranking_report")
    if len(parsed) == 0:
        raise ValueError("ranking_report: X holds no relevant interaction to score.")
    if X_fold_in is None:
        if (users < 0).any():
            j = int(np.flatnonzero(users < 0)[0])
            raise ValueError(
                f"ranking_report: {int(np.unique(parsed.users[users < 0]).size)} users of "
                f"X have no training interactions (first: {describe_id(parsed.users, j)}). Score "
                "held-out users by passing their fold-in interactions as X_fold_in.")
        ids, rows = np.unique(users, return_inverse=True)

        def score_block(block):
            return estimator._score_users(ids[block])

        seen = None
        if exclude_seen:
            train_rows = estimator._user_rows(ids)
            seen = (train_rows.indptr, train_rows.indices)
    else:
        if not hasattr(estimator, "recommend_new"):
            raise ValueError(
                f"ranking_report: {type(estimator).__name__} has no fold-in, so it cannot "
                "score held-out users from X_fold_in; evaluate it on training users.")
        # fold-in items the model never trained on have no input: left out
        fold_ids, fold_csr = estimator._new_rows(X_fold_in, y_fold_in, "ranking_report",
                                                 unknown_items="ignore", allow_empty=True)
        ids, rows = np.unique(parsed.users, return_inverse=True)
        where = np.minimum(np.searchsorted(fold_ids, ids), len(fold_ids) - 1)
        missing = (fold_ids[where] != ids) | (np.diff(fold_csr.indptr)[where] == 0)
        if missing.any():
            raise ValueError(
                f"ranking_report: {int(missing.sum())} users of X have no fold-in "
                f"interactions in X_fold_in (first: {describe_id(ids[missing], 0)}); every "
                "held-out user needs some.")
        fold_csr = fold_csr[where]

        def score_block(block):
            return estimator._score_new(fold_csr[block])

        seen = (fold_csr.indptr, fold_csr.indices) if exclude_seen else None
    known = items >= 0
    relevant = sp.csr_matrix((np.ones(int(known.sum())), (rows[known], items[known])),
                             shape=(len(ids), estimator.n_items_))
    relevant.sum_duplicates()
    n_relevant = np.bincount(rows, minlength=len(ids))
    report = evaluate_blocks(score_block, estimator.n_items_, seen, relevant, n_relevant,
                             ks, names)
    report["n_users"] = len(ids)
    return report


def evaluate_blocks(score_block, n_items, seen, relevant, n_relevant, ks, names):
    """The metrics ``names`` at cut-offs ``ks`` of rankings scored block by block.

    ``score_block(rows)`` scores rows ``0..len(n_relevant)-1`` for all
    ``n_items`` items; ``seen`` (CSR structure per row, or None) is excluded;
    ``relevant`` (CSR of the known relevant items) and ``n_relevant`` (all
    relevant items, known or not) define the hits.  Shared by
    :func:`ranking_report` and the models' early stopping.
    """
    from ._recommender import top_items

    n_rows = len(n_relevant)
    kmax = min(max(ks), n_items)
    top, _ = top_items(score_block, n_rows, n_items, kmax, seen, pad=True)
    if kmax < max(ks):
        top = np.hstack([top, np.full((n_rows, max(ks) - kmax), -1, dtype=np.int64)])
    hits = _hits(relevant, top)
    report = {}
    for name in names:
        for cut in ks:
            if name == "coverage":
                report[f"{name}@{cut}"] = coverage_at_k(top, n_items, cut)
            else:
                report[f"{name}@{cut}"] = float(_per_user(hits, n_relevant, cut, name).mean())
    return report


def sampled_ranking_report(estimator, X, negatives, *, k=10, metrics=("hit_rate", "ndcg")):
    """HR@k and NDCG@k of one held-out item ranked among sampled negatives (NCF protocol).

    He et al. (2017) rank each user's held-out item among ``m`` (99) items the
    user never interacted with.  With one relevant item, ``hit_rate@k`` is 1
    when it ranks in the top ``k`` and ``ndcg@k`` is ``1 / log2(rank + 1)``
    (0 beyond ``k``).  Ties count against the held-out item (its rank is one plus
    the number of negatives scored at least as high), so a model that scores
    everything alike gets 0, not 1.  An item a recommender did not train on
    cannot be scored: it ranks last (a held-out item among them is a miss).
    Rendle et al. (2020) show that this
    protocol can order models differently from full ranking; prefer
    :func:`ranking_report` unless you compare with the NCF paper.

    Parameters
    ----------
    estimator : fitted recommender or rating regressor
        Scores pairs with ``predict``.
    X : scipy sparse matrix or array-like of shape (n_users, 2)
        Exactly one held-out interaction per user (e.g. the ``X_test`` of
        :func:`~sklearn_autorec.model_selection.leave_one_out_split`).
    negatives : array-like of shape (n_users, m)
        Raw item ids of each user's negatives, rows in increasing user order.
    k : int, default=10
    metrics : sequence of {"hit_rate", "ndcg"}, default=("hit_rate", "ndcg")

    Returns
    -------
    report : dict
        ``"{metric}@{k}"`` -> float, and ``"n_users"``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_autorec import PopularityRecommender
    >>> from sklearn_autorec.metrics import sampled_ranking_report
    >>> model = PopularityRecommender().fit([[0, 0], [1, 0], [1, 1], [2, 2]])
    >>> # user 2's item 0 outscores its negative; user 0's item 1 ties with its
    >>> # negative 2 (both were seen once): a miss
    >>> sampled_ranking_report(model, [[0, 1], [2, 0]], [[2], [1]], k=1)
    {'hit_rate@1': 0.5, 'ndcg@1': 0.5, 'n_users': 2}
    """
    (k,) = _check_k(k)
    names = _check_metrics(metrics)
    for name in names:
        if name not in ("hit_rate", "ndcg"):
            raise ValueError(
                f"With one held-out item per user only 'hit_rate' and 'ndcg' are "
                f"defined here; got {name!r}.")
    from ._data import parse_ratings

    parsed = parse_ratings(X, context="sampled_ranking_report")
    order = np.lexsort((parsed.items, parsed.users))
    users, items = parsed.users[order], parsed.items[order]
    if len(users) == 0 or np.any(users[1:] == users[:-1]):
        raise ValueError(
            "sampled_ranking_report needs exactly one held-out interaction per user "
            "(leave-one-out); X holds none or several for a user.")
    negatives = np.asarray(negatives)
    if negatives.ndim != 2 or len(negatives) != len(users):
        raise ValueError(
            f"negatives must have one row per held-out user ({len(users)}); got shape "
            f"{negatives.shape}.")
    m = negatives.shape[1]
    pairs = np.empty((len(users) * (m + 1), 2), dtype=object if (
        users.dtype.kind == "U" or items.dtype.kind == "U") else np.int64)
    pairs[:, 0] = np.repeat(users, m + 1)
    pairs[:, 1] = np.column_stack([items, negatives]).ravel()
    scores = np.full(len(pairs), -np.inf)
    known = np.ones(len(pairs), dtype=bool)
    if hasattr(estimator, "item_ids_") and not hasattr(estimator, "rating_min_"):
        # a recommender scores only items it trained on: the others rank last
        from ._data import _check_ids

        raw = _check_ids(pairs[:, 1], "item")
        known = estimator._id_index("item").transform(raw) >= 0
        pairs = pairs[known]
    scores[known] = np.asarray(estimator.predict(pairs), dtype=np.float64)
    scores = scores.reshape(len(users), m + 1)
    rank = 1 + np.sum(scores[:, 1:] >= scores[:, :1], axis=1)  # ties count against
    report = {}
    for name in names:
        if name == "hit_rate":
            report[f"hit_rate@{k}"] = float(np.mean(rank <= k))
        else:
            report[f"ndcg@{k}"] = float(np.mean(np.where(rank <= k, 1.0 / np.log2(rank + 1),
                                                         0.0)))
    report["n_users"] = len(users)
    return report


def session_report(estimator, X, *, k=20, metrics=("recall", "mrr")):
    """Next-item prediction at every position of test sessions: Recall@k, MRR@k.

    For every session of ``X`` and every click ``t >= 2`` of it, the model ranks
    all its items after the clicks before ``t``; the metrics are averaged over
    all these targets (the protocol of GRU4Rec and NARM).  With one target,
    ``recall@k`` (the hit rate) is 1 when it ranks in the top ``k``, ``mrr@k`` is
    ``1 / rank`` (0 beyond ``k``); ties count against the target (its rank is the
    number of items scored at least as high), so a constant model scores 0.
    Clicks on items the model was not trained on are skipped in the prefixes and
    are misses as targets; a target with no known click before it is a miss
    (:func:`~sklearn_autorec.model_selection.session_time_split` removes such
    items from the test set, as the protocol does).

    Parameters
    ----------
    estimator : fitted session recommender
    X : DataFrame, array of shape (n_clicks, 2 or 3), or list of item sequences
        Test sessions, in a form ``fit`` takes.
    k : int, default=20
    metrics : sequence of {"recall", "mrr"}, default=("recall", "mrr")

    Returns
    -------
    report : dict
        ``"{metric}@{k}"`` -> float, ``"n_targets"``.

    Examples
    --------
    >>> from sklearn_autorec import ItemTransitionRecommender
    >>> from sklearn_autorec.metrics import session_report
    >>> model = ItemTransitionRecommender().fit([[1, 2, 3], [1, 2], [2, 3]])
    >>> session_report(model, [[1, 2, 3], [3, 1]], k=1)
    {'recall@1': 0.666..., 'mrr@1': 0.666..., 'n_targets': 3}
    """
    from ._data import IdIndex
    from ._sessions import parse_sessions

    (k,) = _check_k(k)
    names = (metrics,) if isinstance(metrics, str) else tuple(metrics)
    for name in names:
        if name not in ("recall", "mrr"):
            raise ValueError(
                f"session_report computes 'recall' and 'mrr'; got {name!r}.")
    parsed = parse_sessions(X, context="session_report")
    codes = IdIndex(estimator.item_ids_, "item", sorted_unique=True).transform(parsed.items)
    known_seqs, targets = [], []
    n_targets = 0
    for a, b in zip(parsed.offsets[:-1], parsed.offsets[1:]):
        seq = codes[a:b]
        if len(seq) < 2:
            continue
        n_targets += len(seq) - 1
        known = seq[seq >= 0]
        # target t (t >= 1) follows c_t known clicks; scorable when c_t >= 1 and known
        c = np.cumsum(seq >= 0)[:-1]
        target = seq[1:]
        ok = (c >= 1) & (target >= 0)
        if len(known) >= 2 and ok.any():
            known_seqs.append(known)
            targets.append((c[ok] - 1, target[ok]))
    if n_targets == 0:
        raise ValueError("session_report: X holds no session of two or more clicks.")
    hits = {name: 0.0 for name in names}
    block = max(1, _SCORE_BLOCK_ROWS // max(estimator.n_items_, 1))
    start = 0
    while start < len(known_seqs):
        stop, rows = start, 0
        while stop < len(known_seqs) and (rows == 0 or rows + len(known_seqs[stop]) <= block):
            rows += len(known_seqs[stop]) - 1
            stop += 1
        scores = np.asarray(estimator._score_positions(known_seqs[start:stop]))
        offset = 0
        for seq, (pos, target) in zip(known_seqs[start:stop], targets[start:stop]):
            s = scores[offset + pos]
            rank = np.sum(s >= s[np.arange(len(target)), target][:, None], axis=1)
            if "recall" in hits:
                hits["recall"] += float(np.sum(rank <= k))
            if "mrr" in hits:
                hits["mrr"] += float(np.sum(np.where(rank <= k, 1.0 / rank, 0.0)))
            offset += len(seq) - 1
        start = stop
    report = {f"{name}@{k}": hits[name] / n_targets for name in names}
    report["n_targets"] = n_targets
    return report


def _final_model(estimator, X):
    """The model that scores, and ``X`` through the steps before it (Pipelines)."""
    if hasattr(estimator, "steps"):
        for _, step in estimator.steps[:-1]:
            if step is not None and step != "passthrough":
                X = step.transform(X)
        estimator = estimator.steps[-1][1]
    return estimator, X


class _ReportScorer:
    """A scorer ``scorer(estimator, X, y=None)`` of one metric of a report function
    (:func:`ranking_report` or :func:`session_report`; higher is better)."""

    def __init__(self, kind, metric, k, kwargs):
        self.kind, self.metric, self.k, self.kwargs = kind, metric, k, kwargs

    def __call__(self, estimator, X, y=None, sample_weight=None):
        if sample_weight is not None:
            raise ValueError(f"{self.kind.capitalize()} scorers take no sample_weight.")
        model, X = _final_model(estimator, X)
        metrics = (self.metric,)
        if self.kind == "ranking":
            report = ranking_report(model, X, y, k=self.k, metrics=metrics, **self.kwargs)
        else:
            report = session_report(model, X, k=self.k, metrics=metrics)
        return report[f"{self.metric}@{self.k}"]

    def __repr__(self):
        extra = "".join(f", {key}={value!r}" for key, value in self.kwargs.items())
        return f"make_{self.kind}_scorer({self.metric!r}, k={self.k}{extra})"


def make_ranking_scorer(metric="ndcg", k=100, *, exclude_seen=True):
    """A scikit-learn scorer of a ranking metric, for ``GridSearchCV`` and the like.

    Parameters
    ----------
    metric : str, default="ndcg"
        One of :data:`RANKING_METRICS`.
    k : int, default=100
        Cut-off.
    exclude_seen : bool, default=True
        Leave out each user's training items (see :func:`ranking_report`).

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y=None)`` -> the metric of the fitted
        ``estimator`` on the held-out interactions ``X`` (higher is better).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.model_selection import GridSearchCV
    >>> from sklearn_autorec import EASERecommender
    >>> from sklearn_autorec.metrics import make_ranking_scorer
    >>> from sklearn_autorec.model_selection import PerUserHoldout
    >>> rng = np.random.default_rng(0)
    >>> X = np.unique(rng.integers(0, 40, size=(600, 2)), axis=0)
    >>> search = GridSearchCV(EASERecommender(), {"alpha": [1.0, 100.0]},
    ...                       cv=PerUserHoldout(n_splits=2, random_state=0),
    ...                       scoring=make_ranking_scorer("ndcg", k=10)).fit(X)
    >>> sorted(search.best_params_)
    ['alpha']
    """
    (metric,) = _check_metrics(metric)
    (k,) = _check_k(k)
    return _ReportScorer("ranking", metric, k, {"exclude_seen": bool(exclude_seen)})


def make_session_scorer(metric="recall", k=20):
    """A scikit-learn scorer of next-item prediction in sessions (see :func:`session_report`).

    Parameters
    ----------
    metric : {"recall", "mrr"}, default="recall"
    k : int, default=20
        Cut-off.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y=None)`` -> the metric of the fitted session
        recommender on the test sessions ``X`` (higher is better).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.model_selection import GridSearchCV
    >>> from sklearn_autorec import SessionPopularityRecommender
    >>> from sklearn_autorec.metrics import make_session_scorer
    >>> from sklearn_autorec.model_selection import SessionTimeSplit
    >>> clicks = np.array([(s, (s + t) % 5, 3600.0 * s + t) for s in range(50)
    ...                    for t in range(3)])
    >>> scores = GridSearchCV(SessionPopularityRecommender(), {}, cv=SessionTimeSplit(
    ...     test_days=0.5), scoring=make_session_scorer("mrr", k=5)).fit(clicks)
    >>> make_session_scorer("mrr", k=5)
    make_session_scorer('mrr', k=5)
    """
    if metric not in ("recall", "mrr"):
        raise ValueError(f"make_session_scorer: metric must be 'recall' or 'mrr'; "
                         f"got {metric!r}.")
    (k,) = _check_k(k)
    return _ReportScorer("session", metric, k, {})
