"""GRU4Rec (Hidasi et al., ICLR 2016; Hidasi and Karatzoglou, CIKM 2018).

A recurrent network reads a session click by click and scores every item as
the next click:

* a click is embedded (an input item embedding, or the output item
  embedding itself, ``embedding_size="tied"``, GRU4Rec's "constrained
  embedding"), dropped out with probability ``dropout_embedding``;
* one or more GRU layers (``hidden_layer_sizes``) update the session state;
  the last layer's output, dropped out with probability ``dropout_hidden``
  (also between layers), is scored against the output item embeddings:
  ``score_j = h . W_j + b_j``;
* training uses session-parallel mini-batches: ``batch_size`` sessions run
  side by side, one click per step; the state of a slot is zeroed exactly
  when a new session enters it (the reset mask is built afresh at every
  step), and the gradient is truncated after one step, as in the paper;
* the output is sampled: each row is scored against the targets of the
  mini-batch (its own target is the positive, the others negatives) and
  ``n_sample`` extra items drawn (with replacement, shared by the batch) by
  popularity ``** sample_alpha``; columns holding a row's own target item
  again are masked out of its negatives;
* losses of the CIKM 2018 paper, per row, averaged over the batch, with
  ``r_i`` the positive's score and ``r_j`` the ``N`` negatives' scores,
  ``s_j = softmax(r_j)`` over the negatives only:

  - ``"cross-entropy"``: ``-log softmax(r)_i`` over the positive and the negatives;
  - ``"bpr"``: ``-mean_j log sigmoid(r_i - r_j)``;
  - ``"top1"``: ``mean_j [sigmoid(r_j - r_i) + sigmoid(r_j ** 2)]``;
  - ``"bpr-max"``: ``-log sum_j s_j sigmoid(r_i - r_j) + bpreg * sum_j s_j r_j ** 2``;
  - ``"top1-max"``: ``sum_j s_j [sigmoid(r_j - r_i) + sigmoid(r_j ** 2)]``.

Training runs through :func:`~sklearn_autorec._torch_train.train_minibatch`
with GRU4Rec's Adagrad (or Adam); as in the official code, the item tables are
read sparsely and only the rows of a step's items and samples are updated, and
the sessions are fed in time order.  Early stopping on the Recall@20 of
held-out sessions is optional.  The fitted model
holds numpy arrays only and runs the GRU in numpy to score.
"""

from numbers import Integral, Real

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions

from ._sessions import SessionRecommenderBase

__all__ = ["GRU4RecRecommender"]

LOSSES = ("cross-entropy", "bpr-max", "top1-max", "bpr", "top1")
#: Early stopping scores at most this many held-out sessions.
VALIDATION_SESSIONS = 2000
#: The negative samples of this many steps are drawn at once.
SAMPLE_CHUNK = 256


def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def gru_step(x, h, w_ih, w_hh, b_ih, b_hh):
    """One GRU step in numpy, in the layout of ``torch.nn.GRU`` (gates r, z, n).

    ``r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)``, ``z`` likewise,
    ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``, ``h' = (1 - z) n + z h``.
    ``x`` is ``(batch, in)``, ``h`` ``(batch, hidden)``, ``w_ih`` ``(3 hidden, in)``.
    """
    gi = x @ w_ih.T + b_ih
    gh = h @ w_hh.T + b_hh
    H = h.shape[1]
    r = _sigmoid(gi[:, :H] + gh[:, :H])
    z = _sigmoid(gi[:, H:2 * H] + gh[:, H:2 * H])
    n = np.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:])
    return (1.0 - z) * n + z * h


