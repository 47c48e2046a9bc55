"""NARMRecommender: the numpy model against the torch module (float64), masks, loss, contract."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone

from sklearn_autorec._narm import (NARMRecommender, _batch_loss, _build_net, _decode_numpy,
                                   _encode_prefixes_numpy, _full_softmax_ce, _net_weights,
                                   _prefix_examples, _split_validation, _torch_batch,
                                   _validator)
from sklearn_autorec._sessions import EncodedSessions
from sklearn_autorec.metrics import session_report

torch = pytest.importorskip("torch")

N_ITEMS, EMB, HID = 9, 4, 5


def _net(seed=0):
    net = _build_net(N_ITEMS, EMB, HID, torch.float64)
    net.reset(torch.Generator().manual_seed(seed))
    with torch.no_grad():  # non-zero everything, biases included
        for p in net.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=torch.Generator().manual_seed(seed + 1),
                                     dtype=p.dtype))
    net.eval()
    return net


def _padded(seqs, extra=0):
    steps = max(len(s) for s in seqs) + extra
    items = np.zeros((len(seqs), steps), dtype=np.int64)
    for r, s in enumerate(seqs):
        items[r, :len(s)] = s
    return torch.as_tensor(items), torch.as_tensor([len(s) for s in seqs])


PREFIXES = [np.array([1, 2, 3, 4]), np.array([5]), np.array([8, 0, 8]), np.array([2, 7])]


def test_numpy_model_matches_torch_float64():
    net = _net()
    w = _net_weights(net)
    with torch.no_grad():
        expected = net(*_padded(PREFIXES)).numpy()
    got = _decode_numpy(w, _encode_prefixes_numpy(w, PREFIXES))
    assert got.shape == (len(PREFIXES), N_ITEMS)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


def test_numpy_model_matches_the_paper_equations():
    """One prefix by the paper's equations, step by step (independent of batching)."""
    net = _net(3)
    w = _net_weights(net)
    seq = PREFIXES[0]
    sig = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
    h, states = np.zeros(HID), []
    Wi, Wh, bi, bh = (w["gru_weight_ih"], w["gru_weight_hh"], w["gru_bias_ih"],
                      w["gru_bias_hh"])
    for item in seq:
        x = w["embeddings"][item]
        gi, gh = Wi @ x + bi, Wh @ h + bh
        r, z = sig(gi[:HID] + gh[:HID]), sig(gi[HID:2 * HID] + gh[HID:2 * HID])
        n = np.tanh(gi[2 * HID:] + r * gh[2 * HID:])
        h = (1 - z) * n + z * h
        states.append(h)
    alpha = [w["attention_v"][0] @ sig(w["attention_a1"] @ h + w["attention_a2"] @ hj)
             for hj in states]
    c = np.concatenate([h, sum(a * hj for a, hj in zip(alpha, states))])
    expected = w["embeddings"] @ (w["bilinear_b"] @ c)
    got = _decode_numpy(w, _encode_prefixes_numpy(w, [seq]))[0]
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


