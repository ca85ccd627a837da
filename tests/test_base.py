"""Behaviour of the estimators inside scikit-learn, and on bad input."""

import pickle
import subprocess
import sys
import textwrap
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.base import clone, is_classifier
from sklearn.calibration import CalibratedClassifierCV
from sklearn.datasets import load_digits, load_iris
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.kernel_approximation import RBFSampler
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.utils._param_validation import InvalidParameterError

from kernelsvm_keras import KerasLinearSVC, KerasSVC
from kernelsvm_keras._maps import FeatureMap

iris = load_iris()
X_iris, y_iris = iris.data, iris.target
digits_X, digits_y = load_digits(return_X_y=True)
digits_X = digits_X[:600] / 16.0
digits_y = digits_y[:600]

ESTIMATORS = [KerasSVC(n_components=256, random_state=0), KerasLinearSVC()]
ids = ["KerasSVC", "KerasLinearSVC"]


@pytest.mark.parametrize("est", ESTIMATORS, ids=ids)
def test_is_a_classifier_with_fitted_attributes(est):
    est = clone(est).fit(X_iris, y_iris)
    assert is_classifier(est)
    assert est.n_features_in_ == 4
    assert est.coef_.shape[0] == 3 and est.intercept_.shape == (3,)
    assert est.decision_function(X_iris).shape == (150, 3)
    assert est.score(X_iris, y_iris) > 0.9
    binary = clone(est).fit(X_iris[50:], y_iris[50:])
    assert binary.coef_.shape[0] == 1
    assert binary.decision_function(X_iris).shape == (150,)


def test_kernel_svc_fitted_map_equals_rbf_sampler():
    est = KerasSVC(gamma=0.3, n_components=128, approximation="random_fourier", random_state=5).fit(
        X_iris, y_iris
    )
    sampler = RBFSampler(gamma=0.3, n_components=128, random_state=5).fit(X_iris)
    np.testing.assert_allclose(est.random_weights_, sampler.random_weights_, rtol=1e-6)
    np.testing.assert_allclose(est.random_offset_, sampler.random_offset_, rtol=1e-6)
    np.testing.assert_allclose(est._map.features(X_iris), sampler.transform(X_iris), atol=1e-6)


def test_decision_function_numpy_identity():
    est = KerasSVC(n_components=64, approximation="random_fourier", random_state=0).fit(
        X_iris, y_iris
    )
    D = est.n_components
    expected = (
        np.sqrt(2 / D) * np.cos(X_iris @ est.random_weights_ + est.random_offset_)
    ) @ est.coef_.T + est.intercept_
    np.testing.assert_allclose(est.decision_function(X_iris), expected, rtol=1e-12)
    lin = KerasLinearSVC().fit(X_iris, y_iris)
    np.testing.assert_allclose(
        lin.decision_function(X_iris), X_iris @ lin.coef_.T + lin.intercept_, rtol=1e-12
    )


def test_gamma_resolution_like_svc():
    assert KerasSVC(n_components=8).fit(X_iris, y_iris).gamma_ == pytest.approx(
        1 / (4 * X_iris.var())
    )
    assert KerasSVC(n_components=8, gamma="auto").fit(X_iris, y_iris).gamma_ == 0.25
    assert KerasSVC(n_components=8, gamma=2.0).fit(X_iris, y_iris).gamma_ == 2.0
    Xs = sp.csr_matrix(X_iris)
    assert KerasSVC(n_components=8).fit(Xs, y_iris).gamma_ == pytest.approx(1 / (4 * X_iris.var()))


def test_pipeline_and_cross_val_score_next_to_svc():
    pipe = make_pipeline(StandardScaler(), KerasSVC(random_state=0))
    ours = cross_val_score(pipe, digits_X, digits_y, cv=3)
    theirs = cross_val_score(make_pipeline(StandardScaler(), SVC()), digits_X, digits_y, cv=3)
    assert ours.mean() > theirs.mean() - 0.02


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_grid_search_over_svc_parameter_names(n_jobs):
    grid = {"C": [0.1, 10.0], "gamma": ["scale", 0.01], "n_components": [64, 256]}
    search = GridSearchCV(KerasSVC(random_state=0), grid, cv=3, n_jobs=n_jobs)
    search.fit(digits_X, digits_y)
    assert set(search.best_params_) == set(grid)
    params = search.cv_results_["params"]
    assert len(params) == 8 and {p["n_components"] for p in params} == {64, 256}
    assert search.best_estimator_.n_components == search.best_params_["n_components"]
    assert search.best_score_ > 0.9
    # the same grid as SVC's runs unchanged (minus n_components)
    svc_grid = {"C": [1.0], "gamma": ["scale"], "kernel": ["rbf"], "class_weight": [None]}
    GridSearchCV(KerasSVC(n_components=64), svc_grid, cv=2).fit(digits_X, digits_y)


