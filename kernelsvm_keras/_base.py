"""scikit-learn plumbing shared by the estimators.

Validation, label encoding, sample and class weights, the call to the solver,
an all-or-nothing ``fit``, and batched prediction. The feature map is the only
thing a subclass provides (:meth:`BaseKerasSVM._make_feature_map`, an object
of :mod:`kernelsvm_keras._maps` that the estimator holds after ``fit``).
"""

import contextlib
import functools
import inspect
import math
import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state, compute_class_weight
from sklearn.utils._param_validation import Interval, InvalidParameterError, StrOptions
from sklearn.utils.multiclass import (
    _check_partial_fit_first_call,
    _ovr_decision_function,
    check_classification_targets,
)
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from . import _certificate, _solver
from ._blas import matmul, scipy_products
from ._compiled import full_float32
from ._design import RowBlocks, input_scale
from ._dual import (
    certified_point,
    may_serve_working_sets,
    serves_on_kernel,
    serves_working_sets,
    solve_dual,
    solve_on_kernel,
    solve_working_sets,
)
from ._dual import may_serve as may_serve_dual
from ._dual import remember as remember_features
from ._dual import serves as serves_dual
from ._keras import float64_products, keras, set_weights_exactly
from ._loss import get_loss, margin_intervals
from ._maps import (
    APPROXIMATIONS,
    IdentityMap,
    make_feature_map,
    map_from_attributes,
    resolve_gamma,
)
from ._progress import Progress
from ._rows import RepeatedRows
from ._sgd import _BATCH_ROWS, SGDState, sgd_pass
from ._solver import NewtonStart, SolverResult, device_report, solve_svm
from ._version import __version__

# Elements (rows x columns of the feature matrix) per block when batch_size=None:
# 2**24 float32 values, 64 MiB per block.
_AUTO_BLOCK_ELEMENTS = 2**24
# max_iter=-1 (SVC's "no limit"): the solver stops at tol or when it stalls.
_NO_LIMIT = 2**31 - 1
# Fits again on landmarks that hold the support vectors (_BaseSVM._on_support):
# at most this many. A small problem of few support vectors took two to come
# within tol of the kernel SVM's optimum (the second fit's support had one row
# more than the first's); w8a's hinge one, after which its support vectors no
# longer fit.
_SUPPORT_ROUNDS = 3
# The certificate is taken again on the fitted model's own float64 features
# (_BaseSVM._on_model_features) where computing them costs at most this many
# multiply-adds (rows x width x input features): one float64 pass of the kernel
# against the landmarks, a fraction of the fit's own work there.
_MODEL_CERTIFICATE_WORK = 2e10
# Where the model's certificate does not meet tol though training's did, the
# problem is solved again on the model's own float64 features where they hold at
# most this many numbers (128 MiB; pendigits' 7,494 rows on 2,048 landmarks).
_MODEL_FEATURES_ELEMENTS = 2**24
# A fit the exact dual may take computes its features in float64 NumPy where they
# cost at most this many multiply-adds (rows x width x (input features + width)),
# on the device above it. Best of three fits of make_classification rows on this
# project's Zen 3, NumPy against TensorFlow: 1,000 x 64 on 512 landmarks (2.9e8)
# 0.12 against 0.19 s; 3,000 x 64 on 1,024 (3.3e9) 1.04 against 0.85 s; 4,000 x 784
# on 1,024 (7.4e9) 1.99 s both; 4,500 x 784 on 2,048 (2.6e10) 3.59 against 3.42 s.
# 2,000 sparse rows of 200,000 columns on 256 landmarks (1e11): 36 against 29 s.
_HOST_FEATURE_WORK = 2**30


def draw_groups(feature_map, repeats):
    """The keywords of ``feature_map.fit`` for a draw over merged repeats (``{}`` if none)."""
    if repeats is None or not feature_map.draws_landmarks:
        return {}
    return {"groups": repeats.group}


def check_keras_dtype(dtype):
    """Refuse a float64 Keras model where the backend would compute it in float32.

    JAX without its float64; and PyTorch where Keras multiplies float64
    matrices in float32 (Keras 3.15: ``ops.matmul`` of two float64 tensors,
    and so a float64 ``Dense``, returns float32; keras-team/keras#23704),
    found by one product of two float64 tensors.
    """
    if keras.backend.standardize_dtype(dtype) != "float64":
        return
    product = float64_products()
    if product == "float64":
        return
    if keras.backend.backend() == "jax":
        raise ValueError(
            "to_keras(dtype='float64') on the JAX backend needs JAX's float64, which is "
            "off: JAX would silently compute in float32. Set JAX_ENABLE_X64=1 (or "
            "jax.config.update('jax_enable_x64', True)) before JAX starts, or use "
            "dtype='float32'."
        )
    raise ValueError(
        f"to_keras(dtype='float64') on the torch backend: this Keras "
        f"({keras.__version__}) multiplies float64 matrices in {product} there "
        "(keras-team/keras#23704), so the model would silently lose float64's "
        "precision. Use dtype='float32', or the TensorFlow or JAX backend."
    )


def _model_features_cheap(feature_map, X):
    """Whether the fitted model's float64 features of ``X`` cost at most
    :data:`_MODEL_CERTIFICATE_WORK` multiply-adds (a kernel block against the map)."""
    return X.shape[0] * feature_map.width * max(X.shape[1], 1) <= _MODEL_CERTIFICATE_WORK


