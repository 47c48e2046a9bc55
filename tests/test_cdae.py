"""CDAERecommender: the batch loss and its gradient against dense references,
numpy scoring against the torch forward, the estimator contract, errors."""

import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

from sklearn_autorec import CDAERecommender
from sklearn_autorec._cdae import _make_batch, _sample_negatives, _torch_parts
from sklearn_autorec.metrics import make_ranking_scorer
from sklearn_autorec.model_selection import WarmStartKFold, matrix_to_pairs

torch = pytest.importorskip("torch")

FAST = dict(n_components=8, max_iter=30, batch_size=8, learning_rate=0.05, alpha=0.1,
            device="cpu")


def clustered(seed=0, n_users=40, n_items=20, per_user=6):
    """Two groups of users, each interacting only with its half of the items."""
    rng = np.random.default_rng(seed)
    rows, cols = [], []
    half = n_items // 2
    for u in range(n_users):
        group = u % 2
        items = rng.choice(half, size=per_user, replace=False) + group * half
        rows += [u] * per_user
        cols += list(items)
    m = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n_users, n_items))
    m.sort_indices()
    return m


def random_module(n_users, n_items, k, hidden, output, seed=0):
    CDAEModule, batch_loss = _torch_parts()
    gen = torch.Generator().manual_seed(seed)
    module = CDAEModule(n_users, n_items, k, hidden, output, gen, torch.float64)
    with torch.no_grad():  # biases and V are zero at the start: make them matter
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float64) * 0.5)
    return module, batch_loss


def dense_reference_loss(params, Y, users, neg_rows, neg_items, loss, hidden, output,
                         alpha, n_users, lib):
    """The objective's batch estimate from dense matrices, in numpy or torch."""
    W, b, V, Wd, bd = params
    act = {"sigmoid": lambda x: 1 / (1 + lib.exp(-x)), "tanh": lib.tanh,
           "relu": lambda x: x * (x > 0), "identity": lambda x: x}
    Yb = Y[users]
    z = act[hidden](Yb @ W + V[users] + b)
    logits = z @ Wd.T + bd
    mask = (Yb > 0) * 1.0
    target = (Yb > 0) * 1.0
    neg = np.zeros(Yb.shape)
    np.add.at(neg, (neg_rows, neg_items), 1.0)  # a negative drawn twice counts twice
    neg = lib.asarray(neg) if lib is np else torch.as_tensor(neg)
    if loss == "logistic":
        p = act["sigmoid"](logits)
        per = -(target * lib.log(p) + (1 - target) * lib.log(1 - p))
    else:
        per = (act[output](logits) - target) ** 2
    value = ((mask + neg) * per).sum() / len(users)
    value = value + alpha / 2 * ((V[users] ** 2).sum() / len(users)
                                 + ((W ** 2).sum() + (Wd ** 2).sum()) / n_users)
    return value


CASES = [("logistic", "sigmoid", "sigmoid"), ("squared", "tanh", "identity"),
         ("squared", "sigmoid", "sigmoid"), ("logistic", "relu", "sigmoid")]


@pytest.mark.parametrize("loss, hidden, output", CASES)
def test_batch_loss_and_gradient_match_dense_references(loss, hidden, output):
    rng = np.random.default_rng(3)
    n_users, n_items, k = 7, 11, 4
    Y = sp.random(n_users, n_items, density=0.35, random_state=4, format="csr")
    Y.data = rng.uniform(0.5, 2.0, Y.nnz)  # weighted input: targets stay 1
    Y.sort_indices()
    users = np.array([5, 0, 2, 6])
    neg_rows = np.array([0, 0, 1, 2, 3, 3])
    neg_items = np.array([Y[users[r]].indices.max() % n_items for r in neg_rows])
    # make each a real non-interaction of its user
    for j, r in enumerate(neg_rows):
        free = np.setdiff1d(np.arange(n_items), Y[users[r]].indices)
        neg_items[j] = free[j % len(free)]
    batch = _make_batch(Y, users, 0.0, 0.0, rng, negatives=(neg_rows, neg_items))
    module, batch_loss = random_module(n_users, n_items, k, hidden, output)
    alpha = 0.3
    value = batch_loss(module, batch, loss, alpha, n_users, torch.device("cpu"))
    value.backward()

    params_np = [p.detach().numpy() for p in (module.encoder_weights, module.encoder_bias,
                                              module.user_embeddings, module.decoder_weights,
                                              module.decoder_bias)]
    ref = dense_reference_loss(params_np, Y.toarray(), users, neg_rows, neg_items, loss,
                               hidden, output, alpha, n_users, np)
    np.testing.assert_allclose(float(value.detach()), ref, rtol=1e-10)

    params_t = [p.detach().clone().requires_grad_(True) for p in
                (module.encoder_weights, module.encoder_bias, module.user_embeddings,
                 module.decoder_weights, module.decoder_bias)]
    ref_t = dense_reference_loss(params_t, torch.as_tensor(Y.toarray()), users, neg_rows,
                                 neg_items, loss, hidden, output, alpha, n_users, torch)
    ref_t.backward()
    got = [module.encoder_weights, module.encoder_bias, module.user_embeddings,
           module.decoder_weights, module.decoder_bias]
    for mine, theirs in zip(got, params_t):
        assert mine.grad is not None and theirs.grad.abs().sum() > 0
        np.testing.assert_allclose(mine.grad.numpy(), theirs.grad.numpy(), rtol=1e-9,
                                   atol=1e-12)


