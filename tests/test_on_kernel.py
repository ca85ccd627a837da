"""The kernel SVM solved on its kernel itself, before any feature map.

A hinge fit with ``approximation="auto"`` on fewer landmarks than rows, on a
kernel libsvm computes (``"rbf"``, ``"poly"`` with ``coef0 >= 0``), first
solves the kernel SVM as ``SVC`` does (:func:`kernelsvm_keras._dual.solve_on_kernel`);
where its support vectors fit among the landmarks they become landmarks, and
the point is certified on the map's features. The references are
scikit-learn's ``SVC``, ``SVR`` and ``OneClassSVM`` themselves, to what the
map drops: landmarks nearly in the others' span (here up to 1e-4 of the
objective; on the decision function, up to 1% far from the margins at
``C=10``, where the dual variables are larger).
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_iris, make_blobs, make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.multiclass import OneVsRestClassifier
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, SVR, OneClassSVM

from kernelsvm_keras import KerasOneClassSVM, KerasSVC, KerasSVR, _base, _design, _dual

from oracles import kernel_objective

X_sep, y_sep = make_classification(
    400, 4, n_informative=3, n_redundant=0, class_sep=2.0, flip_y=0, random_state=0
)
PARAMS = dict(loss="hinge", n_components=100, random_state=0, tol=1e-6)


def fit_quietly(est, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        return est.fit(*args, **kwargs)


def certified(est):
    return bool(np.all(est.dual_gap_ <= est.tol))


@pytest.fixture
def points(monkeypatch):
    """What :func:`~kernelsvm_keras._dual.solve_on_kernel` returns, for the fits that follow."""
    results = []

    def recording(*args, **kwargs):
        results.append(_dual.solve_on_kernel(*args, **kwargs))
        return results[-1]

    monkeypatch.setattr(_base, "solve_on_kernel", recording)
    return results


@pytest.mark.parametrize("C", [1.0, 10.0])
def test_the_hinge_is_svc_s_own_solution(points, C):
    est = fit_quietly(KerasSVC(C=C, **PARAMS), X_sep, y_sep)
    svc = SVC(C=C, gamma=est.gamma_, tol=1e-10).fit(X_sep, y_sep)
    assert len(points) == 1 and points[0] is not None
    np.testing.assert_array_equal(np.sort(est.support_), np.sort(svc.support_))
    # the support vectors alone are the landmarks: fewer than n_components
    np.testing.assert_array_equal(np.sort(est.component_indices_), np.sort(est.support_))
    assert est.components_.shape == (svc.support_.size, X_sep.shape[1])
    optimum = kernel_objective(
        X_sep, 2.0 * y_sep - 1, svc.support_, svc.dual_coef_[0], svc.intercept_[0], est.gamma_, C
    )
    np.testing.assert_allclose(est.objective_[0], optimum, rtol=2e-4)
    np.testing.assert_allclose(
        est.decision_function(X_sep), svc.decision_function(X_sep), rtol=1e-2, atol=2e-3
    )
    np.testing.assert_array_equal(est.predict(X_sep), svc.predict(X_sep))
    assert certified(est)


def test_one_vs_one_is_svc_pair_by_pair(points):
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    est = fit_quietly(KerasSVC(multi_class="ovo", **{**PARAMS, "n_components": 60}), X, y)
    svc = SVC(gamma=est.gamma_, tol=1e-10, decision_function_shape="ovo").fit(X, y)
    assert points[0] is not None and certified(est)
    est.set_params(decision_function_shape="ovo")
    np.testing.assert_allclose(
        est.decision_function(X), svc.decision_function(X), rtol=1e-2, atol=2e-3
    )


def test_one_vs_rest_is_svc_class_by_class(points):
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    est = fit_quietly(KerasSVC(multi_class="ovr", **{**PARAMS, "n_components": 80}), X, y)
    ovr = OneVsRestClassifier(SVC(gamma=est.gamma_, tol=1e-10)).fit(X, y)
    assert points[0] is not None and certified(est)
    np.testing.assert_allclose(
        est.decision_function(X), ovr.decision_function(X), rtol=1e-2, atol=2e-3
    )


def test_weights_are_svc_s(points):
    weights = np.random.RandomState(0).uniform(0.2, 3.0, size=len(y_sep))
    params = dict(C=3.0, class_weight={0: 2.0, 1: 0.5})
    est = fit_quietly(KerasSVC(**params, **PARAMS), X_sep, y_sep, sample_weight=weights)
    svc = SVC(gamma=est.gamma_, tol=1e-10, **params).fit(X_sep, y_sep, sample_weight=weights)
    assert points[0] is not None and certified(est)
    np.testing.assert_allclose(
        est.decision_function(X_sep), svc.decision_function(X_sep), rtol=1e-2, atol=2e-3
    )


def test_sparse_rows_are_the_dense_ones(points):
    dense = fit_quietly(KerasSVC(**PARAMS), X_sep, y_sep)
    sparse = fit_quietly(KerasSVC(**PARAMS), sp.csr_matrix(X_sep), y_sep)
    assert all(point is not None for point in points)
    np.testing.assert_array_equal(sparse.component_indices_, dense.component_indices_)
    np.testing.assert_allclose(sparse.objective_, dense.objective_, rtol=1e-9)


def test_the_polynomial_kernel_is_svc_s(points):
    params = dict(kernel="poly", degree=2, coef0=1.0, gamma=0.5)
    est = fit_quietly(KerasSVC(**params, **PARAMS), X_sep, y_sep)
    svc = SVC(tol=1e-10, **params).fit(X_sep, y_sep)
    assert points[0] is not None and certified(est)
    np.testing.assert_array_equal(np.sort(est.support_), np.sort(svc.support_))
    np.testing.assert_allclose(
        est.decision_function(X_sep), svc.decision_function(X_sep), rtol=1e-2, atol=2e-3
    )


def test_the_regression_is_svr_s(points):
    Xr, yr = make_regression(400, 4, noise=5.0, random_state=0)
    Xr, yr = StandardScaler().fit_transform(Xr), yr / np.std(yr)
    params = dict(C=10.0, epsilon=0.1)
    est = KerasSVR(loss="epsilon_insensitive", n_components=150, random_state=0, tol=1e-6)
    est = fit_quietly(est.set_params(**params), Xr, yr)
    svr = SVR(gamma=est.gamma_, tol=1e-10, **params).fit(Xr, yr)
    assert points[0] is not None and certified(est)
    assert svr.support_.size <= 150
    optimum = kernel_objective(
        Xr, yr, svr.support_, svr.dual_coef_[0], svr.intercept_[0], est.gamma_, 10.0, epsilon=0.1
    )
    np.testing.assert_allclose(est.objective_[0], optimum, rtol=2e-4)
    np.testing.assert_allclose(est.predict(Xr), svr.predict(Xr), rtol=1e-2, atol=2e-3)


def test_the_one_class_svm_is_one_class_svm_s(points):
    Xo, _ = make_blobs(400, 3, centers=1, random_state=0)
    est = fit_quietly(KerasOneClassSVM(nu=0.05, n_components=100, random_state=0, tol=1e-6), Xo)
    reference = OneClassSVM(nu=0.05, gamma=est.gamma_, tol=1e-10).fit(Xo)
    assert points[0] is not None and certified(est)
    np.testing.assert_array_equal(np.sort(est.support_), np.sort(reference.support_))
    np.testing.assert_allclose(
        est.decision_function(Xo), reference.decision_function(Xo), rtol=1e-2, atol=2e-3
    )


def test_the_certificate_is_the_returned_model_s(points, monkeypatch):
    # taken on the model's own float64 features (the kernel block against the
    # landmarks), without the design's float64 pass over its projected rows
    def refused(*args, **kwargs):
        raise AssertionError("the design's float64 pass was taken")

    monkeypatch.setattr(_design.RowBlocks, "exact_products", refused)
    C = 10.0
    est = fit_quietly(KerasSVC(C=C, **PARAMS), X_sep, y_sep)
    assert points[0] is not None and certified(est)
    margins = (2.0 * y_sep - 1.0) * est.decision_function(X_sep)
    primal = 0.5 * np.sum(est.coef_**2) + C * np.sum(np.maximum(0.0, 1.0 - margins))
    np.testing.assert_allclose(est.objective_[0], primal, rtol=1e-10)


def test_no_support_vector_keeps_one_landmark(points):
    # a tube that holds every row: the constant model, on one drawn landmark
    Xr, yr = make_regression(200, 4, noise=5.0, random_state=0)
    est = KerasSVR(loss="epsilon_insensitive", epsilon=1e3, n_components=50, random_state=0)
    est = fit_quietly(est, Xr, yr / np.std(yr))
    assert points[0] is not None and est.support_.size == 0
    assert est.components_.shape == (1, 4) and certified(est)
    np.testing.assert_allclose(est.predict(Xr), est.intercept_[0], rtol=1e-12)
    np.testing.assert_allclose(
        est.to_keras().predict(Xr.astype(np.float32), verbose=0).ravel(),
        est.predict(Xr),
        rtol=1e-5,
    )


def test_columns_on_threads_are_the_columns_one_at_a_time(monkeypatch, points):
    X, y = load_iris(return_X_y=True)
    fits = []
    for threads in (1, 3):
        monkeypatch.setattr(_dual, "_libsvm_threads", lambda threads=threads: threads)
        monkeypatch.setattr(_dual, "_THREADED_ENTRIES", 0)  # (threads for small columns too)
        est = KerasSVC(multi_class="ovo", **{**PARAMS, "n_components": 60})
        fits.append(fit_quietly(est, X, y))
    assert len(points) == 2 and all(point is not None for point in points)
    np.testing.assert_array_equal(fits[0].coef_, fits[1].coef_)
    np.testing.assert_array_equal(fits[0].intercept_, fits[1].intercept_)


def drawn(est, X, y, monkeypatch):
    """``est`` fitted with the kernel SVM on its kernel off (the drawn landmarks' route)."""
    with monkeypatch.context() as patched:
        patched.setattr(_dual, "_KERNEL_FLOPS", 0)
        return fit_quietly(est, X, y)


def test_more_support_vectors_than_landmarks_give_up(points, monkeypatch):
    # noisy labels: libsvm stops as soon as the support vectors outnumber the
    # landmarks (in its first column here), and the fit is that of the draw
    Xn, yn = make_classification(400, 4, flip_y=0.3, random_state=0)
    params = dict(loss="hinge", n_components=50, random_state=0)
    est = fit_quietly(KerasSVC(**params), Xn, yn)
    assert points == [None]
    reference = drawn(KerasSVC(**params), Xn, yn, monkeypatch)
    np.testing.assert_array_equal(est.component_indices_, reference.component_indices_)
    np.testing.assert_array_equal(est.coef_, reference.coef_)


def test_libsvm_out_of_steps_gives_up(points, monkeypatch):
    monkeypatch.setattr(_dual, "_SMO_TOL", 1e-300)  # a tolerance libsvm cannot reach
    monkeypatch.setattr(_dual, "_SMO_LOOSE_TOL", 1e-300)
    monkeypatch.setattr(_dual, "_SMO_WORK", 0)  # 100 steps per row
    est = fit_quietly(KerasSVC(**PARAMS), X_sep, y_sep)
    assert points == [None] and certified(est)


def test_a_point_above_tol_on_the_features_is_solved_again_there(monkeypatch, points):
    # where the map's features do not certify the point (they drop what the
    # landmarks' kernel matrix nearly repeats), the problem is solved on them,
    # from the landmarks that hold the kernel SVM's support vectors
    certify = _dual.certified_point

    def short(*args, **kwargs):
        result = certify(*args, **kwargs)
        result.converged = False
        return result

    monkeypatch.setattr(_base, "certified_point", short)
    est = fit_quietly(KerasSVC(**PARAMS), X_sep, y_sep)
    assert points[0] is not None and certified(est)
    support = np.flatnonzero(np.any(points[0].beta != 0, axis=1))
    assert np.isin(support, est.component_indices_).all()


@pytest.mark.parametrize(
    "params",
    [
        dict(loss="squared_hinge"),
        dict(approximation="nystroem"),
        dict(approximation="random_fourier"),
        dict(kernel="laplacian"),  # (not libsvm's)
        dict(kernel="sigmoid"),  # (not positive semi-definite: landmarks do not hold it)
        dict(kernel="poly", coef0=-1.0),
        dict(warm_start=True),
        dict(n_components=400),  # every row a landmark: the dual on the features
    ],
)
def test_the_route_is_declined_where_it_cannot_serve(points, params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        KerasSVC(**{**PARAMS, "tol": 1e-3, **params}).fit(X_sep, y_sep)
    assert points == []


def test_kernel_matrices_beyond_the_budget_are_declined(points, monkeypatch):
    # the columns' kernel rows (rows^2 times the features, per column) are counted
    monkeypatch.setattr(_dual, "_KERNEL_FLOPS", 400**2 * 4 - 1)
    fit_quietly(KerasSVC(**PARAMS), X_sep, y_sep)
    monkeypatch.setattr(_dual, "_KERNEL_FLOPS", 400**2 * 4)
    fit_quietly(KerasSVC(**PARAMS), X_sep, y_sep)
    assert len(points) == 1 and points[0] is not None


def test_c_beyond_float32_s_range_is_refused_as_on_every_route(monkeypatch):
    # libsvm would solve it in float64, but the model is float32's: the same
    # ValueError as the other routes give, before libsvm runs
    columns = []
    monkeypatch.setattr(_dual._Dual, "column", lambda *args: columns.append(args))
    with pytest.raises(ValueError, match="C times the sum of the sample weights"):
        KerasSVC(**{**PARAMS, "C": 1e16}).fit(X_sep, y_sep)
    assert columns == []
