"""pipeline_to_keras: a fitted pipeline as one Keras model, equal to the pipeline."""

import keras
import numpy as np
import pytest
from sklearn.datasets import load_iris, make_regression
from sklearn.decomposition import PCA, TruncatedSVD
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MaxAbsScaler, MinMaxScaler, Normalizer, StandardScaler

import kernelsvm_keras as ks
from kernelsvm_keras import KerasFeatures, pipeline_to_keras

IRIS_X, IRIS_Y = load_iris(return_X_y=True)


def _decision(model, X):
    return keras.ops.convert_to_numpy(model.predict(X, verbose=0))


@pytest.mark.parametrize(
    "steps",
    [
        [StandardScaler()],
        [StandardScaler(with_mean=False)],
        [MinMaxScaler(clip=True)],
        [MinMaxScaler((-1, 1))],
        [MaxAbsScaler()],
        [Normalizer()],
        [Normalizer("l1"), "passthrough"],
        [StandardScaler(), PCA(3, whiten=True)],
        [TruncatedSVD(2, random_state=0)],
        [],
    ],
    ids=lambda steps: "+".join(type(s).__name__ for s in steps) or "alone",
)
def test_preprocessing_steps_match(steps):
    pipe = make_pipeline(*steps, ks.KerasSVC(n_components=40, random_state=0))
    pipe.fit(IRIS_X, IRIS_Y)
    model = pipeline_to_keras(pipe if steps else pipe[-1])
    # rows beyond the training range, where clipping acts
    X = np.vstack([IRIS_X, IRIS_X.max(axis=0) + 1.0, IRIS_X.min(axis=0) - 1.0])
    np.testing.assert_allclose(_decision(model, X), pipe.decision_function(X), atol=1e-4)


def test_float64_matches_to_rounding_and_saves(tmp_path):
    X, y = make_regression(120, 4, noise=1.0, random_state=0)
    pipe = make_pipeline(StandardScaler(), PCA(3), ks.KerasSVR(n_components=40, random_state=0))
    pipe.fit(X, y / 100)
    if keras.backend.backend() == "jax":
        import jax

        if not jax.config.jax_enable_x64:  # JAX would compute in float32
            with pytest.raises(ValueError, match="JAX_ENABLE_X64"):
                pipeline_to_keras(pipe, dtype="float64")
            return
    if keras.backend.backend() == "torch":
        probe = keras.ops.convert_to_tensor(np.ones((1, 1)), "float64")
        if keras.ops.matmul(probe, probe).dtype != probe.dtype:  # keras-team/keras#23704
            with pytest.raises(ValueError, match="23704"):
                pipeline_to_keras(pipe, dtype="float64")
            return
    model = pipeline_to_keras(pipe, dtype="float64")
    values = keras.ops.convert_to_numpy(model(keras.ops.convert_to_tensor(X, "float64")))
    np.testing.assert_allclose(values[:, 0], pipe.predict(X), rtol=1e-10, atol=1e-12)
    path = tmp_path / "pipe.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(_decision(loaded, X), _decision(model, X), rtol=0, atol=0)


def test_keras_features_step_is_copied():
    inputs = keras.Input((2, 2, 1))
    hidden = keras.layers.Dense(3, activation="relu", name="hidden")(inputs)
    cnn = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(hidden)))
    X = np.random.RandomState(0).normal(size=(60, 4))
    y = (X[:, 0] > 0).astype(int)
    pipe = make_pipeline(KerasFeatures(cnn, layer="hidden"), ks.KerasLinearSVC(random_state=0))
    pipe.fit(X, y)
    model = pipeline_to_keras(pipe)
    images = X.reshape(-1, 2, 2, 1)  # the first step's input shape
    np.testing.assert_allclose(_decision(model, images)[:, 0], pipe.decision_function(X), atol=1e-5)
    before = _decision(model, images)
    cnn.get_layer("hidden").kernel.assign(np.zeros((1, 3)))  # the copy does not follow
    np.testing.assert_array_equal(_decision(model, images), before)
    assert not np.allclose(pipe.decision_function(X), before[:, 0], atol=1e-3)


def test_unsupported_step_is_named():
    pipe = make_pipeline(SimpleImputer(), ks.KerasLinearSVC(random_state=0)).fit(IRIS_X, IRIS_Y)
    with pytest.raises(ValueError, match="'simpleimputer' \\(SimpleImputer\\)"):
        pipeline_to_keras(pipe)
    with pytest.raises(ValueError, match="ending in an estimator of kernelsvm_keras"):
        pipeline_to_keras(make_pipeline(StandardScaler(), SimpleImputer()).fit(IRIS_X))


def test_new_layers_round_trip_through_keras_files(tmp_path):
    from kernelsvm_keras.layers import RowNormalization, ScaleShift

    X = np.random.RandomState(0).normal(size=(10, 3))
    inputs = keras.Input((3,))
    scale_shift = ScaleShift(clip=(-0.5, 0.5))
    outputs = RowNormalization("max")(scale_shift(inputs))
    scale_shift.set_weights([np.array([1.0, 2.0, 3.0]), np.array([0.1, 0.0, -0.1])])
    model = keras.Model(inputs, outputs)
    model.save(tmp_path / "layers.keras")
    loaded = keras.saving.load_model(tmp_path / "layers.keras")
    np.testing.assert_array_equal(_decision(loaded, X), _decision(model, X))
    expected = np.clip(X * [1.0, 2.0, 3.0] + [0.1, 0.0, -0.1], -0.5, 0.5)
    expected /= np.abs(expected).max(axis=1, keepdims=True)
    np.testing.assert_allclose(_decision(model, X), expected, atol=1e-6)
    with pytest.raises(ValueError, match="norm must be"):
        RowNormalization("l3")
    with pytest.raises(ValueError, match="low <= high"):
        ScaleShift(clip=(1.0, 0.0))
