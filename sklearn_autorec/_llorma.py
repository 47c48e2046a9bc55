"""LLORMARegressor: local low-rank matrix approximation (Lee, Kim, Lebanon, Singer).

Parallel LLORMA: ``n_anchors`` anchor (user, item) pairs, each with a local
low-rank model fitted to the ratings weighted by their kernel similarity to the
anchor; a prediction is the kernel-weighted average of the local models'.
"""

import time
from numbers import Integral, Real

import numpy as np
from joblib import Parallel, delayed
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval
from threadpoolctl import threadpool_limits

from ._base import RatingRegressorBase
from ._mf import _ALS_BLOCK, INIT_STD, _als_chunks, _rowdot, als_half_step

__all__ = ["LLORMARegressor"]

# Pairs predicted at once by predict (bounds the temporary arrays).
_PREDICT_BLOCK = 1 << 15


def arccos_distance(vectors, anchor):
    """Normalised arc-cosine distance of every row of ``vectors`` to row ``anchor``.

    ``d = (2 / pi) * arccos(cos(x, x_anchor))``, in ``[0, 2]``: the authors'
    code (PREA, ported to LibRec) uses the similarity
    ``1 - (2 / pi) * arccos(cos)`` and the distance ``1 - similarity``.  A zero
    vector has cosine 0 (distance 1) to every vector, as there.
    """
    norms = np.linalg.norm(vectors, axis=1)
    unit = vectors / np.where(norms > 0, norms, 1.0)[:, None]
    cos = np.clip(unit @ unit[anchor], -1.0, 1.0)
    return (2.0 / np.pi) * np.arccos(cos)


def epanechnikov(distance, width):
    """The Epanechnikov kernel ``(1 - (d / h)^2)_+`` (without the constant 3/4).

    The constant cancels from the model: it scales every weight of a local
    model alike (the local ridge penalty is proportional to the weights too)
    and the numerator and denominator of the prediction alike.
    """
    return np.maximum(1.0 - (distance / width) ** 2, 0.0)


