"""Support vector regression trained by Keras: KerasSVR and KerasLinearSVR."""

from numbers import Real

import numpy as np
from sklearn.base import RegressorMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions

from ._base import _KERNEL_CONSTRAINTS, _BaseSVM, _KernelMapMixin, _sample_weights
from ._loss import tube_intervals
from ._maps import IdentityMap

_REGRESSION_NOTES = """
    The fit minimises the SVR primal objective

    .. math::

        P(w, b) = \\frac12 \\|w\\|^2
        + C \\sum_i s_i \\, \\ell(|y_i - w \\cdot \\phi(x_i) - b| - \\epsilon),

    with :math:`\\ell(v) = \\max(0, v)` (``loss="epsilon_insensitive"``, the
    loss of :class:`~sklearn.svm.SVR`) or :math:`\\max(0, v)^2`
    (``"squared_epsilon_insensitive"``), :math:`s_i` the sample weights and
    the intercept not penalised (as in libsvm), by the Newton solver of
    ``KerasSVC``: it stops when the certified relative duality gap
    :math:`(P - D) / P` is at most ``tol``, :math:`D` the dual objective of
    a feasible point built from the iterate (see the README).
"""


class _BaseSVR(RegressorMixin, _BaseSVM):
    """What KerasSVR and KerasLinearSVR share: the epsilon tube, fit, partial_fit, predict."""

    _parameter_constraints: dict = {
        **_BaseSVM._parameter_constraints,
        "epsilon": [Interval(Real, 0.0, None, closed="left")],
        "loss": [StrOptions({"epsilon_insensitive", "squared_epsilon_insensitive"})],
    }

    def _intervals(self, targets, epsilon=None):
        return tube_intervals(targets, float(self.epsilon if epsilon is None else epsilon))

    def _check_targets(self, X, y, sample_weight):
        """Checked ``X`` and ``y`` (one float64 output) and the sample weights."""
        X, y = self._check_data(X, y, reset=True, y_numeric=True)
        return X, np.asarray(y, dtype=np.float64), _sample_weights(sample_weight, X)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the SVR on training data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training vectors (for ``kernel="precomputed"``, the kernel matrix
            of the training rows, ``(n_samples, n_samples)``).
        y : array-like of shape (n_samples,)
            Target values (one output: a 2-D ``y`` with several columns is an
            error, as for ``SVR``).
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample weights, multiplying ``C`` for each sample. A weight of
            2 is the same as the sample appearing twice; a row of zero or
            negative weight is ignored.

        Returns
        -------
        self : object
            The fitted estimator. If ``fit`` raises (or is interrupted), the
            estimator is left exactly as it was before the call.
        """
        return self._all_or_nothing(self._fit, X, y, sample_weight)

    def _fit(self, X, y, sample_weight):
        self._check_params()
        X, y, weights = self._check_targets(X, y, sample_weight)
        feature_map, result = self._fit_and_solve(X, y[:, None], weights, float(self.C), labels=y)
        self._set_feature_map(feature_map)
        self._set_solution(result, X)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Update the model with one pass of averaged SGD over a chunk of rows.

        As ``KerasSVC.partial_fit`` (and ``SGDRegressor.partial_fit``): for
        data that does not fit in memory; call it on successive chunks, and
        over the data several times. The first call fixes the feature map
        from its chunk. The result is not certified: ``objective_`` and
        ``dual_gap_`` are NaN after ``partial_fit``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : object
            If the call raises, the estimator is left exactly as it was.
        """
        return self._all_or_nothing(self._partial_fit, X, y, sample_weight)

    def _partial_fit(self, X, y, sample_weight):
        self._check_params()
        first_call = not hasattr(self, "_map") or not hasattr(self, "coef_")
        X, y = self._check_data(X, y, reset=first_call, y_numeric=True)
        weights = _sample_weights(sample_weight, X, require_positive=False)
        self._sgd_begin(X, first_call)
        lower, upper = self._intervals(np.asarray(y, dtype=np.float64)[:, None])
        self._sgd_step(X, lower, upper, weights, lam=1.0 / (float(self.C) * self.n_samples_seen_))
        return self

    def predict(self, X):
        """Predict target values.

        Computed exactly in float64 with NumPy, ``batch_size`` rows at a time.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        return self._problem_scores(X)[:, 0]


class KerasSVR(_KernelMapMixin, _BaseSVR):
    """Epsilon-support vector regression trained by Keras, on an approximate kernel map.

    A drop-in for :class:`sklearn.svm.SVR`: the same parameters with the
    same meaning of ``C``, ``epsilon``, ``kernel``, ``gamma``, ``degree`` and
    ``coef0``, the kernel approximated by ``n_components`` Nystroem landmarks
    or random Fourier features as in :class:`KerasSVC`, and training that is
    a Keras 3 program (linear in the number of samples, on a GPU whenever
    Keras sees one) reaching a certified optimum on those features.

    Parameters
    ----------
    kernel : {"linear", "poly", "rbf", "sigmoid", "laplacian", "precomputed"} \
