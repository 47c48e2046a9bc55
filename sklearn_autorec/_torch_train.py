"""The mini-batch torch training loop shared by the top-N (and later) models.

One loop for every mini-batch model: epochs of batches, one optimizer, a
global update counter that is never reset (KL annealing reads it), validation
after each epoch, early stopping on the validation score (higher is better),
best weights kept by one in-place copy and restored at the end.  Models give
it a ``torch.nn.Module``, a batch iterator and a loss; they never write their
own loop.  Devices come from :func:`~sklearn_autorec._torch_autorec.resolve_device`.

This module imports torch; estimators import it lazily, only to train.
"""

import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning

from ._denormals import flush_denormals
from ._torch_autorec import resolve_device

__all__ = ["TrainResult", "train_minibatch", "make_adam", "resolve_device", "seeded_generators",
           "csr_batch_to_torch", "state_to_numpy"]


@dataclass
class TrainResult:
    """What :func:`train_minibatch` did.

    Attributes
    ----------
    n_iter : int
        Epochs run.
    best_epoch : int
        Epoch (1-based) whose weights were kept; 0 when none improved on the
        initial weights' validation score, ``n_iter`` without validation.
    best_score : float or None
        Its validation score.
    n_updates : int
        Optimizer steps made (the global step counter).
    history : list of dict
        Per epoch: ``epoch``, ``loss`` (mean training loss), ``validation``
        (score or None) and ``seconds``.
    """

    n_iter: int = 0
    best_epoch: int = 0
    best_score: object = None
    n_updates: int = 0
    history: list = field(default_factory=list)


def seeded_generators(seed, device):
    """A CPU generator and one on ``device`` (the same one on CPU), seeded."""
    cpu = torch.Generator().manual_seed(int(seed))
    dev = cpu if device.type == "cpu" else torch.Generator(device).manual_seed(int(seed))
    return cpu, dev


def csr_batch_to_torch(csr, rows, device, dtype):
    """Rows of a scipy CSR as ``(indices, offsets, values)`` for ``embedding_bag``."""
    sub = csr[rows]
    return (torch.as_tensor(sub.indices.astype(np.int64), device=device),
            torch.as_tensor(sub.indptr[:-1].astype(np.int64), device=device),
            torch.as_tensor(sub.data, dtype=dtype, device=device))


def state_to_numpy(module):
    """The module's parameters and buffers as float64 numpy arrays, by name."""
    return {name: t.detach().cpu().double().numpy().copy()
            for name, t in module.state_dict().items()}


def make_adam(params, lr, weight_decay=0.0):
    """Adam, fused where torch has a fused kernel for the parameters' device.

    The fused kernel (torch >= 2.4 on CPU) steps all parameters in one pass:
    on this project's 2-core machine 6x faster than the default for an NCF's
    embedding tables (2.8 against 17 ms per step), the same algorithm.
    """
    params = list(params)
    try:
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, fused=True)
    except (RuntimeError, TypeError, ValueError):  # pragma: no cover - older torch
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)


