"""AutoRecRegressor: the scikit-learn face of AutoRec (Sedhain et al., WWW 2015)."""

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions

from ._base import FALLBACK_ITEM_ALPHA, FALLBACK_USER_ALPHA, RatingRegressorBase
from ._biases import fit_biases
from ._data import warm_holdout

__all__ = ["AutoRecRegressor"]

#: alpha="auto": the penalties it may try (about a factor 3 apart, weakest
#: first) and the one it starts from.
ALPHA_GRID = (1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0, 3000.0, 10000.0, 30000.0, 1e5)
ALPHA_START = 1000.0
#: epochs without improvement before a mini-batch fit on the alpha path moves on
PATH_PATIENCE = 3
#: alpha="auto" with early_stopping=False (no held-out ratings to choose on).
NO_VALIDATION_ALPHA = 300.0
#: solver="auto" picks L-BFGS up to this many weights (its 10 pairs of history
#: then take at most 800 MB in float32) and training ratings, Adam beyond.
LBFGS_MAX_WEIGHTS = 10_000_000
LBFGS_MAX_RATINGS = 500_000
ACTIVATIONS = ("identity", "sigmoid", "relu", "tanh", "elu", "selu")
_SELU_ALPHA, _SELU_SCALE = 1.6732632423543772, 1.0507009873554805


def _np_activation(name, x, low=None, high=None):
    """numpy twin of the torch activations (prediction runs without torch)."""
    if name == "identity":
        return x
    if name == "sigmoid":
        s = 0.5 * (1.0 + np.tanh(0.5 * x))  # overflow-free logistic
        return s if low is None else low + (high - low) * s
    if name == "tanh":
        t = np.tanh(x)
        return t if low is None else low + (high - low) * (t + 1.0) / 2.0
    if name == "relu":
        return np.maximum(x, 0.0)
    if name == "elu":
        return np.where(x > 0, x, np.expm1(np.minimum(x, 0.0)))
    if name == "selu":
        return _SELU_SCALE * np.where(x > 0, x, _SELU_ALPHA * np.expm1(np.minimum(x, 0.0)))
    raise ValueError(f"unknown activation {name!r}")


