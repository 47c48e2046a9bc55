"""BaselineRegressor: global mean plus regularised user and item biases."""

import warnings
from numbers import Integral, Real

from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Interval

from ._base import RatingRegressorBase

__all__ = ["BaselineRegressor"]


class BaselineRegressor(RatingRegressorBase):
    """Koren's baseline predictor: global mean plus regularised user and item biases.

    Predicts ``r_hat(u, i) = mu + b_u + b_i`` where ``mu`` is the mean training
    rating and the biases minimise

        ``sum over observed (u, i) of (r_ui - mu - b_u - b_i)^2
        + user_alpha * sum_u b_u^2 + item_alpha * sum_i b_i^2``

    (Surprise's ``BaselineOnly`` with ``method="als"``; the penalties are global
    sums, not per rating).  The objective is fitted exactly, by alternating
    closed-form updates of the item and the user biases until the largest change
    of a bias falls below ``tol``.  Training and prediction run in numpy; memory
    is ``O(n_ratings + n_users + n_items)``.

    Parameters
    ----------
    user_alpha : float, default=15.0
        Penalty on the squared user biases (Surprise's ``reg_u``).  A user with
        ``n`` ratings has its bias shrunk by ``n / (n + user_alpha)``.
    item_alpha : float, default=10.0
        Penalty on the squared item biases (Surprise's ``reg_i``).
    max_iter : int, default=100
        Maximum number of alternating sweeps (item biases, then user biases).
    tol : float, default=1e-6
        Stop when no bias changed by more than ``tol`` in a sweep.
    clip : bool, default=True
        Clip predictions to the training rating range.
    unknown : {"baseline", "nan", "raise"} or float, default="baseline"
        Prediction for a pair whose user or item has no training rating:
        "baseline" is the global mean plus whatever bias is known (the model's
        own ``user_bias_`` or ``item_bias_``), a float is used as is, "nan" gives
        NaN and "raise" raises a ValueError.  See :meth:`fallback_mask`.

    Attributes
    ----------
    global_mean_ : float
        Mean training rating ``mu``.
    user_bias_ : ndarray of shape ``(n_users_,)``
        Fitted user biases, in the order of ``user_ids_``.
    item_bias_ : ndarray of shape ``(n_items_,)``
        Fitted item biases, in the order of ``item_ids_``.
    n_iter_ : int
        Sweeps run.
    user_ids_, item_ids_ : ndarray
        Sorted ids of the users and items with training ratings.
    n_users_, n_items_ : int
        Numbers of users and items with training ratings.
    rating_min_, rating_max_ : float
        Training rating range, used by ``clip``.
    matrix_shape_ : tuple or None
        Shape of the training matrix, None when fitted on pairs.
    seen_indptr_, seen_indices_ : ndarray
        The training items of each user (CSR structure by encoded user, no
        values), used by ``recommend(exclude_seen=True)``.
    n_features_in_ : int
        2, when fitted on pairs.

    See Also
    --------
    BiasedMFRegressor : Adds latent factors to these biases.
    AutoRecRegressor : The autoencoder model with the same interface.

    References
    ----------
    Y. Koren. "Factor in the Neighbors: Scalable and Accurate Collaborative
    Filtering". ACM TKDD 4(1), 2010, section 2.1.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_autorec import BaselineRegressor
    >>> X = np.array([[0, 0], [0, 1], [1, 0], [1, 2], [2, 1]])
    >>> y = np.array([5.0, 4.0, 3.0, 1.0, 4.0])
    >>> model = BaselineRegressor(user_alpha=1.0, item_alpha=1.0).fit(X, y)
    >>> round(model.global_mean_, 2)
    3.4
    >>> model.predict([[2, 0], [7, 1]]).round(2)  # user 7 is unknown: mu + b_i
    array([4.13, 3.56])
    """

    _fits_own_biases = True

    _parameter_constraints = {
        **RatingRegressorBase._parameter_constraints,
        "user_alpha": [Interval(Real, 0, None, closed="left")],
        "item_alpha": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(self, user_alpha=15.0, item_alpha=10.0, *, max_iter=100, tol=1e-6,
                 clip=True, unknown="baseline"):
        self.user_alpha = user_alpha
        self.item_alpha = item_alpha
        self.max_iter = max_iter
        self.tol = tol
        self.clip = clip
        self.unknown = unknown

    def _fit_encoded(self, data):
        self.n_iter_ = self._fit_fallback_biases(
            data, user_alpha=float(self.user_alpha), item_alpha=float(self.item_alpha),
            max_iter=int(self.max_iter), tol=float(self.tol))
        if self.n_iter_ == self.max_iter:
            warnings.warn(
                f"BaselineRegressor ran max_iter={self.max_iter} sweeps; the biases may "
                f"still change by more than tol={self.tol}. Raise max_iter for exact "
                "biases.", ConvergenceWarning)

    def _predict_encoded(self, users, items):
        return self.global_mean_ + self.user_bias_[users] + self.item_bias_[items]

    def _score_items(self, users):
        # mu + b_u + b_i for a block of users and all items (see recommend)
        return self.global_mean_ + self.user_bias_[users][:, None] + self.item_bias_[None, :]