def test_clone_keeps_every_parameter():
    est = KerasSVC(C=3.0, gamma=0.2, n_components=77, loss="hinge", tol=1e-4, random_state=1)
    assert clone(est).get_params() == est.get_params()


@pytest.mark.parametrize("est", ESTIMATORS, ids=ids)
def test_pickle_and_joblib_round_trip_in_a_new_process(est, tmp_path):
    est = clone(est).fit(digits_X, digits_y)
    expected = est.decision_function(digits_X)
    np.save(tmp_path / "X.npy", digits_X)
    with open(tmp_path / "est.pkl", "wb") as f:
        pickle.dump(est, f)
    joblib.dump(est, tmp_path / "est.joblib")
    script = textwrap.dedent(
        f"""
        import pickle, joblib, numpy as np
        X = np.load({str(tmp_path / "X.npy")!r})
        with open({str(tmp_path / "est.pkl")!r}, "rb") as f:
            a = pickle.load(f)
        b = joblib.load({str(tmp_path / "est.joblib")!r})
        np.save({str(tmp_path / "a.npy")!r}, a.decision_function(X))
        np.save({str(tmp_path / "b.npy")!r}, b.decision_function(X))
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True)
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy"), expected)
    np.testing.assert_array_equal(np.load(tmp_path / "b.npy"), expected)


def test_fitted_state_is_numpy_only():
    est = KerasSVC(n_components=32, random_state=0).fit(X_iris, y_iris)
    for name, value in vars(est).items():
        if isinstance(value, FeatureMap):  # a plain object holding NumPy arrays
            for inner, array in vars(value).items():
                assert type(array).__module__.split(".")[0] in {"numpy", "builtins"}, inner
            continue
        assert type(value).__module__.split(".")[0] in {"numpy", "builtins"}, name


def test_calibrated_probabilities():
    clf = CalibratedClassifierCV(KerasSVC(random_state=0), ensemble=False, cv=3)
    clf.fit(digits_X, digits_y)
    proba = clf.predict_proba(digits_X[:20])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert clf.score(digits_X, digits_y) > 0.9


@pytest.mark.parametrize("est", ESTIMATORS, ids=ids)
def test_deterministic_under_random_state(est):
    a = clone(est).fit(digits_X, digits_y).decision_function(digits_X)
    b = clone(est).fit(digits_X, digits_y).decision_function(digits_X)
    np.testing.assert_array_equal(a, b)


def test_random_state_changes_the_features():
    a = KerasSVC(n_components=32, approximation="random_fourier", random_state=0).fit(
        X_iris, y_iris
    )
    b = KerasSVC(n_components=32, approximation="random_fourier", random_state=1).fit(
        X_iris, y_iris
    )
    assert not np.allclose(a.random_weights_, b.random_weights_)


@pytest.mark.parametrize("est", ESTIMATORS, ids=ids)
def test_string_labels(est):
    labels = np.array(["setosa", "versicolor", "virginica"])[y_iris]
    fitted = clone(est).fit(X_iris, labels)
    assert list(fitted.classes_) == ["setosa", "versicolor", "virginica"]
    assert set(fitted.predict(X_iris)) <= set(labels)
    assert fitted.score(X_iris, labels) > 0.9


def test_balanced_class_weight_raises_minority_recall():
    rng = np.random.RandomState(0)
    X = np.r_[rng.normal(0, 1, (300, 2)), rng.normal(1.2, 1, (30, 2))]
    y = np.r_[np.zeros(300), np.ones(30)]
    plain = KerasLinearSVC().fit(X, y).predict(X)
    balanced = KerasLinearSVC(class_weight="balanced").fit(X, y).predict(X)
    assert (balanced[y == 1] == 1).mean() > (plain[y == 1] == 1).mean() + 0.2


@pytest.mark.parametrize("loss", ["hinge", "squared_hinge"])
def test_sample_weight_equals_repetition(loss):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(80, 3))
    y = (X[:, 0] + 0.5 * rng.normal(size=80) > 0).astype(int)
    weights = rng.randint(0, 3, size=80)
    a = KerasLinearSVC(loss=loss, tol=1e-5).fit(X, y, sample_weight=weights)
    b = KerasLinearSVC(loss=loss, tol=1e-5).fit(np.repeat(X, weights, 0), np.repeat(y, weights))
    np.testing.assert_allclose(a.objective_, b.objective_, rtol=1e-4)
    np.testing.assert_allclose(a.decision_function(X), b.decision_function(X), atol=0.02)


def test_dense_sparse_pandas_float32_and_int_inputs_agree():
    # a fixed gamma: "scale" reads X.var(), whose rounding differs between formats
    est = KerasSVC(n_components=64, gamma=0.3, random_state=0)
    ref = clone(est).fit(X_iris, y_iris).decision_function(X_iris)
    for X in (
        sp.csr_matrix(X_iris),
        sp.csc_matrix(X_iris),
        X_iris.astype(np.float32),
        pd.DataFrame(X_iris, columns=iris.feature_names),
    ):
        out = clone(est).fit(X, y_iris).decision_function(X)
        np.testing.assert_allclose(out, ref, atol=1e-5)
    ints = np.rint(X_iris * 10).astype(np.int64)
    scaled = clone(est).set_params(gamma="scale")
    assert scaled.fit(ints, y_iris).score(ints, y_iris) > 0.9


def test_feature_names_in():
    df = pd.DataFrame(X_iris, columns=iris.feature_names)
    est = KerasLinearSVC().fit(df, y_iris)
    assert list(est.feature_names_in_) == iris.feature_names


def test_batch_size_and_cache_change_memory_not_the_optimum():
    # Other batches sum in another float32 order, and streamed features
    # (cache_size=0) get another preconditioner: other paths to the optimum,
    # which each run certifies to tol.
    est = KerasSVC(n_components=64, random_state=0, tol=1e-4)
    a = clone(est).set_params(batch_size=7).fit(X_iris, y_iris)
    b = clone(est).fit(X_iris, y_iris)
    c = clone(est).set_params(cache_size=0, batch_size=50).fit(X_iris, y_iris)
    for other in (a, c):
        np.testing.assert_allclose(other.objective_, b.objective_, rtol=2e-4)
        assert np.mean(other.predict(X_iris) == b.predict(X_iris)) > 0.98


def test_max_iter_reached_warns(newton):
    # max_iter bounds the Newton iterations (a small problem's exact dual is not bounded by it)
    with pytest.warns(ConvergenceWarning, match="max_iter=1"):
        KerasSVC(n_components=64, max_iter=1, C=100, random_state=0).fit(digits_X, digits_y)


# -- bad input ---------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        dict(C=0),
        dict(C=-1.0),
        dict(gamma="fast"),
        dict(gamma=-0.1),
        dict(kernel="cubic"),
        dict(n_components=0),
        dict(loss="log"),
        dict(tol=0),
        dict(max_iter=-2),
        dict(batch_size=0),
        dict(class_weight="heavy"),
        dict(decision_function_shape="ovx"),
        dict(approximation="exact"),
        dict(multi_class="crammer_singer"),
    ],
)
def test_invalid_parameters_raise_at_fit_not_construction(params):
    est = KerasSVC(**params)
    with pytest.raises(InvalidParameterError):
        est.fit(X_iris, y_iris)


@pytest.mark.parametrize("est", ESTIMATORS, ids=ids)
@pytest.mark.parametrize(
    "X, y, match",
    [
        (np.array([[1.0, np.nan], [0.0, 1.0]]), [0, 1], "NaN"),
        (np.array([[1.0, np.inf], [0.0, 1.0]]), [0, 1], "infinity"),
        (np.empty((0, 3)), [], "0 sample"),
        (np.ones((4, 2)), [1, 1, 1, 1], "greater than one; got 1 class"),
        (np.array([[1 + 1j, 0], [0, 1]]), [0, 1], "[Cc]omplex"),
        (np.array([["a", "b"], ["c", "d"]], dtype=object), [0, 1], "could not convert"),
        (np.ones((4, 2)), [0.5, 1.5, 2.5, 3.1], "Unknown label type"),
    ],
)
def test_bad_data_raises_value_error_saying_what(est, X, y, match):
    with pytest.raises(ValueError, match=match):
        clone(est).fit(X, y)


def test_gamma_overflowing_float32_is_an_error():
    X = np.r_[np.zeros((4, 1)), np.full((4, 1), 1e-90)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the error alone, no RuntimeWarning of the cast first
        with pytest.raises(ValueError, match="overflow float32.*rescale X"):
            KerasSVC(n_components=8, approximation="random_fourier").fit(X, [0, 1] * 4)


@pytest.mark.parametrize("est", ESTIMATORS, ids=ids)
def test_values_beyond_float32_are_an_error(est):
    X = np.array([[1e300, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 0.5]])
    # the kernel map overflows; the linear SVM's scaled problem is out of range
    with pytest.raises(ValueError, match="float32.*rescale X"):
        clone(est).set_params(**({"gamma": 1.0} if "gamma" in est.get_params() else {})).fit(
            X, [0, 1, 0, 1]
        )


@pytest.mark.parametrize("est", ESTIMATORS, ids=ids)
def test_wrong_number_of_features_at_predict(est):
    est = clone(est).fit(X_iris, y_iris)
    with pytest.raises(ValueError, match="X has 3 features, but .* is expecting 4"):
        est.predict(X_iris[:, :3])


def test_one_class_with_positive_weight_is_rejected():
    with pytest.raises(ValueError, match=r"only one class with positive weight: \[0\]"):
        weights = np.r_[np.ones(50), np.zeros(50)]
        KerasLinearSVC().fit(X_iris[:100], y_iris[:100], sample_weight=weights)


@pytest.mark.parametrize("est", ESTIMATORS, ids=ids)
@pytest.mark.parametrize(
    "weights, message",
    [
        # SVC's own messages (scikit-learn's test_svm.py matches on them)
        (np.zeros(100), "Invalid input - all samples have zero or negative weights"),
        (np.full(100, -0.3), "Invalid input - all samples have zero or negative weights"),
        (np.r_[np.zeros(50), np.ones(50)], "all samples with positive weights belong to the same"),
    ],
)
def test_weights_that_leave_no_problem_give_svc_s_message(est, weights, message):
    with pytest.raises(ValueError, match=message):
        clone(est).fit(X_iris[:100], y_iris[:100], sample_weight=weights)


def test_unfitted_raises():
    with pytest.raises(NotFittedError):
        KerasSVC().predict(X_iris)


@pytest.mark.parametrize("est", ESTIMATORS, ids=ids)
def test_failed_fit_leaves_a_fitted_estimator_as_it_was(est):
    est = clone(est).fit(X_iris, y_iris)
    before = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in vars(est).items()}
    with pytest.raises(ValueError):
        est.fit(np.c_[X_iris, X_iris][:10] * np.nan, y_iris[:10])
    with pytest.raises(ValueError):
        est.fit(X_iris[:, :2], np.zeros(150))  # valid X (new width), one class
    assert vars(est).keys() == before.keys()
    for key, value in before.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(getattr(est, key), value)
        else:
            assert getattr(est, key) == value
    assert est.n_features_in_ == 4
    est.predict(X_iris)


def test_interrupted_fit_leaves_the_estimator_as_it_was(monkeypatch):
    from kernelsvm_keras import _base

    est = KerasLinearSVC().fit(X_iris, y_iris)
    coef = est.coef_.copy()

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(_base, "solve_svm", interrupted)
    monkeypatch.setattr(_base, "solve_dual", interrupted)
    with pytest.raises(KeyboardInterrupt):
        est.fit(X_iris[:, :2], y_iris)
    assert est.n_features_in_ == 4
    np.testing.assert_array_equal(est.coef_, coef)


def test_small_cheap_features_are_computed_on_the_host():
    # float64 NumPy features for a fit the exact dual may take, where they cost
    # little: no Keras operation; wide rows' (a costly kernel) on the device, in
    # float32, faster there (2,000 sparse rows of 200,000 columns: 29 s against 36 s)
    from types import SimpleNamespace

    from kernelsvm_keras import _base
    from kernelsvm_keras._maps import IdentityMap

    est = KerasSVC()
    narrow, wide = np.zeros((400, 64)), np.zeros((400, 50_000))
    landmarks = SimpleNamespace(width=128)
    assert est._host_features(narrow, landmarks)
    assert not est._host_features(wide, landmarks)  # 400 x 128 x 50,128 > 2^30
    assert not est._host_features(np.zeros((6000, 64)), landmarks)  # not the dual's
    assert not est._host_features(narrow, IdentityMap().fit(narrow))  # the rows themselves
    assert 400 * 128 * (64 + 128) <= _base._HOST_FEATURE_WORK < 400 * 128 * (50_000 + 128)
