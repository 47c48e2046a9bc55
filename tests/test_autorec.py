"""AutoRecRegressor's model behaviour: solvers, stopping, attributes, prediction path."""

import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning

from contract import as_pairs, small_ratings, split_matrix
from sklearn_autorec import AutoRecRegressor
from sklearn_autorec._autorec import _np_activation

torch = pytest.importorskip("torch")

R = small_ratings(n_users=50, n_items=35, density=0.35)
R_TRAIN, R_TEST = split_matrix(R)
X_TRAIN, Y_TRAIN = as_pairs(R_TRAIN)
X_TEST, Y_TEST = as_pairs(R_TEST)


def rmse(model, X=X_TEST, y=Y_TEST):
    return float(np.sqrt(np.mean((model.predict(X) - y) ** 2)))


@pytest.mark.parametrize("solver, extra", [
    ("lbfgs", {}),
    ("rprop", {"learning_rate_init": 1e-2}),
    ("adam", {"learning_rate_init": 1e-2, "batch_size": 8}),
    ("sgd", {"learning_rate_init": 0.5, "batch_size": 8}),
])
def test_every_solver_lowers_the_objective(solver, extra):
    model = AutoRecRegressor(hidden_layer_sizes=(10,), solver=solver, max_iter=30, alpha=1.0,
                             early_stopping=False, n_iter_no_change=100, random_state=0,
                             **extra)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X_TRAIN, Y_TRAIN)
    assert len(model.loss_curve_) == model.n_iter_ == 30
    assert model.loss_curve_[-1] < 0.5 * model.loss_curve_[0]
    assert model.validation_scores_ is None and model.best_validation_score_ is None
    assert np.all(np.isfinite(model.predict(X_TEST)))


