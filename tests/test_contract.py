"""Every estimator of the package honours the data contract (see contract.py)."""

import warnings

import pytest
from sklearn.exceptions import ConvergenceWarning

from contract import check_rating_estimator
from sklearn_autorec import (AutoRecRegressor, BaselineRegressor, BiasedMFRegressor,
                             NCFRegressor)

FAST_ESTIMATORS = [
    AutoRecRegressor(hidden_layer_sizes=(8,), max_iter=15, random_state=0),
    AutoRecRegressor(hidden_layer_sizes=(6, 4, 6), item_based=False, solver="adam",
                     learning_rate_init=1e-2, batch_size=8, max_iter=5, random_state=0),
    BaselineRegressor(),
    BiasedMFRegressor(n_components=4, max_iter=5, random_state=0),
    BiasedMFRegressor(n_components=4, solver="sgd", learning_rate_init=0.02, batch_size=16,
                      max_iter=5, early_stopping=True, random_state=0),
    NCFRegressor(max_iter=3, random_state=0),
    NCFRegressor("gmf", n_components=4, max_iter=3, early_stopping=False, random_state=0),
]


@pytest.mark.parametrize("estimator", FAST_ESTIMATORS, ids=repr)
def test_data_contract(estimator):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check_rating_estimator(estimator)
