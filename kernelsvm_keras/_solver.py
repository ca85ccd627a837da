"""Primal Newton solver for the SVM family, written with ``keras.ops``.

This is the only module that drives Keras computation for training. It knows
nothing of scikit-learn: it receives NumPy arrays and returns NumPy arrays.

The problem, for every column ``k`` (one binary classification, regression
or one-class problem each)::

    P(w, b) = 1/2 ||w||^2 + c_b b + C * sum_i s_i * loss(w . phi(x_i) + b; l_ik, u_ik)

with an interval loss of :mod:`kernelsvm_keras._loss` (the hinge or its
square, pushing each prediction into its row's interval ``[l, u]``: margins
of classification, the epsilon tube of regression, ``[0, inf)`` of the
one-class SVM) and the intercept ``b`` unpenalised (``c_b = 1`` for the
one-class SVM, where ``b = -rho``; 0 otherwise). The solver asks the loss
object for values, slopes, curvatures, the conjugate and the dual box; it
never tests which loss it has.

Method
------
Newton's method on the primal, with all columns solved at once (matrix
products over ``K`` columns instead of ``K`` separate passes over the data):

* the Newton direction solves ``H d = -g``: exactly, by the Woodbury identity,
  when few samples lie in the curved zone of the loss (the usual case near the
  optimum, and the one that matters for the hinge, whose smoothed Hessian is
  badly conditioned); otherwise by preconditioned conjugate gradients
  (a Hessian-vector product is one pass over ``phi(X)``; the preconditioner
  is the Hessian's diagonal with its mean direction kept exact on cached
  features (``_centered_diagonal``), the Hessian itself on the leading
  features and the intercept where conjugate gradients run on the rows of
  the curved zones alone and the features have leading ones (the landmarks'
  leading eigen-directions first: ``_LeadingBlock``), and the Hessian of a
  sample of the rows, intercept included, on streamed ones
  (``_SampledHessian``));
* the step length is an exact line search on the piecewise-quadratic
  one-dimensional objective along ``phi(X) d``, which conjugate gradients'
  products give (one more pass after a direct solve);
* the squared hinge is piecewise quadratic and is solved directly. The hinge is
  not differentiable: it is approached through a Huber-smoothed hinge whose
  quadratic zone ``delta`` shrinks (continuation) while the iterate is already
  good for the current ``delta`` (from a start that another route found near
  the optimum, :class:`NewtonStart`, it begins narrow);
* at a large ``C`` (a sample's curvature ``C s_i ||phi(x_i)||^2`` above
  ``_CONTINUATION_FROM``) the fit follows a path of ``C`` values growing
  tenfold, each from the previous solution (:func:`_continuation`);
* streamed landmark features (more than ``cache_size``) are kept as the
  kernel block ``k(X, Z)`` and the normalisation ``N`` apart: a pass
  multiplies by ``N`` on the coefficients' side (``factor`` of the design,
  :class:`~kernelsvm_keras._design.RowBlocks`), never forming ``k(X, Z) @ N``;
* the arithmetic of an iteration besides the passes over the data (the
  loss's terms and the dual point, the line search, the conjugate-gradient
  updates) is in pure functions that :func:`~kernelsvm_keras._compiled.compiled`
  makes one program each on JAX, where the rows gathered on the device are
  padded to a few sizes (:func:`~kernelsvm_keras._design._padded_size`) and
  the exact steps' passes take every column: a backend that compiles per
  shape compiles a fit's programs once, not at every step;
* the linear SVM trains on ``X`` times a power of two (exact,
  :func:`~kernelsvm_keras._design.input_scale`), and a problem whose weights
  float32 cannot represent is refused
  (:func:`_check_range`). No direction, step or iterate that is not finite
  is ever taken.

Stopping criterion
------------------
Every iteration builds a feasible dual point from the current iterate:
``beta_i = -C s_i loss'(z_i)`` (of the smoothed loss), rescaled on one side so
that ``sum_i beta_i = c_b`` (the dual constraint of the intercept;
:func:`_feasible_scales`). Its dual objective ``D(beta)`` is a lower bound on
the optimum ``P*``, and so is the best one met so far; the relative duality gap
``(P(w, b) - max D(beta)) / |P(w, b)|`` bounds the relative distance to the
optimum. A column is converged when this gap is at most ``tol``.

With an intercept cost (the one-class SVM) the optimum lies in
``[-c_b^2 R^2 / 2, 0]`` (``R`` the largest norm of a weighted row of
``phi(X)``), and it is 0 on data that no direction separates from the origin
(centred data under the linear kernel): the gap is then measured against
``max(|P|, _GAP_FLOOR * c_b^2 R^2 / 2)`` (:func:`_gap_floor`), absolute where
the optimum is that close to 0.

These iterations compute in float32, whose round-off can make that gap look
smaller than it is. The gap returned is recomputed in float64 on the host
(:mod:`kernelsvm_keras._certificate`).
"""

import functools
import math

import numpy as np
import scipy.linalg

from ._blas import matmul
from ._certificate import _certify, _cho_factor, _Intervals, _per_column
from ._compiled import compiled
from ._design import EXACT_MAX_BYTES, EXACT_MAX_ROWS
from ._keras import keras, ops, to_tensor
from ._kernels import LEADING_FEATURES
from ._loss import _feasible_scales, _indicator
from ._progress import SILENT

__all__ = [
    "NewtonStart",
    "SolverResult",
    "device_report",
    "solve_svm",
]

# Hessian damping of the (unpenalised) intercept in the Newton model only: it
# keeps the linear system definite when no sample is in a curved zone of the
# loss. The line search makes the step exact whatever the damping.
_INTERCEPT_DAMPING = 1.0
# ... at most this fraction of C times the summed weights (the one-class SVM's
# is 1 / nu: a damping of 1 would swamp the intercept's own curvature)
_DAMPING_FRACTION = 1e-2
# Newton directions: exact, by the Woodbury identity (a q x q dense solve on the
# q <= _DIRECT_MAX_ROWS rows of a column's curved zone), or inexact, by
# conjugate gradients (CG) over all n rows, 2 iterations n D flops, with
# ``iterations`` the most a Newton step of the solve (or of the previous solve
# on the path) has needed, _CG_TYPICAL_ITER before any.
# - Every column goes exact when each one's flops, the Gram products the cache
#   lacks, (new rows) q D / _GRAM_REUSE, and the Cholesky factor, q^3 / 3, are
#   below _INEXACT_STEPS times those of CG: inexact steps (CG stops at a 0.1
#   relative residual) take about twice as many Newton steps (MNIST, 20k rows,
#   C = 10 to 100: 5-6 steps against 3).
# - Otherwise the solve's steps are those of its inexact columns, and only the
#   columns whose system costs less to form than CG (q^2 D <= 2 iterations n D)
#   go exact: cheap, and more robust on narrowly smoothed hinges (class weights
#   1000 : 1e-4, hinge: CG steps stall).
_DIRECT_MAX_ROWS = EXACT_MAX_ROWS
_CG_TYPICAL_ITER = 20
_INEXACT_STEPS = 2
# The Gram matrices of those rows are kept between Newton steps (and between
# the solves of a regularisation path on the same design; RowBlocks.gram): the
# curved zones change by a few percent of their rows from one step to the
# next, so a row's products serve several steps; _GRAM_REUSE of them are
# counted on.
_GRAM_REUSE = 4
# Relative round-off of a float32 Gram matrix, per sqrt(rows) (see _jitter).
_GRAM_ROUNDING = 4 * float(np.finfo(np.float32).eps)
# ... and the float64 Gram is used where that round-off is above this
# fraction of the smallest diagonal term 1 / c of the Woodbury system.
_EXACT_GRAM_RATIO = 1.0
# Conjugate gradients run on the samples in some column's curved zone alone
# (gathered once per Newton step) when they are below this fraction.
_CG_SUBSET_FRACTION = 0.5
# When the features are streamed (recomputed at every pass), conjugate gradients
# are preconditioned by the Hessian of a subsample of the curved rows, this many
# per feature (see _SampledHessian): it costs about one pass, and cuts the passes
# per Newton step from tens (up to _CG_MAX_ITER) to a few.
_PRECOND_ROWS_PER_FEATURE = 2
_PRECOND_BLOCK_ROWS = 1024
# ... or, when every column's D x D sum fits in _PRECOND_GRAM_BYTES on the
# device, a larger sample summed block by block (never stored).
_PRECOND_ROWS_SUMMED = 8
_PRECOND_GRAM_BYTES = EXACT_MAX_BYTES
# Conjugate gradients on the rows of the curved zones are preconditioned by
# the Hessian on the first _LEADING_WIDTH features and the intercept
# (_LeadingBlock) where those hold _LEADING_SHARE of its trace, summed over at
# most _LEADING_ROWS rows, and where that costs at most _LEADING_COST of the
# passes conjugate gradients have taken per Newton step. A pass runs at the
# speed of memory, _PASS_SLOWDOWN times slower per multiply-add than the
# blocks' products (MNIST's curved rows, 13,000 x 4,096, 10 columns, this
# project's 2 cores: about 27e9 multiply-adds a second in a pass, 86e9 in the
# blocks). The width is the landmark maps' leading features (the basis
# "leading" orders that many).
_LEADING_WIDTH = LEADING_FEATURES
_LEADING_SHARE = 0.5
_LEADING_ROWS = 16384
_LEADING_COST = 0.25
_PASS_SLOWDOWN = 3
# Conjugate gradients: relative residual reached per Newton step, and a cap.
_CG_FORCING = 0.1
_CG_MAX_ITER = 100
# Hinge continuation: initial width of the smoothed zone, shrink factor, floor.
_DELTA_START = 1.0
_DELTA_SHRINK = 0.1
_DELTA_MIN = 1e-8
# ... and the width a start near the optimum begins at (NewtonStart: a working set's
# solution on a sample of the rows). The hinge at C=1 from a9a's first working set
# (2,500 of its 32,561 rows, 2,048 landmarks; fit seconds, one run each), at widths
# 1 / 0.1 / 0.03 / 0.01 / 0.003: 10.8 / 9.2 / 11.0 / 7.3 / 12.9 s (from zero, at 1:
# 10.4-10.9 s); LightGBM's 7,000 HIGGS rows 2.70 / 2.75 / 2.08 / 2.30 / 3.67 s
# (2.66); 20,000 noisy make_classification rows 5.41 / 4.80 / 3.37 / 4.22 / 7.23 s
# (5.85) (benchmarks/RESULTS.md, "Newton from the first working set"). Wider, the
# continuation's stages move the iterate away from the start first; narrower, the
# Newton steps are short (rows cross the narrow curved zone at every step).
_DELTA_WARM = 0.01
# Stop when no column's gap nor primal has improved by _STALL_PROGRESS (relative)
# for _STALL_ITER iterations: the iterate no longer moves at float32 precision.
_STALL_ITER = 20
_STALL_PROGRESS = 0.01
# With give_up (another route may take the problem), stop sooner where Newton is
# futile: at a stage of the C path, the best duality gap the iterations measured
# on its columns not converged still at least _FUTILE_GAP (no dual bound within
# the objective itself) and not halved in _FUTILE_ITER iterations. The squared hinge at C=1000
# on 20,000 MNIST rows (2,048 landmarks) kept a gap of 6.9e4 from its first
# iteration to its 50th, where it stalled (20 s), its objective a thousand times
# the optimum's; the working sets then solved it in 4 s. At C=10,000 the same
# happened on the path's first stage, C=1000, before the stage at C itself.
# Converging fits halve that gap every iteration or two (MNIST at C=10 and 100,
# a9a, w8a: above 1 for at most 12 iterations, 3-30 times lower five iterations
# later).
_FUTILE_ITER = 5
_FUTILE_GAP = 1.0
# Line search: accept when |phi'(t)| <= _LS_TOL * |phi'(0)|.
_LS_TOL = 0.05
# ... and the objective at most this much (relative: float32 round-off) above its start.
_LS_ROUNDOFF = 1e-6
_LS_MAX_ITER = 60
# The largest C times the summed weights (on features of order one) that the
# float32 iterations represent: the squares of gradients and dual vectors of
# that order stay below float32's 3.4e38.
_MAX_TOTAL_WEIGHT = 1e16
# Continuation in C (see _continuation): from a sample curvature of about this,
# tenfold per stage, each stage but the last to this relative gap.
_CONTINUATION_FROM = 1e3
_CONTINUATION_TOL = 1e-2
# The float32 iterations stop a little below tol: the float64 certificate
# differs from their gap by float32 round-off (about 1e-7 of the objective, a
# few 1e-4 of a gap of 1e-3), and a gap met by that little would fail it (a
# ConvergenceWarning on one of 45 one-vs-one pairs of digits, at 1.0002e-3).
# 0.98 cost MNIST (4096 landmarks, C=10) one more iteration: 60.9 s, not 55.9.
_F32_MARGIN = 0.995
# The smallest objective magnitude a relative gap is measured against, as a
# fraction of the largest magnitude the one-class optimum can have (see the
# module's docstring and _gap_floor).
_GAP_FLOOR = 1e-4


