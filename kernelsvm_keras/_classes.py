"""The public estimators: KerasSVC and KerasLinearSVC."""

from numbers import Integral, Real

import numpy as np
from keras import ops
from sklearn.metrics.pairwise import rbf_kernel
from sklearn.svm import SVC, LinearSVC
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._base import BaseKerasSVM, set_weights_exactly
from .layers import (
    NystroemFeatures,
    RandomFourierFeatures,
    draw_nystroem_landmarks,
    draw_random_fourier_weights,
    nystroem_features,
    random_fourier_features,
)

_RFF_ATTRIBUTES = ("gamma_", "random_weights_", "random_offset_")
_NYSTROEM_ATTRIBUTES = ("gamma_", "components_", "component_indices_", "normalization_")

_SOLVER_NOTES = """
    The fit minimises, for every one-vs-rest problem (one problem for two
    classes), the SVM primal objective

    .. math::

        P(w, b) = \\frac12 \\|w\\|^2 + C \\sum_i s_i \\, \\ell(y_i (w \\cdot \\phi(x_i) + b)),
        \\qquad y_i \\in \\{-1, +1\\},

    with :math:`\\ell` the hinge :math:`\\max(0, 1 - m)` or the squared hinge
    :math:`\\max(0, 1 - m)^2`, :math:`s_i` the sample weight times the class
    weight of sample :math:`i`, and the intercept :math:`b` not penalised (as
    in libsvm). In a Keras model this is a ``Dense`` layer with an L2 kernel
    regulariser of strength :math:`1/(2 C n)` on the mean loss, without bias
    regularisation -- but the optimum is reached, not approximated by epochs.

    The solver is Newton's method on the primal (conjugate-gradient steps and
    an exact line search; the hinge through a shrinking Huber smoothing), with
    all one-vs-rest problems solved together as Keras tensor programs on the
    device Keras uses. It stops when the *certified* relative duality gap
    :math:`(P(w, b) - D(\\alpha)) / P(w, b)` of every problem is at most
    ``tol``, where :math:`\\alpha` is a dual-feasible point built from the
    current iterate: the objective reached is then within a factor
    :math:`1 + \\mathrm{tol}` of the optimum. Computation is in float32, so
    ``tol`` much below ``1e-5`` may not be reachable.
"""


