"""AutoRec's data-adaptive defaults: alpha="auto", baseline_offset, solver / refit /
n_iter_no_change "auto", and the backend pieces they rest on."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state

from contract import small_ratings
from sklearn_autorec import AutoRecRegressor, BaselineRegressor
from sklearn_autorec import _autorec
from sklearn_autorec._biases import fit_biases
from sklearn_autorec._data import warm_holdout

torch = pytest.importorskip("torch")

R = small_ratings(n_users=60, n_items=40, density=0.3)


def fit_quietly(model, X, y=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y)


def chain_of(path, alpha):
    """Alphas from the path's start to ``alpha``, following warm_start_from."""
    by_alpha = {p["alpha"]: p for p in path}
    chain = [alpha]
    while by_alpha[chain[0]]["warm_start_from"] is not None:
        chain.insert(0, by_alpha[chain[0]]["warm_start_from"])
    return chain


def test_alpha_auto_walks_down_from_the_start_and_keeps_the_best():
    model = fit_quietly(AutoRecRegressor(hidden_layer_sizes=(8,), max_iter=40,
                                         n_iter_no_change=5, random_state=0), R)
    path = model.alpha_path_
    alphas = [p["alpha"] for p in path]
    scores = [p["best_validation_score"] for p in path]
    assert alphas[0] == _autorec.ALPHA_START and path[0]["warm_start_from"] is None
    assert model.alpha_ == alphas[int(np.argmin(scores))]
    assert model.best_validation_score_ == min(scores)
    grid = list(_autorec.ALPHA_GRID)
    k = grid.index(_autorec.ALPHA_START)
    down = [a for a in alphas if a < _autorec.ALPHA_START]
    assert down == grid[k - len(down):k][::-1]  # consecutive, weaker and weaker
    for j in range(1, len(path)):  # each warm-started from the best before it
        best_before = min(path[:j], key=lambda p: p["best_validation_score"])
        assert path[j]["warm_start_from"] == best_before["alpha"]
        # ... and never worse than it: a fit that beats no epoch returns its start
        assert path[j]["best_validation_score"] <= best_before["best_validation_score"]
        assert (path[j]["best_iter"] == 0) == (
            path[j]["best_validation_score"] == best_before["best_validation_score"])


def test_alpha_path_logic_down_then_up():
    """The path rule on a fake objective: down while improving, else up."""
    def run(curve):
        def fit(alpha, warm):
            warm = None if warm is None else list(warm)
            # like train_autorec: a fit that does not beat its warm start returns it
            if warm is not None:  # the weights handed on are the best so far
                assert warm[0] == [min(seen, key=curve)] and warm[2] == curve(warm[0][0])
                if curve(alpha) >= warm[2]:
                    seen.append(alpha)
                    return {"best_score": warm[2], "coefs": warm[0], "intercepts": warm[1]}
            seen.append(alpha)
            return {"best_score": curve(alpha), "coefs": [alpha], "intercepts": [alpha]}
        seen = []
        return [(a, r["best_score"], parent) for a, r, parent in
                AutoRecRegressor()._alpha_path(fit)]

    # best at 100: 1000, 300, 100, 30 (worse) then stop
    path = run(lambda a: abs(np.log(a / 100.0)))
    assert [a for a, _, _ in path] == [1000.0, 300.0, 100.0, 30.0]
    assert [p for _, _, p in path] == [None, 0, 1, 2]
    # best at 10000: one step down is worse, so up from 1000
    path = run(lambda a: abs(np.log(a / 10000.0)))
    assert [a for a, _, _ in path] == [1000.0, 300.0, 3000.0, 10000.0, 30000.0]
    assert [p for _, _, p in path] == [None, 0, 0, 2, 3]

    # finish: the best alpha once more, from its own best weights and score
    def fit(alpha, warm):
        score = abs(np.log(alpha / 100.0))
        if warm is not None and score >= warm[2]:  # returns its warm start
            return {"best_score": warm[2], "coefs": warm[0], "intercepts": warm[1]}
        return {"best_score": score, "coefs": [alpha], "intercepts": [alpha]}

    finished = []
    path = AutoRecRegressor()._alpha_path(
        fit, finish=lambda a, warm: finished.append((a, list(warm))) or {"best_score": warm[2]})
    assert [(a, p) for a, _, p in path] == [(1000.0, None), (300.0, 0), (100.0, 1), (30.0, 2),
                                            (100.0, 2)]
    assert finished == [(100.0, [[100.0], [100.0], 0.0])]


