"""Primal Newton solver for one-vs-rest SVMs, written with ``keras.ops``.

This is the only module that drives Keras computation for training. It knows
nothing of scikit-learn: it receives NumPy arrays and returns NumPy arrays.

The problem, for every column ``k`` of ``Y`` (one binary problem each)::

    P(w, b) = 1/2 ||w||^2 + C * sum_i s_i * loss(Y[i, k] * (w . phi(x_i) + b))

with ``loss`` the hinge ``max(0, 1 - m)`` or the squared hinge
``max(0, 1 - m)^2`` and the intercept ``b`` unpenalised.

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
  features (``_centered_diagonal``), and the Hessian of a sample of the rows,
  intercept included, on streamed ones (``_SampledHessian``));
* the step length is an exact line search on the piecewise-quadratic
  one-dimensional objective along ``phi(X) d``, which conjugate gradients'
  products give (one more pass after a direct solve);
* the squared hinge is piecewise quadratic and is solved directly. The hinge is
  not differentiable: it is approached through a Huber-smoothed hinge whose
  quadratic zone ``delta`` shrinks (continuation) while the iterate is already
  good for the current ``delta``.

Stopping criterion
------------------
Every iteration builds a feasible dual point from the current iterate:
``alpha_i = -C s_i loss'(m_i)`` (hinge: ``C s_i clip((1 - m_i)/delta, 0, 1)``;
squared hinge: ``2 C s_i max(0, 1 - m_i)``), rescaled on one side so that
``sum_i alpha_i y_i = 0`` (the dual constraint of the unpenalised intercept).
Its dual objective ``D(alpha)`` is a lower bound on the optimum ``P*``, and so
is the best one met so far; the relative duality gap
``(P(w, b) - max D(alpha)) / P(w, b)`` bounds the relative distance to the
optimum. A column is converged when this certified gap is at
most ``tol``.
"""

import math

import keras
import numpy as np
import scipy.linalg
from keras import ops

__all__ = ["RowBlocks", "SolverResult", "solve_ovr_svm"]

# Hessian damping of the (unpenalised) intercept in the Newton model only: it
# keeps the linear system definite when no sample is in a curved zone of the
# loss. The line search makes the step exact whatever the damping.
_INTERCEPT_DAMPING = 1.0
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
_DIRECT_MAX_ROWS = 2048
_CG_TYPICAL_ITER = 20
_INEXACT_STEPS = 2
# The Gram matrices of those rows are kept between Newton steps (and between
# the solves of a regularisation path on the same design): the curved zones
# change by a few percent of their rows from one step to the next, so a row's
# products serve several steps; _GRAM_REUSE of them are counted on. At most
# _GRAM_CACHE_BYTES in all, and at most _GRAM_MAX_ROWS rows per column.
_GRAM_REUSE = 4
_GRAM_CACHE_BYTES = 2**30
_GRAM_MAX_ROWS = 2 * _DIRECT_MAX_ROWS
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
_PRECOND_GRAM_BYTES = 2**28
# Conjugate gradients: relative residual reached per Newton step, and a cap.
_CG_FORCING = 0.1
_CG_MAX_ITER = 100
# Hinge continuation: initial width of the smoothed zone, shrink factor, floor.
_DELTA_START = 1.0
_DELTA_SHRINK = 0.1
_DELTA_MIN = 1e-8
# Stop when no column's gap nor primal has improved by _STALL_PROGRESS (relative)
# for _STALL_ITER iterations: the iterate no longer moves at float32 precision.
_STALL_ITER = 20
_STALL_PROGRESS = 0.01
# Line search: accept when |phi'(t)| <= _LS_TOL * |phi'(0)|.
_LS_TOL = 0.05
# ... and the objective at most this much (relative: float32 round-off) above its start.
_LS_ROUNDOFF = 1e-6
_LS_MAX_ITER = 60


def _data_layout():
    """The row layout of the global Keras distribution, and its number of shards.

    ``(None, 1)`` without a distribution (or with one that does not shard data).
    """
    distribution = keras.distribution.distribution()
    if distribution is None:
        return None, 1
    layout = distribution.get_data_layout((1, 1))
    mesh = layout.device_mesh
    if layout.axes[0] is None:
        return None, 1
    return layout, int(mesh.shape[list(mesh.axis_names).index(layout.axes[0])])


