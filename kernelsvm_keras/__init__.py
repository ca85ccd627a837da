"""Kernel SVMs for scikit-learn, trained by Keras 3.

``KerasSVC`` and ``KerasLinearSVC`` are scikit-learn classifiers, ``KerasSVR``
and ``KerasLinearSVR`` regressors and ``KerasOneClassSVM`` an outlier
detector, whose training is a Keras 3 program that reaches the optimum of the
SVM primal objective, on a GPU whenever Keras sees one; ``to_keras()`` turns a
fitted one into a Keras model. ``KerasSVCCV`` and ``KerasLinearSVCCV`` run a grid search over ``C``
(and ``gamma``, ``n_components``) as one program. ``KerasFeatures`` turns a
Keras model, cut at a layer, into a scikit-learn transformer (deep features
into an SVM). ``kernelsvm_keras.layers`` (random Fourier features) and
``kernelsvm_keras.losses`` (one-vs-rest hinge losses) put an SVM head on any
Keras model.
"""

# First, before Keras is imported: in a joblib worker, importing _workers sizes
# the backends' thread pools to the worker's share (see kernelsvm_keras._workers).
from . import _workers  # noqa: F401

# isort: split
from ._quiet import tensorflow_banner_filtered

with tensorflow_banner_filtered():  # the first import of Keras (and TensorFlow)
    import keras  # noqa: F401

# isort: split
from . import layers, losses
from ._base import InconsistentVersionWarning
from ._classes import KerasLinearSVC, KerasSVC
from ._export import pipeline_to_keras
from ._features import KerasFeatures
from ._one_class import KerasOneClassSVM
from ._regression import KerasLinearSVR, KerasSVR
from ._search import KerasLinearSVCCV, KerasSVCCV, KerasSVRCV
from ._version import __version__
from .layers import RandomFourierFeatures

__all__ = [
    "InconsistentVersionWarning",
    "KerasFeatures",
    "KerasLinearSVC",
    "KerasLinearSVCCV",
    "KerasLinearSVR",
    "KerasOneClassSVM",
    "KerasSVC",
    "KerasSVCCV",
    "KerasSVR",
    "KerasSVRCV",
    "RandomFourierFeatures",
    "__version__",
    "layers",
    "losses",
    "pipeline_to_keras",
]
