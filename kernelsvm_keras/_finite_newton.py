"""The squared losses' primal by a finite Newton method, in float64 on the host.

The squared hinge and the squared epsilon-insensitive loss make the primal
objective a piecewise quadratic::

    f(w, b) = 1/2 ||w||^2 + c_b b + sum_i W_i (max(0, l_i - z_i)^2 + max(0, z_i - u_i)^2),

``z = A w + b``, ``W_i = C s_i``. On the rows with a positive loss (the
active set) it is one quadratic, so Newton's step from a point lands on
that quadratic's minimiser; an exact line search along it, and the
iterations end where a full step leaves the active set unchanged: then the
point is the exact optimum (Keerthi and DeCoste, "A modified finite Newton
method for fast solution of large scale linear SVMs", JMLR 6, 2005).

At a large ``C`` the float32 Newton iterations of :mod:`kernelsvm_keras._solver`
cannot resolve the margins (``C`` times float32's round-off swamps the
objective); where the features are few, this solves the problem again in
float64, and the solver's certificate judges the result like any other
(``kernelsvm_keras._certificate._finish_points``, the squared losses' side of
the float64 finish; :mod:`kernelsvm_keras._interior` is the hinge's).
"""

import numpy as np
import scipy.linalg

from ._blas import matmul

# Bisections of the line search's slope (to float64's resolution of the step).
_LINE_BISECTIONS = 60
# The Hessian is factored with this relative jitter where Cholesky fails.
_JITTER = 1e-12


def solve_squared_primal(
    A,
    lower,
    upper,
    weight,
    cost=0.0,
    fit_intercept=True,
    coef_init=None,
    intercept_init=0.0,
    max_iter=100,
):
    """Minimise the squared losses' primal ``f(w, b)`` (see the module) over ``(w, b)``.

    Parameters
    ----------
    A : ndarray of shape (n, D), float64
        The rows' features (rows of zero weight left out by the caller).
    lower, upper : ndarray of shape (n,)
        Each row's interval (``-inf`` / ``inf`` for an open end).
    weight : ndarray of shape (n,)
        ``C s_i``, positive.
    cost : float, default=0.0
        ``c_b``, the intercept's linear cost.
    fit_intercept : bool, default=True
    coef_init : ndarray of shape (D,) or None, default=None
        The start (zeros by default): the best point met so far. From zero,
        the active set changes over tens of iterations at a large ``C``
        (breast cancer's 569 rows, ``C=1e8``: 59).
    intercept_init : float, default=0.0
    max_iter : int, default=100
        Newton iterations at most.

    Returns
    -------
    w : ndarray of shape (D,)
    intercept : float
    n_iter : int
        Iterations run.
    """
    n, D = A.shape
    w = np.zeros(D) if coef_init is None else np.array(coef_init, dtype=np.float64)
    b = float(intercept_init) if fit_intercept else 0.0
    active, full_step = None, False
    for n_iter in range(1, max_iter + 1):  # noqa: B007 (the count is returned)
        z = matmul(A, w) + b
        residual = _residual(z, lower, upper)  # -loss'(z) / 2
        now = residual != 0.0
        if active is not None and full_step and np.array_equal(now, active):
            break  # the quadratic of this active set is minimised: the optimum
        active = now
        grad_w = w - 2.0 * matmul(A.T, weight * residual)
        grad_b = cost - 2.0 * np.sum(weight * residual) if fit_intercept else 0.0
        d_w, d_b = _newton_step(A[active], weight[active], grad_w, grad_b, fit_intercept)
        dz = matmul(A, d_w) + d_b
        step = _line_search(z, dz, w, d_w, b, d_b, lower, upper, weight, cost)
        full_step = step == 1.0
        w, b = w + step * d_w, b + step * d_b
        if step == 0.0:
            break
    return w, float(b), n_iter


def _residual(z, lower, upper):
    """``max(0, l - z) - max(0, z - u)`` per row: minus half the loss's slope."""
    return np.maximum(lower - z, 0.0) - np.maximum(z - upper, 0.0)


def _newton_step(A, weight, grad_w, grad_b, fit_intercept):
    """``-H^-1 g`` for the Hessian of the active rows ``A``, ``H = I + 2 A^T diag(W) A``.

    With an intercept the Hessian is bordered by ``2 A^T W`` and ``2 sum(W)``
    (an active set without rows leaves the intercept's direction flat:
    its step is then 0).
    """
    D = A.shape[1]
    scaled = A * (2.0 * weight)[:, None]
    H = matmul(A.T, scaled)
    H[np.diag_indices_from(H)] += 1.0
    g = grad_w
    if fit_intercept:
        border = scaled.sum(axis=0)
        corner = 2.0 * weight.sum()
        if corner <= 0.0:
            return _solve(H, -grad_w), 0.0
        H = np.block([[H, border[:, None]], [border[None, :], np.array([[corner]])]])
        g = np.r_[grad_w, grad_b]
    step = _solve(H, -g)
    return (step[:D], float(step[D])) if fit_intercept else (step, 0.0)


def _solve(H, rhs):
    """``H^-1 rhs`` for a symmetric positive (semi)definite ``H``, by Cholesky."""
    try:
        factor = scipy.linalg.cho_factor(H, check_finite=False)
    except np.linalg.LinAlgError:
        jitter = _JITTER * np.trace(H) / H.shape[0]
        factor = scipy.linalg.cho_factor(H + jitter * np.eye(H.shape[0]), check_finite=False)
    return scipy.linalg.cho_solve(factor, rhs, check_finite=False)


def _line_search(z, dz, w, d_w, b, d_b, lower, upper, weight, cost):
    """The step ``t`` in ``[0, 1]`` that minimises ``f`` along the direction, exactly.

    ``f`` is convex along it; its slope ``t ||d_w||^2 + w . d_w + c_b d_b -
    2 sum_i W_i r_i(z + t dz) dz_i`` is bisected where it is still falling at
    ``t = 1`` (and 1 is taken where it is not).
    """
    dd, wd = d_w @ d_w, w @ d_w

    def slope(t):
        return (
            t * dd
            + wd
            + cost * d_b
            - 2.0 * np.sum(weight * _residual(z + t * dz, lower, upper) * dz)
        )

    if slope(0.0) >= 0.0:
        return 0.0  # not a descent direction (round-off at the optimum)
    if slope(1.0) <= 0.0:
        return 1.0
    return bisect_slope(slope, 0.0, 1.0, _LINE_BISECTIONS)


def bisect_slope(slope, low, high, steps):
    """Where a rising ``slope`` changes sign in ``[low, high]``, by ``steps`` bisections.

    ``slope(low) < 0 <= slope(high)``: the minimiser of the convex function
    whose slope it is. Returns the upper end of the last bracket (the
    function's slope is not negative there).
    """
    for _ in range(steps):
        middle = 0.5 * (low + high)
        if slope(middle) < 0.0:
            low = middle
        else:
            high = middle
    return high