class RowBlocks:
    """A design matrix ``phi(X)`` as row blocks of Keras tensors.

    Parameters
    ----------
    X : ndarray or scipy sparse matrix of shape (n_samples, n_features)
        Input rows. Sparse matrices are densified one block at a time.
    transform : callable or None
        Maps a float32 tensor of input rows to their feature rows; ``None`` for
        the identity (linear SVM).
    n_outputs : int
        Number of columns of ``phi(X)``.
    batch_size : int
        Rows per block.
    cache_bytes : int
        The feature blocks are computed once and kept on the device when
        ``phi(X)`` takes at most this many bytes; otherwise every pass over the
        data recomputes them from ``X`` (bounded memory, more compute).

    Notes
    -----
    Under a global Keras distribution that shards data (for instance
    ``keras.distribution.set_distribution(keras.distribution.DataParallel())``
    on JAX), every block's rows are sharded over the devices of its mesh
    (``batch_size`` is rounded down to a multiple of their number; a shorter
    last block stays unsharded): the feature map and every product over the
    rows then run data-parallel, and the backend sums the partial results.
    """

    def __init__(self, X, transform, n_outputs, batch_size, cache_bytes):
        self._X = X
        self._transform = transform
        self.n_samples = X.shape[0]
        self.n_outputs = n_outputs
        self._layout, self._shards = _data_layout()
        batch_size = max(self._shards, batch_size - batch_size % self._shards)
        self._bounds = [
            (start, min(start + batch_size, self.n_samples))
            for start in range(0, self.n_samples, batch_size)
        ]
        self.cache_bytes = cache_bytes
        self._cache = None
        self._grams = {}
        if self.fits_in_cache(self.n_samples):
            self._cache = [self._compute(start, stop) for start, stop in self._bounds]

    def fits_in_cache(self, n_rows):
        """Whether ``n_rows`` rows of features may be kept on the device."""
        return n_rows * self.n_outputs * 4 <= self.cache_bytes

    def _compute(self, start, stop):
        rows = self._X[start:stop]
        if hasattr(rows, "toarray"):
            rows = rows.toarray()
        rows = ops.convert_to_tensor(np.asarray(rows, dtype=np.float32))
        if self._layout is not None and (stop - start) % self._shards == 0:
            rows = keras.distribution.distribute_tensor(rows, self._layout)
        return rows if self._transform is None else self._transform(rows)

    def blocks(self):
        """Yield ``(start, stop, block)`` over the rows of ``phi(X)``."""
        for i, (start, stop) in enumerate(self._bounds):
            block = self._cache[i] if self._cache is not None else self._compute(start, stop)
            yield start, stop, block

    @classmethod
    def from_blocks(cls, blocks, n_outputs):
        """A design whose (cached) row blocks are the given tensors."""
        design = cls.__new__(cls)
        design._X = design._transform = design._layout = None
        design.n_outputs = n_outputs
        design.cache_bytes = math.inf
        sizes = [int(B.shape[0]) for B in blocks]
        ends = np.cumsum(sizes)
        design.n_samples = int(ends[-1]) if sizes else 0
        design._bounds = [(int(e - n), int(e)) for e, n in zip(ends, sizes, strict=True)]
        design._cache = list(blocks)
        design._grams = {}
        return design

    def _gather(self, mask):
        """Yield, block by block, the rows where the boolean NumPy ``mask`` is true."""
        for start, stop, B in self.blocks():
            local = np.flatnonzero(mask[start:stop])
            if local.size:
                yield ops.take(B, ops.convert_to_tensor(local), axis=0)

    @property
    def streamed(self):
        """Whether every pass recomputes the features (they are not cached)."""
        return self._cache is None

    def subset(self, mask):
        """The rows where ``mask`` is true, as a cached design."""
        return RowBlocks.from_blocks(list(self._gather(mask)), self.n_outputs)

    def take_rows(self, mask):
        """The rows where ``mask`` is true, as one tensor."""
        parts = list(self._gather(mask))
        if not parts:
            return ops.zeros((0, self.n_outputs), dtype="float32")
        return ops.concatenate(parts, axis=0)

    def gram(self, rows, key):
        """``phi(X)[rows] @ phi(X)[rows].T`` as float32 NumPy, for sorted row indices.

        The products of the rows met before under the same ``key`` are kept
        (within ``_GRAM_CACHE_BYTES`` for all keys) and only those of new rows
        are computed.
        """
        known, where, G = self._grams.pop(key, (None, None, None))
        if known is not None:
            new = rows[where[rows] < 0]
            if known.size + new.size > _GRAM_MAX_ROWS:
                known = None  # start again from these rows
            elif new.size:
                both = self._rows_tensor(np.concatenate([known, new]))  # one pass
                old, fresh = both[: known.size], both[known.size :]
                cross = ops.convert_to_numpy(ops.matmul(fresh, ops.transpose(old)))
                inner = ops.convert_to_numpy(ops.matmul(fresh, ops.transpose(fresh)))
                G = np.block([[G, cross.T], [cross, inner]])
                where[new] = np.arange(known.size, known.size + new.size)
                known = np.concatenate([known, new])
        if known is None:
            known = rows
            A = self._rows_tensor(rows)
            G = ops.convert_to_numpy(ops.matmul(A, ops.transpose(A)))
            where = np.full(self.n_samples, -1, dtype=np.int32)
            where[rows] = np.arange(rows.size)
        used = sum(entry[1].nbytes + entry[2].nbytes for entry in self._grams.values())
        if used + where.nbytes + G.nbytes <= _GRAM_CACHE_BYTES:
            self._grams[key] = (known, where, G)
        positions = where[rows]
        return G[np.ix_(positions, positions)]

    def new_gram_rows(self, rows, key):
        """How many of ``rows`` :meth:`gram` would compute products for."""
        if key not in self._grams:
            return rows.size
        return int(np.count_nonzero(self._grams[key][1][rows] < 0))

    def _rows_tensor(self, rows):
        """``phi(X)[rows]`` as one tensor, in the order of ``rows`` (one pass)."""
        mask = np.zeros(self.n_samples, dtype=bool)
        mask[rows] = True
        taken = self.take_rows(mask)  # in increasing order of rows
        if np.all(rows[1:] > rows[:-1]):
            return taken
        return ops.take(taken, ops.convert_to_tensor(np.argsort(np.argsort(rows))), axis=0)

    def numpy(self):
        """``phi(X)`` as one float64 NumPy array (computed in float32)."""
        out = np.empty((self.n_samples, self.n_outputs))
        for start, stop, B in self.blocks():
            out[start:stop] = ops.convert_to_numpy(B)
        return out

    def matmul(self, V):
        """``phi(X) @ V`` for ``V`` of shape (n_outputs, K)."""
        return ops.concatenate([ops.matmul(B, V) for _, _, B in self.blocks()], axis=0)

    def matmul_rmatmul(self, V, offset, weigh):
        """``Z = phi(X) @ V + offset`` and ``phi(X).T @ weigh(start, stop, Z[start:stop])``.

        One pass over the blocks for both products (when the features are not
        cached, every pass recomputes them: this halves the cost of a Hessian
        product and of a gradient).
        """
        Z_parts = []
        total = None
        for start, stop, B in self.blocks():
            Zb = ops.matmul(B, V) + offset
            Z_parts.append(Zb)
            part = ops.transpose(ops.matmul(ops.transpose(weigh(start, stop, Zb)), B))
            total = part if total is None else total + part
        return ops.concatenate(Z_parts, axis=0), total

    def rmatmul(self, U, squared=False):
        """``phi(X).T @ U`` (or ``(phi(X) ** 2).T @ U``) for ``U`` of shape (n, K)."""
        total = None
        for start, stop, B in self.blocks():
            if squared:
                B = ops.square(B)
            # (U^T B)^T: transposing B would copy the whole block on some backends
            part = ops.transpose(ops.matmul(ops.transpose(U[start:stop]), B))
            total = part if total is None else total + part
        return total


