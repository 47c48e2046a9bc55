"""Neural collaborative filtering (He et al., WWW 2017) for both tasks.

:class:`NCFRegressor` (explicit ratings, squared loss, on the rating base) and
:class:`NCFRecommender` (implicit feedback, log loss with sampled negatives, on
the top-N base) share one network (``_torch_ncf.NCFNet``: GMF, MLP or NeuMF),
one training function and the numpy forward pass below, which is all that
``predict`` and ``recommend`` run.
"""

from numbers import Integral, Real

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions

from ._base import RatingRegressorBase
from ._data import warm_holdout
from ._recommender import RecommenderBase, validation_holdout

__all__ = ["NCFRegressor", "NCFRecommender"]

#: Early stopping of NCFRecommender scores NDCG@100 on at most this many users.
VALIDATION_USERS = 1000


def _relu(x):
    return np.maximum(x, 0.0, out=x)


class _NCFMixin:
    """Parameters, fitted state and the numpy forward pass shared by both faces."""

    _ncf_constraints = {
        "model": [StrOptions({"neumf", "gmf", "mlp"})],
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "hidden_layer_sizes": ["array-like"],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "pretrain": ["boolean"],
        "device": [str],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def _check_sizes(self):
        sizes = tuple(int(s) for s in np.atleast_1d(self.hidden_layer_sizes))
        if self.model != "gmf" and (not sizes or min(sizes) < 1 or sizes[0] % 2):
            raise ValueError(
                "hidden_layer_sizes must be positive ints whose first is even (the "
                "user and item MLP embeddings have half of it each, as in the paper's "
                f"(64, 32, 16, 8)); got {self.hidden_layer_sizes!r}.")
        if self.pretrain and self.model != "neumf":
            raise ValueError(
                f"pretrain=True initialises NeuMF from GMF and MLP; it has no meaning "
                f"for model={self.model!r}. Set model='neumf' or pretrain=False.")
        return sizes

    def _device(self):
        from ._torch_autorec import resolve_device

        device = self.device
        if not (device in ("auto", "cpu", "cuda")
                or (device.startswith("cuda:") and device[5:].isdigit())):
            raise ValueError(
                f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N'; got {device!r}.")
        return resolve_device(device)

    def _train(self, n_users, n_items, users, items, targets, task, validate, seed, **extra):
        """Fit the net (pre-training GMF and MLP first for NeuMF when asked)."""
        import torch

        from ._torch_ncf import train_ncf

        device = self._device()
        sizes = self._check_sizes()
        common = dict(n_users=n_users, n_items=n_items, n_components=int(self.n_components),
                      hidden_layer_sizes=sizes, users=users, items=items, targets=targets,
                      task=task, alpha=float(self.alpha),
                      learning_rate=float(self.learning_rate_init),
                      batch_size=int(self.batch_size), max_iter=int(self.max_iter),
                      n_iter_no_change=int(self.n_iter_no_change), seed=seed,
                      device=device, verbose=self.verbose, **extra)
        init = None
        if self.pretrain:
            gmf, _ = train_ncf(model="gmf", validate=validate, **common)
            mlp, _ = train_ncf(model="mlp", validate=validate, **common)
            init = lambda net: net.load_pretrained(gmf, mlp)  # noqa: E731
        net, result = train_ncf(model=self.model, validate=validate, init=init, **common)
        self.device_ = str(device)
        state = net.to_numpy()
        del net
        if device.type == "cuda":  # pragma: no cover - GPU only
            torch.cuda.empty_cache()
        self.output_coef_ = state["output_coef"]
        self.output_intercept_ = state["output_intercept"]
        if "user_gmf" in state:
            self.user_factors_, self.item_factors_ = state["user_gmf"], state["item_gmf"]
        if "user_mlp" in state:
            self.user_mlp_embeddings_ = state["user_mlp"]
            self.item_mlp_embeddings_ = state["item_mlp"]
            self.coefs_, self.intercepts_ = state["coefs"], state["intercepts"]
        self.n_iter_ = result.n_iter
        self.best_epoch_ = result.best_epoch
        self.loss_curve_ = [r["loss"] for r in result.history]
        self.validation_scores_ = ([r["validation"] for r in result.history]
                                   if validate is not None else None)

    # numpy forward ---------------------------------------------------------
    def _forward_pairs(self, users, items):
        out = np.full(len(users), self.output_intercept_)
        k = 0
        if self.model != "mlp":
            k = self.user_factors_.shape[1]
            out += (self.user_factors_[users] * self.item_factors_[items]) @ \
                self.output_coef_[:k]
        if self.model != "gmf":
            h = np.hstack([self.user_mlp_embeddings_[users], self.item_mlp_embeddings_[items]])
            for W, b in zip(self.coefs_, self.intercepts_):
                h = _relu(h @ W + b)
            out += h @ self.output_coef_[k:]
        return out

    def _forward_all(self, users, n_items):
        out = np.full((len(users), n_items), self.output_intercept_)
        k = 0
        if self.model != "mlp":
            k = self.user_factors_.shape[1]
            out += (self.user_factors_[users] * self.output_coef_[:k]) @ self.item_factors_.T
        if self.model != "gmf":
            half = self.user_mlp_embeddings_.shape[1]
            if self.coefs_:
                W, b = self.coefs_[0], self.intercepts_[0]
                item_part = self.item_mlp_embeddings_ @ W[half:]
                chunk = max(1, (1 << 21) // max(n_items * W.shape[1], 1))
                for s in range(0, len(users), chunk):
                    u = users[s:s + chunk]
                    h = _relu((self.user_mlp_embeddings_[u] @ W[:half] + b)[:, None, :]
                              + item_part[None, :, :])
                    for W2, b2 in zip(self.coefs_[1:], self.intercepts_[1:]):
                        h = _relu(h @ W2 + b2)
                    out[s:s + chunk] += h @ self.output_coef_[k:]
            else:
                w = self.output_coef_[k:]
                out += (self.user_mlp_embeddings_[users] @ w[:half])[:, None] + \
                    (self.item_mlp_embeddings_ @ w[half:])[None, :]
        return out

    def _ncf_item_vectors(self):
        parts = []
        if self.model != "mlp":
            parts.append(self.item_factors_)
        if self.model != "gmf":
            parts.append(self.item_mlp_embeddings_)
        return np.hstack(parts)


_NCF_PARAMS_DOC = """
    model : {{"neumf", "gmf", "mlp"}}, default="neumf"
        GMF (``p_u * q_i`` through the output layer), MLP (a ReLU tower over
        ``[p'_u, q'_i]``) or NeuMF (both, concatenated before the output).
    n_components : int, default={k}
        GMF's factors (the paper's "predictive factors").
    hidden_layer_sizes : tuple of int, default=(64, 32, 16, 8)
        The MLP tower as in the paper: the first size is the concatenated
        embedding (half for the user, half for the item), then one ReLU layer per
        further size.
    alpha : float, default={alpha}
        L2 penalty (Adam's weight decay) on every weight.
    learning_rate_init : float, default=0.001
        Adam's learning rate.
    batch_size : int, default=256
    max_iter : int, default={max_iter}
        Most epochs.
    early_stopping : bool, default=True
        Hold out ``validation_fraction`` of the training data and keep the
        epoch of best {validation}.
    validation_fraction : float, default=0.1
    n_iter_no_change : int, default=3
        Epochs without improvement before stopping.
    pretrain : bool, default=False
        NeuMF only: fit GMF and MLP first and start NeuMF from their weights,
        the output layers mixed 0.5/0.5 (the paper's pre-training; the paper then
        uses SGD, here Adam continues).
    device : str, default="auto"
    random_state : int, RandomState instance or None, default=None
    verbose : bool, default=False"""


class NCFRegressor(_NCFMixin, RatingRegressorBase):
    __doc__ = """Neural collaborative filtering for explicit ratings (He et al., 2017).

    Predicts ``r_hat(u, i) = mu + f(u, i)`` with ``mu`` the mean training
    rating and ``f`` GMF, MLP or NeuMF, trained by Adam on the squared error.
    On the rating base: the same input forms, unknown-id policy, clipping,
    ``recommend`` and numpy-only pickles as ``BiasedMFRegressor``, so one
    ``GridSearchCV`` can search NCF against matrix factorization and AutoRec.

    Parameters
    ----------""" + _NCF_PARAMS_DOC.format(
        alpha="1e-5", max_iter="30", validation="RMSE on the held-out ratings", k="32") + """
    clip : bool, default=True
        Clip predictions to the training rating range.
    unknown : {"baseline", "nan", "raise"} or float, default="baseline"
        Prediction of pairs with a user or item without training ratings.

    Attributes
    ----------
    global_mean_ : float
    user_factors_, item_factors_ : ndarray
        GMF embeddings (models "gmf", "neumf").
    user_mlp_embeddings_, item_mlp_embeddings_ : ndarray
        MLP embeddings (models "mlp", "neumf").
    coefs_, intercepts_ : list of ndarray
        The MLP tower's layers (``h = relu(h @ coefs_[j] + intercepts_[j])``).
    output_coef_ : ndarray
    output_intercept_ : float
    n_iter_, best_epoch_ : int
    loss_curve_ : list of float
    validation_scores_ : list of float or None
        Validation RMSE per epoch.

    References
    ----------
    X. He, L. Liao, H. Zhang, L. Nie, X. Hu, T.-S. Chua. Neural Collaborative
    Filtering. WWW 2017.

    Examples
    --------
    >>> from sklearn_autorec import NCFRegressor
    >>> from sklearn_autorec.datasets import make_ratings
    >>> data = make_ratings(n_users=50, n_items=30, density=0.3, random_state=0)
    >>> model = NCFRegressor(max_iter=2, random_state=0).fit(data.X, data.y)
    >>> model.predict(data.X[:3]).shape
    (3,)
    """

    _parameter_constraints = {**RatingRegressorBase._parameter_constraints,
                              **_NCFMixin._ncf_constraints}

    def __init__(self, model="neumf", *, n_components=32, hidden_layer_sizes=(64, 32, 16, 8),
                 alpha=1e-5, learning_rate_init=1e-3, batch_size=256, max_iter=30,
                 early_stopping=True, validation_fraction=0.1, n_iter_no_change=3,
                 pretrain=False, device="auto", random_state=None, verbose=False,
                 clip=True, unknown="baseline"):
        self.model = model
        self.n_components = n_components
        self.hidden_layer_sizes = hidden_layer_sizes
        self.alpha = alpha
        self.learning_rate_init = learning_rate_init
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.pretrain = pretrain
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.clip = clip
        self.unknown = unknown

    def _fit_encoded(self, data):
        rng = check_random_state(self.random_state)
        train, held = data, None
        if self.early_stopping:
            keep = warm_holdout(data.users, data.items, self.validation_fraction, rng)
            if keep.all():
                raise ValueError(
                    "early_stopping=True but no rating could be held out for validation; "
                    "set early_stopping=False or give more ratings.")
            train, held = data.subset(keep), data.subset(~keep)
        self.mean_ = float(np.mean(train.ratings))
        validate = None
        if held is not None:
            import torch

            hu, hi = torch.as_tensor(held.users), torch.as_tensor(held.items)
            low, high = self.rating_min_, self.rating_max_

            def negative_rmse(net):
                pred = net(hu.to(net.out_bias.device), hi.to(net.out_bias.device))
                pred = pred.double().cpu().numpy() + self.mean_
                if self.clip:
                    np.clip(pred, low, high, out=pred)
                return -float(np.sqrt(np.mean((pred - held.ratings) ** 2)))

            validate = negative_rmse

        self._train(data.n_users, data.n_items, train.users, train.items,
                    train.ratings - self.mean_, "ratings", validate,
                    seed=int(rng.randint(np.iinfo(np.int32).max)))
        if self.validation_scores_ is not None:
            self.validation_scores_ = [-s for s in self.validation_scores_]

    def _predict_encoded(self, users, items):
        return self.mean_ + self._forward_pairs(users, items)

    def _score_items(self, users):
        return self.mean_ + self._forward_all(users, self.n_items_)

    def _item_vectors(self):
        return self._ncf_item_vectors()


class NCFRecommender(_NCFMixin, RecommenderBase):
    __doc__ = """Neural collaborative filtering for implicit feedback (He et al., 2017).

    GMF, MLP or NeuMF trained by Adam on the log loss of the positives against
    ``n_negatives`` unobserved items per positive, sampled afresh every epoch
    (all at once, vectorised; uniformly, or by popularity).  A user's scores
    for all items are computed in numpy, a block of users at a time.

    NCF learns one embedding per training user, so it has no fold-in and no
    ``recommend_new`` (``hasattr(model, "recommend_new")`` is False; refit with
    the new users' interactions).

    Parameters
    ----------""" + _NCF_PARAMS_DOC.format(
        alpha="0", max_iter="20", validation="NDCG@100 of held-out interactions "
        "(of at most 1,000 users)", k="8") + """
    n_negatives : int, default=4
        Negatives per positive and epoch (the paper's 4).
    negative_sampling : {"uniform", "popularity"}, default="uniform"
        Draw negatives uniformly, or in proportion to item popularity to the
        power 0.75.
    positive_threshold : float, default=None
        With ratings as values, the interactions rated ``>= positive_threshold``
        are the positives; the others are left out.

    Attributes
    ----------
    user_factors_, item_factors_ : ndarray
        GMF embeddings (models "gmf", "neumf").
    user_mlp_embeddings_, item_mlp_embeddings_ : ndarray
        MLP embeddings (models "mlp", "neumf").
    coefs_, intercepts_ : list of ndarray
    output_coef_ : ndarray
    output_intercept_ : float
    n_iter_, best_epoch_ : int
    loss_curve_ : list of float
    validation_scores_ : list of float or None
        Validation NDCG@100 per epoch.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_autorec import NCFRecommender
    >>> rng = np.random.default_rng(0)
    >>> X = np.unique(rng.integers(0, 30, size=(300, 2)), axis=0)
    >>> model = NCFRecommender(max_iter=2, random_state=0).fit(X)
    >>> items, scores = model.recommend(0, n=5)
    >>> items.shape
    (5,)
    """

    _parameter_constraints = {
        **RecommenderBase._parameter_constraints, **_NCFMixin._ncf_constraints,
        "n_negatives": [Interval(Integral, 1, None, closed="left")],
        "negative_sampling": [StrOptions({"uniform", "popularity"})],
    }

    def __init__(self, model="neumf", *, n_components=8, hidden_layer_sizes=(64, 32, 16, 8),
                 alpha=0.0, learning_rate_init=1e-3, batch_size=256, max_iter=20,
                 early_stopping=True, validation_fraction=0.1, n_iter_no_change=3,
                 n_negatives=4, negative_sampling="uniform", pretrain=False, device="auto",
                 random_state=None, verbose=False, positive_threshold=None):
        self.model = model
        self.n_components = n_components
        self.hidden_layer_sizes = hidden_layer_sizes
        self.alpha = alpha
        self.learning_rate_init = learning_rate_init
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.n_negatives = n_negatives
        self.negative_sampling = negative_sampling
        self.pretrain = pretrain
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.positive_threshold = positive_threshold

    def _fit_encoded(self, data):
        rng = check_random_state(self.random_state)
        seed = int(rng.randint(np.iinfo(np.int32).max))
        csr, validation = data.csr, None
        if self.early_stopping:
            csr, validation = validation_holdout(data.csr, self.validation_fraction, seed,
                                                 max_users=VALIDATION_USERS)
            if len(validation) == 0:
                raise ValueError(
                    "early_stopping=True but no user has two interactions to hold one "
                    "out; set early_stopping=False.")
        validate = None
        if validation is not None:
            import torch

            val_users = torch.as_tensor(validation.users)

            def ndcg(net):
                def block(rows):
                    return net.score_all(val_users[rows].to(net.out_bias.device)).double() \
                        .cpu().numpy()
                return validation.score(block)

            validate = ndcg

        item_p = None
        if self.negative_sampling == "popularity":
            counts = np.bincount(csr.indices, minlength=data.n_items).astype(np.float64)
            item_p = counts ** 0.75 / np.sum(counts ** 0.75)
        users = np.repeat(np.arange(data.n_users), np.diff(csr.indptr))
        self._train(data.n_users, data.n_items, users, csr.indices.astype(np.int64),
                    np.ones(csr.nnz), "implicit", validate, seed,
                    n_negatives=int(self.n_negatives), item_p=item_p)

    def _score_users(self, users):
        return self._forward_all(users, self.n_items_)

    def _score_pairs(self, users, items):
        return self._forward_pairs(users, items)

    def _item_vectors(self):
        return self._ncf_item_vectors()
