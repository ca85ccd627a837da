"""Conversions: to_keras (fitted estimator -> Keras model) and from_sklearn."""

import inspect
import pickle

import keras
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_breast_cancer, load_digits, load_iris
from sklearn.exceptions import NotFittedError
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, LinearSVC

from kernelsvm_keras import KerasLinearSVC, KerasSVC

digits_X, digits_y = load_digits(return_X_y=True)
digits_X = digits_X[:500] / 16.0
digits_y = digits_y[:500]
cancer_X, cancer_y = load_breast_cancer(return_X_y=True)
cancer_X = StandardScaler().fit_transform(cancer_X)

FITTED = {
    "svc-multiclass": lambda: KerasSVC(C=10, n_components=512, random_state=0).fit(
        digits_X, digits_y
    ),
    "svc-nystroem-multiclass": lambda: KerasSVC(
        C=10, n_components=256, approximation="nystroem", random_state=0
    ).fit(digits_X, digits_y),
    "svc-binary-laplacian": lambda: KerasSVC(
        kernel="laplacian", gamma=0.01, n_components=256, random_state=0
    ).fit(cancer_X, cancer_y),
    "linear-multiclass": lambda: KerasLinearSVC(C=0.1).fit(digits_X, digits_y),
    "linear-binary": lambda: KerasLinearSVC().fit(cancer_X, cancer_y),
}


def as_decisions(outputs, est):
    outputs = keras.ops.convert_to_numpy(outputs)
    return outputs.ravel() if len(est.classes_) == 2 else outputs


@pytest.mark.parametrize("X, y", [(digits_X, digits_y), (cancer_X, cancer_y)])
def test_linear_svc_sparsify_and_densify_as_linear_svc(X, y):
    # LinearSVC's SparseCoefMixin: code that sparsifies its coef_ runs unchanged
    with pytest.raises(NotFittedError, match="must be fitted before sparsifying"):
        KerasLinearSVC().sparsify()
    with pytest.raises(NotFittedError, match="must be fitted before densifying"):
        KerasLinearSVC().densify()
    est = KerasLinearSVC(C=0.1).fit(X, y)
    coef, decision = est.coef_.copy(), est.decision_function(X)
    assert est.sparsify() is est and sp.isspmatrix_csr(est.coef_)
    assert est.coef_.shape == coef.shape
    np.testing.assert_allclose(est.decision_function(X), decision, rtol=0, atol=1e-12)
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(again.decision_function(X), est.decision_function(X))
    model = est.to_keras()
    np.testing.assert_allclose(
        as_decisions(model(X.astype("float32")), est), decision, rtol=1e-4, atol=1e-4
    )
    # warm_start continues from a sparse coef_ and stores a dense one
    est.set_params(warm_start=True, max_iter=0).fit(X, y)
    assert isinstance(est.coef_, np.ndarray)
    np.testing.assert_allclose(est.coef_, coef, rtol=1e-6, atol=1e-7)
    assert est.sparsify().densify() is est and isinstance(est.coef_, np.ndarray)


@pytest.mark.parametrize("name", FITTED)
def test_to_keras_equals_decision_function_and_round_trips(name, tmp_path):
    est = FITTED[name]()
    X = digits_X if "multiclass" in name else cancer_X
    expected = est.decision_function(X)
    model = est.to_keras()
    assert isinstance(model, keras.Model)
    # float32 through the whole model: 1e-5, absolute or relative to the decision value.
    np.testing.assert_allclose(
        as_decisions(model.predict(X, verbose=0), est), expected, rtol=1e-5, atol=1e-5
    )
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)  # needs only `import kernelsvm_keras`
    np.testing.assert_allclose(
        as_decisions(loaded.predict(X, verbose=0), est), expected, rtol=1e-5, atol=1e-5
    )


def test_to_keras_float64_is_exact():
    est = FITTED["svc-multiclass"]()
    if keras.backend.backend() == "jax":
        import jax

        if not jax.config.jax_enable_x64:  # JAX would truncate float64 to float32 silently
            with pytest.raises(ValueError, match="JAX_ENABLE_X64"):
                est.to_keras(dtype="float64")
            return
    if keras.backend.backend() == "torch":
        # Keras multiplies float64 matrices in float32 on torch (keras-team/keras#23704)
        probe = keras.ops.convert_to_tensor(np.ones((1, 1)), "float64")
        if keras.ops.matmul(probe, probe).dtype != probe.dtype:
            with pytest.raises(ValueError, match="23704"):
                est.to_keras(dtype="float64")
            return
    model = est.to_keras(dtype="float64")
    # as a float64 tensor: the torch backend converts float64 NumPy to float32
    inputs = keras.ops.convert_to_tensor(digits_X, dtype="float64")
    np.testing.assert_allclose(
        as_decisions(keras.ops.convert_to_numpy(model(inputs)), est),
        est.decision_function(digits_X),
        atol=1e-10,
    )


def test_to_keras_needs_a_fitted_estimator():

    with pytest.raises(NotFittedError):
        KerasSVC().to_keras()


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="SavedModel export is TensorFlow's format"
)
def test_to_keras_exports_a_saved_model(tmp_path):
    import tensorflow as tf

    est = FITTED["svc-multiclass"]()
    # (verbose=False only where Keras takes it: 3.6 and later)
    export = est.to_keras().export
    quiet = {"verbose": False} if "verbose" in inspect.signature(export).parameters else {}
    export(str(tmp_path / "served"), **quiet)
    served = tf.saved_model.load(str(tmp_path / "served"))
    outputs = served.serve(tf.constant(digits_X, dtype=tf.float32))
    # (float32 features summed over the landmarks: some 1e-5 of round-off, as
    # the Keras model's own predictions above)
    np.testing.assert_allclose(
        outputs.numpy(), est.decision_function(digits_X), rtol=1e-5, atol=1e-5
    )


