"""The certificate: the primal objective and a true duality gap, in float64 on the host.

The solvers iterate in float32 (Newton, :mod:`kernelsvm_keras._solver`) or
in libsvm's float64 on a float32 cache (:mod:`kernelsvm_keras._dual`), and
float32's round-off can make a gap look smaller than it is. :func:`_certify`
recomputes it in float64, on the problem's own data (``X`` itself for the
linear SVM; for a kernel map, the float32 features training used, cast
exactly): the primal at the point returned, and the dual objective at dual
points made exactly feasible (:class:`_Intervals`), of which the best is a
lower bound on the optimum. The points tried are the best one the iterations
met, the returned point's own, and where those do not reach ``tol`` the
exact dual solution on the point's free support vectors
(:func:`_support_dual`), or the float64 interior point (the hinge) and
finite Newton method (the squared losses) that finish a problem float32
could not (:func:`_finish_points`); their primal points replace the point
returned where they are lower, as does its best rescaling at a large ``C``
(:func:`_take_rescaled`).

The gap is ``(primal - dual) / max(|primal|, floor)`` (:func:`relative_gap`),
the floor that of the one-class SVM (see :mod:`kernelsvm_keras._solver`).
"""

import copy

import numpy as np
import scipy.linalg

from ._blas import matmul
from ._design import EXACT_MAX_BYTES, EXACT_MAX_ROWS
from ._finite_newton import bisect_slope, solve_squared_primal
from ._interior import solve_hinge_dual
from ._loss import summed_to

__all__ = ["interior_fits", "relative_gap"]

# The float64 interior point that finishes a hinge float32 could not certify
# (_interior_points): at most this many multiply-adds per iteration (about a
# second on this project's 2 cores), and this many bytes of float64 features.
_INTERIOR_FLOPS = 1e11
_INTERIOR_BYTES = 2**28
# At a large C, the rows a solution holds on their margins are off them by
# the round-off of the float64 predictions (a hard margin on 64 landmarks at
# C=1e12: up to 4e-11), and C times that was 2% of the objective. The point
# scaled by t > 1 clears them for about (t - 1) ||w||^2 (_take_rescaled): the t
# that minimises the primal along the ray (found by this many bisections of
# its slope) puts some row exactly on its margin again, so these multiples of
# its step t - 1 are certified too, and the best one kept.
_RESCALE_BISECTIONS = 60
_RESCALE_STEPS = (1.0, 3.0, 10.0)
# The exact dual on a column's free support vectors (_support_dual) takes at
# most _SUPPORT_MAX_ROWS of them, and the columns' systems at most
# _SUPPORT_GRAM_BYTES: the bounds of the solver's exact steps.
_SUPPORT_MAX_ROWS = EXACT_MAX_ROWS
_SUPPORT_GRAM_BYTES = EXACT_MAX_BYTES


def _cho_factor(system):
    """The lower Cholesky factor of ``system`` (overwritten), for ``scipy.linalg.cho_solve``."""
    return scipy.linalg.cho_factor(system, lower=True, overwrite_a=True, check_finite=False)


