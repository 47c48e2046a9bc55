"""GRU4Rec: the numpy GRU, the session-parallel batcher, the losses, Hidasi and
Czapp's (2023) flaws of reimplementations, and the estimator contract."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone

from sklearn_autorec import SessionPopularityRecommender
from sklearn_autorec._gru4rec import (GRU4RecRecommender, _build_net, _dropout, gru_step,
                                      sampled_loss, session_parallel_batches)
from sklearn_autorec.metrics import session_report

FAST = dict(hidden_layer_sizes=(16,), batch_size=8, n_sample=8, learning_rate=0.02,
            loss="cross-entropy", dropout_hidden=0.0,
            max_iter=3, early_stopping=False, random_state=0, device="cpu")


def cycle_sessions(n_sessions=60, n_items=10, seed=0):
    """Sessions walking the cycle 0 -> 1 -> ... -> n_items-1 -> 0 from random starts."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_sessions):
        start, length = rng.integers(n_items), rng.integers(2, 7)
        out.append([int((start + t) % n_items) for t in range(length)])
    return out


def fitted_with_random_weights(n_items=7, hidden=(5, 4), embedding=3, seed=0):
    """A GRU4RecRecommender whose fitted state is random float64 weights."""
    rng = np.random.default_rng(seed)
    model = GRU4RecRecommender(hidden_layer_sizes=hidden, embedding_size=embedding)
    sizes = [embedding, *hidden]
    model.gru_weights_ = [
        {"weight_ih": rng.normal(size=(3 * b, a)), "weight_hh": rng.normal(size=(3 * b, b)),
         "bias_ih": rng.normal(size=3 * b), "bias_hh": rng.normal(size=3 * b)}
        for a, b in zip(sizes[:-1], sizes[1:])]
    model.input_embeddings_ = rng.normal(size=(n_items, embedding))
    model.output_embeddings_ = rng.normal(size=(n_items, hidden[-1]))
    model.output_biases_ = rng.normal(size=n_items)
    model.item_ids_ = np.arange(n_items)
    model.n_items_ = n_items
    return model