def session_parallel_batches(offsets, order, batch_size):
    """The steps of session-parallel mini-batches (Hidasi et al. 2016, Fig. 2).

    Sessions (``offsets`` as in :class:`~sklearn_autorec._sessions.EncodedSessions`,
    all of two clicks or more) are taken in ``order`` and fill ``batch_size``
    slots; at each step every active slot feeds one click and predicts the
    next; a slot whose session has no next click takes the next session, and
    a slot with no session left drops out (the estimator divides each step's
    loss by ``batch_size``, so those last, smaller steps weigh their clicks
    as any other step does).

    Yields
    ------
    slots : ndarray of int64
        The active slots of the step.
    inputs, targets : ndarray of int64
        Positions (into the clicks) of each active slot's input click and of
        the click it must predict.
    reset : ndarray of bool
        Whether the slot's session starts at this step (its state is zeroed),
        computed afresh at every step.
    """
    order = np.asarray(order, dtype=np.int64)
    starts, ends = offsets[:-1][order], offsets[1:][order]
    n = min(batch_size, len(order))
    slot_session = np.arange(n)  # index into order; -1: no session left
    pos = starts[:n].copy()
    nxt = n
    reset = np.ones(n, dtype=bool)
    while True:
        active = np.flatnonzero(slot_session >= 0)
        if len(active) == 0:
            return
        yield active, pos[active].copy(), pos[active] + 1, reset[active].copy()
        pos[active] += 1
        reset[:] = False
        done = active[pos[active] + 1 >= ends[slot_session[active]]]
        for slot in done:  # at most a few per step
            if nxt < len(order):
                slot_session[slot], pos[slot], reset[slot] = nxt, starts[nxt], True
                nxt += 1
            else:
                slot_session[slot] = -1


def sampled_loss(scores, loss, bpreg=1.0, negative_mask=None):
    """Loss of a batch of sampled scores; column ``i`` of row ``i`` is its positive.

    ``scores`` is a torch tensor ``(batch, batch + n_sample)``;
    ``negative_mask`` (bool, same shape) says which columns are the row's
    negatives (default: all but the diagonal).  Returns the mean over rows.
    """
    import torch

    B = scores.shape[0]
    rows = torch.arange(B, device=scores.device)
    if negative_mask is None:
        negative_mask = torch.ones_like(scores, dtype=torch.bool)
        negative_mask[rows, rows] = False
    neg_inf = torch.finfo(scores.dtype).min
    if loss == "cross-entropy":
        excluded = ~negative_mask
        excluded[rows, rows] = False
        return torch.nn.functional.cross_entropy(scores.masked_fill(excluded, neg_inf), rows)
    pos = scores[rows, rows][:, None]
    mask = negative_mask.to(scores.dtype)
    n_neg = mask.sum(dim=1).clamp(min=1.0)
    diff = pos - scores
    if loss == "bpr":
        return -((torch.nn.functional.logsigmoid(diff) * mask).sum(1) / n_neg).mean()
    if loss == "top1":
        term = torch.sigmoid(-diff) + torch.sigmoid(scores ** 2)
        return ((term * mask).sum(1) / n_neg).mean()
    # softmax over the negatives only
    s = torch.softmax(scores.masked_fill(~negative_mask, neg_inf), dim=1) * mask
    if loss == "bpr-max":
        inner = (s * torch.sigmoid(diff)).sum(1)
        return (-torch.log(inner + 1e-24) + bpreg * (s * scores ** 2).sum(1)).mean()
    if loss == "top1-max":
        term = torch.sigmoid(-diff) + torch.sigmoid(scores ** 2)
        return (s * term).sum(1).mean()
    raise ValueError(f"unknown loss {loss!r}")


def _dropout(x, p, generator):
    """Inverted dropout with DROP probability ``p`` (zero with probability ``p``)."""
    import torch

    if p <= 0:
        return x
    keep = torch.empty_like(x).bernoulli_(1.0 - p, generator=generator)
    return x * keep.div_(1.0 - p)


