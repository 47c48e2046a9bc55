"""Mult-VAE and Mult-DAE: the loss, its gradient, scoring, annealing, the contract."""

import pickle

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

from sklearn_autorec._multvae import (MultDAERecommender, MultVAERecommender, _anneal,
                                      _batch_loss, _build_net, _torch_batch)
from sklearn_autorec import _multvae
from sklearn_autorec.metrics import make_ranking_scorer

SMALL = dict(hidden_layer_sizes=(16, 4), batch_size=16, random_state=0)


def tiny_csr(n_users=30, n_items=12, seed=0, counts=True):
    rng = np.random.default_rng(seed)
    mask = rng.random((n_users, n_items)) < 0.35
    mask[np.arange(n_users), rng.integers(0, n_items, n_users)] = True
    values = rng.integers(1, 4, size=mask.sum()).astype(float) if counts else 1.0
    rows, cols = np.nonzero(mask)
    return sp.csr_matrix((np.broadcast_to(values, rows.shape), (rows, cols)),
                         shape=(n_users, n_items))


def two_groups(n_users=80, n_items=20, seed=0):
    """Users of group g interact with random items of the g-th half of the items."""
    rng = np.random.default_rng(seed)
    pairs = []
    half = n_items // 2
    for u in range(n_users):
        g = u % 2
        items = rng.choice(half, size=5, replace=False) + g * half
        pairs += [(u, i) for i in items]
    return np.array(pairs)


def random_net(n_items, hidden, variational, seed=0):
    torch.manual_seed(seed)
    net = _build_net(n_items, hidden, variational, torch.float64)
    net.reset(torch.Generator().manual_seed(seed))
    with torch.no_grad():  # biases large enough to matter
        for b in net.biases:
            b.normal_(0.0, 0.3)
    return net


def dense_reference(net, X, eps, beta, alpha, variational):
    """Dense float64 torch forward of the same loss (autograd through it)."""
    Xt = torch.as_tensor(X)
    h = Xt / torch.linalg.norm(Xt, dim=1, keepdim=True)
    W, b = list(net.weights), list(net.biases)
    n_enc = len(W) // 2
    for i in range(n_enc):
        if i > 0:
            h = torch.tanh(h)
        h = h @ W[i] + b[i]
    if variational:
        d = h.shape[1] // 2
        mu, logvar = h[:, :d], h[:, d:]
        z = mu + torch.exp(0.5 * logvar) * torch.as_tensor(eps)
    else:
        z = torch.tanh(h)
    h = z
    for i in range(n_enc, len(W)):
        if i > n_enc:
            h = torch.tanh(h)
        h = h @ W[i] + b[i]
    nll = -(torch.log_softmax(h, dim=1) * Xt).sum(dim=1).mean()
    loss = nll
    if variational:
        loss = loss + beta * (0.5 * (torch.exp(logvar) + mu ** 2 - 1 - logvar)).sum(1).mean()
    return loss + alpha * sum((w ** 2).sum() for w in W)


def numpy_reference_loss(net, X, eps, beta):
    """The Mult-VAE loss in plain numpy, from the closed forms of the paper."""
    W = [w.detach().numpy() for w in net.weights]
    b = [v.detach().numpy() for v in net.biases]
    h = X / np.linalg.norm(X, axis=1, keepdims=True)
    h = np.tanh(h @ W[0] + b[0]) @ W[1] + b[1]
    mu, logvar = h[:, :4], h[:, 4:]
    z = mu + np.exp(logvar / 2) * eps
    logits = np.tanh(z @ W[2] + b[2]) @ W[3] + b[3]
    shift = logits.max(axis=1, keepdims=True)
    log_softmax = logits - shift - np.log(np.exp(logits - shift).sum(axis=1, keepdims=True))
    nll = -(X * log_softmax).sum(axis=1).mean()
    kl = (-0.5 * (1 + logvar - mu ** 2 - np.exp(logvar))).sum(axis=1).mean()
    return nll + beta * kl


def torch_batch(csr):
    return _torch_batch(_multvae._normalized(csr), csr, np.arange(csr.shape[0]), "cpu",
                        torch.float64)


def test_vae_loss_equals_dense_numpy_reference():
    csr = tiny_csr()
    net = random_net(csr.shape[1], (16, 4), True)
    eps = np.random.default_rng(1).normal(size=(csr.shape[0], 4))
    batch = torch_batch(csr)[:5] + (torch.as_tensor(eps),)
    for beta in (0.0, 0.13):
        loss = _batch_loss(net, batch, beta, 0.0, 0.0, None)
        ref = numpy_reference_loss(net, csr.toarray(), eps, beta)
        np.testing.assert_allclose(loss.item(), ref, rtol=1e-12)


