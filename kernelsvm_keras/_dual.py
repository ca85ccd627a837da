"""Small problems: the exact dual, solved by libsvm in float64.

The Newton solver of :mod:`kernelsvm_keras._solver` is built for many rows:
float32 products over row blocks, on a device. On a few thousand rows its
fixed costs dominate (every Newton step dispatches hundreds of Keras
operations), and at a large ``C`` float32 cannot resolve the margins at all
(a hard-margin problem of 100 rows stopped at a gap of 0.99 after 160 Newton
iterations). There the cheapest exact route is the dual on the features'
Gram matrix ``Q = phi(X) phi(X)^T``, in float64, by the solver ``SVC`` itself
uses: libsvm's SMO, through scikit-learn's ``SVC`` / ``SVR`` with
``kernel="precomputed"`` (no new dependency, and the same optimiser as the
estimators we replace).

Every problem of the family is an interval problem (:mod:`kernelsvm_keras._loss`);
libsvm serves the three whose intervals it knows:

* classification, ``[1, inf)`` or ``(-inf, -1]`` per row: ``SVC``'s dual
  (``beta_i = y_i alpha_i``, ``0 <= alpha_i <= C s_i``);
* regression, ``[y - eps, y + eps]`` with one ``eps``: ``SVR``'s dual;
* the one-class SVM, ``[0, inf)`` with the intercept's cost ``c_b``:
  ``OneClassSVM``'s dual (``0 <= beta_i <= C s_i``, ``sum(beta) = c_b``: its
  ``nu`` is ``c_b / sum(C s)``, the user's ``nu``), the hinge only.

The squared losses are the same duals with ``Q + diag(1 / (2 C s_i))`` and
the box opened (to a bound the optimum provably stays inside, see
:func:`_box`). Each column (one binary, one-vs-one or regression problem) is
solved on its rows of positive weight only: a one-vs-one pair sees its own
rows, and a problem of many rows whose pairs are each small is served too
(:func:`serves`). The primal point is ``w = phi(X)^T beta`` with libsvm's intercept; the
float64 certificate of the Newton solver (:func:`~kernelsvm_keras._solver._certify`)
then measures its duality gap. A problem libsvm does not serve (no
intercept, a column with one class, an intercept cost other than the
one-class SVM's) goes to Newton, and so does one whose certificate is above
``tol``.
"""

import warnings
import weakref

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.svm import SVC, SVR, OneClassSVM

from ._solver import (
    SolverResult,
    _certify,
    _check_range,
    _gap_floor,
    _Intervals,
    _per_column,
)

__all__ = ["may_serve", "remember", "serves", "solve_dual"]

# The dual route serves columns of at most this many rows (Q: 200 MB) whose
# float64 features take at most _MAX_BYTES. Forming Q is n^2 D flops, and
# libsvm's SMO takes about n steps of n flops. Measured on pendigits subsets
# (default KerasSVC, 2048 landmarks, 2-core AMD EPYC; fit seconds, dual
# against Newton): 2,000 rows 1.2 / 1.7 (squared hinge) and 1.2 / 4.7
# (hinge); 4,500 rows 2.8 / 3.2 and 2.5 / 9.3; 7,494 rows 5.3 / 4.2 and
# 5.2 / 9.1, with a Q of 450 MB (benchmarks/RESULTS.md, "Small problems").
_MAX_ROWS = 5000
_MAX_BYTES = 2**28
# ... and whose Gram matrices (one over all rows, and one per column on fewer
# rows: one-vs-one pairs) cost at most this many multiply-adds: those of
# _MAX_ROWS rows of 2048 features (letter's 325 pairs on its 16 features: 7e9;
# with 2048 landmarks, 9e11, and Newton takes them).
_MAX_GRAM_FLOPS = _MAX_ROWS**2 * 2048
# libsvm's stopping tolerance (its largest violation of the optimality
# conditions, in units of the margin) is set to tol times this. 0.1 already
# certifies (digits: gaps of 5e-9 / 3e-5 with the squared hinge / the hinge
# at tol=1e-3); 1e-3 cost no measurable time there (1,143 -> 1,698 SMO steps)
# and gives solutions that round-off in the features does not move (a
# decision function equal to 1e-5 whether iris comes dense, sparse or float32).
_SMO_TOL = 1e-3
# SMO steps allowed: a large C on data that is not separable can take very
# many (SVC(kernel="linear", C=1e7) on 200 rows: 1.8e9 steps, 239 s); past
# the limit the Newton solver takes the problem. Converged solves took 0.5-3
# steps per row at C=1 (iris, digits, pendigits), 55 at C=1e4 (200 rows), and
# more than 100 for a linear SVR on diabetes's 10 features (one fold of 354
# rows: 35,400 steps left it at a gap of 2.5e-4, and Newton took 1.7 s): at
# least _SMO_STEPS_PER_ROW per row, and more on few rows, up to _SMO_WORK
# steps times rows (each step updates the gradient of every row: about 0.3 s
# at 200 rows, 1.5M steps).
_SMO_STEPS_PER_ROW = 100
_SMO_WORK = 3 * 10**8
# The features (and Gram matrix) of each live design (see _features).
_GRAMS = weakref.WeakKeyDictionary()


