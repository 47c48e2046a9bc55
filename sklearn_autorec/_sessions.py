"""The session task: its data contract, the shared base, and two baselines.

Every session recommender (``...Recommender`` of the session task) reads its
input through :func:`parse_sessions`, so these rules hold everywhere:

* Sessions come as a pandas DataFrame with columns ``session_id``, ``item_id``
  and optionally ``timestamp``; or a numpy array of shape ``(n_clicks, 2)``
  (session, item) or ``(n_clicks, 3)`` (session, item, timestamp); or a Python
  list of item sequences (one sequence per session, in click order).  A list is
  always sessions, never clicks (``[[1, 2], [3, 4]]`` is two sessions of two
  clicks): pass clicks as an array or a DataFrame.
* With timestamps, the clicks of a session are put in time order (a stable
  sort: clicks of equal time keep their row order), whatever the row order;
  without, row order is click order.  Rows of a session need not be
  contiguous.  Not sorting is the bug that inflated NARM's published
  Diginetica numbers (62.6 -> 49.7 Recall@20 once sorted).
* Ids are ints or strings; NaN ids or timestamps are errors.
* A session of one click has no next item to learn from: ``fit`` leaves it out
  and says how many in a ``UserWarning`` (``n_short_sessions_``).

``recommend(sessions, n=20)`` takes session prefixes (a list of item
sequences); items of a prefix unknown to the model are skipped (a model cannot
embed them), and a prefix with no known item is an error.
"""

import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.model_selection import BaseCrossValidator
from sklearn.utils.validation import check_is_fitted

from ._base import _SCORE_BLOCK, _check_n, _top_n
from ._data import IdIndex, _check_ids, sort_unique

__all__ = ["Sessions", "parse_sessions", "SessionRecommenderBase", "EncodedSessions",
           "SessionPopularityRecommender", "ItemTransitionRecommender", "parse_prefixes",
           "session_time_split", "SessionTimeSplit"]


@dataclass
class Sessions:
    """Sessions in canonical form: clicks grouped by session, in click order.

    Attributes
    ----------
    session_ids : ndarray
        Raw id of each session, in order of first appearance (``0..n-1`` for a
        list of sequences).
    items : ndarray
        Raw item ids of all clicks, session after session.
    offsets : ndarray of int64 of shape (n_sessions + 1,)
        Session ``s`` holds ``items[offsets[s]:offsets[s + 1]]``.
    times : ndarray of float64 or None
        The clicks' timestamps, aligned with ``items``.
    rows : ndarray of int64 or None
        The input row of each click, aligned with ``items`` (None for a list
        of sequences, which has no rows).
    """

    session_ids: np.ndarray
    items: np.ndarray
    offsets: np.ndarray
    times: object = None
    rows: object = None

    def __len__(self):
        return len(self.offsets) - 1

    def lengths(self):
        return np.diff(self.offsets)

    def subset(self, keep):
        """The sessions where ``keep`` (bool per session) is True."""
        lengths = self.lengths()
        click_keep = np.repeat(keep, lengths)
        offsets = np.concatenate([[0], np.cumsum(lengths[keep])]).astype(np.int64)
        return Sessions(self.session_ids[keep], self.items[click_keep], offsets,
                        None if self.times is None else self.times[click_keep],
                        None if self.rows is None else self.rows[click_keep])


def _from_sequences(X, context):
    seqs = []
    for s, seq in enumerate(X):
        if not isinstance(seq, (list, tuple, np.ndarray)) or not all(
                np.isscalar(i) for i in seq):
            raise ValueError(
                f"{context}: a list of sessions must hold one flat sequence of item ids "
                f"per session; session {s} is {seq!r}.")
        seqs.append(seq)
    lengths = np.array([len(q) for q in seqs], dtype=np.int64)
    flat = [i for q in seqs for i in q]
    items = _check_ids(np.asarray(flat, dtype=object) if flat else np.empty(0, np.int64),
                       "item")
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    return Sessions(np.arange(len(seqs), dtype=np.int64), items, offsets)


