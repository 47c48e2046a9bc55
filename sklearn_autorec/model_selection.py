"""Splitting ratings and interactions for evaluation, and converting between input forms.

Rating prediction (the AutoRec paper's protocol):

* :func:`train_test_split` splits the stored entries of a sparse rating matrix into
  a training and a test matrix of the same shape (the AutoRec paper's random
  90/10 protocol on the matrix form).
* :class:`WarmStartKFold` is a scikit-learn cross-validation splitter over
  ``(user_id, item_id)`` pairs whose test folds hold only users and items that
  also have training ratings.

Top-N recommendation (the protocols of Liang et al. 2018 and He et al. 2017):

* :func:`per_user_holdout` holds out a random ``test_size`` of every user's
  interactions (weak generalisation: the test users are training users).
* :class:`PerUserHoldout` is the same holdout as a cross-validation splitter over
  ``(user_id, item_id)`` pairs, for ``GridSearchCV`` with a ranking scorer.
* :func:`held_out_users_split` holds out whole users, whose interactions are
  split into fold-in and test interactions (strong generalisation).
* :func:`leave_one_out_split` holds out each user's latest (or a random)
  interaction and samples negative items for it (the NCF protocol).

Sessions (the protocol of GRU4Rec and the session-rec framework):

* :func:`session_time_split` puts the sessions that end in the last days into
  the test set, and removes test clicks on items without a training click.
* :class:`SessionTimeSplit` is the same split as a cross-validation splitter
  over click rows (one or more test windows walking back in time), for
  ``GridSearchCV`` with :func:`~sklearn_autorec.metrics.make_session_scorer`.

Conversion:

* :func:`matrix_to_pairs` and :func:`pairs_to_matrix` convert between a sparse
  rating matrix and ``(row, col)`` pairs with ratings, never summing duplicates.

Every stored entry of a sparse matrix is a rating (or an interaction), whatever
its value: stored zeros and negative ratings are kept, the sparsity structure is
the mask, and row and column indices are never re-indexed (every split returns
matrices of the input's shape).
"""

import numbers

import numpy as np
import scipy.sparse as sp
from sklearn.model_selection import BaseCrossValidator
from sklearn.utils import check_random_state

from ._data import IdIndex, cold_keepers, find_duplicate, parse_ratings
from ._sessions import SessionTimeSplit, session_time_split
from ._interactions import parse_interactions

__all__ = [
    "PerUserHoldout",
    "SessionTimeSplit",
    "WarmStartKFold",
    "held_out_users_split",
    "leave_one_out_split",
    "matrix_to_pairs",
    "pairs_to_matrix",
    "per_user_holdout",
    "session_time_split",
    "train_test_split",
]


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


# ----------------------------------------------------------------------------- top-N protocols


def _check_interaction_matrix(X, context, what="X"):
    """Parse a sparse interaction matrix (the data contract), or raise a TypeError."""
    if not sp.issparse(X):
        raise TypeError(
            f"{context}: {what} must be a scipy sparse interaction matrix of shape "
            f"(n_users, n_items); got {type(X).__name__}. Build one from (user, item) "
            "pairs with pairs_to_matrix (or scipy.sparse.csr_matrix for a dense array: "
            "its stored entries become the interactions), or split pairs with "
            "PerUserHoldout."
        )
    return parse_ratings(X, context=context)


def _check_fraction(value, name, context):
    """``value`` as a float in the open interval (0, 1), or raise a ValueError."""
    if (
        isinstance(value, (bool, np.bool_))
        or not isinstance(value, (numbers.Real, np.floating))
        or not 0 < value < 1
    ):
        raise ValueError(
            f"{context}: {name} must be a fraction in (0, 1) (the share of each user's "
            f"interactions that goes to test); got {value!r}."
        )
    return float(value)


def _split_like(X, parsed, mask):
    """The interactions ``mask`` of ``parsed`` as a CSR of ``X``'s shape, kind and dtype."""
    data = parsed.values[mask].astype(X.dtype, copy=False)
    return _like(X, data, parsed.users[mask], parsed.items[mask])


