"""ONNX export through skl2onnx: the graph computes what the estimator computes."""

import numpy as np
import pytest
from sklearn.datasets import load_iris, make_classification, make_regression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import kernelsvm_keras as ks

skl2onnx = pytest.importorskip("skl2onnx")
rt = pytest.importorskip("onnxruntime")
pytest.importorskip("kernelsvm_keras.onnx")

IRIS_X, IRIS_Y = load_iris(return_X_y=True)


def _run(onx, X):
    session = rt.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: X})


def _no_zipmap(model):
    return {id(model): {"zipmap": False}}


def _close(actual, expected, rtol=1e-5):
    """Agreement in float32, relative to the scores' own scale."""
    scale = max(1.0, float(np.max(np.abs(expected))))
    np.testing.assert_allclose(actual, expected, rtol=0, atol=rtol * scale)


@pytest.mark.parametrize(
    "params",
    [
        {"kernel": "linear"},
        {"kernel": "rbf"},
        {"kernel": "poly", "degree": 2, "coef0": 1.0},
        {"kernel": "sigmoid", "gamma": 0.05},
        {"kernel": "laplacian"},
        {"kernel": "rbf", "approximation": "random_fourier"},
        {"kernel": "rbf", "decision_function_shape": "ovo"},
        {"kernel": "rbf", "multi_class": "ovo", "decision_function_shape": "ovo"},
        {"kernel": "rbf", "multi_class": "ovo", "break_ties": True},
        {"kernel": "rbf", "multi_class": "ovr", "decision_function_shape": "ovo"},
    ],
)
def test_svc_pipeline_matches(params):
    pipe = make_pipeline(StandardScaler(), ks.KerasSVC(n_components=40, random_state=0, **params))
    pipe.fit(IRIS_X, IRIS_Y)
    X = IRIS_X.astype(np.float32)
    label, scores = _run(skl2onnx.to_onnx(pipe, X[:1], options=_no_zipmap(pipe[-1])), X)
    np.testing.assert_array_equal(label, pipe.predict(IRIS_X))
    _close(scores, pipe.decision_function(IRIS_X))


@pytest.mark.filterwarnings("ignore:The `probability` parameter:FutureWarning")
def test_probability_and_zipmap():
    model = ks.KerasSVC(n_components=40, probability=True, random_state=0).fit(IRIS_X, IRIS_Y)
    X = IRIS_X.astype(np.float32)
    label, probabilities = _run(skl2onnx.to_onnx(model, X[:1], options=_no_zipmap(model)), X)
    np.testing.assert_array_equal(label, model.predict(IRIS_X))
    _close(probabilities, model.predict_proba(IRIS_X))
    # skl2onnx's default: a dictionary {class: probability} per row
    label, dictionaries = _run(skl2onnx.to_onnx(model, X[:1]), X)
    assert sorted(dictionaries[0]) == [0, 1, 2]
    _close(np.array([[d[c] for c in range(3)] for d in dictionaries]), model.predict_proba(IRIS_X))


def test_binary_string_labels_and_float64():
    X, y = make_classification(120, 5, random_state=0)
    labels = np.array(["no", "yes"])[y]
    model = ks.KerasLinearSVC(random_state=0).fit(X, labels)
    label, scores = _run(skl2onnx.to_onnx(model, X[:1], options=_no_zipmap(model)), X)
    assert label.dtype == object
    np.testing.assert_array_equal(label, model.predict(X))
    decision = model.decision_function(X)
    np.testing.assert_allclose(scores, np.column_stack([-decision, decision]), atol=1e-10)


def test_ovo_shape_needs_zipmap_off():
    model = ks.KerasSVC(n_components=20, decision_function_shape="ovo", random_state=0)
    model.fit(IRIS_X, IRIS_Y)
    with pytest.raises(ValueError, match="zipmap"):
        skl2onnx.to_onnx(model, IRIS_X[:1].astype(np.float32))


