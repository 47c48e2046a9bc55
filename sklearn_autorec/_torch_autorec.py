"""Torch training backend of AutoRec: sparse in, sparse out.

The autoencoded vectors (items for I-AutoRec, users for U-AutoRec) are rows of
a CSR matrix whose columns are the "coordinates" (users for I-AutoRec).  For a
batch of vectors:

* the encoder reads only the observed entries: ``h = g(E^T r + mu)`` is an
  ``embedding_bag`` with the ratings as per-sample weights, over bags of one
  row's entries in one chunk of coordinates (on the CPU), so that a chunk of
  ``E`` stays in cache while every row of the batch gathers from it;
* the decoder is evaluated only at the observed entries,
  ``pred[e] = f(W[c_e] . h[p_e] + b[c_e])``, as a sampled dense-dense product
  (``torch.sparse.sampled_addmm``);
* both backward passes are again gathers and segment sums (the same chunked
  ``embedding_bag``, sparse CSR products written into the weights' gradient
  buffers), never an ``nnz x k`` autograd tensor.

An epoch costs ``O(nnz * k)`` plus the optimizer step, instead of the textbook
``O(n_vectors * n_coords * k)``; no dense ``n_users x n_items`` array is ever built.
This module imports torch; the estimator imports it lazily, only to train.
"""

import time
import warnings

import numpy as np
import torch
import torch.nn.functional as F

from ._denormals import flush_denormals

__all__ = ["AutoRecNet", "SparseRows", "train_autorec", "resolve_device"]

HIDDEN_ACTIVATIONS = {
    "identity": lambda x: x,
    "sigmoid": torch.sigmoid,
    "relu": F.relu,
    "tanh": torch.tanh,
    "elu": F.elu,
    "selu": F.selu,
}


