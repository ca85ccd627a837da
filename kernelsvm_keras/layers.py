"""Keras 3 layers for kernel machines.

This module depends on Keras and NumPy only (never on scikit-learn), and computes
with ``keras.ops`` so that every Keras backend runs it. The functions are
those of :mod:`kernelsvm_keras._kernels` (the estimators use them without
importing Keras); the layers are built on them.
"""

import keras
import numpy as np
from keras import ops

from ._keras import set_weights_exactly  # noqa: F401  (its public place was here)
from ._kernels import (
    KERNELS,
    LANDMARK_KERNELS,  # noqa: F401
    NYSTROEM_EIGENVALUE_TOL,  # noqa: F401
    _check_kernel,
    draw_nystroem_landmarks,
    draw_random_fourier_weights,
    kernel_matrix,
    kernel_matrix_numpy,
    nystroem_factors,
    nystroem_features,
    nystroem_normalization,
    random_fourier_features,
    rbf_kernel_matrix,
)

__all__ = [
    "LandmarkColumns",
    "NystroemFeatures",
    "RandomFourierFeatures",
    "RowNormalization",
    "ScaleShift",
    "draw_nystroem_landmarks",
    "draw_random_fourier_weights",
    "kernel_matrix",
    "kernel_matrix_numpy",
    "nystroem_factors",
    "nystroem_features",
    "nystroem_normalization",
    "random_fourier_features",
    "rbf_kernel_matrix",
]


def _array_initializer(array):
    """An initializer returning a fixed array (keras' Constant takes scalars only)."""

    def initializer(shape, dtype=None):
        return ops.cast(ops.reshape(array, shape), dtype)

    return initializer


def _check_map_arguments(n_components, gamma, seed):
    """Validate the arguments that the feature-map layers share."""
    if isinstance(n_components, bool) or not isinstance(n_components, (int, np.integer)):
        raise TypeError(f"n_components must be an int, got {n_components!r}.")
    if n_components < 1:
        raise ValueError(f"n_components must be >= 1, got {n_components}.")
    if not (isinstance(gamma, (int, float, np.number)) and gamma >= 0):
        raise ValueError(f"gamma must be a non-negative number, got {gamma!r}.")
    if seed is not None and not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int or None, got {seed!r}.")


@keras.saving.register_keras_serializable(package="kernelsvm_keras")
class RandomFourierFeatures(keras.layers.Layer):
    """Random Fourier feature map approximating a shift-invariant kernel.

    Computes ``sqrt(2 / D) * cos(x @ W + offset)``, the convention of
    :class:`sklearn.kernel_approximation.RBFSampler`, so that inner products of
    the outputs approximate ``k(x, y)`` (Rahimi and Recht, 2007). ``W`` and
    ``offset`` are fixed random draws (non-trainable weights): a linear layer
    on top of this one is a linear model in an approximate kernel space, and
    trained on a hinge loss it is an approximate kernel SVM.

    Parameters
    ----------
    n_components : int
        Output dimension ``D``, the number of random features.
    gamma : float, default=1.0
        Kernel coefficient, as in scikit-learn: ``exp(-gamma ||x - y||^2)``
        for ``"rbf"``, ``exp(-gamma ||x - y||_1)`` for ``"laplacian"``.
    kernel : {"rbf", "laplacian"}, default="rbf"
        Kernel to approximate.
    seed : int or None, default=None
        Seed of the NumPy draw of ``W`` and ``offset``. With an integer seed and
        ``kernel="rbf"`` the weights equal those of
        ``RBFSampler(gamma=gamma, n_components=n_components, random_state=seed)``
        on every backend. ``None`` draws from fresh OS entropy.
    **kwargs
        Standard layer keyword arguments (``name``, ``dtype``, ...).

    Notes
    -----
    The weights are created in :meth:`build` from ``seed``; a saved model
    stores them, so loading never redraws. To use precomputed weights (for
    instance those of a fitted ``KerasSVC``), build the layer and call
    ``set_weights([weights, offset])``.

    Examples
    --------
    >>> import keras
    >>> from kernelsvm_keras.layers import RandomFourierFeatures
    >>> head = keras.Sequential([
    ...     keras.Input((16,)),
    ...     RandomFourierFeatures(n_components=256, gamma=0.1, seed=0),
    ...     keras.layers.Dense(10),
    ... ])
    >>> head.compute_output_shape((None, 16))
    (None, 10)
    """

    def __init__(self, n_components, gamma=1.0, kernel="rbf", seed=None, **kwargs):
        super().__init__(**kwargs)
        _check_map_arguments(n_components, gamma, seed)
        if kernel not in KERNELS:
            raise ValueError(f"kernel must be one of {KERNELS}, got {kernel!r}.")
        self.n_components = int(n_components)
        self.gamma = float(gamma)
        self.kernel = kernel
        self.seed = None if seed is None else int(seed)

    def build(self, input_shape):
        n_features = input_shape[-1]
        if n_features is None:
            raise ValueError("RandomFourierFeatures needs a known last input dimension.")
        rng = np.random.RandomState(self.seed)
        weights, offset = draw_random_fourier_weights(
            n_features, self.n_components, self.gamma, self.kernel, rng
        )
        self.kernel_weights = self.add_weight(
            name="weights",
            shape=weights.shape,
            initializer=_array_initializer(weights),
            trainable=False,
        )
        self.offset = self.add_weight(
            name="offset",
            shape=offset.shape,
            initializer=_array_initializer(offset),
            trainable=False,
        )

    def call(self, inputs):
        inputs = ops.cast(inputs, self.compute_dtype)
        return random_fourier_features(inputs, self.kernel_weights, self.offset)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.n_components)

    def get_config(self):
        config = super().get_config()
        config.update(
            n_components=self.n_components,
            gamma=self.gamma,
            kernel=self.kernel,
            seed=self.seed,
        )
        return config


