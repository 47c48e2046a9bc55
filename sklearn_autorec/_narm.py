"""NARM (Li, Ren, Chen, Ren, Lian and Ma, CIKM 2017): neural attentive session recommendation.

The model reads a session prefix ``x_1..x_t`` (item ids):

* item embeddings ``e_j = E[x_j]`` (``embedding_dim``), dropped out in training;
* a GRU (``hidden_size``) over them gives the hidden states ``h_1..h_t``
  (the equations of ``torch.nn.GRU``: reset gate ``r``, update gate ``z``,
  ``n = tanh(W_in e + b_in + r * (W_hn h + b_hn))``, ``h' = (1 - z) n + z h``);
* the global encoder is the last hidden state ``c_g = h_t``;
* the local encoder attends over all the hidden states,
  ``alpha_tj = v^T sigmoid(A1 h_t + A2 h_j)`` and ``c_l = sum_j alpha_tj h_j``
  (the paper's weights: not normalised; padding gets weight 0);
* ``c = [c_g; c_l]`` is dropped out in training and decoded bilinearly
  against every item's embedding, ``S_i = E_i^T B c``;
* the loss is the softmax cross-entropy of the next item over all items
  (``n_negatives=None``) or over a sampled set of items (a sampled softmax,
  for large catalogues).

Every prefix of every training session is one example (the standard
augmentation); the prefixes of a mini-batch are right-padded, the GRU runs on
the packed (unpadded) sequences and the attention is masked.  Training runs
through :func:`~sklearn_autorec._torch_train.train_minibatch` with early
stopping on the validation Recall@20; the fitted model holds numpy arrays and
scores in numpy.
"""

from numbers import Integral, Real

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval

from ._sessions import EncodedSessions, SessionRecommenderBase, _session_ends

__all__ = ["NARMRecommender"]

#: Validation (early stopping) is scored on the prefixes of at most this many
#: held-out sessions, so that it stays a small part of an epoch.
VALIDATION_MAX_SESSIONS = 20000
#: Early stopping scores Recall@20 (Recall@(n_items // 2) on catalogues of under
#: 40 items, where Recall@20 is about 1 whatever the weights).
VALIDATION_K = 20
#: Rows per block of the numpy scoring (the decoder's block is
#: ``rows x n_items`` float64).
_NUMPY_ROWS = 256


# --------------------------------------------------------------------- numpy model
def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _gru_numpy(w, x, mask):
    """Hidden states ``(B, T, H)`` of the GRU over ``x`` ``(B, T, E)``.

    ``mask`` ``(B, T)`` is True on real clicks (a prefix of each row): padded
    steps keep the previous state and their outputs are zeros.
    """
    n, steps, _ = x.shape
    hidden = w["gru_weight_hh"].shape[1]
    gi_all = x @ w["gru_weight_ih"].T + w["gru_bias_ih"]
    h = np.zeros((n, hidden), dtype=x.dtype)
    out = np.zeros((n, steps, hidden), dtype=x.dtype)
    for t in range(steps):
        gi = gi_all[:, t]
        gh = h @ w["gru_weight_hh"].T + w["gru_bias_hh"]
        r = _sigmoid(gi[:, :hidden] + gh[:, :hidden])
        z = _sigmoid(gi[:, hidden:2 * hidden] + gh[:, hidden:2 * hidden])
        cand = np.tanh(gi[:, 2 * hidden:] + r * gh[:, 2 * hidden:])
        new = (1.0 - z) * cand + z * h
        keep = mask[:, t, None]
        h = np.where(keep, new, h)
        out[:, t] = np.where(keep, new, 0.0)
    return out, h


def _pad(seqs):
    """Right-padded ``(B, T)`` item matrix (pad 0) and its mask."""
    lengths = np.array([len(s) for s in seqs], dtype=np.int64)
    steps = int(lengths.max())
    mask = np.arange(steps)[None, :] < lengths[:, None]
    padded = np.zeros((len(seqs), steps), dtype=np.int64)
    padded[mask] = np.concatenate([np.asarray(s, dtype=np.int64) for s in seqs])
    return padded, mask