def parse_sessions(X, *, context="fit"):
    """Parse any accepted session form into :class:`Sessions` (see the module docstring)."""
    import scipy.sparse as sp

    if sp.issparse(X):
        raise TypeError(
            f"{context}: sparse input is not supported for sessions; pass clicks as a "
            "DataFrame (session_id, item_id[, timestamp]), an array of shape (n_clicks, "
            "2 or 3), or a list of item sequences.")
    if hasattr(X, "iloc") and hasattr(X, "columns"):
        missing = {"session_id", "item_id"} - set(X.columns)
        if missing:
            raise ValueError(
                f"{context}: a DataFrame of sessions needs the columns 'session_id' and "
                f"'item_id' (and optionally 'timestamp'); it has {list(X.columns)}.")
        sessions = X["session_id"].to_numpy()
        items = X["item_id"].to_numpy()
        times = X["timestamp"].to_numpy() if "timestamp" in X.columns else None
    elif isinstance(X, (list, tuple)):
        # a list is sessions (item sequences), never clicks: [[1, 2], [3, 4]] would
        # be ambiguous otherwise; clicks come as an ndarray or a DataFrame
        return _from_sequences(X, context)
    else:
        arr = X if isinstance(X, np.ndarray) else np.asarray(X, dtype=object)
        if arr.ndim != 2 or arr.shape[1] not in (2, 3):
            raise ValueError(
                f"{context}: sessions must be a DataFrame (session_id, item_id[, "
                "timestamp]), an array of shape (n_clicks, 2) or (n_clicks, 3), or a list "
                f"of item sequences; got an array of shape {arr.shape}.")
        sessions, items = arr[:, 0], arr[:, 1]
        times = arr[:, 2] if arr.shape[1] == 3 else None
    sessions = _check_ids(sessions, "session")
    items = _check_ids(items, "item")
    if times is not None:
        try:
            times = np.asarray(times, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"{context}: timestamps must be numbers.") from None
        if not np.all(np.isfinite(times)):
            k = int(np.flatnonzero(~np.isfinite(times))[0])
            raise ValueError(
                f"{context}: timestamps must be finite; click {k} has {times[k]!r}.")
    # group by session (in order of first appearance), then by time
    index = IdIndex(sessions, "session")
    codes = index.fit_transform(sessions)
    first = np.full(len(index), len(codes), dtype=np.int64)
    np.minimum.at(first, codes, np.arange(len(codes)))
    rank = np.empty(len(index), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(index))
    if times is None:
        order = np.argsort(rank[codes], kind="stable")
    else:  # by session, then time, then row
        order = np.lexsort((np.arange(len(codes)), times, rank[codes]))
    counts = np.bincount(rank[codes], minlength=len(index))
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return Sessions(index.ids[np.argsort(rank)], items[order], offsets,
                    None if times is None else times[order], order.astype(np.int64))


def parse_prefixes(sessions, context="recommend"):
    """Session prefixes: a list of item sequences (one sequence: wrap it in a list)."""
    if isinstance(sessions, np.ndarray) and sessions.ndim == 2:
        return [row for row in sessions]
    if not isinstance(sessions, (list, tuple)) or len(sessions) == 0:
        raise ValueError(
            f"{context}: sessions must be a non-empty list of item sequences (session "
            "prefixes, oldest click first), e.g. [[12, 7], [3]].")
    for s, seq in enumerate(sessions):
        if not isinstance(seq, (list, tuple, np.ndarray)) or not all(
                np.isscalar(i) for i in seq):
            raise ValueError(
                f"{context}: sessions must be a list of item sequences; element {s} is "
                f"{seq!r} (for one session, pass [[...]]).")
    return list(sessions)


class EncodedSessions:
    """Training sessions with items encoded ``0..n_items-1``.

    Attributes
    ----------
    items : ndarray of int64
        All clicks, session after session.
    offsets : ndarray of int64 of shape (n_sessions + 1,)
    n_items : int
    times : ndarray of float64 or None
        The clicks' timestamps, when the input had them.
    """

    def __init__(self, items, offsets, n_items, times=None):
        self.items, self.offsets, self.n_items = items, offsets, n_items
        self.times = times

    def __len__(self):
        return len(self.offsets) - 1

    def sequences(self):
        return [self.items[a:b] for a, b in zip(self.offsets[:-1], self.offsets[1:])]

    def time_order(self):
        """Session indices by first click's time (stable); input order without times."""
        if self.times is None:
            return np.arange(len(self))
        return np.argsort(self.times[self.offsets[:-1]], kind="stable")


