"""NCF: the net against the numpy forward pass, gradients, sampling, both estimators."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.model_selection import GridSearchCV

from sklearn_autorec import BiasedMFRegressor, NCFRecommender, NCFRegressor
from sklearn_autorec._torch_ncf import NCFNet, sample_negatives
from sklearn_autorec.datasets import make_ratings

MODELS = ["gmf", "mlp", "neumf"]


def tiny_net(model, sizes=(8, 6, 4), seed=0):
    gen = torch.Generator().manual_seed(seed)
    net = NCFNet(7, 5, model, 3, sizes, gen, dtype=torch.float64)
    with torch.no_grad():  # non-trivial biases and outputs
        for p in net.parameters():
            p.add_(torch.randn(p.shape, generator=gen, dtype=torch.float64) * 0.3)
    return net


def as_estimator(net, model):
    est = NCFRecommender(model=model)
    state = net.to_numpy()
    est.output_coef_, est.output_intercept_ = state["output_coef"], state["output_intercept"]
    if model != "mlp":
        est.user_factors_, est.item_factors_ = state["user_gmf"], state["item_gmf"]
    if model != "gmf":
        est.user_mlp_embeddings_, est.item_mlp_embeddings_ = state["user_mlp"], state["item_mlp"]
        est.coefs_, est.intercepts_ = state["coefs"], state["intercepts"]
    return est


def dense_reference(net, model, users, items):
    """The paper's equations, written directly in float64 numpy."""
    s = net.to_numpy()
    out = []
    for u, i in zip(users, items):
        parts = []
        if model != "mlp":
            parts.append(s["user_gmf"][u] * s["item_gmf"][i])
        if model != "gmf":
            h = np.concatenate([s["user_mlp"][u], s["item_mlp"][i]])
            for W, b in zip(s["coefs"], s["intercepts"]):
                h = np.maximum(W.T @ h + b, 0)
            parts.append(h)
        out.append(np.concatenate(parts) @ s["output_coef"] + s["output_intercept"])
    return np.array(out)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("sizes", [(8, 6, 4), (8,)])
def test_forward_matches_the_dense_reference(model, sizes):
    net = tiny_net(model, sizes)
    users, items = np.repeat(np.arange(7), 5), np.tile(np.arange(5), 7)
    ref = dense_reference(net, model, users, items)
    with torch.no_grad():
        torch_pairs = net(torch.as_tensor(users), torch.as_tensor(items)).numpy()
        torch_all = net.score_all(torch.arange(7)).numpy().ravel()
    est = as_estimator(net, model)
    assert np.allclose(torch_pairs, ref, atol=1e-12)
    assert np.allclose(torch_all, ref, atol=1e-12)
    assert np.allclose(est._forward_pairs(users, items), ref, atol=1e-12)
    assert np.allclose(est._forward_all(np.arange(7), 5).ravel(), ref, atol=1e-12)


@pytest.mark.parametrize("model", MODELS)
def test_gradients_match_finite_differences(model):
    net = tiny_net(model)
    users = torch.tensor([0, 1, 3, 6, 6])
    items = torch.tensor([0, 4, 2, 1, 3])
    target = torch.tensor([1.0, 0.0, 1.0, 0.0, 1.0], dtype=torch.float64)
    params = list(net.parameters())
    inputs = [p.detach().clone().requires_grad_(True) for p in params]

    def functional(*flat):
        # the loss as a pure function of the parameters, through torch.func
        names = [n for n, _ in net.named_parameters()]
        out = torch.func.functional_call(net, dict(zip(names, flat)), (users, items))
        return torch.nn.functional.binary_cross_entropy_with_logits(out, target)

    assert torch.autograd.gradcheck(functional, inputs, eps=1e-6, atol=1e-6)


def test_negatives_are_never_positives():
    rng = np.random.default_rng(0)
    users = np.array([0, 0, 0, 1, 2, 2])
    items = np.array([0, 1, 2, 0, 3, 4])
    keys = np.sort(users * 5 + items)
    u, i = sample_negatives(rng, users, 50, 5, keys)
    assert len(u) == len(users) * 50
    assert not np.isin(u * 5 + i, keys).any()
    assert set(i[u == 0]) == {3, 4}
    # popularity sampling follows the given distribution
    p = np.array([0.0, 0.0, 0.0, 0.9, 0.1])
    u, i = sample_negatives(rng, np.array([0] * 2000), 1, 5, keys, item_p=p)
    assert 0.85 < np.mean(i == 3) < 0.95


