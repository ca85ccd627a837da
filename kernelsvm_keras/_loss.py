"""The losses of the SVM family, one object each.

Every problem the solvers take (:func:`~kernelsvm_keras._solver.solve_svm`,
:func:`~kernelsvm_keras._sgd.sgd_pass`) is, per column ``k``::

    P(w, b) = 1/2 ||w||^2 + c_b b + C sum_i s_i loss(z_i; l_i, u_i),
    z_i = w . phi(x_i) + b,

with an *interval loss*: the loss pushes the prediction ``z`` into the row's
interval ``[l, u]`` (either end may be infinite),
``loss(z; l, u) = h(l - z) + h(z - u)``, where ``h`` is the hinge
``max(0, v)`` (:class:`Hinge`) or its square (:class:`SquaredHinge`). The
three problems of the family are that one sum with other intervals
(:func:`margin_intervals`, :func:`tube_intervals`, :func:`one_class_intervals`):

* classification with labels ``y = +-1``: ``[1, inf)`` for ``y = +1`` and
  ``(-inf, -1]`` for ``y = -1``, so that ``loss = h(1 - y z)``, the (squared)
  hinge of ``SVC`` and ``LinearSVC``;
* regression with target ``y``: ``[y - epsilon, y + epsilon]``, the
  (squared) epsilon-insensitive loss of ``SVR`` and ``LinearSVR``;
* the one-class SVM: ``[0, inf)`` with ``c_b = 1`` (``b = -rho``) and
  ``C = 1 / (nu sum(s))``: ``1/2 ||w||^2 - rho + 1/(nu n) sum_i max(0, rho - w . phi(x_i))``,
  the primal of ``OneClassSVM`` and ``SGDOneClassSVM``.

Dual
----
With ``beta_i = -C s_i loss'(z_i)`` (so that ``w = phi^T beta`` at the
optimum), the Fenchel dual is::

    D(beta) = sum_i g_i(beta_i) - 1/2 ||phi^T beta||^2,  sum_i beta_i = c_b (with an intercept)

with ``g(beta) = beta l`` for ``beta > 0`` and ``beta u`` for ``beta < 0``,
minus ``beta^2 / (4 C s)`` for the squared hinge, over the box of
:meth:`IntervalLoss.box` (``0 <= beta <= C s`` where only ``l`` is finite,
for the hinge). Every feasible ``beta`` bounds the optimum from below: the
solver's certificate.

The hinge is not differentiable; the Newton solver minimises its Huber
smoothing of width ``delta`` (quadratic on ``0 < v < delta``), whose
conjugate is the hinge's minus ``delta beta^2 / (2 C s)``, and shrinks
``delta`` (``smooth`` is true for it).

Each method takes its array module ``xp``: ``keras.ops`` in the float32
iterations, ``numpy`` for the float64 certificate. The formulas are written
once, for both.
"""

import numpy as np

__all__ = [
    "Hinge",
    "IntervalLoss",
    "SquaredHinge",
    "get_loss",
    "margin_intervals",
    "one_class_intervals",
    "tube_intervals",
]


def _finite_part(bound, xp):
    """``bound`` with its infinite entries set to zero (no ``0 * inf``)."""
    return xp.where(xp.abs(bound) < np.inf, bound, 0.0)


