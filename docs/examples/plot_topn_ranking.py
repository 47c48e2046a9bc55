"""
Recall@k and NDCG@k of the top-N recommenders
=============================================

The top-N recommenders of the package (the autoencoders
:class:`~sklearn_autorec.MultVAERecommender`,
:class:`~sklearn_autorec.MultDAERecommender` and
:class:`~sklearn_autorec.CDAERecommender`, the closed-form
:class:`~sklearn_autorec.EASERecommender`, the weighted-ALS
:class:`~sklearn_autorec.ImplicitMFRecommender` and the
:class:`~sklearn_autorec.PopularityRecommender` reference) fit the same
interaction matrix and are scored by the same function,
:func:`~sklearn_autorec.metrics.ranking_report`, which ranks every item a user
has not trained on and computes Recall@k and NDCG@k for many cut-offs at
once. The protocol is Liang et al.'s (2018) weak generalisation:
:func:`~sklearn_autorec.model_selection.per_user_holdout` holds out 20% of
every user's interactions.

The data is a small slice of MovieLens latest-small (shipped with the
package) and the neural models train for a few epochs only, so this runs in
seconds; the order of the curves here says nothing about the models on the
full data sets (see :doc:`/topn` and :doc:`/topn_results` for measured
numbers).
"""

# %%
# Data: positives are the ratings of 4 or more, over the 600 items with the
# most positives; users with fewer than 5 positives are left out. Each user's
# positives are split 80/20 into training and test.
import matplotlib.pyplot as plt
import numpy as np

from sklearn_autorec import (
    CDAERecommender,
    EASERecommender,
    ImplicitMFRecommender,
    MultDAERecommender,
    MultVAERecommender,
    PopularityRecommender,
)
from sklearn_autorec.datasets import load_movielens
from sklearn_autorec.metrics import ranking_report
from sklearn_autorec.model_selection import per_user_holdout

R = load_movielens("ml-latest-small").ratings
liked = (R >= 4).astype(np.float64)
liked.eliminate_zeros()
liked = liked[:, np.sort(np.argsort(liked.getnnz(axis=0))[-600:])]
liked = liked[liked.getnnz(axis=1) >= 5]
train, test = per_user_holdout(liked, test_size=0.2, random_state=0)
print(f"{liked.shape[0]} users x {liked.shape[1]} items: "
      f"{train.nnz} training and {test.nnz} test positives")

# %%
# One fit per model. The neural models are smaller than their defaults and
# train for 10 to 20 epochs with a larger learning rate; each keeps the weights
# of its best epoch by NDCG@100 on held-out interactions of its training data.
models = {
    "Popularity": PopularityRecommender(),
    "EASE": EASERecommender(alpha=100.0),
    "ImplicitMF": ImplicitMFRecommender(n_components=32, random_state=0),
    "Mult-VAE": MultVAERecommender(hidden_layer_sizes=(200, 50), learning_rate=3e-3,
                                   batch_size=100, max_iter=20, random_state=0,
                                   device="cpu"),
    "Mult-DAE": MultDAERecommender(hidden_layer_sizes=(200, 50), learning_rate=3e-3,
                                   batch_size=100, max_iter=20, random_state=0,
                                   device="cpu"),
    "CDAE": CDAERecommender(n_components=50, learning_rate=0.03, batch_size=128,
                            max_iter=10, random_state=0, device="cpu"),
}
ks = np.arange(1, 51)
reports = {}
for name, model in models.items():
    model.fit(train)
    reports[name] = ranking_report(model, test, k=ks, metrics=("recall", "ndcg"))
    print(f"{name:10s} Recall@20 {reports[name]['recall@20']:.3f}  "
          f"NDCG@20 {reports[name]['ndcg@20']:.3f}")

# %%
# Recall@k (hits in the top k over ``min(k, number of test items)``) and
# NDCG@k against the cut-off k, one curve per model.
fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharex=True)
for metric, ax in zip(("recall", "ndcg"), axes):
    for name, report in reports.items():
        style = {"color": "gray", "linestyle": "--"} if name == "Popularity" else {}
        ax.plot(ks, [report[f"{metric}@{k}"] for k in ks], label=name, **style)
    ax.set(xlabel="cut-off k", ylabel=f"{'Recall' if metric == 'recall' else 'NDCG'}@k",
           title=f"{'Recall' if metric == 'recall' else 'NDCG'}@k on held-out positives")
axes[0].legend(fontsize="small")
fig.tight_layout()
plt.show()
