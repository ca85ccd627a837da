"""The one-vs-rest losses, and their mapping to the SVM objective."""

import keras
import numpy as np
import pytest
from sklearn.datasets import load_digits, load_iris

from kernelsvm_keras import KerasLinearSVC
from kernelsvm_keras.layers import RandomFourierFeatures
from kernelsvm_keras.losses import (
    OneVsRestHinge,
    OneVsRestSquaredHinge,
    l2_for_C,
    one_vs_rest_hinge,
    one_vs_rest_squared_hinge,
)

rng = np.random.RandomState(0)
scores = rng.normal(size=(20, 4))
labels = rng.randint(0, 4, size=20)


def reference(labels, scores, power):
    targets = -np.ones_like(scores)
    targets[np.arange(len(labels)), labels] = 1.0
    return (np.maximum(0.0, 1.0 - targets * scores) ** power).sum(axis=1)


@pytest.mark.parametrize(
    "function, power", [(one_vs_rest_hinge, 1), (one_vs_rest_squared_hinge, 2)]
)
def test_per_sample_values(function, power):
    got = keras.ops.convert_to_numpy(function(labels, scores.astype("float32")))
    np.testing.assert_allclose(got, reference(labels, scores, power), rtol=1e-5)
    # Labels as a column, as Keras sometimes passes them.
    got = keras.ops.convert_to_numpy(function(labels[:, None], scores.astype("float32")))
    np.testing.assert_allclose(got, reference(labels, scores, power), rtol=1e-5)


@pytest.mark.parametrize(
    "function, power", [(one_vs_rest_hinge, 1), (one_vs_rest_squared_hinge, 2)]
)
def test_binary_single_column_is_the_signed_margin(function, power):
    binary = labels % 2
    column = scores[:, :1].astype("float32")
    margins = np.where(binary == 1, 1.0, -1.0) * scores[:, 0]
    expected = np.maximum(0.0, 1.0 - margins) ** power
    for y in (binary, binary[:, None]):  # both through the Loss class (which reshapes)
        got = keras.ops.convert_to_numpy(function(y, column))
        np.testing.assert_allclose(got, expected, rtol=1e-5)
    loss = OneVsRestHinge() if power == 1 else OneVsRestSquaredHinge()
    np.testing.assert_allclose(float(loss(binary, column)), expected.mean(), rtol=1e-5)


def test_l2_for_C():
    assert l2_for_C(2.0, 100) == pytest.approx(1 / 400)
    with pytest.raises(ValueError, match="C must be positive"):
        l2_for_C(0.0, 100)
    with pytest.raises(ValueError, match="n_samples"):
        l2_for_C(1.0, 0)


@pytest.mark.parametrize(
    "loss_name, loss", [("hinge", OneVsRestHinge()), ("squared_hinge", OneVsRestSquaredHinge())]
)
def test_keras_loss_times_C_n_is_the_svm_objective(loss_name, loss):
    """The documented C -> L2 mapping: Keras's total loss * C * n equals the SVM objective."""
    X, y = load_iris(return_X_y=True)
    C = 0.5
    est = KerasLinearSVC(C=C, loss=loss_name, tol=1e-4).fit(X, y)
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(3, kernel_regularizer=keras.regularizers.L2(l2_for_C(C, len(X)))),
        ]
    )
    model.layers[0].set_weights([est.coef_.T, est.intercept_])
    model.compile(loss=loss)
    keras_loss = model.evaluate(X, y, batch_size=len(X), verbose=0)
    np.testing.assert_allclose(keras_loss * C * len(X), est.objective_.sum(), rtol=1e-4)


def test_svm_head_trains_end_to_end_and_saves(tmp_path):
    """The documented SVM head: random features + Dense with the L2 of C, on the hinge."""
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype("float32")
    X_train, y_train, X_test, y_test = X[:1200], y[:1200], X[1200:], y[1200:]
    C = 10.0
    model = keras.Sequential(
        [
            keras.Input((64,)),
            RandomFourierFeatures(1024, gamma=0.05, seed=0),
            keras.layers.Dense(
                10,
                kernel_regularizer=keras.regularizers.L2(l2_for_C(C, len(X_train))),
                kernel_initializer="zeros",
            ),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss=OneVsRestSquaredHinge())
    model.fit(X_train, y_train, epochs=30, batch_size=128, verbose=0)
    predicted = np.argmax(model.predict(X_test, verbose=0), axis=1)
    assert np.mean(predicted == y_test) > 0.9
    path = tmp_path / "head.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded.loss, OneVsRestSquaredHinge)
    np.testing.assert_allclose(loaded.predict(X_test, verbose=0), model.predict(X_test, verbose=0))
