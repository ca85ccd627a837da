"""One-vs-rest margin losses for any Keras model.

They take integer class labels directly (as
``keras.losses.SparseCategoricalCrossentropy`` does) and score a model whose
last layer outputs one decision value per class (``Dense(n_classes)``), or a
single value for two classes (``Dense(1)``, positive for class 1). This module
depends on Keras only and computes with ``keras.ops``.

The SVM objective and Keras's loss
----------------------------------
For ``n`` training samples, the objective that ``KerasSVC`` minimises,

    P(w, b) = 1/2 ||w||^2 + C * sum_i loss_i,

divided by ``C * n``, is the mean loss plus an L2 penalty of strength
``1 / (2 C n)`` on the kernel of the last ``Dense`` layer (not on its bias):

    P / (C n) = mean_i loss_i + 1 / (2 C n) * ||w||^2.

So an SVM head in Keras is the loss of this module (``reduction`` left to its
default, the mean over the batch) with
``Dense(n_classes, kernel_regularizer=keras.regularizers.L2(l2_for_C(C, n)))``;
see :func:`l2_for_C`. Keras optimises that objective by stochastic gradients,
which approach its optimum without certifying it; ``KerasSVC`` reaches it.
"""

import keras
from keras import ops

__all__ = [
    "OneVsRestHinge",
    "OneVsRestSquaredHinge",
    "l2_for_C",
    "one_vs_rest_hinge",
    "one_vs_rest_squared_hinge",
]


def l2_for_C(C, n_samples):
    """The L2 strength that makes a Keras loss the SVM objective for a given ``C``.

    Parameters
    ----------
    C : float
        The SVM's ``C`` (as in ``SVC``), positive.
    n_samples : int
        Number of training samples the mean loss is taken over.

    Returns
    -------
    float
        ``1 / (2 C n_samples)``, for ``keras.regularizers.L2``.

    Examples
    --------
    >>> l2_for_C(C=1.0, n_samples=500)
    0.001
    """
    if not C > 0:
        raise ValueError(f"C must be positive, got {C!r}.")
    if not n_samples >= 1:
        raise ValueError(f"n_samples must be at least 1, got {n_samples!r}.")
    return 1.0 / (2.0 * C * n_samples)


def _signed_targets(y_true, y_pred):
    """+1 for the true class and -1 elsewhere, in the shape of ``y_pred``."""
    labels = ops.cast(ops.reshape(y_true, (-1,)), "int32")
    n_outputs = y_pred.shape[-1]
    if n_outputs == 1:
        targets = ops.expand_dims(ops.cast(labels, y_pred.dtype), -1)
    else:
        targets = ops.one_hot(labels, n_outputs, dtype=y_pred.dtype)
    return 2.0 * targets - 1.0


def one_vs_rest_hinge(y_true, y_pred):
    """Sum over classes of the hinge ``max(0, 1 - t_k f_k)``, per sample.

    Parameters
    ----------
    y_true : tensor of shape (n,) or (n, 1)
        Integer class labels in ``[0, n_classes)`` (in ``{0, 1}`` when
        ``y_pred`` has one column).
    y_pred : tensor of shape (n, n_classes) or (n, 1)
        Decision values; ``t_k`` is +1 for the true class, -1 for the others.

    Returns
    -------
    tensor of shape (n,)
    """
    y_pred = ops.convert_to_tensor(y_pred)
    margins = _signed_targets(y_true, y_pred) * y_pred
    return ops.sum(ops.relu(1.0 - margins), axis=-1)


def one_vs_rest_squared_hinge(y_true, y_pred):
    """Sum over classes of the squared hinge ``max(0, 1 - t_k f_k)^2``, per sample.

    Parameters and returns as :func:`one_vs_rest_hinge`.
    """
    y_pred = ops.convert_to_tensor(y_pred)
    margins = _signed_targets(y_true, y_pred) * y_pred
    return ops.sum(ops.square(ops.relu(1.0 - margins)), axis=-1)


@keras.saving.register_keras_serializable(package="kernelsvm_keras")
class OneVsRestHinge(keras.losses.Loss):
    """One-vs-rest hinge loss on integer labels (the loss of ``SVC``).

    See :func:`one_vs_rest_hinge` and the module's notes for the mapping from
    ``C`` to the L2 strength of the last layer.

    Parameters
    ----------
    reduction : str, default="sum_over_batch_size"
        Keras reduction over the batch.
    name : str, default="one_vs_rest_hinge"

    Examples
    --------
    >>> import numpy as np
    >>> loss = OneVsRestHinge()
    >>> float(loss(np.array([0, 2]), np.array([[1.0, -1.0, -1.0], [0.0, -2.0, 0.5]])))
    0.75
    """

    def __init__(self, reduction="sum_over_batch_size", name="one_vs_rest_hinge", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def call(self, y_true, y_pred):
        return one_vs_rest_hinge(y_true, y_pred)


@keras.saving.register_keras_serializable(package="kernelsvm_keras")
class OneVsRestSquaredHinge(keras.losses.Loss):
    """One-vs-rest squared hinge loss on integer labels (``LinearSVC``'s default).

    See :func:`one_vs_rest_squared_hinge` and the module's notes.

    Parameters
    ----------
    reduction : str, default="sum_over_batch_size"
        Keras reduction over the batch.
    name : str, default="one_vs_rest_squared_hinge"
    """

    def __init__(
        self, reduction="sum_over_batch_size", name="one_vs_rest_squared_hinge", dtype=None
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def call(self, y_true, y_pred):
        return one_vs_rest_squared_hinge(y_true, y_pred)
