"""Keras, imported where it is first used (in a joblib worker) or with the package.

A small fit takes the exact dual (:mod:`kernelsvm_keras._dual`: NumPy and
libsvm), and ``decision_function`` and ``predict`` compute in NumPy: neither
needs Keras. A joblib worker (``GridSearchCV(..., n_jobs=2)``,
``cross_val_score``) that imports ``kernelsvm_keras`` to run such fits would
still pay the import of Keras and of its backend (TensorFlow: 4-5 s), longer
than a whole search of small fits. So the modules reach Keras through
:data:`keras` and :data:`ops` below, which import it at their first use:

* in the user's own process ``import kernelsvm_keras`` imports Keras at once
  (:func:`load`), as a Keras library is expected to: its layers and losses
  are then registered for ``keras.saving.load_model``, and TensorFlow's
  start-up banner is filtered once (:mod:`kernelsvm_keras._quiet`);
* in a joblib worker (:func:`~kernelsvm_keras._workers.worker_threads`),
  Keras is imported by the first fit that needs it (the Newton solver,
  ``partial_fit``, ``to_keras``), after :mod:`kernelsvm_keras._workers` has
  sized the backend's thread pools; a worker that runs only small fits never
  imports it.
"""

import contextlib
import importlib
import sys

import numpy as np

from . import _workers
from ._quiet import tensorflow_banner_filtered

__all__ = [
    "deferred",
    "float64_products",
    "float64_scope",
    "keras",
    "load",
    "ops",
    "set_weights_exactly",
    "to_tensor",
]


def deferred():
    """Whether this process imports Keras at its first use rather than with the package.

    True in a joblib worker (see the module), unless Keras is there already.
    """
    return _workers.worker_threads() is not None and "keras" not in sys.modules


def load():
    """Import Keras (the backend's banner filtered) and register our layers and losses.

    Returns the ``keras`` module. Cheap once done.
    """
    module = sys.modules.get("keras")
    if module is None or "kernelsvm_keras.losses" not in sys.modules:
        with tensorflow_banner_filtered():
            module = importlib.import_module("keras")
        # registered for keras.saving.load_model, as `import kernelsvm_keras` promises
        importlib.import_module("kernelsvm_keras.layers")
        importlib.import_module("kernelsvm_keras.losses")
    return module


class _Deferred:
    """A module whose attributes are those of ``name`` once :func:`load` has run."""

    def __init__(self, name):
        self._name = name

    def __getattr__(self, attribute):
        module = sys.modules.get(self._name)
        if module is None:
            load()
            module = importlib.import_module(self._name)
        return getattr(module, attribute)

    def __repr__(self):
        return f"<deferred module {self._name!r}>"


#: ``keras``, imported at the first attribute read.
keras = _Deferred("keras")
#: ``keras.ops``, imported at the first attribute read.
ops = _Deferred("keras.ops")


def to_tensor(array, dtype=None):
    """``ops.convert_to_tensor(array, dtype)``, without a compiled program on JAX.

    On JAX (0.10), Keras's conversion of a NumPy array calls ``jnp.asarray``,
    which stages the array through a small compiled program (``jit(stage)``)
    for every new shape: 20-60 ms each on the CPU, against 0.4 ms for the copy
    itself, paid again by every fold and every row count a fit converts.
    ``jax.device_put`` makes the same uncommitted array (the same dtype rules:
    float64 is kept only under ``jax_enable_x64``) without compiling anything.
    Other inputs, and the other backends, go through ``ops.convert_to_tensor``.

    Parameters
    ----------
    array : ndarray or tensor
        What to convert.
    dtype : str, default=None
        The dtype to convert to (on the host, for a NumPy array on JAX).

    Returns
    -------
    tensor
    """
    if isinstance(array, np.ndarray) and keras.backend.backend() == "jax":
        import jax

        if dtype is not None:
            array = np.asarray(array, dtype=keras.backend.standardize_dtype(dtype))
        return jax.device_put(array)
    return ops.convert_to_tensor(array, dtype)


def set_weights_exactly(layer, arrays):
    """``layer.set_weights(arrays)`` without a detour through float32.

    ``set_weights`` converts NumPy arrays with the backend's default float
    type first; on torch that is float32 even for float64 variables.
    """
    for variable, array in zip(layer.weights, arrays, strict=True):
        variable.assign(to_tensor(array, dtype=variable.dtype))


def float64_products():
    """The dtype of the backend's product of two float64 matrices (``"float64"`` where kept).

    ``"float32"`` on JAX without ``jax_enable_x64`` (its float64 tensors are
    float32); on torch what one product returns (Keras 3.15: ``ops.matmul`` of
    two float64 tensors gives float32, keras-team/keras#23704).
    """
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return "float64" if jax.config.jax_enable_x64 else "float32"
    if backend == "torch":
        probe = ops.convert_to_tensor(np.ones((1, 1)), "float64")
        return keras.backend.standardize_dtype(ops.matmul(probe, probe).dtype)
    return "float64"


def float64_scope():
    """A context manager inside which the backend multiplies float64 matrices in float64.

    ``None`` where there is none. TensorFlow: a null context. JAX: its
    ``jax.enable_x64`` context where ``jax_enable_x64`` is off, so that a
    product computed inside it keeps float64; the arrays it returns keep
    their dtype outside it, but operations on float64 arrays must stay
    inside it, where JAX would otherwise truncate them. torch: ``None`` while
    Keras multiplies float64 matrices in float32 there (keras-team/keras#23704).
    """
    if keras.backend.backend() == "jax":
        import jax

        if jax.config.jax_enable_x64:
            return contextlib.nullcontext()
        if hasattr(jax, "enable_x64"):
            return jax.enable_x64(True)
        from jax.experimental import enable_x64  # (its name in older JAX: 0.4.20)

        return enable_x64(True)
    if float64_products() == "float64":
        return contextlib.nullcontext()
    return None