def test_loss_curve_is_the_paper_objective_per_rating():
    model = AutoRecRegressor(hidden_layer_sizes=(6,), max_iter=3, alpha=2.5,
                             early_stopping=False, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(R_TRAIN)
    # recompute (SSE + alpha/2 * sum ||W||^2) / n from the fitted numpy weights
    pred = model.set_params(clip=False).predict(R_TRAIN).data
    sse = np.sum((pred - R_TRAIN.data) ** 2)
    penalty = sum(np.sum(w.astype(np.float64) ** 2) for w in model.coefs_)
    expected = (sse + 2.5 / 2 * penalty) / R_TRAIN.nnz
    # the last recorded loss is evaluated at the start of the last L-BFGS step,
    # i.e. one iteration before the final weights: compare with a fit one longer
    longer = AutoRecRegressor(hidden_layer_sizes=(6,), max_iter=4, alpha=2.5,
                              early_stopping=False, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        longer.fit(R_TRAIN)
    assert longer.loss_curve_[3] == pytest.approx(expected, rel=1e-4)


def test_early_stopping_restores_the_best_weights():
    model = AutoRecRegressor(hidden_layer_sizes=(20,), alpha=0.01, max_iter=200,
                             n_iter_no_change=5, refit=False,
                             random_state=0).fit(X_TRAIN, Y_TRAIN)
    scores = model.validation_scores_
    assert model.n_iter_ == len(scores) == len(model.loss_curve_) < 200
    assert model.best_validation_score_ == min(scores)
    best = int(np.argmin(scores))
    assert model.best_iter_ == best + 1
    assert len(scores) - 1 - best == 5  # stopped n_iter_no_change epochs after the best
    # the restored weights give the best validation RMSE, not the last one
    assert scores[-1] > model.best_validation_score_


def test_refit_trains_on_all_ratings_for_the_best_epoch_count():
    params = dict(hidden_layer_sizes=(20,), alpha=0.01, random_state=0)
    model = AutoRecRegressor(max_iter=200, n_iter_no_change=5, **params).fit(X_TRAIN,
                                                                             Y_TRAIN)
    assert model.n_iter_ == model.best_iter_ == len(model.loss_curve_)
    assert len(model.validation_scores_) == model.best_iter_ + 5
    # exactly a plain fit on all the ratings for best_iter_ epochs, same seed
    plain = AutoRecRegressor(max_iter=model.best_iter_, early_stopping=False,
                             n_iter_no_change=1000, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        plain.fit(X_TRAIN, Y_TRAIN)
    np.testing.assert_array_equal(model.predict(X_TEST), plain.predict(X_TEST))


def test_convergence_warning_at_max_iter():
    with pytest.warns(ConvergenceWarning, match="max_iter=2"):
        AutoRecRegressor(hidden_layer_sizes=(4,), max_iter=2, random_state=0).fit(R_TRAIN)


def test_verbose_prints_one_line_per_epoch(capsys):
    model = AutoRecRegressor(hidden_layer_sizes=(4,), max_iter=3, n_iter_no_change=50,
                             alpha=300.0, verbose=True, refit=False, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(R_TRAIN)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("Iteration 1, loss = ")
    assert "validation RMSE = " in lines[0] and lines[0].endswith("s")


@pytest.mark.parametrize("item_based", [True, False])
@pytest.mark.parametrize("activation, output_activation", [
    ("sigmoid", "identity"), ("identity", "sigmoid"), ("relu", "tanh"), ("elu", "selu"),
    ("tanh", "relu"), ("selu", "elu"),
])
def test_numpy_prediction_matches_the_torch_network(item_based, activation,
                                                    output_activation):
    """predict() runs in numpy on cached codes: it equals the torch forward pass."""
    from sklearn_autorec._torch_autorec import AutoRecNet, SparseRows

    model = AutoRecRegressor(hidden_layer_sizes=(5, 3), item_based=item_based,
                             activation=activation, output_activation=output_activation,
                             max_iter=3, early_stopping=False, clip=False, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(R_TRAIN)
    rows = R_TRAIN.T.tocsr() if item_based else R_TRAIN.tocsr()
    net = AutoRecNet(rows.shape[1], (5, 3), activation, output_activation,
                     model.output_range_, torch.Generator(), torch.float32)
    with torch.no_grad():
        net.encoder_weight.copy_(torch.as_tensor(model.coefs_[0]))
        net.encoder_bias.copy_(torch.as_tensor(model.intercepts_[0]))
        net.hidden_weights[0].copy_(torch.as_tensor(model.coefs_[1]))
        net.hidden_biases[0].copy_(torch.as_tensor(model.intercepts_[1]))
        net.decoder_weight.copy_(torch.as_tensor(model.coefs_[-1].T))
        net.decoder_bias.copy_(torch.as_tensor(model.intercepts_[-1]))
        data = SparseRows(rows, torch.device("cpu"), torch.float32)
        codes = net.encode(data.batch(torch.arange(rows.shape[0])))
        np.testing.assert_allclose(model.codes_, codes.numpy(), rtol=1e-5, atol=1e-5)
        test = R_TEST.T.tocsr() if item_based else R_TEST.tocsr()
        coo = test.tocoo()
        expected = net.decode_pairs(codes, torch.as_tensor(coo.row, dtype=torch.int64),
                                    torch.as_tensor(coo.col, dtype=torch.int64)).numpy()
    expected = expected + model.offset_[coo.row]  # the baseline offset of each vector
    pred = model.predict(X_TEST)
    users, items = (coo.col, coo.row) if item_based else (coo.row, coo.col)
    order = np.lexsort((items, users))  # X_TEST is sorted by (user, item)
    np.testing.assert_allclose(pred, expected[order], rtol=1e-4, atol=1e-4)


def test_np_activation_matches_torch():
    x = np.linspace(-30, 30, 101)
    t = torch.as_tensor(x)
    ref = {"identity": t, "sigmoid": torch.sigmoid(t), "relu": torch.relu(t),
           "tanh": torch.tanh(t), "elu": torch.nn.functional.elu(t),
           "selu": torch.nn.functional.selu(t)}
    for name, value in ref.items():
        np.testing.assert_allclose(_np_activation(name, x), value.numpy(), rtol=1e-10,
                                   atol=1e-12)
    np.testing.assert_allclose(_np_activation("sigmoid", x, 1.0, 5.0),
                               1 + 4 * torch.sigmoid(t).numpy(), rtol=1e-12)


def test_sigmoid_output_spans_the_rating_range():
    R5 = R_TRAIN.copy()
    R5.data = R5.data * 2 - 1  # ratings 1..9
    model = AutoRecRegressor(hidden_layer_sizes=(8,), output_activation="sigmoid",
                             max_iter=40, clip=False, random_state=0,
                             early_stopping=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(R5)
    pred = model.predict(R5).data
    assert pred.min() >= 1.0 and pred.max() <= 9.0
    assert pred.max() > 6.0  # not squashed into (0, 1)


def test_dropout_and_input_dropout_are_seeded():
    params = dict(hidden_layer_sizes=(8,), dropout=0.3, input_dropout=0.2, solver="adam",
                  learning_rate_init=1e-2, max_iter=5, early_stopping=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a = AutoRecRegressor(random_state=1, **params).fit(R_TRAIN).predict(R_TEST).data
        b = AutoRecRegressor(random_state=1, **params).fit(R_TRAIN).predict(R_TEST).data
        c = AutoRecRegressor(random_state=2, **params).fit(R_TRAIN).predict(R_TEST).data
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_minibatch_penalty_is_spread_over_the_batches():
    """One epoch of plain SGD equals gradient steps on the paper's objective.

    With lr -> step and momentum, one batch per epoch (batch_size >= n_vectors),
    the optimizer's weight decay alpha / (n * n_batches) must equal the penalty
    gradient alpha / n of the objective divided by n: check n_batches = 1 and
    n_batches = 2 give the same full-epoch penalty by construction.
    """
    from sklearn_autorec._torch_autorec import AutoRecNet, SparseRows, _objective

    rows = R_TRAIN.T.tocsr()
    n, alpha = rows.nnz, 3.0
    data = SparseRows(rows, torch.device("cpu"), torch.float64)

    def objective_grad(n_batches):
        net = AutoRecNet(rows.shape[1], (4,), "sigmoid", "identity", (1.0, 5.0),
                         torch.Generator().manual_seed(0), torch.float64)
        size = int(np.ceil(rows.shape[0] / n_batches))
        decay = alpha / (n * n_batches)
        total = [torch.zeros_like(p) for p in net.parameters()]
        for batch in data.batches(torch.arange(rows.shape[0]), size):
            net.zero_grad()
            _objective(net, [batch], n, alpha, 0.0, 0.0, None)
            with torch.no_grad():
                for w in net.penalized():
                    w.grad.add_(w, alpha=decay)  # what SGD/Adam weight_decay adds
            for t, p in zip(total, net.parameters()):
                t += p.grad
        return total

    one, two = objective_grad(1), objective_grad(2)
    for a, b in zip(one, two):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_parameter_errors():
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        AutoRecRegressor(hidden_layer_sizes=(0,)).fit(R_TRAIN)
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        AutoRecRegressor(hidden_layer_sizes=()).fit(R_TRAIN)
    with pytest.raises(ValueError, match="solver"):
        AutoRecRegressor(solver="newton").fit(R_TRAIN)
    with pytest.raises(ValueError, match="activation"):
        AutoRecRegressor(activation="softmax").fit(R_TRAIN)
    with pytest.raises(ValueError, match="dropout"):
        AutoRecRegressor(dropout=1.0).fit(R_TRAIN)
    with pytest.raises(ValueError, match="alpha"):
        AutoRecRegressor(alpha=-1.0).fit(R_TRAIN)
    with pytest.raises(ValueError, match="device must be"):
        AutoRecRegressor(device="tpu").fit(R_TRAIN)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            AutoRecRegressor(device="cuda").fit(R_TRAIN)


def test_device_and_fitted_attributes():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = AutoRecRegressor(hidden_layer_sizes=(7, 3, 7), max_iter=3,
                                 device="cpu", random_state=0).fit(R_TRAIN)
    assert model.device_ == "cpu"
    assert [w.shape for w in model.coefs_] == [(50, 7), (7, 3), (3, 7), (7, 50)]
    assert [b.shape for b in model.intercepts_] == [(7,), (3,), (7,), (50,)]
    assert model.codes_.shape == (35, 7)
    assert all(isinstance(w, np.ndarray) for w in model.coefs_ + model.intercepts_)


def test_import_unpickle_and_predict_do_not_import_torch(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = AutoRecRegressor(hidden_layer_sizes=(4,), max_iter=2,
                                 random_state=0).fit(X_TRAIN, Y_TRAIN)
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(model))
    code = (
        "import pickle, sys, numpy as np\n"
        "import sklearn_autorec\n"
        f"m = pickle.loads(open({str(path)!r}, 'rb').read())\n"
        "p = m.predict(np.array([[0, 1], [3, 2]]))\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "print(p.shape)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "(2,)"


def test_matrix_of_a_pairs_model_uses_ids_as_indices():
    """A model fitted on pairs predicts a matrix whose rows/cols are the ids."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = AutoRecRegressor(hidden_layer_sizes=(4,), max_iter=2,
                                 random_state=0).fit(X_TRAIN + 1, Y_TRAIN)  # 1-based ids
    M = sp.csr_matrix((np.ones(3), ([0, 1, 50], [1, 1, 35])), shape=(51, 36))
    pred = model.predict(M)
    mask = model.fallback_mask(M)
    np.testing.assert_array_equal(mask, [True, False, False])  # id 0 does not exist
    assert pred.shape == (51, 36) and pred.nnz == 3


def test_cpu_fit_is_bitwise_deterministic_on_mid_size_data():
    """Multi-threaded kernels must not change the summation order between runs."""
    from sklearn_autorec.datasets import make_ratings

    data = make_ratings(n_users=600, n_items=800, density=0.25, random_state=0)
    params = dict(hidden_layer_sizes=(32,), max_iter=4, early_stopping=False,
                  random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a = AutoRecRegressor(**params).fit(data.ratings)
        b = AutoRecRegressor(**params).fit(data.ratings)
    for wa, wb in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        np.testing.assert_array_equal(wa, wb)