@keras.saving.register_keras_serializable(package="kernelsvm_keras")
class NystroemFeatures(keras.layers.Layer):
    """Nystroem feature map approximating a kernel from landmarks.

    Computes ``k(x, z_j)_j @ N``, so that inner products of the outputs
    approximate ``k(x, y)`` exactly on the span of the ``m`` landmarks
    ``z_j`` (see :func:`nystroem_normalization` for ``N``; kernels as in
    :func:`kernel_matrix`). Unlike random Fourier features,
    the map depends on data: :meth:`adapt` draws the landmarks from a sample
    of rows, as :class:`sklearn.kernel_approximation.Nystroem` does. Landmarks
    and normalisation are non-trainable weights.

    Parameters
    ----------
    n_components : int
        Number of landmarks ``m``, the output dimension.
    gamma : float, default=1.0
        Kernel coefficient.
    seed : int or None, default=None
        Seed of the draw of the landmarks in :meth:`adapt`: with an integer
        seed they are the rows that
        ``Nystroem(gamma=gamma, n_components=n_components, random_state=seed)``
        picks from the same data.
    kernel : {"linear", "poly", "rbf", "laplacian", "sigmoid"}, default="rbf"
        Kernel approximated, with scikit-learn's conventions.
    degree : int, default=3
        Degree of the polynomial kernel.
    coef0 : float, default=0.0
        Constant of the polynomial and sigmoid kernels.
    **kwargs
        Standard layer keyword arguments (``name``, ``dtype``, ...).

    Notes
    -----
    Until :meth:`adapt` (or ``set_weights([components, normalization])``, as
    ``KerasSVC.to_keras`` does) the layer outputs zeros.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelsvm_keras.layers import NystroemFeatures
    >>> X = np.random.default_rng(0).normal(size=(200, 5))
    >>> layer = NystroemFeatures(n_components=200, gamma=0.1, seed=0)
    >>> layer.adapt(X)
    >>> features = np.asarray(layer(X[:3]))
    >>> np.allclose(features @ features.T, np.exp(-0.1 * ((X[:3, None] - X[:3]) ** 2).sum(-1)),
    ...             atol=1e-4)
    True
    """

    def __init__(
        self, n_components, gamma=1.0, seed=None, kernel="rbf", degree=3, coef0=0.0, **kwargs
    ):
        super().__init__(**kwargs)
        _check_map_arguments(n_components, gamma, seed)
        _check_kernel(kernel)
        if isinstance(degree, bool) or not isinstance(degree, (int, np.integer)) or degree < 0:
            raise ValueError(f"degree must be a non-negative int, got {degree!r}.")
        self.n_components = int(n_components)
        self.gamma = float(gamma)
        self.seed = None if seed is None else int(seed)
        self.kernel = kernel
        self.degree = int(degree)
        self.coef0 = float(coef0)

    def build(self, input_shape):
        n_features = input_shape[-1]
        if n_features is None:
            raise ValueError("NystroemFeatures needs a known last input dimension.")
        self.components = self.add_weight(
            name="components",
            shape=(self.n_components, n_features),
            initializer="zeros",
            trainable=False,
        )
        self.normalization = self.add_weight(
            name="normalization",
            shape=(self.n_components, self.n_components),
            initializer="zeros",
            trainable=False,
        )

    def adapt(self, data):
        """Draw the landmarks from the rows of ``data`` and compute the normalisation.

        Parameters
        ----------
        data : array-like of shape (n_samples, n_features)
            At least ``n_components`` rows.
        """
        data = np.asarray(data, dtype=np.float64)
        if data.ndim != 2 or data.shape[0] < self.n_components:
            raise ValueError(
                f"adapt needs a 2-D array of at least n_components={self.n_components} rows, "
                f"got shape {data.shape}."
            )
        if not self.built:
            self.build(data.shape)
        _, components, normalization = draw_nystroem_landmarks(
            data,
            self.n_components,
            self.gamma,
            np.random.RandomState(self.seed),
            self.kernel,
            self.degree,
            self.coef0,
        )
        for variable, array in ((self.components, components), (self.normalization, normalization)):
            variable.assign(ops.convert_to_tensor(array, dtype=variable.dtype))

    def call(self, inputs):
        inputs = ops.cast(inputs, self.compute_dtype)
        return nystroem_features(
            inputs,
            self.components,
            self.normalization,
            self.gamma,
            self.kernel,
            self.degree,
            self.coef0,
        )

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.n_components)

    def get_config(self):
        config = super().get_config()
        config.update(
            n_components=self.n_components,
            gamma=self.gamma,
            seed=self.seed,
            kernel=self.kernel,
            degree=self.degree,
            coef0=self.coef0,
        )
        return config