class KerasSVC(BaseKerasSVM):
    """Kernel support vector classifier trained by Keras, on an approximate kernel map.

    A drop-in for :class:`sklearn.svm.SVC` (same parameter names, same meaning
    of ``C`` and ``gamma``) whose kernel is approximated by ``n_components``
    random Fourier features (Rahimi and Recht, 2007) or Nystroem landmarks
    (Williams and Seeger, 2001), and whose training is a Keras 3 program: it
    runs on a GPU whenever Keras sees one, its cost is linear in the number of
    samples, and it solves the SVM problem exactly on the approximate features.

    Parameters
    ----------
    C : float, default=1.0
        Inverse regularisation strength, as in :class:`~sklearn.svm.SVC`: the
        weight of the summed losses against ``1/2 ||w||^2``. Must be positive.
    kernel : {"rbf", "laplacian"}, default="rbf"
        Kernel approximated: ``exp(-gamma ||x - y||^2)`` or
        ``exp(-gamma ||x - y||_1)``.
    gamma : {"scale", "auto"} or float, default="scale"
        Kernel coefficient. ``"scale"`` uses ``1 / (n_features * X.var())``,
        ``"auto"`` uses ``1 / n_features``, as :class:`~sklearn.svm.SVC`.
    n_components : int, default=2048
        Number of random Fourier features, or of Nystroem landmarks (at most
        the number of training samples). More features approximate the kernel
        better, at a cost linear in ``n_components`` for random features (see
        the README for the accuracy / time trade-off).
    approximation : {"random_fourier", "nystroem"}, default="random_fourier"
        How the kernel is approximated. ``"random_fourier"``: random Fourier
        features, drawn independently of the data (the map of
        :class:`~sklearn.kernel_approximation.RBFSampler`). ``"nystroem"``
        (``kernel="rbf"`` only): the kernel evaluated against
        ``n_components`` training rows drawn at random (the map of
        :class:`~sklearn.kernel_approximation.Nystroem`, up to a rotation);
        it adapts to the data and approximates the kernel far better at the
        same number of features (on MNIST, 4096 landmarks reach SVC's accuracy
        where 4096 random features do not), for a one-off cost quadratic in
        ``n_components`` per training row (``n_samples * n_components^2``
        multiply-adds, plus an eigendecomposition of the landmarks' kernel
        matrix, ``O(n_components^3)``).
    loss : {"hinge", "squared_hinge"}, default="squared_hinge"
        Margin loss. ``"hinge"`` is the loss of :class:`~sklearn.svm.SVC`;
        ``"squared_hinge"`` (the default of :class:`~sklearn.svm.LinearSVC`) is
        as accurate in practice and its training converges in far fewer
        iterations, because the objective is differentiable.
    class_weight : dict or "balanced", default=None
        Multiply ``C`` by ``class_weight[c]`` for the samples of class ``c``
        (in every one-vs-rest problem). ``"balanced"`` uses
        ``n_samples / (n_classes * np.bincount(y))``.
    tol : float, default=1e-3
        Stop when the certified relative duality gap of every one-vs-rest
        problem is at most ``tol`` (see Notes).
    max_iter : int, default=1000
        Maximum number of Newton iterations; a
        :class:`~sklearn.exceptions.ConvergenceWarning` is raised when it is
        reached before ``tol``.
    batch_size : int, default=None
        Rows per batch on the device, in training and prediction. ``None``
        picks batches of about 64 MiB. It changes memory use and speed, not
        the solution.
    cache_size : float, default=1024
        Megabytes allowed for keeping the feature matrix
        ``(n_samples, n_components)`` on the device during ``fit``. Above it,
        the features are recomputed in batches at every pass over the data:
        memory stays bounded, training gets slower.
    decision_function_shape : {"ovr"}, default="ovr"
        Only ``"ovr"``: the classifier is one-vs-rest, so its decision
        function is always of shape ``(n_samples, n_classes)`` for more than
        two classes. Accepted so that code written for ``SVC`` runs unchanged.
    verbose : int, default=0
        Print the solver's progress when positive.
    warm_start : bool, default=False
        When True, ``fit`` on an already fitted estimator keeps its feature
        map (``random_weights_`` and ``random_offset_``, or ``components_`` and
        ``normalization_``) and starts the solver from its solution, provided
        the classes, ``kernel``, ``approximation``, ``n_components`` and the
        resolved ``gamma`` are unchanged (otherwise the fit starts afresh). A
        refit after ``set_params(C=...)`` then takes fewer iterations;
        ``random_state`` is not drawn from again.
    random_state : int, RandomState instance or None, default=None
        Seeds the draw of the random features or landmarks. For an integer seed
        and the RBF kernel, random features equal those of
        ``RBFSampler(gamma=gamma_, n_components=n_components, random_state=seed)``,
        and landmarks are those of ``Nystroem`` with the same arguments.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    coef_ : ndarray of shape (1, n_components) or (n_classes, n_components)
        Weights of the linear model on the features (one row for two
        classes).
    intercept_ : ndarray of shape (1,) or (n_classes,)
        Intercepts.
    gamma_ : float
        The kernel coefficient used (``gamma`` resolved).
    random_weights_ : ndarray of shape (n_features_in_, n_components)
        Random projection of the feature map (``"random_fourier"`` only).
    random_offset_ : ndarray of shape (n_components,)
        Random offsets of the feature map (``"random_fourier"`` only).
    components_ : ndarray of shape (n_landmarks, n_features_in_)
        The landmarks (``"nystroem"`` only): ``min(n_components, n_samples)``
        training rows.
    component_indices_ : ndarray of shape (n_landmarks,)
        Their indices in the training data (``"nystroem"`` only).
    normalization_ : ndarray of shape (n_landmarks, n_landmarks)
        Normalisation of the Nystroem map (``"nystroem"`` only; see
        :func:`~kernelsvm_keras.layers.nystroem_normalization`: beyond the
        numerical rank of the landmarks' kernel matrix its columns are zero,
        and so are those features).
    n_iter_ : int
        Newton iterations run.
    objective_ : ndarray of shape (1,) or (n_classes,)
        Primal objective of each one-vs-rest problem at the solution.
    dual_gap_ : ndarray of shape (1,) or (n_classes,)
        Certified relative duality gap of each problem at the solution.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when ``X`` has string column names.

    See Also
    --------
    KerasLinearSVC : The linear SVM.
    sklearn.svm.SVC : The exact kernel SVM (quadratic in the number of samples).
    sklearn.kernel_approximation.RBFSampler : The random Fourier map as a transformer.
    sklearn.kernel_approximation.Nystroem : The Nystroem map as a transformer.

    Notes
    -----
    The decision function is, with ``D = n_components``::

        sqrt(2 / D) * cos(X @ random_weights_ + random_offset_) @ coef_.T + intercept_

    for random Fourier features, and for Nystroem::

        rbf_kernel(X, components_, gamma=gamma_) @ normalization_ @ coef_.T + intercept_

    (raveled for two classes). Multiclass problems are solved one-vs-rest, not
    one-vs-one as in ``SVC``; there is therefore no ``break_ties`` parameter
    (an argmax over one-vs-rest scores has no voting ties).

    There is no ``probability`` parameter (deprecated on ``SVC`` since
    scikit-learn 1.9): wrap the estimator in
    :class:`~sklearn.calibration.CalibratedClassifierCV` instead.
    """

    __doc__ += (
        _SOLVER_NOTES
        + """
    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.model_selection import train_test_split
    >>> from kernelsvm_keras import KerasSVC
    >>> X, y = load_digits(return_X_y=True)
    >>> X_train, X_test, y_train, y_test = train_test_split(X / 16, y, random_state=0)
    >>> clf = KerasSVC(C=10, random_state=0).fit(X_train, y_train)
    >>> print(f"{clf.score(X_test, y_test):.2f}")
    0.99
    """
    )

    _parameter_constraints: dict = {
        **BaseKerasSVM._parameter_constraints,
        "kernel": [StrOptions({"rbf", "laplacian"})],
        "gamma": [StrOptions({"scale", "auto"}), Interval(Real, 0.0, None, closed="neither")],
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "approximation": [StrOptions({"random_fourier", "nystroem"})],
        "decision_function_shape": [StrOptions({"ovr"})],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        *,
        C=1.0,
        kernel="rbf",
        gamma="scale",
        n_components=2048,
        approximation="random_fourier",
        loss="squared_hinge",
        class_weight=None,
        tol=1e-3,
        max_iter=1000,
        batch_size=None,
        cache_size=1024,
        decision_function_shape="ovr",
        verbose=0,
        warm_start=False,
        random_state=None,
    ):
        self.C = C
        self.kernel = kernel
        self.gamma = gamma
        self.n_components = n_components
        self.approximation = approximation
        self.loss = loss
        self.class_weight = class_weight
        self.tol = tol
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.cache_size = cache_size
        self.decision_function_shape = decision_function_shape
        self.verbose = verbose
        self.warm_start = warm_start
        self.random_state = random_state

    _map_attributes = tuple(dict.fromkeys(_RFF_ATTRIBUTES + _NYSTROEM_ATTRIBUTES))

    def _feature_map(self, X, random_state):
        fitted = _draw_kernel_map(
            X, self.approximation, self.gamma, self.n_components, self.kernel, random_state
        )
        return self._transform_of(fitted), _map_width(fitted), fitted

    def _feature_map_key(self, fitted):
        return (self.kernel, self.approximation, fitted["gamma_"], _map_width(fitted))

    def _transform_of(self, fitted):
        return _kernel_map_transform(fitted)

    def _fitted_map(self):
        names = _NYSTROEM_ATTRIBUTES if hasattr(self, "components_") else _RFF_ATTRIBUTES
        return {name: getattr(self, name) for name in names}

    def _features(self, X):
        return _kernel_map_numpy(self._fitted_map(), X)

    def _decision_values(self, X):
        if not hasattr(self, "components_"):
            return super()._decision_values(X)
        # k(X, Z) @ (N @ coef^T): never the (n, m) @ (m, m) product of the features
        kernel = rbf_kernel(X, self.components_, gamma=self.gamma_)
        return kernel @ (self.normalization_ @ self.coef_.T) + self.intercept_

    def _keras_feature_layers(self, dtype):
        if hasattr(self, "components_"):
            layer = NystroemFeatures(
                self.components_.shape[0], gamma=self.gamma_, dtype=dtype, name="features"
            )
            arrays = [self.components_, self.normalization_]
        else:
            layer = RandomFourierFeatures(
                self.random_weights_.shape[1],
                gamma=self.gamma_,
                kernel=self.kernel,
                dtype=dtype,
                name="features",
            )
            arrays = [self.random_weights_, self.random_offset_]
        layer.build((None, self.n_features_in_))
        set_weights_exactly(layer, arrays)
        return [layer]