def resolve_device(device):
    """Turn the ``device`` parameter into a ``torch.device``."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} but CUDA is not available on this machine; use "
            "device='auto' (CUDA when available, else CPU) or device='cpu'."
        )
    return dev


class _Batch:
    """Index structure of the entries of a batch of rows.

    The entries are grouped into bags, one per (coordinate chunk, row) pair,
    chunk-major: all the batch's entries whose coordinate falls in the first
    chunk of ``chunk_coords`` coordinates (row by row), then the second chunk,
    and so on (one chunk: grouped by row).  ``offsets`` are the bags' starts,
    ``pos[e]`` is the position in the batch of the row of entry ``e``,
    ``coords[e]`` its column, ``values[e]`` its rating (the encoder's input),
    ``targets[e]`` what the decoder is fitted to there (the rating less its
    row's offset, if any), ``rows`` the batch's row ids.  The same entries
    grouped by coordinate (the CSR of the batch's transpose) are built on first
    use: the decoder and the weight gradients walk them in that order, so that
    each row of a large weight matrix is read or written once per batch, and
    what is gathered per entry is a row of the batch's small code matrix.
    """

    def __init__(self, offsets, pos, coords, values, n_coords, rows=None, n_chunks=1,
                 block_rows=None, block_entries=None):
        self.offsets = offsets
        self.pos = pos
        self.coords = coords
        self.values = values
        self.n_coords = n_coords
        self.rows = rows
        self.n_rows = None if rows is None else len(rows)
        # With several chunks: the bags come in blocks of `block_rows` rows, and
        # block j's entries are block_entries[j]:block_entries[j + 1].
        self.n_chunks = n_chunks
        self.block_rows, self.block_entries = block_rows, block_entries
        self.targets = values
        self._by_coord = None

    def __len__(self):
        return self.n_rows

    def gather_rows(self, weight, per_entry):
        """``out[b] = sum over entries e of row b of per_entry[e] * weight[coords[e]]``.

        One ``embedding_bag`` over the (chunk, row) bags, then a sum over the
        chunks.  Walking the bags chunk by chunk keeps the chunk's rows of
        ``weight`` in cache while every row of the batch gathers from them: a
        row of the large matrix comes from memory about once per batch instead
        of once per entry (ML-10M shape, k=500, batch 256, one thread: 35 ms
        against 53 ms).  The bags come in blocks of :data:`BLOCK_ROWS` rows, one
        ``embedding_bag`` each, so the per-chunk partial sums stay small for
        any batch.  Deterministic: each bag is one sequential sum.
        """
        if self.n_chunks == 1:
            return F.embedding_bag(self.coords, weight, self.offsets, mode="sum",
                                   per_sample_weights=per_entry)
        k, size = weight.shape[1], self.block_rows
        bags = self.n_chunks * size
        out = weight.new_empty((len(self.block_entries) - 1) * size, k)
        for j, (e0, e1) in enumerate(zip(self.block_entries[:-1], self.block_entries[1:])):
            part = F.embedding_bag(self.coords[e0:e1], weight,
                                   self.offsets[j * bags:(j + 1) * bags] - e0, mode="sum",
                                   per_sample_weights=per_entry[e0:e1])
            torch.sum(part.view(self.n_chunks, size, k), 0, out=out[j * size:(j + 1) * size])
        return out[:self.n_rows]

    def by_coord(self):
        """``(perm, pos[perm], pointer)``: the entries grouped by coordinate."""
        if self._by_coord is None:
            # A stable sort of int32 keys takes half the time of int64 ones.
            keys = self.coords.to(torch.int32) if self.n_coords < 2 ** 31 else self.coords
            perm = torch.argsort(keys, stable=True)
            # One bag per coordinate, empty for those absent from the batch, so
            # segment sums write the (n_coords, k) result directly.
            counts = torch.bincount(self.coords, minlength=self.n_coords)
            pointer = torch.zeros(self.n_coords + 1, dtype=torch.int64, device=counts.device)
            torch.cumsum(counts, 0, out=pointer[1:])
            self._by_coord = (perm, self.pos[perm], pointer)
        return self._by_coord

    def scatter_to_coords_into(self, param, dense, weights):
        """Add to ``param.grad`` the transpose of the batch's gather, in place.

        ``param.grad[c] += sum over entries e with coords[e] == c of
        weights[e] * dense[pos[e]]``: the product of the batch's entries as an
        ``(n_coords, batch rows)`` CSR (grouped by coordinate, in entry order)
        with ``dense``, written into the gradient's own buffer.  Autograd would
        instead adopt a fresh ``(n_coords, k)`` tensor every batch, and
        first-touching its pages costs more than the product (ML-10M shape,
        k=500, one thread: 110 ms against 30 ms).  A gradient marked stale by
        :meth:`AutoRecNet.clear_grads` is overwritten (``beta=0``: no zero
        fill); a missing one is allocated.  Each output row is one thread's
        sum over its entries in order: deterministic.
        """
        perm, pos, pointer = self.by_coord()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "sparse CSR is in beta"
            product = torch.sparse_csr_tensor(
                pointer, pos, weights[perm], size=(self.n_coords, dense.shape[0]),
                check_invariants=False)
            grad = param.grad
            if grad is None:
                param.grad = torch.empty_like(param).addmm_(product, dense, beta=0)
            elif getattr(param, "_grad_is_stale", False):
                grad.addmm_(product, dense, beta=0)
            else:
                grad.addmm_(product, dense)
        param._grad_is_stale = False

    def sampled_dots(self, codes, weight):
        """``out[e] = codes[pos[e]] . weight[coords[e]]`` for every entry, in entry order.

        A sampled dense-dense product over the entries grouped by coordinate:
        each row of the large ``weight`` is read once and the rows of the
        batch's ``codes`` (cache-resident) are the ones gathered, 2-3x faster
        on the CPU than walking the entries by row (ML-10M shape, k=500).
        """
        perm, pos, pointer = self.by_coord()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "sparse CSR is in beta"
            mask = torch.sparse_csr_tensor(
                pointer, pos, codes.new_zeros(len(pos)),
                size=(self.n_coords, codes.shape[0]), check_invariants=False)
            dots = torch.sparse.sampled_addmm(mask, weight, codes.t()).values()
        out = torch.empty_like(dots)
        out[perm] = dots
        return out


#: Bytes of one chunk of a weight matrix's rows that the encoder's gathers
#: keep in cache (:meth:`_Batch.gather_rows`): 4 MiB was fastest at the ML-10M
#: shape (k=500, batch 256; 1 and 2 threads, against 8-80 MiB and no chunks).
CHUNK_BYTES = 4 << 20
#: Rows of a batch gathered together chunk by chunk (a block of rows) ...
BLOCK_ROWS = 256
#: ... into one (chunks, block rows, k) result of at most this many bytes.
BLOCK_BYTES = 32 << 20


def chunk_coords_for(n_coords, width, dtype, device):
    """The coordinates per cache chunk for rows of ``width`` floats; None: one chunk.

    Chunking is a CPU cache layout; on other devices the batch is one chunk.
    """
    if torch.device(device).type != "cpu":
        return None
    row_bytes = max(1, int(width)) * torch.empty((), dtype=dtype).element_size()
    max_chunks = max(1, BLOCK_BYTES // (BLOCK_ROWS * row_bytes))
    chunk = max(1, CHUNK_BYTES // row_bytes, -(-int(n_coords) // max_chunks))
    return None if chunk >= n_coords else int(chunk)


def _n_chunks(n_coords, chunk_coords):
    return 1 if chunk_coords is None else -(-int(n_coords) // chunk_coords)


def _chunk_pointers(indptr, indices, chunk_coords, n_chunks):
    """``ptr[r, j]``: where row ``r``'s entries in coordinate chunk ``j`` start.

    The entries of each row must be grouped by chunk in chunk order;
    ``ptr[r, n_chunks]`` is the row's end.  Counted over blocks of rows, so
    that no per-entry temporary larger than a block is built.
    """
    if n_chunks == 1:
        return np.stack([indptr[:-1], indptr[1:]], axis=1)
    n_rows = len(indptr) - 1
    counts = np.diff(indptr)
    ptr = np.empty((n_rows, n_chunks + 1), dtype=np.int64)
    ptr[:, 0] = indptr[:-1]
    block = 1 << 22  # entries per block
    r0 = 0
    while r0 < n_rows:
        r1 = max(r0 + 1, int(np.searchsorted(indptr, indptr[r0] + block, side="right")) - 1)
        r1 = min(r1, n_rows)
        seg = indices[indptr[r0]:indptr[r1]] // chunk_coords
        local = np.repeat(np.arange(r1 - r0, dtype=np.int64) * n_chunks, counts[r0:r1])
        per = np.bincount(local + seg, minlength=(r1 - r0) * n_chunks)
        np.cumsum(per.reshape(r1 - r0, n_chunks), axis=1, out=ptr[r0:r1, 1:])
        ptr[r0:r1, 1:] += indptr[r0:r1, None]
        r0 = r1
    return ptr


class SparseRows:
    """A CSR matrix of ratings on a device, cut into batches of rows.

    ``chunk_coords`` (see :func:`chunk_coords_for`; None: one chunk) sets the
    cache layout of the batches (:class:`_Batch`); every layout computes the
    same functions.
    """

    def __init__(self, csr, device, dtype, row_offset=None, chunk_coords=None):
        self.n_rows, self.n_coords = csr.shape
        self.n_chunks = _n_chunks(self.n_coords, chunk_coords)
        if chunk_coords is not None and not csr.has_sorted_indices:
            csr = csr.sorted_indices()  # each row's entries grouped by chunk
        indptr = csr.indptr.astype(np.int64)
        self.indptr = torch.as_tensor(indptr, device=device)
        self.indices = torch.as_tensor(csr.indices.astype(np.int64), device=device)
        self.data = torch.as_tensor(csr.data, dtype=dtype, device=device)
        self.nnz = csr.nnz
        self.chunk_ptr = torch.as_tensor(
            _chunk_pointers(indptr, csr.indices, chunk_coords, self.n_chunks), device=device)
        self._set_targets(csr.data, np.diff(csr.indptr), row_offset, device, dtype)

    @classmethod
    def from_ratings(cls, rows, coords, values, shape, device, dtype, row_offset=None,
                     chunk_coords=None):
        """Build from (row, coord, value) triplets without a scipy CSR copy.

        The triplets may come in any order; within a row (and, with
        ``chunk_coords``, within a chunk of a row), their order is kept.
        """
        self = cls.__new__(cls)
        self.n_rows, self.n_coords = shape
        self.n_chunks = n_chunks = _n_chunks(self.n_coords, chunk_coords)
        self.nnz = len(values)
        order = None
        key = rows
        if n_chunks > 1 and len(rows):
            # Sort by (row, chunk of the coordinate): int32 keys where they fit,
            # computed a block at a time (no other per-rating temporary).
            key = np.empty(len(rows), dtype=np.int32 if self.n_rows * n_chunks < 2 ** 31
                           else np.int64)
            step = 1 << 20
            for s in range(0, len(rows), step):
                key[s:s + step] = rows[s:s + step] * n_chunks + coords[s:s + step] // chunk_coords
        if len(key) > 1 and not bool(np.all(key[:-1] <= key[1:])):
            order = np.argsort(key, kind="stable")
        del key
        counts = np.bincount(rows, minlength=self.n_rows)
        indptr = np.zeros(self.n_rows + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        self.indptr = torch.as_tensor(indptr, device=device)
        take = (lambda a: a) if order is None else (lambda a: a[order])
        coords = take(coords).astype(np.int64, copy=False)
        self.indices = torch.as_tensor(coords, device=device)
        values = take(values)
        self.data = torch.as_tensor(values, dtype=dtype, device=device)
        self.chunk_ptr = torch.as_tensor(
            _chunk_pointers(indptr, coords, chunk_coords, n_chunks), device=device)
        self._set_targets(values, counts, row_offset, device, dtype)
        return self

    def _set_targets(self, values, row_counts, row_offset, device, dtype):
        # What the decoder is fitted to: the ratings less a fixed offset per row
        # (the baseline's bias of the autoencoded vector), or the ratings; their
        # mean and range (float64) start and bound the output layer.
        self.targets = self.data
        targets = values
        if row_offset is not None:
            targets = values - np.repeat(np.asarray(row_offset, dtype=np.float64), row_counts)
            self.targets = torch.as_tensor(targets, dtype=dtype, device=device)
        self.target_mean = float(np.mean(targets)) if len(targets) else 0.0
        self.target_range = ((float(targets.min()), float(targets.max())) if len(targets)
                             else (0.0, 0.0))

    def batch(self, rows):
        """The :class:`_Batch` of the given rows (a tensor of row ids)."""
        n_rows, n_chunks, size, dev = len(rows), self.n_chunks, BLOCK_ROWS, rows.device
        ptr = self.chunk_ptr[rows]  # (n_rows, n_chunks + 1)
        starts, lengths = ptr[:, :-1], ptr[:, 1:] - ptr[:, :-1]
        if n_chunks > 1:
            # Bags ordered (block of `size` rows, chunk, row in the block); the last
            # block is padded with empty bags.
            n_blocks = -(-n_rows // size)

            def blocked(t):  # (n_rows, n_chunks) -> one value per bag, in bag order
                full = t.new_zeros((n_blocks * size, n_chunks))
                full[:n_rows] = t
                return full.view(n_blocks, size, n_chunks).transpose(1, 2).reshape(-1)

            starts, lengths = blocked(starts), blocked(lengths)
            bag_rows = torch.arange(n_blocks * size, device=dev).view(n_blocks, 1, size)
            bag_rows = bag_rows.expand(n_blocks, n_chunks, size).reshape(-1)
        else:
            starts, lengths = starts.reshape(-1), lengths.reshape(-1)
            bag_rows = torch.arange(n_rows, device=dev)
        bag_ptr = torch.zeros(len(lengths) + 1, dtype=torch.int64, device=dev)
        torch.cumsum(lengths, 0, out=bag_ptr[1:])
        n_entries = int(bag_ptr[-1])
        # Entry j of bag b is entry starts[b] + j of the data: one repeat per bag.
        entries = torch.repeat_interleave(starts - bag_ptr[:-1], lengths,
                                          output_size=n_entries)
        entries += torch.arange(n_entries, device=dev)
        pos = torch.repeat_interleave(bag_rows, lengths, output_size=n_entries)
        blocks = {} if n_chunks == 1 else dict(
            block_rows=size, block_entries=bag_ptr[::n_chunks * size].tolist())
        batch = _Batch(bag_ptr[:-1], pos, self.indices[entries], self.data[entries],
                       self.n_coords, rows, n_chunks=n_chunks, **blocks)
        batch.targets = (batch.values if self.targets is self.data
                         else self.targets[entries])
        return batch

    def batches(self, order, max_rows):
        """Batches of ``max_rows`` consecutive rows of ``order``, built one at a time
        (an epoch's index structures are never all in memory at once)."""
        for s in range(0, len(order), max_rows):
            yield self.batch(order[s:s + max_rows])


class _SparseEncoder(torch.autograd.Function):
    """``out[b] = sum over entries e of row b of values[e] * weight[coords[e]]``.

    ``weight`` must be a leaf parameter: its gradient is added to
    ``weight.grad`` in place (:meth:`_Batch.scatter_to_coords_into`), not
    returned to autograd, so ``loss.backward()`` is the way to get it
    (``torch.autograd.grad`` would see no gradient for it).
    """

    @staticmethod
    def forward(ctx, weight, batch, values):
        ctx.batch, ctx.values, ctx.weight = batch, values, weight
        return batch.gather_rows(weight, values)

    @staticmethod
    def backward(ctx, grad):
        if ctx.needs_input_grad[0]:
            ctx.batch.scatter_to_coords_into(ctx.weight, grad, ctx.values)
        return None, None, None


class _ObservedDecoder(torch.autograd.Function):
    """``out[e] = codes[pos[e]] . weight[coords[e]] + bias[coords[e]]``.

    The decoder's pre-activation at the observed entries only.  Every gradient
    is a deterministic gather or segment sum (torch's own backward of
    ``bias[coords]`` is a parallel scatter-add whose summation order varies
    from run to run on the CPU).  ``weight`` must be a leaf parameter: its
    gradient goes into ``weight.grad`` in place, as in :class:`_SparseEncoder`.
    """

    @staticmethod
    def forward(ctx, codes, weight, bias, batch):
        ctx.save_for_backward(codes, weight)
        ctx.batch, ctx.weight = batch, weight
        return batch.sampled_dots(codes, weight) + bias[batch.coords]

    @staticmethod
    def backward(ctx, grad):
        codes, weight = ctx.saved_tensors
        batch = ctx.batch
        grad_codes = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:
            grad_codes = batch.gather_rows(weight, grad)
        if ctx.needs_input_grad[1]:
            batch.scatter_to_coords_into(ctx.weight, codes, grad)
        if ctx.needs_input_grad[2]:
            grad_bias = torch.bincount(batch.coords, weights=grad,
                                       minlength=batch.n_coords).to(grad.dtype)
        return grad_codes, grad_weight, grad_bias, None


class AutoRecNet(torch.nn.Module):
    """The AutoRec network over rows with ``n_coords`` coordinates.

    ``h_0 = g(E^T r + mu_0)``, ``h_l = g(A_l h_{l-1} + mu_l)``,
    ``out_c = f(W[c] . h_L + b[c])``.  A bounded output activation (sigmoid,
    tanh) is mapped onto ``rating_range``.
    """

    def __init__(self, n_coords, hidden_layer_sizes, activation, output_activation,
                 rating_range, generator, dtype, init_output=None):
        super().__init__()
        sizes = list(hidden_layer_sizes)

        def glorot(fan_in, fan_out, shape):
            bound = np.sqrt(6.0 / (fan_in + fan_out))
            t = torch.rand(shape, generator=generator, dtype=torch.float64) * 2 - 1
            return torch.nn.Parameter((t * bound).to(dtype))

        self.encoder_weight = glorot(n_coords, sizes[0], (n_coords, sizes[0]))
        self.encoder_bias = torch.nn.Parameter(torch.zeros(sizes[0], dtype=dtype))
        self.hidden_weights = torch.nn.ParameterList(
            [glorot(a, b, (a, b)) for a, b in zip(sizes[:-1], sizes[1:])])
        self.hidden_biases = torch.nn.ParameterList(
            [torch.nn.Parameter(torch.zeros(b, dtype=dtype)) for b in sizes[1:]])
        self.decoder_weight = glorot(sizes[-1], n_coords, (n_coords, sizes[-1]))
        self.g = HIDDEN_ACTIVATIONS[activation]
        self.output_activation = output_activation
        self.low, self.high = rating_range
        # The output bias starts at the rating that ``init_output`` gives (None:
        # zero).  Full-batch L-BFGS generalises better from zero (ML-100K,
        # alpha=300, 300 iterations: test RMSE 0.889 against 0.894 from the mean);
        # first-order solvers take hundreds of small steps just to reach the mean
        # from zero, so they start there.
        start = 0.0 if init_output is None else self._inverse_output(init_output)
        self.decoder_bias = torch.nn.Parameter(torch.full((n_coords,), start, dtype=dtype))

    def _inverse_output(self, rating):
        """The pre-activation at which the output activation gives ``rating``."""
        span = self.high - self.low
        if self.output_activation in ("sigmoid", "tanh"):
            t = float(np.clip((rating - self.low) / span if span > 0 else 0.5, 0.01, 0.99))
            return (float(np.log(t / (1 - t))) if self.output_activation == "sigmoid"
                    else float(np.arctanh(2 * t - 1)))
        if self.output_activation == "selu":
            return rating / 1.0507009873554805
        return float(rating)

    def output(self, x):
        span = self.high - self.low
        if self.output_activation == "sigmoid":
            return self.low + span * torch.sigmoid(x)
        if self.output_activation == "tanh":
            return self.low + span * (torch.tanh(x) + 1) / 2
        return HIDDEN_ACTIVATIONS[self.output_activation](x)

    def clear_grads(self):
        """Clear the gradients before a mini-batch's backward.

        The two ``(n_coords, k)`` weight gradients keep their buffers, marked
        stale: the next backward overwrites them (no zero fill, no fresh
        allocation).  The other gradients are dropped (``set_to_none``).
        """
        for p in self.parameters():
            if p is self.encoder_weight or p is self.decoder_weight:
                if p.grad is not None:
                    p._grad_is_stale = True
            else:
                p.grad = None

    def penalized(self):
        """The weight matrices under the L2 penalty (biases are not penalised)."""
        return [self.encoder_weight, *self.hidden_weights, self.decoder_weight]

    def unpenalized(self):
        return [self.encoder_bias, *self.hidden_biases, self.decoder_bias]

    def encode(self, batch, values=None, dropout=0.0, generator=None):
        h = _SparseEncoder.apply(self.encoder_weight, batch,
                                 batch.values if values is None else values)
        h = self.g(h + self.encoder_bias)
        h = _dropout(h, dropout, generator)
        for w, b in zip(self.hidden_weights, self.hidden_biases):
            h = _dropout(self.g(torch.addmm(b, h, w)), dropout, generator)
        return h

    def decode_observed(self, codes, batch):
        return self.output(_ObservedDecoder.apply(codes, self.decoder_weight,
                                                  self.decoder_bias, batch))

    def decode_pairs(self, codes, rows, coords):
        """Predictions for (row, coord) pairs from precomputed codes of all rows."""
        dots = (codes[rows] * self.decoder_weight[coords]).sum(1)
        return self.output(dots + self.decoder_bias[coords])


def _dropout(h, p, generator):
    if p == 0.0 or generator is None:
        return h
    keep = torch.rand(h.shape, generator=generator, device=h.device, dtype=h.dtype) >= p
    return h * keep / (1.0 - p)


def _input_dropout(values, p, generator):
    if p == 0.0:
        return values
    keep = torch.rand(values.shape, generator=generator, device=values.device,
                      dtype=values.dtype) >= p
    return values * keep / (1.0 - p)


def _all_codes(net, batches):
    """Codes of all rows, from batches covering the rows in order."""
    with torch.no_grad():
        return torch.cat([net.encode(b) for b in batches])


def _validation_rmse(net, codes, validation, clip_range):
    """RMSE of the clipped predictions of the held-out ratings.

    ``validation`` is ``(pairs, offsets, ratings)``: a :class:`_Batch` of the
    held-out (row, coord) pairs (``pos`` = the rows), the row offset of each
    and the ratings.  The decoder runs over the pairs grouped by coordinate
    (:meth:`_Batch.sampled_dots`): no ``n_val x k`` tensor is built (at
    ML-10M scale one would take 2 GB).
    """
    pairs, offsets, ratings = validation
    with torch.no_grad():
        pre = pairs.sampled_dots(codes, net.decoder_weight) + net.decoder_bias[pairs.coords]
        err = (net.output(pre) + offsets).clamp(*clip_range) - ratings
        sse = float(err.double().pow(2).sum())
    return float(np.sqrt(sse / max(1, len(ratings))))


def _objective(net, batches, n_ratings, alpha, dropout, input_dropout, generator,
               penalty_share=1.0):
    """Accumulate gradients of the scaled objective over ``batches``.

    The objective is ``(SSE + alpha/2 * sum ||W||_F^2) / n_ratings``, the
    paper's loss divided by the number of training ratings (same minimiser);
    ``penalty_share`` is the part of the penalty these batches carry.  Returns
    the sum of squared errors (a Python float).  The penalty gradient is added
    by the caller (or by the optimizer's weight decay, its exact equivalent).
    """
    sse = 0.0
    for batch in batches:
        values = _input_dropout(batch.values, input_dropout, generator)
        codes = net.encode(batch, values, dropout, generator)
        err = net.decode_observed(codes, batch) - batch.targets
        loss = err.pow(2).sum()
        (loss / n_ratings).backward()
        sse += float(loss.detach())
    return sse


def _penalty(net, rows=1 << 12):
    """``sum ||W||_F^2`` over the penalised weights, a block of rows at a time: a
    weight-sized ``w ** 2`` would be the largest temporary of an epoch (140 MB
    per matrix at the ML-10M shape, while the weights, their gradients, Adam's
    moments and the best copy are all held)."""
    with torch.no_grad():
        return float(sum(float(w[s:s + rows].pow(2).sum())
                         for w in net.penalized() for s in range(0, w.shape[0], rows)))


def _load_weights(net, coefs, intercepts):
    """Set the network's parameters from numpy weights in the result layout."""
    weights = [net.encoder_weight, *net.hidden_weights, net.decoder_weight]
    biases = [net.encoder_bias, *net.hidden_biases, net.decoder_bias]
    arrays = list(coefs[:-1]) + [np.asarray(coefs[-1]).T]
    with torch.no_grad():
        for param, value in zip(weights + biases, arrays + list(intercepts)):
            param.copy_(torch.as_tensor(np.ascontiguousarray(value), dtype=param.dtype))


def train_autorec(train_csr, *, hidden_layer_sizes, activation, output_activation, alpha,
                  dropout, input_dropout, solver, learning_rate_init, batch_size, max_iter,
                  validation=None, n_iter_no_change=10, tol=1e-4, rating_range,
                  row_offset=None, warm_start=None,
                  seed=0, verbose=False, device="cpu", dtype=torch.float32):
    """Train AutoRec on the rows of ``train_csr``; return numpy weights and history.

    Parameters
    ----------
    train_csr : scipy CSR of shape (n_rows, n_coords), tuple or list
        The autoencoded vectors as rows, or the same as ``(rows, coords,
        values, (n_rows, n_coords))`` triplets (no scipy copy is made).  A
        list of them is emptied once the data are on the device, so that
        arrays the caller made for this call are freed during training.
    validation : tuple (rows, coords, ratings) of ndarrays, or None
        Held-out ratings for early stopping: the best weights (lowest RMSE of
        predictions clipped to ``rating_range``) are restored.  Without it,
        training stops when the training objective stops improving by ``tol``
        for ``n_iter_no_change`` iterations, and the last weights are kept.
    rating_range : tuple (low, high)
        The range predictions are clipped to for the validation RMSE.
    row_offset : ndarray of shape (n_rows,), default=None
        A fixed offset added to every prediction of a row: the decoder is
        fitted to the ratings less it, and a bounded output activation is
        mapped onto the range of those targets (onto ``rating_range`` without
        an offset).  First-order solvers start the output bias at the targets'
        mean, L-BFGS at zero.
    warm_start : list [coefs, intercepts[, score]], default=None
        Start from these weights (the layout of the result) instead of the
        seeded initialisation.  The list is emptied once they are loaded, so
        that the caller's copy is freed during training.  With their
        validation ``score``, they count as the best so far: the run returns
        them (``best_iter=0``) unless an epoch validates better.

    On the CPU, denormal floats are flushed to zero while training (see
    :mod:`sklearn_autorec._denormals`): they made an epoch at the ML-10M
    shape up to 1.8x slower.

    Returns
    -------
    result : dict
        ``coefs``, ``intercepts`` (numpy, MLPRegressor layout), ``codes`` (numpy,
        the last hidden layer for every row), ``loss_curve``,
        ``validation_scores``, ``n_iter``, ``best_iter``, ``converged``.
    """
    dev = resolve_device(device) if isinstance(device, str) else device
    with flush_denormals(dev):
        cpu_gen = torch.Generator().manual_seed(int(seed))
        dev_gen = cpu_gen if dev.type == "cpu" else torch.Generator(dev).manual_seed(int(seed))
        triplets = isinstance(train_csr, (tuple, list))
        n_coords = train_csr[3][1] if triplets else train_csr.shape[1]
        chunk = chunk_coords_for(n_coords, max(hidden_layer_sizes[0], hidden_layer_sizes[-1]),
                                 dtype, dev)
        if triplets:
            data = SparseRows.from_ratings(*train_csr, dev, dtype, row_offset=row_offset,
                                           chunk_coords=chunk)
            if isinstance(train_csr, list):
                train_csr.clear()  # the caller's copies can go
        else:
            data = SparseRows(train_csr, dev, dtype, row_offset=row_offset, chunk_coords=chunk)
        del train_csr
        n_ratings = data.nnz
        output_range = rating_range if row_offset is None else data.target_range
        net = AutoRecNet(data.n_coords, hidden_layer_sizes, activation, output_activation,
                         output_range, cpu_gen, dtype,
                         init_output=None if solver == "lbfgs" else data.target_mean).to(dev)
        warm_score = None
        if warm_start is not None:
            _load_weights(net, *warm_start[:2])
            warm_score = warm_start[2] if len(warm_start) > 2 else None
            warm_start.clear()
        stochastic = dropout > 0 or input_dropout > 0
        full_batch = solver in ("lbfgs", "rprop")
        all_rows = torch.arange(data.n_rows, device=dev)
        # Full-batch solvers: all rows in one batch, indexed once and reused by
        # every closure call and for the codes.  Mini-batch solvers build each
        # batch when it is used (the codes too), so that an epoch's index
        # structures are never all in memory at once.
        fixed = list(data.batches(all_rows, data.n_rows)) if full_batch else None

        def codes_of_all_rows():
            return _all_codes(net, fixed if full_batch else data.batches(all_rows, batch_size))

        if validation is not None:
            v_rows, v_coords, v_ratings = validation
            v_offsets = (np.zeros(len(v_rows)) if row_offset is None
                         else np.asarray(row_offset)[v_rows])
            pairs = _Batch(None, torch.as_tensor(v_rows, device=dev),
                           torch.as_tensor(v_coords, device=dev), None, data.n_coords)
            validation = (pairs, torch.as_tensor(v_offsets, dtype=dtype, device=dev),
                          torch.as_tensor(v_ratings, dtype=dtype, device=dev))

        weights, biases = net.penalized(), net.unpenalized()
        n_batches = 1 if full_batch else int(np.ceil(data.n_rows / batch_size))
        decay = alpha / (n_ratings * n_batches)
        if solver == "lbfgs":
            # One L-BFGS iteration per step; max_eval must be set explicitly, since
            # torch derives it as max_iter * 5 // 4 = 1, which leaves the line search
            # no evaluation of its own and stalls it.
            opt = torch.optim.LBFGS(net.parameters(), lr=1.0, max_iter=1, max_eval=26,
                                    history_size=10,
                                    line_search_fn="strong_wolfe", tolerance_grad=0.0,
                                    tolerance_change=0.0)
        elif solver == "rprop":
            opt = torch.optim.Rprop(net.parameters(), lr=learning_rate_init)
        else:
            groups = [{"params": weights, "weight_decay": decay},
                      {"params": biases, "weight_decay": 0.0}]
            if solver == "adam":
                kwargs = {"fused": True} if dev.type in ("cpu", "cuda") else {}
                opt = torch.optim.Adam(groups, lr=learning_rate_init, **kwargs)
            else:
                opt = torch.optim.SGD(groups, lr=learning_rate_init, momentum=0.9, nesterov=True)

        params = list(net.parameters())
        last_eval = {}

        def full_closure():
            # torch's L-BFGS re-evaluates, at the start of each step, the point where
            # the previous line search ended; reuse that evaluation (deterministic
            # objective only) instead of paying a second pass over the data.
            with torch.no_grad():
                flat = torch.cat([p.reshape(-1) for p in params])
                if not stochastic and "x" in last_eval and torch.equal(flat, last_eval["x"]):
                    for p, g in zip(params, last_eval["grads"]):
                        p.grad.copy_(g)
                    return last_eval["loss"]
            opt.zero_grad(set_to_none=False)
            sse = _objective(net, fixed, n_ratings, alpha, dropout, input_dropout,
                             dev_gen if stochastic else None)
            with torch.no_grad():
                for w in weights:
                    w.grad.add_(w, alpha=alpha / n_ratings)
            total = torch.tensor((sse + 0.5 * alpha * _penalty(net)) / n_ratings, dtype=dtype)
            if solver == "lbfgs" and not stochastic:
                last_eval.update(x=flat, grads=[p.grad.clone() for p in params], loss=total)
            return total

        loss_curve, val_scores = [], []
        best, best_iter, best_state, no_improve = np.inf, 0, None, 0
        if warm_score is not None and validation is not None:
            # The warm start is the best so far: keep it unless an epoch beats it
            # (best_iter stays 0 then), so the caller needs no copy of its own.
            best = float(warm_score)
            with torch.no_grad():
                best_state = [p.detach().clone() for p in params]
        converged = False
        it = 0
        for it in range(1, max_iter + 1):
            start = time.perf_counter()
            net.train()
            if full_batch:
                loss = float(opt.step(full_closure))
            else:
                order = torch.randperm(data.n_rows, generator=cpu_gen).to(dev)
                sse = 0.0
                for batch in data.batches(order, batch_size):
                    # The large weight gradients are overwritten in place by the
                    # backward (no zero fill, no fresh allocation); the rest dropped.
                    net.clear_grads()
                    sse += _objective(net, [batch], n_ratings, alpha, dropout, input_dropout,
                                      dev_gen if stochastic else None)
                    opt.step()
                loss = (sse + 0.5 * alpha * _penalty(net)) / n_ratings
            if not np.isfinite(loss):
                raise FloatingPointError(
                    f"The training loss became {loss} at iteration {it}; lower "
                    "learning_rate_init, raise alpha or use solver='lbfgs'.")
            loss_curve.append(loss)
            if validation is not None:
                net.eval()
                score = _validation_rmse(net, codes_of_all_rows(), validation, rating_range)
                val_scores.append(score)
            else:
                score = loss
            if verbose:
                msg = f"Iteration {it}, loss = {loss:.6f}"
                if validation is not None:
                    msg += f", validation RMSE = {score:.5f}"
                print(f"{msg}, {time.perf_counter() - start:.2f}s", flush=True)
            if score < best - tol:
                no_improve = 0
            else:
                no_improve += 1
            if score < best:
                best, best_iter = score, it
                if validation is not None:
                    # One copy of the weights (the optimizer state is not kept).
                    with torch.no_grad():
                        if best_state is None:
                            best_state = [p.detach().clone() for p in params]
                        else:
                            for saved, p in zip(best_state, params):
                                saved.copy_(p)
            if no_improve >= n_iter_no_change:
                converged = True
                break
        del opt, last_eval
        if best_state is not None:
            with torch.no_grad():
                for saved, p in zip(best_state, params):
                    p.copy_(saved)
            del best_state
        net.eval()
        codes = codes_of_all_rows()

        def to_numpy(t):
            return t.detach().to("cpu").numpy().copy()

        coefs = [to_numpy(net.encoder_weight)] + [to_numpy(w) for w in net.hidden_weights]
        # Decoder stored as (k, n_coords) like MLPRegressor's coefs_, Fortran-ordered so
        # that coefs[-1].T (one row per coordinate) is contiguous for fast gathers.
        coefs.append(np.asfortranarray(to_numpy(net.decoder_weight).T))
        intercepts = [to_numpy(net.encoder_bias)] + [to_numpy(b) for b in net.hidden_biases]
        intercepts.append(to_numpy(net.decoder_bias))
        result = {
            "coefs": coefs, "intercepts": intercepts, "codes": to_numpy(codes),
            "loss_curve": loss_curve, "validation_scores": val_scores or None,
            "n_iter": it, "best_iter": best_iter, "converged": converged,
            "best_score": best if validation is not None else None,
            "output_range": tuple(output_range),
        }
        del net, data, fixed, params, weights, biases
        if dev.type == "cuda":
            torch.cuda.empty_cache()
        return result
