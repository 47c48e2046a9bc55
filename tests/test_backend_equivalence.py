"""The sparse torch backend computes the textbook AutoRec loss and gradients.

A plain dense masked implementation (float64, written here independently of
the backend) is the reference: same function, same gradients to 1e-6.
"""

import numpy as np
import pytest
import scipy.sparse as sp

torch = pytest.importorskip("torch")

from sklearn_autorec._torch_autorec import AutoRecNet, SparseRows, _objective  # noqa: E402

ACTS = {
    "identity": lambda x: x,
    "sigmoid": torch.sigmoid,
    "relu": torch.relu,
    "tanh": torch.tanh,
    "elu": torch.nn.functional.elu,
    "selu": torch.nn.functional.selu,
}


def dense_reference_loss(R, M, params, activation, output_activation, low, high, alpha):
    """Textbook AutoRec: dense input vectors, dense decoder, masked squared error."""
    E, mu, hidden, Wd, bd = params
    H = ACTS[activation](R @ E + mu)
    for A, b in hidden:
        H = ACTS[activation](H @ A + b)
    pre = H @ Wd.T + bd
    if output_activation == "sigmoid":
        out = low + (high - low) * torch.sigmoid(pre)
    elif output_activation == "tanh":
        out = low + (high - low) * (torch.tanh(pre) + 1) / 2
    else:
        out = ACTS[output_activation](pre)
    sse = (M * (out - R) ** 2).sum()
    penalty = (E ** 2).sum() + (Wd ** 2).sum() + sum((A ** 2).sum() for A, _ in hidden)
    return sse + alpha / 2 * penalty


def random_ratings(n_rows, n_coords, density, seed, with_zeros=True):
    rng = np.random.default_rng(seed)
    R = sp.random(n_rows, n_coords, density=density, format="csr", random_state=seed,
                  data_rvs=lambda n: rng.integers(1, 6, n).astype(float))
    if with_zeros:  # stored zero and negative ratings are ratings
        R.data[::7] = 0.0
        R.data[::11] = -1.0
    R.data = np.ascontiguousarray(R.data)
    return R


@pytest.mark.parametrize("activation", ["sigmoid", "identity", "relu", "tanh", "elu", "selu"])
@pytest.mark.parametrize("output_activation", ["identity", "sigmoid", "tanh", "elu"])
@pytest.mark.parametrize("sizes", [(7,), (6, 4, 5)])
def test_sparse_loss_and_gradients_match_dense_reference(activation, output_activation, sizes):
    R = random_ratings(23, 31, 0.25, seed=len(sizes) + len(activation))
    alpha, n = 0.7, R.nnz
    gen = torch.Generator().manual_seed(0)
    net = AutoRecNet(R.shape[1], sizes, activation, output_activation, (-1.0, 5.0), gen,
                     torch.float64)
    with torch.no_grad():  # non-trivial biases so every gradient is exercised
        for b in net.unpenalized():
            b.add_(torch.rand(b.shape, generator=gen, dtype=torch.float64) - 0.5)
    data = SparseRows(R, torch.device("cpu"), torch.float64)
    # Rows in two batches, one of them containing an empty row or not: any cut works.
    order = torch.arange(R.shape[0])
    sse = _objective(net, data.batches(order, 10), n, alpha, 0.0, 0.0, None)
    with torch.no_grad():
        for w in net.penalized():
            w.grad.add_(w, alpha=alpha / n)
    sparse_loss = sse + alpha / 2 * sum(float((w.detach() ** 2).sum()) for w in net.penalized())
    sparse_grads = [p.grad.clone() * n for p in net.parameters()]

    # The dense reference, on copies of the same parameters.
    copies = [p.detach().clone().requires_grad_(True) for p in net.parameters()]
    by_name = dict(zip([name for name, _ in net.named_parameters()], copies))
    hidden = [(by_name[f"hidden_weights.{j}"], by_name[f"hidden_biases.{j}"])
              for j in range(len(sizes) - 1)]
    Rd = torch.as_tensor(R.toarray())
    M = torch.as_tensor(sp.csr_matrix((np.ones(R.nnz), R.indices, R.indptr),
                                      shape=R.shape).toarray())  # the observed mask
    ref = dense_reference_loss(
        Rd, M, (by_name["encoder_weight"], by_name["encoder_bias"], hidden,
                by_name["decoder_weight"], by_name["decoder_bias"]),
        activation, output_activation, -1.0, 5.0, alpha)
    ref.backward()
    assert sparse_loss == pytest.approx(float(ref.detach()), rel=1e-9)
    for (name, _), g, c in zip(net.named_parameters(), sparse_grads, copies):
        err = float((g - c.grad).norm() / max(float(c.grad.norm()), 1e-12))
        assert err < 1e-6, f"gradient of {name} differs by {err:.2e}"