class SolverResult:
    """Outcome of :func:`solve_ovr_svm`.

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
        Certified relative duality gap of each column.
    cg_iter : int
        The most conjugate-gradient iterations a Newton step needed (or the
        starting estimate), for ``cg_iter_init`` of a warm-started solve.
    """

    def __init__(self, coef, intercept, n_iter, converged, stalled, primal, gap, cg_iter):
        self.coef = coef
        self.intercept = intercept
        self.n_iter = n_iter
        self.converged = converged
        self.stalled = stalled
        self.primal = primal
        self.gap = gap
        self.cg_iter = cg_iter


def _colsum(A):
    return ops.sum(A, axis=0)


def _slope_and_curvature(loss, viol, delta):
    """``-loss'(m)`` and ``loss''(m)`` of the (smoothed) loss, given ``viol = max(0, 1 - m)``."""
    if loss == "squared_hinge":
        return 2.0 * viol, 2.0 * ops.cast(viol > 0, viol.dtype)
    in_zone = ops.logical_and(viol > 0, viol < delta)
    return ops.clip(viol / delta, 0.0, 1.0), ops.cast(in_zone, viol.dtype) / delta


def _smoothed_loss(loss, viol, delta):
    """The (smoothed) loss, given ``viol = max(0, 1 - m)``."""
    if loss == "squared_hinge":
        return ops.square(viol)
    return ops.where(viol < delta, ops.square(viol) / (2.0 * delta), viol - delta / 2.0)


class _Loss:
    """Per-sample quantities of the (smoothed) loss at margins ``M``."""

    def __init__(self, loss, M, s, C, delta):
        viol = ops.relu(1.0 - M)
        slope, curvature = _slope_and_curvature(loss, viol, delta)
        self.slope = slope
        self.curvature = C * s * curvature
        if loss == "squared_hinge":
            self.value = s * ops.square(viol)  # true = smoothed
            self.smooth_value = self.value
            # sum of alpha_i^2 / (4 C s_i) before the feasibility rescaling
            self.dual_penalty = C * s * ops.square(viol)
            self.smooth_penalty = None
        else:
            self.value = s * viol
            self.smooth_value = s * _smoothed_loss(loss, viol, delta)
            self.dual_penalty = None
            # sum of delta alpha_i^2 / (2 C s_i): smoothed dual minus true dual
            self.smooth_penalty = 0.5 * delta * C * s * ops.square(slope)
        self.alpha = C * s * self.slope


