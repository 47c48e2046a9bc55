"""The shared estimator base: data contract, unknown-id policy and clipping.

Every estimator of the package derives from :class:`RatingRegressorBase` and
implements only ``_fit_encoded`` (train on encoded ratings) and
``_predict_encoded`` (predict pairs of known, encoded ids).  Input parsing, id
encoding, duplicate detection, the fallback for unknown users/items, clipping,
output forms and scoring live here, once.
"""

from numbers import Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.metrics import r2_score
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import check_is_fitted

from ._biases import fit_biases
from ._data import IdIndex, describe_id, find_duplicate, parse_ratings

__all__ = ["RatingRegressorBase", "EncodedRatings"]

# Regularisation of the fallback biases (Surprise's BaselineOnly defaults).
FALLBACK_USER_ALPHA = 15.0
FALLBACK_ITEM_ALPHA = 10.0


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
    ``_fit_encoded(data)`` and ``_predict_encoded(users, items)``.
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
        users = IdIndex(self.user_ids_, "user", sorted_unique=True)
        items = IdIndex(self.item_ids_, "item", sorted_unique=True)
        return parsed, users.transform(parsed.users), items.transform(parsed.items)

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
