"""CDAE (Wu, DuBois, Zheng and Ester, WSDM 2016): the collaborative denoising auto-encoder.

The model, for a user ``u`` with interaction vector ``y_u`` (its weights over
the items) and its own input vector ``V_u``::

    y~_u  = dropout(y_u, q)              (kept entries scaled by 1 / (1 - q))
    z_u   = h(W^T y~_u + V_u + b)        (hidden code, n_components units)
    y^_ui = f(W'_i . z_u + b'_i)         (the score of item i)

trained on the user's observed items (target 1) and, each epoch, negative
items sampled uniformly among those it did not interact with (target 0).

Training reads the sparse rows directly: the encoder is one
``embedding_bag`` (the corrupted values are its per-sample weights) and the
decoder is evaluated only at the batch's positives and sampled negatives (a
gather of decoder rows), never as a dense batch x items output.  Training
goes through the shared loop :func:`~sklearn_autorec._torch_train.train_minibatch`;
torch is imported only there, the fitted model holds numpy arrays and scores
in numpy.
"""

from numbers import Integral, Real

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions

from ._recommender import RecommenderBase, validation_holdout

__all__ = ["CDAERecommender"]

#: Early stopping holds out ``validation_fraction`` of the interactions of at
#: most this many users (drawn at random); the others train on all of theirs.
VALIDATION_USERS = 2000
#: Rounds of re-drawing the negative samples that hit an interaction; the
#: draws still hitting one afterwards are dropped.
NEGATIVE_REDRAWS = 3


def _sigmoid(x):
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))
    e = np.exp(x[~pos])
    out[~pos] = e / (1.0 + e)
    return out


_NUMPY_ACTIVATIONS = {
    "sigmoid": _sigmoid,
    "tanh": np.tanh,
    "relu": lambda x: np.maximum(x, 0.0),
    "identity": lambda x: x,
}


# ---------------------------------------------------------------- batches
class _Batch:
    """One mini-batch of users, in index form (numpy; moved to torch by the loss).

    ``users`` (B,) are the encoded users; ``in_indices``, ``in_offsets`` and
    ``in_values`` the ``embedding_bag`` form of their corrupted input (entries
    dropped by the corruption left out); ``target_rows`` (position in the
    batch), ``target_items`` and ``targets`` the entries the loss is evaluated
    at: every observed item (target 1) and the sampled negatives (target 0).
    """

    def __init__(self, users, in_indices, in_offsets, in_values, target_rows,
                 target_items, targets):
        self.users = users
        self.in_indices = in_indices
        self.in_offsets = in_offsets
        self.in_values = in_values
        self.target_rows = target_rows
        self.target_items = target_items
        self.targets = targets


def _sample_negatives(csr, users, counts, rng):
    """``counts[j]`` items per ``users[j]``, uniform among those it has not interacted with.

    Returns ``(rows, items)``: ``rows`` the position ``j`` of each draw.
    Draws that hit an interaction are re-drawn :data:`NEGATIVE_REDRAWS`
    times, then dropped.
    """
    n_items = csr.shape[1]
    rows = np.repeat(np.arange(len(users)), counts)
    items = rng.integers(0, n_items, size=len(rows))
    # the interactions of the batch as sorted keys user_position * n_items + item
    lo, hi = csr.indptr[users], csr.indptr[users + 1]
    pos_rows = np.repeat(np.arange(len(users)), hi - lo)
    pos_items = csr.indices[np.concatenate([np.arange(a, b) for a, b in zip(lo, hi)])
                            if len(users) else np.empty(0, np.int64)]
    keys = pos_rows.astype(np.int64) * n_items + pos_items
    if len(keys) == 0:
        return rows, items

    def hits(r, i):
        k = r.astype(np.int64) * n_items + i
        where = np.minimum(np.searchsorted(keys, k), len(keys) - 1)
        return keys[where] == k

    bad = hits(rows, items)
    for _ in range(NEGATIVE_REDRAWS):
        if not bad.any():
            break
        idx = np.flatnonzero(bad)
        items[idx] = rng.integers(0, n_items, size=len(idx))
        bad[idx] = hits(rows[idx], items[idx])
    keep = ~bad
    return rows[keep], items[keep]


