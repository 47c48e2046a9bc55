"""The shared estimator base: data contract, unknown-id policy and clipping.

Every estimator of the package derives from :class:`RatingRegressorBase` and
implements only ``_fit_encoded`` (train on encoded ratings) and
``_predict_encoded`` (predict pairs of known, encoded ids), plus, for speed,
``_score_items`` (one user's predictions for all items) and ``_item_vectors``
(the item representation behind ``similar_items``).  Input parsing, id
encoding, duplicate detection, the fallback for unknown users/items, clipping,
output forms, scoring and top-n recommending live here, once.
"""

from numbers import Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.metrics import r2_score
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from ._biases import fit_biases
from ._data import IdIndex, _check_ids, describe_id, find_duplicate, parse_ratings

__all__ = ["RatingRegressorBase", "EncodedRatings"]

# Regularisation of the fallback biases (Surprise's BaselineOnly defaults).
FALLBACK_USER_ALPHA = 15.0
FALLBACK_ITEM_ALPHA = 10.0
# recommend / similar_items score blocks of at most this many (row, item) cells
# at once (8 MiB of float64), so their memory is O(n_items * rows per block).
_SCORE_BLOCK = 1 << 20


def _top_n(scores, n):
    """Columns of the ``n`` largest scores of each row, best first.

    ``np.argpartition`` selects them in ``O(n_columns)`` per row; only those
    ``n`` are sorted (by decreasing score, then increasing column).
    """
    if n < scores.shape[1]:
        top = np.argpartition(-scores, n - 1, axis=1)[:, :n]
    else:
        top = np.broadcast_to(np.arange(scores.shape[1]), scores.shape)
    values = np.take_along_axis(scores, top, axis=1)
    order = np.lexsort((top, -values), axis=-1)
    return np.take_along_axis(top, order, axis=1)