def _along_line(loss, M, z, s, C, delta, t, ww, wd, dd):
    """The (smoothed) objective at ``t`` along a direction, and its first two derivatives."""
    viol = ops.relu(1.0 - (M + t * z))
    slope, curv = _slope_and_curvature(loss, viol, delta)
    loss_sum = _colsum(s * _smoothed_loss(loss, viol, delta))
    value = 0.5 * (ww + t * (2.0 * wd + t * dd)) + C * loss_sum
    d1 = t * dd + wd - C * _colsum(s * slope * z)
    d2 = dd + C * _colsum(s * curv * ops.square(z))
    return value, d1, d2


def _line_search(loss, M, z, s, C, delta, W, dW):
    """Exact line search (to ``_LS_TOL``) of each column's convex 1-D objective.

    A step is accepted when the derivative has fallen to ``_LS_TOL`` of its
    value at 0 *and* the objective has not risen: the derivative alone can be
    small far past the minimum, where the objective grows slowly on a long
    scale (w8a standardised, values up to 64, hinge, C=1: the first step from
    0 was accepted at 100 times the starting objective).
    """
    ww = _colsum(ops.square(W))
    wd = _colsum(W * dW)
    dd = _colsum(ops.square(dW))
    zeros = ops.zeros_like(wd)
    f0, g0, _ = _along_line(loss, M, z, s, C, delta, zeros, ww, wd, dd)
    target = _LS_TOL * ops.abs(g0)
    ceiling = f0 + _LS_ROUNDOFF * ops.abs(f0)
    lo = zeros
    hi = ops.full_like(wd, math.inf)
    t = ops.ones_like(wd)
    for _ in range(_LS_MAX_ITER):
        f, g, h = _along_line(loss, M, z, s, C, delta, t, ww, wd, dd)
        done = ops.logical_and(ops.abs(g) <= target, f <= ceiling)
        if bool(ops.all(done)):
            return t
        lo = ops.where(ops.logical_and(g < 0, ops.logical_not(done)), t, lo)
        hi = ops.where(ops.logical_and(g >= 0, ops.logical_not(done)), t, hi)
        newton = t - g / ops.maximum(h, 1e-30)
        bounded = ops.isfinite(hi)
        inside = ops.logical_and(newton > lo, ops.logical_or(newton < hi, ops.logical_not(bounded)))
        fallback = ops.where(bounded, 0.5 * (lo + hi), 4.0 * ops.maximum(t, 1.0))
        t = ops.where(done, t, ops.where(inside, newton, fallback))
    # Not within tolerance: the left end of the bracket still decreases the objective.
    return ops.where(done, t, lo)