def test_attention_ignores_padding():
    net = _net(1)
    w = _net_weights(net)
    alone = [_decode_numpy(w, _encode_prefixes_numpy(w, [p]))[0] for p in PREFIXES]
    batched = _decode_numpy(w, _encode_prefixes_numpy(w, PREFIXES))
    np.testing.assert_allclose(batched, np.array(alone), rtol=1e-10, atol=1e-12)
    # torch: the same prefixes with extra padding columns, padded with other item ids
    items, lengths = _padded(PREFIXES, extra=3)
    with torch.no_grad():
        ref = net(*_padded([p for p in PREFIXES])).numpy()
        padded = net(items, lengths).numpy()
        mask = torch.arange(items.shape[1])[None, :] >= lengths[:, None]
        junk = items.clone()
        junk[mask] = 6
        other = net(junk, lengths).numpy()
    np.testing.assert_allclose(padded, ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(other, ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ref, np.array(alone), rtol=1e-10, atol=1e-12)


def _dense_ce(scores, targets):
    z = scores - scores.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return -logp[np.arange(len(targets)), targets].mean()


def test_loss_matches_dense_reference():
    net = _net(2)
    w = _net_weights(net)
    items, lengths = _padded(PREFIXES)
    targets = torch.tensor([5, 0, 8, 3])
    got = float(_batch_loss(net, (items, lengths, targets), 0.0, 0.0, None, None).detach())
    scores = _decode_numpy(w, _encode_prefixes_numpy(w, PREFIXES))
    assert got == pytest.approx(_dense_ce(scores, targets.numpy()), rel=1e-10)
    # sampled softmax: the softmax over the batch's targets and the sampled items
    got = float(_batch_loss(net, (items, lengths, targets), 0.0, 0.0, 3,
                            torch.Generator().manual_seed(5)).detach())
    sampled = torch.randint(N_ITEMS, (3,), generator=torch.Generator().manual_seed(5)).numpy()
    cand = np.unique(np.concatenate([targets.numpy(), sampled]))
    expected = _dense_ce(scores[:, cand], np.searchsorted(cand, targets.numpy()))
    assert got == pytest.approx(expected, rel=1e-10)
    assert len(cand) < N_ITEMS  # the sampled loss is not the full one
    # dropout is active in training mode only, and changes the loss
    net.train()
    drop = float(_batch_loss(net, (items, lengths, targets), 0.25, 0.5, None,
                             torch.Generator().manual_seed(0)).detach())
    net.eval()
    assert abs(drop - _dense_ce(scores, targets.numpy())) > 1e-6


def test_fused_softmax_gradients_match_autograd():
    gen = torch.Generator().manual_seed(0)
    q = torch.randn(6, 4, dtype=torch.float64, generator=gen, requires_grad=True)
    emb = torch.randn(11, 4, dtype=torch.float64, generator=gen, requires_grad=True)
    targets = torch.tensor([0, 3, 3, 10, 7, 1])
    (2.5 * _full_softmax_ce(q, emb, targets)).backward()
    fused = q.grad.clone(), emb.grad.clone()
    q.grad = emb.grad = None
    (2.5 * torch.nn.functional.cross_entropy(q @ emb.T, targets)).backward()
    np.testing.assert_allclose(fused[0], q.grad, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(fused[1], emb.grad, rtol=1e-10, atol=1e-13)


def test_prefix_examples_against_a_loop():
    offsets = np.array([0, 3, 5, 11])
    starts, lengths, targets = _prefix_examples(offsets, max_length=3)
    expected = []
    for a, b in zip(offsets[:-1], offsets[1:]):
        for t in range(a + 1, b):
            expected.append((max(a, t - 3), min(t - a, 3), t))
    np.testing.assert_array_equal(np.column_stack([starts, lengths, targets]), expected)
    items = np.arange(100, 111)
    batch_items, batch_len, batch_tgt = _torch_batch(items, starts, lengths, targets,
                                                     torch.device("cpu"))
    for r, (s, n, t) in enumerate(zip(starts, lengths, targets)):
        assert batch_items[r, :n].tolist() == items[s:s + n].tolist()
        assert int(batch_tgt[r]) == items[t]


def _cycle_sessions(n_items=12, n_sessions=240, seed=0):
    """Sessions walking i -> i + 1 (mod n_items) from random starts."""
    rng = np.random.default_rng(seed)
    return [list((rng.integers(n_items) + np.arange(rng.integers(2, 7))) % n_items)
            for _ in range(n_sessions)]


SMALL = dict(embedding_dim=8, hidden_size=8, batch_size=64, random_state=0)


@pytest.fixture(scope="module")
def fitted():
    return NARMRecommender(**SMALL, max_iter=25, max_length=3, learning_rate=1e-2,
                           early_stopping=False).fit(_cycle_sessions())


def test_fit_learns_transitions(fitted):
    report = session_report(fitted, _cycle_sessions(seed=1), k=1)
    assert report["recall@1"] > 0.9
    assert fitted.n_iter_ == fitted.best_epoch_ == len(fitted.loss_curve_) == 25
    assert fitted.loss_curve_[-1] < 0.5 * fitted.loss_curve_[0]
    items, _ = fitted.recommend([[3, 4], [11]], n=1)
    np.testing.assert_array_equal(items, [[5], [0]])
    assert all(isinstance(v, np.ndarray) and v.dtype == np.float64
               for v in fitted.weights_.values())


def test_positions_match_prefixes_and_truncation(fitted):
    sessions = [np.array([0, 1, 2, 3, 4, 5, 6]), np.array([4, 5]), np.array([7, 8, 9, 10])]
    prefixes = [s[:t] for s in sessions for t in range(1, len(s))]
    np.testing.assert_allclose(fitted._score_positions(sessions),
                               fitted._score_prefixes(prefixes), rtol=1e-10, atol=1e-12)
    # max_length=3: a longer prefix is scored from its last 3 clicks
    np.testing.assert_allclose(fitted._score_prefixes([np.array([9, 0, 1, 2, 3])]),
                               fitted._score_prefixes([np.array([1, 2, 3])]), rtol=1e-12)


def test_validation_recall_matches_session_report(fitted):
    net = _build_net(fitted.n_items_, 8, 8, torch.float64)
    state = {"embeddings": "embeddings", "gru.weight_ih_l0": "gru_weight_ih",
             "gru.weight_hh_l0": "gru_weight_hh", "gru.bias_ih_l0": "gru_bias_ih",
             "gru.bias_hh_l0": "gru_bias_hh", "attention_a1": "attention_a1",
             "attention_a2": "attention_a2", "attention_v": "attention_v",
             "bilinear_b": "bilinear_b"}
    net.load_state_dict({k: torch.as_tensor(fitted.weights_[v]) for k, v in state.items()})
    net.eval()
    seqs = _cycle_sessions(seed=2, n_sessions=30)
    codes = [np.searchsorted(fitted.item_ids_, s) for s in seqs]
    data = EncodedSessions(np.concatenate(codes),
                           np.concatenate([[0], np.cumsum([len(s) for s in seqs])]),
                           fitted.n_items_)
    with torch.no_grad():
        for k in (1, 3):
            got = _validator(net, data, 3, 16, torch.device("cpu"),
                             np.random.default_rng(0), k=k)()
            assert got == pytest.approx(session_report(fitted, seqs, k=k)[f"recall@{k}"])


def test_validation_split_latest_by_time_or_random():
    offsets = np.array([0, 2, 4, 7, 9, 11])
    data = EncodedSessions(np.arange(11) % 4, offsets, 4)
    train, val = _split_validation(data, 0.4, np.random.default_rng(0))
    assert (len(train), len(val)) == (3, 2)
    assert len(train.items) + len(val.items) == 11
    data.times = np.array([0, 1, 50, 51, 2, 3, 4, 9, 10, 60, 61], dtype=float)
    train, val = _split_validation(data, 0.4, np.random.default_rng(0))
    # latest last clicks: session 1 (51) and session 4 (61)
    np.testing.assert_array_equal(val.items, data.items[[2, 3, 9, 10]])
    with pytest.raises(ValueError, match="validation_fraction"):
        _split_validation(data, 0.01, np.random.default_rng(0))


def test_pickle_clone_and_reproducibility(fitted):
    again = pickle.loads(pickle.dumps(fitted))
    prefixes = [[1, 2], [5], [0, 7, 8]]
    np.testing.assert_allclose(again.recommend(prefixes, n=4)[1],
                               fitted.recommend(prefixes, n=4)[1], rtol=1e-12)
    twin = clone(fitted)
    assert twin.get_params() == fitted.get_params() and not hasattr(twin, "weights_")
    data = _cycle_sessions(n_sessions=60)
    a = NARMRecommender(**SMALL, max_iter=2).fit(data)
    b = NARMRecommender(**SMALL, max_iter=2).fit(data)
    c = NARMRecommender(**{**SMALL, "random_state": 1}, max_iter=2).fit(data)
    for key in a.weights_:
        np.testing.assert_allclose(a.weights_[key], b.weights_[key], rtol=1e-6, atol=1e-7)
    assert not np.allclose(a.weights_["embeddings"], c.weights_["embeddings"])


def test_early_stopping_bookkeeping():
    rng = np.random.default_rng(0)
    sessions = [list(rng.integers(0, 50, size=rng.integers(2, 6))) for _ in range(200)]
    model = NARMRecommender(**SMALL, max_iter=6, n_iter_no_change=2).fit(sessions)
    assert model.n_iter_ == len(model.loss_curve_) == len(model.validation_scores_)
    assert model.n_iter_ == 6 or model.n_iter_ - model.best_epoch_ == 2
    if model.best_epoch_ > 0:
        assert model.best_validation_score_ == max(model.validation_scores_)
        assert model.validation_scores_[model.best_epoch_ - 1] == model.best_validation_score_
    # about 10% of the 200 sessions held out: the others are the training prefixes
    n_prefixes = sum(len(s) - 1 for s in sessions)
    assert 0.8 * n_prefixes < model.n_train_prefixes_ < n_prefixes


def test_sampled_softmax_and_no_early_stopping_fit():
    model = NARMRecommender(**SMALL, n_negatives=4, max_iter=3, early_stopping=False)
    model.fit(_cycle_sessions(n_sessions=60))
    assert model.validation_scores_ is None and model.best_epoch_ == model.n_iter_ == 3
    assert model.n_train_prefixes_ == sum(len(s) - 1 for s in _cycle_sessions(n_sessions=60))
    assert np.isfinite(model.recommend([[1, 2]], n=3)[1]).all()


@pytest.mark.parametrize("params, name", [
    ({"embedding_dim": 0}, "embedding_dim"),
    ({"dropout_output": 1.0}, "dropout_output"),
    ({"dropout_embedding": -0.1}, "dropout_embedding"),
    ({"max_length": 0}, "max_length"),
    ({"n_negatives": 0}, "n_negatives"),
    ({"validation_fraction": 1.0}, "validation_fraction"),
    ({"learning_rate": 0}, "learning_rate"),
])
def test_bad_params(params, name):
    with pytest.raises(ValueError, match=name):
        NARMRecommender(**params).fit([[1, 2], [2, 3]])


def test_too_few_sessions_for_validation():
    with pytest.raises(ValueError, match="early_stopping=False"):
        NARMRecommender(**SMALL).fit([[1, 2], [2, 3]])