class _Intervals:
    """The problem in float64 for the certificate (see :class:`_Problem`).

    ``weight`` is ``C s``, ``(n, 1)`` or ``(n, K)``; ``floor`` the smallest
    objective magnitude a gap is relative to (:func:`_gap_floor`).
    """

    def __init__(
        self, lower, upper, sample_weight, C, loss, fit_intercept, intercept_cost, floor=0.0
    ):
        self.lower = np.asarray(lower, dtype=np.float64)
        self.upper = np.asarray(upper, dtype=np.float64)
        self.sample_weight = _per_column(sample_weight)
        self.C = C
        self.weight = C * self.sample_weight
        self.loss = loss
        self.fit_intercept = fit_intercept
        self.cost = float(intercept_cost)
        self.floor = float(floor)

    def columns(self, columns):
        """The problem of some columns only."""
        part = copy.copy(self)
        part.lower, part.upper = self.lower[:, columns], self.upper[:, columns]
        part.sample_weight = np.broadcast_to(self.sample_weight, self.lower.shape)[:, columns]
        part.weight = self.C * part.sample_weight
        return part

    def primal(self, Z, coef, intercept):
        """The primal objective at predictions ``Z`` of ``(coef, intercept)``, per column."""
        loss = self.loss.value(Z, self.lower, self.upper)
        return (
            0.5 * np.sum(np.square(coef), axis=0)
            + self.cost * intercept
            + self.C * np.sum(self.sample_weight * loss, axis=0)
        )

    def own_point(self, Z):
        """The iterate's dual point, ``C s (-loss'(z))`` (a subgradient for the hinge)."""
        return self.weight * self.loss.derivatives(Z, self.lower, self.upper)[1]

    def feasible(self, points):
        """Dual points made exactly feasible in float64, one per column.

        Clipped to the loss's box (``0`` where ``s = 0``) and, with an
        intercept, brought to ``sum(beta) = c_b`` (:func:`~kernelsvm_keras._loss.summed_to`).
        """
        weight = np.broadcast_to(self.weight, self.lower.shape)
        low, high = self.loss.box(self.lower, self.upper, weight)
        points = np.clip(points, low, high)
        points[weight <= 0] = 0.0
        if self.fit_intercept:
            points = summed_to(points, high, self.cost)
        return points

    def dual(self, points, u):
        """The dual objective of feasible ``points`` with ``u = phi^T points``."""
        weight = np.broadcast_to(self.weight, self.lower.shape)
        conjugate = self.loss.conjugate(points, self.lower, self.upper, weight)
        return np.sum(conjugate, axis=0) - 0.5 * np.sum(np.square(u), axis=0)

    def relative_gap(self, primal, dual):
        """:func:`relative_gap` with this problem's floor."""
        return relative_gap(primal, dual, self.floor)


def relative_gap(primal, dual, floor=0.0):
    """``(primal - dual) / max(|primal|, floor)``: the certificate's relative duality gap.

    0 where the scale and the gap are both 0 (the optimum), ``inf`` where
    only the scale is. ``floor`` is :func:`_gap_floor`'s, for the one-class SVM.
    """
    scale = np.maximum(np.abs(primal), floor)
    with np.errstate(divide="ignore", invalid="ignore"):
        gap = np.where(scale != 0, (primal - dual) / scale, 0.0)
    return np.where((scale == 0) & (dual < 0), np.inf, gap)