class IntervalLoss:
    """``loss(z; l, u) = h(l - z) + h(z - u)`` for a one-sided penalty ``h``.

    Subclasses define ``h`` through :meth:`_penalty` (value, slope and
    curvature of ``h`` at ``v >= 0``), the quadratic term of its conjugate
    (:meth:`_conjugate_curvature`) and whether the box of the dual is
    bounded (``bounded``).
    """

    #: Whether ``h`` is not differentiable (the Newton solver smooths it).
    smooth = False
    #: Whether the dual variables are bounded by ``C s`` (the hinge's box).
    bounded = False
    #: An upper bound on ``h''`` (stochastic gradient steps are scaled by it).
    curvature_bound = 1.0
    name = None

    def _penalty(self, v, delta, xp):
        """``h(v), h'(v), h''(v)`` at ``v = max(0, .)``, smoothed with ``delta`` if given."""
        raise NotImplementedError

    def _conjugate_curvature(self, weight, delta, xp):
        """The coefficient ``a`` of ``-a beta^2`` in ``g(beta)``, per row (``weight = C s``)."""
        raise NotImplementedError

    def derivatives(self, Z, lower, upper, delta=None, xp=np):
        """Value, ``-loss'(z)`` and ``loss''(z)`` at predictions ``Z``, per row.

        ``delta`` smooths the hinge (the value is then the smoothed one);
        ``None`` gives the loss itself and a subgradient.
        """
        # At most one of l - z and z - u is positive (l <= u): the loss is h of
        # the larger, with the slope's sign of its side (one penalty, not two).
        below = lower - Z
        above = Z - upper
        violation = xp.maximum(xp.maximum(below, above), 0.0)
        value, slope, curvature = self._penalty(violation, delta, xp)
        return value, xp.where(below > above, slope, -slope), curvature

    def value(self, Z, lower, upper, delta=None, xp=np):
        """The loss at predictions ``Z``, per row (smoothed with ``delta`` if given)."""
        return self.derivatives(Z, lower, upper, delta, xp)[0]

    def conjugate(self, beta, lower, upper, weight, delta=None, xp=np):
        """``g(beta)`` per row (see the module): the dual's separable part.

        ``beta`` must lie in :meth:`box`; ``weight`` is ``C s``. With
        ``delta``, that of the smoothed loss.
        """
        linear = xp.where(beta > 0, beta * _finite_part(lower, xp), beta * _finite_part(upper, xp))
        a = self._conjugate_curvature(weight, delta, xp)
        if a is None:
            return linear
        return linear - a * xp.square(beta)

    def box(self, lower, upper, weight):
        """The bounds of the dual variables, ``(low, high)`` per row, NumPy.

        ``beta > 0`` only where ``l`` is finite and ``beta < 0`` only where
        ``u`` is; for the hinge ``|beta| <= C s`` (``weight``).
        """
        cap = weight if self.bounded else np.inf
        high = np.where(np.isfinite(lower), cap, 0.0)
        low = np.where(np.isfinite(upper), -cap, 0.0)
        return low, high

    def free_target(self, beta, lower, upper):
        """The prediction ``z`` that makes a free dual variable ``beta`` optimal, NumPy.

        ``l`` where ``beta > 0`` and ``u`` where ``beta < 0``, minus
        ``beta / (2 C s)`` (:meth:`free_diagonal`) for the squared hinge.
        """
        return np.where(beta > 0, _finite_part(lower, np), _finite_part(upper, np))

    def free_diagonal(self, weight):
        """``d`` with ``z = free_target - d beta`` at a free ``beta`` (0 or ``1 / (2 C s)``)."""
        return np.zeros_like(weight)

    def __repr__(self):
        return f"{type(self).__name__}()"

    # A loss is its class (it holds no state): equal losses select the same
    # compiled programs (:mod:`kernelsvm_keras._compiled`), fit after fit.
    def __eq__(self, other):
        return type(self) is type(other)

    def __hash__(self):
        return hash(type(self))


class Hinge(IntervalLoss):
    """``h(v) = max(0, v)``: the hinge, epsilon-insensitive and one-class losses."""

    smooth = True
    bounded = True
    curvature_bound = 1.0
    name = "hinge"

    def _penalty(self, v, delta, xp):
        if delta is None:  # the hinge and a subgradient
            return v, _indicator(v > 0, v, xp), xp.zeros_like(v)
        inside = xp.logical_and(v > 0, v < delta)
        value = xp.where(v < delta, xp.square(v) / (2.0 * delta), v - delta / 2.0)
        return value, xp.clip(v / delta, 0.0, 1.0), _indicator(inside, v, xp) / delta

    def _conjugate_curvature(self, weight, delta, xp):
        if delta is None:
            return None
        return delta / (2.0 * _positive(weight, xp))


class SquaredHinge(IntervalLoss):
    """``h(v) = max(0, v)^2``: the squared hinge and squared epsilon-insensitive losses."""

    curvature_bound = 2.0
    name = "squared_hinge"

    def _penalty(self, v, delta, xp):
        return xp.square(v), 2.0 * v, 2.0 * _indicator(v > 0, v, xp)

    def _conjugate_curvature(self, weight, delta, xp):
        return 1.0 / (4.0 * _positive(weight, xp))

    def free_diagonal(self, weight):
        with np.errstate(divide="ignore"):
            return np.where(weight > 0, 1.0 / (2.0 * np.maximum(weight, 1e-300)), 0.0)


def _indicator(mask, like, xp):
    """Ones where ``mask`` holds, else zeros, of the type of ``like``.

    NumPy's ``where`` of two Python floats is float64, which the solver's
    float32 arithmetic on the host must not meet.
    """
    return xp.where(mask, xp.ones_like(like), xp.zeros_like(like))