def _encode_prefixes_numpy(w, seqs):
    """The session representations ``c`` ``(B, 2H)`` of prefixes (encoded item arrays)."""
    padded, mask = _pad(seqs)
    states, last = _gru_numpy(w, w["embeddings"][padded], mask)
    query = last @ w["attention_a1"].T
    keys = states @ w["attention_a2"].T
    alpha = _sigmoid(query[:, None, :] + keys) @ w["attention_v"][0]
    alpha = np.where(mask, alpha, 0.0)
    local = np.einsum("bt,bth->bh", alpha, states)
    return np.concatenate([last, local], axis=1)


def _encode_positions_numpy(w, seqs):
    """``c`` after every click of each sequence at once, rows sequence after sequence.

    One GRU pass per sequence: the state after click ``t`` is that of the
    prefix of ``t`` clicks, and position ``t`` attends over the states
    ``1..t`` only (a causal mask).
    """
    padded, mask = _pad(seqs)
    states, _ = _gru_numpy(w, w["embeddings"][padded], mask)
    query = states @ w["attention_a1"].T           # (B, T, H)
    keys = states @ w["attention_a2"].T             # (B, T, H)
    local = np.zeros_like(states)
    for t in range(padded.shape[1]):  # position t attends over the states 0..t
        alpha = _sigmoid(query[:, t, None, :] + keys[:, :t + 1]) @ w["attention_v"][0]
        alpha = np.where(mask[:, :t + 1], alpha, 0.0)
        local[:, t] = np.einsum("bk,bkh->bh", alpha, states[:, :t + 1])
    c = np.concatenate([states, local], axis=2)
    return c[mask]


def _decode_numpy(w, c):
    """Scores ``E B c`` of every item, ``(B, n_items)``."""
    return (c @ w["bilinear_b"].T) @ w["embeddings"].T


# --------------------------------------------------------------------- torch model
def _build_net(n_items, embedding_dim, hidden_size, dtype):
    """The torch module (imported lazily); see :class:`NARMRecommender`."""
    import torch
    import torch.nn.functional as F

    class NARMNet(torch.nn.Module):
        """Embedding, GRU, attention and bilinear decoder of NARM."""

        def __init__(self):
            super().__init__()
            self.embeddings = torch.nn.Parameter(
                torch.empty(n_items, embedding_dim, dtype=dtype))
            self.gru = torch.nn.GRU(embedding_dim, hidden_size, batch_first=True,
                                    dtype=dtype)
            self.attention_a1 = torch.nn.Parameter(
                torch.empty(hidden_size, hidden_size, dtype=dtype))
            self.attention_a2 = torch.nn.Parameter(
                torch.empty(hidden_size, hidden_size, dtype=dtype))
            self.attention_v = torch.nn.Parameter(torch.empty(1, hidden_size, dtype=dtype))
            self.bilinear_b = torch.nn.Parameter(
                torch.empty(embedding_dim, 2 * hidden_size, dtype=dtype))

        def reset(self, generator):
            """Seeded initialisation: ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))`` (torch's
            default for the GRU and linear layers) and ``N(0, 1/embedding_dim)``
            embeddings (unit-variance decoder inputs)."""
            with torch.no_grad():
                self.embeddings.normal_(0.0, embedding_dim ** -0.5, generator=generator)
                bound = hidden_size ** -0.5
                for p in self.gru.parameters():
                    p.uniform_(-bound, bound, generator=generator)
                for p in (self.attention_a1, self.attention_a2, self.attention_v):
                    p.uniform_(-bound, bound, generator=generator)
                bound = (2 * hidden_size) ** -0.5
                self.bilinear_b.uniform_(-bound, bound, generator=generator)

        def encode(self, items, lengths, dropout_embedding=0.0, generator=None):
            """``c = [h_t; c_local]`` of right-padded prefixes ``items`` ``(B, T)``."""
            x = F.embedding(items, self.embeddings)
            if dropout_embedding > 0:
                x = _dropout(x, dropout_embedding, generator)
            packed = torch.nn.utils.rnn.pack_padded_sequence(
                x, lengths.cpu(), batch_first=True, enforce_sorted=False)
            out, last = self.gru(packed)
            states, _ = torch.nn.utils.rnn.pad_packed_sequence(
                out, batch_first=True, total_length=items.shape[1])
            last = last[0]
            mask = (torch.arange(items.shape[1], device=items.device)[None, :]
                    < lengths.to(items.device)[:, None])
            query = last @ self.attention_a1.T
            keys = states @ self.attention_a2.T
            alpha = (torch.sigmoid(query[:, None, :] + keys) @ self.attention_v[0])
            alpha = alpha * mask.to(alpha.dtype)
            local = torch.einsum("bt,bth->bh", alpha, states)
            return torch.cat([last, local], dim=1)

        def forward(self, items, lengths):
            """Eval forward: scores of every item ``(B, n_items)``."""
            return (self.encode(items, lengths) @ self.bilinear_b.T) @ self.embeddings.T

    return NARMNet()