def _certify(
    design, problem, coef, intercept, beta, tol, finish=False, first_pass=None, polish=True
):
    """The primal objective and the certified relative duality gap, in float64.

    The iterations compute in float32, whose round-off (about 1e-7 of each
    term, more in long sums) can make a gap look smaller than it is, even
    negative. Here, on the host and in float64, on the problem's own data
    (``X`` itself for the linear SVM; for a kernel map, the float32
    features that training used, cast exactly): the primal at ``(coef,
    intercept)``, and the dual objective at dual points built from the
    iterate (:meth:`_Intervals.feasible` makes each exactly feasible first):
    the best one the iterations met (``beta``), the one of the returned
    iterate's float64 predictions, and, for a column still above ``tol``,
    the maximiser of the dual on the iterate's free support vectors
    (:func:`_support_dual`; at a large ``C`` the first two are poor, since
    ``beta`` amplifies the round-off of the predictions by ``C``). The dual
    value of a feasible point is a lower bound on the optimum, so the gap
    returned bounds the relative distance to it, up to float64 round-off.

    Where the primal point of that support-vector solution
    (``w = phi^T beta``, ``b`` its multiplier) has a lower objective than the
    iterate, it replaces the column of ``coef`` and ``intercept`` (in place):
    a float64 polish of the float32 solution.

    ``first_pass`` is the certificate's first pass, ``design.exact_products(coef,
    problem.feasible(beta))``, where the caller has it (the working sets'
    last round takes it to decide that no row is left outside).

    With ``finish`` (the float32 iterations ended short of ``tol`` without
    reaching ``max_iter``, or libsvm's dual did), a column still above
    ``tol`` is solved again in float64 where its features are few enough
    (:func:`_finish_points`: the hinge's interior point, the squared losses'
    finite Newton method), and its solution taken the same way. After each
    of these, a column still above
    ``tol`` takes the best scaled point ``t (w, b)`` where it is lower
    (:func:`_take_rescaled`): at a large ``C`` the rows on their margins are
    off them by round-off, times ``C``. Without ``polish`` (a fit at
    ``max_iter=0``, which returns its starting point) the point is certified
    as it is: the candidates raise the dual bound only, and replace no
    primal point.

    Returns
    -------
    primal : ndarray of shape (K,)
    gap : ndarray of shape (K,)
        ``(primal - dual) / |primal|`` with the largest dual value, at least 0.
    beta : ndarray of shape (n_samples, K)
        The feasible dual point that gave each column's gap (its non-zero
        rows are the support vectors).
    dual : ndarray of shape (K,)
        Its dual objective: the lower bound of the gap.
    """
    # one pass for the predictions and the best point's dual vector (the caller's
    # ``first_pass``, ``design.exact_products(coef, best)``, where it has it)
    best = problem.feasible(np.asarray(beta, dtype=np.float64))
    Z, u = design.exact_products(coef, best) if first_pass is None else first_pass
    Z = Z + intercept
    primal = problem.primal(Z, coef, intercept)
    dual = problem.dual(best, u)
    gap = problem.relative_gap(primal, dual)
    winner = best  # the feasible dual point of each column's certificate
    above = np.flatnonzero(gap > tol)
    if above.size:  # one more pass: the iterate's own dual point
        own = problem.own_point(Z)
        part = problem.columns(above)
        feasible_own = part.feasible(own[:, above])
        values = _dual_values(design, part, feasible_own)
        start_points = best.copy()
        winner = best.copy()
        for j, k in enumerate(above):
            if values[j] > dual[k]:
                dual[k], start_points[:, k] = values[j], own[:, k]
                winner[:, k] = feasible_own[:, j]
        gap = problem.relative_gap(primal, dual)
        above = np.flatnonzero(gap > tol)
    candidates = [lambda: _support_dual(design, problem, start_points, above)]
    if finish:
        candidates.append(lambda: _finish_points(design, problem, above, tol, coef, intercept))
    for candidate in candidates:
        if not above.size:
            break
        found = candidate()
        if found is not None:
            _take_better(design, problem, found, primal, dual, winner, coef, intercept, polish)
            gap = problem.relative_gap(primal, dual)
            above = np.flatnonzero(gap > tol)
        if above.size and polish:  # (the candidate's point, or the iterate, off its margins)
            _take_rescaled(design, problem, above, primal, coef, intercept)
            gap = problem.relative_gap(primal, dual)
            above = np.flatnonzero(gap > tol)
    return primal, np.maximum(gap, 0.0), winner, dual