def serves(design, lower, upper, sample_weight, fit_intercept, intercept_cost):
    """The form in which :func:`solve_dual` takes this problem, or ``None`` (see the module).

    ``"classification"``, ``"regression"`` or ``"one_class"`` (:func:`_form`),
    the ``form`` argument of :func:`solve_dual`. Every column must have at most
    ``_MAX_ROWS`` rows of positive weight (a one-vs-one pair its own rows,
    of a design that may be larger), the float64 features at most
    ``_MAX_BYTES``, and the Gram matrices at most ``_MAX_GRAM_FLOPS``
    multiply-adds in all.
    """
    n, D = design.n_samples, design.n_outputs
    if not fit_intercept or n * D * 8 > _MAX_BYTES:
        return None
    weight = np.broadcast_to(_per_column(sample_weight), lower.shape)
    rows = np.count_nonzero(weight > 0, axis=0).astype(np.float64)
    if rows.max(initial=0.0) > _MAX_ROWS:
        return None
    full = n**2 if np.any(rows == n) else 0.0  # one Q for every column on all rows
    if (full + np.sum(rows[rows < n] ** 2)) * D > _MAX_GRAM_FLOPS:
        return None
    return _form(lower, upper, weight, intercept_cost)


def may_serve(n_samples, width, fit_intercept, intercept_cost):
    """Whether :func:`serves` may take a problem of this size, before its features exist.

    The size tests of :func:`serves` on the whole design (a one-vs-one
    problem of more rows whose pairs are small is not foreseen): what a
    landmark map's basis is chosen by (:meth:`~kernelsvm_keras._base._BaseSVM._map_for`).
    """
    return bool(
        fit_intercept
        and n_samples <= _MAX_ROWS
        and n_samples * width * 8 <= _MAX_BYTES
        and n_samples**2 * width <= _MAX_GRAM_FLOPS
    )


def remember(design, features, gram=None):
    """Give :func:`solve_dual` the float64 ``features`` of ``design`` (and their Gram matrix).

    For a design whose features a map has already (see
    :meth:`~kernelsvm_keras._maps.FeatureMap.fit_rows`): ``solve_dual`` then
    neither reads them back from the design nor forms ``Q``.
    """
    if not np.all(np.isfinite(features)):
        return
    cached = _GRAMS[design] = {"Phi": features}
    if gram is not None:
        cached["Q"] = gram


