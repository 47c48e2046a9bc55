"""ImplicitMFRecommender: weighted ALS for implicit feedback (Hu, Koren, Volinsky 2008)."""

import time
from numbers import Integral, Real

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval
from threadpoolctl import threadpool_info, threadpool_limits

from ._mf import _ALS_BLOCK, _als_chunks, als_half_step
from ._recommender import RecommenderBase

__all__ = ["ImplicitMFRecommender"]

#: Standard deviation of the random normal initial factors.
INIT_STD = 0.01
#: Stored entries whose scores are gathered at once when computing the objective.
_OBJECTIVE_BLOCK = 1 << 16


def _blas_threads():
    """Threads BLAS may use: ALS gives them to blocks of small systems instead."""
    return max((info.get("num_threads", 1) for info in threadpool_info()
                if info.get("user_api") == "blas"), default=1)


def implicit_half_step(indptr, cols, weights, other, alpha, confidence, chunks=None,
                       n_workers=1):
    """The exact weighted ALS solve of every row against the fixed ``other`` factors.

    Row ``r`` (a user, or an item) with stored entries ``j`` of weights
    ``w_rj`` gets ``x_r = (Y^T Y + Y_r^T (C_r - I) Y_r + alpha I)^-1 Y_r^T C_r 1``
    with ``Y = other``, ``Y_r`` its rows ``j`` and ``C_r = diag(1 + confidence *
    w_rj)``: the minimiser of ``sum_j c_rj (p_rj - x . y_j)^2 + alpha ||x||^2``
    over *all* columns ``j`` (``p = 1, c = 1 + confidence * w`` on the stored
    entries, ``p = 0, c = 1`` elsewhere).  ``Y^T Y`` is formed once (the Gram
    trick); the per-row systems are solved batched by :func:`als_half_step`.
    """
    conf = 1.0 + confidence * weights
    x, _ = als_half_step(indptr, cols, conf, other, np.full(len(indptr) - 1, alpha),
                         chunks, n_workers, weight=conf - 1.0, base_gram=other.T @ other,
                         intercept=False)
    return x


def implicit_objective(csr, user_factors, item_factors, alpha, confidence):
    """``sum_{u,i} c_ui (p_ui - x_u . y_i)^2 + alpha (||X||^2 + ||Y||^2)``, exactly.

    Over all ``n_users x n_items`` cells without forming them:
    ``sum_{u,i} (x_u . y_i)^2 = <X^T X, Y^T Y>`` plus, on the stored entries,
    ``c (1 - s)^2 - s^2`` with ``s = x_u . y_i``.
    """
    X, Y = user_factors, item_factors
    total = float(np.sum((X.T @ X) * (Y.T @ Y)))
    rows = np.repeat(np.arange(csr.shape[0]), np.diff(csr.indptr))
    for start in range(0, csr.nnz, _OBJECTIVE_BLOCK):
        sl = slice(start, start + _OBJECTIVE_BLOCK)
        s = np.einsum("ij,ij->i", X[rows[sl]], Y[csr.indices[sl]])
        c = 1.0 + confidence * csr.data[sl]
        total += float(np.sum(c * (1.0 - s) ** 2 - s * s))
    return total + alpha * float(np.sum(X * X) + np.sum(Y * Y))


