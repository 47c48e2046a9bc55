"""The data contract: one converter from either input form to canonical ratings.

Every estimator of the package reads its input through :func:`parse_ratings` and
encodes ids through :class:`IdIndex`, so the rules below hold everywhere:

* A scipy sparse matrix of shape ``(n_users, n_items)``: every *stored* entry is a
  rating, whatever its value (zero and negative ratings exist); the sparsity
  structure is the mask.  Row index = user id, column index = item id.
* Pairs ``X`` of shape ``(n_samples, 2)`` holding ``(user_id, item_id)`` (ints or
  strings; ndarray, list or pandas DataFrame) with ratings ``y``.

Nothing is ever silently summed, dropped or re-indexed.
"""

import numbers
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.utils import check_random_state

__all__ = ["Ratings", "IdIndex", "parse_ratings", "find_duplicate", "describe_id",
           "warm_holdout", "cold_keepers", "sort_unique"]


@dataclass
class Ratings:
    """Ratings in canonical form, as parsed from either input form.

    Attributes
    ----------
    users, items : ndarray of shape (n,)
        Raw ids: int64 or unicode strings.
    values : ndarray of shape (n,) float64, or None when no ratings were given.
    matrix : scipy sparse CSR (canonical) or None
        The input matrix in CSR form (``csr_array`` for a sparse array input) when the input was a matrix; ``users``,
        ``items`` and ``values`` are then in CSR (row-major) order.
    """

    users: np.ndarray
    items: np.ndarray
    values: object
    matrix: object = None

    @property
    def is_matrix(self):
        return self.matrix is not None

    def __len__(self):
        return len(self.users)


def describe_id(ids, k):
    """``repr`` of the id at position ``k``, as the user wrote it (no numpy types)."""
    return repr(ids[k].item() if hasattr(ids[k], "item") else ids[k])


def find_duplicate(users, items):
    """Return the position of one duplicated ``(user, item)`` pair, or None.

    ``users`` and ``items`` are arrays of the same kind of ids (ints or strings).
    """
    if len(users) < 2:
        return None
    order = np.lexsort((items, users))
    u, i = users[order], items[order]
    same = (u[1:] == u[:-1]) & (i[1:] == i[:-1])
    hits = np.flatnonzero(same)
    return None if len(hits) == 0 else int(order[hits[0]])


def _raise_duplicate(users, items, where):
    k = find_duplicate(users, items)
    if k is not None:
        raise ValueError(
            f"{where} holds the (user, item) pair ({describe_id(users, k)}, "
            f"{describe_id(items, k)}) more than once. Each pair must be rated at most "
            "once: drop or average the duplicates first (scipy would silently sum "
            "them, which this package refuses to do)."
        )


def _check_ids(column, what):
    """Turn one column of ids into an int64 or unicode array, or raise."""
    column = np.asarray(column)
    if column.ndim != 1:
        raise ValueError(f"{what} ids must be one-dimensional; got shape {column.shape}.")
    kind = column.dtype.kind
    if kind in "iu":
        return column.astype(np.int64, copy=False)
    if kind == "b":
        raise TypeError(f"{what} ids must be integers or strings; got booleans.")
    if kind == "f":
        if not np.all(np.isfinite(column)):
            raise ValueError(
                f"X contains NaN or infinite {what} ids; every rating needs "
                f"{'an' if what == 'item' else 'a'} {what} id: drop those rows first."
            )
        if not np.all(column == np.round(column)):
            bad = float(column[column != np.round(column)][0])
            raise ValueError(
                f"{what} ids must be integers or strings; got the non-integer float "
                f"{bad!r}. If X mixes ids with other numeric features, pass only the "
                "(user_id, item_id) columns."
            )
        return column.astype(np.int64)
    if kind in "US":
        return column.astype(str)
    if kind == "O":
        is_int = np.fromiter(
            (isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in column),
            bool,
            len(column),
        )
        if is_int.all():
            return column.astype(np.int64)
        is_str = np.fromiter((isinstance(v, str) for v in column), bool, len(column))
        if is_str.all():
            return column.astype(str)
        missing = [v for v in column if v is None or (isinstance(v, float) and v != v)]
        if missing:
            raise ValueError(
                f"X contains missing {what} ids (None or NaN); every rating needs "
                f"{'an' if what == 'item' else 'a'} {what} id: drop those rows first."
            )
        if all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in column):
            return _check_ids(column.astype(np.float64), what)
        kinds = sorted({type(v).__name__ for v in column})
        raise TypeError(
            f"{what} ids must be all integers or all strings; got a mix of "
            f"{', '.join(kinds)}. Convert the column to one type first."
        )
    raise TypeError(f"{what} ids must be integers or strings; got dtype {column.dtype}.")


