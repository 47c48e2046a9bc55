"""
Rating models side by side: RBM, LLORMA, AutoRec and MF
=======================================================

Every rating estimator of the package takes the same input, so comparing them
is one loop: :class:`~sklearn_autorec.RBMRegressor` (RBM-CF, Salakhutdinov et
al. 2007) and :class:`~sklearn_autorec.LLORMARegressor` (local low-rank
models, Lee et al. 2013), the two models the AutoRec paper compares with,
against :class:`~sklearn_autorec.AutoRecRegressor`,
:class:`~sklearn_autorec.BiasedMFRegressor` and
:class:`~sklearn_autorec.BaselineRegressor`, on one random split. The RBM's
fitted attributes then show how its training went: the validation RMSE per
epoch, in stages of more and more Gibbs steps.

The data is a small subsample of MovieLens latest-small (shipped with the
package) and every model gets a small, fixed budget, so this runs in seconds;
the ranking of the models here says nothing about their accuracy on the full
data sets (see :doc:`/paper` and :doc:`/baselines` for measured numbers).
"""

# %%
# Data: the 200 users with the most ratings in MovieLens latest-small and the
# 300 items they rated most, split 90/10 at random.
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning

from sklearn_autorec import (
    AutoRecRegressor,
    BaselineRegressor,
    BiasedMFRegressor,
    LLORMARegressor,
    RBMRegressor,
)
from sklearn_autorec.datasets import load_movielens
from sklearn_autorec.model_selection import train_test_split

R = load_movielens("ml-latest-small").ratings
R = R[np.sort(np.argsort(R.getnnz(axis=1))[-200:])]
R = R[:, np.sort(np.argsort(R.getnnz(axis=0))[-300:])]
R = R[R.getnnz(axis=1) > 0]
R_train, R_test = train_test_split(R, test_size=0.1, random_state=0)
print(f"{R.shape[0]} users x {R.shape[1]} items, {R_train.nnz} training ratings")

# %%
# The training budgets here are deliberately short, so AutoRec stops at
# ``max_iter``; silence the ConvergenceWarning that says so.
warnings.filterwarnings("ignore", category=ConvergenceWarning)

# %%
# One fit per model, each with a small budget: 20 hidden units for the RBM
# (early stopping on 10% of the training ratings), 10 local models of rank 5
# for LLORMA, 40 L-BFGS iterations for a 50-unit I-AutoRec.
models = {
    "Baseline": BaselineRegressor(),
    "BiasedMF": BiasedMFRegressor(n_components=10, alpha=0.1, random_state=0),
    "RBM": RBMRegressor(n_components=20, max_iter=60, random_state=0),
    "LLORMA": LLORMARegressor(n_anchors=10, n_components=5, alpha=0.1, random_state=0),
    "AutoRec": AutoRecRegressor(hidden_layer_sizes=(50,), alpha=30.0, max_iter=40,
                                early_stopping=False, random_state=0, device="cpu"),
}
test_rmse = {}
for name, model in models.items():
    model.fit(R_train)
    test_rmse[name] = np.sqrt(np.mean((model.predict(R_test).data - R_test.data) ** 2))
    print(f"{name:9s} test RMSE {test_rmse[name]:.4f}")

# %%
# Left: test RMSE of every model. Right: the RBM's ``validation_scores_``
# (RMSE of the held-out training ratings) per epoch; ``cd_steps_curve_`` gives
# the Gibbs steps of each epoch, and ``best_iter_`` the epoch whose weights
# were kept.
rbm = models["RBM"]
fig, (ax_bar, ax_rbm) = plt.subplots(1, 2, figsize=(10, 3.8))
names = list(test_rmse)
ax_bar.barh(names, [test_rmse[n] for n in names],
            color=["gray" if n == "Baseline" else "tab:blue" for n in names])
for i, name in enumerate(names):
    ax_bar.text(test_rmse[name], i, f" {test_rmse[name]:.3f}", va="center")
low = min(test_rmse.values())
ax_bar.set(xlim=(low - 0.05, max(test_rmse.values()) + 0.03), xlabel="test RMSE",
           title="Test RMSE (lower is better)")
ax_bar.invert_yaxis()

epochs = np.arange(1, len(rbm.validation_scores_) + 1)
steps = np.asarray(rbm.cd_steps_curve_)
for t in np.unique(steps):
    in_stage = steps == t
    ax_rbm.plot(epochs[in_stage], np.asarray(rbm.validation_scores_)[in_stage],
                marker=".", label=f"CD-{t}")
ax_rbm.axvline(rbm.best_iter_, color="gray", linestyle="--", label="best_iter_")
ax_rbm.set(xlabel="epoch", ylabel="validation RMSE",
           title="RBMRegressor: validation_scores_")
ax_rbm.legend()
fig.tight_layout()
plt.show()