# ------------------------------------------------------------------ numpy GRU
def test_numpy_gru_matches_torch_gru_float64():
    model = fitted_with_random_weights()
    # one step of the first layer, then the whole (5, 4) stack against two torch GRUs
    w = model.gru_weights_
    g1 = torch.nn.GRU(3, 5, batch_first=True, dtype=torch.float64)
    g2 = torch.nn.GRU(5, 4, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        for g, layer in ((g1, w[0]), (g2, w[1])):
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(g, name + "_l0").copy_(torch.as_tensor(layer[name]))
    rng = np.random.default_rng(1)
    x, h = rng.normal(size=(4, 3)), rng.normal(size=(4, 5))
    ours = gru_step(x, h, w[0]["weight_ih"], w[0]["weight_hh"], w[0]["bias_ih"],
                    w[0]["bias_hh"])
    _, ref = g1(torch.as_tensor(x)[:, None, :], torch.as_tensor(h)[None])
    np.testing.assert_allclose(ours, ref[0].detach().numpy(), rtol=1e-12, atol=1e-12)
    # whole sessions through both layers, from a zero state
    seqs = [np.array([0, 3, 6, 2]), np.array([5, 1]), np.array([4])]
    for seq in seqs:
        emb = torch.as_tensor(model.input_embeddings_[seq])[None]
        out1, _ = g1(emb)
        out2, _ = g2(out1)
        expected = out2[0].detach().numpy() @ model.output_embeddings_.T + model.output_biases_
        np.testing.assert_allclose(model._score_prefixes([seq]), expected[-1:], rtol=1e-10,
                                   atol=1e-10)
        if len(seq) > 1:
            np.testing.assert_allclose(model._score_positions([seq]), expected[:-1],
                                       rtol=1e-10, atol=1e-10)


def test_torch_training_step_matches_numpy_scoring():
    net = _build_net(6, (4, 3), 5, torch.float64)
    net.reset(torch.Generator().manual_seed(0))
    with torch.no_grad():
        for cell in net.cells:
            cell.bias_ih.normal_()
            cell.bias_hh.normal_()
    model = GRU4RecRecommender(hidden_layer_sizes=(4, 3), embedding_size=5)
    model._store(net)
    model.item_ids_, model.n_items_ = np.arange(6), 6
    seq = np.array([2, 5, 0])
    states = [torch.zeros(1, 4, dtype=torch.float64), torch.zeros(1, 3, dtype=torch.float64)]
    for item in seq:
        x = torch.nn.functional.embedding(torch.tensor([item]), net.input_embedding())
        states, out = net.step(x, states, 0.0, 0.0, None)
    torch_scores = (out @ net.out_weight.T + net.out_bias).detach().numpy()
    np.testing.assert_allclose(model._score_prefixes([seq]), torch_scores, rtol=1e-10)


# ------------------------------------------------------------------ batcher
def brute_force_batches(lengths, order, batch_size):
    """Reference: each slot walks its sessions click by click, in plain loops."""
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    queue = list(order)
    slots = [None] * batch_size  # [session, position in session]
    for k in range(batch_size):
        if queue:
            slots[k] = [queue.pop(0), 0]
    steps = []
    while any(s is not None for s in slots):
        step = []
        for k, s in enumerate(slots):
            if s is None:
                continue
            sess, t = s
            step.append((k, offsets[sess] + t, offsets[sess] + t + 1, t == 0))
        steps.append(step)
        for k, s in enumerate(slots):
            if s is None:
                continue
            s[1] += 1
            if s[1] + 1 >= lengths[s[0]]:
                slots[k] = [queue.pop(0), 0] if queue else None
    return steps


@pytest.mark.parametrize("batch_size", [1, 3, 5, 50])
def test_session_parallel_batches_match_brute_force(batch_size):
    rng = np.random.default_rng(batch_size)
    lengths = rng.integers(2, 7, size=17)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    order = rng.permutation(17)
    ours = list(session_parallel_batches(offsets, order, batch_size))
    ref = brute_force_batches(lengths, order, batch_size)
    assert len(ours) == len(ref)
    session_of = np.repeat(np.arange(17), lengths)
    first_click = np.zeros(offsets[-1], dtype=bool)
    first_click[offsets[:-1]] = True
    seen = []
    for (slots, inputs, targets, reset), expected in zip(ours, ref):
        assert [tuple(int(v) for v in r) for r in zip(slots, inputs, targets, reset)] == \
            [tuple(int(v) for v in r) for r in expected]
        # a state is reset exactly when a new session enters its slot (Hidasi & Czapp
        # 2023: the mask must be recomputed at every step, not kept from the last end)
        np.testing.assert_array_equal(reset, first_click[inputs])
        np.testing.assert_array_equal(session_of[inputs], session_of[targets])
        seen.extend(inputs)
    # every click but the last of each session is an input exactly once
    np.testing.assert_array_equal(np.sort(seen), np.flatnonzero(
        np.isin(np.arange(offsets[-1]), offsets[1:] - 1, invert=True)))


def test_reset_mask_is_not_sticky():
    """A reset only on the step a session enters: the next step of that slot carries on."""
    offsets = np.array([0, 2, 6, 8], dtype=np.int64)  # lengths 2, 4, 2
    steps = list(session_parallel_batches(offsets, [0, 1, 2], 2))
    resets = [r.tolist() for _, _, _, r in steps]
    # slot 0: session 0 (1 step), then session 2 enters (reset) and runs 1 step;
    # slot 1: session 1 runs 3 steps with a reset only at its first
    assert resets == [[True, True], [True, False], [False]]


# ------------------------------------------------------------------ losses
def _scores(B=4, n=9, seed=0):
    return np.random.default_rng(seed).normal(size=(B, n)) * 1.5


def _sig(x):
    return 1.0 / (1.0 + np.exp(-x))


def _loss(scores, name, bpreg=1.0):
    return float(sampled_loss(torch.as_tensor(scores), name, bpreg))


def test_bpr_max_matches_its_formula():
    S = _scores()
    total = 0.0
    for i, row in enumerate(S):
        neg = np.delete(row, i)
        s = np.exp(neg - neg.max())
        s /= s.sum()  # softmax over the NEGATIVES only
        total += -np.log(np.sum(s * _sig(row[i] - neg))) + 0.5 * np.sum(s * neg ** 2)
    assert _loss(S, "bpr-max", 0.5) == pytest.approx(total / len(S), rel=1e-10)
    # the flawed variants differ: a mean instead of a sum, a softmax over all scores
    mean_variant = sum(
        -np.log(np.mean(np.exp(np.delete(r, i)) / np.exp(np.delete(r, i)).sum()
                        * _sig(r[i] - np.delete(r, i)))) for i, r in enumerate(S)) / len(S)
    all_variant = sum(
        -np.log(np.sum(np.exp(r) / np.exp(r).sum() * _sig(r[i] - r))) for i, r in
        enumerate(S)) / len(S)
    ours = _loss(S, "bpr-max", 0.0)
    assert abs(ours - mean_variant) > 1e-3 and abs(ours - all_variant) > 1e-3


def test_top1_max_bpr_top1_and_cross_entropy_match_their_formulas():
    S = _scores(seed=1)
    top1max = bpr = top1 = ce = 0.0
    for i, row in enumerate(S):
        neg = np.delete(row, i)
        s = np.exp(neg) / np.exp(neg).sum()
        top1max += np.sum(s * (_sig(neg - row[i]) + _sig(neg ** 2)))
        bpr += -np.mean(np.log(_sig(row[i] - neg)))
        top1 += np.mean(_sig(neg - row[i]) + _sig(neg ** 2))
        ce += -np.log(np.exp(row[i]) / np.exp(row).sum())
    n = len(S)
    assert _loss(S, "top1-max") == pytest.approx(top1max / n, rel=1e-10)
    assert _loss(S, "bpr") == pytest.approx(bpr / n, rel=1e-10)
    assert _loss(S, "top1") == pytest.approx(top1 / n, rel=1e-10)
    assert _loss(S, "cross-entropy") == pytest.approx(ce / n, rel=1e-10)
    # softmax applied once, to the sampled scores: not to softmaxed scores again
    P = np.exp(S) / np.exp(S).sum(1, keepdims=True)
    twice = np.mean([-np.log(np.exp(P[i, i]) / np.exp(P[i]).sum()) for i in range(n)])
    assert abs(_loss(S, "cross-entropy") - twice) > 1e-2


def test_negative_mask_leaves_out_copies_of_the_target():
    S = _scores(seed=2)
    mask = np.ones_like(S, dtype=bool)
    mask[np.arange(4), np.arange(4)] = False
    mask[0, 6] = False  # column 6 holds row 0's target item again
    for name in ("cross-entropy", "bpr-max", "top1-max", "bpr", "top1"):
        masked = float(sampled_loss(torch.as_tensor(S), name, 1.0, torch.as_tensor(mask)))
        dropped = S.copy()
        dropped[0, 6] = -50.0  # a negative that cannot matter (but for bpr/top1 counts)
        if name in ("cross-entropy", "bpr-max", "top1-max"):
            assert masked == pytest.approx(_loss(dropped, name), rel=1e-8)
        else:
            assert masked != pytest.approx(_loss(S, name), rel=1e-6)


def test_dropout_probability_is_the_drop_rate():
    gen = torch.Generator().manual_seed(0)
    x = torch.ones(200, 500, dtype=torch.float64)
    out = _dropout(x, 0.8, gen)
    assert float((out == 0).double().mean()) == pytest.approx(0.8, abs=0.01)
    np.testing.assert_allclose(out[out != 0].numpy(), 5.0)  # inverted dropout: 1 / 0.2
    assert _dropout(x, 0.0, gen) is x


# ------------------------------------------------------------------ evaluation flaws
def test_state_is_reset_between_sessions_in_evaluation():
    model = fitted_with_random_weights()
    sessions = [np.array([1, 2, 3]), np.array([4, 0]), np.array([6, 5, 1, 1])]
    stacked = model._score_positions(sessions)
    alone = np.vstack([model._score_positions([s]) for s in sessions])
    np.testing.assert_allclose(stacked, alone, rtol=1e-12)
    reversed_ = np.vstack([model._score_positions([s]) for s in sessions[::-1]])
    np.testing.assert_allclose(model._score_positions(sessions[::-1]), reversed_, rtol=1e-12)
    prefixes = [s[:t] for s in sessions for t in range(1, len(s))]
    np.testing.assert_allclose(stacked, model._score_prefixes(prefixes), rtol=1e-10)
    # a state carried from the previous session would change the second session's scores
    carried = model._score_prefixes([np.concatenate([sessions[0], sessions[1][:1]])])
    assert not np.allclose(carried, stacked[2])


def test_unknown_test_items_do_not_crash_evaluation():
    model = GRU4RecRecommender(**FAST).fit(cycle_sessions())
    test = [[1, 2, 99, 3], [99, 5, 6], [7, 100]]
    report = session_report(model, test)
    assert report["n_targets"] == 6
    assert 0.0 <= report["recall@20"] <= 1.0
    a = model.recommend([[1, 2, 99, 3]], n=5)
    b = model.recommend([[1, 2, 3]], n=5)
    np.testing.assert_array_equal(a[0], b[0])
    with pytest.raises(ValueError, match="no item the model was trained on"):
        model.recommend([[99, 100]])


# ------------------------------------------------------------------ estimator
@pytest.mark.parametrize("loss", ["cross-entropy", "bpr-max", "top1-max", "bpr", "top1"])
def test_learns_a_cycle_and_beats_popularity(loss):
    train, test = cycle_sessions(150, seed=0), cycle_sessions(40, seed=1)
    params = {**FAST, "max_iter": 8, "loss": loss, "n_sample": 4}
    model = GRU4RecRecommender(**params).fit(train)
    ours = session_report(model, test, k=1)["recall@1"]
    pop = session_report(SessionPopularityRecommender().fit(train), test, k=1)["recall@1"]
    assert np.all(np.isfinite(model.loss_curve_))
    assert ours > 0.9 > pop + 0.5


def test_fitted_state_is_numpy_and_pickles():
    model = GRU4RecRecommender(**{**FAST, "embedding_size": 6,
                                  "hidden_layer_sizes": (8, 5)}).fit(cycle_sessions())
    for value in vars(model).values():
        assert not isinstance(value, torch.Tensor)
    assert model.input_embeddings_.shape == (10, 6)
    assert model.output_embeddings_.shape == (10, 5)
    assert [w["weight_ih"].shape for w in model.gru_weights_] == [(24, 6), (15, 8)]
    copy = pickle.loads(pickle.dumps(model))
    prefixes = [[0, 1], [5], [9, 0, 1]]
    np.testing.assert_allclose(copy.recommend(prefixes, n=4)[1],
                               model.recommend(prefixes, n=4)[1], rtol=1e-12)
    assert clone(model).get_params() == model.get_params()
    assert not hasattr(clone(model), "gru_weights_")


def test_reproducible_with_random_state():
    data = cycle_sessions()
    params = {**FAST, "dropout_embedding": 0.2, "dropout_hidden": 0.3}
    a = GRU4RecRecommender(**params).fit(data)
    b = GRU4RecRecommender(**params).fit(data)
    c = GRU4RecRecommender(**{**params, "random_state": 1}).fit(data)
    np.testing.assert_allclose(a.output_embeddings_, b.output_embeddings_, rtol=1e-6)
    assert not np.allclose(a.output_embeddings_, c.output_embeddings_)


def test_early_stopping_keeps_the_best_epoch():
    from sklearn_autorec._gru4rec import _recall_at

    data = cycle_sessions(150, n_items=40)
    model = GRU4RecRecommender(**{**FAST, "early_stopping": True, "max_iter": 5,
                                  "n_iter_no_change": 5, "learning_rate": 0.05}).fit(data)
    assert len(model.validation_scores_) == model.n_iter_ == 5
    assert model.best_validation_score_ >= max(model.validation_scores_) - 1e-12
    assert model.best_epoch_ >= 1  # training helps on this data
    assert model.best_validation_score_ == pytest.approx(
        model.validation_scores_[model.best_epoch_ - 1])
    # the kept weights are the best epoch's: re-scoring the held-out sessions (the last
    # tenth, in input order, encoded)
    held_out = [np.searchsorted(model.item_ids_, s) for s in data[-15:]]
    hits, n = _recall_at(model._score_positions(held_out), held_out, 20)
    assert hits / n == pytest.approx(model.best_validation_score_)


@pytest.mark.parametrize("params, match", [
    ({"hidden_layer_sizes": ()}, "hidden_layer_sizes"),
    ({"hidden_layer_sizes": (4, 0)}, "hidden_layer_sizes"),
    ({"loss": "softmax"}, "loss"),
    ({"dropout_hidden": 1.0}, "dropout_hidden"),
    ({"embedding_size": 0}, "embedding_size"),
    ({"n_sample": -1}, "n_sample"),
    ({"early_stopping": True, "validation_fraction": 0.001}, "validation_fraction"),
])
def test_bad_parameters_raise(params, match):
    with pytest.raises(ValueError, match=match):
        GRU4RecRecommender(**{**FAST, **params}).fit(cycle_sessions(20))


def test_dataframe_with_string_ids_and_score():
    import pandas as pd

    rows = [(f"s{s}", f"i{item}", 10.0 * t) for s, seq in enumerate(cycle_sessions(40))
            for t, item in enumerate(seq)]
    df = pd.DataFrame(rows, columns=["session_id", "item_id", "timestamp"])
    model = GRU4RecRecommender(**FAST).fit(df.iloc[::-1])  # time order restores clicks
    assert model.n_sessions_ == 40 and model.item_ids_.dtype.kind == "U"
    items, _ = model.recommend([["i1", "i2"]], n=3)
    assert items.shape == (1, 3) and items.dtype.kind == "U"
    assert 0.0 <= model.score(df) <= 1.0


def test_lazy_adam_is_adam_on_the_batch_rows_only():
    """The item tables' optimizer: Adam's update (torch's dense formula) on the rows of
    the batch, the others untouched; torch's SparseAdam differs only in where eps sits."""
    import torch

    from sklearn_autorec._torch_train import _DenseAndLazyAdam

    torch.manual_seed(0)
    table = torch.nn.Parameter(torch.randn(10, 3, dtype=torch.float64))
    dense = torch.nn.Parameter(torch.randn(3, dtype=torch.float64))
    twin = torch.nn.Parameter(table.detach().clone())
    start = table.detach().clone()
    ours = _DenseAndLazyAdam([table, dense], [table], lr=0.1)
    sparse_adam = torch.optim.SparseAdam([twin], lr=0.1)
    weights = torch.arange(1.0, 4.0, dtype=torch.float64)
    p, m, v = start.clone(), torch.zeros_like(start), torch.zeros_like(start)
    batches = [torch.tensor([1, 4, 4]), torch.tensor([2, 4]), torch.tensor([7])]
    for t, rows in enumerate(batches, start=1):
        for param, opt in ((table, ours), (twin, sparse_adam)):
            opt.zero_grad()
            out = torch.nn.functional.embedding(rows, param, sparse=True)
            ((out * weights) ** 2).sum().backward()
            opt.step()
        grad = torch.zeros_like(p).index_add_(0, rows, 2 * p[rows] * weights ** 2)
        r = torch.unique(rows)
        m[r] = 0.9 * m[r] + 0.1 * grad[r]
        v[r] = 0.999 * v[r] + 0.001 * grad[r] ** 2
        p[r] -= 0.1 * (m[r] / (1 - 0.9 ** t)) / ((v[r] / (1 - 0.999 ** t)).sqrt() + 1e-8)
    assert torch.allclose(table.detach(), p, rtol=1e-12, atol=1e-12)
    assert torch.allclose(table.detach(), twin.detach(), rtol=0, atol=1e-6)
    untouched = [0, 3, 5, 6, 8, 9]
    assert torch.equal(table.detach()[untouched], start[untouched])
    assert not torch.equal(table.detach()[[1, 2, 4, 7]], start[[1, 2, 4, 7]])


@pytest.mark.parametrize("tied", [True, False])
def test_read_step_is_plain_indexing_with_a_sparse_gradient(tied):
    """A step's lookups (the tied table read once for inputs and columns): the values
    and gradients of plain indexing, as sparse gradients."""
    net = _build_net(9, (4,), "tied" if tied else 4, torch.float64)
    net.reset(torch.Generator().manual_seed(0))
    inputs, columns = torch.tensor([3, 3, 7]), torch.tensor([1, 3, 8, 8, 1, 0])
    w = torch.randn(3, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    x, rows = net.read_step(inputs, columns)
    ((x * w).sum() ** 2 + (rows.sum(1) ** 2).sum()).backward()
    assert all(t.grad.is_sparse for t in net.item_tables())
    got = {name: p.grad.to_dense() for name, p in net.named_parameters()
           if name in ("out_weight", "in_weight")}
    net.zero_grad()
    ref_x, ref_rows = net.input_embedding()[inputs], net.out_weight[columns]
    assert torch.equal(x, ref_x) and torch.equal(rows, ref_rows)
    ((ref_x * w).sum() ** 2 + (ref_rows.sum(1) ** 2).sum()).backward()
    for name, grad in got.items():
        assert torch.allclose(grad, getattr(net, name).grad, rtol=1e-12, atol=1e-12), name


LOGQ_SESSIONS = [[0, 1, 2, 1], [2, 3], [1, 1, 3, 0], [0, 3, 2]] * 5


def _first_scores(monkeypatch, **params):
    """The score matrix of the first training step of a fit with ``params``."""
    from sklearn_autorec import _gru4rec

    original, seen = _gru4rec.sampled_loss, []

    def capture(scores, loss, bpreg=1.0, negative_mask=None):
        seen.append(scores.detach().clone())
        return original(scores, loss, bpreg, negative_mask)

    monkeypatch.setattr(_gru4rec, "sampled_loss", capture)
    GRU4RecRecommender(n_sample=3, max_iter=1, early_stopping=False, batch_size=2,
                       random_state=0, **params).fit(LOGQ_SESSIONS)
    monkeypatch.setattr(_gru4rec, "sampled_loss", original)
    return seen[0]


def test_logq_lowers_each_sampled_score_by_its_log_sampling_probability(monkeypatch):
    seen = {logq: _first_scores(monkeypatch, loss="cross-entropy", logq=logq,
                                sample_alpha=1.0) for logq in (0.0, 2.0)}
    clicks = np.bincount(np.concatenate(LOGQ_SESSIONS), minlength=4).astype(float)
    log_q = np.log(clicks / clicks.sum())
    diff = (seen[2.0] - seen[0.0]).numpy()
    # every column moves by -2 log q of its item (the same draws: same seed)
    assert diff.shape[1] == 2 + 3
    assert np.all(diff > 0)
    gap = np.abs(diff.ravel()[:, None] - (-2.0 * log_q)[None, :]).min(axis=1)
    assert gap.max() < 1e-4


def test_logq_is_used_by_cross_entropy_only(monkeypatch):
    """As in the official code, the other losses ignore logq (a shifted score would
    inflate bpr-max's score regulariser)."""
    seen = {logq: _first_scores(monkeypatch, loss="bpr-max", logq=logq) for logq in (0.0, 2.0)}
    assert torch.equal(seen[2.0], seen[0.0])


def test_row_adagrad_updates_the_batch_rows_with_momentum():
    """The official code's Adagrad with momentum: per row G += g**2, v = m v + lr g /
    sqrt(G + eps), w -= v; other rows untouched; dense gradients update every row."""
    import torch

    from sklearn_autorec._torch_train import _RowAdagrad

    torch.manual_seed(0)
    table = torch.nn.Parameter(torch.randn(8, 2, dtype=torch.float64))
    bias = torch.nn.Parameter(torch.randn(2, dtype=torch.float64))
    start, start_bias = table.detach().clone(), bias.detach().clone()
    opt = _RowAdagrad([table, bias], lr=0.1, momentum=0.5)
    p, G, v = start.clone(), torch.zeros_like(start), torch.zeros_like(start)
    pb = start_bias.clone()
    Gb, vb = torch.zeros_like(pb), torch.zeros_like(pb)
    for rows in (torch.tensor([1, 5, 5]), torch.tensor([5, 2]), torch.tensor([1])):
        opt.zero_grad()
        out = torch.nn.functional.embedding(rows, table, sparse=True) + bias
        (out ** 2).sum().backward()
        opt.step()
        grad = torch.zeros_like(p).index_add_(0, rows, 2 * (p[rows] + pb))
        gb = (2 * (p[rows] + pb)).sum(0)
        r = torch.unique(rows)
        G[r] += grad[r] ** 2
        v[r] = 0.5 * v[r] + 0.1 * grad[r] / (G[r] + 1e-6).sqrt()
        p[r] -= v[r]
        Gb += gb ** 2
        vb = 0.5 * vb + 0.1 * gb / (Gb + 1e-6).sqrt()
        pb -= vb
    assert torch.allclose(table.detach(), p, rtol=1e-12, atol=1e-12)
    assert torch.allclose(bias.detach(), pb, rtol=1e-12, atol=1e-12)
    untouched = [0, 3, 4, 6, 7]
    assert torch.equal(table.detach()[untouched], start[untouched])


def test_gru4rec_trains_with_adagrad():
    sessions = [[0, 1, 2, 1], [2, 3], [1, 1, 3, 0], [0, 3, 2]] * 5
    model = GRU4RecRecommender(optimizer="adagrad", learning_rate=0.05, momentum=0.2,
                               loss="cross-entropy", n_sample=3, max_iter=3,
                               early_stopping=False, batch_size=2, random_state=0).fit(sessions)
    assert len(model.loss_curve_) == 3 and np.all(np.isfinite(model.loss_curve_))
    assert model.loss_curve_[-1] < model.loss_curve_[0]
    with pytest.raises(ValueError, match="optimizer"):
        GRU4RecRecommender(optimizer="sgd").fit(sessions)


@pytest.mark.parametrize("early_stopping", [False, True])
def test_session_order_time_feeds_sessions_by_first_click_every_epoch(monkeypatch,
                                                                      early_stopping):
    """session_order="time": the slots take the sessions by their first click's time,
    the same order each epoch (and early stopping holds out the latest ones);
    "shuffle": a new order each epoch."""
    from sklearn_autorec import _gru4rec

    original, orders = _gru4rec.session_parallel_batches, []

    def capture(offsets, order, batch_size):
        orders.append(np.asarray(order).copy())
        return original(offsets, order, batch_size)

    monkeypatch.setattr(_gru4rec, "session_parallel_batches", capture)
    sessions = cycle_sessions(40)
    first_times = np.random.default_rng(1).permutation(40) * 100.0
    rows = [(s, item, first_times[s] + t) for s, seq in enumerate(sessions)
            for t, item in enumerate(seq)]
    df = np.array(rows, dtype=float)
    by_time = np.argsort(first_times)
    params = dict(FAST, early_stopping=early_stopping, n_iter_no_change=5,
                  validation_fraction=0.25)
    GRU4RecRecommender(session_order="time", **params).fit(df)
    n_train = 30 if early_stopping else 40
    assert len(orders) == 3
    for order in orders:  # encoded sessions are numbered by first appearance: s
        np.testing.assert_array_equal(order, by_time[:n_train])
    orders.clear()
    GRU4RecRecommender(session_order="shuffle", **params).fit(df)
    assert all(sorted(o) == sorted(by_time[:n_train]) for o in orders)
    assert not np.array_equal(orders[0], orders[1])


def test_step_loss_is_the_sum_over_active_sessions_divided_by_the_batch_size(monkeypatch):
    """At the end of an epoch slots run dry: a step with fewer active sessions
    weighs its clicks as a full step does (sum over rows / batch_size), instead
    of giving the last few sessions a full batch's update."""
    from sklearn_autorec import _gru4rec, _torch_train

    means, steps = [], []
    original_loss, original_train = _gru4rec.sampled_loss, _torch_train.train_minibatch

    def capture_mean(scores, loss, bpreg=1.0, negative_mask=None):
        value = original_loss(scores, loss, bpreg, negative_mask)
        means.append((scores.shape[0], float(value.detach())))
        return value

    def capture_steps(module, *, loss, **kwargs):
        def recorded(batch, step):
            value = loss(batch, step)
            steps.append(float(value.detach()))
            return value
        return original_train(module, loss=recorded, **kwargs)

    monkeypatch.setattr(_gru4rec, "sampled_loss", capture_mean)
    monkeypatch.setattr(_torch_train, "train_minibatch", capture_steps)
    sessions = [[0, 1, 2, 3, 4, 5, 6], [2, 3], [1, 4, 3], [5, 6]]  # one long session
    GRU4RecRecommender(n_sample=3, max_iter=1, early_stopping=False, batch_size=3,
                       random_state=0).fit(sessions)
    assert len(means) == len(steps) > 0
    rows = [n for n, _ in means]
    assert min(rows) == 1 and max(rows) == 3  # the tail ran with one session
    for (n, mean), value in zip(means, steps):
        assert value == pytest.approx(mean * n / 3, rel=1e-6)