class SolverResult:
    """Outcome of :func:`solve_svm`.

    Attributes
    ----------
    coef : ndarray of shape (K, n_outputs)
    intercept : ndarray of shape (K,)
    n_iter : int
        Newton iterations run.
    converged : bool
        Whether every column reached ``tol``.
    stalled : bool
        Whether the solver stopped because neither the gap nor the primal
        improved any more (float32 precision reached) before ``tol`` and
        ``max_iter``.
    primal : ndarray of shape (K,)
        Primal objective of each column at the returned solution.
    gap : ndarray of shape (K,)
        Certified relative duality gap of each column (computed in float64).
    cg_iter : int
        The most conjugate-gradient iterations a Newton step needed (or the
        starting estimate), for ``cg_iter_init`` of a warm-started solve.
    precision_limited : bool
        Whether the float32 iterations met ``tol`` but the float64
        certificate does not: ``tol`` is below what float32 training can
        certify on this problem.
    dual_coef : ndarray of shape (n_samples, K) or None
        The dual-feasible point ``beta`` of the certificate (of the problem
        on ``design.scale * X``; ``y_i alpha_i`` in ``SVC``'s terms for
        classification); its non-zero rows are the support vectors.
    dual : ndarray of shape (K,) or None
        The certificate's lower bound on each column's optimum (the dual
        objective at ``dual_coef``).
    gap_floor : float
        The smallest objective magnitude ``gap`` is relative to
        (:func:`relative_gap`; 0 but for the one-class SVM).
    column_iter : ndarray of shape (K,)
        Each column's iterations: the Newton iterations in which it was not
        yet converged, or libsvm's on its dual (summed over working sets).
    warning : str or None
        The message of the estimator's ``ConvergenceWarning`` about this
        solution (``None`` where none is due), which a caller that may keep
        another fit gives only for the one it keeps.
    also_tried : str or None
        What another route made of the problem after this one stopped short
        and that did not certify better (the working sets where Newton
        stalled), for the warning; ``None`` where none was tried.
    gave_up : bool
        Whether Newton stopped early as futile (``give_up`` of
        :func:`solve_svm`), short of ``tol``: its caller tries another route,
        and may run it again without giving up.
    model_certified : bool
        Whether the certificate was taken on the fitted model's own float64
        features (the kernel SVM solved on its kernel first), so that the
        estimator need not take it there again.
    """

    def __init__(
        self,
        coef,
        intercept,
        n_iter,
        converged,
        stalled,
        primal,
        gap,
        cg_iter,
        precision_limited=False,
        dual_coef=None,
        dual=None,
        gap_floor=0.0,
        column_iter=None,
    ):
        self.column_iter = column_iter
        self.dual_coef = dual_coef
        self.dual = dual
        self.gap_floor = gap_floor
        self.coef = coef
        self.intercept = intercept
        self.n_iter = n_iter
        self.converged = converged
        self.stalled = stalled
        self.primal = primal
        self.gap = gap
        self.cg_iter = cg_iter
        self.precision_limited = precision_limited
        self.warning = None
        self.also_tried = None
        self.model_certified = False
        self.gave_up = False


class NewtonStart:
    """A starting point for :func:`solve_svm` that another route found, and how to start from it.

    The working sets of a hinge problem whose support vectors will not fit
    (:func:`~kernelsvm_keras._dual.solve_working_sets`) give up, often after
    their first set, whose solution, on a sample of the rows, is already
    near the whole problem's: Newton starts there (``coef_init``, ``intercept_init``),
    and, in its columns (``warm``), with the hinge's smoothing at
    :data:`_DELTA_WARM` rather than :data:`_DELTA_START`, since the
    continuation's wide stages would first move it away again.

    Attributes
    ----------
    coef : ndarray of shape (K, n_outputs)
        In the units of ``X`` (as :class:`SolverResult`'s); zero in the columns not ``warm``.
    intercept : ndarray of shape (K,)
    warm : ndarray of shape (K,) of bool
        The columns the point was found for.
    """

    def __init__(self, coef, intercept, warm):
        self.coef = coef
        self.intercept = intercept
        self.warm = warm

    def smoothing(self):
        """Each column's first smoothing width of the hinge (``smoothing_init``)."""
        return np.where(self.warm, _DELTA_WARM, _DELTA_START)


def backend_devices():
    """The devices the Keras backend computes on: ``keras.distribution.list_devices()``.

    Keras has no distribution module for PyTorch, whose ``list_devices``
    fails (Keras 3.15: ``AttributeError``); there, the device of a tensor
    the backend makes, where Keras puts every tensor, named as the others
    name theirs (``cpu:0``, ``cuda:0``).
    """
    if keras.backend.backend() == "torch":
        device = to_tensor(np.zeros(1, dtype=np.float32)).device
        return [f"{device.type}:{device.index or 0}"]
    return list(keras.distribution.list_devices())


def device_report():
    """Where training computes, in a few words: ``"float32 on tensorflow cpu:0"``.

    The Keras backend and the devices it sees (:func:`backend_devices`):
    the features and the Newton iterations run there in float32 (the
    certificate in float64 on the host).
    """
    devices = ", ".join(backend_devices())
    return f"float32 on {keras.backend.backend()} {devices}"


def _colsum(A):
    return ops.sum(A, axis=0)


def _finite(x):
    return ops.where(ops.isfinite(x), x, 0.0)


class _Problem:
    """The data of the objective besides the features, as float32 tensors.

    ``lower`` and ``upper`` ``(n, K)``: the rows' intervals (see
    :mod:`kernelsvm_keras._loss`); ``s`` ``(n, 1)`` or ``(n, K)``: the
    sample weights; ``host``: the three as float32 NumPy arrays;
    ``intercept_cost`` ``c_b``: the linear cost of the intercept (1 for
    the one-class SVM, else 0); ``on_host``: whether the backend is eager
    (not JAX) and its devices are CPUs (the line search then runs in NumPy,
    :func:`_line_search`).
    """

    def __init__(self, loss, lower, upper, sample_weight, intercept_cost):
        n = lower.shape[0]
        self.loss = loss
        self.host = (
            np.asarray(lower, dtype=np.float32),
            np.asarray(upper, dtype=np.float32),
            np.asarray(sample_weight, dtype=np.float32).reshape(n, -1),
        )
        self.lower, self.upper, self.s = (to_tensor(a) for a in self.host)
        self.intercept_cost = float(intercept_cost)
        # (an eager backend on CPUs; JAX compiles each step of the search into one
        # program, and its CPU stands for a device in tests/test_backends.py)
        self.on_host = keras.backend.backend() != "jax" and all(
            d.lower().startswith("cpu") for d in backend_devices()
        )

    def smoothing(self, delta):
        """The hinge's smoothing width, or ``None`` for a smooth loss."""
        return delta if self.loss.smooth else None


@compiled(static=("loss", "with_cost", "fit_intercept", "xp"))
def _iterate(
    Z, halves, lower, upper, s, cap, W, b, C, cb, delta, *, loss, with_cost, fit_intercept, xp=ops
):
    """The loss's terms at the iterate, its dual point, and both objectives, per column.

    ``Z`` are the predictions and ``halves`` the products ``phi^T`` of the
    positive and negative parts of ``beta = C s (-loss'(Z))`` (and, with an
    intercept cost, of the positive rows' bounds), from one pass. ``beta``
    is rescaled on one side to be dual-feasible (:func:`_feasible_scales`).
    Returns the curvatures ``C s loss''(Z)``, the gradient's parts
    ``phi^T beta`` and ``sum(beta)`` (before feasibility), the feasible
    ``beta``, the primal and dual objectives (``-inf`` where no bound), and
    the gap of the smoothed problem (``None`` for a smooth loss).
    """
    K = Z.shape[1]
    value, slope, curvature = loss.derivatives(Z, lower, upper, delta, xp)
    smooth_value = s * value
    if loss.smooth:
        value = s * loss.value(Z, lower, upper, None, xp)
    else:
        value = smooth_value
    beta = C * s * slope  # the dual point of the iterate (before feasibility)
    u_pos, u_neg = halves[:, :K], halves[:, K : 2 * K]
    beta_pos, beta_neg = xp.maximum(beta, 0.0), xp.maximum(-beta, 0.0)
    sum_pos, sum_neg = xp.sum(beta_pos, axis=0), xp.sum(beta_neg, axis=0)
    if with_cost:  # the positive rows' bounds, and their room
        bound = C * cap * _indicator(beta_pos > 0, beta_pos, xp)
        capacity = xp.sum(bound - beta_pos, axis=0)
    else:
        capacity = xp.zeros_like(sum_pos)
    if fit_intercept:
        r_pos, r_neg, grow = _feasible_scales(sum_pos, sum_neg, cb, capacity, xp)
    else:
        r_pos = r_neg = xp.ones_like(sum_pos)
        grow = xp.zeros_like(sum_pos)
    feasible = r_pos * beta_pos - r_neg * beta_neg
    u_feasible = r_pos * u_pos - r_neg * u_neg
    if with_cost:
        feasible = feasible + grow * (bound - beta_pos)
        u_feasible = u_feasible + grow * (halves[:, 2 * K :] - u_pos)
    half_norm_w = 0.5 * xp.sum(xp.square(W), axis=0)
    primal = half_norm_w + cb * b + C * xp.sum(value, axis=0)
    half_norm_u = 0.5 * xp.sum(xp.square(u_feasible), axis=0)
    weight = C * s
    dual = xp.sum(loss.conjugate(feasible, lower, upper, weight, None, xp), axis=0) - half_norm_u
    if with_cost:  # too little room to reach sum(beta) = c_b: not feasible, no bound
        dual = xp.where(sum_pos + capacity >= (1.0 - 1e-6) * cb, dual, -math.inf)
    dual = xp.where(xp.isfinite(dual), dual, -math.inf)  # overflowed: no bound
    smooth_gap = None
    if loss.smooth:
        smooth_primal = half_norm_w + cb * b + C * xp.sum(smooth_value, axis=0)
        smooth_dual = xp.sum(loss.conjugate(feasible, lower, upper, weight, delta, xp), axis=0)
        smooth_gap = smooth_primal - (smooth_dual - half_norm_u)
    gradient = (u_pos - u_neg, sum_pos - sum_neg)
    return C * s * curvature, gradient, feasible, primal, dual, smooth_gap


