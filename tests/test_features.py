"""KerasFeatures: a Keras model cut at a layer, as a transformer before an SVM."""

import keras
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from kernelsvm_keras import KerasFeatures, KerasSVC

X, y = load_digits(return_X_y=True)
X = (X[:400] / 16.0).astype("float32")
y = y[:400]
images = X.reshape(-1, 8, 8, 1)


def init(seed):
    return keras.initializers.GlorotUniform(seed=seed)


def small_cnn():
    inputs = keras.Input((8, 8, 1))
    hidden = keras.layers.Conv2D(8, 3, activation="relu", name="conv", kernel_initializer=init(0))(
        inputs
    )
    hidden = keras.layers.Flatten(name="flat")(hidden)
    hidden = keras.layers.Dense(
        32, activation="relu", name="embedding", kernel_initializer=init(0)
    )(hidden)
    return keras.Model(
        inputs, keras.layers.Dense(10, name="logits", kernel_initializer=init(0))(hidden)
    )


def test_features_are_the_layer_activations():
    cnn = small_cnn()
    features = KerasFeatures(cnn, layer="embedding", batch_size=64).fit(images)
    out = features.transform(images)
    expected = keras.Model(cnn.inputs, cnn.get_layer("embedding").output).predict(images, verbose=0)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
    assert out.shape == (400, 32) and features.n_features_out_ == 32
    # Flat rows are reshaped to the model's input; conv maps are flattened.
    conv = KerasFeatures(cnn, layer="conv").fit(X)
    assert conv.transform(X).shape == (400, 6 * 6 * 8)
    # No layer: the model's output.
    assert KerasFeatures(cnn).fit_transform(X).shape == (400, 10)
    names = features.get_feature_names_out()
    assert names[0] == "kerasfeatures0" and len(names) == 32


def test_cnn_features_into_svm_in_grid_search():
    cnn = small_cnn()
    pipe = make_pipeline(
        KerasFeatures(cnn, layer="flat"), KerasSVC(n_components=256, random_state=0)
    )
    search = GridSearchCV(
        pipe,
        {"kerasfeatures__layer": ["flat", "embedding"], "kerassvc__C": [1.0, 10.0]},
        cv=2,
    ).fit(X, y)
    assert set(search.cv_results_["param_kerasfeatures__layer"]) == {"flat", "embedding"}
    assert search.best_score_ > 0.8  # random conv features of digits still separate them
    # The search's clones did not touch the user's model.
    assert search.best_estimator_.steps[0][1].model is not cnn
    np.testing.assert_allclose(
        cnn.predict(images[:5], verbose=0), small_cnn().predict(images[:5], verbose=0)
    )


def test_clone_and_pickle_keep_the_model():
    import pickle

    features = KerasFeatures(small_cnn(), layer="embedding").fit(images)
    restored = pickle.loads(pickle.dumps(features))
    np.testing.assert_allclose(restored.transform(images), features.transform(images), rtol=1e-6)
    cloned = clone(features)
    assert cloned.layer == "embedding" and not hasattr(cloned, "n_features_out_")
    np.testing.assert_allclose(
        cloned.fit(images).transform(images), features.transform(images), rtol=1e-6
    )


def test_clear_errors():
    cnn = small_cnn()
    with pytest.raises(ValueError, match="no layer 'nope'"):
        KerasFeatures(cnn, layer="nope").fit(images)
    with pytest.raises(ValueError, match=r"shape \(8, 8, 1\)"):
        KerasFeatures(cnn).fit(np.zeros((3, 10)))
    with pytest.raises(ValueError, match="model"):
        KerasFeatures("not a model").fit(images)
    fitted = KerasFeatures(cnn).fit(images)
    with pytest.raises(ValueError):
        fitted.transform(np.full((2, 8, 8, 1), np.nan))
