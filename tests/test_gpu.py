"""GPU tests: run with ``python -m pytest -m gpu`` on a machine with CUDA.

Skipped (and deselected by default) where no CUDA device can be reached.
"""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from contract import as_pairs, check_rating_estimator, small_ratings, split_matrix
from sklearn_autorec import AutoRecRegressor

torch = pytest.importorskip("torch")

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
]


def test_data_contract_on_cuda():
    check_rating_estimator(AutoRecRegressor(hidden_layer_sizes=(8,), max_iter=15,
                                            device="cuda", random_state=0))


@pytest.mark.parametrize("solver", ["lbfgs", "adam"])
def test_cpu_and_gpu_predictions_agree(solver):
    R_train, R_test = split_matrix(small_ratings(n_users=80, n_items=60))
    params = dict(hidden_layer_sizes=(16,), solver=solver, max_iter=10, random_state=0,
                  learning_rate_init=1e-2, batch_size=16, early_stopping=False)
    cpu = AutoRecRegressor(device="cpu", **params).fit(R_train)
    gpu = AutoRecRegressor(device="cuda", **params).fit(R_train)
    assert gpu.device_.startswith("cuda")
    np.testing.assert_allclose(gpu.predict(R_test).data, cpu.predict(R_test).data,
                               rtol=1e-3, atol=1e-3)


def test_gpu_model_pickles_to_numpy_and_frees_memory():
    import pickle

    X, y = as_pairs(small_ratings())
    torch.cuda.synchronize()
    before = torch.cuda.memory_allocated()
    model = AutoRecRegressor(hidden_layer_sizes=(8,), max_iter=5, device="cuda",
                             random_state=0).fit(X, y)
    torch.cuda.synchronize()
    assert torch.cuda.memory_allocated() == before  # nothing left on the GPU
    blob = pickle.dumps(model)
    assert b"torch" not in blob
    assert np.all(np.isfinite(pickle.loads(blob).predict(X)))