def _form(lower, upper, weight, intercept_cost=0.0):
    """``"classification"``, ``"regression"``, ``"one_class"``, or ``None`` (not served)."""
    weight = np.broadcast_to(weight, lower.shape)
    positive = weight > 0
    if not np.all(np.any(positive, axis=0)):
        return None
    if intercept_cost:  # OneClassSVM's problem: one column, [0, inf) on every row
        one_class = lower.shape[1] == 1 and np.all(lower == 0.0) and np.all(np.isposinf(upper))
        return "one_class" if one_class and intercept_cost > 0 else None
    finite_low, finite_up = np.isfinite(lower), np.isfinite(upper)
    if np.all(finite_low != finite_up):
        margins = np.where(finite_low, lower, -upper)
        if not np.all(margins == 1.0):
            return None
        # both classes in every column's weighted rows
        has_pos = np.any(finite_low & positive, axis=0)
        has_neg = np.any(finite_up & positive, axis=0)
        return "classification" if np.all(has_pos & has_neg) else None
    if np.all(finite_low & finite_up):
        width = upper - lower  # 2 epsilon, to the round-off of y -/+ epsilon
        even = np.ptp(width) <= 1e-12 * np.max(np.abs(np.c_[lower, upper]), initial=1.0)
        return "regression" if even else None
    return None


def _features(design):
    """The design's float64 features (``None`` where not finite), kept with it.

    With them, the Gram matrix of all rows once a column needed it (a
    search solves several ``C`` on one fold's design), and that of the
    last row subset (:func:`_gram`).
    """
    cached = _GRAMS.get(design)
    if cached is None:
        Phi = np.empty((design.n_samples, design.n_outputs))
        for start, stop, B in design.exact_blocks():
            Phi[start:stop] = B
        cached = _GRAMS[design] = {"Phi": Phi if np.all(np.isfinite(Phi)) else None}
    return cached


def _gram(cached, rows):
    """``Q`` of ``rows``, or ``None`` if not finite; kept for the next call with the same rows.

    All rows (one-vs-rest) have their own entry; of subsets only the last is
    kept: consecutive one-vs-rest columns with the same zero-weight rows
    share it, one-vs-one pairs each have their own rows (letter's 325 pairs'
    Grams together would take 3.4 GB).
    """
    Phi = cached["Phi"]
    key = "Q" if rows.size == len(Phi) else "subset"
    if key == "subset" and not np.array_equal(cached.get("rows"), rows):
        cached.pop("subset", None)
        cached["rows"] = rows
    if key not in cached:
        part = Phi if key == "Q" else Phi[rows]
        with np.errstate(over="ignore", invalid="ignore"):
            Q = part @ part.T
        cached[key] = Q if np.all(np.isfinite(Q)) else None
    return cached[key]


def _box(loss, weight, lower, upper):
    """The per-row upper bound of ``|beta|`` given to libsvm for one column.

    ``weight`` is ``C s``; the bound is ``C s_i`` for the hinge. For the
    squared hinge the box is open; at the optimum ``beta_i = 2 C s_i v_i``
    (``v_i`` the row's violation) and ``C s_i v_i^2 <= P* <= P(0, 0) <= C
    sum(s) M^2`` (``M`` the largest violation at ``z = 0``), so ``|beta_i|
    <= 2 M sqrt(C s_i C sum(s))``: a box twice that never binds.
    """
    if loss.bounded:
        return weight
    at_zero = np.maximum(np.where(np.isfinite(lower), lower, 0.0), 0.0)
    at_zero = np.maximum(at_zero, np.maximum(np.where(np.isfinite(upper), -upper, 0.0), 0.0))
    largest = max(1.0, float(np.max(at_zero, initial=0.0)))
    return 4.0 * largest * np.sqrt(weight * np.sum(weight))


