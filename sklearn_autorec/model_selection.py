"""Splitting ratings for evaluation, and converting between the two input forms.

* :func:`train_test_split` splits the stored entries of a sparse rating matrix into
  a training and a test matrix of the same shape (the AutoRec paper's random
  90/10 protocol on the matrix form).
* :class:`WarmStartKFold` is a scikit-learn cross-validation splitter over
  ``(user_id, item_id)`` pairs whose test folds hold only users and items that
  also have training ratings.
* :func:`matrix_to_pairs` and :func:`pairs_to_matrix` convert between a sparse
  rating matrix and ``(row, col)`` pairs with ratings, never summing duplicates.

Every stored entry of a sparse matrix is a rating, whatever its value: stored
zeros and negative ratings are kept, the sparsity structure is the mask.
"""

import numbers

import numpy as np
import scipy.sparse as sp
from sklearn.model_selection import BaseCrossValidator
from sklearn.utils import check_random_state

from ._data import IdIndex, cold_keepers, find_duplicate, parse_ratings

__all__ = ["WarmStartKFold", "matrix_to_pairs", "pairs_to_matrix", "train_test_split"]


def _check_matrix(R, what="R"):
    """Return the triplets of sparse ``R`` (the data contract: duplicates refused)."""
    if not sp.issparse(R):
        raise TypeError(
            f"{what} must be a scipy sparse rating matrix; got {type(R).__name__}. "
            "Convert a dense matrix with scipy.sparse.csr_matrix (its stored entries "
            "become the ratings), or pass (user, item) pairs to the pair functions."
        )
    parsed = parse_ratings(R, context=what)
    return parsed.users, parsed.items, parsed.values


def _like(R, data, rows, cols):
    """A CSR of ``R``'s shape and kind (sparse matrix or sparse array)."""
    cls = sp.csr_array if isinstance(R, sp.sparray) else sp.csr_matrix
    out = cls((data, (rows, cols)), shape=R.shape)
    out.sort_indices()
    return out


def train_test_split(R, test_size=0.1, *, random_state=None):
    """Split the ratings of a sparse matrix into training and test matrices.

    Each stored entry is a rating, whatever its value (stored zeros and negative
    ratings included). A random ``test_size`` of the ratings, drawn uniformly,
    goes to the test matrix and the rest to the training matrix; both have the
    shape of ``R``, so row and column indices keep their meaning. This is the
    AutoRec paper's protocol (random 90/10 split of the ratings). Users or items
    whose ratings all land in the test matrix are cold at test time; use
    :class:`WarmStartKFold` on pairs to avoid that.

    Parameters
    ----------
    R : scipy sparse matrix or array of shape (n_users, n_items)
        The ratings. Must not store a (user, item) pair twice.
    test_size : float in (0, 1) or int, default=0.1
        The fraction of the ratings (float) or the number of ratings (int) in
        the test matrix.
    random_state : int, RandomState instance or None, default=None
        Seed of the random split.

    Returns
    -------
    R_train, R_test : CSR of shape (n_users, n_items)
        Disjoint: together they hold every rating of ``R`` exactly once, with
        ``R``'s dtype. A ``csr_array`` for a sparse array input, else a
        ``csr_matrix``.

    Raises
    ------
    TypeError
        If ``R`` is not a scipy sparse matrix or array.
    ValueError
        If ``R`` stores a pair twice, has fewer than two ratings, or
        ``test_size`` leaves an empty training or test matrix.

    See Also
    --------
    WarmStartKFold : Cross-validation over pairs keeping test users/items warm.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> from sklearn_autorec.model_selection import train_test_split
    >>> R = sp.random(100, 50, density=0.2, format="csr", random_state=0)
    >>> R_train, R_test = train_test_split(R, test_size=0.1, random_state=0)
    >>> R_train.shape == R_test.shape == R.shape
    True
    >>> R_train.nnz + R_test.nnz == R.nnz, R_test.nnz
    (True, 100)
    """
    rows, cols, data = _check_matrix(R)
    n = len(rows)
    if n < 2:
        raise ValueError(
            f"R holds {n} rating(s); a train/test split needs at least 2."
        )
    if isinstance(test_size, (numbers.Integral, np.integer)) and not isinstance(
        test_size, bool
    ):
        n_test = int(test_size)
        if not 1 <= n_test <= n - 1:
            raise ValueError(
                f"test_size={n_test} must be between 1 and {n - 1} (R holds {n} "
                "ratings), or a fraction in (0, 1)."
            )
    elif isinstance(test_size, (numbers.Real, np.floating)) and not isinstance(
        test_size, bool
    ):
        if not 0 < test_size < 1:
            raise ValueError(
                f"test_size={test_size!r} must be a fraction in (0, 1) or a number of "
                "ratings."
            )
        n_test = int(round(test_size * n))
        if not 1 <= n_test <= n - 1:
            raise ValueError(
                f"test_size={test_size!r} of {n} ratings leaves an empty "
                f"{'test' if n_test < 1 else 'training'} matrix; choose a fraction "
                "that keeps at least one rating on each side."
            )
    else:
        raise ValueError(
            f"test_size must be a fraction in (0, 1) or a number of ratings; got "
            f"{test_size!r}."
        )
    rng = check_random_state(random_state)
    is_test = np.zeros(n, dtype=bool)
    is_test[rng.permutation(n)[:n_test]] = True
    train = _like(R, data[~is_test], rows[~is_test], cols[~is_test])
    test = _like(R, data[is_test], rows[is_test], cols[is_test])
    return train, test


