"""sklearn_autorec: autoencoder and neural recommenders as scikit-learn estimators.

Two tasks, one contract style.  Rating prediction (``...Regressor``: AutoRec and
matrix-factorization baselines) fits a scipy sparse rating matrix (stored
entries are the ratings) or ``(user_id, item_id)`` pairs with ratings as ``y``.
Top-N recommendation from implicit feedback (``...Recommender``: Mult-VAE,
Mult-DAE, CDAE, EASE, implicit MF, popularity) fits interactions in the same two
forms, scored by :mod:`sklearn_autorec.metrics`.  All work unchanged with
``GridSearchCV``, ``Pipeline``, ``cross_validate`` and joblib.
Importing the package does not import torch; only training does.
"""

from ._autorec import AutoRecRegressor
from ._baseline import BaselineRegressor
from ._cdae import CDAERecommender
from ._ease import EASERecommender
from ._gru4rec import GRU4RecRecommender
from ._implicit_mf import ImplicitMFRecommender
from ._llorma import LLORMARegressor
from ._mf import BiasedMFRegressor
from ._multvae import MultDAERecommender, MultVAERecommender
from ._narm import NARMRecommender
from ._ncf import NCFRecommender, NCFRegressor
from ._popularity import PopularityRecommender
from ._rbm import RBMRegressor
from ._sessions import ItemTransitionRecommender, SessionPopularityRecommender

__version__ = "0.1.0"

__all__ = [
    "AutoRecRegressor",
    "BaselineRegressor",
    "BiasedMFRegressor",
    "CDAERecommender",
    "EASERecommender",
    "GRU4RecRecommender",
    "ImplicitMFRecommender",
    "ItemTransitionRecommender",
    "LLORMARegressor",
    "MultDAERecommender",
    "MultVAERecommender",
    "NARMRecommender",
    "NCFRecommender",
    "NCFRegressor",
    "PopularityRecommender",
    "RBMRegressor",
    "SessionPopularityRecommender",
    "__version__",
]