def _per_user_test(users, n_users, test_size, rng):
    """Which interactions go to test: per user, ``int(test_size * n_u)`` at random.

    ``users`` holds the encoded user (``0..n_users-1``) of each interaction.  Each
    user's interactions are put in a uniformly random order (a random
    permutation of all of them, stably sorted by user) and the first
    ``floor(test_size * n_u)`` go to test, as in Liang et al.'s code.
    """
    n = len(users)
    order = rng.permutation(n)
    order = order[np.argsort(users[order], kind="stable")]
    counts = np.bincount(users, minlength=n_users)
    starts = np.cumsum(counts) - counts
    rank = np.arange(n) - np.repeat(starts, counts)
    n_test = np.floor(test_size * counts).astype(np.int64)
    is_test = np.zeros(n, dtype=bool)
    is_test[order] = rank < np.repeat(n_test, counts)
    return is_test


def _raise_empty_test(counts, test_size, context):
    most = int(counts.max()) if len(counts) else 0
    raise ValueError(
        f"{context}: test_size={test_size!r} puts no interaction in test: the most "
        f"active user has {most} interaction(s) and int({test_size!r} * {most}) = 0. "
        "Raise test_size, or keep only users with more interactions."
    )


def per_user_holdout(X, test_size=0.2, *, random_state=None):
    """Hold out a random share of every user's interactions (weak generalisation).

    For each user (row) of the interaction matrix ``X``, its interactions are
    put in a random order and the first ``int(test_size * n_u)`` of them (the
    floor, as in the code of Liang et al. 2018) go to the test matrix, the rest
    to the training matrix. So every user with interactions keeps at least one
    training interaction, and a user with fewer than ``1 / test_size``
    interactions has none in test. Each stored entry is an interaction,
    whatever its value, and the values (weights or ratings) are carried over
    unchanged.

    Parameters
    ----------
    X : scipy sparse matrix or array of shape (n_users, n_items)
        The interactions: every stored entry, its value its weight or rating.
        Must not store a (user, item) pair twice.
    test_size : float in (0, 1), default=0.2
        The share of each user's interactions that goes to test (rounded down).
    random_state : int, RandomState instance or None, default=None
        Seed of the random order of each user's interactions. Pass an int for
        reproducible splits.

    Returns
    -------
    X_train, X_test : CSR of shape (n_users, n_items)
        Disjoint: together they hold every interaction of ``X`` exactly once,
        with ``X``'s values and dtype, and row ``u`` of ``X_test`` holds exactly
        ``int(test_size * n_u)`` entries. A ``csr_array`` for a sparse array
        input, else a ``csr_matrix``.

    Raises
    ------
    TypeError
        If ``X`` is not a scipy sparse matrix or array.
    ValueError
        If ``X`` stores a pair twice, ``test_size`` is not in (0, 1), or no
        user has enough interactions to put one in test.

    See Also
    --------
    PerUserHoldout : The same holdout as a cross-validation splitter over pairs.
    held_out_users_split : Hold out whole users instead (strong generalisation).
    train_test_split : A random share of all the ratings, not per user.

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.sparse as sp
    >>> from sklearn_autorec.model_selection import per_user_holdout
    >>> X = sp.random(50, 30, density=0.3, format="csr", random_state=0)
    >>> X_train, X_test = per_user_holdout(X, test_size=0.2, random_state=0)
    >>> X_train.shape == X_test.shape == X.shape, X_train.nnz + X_test.nnz == X.nnz
    (True, True)
    >>> n_u = np.diff(X.indptr)
    >>> bool(np.all(np.diff(X_test.indptr) == np.floor(0.2 * n_u)))
    True
    """
    context = "per_user_holdout"
    parsed = _check_interaction_matrix(X, context)
    test_size = _check_fraction(test_size, "test_size", context)
    rng = check_random_state(random_state)
    is_test = _per_user_test(parsed.users, X.shape[0], test_size, rng)
    if not is_test.any():
        _raise_empty_test(np.bincount(parsed.users, minlength=X.shape[0]), test_size,
                          context)
    return _split_like(X, parsed, ~is_test), _split_like(X, parsed, is_test)


