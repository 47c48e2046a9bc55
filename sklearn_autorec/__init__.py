"""sklearn_autorec: AutoRec and matrix-factorization recommenders as scikit-learn estimators.

The estimators accept a scipy sparse rating matrix (stored entries are the
ratings) or ``(user_id, item_id)`` pairs with ratings as ``y``, and work
unchanged with ``GridSearchCV``, ``Pipeline``, ``cross_validate`` and joblib.
Importing the package does not import torch; only training does.
"""

from ._autorec import AutoRecRegressor
from ._baseline import BaselineRegressor
from ._mf import BiasedMFRegressor

__version__ = "0.1.0"

__all__ = ["AutoRecRegressor", "BaselineRegressor", "BiasedMFRegressor", "__version__"]