def test_refit_replays_the_validated_chain_on_all_ratings():
    model = fit_quietly(AutoRecRegressor(hidden_layer_sizes=(8,), max_iter=40,
                                         n_iter_no_change=5, solver="lbfgs", refit=True,
                                         random_state=0), R)
    by_alpha = {p["alpha"]: p for p in model.alpha_path_}
    chain = chain_of(model.alpha_path_, model.alpha_)
    assert model.n_iter_ == sum(by_alpha[a]["best_iter"] for a in chain)
    assert len(model.loss_curve_) == model.n_iter_
    # offsets of the final model are the all-ratings baseline
    np.testing.assert_allclose(model.offset_, model.global_mean_ + model.item_bias_)


def test_no_refit_keeps_the_validated_weights_and_their_offsets():
    model = fit_quietly(AutoRecRegressor(hidden_layer_sizes=(8,), max_iter=30, alpha=30.0,
                                         n_iter_no_change=5, refit=False, random_state=0), R)
    # reproduce the held-out split (the estimator draws its seed, then the split)
    rng = check_random_state(0)
    rng.randint(np.iinfo(np.int32).max)
    coo = R.tocoo()
    order = np.lexsort((coo.col, coo.row))
    users, items, ratings = coo.row[order], coo.col[order], coo.data[order]
    keep = warm_holdout(users, items, model.validation_fraction, rng)
    mu, bu, bi, _ = fit_biases(users[keep], items[keep], ratings[keep], R.shape[0],
                               R.shape[1], user_alpha=15.0, item_alpha=10.0)
    np.testing.assert_allclose(model.offset_, mu + bi, atol=1e-6)
    pred = model.predict(np.column_stack([users[~keep], items[~keep]]))
    rmse = np.sqrt(np.mean((pred - ratings[~keep]) ** 2))
    assert model.best_validation_score_ == pytest.approx(rmse, rel=1e-5)


def test_strong_penalty_limit_is_the_baseline_not_the_user_mean():
    """alpha -> infinity: W, V -> 0, so the prediction is the output bias (one per
    user) plus the item's baseline offset; without the offset every item of a user
    gets the same prediction."""
    rng = np.random.default_rng(0)  # ratings with a strong item effect
    item_effect = rng.uniform(-1.5, 1.5, 40)
    R = sp.random(60, 40, density=0.3, format="csr", random_state=0)
    R.data = np.clip(np.round(3 + item_effect[R.indices] + rng.normal(0, 0.3, R.nnz)), 1, 5)
    X = np.column_stack(R.nonzero())
    params = dict(hidden_layer_sizes=(6,), alpha=1e7, early_stopping=False, max_iter=60,
                  clip=False, random_state=0)
    with_offset = fit_quietly(AutoRecRegressor(**params), R)
    pred = with_offset.predict(X)
    limit = with_offset.intercepts_[-1][X[:, 0]] + with_offset.offset_[X[:, 1]]
    np.testing.assert_allclose(pred, limit, atol=1e-3)
    paper = fit_quietly(AutoRecRegressor(baseline_offset=False, **params), R)
    assert paper.offset_ is None
    per_user = paper.predict(R).tocsr()
    spread = [np.ptp(per_user[u].data) for u in range(R.shape[0]) if per_user[u].nnz > 1]
    assert max(spread) < 1e-3

    def train_rmse(model):
        return np.sqrt(np.mean((model.predict(R).data - R.data) ** 2))

    # the limit fits the training ratings like the baseline (its per-user output
    # bias is unregularised), far better than the paper model's user means
    base = train_rmse(BaselineRegressor().fit(R))
    print(train_rmse(with_offset), base, train_rmse(paper))
    assert train_rmse(with_offset) <= base + 0.01
    assert train_rmse(paper) > train_rmse(with_offset) + 0.05


def test_alpha_auto_without_early_stopping_uses_the_documented_value():
    model = fit_quietly(AutoRecRegressor(hidden_layer_sizes=(4,), max_iter=3,
                                         early_stopping=False, random_state=0), R)
    assert model.alpha_ == _autorec.NO_VALIDATION_ALPHA and model.alpha_path_ is None
    fixed = fit_quietly(AutoRecRegressor(hidden_layer_sizes=(4,), max_iter=3, alpha=300.0,
                                         early_stopping=False, random_state=0), R)
    np.testing.assert_array_equal(model.predict(R).data, fixed.predict(R).data)


