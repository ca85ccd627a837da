"""Numerical reliability: no non-finite model, no false certificate, all-or-nothing fits.

The certificate is checked against an independent float64 optimum: libsvm's
dual solution (``SVC(kernel="precomputed")``, which solves exactly this
problem for the hinge, with the unpenalised intercept and ``sample_weight``
multiplying ``C``), and for the squared hinge the same dual with the kernel
``K + diag(1 / (2 C s_i))`` and no upper bound on the dual variables.
"""

import copy
import math
import os
import warnings

import numpy as np
import pytest
import scipy.linalg
import scipy.sparse as sp
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.svm import SVC, OneClassSVM
from sklearn.utils._param_validation import InvalidParameterError

from kernelsvm_keras import (
    KerasLinearSVC,
    KerasLinearSVCCV,
    KerasOneClassSVM,
    KerasSVC,
    KerasSVCCV,
)

from oracles import NotSolved, reference_optimum
from routes import ROUTES, route

X, y = make_classification(
    200, 5, n_informative=3, n_redundant=0, n_clusters_per_class=1, random_state=0
)


def model_features(est, X):
    """The features of the fitted model, in float64: ``X`` itself, or the map's of ``X``.

    What ``objective_`` and ``dual_gap_`` are certified on: the features that
    ``decision_function`` computes, not the float32 ones training computed
    (``_BaseSVM._on_model_features``; the problems here are all within its
    budget).
    """
    if isinstance(est, KerasLinearSVC):
        return np.asarray(X, dtype=np.float64)
    return est._map.features(np.asarray(X, dtype=np.float64))


def primal(Phi, t, s, C, loss, coef, intercept):
    assert loss in ("hinge", "squared_hinge"), loss  # a loss name, resolved
    viol = np.maximum(0.0, 1.0 - t * (Phi @ coef + intercept))
    if loss == "squared_hinge":
        viol = viol**2
    return 0.5 * coef @ coef + C * np.sum(s * viol)


def primal_rounding(Phi, s, C, loss, coef, intercept, factors=None):
    """How far two float64 evaluations of :func:`primal` may differ: a bound on its rounding.

    Each ``phi_i . w + b`` is within ``gamma |phi_i| . |w| + |b|`` of exact, ``gamma = (m + 2)
    eps`` (the bound for a sum of ``m`` products, and the intercept's addition; BLAS libraries
    sum in different orders); the hinge moves by at most that, the squared hinge by that times
    ``2 v_i`` plus it, each times ``C s_i``; the sums round within ``n eps`` of their total. At
    a large ``C`` this is far above ``P``'s relative precision (``C = 1e11`` on twelve rows:
    two evaluations differed by 1e-6 of ``P``).

    ``factors``, ``(k(X, Z), N)`` of a landmark map (:func:`landmark_factors`): the features
    are themselves a product, which the model multiplies as ``k(X, Z) @ (N @ w)`` and
    ``Phi`` as ``(k(X, Z) @ N) @ w``. Either rounds within ``2 gamma |k| . (|N| . |w|)``,
    far above ``|phi| . |w|`` where ``N`` is large (a nearly singular landmark kernel:
    the sigmoid kernel on twelve rows at ``C = 1e11`` moved ``P`` by 0.7 of 1.27e6).
    """
    eps = np.finfo(np.float64).eps
    gamma = (Phi.shape[1] + 2) * eps
    dz = gamma * (np.abs(Phi) @ np.abs(coef) + abs(intercept))
    if factors is not None:
        kernel, N = factors
        dz += 2 * (kernel.shape[1] + 2) * eps * (np.abs(kernel) @ (np.abs(N) @ np.abs(coef)))
    z = Phi @ coef + intercept
    viol = 1.0 + np.abs(z)  # at least the violation max(0, 1 - t z)
    moved = dz if loss == "hinge" else dz * (2 * viol + dz)
    P_bound = 0.5 * coef @ coef + C * np.sum(s * (viol + dz) ** (1 if loss == "hinge" else 2))
    return C * np.sum(s * moved) + len(s) * eps * P_bound


def landmark_factors(est, X):
    """``(k(X, Z), N)`` of a landmark map's features ``k(X, Z) @ N``, else ``None``."""
    mapping = getattr(est, "_map", None)
    if not hasattr(mapping, "components_"):
        return None
    X = np.asarray(X, dtype=np.float64)
    return mapping._kernel(X, mapping.components_), mapping.normalization_


def true_excess(est, X, y, sample_weight=None, max_iter=-1):
    """Relative excess of the fitted binary model over the float64 optimum."""
    s = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, float)
    t = np.where(y == est.classes_[1], 1.0, -1.0)
    Phi = model_features(est, X)
    C = float(est.C)
    loss = est._loss().name  # KerasSVC's loss="auto" resolved
    P = primal(Phi, t, s, C, loss, est.coef_[0], est.intercept_[0])
    # to the reference's accuracy: libsvm's dual bound may lie its own gap below P*
    excess = (P - reference_optimum(Phi, t, s, C, loss, max_iter)) / P
    return P, max(0.0, excess - reference_optimum.last_gap)


# -- 1, 2: large C, extreme scales ---------------------------------------------


@pytest.mark.parametrize("solver", ROUTES)
@pytest.mark.parametrize("C", [1e5, 1e6, 1e8])
def test_large_C_linear_reaches_a_finite_certified_optimum(C, solver):
    with warnings.catch_warnings(), route(solver):
        warnings.simplefilter("error", ConvergenceWarning)
        est = KerasLinearSVC(C=C).fit(X, y)
    assert np.all(np.isfinite(est.coef_)) and np.all(np.isfinite(est.dual_gap_))
    assert est.dual_gap_[0] <= est.tol
    P, excess = true_excess(est, X, y)
    np.testing.assert_allclose(est.objective_[0], P, rtol=1e-9)
    assert excess <= est.dual_gap_[0] + 1e-9
    assert est.score(X, y) >= 0.75  # LinearSVC(C=1e8): 0.80


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize(
    "solver, loss",
    # Newton with the hinge: float32 steps end at a gap of 1.0; the float64
    # interior point then certifies the hard margin
    [
        ("dual", "squared_hinge"),
        ("newton", "squared_hinge"),
        ("dual", "hinge"),
        ("newton", "hinge"),
    ],
)
def test_large_C_kernel_is_a_real_model_with_a_true_gap(solver, loss):
    X2, y2 = make_classification(random_state=42)
    with route(solver):
        est = KerasSVC(C=1e8, loss=loss, random_state=0).fit(X2, y2)
        # no worse than the C=1e6 solution in the C=1e8 objective
        other = KerasSVC(C=1e6, loss=loss, random_state=0).fit(X2, y2)
    if solver == "dual" or loss == "hinge":  # the hard-margin limit, exactly: certified
        assert est.dual_gap_[0] <= est.tol and other.dual_gap_[0] <= other.tol
    assert np.all(np.isfinite(est.coef_)) and np.abs(est.coef_).max() > 0
    assert est.score(X2, y2) >= 0.95  # SVC(C=1e8): 1.00
    if loss == "hinge":  # libsvm, the reference, does not solve C=1e8 to a certified gap
        return
    t = np.where(y2 == est.classes_[1], 1.0, -1.0)
    Phi = model_features(est, X2)
    at_1e6 = primal(Phi, t, 1.0, 1e8, est._loss().name, other.coef_[0], other.intercept_[0])
    assert est.objective_[0] <= at_1e6 * (1 + 1e-3)
    P, excess = true_excess(est, X2, y2)
    assert excess <= est.dual_gap_[0] + 1e-9


