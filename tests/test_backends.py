"""The same fit on two Keras backends gives the same model (within the solver's tol).

The other backend runs in a subprocess (Keras picks its backend once per
process): TensorFlow when this process runs another backend, else JAX or
torch when installed.
"""

import importlib.util
import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
from sklearn.datasets import load_digits

from kernelsvm_keras import KerasLinearSVC, KerasSVC

SCRIPT = textwrap.dedent(
    """
    import json, sys
    from sklearn.datasets import load_digits
    from kernelsvm_keras import KerasLinearSVC, KerasSVC
    X, y = load_digits(return_X_y=True)
    X = X[:500] / 16.0
    out = {}
    for name, est in [("svc", KerasSVC(C=10, n_components=256, random_state=0)),
                      ("linear", KerasLinearSVC(C=0.1))]:
        est.set_params(tol=1e-4).fit(X, y[:500])
        out[name] = est.decision_function(X).tolist()
    json.dump(out, sys.stdout)
    """
)


def other_backend():
    if keras.backend.backend() != "tensorflow":
        return "tensorflow"
    for name in ("jax", "torch"):
        if importlib.util.find_spec(name) is not None:
            return name
    return None


@pytest.mark.skipif(other_backend() is None, reason="no second Keras backend installed")
def test_same_model_on_another_backend():
    backend = other_backend()
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=True
    )
    theirs = json.loads(result.stdout)
    X, y = load_digits(return_X_y=True)
    X = X[:500] / 16.0
    ours = {
        "svc": KerasSVC(C=10, n_components=256, random_state=0, tol=1e-4).fit(X, y[:500]),
        "linear": KerasLinearSVC(C=0.1, tol=1e-4).fit(X, y[:500]),
    }
    for name, est in ours.items():
        ref = np.asarray(theirs[name])
        scores = est.decision_function(X)
        # Both optima are certified to 1e-4 of the objective: the decision values
        # agree to a small fraction of their scale, and so do the predictions.
        assert np.abs(scores - ref).max() < 0.02 * np.abs(ref).max(), (backend, name)
        assert np.mean(np.argmax(scores, 1) == np.argmax(ref, 1)) > 0.99


@pytest.mark.skipif(
    keras.backend.backend() != "jax",
    reason="only JAX compiles a program per shape; the other backends run operations eagerly",
)
def test_a_second_fit_of_the_same_shapes_compiles_nothing():
    # Every program of a fit (the solver's compiled arithmetic, the eager
    # operations, the gathers of curved rows padded to a few sizes) is
    # compiled by the first fit of these shapes, and a grid search's later
    # fits reuse them.
    import logging

    import jax
    from sklearn.datasets import make_classification

    # more rows than the exact dual takes: Newton's iterations on the device
    X, y = make_classification(6000, 20, n_informative=10, n_classes=3, random_state=0)
    first = KerasSVC(C=10, n_components=256, random_state=0).fit(X, y)
    assert first.n_iter_ > 1
    messages = []
    handler = logging.Handler()
    handler.emit = lambda record: messages.append(record.getMessage())
    logger = logging.getLogger("jax")
    logger.addHandler(handler)
    try:
        with jax.log_compiles():
            second = KerasSVC(C=10, n_components=256, random_state=0).fit(X, y)
    finally:
        logger.removeHandler(handler)
    # (neither traced again, as an unhashable static argument would make
    # them, nor compiled)
    assert [m for m in messages if "tracing" in m or m.startswith("Compiling")] == []
    np.testing.assert_array_equal(second.coef_, first.coef_)
