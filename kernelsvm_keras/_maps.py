"""The feature maps ``phi`` of the SVMs: one small class per kind.

An SVM here is a linear model ``w . phi(x) + b`` on a feature map. Each map
is one object that knows how to

- draw or fit itself on training rows (:meth:`FeatureMap.fit`, randomness only
  from the ``random_state`` given),
- its width (:attr:`FeatureMap.width`),
- its ``keras.ops`` form for training (:meth:`FeatureMap.transform`: a
  callable on float32 tensors, ``None`` for the identity; and
  :meth:`FeatureMap.training_form`, which keeps a map that is a product
  ``k(X, Z) @ N`` in its two factors, so that the solver need not form it),
- its exact float64 NumPy form for ``decision_function``
  (:meth:`FeatureMap.features`, :meth:`FeatureMap.decision`),
- its Keras layers for ``to_keras`` (:meth:`FeatureMap.layers`),
- its public fitted attributes (:meth:`FeatureMap.fitted_attributes`, set on
  the estimator),
- and whether two maps are the same one (:meth:`FeatureMap.key` for warm
  starts: the same map up to its random draw; :meth:`FeatureMap.arrays` for
  folds: the same draw).

The kinds: :class:`IdentityMap` (the linear SVM), :class:`RandomFourierMap`
(rbf, laplacian), :class:`LandmarkMap` (Nystroem landmarks over any kernel
of :mod:`sklearn.metrics.pairwise`'s conventions, or a callable) and
:class:`PrecomputedMap` (landmarks as columns of a given kernel matrix).
:func:`make_feature_map` chooses one from an estimator's parameters. The
kernel mathematics (NumPy and ``keras.ops``) lives in :mod:`._kernels`, the layers
in :mod:`.layers`.
"""

import math

import numpy as np

from ._blas import matmul
from ._compiled import compiled
from ._keras import keras, ops, set_weights_exactly, to_tensor
from ._kernels import (
    HOST_CHUNK_ELEMENTS,
    KERNELS,
    LANDMARK_KERNELS,
    NYSTROEM_EIGENVALUE_TOL,
    _nystroem_factors,
    draw_random_fourier_weights,
    kernel_matrix,
    kernel_matrix_numpy,
    random_fourier_features,
)

APPROXIMATIONS = ("auto", "random_fourier", "nystroem")