def _dropout(x, rate, generator):
    """Inverted dropout with ``rate`` the DROP probability, masks from ``generator``."""
    import torch

    keep = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype) >= rate
    return x * keep / (1.0 - rate)


def _full_softmax_ce(query, embeddings, targets):
    """``F.cross_entropy(query @ embeddings.T, targets)`` (mean), fused.

    The ``batch x n_items`` logits are the cost of a batch; this keeps one
    such buffer (turned into ``exp(logits - max)`` in place, reused by the
    backward pass as the softmax) instead of the logits, their log-softmax, a
    dense gradient of the targets' entries and that of the logits.  The
    backward pass overwrites the buffer: one backward per forward (as in
    training).
    """
    import torch

    class SoftmaxCE(torch.autograd.Function):
        @staticmethod
        def forward(ctx, q, emb, tgt):
            logits = q @ emb.T
            own = logits.gather(1, tgt[:, None])
            top = logits.amax(dim=1, keepdim=True)
            expo = logits.sub_(top).exp_()
            total = expo.sum(dim=1, keepdim=True)
            ctx.save_for_backward(q, emb, tgt, expo, total)
            return (total.log() + top - own).mean()

        @staticmethod
        def backward(ctx, grad):
            q, emb, tgt, expo, total = ctx.saved_tensors
            g = expo.mul_(grad / (len(tgt) * total))  # softmax / batch, in place
            g[torch.arange(len(tgt), device=g.device), tgt] -= grad / len(tgt)
            return g @ emb, g.T @ q, None

    return SoftmaxCE.apply(query, embeddings, targets)


def _batch_loss(net, batch, dropout_embedding, dropout_output, n_negatives, generator):
    """Mean softmax cross-entropy of the next items of a batch of prefixes.

    Full softmax over all items when ``n_negatives`` is None.  Otherwise a
    sampled softmax: the candidates are the batch's distinct targets and
    ``n_negatives`` items drawn uniformly (with replacement, from ``generator``);
    each example's logits are over these candidates, its own target among them
    (a uniform proposal needs no log-Q correction beyond a constant).
    """
    import torch
    import torch.nn.functional as F

    items, lengths, targets = batch
    c = net.encode(items, lengths, dropout_embedding if net.training else 0.0, generator)
    if dropout_output > 0 and net.training:
        c = _dropout(c, dropout_output, generator)
    query = c @ net.bilinear_b.T
    if n_negatives is None:
        return _full_softmax_ce(query, net.embeddings, targets)
    n_items = net.embeddings.shape[0]
    sampled = torch.randint(n_items, (n_negatives,), generator=generator,
                            device=targets.device)
    candidates, inverse = torch.unique(torch.cat([targets, sampled]), return_inverse=True)
    logits = query @ net.embeddings[candidates].T
    return F.cross_entropy(logits, inverse[:len(targets)])


