"""The data contract of the top-N task: interactions, from either input form.

Every recommender of the top-N task (``...Recommender``) reads its input
through :func:`parse_interactions`, itself built on the rating contract's
:func:`~sklearn_autorec._data.parse_ratings`, so the rules of the rating task
hold here too (no silent summing, dropping or re-indexing):

* A scipy sparse matrix of shape ``(n_users, n_items)``: every *stored* entry is
  an interaction, its value its weight (a play count, a rating...).
* Pairs ``X`` of shape ``(n_samples, 2)`` holding ``(user_id, item_id)`` (ints
  or strings), with optional weights ``y``; without ``y`` every pair weighs 1.
* Weights must be finite and non-negative: a negative weight has no meaning as
  an amount of interaction (explicit dislikes are ratings: use
  ``positive_threshold``).
* ``positive_threshold=t`` turns ratings into positives: an interaction is a
  positive when its value is ``>= t``, and a positive weighs 1.  The others are
  not positives; they are left out of the model *and* of the training items
  excluded by ``recommend`` (as in Liang et al. 2018, who drop MovieLens ratings
  below 4 before anything else).  How many there were is kept in the fitted
  attribute ``n_below_threshold_``.
"""

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ._data import describe_id, find_duplicate, parse_ratings

__all__ = ["Interactions", "parse_interactions"]


@dataclass
class Interactions:
    """Interactions in canonical form, as parsed from either input form.

    Attributes
    ----------
    users, items : ndarray of shape (n,)
        Raw ids (int64 or unicode strings) of the kept interactions.
    weights : ndarray of float64 of shape (n,)
        Their weights (1 where no values were given, or above a threshold).
    shape : tuple or None
        The matrix shape when the input was a matrix.
    n_below_threshold : int
        Interactions below ``positive_threshold`` (not kept).
    """

    users: np.ndarray
    items: np.ndarray
    weights: np.ndarray
    shape: object = None
    n_below_threshold: int = 0
    sparse_array: bool = False

    @property
    def is_matrix(self):
        return self.shape is not None

    def __len__(self):
        return len(self.users)


def parse_interactions(X, y=None, *, positive_threshold=None, context="fit",
                       check_duplicates=True):
    """Parse either input form into :class:`Interactions`.

    Parameters
    ----------
    X : scipy sparse matrix of shape (n_users, n_items), or array-like of shape (n, 2)
    y : array-like of shape (n,) or None
        Weights (or ratings, with ``positive_threshold``) of pairs.
    positive_threshold : float or None
        Keep only the interactions whose value is ``>= positive_threshold``,
        with weight 1.  With pairs it needs ``y``.
    context : str
        The calling method, for messages.
    check_duplicates : bool
        Refuse a (user, item) pair given twice (matrices are checked by the
        rating contract already).
    """
    parsed = parse_ratings(X, y, context=context)
    if parsed.values is None:
        if positive_threshold is not None:
            raise ValueError(
                f"{context}: positive_threshold={positive_threshold!r} keeps the pairs "
                "whose rating is >= the threshold, but no ratings were given: pass them "
                "as y, or leave positive_threshold=None (every pair is then a positive).")
        weights = np.ones(len(parsed))
    else:
        weights = parsed.values
    if check_duplicates and not parsed.is_matrix:
        k = find_duplicate(parsed.users, parsed.items)
        if k is not None:
            raise ValueError(
                f"{context}: the pairs hold the (user, item) pair "
                f"({describe_id(parsed.users, k)}, {describe_id(parsed.items, k)}) more "
                "than once. Each pair must be given at most once: sum the weights of "
                "repeated interactions (e.g. into play counts) or drop the repeats first."
            )
    users, items = parsed.users, parsed.items
    n_below = 0
    if positive_threshold is not None:
        keep = weights >= positive_threshold
        n_below = int(len(keep) - keep.sum())
        users, items = users[keep], items[keep]
        weights = np.ones(int(keep.sum()))
    elif len(weights) and weights.min() < 0:
        k = int(np.argmin(weights))
        raise ValueError(
            f"{context}: interaction weights must be >= 0; the interaction "
            f"({describe_id(users, k)}, {describe_id(items, k)}) has weight "
            f"{float(weights[k])!r}. For ratings, set positive_threshold (e.g. 4 for "
            "MovieLens) to turn them into positives.")
    shape = parsed.matrix.shape if parsed.is_matrix else None
    return Interactions(users, items, weights, shape, n_below,
                        sparse_array=isinstance(parsed.matrix, sp.sparray))
