"""The hinge's dual by a primal-dual interior-point method, in float64 on the host.

The Newton solver works in float32 on the device. At a large ``C`` with the
hinge on data that is not separable (a hard-margin limit with margin
errors), its iterates stop improving before the float64 certificate meets
``tol``: ``C`` times the round-off of the predictions swamps the last
digits of the objective. Where the features are few enough, this module
solves the same problem to float64 precision instead, from nothing, and the
solver's certificate then judges the result like any other (the
certificate's last stage, ``kernelsvm_keras._certificate._interior_points``,
calls :func:`solve_hinge_dual`).

With ``A`` the rows' features (``n x D``), the hinge's dual of one column
(see :mod:`kernelsvm_keras._loss`), as a minimisation, is the box-constrained
quadratic program::

    min 1/2 ||A^T x||^2 - q^T x   s.t.  low <= x <= high,  sum(x) = c_b (with an intercept),

``q_i`` the finite end of row ``i``'s interval and ``[low_i, high_i]`` its
box (``[0, C s_i]`` or ``[-C s_i, 0]``; ``[-C s_i, C s_i]`` for a row of the
epsilon-insensitive loss whose interval is the point ``q_i``). Row ``i``'s
term of the primal is the box's support function ``max(high_i (q_i - z_i),
low_i (q_i - z_i))`` at its prediction ``z_i``. Mehrotra's
predictor-corrector method (Nocedal and Wright, *Numerical Optimization*,
2nd ed., section 16.6) on ``x = low + v``, ``v + t = high - low``, ``v, t >=
0``, with multipliers ``z`` of ``v`` and ``s`` of ``t`` and ``nu`` of the
sum. Each iteration factors the matrix ``A A^T + diag(d)``, ``d = z / v + s
/ t``, once for its three solves (the sum's direction, the predictor, the
corrector), through its ``D x D`` Woodbury form ``I + A^T diag(1/d) A``
(Fine and Scheinberg, JMLR 2, 2001): ``n D^2`` work per iteration. Near the
optimum ``d`` vanishes on the free support vectors (their ``x`` strictly
inside the box) and that form loses its precision; those rows are kept apart
(:func:`_newton_solver`), as unknowns of a ``(D + f) x (D + f)`` system
beside the Woodbury form of the others.

The primal point is ``w = A^T x`` with the intercept that minimises the
primal at that ``w`` (:func:`best_intercept`; at the optimum, ``nu``), or,
where it is lower in the primal, the ``w`` through the rows most inside
their boxes (:func:`_through_free_rows`; its intercept likewise): at a large
``C``, ``A^T x`` sums terms of ``C``'s size into a ``w`` of order one and
keeps only ``C`` times float64's round-off of it, while the free support vectors, on their margins
at the optimum, determine ``w`` to its own precision wherever there are
``D + 1`` of them.
"""

import numpy as np
import scipy.linalg

from ._blas import matmul
from ._loss import summed_to

# A row whose ||a||^2 / d exceeds this is kept apart from the Woodbury form
# (a free support vector near the optimum) ...
_FREE_RATIO = 1e6
# ... at most this many more than D of them (beyond, the largest ratios).
_FREE_EXTRA = 2
# Stop when the certificate's relative gap, recomputed at every iteration (two
# products with A), is below this fraction of the gap the caller certifies.
_TARGET_FRACTION = 1e-3
# Fraction of the step to the boundary taken.
_STEP_FRACTION = 0.99
# Iterations without a better point before the iterations stop.
_STALL_ITER = 10


def _step_to_boundary(x, dx):
    """The largest ``a <= 1`` with ``x + a dx >= 0`` (``x > 0``)."""
    falling = dx < 0
    if not falling.any():
        return 1.0
    return min(1.0, float(np.min(-x[falling] / dx[falling])))


