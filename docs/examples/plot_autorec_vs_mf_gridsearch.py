"""
AutoRec against biased MF in one grid search
============================================

The estimators share one data contract, so a single
:class:`~sklearn.model_selection.GridSearchCV` can compare
:class:`~sklearn_autorec.AutoRecRegressor` with
:class:`~sklearn_autorec.BiasedMFRegressor`: the estimator is the step of a
:class:`~sklearn.pipeline.Pipeline`, and the grid is a list of sub-grids, one
per estimator, each setting the step and its own parameters.

The input is ``(user_id, item_id)`` pairs with ratings as ``y``, the form that
scikit-learn splits by rating. :class:`~sklearn_autorec.model_selection.WarmStartKFold`
keeps a training rating for every user and item of each test fold, so the
folds measure the models rather than the fallback for unknown users and items.
The data, the grid and the training budgets are tiny, so this runs in
seconds; which model wins here says nothing about MovieLens (see
:doc:`/accuracy` and :doc:`/baselines` for measured comparisons).
"""

# %%
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

from sklearn_autorec import AutoRecRegressor, BaselineRegressor, BiasedMFRegressor
from sklearn_autorec.datasets import make_ratings
from sklearn_autorec.model_selection import WarmStartKFold

data = make_ratings(n_users=200, n_items=150, density=0.1, random_state=0)
X, y = data.X, data.y  # (user_id, item_id) pairs and their ratings
print(X.shape, y.shape)

# %%
# The training budgets here are deliberately short, so the fits stop at
# ``max_iter``; silence the ConvergenceWarning that says so.
warnings.filterwarnings("ignore", category=ConvergenceWarning)

# %%
# One pipeline, one step; each sub-grid puts its estimator in the step.
pipe = Pipeline([("model", BaselineRegressor())])
param_grid = [
    {"model": [BaselineRegressor()]},
    {"model": [BiasedMFRegressor(max_iter=20, random_state=0)],
     "model__n_components": [5, 20], "model__alpha": [0.1, 1.0]},
    {"model": [AutoRecRegressor(max_iter=30, early_stopping=False,
                                random_state=0, device="cpu")],
     "model__hidden_layer_sizes": [(20,)], "model__alpha": [10.0, 50.0]},
]
search = GridSearchCV(
    pipe, param_grid, cv=WarmStartKFold(3, random_state=0),
    scoring="neg_root_mean_squared_error",
)
search.fit(X, y)

# %%
# Mean cross-validated RMSE of every candidate, best first.
results = pd.DataFrame(search.cv_results_)
table = pd.DataFrame({
    "model": [type(m).__name__ for m in results["param_model"]],
    "n_components": results.get("param_model__n_components"),
    "hidden_layer_sizes": results.get("param_model__hidden_layer_sizes"),
    "alpha": results.get("param_model__alpha"),
    "RMSE": -results["mean_test_score"],
}).sort_values("RMSE")
print(table.to_string(index=False))
print("best:", search.best_estimator_.named_steps["model"])

# %%
# The same comparison as a figure: the mean test RMSE of every candidate over
# the 3 folds, with their standard deviation as error bars, one colour per
# estimator, best first.


def describe(row):
    if row["model"] == "BiasedMFRegressor":
        return f"BiasedMF k={int(row['n_components'])}, alpha={row['alpha']:g}"
    if row["model"] == "AutoRecRegressor":
        return f"AutoRec {row['hidden_layer_sizes']}, alpha={row['alpha']:g}"
    return "Baseline"


table["std"] = results["std_test_score"]
colors = {"BaselineRegressor": "gray", "BiasedMFRegressor": "tab:orange",
          "AutoRecRegressor": "tab:blue"}
fig, ax = plt.subplots(figsize=(7, 3.8))
y_pos = np.arange(len(table))
ax.barh(y_pos, table["RMSE"], xerr=table["std"], capsize=3,
        color=[colors[m] for m in table["model"]])
ax.set_yticks(y_pos, [describe(row) for _, row in table.iterrows()])
ax.invert_yaxis()  # best at the top
low = (table["RMSE"] - table["std"]).min()
ax.set(xlim=(low - 0.02, (table["RMSE"] + table["std"]).max() + 0.01),
       xlabel="mean test RMSE over 3 folds (error bars: std)",
       title="GridSearchCV candidates, best first")
fig.tight_layout()
plt.show()
