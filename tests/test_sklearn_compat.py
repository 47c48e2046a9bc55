"""scikit-learn's own machinery runs AutoRec unchanged."""

import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.dummy import DummyRegressor
from sklearn.ensemble import StackingRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import GridSearchCV, KFold, cross_validate
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.estimator_checks import parametrize_with_checks

from contract import as_pairs, small_ratings
from sklearn_autorec import AutoRecRegressor, BaselineRegressor, BiasedMFRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

FAST = dict(hidden_layer_sizes=(8,), max_iter=10, random_state=0)

# sklearn's generic checks feed continuous feature matrices (n_samples, n_features
# != 2, non-integer floats) as X.  A recommender's X is (user_id, item_id) pairs or a
# sparse rating matrix, so those checks cannot apply; each property they test is
# tested on rating data in contract.py (pickle, idempotence, order invariance, bad
# input, NotFittedError, n_features_in_, ...).
_GENERIC_X = ("the check fits on continuous features, not (user_id, item_id) pairs; "
              "the property is covered on rating data by tests/contract.py")
_SPARSE_X = ("a sparse X is a rating matrix whose stored entries are the ratings, so "
             "fit(sparse X, y) is rejected by design")
EXPECTED_FAILED = {name: _GENERIC_X for name in [
    "check_complex_data", "check_dict_unchanged", "check_dont_overwrite_parameters",
    "check_dtype_object", "check_estimators_dtypes", "check_estimators_empty_data_messages",
    "check_estimators_fit_returns_self", "check_estimators_nan_inf",
    "check_estimators_overwrite_params", "check_estimators_pickle",
    "check_f_contiguous_array_estimator", "check_fit2d_1feature", "check_fit2d_1sample",
    "check_fit2d_predict1d", "check_fit_check_is_fitted", "check_fit_idempotent",
    "check_fit_score_takes_y", "check_methods_sample_order_invariance",
    "check_methods_subset_invariance", "check_n_features_in",
    "check_n_features_in_after_fitting", "check_non_transformer_estimators_n_iter",
    "check_pipeline_consistency", "check_positive_only_tag_during_fit",
    "check_readonly_memmap_input", "check_regressor_data_not_an_array",
    "check_regressors_int", "check_regressors_no_decision_function",
    "check_regressors_train", "check_supervised_y_2d",
]}
EXPECTED_FAILED["check_estimator_sparse_tag"] = _SPARSE_X


@parametrize_with_checks([AutoRecRegressor(**FAST)],
                         expected_failed_checks=lambda est: EXPECTED_FAILED)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@parametrize_with_checks([BaselineRegressor(), BiasedMFRegressor(n_components=4, max_iter=5,
                                                                 random_state=0)],
                         expected_failed_checks=lambda est: EXPECTED_FAILED)
def test_sklearn_estimator_checks_baselines(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def pairs():
    return as_pairs(small_ratings(n_users=30, n_items=20, density=0.4))


def test_clone_keeps_params_and_drops_fit():
    est = AutoRecRegressor(alpha=5.0, hidden_layer_sizes=(500, 250, 500), unknown=3.0)
    assert clone(est).get_params() == est.get_params()


def test_grid_search_cv_on_pairs(pairs):
    X, y = pairs
    grid = GridSearchCV(AutoRecRegressor(max_iter=5, random_state=0),
                        {"alpha": [1.0, 100.0], "hidden_layer_sizes": [(4,), (8,)]},
                        cv=5, scoring="neg_root_mean_squared_error").fit(X, y)
    assert len(grid.cv_results_["params"]) == 4
    assert np.all(np.isfinite(grid.cv_results_["mean_test_score"]))
    assert grid.best_estimator_.predict(X).shape == y.shape


def test_cross_validate_and_pipeline(pairs):
    X, y = pairs
    pipe = Pipeline([("ids", FunctionTransformer()), ("model", AutoRecRegressor(**FAST))])
    res = cross_validate(pipe, X, y, cv=KFold(3, shuffle=True, random_state=0),
                         scoring=["neg_root_mean_squared_error", "r2"])
    assert np.all(np.isfinite(res["test_neg_root_mean_squared_error"]))
    assert pipe.fit(X, y).predict(X).shape == y.shape


def test_stacking_with_autorec_member(pairs):
    X, y = pairs
    stack = StackingRegressor(
        [("autorec", AutoRecRegressor(**FAST)), ("mean", DummyRegressor())],
        final_estimator=LinearRegression(), cv=3)
    pred = stack.fit(X, y).predict(X)
    assert pred.shape == y.shape and np.all(np.isfinite(pred))


# The estimators of the other model families and tasks.  The regressors take
# the same rating X as AutoRec (same expected failures); the recommenders take
# interactions (top-N) or sessions, and have no predict of a target y, so the
# generic checks built on continuous (X, y) data cannot apply to them either:
# their properties are tested on their own data by tests/test_topn_contract.py,
# tests/test_sessions.py and each model's tests.
from sklearn_autorec import (  # noqa: E402
    CDAERecommender, EASERecommender, GRU4RecRecommender, ImplicitMFRecommender,
    ItemTransitionRecommender, LLORMARegressor, MultDAERecommender, MultVAERecommender,
    NARMRecommender, NCFRecommender, NCFRegressor, PopularityRecommender, RBMRegressor,
    SessionPopularityRecommender)

_RECOMMENDER_X = ("the check fits on continuous features; a recommender's X is "
                  "interactions or sessions, checked by its own contract tests")


_RECOMMENDER_FAILED = {name: _RECOMMENDER_X for name in EXPECTED_FAILED}

OTHER_REGRESSORS = [
    NCFRegressor(max_iter=2, random_state=0),
    RBMRegressor(n_components=4, max_iter=3, random_state=0),
    LLORMARegressor(n_anchors=3, n_components=2, max_iter=2, random_state=0),
]
RECOMMENDERS = [
    PopularityRecommender(), EASERecommender(alpha=5.0),
    ImplicitMFRecommender(n_components=2, max_iter=2, random_state=0),
    CDAERecommender(n_components=4, max_iter=2, random_state=0),
    MultVAERecommender(hidden_layer_sizes=(8, 2), max_iter=2, random_state=0),
    MultDAERecommender(hidden_layer_sizes=(8, 2), max_iter=2, random_state=0),
    NCFRecommender(n_components=2, hidden_layer_sizes=(4, 2), max_iter=2, random_state=0),
    SessionPopularityRecommender(), ItemTransitionRecommender(),
    GRU4RecRecommender(hidden_layer_sizes=(4,), max_iter=2, random_state=0),
    NARMRecommender(max_iter=2, random_state=0),
]


@parametrize_with_checks(OTHER_REGRESSORS, expected_failed_checks=lambda est: EXPECTED_FAILED)
def test_sklearn_estimator_checks_other_regressors(estimator, check):
    check(estimator)


@parametrize_with_checks(RECOMMENDERS, expected_failed_checks=lambda est: _RECOMMENDER_FAILED)
def test_sklearn_estimator_checks_recommenders(estimator, check):
    check(estimator)
