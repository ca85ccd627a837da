"""Averaged stochastic gradient descent on the SVM objective of any interval loss.

The solver of ``partial_fit``: it sees each row once per call and keeps no
memory of past rows, so it cannot certify an optimum the way
:func:`~kernelsvm_keras._solver.solve_svm` does; it approaches it over
passes. Like ``_solver``, it knows nothing of scikit-learn: NumPy in, NumPy
out, ``keras.ops`` in between.

The objective is the one of ``fit`` divided by ``C n`` (same minimiser), for
every column ``k``::

    F(w, b) = lam / 2 ||w||^2 + lam c_b b + 1/n sum_i s_i loss(w . phi(x_i) + b; l_ik, u_ik),
    lam = 1 / (C n)

with the loss objects of :mod:`kernelsvm_keras._loss`.

Method: preconditioned averaged SGD. Mini-batches of ``_BATCH_ROWS`` rows;
the step is ``-eta_t P^-1 g`` with ``g`` the mini-batch gradient and
``P = c S + (lam + ridge) I``, ``S`` the second moment of the features of every
row seen so far (``c`` the loss's ``curvature_bound``: 2 for the squared
hinge, whose curvature is then bounded by ``P``; 1 for the hinge): random
features have a spectrum spread over orders of magnitude, and plain SGD
crawls along its small directions
(digits, 1024 features, 5 passes: 98.1% against ``fit``'s 99.1%; with ``P``:
98.9% after 2 passes). ``eta_t = _STEP0 / (1 + lam _STEP0 t) ** 0.75`` (Xu,
2011, "Towards optimal one pass large scale learning with averaged stochastic
gradient descent"); the returned model is the polynomial-decay average of the
iterates (Shamir and Zhang, 2013), which forgets the early, far-off iterates.
The state keeps ``S`` (``D x D``, including each chunk before its first step)
and ``P^-1``, refactored at every call until ``S`` has ``4 D`` rows behind it,
then when they have doubled.
"""

import copy

import numpy as np

from ._keras import ops, to_tensor

__all__ = ["SGDState", "sgd_pass"]

_BATCH_ROWS = 64
_STEP_POWER = 0.75
_AVERAGE_DECAY = 3.0
_STEP0 = 0.25
_PRECOND_RIDGE = 1e-2


class SGDState:
    """Iterate, average and step count of :func:`sgd_pass`, as NumPy.

    Parameters
    ----------
    coef : ndarray of shape (K, D)
        Initial iterate (and average).
    intercept : ndarray of shape (K,)
    steps : int, default=0
        Steps already taken (a larger count means smaller steps and an
        average that moves more slowly).
    """

    def __init__(self, coef, intercept, steps=0):
        self.coef = np.asarray(coef, dtype=np.float32)
        self.intercept = np.asarray(intercept, dtype=np.float32)
        self.average_coef = self.coef.copy()
        self.average_intercept = self.intercept.copy()
        self.steps = int(steps)
        # sum of phi phi^T over the rows seen (with the constant feature of the intercept)
        self.moment = None
        self.moment_rows = 0
        self._inverse = None  # (rows behind it, P^-1 as float32)

    def add_moment(self, gram, rows):
        """Add ``phi^T phi`` of ``rows`` more rows (a tensor) to the second moment."""
        gram = ops.convert_to_numpy(gram).astype(np.float64)
        self.moment = gram if self.moment is None else self.moment + gram
        self.moment_rows += rows

    def preconditioner(self, scale, lam):
        """``(scale * S + (lam + ridge) I)^-1`` with ``S`` the features' second moment.

        Refactored at every call until ``S`` has ``4 D`` rows behind it,
        then only when they have doubled (a D x D inverse per call would
        dominate small chunks). The ridge, a fraction
        of ``S``'s mean eigenvalue, bounds how much gradient noise in
        directions the moment has barely seen is amplified.
        """
        D = self.moment.shape[0]
        stale = self._inverse is None or self.moment_rows >= 2 * self._inverse[0]
        if stale or self.moment_rows < 4 * D:
            S = self.moment / self.moment_rows
            ridge = _PRECOND_RIDGE * np.trace(S) / D
            P = scale * S + (lam + ridge) * np.eye(D)
            self._inverse = (self.moment_rows, np.linalg.inv(P).astype(np.float32))
        return to_tensor(self._inverse[1])


