"""The shared base of the top-N recommenders: contract, ranking, fold-in, scoring.

Every ``...Recommender`` of the top-N task derives from :class:`RecommenderBase`
and implements only

* ``_fit_encoded(data)``: train on :class:`EncodedInteractions`;
* ``_score_users(users)``: the scores of a block of encoded training users for
  every item, shape ``(len(users), n_items_)``;
* ``_score_new(rows)``: the scores, for every item, of users given by their
  interactions alone (a CSR matrix with ``n_items_`` columns): fold-in.  A
  model without it (one learned vector per user) has no ``recommend_new``;

and, where the model has item vectors, ``_item_vectors()`` (for
:meth:`similar_items`).  Parsing, id encoding, duplicate and bad-input errors,
the training items excluded by ``recommend``, blocked top-n selection, fold-in
input and ``score`` live here, once.
"""

from numbers import Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from ._base import _SCORE_BLOCK, _check_n, _top_n, cosine_neighbours
from ._data import IdIndex, _check_ids, describe_id
from ._interactions import parse_interactions

__all__ = ["RecommenderBase", "EncodedInteractions", "top_items"]


class EncodedInteractions:
    """Training interactions with users and items encoded as ``0..n-1``.

    Attributes
    ----------
    csr : scipy.sparse.csr_matrix of float64, shape (n_users, n_items)
        One row per user; stored values are the weights (sorted indices).
    n_below_threshold : int
        Interactions left out by ``positive_threshold``.
    """

    def __init__(self, csr, n_below_threshold=0):
        self.csr = csr
        self.n_below_threshold = n_below_threshold

    @property
    def n_users(self):
        return self.csr.shape[0]

    @property
    def n_items(self):
        return self.csr.shape[1]

    def __len__(self):
        return self.csr.nnz