class PerUserHoldout(BaseCrossValidator):
    """Repeated per-user holdout over ``(user_id, item_id)`` pairs, for top-N tuning.

    Each of the ``n_splits`` splits is an independent :func:`per_user_holdout`
    of the pairs (a repeated random holdout, like
    :class:`~sklearn.model_selection.ShuffleSplit`, not a K-fold: a pair may be
    in several test sets or none): the interactions of every user are put in a
    random order and the first ``int(test_size * n_u)`` go to test. Every test
    user therefore has training interactions, so a recommender is scored on the
    users it trained on (weak generalisation), e.g. by
    :func:`~sklearn_autorec.metrics.make_ranking_scorer` in
    :class:`~sklearn.model_selection.GridSearchCV`. Users with fewer than
    ``1 / test_size`` interactions are never in test.

    Parameters
    ----------
    n_splits : int, default=5
        Number of independent splits; at least 1.
    test_size : float in (0, 1), default=0.2
        The share of each user's interactions in each test set (rounded down).
    random_state : int, RandomState instance or None, default=None
        Seed of the splits. Pass an int for the same splits at every call of
        :meth:`split`.

    See Also
    --------
    per_user_holdout : The same holdout of a sparse interaction matrix.
    WarmStartKFold : K-fold over rating pairs keeping users and items warm.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.model_selection import GridSearchCV
    >>> from sklearn_autorec import EASERecommender
    >>> from sklearn_autorec.metrics import make_ranking_scorer
    >>> from sklearn_autorec.model_selection import PerUserHoldout
    >>> rng = np.random.default_rng(0)
    >>> X = np.unique(rng.integers(0, 40, size=(600, 2)), axis=0)
    >>> cv = PerUserHoldout(n_splits=2, test_size=0.2, random_state=0)
    >>> for train, test in cv.split(X):
    ...     assert set(X[test, 0]) <= set(X[train, 0])
    >>> search = GridSearchCV(EASERecommender(), {"alpha": [1.0, 100.0]}, cv=cv,
    ...                       scoring=make_ranking_scorer("ndcg", k=10)).fit(X)
    >>> sorted(search.best_params_)
    ['alpha']
    """

    def __init__(self, n_splits=5, *, test_size=0.2, random_state=None):
        if not isinstance(n_splits, numbers.Integral) or isinstance(n_splits, bool):
            raise ValueError(
                f"n_splits must be an integer; got {n_splits!r} of type "
                f"{type(n_splits).__name__}."
            )
        if n_splits < 1:
            raise ValueError(f"n_splits={n_splits}: there must be at least 1 split.")
        self.n_splits = int(n_splits)
        self.test_size = _check_fraction(test_size, "test_size", "PerUserHoldout")
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

    def split(self, X, y=None, groups=None):
        """Generate indices to split the interactions into training and test sets.

        Parameters
        ----------
        X : array-like of shape (n_samples, 2)
            ``(user_id, item_id)`` pairs: ndarray, list or pandas DataFrame; ids
            may be any hashable values (ints, strings). Each pair at most once.
            Not a sparse matrix: convert one with :func:`matrix_to_pairs`.
        y : array-like of shape (n_samples,), default=None
            Ignored (the weights travel with their pairs), for API compatibility.
        groups : object
            Ignored, for API compatibility.

        Yields
        ------
        train : ndarray of int64
            Training indices of the split, sorted.
        test : ndarray of int64
            Test indices of the split, sorted: ``int(test_size * n_u)`` pairs of
            each user ``u``, whose other pairs are all in ``train``.
        """
        context = "PerUserHoldout.split"
        if sp.issparse(X):
            raise TypeError(
                f"{context}: X is a sparse matrix, whose rows (users) scikit-learn "
                "would index as samples; PerUserHoldout splits (user_id, item_id) "
                "pairs. Convert the matrix with X_pairs, weights = matrix_to_pairs(X) "
                "and pass X_pairs (and the weights as y), or split the matrix itself "
                "with per_user_holdout."
            )
        parsed = parse_interactions(X, context=context)
        users = IdIndex(parsed.users, "user").fit_transform(parsed.users)
        n_users = int(users.max()) + 1 if len(users) else 0
        counts = np.bincount(users, minlength=n_users)
        if not np.any(np.floor(self.test_size * counts) >= 1):
            _raise_empty_test(counts, self.test_size, context)
        rng = check_random_state(self.random_state)
        for _ in range(self.n_splits):
            is_test = _per_user_test(users, n_users, self.test_size, rng)
            yield np.flatnonzero(~is_test), np.flatnonzero(is_test)


