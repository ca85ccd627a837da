"""Reference optima of the SVM problem, computed apart from the package in float64."""

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.svm import SVC


class NotSolved(Exception):
    """The reference solver stopped at its iteration limit: no reference optimum."""


def reference_optimum(Phi, t, s, C, loss, max_iter=-1):
    """The optimum of the binary SVM problem, computed apart in float64.

    Hinge: the dual objective of libsvm's solution (made exactly feasible),
    a lower bound on the optimum, at most ``reference_optimum.last_gap``
    (libsvm's own relative duality gap) below it; :class:`NotSolved` when
    libsvm stops at ``max_iter`` (its iterations grow with ``C``) or that
    gap exceeds 1e-2 (libsvm at a very large C). Squared hinge: the primal at the end of a
    finite Newton method (Keerthi and DeCoste, 2005) with backtracking, which
    is exact once the set of rows with a positive loss stops changing.
    """
    assert loss in ("hinge", "squared_hinge"), loss  # a loss name, resolved
    reference_optimum.last_gap = 0.0
    if loss == "squared_hinge":
        return _squared_hinge_optimum(Phi, t, s, C)
    keep = s > 0
    K, t, s = (Phi @ Phi.T)[np.ix_(keep, keep)], t[keep], s[keep]
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        try:
            svc = SVC(kernel="precomputed", C=C, tol=1e-12, max_iter=max_iter)
            svc.fit(K, t, sample_weight=s)
        except ConvergenceWarning as exc:  # libsvm's iterations grow with C
            raise NotSolved(str(exc)) from exc
    alpha = np.zeros(len(t))
    alpha[svc.support_] = np.minimum(np.abs(svc.dual_coef_[0]), C * s[svc.support_])
    # exactly feasible (sum alpha y = 0, within the box): scale the larger side down
    a_pos, a_neg = alpha[t > 0].sum(), alpha[t < 0].sum()
    if a_pos > a_neg:
        alpha[t > 0] *= a_neg / a_pos
    elif a_neg > a_pos:
        alpha[t < 0] *= a_pos / a_neg
    dual = alpha.sum() - 0.5 * (alpha * t) @ K @ (alpha * t)
    # libsvm's own primal point: how far its dual bound may be below the optimum
    w = Phi[keep].T @ (alpha * t)
    upper = 0.5 * w @ w + C * np.sum(s * np.maximum(0, 1 - t * (Phi[keep] @ w + svc.intercept_[0])))
    reference_optimum.last_gap = (upper - dual) / upper
    if reference_optimum.last_gap > 1e-2:
        raise NotSolved(f"libsvm's own relative gap is {reference_optimum.last_gap:.1e}")
    return dual


def _squared_hinge_optimum(Phi, t, s, C):
    n, D = Phi.shape
    A = np.hstack([Phi, np.ones((n, 1))])
    R = np.diag(np.r_[np.ones(D), 0.0])

    def objective(theta):
        viol = np.maximum(0.0, 1.0 - t * (A @ theta))
        return 0.5 * theta[:D] @ theta[:D] + C * np.sum(s * viol**2)

    theta = np.zeros(D + 1)
    for _ in range(500):
        viol = np.maximum(0.0, 1.0 - t * (A @ theta))
        grad = R @ theta - 2.0 * C * A.T @ (s * t * viol)
        S = viol > 0
        H = R + 2.0 * C * (A[S].T * s[S]) @ A[S] + 1e-300 * np.eye(D + 1)
        H[D, D] = max(H[D, D], 1e-12 * (1.0 + np.trace(H)))
        try:
            step = -np.linalg.solve(H, grad)
        except np.linalg.LinAlgError as exc:  # (features whose Hessian float64 cannot hold)
            raise NotSolved(f"the reference's Newton system is singular: {exc}") from exc
        f0, rate = objective(theta), 1.0
        while objective(theta + rate * step) > f0 + 1e-4 * rate * (grad @ step) and rate > 1e-12:
            rate *= 0.5
        theta = theta + rate * step
        if rate == 1.0 and np.array_equal(S, np.maximum(0, 1 - t * (A @ theta)) > 0):
            break
    return objective(theta)


