"""
Test RMSE against the number of hidden units
============================================

The AutoRec paper plots I-AutoRec's test RMSE against the number of hidden
units k (its Figure 2): accuracy improves with k and levels off. This example
draws the same kind of curve for a few small k on a subsample of MovieLens
latest-small (shipped with the package), with a short, fixed training budget
so that it runs in seconds; ``benchmarks/paper_table.py --experiments hidden``
runs the paper's full protocol.
"""

# %%
# Data: the users with the most ratings in MovieLens latest-small and the
# items they rated most, split 90/10 at random.
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning

from sklearn_autorec import AutoRecRegressor, BaselineRegressor
from sklearn_autorec.datasets import load_movielens
from sklearn_autorec.model_selection import train_test_split

R = load_movielens("ml-latest-small").ratings
users = np.argsort(R.getnnz(axis=1))[-200:]
R = R[np.sort(users)]
items = np.argsort(R.getnnz(axis=0))[-300:]
R = R[:, np.sort(items)]
R = R[R.getnnz(axis=1) > 0]
R_train, R_test = train_test_split(R, test_size=0.1, random_state=0)
print(f"{R.shape[0]} users x {R.shape[1]} items, {R_train.nnz} training ratings")


def rmse(model):
    return np.sqrt(np.mean((model.predict(R_test).data - R_test.data) ** 2))


# %%
# The training budgets here are deliberately short, so the fits stop at
# ``max_iter``; silence the ConvergenceWarning that says so.
warnings.filterwarnings("ignore", category=ConvergenceWarning)

# %%
# One I-AutoRec per k, 40 L-BFGS iterations each, no early stopping; the
# baseline predictor (global mean plus user and item biases) for reference.
hidden_units = [2, 5, 10, 20, 40]
scores = []
for k in hidden_units:
    model = AutoRecRegressor(
        hidden_layer_sizes=(k,), alpha=30.0, max_iter=40, early_stopping=False,
        random_state=0, device="cpu",
    ).fit(R_train)
    scores.append(rmse(model))
    print(f"k={k:3d}  test RMSE {scores[-1]:.4f}")
baseline = rmse(BaselineRegressor().fit(R_train))
print(f"baseline   test RMSE {baseline:.4f}")

# %%
fig, ax = plt.subplots(figsize=(5, 3.5))
ax.plot(hidden_units, scores, marker="o", label="I-AutoRec")
ax.axhline(baseline, color="gray", linestyle="--", label="BaselineRegressor")
ax.set(xscale="log", xlabel="hidden units k", ylabel="test RMSE",
       title="RMSE against hidden units")
ax.set_xticks(hidden_units, [str(k) for k in hidden_units])
ax.set_xticks([], minor=True)
ax.legend()
fig.tight_layout()
plt.show()