def _check_n_heldout(n_heldout_users, n_active, context):
    """The number of held-out users, from a count or a fraction of ``n_active``."""
    if isinstance(n_heldout_users, (bool, np.bool_)):
        bad = True
    elif isinstance(n_heldout_users, (numbers.Integral, np.integer)):
        n = int(n_heldout_users)
        if not 1 <= n <= n_active - 1:
            raise ValueError(
                f"{context}: n_heldout_users={n} must be between 1 and {n_active - 1}: "
                f"X has {n_active} users with interactions and at least one must stay "
                "in training. Or pass a fraction in (0, 1)."
            )
        return n
    elif isinstance(n_heldout_users, (numbers.Real, np.floating)):
        if not 0 < n_heldout_users < 1:
            raise ValueError(
                f"{context}: n_heldout_users={n_heldout_users!r} must be a number of "
                "users (int) or a fraction in (0, 1) of the users with interactions."
            )
        n = int(round(n_heldout_users * n_active))
        if not 1 <= n <= n_active - 1:
            raise ValueError(
                f"{context}: n_heldout_users={n_heldout_users!r} of the {n_active} users "
                f"with interactions is {n} users; choose a fraction that holds out at "
                "least one user and keeps one in training."
            )
        return n
    else:
        bad = True
    if bad:
        raise ValueError(
            f"{context}: n_heldout_users must be a number of users (int) or a fraction "
            f"in (0, 1); got {n_heldout_users!r}."
        )