def _newton_direction(design, gW, gb, curv, intercept_mask, cg_iter):
    """Solve ``H d = -g`` for every column.

    ``H = diag(1, ..., 1, damping) + phi~^T diag(curv) phi~`` per column, with
    ``phi~ = [phi(X), 1]`` (the intercept's damping only when there is one).
    Columns whose curved zone (``curv > 0``) is small compared with the cost
    of ``cg_iter`` conjugate-gradient iterations are solved exactly
    (:func:`_direct_directions`); the others together by conjugate gradients.
    Returns ``dW, db``; when conjugate gradients ran on all rows for every
    column, ``phi(X) @ dW + db`` (else ``None``), which the line search needs
    and would otherwise cost a pass; and the number of conjugate-gradient
    iterations run (``None`` when none ran).
    """
    curv_host = ops.convert_to_numpy(curv)
    zone = curv_host > 0
    gW_host = ops.convert_to_numpy(gW).astype(np.float64)
    gb_host = ops.convert_to_numpy(gb).astype(np.float64)
    moving = gW_host.any(axis=0) | (gb_host != 0)  # converged columns are frozen at zero
    # The rule counts all n rows even when CG would run on fewer: CG needs far
    # more than _CG_TYPICAL_ITER iterations on a narrowly smoothed hinge, and
    # counting the subset sent those columns to CG (digits, hinge, C=10:
    # 64 -> 211 Newton steps).
    q = zone.sum(axis=0)
    D = design.n_outputs
    new_rows = np.array(
        [design.new_gram_rows(np.flatnonzero(column), k) for k, column in enumerate(zone.T)]
    )
    cg_flops = 2 * cg_iter * design.n_samples * D
    small = moving & (q <= _DIRECT_MAX_ROWS)
    direct = small & (q**3 / 3 + new_rows * q * D / _GRAM_REUSE < _INEXACT_STEPS * cg_flops)
    if (direct != moving).any():  # some column stays inexact: only the cheapest go direct
        direct = small & (q**2 * D <= cg_flops)
    # Hessian products only involve samples in the curved zone of a column that
    # conjugate gradients solve: when they are few, CG runs on those rows alone.
    curved_rows = zone[:, moving & ~direct].any(axis=1)
    n_curved = int(curved_rows.sum())
    cg_on_subset = n_curved < _CG_SUBSET_FRACTION * design.n_samples and design.fits_in_cache(
        n_curved
    )

    def cg(skip):
        if cg_on_subset:  # gathered only when conjugate gradients run
            rows = ops.convert_to_tensor(curv_host[curved_rows])
            subset = design.subset(curved_rows)
            dW, db, _, iterations = _cg_direction(subset, gW, gb, rows, intercept_mask, skip)
            return dW, db, None, iterations
        precondition = None
        if design.streamed:
            precondition = _SampledHessian(
                design, curv_host, curved_rows, skip, intercept=bool(intercept_mask)
            )
        return _cg_direction(design, gW, gb, curv, intercept_mask, skip, precondition)

    if not direct.any():
        return cg(skip=None)
    dW, db = _direct_directions(
        design, np.flatnonzero(direct), zone, curv_host, gW_host, gb_host, intercept_mask
    )
    dW = ops.convert_to_tensor(dW.astype(np.float32))
    db = ops.convert_to_tensor(db.astype(np.float32))
    if not (moving & ~direct).any():
        return dW, db, None, None
    skip = ops.convert_to_tensor(direct)
    cW, cb, _, iterations = cg(skip)
    return ops.where(skip, dW, cW), ops.where(skip, db, cb), None, iterations


def _direct_directions(design, columns, zone, curv, gW, gb, intercept_mask):
    """Exact Newton directions of ``columns`` by the Woodbury identity.

    Per column, with ``A = phi~[rows]`` the ``q`` rows of its curved zone and
    ``R = diag(1, ..., 1, damping)``,
    ``H^-1 = R^-1 - R^-1 A^T (diag(1/c) + A R^-1 A^T)^-1 A R^-1``: a ``q x q``
    system whose Gram matrix comes from :meth:`RowBlocks.gram`, solved in
    float64 on the host, where the small diagonal ``1/c`` of a narrow
    smoothing needs the precision. The products with ``phi(X)`` on either
    side are one pass each for all the columns. Returns ``dW, db`` (float64,
    zero outside ``columns``).
    """
    rho = _INTERCEPT_DAMPING
    dW = np.zeros_like(gW)
    db = np.zeros_like(gb)
    if columns.size == 0:
        return dW, db
    products = ops.convert_to_numpy(
        design.matmul(ops.convert_to_tensor(gW[:, columns].astype(np.float32)))
    )
    Y = np.zeros((design.n_samples, columns.size))
    for j, k in enumerate(columns):
        rows = np.flatnonzero(zone[:, k])
        if rows.size == 0:
            continue
        M = design.gram(rows, key=k).astype(np.float64) + np.diag(1.0 / curv[rows, k])
        rhs = products[rows, j].astype(np.float64)
        if intercept_mask:
            M += 1.0 / rho
            rhs += gb[k] / rho
        try:
            Y[rows, j] = scipy.linalg.cho_solve(_cho_factor(M), rhs, check_finite=False)
        except np.linalg.LinAlgError:
            Y[rows, j] = np.linalg.lstsq(M, rhs, rcond=None)[0]
    correction = ops.convert_to_numpy(design.rmatmul(ops.convert_to_tensor(Y.astype(np.float32))))
    dW[:, columns] = -(gW[:, columns] - correction)
    db[columns] = -(gb[columns] - Y.sum(axis=0)) / rho * intercept_mask
    return dW, db


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

    def __init__(self, design, curv_host, curved_rows, skip, intercept):
        D, K = design.n_outputs, curv_host.shape[1]
        skip_host = np.zeros(K, bool)
        if skip is not None:
            skip_host = ops.convert_to_numpy(skip)
        curved = np.flatnonzero(curved_rows)
        n = curved.size
        # The intercept's column, scaled so that R becomes the identity:
        # P = S (I + (n / m) A^^T diag(c) A^) S with A^ = A~ S, S = R^-1/2.
        self._scale = np.ones(D + 1 if intercept else D)
        if intercept:
            self._scale[D] = 1.0 / math.sqrt(_INTERCEPT_DAMPING)
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
            for k, gram in zip(columns, grams, strict=True):
                system = ops.convert_to_numpy(gram).astype(np.float64) + np.eye(width)
                self._factors[k] = (None, False, _cho_factor(system))
            return
        A = self._augment(design.take_rows(mask))
        for k in columns:
            c = weights[mask, k].astype(np.float64)
            rows = np.flatnonzero(c > 0)
            Ak = A if rows.size == m else ops.take(A, ops.convert_to_tensor(rows), axis=0)
            if rows.size < width:  # Woodbury: P^-1 r = r - Ak^T (diag(1/c) + Ak Ak^T)^-1 Ak r
                system = ops.convert_to_numpy(ops.matmul(Ak, ops.transpose(Ak)))
                system = system.astype(np.float64) + np.diag(1.0 / c[rows])
            else:  # I + Ak^T diag(c) Ak, summed over row blocks (no scaled copy of Ak)
                system = np.eye(width)
                ck = ops.convert_to_tensor(c[rows, None].astype(np.float32))
                for start in range(0, rows.size, _PRECOND_BLOCK_ROWS):
                    block = Ak[start : start + _PRECOND_BLOCK_ROWS]
                    weighted = block * ck[start : start + _PRECOND_BLOCK_ROWS]
                    system += ops.convert_to_numpy(ops.matmul(ops.transpose(block), weighted))
            self._factors[k] = (Ak, rows.size < width, _cho_factor(system))

    def _augment(self, rows):
        """``A^ = [A, 1 / sqrt(damping)]`` (``A`` alone without an intercept)."""
        if self._scale.size == rows.shape[1]:
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
                weighted = rows * ops.convert_to_tensor(w[:, k : k + 1].astype(np.float32))
                grams[j] = grams[j] + ops.matmul(ops.transpose(rows), weighted)
            pending.clear()

        for start, stop, B in design.blocks():
            local = np.flatnonzero(mask[start:stop])
            if local.size:
                pending.append(
                    (ops.take(B, ops.convert_to_tensor(local), axis=0), weights[start:stop][local])
                )
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
                Ar = ops.convert_to_numpy(
                    ops.matmul(Ak, ops.convert_to_tensor(r[:, None].astype(np.float32)))
                )[:, 0]
                y = scipy.linalg.cho_solve(factor, Ar.astype(np.float64), check_finite=False)
                correction = ops.convert_to_numpy(
                    ops.matmul(ops.convert_to_tensor(y[None, :].astype(np.float32)), Ak)
                )[0]
                z_host[:, k] = r - correction
            else:
                z_host[:, k] = scipy.linalg.cho_solve(factor, r, check_finite=False)
        z_host *= self._scale[:, None]
        zW = ops.convert_to_tensor(z_host[:D].astype(np.float32))
        if self._scale.size > D:
            return zW, ops.convert_to_tensor(z_host[D].astype(np.float32))
        return zW, ops.zeros_like(rb)  # no intercept: its residual is zero, and stays so