def _take_rescaled(design, problem, columns, primal, coef, intercept):
    """Scale ``(coef, intercept)`` of ``columns`` by the ``t`` that lowers their primal most.

    The primal along the ray ``t (w, b)`` is convex in ``t``; its minimiser
    is found by bisecting its slope on the predictions of one pass, then the
    points of :data:`_RESCALE_STEPS` times its step are certified in a
    second pass, and a column takes the best where it lowers ``primal``
    (arrays changed in place). At a large ``C`` this clears the round-off
    of the float64 predictions from the rows on their margins (see the
    constants).
    """
    Z, _ = design.exact_products(coef[:, columns])
    Z += intercept[columns]
    part = problem.columns(columns)
    steps = np.asarray(_RESCALE_STEPS)
    scales = np.ones((steps.size, columns.size))
    for j, k in enumerate(columns):
        best = _best_scale(part, j, Z[:, j], float(np.sum(np.square(coef[:, k]))), intercept[k])
        scales[:, j] = 1.0 + steps * (best - 1.0)
    if np.all(scales == 1.0):
        return
    # every step's points of every column, in one pass
    tried = np.tile(np.arange(columns.size), steps.size)
    new_coef = coef[:, columns][:, tried] * scales.ravel()
    new_intercept = intercept[columns][tried] * scales.ravel()
    values = _primal_values(design, part.columns(tried), new_coef, new_intercept)
    values = values.reshape(steps.size, columns.size)
    for j, k in enumerate(columns):
        i = int(np.argmin(values[:, j]))
        if values[i, j] < primal[k]:
            primal[k] = values[i, j]
            coef[:, k] = new_coef[:, i * columns.size + j]
            intercept[k] = new_intercept[i * columns.size + j]


def _best_scale(problem, j, z, norm2, b):
    """The ``t > 0`` that minimises column ``j``'s primal at predictions ``t z``.

    ``norm2`` is ``||w||^2`` and ``b`` the intercept of ``z``. The slope
    ``t ||w||^2 + c_b b + sum_i C s_i loss_i'(t z_i) z_i`` rises with ``t``;
    it is bisected from the bracket around 1 that doubles (or halves)
    until the slope changes sign. Returns 1 where no bracket is found.
    """
    lower, upper = problem.lower[:, j], problem.upper[:, j]
    weight = np.broadcast_to(problem.weight, problem.lower.shape)[:, j]
    if norm2 == 0.0 or not np.all(np.isfinite(z)):
        return 1.0

    def slope(t):
        descent = problem.loss.derivatives(t * z, lower, upper)[1]  # -loss'(t z)
        return t * norm2 + problem.cost * b - np.sum(weight * descent * z)

    low, high = 1.0, 1.0
    if slope(1.0) < 0:
        for _ in range(64):
            high *= 2.0
            if slope(high) >= 0:
                break
        else:
            return 1.0
    else:
        for _ in range(64):
            low /= 2.0
            if slope(low) <= 0:
                break
        else:
            return 1.0
    return bisect_slope(slope, low, high, _RESCALE_BISECTIONS)


def _take_better(design, problem, found, primal, dual, winner, coef, intercept, replace=True):
    """Keep, per column, what improves in a candidate solution (arrays changed in place).

    ``found`` is ``(points, columns, coef, intercept)``: dual points of
    ``columns`` and their primal points. A higher dual value raises the
    certificate's bound; a lower primal value is the solution returned
    (with ``replace``; without it, the point certified stays as it is).
    """
    points, cols, new_coef, new_intercept = found
    part = problem.columns(cols)
    feasible = part.feasible(points)
    values = _dual_values(design, part, feasible)
    new_primal = _primal_values(design, part, new_coef, new_intercept) if replace else None
    for j, k in enumerate(cols):
        if values[j] > dual[k]:
            dual[k], winner[:, k] = values[j], feasible[:, j]
        if replace and new_primal[j] < primal[k]:
            primal[k] = new_primal[j]
            coef[:, k] = new_coef[:, j]
            intercept[k] = new_intercept[j]


def interior_fits(n_rows, width, n_columns):
    """Whether the float64 finish takes a problem of this size, and its cost.

    Returns ``(fits, multiply_adds, bytes)``: one interior-point iteration's
    work over ``n_columns`` columns of ``n_rows`` rows (their ``n D^2``
    Woodbury products, and the factor of the ``2 D`` square system of the
    free support vectors, ``6 D^3`` at most) and the rows' float64 features,
    against ``_INTERIOR_FLOPS`` and ``_INTERIOR_BYTES``.
    """
    work = n_columns * (n_rows * width**2 + 6 * width**3)
    size = n_rows * width * 8
    return work <= _INTERIOR_FLOPS and size <= _INTERIOR_BYTES, work, size