def test_solver_auto_by_size(monkeypatch):
    model = fit_quietly(AutoRecRegressor(hidden_layer_sizes=(4,), max_iter=2, alpha=1.0,
                                         random_state=0), R)
    assert model.solver_ == "lbfgs"
    monkeypatch.setattr(_autorec, "LBFGS_MAX_RATINGS", R.nnz - 1)
    model = fit_quietly(AutoRecRegressor(hidden_layer_sizes=(4,), max_iter=2, alpha=1.0,
                                         random_state=0), R)
    assert model.solver_ == "adam"
    monkeypatch.setattr(_autorec, "LBFGS_MAX_RATINGS", 10 ** 9)
    monkeypatch.setattr(_autorec, "LBFGS_MAX_WEIGHTS", 2 * R.shape[0] * 4 - 1)
    model = fit_quietly(AutoRecRegressor(hidden_layer_sizes=(4,), max_iter=2, alpha=1.0,
                                         random_state=0), R)
    assert model.solver_ == "adam"


@pytest.mark.parametrize("solver, patience, refits", [("lbfgs", 50, True), ("adam", 10, False)])
def test_patience_and_refit_auto_follow_the_solver(solver, patience, refits):
    model = fit_quietly(AutoRecRegressor(hidden_layer_sizes=(6,), alpha=1.0, solver=solver,
                                         learning_rate_init=0.05, max_iter=300,
                                         random_state=0), R)
    validated = model.alpha_path_ is None and model.validation_scores_
    assert len(validated) - model.best_iter_ == patience  # stopped by the patience rule
    assert (model.n_iter_ == model.best_iter_) == refits


def test_minibatch_alpha_path_moves_on_early_then_continues_the_chosen_alpha():
    """Adam walks the path with PATH_PATIENCE, then trains the best penalty on from
    its best weights with the full patience; that run is the path's last entry."""
    patience = 6
    model = fit_quietly(AutoRecRegressor(hidden_layer_sizes=(6,), solver="adam",
                                         learning_rate_init=0.05, max_iter=300,
                                         n_iter_no_change=patience, random_state=0), R)
    path = model.alpha_path_
    walked, last = path[:-1], path[-1]
    assert len(walked) >= 2
    for entry in walked:  # each stopped by the short patience
        assert entry["n_iter"] - entry["best_iter"] == _autorec.PATH_PATIENCE
    best = min(walked, key=lambda p: p["best_validation_score"])
    assert last["alpha"] == best["alpha"] == model.alpha_
    assert last["warm_start_from"] == best["alpha"]
    assert last["n_iter"] - last["best_iter"] == patience
    assert last["best_validation_score"] <= best["best_validation_score"]
    assert model.best_validation_score_ == last["best_validation_score"]
    # the returned model is the best of them: its held-out RMSE is that score
    chosen = last if last["best_iter"] > 0 else best
    assert model.best_iter_ == chosen["best_iter"]
    # a refit replays the walked chain to the chosen alpha, then the continuation
    refitted = fit_quietly(AutoRecRegressor(hidden_layer_sizes=(6,), solver="adam",
                                            learning_rate_init=0.05, max_iter=300,
                                            n_iter_no_change=patience, refit=True,
                                            random_state=0), R)
    assert refitted.alpha_path_ == path  # the same validated runs
    by_alpha = {p["alpha"]: p for p in walked}
    assert refitted.n_iter_ == last["best_iter"] + sum(
        by_alpha[a]["best_iter"] for a in chain_of(walked, best["alpha"]))
    # full-batch solvers keep the full patience along the path
    lbfgs = fit_quietly(AutoRecRegressor(hidden_layer_sizes=(6,), solver="lbfgs",
                                         max_iter=300, n_iter_no_change=patience,
                                         random_state=0), R)
    assert all(p["n_iter"] - p["best_iter"] == patience for p in lbfgs.alpha_path_)
    assert len({p["alpha"] for p in lbfgs.alpha_path_}) == len(lbfgs.alpha_path_)


