"""The public estimators: KerasSVC and KerasLinearSVC."""

import warnings
from numbers import Real

import numpy as np
import scipy.optimize
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.svm import SVC, LinearSVC
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Hidden, Interval, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from ._base import _KERNEL_CONSTRAINTS, BaseKerasSVM, _KernelMapMixin
from ._loss import get_loss
from ._maps import IdentityMap

# SVC's default for `probability`: "deprecated" from scikit-learn 1.9, when
# the parameter was deprecated (then any explicit value warns), else False.
_PROBABILITY_DEFAULT = SVC().get_params().get("probability", False)

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

    Small problems (at most 5,000 training rows per binary problem, with an
    intercept) skip the Newton iterations: each binary problem's dual is solved exactly in
    float64 by libsvm, the optimiser of :class:`~sklearn.svm.SVC`, on the
    Gram matrix of the features (with :math:`1/(2 C s_i)` added to its
    diagonal for the squared hinge), on its rows of positive weight. The
    same float64 certificate then measures the gap of :math:`w = \\phi^T
    \\beta`; where it is above ``tol``, Newton's method goes on from there.
"""


class KerasSVC(_KernelMapMixin, BaseKerasSVM):
    """Kernel support vector classifier trained by Keras, on an approximate kernel map.

    A drop-in for :class:`sklearn.svm.SVC`: the same parameters with the same
    meaning of ``C``, ``kernel``, ``gamma``, ``degree`` and ``coef0`` (see the
    README's table for the few that mean something else here), whose kernel
    is approximated by ``n_components`` Nystroem landmarks (Williams and
    Seeger, 2001) or random Fourier features (Rahimi and Recht, 2007), and
    whose training is a Keras 3 program: it runs on a GPU whenever Keras sees
    one, its cost is linear in the number of samples, and it solves the SVM
    problem to a certified optimum on the approximate features. With at most
    ``n_components`` training rows, every row is a landmark and the kernel is
    exact (up to the eigenvalue cut-off, see Notes).

    Parameters
    ----------
    C : float, default=1.0
        Inverse regularisation strength, as in :class:`~sklearn.svm.SVC`: the
        weight of the summed losses against ``1/2 ||w||^2``. Must be positive;
        ``C=inf`` is the hard margin (no margin violated, ``||w||`` least),
        solved by the hinge's exact dual up to a few thousand rows and
        refused where the features do not separate the classes.
    kernel : {"linear", "poly", "rbf", "sigmoid", "laplacian", "precomputed"} \
or callable, default="rbf"
        The kernel, with scikit-learn's conventions
        (:mod:`sklearn.metrics.pairwise`): ``"linear"`` ``<x, y>`` (the exact
        linear SVM on ``X``, no approximation), ``"poly"`` ``(gamma <x, y> +
        coef0) ** degree``, ``"rbf"`` ``exp(-gamma ||x - y||^2)``,
        ``"laplacian"`` ``exp(-gamma ||x - y||_1)``, ``"sigmoid"``
        ``tanh(gamma <x, y> + coef0)``. ``"precomputed"``: ``fit`` takes the
        kernel matrix of the training rows, ``(n_samples, n_samples)``, and
        ``predict`` the kernel against them, ``(n_test, n_samples)``. A
        callable ``kernel(A, B)`` returns the ``(len(A), len(B))`` kernel of
        two float64 arrays; it is called on blocks of rows against the
        landmarks, never on all pairs.
    degree : int, default=3
        Degree of the polynomial kernel (ignored by the others).
    gamma : {"scale", "auto"} or float, default="scale"
        Coefficient of the rbf, poly, sigmoid and laplacian kernels.
        ``"scale"`` uses ``1 / (n_features * X.var())``, ``"auto"`` uses
        ``1 / n_features``, as :class:`~sklearn.svm.SVC`.
    coef0 : float, default=0.0
        Constant of the poly and sigmoid kernels.
    shrinking : bool, default=True
        libsvm's shrinking heuristic, as in ``SVC``, for the small problems
        solved by libsvm's dual (see Notes); no effect on the Newton solver
        (which restricts each step to the rows in the loss's curved zone
        anyway). It changes the time, not the solution.
    probability : bool, default="deprecated"
        As in :class:`~sklearn.svm.SVC` of the installed scikit-learn,
        including its ``FutureWarning`` when given (deprecated since
        scikit-learn 1.9). ``True`` enables :meth:`predict_proba`: Platt
        scaling fitted on 5-fold cross-validated decision values (one sigmoid
        per one-vs-rest problem, normalised over the classes), which costs
        five more fits. ``CalibratedClassifierCV(KerasSVC(), ensemble=False)``
        is the supported route.
    tol : float, default=1e-3
        Stop when the certified relative duality gap of every one-vs-rest
        problem is at most ``tol`` (see Notes). ``SVC``'s ``tol`` bounds
        libsvm's KKT violation instead; both default to ``1e-3``.
    cache_size : float, default=1024
        Megabytes allowed for keeping the feature matrix
        ``(n_samples, n_components)`` on the device during ``fit`` (``SVC``:
        its kernel cache). Above it, the features are recomputed in batches
        at every pass over the data: memory stays bounded, training slower
        (landmarks recompute only the kernel block ``k(X, Z)``; their
        normalisation is applied to the coefficients instead).
    class_weight : dict or "balanced", default=None
        Multiply ``C`` by ``class_weight[c]`` for the samples of class ``c``
        (in every one-vs-rest problem). ``"balanced"`` uses
        ``n_samples / (n_classes * np.bincount(y))``.
    verbose : int, default=0
        Progress on standard output, each line with the time since the
        fit began: at 1, the feature map, the features, one line per Newton
        iteration (the largest gap against ``tol``) and a closing summary
        (iterations, certified gap, why it stopped); at 2, also each step's
        kind (direct or conjugate gradients), line-search length and
        smoothing, and the stages of the ``C`` path. ``partial_fit`` prints a
        line per call.
    max_iter : int, default=1000
        Maximum number of Newton iterations (``-1``: no limit, as ``SVC``); a
        :class:`~sklearn.exceptions.ConvergenceWarning` is raised when it is
        reached before ``tol``. A small problem's exact dual (see Notes) is
        not bounded by it. ``0``, as in ``SVC``: no solver runs, and the fit
        returns its starting point (zero weights, or the fitted ones with
        ``warm_start``) with its certified gap.
    decision_function_shape : {"ovr", "ovo"}, default="ovr"
        Shape of :meth:`decision_function` for more than two classes:
        ``"ovr"`` ``(n_samples, n_classes)``, the one-vs-rest scores;
        ``"ovo"`` ``(n_samples, n_classes * (n_classes - 1) / 2)``, one column
        per pair ``(i, j)``, ``i < j``, in ``SVC``'s order, positive where
        class ``i`` is preferred: here the difference of the two classes'
        one-vs-rest scores (training is one-vs-rest; see Notes).
    break_ties : bool, default=False
        Accepted for ``SVC``'s code; ``predict`` is the argmax of the
        one-vs-rest scores, which is what ``SVC`` computes with
        ``break_ties=True``. As in ``SVC``, ``True`` with
        ``decision_function_shape="ovo"`` is an error of :meth:`predict`
        (``fit`` and :meth:`decision_function` take it).
    random_state : int, RandomState instance or None, default=None
        Seeds the draw of the landmarks or random features (and the folds of
        ``probability=True``). For an integer seed, landmarks are those of
        :class:`~sklearn.kernel_approximation.Nystroem` with the same
        arguments (with ``approximation="auto"``, until a fit moves them
        onto its support vectors) and random features those of
        :class:`~sklearn.kernel_approximation.RBFSampler` (rbf).
    n_components : int, default=2048
        Number of landmarks (at most the number of training samples), or of
        random Fourier features. More approximate the kernel better (see the
        README for the accuracy / time trade-off). A hinge fit that ``"auto"``
        solves on the kernel itself first keeps its support vectors alone as
        landmarks, where they are at most this many (see Notes).
    approximation : {"auto", "nystroem", "random_fourier"}, default="auto"
        How the kernel is approximated. ``"nystroem"``: the kernel evaluated
        against ``n_components`` training rows drawn at random (the map of
        :class:`~sklearn.kernel_approximation.Nystroem`, up to a rotation),
        for every kernel; it adapts to the data (on MNIST, 4096 landmarks
        reach SVC's accuracy where 4096 random features do not) for a one-off
        cost of ``n_samples * n_components^2`` multiply-adds and an
        eigendecomposition of the landmarks' kernel matrix.
        ``"random_fourier"``: random features drawn independently of the
        data, rbf and laplacian only. ``"auto"``: the exact linear SVM for
        ``kernel="linear"``, landmarks otherwise (the choice is measured in
        ``benchmarks/RESULTS.md``), moved onto the support vectors where
        they fit: a fit on drawn landmarks (fewer than the rows) whose
        support vectors are at most ``n_components`` is repeated on
        landmarks that hold them, the draw filling the rest, and the fit of
        lower objective is kept (at most three repeats; see Notes). The
        kernel SVM's solution is a sum of kernels over its support vectors,
        so a fit that holds them all is ``SVC``'s own solution; on w8a's
        hinge, 98.61% against 97.69% on the drawn landmarks (``SVC``
        98.64%), for a second fit.
    multi_class : {"auto", "ovr", "ovo"}, default="auto"
        How more than two classes are trained. ``"ovr"``: one problem per
        class against the rest, on every row. ``"ovo"``: one problem per pair
        of classes on that pair's rows, as ``SVC`` (its ``coef_`` then has
        one row per pair, in ``SVC``'s order, and ``predict`` counts votes);
        all pairs are solved together, as one program, on the shared feature
        map. ``"auto"``: ``"ovo"`` for ``kernel="linear"`` (one hyperplane
        per class against the rest scored 5 to 15 points below ``SVC`` on
        pendigits and letter, where one per pair is 0.3 and 0.5 below, and
        was slower on MNIST), ``"ovr"`` for the other kernels (as accurate
        as ``SVC`` or more, at a fraction of one-vs-one's cost). See the
        README for the measured trade-off.
    loss : {"auto", "hinge", "squared_hinge"}, default="auto"
        Margin loss. ``"hinge"`` is the loss of :class:`~sklearn.svm.SVC`;
        ``"squared_hinge"`` (the default of :class:`~sklearn.svm.LinearSVC`)
        was as accurate or more on approximated kernels, and faster on
        large data, because the objective is differentiable. ``"auto"``:
        ``"hinge"`` for ``kernel="linear"`` trained one-vs-one (its default,
        and every two-class problem): ``SVC(kernel="linear")``'s own problem,
        solved exactly, with its accuracy (letter 85.42%, pendigits 95.65%,
        MNIST 91.70%, where the squared hinge scored 0.02 to 0.52 points
        less); ``"squared_hinge"`` otherwise. See the README for the
        measured trade-off.
    batch_size : int, default=None
        Rows per batch on the device, in training and prediction. ``None``
        picks batches of about 64 MiB. It changes memory use and speed, not
        the solution.
    warm_start : bool, default=False
        When True, ``fit`` on an already fitted estimator keeps its feature
        map (its random draw included) and starts the solver from its
        solution, provided the classes and the map (kernel, approximation,
        width, resolved ``gamma``, ``degree``, ``coef0``) are unchanged
        (otherwise the fit starts afresh). A refit after
        ``set_params(C=...)`` then takes fewer Newton iterations; a small
        problem's exact dual (see Notes) is solved afresh, at little cost.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    class_weight_ : ndarray of shape (n_classes,)
        The weight of each class (``class_weight`` resolved), as ``SVC``.
    coef_ : ndarray of shape (n_problems, n_features_out)
        Weights of the linear model on the features, one row per binary
        problem: one for two classes, ``n_classes`` one-vs-rest, or
        ``n_classes * (n_classes - 1) / 2`` one-vs-one. For
        ``kernel="linear"`` and the default approximation, the weights on
        ``X`` itself.
    intercept_ : ndarray of shape (n_problems,)
        Intercepts.
    support_ : ndarray of shape (n_SV,)
        Indices of the training rows whose dual variable is non-zero in some
        binary problem (margin below one), ordered by class, then row,
        as ``SVC`` orders them (``fit`` only, not ``partial_fit``).
    n_support_ : ndarray of shape (n_classes,), dtype int32
        Number of those rows per class.
    support_vectors_ : {ndarray, sparse matrix} of shape (n_SV, n_features)
        Those rows of the training ``X``, in float64 (sparse where ``X`` was;
        ``(0, 0)`` for ``kernel="precomputed"``), as ``SVC`` keeps them;
        absent where they would take more than ``cache_size`` megabytes (a
        fit that streams its features keeps no copy of ``X``).
    gamma_ : float
        The kernel coefficient used (``gamma`` resolved; for kernel maps).
    components_ : ndarray of shape (n_landmarks, ``n_features_in_``)
        The landmarks: ``min(n_components, n_samples)`` training rows
        (landmark maps of a computed kernel).
    component_indices_ : ndarray of shape (n_landmarks,)
        Their indices in the training data (landmark maps; for
        ``"precomputed"``, the landmarks' columns of the kernel matrix).
    normalization_ : ndarray of shape (n_landmarks, n_landmarks)
        Normalisation of the Nystroem map (see
        :func:`~kernelsvm_keras.layers.nystroem_normalization`). Where no
        eigenvalue of the landmarks' kernel matrix is dropped, the inverse
        transposed Cholesky factor of that matrix (problems small enough for
        the exact dual, at most 5,000 rows), or that factor rotated so that
        the first 256 features are the matrix's leading eigen-directions
        (more than 1,024 landmarks): the same kernel in rotated features, at
        a quarter of the eigendecomposition's cost. Elsewhere the eigenbasis,
        whose columns beyond the numerical rank of the matrix are zero, and
        so are those features.
    random_weights_ : ndarray of shape (``n_features_in_``, n_components)
        Random projection of the feature map (``"random_fourier"`` only).
    random_offset_ : ndarray of shape (n_components,)
        Random offsets of the feature map (``"random_fourier"`` only).
    fit_status_ : int
        0 where the certified gap met ``tol``, 1 where it did not (with a
        ``ConvergenceWarning``), as libsvm's estimators report it.
    shape_fit_ : tuple of int
        The shape of the training ``X`` (``fit`` only).
    n_iter_ : ndarray of shape (n_problems,), dtype int32
        Iterations of each binary problem, as ``SVC`` counts them per pair:
        libsvm's when the problem was small enough for its exact dual (see
        Notes; summed over working sets), else the Newton iterations in
        which the problem had not yet converged.
    objective_ : ndarray of shape (n_problems,)
        Primal objective of each binary problem at the solution.
    dual_gap_ : ndarray of shape (n_problems,)
        Certified relative duality gap of each problem at the solution.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Names of features seen during fit, when ``X`` has string column names.

    See Also
    --------
    KerasLinearSVC : The linear SVM.
    sklearn.svm.SVC : The exact kernel SVM (quadratic in the number of samples).
    sklearn.kernel_approximation.Nystroem : The Nystroem map as a transformer.
    sklearn.kernel_approximation.RBFSampler : The random Fourier map as a transformer.

    Notes
    -----
    The decision function is, for landmarks (``D`` landmarks ``Z``)::

        kernel(X, components_) @ normalization_ @ coef_.T + intercept_

    with ``kernel`` the kernel function of :mod:`sklearn.metrics.pairwise`
    (for ``"precomputed"``: ``X[:, component_indices_]``), and for random
    Fourier features::

        sqrt(2 / D) * cos(X @ random_weights_ + random_offset_) @ coef_.T + intercept_

    (raveled for two classes). The landmarks' kernel matrix is
    eigendecomposed and its eigenvalues of magnitude at most ``1e-4`` times
    its median diagonal entry are dropped; the magnitudes of negative
    eigenvalues (a kernel that is not positive semi-definite, such as the
    sigmoid) are used, as ``Nystroem`` does.

    A landmark fit solves the kernel SVM over the functions ``sum_j a_j
    k(., z_j)`` of its landmarks, with their exact norm: its
    ``objective_`` is the kernel SVM's objective at its solution, which
    ``SVC``'s solution, a sum over its support vectors, can only lower.
    With ``approximation="auto"`` the landmarks are therefore moved onto
    the support vectors where they fit (``support_`` of every fit met so
    far, at most ``n_components``, the draw filling the rest), and the fit
    of lowest objective is kept; ``component_indices_`` says which rows
    the landmarks are. A hinge fit solved on the kernel itself first (as
    ``SVC``; see the README, "The kernel itself first") is ``SVC``'s
    solution, and its landmarks are its support vectors alone: fewer than
    ``n_components`` where they are fewer. ``approximation="nystroem"``
    keeps the draw.

    With ``multi_class="ovr"`` (the default but for the linear kernel)
    multiclass problems are trained one-vs-rest, and the decision function of
    ``decision_function_shape="ovo"`` is derived from the one-vs-rest scores;
    with ``multi_class="ovo"``, one-vs-one as ``SVC``, whose
    ``decision_function_shape="ovr"`` is ``SVC``'s transformation of the
    pairs' votes and confidences.
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
        **_KERNEL_CONSTRAINTS,
        "C": [Interval(Real, 0.0, None, closed="right")],  # SVC's: inf is the hard margin
        "probability": ["boolean", Hidden(StrOptions({"deprecated"}))],
        "decision_function_shape": [StrOptions({"ovr", "ovo"})],
        "break_ties": ["boolean"],
        "multi_class": [StrOptions({"auto", "ovr", "ovo"})],
        "loss": [StrOptions({"auto", "hinge", "squared_hinge"})],
    }

    def __init__(
        self,
        *,
        C=1.0,
        kernel="rbf",
        degree=3,
        gamma="scale",
        coef0=0.0,
        shrinking=True,
        probability=_PROBABILITY_DEFAULT,
        tol=1e-3,
        cache_size=1024,
        class_weight=None,
        verbose=0,
        max_iter=1000,
        decision_function_shape="ovr",
        break_ties=False,
        random_state=None,
        n_components=2048,
        approximation="auto",
        multi_class="auto",
        loss="auto",
        batch_size=None,
        warm_start=False,
    ):
        self.C = C
        self.kernel = kernel
        self.degree = degree
        self.gamma = gamma
        self.coef0 = coef0
        self.shrinking = shrinking
        self.probability = probability
        self.tol = tol
        self.cache_size = cache_size
        self.class_weight = class_weight
        self.verbose = verbose
        self.max_iter = max_iter
        self.decision_function_shape = decision_function_shape
        self.break_ties = break_ties
        self.random_state = random_state
        self.n_components = n_components
        self.approximation = approximation
        self.multi_class = multi_class
        self.loss = loss
        self.batch_size = batch_size
        self.warm_start = warm_start

    def _fit(self, X, y, sample_weight):
        if _PROBABILITY_DEFAULT == "deprecated" and self.probability != "deprecated":
            warnings.warn(  # SVC's warning for any value given, in the installed scikit-learn
                "The `probability` parameter was deprecated in 1.9 and will be removed in "
                "version 1.11. Use `CalibratedClassifierCV(KerasSVC(), ensemble=False)` "
                "instead of `KerasSVC(probability=True)`",
                FutureWarning,
                stacklevel=3,
            )
        self.__dict__.pop("_platt", None)
        super()._fit(X, y, sample_weight)
        if self.probability is True:
            self._platt = self._fit_platt(X, y, sample_weight)
        return self

    @classmethod
    def from_sklearn(cls, estimator):
        """A fitted KerasSVC with the hyperplanes of a fitted ``SVC(kernel="linear")``.

        Any number of classes: for more than two, the result is one-vs-one
        (``multi_class="ovo"``) with ``SVC``'s pairs in ``SVC``'s order, so
        that ``decision_function`` (in either ``decision_function_shape``),
        ``predict`` and ``score`` equal the source's (to float64 rounding);
        ``to_keras`` then turns it into a Keras model.

        Parameters
        ----------
        estimator : SVC
            A fitted :class:`~sklearn.svm.SVC` with ``kernel="linear"``. A
            non-linear ``SVC`` has no weight vector (its decision function is
            a sum of kernels over its support vectors): retrain a
            ``KerasSVC`` on the data instead. For a ``LinearSVC``, see
            :meth:`KerasLinearSVC.from_sklearn`.

        Returns
        -------
        KerasSVC
            ``kernel="linear"``, ``loss="hinge"`` and the source's ``C``,
            ``class_weight``, ``tol``, ``decision_function_shape`` and
            ``break_ties``, so that ``fit`` solves the source's problem; fitted
            with copies of ``classes_``, ``coef_``, ``intercept_``,
            ``support_``, ``n_support_``, ``n_features_in_`` (and
            ``feature_names_in_``). There is no ``n_iter_``, ``objective_`` or
            ``dual_gap_`` (no training happened), and no ``predict_proba``
            (``probability`` is not carried over: calibrate the result, see
            the README).
        """
        check_is_fitted(estimator)
        if not isinstance(estimator, SVC):
            raise TypeError(
                "KerasSVC.from_sklearn takes a fitted sklearn.svm.SVC(kernel='linear'), got "
                f"{type(estimator).__name__} (KerasLinearSVC.from_sklearn takes a LinearSVC)."
            )
        if estimator.kernel != "linear":
            raise ValueError(
                f"SVC(kernel={estimator.kernel!r}) has no weight vector: its decision "
                "function is a sum of kernels over its support vectors, which the features of "
                "a KerasSVC reproduce only approximately. Retrain KerasSVC on the data."
            )
        n_classes = len(estimator.classes_)
        converted = cls(
            kernel="linear",
            C=estimator.C,
            loss="hinge",
            class_weight=estimator.class_weight,
            tol=estimator.tol,
            decision_function_shape=estimator.decision_function_shape,
            break_ties=estimator.break_ties,
            multi_class="ovo" if n_classes > 2 else "ovr",
        )
        return _copy_hyperplanes(estimator, converted, converted._scheme(n_classes))

    def _multi_class(self):
        if self.multi_class == "auto":
            return "ovo" if self.kernel == "linear" else "ovr"
        return self.multi_class

    def _loss(self):
        if self.loss != "auto":
            return super()._loss()
        # the linear kernel's pairs are SVC's problem: SVC's loss solves it exactly
        svc_problem = self.kernel == "linear" and self._multi_class() == "ovo"
        return get_loss("hinge" if svc_problem else "squared_hinge")

    def _iteration_counts(self, total, per_problem):
        # SVC's n_iter_: an int32 array, one count per binary problem
        return np.asarray(per_problem, dtype=np.int32)

    def _decision_shape(self):
        return self.decision_function_shape

    def _break_ties(self):
        return self.break_ties

    # -- probability (Platt scaling, as SVC(probability=True)) ---------------

    def _fit_platt(self, X, y, sample_weight):
        """Sigmoids ``1 / (1 + exp(a f + b))`` per one-vs-rest problem, on 5-fold CV scores."""
        counts = np.unique(y, return_counts=True)[1]
        n_splits = int(min(5, counts.min()))
        if n_splits < 2:
            raise ValueError(
                "probability=True fits its sigmoids on cross-validated scores, which needs "
                f"at least 2 samples of every class; the smallest class has {counts.min()}."
            )
        inner = clone(self).set_params(
            probability=_PROBABILITY_DEFAULT, warm_start=False, decision_function_shape="ovr"
        )
        cv = StratifiedKFold(
            n_splits, shuffle=True, random_state=check_random_state(self.random_state)
        )
        params = {} if sample_weight is None else {"sample_weight": sample_weight}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            scores = cross_val_predict(
                inner, X, y, cv=cv, method="decision_function", params=params
            )
        scores = scores.reshape(len(y), -1)
        if scores.shape[1] == 1:
            positives = [y == self.classes_[1]]
        else:
            positives = [y == label for label in self.classes_]
        weights = None if sample_weight is None else np.asarray(sample_weight, np.float64)
        return np.array(
            [_platt_sigmoid(scores[:, k], positives[k], weights) for k in range(scores.shape[1])]
        )

    def _check_proba(self):
        if self.probability is not True:
            raise AttributeError("predict_proba is not available when probability=False")
        return True

    @available_if(_check_proba)
    def predict_proba(self, X):
        """Class probabilities (``probability=True`` only), as ``SVC``'s Platt scaling.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Columns in the order of ``classes_``; rows sum to one.
        """
        check_is_fitted(self)
        if not hasattr(self, "_platt"):  # probability=True set after fit: SVC's message
            raise NotFittedError(
                "predict_proba is not available when fitted with probability=False"
            )
        scores = self._class_scores(self._problem_scores(X))
        a, b = self._platt[:, 0], self._platt[:, 1]
        probabilities = 1.0 / (1.0 + np.exp(np.clip(a * scores + b, -500, 500)))
        if probabilities.shape[1] == 1:
            return np.hstack([1.0 - probabilities, probabilities])
        total = probabilities.sum(axis=1, keepdims=True)
        uniform = np.full_like(probabilities, 1.0 / probabilities.shape[1])
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(total > 0, probabilities / total, uniform)

    @available_if(_check_proba)
    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba` (``probability=True`` only).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))


def _platt_sigmoid(scores, positive, sample_weight=None):
    """Platt's (a, b): ``P(y=1 | f) = 1 / (1 + exp(a f + b))`` by maximum likelihood.

    With Platt's (1999) regularised targets ``(N+ + 1) / (N+ + 2)`` and
    ``1 / (N- + 2)``, as libsvm and scikit-learn's sigmoid calibration.
    """
    weights = np.ones(len(scores)) if sample_weight is None else sample_weight
    n_pos = weights[positive].sum()
    n_neg = weights[~positive].sum()
    target = np.where(positive, (n_pos + 1.0) / (n_pos + 2.0), 1.0 / (n_neg + 2.0))
    scale = max(float(np.std(scores)), 1e-12)
    f = scores / scale

    def loss_and_gradient(ab):
        t = ab[0] * f + ab[1]
        # -[target log p + (1 - target) log(1 - p)], p = sigmoid(-t), stably
        log_p = -np.logaddexp(0.0, t)
        log_q = -np.logaddexp(0.0, -t)
        loss = -np.sum(weights * (target * log_p + (1.0 - target) * log_q))
        p = np.exp(log_p)
        g = weights * (target - p)  # d loss / d t
        return loss, np.array([g @ f, g.sum()])

    prior = np.log((n_neg + 1.0) / (n_pos + 1.0))
    result = scipy.optimize.minimize(
        loss_and_gradient, np.array([0.0, prior]), jac=True, method="L-BFGS-B"
    )
    a, b = result.x
    return a / scale, b


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
    penalty : {"l2"}, default="l2"
        The regulariser ``1/2 ||w||^2``. ``LinearSVC``'s ``"l1"`` is refused
        at ``fit`` with the reason (this solver's Newton steps need a smooth
        regulariser; use ``LinearSVC(penalty="l1", dual=False)``).
    loss : {"hinge", "squared_hinge"}, default="squared_hinge"
        Margin loss; ``"squared_hinge"`` is ``LinearSVC``'s default.
    dual : "auto" or bool, default="auto"
        Accepted for ``LinearSVC``'s code; no effect. liblinear solves
        either the primal or the dual; this solver always runs Newton on the
        primal and certifies the result with a dual point, so both are
        involved and the optimum is the same.
    fit_intercept : bool, default=True
        Whether to fit an intercept. Unlike liblinear's, the intercept is not
        penalised.
    intercept_scaling : float, default=1
        Accepted for ``LinearSVC``'s code; no effect. liblinear penalises
        the intercept as a synthetic feature of this value, so a larger value
        penalises it less; here it is never penalised (the limit of an
        infinite ``intercept_scaling``).
    class_weight : dict or "balanced", default=None
        Multiply ``C`` by ``class_weight[c]`` for the samples of class ``c``
        (in every one-vs-rest problem). ``"balanced"`` uses
        ``n_samples / (n_classes * np.bincount(y))``.
    tol : float, default=1e-3
        Stop when the certified relative duality gap of every one-vs-rest
        problem is at most ``tol`` (see Notes). ``LinearSVC``'s ``tol``
        (default ``1e-4``) bounds liblinear's own stopping criterion instead.
    max_iter : int, default=1000
        Maximum number of Newton iterations (``-1``: no limit); a
        :class:`~sklearn.exceptions.ConvergenceWarning` is raised when it is
        reached before ``tol``. A small problem's exact dual (see
        :class:`KerasSVC`'s Notes) is not bounded by it. ``0``: the starting
        point, as in :class:`KerasSVC`.
    multi_class : {"ovr", "crammer_singer"}, default="ovr"
        One-vs-rest. ``"crammer_singer"`` (a joint multiclass objective) is
        refused at ``fit`` with the reason: it is not offered.
    batch_size : int, default=None
        Rows per batch on the device. ``None`` picks batches of about 64 MiB.
        It changes memory use and speed, not the solution.
    cache_size : float, default=1024
        Megabytes allowed for keeping ``X`` (as float32) on the device during
        ``fit``; above it, ``X`` is sent in batches at every pass.
    verbose : int, default=0
        Progress on standard output, each line with the time since the
        fit began: at 1, the feature map, the features, one line per Newton
        iteration (the largest gap against ``tol``) and a closing summary
        (iterations, certified gap, why it stopped); at 2, also each step's
        kind (direct or conjugate gradients), line-search length and
        smoothing, and the stages of the ``C`` path. ``partial_fit`` prints a
        line per call.
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
    n_iter_ : ndarray of shape (n_problems,), dtype int32
        Iterations of each binary problem, as ``SVC`` counts them per pair:
        libsvm's when the problem was small enough for its exact dual (see
        Notes; summed over working sets), else the Newton iterations in
        which the problem had not yet converged.
    objective_ : ndarray of shape (1,) or (n_classes,)
        Primal objective of each one-vs-rest problem at the solution.
    dual_gap_ : ndarray of shape (1,) or (n_classes,)
        Certified relative duality gap of each problem at the solution.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Names of features seen during fit, when ``X`` has string column names.

    See Also
    --------
    KerasSVC : The kernel SVM on random Fourier features.
    sklearn.svm.LinearSVC : liblinear's linear SVM.

    Notes
    -----
    The decision function is ``X @ coef_.T + intercept_`` (raveled for two
    classes). ``penalty="l1"`` and ``multi_class="crammer_singer"`` of
    ``LinearSVC`` are not offered (a ``ValueError`` at ``fit`` says so).
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
        "penalty": [StrOptions({"l1", "l2"})],
        "dual": ["boolean", StrOptions({"auto"})],
        "fit_intercept": ["boolean"],
        "intercept_scaling": [Interval(Real, 0, None, closed="neither")],
        "multi_class": [StrOptions({"ovr", "crammer_singer"})],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        *,
        penalty="l2",
        loss="squared_hinge",
        dual="auto",
        tol=1e-3,
        C=1.0,
        multi_class="ovr",
        fit_intercept=True,
        intercept_scaling=1,
        class_weight=None,
        verbose=0,
        random_state=None,
        max_iter=1000,
        batch_size=None,
        cache_size=1024,
        warm_start=False,
    ):
        self.penalty = penalty
        self.dual = dual
        self.intercept_scaling = intercept_scaling
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
            linear model reproduces (:meth:`KerasSVC.from_sklearn` converts
            it). A non-linear ``SVC`` has no weight vector
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
                    "linear model does not reproduce. KerasSVC.from_sklearn converts it "
                    "exactly (KerasSVC(kernel='linear', multi_class='ovo')); LinearSVC "
                    "converts here for any number of classes."
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
        return _copy_hyperplanes(estimator, converted, "ovr")

    def densify(self):
        """Convert ``coef_`` to a dense array (undoes :meth:`sparsify`; as ``LinearSVC``).

        Returns
        -------
        self : KerasLinearSVC
            The fitted estimator, ``coef_`` a NumPy array.
        """
        check_is_fitted(self, msg="Estimator, %(name)s, must be fitted before densifying.")
        if sp.issparse(self.coef_):
            self.coef_ = self.coef_.toarray()
        return self

    def sparsify(self):
        """Convert ``coef_`` to a CSR matrix, as ``LinearSVC.sparsify``.

        Worth it where most weights are zero (the weights of an L2 SVM seldom
        are: ``LinearSVC(penalty="l1")`` is the sparse model). Prediction,
        ``partial_fit``, ``warm_start``, ``to_keras`` and ONNX export read
        either form; a later ``fit`` or ``partial_fit`` stores a dense
        ``coef_`` again.

        Returns
        -------
        self : KerasLinearSVC
            The fitted estimator, ``coef_`` a ``scipy.sparse.csr_matrix``.
        """
        check_is_fitted(self, msg="Estimator, %(name)s, must be fitted before sparsifying.")
        self.coef_ = sp.csr_matrix(self.coef_)
        return self

    def _make_feature_map(self, **overrides):
        return IdentityMap()

    def _check_params(self):
        if self.penalty == "l1":
            raise ValueError(
                "KerasLinearSVC does not offer penalty='l1': its Newton solver needs the "
                "smooth regulariser 1/2 ||w||^2 (penalty='l2'). For sparse weights, use "
                "sklearn.svm.LinearSVC(penalty='l1', dual=False)."
            )
        if self.multi_class == "crammer_singer":
            raise ValueError(
                "KerasLinearSVC does not offer multi_class='crammer_singer': it trains "
                "one-vs-rest problems (multi_class='ovr'). Use "
                "sklearn.svm.LinearSVC(multi_class='crammer_singer') for the joint objective."
            )

    def _fit_intercept(self):
        return self.fit_intercept


def _copy_hyperplanes(estimator, converted, problems):
    """``converted`` fitted with copies of the fitted linear ``estimator``'s hyperplanes.

    ``problems`` (``"ovr"`` or ``"ovo"``) is how the rows of ``coef_`` split
    the classes. Copies ``classes_``, ``coef_`` (dense), ``intercept_``,
    ``n_features_in_``, ``feature_names_in_`` and, where the source has
    them, ``support_``, ``n_support_`` and (for a ``KerasSVC``)
    ``support_vectors_``.
    """
    coef = estimator.coef_
    converted._hold_linear_model(
        # SVC fitted on sparse data has a sparse coef_
        np.array(coef.toarray() if hasattr(coef, "toarray") else coef, dtype=np.float64),
        np.array(estimator.intercept_, dtype=np.float64),
        classes_=np.array(estimator.classes_, copy=True),
        _problems=problems,
    )
    names = ["feature_names_in_", "support_", "n_support_"]
    if isinstance(converted, KerasSVC):
        names.append("support_vectors_")
    for name in names:
        if hasattr(estimator, name):
            value = getattr(estimator, name)
            copied = value.copy() if sp.issparse(value) else np.array(value, copy=True)
            setattr(converted, name, copied)
    return converted