class _DenseAndLazyAdam:
    """Fused Adam for the dense parameters, lazy Adam for the sparse ones.

    The ``sparse`` parameters are item tables read through
    ``torch.nn.functional.embedding(..., sparse=True)``: their gradients hold
    only the rows of the batch, and only those rows' moments and weights are
    updated (rows not in the batch keep theirs, as in the official GRU4Rec
    code's row-indexed optimizers), with :class:`torch.optim.Adam`'s formula;
    :class:`torch.optim.SparseAdam` is the same but for where ``eps`` sits,
    and slower on CPU (5 against 2 ms per GRU4Rec step on Diginetica).  A step
    then costs O(rows in the batch) instead of O(catalogue).
    """

    def __init__(self, params, sparse, lr, betas=(0.9, 0.999), eps=1e-8):
        sparse_ids = {id(p) for p in sparse}
        dense = [p for p in params if id(p) not in sparse_ids]
        self.dense = make_adam(dense, lr=lr) if dense else None
        self.sparse = list(sparse)
        self.moments = [(torch.zeros_like(p), torch.zeros_like(p)) for p in self.sparse]
        self.lr, self.betas, self.eps, self.n_steps = lr, betas, eps, 0

    def zero_grad(self, set_to_none=True):
        if self.dense is not None:
            self.dense.zero_grad(set_to_none=set_to_none)
        for p in self.sparse:
            p.grad = None

    @torch.no_grad()
    def step(self):
        if self.dense is not None:
            self.dense.step()
        self.n_steps += 1
        b1, b2 = self.betas
        correction1 = 1.0 - b1 ** self.n_steps
        correction2 = 1.0 - b2 ** self.n_steps
        for p, (avg, avg_sq) in zip(self.sparse, self.moments):
            if p.grad is None:
                continue
            grad = p.grad.coalesce() if p.grad.is_sparse else p.grad.to_sparse().coalesce()
            rows, values = grad.indices()[0], grad.values()
            m = avg.index_select(0, rows).mul_(b1).add_(values, alpha=1.0 - b1)
            v = avg_sq.index_select(0, rows).mul_(b2).addcmul_(values, values, value=1.0 - b2)
            avg.index_copy_(0, rows, m)
            avg_sq.index_copy_(0, rows, v)
            update = m.div_(v.div_(correction2).sqrt_().add_(self.eps)).mul_(-self.lr / correction1)
            p.index_add_(0, rows, update)


class _RowAdagrad:
    """Adagrad with momentum, row-lazy on sparse gradients (the official GRU4Rec's).

    For the rows of a gradient (all rows of a dense one): ``G += g ** 2``,
    ``v = momentum * v + lr * g / sqrt(G + eps)``, ``w -= v``; rows a sparse
    gradient does not hold keep their accumulators and velocity.
    """

    def __init__(self, params, lr, momentum=0.0, eps=1e-6):
        self.params = list(params)
        self.state = [(torch.zeros_like(p), torch.zeros_like(p) if momentum else None)
                      for p in self.params]
        self.lr, self.momentum, self.eps = lr, momentum, eps

    def zero_grad(self, set_to_none=True):
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self):
        for p, (acc, vel) in zip(self.params, self.state):
            if p.grad is None:
                continue
            if p.grad.is_sparse:
                grad = p.grad.coalesce()
                rows, g = grad.indices()[0], grad.values()
                G = acc.index_select(0, rows).addcmul_(g, g)
                acc.index_copy_(0, rows, G)
                step = g.div_(G.add_(self.eps).sqrt_())  # g / sqrt(G + eps), in place
                if vel is not None:
                    step = vel.index_select(0, rows).mul_(self.momentum).add_(
                        step, alpha=self.lr)
                    vel.index_copy_(0, rows, step)
                    p.index_add_(0, rows, step, alpha=-1.0)
                else:
                    p.index_add_(0, rows, step, alpha=-self.lr)
            else:
                g = p.grad
                acc.addcmul_(g, g)
                root = acc.add(self.eps).sqrt_()
                if vel is not None:
                    vel.mul_(self.momentum).addcdiv_(g, root, value=self.lr)
                    p.sub_(vel)
                else:
                    p.addcdiv_(g, root, value=-self.lr)