def _interval_squared_optimum(Phi, lower, upper, s, C):
    """Optimum of ``1/2 |w|^2 + C sum s (max(0, l - z)^2 + max(0, z - u)^2)``, finite Newton."""
    n, D = Phi.shape
    A = np.hstack([Phi, np.ones((n, 1))])
    R = np.diag(np.r_[np.ones(D), 0.0])

    def parts(theta):
        z = A @ theta
        return np.maximum(0.0, lower - z), np.maximum(0.0, z - upper)

    def objective(theta):
        below, above = parts(theta)
        return 0.5 * theta[:D] @ theta[:D] + C * np.sum(s * (below**2 + above**2))

    theta = np.zeros(D + 1)
    for _ in range(500):
        below, above = parts(theta)
        grad = R @ theta - 2.0 * C * A.T @ (s * (below - above))
        S = (below > 0) | (above > 0)
        H = R + 2.0 * C * (A[S].T * s[S]) @ A[S]
        H[D, D] = max(H[D, D], 1e-12 * (1.0 + np.trace(H)))
        step = -np.linalg.solve(H, grad)
        f0, rate = objective(theta), 1.0
        while objective(theta + rate * step) > f0 + 1e-4 * rate * (grad @ step) and rate > 1e-12:
            rate *= 0.5
        theta = theta + rate * step
        below, above = parts(theta)
        if rate == 1.0 and np.array_equal(S, (below > 0) | (above > 0)):
            break
    return objective(theta)


def reference_svr_optimum(Phi, y, s, C, epsilon, loss):
    """The optimum of the SVR problem on explicit features ``Phi``, computed apart in float64.

    ``"epsilon_insensitive"``: the primal at libsvm's solution
    (``SVR(kernel="precomputed")`` at ``tol=1e-10``: the same problem, with
    an unpenalised intercept). ``"squared_epsilon_insensitive"``: a finite
    Newton method on the piecewise-quadratic primal.
    """
    from sklearn.svm import SVR

    if loss == "squared_epsilon_insensitive":
        return _interval_squared_optimum(Phi, y - epsilon, y + epsilon, s, C)
    svr = SVR(kernel="precomputed", C=C, epsilon=epsilon, tol=1e-10)
    svr.fit(Phi @ Phi.T, y, sample_weight=s)
    w = Phi[svr.support_].T @ svr.dual_coef_[0]
    residual = np.abs(y - Phi @ w - svr.intercept_[0])
    return 0.5 * w @ w + C * np.sum(s * np.maximum(0.0, residual - epsilon))


def reference_one_class_optimum(Phi, nu):
    """``min 1/2 |w|^2 - rho + 1/(nu n) sum max(0, rho - w . phi_i)`` from libsvm.

    ``OneClassSVM(kernel="precomputed")`` at ``tol=1e-10`` solves the dual
    with variables scaled by ``nu n`` (its ``dual_coef_`` sum to ``nu n``,
    ``intercept_ = -nu n rho``), the rescaling that ``SGDOneClassSVM``'s
    documentation states; its primal point is rescaled back.
    """
    from sklearn.svm import OneClassSVM

    n = len(Phi)
    ocsvm = OneClassSVM(kernel="precomputed", nu=nu, tol=1e-10).fit(Phi @ Phi.T)
    w = Phi[ocsvm.support_].T @ ocsvm.dual_coef_[0] / (nu * n)
    rho = -ocsvm.intercept_[0] / (nu * n)
    return 0.5 * w @ w - rho + np.sum(np.maximum(0.0, rho - Phi @ w)) / (nu * n)


def kernel_objective(X, y_signed, support, dual_coef, intercept, gamma, C, epsilon=None):
    """The RBF kernel SVM's objective (SVC's, or SVR's with ``epsilon``) at libsvm's solution."""
    from sklearn.metrics.pairwise import rbf_kernel

    K = rbf_kernel(X, gamma=gamma)
    a = np.zeros(len(X))
    a[support] = dual_coef
    f = K @ a + intercept
    if epsilon is None:
        losses = np.maximum(0.0, 1.0 - y_signed * f)
    else:
        losses = np.maximum(0.0, np.abs(y_signed - f) - epsilon)
    return 0.5 * a @ K @ a + C * np.sum(losses)