def test_corruption_drops_and_rescales_the_input():
    Y = sp.csr_matrix(np.ones((200, 50)))
    rng = np.random.default_rng(0)
    batch = _make_batch(Y, np.arange(200), 1.0, 0.5, rng)
    kept = len(batch.in_values)
    assert abs(kept / Y.nnz - 0.5) < 0.02
    np.testing.assert_allclose(batch.in_values, 2.0)
    # offsets delimit each user's kept entries
    counts = np.diff(np.append(batch.in_offsets, kept))
    assert counts.sum() == kept and (counts >= 0).all()
    # the targets are every interaction, not only the kept ones
    assert (batch.targets == 1).sum() == Y.nnz


def test_negatives_avoid_interactions_and_follow_the_ratio():
    Y = clustered(n_users=30, n_items=40, per_user=10)
    rng = np.random.default_rng(0)
    users = np.arange(30)
    rows, items = _sample_negatives(Y, users, np.full(30, 25), rng)
    dense = Y.toarray()
    assert dense[users[rows], items].sum() == 0
    counts = np.bincount(rows, minlength=30)
    assert counts.min() >= 20 and counts.max() == 25
    batch = _make_batch(Y, users, 2.5, 0.0, rng)
    assert (batch.targets == 0).sum() <= 25 * 30
    assert (batch.targets == 0).sum() >= 20 * 30


def test_numpy_scores_equal_the_torch_forward_and_new_users_use_v_zero():
    Y = clustered()
    model = CDAERecommender(**{**FAST, "max_iter": 3}, early_stopping=False, random_state=0,
                            hidden_activation="tanh").fit(Y)
    CDAEModule, _ = _torch_parts()
    module = CDAEModule(model.n_users_, model.n_items_, 8, "tanh", "sigmoid",
                        torch.Generator(), torch.float64)
    module.load_state_dict({
        "encoder_weights": torch.as_tensor(model.encoder_weights_),
        "encoder_bias": torch.as_tensor(model.encoder_bias_),
        "user_embeddings": torch.as_tensor(model.user_embeddings_),
        "decoder_weights": torch.as_tensor(model.decoder_weights_),
        "decoder_bias": torch.as_tensor(model.decoder_bias_)})
    users = np.array([0, 3, 7, 39])
    with torch.no_grad():
        expected = module.dense_scores(torch.as_tensor(Y[users].toarray()),
                                       torch.as_tensor(users)).numpy()
        expected_new = module.dense_scores(torch.as_tensor(Y[users].toarray()), None).numpy()
    np.testing.assert_allclose(model._score_users(users), expected, rtol=1e-10)
    np.testing.assert_allclose(model._score_new(Y[users]), expected_new, rtol=1e-10)
    assert np.abs(model.user_embeddings_).max() > 0
    assert not np.allclose(expected, expected_new)
    # predict gives the same scores
    X = np.array([[3, 5], [39, 0]])
    np.testing.assert_allclose(model.predict(X), expected[[1, 3], [5, 0]], rtol=1e-10)