def _interior_points(design, problem, columns, tol):
    """The hinge's dual of ``columns`` solved in float64 by an interior-point method.

    :func:`~kernelsvm_keras._interior.solve_hinge_dual` on the rows of each
    column's non-empty box. That solver takes one point ``q`` per row, where
    the loss bends (classification, the one-class SVM); a row of the
    epsilon-insensitive loss, whose box ``[-C s, C s]`` holds ``beta = beta+
    - beta-``, enters as two: ``beta+`` in ``[0, C s]`` with its interval's
    lower end, and ``-beta-`` in ``[-C s, 0]`` with its upper end, on the same
    features (the dual of ``SVR``, as libsvm splits it). Where its interval
    is a point (``epsilon=0``, ``LinearSVR``'s default) it enters once, with
    the whole box: two copies would both be free at the optimum, with every
    split of ``beta`` optimal, and their Newton systems singular (at
    ``C=1e11``, the interior point stalled at a gap of 0.1). Returns
    ``(points, columns, coef, intercept)`` as :func:`_support_dual` does, or
    ``None`` when no column qualifies or the problem is beyond
    :func:`interior_fits`.
    """
    loss = problem.loss
    if not loss.bounded:
        return None
    weight = np.broadcast_to(problem.weight, problem.lower.shape)
    low, high = loss.box(problem.lower, problem.upper, weight)
    boxed = high > low
    # (split in two: rows whose interval has two ends and whose box two signs)
    two_sided = boxed & (low < 0) & (high > 0) & (problem.lower < problem.upper)
    columns = np.asarray([k for k in columns if boxed[:, k].any()], dtype=int)
    if not columns.size:
        return None
    union = np.flatnonzero(boxed[:, columns].any(axis=1))
    D = design.n_outputs
    doubled = union.size + int(two_sided[np.ix_(union, columns)].any(axis=1).sum())
    if not interior_fits(doubled, D, columns.size)[0]:
        return None
    features = design.exact_rows(union)
    points = np.zeros((problem.lower.shape[0], columns.size))
    coef = np.zeros((D, columns.size))
    intercept = np.zeros(columns.size)
    for j, k in enumerate(columns):
        inside = boxed[union, k]
        rows = union[inside]
        A = features if inside.all() else features[inside]
        lower, upper = problem.lower[rows, k], problem.upper[rows, k]
        q = np.where(high[rows, k] > 0, lower, upper)  # (one point: both ends equal)
        row_low, row_high = low[rows, k], high[rows, k]
        split = np.flatnonzero(two_sided[rows, k])
        if split.size:  # beta+ on the rows as they are, -beta- on copies
            A = np.vstack([A, A[split]])
            q = np.r_[q, upper[split]]
            row_low = np.r_[np.where(two_sided[rows, k], 0.0, row_low), row_low[split]]
            row_high = np.r_[row_high, np.zeros(split.size)]
        x, coef[:, j], intercept[j], _ = solve_hinge_dual(
            A, q, row_low, row_high, problem.cost, problem.fit_intercept, tol
        )
        points[rows, j] = x[: rows.size]
        np.add.at(points[:, j], rows[split], x[rows.size :])
    return points, columns, coef, intercept


def _finish_points(design, problem, columns, tol, coef, intercept):
    """The float64 finish of ``columns``: the hinge's interior point, or the squared losses' Newton.

    :func:`_interior_points` for the hinge, :func:`_finite_newton_points`
    for the squared losses (from ``coef`` and ``intercept``, the best point
    met); ``None`` where the problem is beyond
    :func:`interior_fits`.
    """
    if problem.loss.bounded:
        return _interior_points(design, problem, columns, tol)
    return _finite_newton_points(design, problem, columns, coef, intercept)


