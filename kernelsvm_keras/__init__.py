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

import sys

# Keras with the package, except in a joblib worker: there at its first use,
# which a small fit never reaches (see kernelsvm_keras._keras). Importing
# _keras first imports _workers, which sizes a worker's thread pools before
# the backend starts.
from . import _keras

if not _keras.deferred():
    _keras.load()

# isort: split
from ._base import InconsistentVersionWarning
from ._classes import KerasLinearSVC, KerasSVC
from ._export import pipeline_to_keras
from ._features import KerasFeatures
from ._one_class import KerasOneClassSVM
from ._regression import KerasLinearSVR, KerasSVR
from ._search import KerasLinearSVCCV, KerasSVCCV, KerasSVRCV
from ._version import __version__

_WITH_KERAS = {"layers": "layers", "losses": "losses", "RandomFourierFeatures": "layers"}


def __getattr__(name):
    """``layers``, ``losses`` and ``RandomFourierFeatures``, whose import is that of Keras."""
    if name not in _WITH_KERAS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    _keras.load()
    module = sys.modules[f"{__name__}.{_WITH_KERAS[name]}"]
    return module if name == _WITH_KERAS[name] else getattr(module, name)


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
