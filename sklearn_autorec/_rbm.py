"""RBMRegressor: restricted Boltzmann machines for collaborative filtering.

Salakhutdinov, Mnih and Hinton (ICML 2007).  Everything runs in numpy on the
observed ratings only: a mini-batch gathers the weight slices of its observed
entries, so an epoch costs ``O(n_ratings * K * n_components)`` (K rating
levels) and no dense users x items array is ever built.
"""

import time
import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions

from ._base import RatingRegressorBase
from ._data import warm_holdout

__all__ = ["RBMRegressor"]

#: Standard deviation of the random initial weights.
INIT_STD = 0.01
#: At most this many distinct rating values (softmax levels).
MAX_LEVELS = 64
#: Observed entries gathered at once when computing hidden probabilities.
_CHUNK = 1 << 16


def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # overflow-free logistic


def _softmax(logits):
    logits = logits - logits.max(axis=1, keepdims=True)
    np.exp(logits, out=logits)
    logits /= logits.sum(axis=1, keepdims=True)
    return logits


def _segments(indptr):
    """Sparse (n_rows, nnz) 0/1 matrix summing each row's entries (CSR ``indptr``)."""
    nnz = int(indptr[-1])
    return sp.csr_matrix((np.ones(nnz), np.arange(nnz), indptr),
                         shape=(len(indptr) - 1, nnz))


def hidden_probabilities(indptr, cols, levels, W, hidden_bias):
    """Mean-field ``p(h = 1 | v)`` of every row given its observed ratings.

    ``p(h_j = 1 | V) = sigmoid(b_j + sum_{i observed} W[i, k_i, j])``.

    Parameters
    ----------
    indptr, cols : ndarray
        CSR structure of the rows (``cols`` index the visible units, the first
        axis of ``W``).
    levels : ndarray of int, shape (nnz,)
        Level ``0..K-1`` of each observed rating.
    W : ndarray of shape (n_visible, K, n_components)
    hidden_bias : ndarray of shape (n_components,)

    Returns
    -------
    probs : ndarray of shape (n_rows, n_components)
    """
    n_rows = len(indptr) - 1
    out = np.empty((n_rows, W.shape[2]), dtype=W.dtype)
    start = 0
    while start < n_rows:
        # rows whose entries total at most _CHUNK (at least one row)
        stop = int(np.searchsorted(indptr, indptr[start] + _CHUNK, side="right")) - 1
        stop = min(max(stop, start + 1), n_rows)
        lo, hi = int(indptr[start]), int(indptr[stop])
        seg = _segments(indptr[start:stop + 1] - lo).astype(W.dtype)
        out[start:stop] = seg @ W[cols[lo:hi], levels[lo:hi]] + hidden_bias
        start = stop
    return _sigmoid(out)