def matrix_to_pairs(R):
    """Convert a sparse rating matrix into ``(row, col)`` pairs and ratings.

    Every stored entry becomes one pair, whatever its value (stored zeros and
    negative ratings included), in row-major order.

    Parameters
    ----------
    R : scipy sparse matrix or array of shape (n_users, n_items)
        The ratings. Must not store a (user, item) pair twice.

    Returns
    -------
    X : ndarray of shape (nnz, 2), int64
        ``(row, col)`` of each stored entry.
    y : ndarray of shape (nnz,)
        The stored values, with ``R``'s dtype.

    Raises
    ------
    TypeError
        If ``R`` is not a scipy sparse matrix or array.
    ValueError
        If ``R`` stores a pair twice.

    See Also
    --------
    pairs_to_matrix : The inverse conversion.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> from sklearn_autorec.model_selection import matrix_to_pairs
    >>> R = sp.csr_matrix(([4.0, 0.0, 5.0], ([0, 1, 1], [2, 0, 1])), shape=(2, 3))
    >>> X, y = matrix_to_pairs(R)
    >>> X.tolist(), y.tolist()
    ([[0, 2], [1, 0], [1, 1]], [4.0, 0.0, 5.0])
    """
    rows, cols, data = _check_matrix(R)
    order = np.lexsort((cols, rows))
    return np.column_stack([rows[order], cols[order]]), data[order].copy()