def test_the_hinge_at_a_large_C_is_finished_in_float64(monkeypatch):
    # Not separable (5% of the labels flipped), C=1e6, the hinge, on the
    # Newton route: the float32 iterations stop improving at a certified gap
    # above tol (a ConvergenceWarning). The float64 interior point solves the
    # same problem again and certifies it. (libsvm, the other tests' oracle,
    # does not solve it in 5 million steps.)
    from kernelsvm_keras import _certificate

    X2, y2 = make_classification(
        800, 5, n_informative=3, n_redundant=0, n_clusters_per_class=1, flip_y=0.05,
        random_state=0,
    )  # fmt: skip
    t = np.where(y2 == 1, 1.0, -1.0)

    def fit():
        est = KerasSVC(C=1e6, loss="hinge", n_components=32, random_state=0)
        with warnings.catch_warnings(record=True) as caught, route("newton"):
            warnings.simplefilter("always", ConvergenceWarning)
            est.fit(X2, y2)
        P = primal(model_features(est, X2), t, 1.0, 1e6, "hinge", est.coef_[0], est.intercept_[0])
        np.testing.assert_allclose(est.objective_[0], P, rtol=1e-9)  # the objective is true
        return est, [w for w in caught if w.category is ConvergenceWarning]

    est, warned = fit()
    assert est.dual_gap_[0] <= est.tol and not warned
    monkeypatch.setattr(_certificate, "_INTERIOR_FLOPS", 0)  # without the interior point
    stalled, warned = fit()
    # (float32 stalls at gaps of 4e-3 to 7e-3 on TensorFlow and JAX; 0.04 before
    # the line search summed in NumPy and the Woodbury products ran on the
    # curved rows alone)
    assert stalled.dual_gap_[0] > est.tol and warned
    # the warning says what is out of range for the float64 finish
    assert "interior point" in str(warned[0].message), warned[0].message
    # (lower: float32 stops 1e-4 above it since its line search sums in NumPy,
    # 1e-3 and more before)
    assert est.objective_[0] < stalled.objective_[0]


def test_the_certificate_is_the_fitted_model_s_own(monkeypatch):
    # A polynomial kernel on raw rows of magnitude 1e3: kernel values near 1e14,
    # landmark features near 1e7, weights near 1e-6. The float32 features training
    # computes differ from the model's float64 ones enough to move its margins 1e-5
    # off 1: certified on the training features (a gap of 1e-12), the model itself
    # stood orders of magnitude above its optimum (objective 1e-13 reported, 1e-3
    # true). The gap is now the model's, and where the training features' point
    # fails it, the problem is solved again on the model's features.
    from kernelsvm_keras import _base

    rng = np.random.RandomState(0)
    Xp = rng.standard_normal((40, 8)) * 1e3
    yp = rng.randint(2, size=40)
    t, s = np.where(yp == 1, 1.0, -1.0), np.ones(40)

    def fit():
        est = KerasSVC(kernel="poly", gamma=0.01, coef0=0.0, loss="hinge", C=100.0)
        est.set_params(n_components=32, random_state=0)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            est.fit(Xp, yp)
        Phi = model_features(est, Xp)  # the model's own features
        coef, intercept = est.coef_[0], est.intercept_[0]
        P = primal(Phi, t, s, 100.0, "hinge", coef, intercept)
        rounding = primal_rounding(Phi, s, 100.0, "hinge", coef, intercept)
        assert abs(est.objective_[0] - P) <= 1e-7 * P + rounding  # the model's objective
        return est, [w for w in caught if w.category is ConvergenceWarning]

    # A fit the exact dual may take computes its features in float64 on the
    # host: the model's own. Certified on them, it is separated as certified.
    est, warned = fit()
    assert est.dual_gap_[0] <= est.tol and not warned
    assert np.min(t * est.decision_function(Xp)) >= 1.0 - 1e-9
    # Larger fits compute them in float32 on the device, as this one does now.
    monkeypatch.setattr(KerasSVC, "_host_features", lambda self, n, feature_map: False)
    est, warned = fit()
    assert est.dual_gap_[0] <= est.tol and not warned
    assert np.min(t * est.decision_function(Xp)) >= 1.0 - 1e-9  # separated, as certified
    # where the model's features are not held, the fit says what stopped it
    monkeypatch.setattr(_base, "_MODEL_FEATURES_ELEMENTS", 0)
    limited, warned = fit()
    assert limited.dual_gap_[0] > limited.tol and warned
    assert "computes its features in float64" in str(warned[0].message), warned[0].message


def _without_newton(monkeypatch):
    """Make the Newton solver raise: a fit must end on the exact dual's route."""
    from kernelsvm_keras import _base

    def newton(*args, **kwargs):
        raise AssertionError("the Newton solver ran")

    monkeypatch.setattr(_base, "solve_svm", newton)