@pytest.mark.parametrize("variational", [True, False])
def test_gradient_equals_autograd_of_dense_reference(variational):
    csr = tiny_csr(seed=3)
    net = random_net(csr.shape[1], (16, 4), variational, seed=2)
    eps = np.random.default_rng(2).normal(size=(csr.shape[0], 4))
    batch = torch_batch(csr)[:5] + (torch.as_tensor(eps),)
    beta, alpha = 0.2, 0.01
    loss = _batch_loss(net, batch, beta, alpha, 0.0, None)
    grads = torch.autograd.grad(loss, list(net.parameters()))
    ref = dense_reference(net, csr.toarray(), eps, beta, alpha, variational)
    ref_grads = torch.autograd.grad(ref, list(net.parameters()))
    np.testing.assert_allclose(loss.item(), ref.item(), rtol=1e-12)
    assert len(grads) == 2 * 4
    for g, r in zip(grads, ref_grads):
        np.testing.assert_allclose(g.numpy(), r.numpy(), rtol=1e-9, atol=1e-12)
        assert np.abs(r.numpy()).max() > 0


def test_dropout_is_active_and_seeded():
    csr = tiny_csr()
    net = random_net(csr.shape[1], (16, 4), False)
    batch = torch_batch(csr)
    losses = [_batch_loss(net, batch, 0.0, 0.0, 0.5, torch.Generator().manual_seed(s)).item()
              for s in (0, 0, 1)]
    assert losses[0] == pytest.approx(losses[1], rel=1e-14)
    assert losses[0] != pytest.approx(losses[2], rel=1e-6)
    assert losses[0] != pytest.approx(_batch_loss(net, batch, 0.0, 0.0, 0.0, None).item(),
                                      rel=1e-6)


@pytest.mark.parametrize("cls, variational", [(MultVAERecommender, True),
                                              (MultDAERecommender, False)])
def test_numpy_scoring_equals_torch_eval_forward(cls, variational):
    csr = tiny_csr(seed=4)
    net = random_net(csr.shape[1], (16, 4), variational, seed=5)
    net.eval()
    with torch.no_grad():
        ref = net(*torch_batch(csr)[:3]).numpy()
    model = cls()
    model.coefs_ = [w.detach().numpy() for w in net.weights]
    model.intercepts_ = [b.detach().numpy() for b in net.biases]
    np.testing.assert_allclose(model._score_new(csr), ref, rtol=1e-10, atol=1e-12)


def test_annealing_counter_is_global(monkeypatch):
    calls = []

    def spy(step, beta, total):
        calls.append((step, _anneal(step, beta, total)))
        return calls[-1][1]

    monkeypatch.setattr(_multvae, "_anneal", spy)
    X = tiny_csr(n_users=40)  # 40 users, batches of 16: 3 per epoch
    model = MultVAERecommender(hidden_layer_sizes=(8, 2), batch_size=16, max_iter=2,
                               early_stopping=False, total_anneal_steps=10, beta=0.5,
                               random_state=0).fit(X)
    assert [s for s, _ in calls] == list(range(6))
    # epoch 2 starts at update 3: beta continues at 3/10, not back to 0
    np.testing.assert_allclose([b for _, b in calls], [0, .1, .2, .3, .4, .5])
    assert model.n_updates_ == 6 and model.total_anneal_steps_ == 10


def test_auto_anneal_horizon_from_batches_per_epoch():
    model = MultVAERecommender(hidden_layer_sizes=(8, 2), batch_size=16, max_iter=1,
                               early_stopping=False, beta=0.25).fit(tiny_csr(n_users=40))
    assert model.total_anneal_steps_ == _multvae.AUTO_ANNEAL_EPOCHS * 3 * 4
    assert _anneal(10 ** 9, 0.25, model.total_anneal_steps_) == 0.25