def held_out_users_split(X, n_heldout_users, *, test_size=0.2, unseen_items="keep",
                         random_state=None):
    """Hold out whole users, split into fold-in and test interactions (strong generalisation).

    The protocol of Liang et al. (2018, "Variational autoencoders for
    collaborative filtering"): ``n_heldout_users`` users, drawn uniformly among
    the users with interactions, are removed from training (their rows of
    ``X_train`` are empty); the interactions of each of them are put in a random
    order and split as in :func:`per_user_holdout`: the first
    ``int(test_size * n_u)`` go to ``X_test``, the rest to ``X_fold_in``. A
    model fitted on ``X_train`` then ranks the held-out users' items from their
    fold-in interactions alone, without refitting, and is scored on their test
    interactions:
    ``ranking_report(model, X_test, X_fold_in=X_fold_in)``.

    Parameters
    ----------
    X : scipy sparse matrix or array of shape (n_users, n_items)
        The interactions: every stored entry, its value its weight or rating.
        Must not store a (user, item) pair twice.
    n_heldout_users : int or float in (0, 1)
        The number of held-out users (int), or their share (float, rounded to
        the nearest count) of the users with interactions. At least one user
        is held out and one kept for training.
    test_size : float in (0, 1), default=0.2
        The share of each held-out user's interactions that goes to ``X_test``
        (rounded down); the rest is the fold-in.
    unseen_items : {"keep", "drop"}, default="keep"
        What to do with the held-out users' interactions with items that have
        no interaction in ``X_train`` (the model cannot know them). "keep"
        keeps them: in ``X_test`` they are relevant items the model cannot
        rank, so they count as misses in the metrics; in ``X_fold_in`` they are
        input the model has no weights for (``recommend_new`` raises on them
        unless ``unknown_items="ignore"``, and so does ``ranking_report`` with
        ``X_fold_in``, which has no such option). "drop" removes them before the
        fold-in/test split, so the split is of the remaining interactions (Liang
        et al.'s preprocessing, which reports the metrics on known items only;
        a held-out user left with no interaction has empty rows everywhere).
        An item is seen when ``X_train`` stores any entry for it, whatever its
        value: with ratings and a model's ``positive_threshold``, keep only the
        positives in ``X`` first (as Liang et al. do), or an item rated below
        the threshold in training only is still unknown to the model.
    random_state : int, RandomState instance or None, default=None
        Seed of the choice of the held-out users and of their splits.

    Returns
    -------
    X_train : CSR of shape (n_users, n_items)
        The interactions of the users not held out.
    X_fold_in : CSR of shape (n_users, n_items)
        The held-out users' fold-in interactions (other rows empty).
    X_test : CSR of shape (n_users, n_items)
        The held-out users' test interactions (other rows empty).
        The three are disjoint, with ``X``'s values and dtype; with
        ``unseen_items="keep"`` together they hold every interaction of ``X``.
        ``csr_array`` for a sparse array input, else ``csr_matrix``.

    Raises
    ------
    TypeError
        If ``X`` is not a scipy sparse matrix or array.
    ValueError
        If ``X`` stores a pair twice, ``n_heldout_users`` is not a count in
        ``[1, n_active_users - 1]`` or a fraction in (0, 1), ``test_size`` is not
        in (0, 1), ``unseen_items`` is neither "keep" nor "drop", or no
        held-out interaction lands in ``X_test``.

    See Also
    --------
    per_user_holdout : Hold out interactions of every user (weak generalisation).
    sklearn_autorec.metrics.ranking_report : Scores with ``X_fold_in``.

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.sparse as sp
    >>> from sklearn_autorec.model_selection import held_out_users_split
    >>> X = sp.random(100, 40, density=0.2, format="csr", random_state=0)
    >>> X_train, X_fold_in, X_test = held_out_users_split(
    ...     X, n_heldout_users=20, test_size=0.2, random_state=0)
    >>> X_train.shape == X_fold_in.shape == X_test.shape == X.shape
    True
    >>> held_out = np.flatnonzero(np.diff(X_fold_in.indptr))
    >>> len(held_out), int(np.diff(X_train.indptr)[held_out].sum())
    (20, 0)
    >>> X_train.nnz + X_fold_in.nnz + X_test.nnz == X.nnz
    True

    Score a model on the held-out users from their fold-in interactions:

    >>> from sklearn_autorec import EASERecommender
    >>> from sklearn_autorec.metrics import ranking_report
    >>> X.data[:] = 1.0
    >>> X_train, X_fold_in, X_test = held_out_users_split(
    ...     X, n_heldout_users=0.2, unseen_items="drop", random_state=0)
    >>> model = EASERecommender(alpha=10.0).fit(X_train)
    >>> report = ranking_report(model, X_test, X_fold_in=X_fold_in, k=10)
    >>> sorted(report)
    ['n_users', 'ndcg@10', 'recall@10']
    """
    context = "held_out_users_split"
    parsed = _check_interaction_matrix(X, context)
    test_size = _check_fraction(test_size, "test_size", context)
    if not isinstance(unseen_items, str) or unseen_items not in ("keep", "drop"):
        raise ValueError(
            f"{context}: unseen_items must be 'keep' or 'drop'; got {unseen_items!r}."
        )
    n_users, n_items = X.shape
    counts = np.bincount(parsed.users, minlength=n_users)
    active = np.flatnonzero(counts)
    n_held = _check_n_heldout(n_heldout_users, len(active), context)
    rng = check_random_state(random_state)
    is_held = np.zeros(n_users, dtype=bool)
    is_held[rng.choice(active, size=n_held, replace=False)] = True
    in_held = is_held[parsed.users]
    in_eval = in_held
    if unseen_items == "drop":
        trained = np.zeros(n_items, dtype=bool)
        trained[parsed.items[~in_held]] = True
        in_eval = in_held & trained[parsed.items]
    positions = np.flatnonzero(in_eval)
    eval_users = parsed.users[positions]
    is_test = np.zeros(len(parsed), dtype=bool)
    is_test[positions[_per_user_test(eval_users, n_users, test_size, rng)]] = True
    if not is_test.any():
        _raise_empty_test(np.bincount(eval_users, minlength=n_users), test_size, context)
    is_fold_in = in_eval & ~is_test
    return (_split_like(X, parsed, ~in_held), _split_like(X, parsed, is_fold_in),
            _split_like(X, parsed, is_test))


def _check_timestamps(timestamps, X, parsed, context):
    """Each interaction's time, in ``parsed``'s (CSR) order, with its own dtype."""
    if not sp.issparse(timestamps):
        raise TypeError(
            f"{context}: timestamps must be a scipy sparse matrix with exactly X's "
            "sparsity pattern, holding each interaction's time; got "
            f"{type(timestamps).__name__}."
        )
    if timestamps.shape != X.shape:
        raise ValueError(
            f"{context}: timestamps has shape {timestamps.shape} but X has shape "
            f"{X.shape}; it must store one time per interaction of X, at the same "
            "(row, column)."
        )
    times = parse_ratings(timestamps, context=context)
    same = len(times) == len(parsed)
    if same:
        differ = (times.users != parsed.users) | (times.items != parsed.items)
        same = not differ.any()
    if not same:
        x_pairs = set(zip(parsed.users.tolist(), parsed.items.tolist()))
        t_pairs = set(zip(times.users.tolist(), times.items.tolist()))
        only_x, only_t = sorted(x_pairs - t_pairs), sorted(t_pairs - x_pairs)
        first = (f"X stores {only_x[0]} but timestamps does not" if only_x
                 else f"timestamps stores {only_t[0]} but X does not")
        raise ValueError(
            f"{context}: timestamps must store an entry exactly where X does (one time "
            f"per interaction); X stores {len(parsed)} entries and timestamps "
            f"{len(times)}, and {first} (a stored zero counts as an entry). Build "
            "both from the same (row, column) pairs."
        )
    # The raw values in CSR order (no float64 round trip: int64 nanoseconds stay
    # exact); there are no duplicates to sum, and explicit zeros are kept.
    csr = timestamps.tocsr(copy=True)
    csr.sort_indices()
    return np.asarray(csr.data)