def _newton_solver(A, d, norms):
    """``r -> (A A^T + diag(d))^-1 r``, for ``d > 0``.

    Rows whose ``||a_i||^2 / d_i`` exceeds ``_FREE_RATIO`` (``F``) stay
    unknowns; the others (``B``) are eliminated through ``M = I + A_B^T
    diag(1 / d_B) A_B``, which is then well conditioned. With ``w = A^T y``
    the system is, for ``y_B = (r_B - A_B w) / d_B``::

        [ M      -A_F^T   ] [ w   ]   [ A_B^T (r_B / d_B) ]
        [ -A_F   -diag(d_F)] [ y_F ] = [ -r_F              ]

    symmetric and quasi-definite, factored by LU with partial pivoting.
    ``None`` where a pivot is exactly zero: at a large ``C`` the ``d_F`` of
    free rows can fall below the round-off of ``M`` (a row of the
    epsilon-insensitive loss enters twice, and two copies free at once then
    leave a zero pivot: ``KerasLinearSVR`` at ``C=1e10``), and the Newton
    systems have lost their precision.
    """
    n, D = A.shape
    ratio = norms / d
    free = np.flatnonzero(ratio > _FREE_RATIO)
    if free.size > D + _FREE_EXTRA:
        free = free[np.argsort(-ratio[free])[: D + _FREE_EXTRA]]
    rest = np.ones(n, dtype=bool)
    rest[free] = False
    # (no copy of A while no row is free: most iterations)
    A_B, d_B = (A, d) if not free.size else (A[rest], d[rest])
    A_F = A[free]
    scaled = A_B / d_B[:, None]
    M = matmul(A_B.T, scaled)
    M[np.diag_indices_from(M)] += 1.0
    system = np.block([[M, -A_F.T], [-A_F, -np.diag(d[free])]])
    # (LAPACK's getrf itself: SciPy's lu_factor would warn at a zero pivot)
    lu, pivots, info = scipy.linalg.lapack.dgetrf(system, overwrite_a=True)
    if info != 0:
        return None

    def solve(r):
        r_B = r[rest]
        rhs = np.concatenate([matmul(scaled.T, r_B), -r[free]])
        solution, _ = scipy.linalg.lapack.dgetrs(lu, pivots, rhs)
        w = solution[:D]
        y = np.empty(n)
        y[free] = solution[D:]
        y[rest] = (r_B - matmul(A_B, w)) / d_B
        return y

    return solve


def best_intercept(margins, q, low, high, cost=0.0):
    """The ``b`` that minimises ``cost b + sum_i max(high_i p_i(b), low_i p_i(b))``, exactly.

    ``p_i(b) = q_i - margins_i - b``: the primal objective of fixed weights
    as a function of its intercept, convex and piecewise linear. Its slope
    is ``cost - sum_i high_i`` far left and rises by ``high_i - low_i`` at
    each row's breakpoint ``q_i - margins_i``; the minimum is at the first
    breakpoint where it becomes non-negative.
    """
    points = q - margins
    order = np.argsort(points, kind="stable")
    slope = cost - np.sum(high) + np.cumsum((high - low)[order])
    first = min(int(np.searchsorted(slope, 0.0)), points.size - 1)
    return float(points[order[first]])


