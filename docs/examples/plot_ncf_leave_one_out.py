"""
GMF, MLP and NeuMF with the leave-one-out protocol
==================================================

:class:`~sklearn_autorec.NCFRecommender` implements the three models of He et
al. (2017, "Neural collaborative filtering"): ``model="gmf"`` (a generalised
dot product), ``"mlp"`` (a ReLU tower over the two embeddings) and
``"neumf"`` (both, into one output layer). This example runs the paper's
protocol: :func:`~sklearn_autorec.model_selection.leave_one_out_split` holds
out each user's latest interaction and draws 99 items the user never
interacted with, and :func:`~sklearn_autorec.metrics.sampled_ranking_report`
ranks the held-out item among them (HR@10, NDCG@10).
:class:`~sklearn_autorec.EASERecommender` and
:class:`~sklearn_autorec.PopularityRecommender` are the references. The
validation curves come from the fitted attribute ``validation_scores_``
(NDCG@100 of interactions held out of the training data, per epoch).

The data is a small slice of MovieLens latest-small (shipped with the
package) and each model trains for at most 8 epochs with large batches, so
this runs in seconds; it says nothing about how the models compare on the
paper's data (see :doc:`/ncf` for measured numbers, where a tuned
matrix factorization and EASE beat every NCF variant).
"""

# %%
# Data: every rating is an interaction (weight 1), over the 400 most rated
# items; users with 5 to 200 interactions among them. The ratings' timestamps,
# as a sparse matrix of the same pattern (rows and columns in the order of
# ``user_ids`` and ``item_ids``, as in ``data.ratings``), tell
# :func:`~sklearn_autorec.model_selection.leave_one_out_split` which
# interaction is the latest.
import matplotlib.pyplot as plt
import numpy as np

from sklearn_autorec import EASERecommender, NCFRecommender, PopularityRecommender
from sklearn_autorec.datasets import load_movielens
from sklearn_autorec.metrics import sampled_ranking_report
from sklearn_autorec.model_selection import leave_one_out_split, pairs_to_matrix

data = load_movielens("ml-latest-small")
rows = np.searchsorted(data.user_ids, data.X[:, 0])
cols = np.searchsorted(data.item_ids, data.X[:, 1])
times = pairs_to_matrix(np.column_stack([rows, cols]), data.timestamps,
                        shape=data.ratings.shape)
X = data.ratings.copy()
X.data[:] = 1.0
items = np.sort(np.argsort(X.getnnz(axis=0))[-400:])
X, times = X[:, items], times[:, items]
n_per_user = X.getnnz(axis=1)
users = (n_per_user >= 5) & (n_per_user <= 200)
X, times = X[users], times[users]

train, test, negatives = leave_one_out_split(X, timestamps=times, n_negatives=99,
                                             random_state=0)
print(f"{X.shape[0]} users x {X.shape[1]} items; {train.nnz} training interactions, "
      f"{test.nnz} held out, {negatives.shape[1]} negatives each")

# %%
# The three NCF models, with smaller layers than the defaults, batches of 2048
# and a learning rate of 0.01 (the paper: 256 and 0.001), at most 8 epochs;
# each keeps the weights of its best epoch.
budget = dict(batch_size=2048, learning_rate_init=0.01, max_iter=8, random_state=0,
              device="cpu")
models = {
    "GMF": NCFRecommender("gmf", n_components=16, **budget),
    "MLP": NCFRecommender("mlp", hidden_layer_sizes=(32, 16, 8), **budget),
    "NeuMF": NCFRecommender("neumf", n_components=16, hidden_layer_sizes=(32, 16, 8),
                            **budget),
    "EASE": EASERecommender(alpha=100.0),
    "Popularity": PopularityRecommender(),
}
reports = {}
for name, model in models.items():
    model.fit(train)
    reports[name] = sampled_ranking_report(model, test, negatives, k=10)
    print(f"{name:10s} HR@10 {reports[name]['hit_rate@10']:.3f}  "
          f"NDCG@10 {reports[name]['ndcg@10']:.3f}")

# %%
# Left: HR@10 and NDCG@10 of the held-out item among its 99 negatives. Right:
# the NCF models' validation curves, the kept epoch (``best_epoch_``) marked.
fig, (ax_bar, ax_val) = plt.subplots(1, 2, figsize=(10, 3.8))
names = list(reports)
x = np.arange(len(names))
for offset, metric in ((-0.2, "hit_rate@10"), (0.2, "ndcg@10")):
    ax_bar.bar(x + offset, [reports[n][metric] for n in names], width=0.4,
               label=metric.replace("hit_rate", "HR").replace("ndcg", "NDCG"))
ax_bar.set_xticks(x, names)
ax_bar.set(ylabel="score", title="Leave-one-out, 99 sampled negatives",
           ylim=(0, 1.3 * max(r["hit_rate@10"] for r in reports.values())))
ax_bar.legend(loc="upper left")

for name in ("GMF", "MLP", "NeuMF"):
    model = models[name]
    epochs = np.arange(1, len(model.validation_scores_) + 1)
    (line,) = ax_val.plot(epochs, model.validation_scores_, marker=".", label=name)
    ax_val.plot(model.best_epoch_, model.validation_scores_[model.best_epoch_ - 1], "o",
                color=line.get_color(), markersize=9, markerfacecolor="none")
ax_val.set(xlabel="epoch", ylabel="validation NDCG@100",
           title="validation_scores_ (circle: best_epoch_)")
ax_val.legend()
fig.tight_layout()
plt.show()