class KerasLinearSVC(BaseKerasSVM):
    """Linear support vector classifier trained by Keras.

    A drop-in for :class:`sklearn.svm.LinearSVC` whose training is a Keras 3
    program (on a GPU whenever Keras sees one) that reaches the optimum of the
    SVM primal objective, with an unpenalised intercept.

    Parameters
    ----------
    C : float, default=1.0
        Inverse regularisation strength: the weight of the summed losses
        against ``1/2 ||w||^2``. Must be positive.
    loss : {"hinge", "squared_hinge"}, default="squared_hinge"
        Margin loss; ``"squared_hinge"`` is ``LinearSVC``'s default.
    fit_intercept : bool, default=True
        Whether to fit an intercept. Unlike liblinear's, the intercept is not
        penalised, so there is no ``intercept_scaling``.
    class_weight : dict or "balanced", default=None
        Multiply ``C`` by ``class_weight[c]`` for the samples of class ``c``
        (in every one-vs-rest problem). ``"balanced"`` uses
        ``n_samples / (n_classes * np.bincount(y))``.
    tol : float, default=1e-3
        Stop when the certified relative duality gap of every one-vs-rest
        problem is at most ``tol`` (see Notes).
    max_iter : int, default=1000
        Maximum number of Newton iterations; a
        :class:`~sklearn.exceptions.ConvergenceWarning` is raised when it is
        reached before ``tol``.
    multi_class : {"ovr"}, default="ovr"
        Only one-vs-rest; accepted so that code written for ``LinearSVC`` runs
        unchanged.
    batch_size : int, default=None
        Rows per batch on the device. ``None`` picks batches of about 64 MiB.
        It changes memory use and speed, not the solution.
    cache_size : float, default=1024
        Megabytes allowed for keeping ``X`` (as float32) on the device during
        ``fit``; above it, ``X`` is sent in batches at every pass.
    verbose : int, default=0
        Print the solver's progress when positive.
    warm_start : bool, default=False
        When True, ``fit`` on an already fitted estimator with the same
        classes and number of features starts the solver from its solution
        (fewer iterations after ``set_params(C=...)``).
    random_state : int, RandomState instance or None, default=None
        Accepted for compatibility with ``LinearSVC``; the solver is
        deterministic and draws no random numbers.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        Weights (one row for two classes).
    intercept_ : ndarray of shape (1,) or (n_classes,)
        Intercepts (zeros when ``fit_intercept=False``).
    n_iter_ : int
        Newton iterations run.
    objective_ : ndarray of shape (1,) or (n_classes,)
        Primal objective of each one-vs-rest problem at the solution.
    dual_gap_ : ndarray of shape (1,) or (n_classes,)
        Certified relative duality gap of each problem at the solution.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when ``X`` has string column names.

    See Also
    --------
    KerasSVC : The kernel SVM on random Fourier features.
    sklearn.svm.LinearSVC : liblinear's linear SVM.

    Notes
    -----
    The decision function is ``X @ coef_.T + intercept_`` (raveled for two
    classes). ``penalty="l1"`` and ``multi_class="crammer_singer"`` of
    ``LinearSVC`` are not offered.
    """

    __doc__ += (
        _SOLVER_NOTES
        + """
    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from kernelsvm_keras import KerasLinearSVC
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> clf = make_pipeline(StandardScaler(), KerasLinearSVC(C=0.1)).fit(X, y)
    >>> print(f"{clf.score(X, y):.2f}")
    0.99
    """
    )

    _parameter_constraints: dict = {
        **BaseKerasSVM._parameter_constraints,
        "fit_intercept": ["boolean"],
        "multi_class": [StrOptions({"ovr"})],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        *,
        C=1.0,
        loss="squared_hinge",
        fit_intercept=True,
        class_weight=None,
        tol=1e-3,
        max_iter=1000,
        multi_class="ovr",
        batch_size=None,
        cache_size=1024,
        verbose=0,
        warm_start=False,
        random_state=None,
    ):
        self.C = C
        self.loss = loss
        self.fit_intercept = fit_intercept
        self.class_weight = class_weight
        self.tol = tol
        self.max_iter = max_iter
        self.multi_class = multi_class
        self.batch_size = batch_size
        self.cache_size = cache_size
        self.verbose = verbose
        self.warm_start = warm_start
        self.random_state = random_state

    @classmethod
    def from_sklearn(cls, estimator):
        """A fitted KerasLinearSVC with the hyperplanes of a fitted scikit-learn SVM.

        The decision function of the result equals the source's (to float64
        rounding), and so do ``predict`` and ``score``; ``to_keras`` then turns
        it into a Keras model.

        Parameters
        ----------
        estimator : LinearSVC or SVC
            A fitted :class:`~sklearn.svm.LinearSVC` (two or more classes), or
            a fitted :class:`~sklearn.svm.SVC` with ``kernel="linear"`` and two
            classes. A multiclass ``SVC`` is one-vs-one: its decision values
            are votes between pairs of hyperplanes, which no one-vs-rest
            linear model reproduces. A non-linear ``SVC`` has no weight vector
            at all: its decision function is a sum of kernels over its support
            vectors, and random features only approximate it; retrain a
            ``KerasSVC`` on the data, or distil the ``SVC`` into one (see the
            README).

        Returns
        -------
        KerasLinearSVC
            Fitted: ``classes_``, ``coef_``, ``intercept_``,
            ``n_features_in_`` (and ``feature_names_in_`` when the source has
            them) are copies of the source's. ``C``, ``loss``,
            ``fit_intercept``, ``class_weight`` and ``tol`` are the source's,
            so that calling ``fit`` solves the source's problem (with an
            unpenalised intercept, where liblinear penalises it). There is no
            ``n_iter_``, ``objective_`` or ``dual_gap_``: no training happened.
        """
        check_is_fitted(estimator)
        if isinstance(estimator, LinearSVC):
            if estimator.penalty != "l2" or estimator.multi_class != "ovr":
                raise ValueError(
                    "Only LinearSVC(penalty='l2', multi_class='ovr') has the same problem as "
                    f"KerasLinearSVC; got penalty={estimator.penalty!r}, "
                    f"multi_class={estimator.multi_class!r}."
                )
            params = {"loss": estimator.loss, "fit_intercept": estimator.fit_intercept}
        elif isinstance(estimator, SVC):
            if estimator.kernel != "linear":
                raise ValueError(
                    f"SVC(kernel={estimator.kernel!r}) has no weight vector: its decision "
                    "function is a sum of kernels over its support vectors, which a linear "
                    "model cannot reproduce exactly. Retrain KerasSVC on the data, or fit a "
                    "KerasSVC to the SVC's decisions (distillation, see the README)."
                )
            if len(estimator.classes_) != 2:
                raise ValueError(
                    f"SVC is one-vs-one for {len(estimator.classes_)} classes: its decision "
                    "values are votes between pairs of hyperplanes, which a one-vs-rest "
                    "linear model does not reproduce. Only binary SVC(kernel='linear') "
                    "converts exactly; LinearSVC converts for any number of classes."
                )
            params = {"loss": "hinge", "fit_intercept": True}
        else:
            raise TypeError(
                "from_sklearn takes a fitted sklearn.svm.LinearSVC or SVC(kernel='linear'), "
                f"got {type(estimator).__name__}."
            )
        converted = cls(
            C=estimator.C, class_weight=estimator.class_weight, tol=estimator.tol, **params
        )
        converted.classes_ = np.array(estimator.classes_, copy=True)
        coef = estimator.coef_
        # SVC fitted on sparse data has a sparse coef_.
        converted.coef_ = np.array(coef.toarray() if hasattr(coef, "toarray") else coef, float)
        converted.intercept_ = np.array(estimator.intercept_, dtype=np.float64)
        converted.n_features_in_ = estimator.n_features_in_
        if hasattr(estimator, "feature_names_in_"):
            converted.feature_names_in_ = np.array(estimator.feature_names_in_, copy=True)
        return converted

    def _feature_map(self, X, random_state):
        return None, X.shape[1], {}

    def _features(self, X):
        return X

    def _fit_intercept(self):
        return self.fit_intercept