def _make_batch(csr, users, negative_ratio, corruption, rng, negatives=None):
    """The :class:`_Batch` of ``users`` (encoded rows of ``csr``).

    ``negatives``: ``(rows, items)`` to use instead of sampling (tests).
    """
    sub = csr[users]
    counts = np.diff(sub.indptr)
    values = sub.data.astype(np.float64)
    keep = np.ones(len(values), dtype=bool)
    if corruption > 0:
        keep = rng.random(len(values)) >= corruption
        values = values / (1.0 - corruption)
    entry_rows = np.repeat(np.arange(len(users)), counts)
    kept_counts = np.bincount(entry_rows[keep], minlength=len(users))
    in_offsets = np.concatenate([[0], np.cumsum(kept_counts)[:-1]]).astype(np.int64)
    if negatives is None:
        n_neg = np.ceil(negative_ratio * counts).astype(np.int64)
        negatives = _sample_negatives(csr, users, n_neg, rng)
    neg_rows, neg_items = negatives
    return _Batch(
        users=np.asarray(users, dtype=np.int64),
        in_indices=sub.indices[keep].astype(np.int64),
        in_offsets=in_offsets,
        in_values=values[keep],
        target_rows=np.concatenate([entry_rows, neg_rows]).astype(np.int64),
        target_items=np.concatenate([sub.indices, neg_items]).astype(np.int64),
        targets=np.concatenate([np.ones(len(entry_rows)), np.zeros(len(neg_rows))]),
    )


# ------------------------------------------------------------ torch model
def _torch_parts():
    """The torch module class and loss of CDAE (torch imported here, lazily)."""
    import torch

    activations = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu,
                   "identity": lambda x: x}

    class CDAEModule(torch.nn.Module):
        def __init__(self, n_users, n_items, n_components, hidden_activation,
                     output_activation, generator, dtype):
            super().__init__()
            bound = float(np.sqrt(6.0 / (n_items + n_components)))

            def uniform(*shape):
                return (torch.rand(*shape, generator=generator, dtype=dtype) * 2 - 1) * bound

            self.encoder_weights = torch.nn.Parameter(uniform(n_items, n_components))
            self.encoder_bias = torch.nn.Parameter(torch.zeros(n_components, dtype=dtype))
            self.user_embeddings = torch.nn.Parameter(
                torch.zeros(n_users, n_components, dtype=dtype))
            self.decoder_weights = torch.nn.Parameter(uniform(n_items, n_components))
            self.decoder_bias = torch.nn.Parameter(torch.zeros(n_items, dtype=dtype))
            self.hidden = activations[hidden_activation]
            self.output = activations[output_activation]

        def encode(self, in_indices, in_offsets, in_values, users):
            """Hidden codes from ``embedding_bag`` input (users=None: V_u = 0)."""
            pre = torch.nn.functional.embedding_bag(
                in_indices, self.encoder_weights, in_offsets, mode="sum",
                per_sample_weights=in_values)
            pre = pre + self.encoder_bias
            if users is not None:
                pre = pre + self.user_embeddings[users]
            return self.hidden(pre)

        def dense_scores(self, inputs, users):
            """Eval forward on a dense input block: all items' outputs."""
            pre = inputs @ self.encoder_weights + self.encoder_bias
            if users is not None:
                pre = pre + self.user_embeddings[users]
            z = self.hidden(pre)
            return self.output(z @ self.decoder_weights.T + self.decoder_bias)

    def batch_loss(module, batch, loss, alpha, n_users, device):
        """The batch estimate of the objective (see ``CDAERecommender``)."""
        dtype = module.decoder_bias.dtype

        def t(a, float_=False):
            return torch.as_tensor(a, dtype=dtype if float_ else torch.int64, device=device)

        users = t(batch.users)
        z = module.encode(t(batch.in_indices), t(batch.in_offsets),
                          t(batch.in_values, True), users)
        items = t(batch.target_items)
        logits = ((z[t(batch.target_rows)] * module.decoder_weights[items]).sum(dim=1)
                  + module.decoder_bias[items])
        targets = t(batch.targets, True)
        if loss == "logistic":
            per_entry = torch.nn.functional.binary_cross_entropy_with_logits(
                logits, targets, reduction="none")
        else:
            per_entry = (module.output(logits) - targets) ** 2
        n_batch = len(batch.users)
        value = per_entry.sum() / n_batch
        if alpha > 0:
            value = value + alpha / 2 * (
                module.user_embeddings[users].pow(2).sum() / n_batch
                + (module.encoder_weights.pow(2).sum()
                   + module.decoder_weights.pow(2).sum()) / n_users)
        return value

    return CDAEModule, batch_loss