def _build_net(n_items, hidden, embedding_size, dtype):
    """The torch module (imported lazily)."""
    import torch

    class GRU4RecNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.tied = embedding_size == "tied"
            in_size = hidden[-1] if self.tied else int(embedding_size)
            self.out_weight = torch.nn.Parameter(torch.empty(n_items, hidden[-1], dtype=dtype))
            self.out_bias = torch.nn.Parameter(torch.zeros(n_items, dtype=dtype))
            if not self.tied:
                self.in_weight = torch.nn.Parameter(torch.empty(n_items, in_size, dtype=dtype))
            sizes = [in_size, *hidden]
            self.cells = torch.nn.ModuleList(
                [torch.nn.GRUCell(a, b, dtype=dtype) for a, b in zip(sizes[:-1], sizes[1:])])

        def reset(self, generator):
            """GRU4Rec's initialisation: uniform +-sqrt(6 / (fan_in + fan_out)), zero biases."""
            with torch.no_grad():
                mats = [self.out_weight] + ([] if self.tied else [self.in_weight])
                for W in mats:
                    bound = np.sqrt(6.0 / sum(W.shape))
                    W.uniform_(-bound, bound, generator=generator)
                for cell in self.cells:
                    for W in (cell.weight_ih, cell.weight_hh):
                        bound = np.sqrt(6.0 / (W.shape[1] + W.shape[0] // 3))
                        W.uniform_(-bound, bound, generator=generator)
                    cell.bias_ih.zero_()
                    cell.bias_hh.zero_()

        def item_tables(self):
            """The n_items-row tables, read sparsely and updated lazily."""
            return [self.out_weight] + ([] if self.tied else [self.in_weight])

        def input_embedding(self):
            return self.out_weight if self.tied else self.in_weight

        def read_step(self, input_items, columns):
            """Input embeddings of a step's clicks and output rows of its columns.

            A tied table is read in one sparse lookup for both, so its
            gradient is one sparse tensor, not the sum of two.
            """
            if self.tied:
                both = torch.nn.functional.embedding(torch.cat([input_items, columns]),
                                                     self.out_weight, sparse=True)
                return both.split([len(input_items), len(columns)])  # backward: one cat
            return (torch.nn.functional.embedding(input_items, self.in_weight, sparse=True),
                    torch.nn.functional.embedding(columns, self.out_weight, sparse=True))

        def step(self, x, states, p_embed, p_hidden, generator):
            """One step from the clicks' input embeddings ``x``.

            Returns the new states of every layer and the last layer's
            (dropped out) output.
            """
            x = _dropout(x, p_embed, generator)
            new = []
            for cell, h in zip(self.cells, states):
                h = cell(x, h)
                new.append(h)
                x = _dropout(h, p_hidden, generator)
            return new, x

    return GRU4RecNet()


class GRU4RecRecommender(SessionRecommenderBase):
    """GRU4Rec: a recurrent network over the clicks of a session.

    The model of Hidasi et al. (ICLR 2016) with the sampled losses of Hidasi
    and Karatzoglou (CIKM 2018): clicks are embedded, read by GRU layers whose
    state is the session's, and every item is scored against the last state
    by a dot product with its output embedding plus a bias.  Training runs
    session-parallel mini-batches (``batch_size`` sessions side by side, one
    click per step, the state of a slot zeroed when a new session enters it)
    with output sampling: each step scores the targets of the batch plus
    ``n_sample`` items drawn by popularity ``** sample_alpha``.  As in the
    official code, the optimizer is Adagrad (Adam on request), a step updates
    only the rows of the item tables that it read (its inputs, targets and
    samples), so a step costs the same whatever the catalogue's size, and the
    sessions enter the slots in time order, so each epoch ends on the most
    recent ones.  Early stopping on the Recall@20 of held-out sessions is
    available (``early_stopping=True``).

    The fitted model holds numpy arrays only; :meth:`recommend` runs the GRU in
    numpy over each prefix from a zero state.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(100,)
        Sizes of the stacked GRU layers.
    embedding_size : int or "tied", default="tied"
        Size of the input item embedding; "tied": the input embedding is the
        output item embedding (GRU4Rec's constrained embedding, size
        ``hidden_layer_sizes[-1]``).  One-hot input is not offered.
    loss : {"cross-entropy", "bpr-max", "top1-max", "bpr", "top1"}, \
            default="cross-entropy"
        The sampled loss (see the module docstring for the formulas).  The
        defaults are the official GRU4Rec code's (cross-entropy, Adagrad at
        0.05, 100 units, batch 64, 2,048 samples at ``sample_alpha=0.5``, 10
        epochs, time order) with ``dropout_hidden=0.5`` and ``logq=1.0``,
        chosen on rsc15-100k's tuning split (fit on ``train_tr``, scored on
        ``train_valid``, 10 epochs): Recall@20 / MRR@20 0.655 / 0.357,
        against 0.630 / 0.347 without dropout or log-Q (the official
        defaults), 0.639 / 0.346 with log-Q only, 0.649 / 0.357 at dropout
        0.4 (seed 1: 0.643 / 0.356), 0.650 / 0.356 at 0.4 with log-Q, 0.649 /
        0.354 for "bpr-max" at 0.2, 0.615 / 0.321 at ``learning_rate=0.1``,
        and 0.626 / 0.334 for the previous defaults (bpr-max under Adam at
        0.005, shuffled sessions, early stopping).
    bpreg : float, default=1.0
        Weight of the score regulariser ``sum_j s_j r_j ** 2`` of "bpr-max".
    logq : float, default=1.0
        Log-Q correction of the sampled scores in training (Hidasi and
        Czapp's GRU4Rec): ``logq * log(q_j)`` is subtracted from every
        column's score, ``q_j`` its item's sampling probability (popularity
        ``** sample_alpha``, normalised), so the sampled softmax estimates
        the full one instead of favouring rare items.  0: no correction.
        Used by "cross-entropy" only, as in the official code (the other
        losses ignore it).  Scoring is unchanged.
    n_sample : int, default=2048
        Extra negatives per step, shared by the batch, drawn with replacement
        by popularity ``** sample_alpha``; 0: the other targets of the batch
        only.
    sample_alpha : float, default=0.5
        Exponent of the popularity of the extra negatives (0: uniform, 1:
        popularity).
    batch_size : int, default=64
        Sessions side by side in a mini-batch.  A step's loss is the sum over
        its sessions divided by ``batch_size``, so the smaller steps at the
        end of an epoch, when no session is left to fill a slot, weigh each
        click as a full step does (the official code ends the epoch there
        instead, leaving the rest of the last sessions out; on rsc15-100k's
        tuning split that costs Recall@20 0.6462 against 0.6543 for a mean
        over the active sessions, and this weighting gets 0.6545 / 0.3595
        against 0.6543 / 0.3560, seed 0).
    dropout_embedding : float, default=0.0
        Drop probability (not keep probability) of the input embedding.
    dropout_hidden : float, default=0.5
        Drop probability of each GRU layer's output.
    learning_rate : float, default=0.05
        The optimizer's learning rate (for Adagrad; Adam wants about 0.005).
    optimizer : {"adagrad", "adam"}, default="adagrad"
        "adagrad": Adagrad with ``momentum`` (the official GRU4Rec code's
        optimizer): per row ``G += g ** 2``, ``v = momentum * v + lr * g /
        sqrt(G + 1e-6)``, ``w -= v``.  "adam": Adam.  Either updates only the
        item-table rows a step reads (lazily: rows not read keep their
        weights and their optimizer state).
    momentum : float, default=0.0
        Momentum of "adagrad"; unused by "adam".
    session_order : {"time", "shuffle"}, default="time"
        Order in which the training sessions enter the mini-batch slots in
        each epoch.  "time": by their first click's timestamp (input order
        when there are no timestamps), the same every epoch, as the official
        GRU4Rec code trains, so each epoch ends on the most recent sessions;
        "shuffle": a new random order every epoch.  On Diginetica (no
        timestamps: input order, by day) with the official code's settings
        and 5 epochs, "time" gets Recall@20 / MRR@20 0.5016 / 0.1645 against
        0.4877 / 0.1629 shuffled.
    max_iter : int, default=10
        Most epochs.
    early_stopping : bool, default=False
        True: hold out the latest ``validation_fraction`` of the training
        sessions (by first click; input order without timestamps), score
        Recall@20 at every position of up to 2,000 of them after each epoch,
        stop after ``n_iter_no_change`` epochs without improvement and keep
        the best weights.  The held-out sessions are not trained on, and
        they are the most recent ones, the closest to what comes next: on
        rsc15-100k's tuning split this costs Recall@20 / MRR@20 0.593 / 0.325
        against 0.630 / 0.347 for 10 epochs on everything (official settings
        without dropout), which is why it is off by default, as in the
        official code.  False: train ``max_iter`` epochs on all sessions,
        keep the last weights.
    validation_fraction : float, default=0.1
    n_iter_no_change : int, default=2
    device : str, default="auto"
        Torch device for training ("auto": CUDA when available).
    random_state : int, RandomState instance or None, default=None
        Seeds the initialisation, the session order of each epoch (when
        shuffled), the negative samples and the dropout masks.
    verbose : bool, default=False
        Print one line per epoch.

    Attributes
    ----------
    gru_weights_ : list of dict
        Per GRU layer, ``weight_ih`` ``(3 h, in)``, ``weight_hh`` ``(3 h, h)``,
        ``bias_ih``, ``bias_hh`` (``torch.nn.GRU``'s layout, gates r, z, n).
    input_embeddings_ : ndarray of shape ``(n_items_, embedding size)``
        The input item embedding (the output one when tied).
    output_embeddings_ : ndarray of shape ``(n_items_, hidden_layer_sizes[-1])``
    output_biases_ : ndarray of shape ``(n_items_,)``
    n_iter_, best_epoch_, n_updates_ : int
    loss_curve_ : list of float
    validation_scores_ : list of float or None
    best_validation_score_ : float or None
    epoch_seconds_ : list of float
    item_ids_ : ndarray
    n_items_, n_sessions_, n_short_sessions_ : int

    References
    ----------
    B. Hidasi, A. Karatzoglou, L. Baltrunas and D. Tikk. Session-based
    Recommendations with Recurrent Neural Networks. ICLR 2016.

    B. Hidasi and A. Karatzoglou. Recurrent Neural Networks with Top-k Gains
    for Session-based Recommendations. CIKM 2018.

    Examples
    --------
    >>> from sklearn_autorec import GRU4RecRecommender
    >>> sessions = [[0, 1, 2, 3], [1, 2, 3, 4], [2, 3, 4, 0], [3, 4, 0, 1]] * 10
    >>> model = GRU4RecRecommender(hidden_layer_sizes=(8,), batch_size=4, n_sample=0,
    ...                            loss="cross-entropy", dropout_hidden=0.0,
    ...                            learning_rate=0.05, max_iter=20,
    ...                            early_stopping=False, random_state=0).fit(sessions)
    >>> items, scores = model.recommend([[0, 1], [3]], n=1)
    >>> items
    array([[2],
           [4]])
    """

    _parameter_constraints = {
        "hidden_layer_sizes": ["array-like"],
        "embedding_size": [Interval(Integral, 1, None, closed="left"), StrOptions({"tied"})],
        "loss": [StrOptions(set(LOSSES))],
        "bpreg": [Interval(Real, 0, None, closed="left")],
        "logq": [Interval(Real, 0, None, closed="left")],
        "n_sample": [Interval(Integral, 0, None, closed="left")],
        "sample_alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "dropout_embedding": [Interval(Real, 0, 1, closed="left")],
        "dropout_hidden": [Interval(Real, 0, 1, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "optimizer": [StrOptions({"adam", "adagrad"})],
        "momentum": [Interval(Real, 0, 1, closed="left")],
        "session_order": [StrOptions({"time", "shuffle"})],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "device": [str],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(self, hidden_layer_sizes=(100,), *, embedding_size="tied",
                 loss="cross-entropy", bpreg=1.0, logq=1.0, n_sample=2048,
                 sample_alpha=0.5, batch_size=64, dropout_embedding=0.0, dropout_hidden=0.5,
                 learning_rate=0.05, optimizer="adagrad", momentum=0.0, session_order="time",
                 max_iter=10, early_stopping=False, validation_fraction=0.1,
                 n_iter_no_change=2, device="auto", random_state=None, verbose=False):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.embedding_size = embedding_size
        self.loss = loss
        self.bpreg = bpreg
        self.logq = logq
        self.n_sample = n_sample
        self.sample_alpha = sample_alpha
        self.batch_size = batch_size
        self.dropout_embedding = dropout_embedding
        self.dropout_hidden = dropout_hidden
        self.learning_rate = learning_rate
        self.optimizer = optimizer
        self.momentum = momentum
        self.session_order = session_order
        self.max_iter = max_iter
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _check_hidden(self):
        sizes = np.asarray(self.hidden_layer_sizes)
        if (sizes.ndim != 1 or len(sizes) == 0 or sizes.dtype.kind not in "iu"
                or (sizes < 1).any()):
            raise ValueError(
                "hidden_layer_sizes must be a non-empty sequence of positive ints, the "
                f"sizes of the GRU layers (e.g. (100,)); got {self.hidden_layer_sizes!r}.")
        return tuple(int(s) for s in sizes)

    # ------------------------------------------------------------------ fit
    def _fit_sessions(self, data):
        import torch

        from ._torch_train import resolve_device, seeded_generators, train_minibatch

        hidden = self._check_hidden()
        device = resolve_device(self.device)
        seed = check_random_state(self.random_state).randint(2 ** 31 - 1)
        rng = np.random.default_rng(seed)
        n_sessions = len(data)
        offsets, items = data.offsets, data.items
        by_time = data.time_order()
        train_ids = by_time
        valid_seqs = None
        if self.early_stopping:
            n_valid = int(round(self.validation_fraction * n_sessions))
            if n_valid < 1 or n_valid >= n_sessions:
                raise ValueError(
                    f"early_stopping=True holds out validation_fraction="
                    f"{self.validation_fraction} of the {n_sessions} training sessions, "
                    f"which leaves {'none' if n_valid < 1 else 'no training session'}; "
                    "change validation_fraction or pass early_stopping=False.")
            train_ids = by_time[:n_sessions - n_valid]
            valid = by_time[n_sessions - n_valid:][-VALIDATION_SESSIONS:]
            valid_seqs = [items[offsets[s]:offsets[s + 1]] for s in valid]
        train_clicks = np.concatenate([items[offsets[s]:offsets[s + 1]] for s in train_ids])
        popularity = np.bincount(train_clicks, minlength=data.n_items).astype(np.float64)
        weights = popularity ** float(self.sample_alpha)
        cdf = np.cumsum(weights)
        cdf /= cdf[-1]
        logq = float(self.logq) if self.loss == "cross-entropy" else 0.0

        dtype = torch.float32
        net = _build_net(data.n_items, hidden, self.embedding_size, dtype)
        init_gen, gen = seeded_generators(seed, device)
        net.reset(init_gen)
        net.to(device)
        items_t = torch.as_tensor(items, device=device)
        # log of each item's sampling probability (> 0 wherever it is read: targets
        # have training clicks, samples are drawn by these weights)
        log_q = torch.as_tensor(np.log(np.maximum(weights / weights.sum(), 1e-30)),
                                dtype=dtype, device=device)
        B = min(int(self.batch_size), len(train_ids))
        n_sample = int(self.n_sample)
        states = [torch.zeros(B, h, dtype=dtype, device=device) for h in hidden]
        p_embed, p_hidden = float(self.dropout_embedding), float(self.dropout_hidden)

        def batches(epoch):
            for i, h in enumerate(states):
                states[i] = torch.zeros_like(h)
            order = (train_ids if self.session_order == "time"
                     else train_ids[rng.permutation(len(train_ids))])
            cache = np.empty((0, n_sample), dtype=np.int64)
            for step, (slots, inputs, targets, reset) in enumerate(
                    session_parallel_batches(offsets, order, B)):
                if step % SAMPLE_CHUNK == 0:  # draw the negatives of many steps at once
                    cache = np.minimum(np.searchsorted(
                        cdf, rng.random((SAMPLE_CHUNK, n_sample)), side="right"),
                        data.n_items - 1)
                yield (torch.as_tensor(slots, device=device),
                       torch.as_tensor(inputs, device=device),
                       torch.as_tensor(targets, device=device),
                       torch.as_tensor(reset, device=device),
                       torch.as_tensor(cache[step % SAMPLE_CHUNK], device=device))

        def loss(batch, step):
            slots, inputs, targets, reset, sample = batch
            keep = (~reset).to(dtype)[:, None]
            prev = [h[slots] * keep for h in states]
            target_items = items_t[targets]
            columns = torch.cat([target_items, sample])
            x, rows = net.read_step(items_t[inputs], columns)
            new, out = net.step(x, prev, p_embed, p_hidden, gen)
            for h, n in zip(states, new):
                h[slots] = n.detach()
            bias = net.out_bias[columns]
            if logq:  # the correction is per column: fold it into the bias
                bias = bias - logq * log_q[columns]
            scores = torch.addmm(bias, out, rows.T)
            negative = columns[None, :] != target_items[:, None]
            # The sum over the step's sessions divided by the batch size (not a
            # mean over the active ones): when slots run dry at the end of an
            # epoch, the last long sessions' clicks keep the weight of any other
            # click instead of each getting a full batch's update (rsc15-100k,
            # BPR-max at 512 units: the loss of those steps rose to 10-140).
            value = sampled_loss(scores, self.loss, float(self.bpreg), negative)
            return value * (len(slots) / B)

        def validate():
            """Recall@20 at every position of the held-out sessions (numpy scoring)."""
            self._store(net)
            hits = [_recall_at(self._score_positions(b), b, 20)
                    for b in _blocks(valid_seqs, data.n_items)]
            return sum(h for h, _ in hits) / sum(n for _, n in hits)

        result = train_minibatch(net, batches=batches, loss=loss,
                                 validate=None if valid_seqs is None else validate,
                                 max_iter=self.max_iter,
                                 n_iter_no_change=self.n_iter_no_change,
                                 lr=self.learning_rate, verbose=bool(self.verbose),
                                 sparse_params=net.item_tables(),
                                 optimizer=self.optimizer, momentum=float(self.momentum),
                                 name=type(self).__name__)
        self._store(net)
        self.n_iter_ = result.n_iter
        self.best_epoch_ = result.best_epoch
        self.n_updates_ = result.n_updates
        self.loss_curve_ = [h["loss"] for h in result.history]
        self.epoch_seconds_ = [h["seconds"] for h in result.history]
        self.validation_scores_ = ([h["validation"] for h in result.history]
                                   if self.early_stopping else None)
        self.best_validation_score_ = result.best_score

    def _store(self, net):
        """Copy the module's weights into the numpy fitted attributes."""
        def arr(t):
            return t.detach().cpu().double().numpy().copy()

        self.gru_weights_ = [{name: arr(getattr(cell, name)) for name in
                              ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
                             for cell in net.cells]
        self.output_embeddings_ = arr(net.out_weight)
        self.output_biases_ = arr(net.out_bias)
        self.input_embeddings_ = (self.output_embeddings_ if net.tied
                                  else arr(net.in_weight))

    # -------------------------------------------------------------- scoring
    def _final_states(self, sessions, collect):
        """Last-layer states of encoded sessions, each run from a zero state.

        ``collect=False``: the state after each whole session, ``(n, h)``;
        True: the states after each click but the last, stacked session after
        session, ``(sum(len - 1), h)``.
        """
        lengths = np.array([len(s) for s in sessions], dtype=np.int64)
        n, T = len(sessions), int(lengths.max())
        padded = np.zeros((n, T), dtype=np.int64)
        for r, s in enumerate(sessions):
            padded[r, :len(s)] = s
        states = [np.zeros((n, w["weight_hh"].shape[1])) for w in self.gru_weights_]
        if collect:
            out = np.empty((int(np.sum(lengths - 1)), states[-1].shape[1]))
            row0 = np.concatenate([[0], np.cumsum(lengths - 1)[:-1]])
        by_length = np.argsort(-lengths, kind="stable")
        for t in range(T - (1 if collect else 0)):
            active = by_length[:int(np.sum(lengths > t + (1 if collect else 0)))]
            x = self.input_embeddings_[padded[active, t]]
            for layer, w in enumerate(self.gru_weights_):
                x = gru_step(x, states[layer][active], w["weight_ih"], w["weight_hh"],
                             w["bias_ih"], w["bias_hh"])
                states[layer][active] = x
            if collect:
                out[row0[active] + t] = x
        return out if collect else states[-1]

    def _score_prefixes(self, prefixes):
        h = self._final_states(prefixes, collect=False)
        return h @ self.output_embeddings_.T + self.output_biases_

    def _score_positions(self, sessions):
        h = self._final_states(sessions, collect=True)
        return h @ self.output_embeddings_.T + self.output_biases_


def _recall_at(scores, sessions, k):
    """Hits@k (ties against the target) and targets of stacked position scores."""
    targets = np.concatenate([s[1:] for s in sessions])
    target_scores = scores[np.arange(len(targets)), targets]
    rank = np.sum(scores >= target_scores[:, None], axis=1)
    return np.sum(rank <= k), len(targets)


def _blocks(sessions, n_items, cells=2 ** 22):
    """Consecutive groups of sessions of at most ``cells`` position scores (one at least)."""
    start, rows = 0, 0
    for i, s in enumerate(sessions):
        if rows and (rows + len(s) - 1) * n_items > cells:
            yield sessions[start:i]
            start, rows = i, 0
        rows += len(s) - 1
    yield sessions[start:]