@keras.saving.register_keras_serializable(package="kernelsvm_keras")
class LandmarkColumns(keras.layers.Layer):
    """The columns of the landmarks in rows of a precomputed kernel.

    For a kernel given as a matrix, ``K[i, j] = k(x_i, t_j)`` against the
    training rows ``t_j``, the landmarks of a Nystroem map are training rows
    and their kernel values are columns of ``K``: this layer selects them
    (``K[:, indices]``), and a ``Dense`` layer without bias holding the
    normalisation completes the map (as ``KerasSVC(kernel="precomputed")``'s
    ``to_keras`` builds it).

    Parameters
    ----------
    indices : sequence of int
        The landmarks' columns, each in ``[0, n_train)``.
    **kwargs
        Standard layer keyword arguments (``name``, ``dtype``, ...).
    """

    def __init__(self, indices, **kwargs):
        super().__init__(**kwargs)
        indices = [int(i) for i in np.asarray(indices).ravel()]
        if not indices or min(indices) < 0:
            raise ValueError(f"indices must be non-empty and non-negative, got {indices[:5]}...")
        self.indices = indices

    def build(self, input_shape):
        n_columns = input_shape[-1]
        if n_columns is not None and max(self.indices) >= n_columns:
            raise ValueError(
                f"LandmarkColumns selects column {max(self.indices)} of inputs with "
                f"{n_columns} columns."
            )

    def call(self, inputs):
        inputs = ops.cast(inputs, self.compute_dtype)
        return ops.take(inputs, ops.convert_to_tensor(self.indices, dtype="int32"), axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], len(self.indices))

    def get_config(self):
        config = super().get_config()
        config.update(indices=list(self.indices))
        return config