class FeatureMap:
    """A feature map ``phi``: unfitted from its parameters, fitted by :meth:`fit`.

    Subclasses set :attr:`attributes` (the fitted attributes they publish on
    the estimator) and implement :meth:`fit`, :attr:`width`,
    :meth:`transform`, :meth:`features` and :meth:`layers`.
    """

    #: Names of the public fitted attributes (ending in ``_``).
    attributes = ()
    #: Whether the features are kernels against training rows drawn by
    #: ``fit`` (``component_indices_``), which may be given rows to hold
    #: (``fit``'s ``first``).
    draws_landmarks = False

    def fit(self, X, random_state, keep_fit_rows=False):
        """Draw or fit the map on training rows ``X``; returns ``self``.

        With ``keep_fit_rows``, a map that has the features of ``X`` from its
        own fit keeps them for one call of :meth:`fit_rows`. Maps that
        :attr:`draws_landmarks` also take ``first``: rows of ``X`` that are
        landmarks ahead of the draw, and ``groups``: where ``X`` holds merged
        repeats, the merged row of each row given (:func:`_draw_landmarks`).
        """
        raise NotImplementedError

    @property
    def width(self):
        """Number of features."""
        raise NotImplementedError

    def transform(self):
        """The map as a callable on float32 tensors of rows, for training."""
        transform, factor = self.training_form()
        if factor is None:
            return transform
        factor = _float32_tensor(getattr(factor, "dense", factor))
        return lambda rows: ops.matmul(transform(rows), factor)

    def fit_rows(self):
        """The float64 features and Gram matrix of the rows ``fit`` saw, if the map kept them.

        A landmark map whose landmarks are every row it was fitted on has
        their features from its factorisation (``phi(Z)``, see
        :func:`~kernelsvm_keras.layers.nystroem_factors`), without the kernel
        block and its product with ``N``; in the Cholesky basis their Gram
        matrix ``phi(Z) phi(Z)^T`` is the landmarks' kernel matrix itself
        (nothing dropped). Returns ``(features, gram)`` (``gram`` may be
        ``None``) once after a ``fit(..., keep_fit_rows=True)``, then forgets
        them (they are not part of the fitted map); ``None`` for other maps
        and fits.
        """
        kept, self._fit_rows = getattr(self, "_fit_rows", None), None
        return kept

    def _keep_fit_rows(
        self, keep, every_row, landmark_features, kernel_matrix, basis, dropped=None
    ):
        """Keep :meth:`fit_rows` if asked (``keep``) and the landmarks are ``every_row``.

        ``landmark_features`` and ``kernel_matrix`` are then in the fit rows'
        own order (see :func:`_every_row_factors`); ``basis`` is the one
        :func:`~kernelsvm_keras.layers.nystroem_factors` used: in the
        Cholesky basis and its rotation, ``phi(Z) phi(Z)^T = K``. Over the
        landmarks a pivoted factorisation keeps (``dropped``: the rows it
        left out, ``kernel_matrix`` then this function's to overwrite) it is
        ``K`` but between the dropped rows, where it is ``phi_d phi_d^T =
        K_dk K_kk^-1 K_kd``: the Gram matrix is ``K`` with that block
        written, without the ``m^3`` product of all the features (digits'
        1,347 rows at ``gamma=0.02``: 0.057 s of a 0.29 s fit).
        """
        self._fit_rows = None
        if keep and every_row:
            gram = None
            if basis in ("cholesky", "leading"):
                gram = kernel_matrix
            elif basis == "pivoted" and dropped is not None:
                part = landmark_features[dropped]
                kernel_matrix[np.ix_(dropped, dropped)] = matmul(part, part.T)
                gram = kernel_matrix
            self._fit_rows = (landmark_features, gram)

    def training_form(self):
        """``(transform, factor)``: ``phi(rows) = transform(rows) @ factor``.

        ``factor`` is a NumPy array, a
        :class:`~kernelsvm_keras._kernels.RotatedFactor` (the array and its
        factors), or ``None`` where ``transform`` gives the features
        themselves (``transform`` ``None``: the identity).
        """
        return self.transform(), None

    def training_done(self):
        """The map as a fitted estimator holds it: without what only its fit's training used.

        Returns the map itself. (The factors of the basis ``"leading"``,
        which :meth:`training_form` gives until then.)
        """
        return self

    def features(self, X):
        """``phi(X)`` in float64 NumPy, for a batch of rows (dense or sparse)."""
        raise NotImplementedError

    def decision(self, X, coef, intercept):
        """Decision values ``phi(X) @ coef.T + intercept`` of a batch, in float64."""
        return _by_row_chunks(
            X, self.width, lambda rows: matmul(self.features(rows), coef.T) + intercept
        )

    def layers(self, n_features_in, dtype):
        """Built Keras layers computing the fitted map (none for the identity)."""
        raise NotImplementedError

    def kernel_excess(self, X, rows, beta):
        """``(beta^T K beta - |phi^T beta|^2) / 2`` per column, over training ``rows`` of ``X``.

        For maps that :attr:`draws_landmarks`. ``K`` is the kernel matrix of
        those rows and ``phi`` their features; ``beta`` (of shape
        ``(len(rows), K)``) a dual point that is zero on the other rows. A
        landmark fit's dual objective at ``beta`` exceeds the kernel SVM's
        by this much: ``K - phi phi^T`` is the rows' kernel beyond the
        landmarks' span (positive semi-definite), zero between landmarks.
        """
        beta = np.asarray(beta, dtype=np.float64)
        kernel = self._rows_kernel(X, rows)
        u = self.transposed_products(X[rows], beta)
        excess = np.sum(beta * matmul(kernel, beta), axis=0) - np.sum(np.square(u), axis=0)
        return 0.5 * excess

    def _rows_kernel(self, X, rows):
        """The float64 kernel matrix of training ``rows`` of ``X`` (landmark maps)."""
        raise NotImplementedError

    def transposed_products(self, X, U):
        """``phi(X)^T @ U`` in float64, for a batch of rows and ``U`` of shape (len(X), K)."""
        return matmul(self.features(X).T, U)

    def model_products(self, X, coef, intercept, beta):
        """``phi(X) @ coef.T + intercept`` and ``phi(X).T @ beta``, in float64, in one pass.

        The fitted model's own decision values at its training rows, and its
        features' products with a dual point ``beta`` of shape (len(X), K):
        what a certificate on the model's features needs (each row's
        features computed once).
        """
        return _two_products(X, self.width, self.features, coef.T, intercept, beta)

    def fitted_attributes(self):
        """The public fitted attributes: name to array (or number)."""
        return {name: getattr(self, name) for name in self.attributes}

    def key(self):
        """What identifies the map up to its random draw (warm starts)."""
        return (type(self).__name__, self.width)

    def arrays(self):
        """The arrays that define the fitted map: equal arrays, the same map."""
        values = self.fitted_attributes().values()
        return tuple(np.asarray(value) for value in values)