def _check_values(values, n):
    try:
        values = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"Ratings must be numbers; could not convert them: {exc}") from None
    if values.ndim == 2 and values.shape[1] == 1:
        values = values.ravel()
    if values.ndim != 1:
        raise ValueError(
            f"y must be one-dimensional ratings of shape (n_samples,); got shape {values.shape}."
        )
    if len(values) != n:
        raise ValueError(
            f"X and y have different lengths: X has {n} (user, item) pairs but y has "
            f"{len(values)} ratings. Pass one rating per pair."
        )
    if not np.all(np.isfinite(values)):
        k = int(np.flatnonzero(~np.isfinite(values))[0])
        raise ValueError(
            f"Ratings must be finite; rating number {k} is {float(values[k])!r}. Drop "
            "or impute NaN/inf ratings first."
        )
    return values


def _parse_matrix(X, y, context):
    if y is not None:
        raise ValueError(
            f"{context}: y must be None when X is a sparse rating matrix (its stored "
            "entries are the ratings). To pass ratings as y, give X as "
            "(user_id, item_id) pairs of shape (n_samples, 2)."
        )
    if X.ndim != 2:
        raise ValueError(f"A rating matrix must be 2-D; got {X.ndim} dimensions.")
    coo = X.tocoo()
    users = np.asarray(coo.row, dtype=np.int64)
    items = np.asarray(coo.col, dtype=np.int64)
    if X.format != "csr" or not X.has_canonical_format:
        _raise_duplicate(users, items, "The rating matrix")
    # Stored zeros are ratings: building the CSR from the triplets keeps them.
    csr_type = sp.csr_array if isinstance(X, sp.sparray) else sp.csr_matrix
    csr = csr_type(
        (np.asarray(coo.data, dtype=np.float64), (users, items)), shape=X.shape
    )
    csr.sort_indices()
    rows = np.repeat(np.arange(X.shape[0], dtype=np.int64), np.diff(csr.indptr))
    values = _check_values(csr.data, csr.nnz)
    return Ratings(rows, csr.indices.astype(np.int64), values, csr)


def parse_ratings(X, y=None, *, require_y=False, context="fit"):
    """Parse either input form into :class:`Ratings`.

    Parameters
    ----------
    X : scipy sparse matrix of shape (n_users, n_items), or array-like of shape (n, 2)
    y : array-like of shape (n,) or None
    require_y : bool
        Pairs without ``y`` raise (as in ``fit``).
    context : str
        Name of the calling method, for error messages.
    """
    if sp.issparse(X):
        return _parse_matrix(X, y, context)
    if X is None:
        raise ValueError(f"{context}: X is None; pass a sparse rating matrix or (user, item) pairs.")
    if hasattr(X, "iloc") and hasattr(X, "columns"):  # pandas DataFrame
        if X.shape[1] != 2:
            raise ValueError(
                f"X must have exactly two columns (user id, item id); the DataFrame has "
                f"{X.shape[1]} columns: {list(X.columns)}. Select the id columns, "
                "e.g. X[['user', 'item']]."
            )
        users, items = X.iloc[:, 0].to_numpy(), X.iloc[:, 1].to_numpy()
    else:
        arr = X if isinstance(X, np.ndarray) else np.asarray(X, dtype=object)
        if arr.ndim != 2 or arr.shape[1] != 2:
            raise ValueError(
                "X must be a scipy sparse rating matrix or (user_id, item_id) pairs of "
                f"shape (n_samples, 2); got an array of shape {arr.shape}. For a dense "
                "rating matrix, convert it with scipy.sparse.csr_matrix (its stored "
                "entries become the ratings)."
            )
        users, items = arr[:, 0], arr[:, 1]
    if y is None and require_y:
        raise ValueError(
            f"{context}: this estimator requires y to be passed, but the target y "
            "is None. With (user, item) pairs as X, pass the ratings as y; or pass "
            "a scipy sparse rating matrix as X."
        )
    users = _check_ids(users, "user")
    items = _check_ids(items, "item")
    values = None if y is None else _check_values(y, len(users))
    return Ratings(users, items, values)


