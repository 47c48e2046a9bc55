"""
Tuning a top-N recommender with GridSearchCV and ranking scorers
================================================================

:func:`~sklearn_autorec.metrics.make_ranking_scorer` turns a ranking metric
into a scikit-learn scorer, and
:class:`~sklearn_autorec.model_selection.PerUserHoldout` splits
``(user_id, item_id)`` pairs the way the top-N protocol does (a random 20% of
every user's interactions to test, so every test user is a training user).
Together they let :class:`~sklearn.model_selection.GridSearchCV` tune a
recommender as it tunes any estimator. Here it searches the penalty ``alpha``
of :class:`~sklearn_autorec.EASERecommender` with two scorers at once,
NDCG@20 (which picks the model: ``refit``) and Recall@20, and
:func:`~sklearn.model_selection.cross_validate` scores
:class:`~sklearn_autorec.PopularityRecommender` on the same splits as a
reference.

The data is a small slice of MovieLens latest-small (shipped with the
package), so the search takes seconds; the best ``alpha`` here says nothing
about the best one on other data (``EASERecommender()`` chooses its own
``alpha`` on held-out items by default; see :doc:`/topn` and
:doc:`/topn_results`).
"""

# %%
# Data: the positives (ratings of 4 or more) over the 600 items with the most
# positives, as ``(user, item)`` pairs; users with fewer than 5 positives left
# out.
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.model_selection import GridSearchCV, cross_validate

from sklearn_autorec import EASERecommender, PopularityRecommender
from sklearn_autorec.datasets import load_movielens
from sklearn_autorec.metrics import make_ranking_scorer
from sklearn_autorec.model_selection import PerUserHoldout, matrix_to_pairs

R = load_movielens("ml-latest-small").ratings
liked = (R >= 4).astype(np.float64)
liked.eliminate_zeros()
liked = liked[:, np.sort(np.argsort(liked.getnnz(axis=0))[-600:])]
liked = liked[liked.getnnz(axis=1) >= 5]
X, _ = matrix_to_pairs(liked)  # every pair is a positive of weight 1
print(f"{len(X)} (user, item) pairs of {liked.shape[0]} users and {liked.shape[1]} items")

# %%
# The search: 9 values of ``alpha`` on a log scale, 3 per-user holdouts, two
# ranking scorers; the model refitted on all the pairs is the one of the best
# mean NDCG@20.
scoring = {"NDCG@20": make_ranking_scorer("ndcg", k=20),
           "Recall@20": make_ranking_scorer("recall", k=20)}
cv = PerUserHoldout(n_splits=3, test_size=0.2, random_state=0)
alphas = np.logspace(0, 4, 9)
search = GridSearchCV(EASERecommender(), {"alpha": alphas}, cv=cv, scoring=scoring,
                      refit="NDCG@20")
search.fit(X)
print(f"best alpha {search.best_params_['alpha']:g}, "
      f"mean NDCG@20 {search.best_score_:.3f}")
popularity = cross_validate(PopularityRecommender(), X, cv=cv, scoring=scoring)

results = pd.DataFrame(search.cv_results_)
print(results[["param_alpha", "mean_test_NDCG@20", "std_test_NDCG@20",
               "mean_test_Recall@20"]].to_string(index=False))

# %%
# Mean test score of every ``alpha`` over the 3 splits, with their standard
# deviation as error bars; the dashed line is the popularity ranking on the
# same splits.
fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharex=True)
for ax, name in zip(axes, scoring):
    ax.errorbar(alphas, results[f"mean_test_{name}"], yerr=results[f"std_test_{name}"],
                marker="o", capsize=3, label="EASERecommender")
    ax.axhline(popularity[f"test_{name}"].mean(), color="gray", linestyle="--",
               label="PopularityRecommender")
    ax.axvline(search.best_params_["alpha"], color="tab:red", linestyle=":",
               label="best alpha (by NDCG@20)")
    ax.set(xscale="log", xlabel="alpha", ylabel=f"mean test {name}",
           title=f"GridSearchCV: {name}")
axes[0].legend(loc="upper left", fontsize="small")
fig.tight_layout()
plt.show()
