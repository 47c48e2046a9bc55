"""Denormal floats are flushed on every CPU thread while training, and only then."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from sklearn_autorec import AutoRecRegressor
from sklearn_autorec._denormals import denormals_flushed, flush_denormals

pytestmark = pytest.mark.skipif(
    not torch.set_flush_denormal(False), reason="this CPU has no flush-to-zero mode")


@pytest.fixture
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    # Start torch's OpenMP workers before the mode is set: threads created
    # later would inherit it from this one and prove nothing.
    (torch.ones(1 << 20) * 2).sum()
    yield
    torch.set_num_threads(before)


def _share_flushed():
    """The share of a parallel product of normals into the denormal range
    (2**-140 in float32) that came out zero: its chunks are computed by
    different threads."""
    x = torch.full((1 << 21,), 2.0 ** -70)
    return float(((x * x) == 0).double().mean())


def test_flushes_on_the_calling_and_the_worker_threads_and_restores(two_threads):
    assert _share_flushed() == 0.0
    with flush_denormals("cpu"):
        assert denormals_flushed()
        assert _share_flushed() == 1.0
    assert not denormals_flushed()
    assert _share_flushed() == 0.0


def test_restores_after_an_exception(two_threads):
    with pytest.raises(KeyError):
        with flush_denormals(torch.device("cpu")):
            raise KeyError("boom")
    assert not denormals_flushed()
    assert _share_flushed() == 0.0


def test_leaves_a_mode_the_caller_set_alone():
    torch.set_flush_denormal(True)
    try:
        with flush_denormals("cpu"):
            assert denormals_flushed()
        assert denormals_flushed()
    finally:
        torch.set_flush_denormal(False)


def test_other_devices_are_left_alone():
    with flush_denormals("cuda"):  # not run there: nothing to do on the host
        assert not denormals_flushed()


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_fit_trains_flushed_and_restores_the_mode(solver, monkeypatch):
    from sklearn_autorec import _torch_autorec

    seen = []
    objective = _torch_autorec._objective

    def spy(*args, **kwargs):
        seen.append(denormals_flushed())
        return objective(*args, **kwargs)

    monkeypatch.setattr(_torch_autorec, "_objective", spy)
    rng = np.random.default_rng(0)
    R = sp.random(30, 20, density=0.3, random_state=rng, format="csr",
                  data_rvs=lambda n: rng.integers(1, 6, n).astype(float))
    AutoRecRegressor(hidden_layer_sizes=(8,), alpha=1.0, solver=solver, max_iter=2,
                     early_stopping=False, random_state=0).fit(R)
    assert seen and all(seen)
    assert not denormals_flushed()


def test_the_shared_minibatch_loop_trains_flushed():
    from sklearn_autorec._torch_train import train_minibatch

    seen = []
    module = torch.nn.Linear(3, 1)
    x = torch.ones(4, 3)

    def loss(batch, step):
        seen.append(denormals_flushed())
        return module(x).pow(2).mean()

    train_minibatch(module, batches=lambda epoch: range(2), loss=loss, max_iter=2)
    assert seen == [True] * 4
    assert not denormals_flushed()