def _prefix_examples(offsets, max_length):
    """Every prefix of every session: ``(start, length, target position)``.

    The prefix of the first ``t`` clicks of a session (``t >= 1``) predicts
    click ``t + 1``; it is truncated to its last ``max_length`` clicks.
    """
    lengths = np.diff(offsets)
    n_ex = lengths - 1
    session = np.repeat(np.arange(len(lengths)), n_ex)
    t = np.arange(int(n_ex.sum())) - np.repeat(np.cumsum(n_ex) - n_ex, n_ex) + 1
    target = offsets[:-1][session] + t
    length = np.minimum(t, max_length)
    return target - length, length, target


def _torch_batch(items, starts, lengths, targets, device):
    import torch

    steps = int(lengths.max())
    mask = np.arange(steps)[None, :] < lengths[:, None]
    idx = np.where(mask, starts[:, None] + np.arange(steps)[None, :], 0)
    padded = np.where(mask, items[idx], 0)
    return (torch.as_tensor(padded, device=device),
            torch.as_tensor(lengths),
            torch.as_tensor(items[targets], device=device))


def _split_validation(data, fraction, rng):
    """Hold out ``fraction`` of the sessions: the latest (by their last click) when
    ``data`` has click times (a ``times`` attribute), else drawn at random.

    Returns the training ``EncodedSessions`` and the held-out ones.
    """
    n = len(data)
    n_val = int(round(fraction * n))
    if n_val < 1 or n_val >= n:
        raise ValueError(
            f"early_stopping holds out validation_fraction={fraction} of the {n} training "
            "sessions, which leaves no session on one side; pass more sessions, another "
            "validation_fraction, or early_stopping=False.")
    if getattr(data, "times", None) is not None:
        held = np.argsort(_session_ends(data), kind="stable")[n - n_val:]
    else:
        held = rng.choice(n, size=n_val, replace=False)
    is_val = np.zeros(n, dtype=bool)
    is_val[held] = True
    lengths = np.diff(data.offsets)

    def part(keep):
        offsets = np.concatenate([[0], np.cumsum(lengths[keep])]).astype(np.int64)
        return EncodedSessions(data.items[np.repeat(keep, lengths)], offsets, data.n_items)

    return part(~is_val), part(is_val)


def _validator(net, validation, max_length, batch_size, device, rng, k=20):
    """``validate()``: Recall@k of the torch eval forward at every validation position."""
    if len(validation) > VALIDATION_MAX_SESSIONS:
        keep = np.zeros(len(validation), dtype=bool)
        keep[rng.choice(len(validation), VALIDATION_MAX_SESSIONS, replace=False)] = True
        lengths = np.diff(validation.offsets)
        offsets = np.concatenate([[0], np.cumsum(lengths[keep])]).astype(np.int64)
        validation = EncodedSessions(validation.items[np.repeat(keep, lengths)], offsets,
                                     validation.n_items)
    starts, lengths, targets = _prefix_examples(validation.offsets, max_length)
    order = np.argsort(lengths, kind="stable")  # similar lengths together: less padding

    def validate():
        hits = 0
        for a in range(0, len(order), batch_size):
            rows = order[a:a + batch_size]
            items, lens, target = _torch_batch(validation.items, starts[rows], lengths[rows],
                                               targets[rows], device)
            scores = net(items, lens)
            own = scores.gather(1, target[:, None])
            hits += int(((scores >= own).sum(dim=1) <= k).sum())
        return hits / len(order)

    return validate


