"""partial_fit: out-of-core training by averaged SGD, chunk by chunk."""

import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from kernelsvm_keras import (
    KerasLinearSVC,
    KerasLinearSVR,
    KerasOneClassSVM,
    KerasSVC,
    KerasSVR,
)

digits_X, digits_y = load_digits(return_X_y=True)
Xd_train, Xd_test, yd_train, yd_test = train_test_split(
    digits_X / 16.0, digits_y, test_size=0.3, random_state=0, stratify=digits_y
)
cancer_X, cancer_y = load_breast_cancer(return_X_y=True)
Xc_train, Xc_test, yc_train, yc_test = train_test_split(
    StandardScaler().fit_transform(cancer_X), cancer_y, test_size=0.3, random_state=0
)


def stream(est, X, y, n_chunks, n_passes):
    classes = np.unique(y)
    order = np.random.RandomState(0).permutation(len(y))
    for _ in range(n_passes):
        for chunk in np.array_split(order, n_chunks):
            est.partial_fit(X[chunk], y[chunk], classes=classes)
    return est


@pytest.mark.parametrize(
    "est, data, slack",
    [
        (
            KerasSVC(C=10, n_components=1024, random_state=0),
            (Xd_train, Xd_test, yd_train, yd_test),
            0.01,
        ),
        (
            KerasSVC(C=10, n_components=512, loss="hinge", random_state=0),
            (Xd_train, Xd_test, yd_train, yd_test),
            0.01,
        ),
        # 171 test rows, 398 training rows (7 steps per pass): 3 rows of slack
        (KerasLinearSVC(C=0.1), (Xc_train, Xc_test, yc_train, yc_test), 0.02),
    ],
    ids=["rbf-squared_hinge", "rbf-hinge", "linear-binary"],
)
def test_a_few_passes_reach_the_accuracy_of_fit(est, data, slack):
    X_train, X_test, y_train, y_test = data
    fitted = clone(est).fit(X_train, y_train).score(X_test, y_test)
    streamed = stream(clone(est), X_train, y_train, n_chunks=10, n_passes=5)
    assert streamed.score(X_test, y_test) >= fitted - slack
    assert streamed.n_samples_seen_ == 5 * len(y_train)
    assert np.all(np.isnan(streamed.dual_gap_)) and np.all(np.isnan(streamed.objective_))


def test_feature_map_is_fixed_by_the_first_call():
    est = KerasSVC(n_components=64, approximation="random_fourier", random_state=0)
    est.partial_fit(Xd_train[:100], yd_train[:100], classes=np.arange(10))
    weights, gamma = est.random_weights_.copy(), est.gamma_
    # gamma="scale" was resolved on the first chunk
    assert gamma == pytest.approx(1.0 / (64 * Xd_train[:100].var()))
    est.partial_fit(Xd_train[100:] * 3.0, yd_train[100:])
    np.testing.assert_array_equal(est.random_weights_, weights)
    assert est.gamma_ == gamma


def test_continues_from_fit_and_fit_starts_afresh():
    est = KerasSVC(C=10, n_components=512, random_state=0).fit(Xd_train, yd_train)
    score = est.score(Xd_test, yd_test)
    coef = est.coef_.copy()
    est.partial_fit(Xd_train[:200], yd_train[:200])
    # one small chunk moves fit's solution a little, not back to zero
    assert np.linalg.norm(est.coef_ - coef) < 0.2 * np.linalg.norm(coef)
    assert est.score(Xd_test, yd_test) >= score - 0.02
    assert est.n_samples_seen_ == len(yd_train) + 200
    refit = est.fit(Xd_train, yd_train)
    np.testing.assert_allclose(refit.coef_, coef, rtol=1e-6, atol=1e-8)


def test_state_survives_pickling():
    a = KerasSVC(n_components=128, random_state=0)
    classes = np.arange(10)
    a.partial_fit(Xd_train[:600], yd_train[:600], classes=classes)
    b = pickle.loads(pickle.dumps(a))
    for est in (a, b):
        est.partial_fit(Xd_train[600:], yd_train[600:])
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-6, atol=1e-7)


