"""Keras 3 layers for kernel machines.

This module depends on Keras and NumPy only (never on scikit-learn), and computes
with ``keras.ops`` so that every Keras backend runs it.
"""

import math

import keras
import numpy as np
from keras import ops

__all__ = ["RandomFourierFeatures", "draw_random_fourier_weights", "random_fourier_features"]

KERNELS = ("rbf", "laplacian")


def draw_random_fourier_weights(n_features, n_components, gamma, kernel, random_state):
    """Draw the random projection of a random Fourier feature map.

    The draw order and distributions are those of
    :class:`sklearn.kernel_approximation.RBFSampler`: first the weights, then
    the offsets, from the same :class:`numpy.random.RandomState`. For
    ``kernel="rbf"`` and equal ``gamma``, ``n_components`` and integer seed the
    result is therefore identical to ``RBFSampler``'s ``random_weights_`` and
    ``random_offset_``.

    Parameters
    ----------
    n_features : int
        Number of input features.
    n_components : int
        Number of random features ``D``.
    gamma : float
        Kernel coefficient: ``exp(-gamma ||x - y||_2^2)`` for ``"rbf"``,
        ``exp(-gamma ||x - y||_1)`` for ``"laplacian"``.
    kernel : {"rbf", "laplacian"}
        Kernel whose spectral distribution is sampled: a Gaussian
        ``N(0, 2 gamma)`` for the RBF kernel, a Cauchy distribution of scale
        ``gamma`` for the Laplacian kernel.
    random_state : numpy.random.RandomState
        Source of randomness; it is advanced by the draw.

    Returns
    -------
    weights : ndarray of shape (n_features, n_components), dtype float64
    offset : ndarray of shape (n_components,), dtype float64
    """
    size = (n_features, n_components)
    if kernel == "rbf":
        weights = math.sqrt(2.0 * gamma) * random_state.normal(size=size)
    elif kernel == "laplacian":
        weights = gamma * random_state.standard_cauchy(size=size)
    else:
        raise ValueError(f"kernel must be one of {KERNELS}, got {kernel!r}.")
    offset = random_state.uniform(0.0, 2.0 * np.pi, size=n_components)
    return weights, offset


def random_fourier_features(inputs, weights, offset):
    """The random Fourier feature map ``sqrt(2 / D) * cos(inputs @ weights + offset)``.

    Written with ``keras.ops``: it runs on the active backend's device and
    accepts tensors or NumPy arrays.

    Parameters
    ----------
    inputs : tensor of shape (n, n_features)
    weights : tensor of shape (n_features, D)
    offset : tensor of shape (D,)

    Returns
    -------
    tensor of shape (n, D)
    """
    n_components = weights.shape[-1]
    return ops.cos(ops.matmul(inputs, weights) + offset) * math.sqrt(2.0 / n_components)


def _array_initializer(array):
    """An initializer returning a fixed array (keras' Constant takes scalars only)."""

    def initializer(shape, dtype=None):
        return ops.cast(ops.reshape(array, shape), dtype)

    return initializer


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
        if isinstance(n_components, bool) or not isinstance(n_components, (int, np.integer)):
            raise TypeError(f"n_components must be an int, got {n_components!r}.")
        if n_components < 1:
            raise ValueError(f"n_components must be >= 1, got {n_components}.")
        if not (isinstance(gamma, (int, float, np.number)) and gamma > 0):
            raise ValueError(f"gamma must be a positive number, got {gamma!r}.")
        if kernel not in KERNELS:
            raise ValueError(f"kernel must be one of {KERNELS}, got {kernel!r}.")
        if seed is not None and not isinstance(seed, (int, np.integer)):
            raise TypeError(f"seed must be an int or None, got {seed!r}.")
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
