"""Property tests (hypothesis): small data, few examples."""

import os
import pickle
import warnings

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.exceptions import ConvergenceWarning

from kernelsvm_keras import KerasLinearSVC, KerasSVC

SETTINGS = settings(
    max_examples=int(os.environ.get("KERNELSVM_HYPOTHESIS_EXAMPLES", 15)),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@st.composite
def classification_data(draw):
    n_samples = draw(st.integers(8, 40))
    n_features = draw(st.integers(1, 5))
    n_classes = draw(st.integers(2, 4))
    X = draw(
        arrays(
            np.float64,
            (n_samples, n_features),
            # values on a 0.1 grid: magnitudes float32 trains on (tiny ones are
            # rejected with a clear error, see test_base.py)
            elements=st.integers(-100, 100).map(lambda v: v / 10),
        )
    )
    y = draw(arrays(np.int64, n_samples, elements=st.integers(0, n_classes - 1)))
    # every class present at least once
    y[:n_classes] = np.arange(n_classes)
    return X, y


def make(kind, seed):
    if kind == "svc":
        return KerasSVC(n_components=32, random_state=seed)
    return KerasLinearSVC()


@SETTINGS
@given(data=classification_data(), kind=st.sampled_from(["svc", "linear"]))
def test_predictions_within_classes_and_shapes(data, kind):
    X, y = data
    est = make(kind, 0).fit(X, y)
    pred = est.predict(X)
    assert pred.shape == (len(X),)
    assert set(pred) <= set(est.classes_)
    scores = est.decision_function(X)
    n_classes = len(np.unique(y))
    assert scores.shape == ((len(X),) if n_classes == 2 else (len(X), n_classes))
    assert np.all(np.isfinite(scores))


@SETTINGS
@given(data=classification_data(), seed=st.integers(0, 2**31 - 1))
def test_deterministic_given_random_state(data, seed):
    X, y = data
    a = make("svc", seed).fit(X, y).decision_function(X)
    b = make("svc", seed).fit(X, y).decision_function(X)
    np.testing.assert_array_equal(a, b)


@SETTINGS
@given(data=classification_data(), kind=st.sampled_from(["svc", "linear"]))
def test_pickle_round_trip(data, kind):
    X, y = data
    est = make(kind, 0).fit(X, y)
    clone = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(clone.decision_function(X), est.decision_function(X))


@SETTINGS
@given(data=classification_data(), kind=st.sampled_from(["svc", "linear"]))
def test_relabelling_classes_relabels_predictions(data, kind):
    X, y = data
    # an order-preserving relabelling keeps the one-vs-rest problems identical
    a = make(kind, 0).fit(X, y).predict(X)
    b = make(kind, 0).fit(X, y + 100).predict(X)
    np.testing.assert_array_equal(a + 100, b)
    c = make(kind, 0).fit(X, np.array([f"c{k}" for k in y])).predict(X)
    np.testing.assert_array_equal(np.array([f"c{k}" for k in a]), c)


@SETTINGS
@given(data=classification_data())
def test_objective_is_certified(data):
    X, y = data
    est = KerasLinearSVC(tol=1e-3).fit(X, y)
    assert np.all(est.dual_gap_ <= 1e-3)
    assert np.all(est.objective_ > 0)


@SETTINGS
@given(
    data=classification_data(),
    loss=st.sampled_from(["hinge", "squared_hinge"]),
    n_components=st.integers(4, 48),
    C=st.sampled_from([0.1, 1.0, 10.0]),
    ordered=st.booleans(),
)
def test_the_certificate_is_the_returned_model_s(data, loss, n_components, C, ordered):
    # whatever route solved it (the kernel itself first, working sets, the dual
    # on the features, Newton), objective_ is the primal of the model fit
    # returns, at its own predictions on the training rows, and a fit that does
    # not warn is certified within tol. ``ordered``: classes by the first
    # feature's rank, so that the support vectors are few and the kernel
    # itself first (whose landmarks are they) takes the hinge's fits
    X, y = data
    if ordered:
        y = np.sort(y)[np.argsort(np.argsort(X[:, 0], kind="stable"))]
    est = KerasSVC(loss=loss, C=C, n_components=n_components, multi_class="ovr", random_state=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        est.fit(X, y)
    scores = est.decision_function(X).reshape(len(X), -1)
    signs = np.where(y[:, None] == est.classes_[None, : scores.shape[1]], 1.0, -1.0)
    if scores.shape[1] == 1:  # binary: the second class is the positive one
        signs = np.where(y[:, None] == est.classes_[1], 1.0, -1.0)
    losses = np.maximum(0.0, 1.0 - signs * scores)
    losses = losses if loss == "hinge" else np.square(losses)
    primal = 0.5 * np.sum(np.square(est.coef_), axis=1) + C * np.sum(losses, axis=0)
    np.testing.assert_allclose(est.objective_, primal, rtol=1e-6, atol=1e-9)
    if not [w for w in caught if issubclass(w.category, ConvergenceWarning)]:
        assert np.all(est.dual_gap_ <= est.tol)