or callable, default="rbf"
        As in :class:`KerasSVC` (scikit-learn's kernel conventions;
        ``"linear"``: the exact linear SVR on ``X``).
    degree : int, default=3
        Degree of the polynomial kernel.
    gamma : {"scale", "auto"} or float, default="scale"
        Kernel coefficient, as in :class:`~sklearn.svm.SVR`.
    coef0 : float, default=0.0
        Constant of the poly and sigmoid kernels.
    tol : float, default=1e-3
        Stop when the certified relative duality gap is at most ``tol``.
        (``SVR``'s ``tol`` bounds libsvm's KKT violation instead.)
    C : float, default=1.0
        Inverse regularisation strength, as in ``SVR``. Must be positive;
        ``C=inf`` asks every target within ``epsilon`` (as :class:`KerasSVC`'s
        hard margin: up to a few thousand rows, refused where the features
        cannot).
    epsilon : float, default=0.1
        Half-width of the tube in which errors cost nothing, as in ``SVR``.
    shrinking : bool, default=True
        libsvm's shrinking heuristic, as in ``SVR``, for the small problems
        solved by libsvm's dual (see :class:`KerasSVC`'s Notes); no effect on
        the Newton solver.
    cache_size : float, default=1024
        Megabytes allowed for keeping the feature matrix on the device during
        ``fit``; above it, features are recomputed in batches at every pass.
    verbose : int, default=0
        Progress on standard output, each line with the time since the
        fit began: at 1, the feature map, the features, one line per Newton
        iteration (the largest gap against ``tol``) and a closing summary
        (iterations, certified gap, why it stopped); at 2, also each step's
        kind (direct or conjugate gradients), line-search length and
        smoothing, and the stages of the ``C`` path. ``partial_fit`` prints a
        line per call.
    max_iter : int, default=1000
        Maximum number of Newton iterations (``-1``: no limit, as ``SVR``;
        ``0``: the starting point, as in :class:`KerasSVC`); a small
        problem's exact dual (see :class:`KerasSVC`'s Notes) is not bounded
        by it.
    n_components : int, default=2048
        Number of landmarks (at most the number of training rows) or random
        features; fewer landmarks where an epsilon-insensitive fit solved on
        the kernel itself first keeps its support vectors alone (as in
        :class:`KerasSVC`).
    approximation : {"auto", "nystroem", "random_fourier"}, default="auto"
        As in :class:`KerasSVC`: landmarks for every kernel (``"auto"``,
        moved onto the support vectors where they fit: ``SVR``'s own
        solution once they hold them all), random features for rbf and
        laplacian.
    loss : {"epsilon_insensitive", "squared_epsilon_insensitive"}, \