def solve_hinge_dual(A, q, low, high, cost=0.0, fit_intercept=True, tol=1e-6, max_iter=100):
    """Minimise ``1/2 ||A^T x||^2 - q^T x`` over ``low <= x <= high`` (and ``sum(x) = cost``).

    Parameters
    ----------
    A : ndarray of shape (n, D), float64
        The rows' features.
    q : ndarray of shape (n,)
        The linear coefficients: the finite end of each row's interval.
    low, high : ndarray of shape (n,)
        The box, ``low <= 0 <= high`` and ``low < high`` (rows with an
        empty box are left out by the caller).
    cost : float, default=0.0
        What ``sum(x)`` must be, with an intercept (its cost ``c_b``).
    fit_intercept : bool, default=True
        Whether the sum is constrained.
    tol : float, default=1e-6
        The relative duality gap the caller will certify: the iterations
        stop ``_TARGET_FRACTION`` below it, measured as the certificate
        measures it (the primal at ``w = A^T x`` and its best intercept,
        the dual at ``x`` made exactly feasible).
    max_iter : int, default=100

    Returns
    -------
    x : ndarray of shape (n,)
        The dual point of the smallest gap met, made exactly feasible.
    w : ndarray of shape (D,)
        The primal weights of that iterate, ``A^T`` times its point before
        the feasibility correction.
    intercept : float
        :func:`best_intercept` at ``w`` (0 without an intercept).
    n_iter : int
        Iterations run (``max_iter`` where the last one ran).
    """
    n, D = A.shape
    width = high - low
    norms = np.einsum("ij,ij->i", A, A)
    # Start at the middle of the box, with multipliers that make the
    # stationarity residual zero (nu = 0) and keep every product positive.
    v = width / 2.0
    t = width - v
    gradient = matmul(A, matmul(A.T, low + v)) - q
    margin = np.mean(np.abs(gradient)) + 1.0
    z = np.maximum(gradient, 0.0) + margin
    s = np.maximum(-gradient, 0.0) + margin
    nu = 0.0
    ones = np.ones(n)
    # The best point met: near the optimum the Newton systems lose their
    # precision and the iterates can leave it again (C = 1e7: a gap of 4e-10,
    # then 1.0), so the iterations also stop after _STALL_ITER without a
    # better one.
    best = None
    since_best = 0
    for n_iter in range(max_iter + 1):  # noqa: B007 (the count is returned)
        # from the nearer bound: low + v loses v's digits near high (a box of width
        # C = 1e10: 1e-6 absolute, and w = A^T x then C times that in the margins)
        x = np.clip(np.where(v <= t, low + v, high - t), low, high)
        w = matmul(A.T, x)
        margins = matmul(A, w)
        found = _certified(A, q, x, w, margins, low, high, cost, fit_intercept)
        # (counted once the gap is below 1: far from the optimum, from the
        # box's middle, the iterates' gap need not fall at every step)
        if best is None or found[0] < best[0]:
            best, since_best = found, 0
        elif best[0] < 1.0:
            since_best += 1
        if best[0] <= _TARGET_FRACTION * tol or n_iter == max_iter or since_best > _STALL_ITER:
            break
        r_dual = margins - q - z + s + nu
        r_sum = x.sum() - cost if fit_intercept else 0.0
        mu = (v @ z + t @ s) / (2 * n)
        solve = _newton_solver(A, z / v + s / t, norms)
        if solve is None:
            break  # the best point met is returned
        if fit_intercept:
            along_sum = solve(ones)
            sum_along = along_sum.sum()
            # 1^T (A A^T + diag(d))^-1 1 > 0, unless the system has lost its precision
            # (diabetes's linear epsilon-insensitive loss at C=1e10: 0, then NaN steps)
            if not (np.isfinite(sum_along) and sum_along > 0):
                break

        def direction(r_vz, r_ts):
            # the complementarity v z = r_vz and t s = r_ts, linearised
            dv = solve(-r_dual + r_vz / v - r_ts / t)  # noqa: B023
            dnu = 0.0
            if fit_intercept:
                dnu = (dv.sum() + r_sum) / sum_along  # noqa: B023
                dv = dv - dnu * along_sum  # noqa: B023
            dt = -dv  # (v + t = width holds: kept so below)
            return dv, dt, (r_vz - z * dv) / v, (r_ts - s * dt) / t, dnu  # noqa: B023

        # predictor (affine scaling), then the corrector with Mehrotra's centring
        dv, dt, dz, ds = direction(-v * z, -t * s)[:4]
        primal_step = min(_step_to_boundary(v, dv), _step_to_boundary(t, dt))
        dual_step = min(_step_to_boundary(z, dz), _step_to_boundary(s, ds))
        affine = (v + primal_step * dv) @ (z + dual_step * dz)
        affine += (t + primal_step * dt) @ (s + dual_step * ds)
        sigma = min(1.0, (affine / (2 * n * mu)) ** 3)
        centre = sigma * mu
        dv, dt, dz, ds, dnu = direction(centre - v * z - dv * dz, centre - t * s - dt * ds)
        step = _STEP_FRACTION * min(
            _step_to_boundary(v, dv),
            _step_to_boundary(t, dt),
            _step_to_boundary(z, dz),
            _step_to_boundary(s, ds),
        )
        step = min(step, 1.0)
        v, t = v + step * dv, t + step * dt
        # v + t = width exactly, from the smaller of the two: their sum at the
        # scale of a large C rounds (1e-4 at C=2.6e12), and that residual,
        # divided by a t near 0, was noise in the next step
        near_low = v <= t
        v, t = np.where(near_low, v, width - t), np.where(near_low, width - v, t)
        z, s = z + step * dz, s + step * ds
        nu += step * dnu
    return best[1], best[2], best[3], n_iter