def sgd_pass(
    design, lower, upper, sample_weight, state, *, lam, loss, fit_intercept, intercept_cost=0.0
):
    """One pass of averaged mini-batch SGD over the rows of ``design``.

    Parameters
    ----------
    design : RowBlocks
        The feature matrix of the rows of this pass.
    lower, upper : ndarray of shape (n_rows, K)
        The rows' intervals (see :mod:`kernelsvm_keras._loss`).
    sample_weight : ndarray of shape (n_rows,) or (n_rows, K)
        The same for every column, or one per column (one-vs-one).
    state : SGDState
        The state to continue from; left unchanged (a failed pass leaves
        nothing half-updated).
    lam : float
        L2 regularisation of the averaged loss, ``1 / (C n)``.
    loss : IntervalLoss
    fit_intercept : bool
    intercept_cost : float, default=0.0
        ``c_b`` of the objective (the one-class SVM's 1), divided by ``C n``
        as the rest.

    Returns
    -------
    state : SGDState
        A new state; it shares with ``state`` only arrays that neither
        changes in place.
    """
    state = copy.copy(state)  # every array of it is replaced, never written to
    lower_t = to_tensor(np.asarray(lower, dtype=np.float32))
    upper_t = to_tensor(np.asarray(upper, dtype=np.float32))
    sample_weight = np.asarray(sample_weight, dtype=np.float32)
    s = to_tensor(sample_weight.reshape(len(sample_weight), -1))
    D = state.coef.shape[1]

    # The intercept is one more weight, on a constant feature: it is
    # preconditioned with the others (random features have a large mean,
    # nearly collinear with the constant; updating the intercept apart made
    # the pair diverge on a9a). Only the weights are penalised.
    def augment(B):
        if not fit_intercept:
            return B
        return ops.concatenate([B, ops.ones((B.shape[0], 1), dtype=B.dtype)], axis=1)

    def stack(coef, intercept):
        if not fit_intercept:
            return to_tensor(coef.T)
        return to_tensor(np.vstack([coef.T, intercept[None, :]]).astype(np.float32))

    penalised = np.ones((D + int(fit_intercept), 1), dtype=np.float32)
    penalised[D:] = 0.0
    # the gradient of the intercept's linear cost, lam c_b
    linear = np.zeros((D + int(fit_intercept), 1), dtype=np.float32)
    linear[D:] = lam * intercept_cost
    penalised = to_tensor(penalised)
    linear = to_tensor(linear)
    Wb = stack(state.coef, state.intercept)
    Wb_avg = stack(state.average_coef, state.average_intercept)
    t = state.steps
    scale = loss.curvature_bound
    # The moment includes this chunk before any step: a direction that no row
    # seen so far spans would otherwise get a step of 1 / ridge.
    moment = None
    for _, _, block in design.blocks():
        block = augment(block)
        gram = ops.matmul(ops.transpose(block), block)
        moment = gram if moment is None else moment + gram
    state.add_moment(moment, design.n_samples)
    P_inv = state.preconditioner(scale, lam)
    for start, stop, block in design.blocks():
        block = augment(block)
        for lo in range(0, stop - start, _BATCH_ROWS):
            rows = slice(start + lo, min(start + lo + _BATCH_ROWS, stop))
            B = block[lo : lo + _BATCH_ROWS]
            # -loss'(z) (a subgradient of the hinge)
            slope = loss.derivatives(ops.matmul(B, Wb), lower_t[rows], upper_t[rows], None, ops)[1]
            # minus the gradient of the mean loss, per column
            G = s[rows] * slope / float(B.shape[0])
            gradient = lam * penalised * Wb + linear - ops.matmul(ops.transpose(B), G)
            eta = _STEP0 / (1.0 + lam * _STEP0 * t) ** _STEP_POWER
            direction = ops.matmul(P_inv, gradient)
            # Safeguard: no further than the minimum of the batch's own
            # quadratic model along the direction. P averages over all rows;
            # a batch holding a rare direction (a rare sparse feature) curves
            # far more there, and the plain step overshoots (a9a diverged).
            along = ops.sum(gradient * direction, axis=0)
            curvature = scale * ops.sum(ops.square(ops.matmul(B, direction)), axis=0) / float(
                B.shape[0]
            ) + lam * ops.sum(penalised * ops.square(direction), axis=0)
            eta = ops.minimum(eta, along / ops.maximum(curvature, 1e-30))
            Wb = Wb - eta * direction
            t += 1
            rho = (_AVERAGE_DECAY + 1.0) / (t + _AVERAGE_DECAY)
            Wb_avg = Wb_avg + rho * (Wb - Wb_avg)
    Wb = ops.convert_to_numpy(Wb)
    Wb_avg = ops.convert_to_numpy(Wb_avg)
    state.coef, state.average_coef = Wb[:D].T, Wb_avg[:D].T
    if fit_intercept:
        state.intercept, state.average_intercept = Wb[D], Wb_avg[D]
    state.steps = t
    return state