@pytest.mark.parametrize("loss, output", [("logistic", "sigmoid"), ("squared", "identity")])
def test_learns_the_groups(loss, output):
    Y = clustered(seed=1)
    model = CDAERecommender(**FAST, loss=loss, output_activation=output,
                            early_stopping=False, negative_ratio=2.0,
                            random_state=0).fit(Y)
    items, scores = model.recommend(np.arange(40), n=3)
    group = np.arange(40)[:, None] % 2
    assert ((items >= 10) == group).mean() >= 0.95
    assert (np.diff(scores, axis=1) <= 1e-12).all()
    assert model.loss_curve_[-1] < model.loss_curve_[0]
    # a new user with one group's items gets that group's items
    new_users, new_items, _ = model.recommend_new(sp.csr_matrix(Y[[0, 1]].toarray()), n=3)
    np.testing.assert_array_equal(new_users, [0, 1])
    assert (new_items[0] < 10).all() and (new_items[1] >= 10).all()
    assert model.similar_items(0, n=2)[0].shape == (2,)


def test_early_stopping_attributes():
    Y = clustered(n_users=60, per_user=8)
    model = CDAERecommender(**{**FAST, "max_iter": 40}, n_iter_no_change=3,
                            random_state=0).fit(Y)
    assert len(model.validation_scores_) == len(model.loss_curve_) == model.n_iter_
    assert model.n_iter_ == 40 or model.n_iter_ - model.best_epoch_ == 3
    if model.best_epoch_ > 0:
        best = model.validation_scores_[model.best_epoch_ - 1]
        assert best == pytest.approx(max(model.validation_scores_), abs=1e-12)
    for name in ("encoder_weights_", "encoder_bias_", "user_embeddings_",
                 "decoder_weights_", "decoder_bias_"):
        assert isinstance(getattr(model, name), np.ndarray)
    assert model.user_embeddings_.shape == (60, 8)
    assert model.decoder_weights_.shape == model.encoder_weights_.shape == (20, 8)


def test_reproducible_with_random_state():
    Y = clustered()
    params = dict(**{**FAST, "max_iter": 4}, early_stopping=True)
    a = CDAERecommender(**params, random_state=7).fit(Y)
    b = CDAERecommender(**params, random_state=7).fit(Y)
    c = CDAERecommender(**params, random_state=8).fit(Y)
    np.testing.assert_allclose(a.decoder_weights_, b.decoder_weights_, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(a.user_embeddings_, b.user_embeddings_, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(a.validation_scores_, b.validation_scores_, atol=1e-9)
    assert not np.allclose(a.decoder_weights_, c.decoder_weights_)


def test_pairs_pickle_clone_and_grid_search():
    Y = clustered(n_users=30)
    X, _ = matrix_to_pairs(Y)
    X = np.array([[f"u{u}", f"i{i}"] for u, i in X])
    model = CDAERecommender(**{**FAST, "max_iter": 5}, early_stopping=False,
                            random_state=0).fit(X)
    assert model.n_features_in_ == 2
    items, _ = model.recommend(["u0", "u1"], n=2)
    assert items.dtype.kind == "U"
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_allclose(restored.predict(X[:10]), model.predict(X[:10]))
    fresh = clone(model)
    assert not hasattr(fresh, "decoder_weights_")
    assert fresh.get_params() == model.get_params()
    search = GridSearchCV(CDAERecommender(**{**FAST, "max_iter": 3}, early_stopping=False,
                                          random_state=0),
                          {"n_components": [2, 4]},
                          cv=WarmStartKFold(n_splits=2, random_state=0),
                          scoring=make_ranking_scorer("ndcg", k=5)).fit(X)
    assert search.best_params_["n_components"] in (2, 4)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


@pytest.mark.parametrize("params, match", [
    ({"loss": "logistic", "output_activation": "identity"}, "output_activation='sigmoid'"),
    ({"corruption": 1.0}, "corruption"),
    ({"negative_ratio": -1}, "negative_ratio"),
    ({"loss": "hinge"}, "loss"),
    ({"hidden_activation": "softmax"}, "hidden_activation"),
    ({"n_components": 0}, "n_components"),
    ({"validation_fraction": 1.0}, "validation_fraction"),
])
def test_bad_parameters(params, match):
    with pytest.raises(ValueError, match=match):
        CDAERecommender(**params).fit(clustered())


def test_early_stopping_needs_users_with_two_interactions():
    Y = sp.csr_matrix(np.eye(4))
    with pytest.raises(ValueError, match="early_stopping=False"):
        CDAERecommender(device="cpu").fit(Y)
    CDAERecommender(device="cpu", early_stopping=False, max_iter=1).fit(Y)