def cd_gradient(indptr, cols, levels, W, visible_bias, hidden_bias, n_steps, rng):
    """Contrastive-divergence (CD-T) gradient of one mini-batch of rows.

    With ``p0 = p(h | v0)`` of the data ``v0``: ``h ~ Bernoulli(p0)``; then, T
    times, the visible softmax ``p(v | h)`` of the observed entries only; for
    ``t < T`` a one-hot ``v_t`` is sampled from it and ``h ~ p(h | v_t)``; the
    last step keeps the softmax probabilities ``vT`` and their mean-field
    ``qT = p(h | vT)`` (Hinton's practical guide).  Gradients are averaged over
    the batch's rows:

    * ``dW[i, k] = sum_rows (v0[i, k] p0 - vT[i, k] qT) / n_rows``,
    * ``dvisible_bias[i, k] = sum_rows (v0[i, k] - vT[i, k]) / n_rows``,
    * ``dhidden_bias = sum_rows (p0 - qT) / n_rows``.

    Random numbers are drawn from ``rng`` in this order: ``random((n_rows,
    n_components))`` for the first hidden sample, then for each ``t < T``
    ``random(nnz)`` (one per observed entry, in CSR order; the level is the
    first whose cumulative probability exceeds it) and ``random((n_rows,
    n_components))`` (``h_j = 1`` where it is below the probability).

    Parameters
    ----------
    indptr, cols, levels : ndarray
        CSR structure of the batch's rows and the level ``0..K-1`` of each entry.
    W : ndarray of shape (n_visible, K, n_components)
    visible_bias : ndarray of shape (n_visible, K)
    hidden_bias : ndarray of shape (n_components,)
    n_steps : int
        T, the number of Gibbs steps.
    rng : numpy.random.Generator

    Returns
    -------
    touched : ndarray of int64
        Sorted visible units observed in the batch (the only ones with a
        non-zero gradient).
    dW : ndarray of shape (len(touched), K, n_components)
    dvisible_bias : ndarray of shape (len(touched), K)
    dhidden_bias : ndarray of shape (n_components,)
    """
    dtype = W.dtype
    n_rows, nnz = len(indptr) - 1, len(cols)
    n_levels, n_hidden = W.shape[1], W.shape[2]
    rows = np.repeat(np.arange(n_rows), np.diff(indptr))
    seg = _segments(indptr).astype(dtype)
    Wg = W[cols]                                   # (nnz, K, F): the observed slices
    entries = np.arange(nnz)
    p0 = _sigmoid(seg @ Wg[entries, levels] + hidden_bias)
    h = (rng.random((n_rows, n_hidden)) < p0).astype(dtype)
    bias_g = visible_bias[cols]
    for t in range(1, n_steps + 1):
        probs = _softmax(bias_g + np.einsum("ekf,ef->ek", Wg, h[rows]))
        if t < n_steps:
            u = rng.random(nnz)
            sampled = np.minimum((np.cumsum(probs, axis=1) <= u[:, None]).sum(axis=1),
                                 n_levels - 1)
            q = _sigmoid(seg @ Wg[entries, sampled] + hidden_bias)
            h = (rng.random((n_rows, n_hidden)) < q).astype(dtype)
        else:
            q = _sigmoid(seg @ np.einsum("ek,ekf->ef", probs, Wg) + hidden_bias)
    touched, local = np.unique(cols, return_inverse=True)
    # One sparse product accumulates both phases: rows (visible unit, level),
    # columns [p0 rows | qT rows].
    pos_rows = local * n_levels + levels
    neg_rows = (local[:, None] * n_levels + np.arange(n_levels)).ravel()
    stats = sp.csr_matrix(
        (np.concatenate([np.ones(nnz, dtype=dtype), -probs.ravel()]),
         (np.concatenate([pos_rows, neg_rows]),
          np.concatenate([rows, np.repeat(rows, n_levels) + n_rows]))),
        shape=(len(touched) * n_levels, 2 * n_rows))
    dW = (stats @ np.vstack([p0, q])).reshape(len(touched), n_levels, n_hidden) / n_rows
    dvb = np.asarray(stats.sum(axis=1)).reshape(len(touched), n_levels) / n_rows
    dhb = (p0.sum(axis=0) - q.sum(axis=0)) / n_rows
    return touched, dW.astype(dtype), dvb.astype(dtype), dhb.astype(dtype)


def expected_ratings(hidden, W, visible_bias, values):
    """Expected rating under the visible softmax, one per (row, visible) pair.

    Parameters
    ----------
    hidden : ndarray of shape (n_pairs, n_components)
        The hidden probabilities of each pair's row.
    W : ndarray of shape (n_pairs, K, n_components)
        Each pair's visible unit's weights.
    visible_bias : ndarray of shape (n_pairs, K)
    values : ndarray of shape (K,)
        The rating of each level.
    """
    return _softmax(visible_bias + np.einsum("ekf,ef->ek", W, hidden)) @ values


