"""Mult-VAE and Mult-DAE (Liang, Krishnan, Hoffman and Jebara, WWW 2018).

Both autoencode a user's interaction row ``x_u`` over all items:

* the input is L2-normalised per user, then (training only) dropped out;
* the encoder ``n_items -> 600 -> 200`` (tanh) reads only the stored entries
  of the rows: its first layer is one ``embedding_bag`` whose per-sample
  weights are the normalised, dropped-out values, so a batch never densifies
  its input;
* the decoder ``200 -> 600 -> n_items`` (tanh hidden) ends with logits over
  all items, and the loss is the multinomial log-likelihood
  ``-sum_i x_ui log softmax(z_u)_i`` (per user, averaged over the batch),
  computed as ``-sum_i x_ui z_ui + (sum_i x_ui) logsumexp(z_u)`` from the
  logits gathered at the stored entries: the softmax itself is dense over the
  items of each batch (that is the model), the targets are not;
* Mult-VAE: the encoder's last layer gives a mean and a log-variance, the code
  is a reparameterised sample during training (the mean at inference) and the
  loss adds ``beta_t * KL(q(z|x) || N(0, I))`` with
  ``beta_t = min(beta, t / total_anneal_steps)`` on the global update counter
  ``t`` of the training loop (never reset per epoch);
* Mult-DAE: a deterministic code (tanh), no KL term, an L2 penalty on the
  weights instead.

Training runs through :func:`~sklearn_autorec._torch_train.train_minibatch`
(Adam, early stopping on NDCG@100 of a validation hold-out, best weights
restored); the fitted model holds numpy arrays only and scores in numpy.

Memory of a training batch: besides the weights (``2 * n_items * 600`` floats
and their Adam moments, 4 copies in all), the dense ``batch_size x n_items``
float32 logits, their log-softmax and their gradients, about
``batch_size * n_items * 4 bytes * 4`` (500 users x 20,720 items: 166 MB).
"""

import math
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions

from ._recommender import RecommenderBase, validation_holdout

__all__ = ["MultVAERecommender", "MultDAERecommender"]

#: ``total_anneal_steps="auto"``: beta reaches its cap after this many epochs.
#: Chosen on the ML-1M validation split (``benchmarks/bench_multvae.py
#: --validation``): with it the hold-out NDCG@100 still rose at epoch 70
#: (0.2354 at epoch 68), while Liang et al.'s 200,000-update horizon (beta
#: below 0.006 for 100 epochs of 13 batches) peaked at 0.2312 (epoch 36) and
#: then overfitted (0.222-0.225 at epochs 55-70).
AUTO_ANNEAL_EPOCHS = 20
#: The early-stopping hold-out is drawn from at most this many users.
VALIDATION_USERS = 2000
#: Bias initialisation scale (weights: Glorot uniform), as in Liang et al.
BIAS_INIT_STD = 1e-3