class _BaseSVM(BaseEstimator):
    """What every estimator of the family shares: data, features, solver, export.

    Subclasses define ``__init__`` (their parameters), ``_parameter_constraints``,
    :meth:`_make_feature_map` and the problem (:meth:`_intervals`,
    :meth:`_intercept_cost`); the solver, the feature map's use, prediction
    in batches, ``to_keras`` and persistence are here.
    """

    _parameter_constraints: dict = {
        "C": [Interval(Real, 0.0, None, closed="neither")],
        "tol": [Interval(Real, 0.0, None, closed="neither")],
        # (SVC's: -1 is no limit, 0 no iteration, the starting point)
        "max_iter": [Interval(Integral, -1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left"), None],
        "cache_size": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
    }

    def _make_feature_map(self, **overrides):
        """The unfitted feature map of the parameters (``overrides`` replace some).

        Returns
        -------
        FeatureMap
            See :mod:`kernelsvm_keras._maps`.
        """
        raise NotImplementedError

    def _check_params(self):
        """Refuse parameter values accepted for compatibility but not offered (at fit)."""

    def _fit_intercept(self):
        return True

    def _intervals(self, targets):
        """The rows' intervals of the loss (:mod:`kernelsvm_keras._loss`) from the targets."""
        return margin_intervals(targets)

    def _loss(self):
        """The loss object (:mod:`kernelsvm_keras._loss`) of the ``loss`` parameter."""
        return get_loss(self.loss)

    def _intercept_cost(self):
        """``c_b``, the intercept's linear cost in the objective (the one-class SVM's 1)."""
        return 0.0

    def _all_or_nothing(self, method, *args):
        """Call ``method(*args)``; if it raises (or is interrupted), restore the estimator.

        The call runs with float32 matrix products in full float32
        (:func:`~kernelsvm_keras._compiled.full_float32`).
        """
        saved = dict(self.__dict__)
        try:
            with full_float32():
                return method(*args)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(saved)
            raise

    def _check_data(self, X, y="no_validation", *, reset, **kwargs):
        """``validate_data`` as every method here needs it; sparse ``X`` as CSR.

        CSR because batches are row slices. Returns ``X``, or ``(X, y)`` when
        ``y`` is given.
        """
        out = validate_data(
            self,
            X,
            y,
            accept_sparse=("csr", "csc"),
            dtype=(np.float64, np.float32),
            reset=reset,
            accept_large_sparse=True,
            **kwargs,
        )
        X, y = out if isinstance(out, tuple) else (out, None)
        if hasattr(X, "tocsr"):
            X = X.tocsr()
        return X if y is None else (X, y)

    def _design(self, X, feature_map, scaled=True, form=None, read_few_rows=False):
        """The feature matrix ``phi(X)`` for the solver, batched and cached as set.

        With ``scaled``, the identity map's rows are scaled by a power of two
        (:func:`~kernelsvm_keras._design.input_scale`), which the Newton
        solver undoes; the SGD of ``partial_fit`` sees every chunk unscaled.
        ``form`` is ``feature_map.training_form()`` when the caller already
        holds it (its arrays then go to the device once for several designs).
        ``read_few_rows`` as in :class:`~kernelsvm_keras._design.RowBlocks`.
        """
        transform, factor = feature_map.training_form() if form is None else form
        return RowBlocks(
            X,
            transform,
            feature_map.width,
            batch_size=self._rows_per_batch(max(X.shape[1], feature_map.width)),
            cache_bytes=int(self.cache_size * 2**20),
            # the identity map trains on X scaled by a power of two (exact):
            # no float32 overflow whatever the units of X
            scale=input_scale(X) if transform is None and scaled else 1.0,
            factor=factor,
            read_few_rows=read_few_rows,
        )

    def _map_for(self, n_samples, **overrides):
        """The unfitted feature map of a fit on ``n_samples`` rows (``overrides`` as in
        :meth:`_make_feature_map`).

        Landmarks take the Cholesky basis where the problem may go to the
        exact dual, which does not see the basis: small problems
        (:func:`~kernelsvm_keras._dual.may_serve`) and working sets
        (:func:`~kernelsvm_keras._dual.may_serve_working_sets`). Its
        factorisation takes a fraction of the eigendecomposition's time
        (MNIST's hinge on 4,096 landmarks: the map 3.5 s against 8.8 s). The
        Newton solver's leading-block preconditioner needs the landmarks'
        leading eigen-directions as the first features (MNIST's squared
        hinge: 21 s of Newton iterations in the eigenbasis, 32 s in the
        Cholesky basis), so every other fit takes the basis ``"leading"``:
        the Cholesky basis rotated so that they come first (MNIST's 4,096
        landmarks: about 2 s against the eigendecomposition's 7 s), or the
        eigenbasis where the Cholesky one does not exist; a hinge fit whose
        working sets give up goes to Newton in the Cholesky basis (30,000
        noisy rows: 2,048 landmarks 0.5-1.6 s slower in all, 4,096 landmarks
        3.6 s faster). Fit it with ``keep_fit_rows=True`` for
        :meth:`_fit_design`.
        """
        n = n_samples
        width = min(overrides.get("n_components", getattr(self, "n_components", n)), n)
        exact = self._may_serve_dual(n, width)
        exact = exact or may_serve_working_sets(n, width, self._fit_intercept(), self._loss())
        return self._make_feature_map(basis="cholesky" if exact else "leading", **overrides)

    def _may_serve_dual(self, n_samples, width=None):
        """Whether a fit on ``n_samples`` rows may take the small exact dual.

        ``width`` is its map's (``min(n_components, n_samples)`` by default).
        """
        if width is None:
            width = min(getattr(self, "n_components", n_samples), n_samples)
        return may_serve_dual(n_samples, width, self._fit_intercept(), self._intercept_cost())

    def _host_features(self, X, feature_map):
        """Whether a fit on the rows ``X`` computes their features in float64 NumPy.

        Where the exact dual may take the problem (:meth:`_may_serve_dual`),
        which reads float64 features, and they are cheap
        (:data:`_HOST_FEATURE_WORK`): on the host they then cost less than the
        device's float32 ones read back and cast (digits' 898 rows on 512
        landmarks: fits of 0.20 s against 0.30 s), without a Keras
        operation, so that such a fit never needs Keras (a joblib worker
        never imports it) nor compiles a program for its shape on JAX. Not
        for the identity map, whose features are the rows themselves.
        """
        n, width = X.shape[0], feature_map.width
        return (
            not isinstance(feature_map, IdentityMap)
            and n * width * (X.shape[1] + width) <= _HOST_FEATURE_WORK
            and self._may_serve_dual(n, width)
        )

    def _fit_design(self, X, feature_map, form=None, published=True):
        """The design of the rows ``X`` that ``feature_map`` was just fitted on.

        Where the map kept their features (landmarks at every row,
        :meth:`~kernelsvm_keras._maps.FeatureMap.fit_rows`), the design holds
        those, and the exact dual gets them with their Gram matrix; where the
        dual may take the problem and they are cheap (:meth:`_host_features`),
        the features computed in float64 NumPy; else
        :meth:`_design`, which projects only the rows it reads where the
        working sets may take the problem (they read a fraction of the
        rows; ``read_few_rows`` of :class:`~kernelsvm_keras._design.RowBlocks`).
        With ``published``, the solutions on it are models the estimator
        publishes: their certificate is taken on the model's own features
        (:meth:`_on_model_features`); a search's candidates, scored on the
        training features, are not.
        """
        kept = feature_map.fit_rows()
        n, width = X.shape[0], feature_map.width
        if kept is None and self._host_features(X, feature_map):
            kept = (feature_map.features(X), None)
        if kept is None:
            few = not self._may_serve_dual(n, width) and may_serve_working_sets(
                n, width, self._fit_intercept(), self._loss()
            )
            design = self._design(X, feature_map, form=form, read_few_rows=few)
        else:
            features, gram = kept
            design = self._design(features, feature_map, scaled=False, form=(None, None))
            remember_features(design, features, gram)
        if published and not isinstance(feature_map, IdentityMap):
            # (the identity trains on X itself, exactly: its certificate is the model's)
            design.model = (feature_map, X, None if kept is None else kept[0])
        return design

    def _report(self):
        """The progress lines of one fit or call (:class:`~kernelsvm_keras._progress.Progress`)."""
        return Progress(type(self).__name__, self.verbose)

    def _features(self, X, report, same_problem=True, repeats=None, overrides=None, first=None):
        """A fit's feature map, fitted on ``X``, its design and starting point.

        The map is the fitted one and the start its solution where
        ``warm_start`` allows (:meth:`_warm_start`). ``X`` holds the merged
        rows where ``repeats`` (:class:`~kernelsvm_keras._rows.RepeatedRows`)
        is given, and ``overrides`` are the map's parameters resolved on the
        rows given (:meth:`_map_for`); ``first`` are rows a landmark map
        takes as landmarks ahead of its draw. Returns ``(feature_map, design,
        coef_init, intercept_init)``; ``report`` has timed both phases.
        """
        fresh = self._map_for(X.shape[0], **(overrides or {}))
        landmarks = ""
        if first is not None and fresh.draws_landmarks:
            landmarks = f" on the {first.size} support vectors"
        with report.phase(f"feature map: {type(fresh).__name__}{landmarks}"):
            random_state = check_random_state(getattr(self, "random_state", None))
            draw = draw_groups(fresh, repeats)
            if landmarks:
                draw["first"] = first
            fresh.fit(X, random_state, keep_fit_rows=True, **draw)
        feature_map, coef_init, intercept_init = self._warm_start(fresh, same_problem)
        if feature_map is not fresh:
            fresh.fit_rows()  # a warm start's fitted map: its rows' features are dropped now
        where = device_report() if report else ""
        with report.phase(f"features: {X.shape[0]} rows x {feature_map.width}, {where}"):
            design = self._fit_design(X, feature_map)
        if design.streamed:
            recomputed = "the kernel block" if design.factored else "features"
            report.line(f"({recomputed} recomputed at every pass: more than cache_size MB)")
        return feature_map, design, coef_init, intercept_init

    def _fit_and_solve(self, X, targets, weights, C, same_problem=True, labels=None):
        """A fit's feature map and solution: :meth:`_features`, then :meth:`_solve`.

        A fit from zero may then move its landmarks onto its support vectors
        (:meth:`_on_support`). With ``labels`` (one per row: a class index or
        a regression target), equal rows with equal labels are solved as one
        row of their summed weight (:class:`~kernelsvm_keras._rows.RepeatedRows`:
        the same objective; w8a's 49,749 rows are 34,780), and the solution's
        dual variables and landmark indices are those of the rows given.
        Returns ``(feature_map, result)``.
        """
        rows_weights = weights
        repeats, X, targets, weights, overrides = self._merged(X, targets, weights, labels)
        # a small fit on landmarks alternates products with SciPy's factorisations: its BLAS
        # for both (digits: 0.19 s -> 0.14 s); without a factorisation NumPy's is faster
        # (KerasLinearSVC on digits: 0.10 s against 0.13 s)
        n = X.shape[0]
        report = self._report()
        if repeats is not None:
            report.line(
                f"{repeats.n_samples} rows, {repeats.n_groups} distinct with their targets: "
                "solved as that many weighted rows"
            )
        point = self._on_kernel(X, targets, weights, C, overrides, report)
        support = None
        if point is not None:
            # the kernel SVM's solution is a sum over its support vectors: landmarks on
            # them alone hold it exactly, and a draw filling the rest adds nothing to
            # the model but the cost of a wider map (pendigits' one-vs-one hinge: 1,204
            # support vectors on 2,048 landmarks); one drawn where there are none (a
            # constant model: a regression's tube that holds every row)
            support = np.flatnonzero(np.any(point.beta != 0, axis=1))
            overrides = {**overrides, "n_components": max(support.size, 1)}
        factors = self._may_serve_dual(n) and self._map_for(n, **overrides).draws_landmarks
        with scipy_products() if factors else contextlib.nullcontext():
            feature_map, design, coef_init, intercept_init = self._features(
                X, report, same_problem, repeats, overrides, first=support
            )
            result = self._solve(
                design,
                targets,
                weights,
                C=C,
                coef_init=coef_init,
                intercept_init=intercept_init,
                report=report,
                likely_support=support,
                warn=False,
                on_kernel=point,
            )
            del design  # its features are released before another map's are computed
            if coef_init is None:
                feature_map, result = self._on_support(
                    X, feature_map, result, targets, weights, C, report, repeats, overrides
                )
        if result.warning is not None:
            # the kept fit's alone: a fit that one on its support vectors superseded
            # warned of a gap the model does not have
            warnings.warn(result.warning, ConvergenceWarning, stacklevel=3)
        if repeats is not None:
            if result.dual_coef is not None:
                result.dual_coef = repeats.spread(result.dual_coef, rows_weights)
            if coef_init is None and hasattr(feature_map, "component_indices_"):
                # (a fresh map: a warm start's is the fitted estimator's, left as it is)
                feature_map.component_indices_ = repeats.original(feature_map.component_indices_)
        return feature_map, result

    def _on_kernel(self, X, targets, weights, C, overrides, report):
        """The kernel SVM solved on its kernel itself, before any map: its dual point, or ``None``.

        A landmark map represents the kernel SVM's solution exactly once its
        support vectors are landmarks (:meth:`_on_support`). Where libsvm
        computes the kernel (``"rbf"``, or ``"poly"`` with ``coef0 >= 0``:
        positive semi-definite, as landmarks need) and its kernel rows are
        cheap (:func:`~kernelsvm_keras._dual.solve_on_kernel`), a fit from
        zero of the hinge with ``approximation="auto"`` on fewer landmarks
        than rows solves it there first, as ``SVC`` does; where its support
        vectors are at most the landmarks, they alone become the landmarks
        (:meth:`_fit_and_solve`: at most ``n_components``) and :meth:`_solve`
        certifies the point on the model's features (``on_kernel``). Returns the
        :class:`~kernelsvm_keras._dual.KernelPoint`, or ``None`` where the
        route is not taken or gives up.
        """
        n = X.shape[0]
        if (
            getattr(self, "approximation", None) != "auto"
            or getattr(self, "warm_start", False)
            or self.max_iter == 0
            or math.isinf(C)
            or not self._fit_intercept()
            or not self._loss().bounded
        ):
            return None
        feature_map = self._map_for(n, **overrides)
        if not (
            feature_map.draws_landmarks
            and getattr(feature_map, "kernel", None) in ("rbf", "poly")
            and feature_map._semidefinite()
            and feature_map.n_components < n
        ):
            return None
        kernel = {
            "kernel": feature_map.kernel,
            "gamma": resolve_gamma(feature_map.gamma, X),
            "degree": feature_map.degree,
            "coef0": feature_map.coef0,
        }
        lower, upper = self._intervals(targets)
        form = serves_on_kernel(X, lower, upper, weights, self._loss(), self._intercept_cost())
        if form is None:
            return None
        with report.phase("the kernel SVM on its kernel (libsvm, as SVC)"):
            point = solve_on_kernel(
                X,
                kernel,
                lower,
                upper,
                weights,
                form=form,
                C=C,
                loss=self._loss(),
                tol=float(self.tol),
                shrinking=bool(getattr(self, "shrinking", True)),
                intercept_cost=self._intercept_cost(),
                max_support=feature_map.n_components,
            )
        if point is None:
            report.line(
                f"(given up: libsvm out of steps, or more support vectors than the "
                f"{feature_map.n_components} landmarks)"
            )
        return point

    def _merged(self, X, targets, weights, labels, overrides=None):
        """A fit's rows with their repeats merged (see :meth:`_fit_and_solve`).

        Returns ``(repeats, X, targets, weights, overrides)``: ``repeats``
        (:class:`~kernelsvm_keras._rows.RepeatedRows`, ``None`` where
        nothing merges: the arguments come back as they are), the merged
        rows, their targets and summed weights, and ``overrides`` (the
        map's parameters, as for :meth:`_map_for`) with ``gamma="scale"``
        resolved on the rows given, repeats included, as ``SVC`` resolves
        it. Never for ``kernel="precomputed"``, whose rows are also columns.
        """
        overrides = dict(overrides or {})
        if labels is None or getattr(self, "kernel", None) == "precomputed":
            return None, X, targets, weights, overrides
        repeats = RepeatedRows.find(X, labels)
        if repeats is None:
            return None, X, targets, weights, overrides
        if overrides.get("gamma", getattr(self, "gamma", None)) == "scale":
            overrides["gamma"] = resolve_gamma("scale", X)
        return repeats, repeats.take(X), repeats.take(targets), repeats.weights(weights), overrides

    def _on_support(self, X, feature_map, result, targets, weights, C, report, repeats, overrides):
        """The fit again on landmarks that hold its support vectors, until within tol of SVC's.

        A landmark fit is the kernel SVM solved over the functions
        ``sum_j a_j k(., z_j)`` of its landmarks ``z_j``, with their exact
        RKHS norm; the kernel SVM's own solution is such a sum over its
        support vectors (the rows of non-zero dual variable). The fit's dual
        point is feasible for the kernel SVM's dual too, whose objective is
        lower by :meth:`~kernelsvm_keras._maps.FeatureMap.kernel_excess`: so
        the fit is certified within ``(primal - dual + excess) / primal`` of
        the kernel SVM's optimum (:func:`_kernel_gap`), and the excess is
        zero once the support vectors are landmarks.

        With ``approximation="auto"``, where the landmarks were drawn
        (fewer than the rows), the fit is repeated on landmarks that hold
        every support vector met so far (the draw fills the rest;
        :func:`~kernelsvm_keras._maps._draw_landmarks`) while they are at
        most as many as the landmarks, that gap is above ``tol``, the last
        fit lowered the objective, and at most :data:`_SUPPORT_ROUNDS`
        times. Every objective is the kernel SVM's at that fit's solution:
        the lowest is kept. w8a's hinge on 2,048 landmarks: 97.69% ->
        98.61%, SVC 98.64% (benchmarks/RESULTS.md, "Landmarks on the
        support vectors"). ``repeats`` and ``overrides`` are those of the
        first map (:meth:`_features`). Returns ``(feature_map, result)``.
        """
        if (
            getattr(self, "approximation", None) != "auto"
            or not feature_map.draws_landmarks
            or not feature_map.width < X.shape[0]
        ):
            return feature_map, result
        met = np.zeros(0, dtype=np.intp)
        draw = draw_groups(feature_map, repeats)
        for _ in range(_SUPPORT_ROUNDS):
            if result.dual_coef is None:
                break
            support = np.flatnonzero(np.any(result.dual_coef != 0, axis=1))
            met = np.union1d(met, support)
            if not 0 < met.size <= feature_map.width:
                break
            if np.isin(met, feature_map.component_indices_).all():
                # landmarks already: what is left of the gap is what the map drops
                # (landmarks nearly in the others' span), which a move keeps
                break
            gap = _kernel_gap(X, feature_map, result, support)
            report.line(f"certified within {np.max(gap):.2e} of the kernel SVM's optimum")
            if np.all(gap <= float(self.tol)):
                break
            moved = self._map_for(X.shape[0], **overrides)
            with report.phase(f"feature map on the {met.size} support vectors met"):
                random_state = check_random_state(getattr(self, "random_state", None))
                moved.fit(X, random_state, keep_fit_rows=True, first=met, **draw)
            design = self._fit_design(X, moved)
            again = self._solve(
                design, targets, weights, C=C, report=report, likely_support=met, warn=False
            )
            del design
            lower = np.sum(again.primal) < np.sum(result.primal)
            report.line(
                f"objective {np.sum(again.primal):.6e} against {np.sum(result.primal):.6e}: "
                f"{'kept' if lower else 'not kept'}"
            )
            if not lower:
                break
            feature_map, result = moved, again
        return feature_map, result

    @staticmethod
    def _finish_declined(design, weights, n_columns, loss, two_sided=False):
        """What the float64 finish did, for the warning.

        The hinge's interior point (on a regression's rows twice) and the
        squared losses' finite Newton method run where
        :func:`~kernelsvm_keras._certificate.interior_fits` allows: then they ran
        and stopped short too; else what they would need.
        """
        finish = "interior point" if loss.bounded else "finite Newton method"
        rows = int(np.count_nonzero(np.any(np.reshape(weights, (len(weights), -1)) > 0, axis=1)))
        rows *= 2 if loss.bounded and two_sided else 1
        fits, work, size = _certificate.interior_fits(rows, design.n_outputs, n_columns)
        if fits:
            return f"; the float64 {finish} that finishes it did not reach tol either"
        flops, budget = _certificate._INTERIOR_FLOPS, _certificate._INTERIOR_BYTES / 2**20
        return (
            f"; the float64 {finish} that finishes it would need {work:.1e} "
            f"multiply-adds per iteration and {size / 2**20:.3g} MiB of features here, beyond "
            f"its {flops:.0e} and {budget:.0f} MiB "
            "(fewer n_components, fewer rows or a smaller C would let it run)"
        )

    def _exact_dual(self, solver, design, lower, upper, weights, form, C, report):
        """``solver`` (:func:`~kernelsvm_keras._dual.solve_dual` or
        :func:`~kernelsvm_keras._dual.solve_working_sets`) on the problem of ``form``,
        with the estimator's loss, ``tol``, ``shrinking`` and intercept."""
        return solver(
            design,
            lower,
            upper,
            weights,
            form=form,
            C=C,
            loss=self._loss(),
            tol=float(self.tol),
            report=report,
            shrinking=bool(getattr(self, "shrinking", True)),
            intercept_cost=self._intercept_cost(),
        )

    def _rescued(self, design, lower, upper, weights, C, result, report):
        """Newton's ``result``, or the exact dual on working sets where they certify better.

        ``result`` stalled, or gave up as futile (:meth:`_solved`). Newton
        stalls at float32 precision at a large ``C`` (a squared hinge
        at ``C=1000`` on 20,000 MNIST rows: a gap of 7e4, 74.5% accurate
        where ``C=100`` gives 97.3%), where its float64 finish may be out
        of reach; the support vectors are then few, and the working sets,
        in float64, not tried on such a problem (the squared losses on
        more than :data:`~kernelsvm_keras._dual._WORKING_SQUARED_ROWS`
        rows), reach the optimum (benchmarks/RESULTS.md, "A large C on the
        squared hinge: working sets where Newton stalls").
        """
        form = serves_working_sets(
            design,
            lower,
            upper,
            weights,
            self._fit_intercept(),
            self._intercept_cost(),
            self._loss(),
            rescue=True,
        )
        if form is None:
            return result
        how = "gave up as futile" if result.gave_up else "stalled at float32 precision"
        report.line(f"Newton {how}: the exact dual on working sets")
        sets = self._exact_dual(solve_working_sets, design, lower, upper, weights, form, C, report)
        if not isinstance(sets, SolverResult):
            result.also_tried = (
                "the exact dual on working sets, tried then, gave up (more support vectors "
                "than a set takes, or libsvm out of steps)"
            )
            return result
        if not sets.gap.max() < result.gap.max():
            result.also_tried = (
                f"the exact dual on working sets, tried then, stopped at a gap of "
                f"{sets.gap.max():.2e}"
            )
            return result
        sets.stalled, sets.precision_limited = result.stalled, result.precision_limited
        return sets

    def _solve(
        self,
        design,
        targets,
        weights,
        C,
        coef_init=None,
        intercept_init=None,
        cg_iter=None,
        problem=None,
        report=None,
        likely_support=None,
        warn=True,
        on_kernel=None,
    ):
        """Run the solver on a design; warn when it stops short of ``tol``.

        ``problem`` overrides parameters of the intervals (a search's
        ``epsilon``); ``report`` prints the iterations (the estimator's
        ``verbose`` by default); ``likely_support`` are rows the working sets
        of a large problem start from (:func:`~kernelsvm_keras._dual.solve_working_sets`).
        ``C=inf`` is the hard margin (:meth:`_hard_margin`). Without ``warn``
        the warning's message is the result's ``warning``, for a caller that
        may keep another fit (:meth:`_fit_and_solve`). ``on_kernel`` is the
        kernel SVM's solution on the design's rows (:meth:`_on_kernel`): kept
        where it is certified within ``tol`` on the design's features, else
        the problem is solved as without it.
        """
        report = self._report() if report is None else report
        if math.isinf(C):
            # (libsvm's dual, certified on the model's own features where they fit)
            exact = self._model_design(design)
            design = design if exact is None else exact
            return self._hard_margin(design, targets, weights, problem, report)
        lower, upper = self._intervals(targets, **(problem or {}))
        loss, tol = self._loss(), float(self.tol)
        result = None
        if on_kernel is not None:
            result = self._kernel_point(design, lower, upper, weights, C, on_kernel, report)
        if result is None:
            result = self._solved(
                design,
                lower,
                upper,
                weights,
                C,
                coef_init,
                intercept_init,
                cg_iter,
                report,
                likely_support,
            )
        if not (np.all(np.isfinite(result.coef)) and np.all(np.isfinite(result.intercept))):
            raise FloatingPointError(  # never returned as a model (the solver guards it)
                f"{type(self).__name__}: the solver produced a non-finite model at C={C:g}."
            )
        model_limited = self._on_model_features(design, result, lower, upper, weights, C, tol)
        if model_limited:
            report.line(
                f"on the fitted model's float64 features: certified gap {result.gap.max():.2e}, "
                f"objective {np.sum(result.primal):.6e}"
            )
            exact = self._model_design(design)
            if exact is not None:
                report.line("solved again on those features")
                return self._solve(
                    exact,
                    targets,
                    weights,
                    C,
                    coef_init=result.coef,
                    intercept_init=result.intercept,
                    cg_iter=cg_iter,
                    problem=problem,
                    report=report,
                    likely_support=likely_support,
                    warn=warn,
                )
        if not result.converged:
            if model_limited:
                reason = (
                    "met tol on the float32 features that training computes, but the fitted "
                    "model computes its features in float64, and the two differ by more than "
                    "this problem tolerates (X is badly scaled for the kernel: rescale it, for "
                    "instance with StandardScaler, or use a smaller gamma or C)"
                )
            elif result.precision_limited:
                reason = (
                    "met tol in float32, but the float64 certificate does not: tol is below "
                    "what float32 training can certify on this problem (use tol >= "
                    f"{_certifiable(result.gap):.0e})"
                )
            elif result.stalled:
                reason = (
                    "stopped improving at float32 precision (C times the sample weights "
                    "makes the problem too ill-conditioned for float32, or X is badly scaled)"
                )
                two_sided = bool(np.any(np.isfinite(lower) & np.isfinite(upper)))
                reason += self._finish_declined(design, weights, lower.shape[1], loss, two_sided)
                if result.also_tried is not None:
                    reason += f"; {result.also_tried}"
            else:
                reason = f"reached max_iter={self.max_iter}; increase max_iter"
            result.warning = (
                f"{type(self).__name__} did not reach tol={self.tol} (C={C:g}): the certified "
                f"relative duality gap is {result.gap.max():.2e}; the solver {reason}."
            )
            if warn:
                warnings.warn(result.warning, ConvergenceWarning, stacklevel=4)
        return result

    def _kernel_point(self, design, lower, upper, weights, C, point, report):
        """:func:`~kernelsvm_keras._dual.certified_point` of ``point``; ``None`` above ``tol``.

        ``w = phi(X)^T beta`` comes from the map's own float64 features of the
        support vectors (the published design's ``model``), not from the
        design's rows gathered (pendigits' 1,204: 0.37 s of the fit's 1.5 s).
        The certificate is taken on the model's own features where they are
        cheap (:func:`_model_features_cheap`): the kernel block against
        the landmarks, without the projection of the design's float64 pass.
        """
        feature_map, X, _ = getattr(design, "model", (None, None, None))
        if feature_map is None:  # (a fit's design is published: not met)
            return None
        support = np.flatnonzero(np.any(point.beta != 0, axis=1))
        # (in the design's units: its features are scale * phi, its betas beta / scale^2)
        scale = design.scale
        coef = feature_map.transposed_products(X[support], point.beta[support]) / scale
        model_pass = None
        if _model_features_cheap(feature_map, X):

            def model_pass(coef, beta):
                # the design's units: the same predictions, phi^T beta scale times the model's
                Z, u = self._model_products(feature_map, X, coef.T * scale, 0.0, beta)
                return Z, u * scale

        result = certified_point(
            design,
            lower,
            upper,
            weights,
            point,
            coef,
            C=C,
            loss=self._loss(),
            tol=float(self.tol),
            report=report,
            shrinking=bool(getattr(self, "shrinking", True)),
            intercept_cost=self._intercept_cost(),
            model_pass=model_pass,
        )
        return result if result.converged else None

    def _solved(
        self,
        design,
        lower,
        upper,
        weights,
        C,
        coef_init,
        intercept_init,
        cg_iter,
        report,
        likely_support,
    ):
        """The solvers on the problem of ``lower`` and ``upper``, cheapest first; their result.

        The exact dual where the problem is small, working sets where its
        support vectors may be few, Newton otherwise or where those stop
        above ``tol``, and the working sets again where Newton stalls
        (:meth:`_rescued`). Where they may take it, Newton gives up as soon
        as it looks futile (``give_up`` of
        :func:`~kernelsvm_keras._solver.solve_svm`) rather than when it
        stalls, and runs again without giving up where the sets do not
        certify the problem (:meth:`_resumed`). Arguments as :meth:`_solve`'s.
        """
        fit_intercept, intercept_cost = self._fit_intercept(), self._intercept_cost()
        loss, tol = self._loss(), float(self.tol)
        dual = form = None
        exact = solve_dual
        # (max_iter=0: no solver runs, as in SVC; Newton certifies its starting point)
        if self.max_iter != 0:
            form = serves_dual(design, lower, upper, weights, fit_intercept, intercept_cost)
            if form is None:
                # a larger problem: the exact dual on working sets, where they suffice
                form = serves_working_sets(
                    design, lower, upper, weights, fit_intercept, intercept_cost, loss
                )
                exact = functools.partial(solve_working_sets, likely_support=likely_support)
        if form is not None:
            # a small problem (or a larger one of few support vectors): its
            # exact dual in float64 (libsvm), certified
            dual = self._exact_dual(exact, design, lower, upper, weights, form, C, report)
        smoothing = None
        if isinstance(dual, NewtonStart):
            # working sets that gave up after a first set, a sample of the rows: its
            # solution (where the user's warm start gives none) and a narrow smoothing
            if coef_init is None:
                coef_init, intercept_init = dual.coef, dual.intercept
                smoothing = dual.smoothing()
            dual = None
        if dual is not None and dual.converged:
            result = dual
        else:
            # Newton, from its own start: libsvm's point, where its steps ran
            # out, measured no better a start than zero (and skips the C path)
            design.project_cache()  # (if the working sets' design read few rows)
            newton = functools.partial(
                solve_svm,
                design,
                lower,
                upper,
                weights,
                C=C,
                loss=loss,
                fit_intercept=fit_intercept,
                intercept_cost=intercept_cost,
                tol=tol,
                report=report,
                max_iter=self.max_iter if self.max_iter != -1 else _NO_LIMIT,
                coef_init=coef_init,
                intercept_init=intercept_init,
                cg_iter_init=cg_iter,
                smoothing_init=smoothing,
                # (the small dual's certificate has tried the float64 finish)
                finish=not (dual is not None and exact is solve_dual),
            )
            result = newton(
                # (where the working sets may rescue it)
                give_up=form is None
                and may_serve_working_sets(
                    design.n_samples, design.n_outputs, fit_intercept, loss, any_size=True
                )
            )
            if dual is not None and dual.gap.max() < result.gap.max():
                # libsvm's point, and how Newton stopped (for the warning's reason)
                dual.stalled, dual.precision_limited = result.stalled, result.precision_limited
                result = dual
            elif form is None and result.stalled and not result.converged:
                rescued = self._rescued(design, lower, upper, weights, C, result, report)
                if result.gave_up and not rescued.converged:
                    rescued = self._resumed(newton, result, rescued, report)
                result = rescued
        return result

    @staticmethod
    def _resumed(newton, stopped, rescued, report):
        """Newton again where it gave up and the working sets did not certify the problem.

        ``newton`` is the call that gave up (``stopped``), run again as it
        would have run without giving up: its start and its path of ``C``
        values, to its stall or ``max_iter``, and its float64 finish (from
        the point where it gave up, without the path, a digits fit at
        ``C=1e5`` stalled at a gap of 1 where from its start it converged).
        Returns the result of the lower gap of that and the sets'
        (``rescued``), with what the sets made of the problem.
        """
        report.line("Newton again, without giving up")
        again = newton(give_up=False)
        again.also_tried = stopped.also_tried
        if rescued is not stopped and rescued.gap.max() < again.gap.max():
            rescued.stalled, rescued.precision_limited = again.stalled, again.precision_limited
            return rescued
        return again

    def _on_model_features(self, design, result, lower, upper, weights, C, tol):
        """Certify ``result`` again on the fitted model's own features, where they are cheap.

        Training, and the float64 certificate of the solvers, use the float32
        features of the training rows (cast exactly); the fitted model
        computes its features in float64 (``decision_function``). They differ
        by float32's rounding, amplified by the map's conditioning: on
        well-scaled data the objective moves by about 1e-6 of itself, but a
        polynomial kernel on raw features of magnitude 1e3 moved the model's
        margins by 1e-5 off their optimum of 1 and, with ``C=100``, its
        objective from 5e-13 to 2e-3, while the gap certified on the training
        features was 2e-12. So where the model's features of the rows cost at
        most :data:`_MODEL_CERTIFICATE_WORK` multiply-adds (a kernel block in
        float64), the primal objective is evaluated at the model's own float64
        predictions and the dual objective at the same dual point with the
        model's features: ``objective_`` and ``dual_gap_`` are then those of
        the model ``fit`` returns. ``result`` is updated in place. Returns
        whether this took a fit that met ``tol`` above it.
        """
        feature_map, X, features = getattr(design, "model", (None, None, None))
        if feature_map is None or result.dual_coef is None or X.shape[0] == 0:
            return False
        if result.model_certified:
            return False  # (certified there already)
        if features is None and not _model_features_cheap(feature_map, X):
            return False
        problem = _certificate._Intervals(
            lower,
            upper,
            weights,
            C,
            self._loss(),
            self._fit_intercept(),
            self._intercept_cost(),
            floor=result.gap_floor,
        )
        beta = np.asarray(result.dual_coef, dtype=np.float64)
        with np.errstate(all="ignore"):
            if features is None:
                predictions, u = self._model_products(
                    feature_map, X, result.coef, result.intercept, beta
                )
            else:  # every row a landmark: the map kept their float64 features
                predictions = matmul(features, result.coef.T) + result.intercept
                u = matmul(features.T, beta)
            primal = problem.primal(predictions, result.coef.T, result.intercept)
            dual = problem.dual(beta, u)
            gap = np.maximum(problem.relative_gap(primal, dual), 0.0)
        if not (np.all(np.isfinite(primal)) and np.all(np.isfinite(dual))):
            return False  # (the model's features overflow where float32's did not: kept as is)
        limited = bool(result.converged and np.any(gap > tol))
        result.primal, result.dual, result.gap = primal, dual, gap
        result.converged = bool(result.converged and np.all(gap <= tol))
        return limited

    def _model_products(self, feature_map, X, coef, intercept, beta):
        """:meth:`~kernelsvm_keras._maps.FeatureMap.model_products`, a batch of rows at a time."""
        rows = self._rows_per_batch(max(X.shape[1], feature_map.width))
        predictions = np.empty((X.shape[0], beta.shape[1]))
        u = np.zeros((feature_map.width, beta.shape[1]))
        for start in range(0, X.shape[0], rows):
            stop = start + rows
            part = feature_map.model_products(X[start:stop], coef, intercept, beta[start:stop])
            predictions[start:stop] = part[0]
            u += part[1]
        return predictions, u

    def _model_design(self, design):
        """The design of the fitted model's own float64 features of ``design``'s rows, or ``None``.

        Its certificate, float64 passes and finish are then on the features
        the model computes (:meth:`_on_model_features`). ``None`` where
        ``design`` holds them already (landmarks at every row: their float64
        features, kept) or they would exceed :data:`_MODEL_FEATURES_ELEMENTS`.
        """
        feature_map, X, features = getattr(design, "model", (None, None, None))
        if feature_map is None or features is not None:
            return None
        if X.shape[0] * feature_map.width > _MODEL_FEATURES_ELEMENTS:
            return None
        rows = self._rows_per_batch(max(X.shape[1], feature_map.width))
        features = np.empty((X.shape[0], feature_map.width))
        for start in range(0, X.shape[0], rows):
            features[start : start + rows] = feature_map.features(X[start : start + rows])
        if not np.all(np.isfinite(features)):
            return None
        return self._design(features, feature_map, scaled=False, form=(None, None))

    def _hard_margin(self, design, targets, weights, problem, report):
        """``C=inf``, as ``SVC`` and ``SVR`` take it: no margin (or tube) violated, ``||w||`` least.

        Both losses have this one limit, the hard-margin problem. Its
        solution is the hinge's at every ``C`` at which no dual variable is
        at its bound ``C s_i`` (then no row has a loss, and the KKT
        conditions are the hard margin's), so the hinge's exact dual
        (libsvm, float64: its variables at a bound are exactly there) is
        solved at ``C = 1, 1e2, 1e4, ...`` until none is, or until ``C``
        leaves the range the solvers represent: then the rows are not
        separable by the features (with landmarks, by the kernel restricted
        to their span), and the fit is refused. Only problems the exact
        dual serves (:func:`~kernelsvm_keras._dual.serves`) are taken:
        ``SVC`` at ``C=inf`` on more rows takes its own time too. Returns
        the result at that ``C``, with its objective and certified gap.
        """
        lower, upper = self._intervals(targets, **(problem or {}))
        fit_intercept, intercept_cost = self._fit_intercept(), self._intercept_cost()
        bounds = np.reshape(weights, (len(weights), -1))
        rows = int(np.count_nonzero(np.any(bounds > 0, axis=1)))
        form = serves_dual(design, lower, upper, weights, fit_intercept, intercept_cost)
        if form is None:
            raise ValueError(
                f"C=inf (a hard margin) is solved by the exact dual of problems of at most a "
                f"few thousand rows; this one has {rows} rows of positive weight (or features "
                "too wide for its Gram matrix). Use a finite C."
            )
        C = 1.0
        while True:
            result = solve_dual(  # (refuses a C out of float32's range with the range's message)
                design,
                lower,
                upper,
                weights,
                form=form,
                C=C,
                loss=get_loss("hinge"),
                tol=float(self.tol),
                report=report,
                shrinking=bool(getattr(self, "shrinking", True)),
                intercept_cost=intercept_cost,
                finish=False,  # (libsvm's variables at their bounds are read below)
            )
            if result is None:
                raise ValueError(
                    "C=inf: the features hold values beyond float64's range; rescale X (for "
                    "instance with StandardScaler) or use a smaller gamma."
                )
            at_bound = (np.abs(result.dual_coef) >= C * bounds * (1.0 - 1e-9)) & (bounds > 0)
            violated = int(np.count_nonzero(np.any(at_bound, axis=1)))
            if result.converged and violated == 0:
                report.line(f"C=inf: the hard margin, reached at C={C:g}")
                return result
            if not result.converged:  # a larger C only makes the dual harder
                last = f"at C={C:g} libsvm's steps ran out before its certificate met tol"
                break
            last = (
                f"at C={C:g}, the largest C the solvers represent here, {violated} rows still "
                "violate their margin"
            )
            try:
                _solver._check_range(100.0 * C, weights, design.scale)
            except ValueError:
                break
            C *= 100.0
        raise ValueError(
            f"C=inf asks for a hard margin, but the {rows} training rows are not separable by "
            "the features (for landmarks: by the kernel restricted to their span), or only by "
            f"a margin too thin to solve for: {last}. Use a finite C."
        )

    # -- the steps that fit and partial_fit share -------------------------------

    def _solver_point(self):
        """The fitted model in the solver's terms, ``(coef, intercept)``: (K, width), (K,).

        Where ``fit`` and ``partial_fit`` start from when they continue a fit.
        """
        return self._model()

    def _publish(self, coef, intercept):
        """Set the fitted model from the solver's ``(K, width)`` and ``(K,)`` arrays."""
        self.coef_ = coef
        self.intercept_ = intercept

    def _hold_linear_model(self, coef, intercept, **fitted):
        """Become fitted with a given linear model on the input (the identity map).

        ``coef`` and ``intercept`` in the solver's shapes ((K, n_features),
        (K,)); ``fitted`` further attributes (a classifier's ``classes_``
        and ``_problems``). For a model trained elsewhere: a search's
        candidate on precomputed features, a converted scikit-learn SVM.
        Returns ``self``.
        """
        self.__dict__.update(fitted)
        self._publish(coef, intercept)
        self.n_features_in_ = coef.shape[1]
        self._set_feature_map(IdentityMap().fit(np.empty((0, coef.shape[1]))))
        return self

    def _warm_start(self, feature_map, same_problem=True):
        """The feature map and starting point of ``fit``: the fitted ones with ``warm_start``.

        With ``warm_start`` and a fitted model on the same features (and
        ``same_problem``), the fitted map (its random draw included) and
        model; else ``feature_map`` and no starting point. Returns
        ``feature_map, coef_init, intercept_init``.
        """
        if not (self.warm_start and same_problem and self._same_map(feature_map)):
            return feature_map, None, None
        coef, intercept = self._solver_point()
        if not self._fit_intercept():
            intercept = np.zeros_like(intercept)
        return self._map, coef, intercept

    def _set_solution(self, result, X, groups=None, n_groups=1):
        """The fitted attributes of a solve on rows ``X``: model, certificate and support.

        ``support_`` are the rows with a non-zero dual variable in some
        problem, ordered by ``groups`` (the class of each row), then by row,
        as ``SVC`` orders them; ``n_support_`` counts them per group; and
        the estimators of libsvm's family set its other attributes
        (:meth:`_libsvm_attributes`).
        """
        n_samples = X.shape[0]
        self._publish(result.coef, result.intercept)
        self.n_iter_ = self._iteration_counts(result.n_iter, result.column_iter)
        self.objective_ = result.primal
        self.dual_gap_ = result.gap
        self.n_samples_seen_ = n_samples
        self._sgd_state = None  # partial_fit after fit starts from its solution
        support = None
        if result.dual_coef is not None:
            if groups is None:
                groups = np.zeros(n_samples, dtype=np.intp)
            support = np.flatnonzero(np.any(result.dual_coef != 0, axis=1))
            order = np.lexsort((support, groups[support]))
            n_support = np.bincount(groups[support], minlength=n_groups)
            support = self.support_ = support[order].astype(np.int32)
            self.n_support_ = n_support.astype(np.int32)
        self.__dict__.update(self._libsvm_attributes(X, result, support))

    def _iteration_counts(self, total, per_problem):
        """``n_iter_`` of a fit: ``total`` (an int, as ``LinearSVC``'s, ``SVR``'s).

        ``per_problem`` are each binary problem's iterations; ``KerasSVC``
        reports those, as ``SVC`` reports one count per pair.
        """
        return int(total)

    def _libsvm_attributes(self, X, result, support):
        """Attributes of libsvm's estimators for a fit on ``X`` ending in ``result``.

        ``support`` is ``support_`` (``None`` where the solve has no dual
        point). ``LinearSVC`` and ``LinearSVR`` have none; the estimators of
        ``SVC``'s family set theirs (:class:`_KernelMapMixin`).
        """
        return {}

    def _sgd_begin(self, X, first_call, n_problems=1):
        """Before a ``partial_fit`` pass over chunk ``X``: its starting point; count the rows.

        The first call fits the feature map on ``X`` and starts from zero;
        a call after ``fit`` continues from its solution.
        """
        if first_call:
            feature_map = self._make_feature_map()
            feature_map.fit(X, check_random_state(getattr(self, "random_state", None)))
            self._set_feature_map(feature_map)
            self._sgd_state = SGDState(
                np.zeros((n_problems, feature_map.width)), np.zeros(n_problems)
            )
            self.n_samples_seen_ = 0
        elif getattr(self, "_sgd_state", None) is None:
            coef, intercept = self._solver_point()
            self._sgd_state = SGDState(coef, intercept, steps=self.n_samples_seen_ // _BATCH_ROWS)
        self.n_samples_seen_ += X.shape[0]

    def _sgd_step(self, X, lower, upper, weights, lam):
        """One pass of averaged SGD over chunk ``X``; its averaged point becomes the model.

        ``lam`` is the regularisation per row, ``1 / (C n_samples_seen_)``.
        The model is not certified: ``objective_`` and ``dual_gap_`` are NaN,
        and ``support_`` is dropped (SGD has no dual variables).
        """
        report = self._report()
        with np.errstate(over="ignore", invalid="ignore"):  # (checked below, saying why)
            state = sgd_pass(
                self._design(X, self._map, scaled=False),
                lower,
                upper,
                weights,
                self._sgd_state,
                lam=lam,
                loss=self._loss(),
                fit_intercept=self._fit_intercept(),
                intercept_cost=self._intercept_cost(),
            )
        arrays = (state.coef, state.intercept, state.average_coef, state.average_intercept)
        if not all(np.all(np.isfinite(a)) for a in arrays):
            raise ValueError(
                "partial_fit's SGD pass left a model that is not finite in float32: the "
                "features, X or y hold values beyond float32's range (about 3.4e38), or C "
                "times the sample weights is too large for its steps; rescale X (or y) or use "
                "a smaller C. The estimator is left as it was before this call."
            )
        self._sgd_state = state
        seen = self.n_samples_seen_
        report.line(f"partial_fit: one SGD pass over {X.shape[0]} rows ({seen} seen)")
        self._publish(
            state.average_coef.astype(np.float64), state.average_intercept.astype(np.float64)
        )
        n_problems = len(state.average_intercept)
        self.n_iter_ = self._iteration_counts(1, np.ones(n_problems))
        self.objective_ = np.full(n_problems, np.nan)
        self.dual_gap_ = np.full(n_problems, np.nan)
        for name in ("support_", "n_support_", "support_vectors_", "fit_status_", "shape_fit_"):
            self.__dict__.pop(name, None)

    def _set_feature_map(self, feature_map):
        """Hold a fitted feature map and publish its attributes, dropping a previous one's."""
        previous = getattr(self, "_map", None)
        for name in getattr(previous, "attributes", ()):
            self.__dict__.pop(name, None)
        self.__dict__.update(feature_map.fitted_attributes())
        self._map = feature_map.training_done()

    def _same_map(self, feature_map):
        """Whether the fitted model was trained on the same features as ``feature_map``."""
        previous = getattr(self, "_map", None)
        return (
            hasattr(self, "coef_")
            and previous is not None
            and previous.key() == feature_map.key()
            and np.shape(self.coef_)[-1] == feature_map.width
        )

    def _rows_per_batch(self, width):
        if self.batch_size is not None:
            return int(self.batch_size)
        return max(1, _AUTO_BLOCK_ELEMENTS // max(1, width))

    def _model(self):
        """The fitted hyperplanes as ``(coef, intercept)`` of shapes (K, width) and (K,).

        ``coef`` is a NumPy array, also where ``coef_`` is sparse
        (:meth:`~kernelsvm_keras.KerasLinearSVC.sparsify`).
        """
        coef = self.coef_.toarray() if sp.issparse(self.coef_) else self.coef_
        return np.atleast_2d(coef), np.atleast_1d(self.intercept_)

    def _problem_scores(self, X):
        """Decision values of every problem (column), ``(n_samples, n_problems)``."""
        check_is_fitted(self)
        X = self._check_data(X, reset=False)
        coef, intercept = self._model()
        rows = self._rows_per_batch(max(X.shape[1], coef.shape[1]))
        scores = np.empty((X.shape[0], coef.shape[0]))
        for start in range(0, X.shape[0], rows):
            batch = X[start : start + rows].astype(np.float64, copy=False)
            scores[start : start + rows] = self._map.decision(batch, coef, intercept)
        return scores

    def to_keras(self, dtype="float32"):
        """A standalone Keras model computing the decision function.

        The model maps raw inputs of shape ``(n, n_features_in_)`` to the
        decision values of the problems, ``(n, n_problems)``: for a
        regressor or a one-class SVM one column (``model.predict(X).ravel()``
        is ``predict(X)``, or ``decision_function(X)``); for a classifier one
        column for two classes (``decision_function(X)``), one per class
        one-vs-rest (then equal to ``decision_function(X)``), one per pair of
        classes one-vs-one (equal to ``decision_function(X)`` with
        ``decision_function_shape="ovo"``). It
        holds copies of the fitted arrays and runs on any backend and device,
        saves and loads as ``.keras`` with ``import kernelsvm_keras`` only, and
        on TensorFlow exports a SavedModel with ``model.export(path)``.

        Parameters
        ----------
        dtype : str, default="float32"
            Dtype of the model's weights and computation. ``"float32"``
            matches ``decision_function`` to about 1e-5, and 1e-4 at a large
            ``C`` (absolute or relative to the value: on digits, breast
            cancer and wine at ``C`` 1 and 100, from 2e-6 to 1e-4; the
            Laplacian kernel's heavy-tailed frequencies make large arguments
            to ``cos``, where float32 loses the most). On NVIDIA GPUs since
            Ampere, JAX and TensorFlow compute float32 matrix products in
            TensorFloat-32 by default (MNIST on an H200: differences up to
            0.1): predict under ``jax.default_matmul_precision("float32")``
            (TensorFlow:
            ``tf.config.experimental.enable_tensor_float_32_execution(False)``)
            to compute in full float32, as on a CPU. ``"float64"`` matches
            to rounding, where the device supports it, when the model is
            called on a float64 tensor:
            ``model(keras.ops.convert_to_tensor(X, "float64"))``.
            ``model.predict(X)`` converts NumPy input to Keras's float type
            (float32) first on the TensorFlow and torch backends, which costs
            about 1e-7 relative. On JAX, enable float64 first with
            ``JAX_ENABLE_X64=1``, without which JAX truncates it to float32
            (``ValueError`` then). On torch, Keras 3.15 multiplies float64
            matrices in float32 (keras-team/keras#23704): ``ValueError``
            there too, while it does.

        Returns
        -------
        keras.Model
            Layers: the feature map, named ``"features"`` (a
            :class:`~kernelsvm_keras.layers.NystroemFeatures` or
            :class:`~kernelsvm_keras.layers.RandomFourierFeatures` layer; for
            a precomputed kernel a
            :class:`~kernelsvm_keras.layers.LandmarkColumns` layer and a
            ``Dense`` one; nothing for the linear SVM), and a ``Dense`` layer
            named ``"decision"`` holding ``coef_.T`` and ``intercept_``
            (``coef_`` as a row for ``KerasLinearSVR``). Where landmarks'
            ``gamma_`` is beyond ``[1e-20, 1e20]`` (``gamma="scale"`` on rows
            of magnitude 1e-30), a ``Rescaling`` layer named ``"gamma_scale"``
            multiplies the inputs by its root first and the features' own
            ``gamma`` is 1, so that float32 can compute them. A
            callable kernel cannot be exported (``ValueError``).
        """
        check_is_fitted(self)
        check_keras_dtype(dtype)
        inputs = keras.Input((self.n_features_in_,), dtype=dtype, name="x")
        return keras.Model(inputs, self._keras_outputs(inputs, dtype), name=type(self).__name__)

    def _keras_outputs(self, inputs, dtype):
        """The decision values of symbolic ``inputs``: the layers of :meth:`to_keras`."""
        check_is_fitted(self)
        outputs = inputs
        for layer in self._map.layers(self.n_features_in_, dtype):
            outputs = layer(outputs)
        coef, intercept = self._model()
        decision = keras.layers.Dense(coef.shape[0], dtype=dtype, name="decision")
        outputs = decision(outputs)
        set_weights_exactly(decision, [coef.T, intercept])
        return outputs

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def _validate_params(self):
        super()._validate_params()
        # Interval(Integral, ...) admits True and False (bool is an int)
        for name, value in self.get_params(deep=False).items():
            constraints = self._parameter_constraints.get(name, [])
            counts = any(getattr(c, "type", None) is Integral for c in constraints)
            if counts and isinstance(value, (bool, np.bool_)):
                raise InvalidParameterError(
                    f"The {name!r} parameter of {type(self).__name__} must be an int, "
                    f"not a bool; got {value!r}."
                )

    def __getstate__(self):
        state = super().__getstate__()
        return dict(state.items(), _kernelsvm_keras_version=__version__)

    def __setstate__(self, state):
        version = state.pop("_kernelsvm_keras_version", "unknown (before 0.1.0)")
        if "coef_" in state and "_map" not in state:  # pickled before maps were objects
            state["_map"] = map_from_attributes(state, state.get("kernel", "rbf"))
        if version != __version__:
            warnings.warn(
                f"Unpickling a {type(self).__name__} saved by kernelsvm_keras {version} with "
                f"kernelsvm_keras {__version__}: it may not work or may give other results. "
                "Refit it with this version, or use the version that saved it.",
                InconsistentVersionWarning,
                stacklevel=2,
            )
        super().__setstate__(state)


class BaseKerasSVM(ClassifierMixin, _BaseSVM):
    """Base class of the SVM classifiers trained by Keras.

    Subclasses define ``__init__`` (their parameters), ``_parameter_constraints``
    and :meth:`_make_feature_map`; everything else is shared.
    """

    _parameter_constraints: dict = {
        **_BaseSVM._parameter_constraints,
        "loss": [StrOptions({"hinge", "squared_hinge"})],
        "class_weight": [dict, StrOptions({"balanced"}), None],
    }

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the SVM on training data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training vectors. Sparse matrices are densified one batch of rows
            at a time, never as a whole.
        y : array-like of shape (n_samples,)
            Target labels (at least two classes).
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample weights, multiplying ``C`` for each sample (as in
            :class:`~sklearn.svm.SVC`). A weight of 2 is the same as the
            sample appearing twice; a row of zero or negative weight is
            ignored, as ``SVC`` ignores it.

        Returns
        -------
        self : object
            The fitted estimator. If ``fit`` raises (or is interrupted), the
            estimator is left exactly as it was before the call.
        """
        return self._all_or_nothing(self._fit, X, y, sample_weight)

    def _multi_class(self):
        """How more than two classes become binary problems: ``"ovr"`` or ``"ovo"``."""
        return "ovr"

    def _decision_shape(self):
        """``decision_function``'s shape for more than two classes: ``"ovr"`` or ``"ovo"``."""
        return "ovr"

    def _break_ties(self):
        """Whether one-vs-one ``predict`` breaks tied votes by the scores (``SVC``'s)."""
        return False

    def _check_break_ties(self):
        """``SVC``'s refusal of ``break_ties`` with ovo scores: at ``predict``, not at ``fit``."""
        if self._break_ties() and self._decision_shape() == "ovo":
            raise ValueError("break_ties must be False when decision_function_shape is 'ovo'.")

    def _scheme(self, n_classes):
        """The binary problems trained for ``n_classes``: one for two classes."""
        return "ovo" if n_classes > 2 and self._multi_class() == "ovo" else "ovr"

    def _fit(self, X, y, sample_weight):
        self._check_params()
        fitted_problems = getattr(self, "_problems", None)
        X, y, classes, targets, weights, class_weight = self._validate_training_data(
            X, y, sample_weight
        )
        # the same classes and binary problems, or no warm start
        same_problem = fitted_problems == self._problems and np.array_equal(
            getattr(self, "classes_", None), classes
        )
        groups = np.searchsorted(classes, y)  # each row's class
        feature_map, result = self._fit_and_solve(
            X, targets, weights, float(self.C), same_problem, labels=groups
        )
        self._set_feature_map(feature_map)
        self.classes_ = classes
        self.class_weight_ = class_weight
        self._set_solution(result, X, groups=groups, n_groups=len(classes))
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Update the model with one pass of averaged SGD over a chunk of rows.

        For data that does not fit in memory, or arrives over time: call it
        on successive chunks, and over the whole data several times (a few
        passes reach about the accuracy of ``fit``; see Notes). It continues
        from ``fit``'s solution when called after ``fit``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            A chunk of training vectors.
        y : array-like of shape (n_samples,)
            Their labels, all in ``classes``.
        classes : array-like of shape (n_classes,), default=None
            Every label of the whole data (at least two). Required on the
            first call, and to be the same if given again.
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample weights, as in ``fit``.

        Returns
        -------
        self : object
            Updated. If the call raises, the estimator is left exactly as it
            was before the call.

        Notes
        -----
        The first call fixes the feature map from its chunk (for
        ``KerasSVC``: ``gamma="scale"`` is resolved on that chunk, and the
        random features are drawn, or the Nystroem landmarks taken from its
        rows, at most as many as it holds). Each call then runs one pass of
        mini-batch stochastic gradient descent (polynomial-decay averaged
        iterates, steps decaying as in Xu, 2011) on the objective of ``fit``
        over the ``n_samples_seen_`` rows passed so far: a row passed in
        ``p`` passes counts ``p`` times, so after ``p`` passes over the same
        data the model approaches ``fit``'s with ``p * C``. Unlike ``fit``,
        the result is not certified: ``objective_`` and ``dual_gap_`` are NaN
        after ``partial_fit``. ``class_weight="balanced"`` needs the whole
        ``y`` and is not supported.
        """
        return self._all_or_nothing(self._partial_fit, X, y, classes, sample_weight)

    def _partial_fit(self, X, y, classes, sample_weight):
        self._check_params()
        if self.class_weight == "balanced":
            raise ValueError(
                "class_weight='balanced' needs the class counts of the whole data, which "
                "partial_fit does not see; pass a dict of class weights (for instance from "
                "sklearn.utils.class_weight.compute_class_weight) instead."
            )
        first_call = _check_partial_fit_first_call(self, classes)
        if first_call and len(self.classes_) < 2:
            raise ValueError(
                f"classes must hold at least 2 labels, got {self.classes_.tolist()!r}."
            )
        X, y = self._check_data(X, y, reset=first_call)
        check_classification_targets(y)
        unknown = np.setdiff1d(np.unique(y), self.classes_)
        if unknown.size:
            raise ValueError(
                f"y holds labels not in classes={self.classes_.tolist()!r}: {unknown.tolist()!r}."
            )
        y_index = np.searchsorted(self.classes_, y)
        weights = _sample_weights(sample_weight, X, require_positive=False)
        if self.class_weight is not None:
            _check_class_weight(self.class_weight, self.classes_)
            weights = (
                weights
                * compute_class_weight(self.class_weight, classes=self.classes_, y=y)[y_index]
            )
        if first_call:
            self._problems = self._scheme(len(self.classes_))
        self._sgd_begin(X, first_call, _n_problems(len(self.classes_), self._problems))
        targets, weights = _binary_problems(y_index, len(self.classes_), weights, self._problems)
        lower, upper = self._intervals(targets)
        self._sgd_step(X, lower, upper, weights, lam=1.0 / (float(self.C) * self.n_samples_seen_))
        return self

    def _validate_training_data(self, X, y, sample_weight):
        """Checked ``X`` (CSR if sparse), the classes, the targets and the weights.

        Returns
        -------
        X : ndarray or CSR matrix
        y : ndarray of shape (n_samples,)
        classes : ndarray of shape (n_classes,)
        targets : ndarray of shape (n_samples, n_problems)
            +1 / -1 per binary problem (see :func:`_binary_problems`).
        weights : ndarray of shape (n_samples,) or (n_samples, n_problems)
            Sample weight times class weight (per problem for one-vs-one:
            zero outside the pair's rows).
        class_weight : ndarray of shape (n_classes,)
            The weight of each class (``class_weight`` resolved).
        """
        X, y = self._check_data(X, y, reset=True)
        check_classification_targets(y)
        classes, y_index = np.unique(y, return_inverse=True)
        sample_weight = _sample_weights(sample_weight, X)
        _check_class_weight(self.class_weight, classes)
        class_weight = compute_class_weight(self.class_weight, classes=classes, y=y)
        weights = sample_weight * class_weight[y_index]
        if len(classes) < 2:
            raise ValueError(
                f"The number of classes has to be greater than one; got {len(classes)} class "
                f"({classes.tolist()!r})."
            )
        present = classes[np.bincount(y_index, weights=weights, minlength=len(classes)) > 0]
        if len(present) < 2:
            raise ValueError(
                "Invalid input - all samples with positive weights belong to the same class: "
                f"{type(self).__name__} needs samples of at least 2 classes with positive "
                f"weight; the data has only one class with positive weight: {present.tolist()!r} "
                f"(classes in y: {classes.tolist()!r})."
            )
        self._problems = self._scheme(len(classes))  # kept once the fit succeeds
        targets, weights = _binary_problems(y_index, len(classes), weights, self._problems)
        return X, y, classes, targets, weights, class_weight

    def decision_function(self, X):
        """Signed distance of each sample to the hyperplanes, in ``SVC``'s shapes.

        Computed exactly in float64 with NumPy, ``batch_size`` rows at a time
        (bounded memory; the result does not depend on the backend, on the
        device, nor on how rows are batched). For inference on an accelerator,
        use the fitted arrays in a Keras model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,), (n_samples, n_classes) or \
(n_samples, n_classes * (n_classes - 1) / 2)
            For two classes, positive values predict ``classes_[1]``. For
            more, one column per class (``"ovr"`` shape: the one-vs-rest
            scores, or ``SVC``'s vote counts plus normalised confidences of
            one-vs-one problems) or one per pair ``(i, j)``, ``i < j``, in
            ``SVC``'s order, positive where class ``i`` is preferred (``"ovo"``
            shape: the pair's own problem, or the difference of the two
            classes' one-vs-rest scores).
        """
        scores = self._problem_scores(X)
        if len(self.classes_) == 2:
            return scores.ravel()
        if self._decision_shape() == "ovo":
            if self._trained() == "ovo":
                return scores
            first, second = np.triu_indices(len(self.classes_), k=1)
            return scores[:, first] - scores[:, second]
        return self._class_scores(scores)

    def _trained(self):
        return getattr(self, "_problems", "ovr")

    def _class_scores(self, scores):
        """One score per class (one column for two classes) from the problems' scores."""
        if self._trained() != "ovo":
            return scores
        return _ovr_decision_function(scores < 0, -scores, len(self.classes_))

    def predict(self, X):
        """Predict class labels.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
            For two classes, ``classes_[1]`` where the decision value is
            positive. For more, one-vs-rest: the class of the largest score;
            one-vs-one: the class with the most votes of the pairs' problems
            (ties to the first class, or broken by the confidences with
            ``break_ties=True``, as ``SVC``).
        """
        self._check_break_ties()
        scores = self._problem_scores(X)
        if scores.shape[1] == 1:
            return self.classes_[(scores[:, 0] > 0).astype(int)]
        if self._trained() == "ovo" and not self._break_ties():
            first, second = np.triu_indices(len(self.classes_), k=1)
            winners = np.where(scores > 0, first, second)
            votes = np.zeros((len(scores), len(self.classes_)), dtype=np.int64)
            np.add.at(votes, (np.arange(len(scores))[:, None], winners), 1)
            return self.classes_[np.argmax(votes, axis=1)]
        return self.classes_[np.argmax(self._class_scores(scores), axis=1)]


_KERNEL_CONSTRAINTS: dict = {
    "kernel": [
        StrOptions({"linear", "poly", "rbf", "sigmoid", "laplacian", "precomputed"}),
        callable,
    ],
    "degree": [Interval(Integral, 0, None, closed="left")],
    "gamma": [StrOptions({"scale", "auto"}), Interval(Real, 0.0, None, closed="left")],
    "coef0": [Interval(Real, None, None, closed="neither")],
    "shrinking": ["boolean"],
    "random_state": ["random_state"],
    "n_components": [Interval(Integral, 1, None, closed="left")],
    "approximation": [StrOptions(set(APPROXIMATIONS))],
}


class _KernelMapMixin:
    """The kernel parameters of ``SVC``, ``SVR`` and ``OneClassSVM``, and the map they make.

    ``kernel``, ``degree``, ``gamma``, ``coef0`` (scikit-learn's meanings),
    ``n_components`` and ``approximation`` make the feature map
    (:func:`~kernelsvm_keras._maps.make_feature_map`); ``"precomputed"``
    makes the estimator pairwise.
    """

    def _make_feature_map(self, **overrides):
        names = ("kernel", "approximation", "gamma", "degree", "coef0", "n_components")
        params = {name: overrides.get(name, getattr(self, name, None)) for name in names}
        return make_feature_map(**params, basis=overrides.get("basis", "eigen"))

    def _libsvm_attributes(self, X, result, support):
        """``fit_status_`` (0: ``tol`` met, else 1), ``shape_fit_`` and ``support_vectors_``."""
        attributes = {"fit_status_": int(not result.converged), "shape_fit_": tuple(X.shape)}
        vectors = None if support is None else self._support_vectors(X, support)
        if vectors is not None:
            attributes["support_vectors_"] = vectors
        return attributes

    def _support_vectors(self, X, support):
        """The support vectors as ``SVC`` keeps them: float64 rows, sparse where ``X`` is.

        For ``kernel="precomputed"`` an empty ``(0, 0)`` array, as
        ``SVC``'s (the rows of a kernel matrix are not vectors of the data).
        ``None`` (no attribute) where they would take more than
        ``cache_size`` megabytes: a fit that streams its features keeps no
        copy of ``X`` either (data larger than memory, a memory map).
        """
        if isinstance(self.kernel, str) and self.kernel == "precomputed":
            return np.zeros((0, 0))
        if sp.issparse(X):
            X = sp.csr_matrix(X)
            nbytes = 12 * int(np.sum(np.diff(X.indptr)[support])) + 8 * len(support)
        else:
            nbytes = 8 * len(support) * X.shape[1]
        if nbytes > float(self.cache_size) * 2**20:  # sized before a row is copied
            return None
        if sp.issparse(X):
            return sp.csr_matrix(X[support], dtype=np.float64)
        return np.asarray(X[support], dtype=np.float64)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.pairwise = self.kernel == "precomputed"
        return tags


class InconsistentVersionWarning(UserWarning):
    """A pickled estimator comes from another version of kernelsvm_keras."""


def _kernel_gap(X, feature_map, result, support):
    """A landmark fit's certified relative distance to the kernel SVM's optimum, per column.

    ``result``'s dual point (non-zero on the rows ``support`` of ``X``
    only) is feasible for the kernel SVM's dual, whose objective there is
    lower than the fit's by ``feature_map.kernel_excess``; the primal is the
    kernel SVM's objective at the fit's solution. See
    :meth:`_BaseSVM._on_support`.
    """
    excess = feature_map.kernel_excess(X, support, result.dual_coef[support])
    return _certificate.relative_gap(result.primal, result.dual - excess, result.gap_floor)


def _certifiable(gap):
    """A tolerance just above a certified gap: the next power of ten."""
    return 10.0 ** math.ceil(math.log10(max(float(np.max(gap)), 1e-300)))


# Newer scikit-learn (1.9 here) refuses all-zero weights in _check_sample_weight, with
# another message than SVC's (libsvm's, for zero or negative weights alike):
# the check below gives SVC's for both.
_ZERO_WEIGHTS = (
    {"allow_all_zero_weights": True}
    if "allow_all_zero_weights" in inspect.signature(_check_sample_weight).parameters
    else {}
)


def _sample_weights(sample_weight, X, require_positive=True):
    """Checked sample weights, negative ones set to zero: the rows are ignored, as in SVC.

    libsvm and liblinear drop the rows of non-positive weight; a negative
    weight does not flip the loss. ``fit`` needs a positive one
    (``require_positive``); a chunk of ``partial_fit`` does not.
    """
    sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64, **_ZERO_WEIGHTS)
    if require_positive and sample_weight.size and not np.any(sample_weight > 0):
        raise ValueError(
            "Invalid input - all samples have zero or negative weights "
            f"(sample_weight ranges from {sample_weight.min():g} to {sample_weight.max():g})."
        )
    return np.maximum(sample_weight, 0.0)


def _check_class_weight(class_weight, classes):
    """Refuse negative or non-finite class weights, naming the class."""
    if not isinstance(class_weight, dict):
        return
    for label, weight in class_weight.items():
        valid = isinstance(weight, Real) and not isinstance(weight, bool)
        if not valid or not math.isfinite(weight) or weight < 0:
            raise ValueError(
                "class_weight must map classes to finite non-negative numbers; got "
                f"{weight!r} for class {label!r}."
            )


def _n_problems(n_classes, scheme):
    if n_classes == 2:
        return 1
    return n_classes * (n_classes - 1) // 2 if scheme == "ovo" else n_classes


def _binary_problems(y_index, n_classes, weights, scheme):
    """Targets and weights of the binary problems of a multiclass one.

    One-vs-rest (``"ovr"``): targets ``(n, n_classes)`` (one column for two
    classes), the weights as given. One-vs-one (``"ovo"``): one column per
    pair ``(i, j)``, ``i < j``, in ``SVC``'s order, +1 for class ``i`` and -1
    for class ``j``, and the weights per column, zero outside the pair's rows.
    """
    if scheme != "ovo" or n_classes == 2:
        return _one_vs_rest_targets(y_index, n_classes), weights
    first, second = np.triu_indices(n_classes, k=1)
    targets = np.where(y_index[:, None] == first, 1.0, -1.0)
    inside = (y_index[:, None] == first) | (y_index[:, None] == second)
    return targets, np.where(inside, np.asarray(weights, dtype=np.float64)[:, None], 0.0)


def _one_vs_rest_targets(y_index, n_classes):
    """+1 / -1 targets per one-vs-rest problem (a single problem for two classes)."""
    if n_classes == 2:
        return np.where(y_index == 1, 1.0, -1.0)[:, None]
    targets = np.full((len(y_index), n_classes), -1.0)
    targets[np.arange(len(y_index)), y_index] = 1.0
    return targets