def _cho_factor(system):
    return scipy.linalg.cho_factor(system, lower=True, overwrite_a=True, check_finite=False)


def _centered_diagonal(design, curv, intercept_mask):
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
    s = _colsum(curv)
    h = design.rmatmul(curv)
    inv_s = 1.0 / ops.maximum(s, 1e-30)
    diag_W = 1.0 + ops.maximum(design.rmatmul(curv, squared=True) - ops.square(h) * inv_s, 0.0)
    h_scaled = h / diag_W
    # Sherman-Morrison: P^-1 r = Delta^-1 r - Delta^-1 v (v^T Delta^-1 r) / (s + v^T Delta^-1 v)
    denominator = s + _colsum(h * h_scaled)
    if intercept_mask:
        denominator = denominator + ops.square(s) / _INTERCEPT_DAMPING
    denominator = ops.maximum(denominator, 1e-30)

    def precondition(rW, rb):
        coef = _colsum(h_scaled * rW)
        if intercept_mask:
            coef = coef + s * rb / _INTERCEPT_DAMPING
        coef = coef / denominator
        zW = rW / diag_W - h_scaled * coef
        if not intercept_mask:  # no intercept: its residual is zero, and stays so
            return zW, ops.zeros_like(rb)
        return zW, (rb - s * coef) / _INTERCEPT_DAMPING

    return precondition