def _normalized(csr):
    """Rows of ``csr`` divided by their L2 norms (empty rows stay empty)."""
    norms = np.sqrt(np.asarray(csr.multiply(csr).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    out = sp.csr_matrix(csr, dtype=np.float64, copy=True)
    out.data /= np.repeat(norms, np.diff(out.indptr))
    return out


def _build_net(n_items, hidden, variational, dtype):
    """The torch module (imported lazily); see :class:`MultVAERecommender`."""
    import torch
    import torch.nn.functional as F

    class MultNet(torch.nn.Module):
        """Encoder (first layer an ``embedding_bag``) and decoder of Mult-VAE/DAE."""

        def __init__(self):
            super().__init__()
            sizes = [n_items, *hidden]
            enc_out = list(sizes[1:])
            if variational:
                enc_out[-1] *= 2
            dims = list(zip(sizes[:-1], enc_out))
            dims += list(zip(sizes[::-1][:-1], sizes[::-1][1:]))
            self.weights = torch.nn.ParameterList(
                [torch.nn.Parameter(torch.empty(a, b, dtype=dtype)) for a, b in dims])
            self.biases = torch.nn.ParameterList(
                [torch.nn.Parameter(torch.empty(b, dtype=dtype)) for _, b in dims])
            self.n_encoder = len(hidden)
            self.variational = variational

        def reset(self, generator):
            with torch.no_grad():
                for W, b in zip(self.weights, self.biases):
                    fan_in, fan_out = W.shape
                    if self.variational and W is self.weights[self.n_encoder - 1]:
                        fan_out //= 2
                    bound = math.sqrt(6.0 / (fan_in + fan_out))
                    W.uniform_(-bound, bound, generator=generator)
                    b.normal_(0.0, BIAS_INIT_STD, generator=generator)

        def encode(self, indices, offsets, values):
            """Mean and log-variance (None for the DAE) of the code of a batch."""
            h = F.embedding_bag(indices, self.weights[0], offsets, mode="sum",
                                per_sample_weights=values) + self.biases[0]
            for i in range(1, self.n_encoder):
                h = torch.tanh(h) @ self.weights[i] + self.biases[i]
            if not self.variational:
                return torch.tanh(h), None
            d = h.shape[1] // 2
            return h[:, :d], h[:, d:]

        def decode(self, z):
            h = z
            for i in range(self.n_encoder, len(self.weights)):
                if i > self.n_encoder:
                    h = torch.tanh(h)
                h = h @ self.weights[i] + self.biases[i]
            return h

        def forward(self, indices, offsets, values):
            """Eval forward: logits of the code's mean."""
            mu, _ = self.encode(indices, offsets, values)
            return self.decode(mu)

    return MultNet()


def _anneal(step, beta, total_anneal_steps):
    """``beta_t = min(beta, step / total_anneal_steps)``."""
    if total_anneal_steps <= 0:
        return beta
    return min(beta, step / total_anneal_steps)


def _batch_loss(net, batch, beta_t, alpha, dropout, generator):
    """Loss of a batch: multinomial NLL (+ ``beta_t`` KL, + ``alpha`` L2).

    ``batch`` is ``(indices, offsets, normalised values, raw values, row of each
    entry, eps)``: the first five torch tensors of the batch's stored entries
    (:func:`_torch_batch`), ``eps`` the reparameterisation noise, or None to
    draw it from ``generator`` (which also draws the dropout mask; with
    ``dropout=0`` and a given ``eps`` the loss is deterministic).
    """
    import torch

    indices, offsets, values, raw, pos, eps = batch
    if dropout > 0:
        keep = torch.rand(values.shape, generator=generator, device=values.device,
                          dtype=values.dtype) >= dropout
        values = values * keep / (1.0 - dropout)
    n_rows = offsets.shape[0]
    mu, logvar = net.encode(indices, offsets, values)
    if logvar is None:
        z = mu
    else:
        if eps is None:
            eps = torch.randn(mu.shape, generator=generator, device=mu.device,
                              dtype=mu.dtype)
        z = mu + torch.exp(0.5 * logvar) * eps
    logits = net.decode(z)
    totals = torch.zeros(n_rows, dtype=raw.dtype, device=raw.device).index_add_(0, pos, raw)
    nll = (totals * torch.logsumexp(logits, dim=1)).sum() - (raw * logits[pos, indices]).sum()
    loss = nll / n_rows
    if logvar is not None and beta_t > 0:
        kl = 0.5 * (torch.exp(logvar) + mu * mu - 1.0 - logvar).sum() / n_rows
        loss = loss + beta_t * kl
    if alpha > 0:
        loss = loss + alpha * sum((W * W).sum() for W in net.weights)
    return loss


def _torch_batch(norm, raw, rows, device, dtype):
    """CSR rows -> the tensors of :func:`_batch_loss` (no epsilon)."""
    import torch

    sub, sub_raw = norm[rows], raw[rows]
    pos = np.repeat(np.arange(len(rows)), np.diff(sub.indptr))

    def t(a, dt):
        return torch.as_tensor(a, dtype=dt, device=device)

    return (t(sub.indices.astype(np.int64), torch.int64),
            t(sub.indptr[:-1].astype(np.int64), torch.int64),
            t(sub.data, dtype), t(sub_raw.data, dtype), t(pos, torch.int64), None)


def _validator(net, validation, device, dtype):
    """``validate()``: NDCG@100 of the torch eval forward on ``validation``."""
    import torch

    inputs = _normalized(validation.inputs)

    def score_block(rows):
        sub = inputs[rows]
        out = net(torch.as_tensor(sub.indices.astype(np.int64), device=device),
                  torch.as_tensor(sub.indptr[:-1].astype(np.int64), device=device),
                  torch.as_tensor(sub.data, dtype=dtype, device=device))
        return out.double().cpu().numpy()

    def validate():
        return validation.score(score_block, k=100, metric="ndcg")

    return validate


class _MultBase(RecommenderBase):
    """Shared fit and scoring of Mult-VAE and Mult-DAE."""

    _variational = True

    _parameter_constraints = {
        **RecommenderBase._parameter_constraints,
        "hidden_layer_sizes": ["array-like"],
        "dropout": [Interval(Real, 0, 1, closed="left")],
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

    def _check_hidden(self):
        sizes = np.asarray(self.hidden_layer_sizes)
        if (sizes.ndim != 1 or len(sizes) == 0 or sizes.dtype.kind not in "iu"
                or (sizes < 1).any()):
            raise ValueError(
                "hidden_layer_sizes must be a non-empty sequence of positive ints: the "
                "encoder's layer sizes, the last one the code's dimension (e.g. "
                f"(600, 200)); got {self.hidden_layer_sizes!r}.")
        return tuple(int(s) for s in sizes)

    def _anneal_steps(self, n_batches):
        return 0

    def _fit_encoded(self, data):
        import torch

        from ._torch_train import resolve_device, seeded_generators, train_minibatch

        hidden = self._check_hidden()
        device = resolve_device(self.device)
        seed = check_random_state(self.random_state).randint(2 ** 31 - 1)
        rng = np.random.default_rng(seed)
        csr = data.csr
        validation = None
        if self.early_stopping:
            csr, validation = validation_holdout(csr, self.validation_fraction, seed,
                                                 max_users=VALIDATION_USERS)
            if len(validation) == 0:
                raise ValueError(
                    "early_stopping=True needs users with at least two interactions to "
                    "hold some out for validation, and no user has two; pass "
                    "early_stopping=False.")
        norm = _normalized(csr)
        dtype = torch.float32
        net = _build_net(csr.shape[1], hidden, self._variational, dtype)
        init_gen, gen = seeded_generators(seed, device)
        net.reset(init_gen)
        net.to(device)
        n_users = csr.shape[0]
        n_batches = -(-n_users // self.batch_size)
        self.total_anneal_steps_ = self._anneal_steps(n_batches)
        beta = float(getattr(self, "beta", 0.0))
        alpha, dropout = float(self.alpha), float(self.dropout)

        def batches(epoch):
            order = rng.permutation(n_users)
            for start in range(0, n_users, self.batch_size):
                yield _torch_batch(norm, csr, np.sort(order[start:start + self.batch_size]),
                                   device, dtype)

        def loss(batch, step):
            beta_t = _anneal(step, beta, self.total_anneal_steps_)
            return _batch_loss(net, batch, beta_t, alpha, dropout, gen)

        validate = (None if validation is None
                    else _validator(net, validation, device, dtype))

        result = train_minibatch(net, batches=batches, loss=loss, validate=validate,
                                 max_iter=self.max_iter,
                                 n_iter_no_change=self.n_iter_no_change,
                                 lr=self.learning_rate, verbose=bool(self.verbose),
                                 name=type(self).__name__)
        self.coefs_ = [W.detach().cpu().double().numpy().copy() for W in net.weights]
        self.intercepts_ = [b.detach().cpu().double().numpy().copy() for b in net.biases]
        self.n_iter_ = result.n_iter
        self.best_epoch_ = result.best_epoch
        self.n_updates_ = result.n_updates
        self.loss_curve_ = [h["loss"] for h in result.history]
        self.validation_scores_ = ([h["validation"] for h in result.history]
                                   if self.early_stopping else None)
        self.best_validation_score_ = result.best_score

    # -------------------------------------------------------------- scoring
    def _score_new(self, rows):
        coefs, intercepts = self.coefs_, self.intercepts_
        n_encoder = len(coefs) // 2
        h = np.asarray(_normalized(sp.csr_matrix(rows)) @ coefs[0]) + intercepts[0]
        for i in range(1, n_encoder):
            h = np.tanh(h) @ coefs[i] + intercepts[i]
        if self._variational:
            h = h[:, :h.shape[1] // 2]
        else:
            h = np.tanh(h)
        for i in range(n_encoder, len(coefs)):
            if i > n_encoder:
                h = np.tanh(h)
            h = h @ coefs[i] + intercepts[i]
        return h

    def _score_users(self, users):
        return self._score_new(self._user_rows(users))

    def _item_vectors(self):
        return self.coefs_[-1].T


_COMMON_PARAMS = """
    learning_rate : float, default=1e-3
        Adam's learning rate.
    batch_size : int, default=500
        Users per mini-batch.  A batch's dense logits take about
        ``batch_size * n_items * 4 bytes * 4`` of memory.
    max_iter : int, default={max_iter}
        Most epochs (passes over the users).
    early_stopping : bool, default=True
        Hold out ``validation_fraction`` of the interactions of up to 2,000
        users with at least two interactions (these interactions are then not
        trained on), score NDCG@100 on them after every epoch (the users'
        other interactions are the input), stop after ``n_iter_no_change``
        epochs without improvement and keep the best epoch's weights.  A
        per-user hold-out rather than Liang et al.'s held-out users: it costs
        the training set a tenth of 2,000 users' interactions instead of
        whole users, and it is the task the model is scored on (ranking the
        missing items of known users).  False: train ``max_iter`` epochs on
        all the data and keep the last weights.
    n_iter_no_change : int, default={patience}
        Patience of the early stopping, in epochs.
    validation_fraction : float, default=0.1
        Share of each validation user's interactions held out.
    device : str, default="auto"
        Torch device for training ("auto": CUDA when available, else CPU).
    random_state : int, RandomState instance or None, default=None
        Seeds the initialisation, the validation split, the batch order, the
        dropout masks{eps}.
    verbose : bool, default=False
        Print one line per epoch.
    positive_threshold : float, default=None
        With ratings as values, only the interactions rated ``>=
        positive_threshold`` are positives (weight 1); the others are left out.
        None: every interaction is a positive, its value its weight (the
        multinomial's counts).
"""

_COMMON_ATTRS = """
    coefs_ : list of ndarray
        Weight matrices, ``coefs_[i]`` of shape ``(fan_in, fan_out)``: the
        encoder's layers (the first reads the normalised interactions){mean}, then the
        decoder's, the last of shape ``(hidden_layer_sizes[0], n_items_)``.
    intercepts_ : list of ndarray
        The biases of these layers.
    n_iter_ : int
        Epochs run.
    best_epoch_ : int
        The epoch whose weights were kept (0: none improved on the initial
        weights; ``n_iter_`` without early stopping).
    n_updates_ : int
        Optimizer steps made.
    loss_curve_ : list of float
        Mean training loss of each epoch.
    validation_scores_ : list of float or None
        Validation NDCG@100 after each epoch (None without early stopping).
    best_validation_score_ : float or None
        That of ``best_epoch_``.
    user_ids_, item_ids_ : ndarray
        Raw ids of the encoded users and items.
    n_users_, n_items_ : int
    seen_indptr_, seen_indices_, seen_weights_ : ndarray
        Training interactions of each user, in CSR form.
    n_below_threshold_ : int
        Interactions left out by ``positive_threshold``.
"""


class MultVAERecommender(_MultBase):
    __doc__ = """Mult-VAE: a variational autoencoder with a multinomial likelihood.

    The model of Liang et al. (2018).  A user's interactions ``x_u``,
    L2-normalised and (in training) dropped out, are encoded by a tanh MLP
    (``hidden_layer_sizes``) into the mean and log-variance of a Gaussian code;
    a mirrored decoder turns the code into logits over all items, trained with
    the multinomial log-likelihood ``-sum_i x_ui log softmax(z_u)_i`` plus
    ``beta_t * KL(q(z|x_u) || N(0, I))``, ``beta_t`` annealed linearly from 0 to
    the cap ``beta`` on the global update counter.  Scores are the logits of
    the code's mean: a user (new or not) is scored from its interactions
    alone, so :meth:`recommend_new` (fold-in) is the model itself.

    The encoder reads sparse rows (an ``embedding_bag``), so no dense
    users x items input is built; the output softmax is dense over the items of
    a batch.  Training: Adam on mini-batches of users, early stopped on the
    NDCG@100 of a validation hold-out.  The fitted model holds numpy arrays
    only and scores in numpy.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(600, 200)
        The encoder's layer sizes (tanh), the last one the dimension of the
        code; the decoder mirrors them.
    dropout : float, default=0.5
        Dropout rate on the normalised input during training.
    beta : float, default=0.2
        The cap of the annealed KL weight (``anneal_cap`` of the paper).
    total_anneal_steps : int or "auto", default="auto"
        ``beta_t = min(beta, t / total_anneal_steps)`` at update ``t``.
        "auto": beta reaches its cap after {anneal} epochs, i.e.
        ``total_anneal_steps = {anneal} * batches_per_epoch / beta`` (the
        value used is ``total_anneal_steps_``).  0: ``beta`` from the start.
    alpha : float, default=0.0
        L2 penalty ``alpha * sum ||W||^2`` on the weight matrices (not the
        biases), added to each batch's loss (Liang et al. use none for the VAE).
{common}
    Attributes
    ----------
{attrs}
    total_anneal_steps_ : int
        The annealing horizon used.

    References
    ----------
    D. Liang, R. G. Krishnan, M. D. Hoffman and T. Jebara. Variational
    Autoencoders for Collaborative Filtering. WWW 2018.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_autorec import MultVAERecommender
    >>> rng = np.random.default_rng(0)
    >>> X = np.unique(rng.integers(0, 30, size=(300, 2)), axis=0)
    >>> model = MultVAERecommender(hidden_layer_sizes=(20, 5), max_iter=3,
    ...                            random_state=0).fit(X)
    >>> items, scores = model.recommend(0, n=3)
    >>> items.shape
    (3,)
    >>> users, items, scores = model.recommend_new([[1000, 1], [1000, 2]], n=2)
    >>> users, items.shape
    (array([1000]), (1, 2))
    """.format(anneal=AUTO_ANNEAL_EPOCHS,
               common=_COMMON_PARAMS.format(max_iter=150, patience=25,
                                            eps=" and the code's noise"),
               attrs=_COMMON_ATTRS.format(
                   mean=" (the code layer's ``fan_out`` holds the mean, then the "
                   "log-variance)"))

    _variational = True

    _parameter_constraints = {
        **_MultBase._parameter_constraints,
        "beta": [Interval(Real, 0, None, closed="left")],
        "total_anneal_steps": [Interval(Integral, 0, None, closed="left"),
                               StrOptions({"auto"})],
    }

    def __init__(self, hidden_layer_sizes=(600, 200), *, dropout=0.5, beta=0.2,
                 total_anneal_steps="auto", alpha=0.0, learning_rate=1e-3, batch_size=500,
                 max_iter=150, early_stopping=True, n_iter_no_change=25,
                 validation_fraction=0.1, device="auto", random_state=None, verbose=False,
                 positive_threshold=None):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.dropout = dropout
        self.beta = beta
        self.total_anneal_steps = total_anneal_steps
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

    def _anneal_steps(self, n_batches):
        if self.total_anneal_steps != "auto":
            return int(self.total_anneal_steps)
        if self.beta == 0:
            return 0
        return int(math.ceil(AUTO_ANNEAL_EPOCHS * n_batches / self.beta))


class MultDAERecommender(_MultBase):
    __doc__ = """Mult-DAE: a denoising autoencoder with a multinomial likelihood.

    The deterministic model of Liang et al. (2018): the network of
    :class:`MultVAERecommender` with a deterministic code (tanh) and no KL
    term, regularised by input dropout and an L2 penalty on the weights.
    Scores are the decoder's logits of a user's interactions (fold-in is
    native: :meth:`recommend_new`).

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(600, 200)
        The encoder's layer sizes (tanh), the last one the dimension of the
        code; the decoder mirrors them.
    dropout : float, default=0.5
        Dropout rate on the normalised input during training.
    alpha : float, default=0.001
        L2 penalty ``alpha * sum ||W||^2`` on the weight matrices (not the
        biases), added to each batch's loss: the form of Liang et al.'s
        penalty (their ``2 * lambda * l2_loss``, ``l2_loss = ||W||^2 / 2``,
        per batch, i.e. ``alpha = lambda``).  They use ``lambda = 0.01`` on
        ML-20M; on the ML-1M validation split 0.001 is better (hold-out NDCG@100
        0.229 at epoch 22 against 0.204 with 0.01).
{common}
    Attributes
    ----------
{attrs}
    References
    ----------
    D. Liang, R. G. Krishnan, M. D. Hoffman and T. Jebara. Variational
    Autoencoders for Collaborative Filtering. WWW 2018.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_autorec import MultDAERecommender
    >>> rng = np.random.default_rng(0)
    >>> X = np.unique(rng.integers(0, 30, size=(300, 2)), axis=0)
    >>> model = MultDAERecommender(hidden_layer_sizes=(20, 5), max_iter=3,
    ...                            random_state=0).fit(X)
    >>> items, scores = model.recommend(0, n=3)
    >>> items.shape
    (3,)
    """.format(common=_COMMON_PARAMS.format(max_iter=60, patience=10, eps=""),
               attrs=_COMMON_ATTRS.format(mean=""))

    _variational = False

    def __init__(self, hidden_layer_sizes=(600, 200), *, dropout=0.5, alpha=0.001,
                 learning_rate=1e-3, batch_size=500, max_iter=60, early_stopping=True,
                 n_iter_no_change=10, validation_fraction=0.1, device="auto",
                 random_state=None, verbose=False, positive_threshold=None):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.dropout = dropout
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