def test_sample_and_class_weights():
    # a class weighted 0 is never predicted by... its own column: its samples
    # carry no loss, so the column's weights stay at the regularised zero
    cw = {c: (0.0 if c == 3 else 1.0) for c in range(10)}
    est = KerasSVC(n_components=128, class_weight=cw, random_state=0)
    stream(est, Xd_train, yd_train, n_chunks=4, n_passes=2)
    weighted = KerasSVC(n_components=128, random_state=0)
    for _ in range(2):
        for chunk in np.array_split(np.random.RandomState(0).permutation(len(yd_train)), 4):
            weighted.partial_fit(
                Xd_train[chunk],
                yd_train[chunk],
                classes=np.arange(10),
                sample_weight=(yd_train[chunk] != 3).astype(float),
            )
    np.testing.assert_allclose(est.coef_, weighted.coef_, rtol=1e-5, atol=1e-6)
    assert np.mean(est.predict(Xd_test[yd_test == 3]) == 3) < 0.5


def test_errors_leave_the_estimator_unchanged():
    est = KerasSVC(n_components=64, random_state=0)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        est.partial_fit(Xd_train, yd_train)
    assert not hasattr(est, "classes_")
    with pytest.raises(ValueError, match="at least 2 labels"):
        est.partial_fit(Xd_train[yd_train == 1], yd_train[yd_train == 1], classes=[1])
    est.partial_fit(Xd_train, yd_train, classes=np.arange(10))
    before = pickle.dumps(est)
    with pytest.raises(ValueError, match=r"labels not in classes=.*\[10\]"):
        est.partial_fit(Xd_train[:5], np.array([0, 1, 2, 3, 10]))
    with pytest.raises(ValueError, match="classes"):
        est.partial_fit(Xd_train[:5], yd_train[:5], classes=np.arange(5))
    with pytest.raises(ValueError, match="features"):
        est.partial_fit(Xd_train[:5, :10], yd_train[:5])
    assert pickle.dumps(est) == before
    with pytest.raises(ValueError, match="balanced"):
        KerasSVC(class_weight="balanced").partial_fit(Xd_train, yd_train, classes=np.arange(10))
    with pytest.raises(ValueError, match="C"):
        KerasLinearSVC(C=-1).partial_fit(Xc_train, yc_train, classes=[0, 1])


@pytest.mark.parametrize(
    "make",
    [lambda: KerasLinearSVC(C=1e10), lambda: KerasOneClassSVM(kernel="linear")],
    ids=["KerasLinearSVC", "KerasOneClassSVM"],
)
def test_a_chunk_beyond_float32_is_refused_and_changes_nothing(make):
    # SGD on rows of magnitude 1e30 (or at C=1e10) overflowed float32 and
    # published a NaN model; the pass is now refused, saying why, and the
    # estimator keeps the model of the chunks before
    est = make()
    extra = {"classes": [0, 1]} if isinstance(est, KerasLinearSVC) else {}
    args = (yc_train[:100],) if extra else ()
    est.partial_fit(Xc_train[:100], *args, **extra)
    before = pickle.dumps(est)
    with pytest.raises(ValueError, match="not finite in float32"):
        est.partial_fit(Xc_train[:100] * 1e30, *args)
    assert pickle.dumps(est) == before
    assert np.all(np.isfinite(est.coef_))


@pytest.mark.parametrize(
    "make",
    [
        lambda: KerasSVC(n_components=32, random_state=0),
        lambda: KerasLinearSVC(random_state=0),
        lambda: KerasSVR(n_components=32, random_state=0),
        lambda: KerasLinearSVR(random_state=0),
        lambda: KerasOneClassSVM(n_components=32, random_state=0),
    ],
    ids=["KerasSVC", "KerasLinearSVC", "KerasSVR", "KerasLinearSVR", "KerasOneClassSVM"],
)
def test_sparse_chunks_give_the_dense_chunks_model(make):
    # every estimator's partial_fit takes CSR chunks (KerasOneClassSVM's took
    # len() of them: TypeError) and learns what the same dense chunks teach
    X, y = Xc_train[:120, :6], yc_train[:120]
    target = {"KerasSVR": X[:, 0], "KerasLinearSVR": X[:, 0], "KerasOneClassSVM": None}
    dense, sparse = make(), make()
    t = target.get(type(dense).__name__, y)
    for chunk in np.array_split(np.arange(len(X)), 3):
        extra = {"classes": [0, 1]} if t is y else {}
        args = () if t is None else (t[chunk],)
        dense.partial_fit(X[chunk], *args, **extra)
        sparse.partial_fit(sp.csr_matrix(X[chunk]), *args, **extra)
    np.testing.assert_allclose(sparse.coef_, dense.coef_, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(sparse.intercept_, dense.intercept_, rtol=1e-5, atol=1e-7)
