"""The popularity baseline of the top-N task."""

import numpy as np

from ._recommender import RecommenderBase

__all__ = ["PopularityRecommender"]


class PopularityRecommender(RecommenderBase):
    """Recommend the most popular items: the baseline every top-N model must beat.

    An item's score is the sum of its training weights (its number of
    interactions when every interaction weighs 1), the same for every user.

    Parameters
    ----------
    positive_threshold : float, default=None
        With ratings as values, only the interactions rated ``>=
        positive_threshold`` are positives (weight 1); the others are left out
        (see :doc:`the top-N guide </topn>`).  None: every interaction is a
        positive, its value its weight.

    Attributes
    ----------
    item_popularity_ : ndarray of shape ``(n_items_,)``
        The score of each item.
    user_ids_, item_ids_ : ndarray
        Raw ids of the encoded users and items.
    n_users_, n_items_ : int
    seen_indptr_, seen_indices_ : ndarray
        CSR structure of the training items of each user.
    n_below_threshold_ : int
        Interactions left out by ``positive_threshold``.

    Examples
    --------
    >>> from sklearn_autorec import PopularityRecommender
    >>> X = [[0, "a"], [0, "b"], [1, "a"], [2, "c"], [2, "a"]]
    >>> model = PopularityRecommender().fit(X)
    >>> model.recommend(1, n=2)
    (array(['b', 'c'], dtype='<U1'), array([1., 1.]))
    """

    _parameter_constraints = {**RecommenderBase._parameter_constraints}

    def __init__(self, *, positive_threshold=None):
        self.positive_threshold = positive_threshold

    def _fit_encoded(self, data):
        self.item_popularity_ = np.asarray(data.csr.sum(axis=0)).ravel()

    def _score_users(self, users):
        return np.broadcast_to(self.item_popularity_, (len(users), self.n_items_))

    def _score_new(self, rows):
        return np.broadcast_to(self.item_popularity_, (rows.shape[0], self.n_items_))