def top_items(score_block, n_rows, n_items, n, seen=None, *, pad=False):
    """The ``n`` best items of ``n_rows`` rows, scored a block at a time.

    Parameters
    ----------
    score_block : callable
        ``score_block(rows)`` -> float array of shape ``(len(rows), n_items)``.
    seen : tuple (indptr, indices) or None
        CSR structure (one row per row scored) of the items to exclude.
    pad : bool
        When a row has fewer than ``n`` candidates, pad it with item ``-1`` and
        score ``-inf`` (for metrics); the public methods check ``n`` first.

    Returns
    -------
    top : ndarray of int64, shape (n_rows, n)
    scores : ndarray of float64, shape (n_rows, n)
    """
    top = np.empty((n_rows, n), dtype=np.int64)
    scores = np.empty((n_rows, n))
    block = max(1, _SCORE_BLOCK // max(n_items, 1))
    for start in range(0, n_rows, block):
        rows = np.arange(start, min(start + block, n_rows))
        pred = np.array(score_block(rows), dtype=np.float64, copy=True)
        if seen is not None:
            indptr, indices = seen
            lo, hi = indptr[rows], indptr[rows + 1]
            # the rows are consecutive, so their items are one slice
            pred[np.repeat(np.arange(len(rows)), hi - lo), indices[lo[0]:hi[-1]]] = -np.inf
        best = _top_n(pred, n)
        top[rows] = best
        scores[rows] = np.take_along_axis(pred, best, axis=1)
    if pad:
        top[np.isneginf(scores)] = -1
    return top, scores


def _has_fold_in(estimator):
    """``available_if`` check of ``recommend_new``: models without ``_score_new``."""
    if not hasattr(estimator, "_score_new"):
        raise AttributeError(
            f"{type(estimator).__name__} learns one vector per training user, so it "
            "cannot score a user from interactions alone (no fold-in, no recommend_new); "
            "refit including the new users, or use a model with fold-in "
            "(MultVAERecommender, MultDAERecommender, EASERecommender, "
            "ImplicitMFRecommender).")
    return True


def _has_item_vectors(estimator):
    """``available_if`` check of ``similar_items``."""
    if type(estimator)._item_vectors is RecommenderBase._item_vectors:
        raise AttributeError(
            f"{type(estimator).__name__} has no item vectors, so it has no "
            "similar_items.")
    return True


class RecommenderBase(BaseEstimator):
    """Base class of the top-N recommenders; not for direct use.

    Subclasses declare the parameter ``positive_threshold`` and implement
    ``_fit_encoded``, ``_score_users`` and ``_score_new`` (see the module
    docstring).

    Fitting stores the id maps (``user_ids_``, ``item_ids_``) and the training
    interactions of each user (``seen_indptr_``, ``seen_indices_``,
    ``seen_weights_``: the training interactions by user, in CSR form), which
    :meth:`recommend` excludes and the models that score a user from its
    interactions read.
    """

    _parameter_constraints = {"positive_threshold": [Real, None]}

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.input_tags.string = True
        tags.target_tags.required = False
        return tags

    # ------------------------------------------------------------------ fit
    def _encode_training_data(self, X, y):
        """Validate training input, store the id maps, return EncodedInteractions."""
        parsed = parse_interactions(X, y, positive_threshold=self.positive_threshold,
                                    context="fit")
        if len(parsed) == 0:
            extra = (f" ({parsed.n_below_threshold} interactions were below "
                     f"positive_threshold={self.positive_threshold!r})"
                     if parsed.n_below_threshold else "")
            raise ValueError(
                "fit needs at least one positive interaction; the input holds none"
                f"{extra}.")
        user_index = IdIndex(parsed.users, "user")
        item_index = IdIndex(parsed.items, "item")
        users = user_index.fit_transform(parsed.users)
        items = item_index.fit_transform(parsed.items)
        csr = sp.csr_matrix((parsed.weights, (users, items)),
                            shape=(len(user_index), len(item_index)))
        csr.sort_indices()
        self.user_ids_ = user_index.ids
        self.item_ids_ = item_index.ids
        self.n_users_ = len(user_index)
        self.n_items_ = len(item_index)
        self.matrix_shape_ = parsed.shape
        if parsed.is_matrix:
            self.__dict__.pop("n_features_in_", None)
        else:
            self.n_features_in_ = 2
        self.n_below_threshold_ = parsed.n_below_threshold
        self.seen_indptr_ = csr.indptr.astype(np.int64)
        self.seen_indices_ = csr.indices.astype(np.int32)
        self.seen_weights_ = csr.data.copy()
        return EncodedInteractions(csr, parsed.n_below_threshold)

    def fit(self, X, y=None):
        """Fit the recommender on interactions.

        Parameters
        ----------
        X : scipy sparse matrix of shape (n_users, n_items), or array-like of shape (n_samples, 2)
            Either a matrix whose stored entries are the interactions (row =
            user id, column = item id, value = weight), or ``(user_id,
            item_id)`` pairs (ints or strings; ndarray, list or DataFrame).
        y : array-like of shape (n_samples,), default=None
            Weights of the pairs (every pair weighs 1 when None), or their
            ratings with ``positive_threshold``.  Must be None with a matrix.

        Returns
        -------
        self : object
            The fitted recommender.
        """
        self._validate_params()
        self._fit_encoded(self._encode_training_data(X, y))
        return self

    # ------------------------------------------------------------- encoding
    def _id_index(self, what):
        return IdIndex(self.user_ids_ if what == "user" else self.item_ids_, what,
                       sorted_unique=True)

    def _encode_ids(self, ids, what):
        """Raw ids (a scalar or a 1-d sequence) -> (raw ndarray, encoded, scalar)."""
        scalar = np.ndim(ids) == 0
        raw = _check_ids(np.atleast_1d(np.asarray(ids)), what)
        return raw, self._id_index(what).transform(raw), scalar

    def _check_query_matrix(self, shape, context):
        if self.matrix_shape_ is None and self.user_ids_.dtype.kind != "i":
            raise TypeError(
                f"{context}: the model was fitted on (user, item) pairs with string "
                "ids, so a matrix (whose rows and columns are integer ids) cannot be "
                "matched to it; pass (user_id, item_id) pairs instead.")
        if self.matrix_shape_ is not None and shape[1] != self.matrix_shape_[1]:
            raise ValueError(
                f"{context}: the matrix has {shape[1]} columns but the model was "
                f"fitted on a matrix of {self.matrix_shape_[1]} columns (item ids); "
                "build it with the training matrix's number of columns, or pass "
                "(user_id, item_id) pairs.")

    def encode_interactions(self, X, y=None, *, context="score", encode_users=True):
        """Encode interactions against the fitted ids.

        Returns
        -------
        parsed : Interactions
            The kept interactions (``positive_threshold`` applied).
        users, items : ndarray of int64
            Encoded ids, ``-1`` where the training data did not have the id
            (``users`` is None with ``encode_users=False``: new users' ids need
            not be of the training users' type).
        """
        check_is_fitted(self, "user_ids_")
        parsed = parse_interactions(X, y, positive_threshold=self.positive_threshold,
                                    context=context)
        if parsed.is_matrix:
            self._check_query_matrix(parsed.shape, context)
        users = self._id_index("user").transform(parsed.users) if encode_users else None
        return parsed, users, self._id_index("item").transform(parsed.items)

    # --------------------------------------------------------------- scores
    # Subclasses define _score_users(users) and, with fold-in, _score_new(rows).

    def _item_vectors(self):
        """Item vectors compared by :meth:`similar_items` (None: no such method)."""
        return None

    def _user_rows(self, users):
        """CSR (one row per encoded user of ``users``) of their training weights."""
        indptr = self.seen_indptr_
        lo, hi = indptr[users], indptr[users + 1]
        take = (np.concatenate([np.arange(a, b) for a, b in zip(lo, hi)])
                if len(users) else np.empty(0, np.int64))
        return sp.csr_matrix(
            (self.seen_weights_[take], self.seen_indices_[take],
             np.concatenate([[0], np.cumsum(hi - lo)])), shape=(len(users), self.n_items_))

    def predict(self, X):
        """Score (user, item) pairs: the values :meth:`recommend` ranks by.

        Parameters
        ----------
        X : scipy sparse matrix of shape (n_users, n_items), or array-like of shape (n_samples, 2)
            A matrix whose stored entries mark the pairs to score (values
            ignored), or ``(user_id, item_id)`` pairs.  Every user and item must
            have training interactions (score new users with
            :meth:`recommend_new`).

        Returns
        -------
        scores : ndarray of shape (n_samples,), or CSR matrix
            One score per pair (larger is better); for a matrix, a CSR matrix of
            its shape and pattern.
        """
        check_is_fitted(self, "user_ids_")
        parsed = parse_interactions(X, None, context="predict")
        if parsed.is_matrix:
            self._check_query_matrix(parsed.shape, "predict")
        users = self._id_index("user").transform(parsed.users)
        items = self._id_index("item").transform(parsed.items)
        for codes, raw, what in ((users, parsed.users, "user"),
                                 (items, parsed.items, "item")):
            if (codes < 0).any():
                k = int(np.flatnonzero(codes < 0)[0])
                raise ValueError(
                    f"predict: {int((codes < 0).sum())} of the {len(codes)} pairs have a "
                    f"{what} without training interactions (first: {what} "
                    f"{describe_id(raw, k)}); the model has no score for it. Score "
                    "new users from their interactions with recommend_new.")
        scores = self._score_pairs(users, items)
        if not parsed.is_matrix:
            return scores
        cls = sp.csr_array if parsed.sparse_array else sp.csr_matrix
        out = cls((scores, (parsed.users, parsed.items)), shape=parsed.shape)
        out.sort_indices()
        return out

    def _score_pairs(self, users, items):
        """Scores of encoded pairs: each distinct user scored once, in blocks."""
        out = np.empty(len(users))
        uniq, inverse = np.unique(users, return_inverse=True)
        block = max(1, _SCORE_BLOCK // self.n_items_)
        for start in range(0, len(uniq), block):
            sel = (inverse >= start) & (inverse < start + block)
            scores = np.asarray(self._score_users(uniq[start:start + block]))
            out[sel] = scores[inverse[sel] - start, items[sel]]
        return out

    # ------------------------------------------------------------ recommend
    def recommend(self, users, n=10, *, exclude_seen=True):
        """Recommend to each user the ``n`` items of highest score.

        Users are scored a block at a time (``O(n_items_ * block)`` memory, no
        users x items matrix) and the best ``n`` of each row are selected with
        ``np.argpartition``.

        Parameters
        ----------
        users : user id or array-like of user ids
            Raw ids of users with training interactions (new users:
            :meth:`recommend_new`).
        n : int, default=10
            Items per user; a ``ValueError`` when a user has fewer candidate
            items (never a silently shorter answer).
        exclude_seen : bool, default=True
            Leave out each user's training items.

        Returns
        -------
        items : ndarray of shape (n_users, n), or (n,) for a single user id
            Raw item ids, best first.
        scores : ndarray of float64 of the same shape
            Their scores (those of :meth:`predict`), non-increasing along rows.
        """
        check_is_fitted(self, "user_ids_")
        raw, users, scalar = self._encode_ids(users, "user")
        if (users < 0).any():
            k = int(np.flatnonzero(users < 0)[0])
            raise ValueError(
                f"{int((users < 0).sum())} of the {len(users)} users have no training "
                f"interactions (first: user {describe_id(raw, k)}); recommend to them "
                "from their interactions with recommend_new(X_new).")
        n = _check_n(n, self.n_items_, "items")
        seen = None
        if exclude_seen:
            n_seen = self.seen_indptr_[users + 1] - self.seen_indptr_[users]
            self._check_candidates(n, n_seen, raw)
            rows = self._user_rows(users)
            seen = (rows.indptr, rows.indices)
        top, scores = top_items(lambda rows: self._score_users(users[rows]),
                                len(users), self.n_items_, n, seen)
        items = self.item_ids_[top]
        return (items[0], scores[0]) if scalar else (items, scores)

    def _check_candidates(self, n, n_seen, raw):
        if len(n_seen) and self.n_items_ - int(n_seen.max()) < n:
            k = int(np.argmax(n_seen))
            raise ValueError(
                f"n={n} but user {describe_id(raw, k)} has only "
                f"{self.n_items_ - int(n_seen[k])} items of the model's {self.n_items_} "
                "it has not interacted with; lower n or pass exclude_seen=False.")

    def _new_rows(self, X, y, context, unknown_items="raise", allow_empty=False):
        """New users' interactions -> (user ids, CSR over the model's items).

        Users (matrix rows) without interactions raise unless ``allow_empty``.
        """
        parsed, _, items = self.encode_interactions(X, y, context=context,
                                                    encode_users=False)
        if parsed.is_matrix:
            ids = np.arange(parsed.shape[0], dtype=np.int64)
            rows = parsed.users
        else:
            index = IdIndex(parsed.users, "user")
            ids, rows = index.ids, index.fit_transform(parsed.users)
        unknown = items < 0
        if unknown.any() and unknown_items == "raise":
            k = int(np.flatnonzero(unknown)[0])
            raise ValueError(
                f"{context}: {int(unknown.sum())} of the {len(items)} interactions are "
                f"with items the model was not trained on (first: item "
                f"{describe_id(parsed.items, k)}); the model has no input for them. "
                "Pass unknown_items='ignore' to leave them out.")
        keep = ~unknown
        csr = sp.csr_matrix((parsed.weights[keep], (rows[keep], items[keep])),
                            shape=(len(ids), self.n_items_))
        csr.sort_indices()
        empty = np.diff(csr.indptr) == 0
        if empty.any() and not allow_empty:
            k = int(np.flatnonzero(empty)[0])
            raise ValueError(
                f"{context}: user {describe_id(ids, k)} has no interaction with the "
                "model's items, so there is nothing to fold in; pass only users with "
                "interactions (with a matrix, only their rows).")
        return ids, csr

    @available_if(_has_fold_in)
    def recommend_new(self, X, y=None, *, n=10, exclude_seen=True, unknown_items="raise"):
        """Recommend to users from their interactions alone (fold-in), without refitting.

        The model's scores for a user computed from the given interactions,
        whatever it learned about that user id in training (if anything): a
        new user, or a known user's fresh history.

        Parameters
        ----------
        X : scipy sparse matrix of shape (n_new, n_items), or array-like of shape (n_samples, 2)
            The new users' interactions, in the form ``fit`` takes: a matrix
            whose columns are the training item ids (each row a user), or
            ``(user_id, item_id)`` pairs (any user ids).
        y : array-like of shape (n_samples,), default=None
            Weights or ratings of the pairs, as in ``fit``.
        n : int, default=10
            Items per user.
        exclude_seen : bool, default=True
            Leave out the items in ``X``.
        unknown_items : {"raise", "ignore"}, default="raise"
            What to do with interactions with items the model was not trained
            on: raise a ``ValueError``, or leave them out.

        Returns
        -------
        users : ndarray
            The users, in order: the sorted unique user ids of the pairs, or the
            row indices ``0..n_new_users-1`` of the matrix.
        items : ndarray of shape (n_users, n)
            Raw item ids, best first.
        scores : ndarray of float64 of shape (n_users, n)
        """
        if unknown_items not in ("raise", "ignore"):
            raise ValueError(
                f"unknown_items must be 'raise' or 'ignore'; got {unknown_items!r}.")
        ids, csr = self._new_rows(X, y, "recommend_new", unknown_items)
        n = _check_n(n, self.n_items_, "items")
        seen = None
        if exclude_seen:
            self._check_candidates(n, np.diff(csr.indptr), ids)
            seen = (csr.indptr, csr.indices)
        top, scores = top_items(lambda rows: self._score_new(csr[rows]),
                                len(ids), self.n_items_, n, seen)
        return ids, self.item_ids_[top], scores

    def score(self, X, y=None):
        """NDCG@100 of the recommendations against held-out interactions.

        Each user of ``X`` gets the model's full ranking of the items it did not
        interact with in training; ``X`` holds its relevant items.  The
        definition and the other metrics: :mod:`sklearn_autorec.metrics`.

        Parameters
        ----------
        X : scipy sparse matrix or array-like of shape (n_samples, 2)
            Held-out interactions of users with training interactions.
        y : array-like of shape (n_samples,), default=None
            Their weights or ratings (``positive_threshold`` applies).

        Returns
        -------
        score : float
            Mean NDCG@100 over the users of ``X``.
        """
        from .metrics import ranking_report

        return ranking_report(self, X, y, k=100, metrics=("ndcg",))["ndcg@100"]

    @available_if(_has_item_vectors)
    def similar_items(self, items, n=10):
        """The ``n`` items whose vectors are closest (cosine) to each given item.

        Parameters
        ----------
        items : item id or array-like of item ids
        n : int, default=10

        Returns
        -------
        similar : ndarray of shape (n_queries, n), or (n,) for one id
            Raw item ids, most similar first; never the item itself.
        similarities : ndarray of float64 of the same shape
            Cosine similarities in ``[-1, 1]``.
        """
        check_is_fitted(self, "item_ids_")
        raw, queries, scalar = self._encode_ids(items, "item")
        if (queries < 0).any():
            k = int(np.flatnonzero(queries < 0)[0])
            raise ValueError(
                f"Item {describe_id(raw, k)} has no training interactions, so the "
                "model has no vector for it; ask only for items in item_ids_.")
        n = _check_n(n, self.n_items_ - 1, "other items")
        top, sims = cosine_neighbours(self._item_vectors(), queries, n)
        similar = self.item_ids_[top]
        return (similar[0], sims[0]) if scalar else (similar, sims)


class ValidationSet:
    """Held-out interactions of some training users, for early stopping and tuning.

    Built by :func:`validation_holdout`.  ``users`` are encoded training users;
    row ``j`` of ``heldout`` holds the held-out items of ``users[j]``, and
    ``inputs`` (the rows of the training part) what the model sees of them.
    """

    def __init__(self, users, inputs, heldout):
        self.users, self.inputs, self.heldout = users, inputs, heldout

    def __len__(self):
        return len(self.users)

    def score(self, score_block, k=100, metric="ndcg"):
        """Mean ``metric@k``, ranking each user's items less its training items.

        ``score_block(rows)`` returns the scores of ``users[rows]`` for all items.
        """
        from .metrics import evaluate_blocks

        return evaluate_blocks(score_block, self.heldout.shape[1],
                               (self.inputs.indptr, self.inputs.indices), self.heldout,
                               np.diff(self.heldout.indptr), (k,), (metric,))[
                                   f"{metric}@{k}"]


def validation_holdout(csr, fraction, random_state, max_users=None):
    """Hold out a random ``fraction`` of each user's interactions for validation.

    Every user with at least two interactions (at most ``max_users`` of them,
    drawn at random, when given) gives ``round(fraction * n_u)`` of its
    interactions, at least one and always leaving one in training.

    Returns
    -------
    train : CSR of the shape of ``csr``
        The interactions not held out.
    validation : ValidationSet
    """
    rng = np.random.default_rng(random_state)
    counts = np.diff(csr.indptr)
    users = np.flatnonzero(counts >= 2)
    if max_users is not None and len(users) > max_users:
        users = np.sort(rng.choice(users, size=max_users, replace=False))
    n_out = np.clip(np.round(fraction * counts[users]).astype(np.int64), 1,
                    counts[users] - 1)
    # a random rank for every entry; within a user, the n_out smallest go out
    held = np.zeros(csr.nnz, dtype=bool)
    keys = rng.random(csr.nnz)
    for u, m in zip(users, n_out):
        lo, hi = csr.indptr[u], csr.indptr[u + 1]
        held[lo + np.argpartition(keys[lo:hi], m - 1)[:m]] = True
    coo_rows = np.repeat(np.arange(csr.shape[0]), counts)
    train = sp.csr_matrix((csr.data[~held], (coo_rows[~held], csr.indices[~held])),
                          shape=csr.shape)
    train.sort_indices()
    heldout = sp.csr_matrix((csr.data[held], (coo_rows[held], csr.indices[held])),
                            shape=csr.shape)[users]
    heldout.sort_indices()
    return train, ValidationSet(users, train[users], heldout)