def sort_unique(values):
    """Sorted unique values (sort and compare neighbours: faster than np.unique's
    hash-based path on millions of ids)."""
    values = np.sort(values, kind="stable")
    if len(values) == 0:
        return values
    keep = np.empty(len(values), dtype=bool)
    keep[0] = True
    np.not_equal(values[1:], values[:-1], out=keep[1:])
    return values[keep]


class IdIndex:
    """Maps raw ids (int64 or strings) to contiguous indices ``0..n-1``.

    Parameters
    ----------
    ids : ndarray
        Raw ids; the index holds their sorted unique values.
    what : str
        "user" or "item", for messages.
    sorted_unique : bool, default=False
        ``ids`` are already sorted and unique (a fitted model's id array).
    """

    def __init__(self, ids, what, *, sorted_unique=False):
        self.ids = ids if sorted_unique else sort_unique(ids)
        self.what = what

    def __len__(self):
        return len(self.ids)

    def fit_transform(self, raw):
        return np.searchsorted(self.ids, raw).astype(np.int64)

    def transform(self, raw):
        """Indices of ``raw`` ids, ``-1`` where unknown."""
        if self.ids.dtype.kind != np.asarray(raw).dtype.kind and len(raw):
            fitted = "integer" if self.ids.dtype.kind == "i" else "string"
            given = "integer" if np.asarray(raw).dtype.kind == "i" else "string"
            raise TypeError(
                f"The model was fitted with {fitted} {self.what} ids but got {given} "
                f"{self.what} ids; convert them to {fitted}s (no id could match)."
            )
        pos = np.searchsorted(self.ids, raw)
        pos = np.minimum(pos, len(self.ids) - 1)
        found = self.ids[pos] == raw
        return np.where(found, pos, -1).astype(np.int64)


def warm_holdout(users, items, fraction, random_state):
    """Split ratings into training and validation, keeping every id warm.

    A random ``fraction`` of the ratings is held out, but a held-out rating is
    moved back to training whenever its user or item would otherwise have no
    training rating left, so every validation rating can be predicted by the
    model rather than by the fallback.

    Returns
    -------
    train_mask : ndarray of bool, shape (n,)
    """
    rng = check_random_state(random_state)
    n = len(users)
    held = np.zeros(n, dtype=bool)
    held[rng.permutation(n)[: int(round(fraction * n))]] = True
    for ids in (users, items):
        held[cold_keepers(held, ids)] = False
    return ~held


def cold_keepers(held, ids, scan=None):
    """One held-out rating per id that has no rating left outside ``held``.

    Moving the returned positions back to training keeps every id warm.  Of an
    id's held-out ratings, the first in ``scan`` order (default: positional
    order) is chosen.

    Parameters
    ----------
    held : ndarray of bool, shape (n,)
        Ratings held out (validation or test).
    ids : ndarray of int64, shape (n,)
        Encoded user (or item) of each rating.
    scan : ndarray of int, shape (n,), default=None
        A permutation of ``range(n)``.

    Returns
    -------
    positions : ndarray of int
    """
    order = np.arange(len(ids)) if scan is None else scan
    n_train = np.bincount(ids[~held], minlength=int(ids.max()) + 1)
    candidates = order[held[order] & (n_train[ids[order]] == 0)]
    _, first = np.unique(ids[candidates], return_index=True)
    return candidates[first]