@compiled(static=("loss", "xp"))
def _signed_betas(Z, lower, upper, s, cap, C, delta, *, loss, xp=ops):
    """The positive and negative parts of ``beta = C s (-loss'(Z))`` of some rows, side by side.

    Both halves of ``w(beta) = phi^T beta``, so that either can be rescaled
    (and, with ``cap``, the intercept cost's bounds ``C cap`` of the
    positive rows, a third part); ``beta`` depends on each row's own
    prediction only, so they come in the same pass as ``Z``.
    """
    beta = C * s * loss.derivatives(Z, lower, upper, delta, xp)[1]
    parts = [xp.maximum(beta, 0.0), xp.maximum(-beta, 0.0)]
    if cap is not None:
        parts.append(C * cap * _indicator(beta > 0, beta, xp))
    return xp.concatenate(parts, axis=1)


@compiled()
def _track(primal, dual, beta, smooth_gap, best, floor, threshold):
    """The best dual point and gaps met, the gap now, and which columns progress.

    ``best`` is ``(dual, beta, gap, primal)``, the best of each met so far
    (the best dual bound and its point; the smallest gap and primal). Returns
    the updated ``best``, the gap against the best bound, the converged
    columns (gap at most ``threshold``), those whose smoothing may shrink
    (``None`` for a smooth loss) and those that progressed: an unconverged
    column whose best gap shrank by ``_STALL_PROGRESS`` or more, or whose
    primal fell by that much (float32 round-off alone makes new minima by
    tiny amounts forever; while the smoothing is wide, the hinge's dual
    bound can lag far behind a primal that still falls fast).
    """
    best_dual, best_beta, best_gap, best_primal = best
    better = dual > best_dual
    best_beta = ops.where(better, beta, best_beta)
    best_dual = ops.maximum(best_dual, dual)
    gap = (primal - best_dual) / ops.maximum(ops.abs(primal), floor)
    converged = gap <= threshold
    shrink = None
    if smooth_gap is not None:
        # The iterate solves the smoothed problem much better than the
        # smoothing distorts the hinge: shrink the smoothing.
        shrink = ops.logical_and(
            smooth_gap <= 0.5 * ((primal - best_dual) - smooth_gap),
            ops.logical_not(converged),
        )
    improved = ops.logical_or(
        gap < (1.0 - _STALL_PROGRESS) * best_gap,
        primal < best_primal - _STALL_PROGRESS * ops.abs(_finite(best_primal)),
    )
    progress = ops.logical_and(improved, ops.logical_not(converged))
    best = (best_dual, best_beta, ops.minimum(best_gap, gap), ops.minimum(best_primal, primal))
    return best, gap, converged, shrink, progress


def _along_line(loss, Z, Zd, lower, upper, s, C, cb, delta, t, ww, wd, dd, b, db, xp=ops):
    """The (smoothed) objective at ``t`` along a direction, and its first two derivatives."""
    rows, slope, curv = loss.derivatives(Z + t * Zd, lower, upper, delta, xp)
    value = 0.5 * (ww + t * (2.0 * wd + t * dd)) + cb * (b + t * db) + C * xp.sum(s * rows, axis=0)
    d1 = t * dd + wd + cb * db - C * xp.sum(s * slope * Zd, axis=0)
    d2 = dd + C * xp.sum(s * curv * xp.square(Zd), axis=0)
    return value, d1, d2


@compiled(static=("loss", "xp"))
def _line_start(Z, Zd, lower, upper, s, C, cb, delta, W, dW, b, db, *, loss, xp=ops):
    """The line search's fixed terms, its tolerance and ceiling, and its first step ``t = 1``."""
    ww = xp.sum(xp.square(W), axis=0)
    wd = xp.sum(W * dW, axis=0)
    dd = xp.sum(xp.square(dW), axis=0)
    zeros = xp.zeros_like(wd)
    f0, g0, _ = _along_line(
        loss, Z, Zd, lower, upper, s, C, cb, delta, zeros, ww, wd, dd, b, db, xp=xp
    )
    target = _LS_TOL * xp.abs(g0)
    ceiling = f0 + _LS_ROUNDOFF * xp.abs(f0)
    bracket = (zeros, xp.full_like(wd, math.inf))
    return (ww, wd, dd), (target, ceiling), bracket, xp.ones_like(wd)


@compiled(static=("loss", "xp"))
def _line_step(
    Z, Zd, lower, upper, s, C, cb, delta, b, db, fixed, limits, bracket, t, *, loss, xp=ops
):
    """One step of the line search: which columns accept ``t``, and the next ``t`` of the others.

    Newton's step on the 1-D objective where it falls inside the bracket
    ``(lo, hi)`` of the minimum; else bisection, or growth while ``hi`` is
    open. Returns ``done, bracket, t``.
    """
    ww, wd, dd = fixed
    target, ceiling = limits
    lo, hi = bracket
    f, g, h = _along_line(loss, Z, Zd, lower, upper, s, C, cb, delta, t, ww, wd, dd, b, db, xp=xp)
    # an objective that overflows float32 at t: t is too far
    overflow = xp.logical_not(xp.logical_and(xp.isfinite(f), xp.isfinite(g)))
    g = xp.where(overflow, math.inf, g)
    done = xp.logical_and(xp.abs(g) <= target, f <= ceiling)
    lo = xp.where(xp.logical_and(g < 0, xp.logical_not(done)), t, lo)
    hi = xp.where(xp.logical_and(g >= 0, xp.logical_not(done)), t, hi)
    h = xp.where(overflow, 0.0, h)
    newton = t - g / xp.maximum(h, 1e-30)
    bounded = xp.isfinite(hi)
    inside = xp.logical_and(newton > lo, xp.logical_or(newton < hi, xp.logical_not(bounded)))
    fallback = xp.where(bounded, 0.5 * (lo + hi), 4.0 * xp.maximum(t, 1.0))
    return done, (lo, hi), xp.where(done, t, xp.where(inside, newton, fallback))


def _line_search(problem, Z, Zd, C, delta, W, dW, b, db):
    """Exact line search (to ``_LS_TOL``) of each column's convex 1-D objective.

    Along ``(W, b) + t (dW, db)``, with ``Z`` the predictions and ``Zd`` their
    change per unit of ``t``. A step is accepted when the derivative has
    fallen to ``_LS_TOL`` of its value at 0 *and* the objective has not
    risen: the derivative alone can be small far past the minimum, where the
    objective grows slowly on a long scale (w8a standardised, values up to
    64, hinge, C=1: the first step from 0 was accepted at 100 times the
    starting objective).

    Where an eager backend runs on CPUs (``_Problem.on_host``), in NumPy
    on the host: the same float32 arithmetic, without the backend's cost per
    operation (TensorFlow: some 5 ms a step of the search, 0.8 s of a9a's
    hinge); elsewhere on the device, where ``Z`` and ``Zd`` stay.
    """
    delta = problem.smoothing(delta)
    start, step, xp = _line_start, _line_step, ops
    data = (Z, Zd, problem.lower, problem.upper, problem.s, C, problem.intercept_cost)
    vectors = (delta, W, dW, b, db)
    if problem.on_host:  # (the arrays read once, for every step of the search)
        start, step, xp = _line_start.__wrapped__, _line_step.__wrapped__, np
        data = (Z, Zd, *problem.host, C, problem.intercept_cost)
        data, vectors = (tuple(_read_on_host(a) for a in group) for group in (data, vectors))
    delta, W, dW, b, db = vectors
    with _silent_overflow():
        fixed, limits, bracket, t = start(*data, delta, W, dW, b, db, loss=problem.loss, xp=xp)
        for _ in range(_LS_MAX_ITER):
            done, bracket, t = step(
                *data, delta, b, db, fixed, limits, bracket, t, loss=problem.loss, xp=xp
            )
            if bool(xp.all(done)):
                break  # (the accepted t of every column: a column done keeps its t)
        else:
            # Not within tolerance: the left end of the bracket still decreases the objective.
            t = xp.where(done, t, bracket[0])
    return to_tensor(t.astype(np.float32)) if xp is np else t


def _host(tensor):
    """A float32 tensor as a float32 NumPy array."""
    return np.asarray(ops.convert_to_numpy(tensor), dtype=np.float32)


def _on_device(function, *args, **kwargs):
    """``function(*args, **kwargs)``: a compiled function of the solver, as it is."""
    return function(*args, **kwargs)


def _on_host(function, *args, **kwargs):
    """A compiled function of the solver run in NumPy on the host (``xp=np``).

    Its arguments are read by :func:`_read_on_host`, and its arrays
    returned as tensors, in the structure it returns. For an eager backend
    on CPUs (``_Problem.on_host``), where elementwise work on the rows costs
    more in the backend's dispatch than in NumPy (TensorFlow: 17 ms for
    :func:`_iterate` on a9a's 32,561 rows, 4.6 ms per block for
    :func:`_signed_betas`).
    """

    def back(out):
        if isinstance(out, tuple):
            return tuple(back(part) for part in out)
        return to_tensor(out) if isinstance(out, np.ndarray) else out

    with _silent_overflow():
        return back(function.__wrapped__(*(_read_on_host(a) for a in args), **kwargs, xp=np))


def _silent_overflow():
    """NumPy's float32 arithmetic as the backends do it: overflow to ``inf``, without a warning.

    The solver's functions handle values that are not finite themselves (a
    dual point that overflows is no bound, a line-search step that overflows
    is too far); NumPy would also warn (an error where warnings are: a fit at
    extreme values, tests/test_reliability.py).
    """
    return np.errstate(over="ignore", divide="ignore", invalid="ignore")


def _read_on_host(a):
    """An argument of a function run in NumPy (:func:`_on_host`, :func:`_line_search`).

    A tensor as a float32 NumPy array; a NumPy float as a Python float (a
    float64 ``C`` would make the arithmetic float64); anything else as it is.
    """
    if isinstance(a, np.floating):
        return float(a)
    return _host(a) if ops.is_tensor(a) else a


@compiled(static=("fit_intercept",))
def _gradient(W, u, total, cb, converged, *, fit_intercept):
    """The primal gradient ``(W - phi^T beta, c_b - sum(beta))``, zero in converged columns.

    Returns it and the unconverged columns (1.0, else 0.0).
    """
    active = ops.cast(ops.logical_not(converged), "float32")
    gb = (cb - total) * active * (1.0 if fit_intercept else 0.0)
    return (W - u) * active, gb, active


