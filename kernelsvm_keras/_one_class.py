"""Novelty detection trained by Keras: KerasOneClassSVM."""

from numbers import Real

import numpy as np
from sklearn.base import OutlierMixin, _fit_context
from sklearn.utils._param_validation import Interval

from ._base import _KERNEL_CONSTRAINTS, _BaseSVM, _KernelMapMixin, _sample_weights
from ._certificate import relative_gap
from ._loss import Hinge, one_class_intervals

#: ``rho`` below the quantile of the training scores by this much of their largest
#: magnitude (see ``KerasOneClassSVM._best_offset``): float64 scores computed by
#: other BLAS calls differ by some 1e-16 of it times the terms summed (thousands).
_BOUNDARY_MARGIN = 1e-9


class KerasOneClassSVM(OutlierMixin, _KernelMapMixin, _BaseSVM):
    """Unsupervised outlier detection by a one-class SVM trained by Keras.

    A drop-in for :class:`sklearn.svm.OneClassSVM`: the same parameters with
    the same meaning of ``nu``, ``kernel``, ``gamma``, ``degree`` and
    ``coef0``, and the same scale of ``decision_function``, on a kernel
    approximated by ``n_components`` Nystroem landmarks or random Fourier
    features as in :class:`KerasSVC`. Training is a Keras 3 program, linear
    in the number of samples, that reaches a certified optimum (where
    :class:`~sklearn.linear_model.SGDOneClassSVM` runs plain SGD).

    Parameters
    ----------
    kernel : {"linear", "poly", "rbf", "sigmoid", "laplacian", "precomputed"} \
or callable, default="rbf"
        As in :class:`KerasSVC` (``"linear"``: on ``X`` itself).
    degree : int, default=3
        Degree of the polynomial kernel.
    gamma : {"scale", "auto"} or float, default="scale"
        Kernel coefficient, as in ``OneClassSVM``.
    coef0 : float, default=0.0
        Constant of the poly and sigmoid kernels.
    tol : float, default=1e-3
        Stop when the certified relative duality gap is at most ``tol``
        (``OneClassSVM``'s ``tol`` bounds libsvm's KKT violation instead).
        ``rho`` is then set exactly for the solution's ``w`` (see Notes).
    nu : float, default=0.5
        An upper bound on the fraction of training errors (rows outside the
        boundary) and a lower bound on the fraction of support vectors, in
        ``(0, 1]``, as in ``OneClassSVM``.
    shrinking : bool, default=True
        libsvm's shrinking heuristic, as in ``OneClassSVM``, for the small
        problems solved by libsvm's dual (at most 5,000 rows with the
        hinge); no effect on the Newton solver. It changes the time, not
        the solution.
    cache_size : float, default=1024
        Megabytes allowed for keeping the feature matrix on the device.
    verbose : int, default=0
        Progress on standard output, each line with the time since the
        fit began: at 1, the feature map, the features, one line per Newton
        iteration (the largest gap against ``tol``) and a closing summary
        (iterations, certified gap, why it stopped); at 2, also each step's
        kind (direct or conjugate gradients), line-search length and
        smoothing, and the stages of the ``C`` path. ``partial_fit`` prints a
        line per call.
    max_iter : int, default=1000
        Maximum number of Newton iterations (``-1``: no limit; ``0``: the
        starting point, as in :class:`KerasSVC`).
    n_components : int, default=2048
        Number of landmarks or random features; fewer landmarks where a fit
        solved on the kernel itself first keeps its support vectors alone (as
        in :class:`KerasSVC`).
    approximation : {"auto", "nystroem", "random_fourier"}, default="auto"
        As in :class:`KerasSVC` (``"auto"``: landmarks, moved onto the
        support vectors where they fit).
    batch_size : int, default=None
        Rows per batch on the device.
    random_state : int, RandomState instance or None, default=None
        Seeds the draw of the landmarks or random features.
    warm_start : bool, default=False
        When True, ``fit`` on an already fitted estimator with the same
        feature map starts from its solution.

    Attributes
    ----------
    coef_ : ndarray of shape (1, n_features_out)
        Weights on the features (on ``X`` for ``kernel="linear"``), in
        ``OneClassSVM``'s scale (see Notes).
    intercept_ : ndarray of shape (1,)
        ``-rho`` in that scale.
    offset_ : ndarray of shape (1,)
        ``-intercept_``: ``decision_function = score_samples - offset_``.
    support_ : ndarray of shape (n_SV,)
        Training rows with a non-zero dual variable (on or outside the
        boundary; ``fit`` only).
    n_support_ : ndarray of shape (1,), dtype int32
    support_vectors_ : {ndarray, sparse matrix} of shape (n_SV, n_features)
        Those rows of the training ``X``, in float64 (sparse where ``X`` was;
        ``(0, 0)`` for ``kernel="precomputed"``), as ``OneClassSVM`` keeps them;
        absent where they would take more than ``cache_size`` megabytes (a
        fit that streams its features keeps no copy of ``X``).
    fit_status_ : int
        0 where the certified gap met ``tol``, 1 where it did not (with a
        ``ConvergenceWarning``), as libsvm's estimators report it.
    shape_fit_ : tuple of int
        The shape of the training ``X`` (``fit`` only).
    n_iter_ : int
        Newton iterations, or libsvm's iterations where its dual solved the
        problem (at most 5,000 rows), as ``OneClassSVM.n_iter_`` counts them.
    objective_ : ndarray of shape (1,)
        Primal objective (of the formulation in Notes) at the solution.
    dual_gap_ : ndarray of shape (1,)
        Certified relative duality gap, ``(P - D) / max(|P|, F)``. The
        optimum lies in ``[-R^2 / 2, 0]`` (``R`` the largest norm of a
        training row's features) and is 0 on data that no direction
        separates from the origin (centred data under the linear kernel),
        so the gap is measured against at least ``F = 1e-4 R^2 / 2``.
    gamma_, components_, component_indices_, normalization_, random_weights_, \
random_offset_
        The fitted feature map, as in :class:`KerasSVC`.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (``n_features_in_``,)

    See Also
    --------
    sklearn.svm.OneClassSVM : The exact kernel one-class SVM.
    sklearn.linear_model.SGDOneClassSVM : The same objective by plain SGD.

    Notes
    -----
    The fit minimises the primal of Schölkopf et al. (2001), as
    :class:`~sklearn.linear_model.SGDOneClassSVM` states it,

    .. math::

        P(w, \\rho) = \\frac12 \\|w\\|^2 - \\rho
        + \\frac{1}{\\nu \\sum_i s_i} \\sum_i s_i \\max(0, \\rho - w \\cdot \\phi(x_i)),

    (``s`` the sample weights, all 1 by default: ``1 / (nu n)``), by the
    Newton solver of ``KerasSVC`` with ``b = -rho`` (a linear cost on the
    intercept). libsvm solves its dual with variables scaled by
    ``nu sum(s)``, and ``OneClassSVM``'s ``coef_``, ``intercept_`` and
    ``decision_function`` are in that scale; so are this estimator's:
    ``coef_ = nu sum(s) w`` and ``intercept_ = -nu sum(s) rho``.
    ``predict`` is +1 where ``decision_function`` is at least 0, else -1.
    After the Newton solve, ``rho`` is replaced by the exact minimiser of
    the objective for the solution's ``w`` (the ``nu`` quantile of the
    training scores, less 1e-9 of their largest magnitude so that the rows
    at it stay inside in any batch they are scored in: its round-off differs
    by batch), which lowers the objective but for that margin (the objective
    and gap are measured there): the training rows
    on the boundary then fall on the side the optimum puts them, and the
    fraction of training rows predicted outliers is ``nu`` (0.097 and 0.30
    for ``nu=0.1`` and 0.3 on a Gaussian blob, where ``OneClassSVM`` gives
    0.103 and 0.303; at ``tol`` alone, 0.20 and 0.36).

    Examples
    --------
    >>> import numpy as np
    >>> from kernelsvm_keras import KerasOneClassSVM
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(500, 2))
    >>> detector = KerasOneClassSVM(nu=0.1, gamma=0.5, random_state=0).fit(X)
    >>> outside = np.mean(detector.predict(X) == -1)
    >>> print(f"{outside:.2f}")
    0.10
    >>> detector.predict([[0.0, 0.0], [4.0, 4.0]])
    array([ 1, -1])
    """

    _parameter_constraints: dict = {
        **_BaseSVM._parameter_constraints,
        **_KERNEL_CONSTRAINTS,
        "nu": [Interval(Real, 0.0, 1.0, closed="right")],
    }

    def __init__(
        self,
        *,
        kernel="rbf",
        degree=3,
        gamma="scale",
        coef0=0.0,
        tol=1e-3,
        nu=0.5,
        shrinking=True,
        cache_size=1024,
        verbose=0,
        max_iter=1000,
        n_components=2048,
        approximation="auto",
        batch_size=None,
        random_state=None,
        warm_start=False,
    ):
        self.kernel = kernel
        self.degree = degree
        self.gamma = gamma
        self.coef0 = coef0
        self.tol = tol
        self.nu = nu
        self.shrinking = shrinking
        self.cache_size = cache_size
        self.verbose = verbose
        self.max_iter = max_iter
        self.n_components = n_components
        self.approximation = approximation
        self.batch_size = batch_size
        self.random_state = random_state
        self.warm_start = warm_start

    # the problem: the hinge on [0, inf), with the intercept's linear cost (b = -rho)
    def _loss(self):
        return Hinge()

    def _intervals(self, targets):
        return one_class_intervals(len(targets))

    def _intercept_cost(self):
        return 1.0

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, sample_weight=None):
        """Detect the soft boundary of the set of samples ``X``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training vectors (for ``kernel="precomputed"``, their kernel
            matrix).
        y : Ignored
            Not used, present for API consistency by convention.
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample weights (a weight of 2 is the sample twice; rows of
            zero or negative weight are ignored).

        Returns
        -------
        self : object
            If ``fit`` raises, the estimator is left exactly as it was.
        """
        return self._all_or_nothing(self._fit, X, sample_weight)

    def _fit(self, X, sample_weight):
        X = self._check_data(X, reset=True)
        weights = _sample_weights(sample_weight, X)
        scale = float(self.nu) * float(weights.sum())  # libsvm's scale of the dual
        feature_map, result = self._fit_and_solve(
            X, np.ones((X.shape[0], 1)), weights, 1.0 / scale, labels=np.zeros(X.shape[0])
        )
        self._set_feature_map(feature_map)
        self._scale = scale
        self._weight_seen = float(weights.sum())
        self._set_solution(result, X)
        coef, intercept, self.objective_, self.dual_gap_ = self._best_offset(X, weights, result)
        self._publish(coef, intercept)
        return self

    def _best_offset(self, X, weights, result):
        """The solver's ``w`` with the exact best ``rho`` for it, and the objective then.

        For a fixed ``w`` the objective is minimised over ``rho`` by the
        ``nu`` weighted quantile of the scores ``w . phi(x_i)`` (its
        subgradient in ``rho``, ``-1 + (weight below rho) / (nu sum(s))``,
        holds 0 there). The rows on the boundary have a score of ``rho`` at
        the optimum; an iterate within ``tol`` of it leaves ``rho`` a little
        off, and many of those rows on the wrong side of it. So ``rho`` is
        always the quantile: it never raises the objective, and the gap is
        measured again at the new objective against the same dual bound. Where
        the objective is flat in ``rho`` (``nu = 1``: the same for every
        ``rho`` above the largest score) the solver's ``rho`` may lie far off
        (the float64 interior point's 100 on rows of magnitude 1e-4, where
        ``-rho + sum(s (rho - score)) / (nu sum(s))`` then cancelled to 5e-6 of
        the objective, which came out below the optimum); the quantile is then
        the largest score, every row on or inside the boundary, as on the
        exact dual's route. ``rho`` is then lowered by
        :data:`_BOUNDARY_MARGIN` times the largest score's magnitude, far
        above the round-off of scores computed again, so that the rows on
        the boundary are inliers in every batch (the objective is taken
        there). Returns ``coef``, ``intercept``, ``objective_`` and
        ``dual_gap_``.
        """
        coef = result.coef
        rows = self._rows_per_batch(max(X.shape[1], coef.shape[1]))
        scores = np.concatenate(
            [
                self._map.decision(X[i : i + rows].astype(np.float64), coef, np.zeros(1))[:, 0]
                for i in range(0, X.shape[0], rows)
            ]
        )
        total = float(weights.sum())
        order = np.argsort(scores, kind="stable")
        below = np.cumsum(weights[order])
        rho = scores[order][min(np.searchsorted(below, self.nu * total), len(order) - 1)]
        # the rows at the quantile (a score of rho, computed on these batches) stay
        # inside whatever batch their score is computed in again: a row alone and
        # the same row among others are different BLAS calls, whose round-off put
        # a training row of scikit-learn's subset-invariance check outside on a
        # Zen 3 CPU (AVX2), inside on a Zen 4 (AVX-512)
        rho -= _BOUNDARY_MARGIN * np.max(np.abs(scores), initial=0.0)

        def objective(rho):
            loss = np.sum(weights * np.maximum(0.0, rho - scores)) / (self.nu * total)
            return 0.5 * float(np.sum(np.square(coef))) - rho + loss

        new = objective(rho)
        new_gap = np.maximum(relative_gap(np.array([new]), result.dual, result.gap_floor), 0.0)
        return coef, np.array([-rho]), np.array([new]), new_gap

    def _solver_point(self):
        # the solver's problem is OneClassSVM's divided by nu sum(s) (see Notes)
        return self.coef_ / self._scale, self.intercept_ / self._scale

    def _publish(self, coef, intercept):
        self.coef_ = self._scale * coef
        self.intercept_ = self._scale * intercept
        self.offset_ = -self.intercept_

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None, sample_weight=None):
        """Update the model with one pass of averaged SGD over a chunk of rows.

        As ``SGDOneClassSVM.partial_fit``: one pass of stochastic gradients
        on the objective of ``fit`` over the rows seen so far (not
        certified: ``objective_`` and ``dual_gap_`` are NaN after it). The
        first call fixes the feature map from its chunk.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : Ignored
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : object
            If the call raises, the estimator is left exactly as it was.
        """
        return self._all_or_nothing(self._partial_fit, X, sample_weight)

    def _partial_fit(self, X, sample_weight):
        first_call = not hasattr(self, "coef_")
        X = self._check_data(X, reset=first_call)
        weights = _sample_weights(sample_weight, X, require_positive=False)
        self._sgd_begin(X, first_call)
        if first_call:
            self._weight_seen = 0.0
        self._weight_seen += float(weights.sum())
        if not self._weight_seen > 0:
            raise ValueError(
                "Invalid input - all samples have zero or negative weights "
                "(partial_fit needs a positive weight among the rows seen)."
            )
        self._scale = float(self.nu) * self._weight_seen
        lower, upper = self._intervals(np.zeros(X.shape[0]))  # (no targets: X may be sparse)
        # 1 / (C n), C = 1 / (nu sum(s))
        self._sgd_step(X, lower, upper, weights, lam=self._scale / self.n_samples_seen_)
        return self

    def decision_function(self, X):
        """Signed distance to the boundary: positive inside, negative outside.

        In ``OneClassSVM``'s scale (see Notes), computed in float64 with
        NumPy, ``batch_size`` rows at a time.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        return self._problem_scores(X)[:, 0]

    def score_samples(self, X):
        """The raw scoring function, ``decision_function(X) + offset_``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        return self.decision_function(X) + self.offset_[0]

    def predict(self, X):
        """+1 for inliers (decision function at least 0), -1 for outliers.

        A row on the boundary (decision 0) is an inlier, as scikit-learn's
        outlier detectors have it; with ``rho`` the ``nu``-quantile of the
        training scores less a margin above round-off (see Notes), the
        training rows at it are inliers, scored alone or among others.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        return np.where(self.decision_function(X) >= 0, 1, -1)