class AutoRecRegressor(RatingRegressorBase):
    """AutoRec: an autoencoder over the item (or user) vectors of a rating matrix.

    I-AutoRec (``item_based=True``) reconstructs each item's vector of ratings
    over all users, ``h(r_i) = f(W g(V r_i + mu) + b)``, and predicts the rating
    of user ``u`` for item ``i`` as ``h(r_i)_u``; U-AutoRec swaps users and
    items.  Training minimises, over the observed ratings only,
    ``sum (R_ui - h(r_i)_u)^2 + alpha/2 * (||W||_F^2 + ||V||_F^2)`` (the paper's
    objective; biases are not penalised).  The torch backend reads only
    observed entries and evaluates the decoder only where the loss needs it,
    so an epoch costs ``O(n_ratings * k)``; no dense users x items array is
    ever built.  Fitted weights are numpy arrays and prediction runs in numpy
    on cached codes, so fitted models pickle without torch and load without a
    GPU.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(500,)
        Sizes of the hidden layers; ``(500,)`` is the paper's best shallow model,
        ``(500, 250, 500)`` its deep AutoRec.
    item_based : bool, default=True
        True for I-AutoRec (autoencode items; the paper's best), False for
        U-AutoRec.
    activation : {"identity", "sigmoid", "relu", "tanh", "elu", "selu"}, default="sigmoid"
        Hidden activation g.
    output_activation : {"identity", "sigmoid", "relu", "tanh", "elu", "selu"}, default="identity"
        Output activation f.  The bounded ones ("sigmoid", "tanh") are mapped
        onto the range of what the decoder fits (``output_range_``).
    alpha : float or "auto", default="auto"
        The regularisation strength lambda of the paper's objective: the
        squared-error *sum* plus ``alpha / 2`` times the squared Frobenius norms
        of the weight matrices.  The best value moves with the data and with
        the architecture (every weight matrix is penalised, so deep models want
        much less, a linear hidden layer much more; ``docs/paper.md``).
        ``"auto"`` chooses it on the early-stopping split: validated fits at
        ``1000, 300, 100, 30, ...`` (or ``3000, 10000, ...`` when 300 is
        already worse than 1000), each warm-started from the best fit so far,
        stopping at the first that does not improve.  Going down from a strong
        penalty also finds better solutions than starting at the final value.
        The mini-batch solvers move on after ``3`` epochs without improvement
        (a fit on the way only has to rank its penalty; at scale an epoch is
        long) and then train the chosen penalty on from its best weights with
        the full ``n_iter_no_change``.  The chosen value is ``alpha_``, the
        fits are in ``alpha_path_``; it costs about two to three fits.  With
        ``early_stopping=False`` there is nothing to choose on and ``"auto"``
        means 300.
    baseline_offset : bool, default=True
        Add the baseline predictor's bias of each autoencoded vector (the
        global mean plus the item bias for I-AutoRec, the user bias for
        U-AutoRec: Koren's regularised biases, the fallback of
        ``unknown="baseline"``) to the decoder's output, which is fitted to
        the ratings less it.  The other bias of the baseline is the decoder's
        own intercept, so as ``alpha`` grows the model tends to the baseline
        predictor instead of to each user's mean rating.  False gives the
        paper's model exactly.
    dropout : float, default=0.0
        Dropout rate on the hidden codes during training.
    input_dropout : float, default=0.0
        Fraction of observed input ratings dropped during training (denoising
        AutoRec); the loss still covers all observed ratings.
    solver : {"auto", "lbfgs", "rprop", "adam", "sgd"}, default="auto"
        "lbfgs": full-batch L-BFGS with a strong-Wolfe line search and 10 pairs
        of history (what the paper's authors used; the most accurate on small
        data such as ML-100K and latest-small).
        "rprop": full-batch resilient backpropagation (the paper's text).
        "adam", "sgd" (Nesterov momentum 0.9): mini-batches of ``batch_size``
        vectors, the penalty spread evenly over the batches of an epoch; Adam
        is more accurate than L-BFGS from ML-1M up, and far faster.
        "auto": "lbfgs" up to 500,000 training ratings and 10 million weights
        (its history then takes at most 800 MB), "adam" beyond; the choice is
        ``solver_``.
    learning_rate_init : float, default=1e-3
        Step size of "adam", "sgd" and "rprop"; unused by "lbfgs".
    batch_size : int, default=256
        Vectors (items for I-AutoRec) per mini-batch of "adam" and "sgd".
    max_iter : int, default=500
        Maximum number of epochs (L-BFGS iterations for "lbfgs").
    early_stopping : bool, default=True
        Hold out ``validation_fraction`` of the observed ratings (keeping at
        least one training rating for every user and item), stop when their
        RMSE has not improved by ``tol`` for ``n_iter_no_change`` epochs, and
        restore the best weights.  Without it, training stops when the training
        objective stops improving and keeps the last weights.
    validation_fraction : float, default=0.1
        Fraction of the ratings held out for early stopping.
    refit : bool or "auto", default="auto"
        With ``early_stopping``, train again from the same initial weights on
        all the ratings (the held-out ones included), replaying the validated
        schedule: each penalty on the way to the chosen one for the number of
        epochs that gave its best validation RMSE, so no rating is lost to
        validation.  Costs about that many epochs more.  "auto": refit with the
        full-batch solvers (it improves their small-data fits: latest-small
        0.839 against 0.844) and not with the mini-batch ones, which serve
        large data, where the held-out tenth matters less and a refit would
        double the time.
    n_iter_no_change : int or "auto", default="auto"
        Epochs without improvement before stopping.  L-BFGS's validation RMSE
        is flat and noisy near its best, so a short patience stops it too early;
        a mini-batch epoch makes many updates.  "auto": 50 for "lbfgs" and
        "rprop", 10 for "adam" and "sgd".
    tol : float, default=0.0
        Minimum improvement of the validation RMSE (or of the training loss
        without early stopping) that counts as an improvement.
    random_state : int, RandomState instance or None, default=None
        Seeds the weight initialisation, the validation split, batch order and
        dropout through a private ``torch.Generator``; global RNGs are left
        alone.  Fits on the CPU with an int seed are bitwise reproducible for
        a given number of torch threads (the thread count changes the order of
        floating-point sums, and L-BFGS amplifies such differences).
    verbose : bool, default=False
        Print one line per epoch: iteration, training loss, validation RMSE,
        seconds.
    device : str, default="auto"
        "auto" (CUDA when available, else CPU), "cpu", "cuda" or "cuda:N".
    clip : bool, default=True
        Clip predictions to the training rating range.
    unknown : {"baseline", "nan", "raise"} or float, default="baseline"
        Prediction for a pair whose user or item has no training rating:
        "baseline" is the global mean plus whatever user or item bias is known
        (see ``user_bias_``), a float is used as is (the paper used 3), "nan"
        gives NaN and "raise" raises a ValueError.  See :meth:`fallback_mask`.

    Attributes
    ----------
    coefs_ : list of ndarray
        Weight matrices in ``MLPRegressor`` layout: ``coefs_[0]`` is the encoder
        ``V^T`` of shape (n_coords, k_0), ``coefs_[-1]`` the decoder ``W^T`` of
        shape (k_last, n_coords); n_coords is ``n_users_`` for I-AutoRec.
    intercepts_ : list of ndarray
        Bias vectors; ``intercepts_[-1]`` is the output bias of shape (n_coords,).
    alpha_ : float
        The penalty of the final model (``alpha``, or the one ``"auto"`` chose).
    alpha_path_ : list of dict or None
        With ``alpha="auto"`` and early stopping, one entry per validated fit
        in the order they ran: ``alpha``, ``best_validation_score``,
        ``best_iter``, ``n_iter`` and ``warm_start_from`` (the alpha whose best
        weights it started from; None for the first).  With the mini-batch
        solvers the last entry is the chosen alpha trained on from its own
        best weights (``warm_start_from`` is its own alpha; ``best_iter=0``
        when it found nothing better).
    solver_ : str
        The solver used (``solver``, or the one ``"auto"`` chose).
    offset_ : ndarray of shape ``(n_items_,)`` (``(n_users_,)`` for U-AutoRec) or None
        With ``baseline_offset``, what is added to every prediction of each
        autoencoded vector: the global mean plus its baseline bias, fitted on
        the final model's training ratings.
    output_range_ : tuple (low, high)
        The range a bounded output activation is mapped onto: the range of the
        ratings less ``offset_`` (the rating range without it).
    codes_ : ndarray of shape ``(n_items_, k_last)`` (``n_users_`` for U-AutoRec)
        Cached last hidden layer of every training vector: predicting a pair is
        one dot product with a decoder row.
    loss_curve_ : list of float
        Training objective per epoch of the final model, divided by the number
        of its training ratings.
    validation_scores_ : list of float or None
        Validation RMSE per epoch of the validated fit at ``alpha_`` when
        ``early_stopping=True``.
    best_validation_score_ : float or None
        Lowest validation RMSE.
    best_iter_ : int or None
        Epoch of the lowest validation RMSE of the fit at ``alpha_`` (with
        ``early_stopping``); without a refit the final model is that fit's
        weights at that epoch.
    n_iter_ : int
        Epochs run to train the final model: the refit's (the sum over the
        replayed penalties), or those of the validated fit at ``alpha_``.
    device_ : str
        The torch device used for training.
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
    BiasedMFRegressor : Biased matrix factorization with the same interface.
    BaselineRegressor : Global mean plus regularised user and item biases.

    References
    ----------
    S. Sedhain, A. K. Menon, S. Sanner, L. Xie. "AutoRec: Autoencoders Meet
    Collaborative Filtering". WWW 2015.

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.sparse as sp
    >>> from sklearn_autorec import AutoRecRegressor
    >>> rng = np.random.default_rng(0)
    >>> R = sp.random(60, 40, density=0.2, format="csr", random_state=0,
    ...               data_rvs=lambda n: rng.integers(1, 6, n).astype(float))
    >>> model = AutoRecRegressor(hidden_layer_sizes=(16,), max_iter=20,
    ...                          random_state=0).fit(R)
    >>> model.predict(R).shape
    (60, 40)
    >>> X = np.array([[0, 1], [5, 3]])
    >>> model.predict(X).shape
    (2,)
    """

    _parameter_constraints = {
        **RatingRegressorBase._parameter_constraints,
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "item_based": ["boolean"],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "output_activation": [StrOptions(set(ACTIVATIONS))],
        "alpha": [Interval(Real, 0, None, closed="left"), StrOptions({"auto"})],
        "baseline_offset": ["boolean"],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "input_dropout": [Interval(Real, 0, 1, closed="left")],
        "solver": [StrOptions({"auto", "lbfgs", "rprop", "adam", "sgd"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left"),
                             StrOptions({"auto"})],
        "refit": ["boolean", StrOptions({"auto"})],
        "tol": [Interval(Real, 0, None, closed="left")],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "device": [str],
    }

    def __init__(self, hidden_layer_sizes=(500,), *, item_based=True, activation="sigmoid",
                 output_activation="identity", alpha="auto", baseline_offset=True,
                 dropout=0.0, input_dropout=0.0, solver="auto", learning_rate_init=1e-3,
                 batch_size=256, max_iter=500, early_stopping=True, validation_fraction=0.1,
                 n_iter_no_change="auto", refit="auto", tol=0.0, random_state=None,
                 verbose=False, device="auto", clip=True, unknown="baseline"):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.item_based = item_based
        self.activation = activation
        self.output_activation = output_activation
        self.alpha = alpha
        self.baseline_offset = baseline_offset
        self.dropout = dropout
        self.input_dropout = input_dropout
        self.solver = solver
        self.learning_rate_init = learning_rate_init
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.refit = refit
        self.tol = tol
        self.random_state = random_state
        self.verbose = verbose
        self.device = device
        self.clip = clip
        self.unknown = unknown

    def _hidden_sizes(self):
        sizes = self.hidden_layer_sizes
        sizes = (sizes,) if isinstance(sizes, Integral) else tuple(sizes)
        if len(sizes) == 0 or not all(isinstance(s, Integral) and s >= 1 for s in sizes):
            raise ValueError(
                "hidden_layer_sizes must be a non-empty tuple of positive ints, e.g. "
                f"(500,) or (500, 250, 500); got {self.hidden_layer_sizes!r}."
            )
        return tuple(int(s) for s in sizes)

    def _resolved_solver(self, data, sizes):
        """The solver of ``solver="auto"``: full-batch L-BFGS while its memory and
        time are small, mini-batch Adam beyond."""
        if self.solver != "auto":
            return self.solver
        n_coords = data.n_users if self.item_based else data.n_items
        n_weights = (n_coords * (sizes[0] + sizes[-1])
                     + sum(a * b for a, b in zip(sizes[:-1], sizes[1:])))
        if n_weights <= LBFGS_MAX_WEIGHTS and len(data) <= LBFGS_MAX_RATINGS:
            return "lbfgs"
        return "adam"

    def _row_offset(self, data, subset):
        """Global mean plus the baseline bias of each autoencoded vector, fitted on
        ``data`` (None without ``baseline_offset``); ``subset`` tells that ``data``
        is part of the training ratings rather than all of them.

        The same biases as the fallback ones (``user_bias_``, ``item_bias_``,
        fitted on all the training ratings): for those it reuses them, for a
        subset (the ratings left after the validation split) it re-fits them
        starting from them.
        """
        if not self.baseline_offset:
            return None
        if not subset:
            mu, bu, bi = self.global_mean_, self.user_bias_, self.item_bias_
        else:
            mu, bu, bi, _ = fit_biases(
                data.users, data.items, data.ratings, data.n_users, data.n_items,
                user_alpha=FALLBACK_USER_ALPHA, item_alpha=FALLBACK_ITEM_ALPHA,
                init=(self.user_bias_, self.item_bias_))
        return mu + (bi if self.item_based else bu)

    def _fit_encoded(self, data, dtype=None):
        import torch  # lazily: importing the package or predicting never needs torch

        from ._torch_autorec import resolve_device, train_autorec

        sizes = self._hidden_sizes()
        device = self.device
        if not (device == "auto" or device == "cpu" or device == "cuda"
                or (device.startswith("cuda:") and device[5:].isdigit())):
            raise ValueError(
                f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N'; got {device!r}.")
        # alpha="auto" is chosen on the held-out ratings; without them it is the
        # value measured best on MovieLens 100K and 1M.
        auto_alpha = isinstance(self.alpha, str) and self.early_stopping
        fixed_alpha = NO_VALIDATION_ALPHA if isinstance(self.alpha, str) else self.alpha
        dev = resolve_device(device)
        solver = self._resolved_solver(data, sizes)
        full_batch = solver in ("lbfgs", "rprop")
        patience = self.n_iter_no_change
        if patience == "auto":
            patience = 50 if full_batch else 10
        refit = self.refit
        if refit == "auto":
            refit = full_batch
        rng = check_random_state(self.random_state)
        seed = int(rng.randint(np.iinfo(np.int32).max))

        def rows_coords(d):
            return (d.items, d.users) if self.item_based else (d.users, d.items)

        common = dict(
            hidden_layer_sizes=sizes, activation=self.activation,
            output_activation=self.output_activation,
            dropout=float(self.dropout), input_dropout=float(self.input_dropout),
            solver=solver, learning_rate_init=float(self.learning_rate_init),
            batch_size=int(self.batch_size), tol=float(self.tol),
            rating_range=(self.rating_min_, self.rating_max_), seed=seed,
            verbose=self.verbose, device=dev,
            dtype=torch.float32 if dtype is None else dtype,
        )

        def run(keep, alpha, max_iter, validation, offset, warm, n_iter_no_change):
            # Trains on the ratings where `keep` (None: all of them).  The kept
            # copies go in a list that train_autorec empties once the data are on
            # the device: no copy of the training ratings outlives that (216 MB at
            # the ML-10M shape, held through every fit of the alpha path before).
            if self.verbose and auto_alpha and validation is not None:
                print(f"alpha={alpha:g}, validated on {len(validation[0])} held-out "
                      "ratings", flush=True)
            rows, coords = rows_coords(data)
            shape = (data.n_items, data.n_users) if self.item_based else (data.n_users,
                                                                          data.n_items)
            triplets = ([rows, coords, data.ratings, shape] if keep is None
                        else [rows[keep], coords[keep], data.ratings[keep], shape])
            return train_autorec(
                triplets, alpha=float(alpha), max_iter=int(max_iter),
                validation=validation, n_iter_no_change=int(n_iter_no_change),
                row_offset=offset, warm_start=warm, **common)

        validation = keep = None
        if self.early_stopping:
            keep = warm_holdout(data.users, data.items, self.validation_fraction, rng)
            if keep.all():
                raise ValueError(
                    "early_stopping=True but no rating could be held out for validation "
                    f"({len(data)} ratings, each user and item keeping at least one); "
                    "set early_stopping=False or give more ratings.")
            rows, coords = rows_coords(data)
            validation = (rows[~keep], coords[~keep], data.ratings[~keep])
        # Only the mask is kept: each run copies the ratings it trains on.
        offset = self._row_offset(data if keep is None else data.subset(keep),
                                  subset=keep is not None)

        # The validated runs: one for a fixed alpha; a warm-started path for "auto".
        continued = False
        if auto_alpha:
            # Mini-batch solvers walk the path with a short patience (an epoch is
            # long at scale, and a fit on the way only has to rank its penalty
            # against the last), then train the chosen penalty on from its best
            # weights with the full patience (the last entry of the path).
            path_patience = patience if full_batch else min(patience, PATH_PATIENCE)

            def fit_with(n_iter_no_change):
                return lambda alpha, warm: run(keep, alpha, self.max_iter, validation,
                                               offset, warm, n_iter_no_change)

            continued = path_patience < patience
            path = self._alpha_path(fit_with(path_patience),
                                    finish=fit_with(patience) if continued else None)
        else:
            result = run(keep, fixed_alpha, self.max_iter, validation, offset, None,
                         patience)
            path = [(float(fixed_alpha), result, None)]
        chosen = int(np.argmin([r["best_score"] for _, r, _ in path])) if auto_alpha else 0
        chain = [chosen]
        while path[chain[0]][2] is not None:
            chain.insert(0, path[chain[0]][2])
        result = dict(path[chosen][1], **{k: path[-1][1][k] for k in
                                          ("coefs", "intercepts", "codes")})
        self.alpha_ = path[chosen][0]
        self.alpha_path_ = [
            {"alpha": a, "best_validation_score": r["best_score"], "best_iter": r["best_iter"],
             "n_iter": r["n_iter"], "warm_start_from": None if parent is None else path[parent][0]}
            for a, r, parent in path] if auto_alpha else None
        self.validation_scores_ = result["validation_scores"]
        self.best_validation_score_ = result["best_score"]
        self.best_iter_ = result["best_iter"] if self.early_stopping else None
        # after a continuation, whether the final model's own run met its rule
        converged = path[-1][1]["converged"] if continued else result["converged"]
        n_iter = result["n_iter"]
        loss_curve = result["loss_curve"]
        if self.early_stopping and refit:
            # Replay the validated schedule on all the ratings, validation ones
            # included: the same seed (so the same initial weights), each alpha of
            # the chain for its best number of epochs, warm-started as before.
            offset = self._row_offset(data, subset=False)
            warm, loss_curve, n_iter = None, [], 0
            for j in chain:
                alpha, validated, _ = path[j]
                if self.verbose:
                    print(f"Refitting on all {len(data)} ratings for "
                          f"{validated['best_iter']} iterations at alpha={alpha:g}",
                          flush=True)
                result = run(None, alpha, validated["best_iter"], None, offset, warm,
                             validated["best_iter"] + 1)
                warm = [result["coefs"], result["intercepts"]]
                loss_curve += result["loss_curve"]
                n_iter += result["n_iter"]
        self.solver_ = solver
        self.output_range_ = result["output_range"]
        self.offset_ = None if offset is None else offset.astype(np.float64)
        self.coefs_ = result["coefs"]
        self.intercepts_ = result["intercepts"]
        self.codes_ = result["codes"]
        self.loss_curve_ = loss_curve
        self.n_iter_ = n_iter
        self.device_ = str(dev)
        if not converged:
            warnings.warn(
                f"AutoRecRegressor stopped at max_iter={self.max_iter} before its "
                "stopping rule was met; raise max_iter (or lower n_iter_no_change) "
                "for a converged model.", ConvergenceWarning)

    def _alpha_path(self, fit, finish=None):
        """Validated fits over the penalties of ``ALPHA_GRID``, each warm-started
        from the best weights of the best fit so far.

        Starts at ``ALPHA_START`` (the only fit from the seeded initialisation),
        goes down the grid while the best validation RMSE improves, and, when
        the first step down does not improve, up the grid instead.  Going down
        from a strong penalty matters: on latest-small, L-BFGS at alpha=300
        reaches a validation RMSE of 0.836 warm-started from the alpha=1000
        solution and only 0.858 from the random initialisation.  Returns
        ``[(alpha, result, parent index or None), ...]`` in visit order; only
        the last result keeps its weights, which are the best fit's.  With
        ``finish`` (called like ``fit``), the best alpha is then visited once
        more with it, from its own best weights.
        """
        path = []

        def visit(alpha, parent, fit=fit):
            # Warm-started from the last fit, whose weights are always the best so
            # far (a fit that beats no earlier one returns its warm start), with
            # that score to beat; no other fit's weights are kept (at ML-10M scale
            # each set is 300 MB).
            warm = None
            if path:
                last = path[-1][1]
                warm = [last.pop("coefs"), last.pop("intercepts"), min(
                    r["best_score"] for _, r, _ in path)]
                last.pop("codes", None)
            path.append((float(alpha), fit(alpha, warm), parent))
            return path[-1][1]["best_score"]

        start = ALPHA_GRID.index(ALPHA_START)
        best, best_j = visit(ALPHA_START, None), 0
        for step in (-1, 1):  # down the grid (weaker penalties), then up
            k = start + step
            while 0 <= k < len(ALPHA_GRID):
                score = visit(ALPHA_GRID[k], best_j)
                if score >= best:
                    break
                best, best_j = score, len(path) - 1
                k += step
            if best_j != 0:  # a weaker penalty won: no need to look up
                break
        if finish is not None:
            visit(path[best_j][0], best_j, finish)
        return path

    def _predict_encoded(self, users, items):
        rows, coords = (items, users) if self.item_based else (users, items)
        decoder = self.coefs_[-1].T  # (n_coords, k), contiguous
        bias = self.intercepts_[-1]
        low, high = self.output_range_
        out = np.empty(len(rows))
        step = 1 << 15
        for s in range(0, len(rows), step):
            r, c = rows[s:s + step], coords[s:s + step]
            pre = np.einsum("ij,ij->i", self.codes_[r], decoder[c]) + bias[c]
            out[s:s + step] = _np_activation(
                self.output_activation, pre.astype(np.float64), low, high)
            if self.offset_ is not None:
                out[s:s + step] += self.offset_[r]
        return out

    def _score_items(self, users):
        # Predictions of a block of users for all items (see recommend): one
        # matrix product with the cached codes, no users x items pairing.
        decoder = self.coefs_[-1].T  # (n_coords, k)
        bias = self.intercepts_[-1]
        if self.item_based:  # codes_: items; decoder rows and bias: users
            pre = (decoder[users] @ self.codes_.T) + bias[users][:, None]
        else:  # codes_: users; decoder rows and bias: items
            pre = (self.codes_[users] @ decoder.T) + bias[None, :]
        out = _np_activation(self.output_activation, pre.astype(np.float64),
                             *self.output_range_)
        if self.offset_ is not None:
            out += self.offset_[None, :] if self.item_based else self.offset_[users][:, None]
        return out

    def _item_vectors(self):
        # compared by similar_items: the item codes (I-AutoRec) or the items'
        # decoder rows (U-AutoRec)
        return self.codes_ if self.item_based else self.coefs_[-1].T
