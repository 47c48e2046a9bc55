"""BiasedMFRegressor: Koren's biased matrix factorization (Funk SVD, Surprise's SVD)."""

import time
import warnings
from contextlib import nullcontext
from concurrent.futures import ThreadPoolExecutor
from numbers import Integral, Real

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from threadpoolctl import threadpool_info, threadpool_limits

from ._base import RatingRegressorBase
from ._data import warm_holdout

__all__ = ["BiasedMFRegressor"]

# Standard deviation of the random initial factors (Surprise's init_std_dev).
INIT_STD = 0.1
# Largest padded block (rows x longest row x (k + 1) floats) an ALS chunk gathers.
_ALS_BLOCK = 1 << 21


def _rowdot(a, b):
    return np.einsum("ij,ij->i", a, b)


def _als_chunks(indptr, budget):
    """Split the non-empty rows, sorted by length, into chunks of bounded padding."""
    counts = np.diff(indptr)
    order = np.argsort(counts, kind="stable")
    sorted_counts = counts[order]
    start = int(np.searchsorted(sorted_counts, 1))  # rows without ratings stay 0
    chunks = []
    while start < len(order):
        longest = int(sorted_counts[start])
        end = start + max(1, budget // longest)
        end = min(end, len(order))
        # rows are sorted by length: shrink until the padded block fits
        while end - start > 1 and (end - start) * int(sorted_counts[end - 1]) > budget:
            end = start + (end - start) // 2
        chunks.append(order[start:end])
        start = end
    return chunks


def als_half_step(indptr, cols, target, other, reg, chunks=None, n_workers=1, *,
                  weight=None, base_gram=None, intercept=True):
    """Solve the ridge problems of one ALS half-step, batched.

    For every row ``r`` (a user, or an item), with ``a_j = [1, other[j]]``,
    returns ``x_r = [b_r, p_r]`` minimising
    ``sum_{j in row r} (target_rj - a_j . x)^2 + reg[r] * ||x||^2``, i.e. the
    solution of ``(A_r^T A_r + reg[r] I) x = A_r^T t_r``.  Rows are grouped by
    length into zero-padded blocks; each block's Gram matrices and right-hand
    sides are formed by one batched matrix product and solved by one stacked
    ``np.linalg.solve``.  Rows without entries get zeros.

    The keyword arguments generalise the system (all default to the plain
    ridge problem above) to ``(base_gram + A_r^T W_r A_r + reg[r] I) x =
    A_r^T t_r`` with ``W_r = diag(weight_rj)``; with ``intercept=False`` the
    ``a_j`` are the rows of ``other`` alone.  The weighted ALS of implicit
    feedback (Hu et al. 2008) is ``base_gram = Y^T Y``, ``weight = c - 1`` and
    ``target = c`` (see :mod:`sklearn_autorec._implicit_mf`).

    Parameters
    ----------
    indptr, cols : ndarray
        CSR structure of the rows (``cols`` index ``other``).
    target : ndarray of shape (nnz,)
        Target of each entry, in CSR order (the right-hand side is
        ``sum_j target_rj a_j``).
    other : ndarray of shape (n_other, k)
        The fixed factors of the other side.
    reg : ndarray of shape (n_rows,)
        Ridge penalty of each row.
    chunks : list of ndarray, default=None
        Row blocks from ``_als_chunks`` (computed when None).
    n_workers : int, default=1
        Threads solving blocks concurrently.
    weight : ndarray of shape (nnz,), default=None
        Weight of each entry in the Gram matrix (1 when None).
    base_gram : ndarray of shape (k', k'), default=None
        Added to every row's Gram matrix (``k' = k + 1``, or ``k`` without
        intercept).
    intercept : bool, default=True
        Prepend the constant 1 to the ``a_j`` (column 0 of ``x``: the bias).

    Returns
    -------
    x : ndarray of shape (n_rows, k')
        With ``intercept=True`` column 0 holds the biases, columns 1: the
        factors; otherwise the factors.
    value : float or None
        The minimised objective summed over the rows,
        ``sum_r ||t_r - A_r x_r||^2 + reg[r] ||x_r||^2``, computed as
        ``sum_r t_r^T t_r - x_r^T A_r^T t_r`` (its value at the optimum).  None
        with ``weight`` or ``base_gram``, whose objective holds terms outside
        the rows (compute it from the factors).
    """
    n_rows = len(indptr) - 1
    k1 = other.shape[1] + (1 if intercept else 0)
    if chunks is None:
        chunks = _als_chunks(indptr, _ALS_BLOCK // k1)
    ext = np.zeros((other.shape[0] + 1, k1))  # last row: padding, all zeros
    if intercept:
        ext[:-1, 0] = 1.0
        ext[:-1, 1:] = other
    else:
        ext[:-1] = other
    target_ext = np.append(target, 0.0)
    weight_ext = None if weight is None else np.append(weight, 0.0)
    counts = np.diff(indptr)
    out = np.zeros((n_rows, k1))
    explained = np.zeros(n_rows)
    diag = np.arange(k1)

    def solve(rows):
        length = int(counts[rows].max())
        pos = indptr[rows][:, None] + np.arange(length)
        valid = np.arange(length) < counts[rows][:, None]
        pos = np.where(valid, pos, len(target))
        a = ext[np.where(valid, cols[np.minimum(pos, len(cols) - 1)], len(other))]
        at = a.transpose(0, 2, 1)
        if weight_ext is None:
            gram = at @ a
        else:
            gram = (at * weight_ext[pos][:, None, :]) @ a
        if base_gram is not None:
            gram += base_gram
        gram[:, diag, diag] += reg[rows][:, None]
        rhs = (at @ target_ext[pos][:, :, None])[:, :, 0]
        x = np.linalg.solve(gram, rhs[:, :, None])[:, :, 0]
        out[rows] = x
        explained[rows] = np.einsum("ij,ij->i", x, rhs)

    if n_workers > 1 and len(chunks) > 1:
        with ThreadPoolExecutor(n_workers) as pool:
            list(pool.map(solve, chunks))
    else:
        for rows in chunks:
            solve(rows)
    if weight is not None or base_gram is not None:
        return out, None
    return out, float(target @ target - explained.sum())


class _ALS:
    """Alternating ridge solves of [b_u, p_u] for all users, then [b_i, q_i]."""

    def __init__(self, data, mu, params, alpha, n_workers):
        self.mu, self.alpha, self.n_workers = mu, alpha, n_workers
        self.bu, self.bi, self.P, self.Q = params
        k1 = self.P.shape[1] + 1
        self.sides = []
        for rows, cols, n in ((data.users, data.items, data.n_users),
                              (data.items, data.users, data.n_items)):
            order = np.lexsort((cols, rows))
            counts = np.bincount(rows, minlength=n)
            indptr = np.concatenate([[0], np.cumsum(counts)])
            self.sides.append((indptr, cols[order], data.ratings[order] - mu,
                               alpha * counts, _als_chunks(indptr, _ALS_BLOCK // k1)))

    def step(self):
        """One sweep; returns the objective (exact, from the item half-step)."""
        indptr, cols, resid, reg, chunks = self.sides[0]
        x, _ = als_half_step(indptr, cols, resid - self.bi[cols], self.Q, reg, chunks,
                             self.n_workers)
        self.bu, self.P = x[:, 0].copy(), np.ascontiguousarray(x[:, 1:])
        user_penalty = reg @ np.einsum("ij,ij->i", x, x)
        indptr, cols, resid, reg, chunks = self.sides[1]
        x, value = als_half_step(indptr, cols, resid - self.bu[cols], self.P, reg,
                                 chunks, self.n_workers)
        self.bi, self.Q = x[:, 0].copy(), np.ascontiguousarray(x[:, 1:])
        return value + user_penalty

    def params(self):
        return self.bu, self.bi, self.P, self.Q


class _TorchSGD:
    """Mini-batch SGD (Funk/Surprise update rule) or Adam, in torch."""

    def __init__(self, data, mu, params, alpha, solver, lr, batch_size, seed, device):
        import torch  # lazily: importing the package or predicting never needs torch

        self.torch = torch
        self.solver, self.alpha, self.lr, self.mu = solver, alpha, lr, mu
        self.batch_size = batch_size
        self.device = device
        self.generator = torch.Generator().manual_seed(seed)
        as_t = dict(device=device)
        self.users = torch.as_tensor(data.users, **as_t)
        self.items = torch.as_tensor(data.items, **as_t)
        self.ratings = torch.as_tensor(data.ratings, dtype=torch.float32, **as_t)
        self.tensors = [torch.tensor(p, dtype=torch.float32, **as_t) for p in params]
        self.optimizer = None
        if solver == "adam":
            for t in self.tensors:
                t.requires_grad_(True)
            self.optimizer = torch.optim.Adam(self.tensors, lr=lr)

    def step(self):
        """One epoch over the shuffled ratings; the objective is left to the caller."""
        torch, alpha, lr = self.torch, self.alpha, self.lr
        bu, bi, P, Q = self.tensors
        perm = torch.randperm(len(self.ratings), generator=self.generator).to(self.device)
        for s in range(0, len(perm), self.batch_size):
            b = perm[s:s + self.batch_size]
            u, i, r = self.users[b], self.items[b], self.ratings[b]
            if self.optimizer is None:
                with torch.no_grad():
                    pu, qi, bu_b, bi_b = P[u], Q[i], bu[u], bi[i]
                    err = r - (self.mu + bu_b + bi_b + (pu * qi).sum(1))
                    # Surprise's per-rating update, summed over the batch
                    bu.index_add_(0, u, lr * (err - alpha * bu_b))
                    bi.index_add_(0, i, lr * (err - alpha * bi_b))
                    P.index_add_(0, u, lr * (err[:, None] * qi - alpha * pu))
                    Q.index_add_(0, i, lr * (err[:, None] * pu - alpha * qi))
            else:
                pu, qi, bu_b, bi_b = P[u], Q[i], bu[u], bi[i]
                err = r - (self.mu + bu_b + bi_b + (pu * qi).sum(1))
                loss = 0.5 * ((err * err).sum() + alpha * (
                    (pu * pu).sum() + (qi * qi).sum() + (bu_b * bu_b).sum()
                    + (bi_b * bi_b).sum()))
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                self.optimizer.step()
        return None

    def params(self):
        return tuple(t.detach().cpu().numpy().astype(np.float64) for t in self.tensors)


class BiasedMFRegressor(RatingRegressorBase):
    """Biased matrix factorization: Koren's model, Funk's SVD, Surprise's ``SVD``.

    Predicts ``r_hat(u, i) = mu + b_u + b_i + p_u . q_i`` with ``mu`` the mean
    training rating, user and item biases ``b_u, b_i`` and ``n_components``
    latent factors ``p_u, q_i``.  Every solver minimises the same objective,
    with the penalty counted once per rating (as Surprise's SGD does, and as
    the weighted-lambda regularisation of Zhou et al. 2008):

        ``sum over observed (u, i) of [(r_ui - r_hat(u, i))^2
        + alpha * (||p_u||^2 + ||q_i||^2 + b_u^2 + b_i^2)]``

    so a user with ``n_u`` ratings has its factors and bias penalised by
    ``alpha * n_u``.  Training and prediction never build a dense users x items
    array; memory is ``O(n_ratings + (n_users + n_items) * n_components)``.
    Fitted parameters are numpy arrays and prediction runs in numpy.

    Parameters
    ----------
    n_components : int, default=40
        Number of latent factors k.
    alpha : float, default=0.1
        Regularisation strength of the objective above (Surprise's ``reg_all``).
        ``solver="als"`` needs ``alpha > 0``.
    solver : {"als", "sgd", "adam"}, default="als"
        "als": alternating least squares with the biases folded in.  With the
        items fixed, each user's ``[b_u, p_u]`` is the exact solution of a
        ``(k + 1) x (k + 1)`` ridge system; all users are solved at once by
        batched numpy (stacked Gram matrices, one ``np.linalg.solve``), then the
        items likewise.  Every half-step minimises the objective exactly, so it
        decreases monotonically; deterministic given ``random_state``, and the
        fastest route to a given accuracy here.  Threads: blocks of users are
        solved concurrently by as many threads as BLAS is allowed to use, each
        with single-threaded BLAS (the systems are too small for threaded BLAS).
        "sgd": Funk's and Surprise's stochastic gradient update
        ``p_u += lr * (e_ui q_i - alpha p_u)`` (likewise for ``q_i, b_u, b_i``),
        applied to mini-batches of ``batch_size`` shuffled ratings at once (the
        per-rating updates of a batch are computed from the same parameters and
        summed; ``batch_size=1`` is exactly Surprise's sequential SGD), in torch.
        "adam": Adam on the same mini-batches, in torch.
    learning_rate_init : float, default=0.005
        Step size of "sgd" (Surprise's ``lr_all``) and "adam"; unused by "als".
    batch_size : int, default=256
        Ratings per mini-batch of "sgd" and "adam"; unused by "als".
    max_iter : int, default=20
        Maximum number of epochs (ALS sweeps: all users, then all items).
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the ratings (keeping at least one
        training rating for every user and item), stop when their RMSE has not
        improved by ``tol`` for ``n_iter_no_change`` epochs and keep the best
        parameters.  Without it, training stops when the objective (divided by
        the number of ratings) has not improved by ``tol`` for
        ``n_iter_no_change`` epochs and all ratings are used.
    validation_fraction : float, default=0.1
        Fraction of the ratings held out for early stopping.
    n_iter_no_change : int, default=1
        Epochs without improvement before stopping.  ALS decreases the
        objective monotonically, so one suffices; raise it for "sgd" and "adam"
        with ``early_stopping=True``, whose validation RMSE is noisy.
    tol : float, default=2e-3
        Minimum improvement of the validation RMSE (or, without early
        stopping, of the training objective divided by the number of ratings:
        on a 1-5 scale ALS reaches its test accuracy to within 0.001 RMSE once
        a sweep improves it by less than 2e-3).
    random_state : int, RandomState instance or None, default=None
        Seeds the initial factors (normal, standard deviation 0.1; biases start
        at zero), the validation split and, for "sgd" and "adam", the batch
        order through a private ``torch.Generator``.  Global RNGs are left alone.
    verbose : bool, default=False
        Print one line per epoch: epoch, objective, validation RMSE, seconds.
    device : str, default="auto"
        Torch device of "sgd" and "adam": "auto" (CUDA when available, else
        CPU), "cpu", "cuda" or "cuda:N".  "als" runs in numpy on the CPU.
    clip : bool, default=True
        Clip predictions to the training rating range.
    unknown : {"baseline", "nan", "raise"} or float, default="baseline"
        Prediction for a pair whose user or item has no training rating:
        "baseline" is ``global_mean_`` plus whatever bias is known (the model's
        own ``user_bias_`` or ``item_bias_``), a float is used as is, "nan" gives
        NaN and "raise" raises a ValueError.  See :meth:`fallback_mask`.

    Attributes
    ----------
    user_factors_ : ndarray of shape ``(n_users_, n_components)``
        The ``p_u``, in the order of ``user_ids_``.
    item_factors_ : ndarray of shape ``(n_items_, n_components)``
        The ``q_i``, in the order of ``item_ids_``.
    user_bias_ : ndarray of shape ``(n_users_,)``
        The ``b_u``.
    item_bias_ : ndarray of shape ``(n_items_,)``
        The ``b_i``.
    global_mean_ : float
        Mean training rating ``mu`` (of the ratings used for training).
    loss_curve_ : list of float
        Objective after each epoch, divided by the number of training ratings.
    validation_scores_ : list of float or None
        Validation RMSE after each epoch when ``early_stopping=True``.
    best_validation_score_ : float or None
        Lowest validation RMSE, whose parameters were kept.
    n_iter_ : int
        Epochs run.
    device_ : str
        Where training ran ("cpu" for "als").
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
    BaselineRegressor : The biases alone.
    AutoRecRegressor : The autoencoder model with the same interface.

    References
    ----------
    Y. Koren, R. Bell, C. Volinsky. "Matrix Factorization Techniques for
    Recommender Systems". IEEE Computer 42(8), 2009.
    Y. Zhou, D. Wilkinson, R. Schreiber, R. Pan. "Large-Scale Parallel
    Collaborative Filtering for the Netflix Prize". AAIM 2008.

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.sparse as sp
    >>> from sklearn_autorec import BiasedMFRegressor
    >>> rng = np.random.default_rng(0)
    >>> R = sp.random(60, 40, density=0.2, format="csr", random_state=0,
    ...               data_rvs=lambda n: rng.integers(1, 6, n).astype(float))
    >>> model = BiasedMFRegressor(n_components=5, random_state=0).fit(R)
    >>> model.user_factors_.shape, model.item_factors_.shape
    ((60, 5), (40, 5))
    >>> model.predict(R).shape
    (60, 40)
    >>> model.predict(np.array([[0, 1], [5, 3]])).shape
    (2,)
    """

    _fits_own_biases = True

    _parameter_constraints = {
        **RatingRegressorBase._parameter_constraints,
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "solver": [StrOptions({"als", "sgd", "adam"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "device": [str],
    }

    def __init__(self, n_components=40, *, alpha=0.1, solver="als",
                 learning_rate_init=0.005, batch_size=256, max_iter=20,
                 early_stopping=False, validation_fraction=0.1, n_iter_no_change=1,
                 tol=2e-3, random_state=None, verbose=False, device="auto", clip=True,
                 unknown="baseline"):
        self.n_components = n_components
        self.alpha = alpha
        self.solver = solver
        self.learning_rate_init = learning_rate_init
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.random_state = random_state
        self.verbose = verbose
        self.device = device
        self.clip = clip
        self.unknown = unknown

    def _objective(self, data, mu, params):
        """The objective divided by the number of ratings."""
        bu, bi, P, Q = params
        err = data.ratings - mu - bu[data.users] - bi[data.items] - _rowdot(
            P[data.users], Q[data.items])
        n_u = np.bincount(data.users, minlength=len(bu))
        n_i = np.bincount(data.items, minlength=len(bi))
        penalty = (n_u @ (np.einsum("ij,ij->i", P, P) + bu * bu)
                   + n_i @ (np.einsum("ij,ij->i", Q, Q) + bi * bi))
        return float((err @ err + self.alpha * penalty) / len(data))

    def _rmse(self, data, mu, params):
        bu, bi, P, Q = params
        pred = mu + bu[data.users] + bi[data.items] + _rowdot(P[data.users], Q[data.items])
        if self.clip:
            np.clip(pred, self.rating_min_, self.rating_max_, out=pred)
        return float(np.sqrt(np.mean((pred - data.ratings) ** 2)))

    def _make_solver(self, train, mu, params, rng, n_workers):
        if self.solver == "als":
            if self.alpha == 0:
                raise ValueError(
                    "solver='als' needs alpha > 0: without a penalty the ridge system of "
                    "a user with fewer than n_components + 1 ratings is singular. Set "
                    "alpha > 0 (e.g. 0.1) or use solver='sgd' or 'adam'.")
            self.device_ = "cpu"
            return _ALS(train, mu, params, float(self.alpha), n_workers=n_workers)
        device = self.device
        if not (device in ("auto", "cpu", "cuda")
                or (device.startswith("cuda:") and device[5:].isdigit())):
            raise ValueError(
                f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N'; got {device!r}.")
        from ._torch_autorec import resolve_device

        dev = resolve_device(device)
        self.device_ = str(dev)
        seed = int(rng.randint(np.iinfo(np.int32).max))
        return _TorchSGD(train, mu, params, float(self.alpha), self.solver,
                         float(self.learning_rate_init), int(self.batch_size), seed, dev)

    def _fit_encoded(self, data):
        rng = check_random_state(self.random_state)
        train, validation = data, None
        if self.early_stopping:
            keep = warm_holdout(data.users, data.items, self.validation_fraction, rng)
            if keep.all():
                raise ValueError(
                    "early_stopping=True but no rating could be held out for validation "
                    f"({len(data)} ratings, each user and item keeping at least one); "
                    "set early_stopping=False or give more ratings.")
            train, validation = data.subset(keep), data.subset(~keep)
        mu = float(np.mean(train.ratings))
        k = int(self.n_components)
        params = (np.zeros(data.n_users), np.zeros(data.n_items),
                  rng.normal(0.0, INIT_STD, (data.n_users, k)),
                  rng.normal(0.0, INIT_STD, (data.n_items, k)))
        # ALS solves many tiny systems: threads go to blocks of them (as many as
        # BLAS may use), each block with single-threaded BLAS.
        n_workers = max((info.get("num_threads", 1) for info in threadpool_info()
                         if info.get("user_api") == "blas"), default=1)
        limits = (threadpool_limits(limits=1, user_api="blas") if self.solver == "als"
                  else nullcontext())
        with limits:
            solver = self._make_solver(train, mu, params, rng, n_workers)
            self.loss_curve_ = []
            self.validation_scores_ = [] if validation is not None else None
            best, best_params, stall, converged = np.inf, params, 0, False
            for epoch in range(1, int(self.max_iter) + 1):
                start = time.perf_counter()
                loss = solver.step()
                params = solver.params()
                if loss is None:
                    loss = self._objective(train, mu, params)
                else:
                    loss /= len(train)
                self.loss_curve_.append(loss)
                score = loss
                if validation is not None:
                    score = self._rmse(validation, mu, params)
                    self.validation_scores_.append(score)
                if not np.isfinite(loss):
                    raise ValueError(
                        f"The {self.solver} solver diverged at epoch {epoch} (the "
                        "objective is not finite); lower learning_rate_init.")
                if self.verbose:
                    val = "" if validation is None else f", validation RMSE {score:.5f}"
                    print(f"Epoch {epoch}: objective {loss:.5f}{val}, "
                          f"{time.perf_counter() - start:.2f} s")
                if score < best - self.tol:
                    stall = 0
                else:
                    stall += 1
                if score < best:
                    best, best_params = score, params
                if stall >= self.n_iter_no_change:
                    converged = True
                    break
        self.n_iter_ = epoch
        if validation is not None:
            params = best_params
            self.best_validation_score_ = best
        else:
            self.best_validation_score_ = None
        self.global_mean_ = mu
        self.user_bias_, self.item_bias_, self.user_factors_, self.item_factors_ = (
            np.array(p, dtype=np.float64) for p in params)
        if not converged:
            warnings.warn(
                f"BiasedMFRegressor stopped at max_iter={self.max_iter} before its "
                "stopping rule was met; raise max_iter for a converged model.",
                ConvergenceWarning)

    def _predict_encoded(self, users, items):
        out = np.empty(len(users))
        step = 1 << 15
        for s in range(0, len(users), step):
            u, i = users[s:s + step], items[s:s + step]
            out[s:s + step] = (self.global_mean_ + self.user_bias_[u] + self.item_bias_[i]
                               + _rowdot(self.user_factors_[u], self.item_factors_[i]))
        return out

    def _score_items(self, users):
        # mu + b_u + b_i + Q p_u for a block of users and all items (see recommend)
        return (self.global_mean_ + self.user_bias_[users][:, None] + self.item_bias_[None, :]
                + self.user_factors_[users] @ self.item_factors_.T)

    def _item_vectors(self):
        # compared by similar_items
        return self.item_factors_