class ImplicitMFRecommender(RecommenderBase):
    """Matrix factorization for implicit feedback by weighted ALS (Hu et al., 2008).

    Scores user ``u`` and item ``i`` by ``x_u . y_i`` (no biases), the factors
    minimising, over *all* user-item cells,

        ``sum_{u,i} c_ui (p_ui - x_u . y_i)^2
        + alpha * (sum_u ||x_u||^2 + sum_i ||y_i||^2)``

    where an interaction of weight ``w_ui`` is a preference ``p_ui = 1`` with
    confidence ``c_ui = 1 + confidence * w_ui``, and every other cell is
    ``p_ui = 0`` with confidence 1.  Alternating least squares solves it
    exactly, one half at a time: with the users fixed, item ``i`` gets
    ``y_i = (X^T X + X_i^T (C_i - I) X_i + alpha I)^-1 X_i^T C_i 1`` (the Gram
    matrix ``X^T X`` is computed once per half-step, so a half-step costs
    ``O(nnz k^2 + n k^3)``, never the ``n_users x n_items`` cells); then the
    users likewise.  Each sweep solves the items first and the users last, so
    the fitted user factors are the exact solutions against the final item
    factors: folding in a training user's own interactions
    (:meth:`recommend_new`) gives back its factors and its scores.  Every
    half-step minimises the objective exactly, so ``loss_curve_`` never
    increases.  The batched ridge solves are those of
    :class:`~sklearn_autorec.BiasedMFRegressor`'s ALS; threads: blocks of
    systems are solved concurrently by as many threads as BLAS may use, each
    with single-threaded BLAS.  Fitted parameters are numpy arrays and
    scoring runs in numpy.

    The parameters map onto those of the ``implicit`` library's
    ``AlternatingLeastSquares`` as ``n_components`` = ``factors``, ``alpha``
    = ``regularization``, ``max_iter`` = ``iterations``; ``confidence`` is
    what ``implicit`` calls ``alpha``, with one difference: ``implicit`` uses
    ``c_ui = alpha * w_ui`` where this class (and the paper) use ``1 +
    confidence * w_ui``, so on binary data ``implicit``'s ``alpha=a`` is
    ``confidence=a - 1`` here.  (``alpha`` is the L2 penalty, as in every
    estimator of this package.)

    Parameters
    ----------
    n_components : int, default=64
        Number of latent factors k.
    alpha : float, default=100.0
        L2 penalty ``alpha`` of the objective (``implicit``'s
        ``regularization``).  The default was chosen on the validation split
        of ML-1M (ratings >= 4, 6,034 users, 3,533 items; see
        ``benchmarks/bench_implicit_mf.py``): with 64 factors and confidence
        10, NDCG@100 0.343 against 0.312 at ``alpha=10`` and 0.249 at 300.
        The penalty is not scaled by the data: the objective sums over every
        user-item cell, so larger data sets may want a larger ``alpha``; tune
        it with ``GridSearchCV`` and :func:`~sklearn_autorec.metrics.make_ranking_scorer`.
    confidence : float, default=10.0
        Confidence scale: an interaction of weight ``w`` has confidence ``1 +
        confidence * w`` (``implicit``'s ``alpha``, see above).  0 weighs the
        interactions as much as the missing cells (plain least squares on the
        0/1 matrix).
    max_iter : int, default=15
        ALS sweeps (items, then users), all run: exact ALS converges in a
        few, and there is no stopping rule to tune.
    positive_threshold : float, default=None
        With ratings as values, only the interactions rated ``>=
        positive_threshold`` are positives (weight 1); the others are left
        out.  None: every interaction is a positive, its value its weight
        ``w`` (e.g. a play count, raising its confidence).
    random_state : int, RandomState instance or None, default=None
        Seeds the initial factors (normal, standard deviation 0.01).
    verbose : bool, default=False
        Print one line per sweep: sweep, objective, seconds.

    Attributes
    ----------
    user_factors_ : ndarray of shape ``(n_users_, n_components)``
        The ``x_u``, in the order of ``user_ids_``.
    item_factors_ : ndarray of shape ``(n_items_, n_components)``
        The ``y_i``, in the order of ``item_ids_``.
    loss_curve_ : list of float
        The objective after each sweep, divided by the number of training
        interactions.
    n_iter_ : int
        Sweeps run.
    user_ids_, item_ids_ : ndarray
        Raw ids of the encoded users and items.
    n_users_, n_items_ : int
    seen_indptr_, seen_indices_, seen_weights_ : ndarray
        Training interactions of each user, in CSR form.
    n_below_threshold_ : int
        Interactions left out by ``positive_threshold``.

    References
    ----------
    Y. Hu, Y. Koren, C. Volinsky. Collaborative Filtering for Implicit Feedback
    Datasets. ICDM 2008.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_autorec import ImplicitMFRecommender
    >>> X = np.array([[0, 0], [0, 1], [1, 0], [1, 1], [2, 0], [2, 2], [3, 1], [3, 2]])
    >>> model = ImplicitMFRecommender(n_components=2, alpha=0.1, random_state=0).fit(X)
    >>> model.user_factors_.shape, model.item_factors_.shape
    ((4, 2), (3, 2))
    >>> items, scores = model.recommend(0, n=1)
    >>> items
    array([2])
    >>> new_users, items, scores = model.recommend_new([[10, 2]], n=2)
    >>> new_users, items.shape
    (array([10]), (1, 2))
    """

    _parameter_constraints = {
        **RecommenderBase._parameter_constraints,
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "alpha": [Interval(Real, 0, None, closed="neither")],
        "confidence": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(self, n_components=64, *, alpha=100.0, confidence=10.0, max_iter=15,
                 positive_threshold=None, random_state=None, verbose=False):
        self.n_components = n_components
        self.alpha = alpha
        self.confidence = confidence
        self.max_iter = max_iter
        self.positive_threshold = positive_threshold
        self.random_state = random_state
        self.verbose = verbose

    def _fit_encoded(self, data):
        rng = check_random_state(self.random_state)
        k, alpha, confidence = int(self.n_components), float(self.alpha), float(
            self.confidence)
        csr = data.csr
        csc = csr.tocsc()  # the items' rows: columns of csr, users sorted
        X = rng.normal(0.0, INIT_STD, (data.n_users, k))
        Y = rng.normal(0.0, INIT_STD, (data.n_items, k))
        user_chunks = _als_chunks(csr.indptr, _ALS_BLOCK // k)
        item_chunks = _als_chunks(csc.indptr, _ALS_BLOCK // k)
        n_workers = _blas_threads()
        self.loss_curve_ = []
        with threadpool_limits(limits=1, user_api="blas"):
            for sweep in range(1, int(self.max_iter) + 1):
                start = time.perf_counter()
                Y = implicit_half_step(csc.indptr, csc.indices, csc.data, X, alpha,
                                       confidence, item_chunks, n_workers)
                X = implicit_half_step(csr.indptr, csr.indices, csr.data, Y, alpha,
                                       confidence, user_chunks, n_workers)
                loss = implicit_objective(csr, X, Y, alpha, confidence) / csr.nnz
                if not np.isfinite(loss):
                    raise ValueError(
                        f"ALS produced a non-finite objective at sweep {sweep}: the "
                        "interaction weights or confidence are too large for float64; "
                        "rescale the weights (e.g. log1p of play counts) or lower "
                        "confidence.")
                self.loss_curve_.append(loss)
                if self.verbose:
                    print(f"Sweep {sweep}: objective {loss:.6f}, "
                          f"{time.perf_counter() - start:.2f} s")
        self.n_iter_ = sweep
        self.user_factors_, self.item_factors_ = X, Y

    def _fold_in(self, rows):
        """Exact user half-step against the fitted item factors, for CSR ``rows``."""
        rows = rows.tocsr()
        rows.sort_indices()
        return implicit_half_step(rows.indptr, rows.indices.astype(np.int64),
                                  np.asarray(rows.data, dtype=np.float64),
                                  self.item_factors_, float(self.alpha),
                                  float(self.confidence))

    def _score_users(self, users):
        return self.user_factors_[users] @ self.item_factors_.T

    def _score_new(self, rows):
        return self._fold_in(rows) @ self.item_factors_.T

    def _item_vectors(self):
        return self.item_factors_
