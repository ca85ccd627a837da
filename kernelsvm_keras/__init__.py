"""Kernel SVMs for scikit-learn, trained by Keras 3.

``KerasSVC`` and ``KerasLinearSVC`` are scikit-learn classifiers whose training
is a Keras 3 program that reaches the optimum of the SVM primal objective, on
a GPU whenever Keras sees one. ``kernelsvm_keras.layers`` holds the Keras layer
of random Fourier features that they use.
"""

from ._classes import KerasLinearSVC, KerasSVC
from .layers import RandomFourierFeatures

__all__ = ["KerasLinearSVC", "KerasSVC", "RandomFourierFeatures", "__version__"]

__version__ = "0.1.0"