def _grads_of_batch(net, data, rows, n):
    _objective(net, list(data.batches(torch.as_tensor(rows), len(rows))), n, 0.0, 0.0, 0.0,
               None)
    return [p.grad.clone() for p in net.parameters()]


def test_weight_gradients_written_in_place_overwrite_accumulate_and_allocate():
    """The two large weight gradients are written into ``.grad`` by the backward.

    After ``clear_grads`` (the mini-batch loop) a batch's gradients are that
    batch's alone even when the stale buffers hold NaN (overwritten, never
    read); after ``zero_grad(set_to_none=False)`` (the L-BFGS closure) two
    batches accumulate; after ``set_to_none`` the buffers are allocated; every
    case equals the dense float64 reference gradient of the same batches.
    """
    R = random_ratings(30, 12, 0.3, seed=5)
    n = R.nnz
    data = SparseRows(R, torch.device("cpu"), torch.float64)
    first, second = np.arange(0, 13), np.arange(13, 30)

    def net_():
        return AutoRecNet(12, (5,), "sigmoid", "identity", (1.0, 5.0),
                          torch.Generator().manual_seed(0), torch.float64)

    def reference(rows):
        net = net_()
        params = [p.detach().clone().requires_grad_(True) for p in net.parameters()]
        E, mu, Wd, bd = params
        sub = torch.as_tensor(R[rows].toarray())
        M = torch.as_tensor(_stored(R[rows]))
        loss = dense_reference_loss(sub, M.double(), (E, mu, [], Wd, bd), "sigmoid",
                                    "identity", 1.0, 5.0, 0.0) / n
        loss.backward()
        return [p.grad for p in params]

    net = net_()
    large = (net.encoder_weight, net.decoder_weight)
    _grads_of_batch(net, data, first, n)
    net.clear_grads()
    assert all(p.grad is not None for p in large)
    assert net.encoder_bias.grad is None and net.decoder_bias.grad is None
    for p in large:
        p.grad.fill_(float("nan"))  # a stale buffer is never read
    for got, want in zip(_grads_of_batch(net, data, second, n), reference(second)):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)

    net.zero_grad(set_to_none=False)
    _grads_of_batch(net, data, first, n)
    both = _grads_of_batch(net, data, second, n)
    for got, want in zip(both, reference(np.arange(30))):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)

    net.zero_grad(set_to_none=True)
    for got, want in zip(_grads_of_batch(net, data, first, n), reference(first)):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)

    # A batch without entries (an empty row) overwrites the stale buffers with zeros.
    R = R.tolil()
    R.rows[3], R.data[3] = [], []
    data = SparseRows(R.tocsr(), torch.device("cpu"), torch.float64)
    net.clear_grads()
    for p in large:
        p.grad.fill_(float("nan"))
    _grads_of_batch(net, data, np.array([3]), n)
    for p in large:
        assert torch.equal(p.grad, torch.zeros_like(p))


def _stored(csr):
    """Mask of the stored entries (stored zeros are ratings too)."""
    mask = csr.copy()
    mask.data = np.ones_like(mask.data)
    return mask.toarray().astype(bool)