@compiled()
def _advance(W, b, dW, db, t):
    """The iterate moved by ``t`` along the direction; a column that would not be finite stays."""
    t = ops.where(ops.isfinite(t), t, 0.0)
    W_next = W + t * dW
    b_next = b + t * db
    keep = ops.logical_and(ops.all(ops.isfinite(W_next), axis=0), ops.isfinite(b_next))
    return ops.where(keep, W_next, W), ops.where(keep, b_next, b)


@compiled()
def _narrowed(delta, shrink):
    """The hinge's smoothing, shrunk in the columns ``shrink``."""
    return ops.where(shrink, ops.maximum(delta * _DELTA_SHRINK, _DELTA_MIN), delta)


def _newton_direction(design, gW, gb, curv, damping, cg_iter):
    """Solve ``H d = -g`` for every column.

    ``H = diag(1, ..., 1, damping) + phi~^T diag(curv) phi~`` per column, with
    ``phi~ = [phi(X), 1]`` (the intercept's damping only when there is one).
    Columns whose curved zone (``curv > 0``) is small compared with the cost
    of ``cg_iter`` conjugate-gradient iterations are solved exactly: through
    the ``q x q`` Woodbury system of their ``q`` curved rows, or through the
    ``(D + 1) x (D + 1)`` Hessian itself when that is smaller (few features:
    :func:`_direct_directions`); the others together by conjugate gradients.
    A column with no curved row has ``H = diag(1, ..., 1, damping)``.
    Returns ``dW, db``; when conjugate gradients ran on all rows for every
    column, ``phi(X) @ dW + db`` (else ``None``), which the line search needs
    and would otherwise cost a pass; and the number of conjugate-gradient
    iterations run (``None`` when none ran).

    The choice reads a few numbers per column from the device (the size of
    its curved zone, whether it moves, and how many rows conjugate gradients
    would run on); the curvatures and the gradient themselves come to the
    host only for the steps made there (:func:`_direct_directions`, the
    preconditioner of streamed features). Conjugate gradients on a cached
    design, on all rows or on the curved ones, stay on the device.
    """
    q, moving = (ops.convert_to_numpy(a) for a in _zone_sizes(curv, gW, gb))
    q = q.astype(np.int64)
    host = _HostCopies(curv, gW, gb)
    # The rule counts all n rows even when CG would run on fewer: CG needs far
    # more than _CG_TYPICAL_ITER iterations on a narrowly smoothed hinge, and
    # counting the subset sent those columns to CG (digits, hinge, C=10:
    # 64 -> 211 Newton steps).
    D = design.n_outputs
    width = D + 1
    new_rows = q.astype(np.float64)  # a column none of whose Gram rows are kept: all new
    for k in range(q.size):
        if design.keeps_gram(k):
            new_rows[k] = design.new_gram_rows(np.flatnonzero(host.zone[:, k]), k)
    cg_flops = 2 * cg_iter * design.n_samples * D
    woodbury_flops = q**3 / 3 + new_rows * q * D / _GRAM_REUSE
    # the Hessian itself: its products over the curved rows, and its factor
    hessian_flops = q * width**2 + width**3 / 3
    # (the Hessians of every column in float64 within _PRECOND_GRAM_BYTES)
    hessian_fits = q.size * width**2 * 8 <= _PRECOND_GRAM_BYTES
    if not hessian_fits:
        hessian_flops = np.full(q.shape, np.inf)
    small = moving & ((q <= _DIRECT_MAX_ROWS) | hessian_fits)
    direct = small & (np.minimum(woodbury_flops, hessian_flops) < _INEXACT_STEPS * cg_flops)
    if (direct != moving).any():  # some column stays inexact: only the cheapest go direct
        direct = small & (np.minimum(q**2 * D, hessian_flops) <= cg_flops)

    def cg(skip):
        # Hessian products only involve samples in the curved zone of a column
        # that conjugate gradients solve: when they are few, CG runs on those
        # rows alone.
        curved_rows, n_curved = _curved_rows(curv, to_tensor(moving & ~direct))
        n_curved = int(ops.convert_to_numpy(n_curved))
        if n_curved < _CG_SUBSET_FRACTION * design.n_samples and design.fits_in_cache(n_curved):
            subset, weights = design.curved_subset(curved_rows, n_curved, curv)
            precondition = _curved_rows_preconditioner(subset, weights, damping, cg_iter)
            dW, db, _, iterations = _cg_direction(
                subset, gW, gb, weights, damping, skip, precondition
            )
            return dW, db, None, iterations
        precondition = None
        if design.streamed:
            rows = ops.convert_to_numpy(curved_rows)
            precondition = _SampledHessian(design, host.curv, rows, skip, damping=damping)
        return _cg_direction(design, gW, gb, curv, damping, skip, precondition)

    if not direct.any():
        return cg(skip=None)
    use_hessian = (hessian_flops < woodbury_flops) | (q > _DIRECT_MAX_ROWS)
    dW, db = _direct_directions(
        design,
        np.flatnonzero(direct),
        host.zone,
        host.curv,
        host.gW,
        host.gb,
        damping,
        use_hessian,
    )
    dW = to_tensor(dW.astype(np.float32))
    db = to_tensor(db.astype(np.float32))
    if not (moving & ~direct).any():
        return dW, db, None, None
    skip = to_tensor(direct)
    cW, cb, _, iterations = cg(skip)
    return ops.where(skip, dW, cW), ops.where(skip, db, cb), None, iterations


@compiled()
def _zone_sizes(curv, gW, gb):
    """Per column: the number of curved rows, and whether it moves (a nonzero gradient).

    Converged columns have a zero gradient (:func:`_gradient`): frozen.
    """
    q = ops.sum(ops.cast(curv > 0, "int32"), axis=0)
    moving = ops.logical_or(ops.any(gW != 0, axis=0), gb != 0)
    return q, moving


@compiled()
def _curved_rows(curv, columns):
    """The rows curved in some of ``columns`` (a boolean per column), and their number."""
    rows = ops.any(ops.logical_and(curv > 0, columns), axis=1)
    return rows, ops.sum(ops.cast(rows, "int32"))


class _HostCopies:
    """The curvatures and the gradient in NumPy, copied from the device at the first use.

    ``curv`` (float32), ``zone`` (``curv > 0``), ``gW`` and ``gb`` (float64).
    """

    def __init__(self, curv, gW, gb):
        self._tensors = (curv, gW, gb)

    @functools.cached_property
    def curv(self):
        return ops.convert_to_numpy(self._tensors[0])

    @functools.cached_property
    def zone(self):
        return self.curv > 0

    @functools.cached_property
    def gW(self):
        return ops.convert_to_numpy(self._tensors[1]).astype(np.float64)

    @functools.cached_property
    def gb(self):
        return ops.convert_to_numpy(self._tensors[2]).astype(np.float64)


def _jitter(G):
    """A diagonal shift that makes a float32-rounded Gram matrix safely definite.

    The rounding of ``G = A A^T`` computed in float32 is of order
    ``eps32 sqrt(q) max(diag G)`` in norm; when the diagonal added to it
    (``1 / c``, tiny at a large ``C`` or a narrow smoothing) is smaller, the
    system would be indefinite. The shifted system is that of a slightly
    damped Newton step: still a descent direction, and the line search
    makes the step exact.
    """
    if G.size == 0:
        return 0.0
    return _GRAM_ROUNDING * math.sqrt(G.shape[0]) * float(np.max(np.diag(G)))


def _definite_solve(M, rhs, jitter):
    """``M^-1 rhs`` for a symmetric system that float32 rounding may leave indefinite.

    Cholesky as it is; where it fails, shifted by ``jitter`` (see
    :func:`_jitter`), and by least squares as a last resort. The shift is
    applied only where needed: on narrowly smoothed hinges the unshifted
    system, although rounded, gives the better Newton steps (a 5000-row
    hinge at C=1000 stalled at a gap of 1.5e-3 with the shift always on,
    and converged without it).
    """
    for shift in (0.0, jitter):
        system = M.copy()  # (factored in its place)
        system[np.diag_indices_from(system)] += shift
        try:
            return scipy.linalg.cho_solve(_cho_factor(system), rhs, check_finite=False)
        except np.linalg.LinAlgError:
            continue
    return np.linalg.lstsq(M, rhs, rcond=None)[0]


def _direct_directions(design, columns, zone, curv, gW, gb, damping, use_hessian):
    """Exact Newton directions of ``columns``.

    Per column, with ``A = phi~[rows]`` the ``q`` rows of its curved zone and
    ``R = diag(1, ..., 1, damping)``, either by the Woodbury identity,
    ``H^-1 = R^-1 - R^-1 A^T (diag(1/c) + A R^-1 A^T)^-1 A R^-1``: a ``q x q``
    system whose Gram matrix comes from :meth:`~kernelsvm_keras._design.RowBlocks.gram` (float32;
    see :func:`_definite_solve`), solved in float64 on the host, where the
    small diagonal ``1/c`` of a narrow smoothing needs the precision; or,
    where ``use_hessian[k]`` (few features), through ``H`` itself, summed in
    float64 on the host from the curved rows (exactly definite). The
    products with ``phi(X)`` on either side are one pass each for all the
    Woodbury columns. Returns ``dW, db`` (float64, zero outside ``columns``).
    """
    rho = damping
    dW = np.zeros_like(gW)
    db = np.zeros_like(gb)
    if columns.size == 0:
        return dW, db
    by_hessian = columns[use_hessian[columns]]
    if by_hessian.size:
        _hessian_directions(design, by_hessian, zone, curv, gW, gb, damping, dW, db)
    columns = columns[~use_hessian[columns]]
    if columns.size == 0:
        return dW, db
    # The passes take every column, zero outside ``columns``: their shapes are
    # then those of the fit's other passes, which a backend that compiles per
    # shape (JAX) has compiled already, where each new number of columns
    # compiled its own (20,000 MNIST rows on 1,024 landmarks: 250 -> 211
    # compilations in the first fit).
    V = np.zeros(gW.shape, dtype=np.float32)
    V[:, columns] = gW[:, columns]
    curved = _CurvedRows(design, zone[:, columns].any(axis=1))
    products = curved.matmul(V)
    Y = np.zeros((design.n_samples, gW.shape[1]))
    for j in columns:
        rows = np.flatnonzero(zone[:, j])
        if rows.size == 0:
            continue
        # float32 products round by about _jitter(G): where that would swamp
        # the diagonal 1 / c (a large C), the Gram matrix in float64
        diagonal = 1.0 / curv[rows, j]
        G = design.gram(rows, key=j).astype(np.float64)
        jitter = _jitter(G)
        if jitter > _EXACT_GRAM_RATIO * diagonal.min():
            G = design.gram(rows, key=j, exact=True)
            jitter = _jitter(G)
        M = G  # (a new array: the system is formed in its place)
        M[np.diag_indices_from(M)] += diagonal
        rhs = products[rows, j].astype(np.float64)
        if damping:
            M += 1.0 / rho
            rhs += gb[j] / rho
        Y[rows, j] = _definite_solve(M, rhs, jitter)
    correction = curved.rmatmul(Y)
    dW[:, columns] = -(gW[:, columns] - correction[:, columns])
    db[columns] = -(gb[columns] - Y[:, columns].sum(axis=0)) / rho if damping else 0.0
    return dW, db