def cosine_neighbours(vectors, queries, n):
    """The ``n`` rows of ``vectors`` of highest cosine to each row ``queries``.

    The query itself is left out; a zero vector has cosine 0 to every row.
    Computed one block of queries at a time (``O(n_rows * block)`` memory).
    Returns ``(top, similarities)``: row indices, best first, and their cosines
    clipped to ``[-1, 1]``.
    """
    vectors = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=1)
    unit = vectors / np.where(norms > 0, norms, 1.0)[:, None]
    top = np.empty((len(queries), n), dtype=np.int64)
    sims = np.empty((len(queries), n))
    block = max(1, _SCORE_BLOCK // max(len(vectors), 1))
    for start in range(0, len(queries), block):
        q = queries[start:start + block]
        cos = unit[q] @ unit.T
        cos[np.arange(len(q)), q] = -np.inf
        best = _top_n(cos, n)
        top[start:start + block] = best
        sims[start:start + block] = np.take_along_axis(cos, best, axis=1)
    np.clip(sims, -1.0, 1.0, out=sims)
    return top, sims


def _check_n(n, limit, what):
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive int; got {n!r}.")
    if n > limit:
        raise ValueError(
            f"n={n} but the model has only {limit} {what}; ask for at most {limit}.")
    return int(n)


def _has_item_vectors(estimator):
    """``available_if`` check of ``similar_items``."""
    if type(estimator)._item_vectors is RatingRegressorBase._item_vectors:
        raise AttributeError(
            f"{type(estimator).__name__} has no item representation (its model is a "
            "global mean and biases only), so it has no similar_items; use "
            "BiasedMFRegressor or AutoRecRegressor.")
    return True


class EncodedRatings:
    """Training ratings with users and items encoded as ``0..n-1``.

    Attributes
    ----------
    users, items : ndarray of int64, shape (n_ratings,)
    ratings : ndarray of float64, shape (n_ratings,)
    n_users, n_items : int
    """

    def __init__(self, users, items, ratings, n_users, n_items):
        self.users = users
        self.items = items
        self.ratings = ratings
        self.n_users = n_users
        self.n_items = n_items

    def __len__(self):
        return len(self.ratings)

    def subset(self, mask):
        return EncodedRatings(self.users[mask], self.items[mask], self.ratings[mask],
                              self.n_users, self.n_items)

    def csr(self, by="user"):
        """Ratings as a CSR matrix with one row per user (``by="user"``) or item."""
        rows, cols, shape = (
            (self.users, self.items, (self.n_users, self.n_items)) if by == "user"
            else (self.items, self.users, (self.n_items, self.n_users))
        )
        return sp.csr_matrix((self.ratings, (rows, cols)), shape=shape)


class RatingRegressorBase(RegressorMixin, BaseEstimator):
    """Base class of the rating estimators; not for direct use.

    Subclasses declare the parameters ``clip`` and ``unknown`` and implement
    ``_fit_encoded(data)`` and ``_predict_encoded(users, items)``.  They may
    override ``_score_items(users)`` (all items' predictions for a few users,
    computed without pairing every user with every item) and must override
    ``_item_vectors()`` to have :meth:`similar_items`.

    Fitting stores, besides the id maps, the items each user rated
    (``seen_indptr_`` and ``seen_indices_``: the CSR structure of the training
    ratings by user, ``O(n_ratings)`` integers in the pickle), which
    :meth:`recommend` excludes.
    """

    #: True for a model whose own global mean and user/item biases are part of
    #: the model (the baselines): it fits ``global_mean_``, ``user_bias_`` and
    #: ``item_bias_`` in ``_fit_encoded``, so ``fit`` skips the separate fallback
    #: biases and ``unknown="baseline"`` uses the model's own.
    _fits_own_biases = False

    _parameter_constraints = {
        "clip": ["boolean"],
        "unknown": [StrOptions({"baseline", "nan", "raise"}), Real],
    }

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.input_tags.string = True
        tags.target_tags.required = True
        return tags

    # ------------------------------------------------------------------ fit
    def _encode_training_data(self, X, y):
        """Validate training input, store the id maps, return EncodedRatings."""
        parsed = parse_ratings(X, y, require_y=True, context="fit")
        if len(parsed) == 0:
            raise ValueError(
                "fit needs at least one rating; the input holds none (an empty matrix "
                "or zero pairs)."
            )
        user_index = IdIndex(parsed.users, "user")
        item_index = IdIndex(parsed.items, "item")
        users = user_index.fit_transform(parsed.users)
        items = item_index.fit_transform(parsed.items)
        # One canonical order (by user, then item): the model does not depend on
        # the order or the form in which the ratings came.
        order = np.lexsort((items, users))
        users, items, values = users[order], items[order], parsed.values[order]
        if not parsed.is_matrix:
            k = find_duplicate(users, items)
            if k is not None:
                k = order[k]
                raise ValueError(
                    f"The training pairs hold the (user, item) pair "
                    f"({describe_id(parsed.users, k)}, {describe_id(parsed.items, k)}) "
                    "more than once. Each "
                    "pair must be rated at most once: drop or average the duplicates "
                    "before fitting."
                )
        self.user_ids_ = user_index.ids
        self.item_ids_ = item_index.ids
        self.n_users_ = len(user_index)
        self.n_items_ = len(item_index)
        self.matrix_shape_ = parsed.matrix.shape if parsed.is_matrix else None
        if parsed.is_matrix:
            self.__dict__.pop("n_features_in_", None)
        else:
            self.n_features_in_ = 2
        self.rating_min_ = float(parsed.values.min())
        self.rating_max_ = float(parsed.values.max())
        # The items each user rated, for recommend(exclude_seen=True): the CSR
        # structure (no values) of the ratings by user, O(n_ratings) integers.
        # The ratings are sorted by (user, item), so the items already are in
        # CSR order.
        self.seen_indptr_ = np.concatenate(
            [[0], np.cumsum(np.bincount(users, minlength=self.n_users_))]).astype(np.int64)
        self.seen_indices_ = items.astype(
            np.int32 if self.n_items_ <= np.iinfo(np.int32).max else np.int64)
        return EncodedRatings(users, items, values, self.n_users_, self.n_items_)

    def _fit_fallback_biases(self, data, user_alpha=FALLBACK_USER_ALPHA,
                             item_alpha=FALLBACK_ITEM_ALPHA, max_iter=100, tol=1e-6):
        """Fit ``global_mean_``, ``user_bias_``, ``item_bias_`` (the fallback)."""
        mu, bu, bi, n_iter = fit_biases(
            data.users, data.items, data.ratings, data.n_users, data.n_items,
            user_alpha=user_alpha, item_alpha=item_alpha, max_iter=max_iter, tol=tol,
        )
        self.global_mean_ = mu
        self.user_bias_ = bu
        self.item_bias_ = bi
        return n_iter

    def fit(self, X, y=None):
        """Fit the model on ratings.

        Parameters
        ----------
        X : scipy sparse matrix of shape (n_users, n_items), or array-like of shape (n_samples, 2)
            Either a rating matrix whose stored entries are the ratings (row =
            user id, column = item id), or ``(user_id, item_id)`` pairs (ints or
            strings; ndarray, list or pandas DataFrame).
        y : array-like of shape (n_samples,), default=None
            The ratings of the pairs; must be None with a rating matrix.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        self._validate_params()
        data = self._encode_training_data(X, y)
        if not self._fits_own_biases:
            self._fit_fallback_biases(data)
        self._fit_encoded(data)
        return self

    # -------------------------------------------------------------- predict
    def _encode_query(self, X, y=None, *, require_y=False, context="predict"):
        check_is_fitted(self, "user_ids_")
        parsed = parse_ratings(X, y, require_y=require_y, context=context)
        if parsed.is_matrix:
            if self.matrix_shape_ is None and self.user_ids_.dtype.kind != "i":
                raise TypeError(
                    "The model was fitted on (user, item) pairs with string ids, so a "
                    "rating matrix (whose rows and columns are integer ids) cannot be "
                    "matched to it; pass (user_id, item_id) pairs instead."
                )
            if self.matrix_shape_ is not None and parsed.matrix.shape != self.matrix_shape_:
                raise ValueError(
                    f"The rating matrix has shape {parsed.matrix.shape} but the model was "
                    f"fitted on a matrix of shape {self.matrix_shape_}. Rows and columns "
                    "are user and item ids, so the shapes must match; it is never "
                    "re-indexed. Build the matrix with the training matrix's shape, or "
                    "pass (user_id, item_id) pairs."
                )
        return (parsed, self._id_index("user").transform(parsed.users),
                self._id_index("item").transform(parsed.items))

    def _id_index(self, what):
        """The fitted :class:`IdIndex` of the users or the items."""
        return IdIndex(self.user_ids_ if what == "user" else self.item_ids_, what,
                       sorted_unique=True)

    def _output(self, parsed, values):
        """Return ``values`` in the form of the query: ndarray or CSR of its pattern."""
        if not parsed.is_matrix:
            return values
        m = parsed.matrix
        return type(m)((values, m.indices.copy(), m.indptr.copy()), shape=m.shape)

    def _fallback(self, users, items, raw_users, raw_items):
        unknown = (users < 0) | (items < 0)
        policy = self.unknown
        if not unknown.any():
            return unknown, None
        if isinstance(policy, str) and policy == "raise":
            k = int(np.flatnonzero(unknown)[0])
            what, raw = (("user", describe_id(raw_users, k)) if users[k] < 0
                         else ("item", describe_id(raw_items, k)))
            raise ValueError(
                f"{int(unknown.sum())} of the {len(users)} pairs have a user or item "
                f"without training ratings (first: {what} {raw}). Set unknown="
                "'baseline', 'nan' or a rating to predict them instead of raising."
            )
        if isinstance(policy, str) and policy == "nan":
            return unknown, np.full(int(unknown.sum()), np.nan)
        if isinstance(policy, str):  # "baseline"
            u, i = users[unknown], items[unknown]
            values = np.full(len(u), self.global_mean_)
            values[u >= 0] += self.user_bias_[u[u >= 0]]
            values[i >= 0] += self.item_bias_[i[i >= 0]]
            return unknown, values
        return unknown, np.full(int(unknown.sum()), float(policy))

    def predict(self, X):
        """Predict ratings.

        Pairs of a user or an item without training ratings get the fallback
        chosen by ``unknown``; see :meth:`fallback_mask`.  Predictions are clipped
        to the training rating range when ``clip=True``.

        Parameters
        ----------
        X : scipy sparse matrix of shape (n_users, n_items), or array-like of shape (n_samples, 2)
            A matrix whose stored entries mark the (user, item) pairs to predict
            (their values are ignored), or ``(user_id, item_id)`` pairs.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,), or CSR matrix
            For pairs, one prediction per pair; for a matrix, a CSR matrix of its
            shape and pattern holding the predictions.
        """
        return self._output(*self._predict_query(*self._encode_query(X)))

    def _predict_query(self, parsed, users, items):
        pred = np.empty(len(users))
        unknown, fallback = self._fallback(users, items, parsed.users, parsed.items)
        known = ~unknown
        if known.any():
            pred[known] = self._predict_encoded(users[known], items[known])
        if fallback is not None:
            pred[unknown] = fallback
        if self.clip:
            np.clip(pred, self.rating_min_, self.rating_max_, out=pred)
        return parsed, pred

    def fallback_mask(self, X):
        """Tell which predictions of :meth:`predict` are fallbacks.

        A prediction is a fallback when its user or its item had no training
        rating; its value then follows the ``unknown`` parameter.

        Parameters
        ----------
        X : scipy sparse matrix or array-like of shape (n_samples, 2)
            The same input as for :meth:`predict`.

        Returns
        -------
        mask : ndarray of bool of shape (n_samples,)
            True where the prediction is a fallback.  For a matrix input, the
            entries are in CSR order (row by row, columns sorted), the order of
            ``predict(X).data``.
        """
        _, users, items = self._encode_query(X, context="fallback_mask")
        return (users < 0) | (items < 0)

    def score(self, X, y=None, sample_weight=None):
        """Return the coefficient of determination R^2 of the predictions.

        Parameters
        ----------
        X : scipy sparse matrix or array-like of shape (n_samples, 2)
            A rating matrix (its stored values are the true ratings), or pairs.
        y : array-like of shape (n_samples,), default=None
            True ratings of the pairs; must be None for a matrix.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights, in the order of the pairs (CSR order for a matrix).

        Returns
        -------
        score : float
            R^2 of ``predict(X)`` against the true ratings.
        """
        parsed, pred = self._predict_query(
            *self._encode_query(X, y, require_y=True, context="score"))
        return r2_score(parsed.values, pred, sample_weight=sample_weight)

    # ------------------------------------------------------------ recommend
    def _score_items(self, users):
        """Unclipped predictions of encoded ``users`` for every item.

        Parameters
        ----------
        users : ndarray of int64, shape (n_block,)
            Encoded, known users.

        Returns
        -------
        scores : ndarray of float64, shape (n_block, n_items_)
            Row ``j`` holds ``_predict_encoded`` of user ``users[j]`` with items
            ``0..n_items_ - 1``.  This generic version pairs the block's users
            with all items; estimators override it with one matrix product.
        """
        n_items = self.n_items_
        pred = self._predict_encoded(np.repeat(users, n_items),
                                     np.tile(np.arange(n_items), len(users)))
        return np.asarray(pred, dtype=np.float64).reshape(len(users), n_items)

    def _item_vectors(self):
        """Item representation compared by :meth:`similar_items`.

        Returns
        -------
        vectors : ndarray of shape (n_items_, n_dims) or None
            One row per item, in the order of ``item_ids_``; None (this base
            version) when the model has none, which hides ``similar_items``.
        """
        return None

    def _encode_ids(self, ids, what):
        """Raw ids (a scalar or a 1-d sequence) -> (raw ndarray, encoded, scalar)."""
        scalar = np.ndim(ids) == 0
        raw = _check_ids(np.atleast_1d(np.asarray(ids)), what)
        return raw, self._id_index(what).transform(raw), scalar

    def recommend(self, users, n=10, *, exclude_seen=True):
        """Recommend to each user the ``n`` items with the highest predicted rating.

        Predictions are computed one block of users at a time, one matrix
        product per block (``O(n_items_ * block)`` memory; no users x items
        matrix is built), and the best ``n`` items are selected with
        ``np.argpartition``.  Items are ranked by the unclipped prediction, so
        items predicted above the rating range keep their order; the returned
        scores are the predictions of :meth:`predict` (clipped when ``clip=True``).

        Parameters
        ----------
        users : user id or array-like of user ids
            Raw user ids, as in the training data (ints or strings).
        n : int, default=10
            Number of items per user.  A ``ValueError`` is raised when ``n``
            exceeds the number of candidate items of a user (the items of the
            model, less the user's training items when ``exclude_seen=True``):
            the results are never silently shorter than ``n``.
        exclude_seen : bool, default=True
            Leave out the items the user rated in the training data (kept in
            ``seen_indptr_`` and ``seen_indices_`` by ``fit``).

        Returns
        -------
        items : ndarray of shape (n_users, n), or (n,) for a single user id
            Raw item ids, best first.
        scores : ndarray of float64 of the same shape
            Their predicted ratings, non-increasing along each row.

        Raises
        ------
        ValueError
            If a user has no training ratings and ``unknown="raise"``, or ``n``
            is too large.  With any other ``unknown`` policy, a user without
            training ratings gets the items with the highest baseline
            ``global_mean_ + item_bias_`` (the prediction of
            ``unknown="baseline"``) and those baseline scores.
        TypeError
            If the ids are strings and the model's ints, or the reverse.

        See Also
        --------
        similar_items : The items closest to given items.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_autorec import BaselineRegressor
        >>> X = np.array([[0, 10], [0, 11], [1, 10], [1, 12], [2, 11], [2, 13]])
        >>> y = np.array([5.0, 4.0, 3.0, 1.0, 4.0, 2.0])
        >>> model = BaselineRegressor(user_alpha=1.0, item_alpha=1.0).fit(X, y)
        >>> items, scores = model.recommend([0, 1], n=2)
        >>> items
        array([[13, 12],
               [11, 13]])
        >>> bool(np.allclose(scores[0], model.predict([[0, 13], [0, 12]])))
        True
        >>> model.recommend(0, n=1)  # one user id: one row
        (array([13]), array([3.16...]))
        """
        check_is_fitted(self, "user_ids_")
        raw, users, scalar = self._encode_ids(users, "user")
        n = _check_n(n, self.n_items_, "items")
        exclude_seen = bool(exclude_seen)
        if exclude_seen and not hasattr(self, "seen_indptr_"):
            raise ValueError(
                "This model does not store its training items (it was fitted by an "
                "older version of sklearn_autorec); refit it, or pass "
                "exclude_seen=False.")
        unknown = users < 0
        if unknown.any() and isinstance(self.unknown, str) and self.unknown == "raise":
            k = int(np.flatnonzero(unknown)[0])
            raise ValueError(
                f"{int(unknown.sum())} of the {len(users)} users have no training "
                f"ratings (first: user {describe_id(raw, k)}). Set unknown='baseline' "
                "to recommend them the items of highest baseline rating.")
        if exclude_seen and (~unknown).any():
            known = users[~unknown]
            n_seen = self.seen_indptr_[known + 1] - self.seen_indptr_[known]
            worst = int(np.argmax(n_seen))
            if self.n_items_ - n_seen[worst] < n:
                k = int(np.flatnonzero(~unknown)[worst])
                raise ValueError(
                    f"n={n} but user {describe_id(raw, k)} has only "
                    f"{self.n_items_ - int(n_seen[worst])} unrated items of the "
                    f"model's {self.n_items_}; lower n or pass exclude_seen=False.")
        top = np.empty((len(users), n), dtype=np.int64)
        scores = np.empty((len(users), n))
        if unknown.any():
            base = (self.global_mean_ + self.item_bias_)[None, :]
            best = _top_n(base, n)
            top[unknown] = best
            scores[unknown] = np.take_along_axis(base, best, axis=1)
        rows = np.flatnonzero(~unknown)
        block = max(1, _SCORE_BLOCK // self.n_items_)
        for start in range(0, len(rows), block):
            r = rows[start:start + block]
            pred = np.asarray(self._score_items(users[r]), dtype=np.float64)
            if exclude_seen:
                indptr = self.seen_indptr_
                lo, hi = indptr[users[r]], indptr[users[r] + 1]
                seen_rows = np.repeat(np.arange(len(r)), hi - lo)
                seen_cols = np.concatenate(
                    [self.seen_indices_[a:b] for a, b in zip(lo, hi)])
                pred[seen_rows, seen_cols] = -np.inf
            best = _top_n(pred, n)
            top[r] = best
            scores[r] = np.take_along_axis(pred, best, axis=1)
        if self.clip:
            np.clip(scores, self.rating_min_, self.rating_max_, out=scores)
        items = self.item_ids_[top]
        return (items[0], scores[0]) if scalar else (items, scores)

    @available_if(_has_item_vectors)
    def similar_items(self, items, n=10):
        """Find the ``n`` items most similar to each given item.

        Similarity is the cosine of the items' vectors in the model: the hidden
        codes ``codes_`` for I-AutoRec, the decoder rows (``coefs_[-1].T``) for
        U-AutoRec, ``item_factors_`` for BiasedMFRegressor (BaselineRegressor has
        no item representation, hence no ``similar_items``).  An item with a
        zero vector has similarity 0 to every item.  Items are compared one
        block at a time (``O(n_items_ * block)`` memory); the item itself is
        left out.

        Parameters
        ----------
        items : item id or array-like of item ids
            Raw item ids, as in the training data (ints or strings).
        n : int, default=10
            Number of similar items per item, at most ``n_items_ - 1`` (a
            ``ValueError`` otherwise).

        Returns
        -------
        similar : ndarray of shape (n_queries, n), or (n,) for a single item id
            Raw ids of the most similar items, most similar first.
        similarities : ndarray of float64 of the same shape
            Their cosine similarities, in [-1, 1], non-increasing along each row.

        Raises
        ------
        ValueError
            If an item has no training ratings (it has no vector, whatever
            ``unknown`` says), or ``n`` is too large.
        TypeError
            If the ids are strings and the model's ints, or the reverse.

        See Also
        --------
        recommend : The items of highest predicted rating for users.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_autorec import BiasedMFRegressor
        >>> from sklearn_autorec.datasets import make_ratings
        >>> data = make_ratings(n_users=50, n_items=30, density=0.3, random_state=0)
        >>> model = BiasedMFRegressor(n_components=4, random_state=0).fit(data.X, data.y)
        >>> similar, sims = model.similar_items([0, 1], n=3)
        >>> similar.shape, sims.shape
        ((2, 3), (2, 3))
        >>> bool(np.all(similar != np.array([[0], [1]])))  # never the item itself
        True
        """
        check_is_fitted(self, "item_ids_")
        raw, queries, scalar = self._encode_ids(items, "item")
        if (queries < 0).any():
            k = int(np.flatnonzero(queries < 0)[0])
            raise ValueError(
                f"Item {describe_id(raw, k)} has no training ratings, so the model "
                "has no vector to compare; ask only for items in item_ids_.")
        n = _check_n(n, self.n_items_ - 1, "other items")
        top, sims = cosine_neighbours(self._item_vectors(), queries, n)
        similar = self.item_ids_[top]
        return (similar[0], sims[0]) if scalar else (similar, sims)