class CDAERecommender(RecommenderBase):
    """CDAE: the collaborative denoising auto-encoder (Wu et al., 2016).

    A one-hidden-layer auto-encoder of each user's interactions whose hidden
    layer also receives a vector ``V_u`` of the user's own::

        z_u = h(W^T y~_u + V_u + b),    score_ui = f(W'_i . z_u + b'_i)

    where ``y~_u`` is the user's interaction vector (its weights) corrupted
    by dropout: each entry is zeroed with probability ``corruption`` and the
    kept ones are scaled by ``1 / (1 - corruption)``.  The targets are 1 at
    every interaction (whatever its weight: the weights are the input) and 0
    at negative items sampled uniformly, each epoch, among those the user did
    not interact with (``negative_ratio`` per interaction).  The objective is
    the mean over users of their loss plus the L2 penalty of the paper,

        mean_u [ sum_{i in O_u + S_u} l(y_ui, score_ui) ]
        + alpha / (2 n_users) (||W||^2 + ||W'||^2 + ||V||^2),

    i.e. ``(1/n_users)`` times the paper's sum over users with penalty
    ``alpha``; it is minimised by Adam over mini-batches of users (the
    package's one training loop), early-stopped on NDCG@100 of held-out
    interactions and the best epoch's weights kept.

    At inference there is no corruption: a training user is scored from its
    training interactions and its ``V_u``.  A user the model never trained on
    (:meth:`recommend_new`, or fresh interactions of a known user) has no
    ``V_u``: CDAE then scores it from its interactions alone, with ``V_u = 0``
    (the value every ``V_u`` starts from).

    Parameters
    ----------
    n_components : int, default=100
        Hidden units ``K``.
    corruption : float in [0, 1), default=0.5
        Dropout probability ``q`` of the input entries in training.
    hidden_activation : {"sigmoid", "tanh", "relu", "identity"}, default="sigmoid"
        ``h``.
    output_activation : {"sigmoid", "identity"}, default="sigmoid"
        ``f``; ``loss="logistic"`` needs "sigmoid".
    loss : {"logistic", "squared"}, default="logistic"
        ``l``: binary cross-entropy (of the sigmoid output) or squared error.
    negative_ratio : float, default=5.0
        Negative items sampled per interaction of a user, each epoch
        (``ceil(negative_ratio * n_u)`` for a user with ``n_u`` interactions;
        the few draws that still hit an interaction after three re-draws are
        dropped).
    alpha : float, default=0.1
        L2 penalty of ``W``, ``W'`` and ``V`` (the paper's lambda); biases are
        not penalised.
    learning_rate : float, default=0.01
        Adam's step size.
    batch_size : int, default=64
        Users per mini-batch.
    max_iter : int, default=100
        Most epochs (passes over the users).
    early_stopping : bool, default=True
        Hold out ``validation_fraction`` of the interactions of up to 2,000
        random users (who train on the rest), score NDCG@100 on them after
        every epoch, stop after ``n_iter_no_change`` epochs without
        improvement and keep the best epoch's weights.  False: train
        ``max_iter`` epochs on all the data.
    n_iter_no_change : int, default=5
        Patience of early stopping, in epochs.
    validation_fraction : float in (0, 1), default=0.1
        Share of a validation user's interactions held out.
    device : str, default="auto"
        Torch device of training: "auto" (CUDA when available, else CPU),
        "cpu", "cuda", "cuda:1"...  The fitted model is numpy arrays.
    random_state : int, RandomState instance or None, default=None
        Seed of the initial weights, the corruption, the negative samples, the
        batch order and the validation split.
    verbose : bool, default=False
        Print the loss and validation score of every epoch.
    positive_threshold : float, default=None
        With ratings as values, only the interactions rated ``>=
        positive_threshold`` are positives (weight 1); the others are left out.
        None: every interaction is a positive, its value its input weight.

    Attributes
    ----------
    encoder_weights_ : ndarray of shape ``(n_items_, n_components)``
        ``W``: row ``i`` is added to the hidden pre-activation, times the
        user's weight of item ``i``.
    encoder_bias_ : ndarray of shape (n_components,)
        ``b``.
    user_embeddings_ : ndarray of shape ``(n_users_, n_components)``
        ``V``: the input vector of each training user.
    decoder_weights_ : ndarray of shape ``(n_items_, n_components)``
        ``W'``: item ``i``'s output weights (its vector in :meth:`similar_items`).
    decoder_bias_ : ndarray of shape ``(n_items_,)``
        ``b'``.
    n_iter_ : int
        Epochs run.
    best_epoch_ : int
        Epoch whose weights were kept (``n_iter_`` without early stopping; 0
        when no epoch beat the initial weights).
    validation_scores_ : list of float
        Validation NDCG@100 after each epoch (empty without early stopping).
    loss_curve_ : list of float
        Mean training batch loss of each epoch.
    user_ids_, item_ids_ : ndarray
        Raw ids of the encoded users and items.
    n_users_, n_items_ : int
    seen_indptr_, seen_indices_, seen_weights_ : ndarray
        Training interactions of each user, in CSR form.
    n_below_threshold_ : int
        Interactions left out by ``positive_threshold``.

    References
    ----------
    Y. Wu, C. DuBois, A. X. Zheng and M. Ester. Collaborative Denoising
    Auto-Encoders for Top-N Recommender Systems. WSDM 2016.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_autorec import CDAERecommender
    >>> X = np.array([[0, 0], [0, 1], [1, 0], [1, 1], [2, 0], [2, 2], [3, 1], [3, 2]])
    >>> model = CDAERecommender(n_components=4, max_iter=5, early_stopping=False,
    ...                         device="cpu", random_state=0).fit(X)
    >>> items, scores = model.recommend(0, n=1)
    >>> items
    array([2])
    >>> new_users, items, scores = model.recommend_new([[10, 1]], n=2)
    >>> new_users, items.shape
    (array([10]), (1, 2))
    """

    _parameter_constraints = {
        **RecommenderBase._parameter_constraints,
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "corruption": [Interval(Real, 0, 1, closed="left")],
        "hidden_activation": [StrOptions({"sigmoid", "tanh", "relu", "identity"})],
        "output_activation": [StrOptions({"sigmoid", "identity"})],
        "loss": [StrOptions({"logistic", "squared"})],
        "negative_ratio": [Interval(Real, 0, None, closed="left")],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "device": [str],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(self, n_components=100, *, corruption=0.5, hidden_activation="sigmoid",
                 output_activation="sigmoid", loss="logistic", negative_ratio=5.0,
                 alpha=0.1, learning_rate=0.01, batch_size=64, max_iter=100,
                 early_stopping=True, n_iter_no_change=5, validation_fraction=0.1,
                 device="auto", random_state=None, verbose=False,
                 positive_threshold=None):
        self.n_components = n_components
        self.corruption = corruption
        self.hidden_activation = hidden_activation
        self.output_activation = output_activation
        self.loss = loss
        self.negative_ratio = negative_ratio
        self.alpha = alpha
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.early_stopping = early_stopping
        self.n_iter_no_change = n_iter_no_change
        self.validation_fraction = validation_fraction
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.positive_threshold = positive_threshold

    def _check_combination(self):
        if self.loss == "logistic" and self.output_activation != "sigmoid":
            raise ValueError(
                f"loss='logistic' is the cross-entropy of outputs in (0, 1), but "
                f"output_activation={self.output_activation!r}; set "
                "output_activation='sigmoid', or use loss='squared'.")

    def _fit_encoded(self, data):
        self._check_combination()
        import torch

        from ._torch_train import resolve_device, state_to_numpy, train_minibatch

        device = resolve_device(self.device)
        rs = check_random_state(self.random_state)
        init_seed, batch_seed, split_seed = (int(s) for s in rs.randint(2 ** 31, size=3))
        csr = data.csr
        if self.early_stopping:
            csr, validation = validation_holdout(csr, self.validation_fraction, split_seed,
                                                 max_users=VALIDATION_USERS)
            if len(validation) == 0:
                raise ValueError(
                    "early_stopping=True needs users with at least two interactions to "
                    "hold some out for validation, and no user has two; set "
                    "early_stopping=False.")
        CDAEModule, batch_loss = _torch_parts()
        generator = torch.Generator().manual_seed(init_seed)
        module = CDAEModule(data.n_users, data.n_items, self.n_components,
                            self.hidden_activation, self.output_activation, generator,
                            torch.float32).to(device)
        rng = np.random.default_rng(batch_seed)
        n_users = data.n_users

        def batches(epoch):
            order = rng.permutation(n_users)
            for start in range(0, n_users, self.batch_size):
                yield _make_batch(csr, order[start:start + self.batch_size],
                                  self.negative_ratio, self.corruption, rng)

        def loss(batch, step):
            return batch_loss(module, batch, self.loss, self.alpha, n_users, device)

        if self.early_stopping:
            def validate():
                users = torch.as_tensor(validation.users, device=device)

                def score_block(rows):
                    dense = torch.as_tensor(validation.inputs[rows].toarray(),
                                            dtype=torch.float32, device=device)
                    return module.dense_scores(dense, users[rows]).cpu().double().numpy()

                return validation.score(score_block, k=100, metric="ndcg")
        else:
            validate = None

        result = train_minibatch(module, batches=batches, loss=loss, validate=validate,
                                 max_iter=self.max_iter,
                                 n_iter_no_change=self.n_iter_no_change,
                                 lr=self.learning_rate, verbose=self.verbose, name="CDAE")
        state = state_to_numpy(module)
        self.encoder_weights_ = state["encoder_weights"]
        self.encoder_bias_ = state["encoder_bias"]
        self.user_embeddings_ = state["user_embeddings"]
        self.decoder_weights_ = state["decoder_weights"]
        self.decoder_bias_ = state["decoder_bias"]
        self.n_iter_ = result.n_iter
        self.best_epoch_ = result.best_epoch
        self.validation_scores_ = [h["validation"] for h in result.history
                                   if h["validation"] is not None]
        self.loss_curve_ = [h["loss"] for h in result.history]

    def _forward(self, rows, user_vectors):
        pre = np.asarray(rows @ self.encoder_weights_) + self.encoder_bias_
        if user_vectors is not None:
            pre = pre + user_vectors
        z = _NUMPY_ACTIVATIONS[self.hidden_activation](pre)
        out = z @ self.decoder_weights_.T + self.decoder_bias_
        return _NUMPY_ACTIVATIONS[self.output_activation](out)

    def _score_users(self, users):
        return self._forward(self._user_rows(users), self.user_embeddings_[users])

    def _score_new(self, rows):
        # CDAE has no V_u for a user it did not train on: V_u = 0, the input alone.
        return self._forward(rows, None)

    def _item_vectors(self):
        return self.decoder_weights_