def _cg_direction(design, gW, gb, curv, intercept_mask, skip, precondition=None):
    """Newton directions by preconditioned conjugate gradients.

    Columns are solved together, each until its residual falls by
    ``_CG_FORCING``; columns in ``skip`` are left at zero. ``precondition``
    maps the residuals of the weights and of the intercept to their
    preconditioned values; by default :func:`_centered_diagonal`. Returns
    ``dW, db, phi(X) @ dW + db`` and the number of iterations run.
    """

    def hessp(vW, vb):
        Z, HvW = design.matmul_rmatmul(vW, vb, lambda start, stop, Zb: curv[start:stop] * Zb)
        return vW + HvW, (_colsum(curv * Z) + _INTERCEPT_DAMPING * vb) * intercept_mask, Z

    if precondition is None:
        precondition = _centered_diagonal(design, curv, intercept_mask)

    dW = ops.zeros_like(gW)
    db = ops.zeros_like(gb)
    Zd = 0.0  # phi(X) @ dW + db, summed from the products CG makes anyway
    rW, rb = -gW, -gb
    zW, zb = precondition(rW, rb)
    pW, pb = zW, zb
    rz = _colsum(rW * zW) + rb * zb
    r0 = ops.sqrt(_colsum(ops.square(rW)) + ops.square(rb))
    done = r0 <= 0
    if skip is not None:
        done = ops.logical_or(done, skip)
    iterations = 0
    while iterations < min(_CG_MAX_ITER, design.n_outputs + 1):
        iterations += 1
        HpW, Hpb, Zp = hessp(pW, pb)
        pHp = _colsum(pW * HpW) + pb * Hpb
        step = ops.where(ops.logical_or(done, pHp <= 0), 0.0, rz / ops.maximum(pHp, 1e-30))
        dW = dW + step * pW
        db = db + step * pb
        Zd = Zd + step * Zp
        rW = rW - step * HpW
        rb = rb - step * Hpb
        rnorm = ops.sqrt(_colsum(ops.square(rW)) + ops.square(rb))
        done = ops.logical_or(done, rnorm <= _CG_FORCING * r0)
        if bool(ops.all(done)):
            break
        zW, zb = precondition(rW, rb)
        rz_new = _colsum(rW * zW) + rb * zb
        beta = rz_new / ops.maximum(rz, 1e-30)
        pW = zW + beta * pW
        pb = zb + beta * pb
        rz = rz_new
    if isinstance(Zd, float):  # no iteration ran
        Zd = design.matmul(dW) + db
    return dW, db, Zd, iterations