def _latest_per_user(indptr, times, rng):
    """CSR position of the latest entry of each non-empty row, ties drawn at random.

    With ``times`` None every entry ties. Linear time: per row, the largest
    random key among the entries of the latest time.
    """
    counts = np.diff(indptr)
    starts = indptr[:-1][counts > 0]
    rows = np.repeat(np.arange(len(counts)), counts)
    key = rng.random_sample(int(indptr[-1]))
    if times is not None:
        latest = np.repeat(np.maximum.reduceat(times, starts), counts[counts > 0])
        key[times != latest] = -1.0
    best = np.repeat(np.maximum.reduceat(key, starts), counts[counts > 0])
    hits = np.flatnonzero(key == best)
    first = np.ones(len(hits), dtype=bool)
    first[1:] = rows[hits[1:]] != rows[hits[:-1]]
    return hits[first]


def _sample_negatives(csr, users, n_negatives, rng, context):
    """``n_negatives`` distinct items per user of ``users``, none stored in ``csr``.

    Uniform without replacement over the items a user never interacted with:
    Floyd's algorithm draws positions ``0..n_free-1`` of the user's free items
    (vectorised over the users), which are then mapped to item indices through
    the user's sorted interacted items.
    """
    n_items = csr.shape[1]
    counts = np.diff(csr.indptr)
    free = n_items - counts[users]
    short = free < n_negatives
    if short.any():
        k = int(np.flatnonzero(short)[0])
        raise ValueError(
            f"{context}: n_negatives={n_negatives} but user (row) {int(users[k])} has "
            f"interacted with {int(counts[users[k]])} of the {n_items} items, leaving only "
            f"{int(free[k])} it never interacted with ({int(short.sum())} test user(s) "
            "have too few). Lower n_negatives, or keep only users with fewer "
            "interactions."
        )
    n_rows, m = len(users), n_negatives
    picks = np.empty((n_rows, m), dtype=np.int64)
    for i in range(m):
        top = free - m + i  # draw uniformly in 0..top
        draw = np.minimum((rng.random_sample(n_rows) * (top + 1)).astype(np.int64), top)
        taken = (picks[:, :i] == draw[:, None]).any(axis=1)
        picks[:, i] = np.where(taken, top, draw)
    # The j-th free item of a user is j + #{k : s_k - k <= j} for its sorted items s.
    rows = np.repeat(np.arange(csr.shape[0], dtype=np.int64), counts)
    rank = np.arange(csr.nnz, dtype=np.int64) - np.repeat(csr.indptr[:-1], counts)
    keys = rows * (n_items + 1) + (csr.indices.astype(np.int64) - rank)
    query = users[:, None] * (n_items + 1) + picks
    below = np.searchsorted(keys, query, side="right") - csr.indptr[users][:, None]
    negatives = picks + below
    shuffle = np.argsort(rng.random_sample((n_rows, m)), axis=1)
    return np.take_along_axis(negatives, shuffle, axis=1)