def solve_dual(
    design,
    lower,
    upper,
    sample_weight,
    *,
    form,
    C,
    loss,
    tol,
    report,
    shrinking=True,
    intercept_cost=0.0,
):
    """Solve every column's dual with libsvm and certify the primal point in float64.

    Parameters are those of :func:`~kernelsvm_keras._solver.solve_svm` (the
    problem has an intercept; an intercept cost only in the one-class
    form), ``form`` as :func:`serves` returned it, and libsvm's ``shrinking``. libsvm stops at
    :data:`_SMO_STEPS_PER_ROW` steps per row, or :data:`_SMO_WORK` divided
    by the rows where that is more (``max_iter`` bounds the Newton
    iterations that may follow, not these).

    Returns
    -------
    SolverResult or None
        ``None`` where the float64 features are not finite (the Newton
        solver then refuses the problem with its reason), and for the
        one-class form with a loss other than the hinge.
        ``n_iter`` is the largest number of libsvm iterations of a column (as
        ``SVC.n_iter_`` counts them); ``converged`` whether the float64
        certificate met ``tol`` (where it did not, libsvm stopped at its step
        limit).
    """
    n, K = lower.shape
    scale = design.scale
    _check_range(C, sample_weight, scale)  # the same range at every size
    if form == "one_class" and not loss.bounded:
        return None
    C_scaled = C / scale**2
    cost_scaled = intercept_cost / scale**2
    weight = np.broadcast_to(_per_column(sample_weight), (n, K))
    cached = _features(design)
    Phi = cached["Phi"]
    if Phi is None:
        return None  # features beyond range: the Newton solver says what is wrong
    limit = max(_SMO_STEPS_PER_ROW * n, _SMO_WORK // max(n, 1))
    beta = np.zeros((n, K))
    intercept = np.zeros(K)
    iterations = np.zeros(K, dtype=np.int64)
    for k in range(K):
        rows = np.flatnonzero(weight[:, k] > 0)
        box = C_scaled * weight[rows, k]
        Qk = _gram(cached, rows)  # kept for the next column: its diagonal restored after
        if Qk is None:
            return None
        diagonal = Qk.diagonal().copy()
        if form == "classification":
            y = np.where(np.isfinite(lower[rows, k]), 1.0, -1.0)
            libsvm = SVC(kernel="precomputed", C=1.0)
        elif form == "one_class":  # sum(alpha) = nu sum(box) = c_b
            y = None
            libsvm = OneClassSVM(kernel="precomputed", nu=min(1.0, cost_scaled / np.sum(box)))
        else:
            epsilon = float(np.mean(upper[rows, k] - lower[rows, k])) / 2.0
            y = (lower[rows, k] + upper[rows, k]) / 2.0
            libsvm = SVR(kernel="precomputed", C=1.0, epsilon=epsilon)
        libsvm.set_params(tol=_SMO_TOL * tol, max_iter=int(limit), shrinking=shrinking)
        try:
            Qk[np.diag_indices_from(Qk)] += loss.free_diagonal(box)
            with warnings.catch_warnings():
                # its iteration limit is ours to report; the certificate judges
                warnings.simplefilter("ignore", ConvergenceWarning)
                libsvm.fit(Qk, y, sample_weight=_box(loss, box, lower[rows, k], upper[rows, k]))
        finally:
            Qk[np.diag_indices_from(Qk)] = diagonal
        beta[rows[libsvm.support_], k] = libsvm.dual_coef_[0]
        intercept[k] = libsvm.intercept_[0]
        iterations[k] = np.max(libsvm.n_iter_)
    coef = Phi.T @ beta
    floor = _gap_floor(design, sample_weight) * cost_scaled**2 if cost_scaled else 0.0
    problem = _Intervals(
        lower, upper, sample_weight, C_scaled, loss, True, cost_scaled, floor=floor
    )
    primal, gap, beta, dual = _certify(design, problem, coef, intercept, beta, tol)
    n_iter = int(iterations.max(initial=0))
    converged = bool(np.all(gap <= tol))
    report.line(
        f"exact dual (libsvm, float64) on {n} rows: {n_iter} iterations; certified gap "
        f"{gap.max():.2e} (tol {tol:.0e}), objective {np.sum(primal) * scale**2:.6e}"
    )
    result = SolverResult(
        coef=coef.T * scale,
        intercept=intercept,
        n_iter=n_iter,
        converged=converged,
        stalled=False,
        primal=primal * scale**2,
        gap=gap,
        cg_iter=None,
        dual_coef=beta,
        dual=dual * scale**2,
        gap_floor=floor * scale**2,
    )
    return result