class NARMRecommender(SessionRecommenderBase):
    """NARM: a GRU session encoder with attention and a bilinear decoder (Li et al., 2017).

    A session prefix is embedded item by item (``embedding_dim``) and read by a
    GRU (``hidden_size``).  The global encoder is the last hidden state
    ``h_t``; the local encoder weights every hidden state ``h_j`` of the prefix
    by ``alpha_tj = v^T sigmoid(A1 h_t + A2 h_j)`` (the paper's unnormalised
    attention) and sums them.  The next item's scores are bilinear in the
    concatenation ``c = [h_t; sum_j alpha_tj h_j]`` and the item embeddings:
    ``S_i = E_i^T B c``; the loss is the softmax cross-entropy over all items
    (or, with ``n_negatives``, over a sampled subset).

    Training examples are all the prefixes of all training sessions (each
    prefix predicts the click that follows it), truncated to their last
    ``max_length`` clicks, in shuffled mini-batches of ``batch_size`` padded
    prefixes (the GRU runs on the packed, unpadded sequences; the attention
    masks the padding).  Adam, dropout on the embeddings and before the
    decoder, early stopping on the Recall@20 of held-out sessions.  Training
    uses torch (imported only in ``fit``, float32); the fitted model holds
    numpy arrays only, and scoring runs the GRU, the attention and the decoder
    in numpy (float64), in blocks of rows.

    Memory and time of a training batch: the full softmax is one fused
    operation whose ``batch_size x n_items`` float32 buffer holds the logits'
    exponentials and then, in place, their gradient (``batch_size * n_items *
    4`` bytes: 88 MB for 512 prefixes of Diginetica's 43,097 items), besides
    the weights and their Adam moments; its three ``batch x dim x n_items``
    matrix products dominate the batch.  ``n_negatives`` bounds both for large
    catalogues.

    Parameters
    ----------
    embedding_dim : int, default=50
        Item embedding size (the paper's 50); the decoder shares the embeddings.
    hidden_size : int, default=100
        GRU state size (the paper's 100).
    dropout_embedding : float, default=0.25
        Drop probability of the input embeddings in training (the paper's 0.25).
    dropout_output : float, default=0.5
        Drop probability of ``c`` before the decoder in training (the paper's 0.5).
    learning_rate : float, default=1e-3
        Adam's learning rate (the paper's 0.001).
    batch_size : int, default=512
        Prefixes per mini-batch (the paper's 512).
    max_length : int, default=50
        Prefixes longer than this are truncated to their last ``max_length``
        clicks, in training and scoring (it bounds the padded batches).  50
        leaves all but 8 of the 186,670 Diginetica training sessions whole
        (median length 4, 99.9th percentile 29).
    n_negatives : int or None, default=None
        None: the full softmax over all items (the paper).  An int: a sampled
        softmax over the batch's targets and ``n_negatives`` items drawn
        uniformly, for catalogues whose ``batch_size x n_items`` logits do not
        fit (scoring is always over all items).
    max_iter : int, default=20
        Most epochs (passes over all the training prefixes).
    early_stopping : bool, default=True
        Hold out ``validation_fraction`` of the training sessions, score
        Recall@20 at every position of (at most 20,000 of) them after each
        epoch (Recall@(n_items // 2) under 40 items), stop after
        ``n_iter_no_change`` epochs without improvement and keep the best
        epoch's weights.  The held-out sessions are drawn at random, or are
        those with the latest last click when the training clicks have
        timestamps (else drawn at random).  They are not trained on.  False: train
        ``max_iter`` epochs on all sessions, keep the last weights.
    validation_fraction : float, default=0.1
        Share of the training sessions held out for early stopping.
    n_iter_no_change : int, default=3
        Patience of the early stopping, in epochs.
    device : str, default="auto"
        Torch device for training ("auto": CUDA when available, else CPU).
    random_state : int, RandomState instance or None, default=None
        Seeds the initialisation, the validation split, the batch order, the
        dropout masks and the sampled negatives.
    verbose : bool, default=False
        Print one line per epoch.

    Attributes
    ----------
    weights_ : dict of str to ndarray
        The float64 weights: ``embeddings`` ``(n_items_, embedding_dim)``,
        ``gru_weight_ih`` ``(3 * hidden_size, embedding_dim)``,
        ``gru_weight_hh`` ``(3 * hidden_size, hidden_size)``, ``gru_bias_ih``,
        ``gru_bias_hh`` ``(3 * hidden_size,)`` (gates in the order reset,
        update, new, as ``torch.nn.GRU``), ``attention_a1``, ``attention_a2``
        ``(hidden_size, hidden_size)``, ``attention_v`` ``(1, hidden_size)`` and
        ``bilinear_b`` ``(embedding_dim, 2 * hidden_size)``.
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
        Validation Recall@20 after each epoch (None without early stopping).
    best_validation_score_ : float or None
        That of ``best_epoch_``.
    epoch_seconds_ : list of float
        Wall time of each epoch (training and validation).
    n_train_prefixes_ : int
        Training examples (prefixes) per epoch.
    item_ids_ : ndarray
        Raw ids of the encoded items.
    n_items_, n_sessions_, n_short_sessions_ : int
        Items, training sessions of two or more clicks, and the one-click
        sessions left out.

    References
    ----------
    J. Li, P. Ren, Z. Chen, Z. Ren, T. Lian and J. Ma. Neural Attentive
    Session-based Recommendation. CIKM 2017.

    Examples
    --------
    >>> from sklearn_autorec import NARMRecommender
    >>> sessions = [[1, 2, 3], [2, 3, 4], [1, 2, 3, 4], [3, 4], [1, 2]] * 20
    >>> model = NARMRecommender(embedding_dim=8, hidden_size=8, max_iter=30,
    ...                         early_stopping=False, random_state=0).fit(sessions)
    >>> items, scores = model.recommend([[1, 2], [3]], n=1)
    >>> items
    array([[3],
           [4]])
    """

    _parameter_constraints = {
        **SessionRecommenderBase._parameter_constraints,
        "embedding_dim": [Interval(Integral, 1, None, closed="left")],
        "hidden_size": [Interval(Integral, 1, None, closed="left")],
        "dropout_embedding": [Interval(Real, 0, 1, closed="left")],
        "dropout_output": [Interval(Real, 0, 1, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "max_length": [Interval(Integral, 1, None, closed="left")],
        "n_negatives": [Interval(Integral, 1, None, closed="left"), None],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "device": [str],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(self, embedding_dim=50, hidden_size=100, *, dropout_embedding=0.25,
                 dropout_output=0.5, learning_rate=1e-3, batch_size=512, max_length=50,
                 n_negatives=None, max_iter=20, early_stopping=True, validation_fraction=0.1,
                 n_iter_no_change=3, device="auto", random_state=None, verbose=False):
        self.embedding_dim = embedding_dim
        self.hidden_size = hidden_size
        self.dropout_embedding = dropout_embedding
        self.dropout_output = dropout_output
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_length = max_length
        self.n_negatives = n_negatives
        self.max_iter = max_iter
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _fit_sessions(self, data):
        import torch

        from ._torch_train import resolve_device, seeded_generators, train_minibatch

        device = resolve_device(self.device)
        seed = check_random_state(self.random_state).randint(2 ** 31 - 1)
        rng = np.random.default_rng(seed)
        train, validation = data, None
        if self.early_stopping:
            train, validation = _split_validation(data, self.validation_fraction, rng)
        max_length = int(self.max_length)
        starts, lengths, targets = _prefix_examples(train.offsets, max_length)
        n_examples = len(targets)
        self.n_train_prefixes_ = n_examples
        net = _build_net(data.n_items, int(self.embedding_dim), int(self.hidden_size),
                         torch.float32)
        init_gen, gen = seeded_generators(seed, device)
        net.reset(init_gen)
        net.to(device)
        items = train.items
        batch_size = int(self.batch_size)

        def batches(epoch):
            order = rng.permutation(n_examples)
            for a in range(0, n_examples, batch_size):
                rows = order[a:a + batch_size]
                yield _torch_batch(items, starts[rows], lengths[rows], targets[rows], device)

        dropouts = float(self.dropout_embedding), float(self.dropout_output)

        def loss(batch, step):
            return _batch_loss(net, batch, *dropouts, self.n_negatives, gen)

        validate = None
        if validation is not None:
            validate = _validator(net, validation, max_length, batch_size, device, rng,
                                  k=min(VALIDATION_K, data.n_items // 2))
        result = train_minibatch(net, batches=batches, loss=loss, validate=validate,
                                 max_iter=self.max_iter,
                                 n_iter_no_change=self.n_iter_no_change,
                                 lr=self.learning_rate, verbose=bool(self.verbose),
                                 name=type(self).__name__)
        self.weights_ = _net_weights(net)
        self.n_iter_ = result.n_iter
        self.best_epoch_ = result.best_epoch
        self.n_updates_ = result.n_updates
        self.loss_curve_ = [h["loss"] for h in result.history]
        self.validation_scores_ = ([h["validation"] for h in result.history]
                                   if validate is not None else None)
        self.best_validation_score_ = result.best_score
        self.epoch_seconds_ = [h["seconds"] for h in result.history]

    # -------------------------------------------------------------- scoring
    def _truncate(self, seqs):
        return [s[-self.max_length:] for s in seqs]

    def _score_prefixes(self, prefixes):
        prefixes = self._truncate(prefixes)
        out = np.empty((len(prefixes), self.n_items_))
        for a in range(0, len(prefixes), _NUMPY_ROWS):
            c = _encode_prefixes_numpy(self.weights_, prefixes[a:a + _NUMPY_ROWS])
            out[a:a + _NUMPY_ROWS] = _decode_numpy(self.weights_, c)
        return out

    def _score_positions(self, sessions):
        """One GRU pass per session for its first ``max_length`` positions; the
        later positions (prefixes truncated to their last ``max_length``
        clicks, so a GRU restarted) are scored as prefixes."""
        m = self.max_length
        heads = [s[:min(len(s) - 1, m)] for s in sessions]
        c_head = []
        for a in range(0, len(heads), _NUMPY_ROWS):
            c_head.append(_encode_positions_numpy(self.weights_, heads[a:a + _NUMPY_ROWS]))
        c_head = np.concatenate(c_head)
        tails = [s[t - m:t] for s in sessions for t in range(m + 1, len(s))]
        if not tails:
            return _decode_numpy(self.weights_, c_head)
        c_tail = np.concatenate([_encode_prefixes_numpy(self.weights_, tails[a:a + _NUMPY_ROWS])
                                 for a in range(0, len(tails), _NUMPY_ROWS)])
        # put each session's rows together: head positions, then tail positions
        n_head = np.array([len(h) for h in heads])
        n_tail = np.array([max(len(s) - 1 - m, 0) for s in sessions])
        session_of = np.concatenate([np.repeat(np.arange(len(sessions)), n_head),
                                     np.repeat(np.arange(len(sessions)), n_tail)])
        order = np.argsort(session_of, kind="stable")
        return _decode_numpy(self.weights_, np.concatenate([c_head, c_tail])[order])


def _net_weights(net):
    """The module's weights as the float64 numpy dict of ``weights_``."""
    from ._torch_train import state_to_numpy

    state = state_to_numpy(net)
    return {"embeddings": state["embeddings"],
            "gru_weight_ih": state["gru.weight_ih_l0"],
            "gru_weight_hh": state["gru.weight_hh_l0"],
            "gru_bias_ih": state["gru.bias_ih_l0"],
            "gru_bias_hh": state["gru.bias_hh_l0"],
            "attention_a1": state["attention_a1"],
            "attention_a2": state["attention_a2"],
            "attention_v": state["attention_v"],
            "bilinear_b": state["bilinear_b"]}