class _CurvedRows:
    """The products of a Woodbury step, ``phi(X) @ V`` and ``phi(X).T @ Y``, on its curved rows.

    Only the curved rows' entries of the first are read, and ``Y`` is zero
    outside them: where they are few, both products run on those rows,
    gathered once (:meth:`~kernelsvm_keras._design.RowBlocks.padded_rows`), rather than as two
    passes over every row (a9a's hinge, some 3,000 curved rows of 32,561:
    the two passes took 1.0 s of its 24 Newton steps). Where they are many,
    or would not fit the feature cache, two passes over the design.

    Parameters
    ----------
    design : RowBlocks
    rows : ndarray of bool, shape (n_samples,)
        The rows curved in some column of the step.
    """

    def __init__(self, design, rows):
        self._design = design
        self._rows = np.flatnonzero(rows)
        count = self._rows.size
        self._taken = None
        if count < _CG_SUBSET_FRACTION * design.n_samples and design.fits_in_cache(count):
            ((self._taken, self._positions),) = design.padded_rows([self._rows])

    def matmul(self, V):
        """``phi(X) @ V`` (float32 NumPy), exact on the curved rows only where gathered."""
        V = to_tensor(np.asarray(V, dtype=np.float32))
        if self._taken is None:
            return ops.convert_to_numpy(self._design.matmul(V))
        out = np.zeros((self._design.n_samples, V.shape[1]), dtype=np.float32)
        out[self._rows] = ops.convert_to_numpy(ops.matmul(self._taken, V))[self._positions]
        return out

    def rmatmul(self, Y):
        """``phi(X).T @ Y`` (NumPy) for ``Y`` zero outside the curved rows."""
        if self._taken is None:
            U = to_tensor(np.asarray(Y, dtype=np.float32))
            return ops.convert_to_numpy(self._design.rmatmul(U))
        U = np.zeros((int(self._taken.shape[0]), Y.shape[1]), dtype=np.float32)
        U[self._positions] = Y[self._rows]  # (padding rows: zero)
        U = to_tensor(U)
        # (U^T T)^T, as RowBlocks.rmatmul: T itself is not transposed
        return ops.convert_to_numpy(ops.transpose(ops.matmul(ops.transpose(U), self._taken)))


def _hessian_directions(design, columns, zone, curv, gW, gb, damping, dW, db):
    """Newton directions of ``columns`` from the ``(D + 1) x (D + 1)`` Hessian, in place.

    ``H = R + A~^T diag(c) A~`` summed in float64 on the host over each
    column's own curved rows (one pass over the design, a matrix product
    per column and block: ``q width^2`` multiply-adds, as
    :func:`_newton_direction` counts them), factored by Cholesky: exact and
    definite whatever ``C``, for designs with few features (the linear SVM
    on low-dimensional data).
    """
    D = design.n_outputs
    rows = zone[:, columns].any(axis=1)
    width = D + 1 if damping else D
    H = np.zeros((columns.size, width, width))
    for start, stop, B in design.blocks():
        local = np.flatnonzero(rows[start:stop])
        if not local.size:
            continue
        A = np.asarray(ops.convert_to_numpy(B), dtype=np.float64)[local]
        if damping:
            A = np.hstack([A, np.ones((A.shape[0], 1))])
        c = curv[start:stop][local][:, columns].astype(np.float64)
        for j in range(columns.size):
            # an einsum over all columns at once took 5 s a Newton step on
            # 10,000 MNIST rows (784 features, 10 columns): not a BLAS product
            curved = c[:, j] > 0
            S = A[curved] * np.sqrt(c[curved, j])[:, None]
            H[j] += matmul(S.T, S)
    regulariser = np.ones(width)
    if damping:
        regulariser[D] = damping
    for j, k in enumerate(columns):
        g = gW[:, k] if not damping else np.append(gW[:, k], gb[k])
        system = H[j] + np.diag(regulariser)
        d = -scipy.linalg.cho_solve(_cho_factor(system), g, check_finite=False)
        dW[:, k] = d[:D]
        if damping:
            db[k] = d[D]


class _SampledHessian:
    """Preconditioner: the Hessian of a subsample of rows, scaled to all rows.

    For column ``k``, ``P_k = R + (n / m) A~^T diag(c_k) A~`` with ``A~ = [A, 1]``
    the features of ``m`` evenly strided rows among the ``n`` rows in some
    column's curved zone (gathered in one pass) and a constant column for the
    intercept, ``c_k`` their curvatures and ``R = diag(1, ..., 1, damping)``.
    Where the true Hessian ``R + phi~^T diag(c_k) phi~`` has large eigenvalues
    (they grow with ``n`` and ``C``, and make a diagonal preconditioner useless
    on random features), ``P_k`` approximates them; where it does not, both
    are close to ``R``. The intercept is preconditioned with the weights, not
    apart: random features have a mean, which couples them strongly to it
    (preconditioned apart, the intercept's residual stalls conjugate
    gradients near the optimum: 1M rows, 14 iterations instead of 3).
    ``P_k`` is factored in float64 on the host, through the ``q x q``
    Woodbury system when the sample has ``q < D`` curved rows, otherwise as a
    ``(D + 1) x (D + 1)`` matrix.
    """

    def __init__(self, design, curv_host, curved_rows, skip, damping):
        D, K = design.n_outputs, curv_host.shape[1]
        skip_host = np.zeros(K, bool)
        if skip is not None:
            skip_host = ops.convert_to_numpy(skip)
        curved = np.flatnonzero(curved_rows)
        n = curved.size
        # The intercept's column, scaled so that R becomes the identity:
        # P = S (I + (n / m) A^^T diag(c) A^) S with A^ = A~ S, S = R^-1/2.
        self._intercept = bool(damping)
        self._scale = np.ones(D + 1 if damping else D)
        if damping:
            self._scale[D] = 1.0 / math.sqrt(damping)
        width = self._scale.size
        # Enough curved rows, and room for every column's sum on the device:
        # sum over a large sample, block by block, without keeping it.
        accumulate = n >= width and K * width * width * 4 <= _PRECOND_GRAM_BYTES
        m = min(n, (_PRECOND_ROWS_SUMMED if accumulate else _PRECOND_ROWS_PER_FEATURE) * D)
        mask = np.zeros(design.n_samples, dtype=bool)
        mask[curved[np.linspace(0, n - 1, m).round().astype(int)]] = True
        weights = curv_host * (mask[:, None] * (n / m))
        columns = [k for k in range(K) if not skip_host[k] and weights[:, k].any()]
        self._factors = [None] * K
        if accumulate:
            grams = self._summed_grams(design, mask, weights, columns, self._augment)
            for j, k in enumerate(columns):
                # I + gram in float64, with no (width, width) temporary beside it
                system = ops.convert_to_numpy(grams[j]).astype(np.float64)
                grams[j] = None
                system.flat[:: width + 1] += 1.0
                self._factors[k] = (None, False, _cho_factor(system))
            return
        A = self._augment(design.take_rows(mask))
        for k in columns:
            c = weights[mask, k].astype(np.float64)
            rows = np.flatnonzero(c > 0)
            Ak = A if rows.size == m else ops.take(A, to_tensor(rows), axis=0)
            if rows.size < width:  # Woodbury: P^-1 r = r - Ak^T (diag(1/c) + Ak Ak^T)^-1 Ak r
                system = ops.convert_to_numpy(ops.matmul(Ak, ops.transpose(Ak)))
                system = system.astype(np.float64) + np.diag(1.0 / c[rows])
            else:  # I + Ak^T diag(c) Ak, summed over row blocks (no scaled copy of Ak)
                system = np.eye(width)
                ck = to_tensor(c[rows, None].astype(np.float32))
                for start in range(0, rows.size, _PRECOND_BLOCK_ROWS):
                    block = Ak[start : start + _PRECOND_BLOCK_ROWS]
                    weighted = block * ck[start : start + _PRECOND_BLOCK_ROWS]
                    system += ops.convert_to_numpy(ops.matmul(ops.transpose(block), weighted))
            self._factors[k] = (Ak, rows.size < width, _cho_factor(system))

    def _augment(self, rows):
        """``A^ = [A, 1 / sqrt(damping)]`` (``A`` alone without an intercept)."""
        if not self._intercept:
            return rows
        constant = ops.full((rows.shape[0], 1), float(self._scale[-1]), dtype=rows.dtype)
        return ops.concatenate([rows, constant], axis=1)

    @staticmethod
    def _summed_grams(design, mask, weights, columns, augment):
        """``A^T diag(weights[:, k]) A`` over the masked rows, per column, in one pass."""
        grams = [0.0] * len(columns)
        pending = []

        def flush():
            rows = augment(ops.concatenate([r for r, _ in pending], axis=0))
            w = np.concatenate([w for _, w in pending], axis=0)
            for j, k in enumerate(columns):
                weighted = rows * to_tensor(w[:, k : k + 1].astype(np.float32))
                grams[j] = grams[j] + ops.matmul(ops.transpose(rows), weighted)
            pending.clear()

        for start, local, rows in design.gathered(mask):
            pending.append((rows, weights[start + local]))
            if sum(len(w) for _, w in pending) >= _PRECOND_BLOCK_ROWS:
                flush()
        if pending:
            flush()
        return grams

    def __call__(self, rW, rb):
        """``P_k^-1 [r_k, rb_k]`` for every column ``k`` of ``rW`` (D x K) and ``rb`` (K,)."""
        D = rW.shape[0]
        r_host = ops.convert_to_numpy(rW).astype(np.float64)
        if self._scale.size > D:
            r_host = np.vstack([r_host, ops.convert_to_numpy(rb).astype(np.float64)[None, :]])
        r_host *= self._scale[:, None]
        z_host = r_host.copy()
        for k, entry in enumerate(self._factors):
            if entry is None:
                continue
            Ak, woodbury, factor = entry
            r = r_host[:, k]
            if woodbury:
                product = ops.matmul(Ak, to_tensor(r[:, None].astype(np.float32)))
                Ar = ops.convert_to_numpy(product)[:, 0]
                y = scipy.linalg.cho_solve(factor, Ar.astype(np.float64), check_finite=False)
                correction = ops.convert_to_numpy(
                    ops.matmul(to_tensor(y[None, :].astype(np.float32)), Ak)
                )[0]
                z_host[:, k] = r - correction
            else:
                z_host[:, k] = scipy.linalg.cho_solve(factor, r, check_finite=False)
        z_host *= self._scale[:, None]
        zW = to_tensor(z_host[:D].astype(np.float32))
        if self._scale.size > D:
            return zW, to_tensor(z_host[D].astype(np.float32))
        return zW, ops.zeros_like(rb)  # no intercept: its residual is zero, and stays so