@pytest.mark.parametrize("n_components", [64, 256])
def test_the_hard_margin_limit_is_certified_on_the_exact_dual(n_components, monkeypatch):
    # C=1e12 with the hinge on separable rows: libsvm's kernel cache is float32
    # (its Qfloat), which leaves the margins 1e-5 off, and the float64 solution
    # on its free support vectors leaves them off by the round-off of the
    # predictions (4e-11), which C made 2% of the objective. Before: Newton for
    # 22 s (256 landmarks) and 46 s (64), then a ConvergenceWarning.
    _without_newton(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est = KerasSVC(C=1e12, loss="hinge", n_components=n_components, random_state=0)
        est.fit(X, y)
    assert est.dual_gap_[0] <= est.tol and est.score(X, y) == 1.0
    t = np.where(y == est.classes_[1], 1.0, -1.0)
    s = np.ones(len(y))
    Phi = model_features(est, X)
    coef, intercept = est.coef_[0], est.intercept_[0]
    P = primal(Phi, t, s, 1e12, "hinge", coef, intercept)
    # the objective reported is the model's own, to the round-off of evaluating it
    assert abs(est.objective_[0] - P) <= primal_rounding(Phi, s, 1e12, "hinge", coef, intercept)
    # and within the certificate's tolerance (two BLAS builds' evaluations here: equal
    # with NumPy 2.4's, 2.8e-5 of P apart with NumPy 2.5's and 1.24's; the bound above
    # allows 6%)
    assert abs(est.objective_[0] - P) <= est.tol * P


def test_the_hinge_out_of_libsvm_s_steps_is_finished_before_newton(monkeypatch):
    # A linear kernel at C=1e6 on rows that are not separable: libsvm stops at
    # its step limit. The float64 interior point finishes the column on the
    # dual's route; before, Newton ran first and then the same finish (3.6 s).
    # The finish costs less than libsvm's steps beyond 100 per row here
    # (1.65M of them took 1.0 s), so libsvm stops at those: 0.05 s in all.
    from kernelsvm_keras import _dual

    _without_newton(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est = KerasSVC(kernel="linear", C=1e6, loss="hinge").fit(X, y)
    limit = _dual._SMO_STEPS_PER_ROW * len(y)
    # (libsvm ran out of steps, at both its tolerances)
    assert est.n_iter_[0] == limit + limit // _dual._SMO_LOOSE_SHARE
    assert est.dual_gap_[0] <= est.tol
    t = np.where(y == est.classes_[1], 1.0, -1.0)
    P = primal(X, t, 1.0, 1e6, "hinge", est.coef_[0], est.intercept_[0])
    np.testing.assert_allclose(est.objective_[0], P, rtol=1e-9)  # the model's own objective


@pytest.mark.parametrize("C", [1e8, 1e12])
def test_the_squared_hinge_out_of_libsvm_s_steps_is_finished_in_float64(C, monkeypatch):
    # A linear kernel, the squared hinge, a large C on rows that are not
    # separable: libsvm stops at its step limit and float32 Newton cannot
    # resolve the margins (C=1e12: a ConvergenceWarning after 3.9 s, gap 1.5e-2).
    # The finite Newton method in float64 finishes it on the dual's route.
    _without_newton(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est = KerasSVC(kernel="linear", C=C, loss="squared_hinge").fit(X, y)
    assert est.dual_gap_[0] <= est.tol
    t = np.where(y == est.classes_[1], 1.0, -1.0)
    P = primal(X, t, 1.0, C, "squared_hinge", est.coef_[0], est.intercept_[0])
    np.testing.assert_allclose(est.objective_[0], P, rtol=1e-9)
    optimum = reference_optimum(X, t, np.ones(len(y)), C, "squared_hinge")
    assert (P - optimum) / P <= est.dual_gap_[0] + 1e-9


@pytest.mark.parametrize("C", [1.0, 1e4, 1e8])
@pytest.mark.parametrize("intervals", ["margins", "tubes"])
def test_finite_newton_reaches_the_squared_losses_optimum(C, intervals):
    from kernelsvm_keras._finite_newton import solve_squared_primal

    from oracles import _interval_squared_optimum

    rng = np.random.default_rng(0)
    A = rng.normal(size=(300, 6))
    s = rng.uniform(0.5, 2.0, 300)
    if intervals == "margins":
        t = np.sign(A @ rng.normal(size=6) + rng.normal(scale=0.5, size=300))
        lower, upper = np.where(t > 0, 1.0, -np.inf), np.where(t > 0, np.inf, -1.0)
    else:
        target = A @ rng.normal(size=6) + rng.normal(scale=0.3, size=300)
        lower, upper = target - 0.1, target + 0.1
    w, b, n_iter = solve_squared_primal(A, lower, upper, C * s)
    z = A @ w + b
    losses = np.maximum(lower - z, 0) ** 2 + np.maximum(z - upper, 0) ** 2
    f = 0.5 * w @ w + C * np.sum(s * losses)
    optimum = _interval_squared_optimum(A, lower, upper, s, C)
    assert n_iter < 100 and f <= optimum * (1 + 1e-9)
    # from a start near the optimum, few iterations
    w2, _, again = solve_squared_primal(
        A, lower, upper, C * s, coef_init=w * 1.01, intercept_init=b
    )
    assert again <= 10 and np.allclose(w2, w, rtol=1e-6, atol=1e-8)


def test_the_interior_point_keeps_its_digits_near_the_upper_bound(monkeypatch):
    # Breast cancer, standardised, a linear hinge at C=1e10: the boxes of the
    # rows of the -1 class are [-C, 0], and x = low + v held their variables
    # near 0 to 1e-6 only, which C turned into the margins' ruin: the interior
    # point stalled at a gap of 2.5e-2, and Newton ran 18 s before a warning.
    from sklearn.datasets import load_breast_cancer
    from sklearn.preprocessing import StandardScaler

    Xb, yb = load_breast_cancer(return_X_y=True)
    Xb = StandardScaler().fit_transform(Xb)
    _without_newton(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est = KerasSVC(kernel="linear", C=1e10, loss="hinge").fit(Xb, yb)
    assert est.dual_gap_[0] <= est.tol
    t = np.where(yb == est.classes_[1], 1.0, -1.0)
    P = primal(Xb, t, 1.0, 1e10, "hinge", est.coef_[0], est.intercept_[0])
    np.testing.assert_allclose(est.objective_[0], P, rtol=1e-9)


def test_the_interior_point_solves_svr_s_dual():
    # The epsilon-insensitive loss's rows enter the interior point twice
    # (beta+ and -beta-): the same optimum as libsvm's SVR.
    from kernelsvm_keras import _certificate, _design
    from kernelsvm_keras._loss import get_loss, tube_intervals

    from oracles import reference_svr_optimum

    rng = np.random.default_rng(0)
    Phi = rng.normal(size=(60, 3)).astype(np.float32).astype(np.float64)
    target = Phi @ np.array([1.0, -0.5, 2.0]) + rng.normal(scale=0.3, size=60)
    s = rng.uniform(0.5, 2.0, 60)
    C, epsilon = 10.0, 0.1
    lower, upper = tube_intervals(target[:, None], epsilon)
    problem = _certificate._Intervals(lower, upper, s, C, get_loss("hinge"), True, 0.0)
    design = _design.RowBlocks(Phi, None, 3, batch_size=64, cache_bytes=2**20)
    found = _certificate._interior_points(design, problem, np.array([0]), 1e-9)
    points, _, coef, intercept = found
    residual = np.abs(target - Phi @ coef[:, 0] - intercept[0])
    P = 0.5 * coef[:, 0] @ coef[:, 0] + C * np.sum(s * np.maximum(0.0, residual - epsilon))
    optimum = reference_svr_optimum(Phi, target, s, C, epsilon, "epsilon_insensitive")
    # (libsvm's own point, at its tol=1e-10, is 2e-7 above)
    assert P <= optimum * (1 + 1e-9) and P >= optimum * (1 - 1e-6)
    # a feasible dual point: |beta| <= C s, summing to 0
    assert np.all(np.abs(points[:, 0]) <= C * s * (1 + 1e-12)) and abs(points[:, 0].sum()) < 1e-6


@pytest.mark.parametrize("C", [1e4, 1e10])
def test_svr_at_a_large_C_is_finished_in_float64(C, monkeypatch):
    # Diabetes, standardised, the epsilon-insensitive loss on the linear
    # kernel: libsvm ran out of steps and float32 Newton stalled (a warning
    # after 6.5-11.6 s). The interior point on the dual's route certifies it.
    from sklearn.datasets import load_diabetes
    from sklearn.preprocessing import StandardScaler

    from kernelsvm_keras import KerasSVR

    Xd, yd = load_diabetes(return_X_y=True)
    Xd, yd = StandardScaler().fit_transform(Xd), (yd - yd.mean()) / yd.std()
    _without_newton(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est = KerasSVR(kernel="linear", C=C, loss="epsilon_insensitive").fit(Xd, yd)
    assert est.dual_gap_[0] <= est.tol
    Phi = est._map.features(Xd)  # (the features training used)
    residual = np.abs(yd - Phi @ est.coef_[0] - est.intercept_[0])
    P = 0.5 * est.coef_[0] @ est.coef_[0] + C * np.sum(np.maximum(0.0, residual - est.epsilon))
    np.testing.assert_allclose(est.objective_[0], P, rtol=1e-9)


@pytest.mark.parametrize(
    "data, C", [("regression", 1e10), ("regression", 1e12), ("diabetes", 1e10)]
)
def test_an_interior_point_s_newton_system_without_precision_ends_it_without_a_warning(data, C):
    # At C=1e10 two free copies of one tube row left an exactly zero pivot (SciPy's
    # LinAlgWarning reached the user), and on diabetes 1^T (A A^T + D)^-1 1 rounded to 0
    # (a RuntimeWarning for the division): then NaN iterations until the stall rule
    from sklearn.datasets import load_diabetes, make_regression
    from sklearn.preprocessing import StandardScaler

    from kernelsvm_keras import KerasLinearSVR

    if data == "regression":
        Xr, yr = make_regression(300, 5, noise=5.0, random_state=0)
    else:
        Xr, yr = load_diabetes(return_X_y=True)
        Xr, yr = StandardScaler().fit_transform(Xr), (yr - yr.mean()) / yr.std()
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        warnings.simplefilter("error", scipy.linalg.LinAlgWarning)
        warnings.simplefilter("error", ConvergenceWarning)
        est = KerasLinearSVR(loss="epsilon_insensitive", C=C).fit(Xr, yr)
    assert est.dual_gap_[0] <= est.tol
    assert np.all(np.isfinite(est.coef_))


@pytest.mark.parametrize("C", [1e11, 1e12])
def test_least_deviations_at_a_large_c_are_certified_by_the_interior_point(C):
    # LinearSVR's default epsilon=0 at a large C is least absolute deviations.
    # Two copies of each row, one per end of its (point) interval, were both
    # free at the optimum: the interior point stalled at a gap of 0.1, and
    # Newton's C path then took 18-20 s to a warning (gap 1.3e-4 at C=1e12).
    # Each row now enters once, and w comes from the free rows' margins.
    from sklearn.datasets import make_regression

    from kernelsvm_keras import KerasLinearSVR

    Xr, yr = make_regression(300, 5, noise=5.0, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est = KerasLinearSVR(loss="epsilon_insensitive", C=C).fit(Xr, yr / yr.std())
    assert est.dual_gap_[0] <= 1e-3 * est.tol
    residuals = yr / yr.std() - est.predict(Xr)
    # the free rows: D + 1 on their margin (LAD's vertex)
    assert np.sum(np.abs(residuals) < 1e-9) >= Xr.shape[1] + 1


def test_newton_after_the_exact_dual_does_not_repeat_the_float64_finish(monkeypatch):
    # Where the interior point fails on the dual's route, Newton follows
    # without running it again.
    from kernelsvm_keras import _base, _certificate

    calls, finishes = [], []

    def failing(design, problem, columns, tol):
        calls.append(tuple(columns))
        return None

    def newton(*args, **kwargs):
        finishes.append(kwargs["finish"])
        return solve_svm(*args, **kwargs)

    solve_svm = _base.solve_svm
    monkeypatch.setattr(_certificate, "_interior_points", failing)
    monkeypatch.setattr(_base, "solve_svm", newton)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        KerasSVC(kernel="linear", C=1e6, loss="hinge").fit(X, y)
    assert calls == [(0,)] and finishes == [False]


def test_the_warning_says_the_float64_finish_ran_and_stopped_short():
    design = type("Design", (), {"n_outputs": 5})()
    hinge, squared = KerasSVC(loss="hinge")._loss(), KerasSVC()._loss()
    said = KerasSVC._finish_declined(design, np.ones(200), 1, hinge)
    assert said.startswith("; the float64 interior point") and "did not reach tol" in said
    assert "beyond" in KerasSVC._finish_declined(design, np.ones(10**7), 1, hinge)
    said = KerasSVC._finish_declined(design, np.ones(200), 1, squared)
    assert said.startswith("; the float64 finite Newton method") and "did not reach" in said
    # the epsilon-insensitive loss's rows count twice
    assert "did not reach" in KerasSVC._finish_declined(design, np.ones(200), 1, hinge, True)
    big = np.ones(4 * 10**6)  # (within the budget once, not twice)
    assert "did not reach" in KerasSVC._finish_declined(design, big, 1, hinge)
    assert "beyond" in KerasSVC._finish_declined(design, big, 1, hinge, two_sided=True)


def test_scaling_a_point_clears_the_round_off_on_its_margins():
    # A hard-margin solution whose margins are below 1 by 1e-11 (the round-off
    # of its predictions at a large C): the best scale of the ray lowers the
    # objective to the regulariser's, and the point kept is certified exactly.
    from kernelsvm_keras import _certificate, _design
    from kernelsvm_keras._loss import get_loss, margin_intervals

    rng = np.random.default_rng(0)
    w_true = np.array([1.0, -2.0, 0.5])
    Phi = rng.normal(size=(200, 3))
    Phi = Phi[np.abs(Phi @ w_true) > 0.5][:40]  # separated: ||w|| of a few units
    Phi = Phi.astype(np.float32).astype(np.float64)  # (a design holds float32 features)
    t = np.sign(Phi @ w_true)
    coef = w_true / np.min(np.abs(Phi @ w_true)) * (1 - 1e-11)  # margins 1 - 1e-11
    C = 1e12
    design = _design.RowBlocks(Phi, None, 3, batch_size=64, cache_bytes=2**20)
    lower, upper = margin_intervals(t[:, None])
    problem = _certificate._Intervals(lower, upper, np.ones(40), C, get_loss("hinge"), True, 0.0)
    coef2, intercept = coef[:, None].copy(), np.zeros(1)
    before = primal(Phi, t, 1.0, C, "hinge", coef, 0.0)
    value = np.array([before])
    _certificate._take_rescaled(design, problem, np.array([0]), value, coef2, intercept)
    after = primal(Phi, t, 1.0, C, "hinge", coef2[:, 0], intercept[0])
    assert before > 1.5 * 0.5 * coef @ coef  # C times the round-off: half the objective
    np.testing.assert_allclose(value[0], after, rtol=1e-12)
    np.testing.assert_allclose(after, 0.5 * coef @ coef, rtol=1e-9)


@pytest.mark.parametrize("loss", ["hinge", "squared_hinge"])
def test_the_best_scale_minimises_the_primal_along_the_ray(loss):
    from kernelsvm_keras import _certificate
    from kernelsvm_keras._loss import get_loss, margin_intervals

    rng = np.random.default_rng(1)
    z = rng.normal(size=60)
    t = np.where(rng.random(60) < 0.8, np.sign(z), -np.sign(z))
    lower, upper = margin_intervals(t[:, None])
    problem = _certificate._Intervals(lower, upper, np.ones(60), 3.0, get_loss(loss), True, 0.0)
    norm2, b = 2.0, 0.3

    def along(scale):
        Z = (scale * (z + b))[:, None]
        return 0.5 * scale**2 * norm2 + 3.0 * problem.loss.value(Z, lower, upper).sum()

    best = _certificate._best_scale(problem, 0, z + b, norm2, b)
    assert along(best) <= min(along(g) for g in np.linspace(0.01, 5, 20001)) + 1e-9


@pytest.mark.parametrize(
    "case",
    ["X*1e20", "X[0,0]=1e30", "sample_weight=1e30"],
)
@pytest.mark.parametrize("Est", [KerasLinearSVC, KerasSVC])
def test_out_of_range_problems_are_refused_and_change_nothing(case, Est):
    est = Est(n_components=16, random_state=0) if Est is KerasSVC else Est()
    est.fit(X, y)
    before = copy.deepcopy(vars(est))
    Xb, weights = X.copy(), None
    if case == "X*1e20":
        Xb = X * 1e20
    elif case == "X[0,0]=1e30":
        Xb[0, 0] = 1e30
    else:
        weights = np.full(len(y), 1e30)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est.fit(Xb, y, sample_weight=weights)
    except ValueError as exc:
        assert "C times" in str(exc) or "rescale X" in str(exc), str(exc)
        assert_same_state(vars(est), before)
    else:  # a kernel map on huge X is bounded: then a finite model
        assert Est is KerasSVC and case != "sample_weight=1e30"
        assert np.all(np.isfinite(est.coef_)) and np.all(np.isfinite(est.dual_gap_))


@pytest.mark.parametrize("magnitude", [1e-30, 1e15])
@pytest.mark.parametrize("kernel", ["rbf", "poly", "sigmoid"])
def test_a_kernel_fit_does_not_depend_on_the_rows_magnitude(kernel, magnitude):
    # gamma="scale" makes these kernels invariant to the rows' magnitude, as
    # SVC is; rows of 1e-30 made gamma 1e59, beyond float32, and the fit (with
    # fewer landmarks than rows) was refused; gamma is now folded into the rows
    Xs, ys = X[:80], y[:80]
    make = lambda: KerasSVC(kernel=kernel, n_components=16, random_state=0)  # noqa: E731
    reference = make().fit(Xs, ys)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        scaled = make().fit(Xs * magnitude, ys)
    assert scaled.gamma_ == pytest.approx(reference.gamma_ / magnitude**2)
    decision = scaled.decision_function(Xs * magnitude)
    np.testing.assert_allclose(decision, reference.decision_function(Xs), rtol=1e-4, atol=1e-4)
    # and its Keras model, whose Rescaling layer folds gamma into the inputs
    model = scaled.to_keras()
    assert [layer.name for layer in model.layers][1:3] == ["gamma_scale", "features"]
    out = np.asarray(model.predict(Xs * magnitude, verbose=0)).ravel()
    np.testing.assert_allclose(out, decision, rtol=1e-4, atol=1e-4)


def test_a_folded_gamma_scales_the_landmarks_as_it_scales_the_rows():
    # the Laplacian at gamma 1.4e23 (rows of magnitude 1e-12): scaled rows that
    # are landmarks must meet them exactly, or their own kernel value of 1 is
    # lost (landmarks scaled in float64 left the Keras model 0.67 off)
    Xs, ys = X[:80] * 1e-12, y[:80]
    est = KerasSVC(kernel="laplacian", n_components=16, random_state=0).fit(Xs, ys)
    assert est.gamma_ > 1e20
    decision = est.decision_function(Xs)
    out = np.asarray(est.to_keras().predict(Xs, verbose=0)).ravel()
    np.testing.assert_allclose(out, decision, rtol=1e-4, atol=1e-4)
    assert est.dual_gap_[0] <= est.tol


def test_a_constant_x_s_round_off_gamma_is_refused_with_a_value_error():
    # gamma="scale" of a constant column is 1 / its variance, round-off there
    # (5e33; SVC resolves the same gamma_ and raises "not finite"): the
    # polynomial features overflow float32, and the path over C, sized by
    # their norm, raised OverflowError; now the ValueError that says why
    Xc = np.full((10, 1), -0.08264044042635539)
    yc = np.array([0, 1, 0, 0, 0, 1, 1, 0, 0, 0])
    assert np.var(Xc) > 0  # (round-off)
    est = KerasSVC(kernel="poly", C=1000.0, loss="hinge", n_components=4, random_state=0)
    with warnings.catch_warnings(), pytest.raises(ValueError, match="gamma='scale'"):
        warnings.simplefilter("error", RuntimeWarning)  # (nothing ahead of the error)
        est.fit(Xc, yc)
    assert not hasattr(est, "coef_")


@pytest.mark.parametrize("seed", [0, 42])
def test_infinite_c_is_svc_s_hard_margin(seed):
    from sklearn.datasets import make_regression
    from sklearn.svm import SVR

    from kernelsvm_keras import KerasSVR

    # scikit-learn's test_svm_with_infinite_C: C=inf as a very large C
    Xc, yc = make_classification(random_state=seed)
    hard = KerasSVC(C=np.inf).fit(Xc, yc)
    np.testing.assert_array_equal(hard.predict(Xc), KerasSVC(C=1e10).fit(Xc, yc).predict(Xc))
    reference = SVC(C=np.inf).fit(Xc, yc)
    np.testing.assert_allclose(
        hard.decision_function(Xc), reference.decision_function(Xc), atol=2e-3
    )
    margins = np.where(yc == hard.classes_[1], 1.0, -1.0) * hard.decision_function(Xc)
    assert margins.min() > 1.0 - 2e-3  # no margin violated
    assert np.all(np.isfinite(hard.objective_)) and hard.dual_gap_.max() <= hard.tol
    Xr, yr = make_regression(random_state=seed)
    tube = KerasSVR(C=np.inf).fit(Xr, yr)
    np.testing.assert_allclose(tube.predict(Xr), SVR(C=np.inf).fit(Xr, yr).predict(Xr), atol=2e-3)
    assert np.abs(tube.predict(Xr) - yr).max() < tube.epsilon + 2e-3


def test_infinite_c_where_no_hard_margin_is_found_is_refused_saying_why():
    overlapping = make_classification(
        400, 5, n_informative=3, n_redundant=0, flip_y=0.2, random_state=0
    )
    for est in (KerasSVC(C=np.inf, kernel="linear"), KerasSVC(C=np.inf, n_components=20)):
        with pytest.raises(ValueError, match="C=inf asks for a hard margin.*Use a finite C"):
            est.fit(*overlapping)
    with pytest.raises(ValueError, match=r"C=inf \(a hard margin\) is solved by the exact dual"):
        KerasSVC(C=np.inf, n_components=16).fit(*make_classification(6000, random_state=0))
    with pytest.raises(ValueError, match="C times the sum of the sample weights"):
        KerasSVC(C=np.inf).fit(X, y, sample_weight=np.full(len(y), 1e15))
    # LinearSVC refuses C=inf (its constraint is open): so does ours
    with pytest.raises(InvalidParameterError, match="'C' parameter"):
        KerasLinearSVC(C=np.inf).fit(X, y)


# -- 3: warm starts after a large C --------------------------------------------


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_warm_start_after_a_large_C():
    est = KerasLinearSVC(C=1e8, warm_start=True).fit(X, y)
    assert np.all(np.isfinite(est.coef_))
    est.set_params(C=1.0).fit(X, y)
    assert est.dual_gap_[0] <= est.tol
    cold = KerasLinearSVC(C=1.0).fit(X, y)
    np.testing.assert_allclose(est.objective_, cold.objective_, rtol=2e-3)
    kernel = KerasSVC(C=1e8, n_components=64, random_state=0, warm_start=True).fit(X, y)
    kernel.set_params(C=1.0).fit(X, y)
    assert np.all(np.isfinite(kernel.coef_)) and kernel.dual_gap_[0] <= kernel.tol


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_cv_path_through_large_Cs():
    search = KerasLinearSVCCV(Cs=[1e7, 1e8], cv=3).fit(X, y)
    assert np.all(np.isfinite(search.coef_)) and search.best_score_ > 0.7
    search = KerasSVCCV(Cs=[1.0, 1e7], gammas=[0.5], n_components=32, cv=3, random_state=0)
    assert np.all(np.isfinite(search.fit(X, y).coef_))


# -- 4: an empty curved zone ---------------------------------------------------

TOY_X = np.array([[-2, -1], [-1, -1], [-1, -2], [1, 1], [1, 2], [2, 1]], dtype=float)
TOY_Y = np.array([1, 1, 1, 2, 2, 2])


@pytest.mark.parametrize("C", [0.1, 0.01])
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("loss", ["hinge", "squared_hinge"])
def test_sklearn_toy_problem(C, sparse, loss):
    Xt = sp.csr_matrix(TOY_X) if sparse else TOY_X
    est = KerasLinearSVC(C=C, loss=loss, tol=1e-5).fit(Xt, TOY_Y)
    np.testing.assert_array_equal(est.predict(Xt), TOY_Y)
    P, excess = true_excess(est, TOY_X, TOY_Y)
    assert excess <= max(est.dual_gap_[0], 0) + 1e-9
    assert est.dual_gap_[0] <= 1e-5
    if loss == "hinge":  # libsvm's own solution
        svc = SVC(kernel="linear", C=C, tol=1e-10).fit(TOY_X, TOY_Y)
        np.testing.assert_allclose(est.coef_, svc.coef_, rtol=1e-4, atol=1e-6)


def test_an_empty_design_has_zero_products():
    from keras import ops

    from kernelsvm_keras._design import RowBlocks

    empty = RowBlocks.from_blocks([], 3)
    U = ops.zeros((0, 2))
    assert ops.convert_to_numpy(empty.rmatmul(U)).shape == (3, 2)
    assert not ops.convert_to_numpy(empty.rmatmul(U)).any()
    Z, total = empty.matmul_rmatmul(ops.zeros((3, 2)), 0.0, lambda a, b, Zb: Zb)
    assert tuple(Z.shape) == (0, 2) and tuple(total.shape) == (3, 2)


# -- 5: the certificate is true ------------------------------------------------


@pytest.mark.parametrize(
    "est",
    [KerasSVC(random_state=0, n_components=64, tol=1e-12), KerasLinearSVC(tol=1e-12)],
    ids=["KerasSVC", "KerasLinearSVC"],
)
@pytest.mark.parametrize("solver", ROUTES)
def test_a_tiny_tol_is_met_only_when_float64_certifies_it(est, solver):
    # The certificate is computed in float64: either it (and the float64
    # polish of the support vectors' solution) meets tol=1e-12, or a warning
    # says that tol is below what float32 training certifies.
    with warnings.catch_warnings(record=True) as caught, route(solver):
        warnings.simplefilter("always", ConvergenceWarning)
        est.fit(X, y)
    messages = [str(w.message) for w in caught if w.category is ConvergenceWarning]
    if est.dual_gap_[0] > est.tol:
        assert messages and "below what float32" in messages[0], messages
    else:
        assert not messages, messages
    P, excess = true_excess(est, X, y)
    assert excess <= est.dual_gap_[0] + 1e-12
    np.testing.assert_allclose(est.objective_[0], P, rtol=1e-9)


@st.composite
def problems(draw):
    n = draw(st.integers(12, 40))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.RandomState(seed)
    Xp = rng.normal(size=(n, 3)) * 10.0 ** draw(st.floats(-4, 4))
    yp = np.where(Xp[:, 0] + 0.5 * rng.normal(size=n) * np.std(Xp[:, 0]) > 0, 1, 0)
    yp[:2] = [0, 1]
    weights = None
    if draw(st.booleans()):
        weights = rng.uniform(0.1, 3.0, size=n)
    C = 10.0 ** draw(st.floats(-6, 12))
    return Xp, yp, weights, C


@settings(
    max_examples=int(os.environ.get("KERNELSVM_HYPOTHESIS_EXAMPLES", 15)),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    problem=problems(),
    loss=st.sampled_from(["hinge", "squared_hinge"]),
    kind=st.sampled_from(["linear", "rbf", "poly", "sigmoid"]),
)
# separable at C=1e11 through a nearly singular sigmoid landmark kernel: the model's
# k(X, Z) @ (N @ w) and the test's (k(X, Z) @ N) @ w differed by 0.7 of P (primal_rounding)
@example(
    problem=(
        np.random.RandomState(0).normal(size=(12, 3)),
        np.array([0, 1, 1, 1, 1, 0, 0, 1, 1, 0, 0, 0]),
        None,
        1e11,
    ),
    loss="hinge",
    kind="sigmoid",
)
@pytest.mark.parametrize("solver", ROUTES)
def test_every_model_is_finite_and_its_gap_is_true(solver, problem, loss, kind):
    # (the polynomial kernel on raw rows: its float32 features can differ from the
    # model's float64 ones beyond the gap certified on them, test_the_certificate_is_...)
    Xp, yp, weights, C = problem
    if kind == "linear":
        est = KerasLinearSVC(C=C, loss=loss, max_iter=40)
    else:
        kernel = {"kernel": kind} if kind == "rbf" else {"kernel": kind, "gamma": 0.01}
        est = KerasSVC(C=C, loss=loss, n_components=16, random_state=0, max_iter=40, **kernel)
    try:
        with warnings.catch_warnings(), route(solver):
            # no NumPy or SciPy warning reaches the user ahead of what the fit says
            warnings.simplefilter("error", RuntimeWarning)
            warnings.simplefilter("error", scipy.linalg.LinAlgWarning)
            warnings.simplefilter("ignore", ConvergenceWarning)
            est.fit(Xp, yp, sample_weight=weights)
    except ValueError as exc:  # a clear refusal, only for an out-of-range problem
        if kind == "poly" and "float32's range" in str(exc):  # (gamma |x|^2)^3 beyond it
            assert (0.01 * np.max(np.sum(Xp**2, axis=1))) ** 3 > 1e30
            return
        assert "C times" in str(exc), str(exc)
        scale = np.abs(Xp).max() if kind == "linear" else 1.0
        total = C * (len(yp) if weights is None else weights.sum()) * scale**2
        assert total > 1e15
        return
    assert np.all(np.isfinite(est.coef_)) and np.all(np.isfinite(est.intercept_))
    assert np.all(np.isfinite(est.objective_)) and np.all(est.dual_gap_ >= 0)
    try:
        P, excess = true_excess(est, Xp, yp, weights, max_iter=10**6)
    except NotSolved:  # libsvm's reference out of reach (a hinge at a very large C)
        t = np.where(yp == est.classes_[1], 1.0, -1.0)
        s = np.ones(len(yp)) if weights is None else weights
        P = primal(model_features(est, Xp), t, s, C, loss, est.coef_[0], est.intercept_[0])
        excess = 0.0
    # to float64's rounding of the objective's evaluation, large at a large C
    s = np.ones(len(yp)) if weights is None else weights
    Phi = model_features(est, Xp)
    factors = landmark_factors(est, Xp)
    coef, intercept = est.coef_[0], est.intercept_[0]
    rounding = primal_rounding(Phi, s, C, est._loss().name, coef, intercept, factors)
    assert abs(est.objective_[0] - P) <= 1e-7 * P + rounding
    assert excess <= est.dual_gap_[0] * (1 + 1e-6) + 1e-9 + rounding / P


@st.composite
def novelty_problems(draw):
    n = draw(st.integers(12, 60))
    rng = np.random.RandomState(draw(st.integers(0, 2**16)))
    Xp = rng.normal(size=(n, 3)) * 10.0 ** draw(st.floats(-4, 3))
    if draw(st.booleans()):
        Xp += 2.0 * np.abs(Xp).max()  # away from the origin
    if draw(st.booleans()):
        Xp[: n // 3] = Xp[0]  # repeated rows
    weights = rng.uniform(0.1, 3.0, size=n) if draw(st.booleans()) else None
    nu = draw(st.one_of(st.sampled_from([1.0, 1.0 - 1e-12]), st.floats(0.01, 1.0)))
    return Xp, weights, nu


def one_class_objective(Phi, s, nu, w):
    """The one-class primal at ``w`` (solver scale) and its best ``rho`` (a score's kink)."""
    scores = Phi @ w
    losses = np.sum(s * np.maximum(0.0, scores[:, None] - scores), axis=1) / (nu * s.sum())
    return 0.5 * w @ w + np.min(losses - scores)


@settings(
    max_examples=int(os.environ.get("KERNELSVM_HYPOTHESIS_EXAMPLES", 15)),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(problem=novelty_problems(), kind=st.sampled_from(["linear", "rbf"]))
@pytest.mark.parametrize("solver", ROUTES)
def test_every_one_class_model_is_finite_and_its_gap_is_true(solver, problem, kind):
    # the one-class SVM's objective_ and dual_gap_ against libsvm's optimum on
    # the model's features (nu = 1: every row at its bound, which libsvm's
    # start overruns; the optimum is then the weighted mean)
    Xp, weights, nu = problem
    est = KerasOneClassSVM(kernel=kind, nu=nu, n_components=16, random_state=0, max_iter=40)
    with warnings.catch_warnings(), route(solver):
        warnings.simplefilter("error", RuntimeWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(Xp, sample_weight=weights)
    assert np.all(np.isfinite(est.coef_)) and np.all(np.isfinite(est.intercept_))
    s = np.ones(len(Xp)) if weights is None else weights
    Phi = model_features(est, Xp)
    scale = nu * s.sum()  # OneClassSVM's scale of coef_ and intercept_
    w, rho = est.coef_[0] / scale, -est.intercept_[0] / scale
    P = 0.5 * w @ w - rho + np.sum(s * np.maximum(0.0, rho - Phi @ w)) / scale
    if nu > 1.0 - 1e-9:
        best = one_class_objective(Phi, s, nu, s @ Phi / s.sum())
    else:
        reference = OneClassSVM(kernel="precomputed", nu=nu, tol=1e-12, max_iter=10**6)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # (short of it: a weaker check)
            reference.fit(Phi @ Phi.T, sample_weight=s)
        best = one_class_objective(
            Phi, s, nu, reference.dual_coef_[0] @ Phi[reference.support_] / scale
        )
    floor = 1e-4 * np.max(np.sum(Phi**2, axis=1)) / 2.0  # the gap's documented floor
    magnitude = max(abs(P), floor)
    assert abs(est.objective_[0] - P) <= 1e-7 * magnitude + 1e-12
    assert (P - best) / magnitude <= est.dual_gap_[0] * (1 + 1e-6) + 1e-7


# -- 6: all or nothing, deeply -------------------------------------------------


def snapshot(value):
    """A deep copy of fitted state (arrays, nested objects), for bit-for-bit comparison."""
    return copy.deepcopy(value)


def assert_same_state(now, before, path="self"):
    if isinstance(before, dict):
        assert isinstance(now, dict) and now.keys() == before.keys(), path
        for key in before:
            assert_same_state(now[key], before[key], f"{path}.{key}")
    elif isinstance(before, np.ndarray) and before.dtype == object:
        assert isinstance(now, np.ndarray) and now.shape == before.shape, path
        for i, (a, b) in enumerate(zip(now.ravel(), before.ravel(), strict=True)):
            assert_same_state(a, b, f"{path}[{i}]")
    elif isinstance(before, np.ndarray):
        assert isinstance(now, np.ndarray) and now.dtype == before.dtype, path
        assert now.shape == before.shape and now.tobytes() == before.tobytes(), path
    elif hasattr(before, "__dict__") and not isinstance(before, type):
        assert type(now) is type(before), path
        assert_same_state(vars(now), vars(before), path)
    elif isinstance(before, (list, tuple)):
        assert len(now) == len(before), path
        for i, (a, b) in enumerate(zip(now, before, strict=True)):
            assert_same_state(a, b, f"{path}[{i}]")
    elif isinstance(before, float) and math.isnan(before):
        assert isinstance(now, float) and math.isnan(now), path
    else:
        assert now == before, path


class Injected(Exception):
    pass


def fail_at(monkeypatch, call):
    """Make the ``call``-th ``keras.ops.matmul`` raise (every solver pass uses it)."""
    from keras import ops

    matmul = ops.matmul
    count = [0]

    def failing(*args, **kwargs):
        count[0] += 1
        if count[0] == call:
            raise Injected(f"matmul call {call}")
        return matmul(*args, **kwargs)

    monkeypatch.setattr(ops, "matmul", failing)
    return lambda: monkeypatch.setattr(ops, "matmul", matmul)


def chunks():
    Xc, yc = make_classification(600, 6, random_state=1)
    return [(Xc[i : i + 200], yc[i : i + 200]) for i in (0, 200, 400)]


def test_a_failed_partial_fit_does_not_change_later_results(monkeypatch):
    (X1, y1), (X2, y2), (X3, y3) = chunks()
    clean = KerasSVC(n_components=64, random_state=0)
    for Xc, yc in [(X1, y1), (X2, y2), (X3, y3)]:
        clean.partial_fit(Xc, yc, classes=[0, 1])
    failed = KerasSVC(n_components=64, random_state=0).partial_fit(X1, y1, classes=[0, 1])
    before = snapshot(vars(failed))
    from kernelsvm_keras import _sgd

    def failing(self, scale, lam):  # after the moment of the chunk was added
        raise Injected("preconditioner")

    monkeypatch.setattr(_sgd.SGDState, "preconditioner", failing)
    with pytest.raises(Injected):
        failed.partial_fit(X2, y2)
    monkeypatch.undo()
    assert_same_state(vars(failed), before)
    failed.partial_fit(X2, y2).partial_fit(X3, y3)
    assert failed.coef_.tobytes() == clean.coef_.tobytes()


@pytest.mark.parametrize("call", [1, 2, 3, 5, 8, 13, 21, 40])
@pytest.mark.parametrize(
    "method", ["fit", "warm_fit", "partial_fit", "linear_cv", "svc_cv", "nystroem_fit"]
)
def test_a_fault_anywhere_leaves_every_fitted_array_as_it_was(monkeypatch, method, call, newton):
    (X1, y1), (X2, y2), _ = chunks()
    if method == "fit":
        est = KerasSVC(n_components=32, random_state=0).fit(X1, y1)
        run = lambda: est.fit(X2, y2)  # noqa: E731
    elif method == "warm_fit":
        est = KerasSVC(n_components=32, random_state=0, warm_start=True).fit(X1, y1)
        est.set_params(C=3.0)
        run = lambda: est.fit(X1, y1)  # noqa: E731
    elif method == "nystroem_fit":
        est = KerasSVC(n_components=32, approximation="nystroem", random_state=0).fit(X1, y1)
        run = lambda: est.fit(X2, y2)  # noqa: E731
    elif method == "partial_fit":
        est = KerasSVC(n_components=32, random_state=0).partial_fit(X1, y1, classes=[0, 1])
        run = lambda: est.partial_fit(X2, y2)  # noqa: E731
    elif method == "linear_cv":
        est = KerasLinearSVCCV(Cs=[0.1, 1.0], cv=2).fit(X1, y1)
        run = lambda: est.fit(X2, y2)  # noqa: E731
    else:
        est = KerasSVCCV(Cs=[0.1, 1.0], gammas=[0.1], n_components=16, cv=2, random_state=0)
        est.fit(X1, y1)
        run = lambda: est.fit(X2, y2)  # noqa: E731
    before = snapshot(vars(est))
    restore = fail_at(monkeypatch, call)
    try:
        run()
    except Injected:
        pass
    else:  # the call finished before the fault: nothing to check
        restore()
        return
    restore()
    assert_same_state(vars(est), before)


# -- 7: class weights ----------------------------------------------------------


@pytest.mark.parametrize("weight", [-1.0, np.nan, np.inf, "heavy"])
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_invalid_class_weights_raise_at_fit(weight, method):
    X3, y3 = make_classification(150, 5, n_informative=3, n_classes=3, random_state=0)
    est = KerasLinearSVC(class_weight={0: weight, 1: 1, 2: 1})
    with pytest.raises(ValueError, match="class_weight.*class 0"):
        if method == "fit":
            est.fit(X3, y3)
        else:
            est.partial_fit(X3, y3, classes=[0, 1, 2])
    assert not hasattr(est, "coef_")


# -- 8: streaming gives the solution of the cached fit -------------------------


def test_streamed_small_batches_converge_like_the_cached_fit():
    Xs, ys = make_classification(5000, random_state=0)
    params = dict(C=1000, loss="hinge", n_components=256, random_state=0, max_iter=5000)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        streamed = KerasSVC(cache_size=0, batch_size=250, **params).fit(Xs, ys)
        cached = KerasSVC(**params).fit(Xs, ys)
    assert streamed.dual_gap_[0] <= streamed.tol
    np.testing.assert_allclose(streamed.objective_, cached.objective_, rtol=2e-3)


# -- 11: parameter checks and persistence --------------------------------------


@pytest.mark.parametrize(
    "est",
    [
        KerasLinearSVCCV(Cs=[-1.0]),
        KerasSVCCV(Cs=[1.0], gammas=[0.0], n_components=8),
        KerasSVCCV(Cs=[1.0], gammas=[], n_components=8),
        KerasSVCCV(Cs=[1.0], n_components=[0]),
        KerasSVCCV(Cs=[1.0], n_components=[True]),
        KerasSVC(n_components=True),
        KerasSVC(max_iter=False),
        KerasLinearSVC(max_iter=True),
    ],
    ids=lambda est: repr(est),
)
def test_invalid_list_and_bool_parameters_raise_invalid_parameter_error(est):
    from sklearn.utils._param_validation import InvalidParameterError

    with pytest.raises(InvalidParameterError):
        est.fit(X, y)
    assert not hasattr(est, "coef_")


def test_a_pickle_from_another_version_warns():
    import pickle

    import kernelsvm_keras
    from kernelsvm_keras import InconsistentVersionWarning

    est = KerasLinearSVC().fit(X, y)
    state = est.__getstate__()
    assert state["_kernelsvm_keras_version"] == kernelsvm_keras.__version__
    with warnings.catch_warnings():
        warnings.simplefilter("error", InconsistentVersionWarning)
        pickle.loads(pickle.dumps(est))  # same version: silent
    state["_kernelsvm_keras_version"] = "0.0.1"
    other = KerasLinearSVC.__new__(KerasLinearSVC)
    with pytest.warns(InconsistentVersionWarning, match="kernelsvm_keras 0.0.1"):
        other.__setstate__(state)
    np.testing.assert_array_equal(other.coef_, est.coef_)