default="squared_epsilon_insensitive"
        ``"epsilon_insensitive"`` is ``SVR``'s loss; its square, the default
        (as ``KerasSVC`` defaults to the squared hinge), is differentiable
        and trains in far fewer Newton iterations: on diamonds (log price,
        43,940 rows, 2048 landmarks) 6 iterations and 5.3 s for R^2 0.9873,
        against 47 iterations and 21.2 s for 0.9888 (``SVR``: 0.9897, 42.9 s;
        ``benchmarks/RESULTS.md``).
    batch_size : int, default=None
        Rows per batch on the device. It changes memory use and speed, not
        the solution.
    random_state : int, RandomState instance or None, default=None
        Seeds the draw of the landmarks or random features.
    warm_start : bool, default=False
        When True, ``fit`` on an already fitted estimator with the same
        feature map starts from its solution.

    Attributes
    ----------
    coef_ : ndarray of shape (1, n_features_out)
        Weights on the features (on ``X`` for ``kernel="linear"``).
    intercept_ : ndarray of shape (1,)
    support_ : ndarray of shape (n_SV,)
        Training rows outside the tube or on its edge (non-zero dual
        variable; ``fit`` only).
    n_support_ : ndarray of shape (1,), dtype int32
    support_vectors_ : {ndarray, sparse matrix} of shape (n_SV, n_features)
        Those rows of the training ``X``, in float64 (sparse where ``X`` was;
        ``(0, 0)`` for ``kernel="precomputed"``), as ``SVR`` keeps them;
        absent where they would take more than ``cache_size`` megabytes (a
        fit that streams its features keeps no copy of ``X``).
    fit_status_ : int
        0 where the certified gap met ``tol``, 1 where it did not (with a
        ``ConvergenceWarning``), as libsvm's estimators report it.
    shape_fit_ : tuple of int
        The shape of the training ``X`` (``fit`` only).
    n_iter_ : int
    objective_ : ndarray of shape (1,)
        Primal objective at the solution.
    dual_gap_ : ndarray of shape (1,)
        Certified relative duality gap at the solution.
    gamma_, components_, component_indices_, normalization_, random_weights_, \
random_offset_
        The fitted feature map, as in :class:`KerasSVC`.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (``n_features_in_``,)

    See Also
    --------
    KerasLinearSVR : The linear SVR.
    sklearn.svm.SVR : The exact kernel SVR (quadratic in the number of samples).

    Notes
    -----
    ``predict`` is the decision function of :class:`KerasSVC`'s Notes, one
    column, raveled.
    """

    __doc__ += (
        _REGRESSION_NOTES
        + """
    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import make_friedman1
    >>> from kernelsvm_keras import KerasSVR
    >>> X, y = make_friedman1(n_samples=1000, noise=0.1, random_state=0)
    >>> reg = KerasSVR(C=10, epsilon=0.1, random_state=0).fit(X[:800], y[:800])
    >>> print(f"{reg.score(X[800:], y[800:]):.2f}")
    0.96
    """
    )

    _parameter_constraints: dict = {
        **_BaseSVR._parameter_constraints,
        **_KERNEL_CONSTRAINTS,
        "C": [Interval(Real, 0.0, None, closed="right")],  # SVR's: inf is the hard tube
    }

    def __init__(
        self,
        *,
        kernel="rbf",
        degree=3,
        gamma="scale",
        coef0=0.0,
        tol=1e-3,
        C=1.0,
        epsilon=0.1,
        shrinking=True,
        cache_size=1024,
        verbose=0,
        max_iter=1000,
        n_components=2048,
        approximation="auto",
        loss="squared_epsilon_insensitive",
        batch_size=None,
        random_state=None,
        warm_start=False,
    ):
        self.kernel = kernel
        self.degree = degree
        self.gamma = gamma
        self.coef0 = coef0
        self.tol = tol
        self.C = C
        self.epsilon = epsilon
        self.shrinking = shrinking
        self.cache_size = cache_size
        self.verbose = verbose
        self.max_iter = max_iter
        self.n_components = n_components
        self.approximation = approximation
        self.loss = loss
        self.batch_size = batch_size
        self.random_state = random_state
        self.warm_start = warm_start


class KerasLinearSVR(_BaseSVR):
    """Linear support vector regression trained by Keras.

    A drop-in for :class:`sklearn.svm.LinearSVR` whose training is a Keras 3
    program reaching the optimum of the SVR primal objective, with an
    unpenalised intercept.

    Parameters
    ----------
    epsilon : float, default=0.0
        Half-width of the tube in which errors cost nothing (``LinearSVR``'s
        default, 0).
    tol : float, default=1e-4
        Stop when the certified relative duality gap is at most ``tol``
        (``LinearSVR``'s ``tol`` bounds liblinear's criterion instead).
    C : float, default=1.0
        Inverse regularisation strength. Must be positive.
    loss : {"epsilon_insensitive", "squared_epsilon_insensitive"}, \
