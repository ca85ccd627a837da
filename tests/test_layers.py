import keras
import numpy as np
import pytest
from sklearn.kernel_approximation import RBFSampler
from sklearn.metrics.pairwise import laplacian_kernel, rbf_kernel

from kernelsvm_keras.layers import RandomFourierFeatures, draw_random_fourier_weights

rng = np.random.RandomState(42)
X = rng.uniform(-1, 1, size=(50, 6)).astype(np.float32)


def test_layer_equals_rbf_sampler():
    layer = RandomFourierFeatures(n_components=300, gamma=0.7, seed=3)
    ours = keras.ops.convert_to_numpy(layer(X))
    reference = RBFSampler(gamma=0.7, n_components=300, random_state=3).fit_transform(X)
    np.testing.assert_allclose(ours, reference, atol=2e-6)


@pytest.mark.parametrize("kernel, exact", [("rbf", rbf_kernel), ("laplacian", laplacian_kernel)])
def test_inner_products_approximate_the_kernel(kernel, exact):
    layer = RandomFourierFeatures(n_components=20000, gamma=0.5, kernel=kernel, seed=0)
    Z = keras.ops.convert_to_numpy(layer(X)).astype(np.float64)
    error = np.abs(Z @ Z.T - exact(X, gamma=0.5))
    assert error.max() < 0.06
    assert error.mean() < 0.012


def test_seed_fixes_the_draw_and_none_does_not():
    a = RandomFourierFeatures(64, seed=1)(X)
    b = RandomFourierFeatures(64, seed=1)(X)
    c = RandomFourierFeatures(64)(X)
    d = RandomFourierFeatures(64)(X)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
    assert not np.allclose(keras.ops.convert_to_numpy(c), keras.ops.convert_to_numpy(d))


def test_draw_does_not_touch_global_numpy_state():
    np.random.seed(0)  # noqa: NPY002 -- the global state is what is tested
    expected = np.random.rand()  # noqa: NPY002
    np.random.seed(0)  # noqa: NPY002
    RandomFourierFeatures(32, kernel="laplacian")(X)
    draw_random_fourier_weights(6, 8, 1.0, "laplacian", np.random.RandomState(0))
    assert np.random.rand() == expected  # noqa: NPY002


def test_weights_are_not_trainable():
    layer = RandomFourierFeatures(16, seed=0)
    layer.build((None, 6))
    assert layer.trainable_weights == []
    assert len(layer.non_trainable_weights) == 2


def test_config_round_trip():
    layer = RandomFourierFeatures(16, gamma=0.25, kernel="laplacian", seed=7, name="rff")
    clone = RandomFourierFeatures.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()


def test_saved_model_round_trip(tmp_path):
    model = keras.Sequential(
        [keras.Input((6,)), RandomFourierFeatures(32, gamma=0.3, seed=0), keras.layers.Dense(3)]
    )
    path = tmp_path / "head.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded(X)), keras.ops.convert_to_numpy(model(X)), rtol=1e-6
    )


def test_output_shape_and_float64_input():
    layer = RandomFourierFeatures(10, seed=0)
    out = layer(X.astype(np.float64))
    assert tuple(out.shape) == (50, 10)
    assert layer.compute_output_shape((None, 6)) == (None, 10)


@pytest.mark.parametrize(
    "kwargs, error",
    [
        (dict(n_components=0), ValueError),
        (dict(n_components=2.5), TypeError),
        (dict(n_components=4, gamma=-1.0), ValueError),
        (dict(n_components=4, kernel="poly"), ValueError),
        (dict(n_components=4, seed="a"), TypeError),
    ],
)
def test_invalid_arguments(kwargs, error):
    with pytest.raises(error):
        RandomFourierFeatures(**kwargs)
