"""Scaling out a hyper-parameter search (issue 5, docs/scale_out.md).

``GridSearchCV(n_jobs=...)`` ships a clone of the estimator to each worker
process, once per (candidate, fold), and brings the fitted scores back.  That
only scales if the estimator pickles cheaply (parameters only when unfitted,
numpy only when fitted), if a fit leaves nothing behind (no torch tensor, no
GPU memory held between folds), and if results do not depend on where a fit ran
(seeded CPU fits are deterministic, so a parallel search equals a serial one).

Tested here on loopback: joblib's default backend (loky, worker processes) and
a local Dask distributed cluster through joblib's ``"dask"`` backend (skipped
when the optional ``dask[distributed]`` extra is not installed).
"""

import pickle

import joblib
import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV, KFold

from contract import as_pairs, small_ratings
from sklearn_autorec import AutoRecRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

GRID = {"alpha": [1.0, 30.0], "activation": ["sigmoid", "identity"]}  # 2 x 2 candidates


def tiny(**params):
    return AutoRecRegressor(hidden_layer_sizes=(4,), max_iter=5, device="cpu",
                            random_state=0, **params)


def data():
    return as_pairs(small_ratings())


def search(n_jobs):
    # Shuffled folds with a fixed seed: every worker sees the same splits.
    return GridSearchCV(tiny(), GRID, cv=KFold(3, shuffle=True, random_state=0),
                        scoring="neg_root_mean_squared_error", n_jobs=n_jobs,
                        error_score="raise")


@pytest.fixture(scope="module")
def serial_results():
    # Seeded CPU fits are bitwise reproducible for a given number of torch threads;
    # another thread count changes the order of float32 reductions (on larger data
    # than this the predictions then differ in the 3rd decimal after 20 L-BFGS
    # iterations).  The workers below run one torch thread each, so the reference does.
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        X, y = data()
        return search(n_jobs=1).fit(X, y)
    finally:
        torch.set_num_threads(threads)


def assert_same_search(parallel, serial):
    assert parallel.cv_results_["params"] == serial.cv_results_["params"]
    keys = ["mean_test_score", "std_test_score"] + [f"split{k}_test_score" for k in range(3)]
    for key in keys:
        # Same seed, same thread count: a fit in another process gives the same floats.
        np.testing.assert_array_equal(parallel.cv_results_[key], serial.cv_results_[key],
                                      err_msg=key)
    assert parallel.best_params_ == serial.best_params_
    np.testing.assert_array_equal(parallel.best_estimator_.codes_,
                                  serial.best_estimator_.codes_)


def test_serial_search_is_meaningful(serial_results):
    scores = serial_results.cv_results_["mean_test_score"]
    assert scores.shape == (4,) and np.all(np.isfinite(scores))
    assert len(np.unique(scores)) > 1  # the candidates really differ


def test_grid_search_over_processes_equals_serial(serial_results):
    X, y = data()
    # loky is joblib's default backend; named here to pin one torch thread per worker
    # (its default is cpu_count // n_jobs), as docs/scale_out.md recommends.
    with joblib.parallel_backend("loky", inner_max_num_threads=1):
        parallel = search(n_jobs=2).fit(X, y)
    assert_same_search(parallel, serial_results)


def test_unfitted_estimator_pickles_small():
    blob = pickle.dumps(AutoRecRegressor())
    assert len(blob) < 2048, len(blob)
    assert b"torch" not in blob


