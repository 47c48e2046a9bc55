"""Flush denormal floats to zero on the CPU threads that train a model.

Arithmetic on denormal (subnormal) floats, those below 1.2e-38 in float32,
runs one to two orders of magnitude slower on x86 CPUs than on normal ones.
Training makes many of them: a saturated sigmoid unit's code and its
derivative underflow, products of those with gradients scaled by
``1 / n_ratings`` are smaller still, and Adam's second moment squares such
gradients.  At the ML-10M shape (I-AutoRec, k=500, batch 256, 2 threads) they
made a mini-batch Adam step 1.8x slower.  Flushing replaces results
below that bound by zero; a model's accuracy does not move beyond the
run-to-run noise of its seeds (``docs/performance.md``).

The flush-to-zero and denormals-are-zero bits live in each thread's own
floating-point control register, and the worker threads of torch's OpenMP
pool do not inherit them once they exist (``torch.set_flush_denormal`` sets
only the calling thread's).  :func:`flush_denormals` therefore sets them in
the calling thread and, through one parallel region of the OpenMP runtime
that torch ships (``torch/lib/libgomp``, each worker running ``fesetenv``
on a copy of the calling thread's environment), in each of its workers, and
restores them on exit.  Where that runtime cannot be found (no
``/proc/self/maps``, a torch built against another runtime), only the calling
thread is set; where the CPU has no such mode, nothing is.
"""

import contextlib
import ctypes
import ctypes.util
import os
import re
import threading

import torch

__all__ = ["flush_denormals", "denormals_flushed"]

_lock = threading.Lock()
_runtime = {}


def denormals_flushed():
    """Whether the calling thread flushes float32 denormals to zero."""
    tiny = torch.tensor([2.0 ** -120], dtype=torch.float32)
    return float(tiny * tiny.new_tensor([2.0 ** -10])) == 0.0


def _broadcaster():
    """``(GOMP_parallel, fegetenv, fesetenv)`` to copy this thread's mode to
    torch's OpenMP workers, or None.

    The OpenMP runtime must be the one in torch's own ``lib``: other packages
    load runtimes of their own (scikit-learn's wheels vendor one), whose
    threads are not torch's.  Each worker runs the C library's ``fesetenv``
    on a copy of this thread's floating-point environment: no Python code,
    and so no lock, runs on the workers.
    """
    with _lock:
        if "broadcast" not in _runtime:
            _runtime["broadcast"] = None
            lib_dir = os.path.join(os.path.dirname(os.path.realpath(torch.__file__)), "lib")
            try:
                libm = ctypes.CDLL(ctypes.util.find_library("m"))
                with open("/proc/self/maps") as f:
                    paths = {line.split(None, 5)[-1].strip() for line in f
                             if re.search(r"/lib(gomp|iomp5|omp)[^/]*\.so", line)}
                for path in sorted(paths):
                    if os.path.dirname(os.path.realpath(path)) != lib_dir:
                        continue
                    parallel = ctypes.CDLL(path).GOMP_parallel
                    parallel.argtypes = [ctypes.c_void_p, ctypes.c_void_p,
                                         ctypes.c_uint, ctypes.c_uint]
                    parallel.restype = None
                    _runtime["broadcast"] = (
                        parallel, libm.fegetenv, ctypes.cast(libm.fesetenv, ctypes.c_void_p))
                    break
            except (OSError, AttributeError, IndexError, TypeError):
                pass
    return _runtime["broadcast"]


def _set_mode(on):
    """Set the flush mode of this thread and of torch's OpenMP workers."""
    if not torch.set_flush_denormal(on):
        return False
    broadcast = _broadcaster()
    n_threads = torch.get_num_threads()
    if broadcast is not None and n_threads > 1:
        parallel, fegetenv, fesetenv = broadcast
        env = ctypes.create_string_buffer(256)  # > sizeof(fenv_t) on every libc
        if fegetenv(env) == 0:
            parallel(fesetenv, ctypes.addressof(env), n_threads, 0)
    return True


@contextlib.contextmanager
def flush_denormals(device):
    """Flush float32/float64 denormals to zero on the CPU while in the block.

    Does nothing for other devices, or when the calling thread already
    flushes them (the caller's setting is left as it is).  The previous mode
    (not flushing) is restored on exit, also after an exception.
    """
    if torch.device(device).type != "cpu" or denormals_flushed():
        yield
        return
    changed = _set_mode(True)
    try:
        yield
    finally:
        if changed:
            _set_mode(False)