def solve_ovr_svm(
    design,
    Y,
    sample_weight,
    *,
    C,
    loss,
    fit_intercept,
    tol,
    max_iter,
    verbose=0,
    coef_init=None,
    intercept_init=None,
    cg_iter_init=None,
):
    """Minimise the one-vs-rest SVM primal objective to a certified tolerance.

    Parameters
    ----------
    design : RowBlocks
        The feature matrix ``phi(X)``.
    Y : ndarray of shape (n_samples, K)
        Targets in {-1, +1}, one column per binary problem.
    sample_weight : ndarray of shape (n_samples,)
        Non-negative weights ``s_i`` (sample weight times class weight).
    C : float
        Inverse regularisation strength.
    loss : {"hinge", "squared_hinge"}
    fit_intercept : bool
        Whether to fit an unpenalised intercept per column.
    tol : float
        Target relative duality gap of every column.
    max_iter : int
        Maximum number of Newton iterations.
    verbose : int
        Print one line per iteration when positive.
    coef_init, intercept_init : ndarray or None
        Starting point (warm start); zeros by default.
    cg_iter_init : int or None
        Conjugate-gradient iterations a Newton step is expected to need
        (``SolverResult.cg_iter`` of a previous solve, for instance at a
        smaller ``C``); it decides which columns are solved directly until a
        step of this solve has measured it.

    Returns
    -------
    SolverResult
    """
    n, K = Y.shape
    D = design.n_outputs
    Yt = ops.convert_to_tensor(np.asarray(Y, dtype=np.float32))
    s = ops.convert_to_tensor(np.asarray(sample_weight, dtype=np.float32).reshape(n, 1))
    pos = ops.cast(Yt > 0, "float32")
    neg = 1.0 - pos
    if coef_init is None:
        W = ops.zeros((D, K), dtype="float32")
        b = ops.zeros((K,), dtype="float32")
    else:
        W = ops.convert_to_tensor(np.asarray(coef_init, dtype=np.float32).T)
        b = ops.convert_to_tensor(np.asarray(intercept_init, dtype=np.float32))
    delta = ops.full((K,), _DELTA_START, dtype="float32")
    # Every dual-feasible point bounds the optimum from below: keep the best.
    best_dual = ops.full((K,), -math.inf, dtype="float32")
    best_gap = ops.full((K,), math.inf, dtype="float32")
    best_primal = ops.full((K,), math.inf, dtype="float32")
    since_progress = 0
    intercept_mask = 1.0 if fit_intercept else 0.0
    # the most conjugate-gradient iterations a Newton step has needed
    cg_iter = _CG_TYPICAL_ITER if cg_iter_init is None else cg_iter_init

    def signed_alphas(start, stop, Zb):
        # Both halves of w(alpha) = phi^T (alpha * y), the positive and the
        # negative samples, so that either can be rescaled; alpha depends on
        # each row's own margin only, so they come in the same pass as Z.
        viol = ops.relu(1.0 - Yt[start:stop] * Zb)
        alpha = C * s[start:stop] * _slope_and_curvature(loss, viol, delta)[0]
        return ops.concatenate([alpha * pos[start:stop], alpha * neg[start:stop]], axis=1)

    n_iter = 0
    while True:
        Z, halves = design.matmul_rmatmul(W, b, signed_alphas)
        M = Yt * Z
        lq = _Loss(loss, M, s, C, delta)
        u_pos, u_neg = halves[:, :K], halves[:, K:]
        a_pos = _colsum(lq.alpha * pos)
        a_neg = _colsum(lq.alpha * neg)
        if fit_intercept:
            r_pos = ops.where(a_pos > a_neg, a_neg / ops.maximum(a_pos, 1e-30), 1.0)
            r_neg = ops.where(a_neg > a_pos, a_pos / ops.maximum(a_neg, 1e-30), 1.0)
        else:
            r_pos = r_neg = ops.ones_like(a_pos)
        u_feasible = r_pos * u_pos - r_neg * u_neg
        half_norm_w = 0.5 * _colsum(ops.square(W))
        primal = half_norm_w + C * _colsum(lq.value)
        dual = r_pos * a_pos + r_neg * a_neg - 0.5 * _colsum(ops.square(u_feasible))
        r2 = ops.square(r_pos) * pos + ops.square(r_neg) * neg
        if lq.dual_penalty is not None:
            dual = dual - _colsum(r2 * lq.dual_penalty)
        if n_iter == 0 and not bool(ops.all(ops.isfinite(primal))):
            raise ValueError(
                "The SVM objective is not finite in float32: the features or X hold values "
                "beyond float32's range (about 3.4e38); rescale X."
            )
        best_dual = ops.maximum(best_dual, dual)
        gap = (primal - best_dual) / ops.maximum(primal, 1e-30)
        converged = gap <= tol
        if loss == "hinge":
            smooth_primal = half_norm_w + C * _colsum(lq.smooth_value)
            smooth_dual = dual - _colsum(r2 * lq.smooth_penalty)
            smooth_gap = smooth_primal - smooth_dual
            # The iterate solves the smoothed problem much better than the
            # smoothing distorts the hinge: shrink the smoothing.
            shrink = ops.logical_and(
                smooth_gap <= 0.5 * ((primal - best_dual) - smooth_gap), ops.logical_not(converged)
            )
        if verbose > 0:
            print(
                f"[kernelsvm_keras] iter {n_iter:4d}  max rel. duality gap "
                f"{float(ops.max(gap)):.3e}  primal {float(ops.sum(primal)):.6e}"
            )
        # Progress: some unconverged column's best gap shrank by 1% or more
        # (float32 round-off alone makes new minima by tiny amounts forever).
        # The primal counts too: while the smoothing is wide, the hinge's dual
        # bound can lag far behind a primal that still falls fast.
        improved = ops.logical_or(
            gap < (1.0 - _STALL_PROGRESS) * best_gap,
            primal < (1.0 - _STALL_PROGRESS) * best_primal,
        )
        progress = bool(ops.any(ops.logical_and(improved, ops.logical_not(converged))))
        best_gap = ops.minimum(best_gap, gap)
        best_primal = ops.minimum(best_primal, primal)
        since_progress = 0 if progress else since_progress + 1
        stalled = since_progress >= _STALL_ITER
        if bool(ops.all(converged)) or n_iter >= max_iter or stalled:
            break
        n_iter += 1

        # Newton direction, frozen for converged columns.
        active = ops.cast(ops.logical_not(converged), "float32")
        gW = (W - (u_pos - u_neg)) * active
        gb = -(a_pos - a_neg) * active * intercept_mask
        dW, db, Zd, iterations = _newton_direction(
            design, gW, gb, lq.curvature, intercept_mask, cg_iter
        )
        cg_iter = cg_iter if iterations is None else max(cg_iter, iterations)

        z = Yt * (design.matmul(dW) + db if Zd is None else Zd)
        t = _line_search(loss, M, z, s, C, delta, W, dW)
        W = W + t * dW
        b = b + t * db
        if loss == "hinge":
            delta = ops.where(shrink, ops.maximum(delta * _DELTA_SHRINK, _DELTA_MIN), delta)

    return SolverResult(
        coef=np.asarray(ops.convert_to_numpy(ops.transpose(W)), dtype=np.float64),
        intercept=np.asarray(ops.convert_to_numpy(b), dtype=np.float64),
        n_iter=n_iter,
        converged=bool(ops.all(converged)),
        stalled=stalled and not bool(ops.all(converged)),
        primal=np.asarray(ops.convert_to_numpy(primal), dtype=np.float64),
        gap=np.asarray(ops.convert_to_numpy(gap), dtype=np.float64),
        cg_iter=cg_iter,
    )