def test_pretrained_neumf_starts_from_the_mixed_outputs():
    gmf, mlp, neumf = tiny_net("gmf"), tiny_net("mlp", seed=1), tiny_net("neumf", seed=2)
    neumf.load_pretrained(gmf, mlp)
    users, items = torch.arange(7).repeat(5), torch.arange(5).repeat_interleave(7)
    with torch.no_grad():
        expected = 0.5 * gmf(users, items) + 0.5 * mlp(users, items)
        assert torch.allclose(neumf(users, items), expected, atol=1e-12)


@pytest.mark.parametrize("model", MODELS)
def test_regressor_fits_ratings(model):
    data = make_ratings(n_users=80, n_items=40, density=0.3, random_state=0)
    est = NCFRegressor(model, max_iter=4, random_state=0).fit(data.X, data.y)
    pred = est.predict(data.X)
    assert pred.shape == data.y.shape and np.all((pred >= 1) & (pred <= 5))
    assert len(est.validation_scores_) == est.n_iter_
    mean_only = np.sqrt(np.mean((data.y - data.y.mean()) ** 2))
    assert np.sqrt(np.mean((pred - data.y) ** 2)) < mean_only
    items, scores = est.recommend(data.X[0, 0], n=3)
    assert np.allclose(est.predict(np.column_stack([np.full(3, data.X[0, 0]), items])),
                       scores)


def test_regressor_in_one_search_with_matrix_factorization():
    from sklearn.pipeline import Pipeline

    data = make_ratings(n_users=40, n_items=30, density=0.3, random_state=0)
    pipe = Pipeline([("model", NCFRegressor(max_iter=2, random_state=0))])
    grid = [{"model": [NCFRegressor(max_iter=2, random_state=0)],
             "model__model": ["gmf", "mlp"]},
            {"model": [BiasedMFRegressor(n_components=3, max_iter=3, random_state=0)]}]
    search = GridSearchCV(pipe, grid, cv=2, scoring="neg_root_mean_squared_error")
    search.fit(data.X, data.y)
    assert len(search.cv_results_["params"]) == 3


@pytest.mark.parametrize("model", MODELS)
def test_recommender_ranks_and_has_no_fold_in(model):
    rng = np.random.default_rng(0)
    X = np.unique(rng.integers(0, [60, 30], size=(700, 2)), axis=0)
    est = NCFRecommender(model, max_iter=3, random_state=0).fit(X)
    items, scores = est.recommend([0, 1], n=4)
    assert items.shape == (2, 4) and np.all(np.diff(scores, axis=1) <= 1e-12)
    assert not set(items[0]) & set(X[X[:, 0] == 0, 1])
    assert np.allclose(est.predict(np.column_stack([[0] * 4, items[0]])), scores[0])
    with pytest.raises(AttributeError, match="recommend_new"):
        est.recommend_new([[100, 1]])
    again = NCFRecommender(model, max_iter=3, random_state=0).fit(X)
    assert np.allclose(again.recommend([0, 1], n=4)[1], scores)


def test_recommender_matrix_input_and_popularity_sampling():
    rng = np.random.default_rng(0)
    X = np.unique(rng.integers(0, [60, 30], size=(700, 2)), axis=0)
    R = sp.csr_matrix((np.ones(len(X)), (X[:, 0], X[:, 1])))
    est = NCFRecommender("gmf", max_iter=2, negative_sampling="popularity",
                         early_stopping=False, random_state=0).fit(R)
    assert est.validation_scores_ is None and est.n_iter_ == 2


def test_bad_parameters():
    data = make_ratings(n_users=20, n_items=10, density=0.5, random_state=0)
    with pytest.raises(ValueError, match="first is even"):
        NCFRegressor("mlp", hidden_layer_sizes=(7, 4)).fit(data.X, data.y)
    with pytest.raises(ValueError, match="pretrain=True"):
        NCFRegressor("gmf", pretrain=True).fit(data.X, data.y)
    with pytest.raises(ValueError, match="model"):
        NCFRegressor("deep").fit(data.X, data.y)
    with pytest.raises(ValueError, match="device"):
        NCFRegressor(device="tpu", max_iter=1).fit(data.X, data.y)