class _WeightedALS:
    """Weighted, regularised ALS of one low-rank model.

    With ``intercept=True`` (the local models) the model is
    ``mu + b_u + b_i + p_u . q_i`` and ALS minimises
    ``sum_(u,i) w_ui (r_ui - mu - b_u - b_i - p_u . q_i)^2 +
    alpha * (sum_u W_u (b_u^2 + ||p_u||^2) + sum_i W_i (b_i^2 + ||q_i||^2))``
    over the given entries, with ``mu`` the weighted mean rating and ``W_u``,
    ``W_i`` the summed weights of a user's and an item's entries (the
    weighted-lambda penalty of :class:`BiasedMFRegressor`, weighted).  With
    ``intercept=False`` (the global model behind the distances, as in the
    authors' code) it is ``p_u . q_i`` alone, without mean or biases.  Each
    half-step is an exact weighted ridge solve by ``als_half_step``:
    ``(A^T W A + alpha W_u I) x = A^T W t``.  ``weights=None`` means all 1.
    """

    def __init__(self, users, items, ratings, weights, n_users, n_items, alpha,
                 item_factors, item_bias=None, intercept=True):
        self.intercept = intercept
        ones = weights is None
        w_all = np.ones(len(ratings)) if ones else weights
        self.mu = float(w_all @ ratings / w_all.sum()) if intercept else 0.0
        k = item_factors.shape[1]
        k1 = k + (1 if intercept else 0)
        self.sides = []
        for rows, cols, n in ((users, items, n_users), (items, users, n_items)):
            order = np.lexsort((cols, rows))
            indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n))])
            w = None if ones else w_all[order]
            reg = alpha * np.bincount(rows, weights=w_all, minlength=n)
            self.sides.append((indptr, cols[order], ratings[order] - self.mu, w, reg,
                               _als_chunks(indptr, _ALS_BLOCK // k1)))
        self.bu = np.zeros(n_users)
        self.P = np.zeros((n_users, k))
        self.bi = np.zeros(n_items) if item_bias is None else np.array(item_bias, dtype=float)
        self.Q = np.array(item_factors, dtype=np.float64)

    def _half_step(self, side, other_bias, other_factors):
        indptr, cols, resid, w, reg, chunks = self.sides[side]
        target = resid - other_bias[cols] if self.intercept else resid
        if w is not None:
            target = w * target
        x, _ = als_half_step(indptr, cols, target, other_factors, reg, chunks, weight=w,
                             intercept=self.intercept)
        if not self.intercept:
            return np.zeros(len(x)), x
        return x[:, 0].copy(), np.ascontiguousarray(x[:, 1:])

    def user_step(self):
        self.bu, self.P = self._half_step(0, self.bi, self.Q)

    def item_step(self):
        self.bi, self.Q = self._half_step(1, self.bu, self.P)

    def fit(self, max_iter):
        for _ in range(max_iter):
            self.user_step()
            self.item_step()
        return self


def _fit_local(data, user_kernel, item_kernel, alpha, max_iter, item_factors):
    """Fit one local model; returns its state, the kernels zeroed where it has no data."""
    weights = user_kernel[data.users] * item_kernel[data.items]
    keep = weights > 0
    users, items = data.users[keep], data.items[keep]
    model = _WeightedALS(users, items, data.ratings[keep], weights[keep], data.n_users,
                         data.n_items, alpha, item_factors).fit(max_iter)
    # A local model votes only for the users and items it was trained on.
    has_user = np.bincount(users, minlength=data.n_users) > 0
    has_item = np.bincount(items, minlength=data.n_items) > 0
    return (np.where(has_user, user_kernel, 0.0), np.where(has_item, item_kernel, 0.0),
            model.mu, model.bu, model.bi, model.P, model.Q, int(keep.sum()))


class LLORMARegressor(RatingRegressorBase):
    """Local low-rank matrix approximation (parallel LLORMA, Lee et al. 2013, 2016).

    The rating matrix is modelled as a smooth blend of local low-rank models,
    each centred at an anchor (user, item) pair:

    1. A global factorization ``r_ui ~ p_u . q_i`` (``n_components``
       factors, no biases, as in the authors' code; ``max_iter`` sweeps of ALS
       with the per-rating penalty ``alpha``) gives each user and item a
       vector; the distance between two users (or items) is the normalised
       arc-cosine of their vectors, ``d = (2 / pi) arccos(cos(x, y))`` in
       ``[0, 2]``, as in the authors' code.  Without biases all vectors share
       the direction of the mean rating, so kernels of width 0.8 cover most
       users and items.
    2. ``n_anchors`` anchor pairs ``(a_t, b_t)`` are drawn without replacement
       from the training ratings.  Their kernels are the Epanechnikov weights
       ``K_t(u) = (1 - d(u, a_t)^2 / h^2)_+`` of every user and ``K_t(i)`` of
       every item, with ``h = kernel_width``: one vector of length ``n_users``
       and one of length ``n_items`` per anchor (never a users x users or
       users x items matrix).
    3. Local model ``t`` is a biased rank-``n_components`` factorization
       ``mu_t + b_u + b_i + p_u . q_i`` fitted by ``max_iter`` sweeps of
       weighted ALS to the ratings of positive weight ``w_ui = K_t(u) K_t(i)``,
       minimising ``sum w_ui (r_ui - r_hat_t(u, i))^2 + alpha (sum_u W_u
       (b_u^2 + ||p_u||^2) + sum_i W_i (b_i^2 + ||q_i||^2))``, where
       ``W_u = sum_i w_ui`` (the per-rating penalty of
       :class:`BiasedMFRegressor`, weighted) and ``mu_t`` is the weighted mean
       rating.  Its item side starts from the global model's item factors.
       The local models are independent and fit in parallel.
    4. The prediction is
       ``r_hat(u, i) = sum_t K_t(u) K_t(i) r_hat_t(u, i) / sum_t K_t(u) K_t(i)``;
       a local model weighs in only on users and items it has training
       ratings of, and a pair that no local model covers gets the global
       model's prediction.

    Memory is ``O(n_ratings + n_anchors * (n_users + n_items) * n_components)``.
    Fitted parameters are numpy arrays and prediction runs in numpy.

    Parameters
    ----------
    n_anchors : int, default=50
        Number of anchor points, hence of local models (the paper's ``q``).
        At most the number of training ratings.
    n_components : int, default=30
        Rank of the local models and of the global model behind the distances.
        Chosen on the ML-1M validation split (``alpha=0.07``): RMSE 0.8483,
        0.8471 and 0.8476 at ranks 20 (the paper's largest), 30 and 40; the
        fit takes about 1.3-2 times as long as at rank 20.  On the ML-100K
        validation split, 10 gave 0.9392 against 0.9456 at 20
        (``alpha=0.05``).
    alpha : float, default=0.07
        L2 regularisation of the local models (weighted per rating as above)
        and of the global model.  Must be > 0.  Chosen on a validation split
        of the training ratings of ML-1M (``benchmarks/bench_llorma.py
        --validation``, 50 anchors): RMSE 0.8495, 0.8483 and 0.8595 at 0.05,
        0.07 and 0.1 (with 20 anchors 0.05 had been the best of 0.02, 0.03,
        0.05 and 0.1).  The smaller ML-100K wants more: 0.9456, 0.9114 and
        0.9301 at 0.05, 0.1 and 0.2.
    kernel_width : float, default=0.8
        Width ``h`` of the Epanechnikov kernels (the authors' 0.8).  Distances
        lie in ``[0, 2]``; ``h > 2`` gives every user and item a positive weight.
        On the ML-100K validation split, 0.6 (local models on 38-53% of the
        ratings instead of 93-94%) gave 0.9376 against 0.9456 at
        ``alpha=0.05`` but 0.9163 against 0.9114 at ``alpha=0.1``; 1.0 gave
        0.9137 at ``alpha=0.1``.
    max_iter : int, default=4
        ALS sweeps (all users, then all items) of the global model and of each
        local model.  Fixed: no stopping rule, so every model is fitted alike.
        The local models start from the global item factors and barely change
        after 3 sweeps (ML-100K, ``alpha=0.2``: validation RMSE 0.9302 after 3
        sweeps and after 6; at ``alpha=0.05``, 0.9397 after 8 against 0.9456
        after 4, at twice the cost).
    n_jobs : int, default=None
        Threads fitting local models concurrently (joblib; ``None`` is 1, ``-1``
        all cores), each with single-threaded BLAS.  The model does not depend
        on it.
    random_state : int, RandomState instance or None, default=None
        Seeds the global model and the draw of the anchors.  Global RNGs are
        left alone.
    verbose : bool, default=False
        Print the global model's fit time and, per local model, its number of
        weighted ratings.
    clip : bool, default=True
        Clip predictions to the training rating range.
    unknown : {"baseline", "nan", "raise"} or float, default="baseline"
        Prediction for a pair whose user or item has no training rating:
        "baseline" is ``global_mean_`` plus whatever bias is known
        (``user_bias_`` or ``item_bias_``), a float is used as is, "nan" gives
        NaN and "raise" raises a ValueError.  See :meth:`fallback_mask`.

    Attributes
    ----------
    anchor_users_, anchor_items_ : ndarray of int64 of shape (n_anchors,)
        Encoded user and item of each anchor (indices into ``user_ids_`` and
        ``item_ids_``).
    user_kernels_ : ndarray of shape ``(n_anchors, n_users_)``
        ``K_t(u)``, zero for the users without a training rating of positive
        weight in local model ``t``.
    item_kernels_ : ndarray of shape ``(n_anchors, n_items_)``
        ``K_t(i)``, likewise.
    local_means_ : ndarray of shape (n_anchors,)
        The ``mu_t``.
    local_user_bias_ : ndarray of shape ``(n_anchors, n_users_)``
        The local ``b_u`` (zero for the users without local ratings).
    local_item_bias_ : ndarray of shape ``(n_anchors, n_items_)``
        The local ``b_i``.
    local_user_factors_ : ndarray of shape ``(n_anchors, n_users_, n_components)``
        The local ``p_u``.
    local_item_factors_ : ndarray of shape ``(n_anchors, n_items_, n_components)``
        The local ``q_i``.
    local_n_ratings_ : ndarray of int64 of shape (n_anchors,)
        Training ratings of positive weight of each local model.
    user_factors_ : ndarray of shape ``(n_users_, n_components)``
        The global model's ``p_u``, from which the user distances are computed.
    item_factors_ : ndarray of shape ``(n_items_, n_components)``
        The global model's ``q_i`` (also compared by :meth:`similar_items`).
    global_mean_ : float
        Mean training rating (of the ``unknown="baseline"`` fallback).
    user_bias_, item_bias_ : ndarray
        Regularised user and item biases of that fallback.
    user_ids_, item_ids_ : ndarray
        Sorted ids of the users and items with training ratings.
    n_users_, n_items_ : int
        Numbers of users and items with training ratings.
    rating_min_, rating_max_ : float
        Training rating range, used by ``clip``.
    matrix_shape_ : tuple or None
        Shape of the training matrix, None when fitted on pairs.
    seen_indptr_, seen_indices_ : ndarray
        The training items of each user, used by ``recommend(exclude_seen=True)``.
    n_features_in_ : int
        2, when fitted on pairs.

    See Also
    --------
    BiasedMFRegressor : One global low-rank model.

    Notes
    -----
    Differences from the authors' code (PREA, and its LibRec port): the global
    and local models are fitted by exact (weighted) ALS instead of SGD; the
    local models have a mean and biases; their penalty is scaled by the
    weights (so it is invariant to the kernels' scale); the kernel's constant
    3/4 is dropped (it cancels); anchors are drawn uniformly from the training
    ratings; a pair no local model covers gets the global model's prediction
    (the authors' code gives the global mean); and the number of anchors is a
    parameter, never chosen on test ratings.

    References
    ----------
    J. Lee, S. Kim, G. Lebanon, Y. Singer. "Local Low-Rank Matrix
    Approximation". ICML 2013.
    J. Lee, S. Kim, G. Lebanon, Y. Singer, S. Bengio. "LLORMA: Local Low-Rank
    Matrix Approximation". JMLR 17(15), 2016.

    Examples
    --------
    >>> from sklearn_autorec.datasets import make_ratings
    >>> from sklearn_autorec import LLORMARegressor
    >>> data = make_ratings(n_users=60, n_items=40, density=0.3, random_state=0)
    >>> model = LLORMARegressor(n_anchors=5, n_components=3, random_state=0)
    >>> model = model.fit(data.X, data.y)
    >>> model.user_kernels_.shape, model.local_item_factors_.shape
    ((5, 60), (5, 40, 3))
    >>> model.predict(data.X[:3]).shape
    (3,)
    """

    _parameter_constraints = {
        **RatingRegressorBase._parameter_constraints,
        "n_anchors": [Interval(Integral, 1, None, closed="left")],
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "alpha": [Interval(Real, 0, None, closed="neither")],
        "kernel_width": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(self, n_anchors=50, *, n_components=30, alpha=0.07, kernel_width=0.8,
                 max_iter=4, n_jobs=None, random_state=None, verbose=False, clip=True,
                 unknown="baseline"):
        self.n_anchors = n_anchors
        self.n_components = n_components
        self.alpha = alpha
        self.kernel_width = kernel_width
        self.max_iter = max_iter
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose
        self.clip = clip
        self.unknown = unknown

    def _fit_encoded(self, data):
        n_anchors = int(self.n_anchors)
        if n_anchors > len(data):
            raise ValueError(
                f"n_anchors={n_anchors} but there are only {len(data)} training ratings "
                "to draw anchors from; lower n_anchors to at most the number of ratings.")
        rng = check_random_state(self.random_state)
        k, alpha, max_iter = int(self.n_components), float(self.alpha), int(self.max_iter)
        start = time.perf_counter()
        # The global model behind the distances: p_u . q_i without biases, as in
        # the authors' code (its factors share the direction of the mean rating,
        # so that the kernels of width 0.8 cover most users and items).
        with threadpool_limits(limits=1, user_api="blas"):
            glob = _WeightedALS(data.users, data.items, data.ratings, None, data.n_users,
                                data.n_items, alpha, rng.normal(0.0, INIT_STD, (data.n_items, k)),
                                intercept=False).fit(max_iter)
        self.user_factors_, self.item_factors_ = glob.P, glob.Q
        if self.verbose:
            print(f"Global model: {time.perf_counter() - start:.2f} s")
        anchors = np.sort(rng.choice(len(data), size=n_anchors, replace=False))
        self.anchor_users_ = data.users[anchors].astype(np.int64)
        self.anchor_items_ = data.items[anchors].astype(np.int64)
        width = float(self.kernel_width)

        def fit_one(t):
            tic = time.perf_counter()
            user_kernel = epanechnikov(
                arccos_distance(self.user_factors_, self.anchor_users_[t]), width)
            item_kernel = epanechnikov(
                arccos_distance(self.item_factors_, self.anchor_items_[t]), width)
            out = _fit_local(data, user_kernel, item_kernel, alpha, max_iter,
                             self.item_factors_)
            if self.verbose:
                print(f"Local model {t + 1}/{n_anchors}: {out[-1]} weighted ratings, "
                      f"{time.perf_counter() - tic:.2f} s")
            return out

        # Threads share the data; BLAS gets one thread each (the batched systems
        # are tiny), which also keeps the results independent of n_jobs.
        with threadpool_limits(limits=1, user_api="blas"):
            results = Parallel(n_jobs=self.n_jobs, prefer="threads")(
                delayed(fit_one)(t) for t in range(n_anchors))
        (self.user_kernels_, self.item_kernels_, self.local_means_, self.local_user_bias_,
         self.local_item_bias_, self.local_user_factors_, self.local_item_factors_,
         self.local_n_ratings_) = (np.array(v) for v in zip(*results))
        self.local_n_ratings_ = self.local_n_ratings_.astype(np.int64)

    def _blend(self, total, weight, global_pred):
        covered = weight > 0
        return np.where(covered, total / np.where(covered, weight, 1.0), global_pred)

    def _predict_encoded(self, users, items):
        out = np.empty(len(users))
        for s in range(0, len(users), _PREDICT_BLOCK):
            u, i = users[s:s + _PREDICT_BLOCK], items[s:s + _PREDICT_BLOCK]
            total, weight = np.zeros(len(u)), np.zeros(len(u))
            for t in range(len(self.local_means_)):
                w = self.user_kernels_[t, u] * self.item_kernels_[t, i]
                nz = np.flatnonzero(w)
                ut, it = u[nz], i[nz]
                pred = (self.local_means_[t] + self.local_user_bias_[t, ut]
                        + self.local_item_bias_[t, it]
                        + _rowdot(self.local_user_factors_[t, ut],
                                  self.local_item_factors_[t, it]))
                total[nz] += w[nz] * pred
                weight[nz] += w[nz]
            glob = _rowdot(self.user_factors_[u], self.item_factors_[i])
            out[s:s + _PREDICT_BLOCK] = self._blend(total, weight, glob)
        return out

    def _score_items(self, users):
        # the blend of predict for a block of users and all items (see recommend)
        shape = (len(users), self.n_items_)
        total, weight = np.zeros(shape), np.zeros(shape)
        for t in range(len(self.local_means_)):
            w = self.user_kernels_[t, users][:, None] * self.item_kernels_[t][None, :]
            pred = (self.local_means_[t] + self.local_user_bias_[t, users][:, None]
                    + self.local_item_bias_[t][None, :]
                    + self.local_user_factors_[t, users] @ self.local_item_factors_[t].T)
            total += w * pred
            weight += w
        glob = self.user_factors_[users] @ self.item_factors_.T
        return self._blend(total, weight, glob)

    def _item_vectors(self):
        # compared by similar_items: the global model's item factors
        return self.item_factors_