def _through_free_rows(A, q, x, low, high, fit_intercept):
    """The ``w`` of ``A_F w + b = q_F``, the margins of the rows most inside their boxes, or None.

    ``F`` is the ``D + 1`` rows (``D`` without an intercept) whose ``x`` is
    farthest from its box's bounds, relative to the box: at the optimum of
    a problem with that many free support vectors, its ``w`` (which then
    no longer depends on ``C``). ``None`` where there are too few rows or
    that square system is singular; elsewhere a candidate that the caller
    keeps only where the primal is lower (its intercept is
    :func:`best_intercept`'s).
    """
    n, D = A.shape
    k = D + 1 if fit_intercept else D
    if n < k:
        return None
    inside = np.minimum(x - low, high - x) / (high - low)
    rows = np.argpartition(-inside, k - 1)[:k]
    system = A[rows]
    if fit_intercept:
        system = np.hstack([system, np.ones((k, 1))])
    try:
        solution = np.linalg.solve(system, q[rows])
    except np.linalg.LinAlgError:
        return None
    if not np.all(np.isfinite(solution)):
        return None
    return solution[:D]


def _primal(A, q, w, margins, low, high, cost, fit_intercept):
    """``(primal, intercept)`` at ``w`` (``margins = A w``) with :func:`best_intercept`."""
    intercept = best_intercept(margins, q, low, high, cost) if fit_intercept else 0.0
    below = q - (margins + intercept)
    primal = 0.5 * w @ w + cost * intercept + np.sum(np.maximum(high * below, low * below))
    return primal, intercept


def _certified(A, q, x, w, margins, low, high, cost, fit_intercept):
    """``(gap, point, w, intercept)``: the certificate's relative gap at ``x``.

    The primal at ``w = A^T x`` (``margins = A w``), or at
    :func:`_through_free_rows` where that is lower, with
    :func:`best_intercept`; the dual at ``x`` made exactly feasible
    (:func:`~kernelsvm_keras._loss.summed_to`, as the certificate does),
    which is the point returned. The primal point is not the feasible
    point's own ``A^T`` product, which can be far worse in the primal (a
    hard margin at ``C = 1e8``: 1.5% against 2e-5).
    """
    primal, intercept = _primal(A, q, w, margins, low, high, cost, fit_intercept)
    w_free = _through_free_rows(A, q, x, low, high, fit_intercept)
    if w_free is not None:
        # (rows that are not free: a nearly singular system and a huge w, rejected here)
        with np.errstate(all="ignore"):
            primal_free, intercept_free = _primal(
                A, q, w_free, matmul(A, w_free), low, high, cost, fit_intercept
            )
        if np.isfinite(primal_free) and primal_free < primal:
            primal, w, intercept = primal_free, w_free, intercept_free
    feasible = summed_to(x, high, cost) if fit_intercept else x
    u = matmul(A.T, feasible)
    dual = q @ feasible - 0.5 * u @ u
    gap = (primal - dual) / max(abs(primal), abs(dual), np.finfo(float).tiny)
    return gap, feasible, w, intercept