def _curved_rows_preconditioner(design, curv, damping, cg_iter):
    """Conjugate gradients' preconditioner on the rows of the curved zones, gathered.

    :class:`_LeadingBlock` where the curvature is concentrated on the
    leading features and the block repays its cost; else
    :func:`_centered_diagonal`. Both start from the squares' pass. (On all
    rows the centred diagonal is nearly exact, and stays.)
    """
    squares = design.rmatmul(curv, squared=True)
    block = _LeadingBlock.build(design, curv, squares, damping, cg_iter)
    if block is not None:
        return block
    return _centered_diagonal(design, curv, damping, squares)


class _LeadingBlock:
    """Preconditioner: the Hessian exactly on its leading weights and the intercept.

    Landmark features begin with the leading eigen-directions of the
    landmarks' kernel matrix, by decreasing eigenvalue (the eigenbasis, or
    the basis ``"leading"`` of
    :func:`~kernelsvm_keras.layers.nystroem_factors`), so the
    curvature-weighted scatter ``phi^T diag(c) phi`` is concentrated on its
    first coordinates (MNIST, 4,096 landmarks: 87% of its trace on the first
    256). Over all rows it is
    nearly diagonal there; over the rows of a curved zone (near the
    optimum, a few thousand rows per column) the leading coordinates, and
    the intercept (the features' mean lies in them), are coupled, which
    :func:`_centered_diagonal` does not see: MNIST 60k's last Newton steps
    took 40-67 conjugate-gradient iterations. Per column ``k``::

        P_k = blockdiag(G_k, diag(1 + squares_k[r:]))

    with ``G_k`` the Hessian on the first ``r`` weights and the intercept,
    ``R + A~^T diag(c_k) A~`` (``A~ = [A[:, :r], 1]``, ``R = diag(1, ...,
    1, damping)``), summed over at most ``_LEADING_ROWS`` evenly strided
    rows, their curvatures scaled up to all rows'. Each ``G_k`` is factored
    in float64 on the host, ``G_k = L_k L_k^T``, and applied on the device
    as ``M_k^T M_k`` with ``M_k = L_k^-1`` in float32 (symmetric and
    positive definite whatever its rounding, as conjugate gradients need).
    """

    def __init__(self, inverse_factors, rest, width, intercept):
        self._factors = inverse_factors  # (K, width + intercept, width + intercept)
        self._rest = rest  # 1 + squares[width:], (D - width, K)
        self._width = width
        self._intercept = intercept

    @classmethod
    def build(cls, design, curv, squares, damping, cg_iter):
        """The preconditioner, or ``None`` where it does not pay.

        It pays where the first ``r`` coordinates hold at least
        ``_LEADING_SHARE`` of every moving column's trace, and where forming
        the blocks costs at most ``_LEADING_COST`` of the passes a Newton
        step's conjugate gradients have taken so far (``cg_iter``, the most
        of any step): the blocks' ``K rows r^2`` multiply-adds run at full
        speed, a pass's ``2 n D K`` at the speed of memory, about
        ``_PASS_SLOWDOWN`` times slower.
        """
        D, K = design.n_outputs, int(curv.shape[1])
        n = design.n_samples
        if D < 2 * _LEADING_WIDTH or not n:
            return None
        width = _LEADING_WIDTH
        rows = min(n, _LEADING_ROWS)
        block_flops = K * rows * (width + 1) ** 2
        pass_flops = _PASS_SLOWDOWN * 2 * n * D * K
        if block_flops > _LEADING_COST * cg_iter * pass_flops:
            return None
        sums = ops.convert_to_numpy(_leading_sums(squares, curv, width=width))
        total, leading = sums[width + 1], sums[:width].sum(axis=0)
        moving = total > 0
        if not np.all(leading[moving] >= _LEADING_SHARE * total[moving]):
            return None
        intercept = bool(damping)
        grams = _leading_grams(design, curv, width, rows, intercept)
        # the sample's correlations, on the exact diagonal of all the rows
        exact = sums[: width + intercept].T
        regulariser = np.ones(width + intercept)
        if intercept:
            regulariser[width] = damping
        inverses = np.empty((K, width + intercept, width + intercept), np.float32)
        for k in range(K):
            G = grams[k].astype(np.float64)
            sampled = np.diag(G).copy()
            ratio = np.where(sampled > 0, exact[k] / np.where(sampled > 0, sampled, 1.0), 0.0)
            root = np.sqrt(np.maximum(ratio, 0.0))
            G *= root[:, None]
            G *= root[None, :]
            G.flat[:: G.shape[0] + 1] += regulariser
            factor, info = scipy.linalg.lapack.dpotrf(G, lower=1, clean=1, overwrite_a=1)
            if info != 0:
                return None
            inverse, info = scipy.linalg.lapack.dtrtri(factor, lower=1)
            if info != 0 or not np.all(np.isfinite(inverse)):
                return None
            inverses[k] = inverse
        rest = 1.0 + ops.maximum(squares[width:], 0.0)
        return cls(to_tensor(inverses), rest, width, intercept)

    def __call__(self, rW, rb):
        """``P_k^-1 [r_k, rb_k]`` for every column ``k`` of ``rW`` (D x K) and ``rb`` (K,)."""
        return _leading_solve(
            rW, rb, self._factors, self._rest, width=self._width, intercept=self._intercept
        )


@compiled(static=("width",))
def _leading_sums(squares, curv, *, width):
    """Per column: the Hessian's diagonal on the first ``width`` weights and the
    intercept, less ``R``; then the trace of the curvature-weighted scatter."""
    sums = ops.stack([_colsum(curv), _colsum(squares)])
    return ops.concatenate([squares[:width], sums], axis=0)