def _finite_newton_points(design, problem, columns, coef_init, intercept_init):
    """The squared losses' primal of ``columns`` solved in float64 by a finite Newton method.

    :func:`~kernelsvm_keras._finite_newton.solve_squared_primal` on the rows
    of each column's positive weight, from the columns of ``coef_init`` and
    ``intercept_init`` (the best point met); the dual points are those of the
    solutions' predictions (``C s (-loss'(z))``, optimal at the optimum).
    Returns ``(points, columns, coef, intercept)`` as :func:`_support_dual`
    does, or ``None`` when the problem is beyond :func:`interior_fits`.
    """
    weight = np.broadcast_to(problem.weight, problem.lower.shape)
    union = np.flatnonzero(np.any(weight[:, columns] > 0, axis=1))
    D = design.n_outputs
    if not union.size or not interior_fits(union.size, D, columns.size)[0]:
        return None
    features = design.exact_rows(union)
    coef = np.zeros((D, columns.size))
    intercept = np.zeros(columns.size)
    for j, k in enumerate(columns):
        inside = weight[union, k] > 0
        rows = union[inside]
        A = features if inside.all() else features[inside]
        coef[:, j], intercept[j], _ = solve_squared_primal(
            A,
            problem.lower[rows, k],
            problem.upper[rows, k],
            weight[rows, k],
            problem.cost,
            problem.fit_intercept,
            coef_init[:, k],
            intercept_init[k],
        )
    Z, _ = design.exact_products(coef)
    points = problem.columns(columns).own_point(Z + intercept)
    return points, columns, coef, intercept


def _per_column(sample_weight):
    """Sample weights as a column ``(n, 1)`` or the given ``(n, K)``, in float64."""
    sample_weight = np.asarray(sample_weight, dtype=np.float64)
    return sample_weight[:, None] if sample_weight.ndim == 1 else sample_weight


def _primal_values(design, problem, coef, intercept):
    """The primal objective of each column of ``coef`` (NaN columns: inf), in float64."""
    finite = np.all(np.isfinite(coef), axis=0) & np.isfinite(intercept)
    coef = np.where(finite, coef, 0.0)
    intercept = np.where(finite, intercept, 0.0)
    Z, _ = design.exact_products(coef)
    rows = problem.loss.value(Z + intercept, problem.lower, problem.upper)
    loss_sum = np.sum(problem.sample_weight * rows, axis=0)
    value = 0.5 * np.sum(np.square(coef), axis=0) + problem.cost * intercept
    return np.where(finite, value + problem.C * loss_sum, np.inf)


def _dual_values(design, problem, points):
    """The dual objective at feasible ``points``, a column per column of ``problem`` (one pass)."""
    _, u = design.exact_products(U=points)
    return problem.dual(points, u)


