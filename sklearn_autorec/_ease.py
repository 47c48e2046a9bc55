"""EASE (Steck, WWW 2019): the closed-form item-item autoencoder."""

from numbers import Real

import numpy as np
import scipy.linalg
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions

from ._recommender import RecommenderBase, validation_holdout

__all__ = ["EASERecommender"]

#: ``alpha="auto"`` starts its search at this multiple of the mean diagonal of
#: the Gram matrix (an item's mean number of interactions).
AUTO_ALPHA_START = 4.0
#: ... and multiplies or divides alpha by this factor while validation improves.
AUTO_ALPHA_STEP = 2.0
#: The auto search holds out this share of each user's interactions ...
AUTO_VALIDATION_FRACTION = 0.2
#: ... of at most this many users, and scores NDCG@100 on them.
AUTO_VALIDATION_USERS = 5000


def _closest(values, target):
    return min(values, key=lambda v: abs(np.log(v / target)))


def _fill_upper(a, block=1024):
    """Copy the lower triangle of square ``a`` onto its upper one, in place, by blocks."""
    n = a.shape[0]
    for start in range(0, n, block):
        stop = min(start + block, n)
        a[start:stop, stop:] = a[stop:, start:stop].T
        diag = a[start:stop, start:stop]
        diag[...] = np.tril(diag) + np.tril(diag, -1).T


def _ease_weights(gram, alpha):
    """``B = I - P diag(1/diag(P))`` with ``P = (G + alpha I)^-1``, zero diagonal.

    ``gram`` is not modified.  One Cholesky factorisation and inverse
    (LAPACK ``potrf``/``potri``, ``O(n_items^3)``), in float64.
    """
    p = np.array(gram, dtype=np.float64, order="F", copy=True)
    p[np.diag_indices_from(p)] += alpha
    p, info = scipy.linalg.lapack.dpotrf(p, lower=True, overwrite_a=True, clean=False)
    if info == 0:
        p, info = scipy.linalg.lapack.dpotri(p, lower=True, overwrite_c=True)
    if info != 0:  # pragma: no cover - G + alpha I is positive definite for alpha > 0
        raise np.linalg.LinAlgError(f"EASE: the Cholesky inverse failed (info={info}).")
    _fill_upper(p)  # potri fills the lower triangle only
    diag = np.diag(p).copy()
    p /= -diag[None, :]
    p[np.diag_indices_from(p)] = 0.0
    return p