@keras.saving.register_keras_serializable(package="kernelsvm_keras")
class ScaleShift(keras.layers.Layer):
    """A per-feature affine map, ``inputs * scale + shift``, optionally clipped.

    The Keras form of scikit-learn's scalers (``StandardScaler``,
    ``MinMaxScaler``, ``MaxAbsScaler``), as
    :func:`~kernelsvm_keras.pipeline_to_keras` builds them. ``scale`` and
    ``shift`` are non-trainable weights of shape ``(n_features,)``: ones and
    zeros until set (``set_weights([scale, shift])``).

    Parameters
    ----------
    clip : (float, float) or None, default=None
        Bounds of the outputs (``MinMaxScaler(clip=True)``'s
        ``feature_range``), or no clipping.
    **kwargs
        Standard layer keyword arguments (``name``, ``dtype``, ...).

    Examples
    --------
    >>> import numpy as np
    >>> from kernelsvm_keras.layers import ScaleShift
    >>> layer = ScaleShift(clip=(0.0, 1.0))
    >>> layer.build((None, 2))
    >>> layer.set_weights([np.array([0.5, 2.0]), np.array([0.0, -1.0])])
    >>> np.asarray(layer(np.array([[1.0, 1.0], [4.0, 0.25]])))
    array([[0.5, 1. ],
           [1. , 0. ]], dtype=float32)
    """

    def __init__(self, clip=None, **kwargs):
        super().__init__(**kwargs)
        if clip is not None:
            low, high = (float(bound) for bound in clip)
            if not low <= high:
                raise ValueError(f"clip must be (low, high) with low <= high, got {clip!r}.")
            clip = (low, high)
        self.clip = clip

    def build(self, input_shape):
        n_features = input_shape[-1]
        if n_features is None:
            raise ValueError("ScaleShift needs a known last input dimension.")
        self.scale = self.add_weight(
            name="scale", shape=(n_features,), initializer="ones", trainable=False
        )
        self.shift = self.add_weight(
            name="shift", shape=(n_features,), initializer="zeros", trainable=False
        )

    def call(self, inputs):
        outputs = ops.cast(inputs, self.compute_dtype) * self.scale + self.shift
        if self.clip is not None:
            outputs = ops.clip(outputs, self.clip[0], self.clip[1])
        return outputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(clip=None if self.clip is None else list(self.clip))
        return config


@keras.saving.register_keras_serializable(package="kernelsvm_keras")
class RowNormalization(keras.layers.Layer):
    """Each row divided by its norm, as :class:`sklearn.preprocessing.Normalizer`.

    Rows of norm zero are left as they are (scikit-learn's convention).

    Parameters
    ----------
    norm : {"l2", "l1", "max"}, default="l2"
        The norm; ``"max"`` is the largest absolute value, as in scikit-learn.
    **kwargs
        Standard layer keyword arguments (``name``, ``dtype``, ...).

    Examples
    --------
    >>> import numpy as np
    >>> from kernelsvm_keras.layers import RowNormalization
    >>> np.asarray(RowNormalization()(np.array([[3.0, 4.0], [0.0, 0.0]])))
    array([[0.6, 0.8],
           [0. , 0. ]], dtype=float32)
    """

    def __init__(self, norm="l2", **kwargs):
        super().__init__(**kwargs)
        if norm not in ("l2", "l1", "max"):
            raise ValueError(f"norm must be 'l2', 'l1' or 'max', got {norm!r}.")
        self.norm = norm

    def call(self, inputs):
        inputs = ops.cast(inputs, self.compute_dtype)
        if self.norm == "l2":
            norms = ops.sqrt(ops.sum(inputs * inputs, axis=-1, keepdims=True))
        elif self.norm == "l1":
            norms = ops.sum(ops.abs(inputs), axis=-1, keepdims=True)
        else:
            norms = ops.max(ops.abs(inputs), axis=-1, keepdims=True)
        return inputs / ops.where(norms == 0, ops.ones_like(norms), norms)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(norm=self.norm)
        return config