@pytest.mark.parametrize("loss", ["hinge", "squared_hinge"])
def test_from_linear_svc_multiclass_and_binary(loss):
    for X, y in [(digits_X, digits_y), (cancer_X, cancer_y)]:
        source = LinearSVC(C=0.1, loss=loss, max_iter=5000).fit(X, y)
        converted = KerasLinearSVC.from_sklearn(source)
        np.testing.assert_allclose(
            converted.decision_function(X), source.decision_function(X), atol=1e-6
        )
        np.testing.assert_array_equal(converted.predict(X), source.predict(X))
        assert converted.get_params()["loss"] == loss and converted.C == 0.1
        # The converted estimator is fitted on its own: it can be exported.
        model = converted.to_keras()
        np.testing.assert_allclose(
            as_decisions(model.predict(X, verbose=0), converted),
            source.decision_function(X),
            atol=1e-4,
        )


def test_from_linear_svc_keeps_string_classes_and_feature_names():
    import pandas as pd

    frame = pd.DataFrame(cancer_X[:, :5], columns=[f"f{i}" for i in range(5)])
    labels = np.where(cancer_y == 1, "benign", "malignant")
    source = LinearSVC().fit(frame, labels)
    converted = KerasLinearSVC.from_sklearn(source)
    np.testing.assert_array_equal(converted.classes_, source.classes_)
    np.testing.assert_array_equal(converted.feature_names_in_, source.feature_names_in_)
    np.testing.assert_array_equal(converted.predict(frame), source.predict(frame))


@pytest.mark.parametrize("sparse", [False, True])
def test_from_binary_linear_svc_kernel(sparse):
    X = sp.csr_matrix(cancer_X) if sparse else cancer_X
    source = SVC(kernel="linear", C=0.5).fit(X, cancer_y)
    converted = KerasLinearSVC.from_sklearn(source)
    np.testing.assert_allclose(
        converted.decision_function(X), source.decision_function(X), atol=1e-6
    )
    assert converted.loss == "hinge" and converted.C == 0.5


@pytest.mark.parametrize("shape, break_ties", [("ovr", False), ("ovr", True), ("ovo", False)])
def test_kerassvc_from_linear_svc_is_svc_for_any_classes(shape, break_ties):
    iris_X, iris_y = load_iris(return_X_y=True)
    for X, y in [(iris_X, iris_y), (digits_X, digits_y), (cancer_X, cancer_y)]:
        source = SVC(
            kernel="linear", C=0.5, decision_function_shape=shape, break_ties=break_ties
        ).fit(X, y)
        converted = KerasSVC.from_sklearn(source)
        decisions = source.decision_function(X)
        np.testing.assert_allclose(converted.decision_function(X), decisions, atol=1e-9)
        np.testing.assert_array_equal(converted.predict(X), source.predict(X))
        np.testing.assert_array_equal(converted.n_support_, source.n_support_)
        np.testing.assert_array_equal(converted.support_, source.support_)
        assert converted.multi_class == ("ovo" if len(source.classes_) > 2 else "ovr")
        assert (converted.loss, converted.kernel, converted.C) == ("hinge", "linear", 0.5)
    # exported, and refitted on its own problem: SVC's again (within the certified tol)
    model = converted.to_keras()
    np.testing.assert_allclose(model.predict(X, verbose=0).ravel(), decisions, rtol=1e-4, atol=1e-4)
    X, y = StandardScaler().fit_transform(iris_X), iris_y
    source = SVC(kernel="linear", C=0.5, decision_function_shape=shape).fit(X, y)
    refit = KerasSVC.from_sklearn(source).set_params(tol=1e-4).fit(X, y)
    assert np.mean(refit.predict(X) == source.predict(X)) > 0.97


def test_kerassvc_from_sklearn_refuses_what_cannot_be_exact():
    with pytest.raises(ValueError, match="no weight vector"):
        KerasSVC.from_sklearn(SVC().fit(cancer_X, cancer_y))
    with pytest.raises(TypeError, match="KerasLinearSVC.from_sklearn"):
        KerasSVC.from_sklearn(LinearSVC().fit(cancer_X, cancer_y))


def test_from_sklearn_refuses_what_cannot_be_exact():
    with pytest.raises(ValueError, match="one-vs-one"):
        KerasLinearSVC.from_sklearn(SVC(kernel="linear").fit(digits_X, digits_y))
    with pytest.raises(ValueError, match="no weight vector"):
        KerasLinearSVC.from_sklearn(SVC().fit(cancer_X, cancer_y))
    with pytest.raises(ValueError, match="crammer_singer"):
        KerasLinearSVC.from_sklearn(LinearSVC(multi_class="crammer_singer").fit(digits_X, digits_y))
    with pytest.raises(TypeError, match="LogisticRegression"):
        from sklearn.linear_model import LogisticRegression

        KerasLinearSVC.from_sklearn(LogisticRegression().fit(cancer_X, cancer_y))

    with pytest.raises(NotFittedError):
        KerasLinearSVC.from_sklearn(LinearSVC())