default="epsilon_insensitive"
        As ``LinearSVR``.
    fit_intercept : bool, default=True
        Whether to fit an intercept. Unlike liblinear's, it is not penalised.
    intercept_scaling : float, default=1.0
        Accepted for ``LinearSVR``'s code; no effect: liblinear penalises the
        intercept as a synthetic feature of this value; here it is never
        penalised (the limit of an infinite ``intercept_scaling``).
    dual : "auto" or bool, default="auto"
        Accepted for ``LinearSVR``'s code; no effect (Newton on the primal,
        certified by a dual point).
    verbose : int, default=0
        Progress on standard output, each line with the time since the
        fit began: at 1, the feature map, the features, one line per Newton
        iteration (the largest gap against ``tol``) and a closing summary
        (iterations, certified gap, why it stopped); at 2, also each step's
        kind (direct or conjugate gradients), line-search length and
        smoothing, and the stages of the ``C`` path. ``partial_fit`` prints a
        line per call.
    random_state : int, RandomState instance or None, default=None
        Accepted for compatibility; the solver draws no random numbers.
    max_iter : int, default=1000
        Maximum number of Newton iterations (``-1``: no limit; ``0``: the
        starting point, as in :class:`KerasSVC`); a small problem's exact
        dual (see :class:`KerasSVC`'s Notes) is not bounded by it.
    batch_size : int, default=None
        Rows per batch on the device.
    cache_size : float, default=1024
        Megabytes allowed for keeping ``X`` (as float32) on the device.
    warm_start : bool, default=False
        When True, ``fit`` on an already fitted estimator with the same
        number of features starts from its solution.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
        Weights, as ``LinearSVR``'s.
    intercept_ : ndarray of shape (1,)
        The intercept (zero when ``fit_intercept=False``).
    support_ : ndarray of shape (n_SV,)
        Training rows with a non-zero dual variable (``fit`` only).
    n_support_ : ndarray of shape (1,), dtype int32
    n_iter_ : int
    objective_ : ndarray of shape (1,)
    dual_gap_ : ndarray of shape (1,)
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (``n_features_in_``,)

    See Also
    --------
    KerasSVR : The kernel SVR.
    sklearn.svm.LinearSVR : liblinear's linear SVR.

    Notes
    -----"""

    __doc__ += (
        _REGRESSION_NOTES
        + """
    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from kernelsvm_keras import KerasLinearSVR
    >>> X, y = make_regression(n_samples=200, n_features=5, noise=1.0, random_state=0)
    >>> reg = KerasLinearSVR(C=10).fit(X, y)
    >>> print(f"{reg.score(X, y):.3f}")
    1.000
    """
    )

    _parameter_constraints: dict = {
        **_BaseSVR._parameter_constraints,
        "fit_intercept": ["boolean"],
        "intercept_scaling": [Interval(Real, 0, None, closed="neither")],
        "dual": ["boolean", StrOptions({"auto"})],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        *,
        epsilon=0.0,
        tol=1e-4,
        C=1.0,
        loss="epsilon_insensitive",
        fit_intercept=True,
        intercept_scaling=1.0,
        dual="auto",
        verbose=0,
        random_state=None,
        max_iter=1000,
        batch_size=None,
        cache_size=1024,
        warm_start=False,
    ):
        self.epsilon = epsilon
        self.tol = tol
        self.C = C
        self.loss = loss
        self.fit_intercept = fit_intercept
        self.intercept_scaling = intercept_scaling
        self.dual = dual
        self.verbose = verbose
        self.random_state = random_state
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.cache_size = cache_size
        self.warm_start = warm_start

    def _make_feature_map(self, **overrides):
        return IdentityMap()

    def _fit_intercept(self):
        return self.fit_intercept

    def _publish(self, coef, intercept):
        self.coef_ = coef[0]
        self.intercept_ = intercept
