"""Small problems: the exact dual, solved by libsvm in float64.

The Newton solver of :mod:`kernelsvm_keras._solver` is built for many rows:
float32 products over row blocks, on a device. On a few thousand rows its
fixed costs dominate (every Newton step dispatches hundreds of Keras
operations), and at a large ``C`` float32 cannot resolve the margins at all
(a hard-margin problem of 100 rows stopped at a gap of 0.99 after 160 Newton
iterations). There the cheapest exact route is the dual on the features'
Gram matrix ``Q = phi(X) phi(X)^T``, in float64, by the solver ``SVC`` itself
uses: libsvm's SMO, as scikit-learn's ``SVC`` / ``SVR`` run it with
``kernel="precomputed"`` (:mod:`kernelsvm_keras._libsvm`: no new dependency,
and the same optimiser as the estimators we replace).

Above that size, a hinge problem whose support vectors are few still
takes the dual, on working sets of rows (:func:`solve_working_sets`, the
decomposition of Osuna et al.): libsvm on a set, one pass over all rows for
those outside it with a positive loss, a new set, until none is left.

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
float64 certificate of the Newton solver (:func:`~kernelsvm_keras._certificate._certify`)
then measures its duality gap. A problem libsvm does not serve (no
intercept, a column with one class, an intercept cost other than the
one-class SVM's) goes to Newton, and so does one whose certificate is above
``tol``.
"""

import contextlib
import os
import weakref
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numpy as np

from . import _libsvm
from ._blas import matmul
from ._certificate import _certify, _Intervals, _per_column, interior_fits
from ._solver import NewtonStart, SolverResult, _check_range, _gap_floor

__all__ = [
    "KernelPoint",
    "certified_point",
    "may_serve",
    "may_serve_working_sets",
    "remember",
    "serves",
    "serves_on_kernel",
    "serves_working_sets",
    "solve_dual",
    "solve_on_kernel",
    "solve_working_sets",
]

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
# The kernel SVM on its kernel itself (solve_on_kernel) where its columns' kernel
# matrices (rows^2 times the features of X, per column) cost at most as much.
_KERNEL_FLOPS = _MAX_GRAM_FLOPS
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
# ... but where the float64 finish (_certificate._finish_points) takes the column
# and costs less than those extra steps (this many of its iterations: the
# interior point took 36-54 on breast cancer's 569 rows at C=1e6-1e10), it
# takes over after _SMO_STEPS_PER_ROW steps per row: a linear hinge at C=1e6
# on 200 rows spent 1.0 s in libsvm's 1.65M steps, the finish 0.02 s.
_FINISH_ITERATIONS = 50
# Where libsvm runs out of steps at _SMO_TOL, it runs once more at this
# looser tolerance with a tenth of the steps, and the certificate judges
# its point. On a singular Q (more rows than features) SMO can reach 1e-5
# fast and then crawl: a working set of w8a's hinge (2,522 rows on 2,048
# landmarks) took 2,615 steps to 1e-5 and 1,318,976 to 1e-6, so the whole
# fit fell to Newton (26 s against 8 s; benchmarks/RESULTS.md, "SMO's
# tolerance on a singular Gram matrix"). A large C on data that is not
# separable runs out at both, paying a tenth more steps before Newton.
_SMO_LOOSE_TOL = 1e-2
_SMO_LOOSE_SHARE = 10
# A regression of at least _LOW_RANK_ROWS rows on few features (at most
# 1 / _LOW_RANK of its rows: a Gram matrix of low rank, on which SMO crawls)
# is left to Newton, whose exact Hessian steps are cheap there. KerasLinearSVR,
# C=1, this machine, the dual route against Newton alone: diabetes's 442 rows
# 0.01 s (converged in 14,443 steps) against 0.52 s; 1,000 rows 0.29 / 0.34 s
# and 0.82 / 0.75 s; 2,000 to 4,000 rows of 10 to 100 features ran to the step
# limit, 1.4-17.7 s against 0.2-0.9 s (benchmarks/RESULTS.md, "KerasLinearSVR
# on few features").
_LOW_RANK = 8
_LOW_RANK_ROWS = 2000
# Working sets (solve_working_sets): at most this many rounds (letter's 26
# one-vs-rest columns took 15; w8a's hinge 32, its outside loss 950 times
# the slack's tol for 18 rounds, then falling to below it in 12: at 30 rounds
# Newton took it again from zero, 60 s in all against 29 s), at least this
# many rows of each side of a column in the first set, and this many new
# rows for a set of fewer support vectors.
_WORKING_ROUNDS = 50
_SIDE_ROWS = 20
_WORKING_STEP = 100
# ... and a set keeps, beside its support vectors, this many of its other rows
# per new row, those nearest their margins (_by_margin). Dropped, they
# were the rows the next set's solution put outside (w8a's hinge: a first set
# of 2,500 rows held 227 support vectors, and the next, those and 227 new
# rows, left 35,856 of the 37,311 rows outside their margins; such swings
# took 20 rounds). Kept, their Gram matrix costs nothing new. The Gram
# matrices' multiply-adds, none kept -> a quarter -> half -> as many: w8a
# 13.9 -> 6.6 / 6.5 / 6.5 e10, letter's 26 columns 11.0 -> 6.0 / 6.3 / 6.7
# e10, MNIST's 10 24.2 -> 23.6 / 25.9 / 27.8 e10 (benchmarks/RESULTS.md,
# "Working sets that keep their rows near the margin").
_WORKING_NEAR = 0.25
# ... and every other row at its margin (within this times the column's largest
# prediction), up to _WORKING_GROWTH times the budget. At a large C many rows
# sit on their margins with beta_i = 0 (w8a's hinge at C=100 on 2,048 landmarks:
# 4,016 of 37,311 rows within a hundredth of theirs at the optimum, 1,674
# support vectors); dropped, the next set's solution put them outside again, and
# the sets swung between 3,200 and 3,800 rows until libsvm ran out of steps, and
# Newton took the problem: 86-93 s (SVC: 34 s). Kept, the sets ended at 6,023
# rows, and the fit took 14.4-14.7 s. Noisy rows (20,000 of make_classification,
# flip_y=0.1, C=10), whose sets fill with margin errors rather than margin rows,
# keep the budget: with every set allowed 1.6 times the rows they succeeded, in
# 20.5 s against Newton's 11.1 s (benchmarks/RESULTS.md, "The hinge at a large C
# on working sets that keep their margin rows").
_WORKING_BAND = 1e-2
_WORKING_GROWTH = 1.6
# ... and libsvm solves their sets to this times tol, not _SMO_TOL: the rows
# outside a set may add _WORKING_SLACK times tol, so a set's solution to a
# thousandth of tol is tighter than the fit needs. SMO's steps times rows at a
# tenth, against a thousandth: MNIST's hinge 4.5e9 -> 2.3e9, w8a 2.3e8 ->
# 1.3e8, letter 2.9e8 -> 1.8e8, certified gaps 4.4e-5 / 5.2e-6 / 8.5e-5 ->
# 6.4e-5 / 8.3e-5 / 8.7e-5 at tol 1e-3 (benchmarks/RESULTS.md, "Working sets
# that keep their rows near the margin").
_WORKING_SMO_TOL = 0.1
# ... and where libsvm runs out of steps there (a large C: on an ill-conditioned
# set SMO's steps grow about threefold for every threefold tighter tolerance),
# once more at this times tol with _WORKING_LOOSE_STEPS times the steps (twice
# fell short on a set of 2,636 rows of w8a given in float64), and
# every later set of that column at it, where the column's first set
# foretells at most 1 / _WORKING_LOOSE_SHARE of the budget in support vectors
# (_expected_support). One set of w8a's hinge at C=1000 (1,571 rows on 2,048
# landmarks) took 4.8M steps to a tenth of tol (14.9 s), 576k to tol, 89k to
# three times tol (0.37 s): the sets gave up there, and Newton took 140-162 s
# (SVC: 35 s). The certificate judges the point (Newton takes a column still
# above tol): at ten times tol w8a's sets ended at a gap of 1.36 times tol, at
# three times at 0.9 times. Where the support vectors are many (20,000 noisy
# make_classification rows, flip_y=0.1, at C=100 and 1000: 2,772 and 2,469
# foretold from the first set, against w8a's 1,153 of a budget of 5,000), the
# sets grow to the budget before they give up, and SMO's steps at large C with
# them: 30.2 -> 40.5 s and 58.6 -> 175.7 s (gap 35.7), so they keep the tenth
# (benchmarks/RESULTS.md, "The hinge at C=1000 on working sets").
_WORKING_LOOSE_TOL = 3.0
_WORKING_LOOSE_STEPS = 10
_WORKING_LOOSE_SHARE = 3
# ... and a loose column whose sets end above tol has its last set solved
# again on its float64 Gram matrix, at the tolerance that would bring its gap
# to this times tol (_Dual.polished): w8a's at C=1000 ended at 0.90, 0.96 and
# 1.13 times tol (three draws of landmarks).
_POLISH_TARGET = 0.3
# The squared losses take working sets too, on at most this many rows: their
# support vectors are the rows with a positive loss, a share of the rows that a
# first set foretells (_expected_support). The default KerasSVC (squared hinge,
# one-vs-rest), this machine, fit seconds, Newton against working sets (from a
# first set of half the budget; of an eighth, below): pendigits (7,494 rows)
# 2.6-3.0 -> 1.3-1.5, letter (15,000) 7.7-8.1 -> 6.5-6.8.
# Above, the sets often give up, and Newton then runs in the basis the sets
# took, not the one its preconditioner wants (MNIST, 60,000 rows on 4,096
# landmarks: 36.7 -> 52.5; a9a, 32,561 rows: 3.5 -> 3.7-4.1;
# benchmarks/RESULTS.md, "The squared hinge on working sets").
_WORKING_SQUARED_ROWS = 15000
# ... and on features at least this wide: on fewer, Newton's iterations are cheap
# (KerasLinearSVC on 10,000 rows of 20 / 300 features: 0.14 / 0.25 s, against
# 2.1 / 3.4 s on working sets).
_WORKING_SQUARED_WIDTH = 1024
# ... and their first set is this fraction of the budget, not half: where it
# foretells too many support vectors (at a small C most rows have a positive
# loss), giving up costs one small dual. Fit seconds, pendigits / letter at
# C = 1, 0.1, 0.01 (Newton alone: 2.7, 2.2, 1.7 / 7.7, 4.2, 2.7): a half 1.4,
# 2.9, 2.3 / 6.8, 5.6, 4.0; an eighth 1.4, 2.0, 1.7 / 7.5, 4.9, 2.8.
_WORKING_SQUARED_FIRST = 8
# ... and the Gram matrices kept for the next round take at most this many
# bytes (MNIST's sets on all 60,000 rows held at most 2,241 rows: 400 MB for
# its 10 columns at most; letter's 325 one-vs-one pairs, 3.4 GB): the others
# are computed in full again where their column needs another set.
_WORKING_BYTES = 2**30
# ... and the groups' own Gram blocks kept for the sets that hold them (_GroupGrams)
# take at most this many bytes (letter's 26 classes of 15,000 rows: 35 MB in float32).
_GROUP_BYTES = 2**28
# ... and a column's set is complete when the rows outside it add at most
# this fraction of tol to its objective.
_WORKING_SLACK = 0.1
# ... and one-vs-rest's sets (as many Gram matrices as columns, kept between rounds all
# the same) are formed in one batch of at most _WORKING_BYTES and solved side by side on
# scikit-learn's share of threads: MNIST's hinge 23.3 / 22.8 s -> 21.7 / 21.7 s, its peak
# memory 330 MB higher. One-vs-one's pairs stay on one thread: their solves are short
# (pendigits: 0.14 s of libsvm in 4.3 s), and on two threads its fit took 4.9 s with
# batches of two, 6.6-7.4 s with one batch (1.2 GB more); letter's one-vs-one likewise
# (benchmarks/RESULTS.md, "The hinge at a large C on working sets ...").
# The relative round-off of float32 products phi(X) @ coef, generously: 16
# float32 epsilons (w8a's 2,048 landmarks: 0.6e-6 at most, measured)
_FLOAT32_ROUNDING = 16 * float(np.finfo(np.float32).eps)
# The features (and Gram matrix) of each live design (see _features).
_GRAMS = weakref.WeakKeyDictionary()