@pytest.mark.parametrize("cls", [MultVAERecommender, MultDAERecommender])
def test_learns_group_structure_and_contract(cls):
    X = two_groups()
    model = cls(max_iter=40, n_iter_no_change=40, learning_rate=1e-2, validation_fraction=0.2,
                **SMALL).fit(X)
    assert len(model.validation_scores_) == model.n_iter_ == len(model.loss_curve_)
    assert model.loss_curve_[-1] < model.loss_curve_[0]
    if model.best_epoch_:
        assert model.best_validation_score_ == pytest.approx(max(model.validation_scores_))
    items, scores = model.recommend(np.arange(80), n=5)
    own_half = (items >= 10) == (np.arange(80) % 2 == 1)[:, None]
    assert own_half.mean() > 0.9
    assert (np.diff(scores, axis=1) <= 1e-12).all()
    # recommend_new of a user's training row gives recommend's answer (fold-in is native)
    users, new_items, new_scores = model.recommend_new(X[X[:, 0] == 3], n=5)
    np.testing.assert_array_equal(new_items[0], items[3])
    np.testing.assert_allclose(new_scores[0], scores[3], rtol=1e-10)
    pairs = np.array([[3, 0], [3, 15], [4, 1]])
    np.testing.assert_allclose(model.predict(pairs),
                               model._score_users(np.array([3, 3, 4]))[[0, 1, 2], [0, 15, 1]])
    # pickles without torch objects, and unfitted clones
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_allclose(restored.recommend(3, n=5)[1], scores[3])
    assert all(isinstance(w, np.ndarray) for w in model.coefs_ + model.intercepts_)
    assert not hasattr(clone(model), "coefs_")
    assert model._item_vectors().shape == (20, 16)
    sim, _ = model.similar_items(0, n=3)
    assert len(sim) == 3


def test_vae_code_layer_holds_mean_and_log_variance():
    model = MultVAERecommender(max_iter=1, **SMALL).fit(two_groups())
    assert [w.shape for w in model.coefs_] == [(20, 16), (16, 8), (4, 16), (16, 20)]
    dae = MultDAERecommender(max_iter=1, **SMALL).fit(two_groups())
    assert [w.shape for w in dae.coefs_] == [(20, 16), (16, 4), (4, 16), (16, 20)]


def test_reproducible_with_random_state():
    X = tiny_csr(n_users=40)
    a, b, c = (MultVAERecommender(max_iter=2, **{**SMALL, "random_state": s}).fit(X)
               for s in (0, 0, 1))
    for wa, wb, wc in zip(a.coefs_, b.coefs_, c.coefs_):
        np.testing.assert_allclose(wa, wb, rtol=1e-6, atol=1e-7)
    assert not np.allclose(a.coefs_[0], c.coefs_[0], atol=1e-4)
    assert a.validation_scores_ == pytest.approx(b.validation_scores_)


def test_grid_search_over_pairs():
    X = two_groups(n_users=60)
    # per-user splits: the k-th interaction of every user is held out in fold k
    rank = np.concatenate([np.arange(5)] * 60)
    splits = [(np.flatnonzero(rank != k), np.flatnonzero(rank == k)) for k in (0, 1)]
    search = GridSearchCV(MultDAERecommender(max_iter=3, **SMALL), {"dropout": [0.0, 0.5]},
                          cv=splits,
                          scoring=make_ranking_scorer("ndcg", k=5)).fit(X)
    assert search.best_params_["dropout"] in (0.0, 0.5)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


@pytest.mark.parametrize("params, match", [
    ({"hidden_layer_sizes": (16, 0)}, "hidden_layer_sizes must be"),
    ({"hidden_layer_sizes": ()}, "hidden_layer_sizes must be"),
    ({"hidden_layer_sizes": (4.5,)}, "hidden_layer_sizes must be"),
    ({"dropout": 1.0}, "dropout"),
    ({"beta": -0.1}, "beta"),
    ({"total_anneal_steps": -1}, "total_anneal_steps"),
    ({"total_anneal_steps": "never"}, "total_anneal_steps"),
    ({"batch_size": 0}, "batch_size"),
    ({"validation_fraction": 1.0}, "validation_fraction"),
    ({"learning_rate": 0.0}, "learning_rate"),
])
def test_bad_parameters(params, match):
    with pytest.raises(ValueError, match=match):
        MultVAERecommender(**params).fit(two_groups())


def test_early_stopping_needs_users_with_two_interactions():
    X = np.array([[0, 0], [1, 1], [2, 2]])
    with pytest.raises(ValueError, match="early_stopping=False"):
        MultVAERecommender(**SMALL).fit(X)
    model = MultDAERecommender(max_iter=2, early_stopping=False, **SMALL).fit(X)
    assert model.validation_scores_ is None and model.best_epoch_ == 2


def test_running_out_of_epochs_is_a_convergence_warning():
    """The shared loop warns, as scikit-learn's iterative estimators do, when max_iter
    ends training before the early-stopping rule; the best weights are kept."""
    from sklearn.exceptions import ConvergenceWarning

    rng = np.random.default_rng(0)
    X = sp.csr_matrix((rng.random((60, 30)) < 0.3).astype(float))
    with pytest.warns(ConvergenceWarning, match="max_iter=2 epochs without meeting"):
        model = MultDAERecommender(hidden_layer_sizes=(8,), max_iter=2, n_iter_no_change=5,
                                   random_state=0).fit(X)
    assert model.n_iter_ == 2
