"""KerasSVR, KerasLinearSVR and KerasOneClassSVM: the same solver with other intervals."""

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.compose import ColumnTransformer
from sklearn.datasets import make_friedman1, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.svm import SVC, SVR, LinearSVC, LinearSVR, OneClassSVM
from sklearn.utils._param_validation import InvalidParameterError

from kernelsvm_keras import (
    KerasLinearSVC,
    KerasLinearSVR,
    KerasOneClassSVM,
    KerasSVC,
    KerasSVR,
    KerasSVRCV,
    _one_class,
)

from oracles import reference_one_class_optimum, reference_svr_optimum

LOSSES = ["epsilon_insensitive", "squared_epsilon_insensitive"]


@pytest.fixture(scope="module")
def friedman():
    X, y = make_friedman1(n_samples=300, noise=0.3, random_state=0)
    return X, y


@pytest.fixture(scope="module")
def blob():
    rng = np.random.RandomState(0)
    return rng.normal(size=(300, 2)) + np.array([3.0, 1.0])  # away from the origin


def test_constructors_take_scikit_learns_parameters():
    for Ours, Theirs in [
        (KerasSVR, SVR),
        (KerasLinearSVR, LinearSVR),
        (KerasOneClassSVM, OneClassSVM),
    ]:
        theirs = Theirs().get_params()
        ours = Ours(**theirs).get_params()
        assert set(theirs) <= set(ours)
        assert {k: ours[k] for k in theirs if k != "tol"} == {
            k: v for k, v in theirs.items() if k != "tol"
        }


FAMILY = [
    (KerasSVC, SVC),
    (KerasLinearSVC, LinearSVC),
    (KerasSVR, SVR),
    (KerasLinearSVR, LinearSVR),
    (KerasOneClassSVM, OneClassSVM),
]