def _support_dual(design, problem, beta, columns):
    """Maximise the dual over the free support vectors of ``beta``, per column.

    The dual is ``sum_i g_i(beta_i) - 1/2 beta^T Q beta`` (``Q = phi phi^T``)
    under ``sum(beta) = c_b``. The rows where ``beta`` is at a bound of its
    box keep it, those where it is zero stay out, and the free ones solve
    the stationarity condition ``(Q_FF + diag(d)) beta_F = zeta_F - Q_FB
    beta_B - nu`` exactly (a float64 Cholesky of their Gram matrix; ``zeta``
    and ``d`` from :meth:`~kernelsvm_keras._loss.IntervalLoss.free_target` and
    :meth:`~kernelsvm_keras._loss.IntervalLoss.free_diagonal`): near the
    optimum, the exact dual solution. Returns ``(points, columns, coef,
    intercept)``: the dual points, the columns they belong to, and their
    primal points ``w = phi^T beta`` and ``b = nu`` (NaN where a system could
    not be factored); or ``None`` when no column's free set is small enough
    (``_SUPPORT_MAX_ROWS``, all within ``_SUPPORT_GRAM_BYTES``).
    """
    D = design.n_outputs
    loss = problem.loss
    weight = np.broadcast_to(problem.weight, problem.lower.shape)
    low, high = loss.box(problem.lower, problem.upper, weight)
    tight = 1e-6 * weight
    at_bound = (np.isfinite(high) & (beta >= high - tight) & (high > 0)) | (
        np.isfinite(low) & (beta <= low + tight) & (low < 0)
    )
    free = (beta != 0) & ~at_bound & (weight > 0)
    q = free[:, columns].sum(axis=0)
    fits = (q > 0) & (q <= _SUPPORT_MAX_ROWS)
    fits &= np.cumsum(q * (q + D) * 8) <= _SUPPORT_GRAM_BYTES
    columns = columns[fits]
    if not columns.size:
        return None
    rows = [np.flatnonzero(free[:, k]) for k in columns]
    union = np.flatnonzero(free[:, columns].any(axis=1))
    taken = design.exact_rows(union)
    features = [taken[np.searchsorted(union, r)] for r in rows]
    beta_bound = np.where(at_bound, np.clip(beta, low, high), 0.0)
    _, v = design.exact_products(U=beta_bound[:, columns])  # phi_B^T beta_B
    points = np.array(beta[:, columns], dtype=np.float64)
    coef = np.full((D, columns.size), np.nan)
    intercept = np.zeros(columns.size)
    for j, k in enumerate(columns):
        F, A = rows[j], features[j]
        Q = matmul(A, A.T)
        diagonal = loss.free_diagonal(weight[F, k])
        Q[np.diag_indices_from(Q)] += diagonal
        zeta = loss.free_target(beta[F, k], problem.lower[F, k], problem.upper[F, k])
        rhs = zeta - matmul(A, v[:, j])
        total = problem.cost - beta_bound[:, k].sum()  # what sum(beta_F) must be
        solved = None
        if diagonal.any() or len(F) <= D:  # Q can be definite: Cholesky
            solved = _free_by_cholesky(Q, rhs, total, problem.fit_intercept)
        if solved is None:
            # More free rows than features (a regression whose fit is nearly
            # exact: many rows on the tube's edges): Q is singular and the
            # solutions a family; the one closest to the iterate's beta_F,
            # which is inside the box, by least squares.
            solved = _free_by_least_change(Q, rhs, total, points[F, j], problem.fit_intercept)
        beta_free, intercept[j] = solved
        points[F, j] = beta_free
        coef[:, j] = matmul(A.T, beta_free) + v[:, j]  # w = phi^T beta, the primal point of these
    return points, columns, coef, intercept


def _free_by_cholesky(Q, rhs, total, fit_intercept):
    """``Q beta + nu 1 = rhs`` with ``sum(beta) = total`` (``nu = 0`` without intercept).

    Returns ``(beta, nu)``, or ``None`` when ``Q`` cannot be factored.
    """
    try:
        factor = _cho_factor(Q + 1e-14 * np.trace(Q) / len(Q) * np.eye(len(Q)))
    except np.linalg.LinAlgError:
        return None
    x1 = scipy.linalg.cho_solve(factor, rhs, check_finite=False)
    if not fit_intercept:
        return x1, 0.0
    x2 = scipy.linalg.cho_solve(factor, np.ones(len(Q)), check_finite=False)
    nu = (x1.sum() - total) / x2.sum()
    return x1 - nu * x2, nu


def _free_by_least_change(Q, rhs, total, start, fit_intercept):
    """The solution of :func:`_free_by_cholesky`'s system nearest ``start`` (``Q`` singular)."""
    q = len(Q)
    if fit_intercept:
        system = np.block([[Q, np.ones((q, 1))], [np.ones((1, q)), np.zeros((1, 1))]])
        residual = np.r_[rhs - matmul(Q, start), total - start.sum()]
    else:
        system, residual = Q, rhs - matmul(Q, start)
    change = np.linalg.lstsq(system, residual, rcond=1e-12)[0]
    if fit_intercept:
        return start + change[:q], change[q]
    return start + change, 0.0