def train_minibatch(module, *, batches, loss, validate=None, max_iter=100,
                    n_iter_no_change=10, tol=0.0, lr=1e-3, weight_decay=0.0,
                    sparse_params=(), optimizer="adam", momentum=0.0, verbose=False,
                    name="model"):
    """Train ``module`` with Adam over mini-batches, early-stopped on validation.

    Parameters
    ----------
    module : torch.nn.Module
    batches : callable
        ``batches(epoch)`` -> iterable of batches (any objects) of one epoch.
    loss : callable
        ``loss(batch, step)`` -> scalar loss tensor of the batch, where ``step``
        is the number of optimizer steps made before it (never reset).
    validate : callable or None
        ``validate()`` -> validation score, higher is better (the module is in
        eval mode, without gradients).  None: no early stopping, the last
        weights are kept.
    max_iter : int
        Most epochs.
    n_iter_no_change : int
        Stop after this many epochs without a validation improvement of more
        than ``tol``.  A run that reaches ``max_iter`` first ends with a
        :class:`~sklearn.exceptions.ConvergenceWarning` (as scikit-learn's
        iterative estimators do); the best weights are still restored.
    lr, weight_decay : float
        Adam's learning rate and (L2, added to the gradient) weight decay.
    sparse_params : sequence of torch.nn.Parameter
        Parameters whose gradients are sparse (tables read with
        ``embedding(..., sparse=True)``), stepped lazily: only the rows a
        batch touched change.  Not combinable with ``weight_decay``.
    optimizer : {"adam", "adagrad"}
        "adagrad": Adagrad with ``momentum``, row-lazy on sparse gradients
        (the official GRU4Rec code's optimizer), for every parameter.
    verbose : bool
        Print one line per epoch.

    Returns
    -------
    TrainResult

    Notes
    -----
    On the CPU, denormal floats are flushed to zero while training
    (:func:`~sklearn_autorec._denormals.flush_denormals`).
    """
    params = list(module.parameters())
    device = params[0].device if params else torch.device("cpu")
    with flush_denormals(device):
        sparse_params = list(sparse_params)
        if optimizer == "adagrad":
            if weight_decay:
                raise ValueError("weight_decay is not available with optimizer='adagrad'.")
            optimizer = _RowAdagrad(module.parameters(), lr, momentum)
        elif sparse_params:
            if weight_decay:
                raise ValueError("weight_decay is not available with sparse_params (lazy Adam "
                                 "has no weight decay).")
            optimizer = _DenseAndLazyAdam(list(module.parameters()), sparse_params, lr)
        else:
            optimizer = make_adam(module.parameters(), lr=lr, weight_decay=weight_decay)
        result = TrainResult()
        best = None
        if validate is not None:
            module.eval()
            with torch.no_grad():
                result.best_score = float(validate())
            best = [p.detach().clone() for p in module.parameters()]
        since_best = 0
        for epoch in range(1, max_iter + 1):
            start = time.perf_counter()
            module.train()
            total, n_batches = 0.0, 0
            for batch in batches(epoch):
                optimizer.zero_grad(set_to_none=True)
                value = loss(batch, result.n_updates)
                value.backward()
                optimizer.step()
                result.n_updates += 1
                total += float(value.detach())
                n_batches += 1
            score = None
            if validate is not None:
                module.eval()
                with torch.no_grad():
                    score = float(validate())
            record = {"epoch": epoch, "loss": total / max(n_batches, 1), "validation": score,
                      "seconds": time.perf_counter() - start}
            result.history.append(record)
            result.n_iter = epoch
            if verbose:
                extra = "" if score is None else f", validation {score:.5f}"
                print(f"{name} epoch {epoch}: loss {record['loss']:.5f}{extra} "
                      f"({record['seconds']:.1f} s)", flush=True)
            if not np.isfinite(record["loss"]):
                raise FloatingPointError(
                    f"{name}: the training loss became {record['loss']} at epoch {epoch}; "
                    "lower the learning rate.")
            if validate is None:
                result.best_epoch = epoch
                continue
            if score > result.best_score + tol:
                result.best_score, result.best_epoch, since_best = score, epoch, 0
                with torch.no_grad():
                    for saved, p in zip(best, module.parameters()):
                        saved.copy_(p)
            else:
                since_best += 1
                if since_best >= n_iter_no_change:
                    break
        if best is not None:
            with torch.no_grad():
                for saved, p in zip(best, module.parameters()):
                    p.copy_(saved)
            if result.n_iter == max_iter and since_best < n_iter_no_change:
                warnings.warn(
                    f"{name} ran max_iter={max_iter} epochs without meeting its stopping rule "
                    f"({n_iter_no_change} epochs without a better validation score; the best "
                    f"was epoch {result.best_epoch}); the best weights are kept. Increase "
                    "max_iter to train to convergence.", ConvergenceWarning, stacklevel=3)
        module.eval()
        return result