def _leading_grams(design, curv, width, rows, intercept):
    """Per column, ``A~^T diag(c_k) A~`` over every ``stride``-th row (times ``stride``).

    ``A~`` the rows' first ``width`` features, and a constant column where
    there is an intercept. Returns a NumPy array of shape (K, w, w), ``w``
    the block's width.
    """
    stride = max(1, -(-design.n_samples // rows))
    total = None
    for start, stop, block in design.blocks():
        first = (-start) % stride  # the first row of the block on the global stride
        if first >= stop - start:
            continue
        A = block[first::stride, :width]
        c = curv[start + first : stop : stride] * float(stride)
        part = _weighted_grams(A, c, intercept=intercept)
        total = part if total is None else total + part
    K = int(curv.shape[1])
    w = width + intercept
    if total is None:
        return np.zeros((K, w, w))
    return ops.convert_to_numpy(total)


@compiled(static=("intercept",))
def _weighted_grams(A, c, *, intercept):
    """``[A, 1]^T diag(c[:, k]) [A, 1]`` for every column ``k`` of ``c``: shape (K, w, w).

    One product per column: a (K, rows, w) product of all at once would
    hold K weighted copies of the rows.
    """
    if intercept:
        A = ops.concatenate([A, ops.ones((A.shape[0], 1), dtype=A.dtype)], axis=1)
    return ops.stack([ops.matmul(ops.transpose(A * c[:, k : k + 1]), A) for k in range(c.shape[1])])


@compiled(static=("width", "intercept"))
def _leading_solve(rW, rb, factors, rest, *, width, intercept):
    """``P^-1 [rW; rb]`` for :class:`_LeadingBlock`: ``M^T M`` on the block, the diagonal after."""
    lead = rW[:width]
    if intercept:
        lead = ops.concatenate([lead, ops.expand_dims(rb, 0)], axis=0)
    v = ops.expand_dims(ops.transpose(lead), 2)  # (K, w, 1)
    z = ops.matmul(ops.transpose(factors, (0, 2, 1)), ops.matmul(factors, v))
    z = ops.transpose(ops.squeeze(z, 2))  # (w, K)
    zW = ops.concatenate([z[:width], rW[width:] / rest], axis=0)
    if not intercept:
        return zW, ops.zeros_like(rb)
    return zW, z[width]


def _centered_diagonal(design, curv, damping, squares=None):
    """Preconditioner: the Hessian's diagonal once its mean direction is exact.

    Per column, with curvatures ``c``, ``h = phi^T c``, ``s = sum(c)``, the
    Hessian of the weights is ``I + phi^T diag(c) phi = I + A_c + h h^T / s``
    with ``A_c`` the curvature-weighted scatter of the centred features.
    Random features have a mean, so ``h h^T / s`` is the Hessian's largest
    direction, which a diagonal preconditioner leaves untouched. This one
    keeps it, and the intercept's coupling to the weights (``h``), exactly,
    and replaces ``A_c`` by its diagonal::

        P = diag(1 + diag(A_c), damping) + [h; s] [h; s]^T / s

    (without an intercept, the weights' block alone), inverted by the
    Sherman-Morrison formula in ``O(D)`` per column. Costs two products with
    ``phi^T``.
    """
    h = design.rmatmul(curv)
    intercept = bool(damping)
    if squares is None:
        squares = design.rmatmul(curv, squared=True)
    factors = _centered_factors(curv, h, squares, damping, intercept=intercept)

    def precondition(rW, rb):
        return _centered_solve(rW, rb, *factors, damping, intercept=intercept)

    return precondition


@compiled(static=("intercept",))
def _centered_factors(curv, h, squares, damping, *, intercept):
    """``s``, ``diag_W``, ``h / diag_W`` and the Sherman-Morrison denominator of the preconditioner.

    ``h = phi^T c`` and ``squares = (phi ** 2)^T c``; ``damping`` that of
    the intercept, if any.
    """
    s = _colsum(curv)
    inv_s = 1.0 / ops.maximum(s, 1e-30)
    diag_W = 1.0 + ops.maximum(squares - ops.square(h) * inv_s, 0.0)
    h_scaled = h / diag_W
    # Sherman-Morrison: P^-1 r = Delta^-1 r - Delta^-1 v (v^T Delta^-1 r) / (s + v^T Delta^-1 v)
    denominator = s + _colsum(h * h_scaled)
    if intercept:
        denominator = denominator + ops.square(s) / damping
    return s, diag_W, h_scaled, ops.maximum(denominator, 1e-30)


@compiled(static=("intercept",))
def _centered_solve(rW, rb, s, diag_W, h_scaled, denominator, damping, *, intercept):
    """``P^-1 [rW; rb]`` for the preconditioner of :func:`_centered_diagonal`."""
    coef = _colsum(h_scaled * rW)
    if intercept:
        coef = coef + s * rb / damping
    coef = coef / denominator
    zW = rW / diag_W - h_scaled * coef
    if not intercept:  # no intercept: its residual is zero, and stays so
        return zW, ops.zeros_like(rb)
    return zW, (rb - s * coef) / damping


def _cg_direction(design, gW, gb, curv, damping, skip, precondition=None):
    """Newton directions by preconditioned conjugate gradients.

    Columns are solved together, each until its residual falls by
    ``_CG_FORCING``; columns in ``skip`` are left at zero. ``precondition``
    maps the residuals of the weights and of the intercept to their
    preconditioned values; by default :func:`_centered_diagonal`. Returns
    ``dW, db, phi(X) @ dW + db`` and the number of iterations run.
    """
    intercept = bool(damping)

    def hessp(vW, vb):
        Z, HvW = design.matmul_rmatmul(vW, vb, lambda start, stop, Zb: curv[start:stop] * Zb)
        return (*_hessian_product(vW, vb, Z, HvW, curv, damping, intercept=intercept), Z)

    if precondition is None:
        precondition = _centered_diagonal(design, curv, damping)

    dW = ops.zeros_like(gW)
    db = ops.zeros_like(gb)
    Zd = None  # phi(X) @ dW + db, summed from the products CG makes anyway
    rW, rb = -gW, -gb
    zW, zb = precondition(rW, rb)
    pW, pb = zW, zb
    rz, r0, done = _cg_begin(rW, rb, zW, zb, skip)
    iterations = 0
    while iterations < min(_CG_MAX_ITER, design.n_outputs + 1):
        iterations += 1
        HpW, Hpb, Zp = hessp(pW, pb)
        Zd = ops.zeros_like(Zp) if Zd is None else Zd
        iterate = (dW, db, Zd, rW, rb)
        done, (dW, db, Zd, rW, rb) = _cg_advance(pW, pb, HpW, Hpb, Zp, rz, r0, done, iterate)
        if bool(ops.all(done)):
            break
        zW, zb = precondition(rW, rb)
        pW, pb, rz = _cg_turn(rW, rb, zW, zb, pW, pb, rz)
    if Zd is None or not bool(ops.all(ops.isfinite(Zd))):  # none ran, or broke
        Zd = design.matmul(dW) + db
    return dW, db, Zd, iterations


@compiled(static=("intercept",))
def _hessian_product(vW, vb, Z, HvW, curv, damping, *, intercept):
    """``H [vW; vb]`` from the pass's ``Z = phi vW + vb`` and ``HvW = phi^T diag(curv) Z``."""
    Hvb = _colsum(curv * Z) + damping * vb if intercept else ops.zeros_like(vb)
    return vW + HvW, Hvb


@compiled()
def _cg_begin(rW, rb, zW, zb, skip):
    """The residual's product with its preconditioned self, its norm, and the columns done."""
    rz = _colsum(rW * zW) + rb * zb
    r0 = ops.sqrt(_colsum(ops.square(rW)) + ops.square(rb))
    done = r0 <= 0
    if skip is not None:
        done = ops.logical_or(done, skip)
    return rz, r0, done


@compiled()
def _cg_advance(pW, pb, HpW, Hpb, Zp, rz, r0, done, iterate):
    """One conjugate-gradient step along ``p``; returns the columns done and the new iterate.

    ``iterate`` is ``(dW, db, Zd, rW, rb)``: the direction so far, its
    predictions and the residual. A column is done when its residual has
    fallen by ``_CG_FORCING``, or at a float32 breakdown (a curvature or
    residual product that is not positive and finite: the column keeps the
    direction it has).
    """
    dW, db, Zd, rW, rb = iterate
    pHp = _colsum(pW * HpW) + pb * Hpb
    healthy = ops.logical_and(ops.isfinite(pHp), ops.isfinite(rz))
    healthy = ops.logical_and(healthy, ops.all(ops.isfinite(HpW), axis=0))
    done = ops.logical_or(done, ops.logical_not(ops.logical_and(healthy, pHp > 0)))
    done = ops.logical_or(done, rz <= 0)
    step = rz / ops.maximum(pHp, 1e-30)
    dW = ops.where(done, dW, dW + step * pW)
    db = ops.where(done, db, db + step * pb)
    Zd = ops.where(done, Zd, Zd + step * Zp)
    rW = ops.where(done, rW, rW - step * HpW)
    rb = ops.where(done, rb, rb - step * Hpb)
    rnorm = ops.sqrt(_colsum(ops.square(rW)) + ops.square(rb))
    done = ops.logical_or(done, rnorm <= _CG_FORCING * r0)
    return done, (dW, db, Zd, rW, rb)


@compiled()
def _cg_turn(rW, rb, zW, zb, pW, pb, rz):
    """The next conjugate direction from the preconditioned residual ``z``; and ``r . z``."""
    rz_new = _colsum(rW * zW) + rb * zb
    beta = rz_new / ops.maximum(rz, 1e-30)
    return zW + beta * pW, zb + beta * pb, rz_new


def _check_range(C, sample_weight, scale):
    """Refuse a problem whose weights float32 training cannot represent.

    With features of order one (random Fourier and Nystroem features are;
    linear inputs are scaled to be), the objective at the start, the
    gradient and the Hessian are of the order of ``C_eff * sum(s)``, with
    ``C_eff = C / scale**2`` the ``C`` of the scaled problem. Their squares
    (conjugate gradients, the dual) must stay within float32's range.
    """
    column_sums = np.sum(np.reshape(sample_weight, (len(sample_weight), -1)), axis=0)
    total = C / scale / scale * float(np.max(column_sums, initial=0.0))  # inf, not 1/0
    if total <= _MAX_TOTAL_WEIGHT:
        return
    units = ""
    if scale != 1.0:
        units = f" times (max |X| ~ {0.5 / scale:.3g}) squared"
    raise ValueError(
        f"C times the sum of the sample weights (times class weights){units} is {total:.3g}, "
        f"beyond the {_MAX_TOTAL_WEIGHT:.0e} that float32 training can represent: the "
        "problem is then the hard-margin limit to float32 precision. Use a smaller C, "
        "smaller sample or class weights (only C times the weights matters), or rescale X "
        "(for instance with StandardScaler)."
    )


def solve_svm(
    design,
    lower,
    upper,
    sample_weight,
    *,
    C,
    loss,
    fit_intercept,
    tol,
    max_iter,
    intercept_cost=0.0,
    report=SILENT,
    coef_init=None,
    intercept_init=None,
    cg_iter_init=None,
    smoothing_init=None,
    finish=True,
    give_up=False,
):
    """Minimise the SVM primal objective of every column to a certified tolerance.

    Phases: a range check (:func:`_check_range`); Newton iterations in float32
    on the device (direction :func:`_newton_direction`, step
    :func:`_line_search`, stopping rule on the float32 duality gap); the
    certificate (:func:`_certify`), recomputed in float64 on the host from
    the best dual point met.

    Parameters
    ----------
    design : RowBlocks
        The feature matrix ``phi(X)`` (of ``design.scale * X``).
    lower, upper : ndarray of shape (n_samples, K)
        The interval of every row and column (``-inf`` / ``inf`` for an open
        end): :func:`~kernelsvm_keras._loss.margin_intervals` of +1 / -1
        labels for classification, one column per binary problem;
        :func:`~kernelsvm_keras._loss.tube_intervals` for regression;
        :func:`~kernelsvm_keras._loss.one_class_intervals`.
    sample_weight : ndarray of shape (n_samples,) or (n_samples, K)
        Non-negative weights ``s_i`` (sample weight times class weight), the
        same for every column or one per column (one-vs-one problems: zero
        outside the pair's rows).
    C : float
        Inverse regularisation strength.
    loss : IntervalLoss
        :class:`~kernelsvm_keras._loss.Hinge` or
        :class:`~kernelsvm_keras._loss.SquaredHinge`.
    fit_intercept : bool
        Whether to fit an unpenalised intercept per column.
    tol : float
        Target relative duality gap of every column.
    max_iter : int
        Maximum number of Newton iterations.
    intercept_cost : float, default=0.0
        ``c_b``, the linear cost of the intercept in the objective (1 for
        the one-class SVM, where ``b = -rho``); needs ``fit_intercept``
        and a bounded loss (the hinge).
    report : Progress, default=SILENT
        Where the iterations are reported: a line per Newton iteration at
        ``verbose >= 1`` (the gap of the worst column against ``tol``), the
        step's kind and length and the ``C`` path's stages at 2, and a
        closing summary.
    coef_init, intercept_init : ndarray or None
        Starting point (warm start); zeros by default. Must be finite.
    cg_iter_init : int or None
        Conjugate-gradient iterations a Newton step is expected to need
        (``SolverResult.cg_iter`` of a previous solve, for instance at a
        smaller ``C``); it decides which columns are solved directly until a
        step of this solve has measured it.
    smoothing_init : ndarray of shape (K,) or None
        Each column's first smoothing width of the hinge (ignored for a
        smooth loss); ``_DELTA_START`` by default. A start near the optimum
        begins narrower (:meth:`NewtonStart.smoothing`). With it, the start
        is another route's, and at a ``C`` that takes the path of ``C``
        values (:func:`_continuation`) the solve starts from zero instead,
        on that path.
    finish : bool, default=True
        Whether the float64 finish (the hinge's interior point, the squared
        losses' finite Newton method) may solve a column the float32
        iterations leave above ``tol`` again (see :func:`_certify`); false
        where it has already been tried on the same problem.
    give_up : bool, default=False
        Whether to stop as soon as the iterations look futile (:func:`_futile`:
        at a stage of the ``C`` path, the best duality gap measured on its
        columns not converged still at least :data:`_FUTILE_GAP` and not
        halved in :data:`_FUTILE_ITER` iterations), for a caller that has
        another route to try; the result's ``gave_up`` says so. Without the
        float64 finish then.

    Returns
    -------
    SolverResult
        In the units of ``X`` (the design's scale undone); always finite.

    Raises
    ------
    ValueError
        When ``C`` times the weights is beyond float32's range, or the
        objective at the starting point is not finite.
    """
    n, K = lower.shape
    D = design.n_outputs
    scale = design.scale
    sample_weight = np.asarray(sample_weight, dtype=np.float64)
    if intercept_cost and not (fit_intercept and loss.bounded):
        raise ValueError("an intercept cost needs an intercept and a bounded loss (the hinge)")
    _check_range(C, sample_weight, scale)
    # the problem on scale * X, w / scale: scale**2 times the objective, with
    # C and the intercept's cost divided by scale**2
    C_scaled = C / scale**2
    cost_scaled = intercept_cost / scale**2
    problem = _Problem(loss, lower, upper, sample_weight, cost_scaled)
    s, cb = problem.s, problem.intercept_cost
    # Continuation in C: at a large C a Newton step from a point far from the
    # optimum overshoots (nearly every row leaves the loss's curved zone) and
    # the iterations then add back a row or two at a time. A path of C values
    # growing tenfold, each solved loosely from the previous one, keeps the
    # curved zone close to the optimum's.
    if coef_init is not None and smoothing_init is None:
        stages = [(C_scaled, tol)]  # (a warm start near the optimum: no path)
    else:
        stages = _continuation(C_scaled, sample_weight, design, tol)
        if smoothing_init is not None and len(stages) > 1:
            # another route's start (NewtonStart) at a C that takes the path: the
            # path from zero (w8a's hinge at C=100 from its working sets' last
            # solution stalled at a gap of 34; from zero it converges)
            coef_init = intercept_init = smoothing_init = None
    if coef_init is None:
        W = ops.zeros((D, K), dtype="float32")
        b = ops.zeros((K,), dtype="float32")
    else:
        W = to_tensor((np.asarray(coef_init, dtype=np.float64).T / scale).astype(np.float32))
        b = to_tensor(np.asarray(intercept_init, dtype=np.float32))
    if smoothing_init is None:
        delta = ops.full((K,), _DELTA_START, dtype="float32")
    else:
        delta = to_tensor(np.asarray(smoothing_init, dtype=np.float32))
    damping = _intercept_damping(C_scaled, sample_weight) if fit_intercept else 0.0
    # the most conjugate-gradient iterations a Newton step has needed
    cg_iter = _CG_TYPICAL_ITER if cg_iter_init is None else cg_iter_init
    # the dual's box (s, times C, where beta > 0 is allowed): with an intercept
    # cost, feasibility may have to move the positive beta towards it
    cap = s * ops.cast(ops.isfinite(problem.lower), "float32")
    # (per unit c_b^2; zero without an intercept cost: the gap is relative)
    floor_per_cost = _gap_floor(design, sample_weight) if cb else 0.0

    # The rows' elementwise side (the loss's terms, the dual point) in NumPy where
    # the line search is (_Problem.on_host), else on the device
    rows_side = _on_host if problem.on_host else _on_device
    rows_data = (problem.lower, problem.upper, s, cap)
    if problem.on_host:
        rows_data = (*problem.host, _host(cap))

    def signed_betas(start, stop, Zb):
        rows = tuple(a[start:stop] for a in rows_data)
        bounds = rows[3] if cb else None
        delta_now = problem.smoothing(delta)
        return rows_side(_signed_betas, Zb, *rows[:3], bounds, C, delta_now, loss=loss)

    n_iter = 0
    # the iterations each column took part in, counted on the device (read once)
    column_iter = ops.zeros((K,), dtype="int32")
    gave_up = False
    for C, stage_tol in stages:
        if gave_up:
            break
        if len(stages) > 1:
            report.line(f"C path: C={C * scale**2:.3g}, to a gap of {stage_tol:.1e}", level=2)
        # a stage at a smaller C has a proportionally smaller intercept cost:
        # the same nu (at C alone, the one-class problem would be unbounded)
        cb = problem.intercept_cost = cost_scaled * C / C_scaled
        # Every dual-feasible point bounds the optimum from below: keep the best
        # (its value, and the point itself for the float64 certificate).
        # (the best dual bound and its point, the smallest gap and primal)
        best = (
            ops.full((K,), -math.inf, dtype="float32"),
            ops.zeros((n, K), dtype="float32"),
            ops.full((K,), math.inf, dtype="float32"),
            ops.full((K,), math.inf, dtype="float32"),
        )
        since_progress = 0
        # the best gap measured on the columns not converged, at each iteration
        worst_gaps = []
        while True:
            Z, halves = design.matmul_rmatmul(W, b, signed_betas)
            curvature, (u, total), beta, primal, dual, smooth_gap = rows_side(
                _iterate,
                Z,
                halves,
                *rows_data,
                W,
                b,
                C,
                cb,
                problem.smoothing(delta),
                loss=loss,
                with_cost=bool(cb),
                fit_intercept=fit_intercept,
            )
            if n_iter == 0 and not bool(ops.all(ops.isfinite(primal))):
                raise ValueError(
                    "The SVM objective at the starting point is not finite in float32: the "
                    "features, X or y hold values beyond float32's range (about 3.4e38), or C "
                    "times the sample weights is too large; rescale X (or y) or use a smaller C. "
                    "(gamma='scale' is 1 / (n_features X.var()): a constant X, whose variance "
                    "is round-off, makes it huge, as in SVC; set gamma.)"
                )
            floor = max(floor_per_cost * cb**2, 1e-30)
            best, gap, converged, shrink, progress = _track(
                primal, dual, beta, smooth_gap, best, floor, _F32_MARGIN * stage_tol
            )
            if report:
                done = f"  {int(ops.sum(converged))}/{K} converged" if K > 1 else ""
                worst = float(ops.max(gap))
                # inf: no feasible dual point yet (the one-class SVM's first iterations)
                shown = f"{worst:.2e}" if math.isfinite(worst) else "no bound yet"
                report.line(
                    f"iter {n_iter:3d}  gap {shown} (tol {stage_tol:.0e})"
                    f"  primal {float(ops.sum(primal)) * scale**2:.6e}{done}"
                )
            progress = bool(ops.any(progress))
            since_progress = 0 if progress else since_progress + 1
            stalled = since_progress >= _STALL_ITER
            if bool(ops.all(converged)) or n_iter >= max_iter or stalled:
                break
            if give_up:
                worst_gaps.append(float(ops.max(ops.where(converged, 0.0, best[2]))))
                if len(worst_gaps) > _FUTILE_ITER and _futile(worst_gaps):
                    gave_up = True
                    break
            n_iter += 1
            column_iter = column_iter + ops.cast(ops.logical_not(converged), "int32")

            # Newton direction, frozen for converged columns.
            gW, gb, active = _gradient(W, u, total, cb, converged, fit_intercept=fit_intercept)
            dW, db, Zd, iterations = _newton_direction(design, gW, gb, curvature, damping, cg_iter)
            cg_iter = cg_iter if iterations is None else max(cg_iter, iterations)
            # A direction that float32 could not compute (overflow in an
            # ill-conditioned system) is replaced by the steepest descent one.
            finite = ops.logical_and(ops.all(ops.isfinite(dW), axis=0), ops.isfinite(db))
            if not bool(ops.all(finite)):
                dW = ops.where(finite, dW, -gW)
                db = ops.where(finite, db, -gb)
                Zd = None

            Zd = design.matmul(dW) + db if Zd is None else Zd
            t = _line_search(problem, Z, Zd, C, delta, W, dW, b, db)
            if report.verbose >= 2:
                kind = "direct" if iterations is None else f"{iterations} CG iterations"
                steps = ops.convert_to_numpy(t)[ops.convert_to_numpy(active) > 0]
                smoothing = f", smoothing {float(ops.max(delta)):.0e}" if loss.smooth else ""
                report.line(
                    f"   step: {kind}, line search t in [{steps.min():.3g}, {steps.max():.3g}]"
                    f"{smoothing}",
                    level=2,
                )
            W, b = _advance(W, b, dW, db, t)
            if loss.smooth:
                delta = _narrowed(delta, shrink)
        if n_iter >= max_iter:
            break

    coef = np.asarray(ops.convert_to_numpy(W), dtype=np.float64)  # (D, K), scaled units
    intercept = np.asarray(ops.convert_to_numpy(b), dtype=np.float64)
    # (at the C asked for: a dual point of a smaller C of the path is feasible too)
    floor = floor_per_cost * cost_scaled**2
    # (may replace columns of coef and intercept, in place)
    primal64, gap64, beta64, dual64 = _certify(
        design,
        _Intervals(
            lower,
            upper,
            sample_weight,
            C_scaled,
            loss,
            fit_intercept,
            cost_scaled,
            floor=floor,
        ),
        coef,
        intercept,
        ops.convert_to_numpy(best[1]),
        tol,
        # ended short of tol in float32 (stalled, or converged there only):
        # float64 may finish it (not where it gave up: the caller's route is next)
        finish=finish and n_iter < max_iter and not gave_up,
        polish=max_iter > 0,
    )
    met = gap64 <= tol
    final = C == C_scaled
    if report:
        if np.all(met):
            # where float32 stalled, the float64 interior point met tol
            why = "converged" if not stalled else "finished in float64 (interior point)"
        elif n_iter >= max_iter:
            why = "stopped at max_iter"
        elif gave_up:
            why = (
                f"given up as futile (its gap at least {_FUTILE_GAP:g}, not halved in "
                f"{_FUTILE_ITER} iterations)"
            )
        elif stalled:
            why = "stopped: no progress at float32 precision"
        else:
            why = "stopped: the float64 certificate is above tol"
        report.line(
            f"{why} after {n_iter} iterations; certified gap {gap64.max():.2e} "
            f"(tol {tol:.0e}), objective {np.sum(primal64) * scale**2:.6e}"
        )
    result = SolverResult(
        coef=coef.T * scale,
        intercept=intercept,
        n_iter=n_iter,
        converged=bool(np.all(met)),
        stalled=(stalled or gave_up) and not bool(np.all(met)),
        primal=primal64 * scale**2,
        gap=gap64,
        cg_iter=cg_iter,
        precision_limited=final and bool(ops.all(converged)) and not bool(np.all(met)),
        dual_coef=beta64,
        dual=dual64 * scale**2,
        column_iter=np.asarray(ops.convert_to_numpy(column_iter), dtype=np.int64),
        gap_floor=floor * scale**2,
    )
    result.gave_up = gave_up and not bool(np.all(met))
    return result


def _futile(worst_gaps):
    """Whether Newton looks futile, from its gaps so far (one per iteration).

    The last is at least :data:`_FUTILE_GAP` and more than half the one
    :data:`_FUTILE_ITER` iterations before it.
    """
    now, before = worst_gaps[-1], worst_gaps[-1 - _FUTILE_ITER]
    return now >= _FUTILE_GAP and now > 0.5 * before


def _gap_floor(design, sample_weight):
    """``_GAP_FLOOR * R^2 / 2``, ``R`` the largest norm of a row of positive weight.

    Times ``c_b^2``, the smallest magnitude the gap of a problem with an
    intercept cost is relative to: its optimum is at least ``-c_b^2 R^2 / 2``
    (``1/2 ||w||^2 - c_b rho >= 1/2 ||w||^2 - c_b ||w|| R``), and may be 0.
    One pass over the rows.
    """
    weighted = np.max(_per_column(sample_weight), axis=1) > 0
    largest = 0.0
    for start, stop, B in design.blocks():
        norms = ops.convert_to_numpy(ops.sum(ops.square(B), axis=1))
        norms = np.asarray(norms, dtype=np.float64)[weighted[start:stop]]
        if norms.size:
            largest = max(largest, float(np.max(norms)))
    return _GAP_FLOOR * largest / 2.0


def _intercept_damping(C, sample_weight):
    """The Newton model's damping of the intercept: ``_INTERCEPT_DAMPING``, or less.

    At most ``_DAMPING_FRACTION`` of ``C`` times the largest column sum of
    the weights, which bounds the intercept's curvature per unit of the
    loss's: where that is small (the one-class SVM's is ``1 / nu``), a
    damping of 1 would dominate it and shrink every intercept step (a linear
    one-class SVM on 10 features stalled at a gap of 3e-3).
    """
    column_sums = np.sum(_per_column(sample_weight), axis=0)
    total = C * float(np.max(column_sums, initial=0.0))
    return min(_INTERCEPT_DAMPING, max(_DAMPING_FRACTION * total, 1e-12))


def _continuation(C, sample_weight, design, tol):
    """The values of C solved in turn, each from the previous solution, and their tol.

    One stage when ``C`` is moderate. Otherwise a path growing tenfold, from
    the ``C`` at which a sample's curvature ``C s_i ||phi(x_i)||^2`` is about
    ``_CONTINUATION_FROM`` (mean weight, mean squared feature norm of the
    first block), each stage solved to ``_CONTINUATION_TOL`` and the last to
    ``tol``.
    """
    positive = sample_weight[sample_weight > 0]
    first = next(iter(design.blocks()), None)
    if first is None or not positive.size:
        return [(C, tol)]
    norm = float(np.mean(ops.convert_to_numpy(ops.sum(ops.square(first[2]), axis=1))))
    stiffness = C * float(np.mean(positive)) * norm
    if not _CONTINUATION_FROM < stiffness < math.inf:
        return [(C, tol)]  # (features beyond float32: the starting point's check says so)
    count = math.ceil(math.log10(stiffness / _CONTINUATION_FROM))
    path = [C * 10.0**-k for k in range(count, 0, -1)]
    return [(c, max(tol, _CONTINUATION_TOL)) for c in path] + [(C, tol)]