def serves(design, lower, upper, sample_weight, fit_intercept, intercept_cost):
    """The form in which :func:`solve_dual` takes this problem, or ``None`` (see the module).

    ``"classification"``, ``"regression"`` or ``"one_class"`` (:func:`_form`),
    the ``form`` argument of :func:`solve_dual`. Every column must have at most
    ``_MAX_ROWS`` rows of positive weight (a one-vs-one pair its own rows,
    of a design that may be larger), the float64 features at most
    ``_MAX_BYTES``, and the Gram matrices at most ``_MAX_GRAM_FLOPS``
    multiply-adds in all; a regression on few features and many rows is
    not taken (``_LOW_RANK``).
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
    form = _form(lower, upper, weight, intercept_cost)
    if form == "regression" and rows.max() >= _LOW_RANK_ROWS and D * _LOW_RANK <= rows.max():
        return None  # a low-rank regression: Newton's (see _LOW_RANK)
    return form


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
            Q = matmul(part, part.T)
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
    finish=True,
):
    """Solve every column's dual with libsvm and certify the primal point in float64.

    Parameters are those of :func:`~kernelsvm_keras._solver.solve_svm` (the
    problem has an intercept; an intercept cost only in the one-class
    form), ``form`` as :func:`serves` returned it, and libsvm's ``shrinking``. libsvm stops at
    :data:`_SMO_STEPS_PER_ROW` steps per row, or :data:`_SMO_WORK` divided
    by the rows where that is more (``max_iter`` bounds the Newton
    iterations that may follow, not these). With ``finish``, a column whose
    certificate is above ``tol`` is solved again in float64 where its size
    allows (``finish`` of :func:`~kernelsvm_keras._certificate._certify`); the
    hard margin does without, since it reads libsvm's variables at their
    bounds, which an interior point never reaches exactly.

    Returns
    -------
    SolverResult or None
        ``None`` where the float64 features are not finite (the Newton
        solver then refuses the problem with its reason), and for the
        one-class form with a loss other than the hinge.
        ``n_iter`` is the largest number of libsvm iterations of a column (as
        ``SVC.n_iter_`` counts them); ``converged`` whether the float64
        certificate met ``tol`` (where it did not, libsvm stopped at its step
        limit, or at a large ``C`` neither it nor the finish certified).
    """
    n = lower.shape[0]
    _check_range(C, sample_weight, design.scale)  # the same range at every size
    if form == "one_class" and not loss.bounded:
        return None
    cached = _features(design)
    if cached["Phi"] is None:
        return None  # features beyond range: the Newton solver says what is wrong
    problem = _Dual(
        design, lower, upper, sample_weight, form, C, loss, tol, shrinking, intercept_cost, finish
    )
    K = lower.shape[1]
    beta, intercept, column_iter = np.zeros((n, K)), np.zeros(K), np.zeros(K, dtype=np.int64)

    rows_of = [np.flatnonzero(problem.weight[:, k] > 0) for k in range(K)]

    def tasks():
        for k, rows in enumerate(rows_of):
            # kept for the next column (its diagonal restored); None if not finite
            yield k, _gram(cached, rows), rows, None

    threads = _column_threads([rows.size for rows in rows_of])
    with contextlib.closing(_solved_columns(problem, tasks(), threads)) as solved:
        for k, rows, _, solution in solved:
            if solution is None:
                return None
            # (stopped at the step limit: the certificate says)
            beta[rows, k], intercept[k], column_iter[k], _ = solution
    coef = matmul(cached["Phi"].T, beta)
    what = f"exact dual (libsvm, float64) on {n} rows"
    n_iter = int(column_iter.max(initial=0))
    # With finish, a column above tol is solved again in float64 here, where
    # its size allows, rather than after Newton: libsvm stopped at its step
    # limit (a large C on data that is not separable: a linear hinge on 200
    # rows at C=1e6, 3.6 s with Newton first), or met its tolerance on a
    # kernel cache kept in float32 (libsvm's Qfloat), which at a large C
    # leaves the margins 1e-5 off
    return problem.certified(coef, intercept, beta, n_iter, what, report, column_iter)


class KernelPoint(NamedTuple):
    """:func:`solve_on_kernel`'s solution: each row's dual variable per column
    (``beta_i = y_i alpha_i``, shape (n_samples, K)), libsvm's intercepts, each
    column's steps, and the problem's form (:func:`serves_on_kernel`)."""

    beta: np.ndarray
    intercept: np.ndarray
    column_iter: np.ndarray
    form: str


def serves_on_kernel(X, lower, upper, sample_weight, loss, intercept_cost=0.0):
    """The form in which :func:`solve_on_kernel` takes this problem on ``X``, or ``None``.

    The hinge (the squared losses' dual shifts the diagonal of the Gram
    matrix: not a kernel) in a form libsvm serves (:func:`serves`' forms),
    whose columns' kernel matrices together (their rows squared times the
    features of ``X``) cost at most :data:`_KERNEL_FLOPS` multiply-adds.
    """
    if not loss.bounded:
        return None
    weight = np.broadcast_to(_per_column(sample_weight), lower.shape)
    rows = np.count_nonzero(weight > 0, axis=0).astype(np.float64)
    if np.sum(rows**2) * X.shape[1] > _KERNEL_FLOPS:
        return None
    return _form(lower, upper, weight, intercept_cost)


def solve_on_kernel(
    X,
    kernel,
    lower,
    upper,
    sample_weight,
    *,
    form,
    C,
    loss,
    tol,
    shrinking=True,
    intercept_cost=0.0,
    max_support,
):
    """The kernel SVM's dual on the kernel itself (libsvm, as ``SVC``), before any features.

    ``kernel`` holds libsvm's kernel parameters (``kernel``, ``gamma``,
    ``degree``, ``coef0``: a positive semi-definite kernel libsvm computes,
    ``"rbf"`` or ``"poly"``); ``form`` is that of :func:`serves_on_kernel`;
    the other parameters are those of :func:`solve_dual`, in the units of
    ``X`` (no design, no scale). The kernel SVM's solution is a sum of
    kernels over its support vectors, so a landmark map that holds them
    represents it exactly (:func:`certified_point` then certifies it on
    that map's features). On rows of few features a kernel entry costs a
    few multiply-adds, an entry of the features' Gram matrix one per
    landmark: pendigits' hinge (7,494 rows of 16 features, 2,048 landmarks),
    its ten one-vs-rest columns take 0.4 s here, against 2.8 s for working
    sets on a drawn map and a second fit on the support vectors they found.

    Gives up (``None``) where libsvm fails or runs out of steps on a
    column, or where the support vectors of the columns solved so far,
    taken :func:`_column_threads` at a time, outnumber ``max_support`` (the
    landmarks that would hold them). Returns the :class:`KernelPoint`
    otherwise.
    """
    _check_range(C, sample_weight, 1.0)  # the same range as every other route's
    n, K = lower.shape
    problem = _Dual(
        None,
        lower,
        upper,
        sample_weight,
        form,
        C,
        loss,
        tol,
        shrinking,
        intercept_cost,
        kernel=kernel,
    )
    rows_of = [np.flatnonzero(problem.weight[:, k] > 0) for k in range(K)]
    beta, intercept, column_iter = np.zeros((n, K)), np.zeros(K), np.zeros(K, dtype=np.int64)
    support = np.zeros(n, dtype=bool)
    threads = _column_threads([rows.size for rows in rows_of])

    def column(k):
        rows = rows_of[k]
        return problem.column(k, X if rows.size == n else X[rows], rows)

    with ThreadPoolExecutor(threads) if threads > 1 else contextlib.nullcontext() as pool:
        for first in range(0, K, threads):
            batch = range(first, min(first + threads, K))
            solutions = list(pool.map(column, batch) if pool else map(column, batch))
            for k, solution in zip(batch, solutions, strict=True):
                if solution is None or not solution[3]:
                    return None
                beta[rows_of[k], k], intercept[k], column_iter[k], _ = solution
            support |= np.any(beta[:, batch] != 0, axis=1)
            if np.count_nonzero(support) > max_support:
                return None
    return KernelPoint(beta, intercept, column_iter, form)


def certified_point(
    design,
    lower,
    upper,
    sample_weight,
    point,
    coef,
    *,
    C,
    loss,
    tol,
    report,
    shrinking=True,
    intercept_cost=0.0,
    model_pass=None,
):
    """:func:`solve_on_kernel`'s ``point``, certified in float64 on ``design``'s features.

    ``coef`` is ``w = phi(X)^T beta`` over the support vectors (in the
    design's units); where they are landmarks of the map, ``phi(x) . phi(z)
    = k(x, z)`` and the point is the kernel SVM's solution, its gap that of
    libsvm (up to the landmarks' eigenvalues the map drops). With the
    problem's float64 finish, as :func:`solve_dual`.

    ``model_pass(coef, beta)``, where given, is the certificate's first pass
    (:meth:`_Dual.exact_products`, in the design's units) on the fitted
    model's own float64 features, which a landmark map computes from the
    kernel block without the ``n x m x m`` projection of the design's. Where
    the point is within ``tol`` there, that is its certificate, and the
    result's ``model_certified`` says so; else it is certified on the
    design as without it (its finish, and its other dual points, read the
    design's features).

    Returns the :class:`~kernelsvm_keras._solver.SolverResult`.
    """
    problem = _Dual(
        design,
        lower,
        upper,
        sample_weight,
        point.form,
        C,
        loss,
        tol,
        shrinking,
        intercept_cost,
        finish=True,
    )
    beta = point.beta / problem.scale**2  # (the design's units: C / scale^2, as _Dual's)
    support = np.count_nonzero(np.any(beta != 0, axis=1))
    what = f"the kernel SVM on its kernel (libsvm, float64), {support} support vectors"
    n_iter = int(point.column_iter.max(initial=0))
    intercept = point.intercept.copy()
    if model_pass is not None:
        intervals = problem.intervals()
        best = intervals.feasible(beta)  # (the point _certify's first pass is of)
        Z, u = first_pass = model_pass(coef, best)
        primal = intervals.primal(Z + intercept, coef, intercept)
        gap = intervals.relative_gap(primal, intervals.dual(best, u))
        if np.all(gap <= tol):
            result = problem.certified(
                coef, intercept, beta, n_iter, what, report, point.column_iter, first_pass
            )
            result.model_certified = True
            return result
    return problem.certified(coef, intercept, beta, n_iter, what, report, point.column_iter)


def serves_working_sets(
    design, lower, upper, sample_weight, fit_intercept, intercept_cost, loss, rescue=False
):
    """The form of a problem too large for :func:`serves` that working sets may take.

    With an intercept, on more rows than :func:`serves` takes: the hinge, and
    the squared losses on at most :data:`_WORKING_SQUARED_ROWS` rows (the
    one-class SVM: the hinge only, as in :func:`solve_dual`); ``None``
    otherwise. See :func:`solve_working_sets`. With ``rescue``, the squared
    losses at any size and width: the second try of a problem on which
    Newton stalled at float32 precision (a large ``C``, where the support
    vectors are few).
    """
    n, width = design.n_samples, design.n_outputs
    if not may_serve_working_sets(n, width, fit_intercept, loss, any_size=rescue):
        return None
    weight = np.broadcast_to(_per_column(sample_weight), lower.shape)
    form = _form(lower, upper, weight, intercept_cost)
    return None if form == "one_class" and not loss.bounded else form


def may_serve_working_sets(n_samples, width, fit_intercept, loss, any_size=False):
    """Whether :func:`serves_working_sets` may take a problem of this size, before its features.

    Its tests but the form's, as :func:`may_serve` has those of :func:`serves`: what a
    landmark map's basis is chosen by (:meth:`~kernelsvm_keras._base._BaseSVM._map_for`).
    ``any_size`` lifts the squared losses' limits on the rows and the width.
    """
    squared = any_size or (n_samples <= _WORKING_SQUARED_ROWS and width >= _WORKING_SQUARED_WIDTH)
    return bool(
        fit_intercept
        and (loss.bounded or squared)
        and n_samples > _MAX_ROWS
        and _working_budget(width) >= 2
    )


def _working_budget(width):
    """The most rows of a working set: those :func:`serves` would take on this width."""
    return int(min(_MAX_ROWS, _MAX_BYTES // (8 * width), np.sqrt(_MAX_GRAM_FLOPS / width)))


def solve_working_sets(
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
    likely_support=None,
):
    """The exact dual of a large problem whose support vectors are few (chunking).

    The rows that are not support vectors at the optimum (``beta_i = 0``)
    can be left out of the dual without changing its solution: the solution
    on a working set of rows is the whole problem's when no row outside
    the set has a positive loss (Osuna, Freund and Girosi's decomposition).
    So libsvm solves each column on its own working set of at most
    :func:`_working_budget` rows, in float64 as :func:`solve_dual` does;
    one pass over all rows finds, for every column, the rows outside its set
    with a positive loss, and its next set is its support vectors and those
    rows (the largest losses first). When no column has such a row, the
    float64 certificate of the whole problem measures the point.

    The first set of every column is evenly spaced rows of positive weight
    (deterministic), half the budget (for the squared losses
    :data:`_WORKING_SQUARED_FIRST` of it; for the one-class SVM, at least rows
    whose boxes hold four times ``sum(beta) = c_b``), with both sides of the
    column (one Gram matrix where the columns share their rows, as one-vs-rest
    does); ``likely_support`` (rows, such as the support vectors of a fit of
    the same problem on other features) come first in it, and then its support
    vectors are not extrapolated. A set grows by at most as many rows as it has
    support vectors (:data:`_WORKING_STEP` at least), keeps a quarter as many
    of its other rows, those nearest their margins (:data:`_WORKING_NEAR` per
    new row), and every row on its margin up to :data:`_WORKING_GROWTH` times
    the budget (:func:`_kept_others`), and a column is done when the rows
    outside its set add at most :data:`_WORKING_SLACK` times ``tol`` to its
    objective. Working sets give
    up (``None``: Newton takes the problem) after :data:`_WORKING_ROUNDS`
    rounds, when libsvm runs out of steps on a set, when a column's support
    vectors fill the budget, when those of its first set foretell more on
    all its rows (:func:`_expected_support`; giving up then costs one small
    dual and no pass over the rows), or when a full set has more rows
    outside than it can take, no fewer than half as many as at its last
    round. The last two return a
    :class:`~kernelsvm_keras._solver.NewtonStart`, the sets' solutions so
    far, from which Newton starts. libsvm solves a set to
    :data:`_WORKING_SMO_TOL` times ``tol``. A round's columns without
    groups of rows (one-vs-rest) are solved side by side on
    :func:`_libsvm_threads`, their Gram matrices formed first.
    Parameters and result are those of :func:`solve_dual`; ``n_iter`` sums
    the rounds' largest libsvm iteration counts.
    """
    n, K = lower.shape
    _check_range(C, sample_weight, design.scale)  # (the same range at every size)
    problem = _Dual(
        design,
        lower,
        upper,
        sample_weight,
        form,
        C,
        loss,
        tol,
        shrinking,
        intercept_cost,
        smo_tol=_WORKING_SMO_TOL,
        loose_tol=_WORKING_LOOSE_TOL,
        loose_steps=_WORKING_LOOSE_STEPS,
    )
    problem.may_loosen[:] = False  # (decided on each column's first set)
    weighted = problem.weight > 0
    budget = _working_budget(design.n_outputs)
    size = budget // (2 if loss.bounded else _WORKING_SQUARED_FIRST)
    if form == "one_class":  # a set whose boxes hold four times sum(beta) = c_b
        box = problem.C * problem.weight[weighted[:, 0], 0]
        size = min(budget, max(size, int(np.ceil(4 * problem.cost / np.mean(box)))))
    first = [
        _first_working_set(lower[:, k], upper[:, k], weighted[:, k], size, likely_support)
        for k in range(K)
    ]
    for k in range(1, K):
        if np.array_equal(first[k], first[k - 1]):
            first[k] = first[k - 1]  # the same object: one Gram matrix for both
    sets = [_WorkingSet(rows) for rows in first]
    groups = _GroupGrams.of(weighted)
    columns_rows = np.count_nonzero(weighted, axis=0)
    beta, intercept, n_iter = np.zeros((n, K)), np.zeros(K), 0
    column_iter = np.zeros(K, dtype=np.int64)
    coef = np.zeros((design.n_outputs, K))
    pending = np.ones(K, dtype=bool)
    has_point = np.zeros(K, dtype=bool)  # the columns with a solution
    # the rows outside the sets, found by float32 products (w8a's hinge: 28
    # rounds of 0.10 s in float64, 0.02 s so) until float64 decides the end, in
    # the pass that begins the certificate (MNIST's hinge: 0.7 s a pass)
    first_pass = None
    last_outside = np.full(K, np.inf)

    def exact(V):
        nonlocal first_pass
        first_pass = problem.exact_products(V, beta)
        return first_pass[0]  # (read only, here and in the certificate)

    products = design.float32_products
    for round_ in range(_WORKING_ROUNDS):
        iterations = 0
        columns = np.flatnonzero(pending)
        # the sets' new rows projected in one product, where the design projects rows read
        design.read_ahead(np.concatenate([sets[k].rows for k in columns]))
        tasks = _working_set_tasks(design, sets, columns, groups)
        threads = 1 if groups is not None else _column_threads([sets[k].rows.size for k in columns])
        with contextlib.closing(_solved_columns(problem, tasks, threads, _WORKING_BYTES)) as solved:
            for k, rows, Phi, solution in solved:
                if solution is None:
                    return None
                beta[:, k] = 0.0
                beta[rows, k], intercept[k], its, converged = solution
                if not converged:
                    # libsvm ran out of steps on the set (a large C on data that is
                    # not separable): later sets hold this one's support vectors and
                    # more rows, and would run out too (8,000 rows at C=1e7: 30
                    # rounds of 2-13 s, each at its limit, before Newton)
                    return None
                iterations = max(iterations, its)
                column_iter[k] += its
                # w = Phi^T beta in float64, over the support vectors (Phi may be float32)
                nonzero = np.flatnonzero(beta[rows, k])
                coef[:, k] = matmul(
                    np.asarray(Phi[nonzero], dtype=np.float64).T, beta[rows[nonzero], k]
                )
                held = {id(w.Q): w.Q.nbytes for w in sets if w.Q is not None}  # shared: once
                if sum(held.values()) > _WORKING_BYTES or rows.size == columns_rows[k]:
                    # not kept: computed in full if the column needs another set, and
                    # a set of all its column's rows needs none (one-vs-one's pairs:
                    # letter's held 1 GB, each new one in memory touched for the first
                    # time, 12-25 ms a pair on this machine)
                    sets[k].Q = None
                has_point[k] = True
                support = np.count_nonzero(beta[rows, k])
                if support > budget:
                    return None  # more support vectors than a set takes
                if round_ == 0 and form != "one_class":
                    foretold = support  # (a seeded set is not a sample: it holds them)
                    if likely_support is None:
                        foretold = _expected_support(problem, k, rows, beta[rows, k])
                    if foretold > budget:
                        # foreseen from the first set, a sample of the rows, whose
                        # solution is then Newton's start (a9a's hinge: 10.4-10.9 s
                        # from zero, 7.3 s from there; _solver._DELTA_WARM)
                        return NewtonStart(coef.T * design.scale, intercept.copy(), has_point)
                    problem.may_loosen[k] = foretold <= budget / _WORKING_LOOSE_SHARE
        n_iter += iterations
        if all(work.rows.size == columns_rows[k] for k, work in enumerate(sets)):
            # no row outside any set (one-vs-one's pairs, each whole in its set):
            # nothing to look for, the certificate's pass is the only one (letter's
            # 325 pairs: a float32 and a float64 pass over 14,169 x 325 losses, 1.1 s)
            pending[:] = False
            first_pass = None  # (an earlier round's is not this point's)
        else:
            rounding = 0.0 if products is exact else _FLOAT32_ROUNDING
            Z = products(coef)
            losses, pending = _outside_losses(problem, sets, coef, intercept, Z, rounding)
            if not np.any(pending) and products is not exact:
                # float32 finds no column pending: float64 decides, now and in later rounds
                products = exact
                Z = products(coef)
                losses, pending = _outside_losses(problem, sets, coef, intercept, Z)
        for k in np.flatnonzero(~pending):
            sets[k].Q = None  # a column done stays done: its losses do not change
        if not np.any(pending):
            what = (
                f"exact dual (libsvm, float64) on working sets of {n} rows ({round_ + 1} "
                f"rounds, at most {max(work.rows.size for work in sets)} rows)"
            )
            result = problem.certified(
                coef, intercept, beta, n_iter, what, report, column_iter, first_pass
            )
            return problem.polished(result, sets, coef, intercept, beta, report)
        for k in np.flatnonzero(pending):
            rows = sets[k].rows
            held = beta[rows, k] != 0
            support = rows[held]
            outside = np.flatnonzero(losses[:, k] > 0)
            # at most as many new rows as support vectors (or _WORKING_STEP):
            # the largest losses of a poor solution are mostly not support
            # vectors of the next. Letter's hinge fit took 16.0 s with all of
            # them (up to the budget), 25.1 s keeping the whole set, 12.4 s so.
            room = min(budget - support.size, max(support.size, _WORKING_STEP))
            if room <= 0:
                return None  # a set of support vectors only, and rows still outside
            if rows.size >= budget and outside.size > room and 2 * outside.size > last_outside[k]:
                # a full set, and more rows outside than it can take, no fewer than
                # half as many as at its last round: later sets trade rows for rows.
                # Newton starts from the sets' solutions (20,000 noisy
                # make_classification rows at C=10: sets full from the fourth round,
                # 2,600 rows still outside at the 26th, where the support vectors
                # filled a set: 36.5 s in all; 14.5 s so). While they halve, the sets
                # go on: MNIST's hinge on 6,144 landmarks had a set at the budget (2,886)
                # with 1,036 rows outside, down from 3,977, and 96 a round later; the
                # sets then finished in 32 s, where Newton from the full set took 125 s
                # (benchmarks/RESULTS.md, "Full working sets that still shrink")
                return NewtonStart(coef.T * design.scale, intercept.copy(), has_point)
            last_outside[k] = outside.size
            taken = outside[np.argsort(-losses[outside, k], kind="stable")[:room]]
            others = rows[~held]
            predictions = Z[:, k] + intercept[k]
            scale = np.max(np.abs(predictions[weighted[:, k]]), initial=0.0)  # (its own rows)
            sizes = (support.size, taken.size, budget)
            near = _kept_others(problem, k, others, predictions[others], *sizes, scale)
            sets[k] = sets[k].moved_to(np.concatenate([support, near, taken]))
    return None


def _kept_others(problem, k, others, predictions, support, taken, budget, scale):
    """The rows of ``others`` that column ``k``'s next working set keeps, nearest their margins.

    ``others`` are the set's rows that are not support vectors, ``predictions``
    theirs; the next set holds ``support`` support vectors and ``taken`` new
    rows besides. It keeps :data:`_WORKING_NEAR` of them per new row within
    ``budget``, and every one at its margin (within :data:`_WORKING_BAND`
    times ``scale``, the largest prediction on the column's rows) up to
    :data:`_WORKING_GROWTH` times ``budget``.
    """
    nearest, inside = _by_margin(problem, k, others, predictions)
    count = min(int(_WORKING_NEAR * taken), budget - support - taken)
    at_margin = np.searchsorted(inside, _WORKING_BAND * scale, side="right")
    count = max(count, min(at_margin, int(_WORKING_GROWTH * budget) - support - taken))
    return nearest[: max(count, 0)]


def _by_margin(problem, k, rows, predictions):
    """``rows`` nearest their margins first, and how far inside their intervals they are.

    ``rows`` are column ``k``'s, inside their margins (no loss): the
    nearest are those whose prediction is closest to an end of their
    interval ``[lower, upper]`` (a class's margin, a regression's tube).
    """
    inside = np.minimum(predictions - problem.lower[rows, k], problem.upper[rows, k] - predictions)
    order = np.argsort(inside, kind="stable")
    return rows[order], inside[order]


def _working_set_tasks(design, sets, columns, groups=None):
    """The tasks of :func:`_solved_columns` for ``columns``' working sets, with their features.

    Each set's Gram matrix is formed when its task is drawn (between
    batches of solves); ``extra`` is the set's features (see
    :class:`_WorkingSet`).
    A column whose set has the previous column's rows (one-vs-rest's first
    sets) shares its Gram matrix; a first set made of whole ``groups``
    (:class:`_GroupGrams`: one-vs-one's pairs of classes) takes its Gram
    matrix from theirs. ``Q`` is ``None`` where the features or their
    products are beyond float64.
    """
    Phi = None
    for k in columns:
        work = sets[k]
        shared = k and work.rows is sets[k - 1].rows and sets[k - 1].Q is not None
        first = groups is not None and work.Q is None and work.moved_from() is None
        whole = groups.whole(work.rows) if first and not shared else None
        if shared and Phi is not None:
            work.Q = sets[k - 1].Q  # one Gram matrix for both
        elif whole is not None:
            work.rows, work.Q, Phi = groups.gram(design, whole)
        else:
            Phi = work.update(design)
        yield k, (None if Phi is None else work.Q), work.rows, Phi


class _GroupGrams:
    """Gram matrices of working sets made of whole groups of rows, from the groups' blocks.

    A row's group is the set of columns that weigh it: one-vs-one's classes
    (a class's rows are in the pairs of that class), where a pair's first
    working set holds both its classes whole when they fit. Its Gram matrix
    is then ``[[G_aa, G_ab], [G_ba, G_bb]]`` with ``G_ab = phi(X_a)
    phi(X_b)^T``: each class's own block is computed once and kept for the
    pairs that hold it (at most :data:`_GROUP_BYTES` of them), and only the
    cross block is a pair's own, a quarter of the products of its whole
    Gram matrix for classes of equal size.
    """

    def __init__(self, group_of, count):
        self.group_of = group_of
        order = np.argsort(group_of, kind="stable")
        bounds = np.searchsorted(group_of[order], np.arange(count + 1))
        self.rows = [order[bounds[g] : bounds[g + 1]] for g in range(count)]
        self.sizes = np.diff(bounds)
        self._own = {}

    @classmethod
    def of(cls, weighted):
        """The groups of ``weighted`` rows (``(n, K)`` booleans), or ``None`` where there are none.

        ``None`` where one group holds every row of positive weight
        (one-vs-rest and binary problems: every row is in every column).
        """
        # rows as bytes, 8 columns to a byte (np.unique(weighted, axis=0) sorted letter's
        # 15,000 rows of 325 columns in 0.61 s; these keys, in the same order, in 4 ms)
        packed = np.ascontiguousarray(np.packbits(weighted, axis=1))
        keys = packed.view(np.dtype((np.void, packed.shape[1]))).ravel()
        _, first, group_of = np.unique(keys, return_index=True, return_inverse=True)
        if np.count_nonzero(np.any(weighted[first], axis=1)) < 2:
            return None
        return cls(np.ravel(group_of), first.size)

    def whole(self, rows):
        """The groups whose rows ``rows`` (distinct) are, if they are all of them; else ``None``."""
        groups = np.unique(self.group_of[rows])
        return groups if np.sum(self.sizes[groups]) == rows.size else None

    def gram(self, design, groups):
        """``(rows, Q, Phi)`` of the set of ``groups``: its rows, group by group, their products.

        ``Phi`` is ``None`` (and ``Q`` not to be used) where the features or
        their products are not finite, as :meth:`_WorkingSet.update` says.
        """
        rows = np.concatenate([self.rows[g] for g in groups])
        Phi = design.working_rows(rows)
        edges = np.concatenate([[0], np.cumsum(self.sizes[groups])])
        Q = np.empty((rows.size, rows.size))
        with np.errstate(over="ignore", invalid="ignore"):
            for i, a in enumerate(groups):
                part = slice(edges[i], edges[i + 1])
                Q[part, part] = self._own_block(a, Phi[part])
                for j in range(i + 1, len(groups)):
                    other = slice(edges[j], edges[j + 1])
                    Q[part, other] = Phi[part] @ Phi[other].T
                    Q[other, part] = Q[part, other].T
        finite = np.all(np.isfinite(Phi)) and np.all(np.isfinite(Q))
        return rows, Q, Phi if finite else None

    def _own_block(self, group, Phi):
        block = self._own.get(group)
        if block is None:
            block = Phi @ Phi.T
            held = sum(kept.nbytes for kept in self._own.values())
            if held + block.nbytes <= _GROUP_BYTES:
                self._own[group] = block
        return block


def _outside_losses(problem, sets, coef, intercept, Z, rounding=0.0):
    """The losses of the rows outside each column's set, and the columns they keep pending.

    ``Z`` are the products ``phi(X) @ coef``, to ``rounding`` times their
    largest magnitude (per column); a smaller loss counts as none (a row on
    the margin, whose float32 loss rounds above zero, is not outside it). A
    column is done where the loss of the rows outside its set is a
    negligible part of its objective (the certificate counts it).
    """
    predictions = Z + intercept
    loss = problem.loss.value(predictions, problem.lower, problem.upper)
    if rounding:
        loss[loss <= rounding * np.max(np.abs(predictions), axis=0, initial=0.0)] = 0.0
    losses = np.where(problem.weight > 0, loss, 0.0)
    cost = problem.C * problem.weight
    objective = 0.5 * np.sum(coef**2, axis=0) + np.sum(cost * losses, axis=0)
    for k, work in enumerate(sets):
        losses[work.rows, k] = 0.0
    pending = np.sum(cost * losses, axis=0) > _WORKING_SLACK * problem.tol * objective
    return losses, pending


class _WorkingSet:
    """One column's working set: its rows and their float64 Gram matrix.

    :meth:`update` computes the Gram matrix, from the previous set's
    (:meth:`moved_to`) for the rows both hold: a set that gains a few rows
    costs their products only. The features are read again at every update
    (rows times width, against the Gram matrix's rows squared times width),
    so that a set keeps only its Gram matrix between rounds. They are the
    rows as the design holds them
    (:meth:`~kernelsvm_keras._design.RowBlocks.working_rows`: on landmarks,
    each row projected once), and their products are taken in that
    precision: float32 for the features a map computes, as libsvm's own
    kernel cache keeps them (its ``Qfloat``), at two and a half times
    float64's rate (MNIST's hinge: 27.6 / 26.8 s -> 24.9 / 24.1 s, letter's
    6.0 / 6.0 s -> 5.3 / 5.3 s). The float64 certificate judges the point on
    the exact features.
    """

    def __init__(self, rows):
        self.rows = rows
        self.Q = None
        self._previous = None

    def moved_to(self, rows):
        """The set of ``rows`` (distinct), computed from this one's products."""
        work = _WorkingSet(rows)
        work._previous = self
        return work

    def moved_from(self):
        """The set whose products :meth:`update` reuses (``None`` for a first set)."""
        return self._previous

    def update(self, design):
        """Compute the Gram matrix; returns the rows' features, or ``None`` if not finite.

        The rows are reordered: those of the previous set first.
        """
        old, self._previous = self._previous, None
        kept_at = np.zeros(0, dtype=np.intp)
        if old is not None and old.Q is not None:
            where = np.full(design.n_samples, -1, dtype=np.intp)
            where[old.rows] = np.arange(old.rows.size)
            positions = where[self.rows]
            kept_at = positions[positions >= 0]
            self.rows = np.concatenate([old.rows[kept_at], self.rows[positions < 0]])
        Phi = design.working_rows(self.rows)
        with np.errstate(over="ignore", invalid="ignore"):
            if kept_at.size:
                # written block by block into one array (np.block copied them
                # once more: 0.6 s of w8a's 6.8 s of working sets)
                k = kept_at.size
                kept, fresh = Phi[:k], Phi[k:]
                self.Q = np.empty((self.rows.size, self.rows.size))
                # rows, then columns: half the time of one np.ix_ gather (a
                # 900-row block of 1,100: 2.5 ms against 5.2 ms)
                self.Q[:k, :k] = old.Q.take(kept_at, axis=0).take(kept_at, axis=1)
                self.Q[k:, :k] = fresh @ kept.T
                self.Q[:k, k:] = self.Q[k:, :k].T
                self.Q[k:, k:] = fresh @ fresh.T
            else:
                self.Q = np.asarray(Phi @ Phi.T, dtype=np.float64)
        # (the kept block was checked when it was formed)
        k = kept_at.size
        finite = np.all(np.isfinite(Phi[k:])) and np.all(np.isfinite(self.Q[k:]))
        return Phi if finite else None


# libsvm's one-class start fills alpha up to nu sum(box) one box at a time;
# where nu is 1 up to round-off that can run past the last row (a heap
# overrun in scikit-learn's libsvm: a crash, or "not finite", at nu=1). Above
# 1 - this, every variable is at its bound (_full_box) and libsvm is not run.
_ONE_CLASS_FULL_BOX = 1e-9


def _full_box(Q, box, nu):
    """The one-class dual where its sum fills the boxes: ``beta = box min(nu, 1)``.

    The feasible set is then that point (within ``1e-9`` of it), whose
    intercept ``-rho`` takes the least ``rho`` of the optimum, the largest
    score ``(Q beta)_i``: every row is on or inside the boundary, where the
    primal no longer depends on ``rho``. Returns :meth:`_Dual.column`'s tuple.
    A set whose boxes hold less than ``sum(beta)`` (``nu`` above 1) gets
    every box full; the certificate then measures the point.
    """
    beta = box * min(nu, 1.0)
    return beta, -float(np.max(Q @ beta)), 0, True


#: Columns whose Gram matrices hold at most this many entries in all are solved
#: one after the other: starting threads costs more than they save. Median fits
#: of make_classification's 4 classes (one-vs-rest), two threads against one,
#: on this project's 2-core AMD EPYC (Zen 3): 200 rows (1.6e5 entries) 35 / 26
#: ms, 400 rows (6.4e5) 53 / 50 ms, 700 rows (2.0e6) 121 / 135 ms, 1,500 rows
#: (9.0e6) 363 / 420 ms; iris (6.8e4) 18.5 / 13 ms.
_THREADED_ENTRIES = 2**20


def _column_threads(sizes):
    """How many columns of these numbers of rows libsvm solves at once.

    :func:`_libsvm_threads`, at most one per column, and one where the
    columns are too small to pay for threads (:data:`_THREADED_ENTRIES`).
    """
    if sum(int(size) ** 2 for size in sizes) <= _THREADED_ENTRIES:
        return 1
    return min(_libsvm_threads(), len(sizes))


def _libsvm_threads():
    """How many columns libsvm solves at once: the threads scikit-learn's own loops take.

    libsvm releases the GIL while it solves, so columns run side by side
    on threads. Their number is the one scikit-learn gives its OpenMP
    loops: the cores, or fewer under ``OMP_NUM_THREADS`` (which joblib sets
    in its workers) or ``threadpoolctl.threadpool_limits``.
    """
    try:
        from sklearn.utils._openmp_helpers import _openmp_effective_n_threads
    except ImportError:  # (private: a later scikit-learn may move it)
        return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)
    return max(1, int(_openmp_effective_n_threads()))


def _solved_columns(problem, tasks, threads, batch_bytes=0):
    """libsvm on each task's column, ``threads`` at once; the solutions in task order.

    ``tasks`` yields ``(k, Q, rows, extra)``: column ``k`` on ``rows``, ``Q``
    their Gram matrix (``None``: a task that failed, passed on as it is),
    ``extra`` anything the caller wants back with the solution. Tasks are
    drawn ``threads`` at a time, or more while their Gram matrices hold at
    most ``batch_bytes`` (a caller that keeps them all the same: working
    sets), and their columns solved together (libsvm
    releases the GIL); the next tasks are drawn once those are done, so
    that forming a working set's Gram matrix (a BLAS product on every core)
    never competes with a solve for the cores (MNIST's hinge: the updates
    took 25.5 s beside the solves, 19.0-20.8 s between them). Tasks that
    follow on the batch's own ``Q`` with the same shift (one-vs-rest
    columns) join it, however many: the pool then gives each thread its
    next column as soon as it is free, rather than waiting for the
    slowest of each ``threads`` (digits' ten columns on two threads: 32-34
    ms against 36-43 ms). Yields ``(k, rows, extra, solution)``,
    ``solution`` that of :meth:`_Dual.column` (``None`` for a failed
    task). With one thread, each column is solved as it is drawn.

    A column solves on ``Q`` plus its :meth:`_Dual.diagonal_shift`, written
    into ``Q`` for its batch and removed after. Columns that share a ``Q``
    share it where their shifts agree (one-vs-rest without class weights);
    a column with another shift starts the next batch. Closing the
    generator early waits for the solves in flight and restores every
    diagonal.
    """
    batch = []
    shifted = {}  # id(Q): [Q, its diagonal before, the shift]
    pool = ThreadPoolExecutor(threads) if threads > 1 else None

    def solved():
        """Solve the batch; restore the diagonals; its results, in order."""
        if pool is None:
            solutions = [problem.column(k, Q, rows) for k, Q, rows, _ in batch]
        else:
            jobs = [pool.submit(problem.column, k, Q, rows) for k, Q, rows, _ in batch]
            solutions = [job.result() for job in jobs]
        done = zip(batch, solutions, strict=True)
        results = [(k, rows, extra, x) for (k, _, rows, extra), x in done]
        batch.clear()
        for Q, diagonal, _ in shifted.values():
            Q[np.diag_indices_from(Q)] = diagonal
        shifted.clear()
        return results

    try:
        for k, Q, rows, extra in tasks:
            if Q is None:
                yield from solved()
                yield k, rows, extra, None
                continue
            shift = problem.diagonal_shift(k, rows)
            joins = id(Q) in shifted and np.array_equal(shifted[id(Q)][2], shift)
            held = sum(kept.nbytes for kept, _, _ in shifted.values()) + Q.nbytes
            full = len(batch) >= threads and (pool is None or held > batch_bytes)
            if not joins and (id(Q) in shifted or full):
                yield from solved()  # Q's other shift, or a full batch, first
            if id(Q) not in shifted:
                shifted[id(Q)] = [Q, Q.diagonal().copy(), shift]
                Q[np.diag_indices_from(Q)] += shift
            batch.append((k, Q, rows, extra))
            if pool is None:
                yield from solved()
        yield from solved()
    finally:
        if pool is not None:
            pool.shutdown(wait=True)  # (the solves of a batch that raised)
        for Q, diagonal, _ in shifted.values():
            Q[np.diag_indices_from(Q)] = diagonal


def _expected_support(problem, k, rows, beta):
    """The support vectors column ``k`` may have on all its rows, from those on ``rows``.

    The first set is a sample of the rows. Its support vectors at the bound
    of their box (margin errors) are a share of the rows that more rows do
    not change (noisy data: a9a, 870 of 1,049 on 2,500 of its 32,561
    rows), the free ones grow more slowly (MNIST at C=10 on 4,096 landmarks:
    at most 24 of 298 on 1,767 rows; on all 60,000 rows no set needed more
    than 2,241 rows); so the first count scales with the rows, the second
    with their square root. A squared loss's support vectors are the rows
    of a positive loss, ``y f(x) < 1``, none on the margin: a share of the
    rows, which scales with them. The one-class SVM's count (about ``nu n``)
    is not a sample's share.
    """
    share = np.count_nonzero(problem.weight[:, k] > 0) / rows.size
    if not problem.loss.bounded:
        return np.count_nonzero(beta) * share
    box = problem.C * problem.weight[rows, k]
    bound = np.count_nonzero(np.abs(beta) >= box * (1 - 1e-6))
    free = np.count_nonzero(beta) - bound
    return bound * share + free * np.sqrt(share)


def _first_working_set(lower, upper, weighted, size, likely=None):
    """``size`` rows of ``weighted`` (one column): ``likely`` ones, then evenly spaced ones.

    The rows of ``likely`` (if given) of positive weight come first, at
    most ``size``; evenly spaced rows make up the rest. Where they hold no
    row of a side (a finite lower, or upper, bound) that the column has,
    :data:`_SIDE_ROWS` evenly spaced rows of it are added: every binary
    problem then has both classes.
    """
    candidates = np.flatnonzero(weighted)
    chosen = np.zeros(lower.shape[0], dtype=bool)
    if likely is not None:
        likely = np.asarray(likely, dtype=np.intp)
        chosen[likely[weighted[likely]][:size]] = True
    spaced = np.linspace(0, candidates.size - 1, min(size - int(chosen.sum()), candidates.size))
    chosen[candidates[spaced.astype(int)]] = True
    for bound in (np.isfinite(lower), np.isfinite(upper)):
        side = np.flatnonzero(bound & weighted)
        if side.size < candidates.size and not chosen[side].any():
            spaced = np.linspace(0, side.size - 1, min(_SIDE_ROWS, side.size))
            chosen[side[spaced.astype(int)]] = True
    return np.flatnonzero(chosen)


class _Dual:
    """One problem for libsvm: its columns on sets of rows, then its float64 certificate."""

    def __init__(
        self,
        design,
        lower,
        upper,
        sample_weight,
        form,
        C,
        loss,
        tol,
        shrinking,
        intercept_cost,
        finish=False,
        smo_tol=None,
        loose_tol=None,
        loose_steps=1 / _SMO_LOOSE_SHARE,
        kernel=None,
    ):
        n, K = lower.shape
        # libsvm's kernel: the Gram matrices the columns are given, or (a problem
        # without a design, solve_on_kernel) the kernel itself on the rows given
        self.kernel = {"kernel": "precomputed"} if kernel is None else dict(kernel)
        self.finish = finish
        self.smo_tol = _SMO_TOL if smo_tol is None else smo_tol
        self.loose_tol = _SMO_LOOSE_TOL if loose_tol is None else loose_tol
        self.loose_steps = loose_steps
        # the columns that may run at loose_tol (working sets: see may_loosen), and
        # those whose libsvm ran out of steps at smo_tol (later calls start loose)
        self.may_loosen = np.ones(K, dtype=bool)
        self.loose = np.zeros(K, dtype=bool)
        # a column's tolerance for its last set once loose, where nonzero (polished)
        self.polish = np.zeros(K)
        self.design, self.lower, self.upper = design, lower, upper
        self.sample_weight = sample_weight
        self.form, self.loss, self.tol, self.shrinking = form, loss, tol, shrinking
        self.scale = 1.0 if design is None else design.scale
        self.C = C / self.scale**2
        self.cost = intercept_cost / self.scale**2
        self.weight = np.broadcast_to(_per_column(sample_weight), (n, K))
        self._intervals = None

    def diagonal_shift(self, k, rows):
        """What column ``k``'s loss adds to the diagonal of its rows' Gram matrix.

        Zero for the hinge; ``1 / (2 C s_i)`` for the squared losses (see the module).
        """
        return self.loss.free_diagonal(self.C * self.weight[rows, k])

    def finished_cheaply(self, n):
        """Whether the float64 finish takes ``n`` rows for less than libsvm's extra steps.

        Where the certificate runs the finish (``finish``), in
        :data:`_FINISH_ITERATIONS` iterations of at most :data:`_SMO_WORK`
        multiply-adds in all (the hinge's interior point takes a regression's
        rows twice).
        """
        if not self.finish or self.design is None:
            return False
        rows = 2 * n if self.loss.bounded and self.form == "regression" else n
        fits, work, _ = interior_fits(rows, self.design.n_outputs, 1)
        return fits and _FINISH_ITERATIONS * work <= _SMO_WORK

    def column(self, k, Q, rows):
        """libsvm on column ``k``'s ``rows`` (of positive weight).

        ``Q`` is their Gram matrix with :meth:`diagonal_shift` added, read
        only (:func:`_solved_columns` adds and removes the shift), or, where
        the problem has a ``kernel`` (:func:`solve_on_kernel`), the rows
        themselves. libsvm
        takes :data:`_SMO_STEPS_PER_ROW` steps per row, or up to
        :data:`_SMO_WORK` multiply-adds where the float64 finish would cost
        more (:meth:`finished_cheaply`). It
        runs at ``smo_tol`` times ``tol`` (:data:`_SMO_TOL`, or
        :data:`_WORKING_SMO_TOL` on working sets), and where it runs out of
        steps once more at ``loose_tol`` times ``tol`` with ``loose_steps``
        times the steps (:data:`_SMO_LOOSE_TOL` with a tenth, or
        :data:`_WORKING_LOOSE_TOL` with :data:`_WORKING_LOOSE_STEPS` times
        on working sets), if that is looser (see the constants) and
        ``may_loosen[k]``; the column's later calls then start there
        (``loose[k]``). Where ``polish[k]`` is set, one run at that
        tolerance with ``loose_steps`` times the steps (:meth:`polished`).
        Returns ``(beta, intercept, n_iter, solved)``, ``beta`` on ``rows``
        (``None`` where libsvm fails: the problem is declined);
        ``n_iter`` counts the steps of every run; ``solved`` is false where
        libsvm stopped at its step limit at every tolerance. Safe to run on
        several threads at once (libsvm releases the GIL).
        """
        lower, upper = self.lower[rows, k], self.upper[rows, k]
        box = self.C * self.weight[rows, k]
        n = rows.size
        limit = _SMO_STEPS_PER_ROW * n
        if not self.finished_cheaply(n):
            limit = max(limit, _SMO_WORK // max(n, 1))
        y, nu, epsilon = None, 0.5, 0.1
        if self.form == "classification":
            y = np.where(np.isfinite(lower), 1.0, -1.0)
        elif self.form == "one_class":  # sum(alpha) = nu sum(box) = c_b
            nu = self.cost / np.sum(box)
            if nu > 1.0 - _ONE_CLASS_FULL_BOX:
                # (on the kernel itself, declined: the Gram matrix's route takes it)
                return _full_box(Q, box, nu) if self.kernel["kernel"] == "precomputed" else None
        else:
            epsilon = float(np.mean(upper - lower)) / 2.0
            y = (lower + upper) / 2.0
        n_iter = 0
        runs = [(self.smo_tol, limit)]
        if self.polish[k]:
            runs = [(self.polish[k], max(int(limit * self.loose_steps), 1))]
        elif self.loose_tol > self.smo_tol and self.may_loosen[k]:
            loose = (self.loose_tol, max(int(limit * self.loose_steps), 1))
            runs = [loose] if self.loose[k] else [*runs, loose]
        weights = _box(self.loss, box, lower, upper)
        # Q was checked finite once (_gram, _WorkingSet.update), not at every column
        for tolerance, steps in runs:
            try:
                support, dual_coef, intercept, its = _libsvm.solve(
                    self.form,
                    Q,
                    y,
                    weights,
                    self.kernel,
                    C=1.0,
                    nu=nu,
                    epsilon=epsilon,
                    tol=tolerance * self.tol,
                    max_iter=int(steps),
                    shrinking=self.shrinking,
                )
            except ValueError:
                # libsvm's own failure on a finite Q: its kernel cache is float32, and
                # a Q beyond that range (the squared hinge's 1 / (2 C s) at a tiny C
                # times the features' scale) ends in "not finite" coefficients. The
                # column is declined: the Newton solver takes the problem.
                return None
            n_iter += its
            if its < steps:
                break
            # out of steps where a looser run follows: the column's later solves start there
            self.loose[k] |= len(runs) > 1
        beta = np.zeros(n)
        beta[support] = dual_coef
        return beta, intercept, n_iter, its < steps

    def polished(self, result, sets, coef, intercept, beta, report):
        """``result`` of the working sets, with loose columns above ``tol`` solved again in float64.

        A column that ran at ``loose_tol`` (``loose``: a large ``C``) may end
        above ``tol``, and a tighter tolerance alone does not help: the sets'
        Gram matrices are float32 products, whose round-off, times ``C``
        squared in ``beta^T Q beta``, is then of the order of ``tol`` (w8a's
        hinge at C=1000 ended at 0.90 to 1.13 times tol, and its last set
        solved again at 0.8 times tol on the same matrix left 1.16). So its
        last set, to which no row outside adds, is solved once more on its
        float64 Gram matrix, at the tolerance that would bring its gap to
        :data:`_POLISH_TARGET` times ``tol`` were the gap in proportion to
        the tolerance (not tighter than ``smo_tol``), and the point is
        certified again. Where libsvm runs out of steps there, or the gap
        stays above ``tol``, the result with the lower gap says so, and Newton
        takes the problem. ``coef``, ``intercept`` and ``beta`` are the sets'
        point (``result``'s), left as they are.
        """
        over = np.flatnonzero(self.loose & (result.gap > self.tol))
        if not over.size:
            return result
        coef, intercept, beta = coef.copy(), intercept.copy(), beta.copy()
        self.polish[over] = np.maximum(
            self.smo_tol, self.loose_tol * _POLISH_TARGET * self.tol / result.gap[over]
        )

        def tasks():
            for k in over:
                rows = np.sort(sets[k].rows)
                Phi = self.design.exact_rows(rows)
                yield k, matmul(Phi, Phi.T), rows, Phi

        column_iter = result.column_iter.copy()
        threads = _column_threads([sets[k].rows.size for k in over])
        with contextlib.closing(_solved_columns(self, tasks(), threads)) as solved:
            for k, rows, Phi, solution in solved:
                if solution is None or not solution[3]:
                    return result  # (above tol: Newton takes it)
                beta[:, k] = 0.0
                beta[rows, k], intercept[k] = solution[0], solution[1]
                nonzero = np.flatnonzero(beta[rows, k])
                coef[:, k] = matmul(Phi[nonzero].T, beta[rows[nonzero], k])
                column_iter[k] += solution[2]
        what = (
            f"the loose columns' last sets in float64 (libsvm at "
            f"{self.polish[over].min():.2g} times tol)"
        )
        again = self.certified(coef, intercept, beta, result.n_iter, what, report, column_iter)
        return again if again.gap.max() <= result.gap.max() else result

    def intervals(self):
        """The problem as the certificate sees it (``kernelsvm_keras._certificate._Intervals``).

        Formed once: with an intercept cost its floor takes a pass over the rows.
        """
        if self._intervals is None:
            cost = self.cost
            floor = _gap_floor(self.design, self.sample_weight) * cost**2 if cost else 0.0
            self._intervals = _Intervals(
                self.lower, self.upper, self.sample_weight, self.C, self.loss, True, cost, floor
            )
        return self._intervals

    def exact_products(self, coef, beta):
        """The float64 pass that begins the certificate of ``(coef, beta)``: ``first_pass``.

        ``phi(X) @ coef`` and ``phi(X)^T`` times the feasible point of ``beta``
        (:func:`~kernelsvm_keras._certificate._certify`'s first pass), so that a
        point the caller certifies next needs no pass of its own.
        """
        best = self.intervals().feasible(np.asarray(beta, dtype=np.float64))
        return self.design.exact_products(coef, best)

    def certified(
        self, coef, intercept, beta, n_iter, what, report, column_iter=None, first_pass=None
    ):
        """The :class:`~kernelsvm_keras._solver.SolverResult` of the point, certified in float64.

        ``n_iter`` is reported; ``column_iter`` are each column's iterations;
        ``first_pass`` is :meth:`exact_products` of the point where the caller
        has it. With the problem's ``finish``, a column above ``tol`` is
        solved again in float64 where it fits (``finish`` of
        :func:`~kernelsvm_keras._certificate._certify`).
        """
        design, scale = self.design, self.scale
        problem = self.intervals()
        primal, gap, beta, dual = _certify(
            design,
            problem,
            coef,
            intercept,
            beta,
            self.tol,
            finish=self.finish,
            first_pass=first_pass,
        )
        report.line(
            f"{what}: {n_iter} iterations; certified gap {gap.max():.2e} (tol {self.tol:.0e}), "
            f"objective {np.sum(primal) * scale**2:.6e}"
        )
        return SolverResult(
            coef=coef.T * scale,
            intercept=intercept,
            n_iter=n_iter,
            converged=bool(np.all(gap <= self.tol)),
            stalled=False,
            primal=primal * scale**2,
            gap=gap,
            cg_iter=None,
            dual_coef=beta,
            dual=dual * scale**2,
            gap_floor=problem.floor * scale**2,
            column_iter=column_iter,
        )
