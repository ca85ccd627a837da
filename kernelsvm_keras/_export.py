"""A fitted pipeline (preprocessing and an SVM) as one Keras model."""

import numpy as np
from sklearn.decomposition import PCA, TruncatedSVD
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MaxAbsScaler, MinMaxScaler, Normalizer, StandardScaler
from sklearn.utils.validation import check_is_fitted

from ._base import _BaseSVM, check_keras_dtype
from ._features import KerasFeatures
from ._keras import keras, set_weights_exactly


def pipeline_to_keras(pipeline, dtype="float32"):
    """A fitted pipeline ending in one of our SVMs, as one standalone Keras model.

    ``model.to_keras()`` starts at the SVM's own input; a model trained as
    ``make_pipeline(StandardScaler(), KerasSVC())`` needs the scaler in front.
    This builds one ``keras.Model`` from the pipeline's raw input to the SVM's
    decision values (what the final step's ``to_keras`` returns), with every
    step as layers holding copies of its fitted arrays: it saves as
    ``.keras``, loads with ``import kernelsvm_keras``, and runs on any backend.

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline or estimator
        Fitted. Its steps before the last can be ``StandardScaler``,
        ``MinMaxScaler`` (with or without ``clip``), ``MaxAbsScaler``,
        ``Normalizer``, ``PCA`` (whitened or not), ``TruncatedSVD``,
        :class:`~kernelsvm_keras.KerasFeatures` (its cut model, copied) or
        ``"passthrough"``; its last step is an estimator of kernelsvm_keras
        (a search after ``refit``). Any other step raises ``ValueError``
        naming it. A single estimator is a pipeline of one step.
    dtype : str, default="float32"
        Dtype of the model's weights and computation, as in ``to_keras``.
        A :class:`~kernelsvm_keras.KerasFeatures` step keeps its own model's
        dtype.

    Returns
    -------
    keras.Model
        One input: rows of ``n_features_in_`` values, or, when the first step
        is a ``KerasFeatures``, samples in its model's input shape
        (``input_shape_``). One output: the decision values, ``(n,
        n_problems)``, as ``to_keras``. Each step's layers are named after the
        step.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from kernelsvm_keras import KerasSVC, pipeline_to_keras
    >>> X, y = load_iris(return_X_y=True)
    >>> pipe = make_pipeline(StandardScaler(), KerasSVC(random_state=0)).fit(X, y)
    >>> model = pipeline_to_keras(pipe)
    >>> np.allclose(model.predict(X, verbose=0), pipe.decision_function(X), atol=1e-4)
    True
    """
    steps = pipeline.steps if isinstance(pipeline, Pipeline) else [("", pipeline)]
    *transforms, (last_name, last) = steps
    if not isinstance(last, _BaseSVM):
        raise ValueError(
            "pipeline_to_keras needs a pipeline ending in an estimator of kernelsvm_keras; "
            f"its last step {last_name!r} is {type(last).__name__}."
        )
    check_is_fitted(last)
    check_keras_dtype(dtype)
    transforms = [(name, step) for name, step in transforms if step not in (None, "passthrough")]
    for name, step in transforms:
        if type(step) not in _STEPS:
            raise ValueError(
                f"The pipeline's step {name!r} ({type(step).__name__}) has no Keras form here. "
                f"Supported before the SVM: {', '.join(sorted(c.__name__ for c in _STEPS))} and "
                "'passthrough'."
            )
        check_is_fitted(step)
    first = transforms[0][1] if transforms else last
    if isinstance(first, KerasFeatures):
        inputs = keras.Input(first.input_shape_, name="x")
    else:
        inputs = keras.Input((first.n_features_in_,), dtype=dtype, name="x")
    outputs = inputs
    for name, step in transforms:
        outputs = _STEPS[type(step)](step, outputs, dtype, name or type(step).__name__.lower())
    outputs = last._keras_outputs(outputs, dtype)
    return keras.Model(inputs, outputs, name=type(last).__name__)


def _scale_shift(outputs, scale, shift, dtype, name, clip=None):
    from .layers import ScaleShift

    layer = ScaleShift(clip=clip, dtype=dtype, name=name)
    outputs = layer(outputs)
    set_weights_exactly(layer, [scale, shift])
    return outputs


def _standard_scaler(step, outputs, dtype, name):
    n = step.n_features_in_
    mean = step.mean_ if step.with_mean else np.zeros(n)
    scale = step.scale_ if step.with_std else np.ones(n)
    return _scale_shift(outputs, 1.0 / scale, -mean / scale, dtype, name)


def _min_max_scaler(step, outputs, dtype, name):
    clip = step.feature_range if step.clip else None
    return _scale_shift(outputs, step.scale_, step.min_, dtype, name, clip)


def _max_abs_scaler(step, outputs, dtype, name):
    return _scale_shift(outputs, 1.0 / step.scale_, np.zeros(step.n_features_in_), dtype, name)


def _normalizer(step, outputs, dtype, name):
    from .layers import RowNormalization

    return RowNormalization(step.norm, dtype=dtype, name=name)(outputs)


def _projection(outputs, kernel, dtype, name):
    layer = keras.layers.Dense(kernel.shape[1], use_bias=False, dtype=dtype, name=name)
    outputs = layer(outputs)
    set_weights_exactly(layer, [kernel])
    return outputs


def _pca(step, outputs, dtype, name):
    # (x - mean) @ components.T, divided by sqrt(explained variance) if whitened
    centered = _scale_shift(
        outputs, np.ones(step.n_features_in_), -step.mean_, dtype, f"{name}_center"
    )
    kernel = step.components_.T
    if step.whiten:
        kernel = kernel / np.sqrt(step.explained_variance_)
    return _projection(centered, kernel, dtype, name)


def _truncated_svd(step, outputs, dtype, name):
    return _projection(outputs, step.components_.T, dtype, name)


def _keras_features(step, outputs, dtype, name):
    extractor = step._extractor()
    copy = keras.models.clone_model(extractor)
    copy.set_weights(extractor.get_weights())
    copy.name = name
    if tuple(outputs.shape[1:]) != tuple(step.input_shape_):
        outputs = keras.layers.Reshape(step.input_shape_, name=f"{name}_reshape")(outputs)
    return keras.layers.Flatten(name=f"{name}_flatten")(copy(outputs))


_STEPS = {
    StandardScaler: _standard_scaler,
    MinMaxScaler: _min_max_scaler,
    MaxAbsScaler: _max_abs_scaler,
    Normalizer: _normalizer,
    PCA: _pca,
    TruncatedSVD: _truncated_svd,
    KerasFeatures: _keras_features,
}