def _by_row_chunks(X, width, scores):
    """``scores(rows)`` of ``X``'s rows, a chunk at a time, stacked.

    ``width`` is the number of features (or kernel columns) ``scores``
    computes per row: at most ``HOST_CHUNK_ELEMENTS`` of them at a time (a
    whole prediction batch's were hundreds of MB).
    """
    rows = max(1, HOST_CHUNK_ELEMENTS // max(1, width))
    if X.shape[0] <= rows:
        return scores(X)
    return np.vstack([scores(X[start : start + rows]) for start in range(0, X.shape[0], rows)])


def _two_products(X, width, columns, weights, intercept, beta):
    """``columns(X) @ weights + intercept`` and ``columns(X).T @ beta``, a chunk of rows at a time.

    ``columns(rows)`` is a float64 ``(len(rows), width)`` block (features or
    kernel columns), computed once per chunk for both products; chunks where
    ``beta`` is zero add nothing to the second.
    """
    n = X.shape[0]
    decision = np.empty((n, weights.shape[1]))
    products = np.zeros((width, beta.shape[1]))
    rows = max(1, HOST_CHUNK_ELEMENTS // max(1, width))
    for start in range(0, n, rows):
        block = columns(X[start : start + rows])
        decision[start : start + rows] = matmul(block, weights) + intercept
        part = beta[start : start + rows]
        if np.any(part):
            products += matmul(block.T, part)
    return decision, products


def _factored_products(X, kernel, normalization, coef, intercept, beta):
    """:meth:`FeatureMap.model_products` of features ``kernel(X) @ N``, never formed.

    The kernel block is computed once for both products, and ``N`` applied on
    the small sides: ``k (N coef^T)`` and ``N^T (k^T beta)``.
    """
    weights = matmul(normalization, coef.T)
    width = normalization.shape[0]
    decision, products = _two_products(X, width, kernel, weights, intercept, beta)
    return decision, matmul(normalization.T, products)


def resolve_gamma(gamma, X):
    """``gamma`` as SVC resolves it: ``"scale"``, ``"auto"`` or a number."""
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


def _dense(X):
    return np.asarray(X.toarray() if hasattr(X, "toarray") else X, dtype=np.float64)


def _float32_tensor(array):
    return to_tensor(np.asarray(array, dtype=np.float32))


class IdentityMap(FeatureMap):
    """``phi(x) = x``: the linear SVM on the input, exactly."""

    def fit(self, X, random_state=None, keep_fit_rows=False):
        self.n_features_ = X.shape[1]
        return self

    @property
    def width(self):
        return self.n_features_

    def transform(self):
        return None

    def features(self, X):
        return X

    def layers(self, n_features_in, dtype):
        return []


class RandomFourierMap(FeatureMap):
    """Random Fourier features ``sqrt(2 / D) cos(x @ W + offset)`` (Rahimi and Recht, 2007).

    The draw of :class:`sklearn.kernel_approximation.RBFSampler` for the RBF
    kernel (equal arrays for equal ``gamma``, ``n_components`` and seed), a
    Cauchy draw for the Laplacian kernel.
    """

    attributes = ("gamma_", "random_weights_", "random_offset_")

    def __init__(self, kernel="rbf", gamma="scale", n_components=2048):
        if kernel not in KERNELS:
            raise ValueError(
                f"approximation='random_fourier' serves the kernels {list(KERNELS)} (those with "
                f"a spectral density), not kernel={kernel!r}; approximation='nystroem' (or "
                "'auto') serves every kernel."
            )
        self.kernel = kernel
        self.gamma = gamma
        self.n_components = n_components

    def fit(self, X, random_state, keep_fit_rows=False):
        self.gamma_ = resolve_gamma(self.gamma, X)
        weights, offset = draw_random_fourier_weights(
            X.shape[1], self.n_components, self.gamma_, self.kernel, random_state
        )
        with np.errstate(over="ignore"):  # (the error below says it, without a RuntimeWarning)
            representable = np.all(np.isfinite(weights.astype(np.float32)))
        if not representable:
            raise ValueError(
                f"gamma_={self.gamma_:.3g} (from gamma={self.gamma!r}) makes the random "
                "weights overflow float32, the precision of training; rescale X (for "
                "instance with StandardScaler) or pass a smaller gamma."
            )
        self.random_weights_, self.random_offset_ = weights, offset
        return self

    @property
    def width(self):
        return self.random_weights_.shape[1]

    def key(self):
        return ("random_fourier", self.kernel, self.gamma_, self.width)

    def transform(self):
        weights = _float32_tensor(self.random_weights_)
        offset = _float32_tensor(self.random_offset_)
        return lambda rows: random_fourier_features(rows, weights, offset)

    def features(self, X):
        projection = matmul(X, self.random_weights_)
        projection += self.random_offset_
        np.cos(projection, out=projection)
        projection *= np.sqrt(2.0 / self.width)
        return projection

    def layers(self, n_features_in, dtype):
        from .layers import RandomFourierFeatures

        layer = RandomFourierFeatures(
            self.width, gamma=self.gamma_, kernel=self.kernel, dtype=dtype, name="features"
        )
        layer.build((None, n_features_in))
        set_weights_exactly(layer, [self.random_weights_, self.random_offset_])
        return [layer]


class LandmarkMap(FeatureMap):
    """Nystroem landmarks over any kernel: ``phi(x) = k(x, Z) @ N`` (Williams and Seeger, 2001).

    ``Z`` are ``min(n_components, n_samples)`` training rows drawn as
    :class:`sklearn.kernel_approximation.Nystroem` draws them, and ``N`` the
    normalisation of :func:`~kernelsvm_keras.layers.nystroem_normalization`
    (eigenvalue magnitudes, so a kernel that is not positive semi-definite,
    such as the sigmoid, is handled as ``Nystroem`` handles it). ``kernel`` is
    a name of :data:`~kernelsvm_keras.layers.LANDMARK_KERNELS` or a callable
    ``kernel(A, B) -> (len(A), len(B))`` on float64 arrays (evaluated on the
    host, one batch of rows at a time). ``basis`` is that of
    :func:`~kernelsvm_keras.layers.nystroem_factors`.
    """

    attributes = ("gamma_", "components_", "component_indices_", "normalization_")
    draws_landmarks = True

    def __init__(
        self, kernel="rbf", gamma="scale", degree=3, coef0=0.0, n_components=2048, basis="eigen"
    ):
        if not (callable(kernel) or kernel in LANDMARK_KERNELS):
            raise ValueError(
                f"Landmarks serve the kernels {list(LANDMARK_KERNELS)}, 'precomputed' and "
                f"callables; got kernel={kernel!r}."
            )
        self.kernel = kernel
        self.gamma = gamma
        self.degree = degree
        self.coef0 = coef0
        self.n_components = n_components
        self.basis = basis

    def fit(self, X, random_state, keep_fit_rows=False, first=None, groups=None):
        self.gamma_ = resolve_gamma(self.gamma, X)
        m = min(self.n_components, X.shape[0])
        indices = _draw_landmarks(random_state, X.shape[0], m, first, groups)
        components = _dense(X[indices])
        every_row = m == X.shape[0]
        # every row a landmark: their kernel in the rows' own order (_every_row_factors)
        factored = _dense(X) if every_row else components
        with np.errstate(all="ignore"):
            representable = np.all(np.isfinite(components.astype(np.float32)))
            landmark_kernel = self._kernel(factored, factored)
        if not representable or not np.all(np.isfinite(landmark_kernel)):
            raise ValueError(
                "The landmarks (training rows) or their kernel matrix hold values beyond "
                "float32's range, the precision of training (max |X| = "
                f"{np.max(np.abs(components)):.3g}); rescale X (for instance with "
                "StandardScaler) or use a smaller gamma."
            )
        # (the kernel matrix is the map's own unless a callable returned it; factored in
        # place, it is the kept Gram matrix in the Cholesky basis, and dropped otherwise)
        normalization, landmark_features, basis, rotation = _every_row_factors(
            landmark_kernel,
            indices if every_row else None,
            self.basis,
            overwrite=not callable(self.kernel),
            features=keep_fit_rows,
            semidefinite=self._semidefinite(),
        )
        self.component_indices_ = indices
        self.components_ = components
        self.normalization_ = normalization
        self._rotation = rotation
        # (the rows a pivoted factorisation left out: zero rows of N, in the draw's order)
        pivoted = basis == "pivoted" and every_row and keep_fit_rows
        dropped = indices[~np.any(normalization, axis=1)] if pivoted else None
        self._keep_fit_rows(
            keep_fit_rows, every_row, landmark_features, landmark_kernel, basis, dropped
        )
        return self

    @property
    def width(self):
        return self.components_.shape[0]

    def _semidefinite(self):
        """Whether the kernel is positive semi-definite (its Gram matrices are).

        The sigmoid kernel is not, a callable is not known to be, and the
        polynomial kernel is where ``coef0 >= 0`` (a power of a sum of
        such kernels, with ``gamma >= 0``).
        """
        if callable(self.kernel):
            return False
        return self.kernel in ("rbf", "laplacian", "linear") or (
            self.kernel == "poly" and self.coef0 >= 0
        )

    def key(self):
        kernel = self.kernel if not callable(self.kernel) else id(self.kernel)
        return ("nystroem", kernel, self.gamma_, self.degree, self.coef0, self.width)

    def _rows_kernel(self, X, rows):
        part = _dense(X[rows])
        return self._kernel(part, part)

    def _kernel(self, A, B):
        """The kernel between dense float64 rows, in NumPy."""
        if not callable(self.kernel):
            return kernel_matrix_numpy(A, B, self.kernel, self.gamma_, self.degree, self.coef0)
        values = np.asarray(self.kernel(A, B), dtype=np.float64)
        if values.shape != (A.shape[0], B.shape[0]):
            raise ValueError(
                f"The kernel callable returned an array of shape {values.shape} for inputs of "
                f"{A.shape[0]} and {B.shape[0]} rows; it must return ({A.shape[0]}, "
                f"{B.shape[0]})."
            )
        return values

    def training_form(self):
        if callable(self.kernel):
            # a Python callable runs on the host, one block of rows at a time
            def on_host(rows):
                rows = np.asarray(ops.convert_to_numpy(rows), dtype=np.float64)
                values = self._kernel(rows, self.components_).astype(np.float32)
                return to_tensor(values)

            return on_host, self.normalization_
        scale, gamma, components = self.folded_gamma("float32")
        components, coef0 = _float32_tensor(components), self.coef0
        static = {"kernel": self.kernel, "degree": self.degree}

        def block(rows):
            if scale != 1.0:
                rows = ops.multiply(rows, ops.cast(scale, rows.dtype))
            return _kernel_block(rows, components, gamma, coef0, **static)

        return block, self._factor()

    def _factor(self):
        """``normalization_``, as its :class:`~kernelsvm_keras._kernels.RotatedFactor` where the
        fit kept one (the basis ``"leading"``, until :meth:`training_done`)."""
        rotation = getattr(self, "_rotation", None)
        return self.normalization_ if rotation is None else rotation

    def training_done(self):
        # the rotation's factors speed up the fit's projections only (m^2 float32
        # numbers, 64 MB on 4,096 landmarks): a fitted estimator's map projects by
        # normalization_ itself
        self._rotation = None
        return self

    def features(self, X):
        return matmul(self._kernel(_dense(X), self.components_), self.normalization_)

    def transposed_products(self, X, U):
        # N^T (k(X, Z)^T U): never the (n, m) @ (m, m) product of the features (w8a's
        # hinge: 0.31 s of its two certificates on moved landmarks)
        kernel = self._kernel(_dense(X), self.components_)
        return matmul(self.normalization_.T, matmul(kernel.T, U))

    def model_products(self, X, coef, intercept, beta):
        def kernel(rows):
            return self._kernel(_dense(rows), self.components_)

        return _factored_products(X, kernel, self.normalization_, coef, intercept, beta)

    def decision(self, X, coef, intercept):
        # k(X, Z) @ (N @ coef^T): never the (n, m) @ (m, m) product of the features
        weights = matmul(self.normalization_, coef.T)

        def block(rows):
            return matmul(self._kernel(_dense(rows), self.components_), weights)

        return _by_row_chunks(X, self.width, block) + intercept

    def folded_gamma(self, dtype):
        """``(scale, gamma, components)``: the kernel of inputs multiplied by ``scale``.

        ``(1, gamma_, components_)`` where ``gamma_`` is within float32's reach
        (:func:`_input_scale`); otherwise ``gamma_`` folded into inputs and
        landmarks, ``gamma`` 1 and the landmarks multiplied by ``scale`` in
        ``dtype``, the arithmetic that multiplies the inputs (training's
        float32 rows, ``to_keras``'s ``Rescaling`` layer, the ONNX graph), so
        that a row that is a landmark meets it exactly (scaled in float64, the
        Laplacian's landmark rows at ``gamma`` 1.4e23 lost their kernel value
        of 1).
        """
        scale = _input_scale(self.kernel, self.gamma_)
        if scale == 1.0:
            return 1.0, self.gamma_, self.components_
        return scale, 1.0, self.components_.astype(dtype) * np.asarray(scale, dtype=dtype)

    def layers(self, n_features_in, dtype):
        if callable(self.kernel):
            raise ValueError(
                "to_keras cannot export a callable kernel: it is a Python function on NumPy "
                "arrays, which a Keras model cannot hold. Use a named kernel ('rbf', 'poly', "
                "...), or compute the kernel yourself and use kernel='precomputed'."
            )
        from .layers import NystroemFeatures

        scale, gamma, components = self.folded_gamma(dtype)
        layer = NystroemFeatures(
            self.width,
            gamma=gamma,
            kernel=self.kernel,
            degree=self.degree,
            coef0=self.coef0,
            dtype=dtype,
            name="features",
        )
        layer.build((None, n_features_in))
        set_weights_exactly(layer, [components, self.normalization_])
        if scale == 1.0:
            return [layer]
        rescale = keras.layers.Rescaling(scale, dtype=dtype, name="gamma_scale")
        return [rescale, layer]


# Beyond these, gamma (or its product with the rows' squared distances or inner
# products) leaves float32's range: gamma="scale" on rows of magnitude 1e-30 is
# 1e59. The training rows are then scaled by gamma's root (its value for the
# Laplacian kernel's L1 distance), so that the kernel's own gamma is 1.
_GAMMA_RANGE = (1e-20, 1e20)


def _input_scale(kernel, gamma):
    """The factor the rows are multiplied by in float32 so that ``gamma`` becomes 1, or 1.

    ``k(x, z; gamma) = k(s x, s z; 1)`` with ``s = sqrt(gamma)`` for the rbf,
    polynomial and sigmoid kernels and ``s = gamma`` for the Laplacian; 1
    (nothing done) where ``gamma`` is within :data:`_GAMMA_RANGE`, so
    ordinary fits compute as they always have, and where ``s`` itself would
    be beyond float32 (the Laplacian's at ``gamma > 1e30``: those fits are
    refused as before, saying why).
    """
    low, high = _GAMMA_RANGE
    if callable(kernel) or kernel == "linear" or low <= gamma <= high:
        return 1.0
    scale = float(gamma) if kernel == "laplacian" else math.sqrt(gamma)
    return scale if 1e-30 <= scale <= 1e30 else 1.0


@compiled(static=("kernel", "degree"))
def _kernel_block(rows, components, gamma, coef0, *, kernel, degree):
    """:func:`~kernelsvm_keras._kernels.kernel_matrix` of training rows, one program on JAX.

    (Every fold's shape compiles its own on JAX: one program, not one per
    operation of the kernel.)
    """
    return kernel_matrix(rows, components, kernel, gamma, degree, coef0)


class PrecomputedMap(FeatureMap):
    """Landmarks as columns of a precomputed kernel: ``phi(K_row) = K_row[idx] @ N``.

    ``fit`` takes the square kernel matrix of the training rows, ``K[i, j] =
    k(x_i, x_j)``; the landmarks are ``min(n_components, n_samples)`` of those
    rows (drawn as :class:`~sklearn.kernel_approximation.Nystroem` draws
    them), their kernel values the columns ``idx``, and ``N`` the
    normalisation of ``K[idx][:, idx]``. Prediction takes ``K(X_test,
    X_train)``, of shape ``(n_test, n_train)``, as :class:`~sklearn.svm.SVC`.
    ``basis`` is that of :func:`~kernelsvm_keras.layers.nystroem_factors`.
    """

    attributes = ("component_indices_", "normalization_")
    draws_landmarks = True

    def __init__(self, n_components=2048, basis="eigen"):
        self.n_components = n_components
        self.basis = basis

    def fit(self, X, random_state, keep_fit_rows=False, first=None, groups=None):
        if X.shape[0] != X.shape[1]:
            raise ValueError(
                "Precomputed matrix must be a square matrix. Input is a "
                f"{X.shape[0]}x{X.shape[1]} matrix."
            )
        m = min(self.n_components, X.shape[0])
        indices = _draw_landmarks(random_state, X.shape[0], m, first, groups)
        every_row = m == X.shape[0]
        # every row a landmark: the kernel as given, in the rows' order (_every_row_factors)
        landmark_kernel = _dense(X if every_row else X[indices][:, indices])
        # (every row: the user's matrix itself, not to be overwritten)
        self.normalization_, landmark_features, basis, _ = _every_row_factors(
            landmark_kernel,
            indices if every_row else None,
            self.basis,
            overwrite=not every_row,
            features=keep_fit_rows,
        )
        self.component_indices_ = indices
        self._keep_fit_rows(keep_fit_rows, every_row, landmark_features, landmark_kernel, basis)
        return self

    @property
    def width(self):
        return self.component_indices_.shape[0]

    def _rows_kernel(self, X, rows):
        return _dense(X[rows][:, rows])

    def training_form(self):
        indices = to_tensor(self.component_indices_.astype(np.int32))
        return lambda rows: ops.take(rows, indices, axis=1), self.normalization_

    def features(self, X):
        return matmul(_dense(X[:, self.component_indices_]), self.normalization_)

    def decision(self, X, coef, intercept):
        weights = matmul(self.normalization_, coef.T)
        return matmul(_dense(X[:, self.component_indices_]), weights) + intercept

    def model_products(self, X, coef, intercept, beta):
        def columns(rows):
            return _dense(rows[:, self.component_indices_])

        return _factored_products(X, columns, self.normalization_, coef, intercept, beta)

    def layers(self, n_features_in, dtype):
        from .layers import LandmarkColumns

        columns = LandmarkColumns(self.component_indices_, dtype=dtype, name="landmark_columns")
        columns.build((None, n_features_in))
        dense = _keras_dense(self.width, dtype)
        set_weights_exactly(dense, [self.normalization_])
        return [columns, dense]


def _draw_landmarks(random_state, n_rows, m, first=None, groups=None):
    """The rows of ``m`` landmarks: ``first`` (distinct rows, at most ``m``), then the draw's.

    The draw is :class:`~sklearn.kernel_approximation.Nystroem`'s, the first
    rows of a permutation, so that without ``first`` and for an integer seed
    the landmarks are its ``components_``; the rows of ``first`` come ahead
    of it, in their order, and the permutation's other rows fill the rest.

    ``groups`` maps the rows given to a fit onto the ``n_rows`` rows it
    solves (repeats merged, :class:`~kernelsvm_keras._rows.RepeatedRows`):
    the permutation is then of the rows given, each taken at its first
    place, so that a row is as likely to be drawn as it is frequent, as
    without the merge, but never twice.
    """
    if groups is None:
        order = random_state.permutation(n_rows)
    else:
        order = groups[random_state.permutation(groups.size)]
        _, at = np.unique(order, return_index=True)
        order = order[np.sort(at)]
    if first is not None:
        first = np.asarray(first, dtype=order.dtype)
        order = np.concatenate([first, order[~np.isin(order, first)]])
    return order[:m].copy()


def _every_row_factors(
    kernel_matrix, indices, basis, overwrite=False, features=True, semidefinite=False
):
    """:func:`~kernelsvm_keras.layers.nystroem_factors` of the landmarks, ``kernel_matrix`` theirs.

    ``indices`` ``None``: ``kernel_matrix`` is in the landmarks' order.
    Else the landmarks are every fit row, drawn in the order ``indices``,
    and ``kernel_matrix`` is in the rows' own order: factored as it is, the
    landmarks' features come in the rows' order (the training design,
    without reordering it or its Gram matrix, two ``m^2`` copies), and
    ``k(x, Z) = k(x, X)[:, indices]`` takes the normalisation's rows in the
    draw's order. The same kernel as the factors of the drawn order, in a
    rotated basis. ``overwrite`` and ``semidefinite`` as
    :func:`~kernelsvm_keras.layers.nystroem_factors`; ``features`` too,
    where the landmarks are every fit row (they are of no use otherwise).
    Returns ``(normalization, landmark_features, basis, rotation)``:
    ``rotation`` the :class:`~kernelsvm_keras._kernels.RotatedFactor` of
    the basis ``"leading"`` over drawn landmarks, else ``None``.
    """
    normalization, landmark_features, basis, rotation = _nystroem_factors(
        kernel_matrix,
        NYSTROEM_EIGENVALUE_TOL,
        basis,
        overwrite,
        features and indices is not None,
        semidefinite,
    )
    if indices is not None:
        # (rows taken in the draw's order: the triangle of the rotation's factors is lost)
        normalization, rotation = np.take(normalization, indices, axis=0), None
    return normalization, landmark_features, basis, rotation


def _keras_dense(width, dtype):
    layer = keras.layers.Dense(width, use_bias=False, dtype=dtype, name="features")
    layer.build((None, width))
    return layer


def make_feature_map(
    kernel,
    approximation="auto",
    gamma="scale",
    degree=3,
    coef0=0.0,
    n_components=2048,
    basis="eigen",
):
    """The unfitted feature map that serves ``kernel`` with ``approximation``.

    ``kernel="linear"`` with ``approximation="auto"`` is the identity (the
    exact linear SVM); ``"precomputed"`` takes landmarks as columns of the
    given matrix; ``"auto"`` is landmarks for every other kernel (see
    :data:`AUTO_APPROXIMATION`), ``"random_fourier"`` serves rbf and
    laplacian only, and ``"nystroem"`` every kernel. ``basis`` is that of
    the landmark maps (:func:`~kernelsvm_keras.layers.nystroem_factors`).
    """
    if approximation not in APPROXIMATIONS:
        raise ValueError(f"approximation must be one of {APPROXIMATIONS}, got {approximation!r}.")
    if isinstance(kernel, str) and kernel == "precomputed":
        if approximation == "random_fourier":
            raise ValueError(
                "kernel='precomputed' has no random Fourier features (they need the inputs, not "
                "kernel values); use approximation='nystroem' or 'auto' (landmark columns)."
            )
        return PrecomputedMap(n_components, basis)
    if isinstance(kernel, str) and kernel == "linear" and approximation == "auto":
        return IdentityMap()
    if approximation == "auto":
        approximation = AUTO_APPROXIMATION
    if approximation == "random_fourier":
        return RandomFourierMap(kernel, gamma, n_components)
    return LandmarkMap(kernel, gamma, degree, coef0, n_components, basis)


#: What ``approximation="auto"`` uses for kernels other than linear and
#: precomputed (chosen by the figures in benchmarks/RESULTS.md).
AUTO_APPROXIMATION = "nystroem"


def map_from_attributes(state, kernel="rbf"):
    """The fitted map of an estimator pickled before maps were objects (0.1.0)."""
    if "random_weights_" in state:
        fitted = RandomFourierMap(kernel if kernel in KERNELS else "rbf")
    elif "components_" in state:
        fitted = LandmarkMap("rbf")
    else:
        fitted = IdentityMap()
        fitted.n_features_ = state["coef_"].shape[1]
        return fitted
    for name in fitted.attributes:
        setattr(fitted, name, state[name])
    return fitted