def leave_one_out_split(X, *, timestamps=None, n_negatives=None, random_state=None):
    """Hold out each user's latest interaction, with sampled negatives (the NCF protocol).

    Of every user (row) with at least two interactions, one goes to the test
    matrix: the latest by ``timestamps`` (ties broken at random), or a random
    one when ``timestamps`` is None; all other interactions, including those of
    users with a single interaction, go to the training matrix. With
    ``n_negatives=m``, each test user also gets ``m`` items it never interacted
    with in ``X``, drawn uniformly without replacement, against which its test
    item is ranked in He et al. (2017, "Neural collaborative filtering": 99
    negatives, hit rate and NDCG at 10).

    Parameters
    ----------
    X : scipy sparse matrix or array of shape (n_users, n_items)
        The interactions: every stored entry, its value its weight or rating.
        Must not store a (user, item) pair twice.
    timestamps : scipy sparse matrix or array of shape (n_users, n_items), default=None
        The time of each interaction: an entry exactly where ``X`` stores one
        (stored zeros count), any numbers that order in time (e.g. Unix
        seconds). None: the test interaction is drawn at random.
    n_negatives : int or None, default=None
        Number of negative items sampled per test user, at least 1; None
        samples none.
    random_state : int, RandomState instance or None, default=None
        Seed of the random choices: the test interaction without
        ``timestamps``, ties between latest interactions, and the negatives.

    Returns
    -------
    X_train, X_test : CSR of shape (n_users, n_items)
        Disjoint: together they hold every interaction of ``X`` exactly once,
        with ``X``'s values and dtype; each row of ``X_test`` holds one entry
        (users with at least two interactions) or none. ``csr_array`` for a
        sparse array input, else ``csr_matrix``.
    negatives : ndarray of int64 of shape (n_test_users, n_negatives), or None
        Column indices of ``X`` (in random order along a row): row ``j`` belongs
        to the ``j``-th user with a test item in increasing user order, i.e.
        user ``np.flatnonzero(np.diff(X_test.indptr))[j]``; none of them is
        stored in that user's row of ``X`` (test item included), and no item
        repeats within a row. Columns of ``X`` with no interaction at all are
        candidates too: drop them from ``X`` first if the model cannot score
        them. None when ``n_negatives`` is None.

    Raises
    ------
    TypeError
        If ``X`` or ``timestamps`` is not a scipy sparse matrix or array.
    ValueError
        If ``X`` (or ``timestamps``) stores a pair twice, ``timestamps`` has
        another shape or sparsity pattern than ``X``, ``n_negatives`` is not a
        positive int, a test user has fewer than ``n_negatives`` items it never
        interacted with, or no user has two interactions.

    See Also
    --------
    per_user_holdout : Hold out a share of every user's interactions.

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.sparse as sp
    >>> from sklearn_autorec.model_selection import leave_one_out_split
    >>> X = sp.csr_matrix(np.array([[1, 1, 1, 0, 0, 0],
    ...                             [0, 1, 0, 1, 0, 0],
    ...                             [0, 0, 0, 0, 1, 0]], dtype=float))
    >>> times = X.copy()
    >>> times.data = np.array([10.0, 30.0, 20.0, 1.0, 5.0, 7.0])
    >>> X_train, X_test, negatives = leave_one_out_split(
    ...     X, timestamps=times, n_negatives=2, random_state=0)
    >>> X_test.toarray().astype(int).tolist()
    [[0, 1, 0, 0, 0, 0], [0, 0, 0, 1, 0, 0], [0, 0, 0, 0, 0, 0]]
    >>> negatives.shape
    (2, 2)
    >>> bool(np.all(X[[[0], [1]], negatives].toarray() == 0))
    True
    """
    context = "leave_one_out_split"
    parsed = _check_interaction_matrix(X, context)
    if n_negatives is not None and (
        isinstance(n_negatives, (bool, np.bool_))
        or not isinstance(n_negatives, (numbers.Integral, np.integer))
        or n_negatives < 1
    ):
        raise ValueError(
            f"{context}: n_negatives must be a positive int (negative items sampled per "
            f"test user; 99 in the NCF protocol) or None; got {n_negatives!r}."
        )
    times = None
    if timestamps is not None:
        times = _check_timestamps(timestamps, X, parsed, context)
    rng = check_random_state(random_state)
    n_users = X.shape[0]
    counts = np.bincount(parsed.users, minlength=n_users)
    test_users = np.flatnonzero(counts >= 2)
    if len(test_users) == 0:
        raise ValueError(
            f"{context}: no user of X has two interactions, so none can give one to "
            "test while keeping one for training."
        )
    latest = _latest_per_user(parsed.matrix.indptr, times, rng)
    is_test = np.zeros(len(parsed), dtype=bool)
    is_test[latest[counts[counts > 0] >= 2]] = True
    negatives = None
    if n_negatives is not None:
        negatives = _sample_negatives(parsed.matrix, test_users, int(n_negatives), rng,
                                      context)
    return _split_like(X, parsed, ~is_test), _split_like(X, parsed, is_test), negatives
