"""
Learning curve of AutoRec with early stopping
=============================================

:class:`~sklearn_autorec.AutoRecRegressor` records the training objective per
epoch in ``loss_curve_`` (the paper's objective divided by the number of
training ratings) and, with ``early_stopping=True``, the RMSE on the held-out
ratings in ``validation_scores_``. ``best_iter_`` is the epoch of the lowest
validation RMSE; with ``refit=True`` the final model is trained again on all
the ratings for that many epochs, so ``loss_curve_`` belongs to that final run.

The data is a small synthetic rating matrix; the model is small too, so this
runs in a few seconds on a CPU.
"""

# %%
# Data: synthetic ratings, and a random test split of 10%.
import matplotlib.pyplot as plt
import numpy as np

from sklearn_autorec import AutoRecRegressor
from sklearn_autorec.datasets import make_ratings
from sklearn_autorec.model_selection import train_test_split

data = make_ratings(n_users=300, n_items=200, density=0.1, random_state=0)
R_train, R_test = train_test_split(data.ratings, test_size=0.1, random_state=0)
print(f"{R_train.nnz} training ratings, {R_test.nnz} test ratings")

# %%
# Fit with early stopping: 10% of the training ratings are held out; the
# search keeps going for ``n_iter_no_change`` epochs after the best one.
model = AutoRecRegressor(
    hidden_layer_sizes=(50,), alpha=30.0, max_iter=150, n_iter_no_change=30,
    early_stopping=True, refit=True, random_state=0, device="cpu",
)
model.fit(R_train)
print(f"best validation RMSE {model.best_validation_score_:.3f} at epoch {model.best_iter_}")
rmse = np.sqrt(np.mean((model.predict(R_test).data - R_test.data) ** 2))
print(f"test RMSE of the refitted model: {rmse:.3f}")

# %%
# The curves: validation RMSE of the held-out run, and the training objective
# of the final (refitted) run.
fig, (ax_val, ax_loss) = plt.subplots(1, 2, figsize=(9, 3.5))
epochs = np.arange(1, len(model.validation_scores_) + 1)
ax_val.plot(epochs, model.validation_scores_)
ax_val.axvline(model.best_iter_, color="gray", linestyle="--", label="best_iter_")
ax_val.set(xlabel="epoch (L-BFGS iteration)", ylabel="RMSE",
           title="validation_scores_ (held-out run)")
ax_val.legend()
ax_loss.plot(np.arange(1, len(model.loss_curve_) + 1), model.loss_curve_)
ax_loss.set(xlabel="epoch (L-BFGS iteration)", ylabel="objective / n_ratings",
            title="loss_curve_ (final run)", yscale="log")
fig.tight_layout()
plt.show()