def _positive(weight, xp):
    """``weight`` kept away from zero (rows of zero weight have ``beta = 0``)."""
    return xp.where(weight > 0, weight, 1e-30)


_LOSSES = {
    "hinge": Hinge,
    "epsilon_insensitive": Hinge,
    "squared_hinge": SquaredHinge,
    "squared_epsilon_insensitive": SquaredHinge,
}


def get_loss(name):
    """The loss object of a ``loss`` parameter (``SVC``'s, ``SVR``'s or ``LinearSVR``'s names)."""
    if isinstance(name, IntervalLoss):
        return name
    return _LOSSES[name]()


def margin_intervals(Y, margin=1.0):
    """Intervals of classification: ``[margin, inf)`` for ``+1``, ``(-inf, -margin]`` for ``-1``."""
    Y = np.asarray(Y, dtype=np.float64)
    return np.where(Y > 0, margin, -np.inf), np.where(Y > 0, np.inf, -margin)


def tube_intervals(y, epsilon):
    """Intervals of regression: ``[y - epsilon, y + epsilon]``."""
    y = np.asarray(y, dtype=np.float64)
    return y - epsilon, y + epsilon


def one_class_intervals(n_samples):
    """Intervals of the one-class SVM: ``[0, inf)`` (with ``c_b = 1``, ``b = -rho``)."""
    return np.zeros((n_samples, 1)), np.full((n_samples, 1), np.inf)


def _feasible_scales(positive, negative, cost, capacity, xp):
    """Scalings that make ``sum(beta) = cost`` (the intercept's dual constraint).

    ``positive`` and ``negative`` are the sums of the positive and negative
    parts of ``beta`` per column. Where the positive side is too large it is
    scaled down (``r_pos``), where the negative side is, it is (``r_neg``);
    where even without its negative side ``beta`` sums to less than
    ``cost > 0`` (the one-class SVM), the negative side is dropped and the
    positive one moved a fraction ``grow`` of the way to the bounds ``C s``
    of some rows (those already positive, so that the support stays theirs),
    whose room is ``capacity`` (``sum(C s) - positive`` over those rows).
    Returns ``r_pos, r_neg, grow``; the feasible point is
    ``r_pos beta+ - r_neg beta- + grow (C s - beta+)`` on those rows (feasible
    only where ``capacity`` suffices).
    """
    tiny = 1e-30
    excess = positive - negative - cost
    r_pos = xp.where(excess > 0, (negative + cost) / xp.maximum(positive, tiny), 1.0)
    short = xp.logical_and(excess < 0, positive < cost)
    r_neg = xp.where(
        excess < 0, xp.where(short, 0.0, (positive - cost) / xp.maximum(negative, tiny)), 1.0
    )
    grow = xp.where(short, xp.clip((cost - positive) / xp.maximum(capacity, tiny), 0.0, 1.0), 0.0)
    return r_pos, r_neg, grow


def summed_to(points, high, cost):
    """Dual points within their box brought to ``sum(beta) = cost`` per column, NumPy.

    Used by the float64 certificate and the interior point alike:
    :func:`_feasible_scales` towards the upper bounds ``high`` of the rows
    already positive, or of every row where those have too little room.
    ``points`` has shape (n,) or (n, K).
    """
    # (the same arithmetic as with each intermediate its own array, in half the
    # memory: letter's 325 one-vs-one columns are (15,000, 325) arrays)
    positive = np.maximum(points, 0.0)
    negative = np.negative(points)
    np.maximum(negative, 0.0, out=negative)
    sum_pos, sum_neg = positive.sum(axis=0), negative.sum(axis=0)
    # every row's room C s - beta+ (a bound that is not finite counts as 0), and that of the
    # rows already positive (positive is 0 elsewhere, so their room there is 0)
    room_every = np.subtract(np.where(np.isfinite(high), high, 0.0), positive)
    room_positive = np.where(positive > 0, room_every, 0.0)
    sum_every, sum_positive = room_every.sum(axis=0), room_positive.sum(axis=0)
    short = sum_pos + sum_positive < cost
    room = np.where(short, sum_every, sum_positive)
    with np.errstate(divide="ignore", invalid="ignore"):
        r_pos, r_neg, grow = _feasible_scales(sum_pos, sum_neg, cost, room, np)
    positive *= r_pos
    negative *= r_neg
    points = np.subtract(positive, negative, out=positive)
    if cost:
        moved = np.where(short, room_every, room_positive)
        moved *= grow
        points += moved
    return points