@pytest.mark.parametrize(
    "model",
    [
        ks.KerasSVR(n_components=40, C=10.0, random_state=0),
        ks.KerasLinearSVR(C=10.0, random_state=0),
        ks.KerasSVR(kernel="poly", degree=2, n_components=40, random_state=0),
    ],
    ids=["svr", "linear-svr", "svr-poly"],
)
def test_regressors_match(model):
    X, y = make_regression(150, 4, noise=5.0, random_state=0)
    pipe = make_pipeline(StandardScaler(), model).fit(X, y / 50)
    X32 = X.astype(np.float32)
    (prediction,) = _run(skl2onnx.to_onnx(pipe, X32[:1]), X32)
    assert prediction.shape == (150, 1)
    _close(prediction[:, 0], pipe.predict(X))


def test_a_sparsified_linear_svc_exports_its_model():
    model = ks.KerasLinearSVC().fit(IRIS_X, IRIS_Y).sparsify()
    X = IRIS_X.astype(np.float32)
    label, scores = _run(skl2onnx.to_onnx(model, X[:1], options=_no_zipmap(model)), X)
    np.testing.assert_array_equal(label, model.predict(IRIS_X))
    _close(scores, model.decision_function(IRIS_X))


def test_one_class_matches():
    X = np.random.RandomState(0).normal(size=(200, 3))
    model = ks.KerasOneClassSVM(nu=0.2, n_components=40, random_state=0).fit(X)
    X32 = X.astype(np.float32)
    label, scores = _run(skl2onnx.to_onnx(model, X32[:1]), X32)
    assert label.shape == (200,) and scores.shape == (200,)
    decision = model.decision_function(X)
    _close(scores, decision)
    clear = np.abs(decision) > 1e-4  # a point on the boundary may round either way
    np.testing.assert_array_equal(label[clear], model.predict(X)[clear])


@pytest.mark.parametrize("kernel", ["rbf", "poly", "sigmoid"])
def test_a_gamma_beyond_float32_is_folded_into_the_rows(kernel):
    # rows of magnitude 1e-30: gamma="scale" is about 1e59, beyond float32, and
    # the float32 graph gave NaN; gamma is folded into rows and landmarks
    X, y = make_classification(80, 5, random_state=0)
    X = X * 1e-30
    model = ks.KerasSVC(kernel=kernel, n_components=16, random_state=0).fit(X, y)
    assert model.gamma_ > 1e50
    X32 = X.astype(np.float32)
    label, scores = _run(skl2onnx.to_onnx(model, X32[:1], options=_no_zipmap(model)), X32)
    decision = model.decision_function(X)
    _close(scores[:, 1], decision)  # (two columns for two classes: -d and d)
    clear = np.abs(decision) > 1e-4
    np.testing.assert_array_equal(label[clear], model.predict(X)[clear])


def test_search_exports_its_refit_model():
    X, y = make_classification(150, 4, random_state=0)
    search = ks.KerasLinearSVCCV(Cs=[0.1, 1.0], cv=2, random_state=0).fit(X, y)
    label, _ = _run(skl2onnx.to_onnx(search, X[:1], options=_no_zipmap(search)), X)
    np.testing.assert_array_equal(label, search.predict(X))
    unfit = ks.KerasLinearSVCCV(Cs=[0.1, 1.0], cv=2, refit=False, random_state=0).fit(X, y)
    with pytest.raises(Exception, match="refit"):
        skl2onnx.to_onnx(unfit, X[:1])


def test_precomputed_kernel_matches():
    X, y = make_classification(100, 4, random_state=0)
    gram = X @ X.T
    model = ks.KerasSVC(kernel="precomputed", n_components=30, random_state=0).fit(gram, y)
    label, scores = _run(skl2onnx.to_onnx(model, gram[:1], options=_no_zipmap(model)), gram)
    np.testing.assert_array_equal(label, model.predict(gram))
    np.testing.assert_allclose(scores[:, 1], model.decision_function(gram), atol=1e-8)


def test_callable_kernel_is_refused():
    model = ks.KerasSVC(kernel=lambda A, B: A @ B.T, n_components=20, random_state=0)
    model.fit(IRIS_X, IRIS_Y)
    with pytest.raises(ValueError, match="callable kernel"):
        skl2onnx.to_onnx(model, IRIS_X[:1].astype(np.float32))


def test_unfitted_model_is_refused():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        skl2onnx.to_onnx(ks.KerasSVC(), IRIS_X[:1].astype(np.float32))
    with pytest.raises(NotFittedError):
        skl2onnx.to_onnx(ks.KerasSVR(), IRIS_X[:1].astype(np.float32))
