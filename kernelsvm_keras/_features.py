"""KerasFeatures: any Keras model, cut at a layer, as a scikit-learn transformer."""

from numbers import Integral

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.validation import check_is_fitted, validate_data

from ._keras import keras


class KerasFeatures(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Batched feature extraction by a Keras model cut at a named layer.

    Turns a (typically pre-trained) Keras model into a scikit-learn
    transformer whose output is the activation of one of its layers, flattened
    to one row per sample. With an SVM after it, this is the "CNN features into
    an SVM" workflow, in a pipeline that ``GridSearchCV`` can tune::

        make_pipeline(KerasFeatures(cnn, layer="embedding"), KerasSVC())

    The model is not trained: ``fit`` only checks the model, the layer and the
    data.

    Parameters
    ----------
    model : keras.Model
        A built Keras model with one input (functional, ``Sequential`` with an
        ``Input``, or a loaded ``.keras`` file). It is a parameter: ``clone``
        copies it, and it is never modified.
    layer : str, default=None
        Name of the layer whose output are the features; ``None`` takes the
        model's output.
    batch_size : int, default=256
        Rows per batch through the model (memory use, not results).

    Attributes
    ----------
    n_features_in_ : int
        ``X.shape[1]`` seen during fit.
    input_shape_ : tuple of int
        The shape of one sample as the model receives it. ``X`` can also be
        given flat, as ``(n_samples, prod(input_shape_))``: rows are reshaped
        (pixels from a CSV, for instance).
    n_features_out_ : int
        Number of features per sample (the layer's output, flattened).

    Examples
    --------
    >>> import keras
    >>> import numpy as np
    >>> from kernelsvm_keras import KerasFeatures
    >>> inputs = keras.Input((8, 8, 1))
    >>> hidden = keras.layers.Conv2D(4, 3, name="conv")(inputs)
    >>> model = keras.Model(inputs, keras.layers.Dense(10)(keras.layers.Flatten()(hidden)))
    >>> features = KerasFeatures(model, layer="conv").fit(np.zeros((2, 64)))
    >>> features.transform(np.zeros((5, 64))).shape
    (5, 144)
    """

    _parameter_constraints: dict = {
        "model": [HasMethods(["predict", "get_layer"])],
        "layer": [str, None],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, model, *, layer=None, batch_size=256):
        self.model = model
        self.layer = layer
        self.batch_size = batch_size

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Check the model, the layer and the shape of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Samples in the model's input shape, or flat.
        y : None
            Ignored.

        Returns
        -------
        self : object
        """
        extractor = self._extractor()
        input_shape = tuple(extractor.input_shape[1:])
        if None in input_shape:
            raise ValueError(
                f"KerasFeatures needs a model with a fixed input shape, got {input_shape}."
            )
        X = validate_data(self, X, allow_nd=True, dtype=(np.float32, np.float64))
        self._as_model_input(X, input_shape)
        output_shape = tuple(extractor.output_shape[1:])
        self.input_shape_ = input_shape
        self.n_features_out_ = int(np.prod(output_shape))
        self._n_features_out = self.n_features_out_
        return self

    def transform(self, X):
        """The layer's activations, one flattened row per sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Samples in the model's input shape, or flat.

        Returns
        -------
        ndarray of shape (n_samples, ``n_features_out_``)
        """
        check_is_fitted(self)
        X = validate_data(self, X, allow_nd=True, dtype=(np.float32, np.float64), reset=False)
        X = self._as_model_input(X, self.input_shape_)
        outputs = self._extractor().predict(X, batch_size=self.batch_size, verbose=0)
        return np.asarray(outputs).reshape(len(X), -1)

    def _extractor(self):
        """The model from its input to the chosen layer's output."""
        model = self.model
        if not isinstance(model, keras.Model):
            raise TypeError(f"model must be a keras.Model, got {type(model).__name__}.")
        try:
            inputs = model.inputs
        except (AttributeError, ValueError) as error:
            raise ValueError(
                "The model has no defined input; build it with keras.Input first."
            ) from error
        if not inputs or len(inputs) != 1:
            raise ValueError(f"KerasFeatures needs a model with one input, got {inputs!r}.")
        if self.layer is None:
            return model
        names = [layer.name for layer in model.layers]
        if self.layer not in names:
            raise ValueError(f"The model has no layer {self.layer!r}; its layers are {names}.")
        return keras.Model(inputs, model.get_layer(self.layer).output)

    def _as_model_input(self, X, input_shape):
        """``X`` with rows in the model's input shape (flat rows are reshaped)."""
        if X.shape[1:] == input_shape:
            return X
        if X.ndim == 2 and X.shape[1] == int(np.prod(input_shape)):
            return X.reshape((len(X), *input_shape))
        raise ValueError(
            f"X has samples of shape {X.shape[1:]}; the model takes samples of shape "
            f"{input_shape} (or flat rows of {int(np.prod(input_shape))} values)."
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags
