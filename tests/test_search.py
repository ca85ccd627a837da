"""KerasSVCCV / KerasLinearSVCCV agree with GridSearchCV, and warm_start."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, GroupKFold, StratifiedKFold
from sklearn.preprocessing import StandardScaler

from kernelsvm_keras import KerasLinearSVC, KerasLinearSVCCV, KerasSVC, KerasSVCCV

X, y = load_digits(return_X_y=True)
X = X / 16.0
X_train, y_train, X_test, y_test = X[:900], y[:900], X[900:], y[900:]
cancer_X, cancer_y = load_breast_cancer(return_X_y=True)
cancer_X = StandardScaler().fit_transform(cancer_X)
folds = StratifiedKFold(3)


def test_svccv_agrees_with_grid_search_cv():
    grid = {"C": [0.1, 1.0, 10.0], "gamma": [0.01, 0.05, "scale"], "n_components": [256]}
    ours = KerasSVCCV(
        Cs=grid["C"],
        gammas=grid["gamma"],
        n_components=256,
        cv=folds,
        approximation="random_fourier",
        random_state=0,
    ).fit(X_train, y_train)
    reference = GridSearchCV(
        KerasSVC(approximation="random_fourier", random_state=0), grid, cv=folds
    ).fit(X_train, y_train)
    assert ours.cv_results_["params"] == reference.cv_results_["params"]
    # Same folds, same feature draws, optima within tol: the same scores.
    for key in ["mean_test_score"] + [f"split{k}_test_score" for k in range(3)]:
        np.testing.assert_allclose(ours.cv_results_[key], reference.cv_results_[key], atol=0.01)
    assert ours.best_params_ == reference.best_params_
    assert abs(ours.score(X_test, y_test) - reference.score(X_test, y_test)) <= 0.002
    # After refit it is the KerasSVC of the best parameters.
    best = KerasSVC(approximation="random_fourier", random_state=0, **ours.best_params_)
    best.fit(X_train, y_train)
    np.testing.assert_allclose(ours.random_weights_, best.random_weights_)
    np.testing.assert_allclose(
        ours.decision_function(X_test), best.decision_function(X_test), atol=0.02
    )
    assert ours.C_ == ours.best_params_["C"] and ours.gamma_ == best.gamma_
    model = ours.to_keras()
    np.testing.assert_allclose(
        model.predict(X_test, verbose=0), ours.decision_function(X_test), atol=1e-4
    )


def test_svccv_nystroem_agrees_with_grid_search_cv():
    grid = {"C": [1.0, 10.0], "gamma": [0.02, "scale"], "n_components": [200]}
    params = dict(approximation="nystroem", random_state=0)
    ours = KerasSVCCV(Cs=grid["C"], gammas=grid["gamma"], n_components=200, cv=folds, **params)
    ours.fit(X_train, y_train)
    reference = GridSearchCV(KerasSVC(**params), grid, cv=folds).fit(X_train, y_train)
    # Landmarks drawn from each fold's training rows, as KerasSVC draws them.
    np.testing.assert_allclose(
        ours.cv_results_["mean_test_score"], reference.cv_results_["mean_test_score"], atol=0.01
    )
    assert ours.best_params_ == reference.best_params_
    best = KerasSVC(**params, **ours.best_params_).fit(X_train, y_train)
    np.testing.assert_array_equal(ours.component_indices_, best.component_indices_)
    np.testing.assert_allclose(
        ours.decision_function(X_test), best.decision_function(X_test), atol=0.02
    )


def test_cv_results_format():
    search = KerasSVCCV(
        Cs=[1.0, 0.1], gammas=[0.05], n_components=[64, 128], cv=3, random_state=0
    ).fit(X_train, y_train)
    results = search.cv_results_
    assert len(results["params"]) == 4
    assert list(results["param_C"]) == [1.0, 1.0, 0.1, 0.1]  # ParameterGrid's order
    assert list(results["param_n_components"]) == [64, 128, 64, 128]
    for key in (
        "mean_test_score",
        "std_test_score",
        "rank_test_score",
        "mean_fit_time",
        "std_fit_time",
        "mean_score_time",
        "std_score_time",
        "split2_test_score",
    ):
        assert results[key].shape == (4,)
    assert results["rank_test_score"].min() == 1
    assert search.best_index_ == int(np.argmin(results["rank_test_score"]))
    assert search.n_splits_ == 3 and search.refit_time_ > 0


def test_linear_svccv_agrees_with_grid_search_cv():
    Cs = [0.01, 0.1, 1.0, 10.0]
    ours = KerasLinearSVCCV(Cs=Cs, cv=folds).fit(cancer_X, cancer_y)
    reference = GridSearchCV(KerasLinearSVC(), {"C": Cs}, cv=folds).fit(cancer_X, cancer_y)
    np.testing.assert_allclose(
        ours.cv_results_["mean_test_score"], reference.cv_results_["mean_test_score"], atol=0.01
    )
    assert ours.best_params_ == reference.best_params_
    np.testing.assert_allclose(
        ours.decision_function(cancer_X), reference.decision_function(cancer_X), atol=0.05
    )


def test_scoring_groups_and_sample_weight():
    groups = np.arange(len(X_train)) % 4
    search = KerasLinearSVCCV(Cs=[0.1, 1.0], cv=GroupKFold(4), scoring="balanced_accuracy")
    search.fit(X_train, y_train, sample_weight=np.ones(len(X_train)), groups=groups)
    assert search.n_splits_ == 4 and 0.8 < search.best_score_ <= 1.0


def test_refit_false_keeps_no_model():
    search = KerasLinearSVCCV(Cs=[0.1, 1.0], cv=3, refit=False).fit(X_train, y_train)
    assert search.best_params_["C"] in (0.1, 1.0) and not hasattr(search, "coef_")
    with pytest.raises(NotFittedError, match="refit=False"):
        search.predict(X_test)
    # A refit=False search on a fitted estimator drops the old model.
    fitted = KerasLinearSVCCV(Cs=[1.0], cv=3).fit(X_train, y_train)
    fitted.set_params(refit=False).fit(X_train, y_train)
    assert not hasattr(fitted, "coef_")


@pytest.mark.parametrize(
    "params, message",
    [
        ({"Cs": []}, "'Cs' parameter .* must be"),
        ({"Cs": [1.0, -1.0]}, "'Cs' parameter .* must be"),
        ({"gammas": [0.1, "big"]}, "'gammas' parameter .* must"),
        ({"n_components": [64, 0]}, "'n_components' parameter .* must"),
    ],
)
def test_bad_grids_raise_and_keep_the_fitted_state(params, message):
    search = KerasSVCCV(Cs=[1.0], n_components=64, cv=3, random_state=0).fit(X_train, y_train)
    before = search.decision_function(X_test)
    with pytest.raises(ValueError, match=message):
        clone(search).set_params(**params).fit(X_train, y_train)
    with pytest.raises(ValueError, match=message):
        search.set_params(**params).fit(X_train, y_train)
    np.testing.assert_array_equal(search.decision_function(X_test), before)


@pytest.mark.parametrize("Estimator", [KerasSVC, KerasLinearSVC])
def test_warm_start_continues_from_the_solution(Estimator, newton):
    # (a warm start serves the Newton route; small problems' exact dual starts afresh)
    params = {"random_state": 0, "approximation": "random_fourier"} if Estimator is KerasSVC else {}
    cold = Estimator(C=10.0, **params).fit(X_train, y_train)
    warm = Estimator(C=1.0, warm_start=True, **params).fit(X_train, y_train)
    if Estimator is KerasSVC:
        weights = warm.random_weights_
    warm.set_params(C=10.0).fit(X_train, y_train)
    assert np.max(warm.n_iter_) < np.max(cold.n_iter_)
    np.testing.assert_allclose(warm.objective_, cold.objective_, rtol=2e-3)
    if Estimator is KerasSVC:
        assert warm.random_weights_ is weights  # the same map, not a redraw


def test_warm_start_redraws_when_the_map_changes():
    est = KerasSVC(
        gamma=0.05,
        n_components=128,
        warm_start=True,
        approximation="random_fourier",
        random_state=0,
    )
    est.fit(X_train, y_train)
    weights = est.random_weights_
    est.set_params(gamma=0.1).fit(X_train, y_train)
    assert est.random_weights_ is not weights and est.gamma_ == 0.1
    fresh = KerasSVC(gamma=0.1, n_components=128, approximation="random_fourier", random_state=0)
    fresh.fit(X_train, y_train)
    np.testing.assert_allclose(est.decision_function(X_test), fresh.decision_function(X_test))
    # New classes: a cold start, not a crash.
    binary = y_train < 5
    est.fit(X_train, binary)
    assert est.coef_.shape == (1, 128)