class EASERecommender(RecommenderBase):
    """EASE: an item-item linear autoencoder fitted in closed form (Steck, 2019).

    Learns the item-item weights ``B`` (zero diagonal) minimising
    ``||X - X B||_F^2 + alpha ||B||_F^2``, whose solution is
    ``B = I - P diag(1/diag(P))`` with ``P = (X^T X + alpha I)^-1``.  A user's
    scores are ``x_u B``, where ``x_u`` are its interactions: a new user is
    scored from its interactions alone (:meth:`recommend_new`), nothing to
    refit.

    Memory and time are those of ``n_items x n_items`` float64 matrices (the
    Gram matrix, its inverse and, while the Gram matrix is formed, its sparse
    copy: about ``3 * 8 * n_items^2`` bytes at the peak) and one
    ``O(n_items^3)`` Cholesky inverse per alpha.  Above ``max_memory_gb`` the fit
    refuses with a ``MemoryError`` before allocating anything.

    Parameters
    ----------
    alpha : float or "auto", default="auto"
        The L2 penalty ``lambda`` of the paper.  "auto" chooses it on a
        validation split of the training data: 20% of the interactions of up to
        5,000 users are held out, ``alpha`` starts at 4 times an item's mean
        number of interactions (the mean diagonal of ``X^T X``) and is halved
        (or else doubled) while NDCG@100 on the held-out items improves; the best
        value and its two worse neighbours are refined to the vertex of a
        parabola in ``log(alpha)``, and the model is refitted on all the data with
        it.  The value is in ``alpha_``, the trials in ``alpha_path_``.
    positive_threshold : float, default=None
        With ratings as values, only the interactions rated ``>=
        positive_threshold`` are positives (weight 1); the others are left out.
        None: every interaction is a positive, its value its weight (EASE uses
        the weights as the entries of ``X``).
    max_memory_gb : float, default=8.0
        Refuse (``MemoryError``) data sets whose three ``n_items x n_items``
        float64 matrices would need more (8 GB: up to about 18,000 items).
    random_state : int, RandomState instance or None, default=None
        Seed of the validation split of ``alpha="auto"``.

    Attributes
    ----------
    coef_ : ndarray of shape ``(n_items_, n_items_)``
        ``B``: the scores of a user are ``x_u @ coef_``.
    alpha_ : float
        The penalty used.
    alpha_path_ : list of dict
        With ``alpha="auto"``: each alpha tried on the validation split and its
        ``ndcg@100``.
    user_ids_, item_ids_ : ndarray
        Raw ids of the encoded users and items.
    n_users_, n_items_ : int
    seen_indptr_, seen_indices_, seen_weights_ : ndarray
        Training interactions of each user, in CSR form.
    n_below_threshold_ : int
        Interactions left out by ``positive_threshold``.

    References
    ----------
    H. Steck. Embarrassingly Shallow Autoencoders for Sparse Data. WWW 2019.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_autorec import EASERecommender
    >>> X = np.array([[0, 0], [0, 1], [1, 0], [1, 1], [2, 0], [2, 2]])
    >>> model = EASERecommender(alpha=1.0).fit(X)
    >>> items, scores = model.recommend(0, n=1)
    >>> items
    array([2])
    >>> new_users, items, scores = model.recommend_new([["new", 1]], n=1)
    >>> new_users, items
    (array(['new'], dtype='<U3'), array([[0]]))
    """

    _parameter_constraints = {
        **RecommenderBase._parameter_constraints,
        "alpha": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "max_memory_gb": [Interval(Real, 0, None, closed="neither")],
        "random_state": ["random_state"],
    }

    def __init__(self, alpha="auto", *, positive_threshold=None, max_memory_gb=8.0,
                 random_state=None):
        self.alpha = alpha
        self.positive_threshold = positive_threshold
        self.max_memory_gb = max_memory_gb
        self.random_state = random_state

    def _check_memory(self, n_items):
        need = 3 * 8 * n_items ** 2 / 1e9
        if need > self.max_memory_gb:
            raise MemoryError(
                f"EASE needs three {n_items} x {n_items} float64 matrices ({need:.1f} GB) "
                f"but max_memory_gb={self.max_memory_gb}; raise max_memory_gb if the "
                "machine has that memory, or keep fewer items (e.g. those with at least "
                "a few interactions).")

    def _fit_encoded(self, data):
        self._check_memory(data.n_items)
        X = data.csr
        if self.alpha == "auto":
            self.alpha_, self.alpha_path_ = self._auto_alpha(X)
        else:
            self.alpha_, self.alpha_path_ = float(self.alpha), []
        self.coef_ = _ease_weights((X.T @ X).toarray(), self.alpha_)

    def _auto_alpha(self, X):
        seed = check_random_state(self.random_state).randint(2 ** 31)
        train, validation = validation_holdout(X, AUTO_VALIDATION_FRACTION, seed,
                                               max_users=AUTO_VALIDATION_USERS)
        gram = (train.T @ train).toarray()
        mean_diag = max(float(np.mean(np.diag(gram))), 1e-12)
        path = []

        def trial(alpha):
            B = _ease_weights(gram, alpha)
            score = validation.score(lambda rows: validation.inputs[rows] @ B)
            path.append({"alpha": alpha, "ndcg@100": score})
            return score

        # Down from the start while it improves, else up from it.
        alpha = AUTO_ALPHA_START * mean_diag
        best = trial(alpha)
        lower = alpha / AUTO_ALPHA_STEP
        score = trial(lower)
        if score > best:
            best, alpha, step = score, lower, 1.0 / AUTO_ALPHA_STEP
        else:
            step = AUTO_ALPHA_STEP
        while True:
            score = trial(alpha * step)
            if score <= best:
                break
            best, alpha = score, alpha * step
        # The best alpha is bracketed by two worse ones: refine it to the vertex
        # of the parabola through the three, in log(alpha).
        tried = {p["alpha"]: p["ndcg@100"] for p in path}
        y_lo = tried[_closest(tried, alpha / AUTO_ALPHA_STEP)]
        y_hi = tried[_closest(tried, alpha * AUTO_ALPHA_STEP)]
        curvature = y_lo - 2.0 * best + y_hi
        if curvature < 0:
            shift = float(np.clip((y_lo - y_hi) / (2.0 * curvature), -0.5, 0.5))
            alpha *= AUTO_ALPHA_STEP ** shift
        return alpha, path

    def _score_users(self, users):
        return self._user_rows(users) @ self.coef_

    def _score_new(self, rows):
        return rows @ self.coef_

    def _item_vectors(self):
        return self.coef_.T
