"""The sparse torch backend computes the textbook AutoRec loss and gradients.

A plain dense masked implementation (float64, written here independently of
the backend) is the reference: same function, same gradients to 1e-6.
"""

import numpy as np
import pytest
import scipy.sparse as sp

torch = pytest.importorskip("torch")

from sklearn_autorec import _torch_autorec  # noqa: E402
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
@pytest.mark.parametrize("chunk_coords, block_rows", [(None, 256), (4, 256), (5, 3)])
def test_sparse_loss_and_gradients_match_dense_reference(
        activation, output_activation, sizes, chunk_coords, block_rows, monkeypatch):
    """Every batch layout: one chunk, chunks of coordinates, blocks of rows."""
    monkeypatch.setattr(_torch_autorec, "BLOCK_ROWS", block_rows)
    R = random_ratings(23, 31, 0.25, seed=len(sizes) + len(activation))
    alpha, n = 0.7, R.nnz
    gen = torch.Generator().manual_seed(0)
    net = AutoRecNet(R.shape[1], sizes, activation, output_activation, (-1.0, 5.0), gen,
                     torch.float64)
    with torch.no_grad():  # non-trivial biases so every gradient is exercised
        for b in net.unpenalized():
            b.add_(torch.rand(b.shape, generator=gen, dtype=torch.float64) - 0.5)
    data = SparseRows(R, torch.device("cpu"), torch.float64, chunk_coords=chunk_coords)
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


@pytest.mark.parametrize("chunk_coords, block_rows", [(None, 256), (1, 256), (3, 2), (7, 5),
                                                      (40, 4)])
def test_gather_rows_is_the_per_row_weighted_sum(chunk_coords, block_rows, monkeypatch):
    """Each layout's gather equals the plain sum over each row's entries, in the
    batch's row order (shuffled rows, an empty row, a last block padded)."""
    monkeypatch.setattr(_torch_autorec, "BLOCK_ROWS", block_rows)
    R = random_ratings(17, 41, 0.2, seed=3).tolil()
    R.rows[5], R.data[5] = [], []
    R = R.tocsr()
    data = SparseRows(R, torch.device("cpu"), torch.float64, chunk_coords=chunk_coords)
    weight = torch.rand(41, 6, generator=torch.Generator().manual_seed(1),
                        dtype=torch.float64)
    rows = torch.as_tensor(np.random.default_rng(0).permutation(17)[:13])
    batch = data.batch(rows)
    assert len(batch) == 13 and batch.n_chunks == (1 if chunk_coords is None
                                                   else -(-41 // chunk_coords))
    per_entry = torch.rand(len(batch.coords), generator=torch.Generator().manual_seed(2),
                           dtype=torch.float64)
    got = batch.gather_rows(weight, per_entry)
    assert got.shape == (13, 6)
    for b, r in enumerate(rows.tolist()):
        mine = batch.pos == b
        np.testing.assert_array_equal(np.sort(batch.coords[mine].numpy()),
                                      R[r].indices[np.argsort(R[r].indices)])
        np.testing.assert_array_equal(batch.values[mine].numpy(),
                                      R[r].toarray()[0, batch.coords[mine].numpy()])
        expected = (per_entry[mine, None] * weight[batch.coords[mine]]).sum(0)
        torch.testing.assert_close(got[b], expected, rtol=1e-12, atol=1e-12)


def test_chunk_coords_for_follows_the_cache_budget():
    """Chunks of about CHUNK_BYTES of weight rows on the CPU, one chunk elsewhere,
    at most as many chunks as a block's partial sums allow."""
    f = _torch_autorec.chunk_coords_for
    assert f(69878, 500, torch.float32, "cpu") == (4 << 20) // 2000
    assert f(20000, 500, torch.float64, "cpu") == (4 << 20) // 4000
    assert f(1000, 500, torch.float32, "cpu") is None  # fits in one chunk
    assert f(69878, 500, torch.float32, "cuda") is None
    n = 480189  # Netflix users: capped at BLOCK_BYTES / (BLOCK_ROWS * row bytes) chunks
    chunk = f(n, 500, torch.float32, "cpu")
    max_chunks = (32 << 20) // (256 * 2000)
    assert -(-n // chunk) <= max_chunks < -(-n // (chunk - 1))