class SessionRecommenderBase(BaseEstimator):
    """Base class of the session recommenders; not for direct use.

    Subclasses implement ``_fit_sessions(data)`` (``EncodedSessions``) and
    ``_score_prefixes(prefixes)`` (a list of encoded item arrays -> scores of
    shape ``(len(prefixes), n_items_)``).  Recurrent models may override
    ``_score_positions(session)`` (scores after every click of one encoded
    session at once) for evaluation.
    """

    _parameter_constraints: dict = {}

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.target_tags.required = False
        return tags

    def fit(self, X, y=None):
        """Fit on training sessions.

        Parameters
        ----------
        X : DataFrame, array-like of shape (n_clicks, 2 or 3), or list of sequences
            The sessions: a DataFrame (``session_id``, ``item_id`` and
            optionally ``timestamp``), an array of clicks, or a list of item
            sequences (see the session guide).
        y : None
            Ignored (the targets are the sessions' next clicks).

        Returns
        -------
        self : object
        """
        self._validate_params()
        parsed = parse_sessions(X, context="fit")
        short = parsed.lengths() < 2
        self.n_short_sessions_ = int(short.sum())
        if short.any():
            warnings.warn(
                f"{self.n_short_sessions_} of the {len(parsed)} sessions have a single "
                "click, so no next item to learn from; they were left out of training.",
                UserWarning, stacklevel=2)
            parsed = parsed.subset(~short)
        if len(parsed) == 0:
            raise ValueError(
                "fit needs at least one session of two or more clicks; the input holds "
                "none.")
        index = IdIndex(parsed.items, "item")
        self.item_ids_ = index.ids
        self.n_items_ = len(index)
        self.n_sessions_ = len(parsed)
        data = EncodedSessions(index.fit_transform(parsed.items), parsed.offsets,
                               self.n_items_, parsed.times)
        self._fit_sessions(data)
        return self

    def _encode_prefixes(self, sessions, context):
        prefixes = parse_prefixes(sessions, context)
        index = IdIndex(self.item_ids_, "item", sorted_unique=True)
        encoded = []
        for s, seq in enumerate(prefixes):
            raw = _check_ids(np.asarray(seq, dtype=object) if len(seq) else
                             np.empty(0, self.item_ids_.dtype), "item")
            codes = index.transform(raw) if len(raw) else np.empty(0, np.int64)
            codes = codes[codes >= 0]  # unknown items are skipped (documented)
            if len(codes) == 0:
                raise ValueError(
                    f"{context}: session {s} has no item the model was trained on "
                    f"({list(seq)[:5]!r}...), so there is nothing to predict from.")
            encoded.append(codes)
        return encoded

    def recommend(self, sessions, n=20, *, exclude_seen=False):
        """The ``n`` most likely next items of each session prefix.

        Parameters
        ----------
        sessions : list of sequences of item ids
            Session prefixes, oldest click first.  Items the model was not
            trained on are skipped.
        n : int, default=20
        exclude_seen : bool, default=False
            Leave out the items of the prefix (repeat clicks are common in
            sessions, so they are kept by default).

        Returns
        -------
        items : ndarray of shape (n_sessions, n)
            Raw item ids, best first.
        scores : ndarray of float64 of shape (n_sessions, n)
        """
        check_is_fitted(self, "item_ids_")
        encoded = self._encode_prefixes(sessions, "recommend")
        n = _check_n(n, self.n_items_, "items")
        if exclude_seen:
            worst = max(len(np.unique(p)) for p in encoded)
            if self.n_items_ - worst < n:
                raise ValueError(
                    f"n={n} but a prefix has {worst} distinct items of the model's "
                    f"{self.n_items_}; lower n or pass exclude_seen=False.")
        top = np.empty((len(encoded), n), dtype=np.int64)
        scores = np.empty((len(encoded), n))
        block = max(1, _SCORE_BLOCK // self.n_items_)
        for start in range(0, len(encoded), block):
            chunk = encoded[start:start + block]
            pred = np.array(self._score_prefixes(chunk), dtype=np.float64, copy=True)
            if exclude_seen:
                for r, p in enumerate(chunk):
                    pred[r, p] = -np.inf
            best = _top_n(pred, n)
            top[start:start + block] = best
            scores[start:start + block] = np.take_along_axis(pred, best, axis=1)
        return self.item_ids_[top], scores

    def _score_positions(self, sessions):
        """Scores after each click but the last of every session, stacked.

        ``sessions`` is a list of encoded item arrays; the result has
        ``sum(len(s) - 1)`` rows, session after session (row ``t - 1`` of a
        session: the scores after its first ``t`` clicks).  Recurrent models
        override this to run each session once.
        """
        return self._score_prefixes([s[:t] for s in sessions for t in range(1, len(s))])

    def score(self, X, y=None):
        """Recall@20 of next-item prediction at every position of the sessions ``X``.

        See :func:`sklearn_autorec.metrics.session_report`.
        """
        from .metrics import session_report

        return session_report(self, X, k=20, metrics=("recall",))["recall@20"]


class SessionPopularityRecommender(SessionRecommenderBase):
    """Recommend the most clicked items, whatever the session: the floor of the task.

    Examples
    --------
    >>> from sklearn_autorec import SessionPopularityRecommender
    >>> model = SessionPopularityRecommender().fit([[1, 2, 3], [2, 3], [3, 1]])
    >>> model.recommend([[1]], n=2)
    (array([[3, 1]]), array([[3., 2.]]))
    """

    def _fit_sessions(self, data):
        self.item_popularity_ = np.bincount(data.items, minlength=data.n_items).astype(
            np.float64)

    def _score_prefixes(self, prefixes):
        return np.broadcast_to(self.item_popularity_, (len(prefixes), self.n_items_))


class ItemTransitionRecommender(SessionRecommenderBase):
    """Recommend the items that most often followed the session's last item.

    The score of item ``j`` after a prefix ending in ``i`` is the number of
    training clicks on ``j`` directly after a click on ``i``; ties (and items
    never seen after ``i``) are broken by popularity: ``transitions + popularity
    / (1 + n_clicks)``, a fraction that never outweighs one transition.  The
    counts are a sparse ``n_items x n_items`` matrix (``O(n_clicks)``).

    Attributes
    ----------
    transitions_ : scipy.sparse.csr_matrix of shape ``(n_items_, n_items_)``
    item_popularity_ : ndarray of shape ``(n_items_,)``

    Examples
    --------
    >>> from sklearn_autorec import ItemTransitionRecommender
    >>> model = ItemTransitionRecommender().fit([[1, 2, 3], [1, 2], [2, 3], [3, 1]])
    >>> model.recommend([[4, 1], [2]], n=1)[0]   # item 4 is unknown: skipped
    array([[2],
           [3]])
    """

    def _fit_sessions(self, data):
        import scipy.sparse as sp

        starts = np.ones(len(data.items), dtype=bool)
        starts[data.offsets[:-1]] = False  # the first click of a session has no predecessor
        idx = np.flatnonzero(starts)
        self.transitions_ = sp.csr_matrix(
            (np.ones(len(idx)), (data.items[idx - 1], data.items[idx])),
            shape=(data.n_items, data.n_items))
        self.transitions_.sum_duplicates()
        self.item_popularity_ = np.bincount(data.items, minlength=data.n_items).astype(
            np.float64)

    def _score_prefixes(self, prefixes):
        last = np.array([p[-1] for p in prefixes])
        tie_break = self.item_popularity_ / (1.0 + self.item_popularity_.sum())
        return self.transitions_[last].toarray() + tie_break


def _as_output(like, parsed, keep_clicks):
    """Clicks of ``parsed`` where ``keep_clicks``, in the form of the input ``like``."""
    session = np.repeat(parsed.session_ids, parsed.lengths())[keep_clicks]
    items, times = parsed.items[keep_clicks], parsed.times[keep_clicks]
    if hasattr(like, "iloc"):
        import pandas as pd

        return pd.DataFrame({"session_id": session, "item_id": items, "timestamp": times})
    if session.dtype.kind == "U" or items.dtype.kind == "U":
        out = np.empty((len(items), 3), dtype=object)
        out[:, 0], out[:, 1], out[:, 2] = session, items, times
        return out
    return np.column_stack([session, items, times]).astype(np.float64)


def session_time_split(X, test_days=1.0, *, unseen_items="drop"):
    """Split sessions by time: those ending in the last ``test_days`` days are the test.

    The protocol of GRU4Rec (Hidasi et al. 2016) and of the session-rec
    framework: a session is a test session when its last click is within
    ``test_days * 86400`` seconds of the last click of the data; the other
    sessions are the training set.  With ``unseen_items="drop"`` the test
    clicks on items that have no training click are removed (no model can
    predict them), and test sessions left with fewer than two clicks are
    dropped; the counts are returned.

    Parameters
    ----------
    X : DataFrame with a ``timestamp`` column, or array of shape (n_clicks, 3)
        Clicks ``(session_id, item_id, timestamp)``; timestamps in seconds.
    test_days : float, default=1.0
    unseen_items : {"drop", "keep"}, default="drop"

    Returns
    -------
    train, test : DataFrame or ndarray of shape (n, 3)
        Clicks in the form of ``X`` (arrays are float64, or object with string
        ids), grouped by session in time order.
    info : dict
        ``n_dropped_clicks`` and ``n_dropped_sessions`` of the test part.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_autorec.model_selection import session_time_split
    >>> day = 86400
    >>> clicks = np.array([[1, 10, 0], [1, 11, 60], [2, 10, 3 * day], [2, 12, 3 * day + 5],
    ...                    [2, 11, 3 * day + 9]])
    >>> train, test, info = session_time_split(clicks, test_days=1)
    >>> test[:, 1]   # item 12 never clicked in training: dropped
    array([10., 11.])
    >>> info
    {'n_dropped_clicks': 1, 'n_dropped_sessions': 0}
    """
    _check_time_split(test_days, unseen_items)
    parsed = _parse_timed(X, "session_time_split")
    ends = _session_ends(parsed)
    is_test = ends >= parsed.times.max() - float(test_days) * 86400.0
    if is_test.all() or not is_test.any():
        raise ValueError(
            f"test_days={test_days} puts {'every' if is_test.all() else 'no'} session in "
            "the test set; choose a value that leaves sessions on both sides.")
    train_click, keep, info = _time_split_masks(parsed, ~is_test, is_test, unseen_items)
    return _as_output(X, parsed, train_click), _as_output(X, parsed, keep), info


def _check_time_split(test_days, unseen_items):
    if unseen_items not in ("drop", "keep"):
        raise ValueError(f"unseen_items must be 'drop' or 'keep'; got {unseen_items!r}.")
    if (isinstance(test_days, bool)
            or not isinstance(test_days, (int, float, np.integer, np.floating))
            or not np.isfinite(test_days) or test_days <= 0):
        raise ValueError(f"test_days must be a positive number; got {test_days!r}.")


def _parse_timed(X, context):
    if isinstance(X, (list, tuple)):
        raise ValueError(
            f"{context} splits clicks by time: pass a DataFrame with a 'timestamp' column "
            "or an array of (session_id, item_id, timestamp) clicks, not a list of "
            "sequences.")
    parsed = parse_sessions(X, context=context)
    if parsed.times is None:
        raise ValueError(
            f"{context} needs timestamps: a 'timestamp' column or a third "
            "column of (session_id, item_id, timestamp) clicks.")
    return parsed


def _session_ends(parsed):
    """The time of each session's last click."""
    if not len(parsed):
        return np.empty(0)
    return np.maximum.reduceat(np.asarray(parsed.times, dtype=np.float64), parsed.offsets[:-1])


def _time_split_masks(parsed, is_train, is_test, unseen_items):
    """Click masks (training clicks, kept test clicks) and the drop counts.

    ``is_train`` and ``is_test`` are per session; with ``unseen_items="drop"``
    test clicks on items without a training click are removed, then test
    sessions left with fewer than two clicks.
    """
    lengths = parsed.lengths()
    train_click = np.repeat(is_train, lengths)
    keep = np.repeat(is_test, lengths)
    n_dropped_clicks = n_dropped_sessions = 0
    if unseen_items == "drop":
        trained = sort_unique(parsed.items[train_click])
        if len(trained):
            pos = np.minimum(np.searchsorted(trained, parsed.items), len(trained) - 1)
            known = trained[pos] == parsed.items
        else:
            known = np.zeros(len(parsed.items), dtype=bool)
        n_dropped_clicks = int((keep & ~known).sum())
        keep &= known
        session_of = np.repeat(np.arange(len(parsed)), lengths)
        left = np.bincount(session_of[keep], minlength=len(parsed))
        short = is_test & (left < 2)
        n_dropped_sessions = int(short.sum())
        keep &= ~np.repeat(short, lengths)
    return train_click, keep, {"n_dropped_clicks": n_dropped_clicks,
                               "n_dropped_sessions": n_dropped_sessions}


class SessionTimeSplit(BaseCrossValidator):
    """Time-based cross-validation of sessions: test windows of the last days.

    The splitter form of :func:`session_time_split`, for ``GridSearchCV`` and
    ``cross_validate``: with ``n_splits=1`` the test fold is the sessions whose
    last click is within ``test_days`` days of the data's last click and the
    training fold every other session, as in :func:`session_time_split`.  With
    ``n_splits > 1`` the folds walk back in time (oldest fold first, like
    :class:`~sklearn.model_selection.TimeSeriesSplit`): fold ``j`` tests the
    sessions ending in the ``j``-th window of ``test_days`` days before the
    end and trains on the sessions that ended before that window, never on
    later ones.  Test clicks on items without a training click are removed
    with ``unseen_items="drop"``, then test sessions left with fewer than two
    clicks.  Indices are rows of ``X`` (a DataFrame with a ``timestamp``
    column or an array of ``(session_id, item_id, timestamp)`` clicks).

    Parameters
    ----------
    n_splits : int, default=1
        Number of test windows.
    test_days : float, default=1.0
        Length of a test window, in days (timestamps are seconds).
    unseen_items : {"drop", "keep"}, default="drop"

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.model_selection import GridSearchCV
    >>> from sklearn_autorec import GRU4RecRecommender
    >>> from sklearn_autorec.model_selection import SessionTimeSplit
    >>> rng = np.random.default_rng(0)
    >>> clicks = [(s, (s + t) % 7, 3600.0 * s + t) for s in range(60) for t in range(4)]
    >>> search = GridSearchCV(
    ...     GRU4RecRecommender(max_iter=2, early_stopping=False, n_sample=4,
    ...                        random_state=0),
    ...     {"learning_rate": [0.005, 0.05]}, cv=SessionTimeSplit(test_days=0.5),
    ... ).fit(np.array(clicks))
    >>> sorted(search.best_params_)
    ['learning_rate']
    """

    def __init__(self, n_splits=1, *, test_days=1.0, unseen_items="drop"):
        self.n_splits = n_splits
        self.test_days = test_days
        self.unseen_items = unseen_items

    def get_n_splits(self, X=None, y=None, groups=None):
        """The number of folds, ``n_splits``."""
        self._check()
        return int(self.n_splits)

    def _check(self):
        if (isinstance(self.n_splits, bool) or not isinstance(self.n_splits, (int, np.integer))
                or self.n_splits < 1):
            raise ValueError(f"n_splits must be a positive int; got {self.n_splits!r}.")
        _check_time_split(self.test_days, self.unseen_items)

    def split(self, X, y=None, groups=None):
        """Row indices ``(train, test)`` of each fold, oldest fold first."""
        self._check()
        parsed = _parse_timed(X, "SessionTimeSplit")
        ends = _session_ends(parsed)
        last, width = parsed.times.max(), float(self.test_days) * 86400.0
        for j in reversed(range(int(self.n_splits))):
            hi, lo = last - j * width, last - (j + 1) * width
            is_test = (ends >= lo) & ((ends < hi) if j else (ends <= hi))
            is_train = ends < lo
            if not is_test.any() or not is_train.any():
                raise ValueError(
                    f"SessionTimeSplit(n_splits={self.n_splits}, test_days={self.test_days})"
                    f": fold {int(self.n_splits) - j} has "
                    f"{'no test session' if not is_test.any() else 'no training session'}"
                    "; lower n_splits or change test_days.")
            train_click, keep, _ = _time_split_masks(parsed, is_train, is_test,
                                                     self.unseen_items)
            if not keep.any():
                raise ValueError(
                    f"SessionTimeSplit: fold {int(self.n_splits) - j} keeps no test session "
                    "of two or more clicks on items with training clicks; change test_days.")
            yield np.sort(parsed.rows[train_click]), np.sort(parsed.rows[keep])