def pairs_to_matrix(X, y, shape=None):
    """Build a CSR rating matrix from ``(row, col)`` pairs and ratings.

    Every pair becomes one stored entry, whatever its rating (zeros included). The
    pairs are matrix indices, not arbitrary ids: they must be non-negative
    integers (encode other ids first, e.g. with ``numpy.unique(...,
    return_inverse=True)``).

    Parameters
    ----------
    X : array-like of shape (n_samples, 2)
        ``(row, col)`` pairs: ndarray, list or pandas DataFrame of non-negative
        integers.
    y : array-like of shape (n_samples,)
        Finite ratings.
    shape : tuple (n_rows, n_cols), default=None
        Shape of the matrix; by default one more than the largest row and column.

    Returns
    -------
    R : scipy.sparse.csr_matrix of shape ``shape``, float64
        With sorted indices.

    Raises
    ------
    ValueError
        If a pair occurs twice (duplicates are never summed), ids are negative or
        not integers, ratings are not finite, lengths differ, or ``shape`` is too
        small for the ids.

    See Also
    --------
    matrix_to_pairs : The inverse conversion.

    Examples
    --------
    >>> from sklearn_autorec.model_selection import pairs_to_matrix
    >>> R = pairs_to_matrix([[0, 2], [1, 0]], [4.0, 0.0], shape=(2, 3))
    >>> R.shape, R.nnz
    ((2, 3), 2)
    >>> float(R[1, 0]), float(R[0, 2])
    (0.0, 4.0)
    """
    parsed = parse_ratings(X, y, require_y=True, context="pairs_to_matrix")
    rows, cols, y = parsed.users, parsed.items, parsed.values
    for ids, what in ((rows, "row"), (cols, "column")):
        if ids.dtype.kind != "i" or (len(ids) and ids.min() < 0):
            bad = ids[0] if ids.dtype.kind != "i" else ids[ids < 0][0]
            raise ValueError(
                f"The {what} ids of X must be non-negative integers (matrix indices); "
                f"got {bad.item()!r}. Encode other ids to indices first."
            )
    if shape is None:
        if len(rows) == 0:
            raise ValueError("X is empty: pass shape= to build an empty matrix.")
        shape = (int(rows.max()) + 1, int(cols.max()) + 1)
    else:
        try:
            shape = tuple(int(v) for v in shape)
        except (TypeError, ValueError):
            raise ValueError(f"shape must be a pair of integers; got {shape!r}.") from None
        if len(shape) != 2 or min(shape) < 0:
            raise ValueError(f"shape must be a pair of non-negative integers; got {shape!r}.")
        if len(rows) and (rows.max() >= shape[0] or cols.max() >= shape[1]):
            raise ValueError(
                f"shape={shape} is too small for the pairs: the largest row id is "
                f"{rows.max()} and the largest column id {cols.max()}."
            )
    k = find_duplicate(rows, cols)
    if k is not None:
        raise ValueError(
            f"X has a duplicate pair: ({rows[k]}, {cols[k]}) occurs more than once. Each "
            "pair must be rated at most once; drop or average the duplicates first "
            "(scipy would sum them, which this function refuses to do)."
        )
    R = sp.csr_matrix((y, (rows, cols)), shape=shape)
    R.sort_indices()
    return R