@pytest.mark.parametrize("Ours, Theirs", FAMILY, ids=lambda E: E.__name__)
def test_max_iter_zero_is_the_certified_starting_point(friedman, Ours, Theirs):
    # scikit-learn's SVMs take max_iter=0: no iteration, a ConvergenceWarning
    X, y = friedman
    if Ours is KerasOneClassSVM:
        data = (X,)
    elif Ours in (KerasSVC, KerasLinearSVC):
        data = (X, y > np.median(y))
    else:
        data = (X, y)
    with pytest.warns(ConvergenceWarning):
        Theirs(max_iter=0).fit(*data)
    landmarks = "n_components" in Ours().get_params()
    params = {"n_components": 64, "random_state": 0} if landmarks else {}
    # (300 rows: the exact dual's route, which max_iter=0 does not take either)
    with pytest.warns(ConvergenceWarning, match="max_iter=0"):
        start = Ours(max_iter=0, **params).fit(*data)
    assert not np.any(start.coef_) and not np.any(start.intercept_)
    assert not np.any(start.n_iter_)
    # its certified gap is true: the optimum lies below its objective by at most that
    # (the one-class SVM's objective at zero is 0, its gap relative to a floor)
    fitted = Ours(**params).fit(*data)
    assert np.all(start.objective_ > fitted.objective_) and np.all(start.dual_gap_ < np.inf)
    if Ours is not KerasOneClassSVM:
        drop = (start.objective_ - fitted.objective_) / np.abs(start.objective_)
        assert np.all(drop <= start.dual_gap_ * (1 + 1e-9))
    # with warm_start, the fitted model is certified again as it is (the float32
    # iterate's rounding of it); without a solve its certificate may be looser
    coef, objective = fitted.coef_.copy(), fitted.objective_.copy()
    fitted.set_params(warm_start=True, max_iter=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fitted.fit(*data)
    np.testing.assert_allclose(fitted.coef_, coef, rtol=1e-6)
    np.testing.assert_allclose(fitted.objective_, objective, rtol=1e-6)
    assert np.all((fitted.dual_gap_ >= 0) & (fitted.dual_gap_ < np.inf))


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("C", [0.01, 1.0, 100.0])
def test_linear_svr_reaches_the_reference_optimum(loss, C):
    X, y = make_regression(n_samples=120, n_features=4, noise=5.0, random_state=1)
    X = X * np.array([1.0, 3.0, 0.3, 10.0])  # uneven units
    y = y / np.std(y)
    s = np.random.RandomState(0).uniform(0.5, 2.0, size=len(y))
    with warnings.catch_warnings():
        # the hinge at C=100 on these units stops at float32 precision, a
        # certified gap of a few 1e-4 (a ConvergenceWarning says so)
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = KerasLinearSVR(C=C, epsilon=0.1, loss=loss, tol=1e-4).fit(X, y, sample_weight=s)
    reference = reference_svr_optimum(X, y, s, C, 0.1, loss)
    assert ours.objective_[0] == pytest.approx(reference, rel=1e-2)
    assert ours.dual_gap_[0] <= (1e-4 if loss == "squared_epsilon_insensitive" or C < 100 else 1e-2)
    # the certificate is true: its dual bound is below the reference's primal value
    # (up to round-off: the problem certified is on X as float32 training saw it)
    assert ours.objective_[0] * (1 - ours.dual_gap_[0]) <= reference * (1 + 1e-6)


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("C", [0.01, 1.0, 100.0])
def test_kernel_svr_reaches_the_reference_optimum_on_its_features(friedman, loss, C):
    X, y = friedman
    reg = KerasSVR(C=C, loss=loss, n_components=64, tol=1e-4, random_state=0).fit(X, y)
    Phi = reg._map.features(X)
    reference = reference_svr_optimum(Phi, y, np.ones(len(y)), C, 0.1, loss)
    assert reg.objective_[0] == pytest.approx(reference, rel=1e-2)
    assert reg.objective_[0] * (1 - reg.dual_gap_[0]) <= reference * (1 + 1e-6)


def test_svr_matches_svr_with_every_row_a_landmark(friedman):
    X, y = friedman
    ours = KerasSVR(C=10.0, loss="epsilon_insensitive", random_state=0).fit(X[:200], y[:200])
    theirs = SVR(C=10.0).fit(X[:200], y[:200])
    assert abs(ours.score(X[200:], y[200:]) - theirs.score(X[200:], y[200:])) < 0.01
    np.testing.assert_allclose(ours.predict(X[200:]), theirs.predict(X[200:]), atol=0.05)


@pytest.mark.parametrize("nu", [0.05, 0.3])
@pytest.mark.parametrize("kernel", ["linear", "rbf"])
def test_one_class_reaches_the_reference_optimum(blob, nu, kernel):
    det = KerasOneClassSVM(kernel=kernel, nu=nu, gamma=0.5, tol=1e-5, random_state=0)
    det.fit(blob)
    Phi = det._map.features(blob)  # X itself for the linear kernel
    reference = reference_one_class_optimum(Phi, nu)
    assert det.objective_[0] == pytest.approx(reference, rel=1e-2)
    # the certificate is true: its dual bound is below the reference's primal value
    assert det.objective_[0] - det.dual_gap_[0] * abs(det.objective_[0]) <= reference + 1e-6


@pytest.mark.parametrize("nu", [0.1, 0.5])
def test_one_class_certifies_an_optimum_at_zero(nu):
    # Centred data: no direction separates it from the origin, so w = 0,
    # rho = 0 and the optimum is 0 (given w, the best rho leaves 1/2 |w|^2
    # minus the mean of the lowest nu n scores, at least 1/2 |w|^2 since the
    # scores average 0), where a relative gap is undefined (it warned "gap
    # 1.00"). The gap is then measured against a floor of _GAP_FLOOR times the
    # largest magnitude the optimum can have, R^2 / 2.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 3))
    X -= X.mean(axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        det = KerasOneClassSVM(kernel="linear", nu=nu).fit(X)
    assert det.dual_gap_[0] <= det.tol
    floor = 1e-4 * np.max(np.sum(X**2, axis=1)) / 2
    assert 0.0 <= det.objective_[0] <= det.tol * floor
    assert np.all(np.isfinite(det.decision_function(X)))


def test_relative_gap_has_a_floor():
    from kernelsvm_keras._certificate import _Intervals
    from kernelsvm_keras._loss import get_loss

    ones = np.ones((3, 2))
    problem = _Intervals(0 * ones, np.inf * ones, ones, 1.0, get_loss("hinge"), True, 1.0, 0.5)
    primal, dual = np.array([2.0, 1e-3]), np.array([1.0, 0.0])
    np.testing.assert_allclose(problem.relative_gap(primal, dual), [0.5, 2e-3])
    unfloored = _Intervals(0 * ones, np.inf * ones, ones, 1.0, get_loss("hinge"), True, 1.0)
    np.testing.assert_allclose(unfloored.relative_gap(primal, dual), [0.5, 1.0])
    assert unfloored.relative_gap(np.zeros(1), np.zeros(1))[0] == 0.0
    assert unfloored.relative_gap(np.zeros(1), -np.ones(1))[0] == np.inf


@pytest.mark.parametrize("nu", [0.1, 0.3])
def test_one_class_fraction_of_outliers_is_close_to_nu(blob, nu):
    det = KerasOneClassSVM(nu=nu, gamma=0.5, random_state=0).fit(blob)
    # (OneClassSVM: 0.103 and 0.303 on a blob like this one)
    outside = np.mean(det.predict(blob) == -1)
    assert abs(outside - nu) <= 0.02
    # nu bounds the margin errors from above and the support vectors from below
    scale = abs(det.intercept_[0])
    assert np.mean(det.decision_function(blob) < -1e-2 * scale) <= nu + 1e-9
    assert len(det.support_) / len(blob) >= nu - 0.02


def test_one_class_boundary_rows_are_inliers(blob):
    # a row exactly on the boundary (rho is often a training row's exact
    # score) is an inlier, as scikit-learn's outlier detectors have it
    det = KerasOneClassSVM(nu=0.2, gamma=0.5, random_state=0).fit(blob)
    det.intercept_ = np.zeros(1)
    det.intercept_ = -det.decision_function(blob[:1])
    assert det.decision_function(blob[:1])[0] == 0.0
    assert det.predict(blob[:1])[0] == 1
    decision = det.decision_function(blob)
    np.testing.assert_array_equal(det.predict(blob), np.where(decision < 0, -1, 1))


@pytest.mark.parametrize("kernel", ["linear", "rbf"])
@pytest.mark.parametrize("nu", [0.05, 0.3])
def test_one_class_rows_at_the_quantile_are_inliers_in_any_batch(blob, kernel, nu):
    # rho is the nu-quantile of the training scores less a margin far above
    # their round-off: the rows at it are inside, with a decision above 0, and
    # predicted alone as among all rows (the scores of a row alone and of the
    # same row in a batch are different BLAS calls)
    det = KerasOneClassSVM(kernel=kernel, nu=nu, gamma=0.5, random_state=0).fit(blob)
    decision = det.decision_function(blob)
    inside = decision[decision >= 0]
    # (the smallest inside: the margin, _BOUNDARY_MARGIN of the largest score)
    margin = _one_class._BOUNDARY_MARGIN * np.max(np.abs(det.score_samples(blob)))
    assert inside.size and inside.min() > 0.0
    np.testing.assert_allclose(inside.min(), margin, rtol=1e-4)
    alone = np.concatenate([det.predict(row[None]) for row in blob])
    np.testing.assert_array_equal(alone, det.predict(blob))


def test_one_class_is_in_one_class_svms_scale(blob):
    ours = KerasOneClassSVM(nu=0.2, gamma=0.5, tol=1e-5, random_state=0).fit(blob)
    theirs = OneClassSVM(nu=0.2, gamma=0.5).fit(blob)
    assert ours.intercept_[0] == pytest.approx(theirs.intercept_[0], rel=1e-2)
    np.testing.assert_allclose(ours.offset_, -ours.intercept_)
    scale = abs(theirs.intercept_[0])
    np.testing.assert_allclose(
        ours.decision_function(blob), theirs.decision_function(blob), atol=1e-2 * scale
    )
    np.testing.assert_allclose(
        ours.score_samples(blob), ours.decision_function(blob) + ours.offset_[0]
    )
    assert set(np.unique(ours.predict(blob))) == {-1, 1}
    assert np.array_equal(ours.fit_predict(blob), ours.predict(blob))


def test_to_keras_equals_the_estimators(friedman, blob):
    X, y = friedman
    for est, data, method in [
        (KerasSVR(n_components=32, random_state=0).fit(X, y), X, "predict"),
        (KerasLinearSVR().fit(X, y), X, "predict"),
        (KerasOneClassSVM(n_components=32, random_state=0).fit(blob), blob, "decision_function"),
    ]:
        model = est.to_keras()
        out = np.asarray(model.predict(data, verbose=0)).ravel()
        expected = getattr(est, method)(data)
        np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())


def test_sparse_input_gives_the_dense_model(friedman):
    X, y = friedman
    dense = KerasLinearSVR(C=1.0, epsilon=0.1).fit(X, y)
    sparse = KerasLinearSVR(C=1.0, epsilon=0.1).fit(sp.csr_matrix(X), y)
    np.testing.assert_allclose(sparse.coef_, dense.coef_, rtol=1e-5, atol=1e-6)
    det = KerasOneClassSVM(kernel="linear").fit(sp.csr_matrix(X))
    np.testing.assert_allclose(
        det.decision_function(X), KerasOneClassSVM(kernel="linear").fit(X).decision_function(X)
    )


@pytest.mark.parametrize("Estimator", [KerasSVR, KerasLinearSVR])
def test_sample_weight_equals_repetition(friedman, Estimator):
    X, y = friedman
    X, y = X[:100], y[:100]
    weights = np.r_[np.full(50, 2.0), np.ones(50)]
    params = {"tol": 1e-5}
    if Estimator is KerasSVR:
        params.update(gamma=0.2, random_state=0)
    weighted = Estimator(**params).fit(X, y, sample_weight=weights)
    repeated = Estimator(**params).fit(np.vstack([X[:50], X]), np.r_[y[:50], y])
    if Estimator is KerasSVR:  # the landmarks differ; the objective's optimum does not
        assert weighted.objective_[0] == pytest.approx(repeated.objective_[0], rel=1e-3)
    else:
        # (epsilon=0, the L1 regression: a flat optimum, predictions within 0.1%)
        np.testing.assert_allclose(weighted.predict(X), repeated.predict(X), rtol=2e-3)
        assert weighted.objective_[0] == pytest.approx(repeated.objective_[0], rel=1e-4)


def test_warm_start_continues_from_the_solution(newton, friedman):
    X, y = friedman
    params = {"n_components": 64, "loss": "epsilon_insensitive", "random_state": 0}
    reg = KerasSVR(C=1.0, warm_start=True, **params).fit(X, y)
    cold = KerasSVR(C=2.0, **params).fit(X, y)
    reg.set_params(C=2.0).fit(X, y)
    assert reg.n_iter_ < cold.n_iter_
    np.testing.assert_allclose(reg.predict(X), cold.predict(X), atol=0.05)


def test_partial_fit_approaches_fit(blob):
    X, y = make_friedman1(n_samples=2000, noise=0.3, random_state=0)
    X = StandardScaler().fit_transform(X)
    fitted = KerasSVR(C=1.0, n_components=64, random_state=0).fit(X, y)
    streamed = KerasSVR(C=1.0, n_components=64, random_state=0)
    for _ in range(10):  # (SGD: the intercept, 14 here, takes a few passes)
        for chunk in np.array_split(np.arange(len(y)), 4):
            streamed.partial_fit(X[chunk], y[chunk])
    assert np.isnan(streamed.dual_gap_).all()
    assert streamed.score(X, y) > fitted.score(X, y) - 0.02
    det = KerasOneClassSVM(nu=0.2, gamma=0.5, n_components=64, random_state=0)
    for _ in range(5):
        det.partial_fit(blob)
    assert abs(np.mean(det.predict(blob) == -1) - 0.2) < 0.1
    assert det.predict([[3.0, 1.0]])[0] == 1 and det.predict([[20.0, 20.0]])[0] == -1


def test_bad_input_is_refused_and_changes_nothing(friedman):
    X, y = friedman
    reg = KerasLinearSVR().fit(X, y)
    before = {k: np.copy(v) for k, v in vars(reg).items() if isinstance(v, np.ndarray)}
    with pytest.raises(ValueError, match="1d array"):
        reg.fit(X, np.c_[y, y])
    bad = y.copy()
    bad[0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        reg.fit(X, bad)
    with pytest.raises(ValueError):
        KerasOneClassSVM(nu=1.5).fit(X)
    for name, value in before.items():
        np.testing.assert_array_equal(getattr(reg, name), value)


def test_grid_search_and_cross_validation(friedman, blob):
    X, y = friedman
    search = GridSearchCV(
        KerasSVR(n_components=32, random_state=0),
        {"C": [1.0, 10.0], "epsilon": [0.1, 0.5]},
        cv=3,
    ).fit(X, y)
    assert search.cv_results_["mean_test_score"].shape == (4,)
    assert search.best_estimator_.score(X, y) > 0.5
    scores = cross_val_score(make_pipeline(StandardScaler(), KerasLinearSVR()), X, y, cv=3)
    assert np.all(scores > 0.5)
    det = make_pipeline(StandardScaler(), KerasOneClassSVM(n_components=32, random_state=0))
    assert det.fit(blob).predict(blob).shape == (len(blob),)


def test_column_transformer_pipeline_on_a_diamonds_shaped_frame():
    rng = np.random.RandomState(0)
    n = 300
    cut = rng.choice(["Fair", "Good", "Ideal"], size=n)
    color = rng.choice(list("DEFG"), size=n)
    carat = rng.uniform(0.2, 2.5, size=n)
    depth = rng.normal(61.5, 1.5, size=n)
    quality = pd.Series(cut).map({"Fair": 0.0, "Good": 0.3, "Ideal": 0.6}).to_numpy()
    log_price = 7.5 + 1.8 * np.log(carat) + quality + 0.05 * rng.normal(size=n)
    frame = pd.DataFrame({"cut": cut, "color": color, "carat": carat, "depth": depth})
    model = make_pipeline(
        ColumnTransformer(
            [
                ("categories", OneHotEncoder(), ["cut", "color"]),
                ("numbers", StandardScaler(), ["carat", "depth"]),
            ]
        ),
        KerasSVR(C=10.0, epsilon=0.05, n_components=128, random_state=0),
    )
    model.fit(frame[:200], log_price[:200])
    assert model.score(frame[200:], log_price[200:]) > 0.9


def test_svr_search_agrees_with_grid_search(friedman):
    X, y = friedman
    grid = {"C": [1.0, 10.0], "epsilon": [0.1, 0.5], "gamma": ["scale", 0.05], "n_components": [64]}
    ours = KerasSVRCV(
        Cs=grid["C"],
        epsilons=grid["epsilon"],
        gammas=grid["gamma"],
        n_components=64,
        cv=3,
        random_state=0,
    ).fit(X, y)
    theirs = GridSearchCV(KerasSVR(n_components=64, random_state=0), grid, cv=3).fit(X, y)
    assert ours.cv_results_["params"] == theirs.cv_results_["params"]
    np.testing.assert_allclose(
        ours.cv_results_["mean_test_score"], theirs.cv_results_["mean_test_score"], atol=5e-3
    )
    assert ours.best_params_ == theirs.best_params_
    np.testing.assert_allclose(
        ours.predict(X), theirs.best_estimator_.predict(X), rtol=1e-6, atol=1e-6
    )
    assert not hasattr(KerasSVRCV(refit=False).fit(X, y), "coef_")
    with pytest.raises(InvalidParameterError, match="epsilons"):
        KerasSVRCV(epsilons=[-1.0]).fit(X, y)