def _resolve_gamma(gamma, X):
    """``gamma`` as SVC resolves it: "scale", "auto" or a number."""
    if gamma == "scale":
        if hasattr(X, "multiply"):
            variance = X.multiply(X).mean() - X.mean() ** 2
        else:
            variance = _blockwise_variance(X)
        return 1.0 / (X.shape[1] * variance) if variance != 0 else 1.0
    if gamma == "auto":
        return 1.0 / X.shape[1]
    return float(gamma)


def _blockwise_variance(X, block_elements=2**18):
    """``X.var()`` in two passes over row blocks: no temporary of the size of ``X``.

    ``X`` may be a memory map larger than memory.
    """
    rows = max(1, block_elements // max(1, X.shape[1]))
    blocks = [slice(start, start + rows) for start in range(0, X.shape[0], rows)]
    mean = sum(np.sum(X[block], dtype=np.float64) for block in blocks) / X.size
    squares = sum(np.sum(np.square(np.asarray(X[block], np.float64) - mean)) for block in blocks)
    return squares / X.size


def _draw_rff(X, gamma, n_components, kernel, random_state):
    """Resolve ``gamma`` on ``X`` and draw a random Fourier map: its fitted attributes."""
    gamma_ = _resolve_gamma(gamma, X)
    weights, offset = draw_random_fourier_weights(
        X.shape[1], n_components, gamma_, kernel, random_state
    )
    if not np.all(np.isfinite(weights.astype(np.float32))):
        raise ValueError(
            f"gamma_={gamma_:.3g} (from gamma={gamma!r}) makes the random weights "
            "overflow float32, the precision of training; rescale X (for instance with "
            "StandardScaler) or pass a smaller gamma."
        )
    return {"gamma_": gamma_, "random_weights_": weights, "random_offset_": offset}


def _draw_kernel_map(X, approximation, gamma, n_components, kernel, random_state):
    """Resolve ``gamma`` on ``X`` and draw the feature map: its fitted attributes."""
    if approximation == "random_fourier":
        return _draw_rff(X, gamma, n_components, kernel, random_state)
    if kernel != "rbf":
        raise ValueError(
            f"approximation='nystroem' supports kernel='rbf' only, got kernel={kernel!r}; "
            "use approximation='random_fourier' for the Laplacian kernel."
        )
    gamma_ = _resolve_gamma(gamma, X)
    indices, components, normalization = draw_nystroem_landmarks(
        X, min(n_components, X.shape[0]), gamma_, random_state
    )
    return {
        "gamma_": gamma_,
        "components_": components,
        "component_indices_": indices,
        "normalization_": normalization,
    }


def _map_width(fitted):
    """Number of features of a fitted map."""
    if "components_" in fitted:
        return fitted["components_"].shape[0]
    return fitted["random_weights_"].shape[1]


def _kernel_map_transform(fitted):
    """The fitted map as a callable on float32 tensors (training)."""
    if "components_" not in fitted:
        return _rff_transform(fitted["random_weights_"], fitted["random_offset_"])
    components = ops.convert_to_tensor(np.asarray(fitted["components_"], dtype=np.float32))
    normalization = ops.convert_to_tensor(np.asarray(fitted["normalization_"], dtype=np.float32))
    gamma = fitted["gamma_"]
    return lambda rows: nystroem_features(rows, components, normalization, gamma)


def _kernel_map_numpy(fitted, X):
    """The fitted map in float64 NumPy (exact; sparse ``X`` too)."""
    if "components_" not in fitted:
        return _rff_numpy(X, fitted["random_weights_"], fitted["random_offset_"])
    return rbf_kernel(X, fitted["components_"], gamma=fitted["gamma_"]) @ fitted["normalization_"]


def _rff_numpy(X, weights, offset):
    """The random Fourier feature map in float64 NumPy (exact, for prediction)."""
    projection = X @ weights
    projection += offset
    np.cos(projection, out=projection)
    projection *= np.sqrt(2.0 / weights.shape[1])
    return projection


def _rff_transform(weights, offset):
    """The random Fourier feature map as a callable on float32 tensors."""
    weights = ops.convert_to_tensor(np.asarray(weights, dtype=np.float32))
    offset = ops.convert_to_tensor(np.asarray(offset, dtype=np.float32))
    return lambda rows: random_fourier_features(rows, weights, offset)