def test_fitted_estimator_pickles_to_numpy_only():
    X, y = data()
    model = tiny().fit(X, y)
    blob = pickle.dumps(model)
    assert b"torch" not in blob
    # the size is the numpy weights and codes plus the id encoders, nothing more
    weights = sum(a.nbytes for a in model.coefs_ + model.intercepts_) + model.codes_.nbytes
    assert len(blob) < weights + 16 * 1024, (len(blob), weights)
    loaded = pickle.loads(blob)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def _torch_objects(obj, path="model", seen=None):
    """Paths of every torch object reachable from ``obj`` through containers/attributes."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return []
    seen.add(id(obj))
    module = type(obj).__module__ or ""
    if module.split(".")[0] == "torch":
        return [f"{path}: {type(obj).__name__}"]
    if isinstance(obj, (str, bytes, int, float, bool, type(None), np.ndarray, np.generic)):
        return []
    found = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            found += _torch_objects(k, f"{path}[{k!r}] (key)", seen)
            found += _torch_objects(v, f"{path}[{k!r}]", seen)
    elif isinstance(obj, (list, tuple, set, frozenset)):
        for i, v in enumerate(obj):
            found += _torch_objects(v, f"{path}[{i}]", seen)
    elif hasattr(obj, "__dict__"):
        for k, v in vars(obj).items():
            found += _torch_objects(v, f"{path}.{k}", seen)
    return found


def test_walker_finds_torch_objects():
    torch = pytest.importorskip("torch")

    class Holder:
        pass

    h = Holder()
    h.nested = {"a": [np.zeros(2), (torch.zeros(1),)]}
    assert _torch_objects(h) == ["model.nested['a'][1][0]: Tensor"]


def test_no_torch_object_left_after_fit(serial_results):
    # CPU proxy of "no GPU memory held between folds": a fitted estimator (and the
    # best estimator of a search) references no tensor, module, optimizer or device.
    X, y = data()
    model = tiny(early_stopping=True).fit(X, y)
    assert model.device_ == "cpu"
    assert _torch_objects(model) == []
    assert _torch_objects(serial_results.best_estimator_) == []


def _torch_threads():
    import torch

    return torch.get_num_threads()


def test_grid_search_on_local_dask_cluster_equals_serial(serial_results):
    pytest.importorskip("distributed")
    from concurrent.futures import ThreadPoolExecutor
    from distributed import Client, LocalCluster, get_task_stream

    X, y = data()

    def run_search():
        with joblib.parallel_backend("dask", wait_for_workers_timeout=60):
            return search(n_jobs=-1).fit(X, y)

    # Everything has a timeout: start-up, connection, the workers' arrival and the
    # search itself (run in a thread; if it stalls the client is closed, which cancels
    # its tasks), and the context managers always close the client and the cluster.
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      host="127.0.0.1", dashboard_address=None,
                      worker_dashboard_address=None, timeout="60s") as cluster, \
            Client(cluster, timeout="60s") as client, \
            ThreadPoolExecutor(1) as pool:
        client.wait_for_workers(2, timeout=60)
        # dask starts workers with OMP_NUM_THREADS=1, so torch uses one thread there
        assert set(client.run(_torch_threads).values()) == {1}
        with get_task_stream(client) as stream:
            future = pool.submit(run_search)
            try:
                parallel = future.result(timeout=180)
            except TimeoutError:
                client.close()
                pytest.fail("the search on the local Dask cluster did not finish in 180 s")
        # the fits really ran in the cluster's worker processes
        workers = {task["worker"] for task in stream.data}
        assert workers and workers <= set(client.scheduler_info()["workers"])
    assert_same_search(parallel, serial_results)


try:
    import torch as _torch
    _has_cuda = _torch.cuda.is_available()
except ImportError:  # pragma: no cover - torch is a hard dependency
    _has_cuda = False


@pytest.mark.gpu
@pytest.mark.skipif(not _has_cuda, reason="needs a CUDA GPU")
def test_grid_search_on_cuda_frees_gpu_memory_between_folds():
    import torch

    X, y = data()
    torch.cuda.synchronize()
    before = torch.cuda.memory_allocated()
    s = GridSearchCV(AutoRecRegressor(hidden_layer_sizes=(8,), max_iter=5, device="cuda",
                                      random_state=0),
                     GRID, cv=3, n_jobs=1, scoring="neg_root_mean_squared_error",
                     error_score="raise").fit(X, y)
    torch.cuda.synchronize()
    assert torch.cuda.memory_allocated() == before  # 13 fits, nothing left on the GPU
    assert s.best_estimator_.device_.startswith("cuda")
    assert _torch_objects(s.best_estimator_) == []
    blob = pickle.dumps(s.best_estimator_)
    assert b"torch" not in blob
    assert np.all(np.isfinite(s.cv_results_["mean_test_score"]))