class RBMRegressor(RatingRegressorBase):
    """Restricted Boltzmann machine for collaborative filtering (RBM-CF).

    U-RBM (``item_based=False``): one RBM per user, whose visible units are
    the items the user rated, each a K-way softmax over the rating levels (K
    = the distinct training ratings, in order: 1..5 stars give K = 5, half
    stars K = 10), with ``n_components`` binary hidden units; all users' RBMs
    share the weights ``W[i, k, j]``, the visible biases ``b_i^k`` and the
    hidden biases ``b_j``.  I-RBM (``item_based=True``) swaps the roles: one
    RBM per item over the users who rated it.

    Training is contrastive divergence on mini-batches of ``batch_size`` users
    (items for I-RBM) with momentum (``initial_momentum`` for the first
    ``momentum_epochs`` epochs, then ``momentum``), weight decay, and a
    learning rate that decays geometrically across epochs.  The number T of Gibbs
    steps grows during training as in the paper: ``cd_steps[0]`` (CD-1) for
    the first stage, then ``cd_steps[1]`` (CD-3), ``cd_steps[2]`` (CD-5), ...;
    a stage ends after ``stage_epochs`` epochs, or earlier when the validation
    RMSE has not improved for ``n_iter_no_change`` epochs; such a stall in the
    last stage stops training and the best weights are kept.  Within a batch
    the Gibbs chain runs over the observed entries only: the batch gathers
    their weight slices, and only the visible units it observed are updated
    (their momentum and weight decay too), so an epoch costs
    ``O(n_ratings * K * n_components)``.

    A prediction is the expected rating under the visible softmax of the
    queried item, given the mean-field hidden probabilities ``p(h | v)`` of
    the user's training ratings (one pass; for I-RBM the item's training
    ratings and the user's softmax).  The hidden probabilities of every
    training row are cached in ``hidden_``, so predicting a pair costs
    ``O(K * n_components)``.  The fitted model is numpy arrays only.

    Parameters
    ----------
    n_components : int or "auto", default="auto"
        Number of binary hidden units F.  "auto" is 100 for U-RBM (the
        paper's 100) and 200 for I-RBM, whose RBMs have a visible unit per
        user (6040 on ML-1M): on a validation split of ML-1M
        (``benchmarks/bench_rbm.py --tune``), I-RBM 0.8709 at 200 against
        0.8784 at 100, at twice the cost.  On the smaller ML-100K it barely
        matters: I-RBM 0.9152 at 200 against 0.9163 at 100 (0.9219 at 500,
        ``alpha=0.01``), U-RBM 0.9552 at 200.
    item_based : bool, default=True
        True for I-RBM (an RBM per item over its users; the more accurate on
        MovieLens), False for U-RBM (an RBM per user, the paper's main model).
    learning_rate : float, default=0.2
        Step size of the batch-averaged CD gradient in the first epoch (see
        ``learning_rate_decay``).
    momentum : float, default=0.9
        Momentum of the updates (velocity = momentum * velocity + step) after
        the first ``momentum_epochs`` epochs.
    initial_momentum : float, default=0.5
        Momentum of the first ``momentum_epochs`` epochs, while the weights
        are far from their final values: Hinton's practical guide and the
        authors' code start at 0.5 and switch to 0.9 after 5 epochs.  On a
        validation split of ML-100K (``benchmarks/bench_rbm.py --tune``), with
        ``learning_rate_decay=0.95``, I-RBM 0.9200 against 0.9259 at 0.9 from
        the start.
    momentum_epochs : int, default=5
        Epochs run with ``initial_momentum``; 0 uses ``momentum`` throughout.
    learning_rate_decay : float, default=0.95
        The step of epoch ``e`` (from 1) is ``learning_rate *
        learning_rate_decay ** (e - 1)``: annealing averages out the noise of
        the sampled CD gradient.  1.0 keeps the step constant.  On the ML-100K
        validation split, I-RBM (``alpha=0.01``): 0.9293 at 1.0 (and momentum
        0.9 throughout), 0.9202 at 0.97, 0.9200 at 0.95, 0.9220 at 0.9;
        U-RBM 0.9568 at 1.0 (momentum 0.9 throughout), 0.9542 at 0.95.
    alpha : float, default=0.003
        Weight decay: ``alpha * W`` is subtracted from the gradient of the
        weights (not the biases) of the visible units a batch updates.  On
        the ML-100K validation split (``learning_rate_decay=0.95``), I-RBM
        0.9155, 0.9163, 0.9200 and 0.9453 at 0.001, 0.003, 0.01 and 0.03, and
        U-RBM 0.9558 at 0.001, 0.9542 at 0.01; on a validation split of ML-1M,
        I-RBM 0.8784 at 0.003 (0.8838 at 0.001 with the former constant step
        and momentum).  ``learning_rate`` 0.1 and 0.4 (with the decay) gave
        0.9194 and 0.9273 on ML-100K against 0.9200 at 0.2.
    batch_size : int, default=100
        Users (items for I-RBM) per mini-batch.
    max_iter : int, default=100
        Maximum number of epochs.
    cd_steps : tuple of int, default=(1, 3, 5)
        Gibbs steps T of the successive stages of training.
    stage_epochs : int, default=15
        Epochs of each stage but the last, which runs until the stopping rule
        (or ``max_iter``).  Longer stages barely help: on the ML-1M validation
        split, I-RBM 0.8777 at 40 (the CD-1 stage then ends by the stopping
        rule, after 24 epochs) against 0.8784 at 15, at 1.5 times the cost.
    early_stopping : bool, default=True
        Hold out ``validation_fraction`` of the ratings (every user and item
        keeping at least one training rating), advance the stage (or stop, in
        the last) when their RMSE has not improved by ``tol`` for
        ``n_iter_no_change`` epochs, and keep the weights of the best epoch.
        Without it, every stage but the last runs ``stage_epochs`` epochs and
        the last runs to ``max_iter``, on all ratings.
    validation_fraction : float, default=0.1
        Fraction of the ratings held out for early stopping.
    n_iter_no_change : int, default=3
        Epochs without improvement that end a stage.
    tol : float, default=0.0
        Minimum improvement of the validation RMSE that counts.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, the validation split, the batch order and
        the Gibbs sampling (a private ``numpy.random.Generator``); global RNGs
        are left alone.
    verbose : bool, default=False
        Print one line per epoch: epoch, CD steps, reconstruction RMSE of the
        training batches, validation RMSE, seconds.
    clip : bool, default=True
        Clip predictions to the training rating range (the expected rating
        already lies in it).
    unknown : {"baseline", "nan", "raise"} or float, default="baseline"
        Prediction for a pair whose user or item has no training rating:
        "baseline" is the global mean plus whatever user or item bias is known
        (see ``user_bias_``), a float is used as is, "nan" gives NaN and
        "raise" raises a ValueError.  See :meth:`fallback_mask`.

    Attributes
    ----------
    levels_ : ndarray of shape (K,)
        The rating values of the softmax levels, increasing.
    coefs_ : ndarray of shape (n_visible, K, n_components)
        The weights ``W``; n_visible is ``n_users_`` for I-RBM, ``n_items_``
        for U-RBM.
    visible_bias_ : ndarray of shape (n_visible, K)
    hidden_bias_ : ndarray of shape (n_components,)
    hidden_ : ndarray of shape (n_rows, n_components)
        Cached ``p(h | v)`` of every training row (items for I-RBM, users for
        U-RBM), computed from all the training ratings.
    loss_curve_ : list of float
        Per epoch, the RMSE of the model's predictions of its own training
        ratings (a training-progress signal; CD optimises no objective it
        could report).
    validation_scores_ : list of float or None
        Validation RMSE per epoch with ``early_stopping``.
    best_validation_score_ : float or None
        Lowest validation RMSE, whose weights were kept.
    best_iter_ : int or None
        Epoch of the lowest validation RMSE.
    cd_steps_curve_ : list of int
        Gibbs steps T of each epoch.
    n_iter_ : int
        Epochs run.
    user_ids_, item_ids_ : ndarray
        Sorted ids of the users and items with training ratings.
    n_users_, n_items_ : int
        Numbers of users and items with training ratings.
    global_mean_ : float
        Mean training rating.
    user_bias_, item_bias_ : ndarray
        Regularised biases (Koren's baseline) used by ``unknown="baseline"``.
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
    AutoRecRegressor : The autoencoder that the AutoRec paper compares with
        RBM-CF.
    BiasedMFRegressor : Biased matrix factorization.

    References
    ----------
    R. Salakhutdinov, A. Mnih, G. Hinton. "Restricted Boltzmann Machines for
    Collaborative Filtering". ICML 2007.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_autorec.datasets import make_ratings
    >>> from sklearn_autorec import RBMRegressor
    >>> data = make_ratings(n_users=60, n_items=40, density=0.3, random_state=0)
    >>> model = RBMRegressor(n_components=8, max_iter=5, random_state=0)
    >>> model = model.fit(data.X, data.y)
    >>> model.coefs_.shape  # I-RBM: one visible softmax per user, 5 levels
    (60, 5, 8)
    >>> model.levels_
    array([1., 2., 3., 4., 5.])
    >>> pred = model.predict(data.X[:3])
    >>> pred.shape, bool(np.all((pred >= 1) & (pred <= 5)))
    ((3,), True)
    """

    _parameter_constraints = {
        **RatingRegressorBase._parameter_constraints,
        "n_components": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "item_based": ["boolean"],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "momentum": [Interval(Real, 0, 1, closed="left")],
        "initial_momentum": [Interval(Real, 0, 1, closed="left")],
        "momentum_epochs": [Interval(Integral, 0, None, closed="left")],
        "learning_rate_decay": [Interval(Real, 0, 1, closed="right")],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "cd_steps": ["array-like"],
        "stage_epochs": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(self, n_components="auto", *, item_based=True, learning_rate=0.2,
                 momentum=0.9, initial_momentum=0.5, momentum_epochs=5,
                 learning_rate_decay=0.95, alpha=0.003, batch_size=100, max_iter=100,
                 cd_steps=(1, 3, 5), stage_epochs=15, early_stopping=True,
                 validation_fraction=0.1, n_iter_no_change=3, tol=0.0,
                 random_state=None, verbose=False, clip=True, unknown="baseline"):
        self.n_components = n_components
        self.item_based = item_based
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.initial_momentum = initial_momentum
        self.momentum_epochs = momentum_epochs
        self.learning_rate_decay = learning_rate_decay
        self.alpha = alpha
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.cd_steps = cd_steps
        self.stage_epochs = stage_epochs
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.random_state = random_state
        self.verbose = verbose
        self.clip = clip
        self.unknown = unknown

    def _stages(self):
        steps = self.cd_steps
        steps = (steps,) if isinstance(steps, Integral) else tuple(steps)
        if len(steps) == 0 or not all(
                isinstance(s, Integral) and not isinstance(s, bool) and s >= 1
                for s in steps):
            raise ValueError(
                "cd_steps must be a non-empty tuple of positive ints (the Gibbs steps "
                f"of the successive stages), e.g. (1, 3, 5); got {self.cd_steps!r}.")
        return tuple(int(s) for s in steps)

    def _rows(self, data):
        """CSR of the RBMs' rows (users, or items for I-RBM): indptr, cols, levels."""
        rows, cols = (data.items, data.users) if self.item_based else (data.users, data.items)
        n_rows = data.n_items if self.item_based else data.n_users
        order = np.lexsort((cols, rows))
        indptr = np.concatenate(
            [[0], np.cumsum(np.bincount(rows, minlength=n_rows))]).astype(np.int64)
        levels = np.searchsorted(self.levels_, data.ratings[order])
        return indptr, cols[order], levels

    def _fit_encoded(self, data):
        stages = self._stages()
        levels = np.unique(data.ratings)
        if len(levels) > MAX_LEVELS:
            raise ValueError(
                f"RBMRegressor models each rating as one of K discrete levels (a softmax "
                f"unit), but the training ratings take {len(levels)} distinct values "
                f"(at most {MAX_LEVELS} are supported). Round the ratings to a rating "
                "scale (e.g. 1..5 stars) first.")
        self.levels_ = levels.astype(np.float64)
        rng = check_random_state(self.random_state)
        gen = np.random.default_rng(rng.randint(np.iinfo(np.int32).max))
        train, validation = data, None
        if self.early_stopping:
            keep = warm_holdout(data.users, data.items, self.validation_fraction, rng)
            if keep.all():
                raise ValueError(
                    "early_stopping=True but no rating could be held out for validation "
                    f"({len(data)} ratings, each user and item keeping at least one); "
                    "set early_stopping=False or give more ratings.")
            train, validation = data.subset(keep), data.subset(~keep)
        indptr, cols, lev = self._rows(train)
        n_rows = len(indptr) - 1
        n_visible = data.n_users if self.item_based else data.n_items
        F = self.n_components
        F = int((200 if self.item_based else 100) if F == "auto" else F)
        K = len(levels)
        dtype = np.float32
        W = (gen.standard_normal((n_visible, K, F)) * INIT_STD).astype(dtype)
        # Visible biases start at the log of each unit's level frequencies
        # (smoothed), hidden biases at zero (Hinton's practical guide).
        counts = np.bincount(cols * K + lev, minlength=n_visible * K).reshape(n_visible, K)
        vb = np.log((counts + 1.0) / (counts.sum(axis=1, keepdims=True) + K)).astype(dtype)
        hb = np.zeros(F, dtype=dtype)
        vel_W, vel_vb, vel_hb = np.zeros_like(W), np.zeros_like(vb), np.zeros_like(hb)
        decay = float(self.alpha)
        batch = int(self.batch_size)
        if validation is not None:
            v_rows, v_cols = ((validation.items, validation.users) if self.item_based
                              else (validation.users, validation.items))

        self.loss_curve_, self.cd_steps_curve_ = [], []
        self.validation_scores_ = [] if validation is not None else None
        best, best_iter, best_params = np.inf, None, None
        stage, stage_start, stall, converged = 0, 0, 0, False
        for epoch in range(1, int(self.max_iter) + 1):
            start = time.perf_counter()
            n_steps = stages[stage]
            # Hinton's schedule: momentum 0.5 while the weights are far from
            # their final values, then 0.9; the step shrinks geometrically.
            mom = float(self.initial_momentum if epoch <= self.momentum_epochs
                        else self.momentum)
            lr = float(self.learning_rate) * float(self.learning_rate_decay) ** (epoch - 1)
            for b in np.array_split(gen.permutation(n_rows),
                                    max(1, -(-n_rows // batch))):
                b = np.sort(b)
                lo, hi = indptr[b], indptr[b + 1]
                take = np.concatenate([np.arange(s, e) for s, e in zip(lo, hi)])
                b_indptr = np.concatenate([[0], np.cumsum(hi - lo)])
                touched, dW, dvb, dhb = cd_gradient(
                    b_indptr, cols[take], lev[take], W, vb, hb, n_steps, gen)
                vel_W[touched] = mom * vel_W[touched] + lr * (dW - decay * W[touched])
                vel_vb[touched] = mom * vel_vb[touched] + lr * dvb
                vel_hb = mom * vel_hb + lr * dhb
                W[touched] += vel_W[touched]
                vb[touched] += vel_vb[touched]
                hb += vel_hb
            if not np.all(np.isfinite(W)):
                raise ValueError(
                    f"RBMRegressor diverged at epoch {epoch} (the weights are not "
                    "finite); lower learning_rate or momentum.")
            hidden = hidden_probabilities(indptr, cols, lev, W, hb)
            sq_err = self._train_rmse(hidden, W, vb, indptr, cols, lev)
            self.loss_curve_.append(sq_err)
            self.cd_steps_curve_.append(n_steps)
            last_stage = stage == len(stages) - 1
            if validation is not None:
                pred = self._expected(hidden, W, vb, v_rows, v_cols)
                score = float(np.sqrt(np.mean((pred - validation.ratings) ** 2)))
                self.validation_scores_.append(score)
                stall = 0 if score < best - self.tol else stall + 1
                if score < best:
                    best, best_iter = score, epoch
                    best_params = (W.copy(), vb.copy(), hb.copy(), hidden)
            if self.verbose:
                val = "" if validation is None else f", validation RMSE {score:.5f}"
                print(f"Epoch {epoch} (CD-{n_steps}): training RMSE {sq_err:.5f}{val}, "
                      f"{time.perf_counter() - start:.2f} s", flush=True)
            if validation is not None and stall >= self.n_iter_no_change:
                if last_stage:
                    converged = True
                    break
                stage, stage_start, stall = stage + 1, epoch, 0
            elif not last_stage and epoch - stage_start >= self.stage_epochs:
                stage, stage_start, stall = stage + 1, epoch, 0
        self.n_iter_ = epoch
        if validation is not None:
            W, vb, hb, hidden = best_params
            self.best_validation_score_, self.best_iter_ = best, best_iter
        else:
            self.best_validation_score_, self.best_iter_ = None, None
            converged = True  # no stopping rule: max_iter is the schedule
        self.coefs_ = W.astype(np.float64)
        self.visible_bias_ = vb.astype(np.float64)
        self.hidden_bias_ = hb.astype(np.float64)
        # The cached hidden probabilities come from all the training ratings,
        # the held-out ones included.
        indptr, cols, lev = self._rows(data)
        self.hidden_ = hidden_probabilities(indptr, cols, lev, self.coefs_, self.hidden_bias_)
        if not converged:
            warnings.warn(
                f"RBMRegressor stopped at max_iter={self.max_iter} before its stopping "
                "rule was met; raise max_iter for a converged model.", ConvergenceWarning)

    def _expected(self, hidden, W, vb, rows, cols):
        out = np.empty(len(rows))
        step = 1 << 14
        for s in range(0, len(rows), step):
            r, c = rows[s:s + step], cols[s:s + step]
            out[s:s + step] = expected_ratings(hidden[r], W[c], vb[c],
                                               self.levels_.astype(W.dtype))
        return out

    def _train_rmse(self, hidden, W, vb, indptr, cols, lev):
        rows = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
        pred = self._expected(hidden, W, vb, rows, cols)
        return float(np.sqrt(np.mean((pred - self.levels_[lev]) ** 2)))

    def _predict_encoded(self, users, items):
        rows, cols = (items, users) if self.item_based else (users, items)
        return self._expected(self.hidden_, self.coefs_, self.visible_bias_, rows, cols)

    def _score_items(self, users):
        # A block of users against all items: (block, n_items, K) logits.
        if self.item_based:  # visible units are users, rows items
            logits = (np.einsum("ukf,if->uik", self.coefs_[users], self.hidden_)
                      + self.visible_bias_[users][:, None, :])
        else:
            logits = (np.einsum("uf,ikf->uik", self.hidden_[users], self.coefs_)
                      + self.visible_bias_[None, :, :])
        logits -= logits.max(axis=2, keepdims=True)
        np.exp(logits, out=logits)
        return (logits @ self.levels_) / logits.sum(axis=2)

    def _item_vectors(self):
        # compared by similar_items: the items' hidden probabilities (I-RBM) or
        # their flattened weights (U-RBM)
        if self.item_based:
            return self.hidden_
        return self.coefs_.reshape(self.n_items_, -1)