def test_fit_biases_warm_start_reaches_the_same_minimum():
    coo = R.tocoo()
    args = (coo.row, coo.col, coo.data, R.shape[0], R.shape[1])
    mu, bu, bi, n_cold = fit_biases(*args, user_alpha=15.0, item_alpha=10.0, tol=1e-12,
                                    max_iter=10000)
    keep = np.arange(R.nnz) % 5 != 0
    sub = (coo.row[keep], coo.col[keep], coo.data[keep], R.shape[0], R.shape[1])
    _, bu0, bi0, n0 = fit_biases(*sub, user_alpha=15.0, item_alpha=10.0, tol=1e-12,
                                 max_iter=10000)
    _, bu1, bi1, n1 = fit_biases(*sub, user_alpha=15.0, item_alpha=10.0, tol=1e-12,
                                 max_iter=10000, init=(bu, bi))
    np.testing.assert_allclose(bu1, bu0, atol=1e-9)
    np.testing.assert_allclose(bi1, bi0, atol=1e-9)


@pytest.mark.parametrize("chunk_coords", [None, 7])
def test_sparse_rows_from_triplets_equals_the_csr_path(chunk_coords):
    from sklearn_autorec._torch_autorec import SparseRows

    coo = R.T.tocoo()  # items x users
    perm = np.random.default_rng(0).permutation(coo.nnz)
    offset = np.linspace(-1, 1, R.shape[1])
    cpu = torch.device("cpu")
    a = SparseRows(coo.tocsr(), cpu, torch.float64, row_offset=offset,
                   chunk_coords=chunk_coords)
    order = np.lexsort((coo.col, coo.row))[perm.argsort()]  # any order, rows' order kept
    order = order[np.argsort(coo.row[order], kind="stable")][perm]
    b = SparseRows.from_ratings(coo.row[order], coo.col[order], coo.data[order],
                                coo.shape, cpu, torch.float64, row_offset=offset,
                                chunk_coords=chunk_coords)
    c = SparseRows.from_ratings(coo.row, coo.col, coo.data, coo.shape, cpu, torch.float64,
                                row_offset=offset, chunk_coords=chunk_coords)
    for other in (b, c):
        assert torch.equal(a.indptr, other.indptr)
        assert torch.equal(a.chunk_ptr, other.chunk_ptr)
        rows = torch.arange(a.n_rows)
        ba, bb = a.batch(rows), other.batch(rows)
        # same entries per row (their order within a row may follow the input)
        for r in range(a.n_rows):
            sa, sb = ba.pos == r, bb.pos == r
            ka, kb = ba.coords[sa].argsort(), bb.coords[sb].argsort()
            assert torch.equal(ba.coords[sa][ka], bb.coords[sb][kb])
            assert torch.equal(ba.targets[sa][ka], bb.targets[sb][kb])
            expected = np.sort(coo.col[coo.row == r])
            np.testing.assert_array_equal(np.sort(ba.coords[sa].numpy()), expected)


def test_sampled_dots_equal_the_plain_gather():
    from sklearn_autorec._torch_autorec import SparseRows

    M = sp.random(30, 50, density=0.2, format="csr", random_state=1)
    data = SparseRows(M, torch.device("cpu"), torch.float64)
    gen = torch.Generator().manual_seed(0)
    codes = torch.rand(30, 7, generator=gen, dtype=torch.float64)
    weight = torch.rand(50, 7, generator=gen, dtype=torch.float64)
    batch = data.batch(torch.tensor([3, 0, 17, 29]))
    expected = (codes[torch.tensor([3, 0, 17, 29])][batch.pos] * weight[batch.coords]).sum(1)
    np.testing.assert_allclose(batch.sampled_dots(codes[torch.tensor([3, 0, 17, 29])], weight),
                               expected, rtol=1e-12)


def test_train_autorec_empties_a_list_of_triplets():
    """A list of training triplets is emptied once the data are on the device
    (the estimator's copies of the kept ratings are freed during training);
    a tuple is left alone; both train the same model."""
    from sklearn_autorec._torch_autorec import train_autorec

    coo = R.T.tocoo()
    args = dict(hidden_layer_sizes=[4], activation="sigmoid", output_activation="identity",
                alpha=1.0, dropout=0.0, input_dropout=0.0, solver="adam",
                learning_rate_init=1e-2, batch_size=8, max_iter=2, rating_range=(1.0, 5.0))
    as_list = [coo.row.astype(np.int64), coo.col.astype(np.int64), coo.data, coo.shape]
    as_tuple = tuple(as_list)
    a = train_autorec(as_list, **args)
    b = train_autorec(as_tuple, **args)
    assert as_list == [] and len(as_tuple) == 4
    for x, y in zip(a["coefs"], b["coefs"]):
        np.testing.assert_array_equal(x, y)