class WarmStartKFold(BaseCrossValidator):
    """K-fold cross-validation over ratings whose test users and items stay warm.

    Splits ``(user_id, item_id)`` pairs like :class:`sklearn.model_selection.KFold`
    splits samples (each rating falls in one of ``n_splits`` folds, uniformly at
    random when ``shuffle=True``), then moves back to training any test rating
    whose user or item would otherwise have no rating in that split's training
    part. So every user and every item in a test fold has at least one training
    rating, and a recommender is scored on what it learned rather than on its
    cold-start fallback.

    A moved rating is in no test fold: it trains in every split. Each rating is
    in at most one test fold, test folds may therefore be slightly smaller than
    ``n_samples / n_splits``, and the ratings of a user or item with a single
    rating never enter a test fold.

    Use plain :class:`~sklearn.model_selection.KFold` instead when you *want*
    cold-start users and items in the test folds, e.g. to measure the fallback
    policy for unknown users or items (the ``unknown`` parameter of the
    estimators), or to estimate the error a deployed model will make on a mix of
    new and known users.

    Parameters
    ----------
    n_splits : int, default=5
        Number of folds; at least 2.
    shuffle : bool, default=True
        Whether to shuffle the ratings before assigning them to folds. With
        False, folds are consecutive blocks in input order (the usual MovieLens
        file order is by user: shuffle unless the order is already random).
    random_state : int, RandomState instance or None, default=None
        Seed of the shuffle and of the choice of which rating of a cold user or
        item is moved back to training. Pass an int for reproducible splits
        across calls of :meth:`split`.

    See Also
    --------
    sklearn.model_selection.KFold : Folds that may hold cold-start users/items.
    train_test_split : One random split of a sparse rating matrix.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.dummy import DummyRegressor
    >>> from sklearn.model_selection import cross_validate
    >>> from sklearn_autorec.model_selection import WarmStartKFold
    >>> rng = np.random.RandomState(0)
    >>> X = np.column_stack([rng.randint(0, 30, 400), rng.randint(0, 20, 400)])
    >>> X = np.unique(X, axis=0)
    >>> y = rng.uniform(1, 5, len(X))
    >>> cv = WarmStartKFold(n_splits=5, random_state=0)
    >>> for train, test in cv.split(X):
    ...     assert set(X[test, 0]) <= set(X[train, 0])
    ...     assert set(X[test, 1]) <= set(X[train, 1])
    >>> scores = cross_validate(DummyRegressor(), X, y, cv=cv)
    >>> len(scores["test_score"])
    5
    """

    def __init__(self, n_splits=5, *, shuffle=True, random_state=None):
        if not isinstance(n_splits, numbers.Integral) or isinstance(n_splits, bool):
            raise ValueError(
                f"n_splits must be an integer; got {n_splits!r} of type "
                f"{type(n_splits).__name__}."
            )
        if n_splits < 2:
            raise ValueError(
                f"n_splits={n_splits}: cross-validation needs at least 2 folds."
            )
        if not isinstance(shuffle, (bool, np.bool_)):
            raise TypeError(f"shuffle must be True or False; got {shuffle!r}.")
        if not shuffle and random_state is not None:
            raise ValueError(
                "Setting a random_state has no effect since shuffle is False. Leave "
                "random_state=None, or set shuffle=True."
            )
        self.n_splits = int(n_splits)
        self.shuffle = shuffle
        self.random_state = random_state

    def get_n_splits(self, X=None, y=None, groups=None):
        """Return the number of splits.

        Parameters
        ----------
        X, y, groups : object
            Ignored, for API compatibility.

        Returns
        -------
        n_splits : int
            ``n_splits``.
        """
        return self.n_splits

    def _folds(self, X):
        """Fold of each rating: ``0..n_splits-1``, or -1 for never tested."""
        parsed = parse_ratings(X, context="WarmStartKFold.split")
        n = len(parsed)
        if n < self.n_splits:
            raise ValueError(
                f"Cannot have n_splits={self.n_splits} greater than the number of "
                f"ratings n_samples={n}."
            )
        users = IdIndex(parsed.users, "user").fit_transform(parsed.users)
        items = IdIndex(parsed.items, "item").fit_transform(parsed.items)
        rng = check_random_state(self.random_state)
        # KFold's fold sizes: the first n % n_splits folds hold one extra rating.
        sizes = np.full(self.n_splits, n // self.n_splits, dtype=np.int64)
        sizes[: n % self.n_splits] += 1
        order = rng.permutation(n) if self.shuffle else np.arange(n)
        fold = np.empty(n, dtype=np.int64)
        fold[order] = np.repeat(np.arange(self.n_splits), sizes)
        # Scan each fold's ratings in random order, so which rating of a cold user
        # or item goes back to training is random too.
        scan = rng.permutation(n) if self.shuffle else np.arange(n)
        for f in range(self.n_splits):
            for ids in (users, items):
                # Moving ratings back to training only adds training ratings, so
                # fixing items after users keeps the users warm.
                fold[cold_keepers(fold == f, ids, scan)] = -1
        return fold

    def split(self, X, y=None, groups=None):
        """Generate indices to split the ratings into training and test sets.

        Parameters
        ----------
        X : array-like of shape (n_samples, 2)
            ``(user_id, item_id)`` pairs: ndarray, list or pandas DataFrame; ids
            may be any hashable values (ints, strings).
        y : array-like of shape (n_samples,), default=None
            Ignored, for API compatibility.
        groups : object
            Ignored, for API compatibility.

        Yields
        ------
        train : ndarray of int64
            Training indices of the split: every rating not in its test fold.
        test : ndarray of int64
            Test indices of the split; all their users and items occur in
            ``train``.
        """
        fold = self._folds(X)
        for f in range(self.n_splits):
            in_test = fold == f
            yield np.flatnonzero(~in_test), np.flatnonzero(in_test)
