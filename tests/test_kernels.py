"""Every kernel of SVC (and the Laplacian), each map against scikit-learn's own."""

import warnings
from unittest import mock

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_iris, make_classification
from sklearn.exceptions import ConvergenceWarning, FitFailedWarning, NotFittedError
from sklearn.kernel_approximation import Nystroem
from sklearn.metrics.pairwise import pairwise_kernels
from sklearn.model_selection import GridSearchCV
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, LinearSVC

from kernelsvm_keras import KerasLinearSVC, KerasSVC, KerasSVCCV, _maps
from kernelsvm_keras.layers import kernel_matrix, kernel_matrix_numpy, nystroem_normalization

from routes import route

KERNELS = ["linear", "poly", "rbf", "sigmoid", "laplacian"]
# coefficients at which every kernel is well away from degenerate
COEFFICIENTS = {"gamma": 0.2, "degree": 3, "coef0": 0.5}


def _params(kernel):
    """The keyword arguments pairwise_kernels takes for ``kernel``."""
    return {
        "linear": {},
        "poly": COEFFICIENTS,
        "rbf": {"gamma": 0.2},
        "sigmoid": {"gamma": 0.2, "coef0": 0.5},
        "laplacian": {"gamma": 0.2},
    }[kernel]


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(150, 6, n_informative=4, n_redundant=0, n_classes=3, random_state=0)
    return StandardScaler().fit_transform(X), y


@pytest.mark.parametrize("kernel", KERNELS)
def test_kernel_functions_equal_sklearn_pairwise(kernel, data):
    X = data[0]
    expected = pairwise_kernels(X, X[:20], metric=kernel, **_params(kernel))
    coefficients = {**COEFFICIENTS, **_params(kernel)}
    np.testing.assert_allclose(
        kernel_matrix_numpy(X, X[:20], kernel, **coefficients), expected, atol=1e-12, rtol=1e-12
    )
    on_device = kernel_matrix(
        X.astype(np.float32), X[:20].astype(np.float32), kernel, **coefficients
    )
    np.testing.assert_allclose(np.asarray(on_device), expected, atol=2e-5, rtol=2e-5)
    # the rows with themselves (the RBF kernel's own route: one Gram matrix, in place)
    expected = pairwise_kernels(X, X, metric=kernel, **_params(kernel))
    np.testing.assert_allclose(
        kernel_matrix_numpy(X, X, kernel, **coefficients), expected, atol=1e-12, rtol=1e-12
    )


@pytest.mark.parametrize("kernel", ["poly", "rbf", "sigmoid", "laplacian", "linear"])
def test_landmark_features_equal_nystroem(kernel, data):
    # the same landmarks as Nystroem for the same random_state, and the same
    # approximate kernel phi(x) . phi(y) (Nystroem's map up to a rotation),
    # up to the eigenvalue cut-off (1e-4 of the median diagonal entry)
    X, y = data
    clf = KerasSVC(
        kernel=kernel, approximation="nystroem", n_components=40, random_state=3, **COEFFICIENTS
    ).fit(X, y)
    reference = Nystroem(kernel=kernel, n_components=40, random_state=3, **_params(kernel)).fit(X)
    np.testing.assert_array_equal(clf.component_indices_, reference.component_indices_)
    ours = clf._map.features(X)
    theirs = reference.transform(X)
    scale = np.abs(pairwise_kernels(X, metric=kernel, **_params(kernel))).max()
    np.testing.assert_allclose(ours @ ours.T, theirs @ theirs.T, atol=2e-3 * scale)


@pytest.mark.parametrize("kernel", KERNELS)
def test_decision_function_identity_and_keras_model(kernel, data):
    X, y = data
    # (one-vs-rest for every kernel: "auto" is one-vs-one for the linear one)
    clf = KerasSVC(
        kernel=kernel, n_components=60, multi_class="ovr", random_state=0, **COEFFICIENTS
    ).fit(X, y)
    scores = clf.decision_function(X)
    if kernel == "linear":  # the exact linear SVM on X
        assert clf.coef_.shape == (3, X.shape[1])
        np.testing.assert_allclose(scores, X @ clf.coef_.T + clf.intercept_, rtol=1e-12)
    else:
        kernel_values = pairwise_kernels(X, clf.components_, metric=kernel, **_params(kernel))
        expected = kernel_values @ clf.normalization_ @ clf.coef_.T + clf.intercept_
        np.testing.assert_allclose(scores, expected, rtol=1e-9, atol=1e-9)
        # the kernel block a few rows at a time: the same scores
        with mock.patch.object(_maps, "HOST_CHUNK_ELEMENTS", 7 * 60):
            np.testing.assert_allclose(clf.decision_function(X), scores, rtol=1e-12, atol=1e-12)
    keras_scores = clf.to_keras().predict(X, verbose=0)
    np.testing.assert_allclose(keras_scores, scores, rtol=1e-4, atol=1e-4 * np.abs(scores).max())


def test_random_fourier_serves_rbf_and_laplacian_only(data):
    X, y = data
    KerasSVC(kernel="laplacian", approximation="random_fourier", n_components=32).fit(X, y)
    with pytest.raises(ValueError, match="approximation='nystroem'"):
        KerasSVC(kernel="poly", approximation="random_fourier").fit(X, y)
    with pytest.raises(ValueError, match="approximation='nystroem' or 'auto'"):
        KerasSVC(kernel="precomputed", approximation="random_fourier").fit(X @ X.T, y)


def test_precomputed_kernel_is_the_named_kernel_on_the_same_landmarks(data):
    X, y = data
    X_train, y_train, X_test = X[:100], y[:100], X[100:]
    named = KerasSVC(
        kernel="linear",
        approximation="nystroem",
        n_components=30,
        multi_class="ovr",  # as "auto" is for a precomputed kernel
        random_state=0,
    )
    named.fit(X_train, y_train)
    pre = KerasSVC(kernel="precomputed", n_components=30, random_state=0)
    pre.fit(X_train @ X_train.T, y_train)
    np.testing.assert_array_equal(pre.component_indices_, named.component_indices_)
    assert pre.n_features_in_ == 100
    np.testing.assert_allclose(
        pre.decision_function(X_test @ X_train.T),
        named.decision_function(X_test),
        rtol=1e-3,
        atol=1e-3,
    )
    K_test = X_test @ X_train.T
    np.testing.assert_allclose(
        pre.to_keras().predict(K_test, verbose=0),
        pre.decision_function(K_test),
        rtol=1e-4,
        atol=1e-4,
    )
    # sparse kernel rows, as SVC takes them
    np.testing.assert_allclose(
        pre.decision_function(sp.csr_matrix(K_test)), pre.decision_function(K_test)
    )
    with pytest.raises(ValueError, match="square"):
        KerasSVC(kernel="precomputed").fit(X_train[:, :50] @ X_train[:50].T, y_train)
    with pytest.raises(ValueError, match="features"):
        pre.predict(X_test @ X_train[:50].T)


def test_callable_kernel_equals_the_named_one(data):
    X, y = data
    calls = []

    def rbf(A, B):
        calls.append((len(A), len(B)))
        return pairwise_kernels(A, B, metric="rbf", gamma=0.2)

    named = KerasSVC(kernel="rbf", gamma=0.2, n_components=40, random_state=0).fit(X, y)
    given = KerasSVC(kernel=rbf, gamma=0.2, n_components=40, random_state=0, batch_size=32)
    given.fit(X, y)
    np.testing.assert_array_equal(given.component_indices_, named.component_indices_)
    np.testing.assert_allclose(
        given.decision_function(X), named.decision_function(X), rtol=1e-3, atol=1e-3
    )
    assert max(b for a, b in calls) <= 40  # rows against the landmarks, never all pairs
    with pytest.raises(ValueError, match="callable kernel"):
        given.to_keras()

    def wrong(A, B):
        return np.zeros((len(A), 3))

    with pytest.raises(ValueError, match="must return"):
        KerasSVC(kernel=wrong, n_components=10).fit(X, y)


def test_tutorial_grid_runs_every_fit(data):
    X, y = data
    grid = GridSearchCV(
        KerasSVC(n_components=64, random_state=0),
        {"kernel": ["linear", "rbf", "poly"], "C": [1, 10]},
        cv=3,
        error_score="raise",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", FitFailedWarning)
        grid.fit(X, y)
    assert np.all(np.isfinite(grid.cv_results_["mean_test_score"]))
    assert grid.best_score_ > 0.7


def test_every_svc_and_linearsvc_parameter_is_accepted(data):
    X, y = data
    assert set(SVC().get_params()) <= set(KerasSVC().get_params())
    assert set(LinearSVC().get_params()) <= set(KerasLinearSVC().get_params())
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)  # the defaults warn nothing
        KerasSVC(**SVC().get_params()).fit(X, y)
        KerasLinearSVC(**LinearSVC().get_params()).fit(X, y)
    clf = KerasSVC(max_iter=-1, shrinking=False, break_ties=True, n_components=32).fit(X, y)
    assert clf.n_iter_.dtype == np.int32 and clf.n_iter_.shape == (3,)  # SVC's: per problem
    assert clf.n_iter_.min() >= 1
    clf = KerasLinearSVC(dual=True, intercept_scaling=10.0, max_iter=-1).fit(X, y)
    assert clf.n_iter_ >= 1


def test_parameters_not_offered_are_refused_with_the_reason(data):
    X, y = data
    with pytest.raises(ValueError, match="penalty='l1'"):
        KerasLinearSVC(penalty="l1", dual=False).fit(X, y)
    with pytest.raises(ValueError, match="crammer_singer"):
        KerasLinearSVC(multi_class="crammer_singer").fit(X, y)
    # SVC's fit takes the pair and its predict refuses it, before reading X
    clf = KerasSVC(break_ties=True, decision_function_shape="ovo", n_components=40).fit(X, y)
    assert clf.decision_function(X).shape == (len(X), 3)
    with pytest.raises(ValueError, match="break_ties must be False"):
        clf.predict(y)


def test_decision_function_shape_ovo_follows_svc_pair_order(data):
    X, y = data
    clf = KerasSVC(decision_function_shape="ovo", n_components=40, random_state=0).fit(X, y)
    ovo = clf.decision_function(X)
    assert ovo.shape == SVC(decision_function_shape="ovo").fit(X, y).decision_function(X).shape
    ovr = clf.set_params(decision_function_shape="ovr").decision_function(X)
    np.testing.assert_allclose(
        ovo, np.column_stack([ovr[:, 0] - ovr[:, 1], ovr[:, 0] - ovr[:, 2], ovr[:, 1] - ovr[:, 2]])
    )


def _fit_told_as_svc(estimator, X, y):
    """Fit ``probability=True``: deprecated where SVC's is (scikit-learn 1.9 on), only there."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        estimator.fit(X, y)
    deprecated = SVC().get_params()["probability"] == "deprecated"
    told = [w for w in caught if "CalibratedClassifierCV" in str(w.message)]
    assert [w.category for w in told] == ([FutureWarning] if deprecated else [])


def test_probability_as_svc():
    X, y = load_iris(return_X_y=True)
    assert not hasattr(KerasSVC(), "predict_proba")
    fitted = KerasSVC(n_components=64).fit(X, y)
    assert not hasattr(fitted, "predict_proba")
    fitted.set_params(probability=True)  # after fit: no model of it, as in SVC
    with pytest.raises(NotFittedError, match="fitted with probability=False"):
        fitted.predict_proba(X)
    clf = KerasSVC(probability=True, n_components=64, random_state=0)
    _fit_told_as_svc(clf, X, y)
    proba = clf.predict_proba(X)
    assert proba.shape == (150, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert np.mean(clf.classes_[proba.argmax(axis=1)] == clf.predict(X)) > 0.95
    np.testing.assert_allclose(clf.predict_log_proba(X), np.log(proba))
    binary = KerasSVC(probability=True, n_components=32, random_state=0)
    _fit_told_as_svc(binary, X[:100], y[:100])
    proba = binary.predict_proba(X[:100])
    assert proba.shape == (100, 2)
    # the probability of classes_[1] grows with the decision value
    order = np.argsort(binary.decision_function(X[:100]))
    assert np.all(np.diff(proba[order, 1]) >= -1e-12)


def test_support_and_class_weight_attributes(data):
    X, y = data
    clf = KerasSVC(n_components=60, class_weight="balanced", random_state=0).fit(X, y)
    reference = SVC(class_weight="balanced").fit(X, y)
    np.testing.assert_allclose(clf.class_weight_, reference.class_weight_)
    assert clf.n_support_.dtype == np.int32 and clf.n_support_.shape == (3,)
    assert clf.n_support_.sum() == len(clf.support_)
    # ordered by class, then by row, as SVC orders support_
    labels = np.searchsorted(clf.classes_, y[clf.support_])
    assert np.all(np.diff(labels) >= 0)
    for label in range(3):
        rows = clf.support_[labels == label]
        assert np.all(np.diff(rows) > 0)
    # squared hinge: a row is a support vector where some margin is below one
    scores = clf.decision_function(X)
    signs = np.where(y[:, None] == clf.classes_, 1.0, -1.0)
    below = np.flatnonzero(np.any(signs * scores < 1.0 - 1e-3, axis=1))
    assert set(below) <= set(clf.support_)


@pytest.mark.parametrize("sparse", [False, True])
def test_support_vectors_are_svc_s(data, sparse):
    from kernelsvm_keras import KerasOneClassSVM, KerasSVR

    X, y = data
    X_in = sp.csr_matrix(X) if sparse else X.astype(np.float32)
    fits = [
        KerasSVC(n_components=40, random_state=0).fit(X_in, y),
        KerasSVR(n_components=40, random_state=0).fit(X_in, y.astype(float)),
        KerasOneClassSVM(n_components=40, random_state=0).fit(X_in),
    ]
    for est in fits:
        vectors = est.support_vectors_
        assert sp.issparse(vectors) == sparse and vectors.dtype == np.float64
        dense = vectors.toarray() if sparse else vectors
        np.testing.assert_array_equal(dense, X[est.support_].astype(X_in.dtype))
    # the linear kernel's hinge is SVC's problem: the same support vectors
    linear = KerasSVC(kernel="linear", decision_function_shape="ovo").fit(X, y)
    reference = SVC(kernel="linear").fit(X, y)
    np.testing.assert_array_equal(linear.support_vectors_, reference.support_vectors_)
    np.testing.assert_array_equal(
        KerasSVC.from_sklearn(reference).support_vectors_, reference.support_vectors_
    )
    # as SVC's: empty for a precomputed kernel; LinearSVC has none
    precomputed = KerasSVC(kernel="precomputed", n_components=40).fit(X @ X.T, y)
    assert precomputed.support_vectors_.shape == (0, 0)
    assert not hasattr(KerasLinearSVC().fit(X, y), "support_vectors_")
    for est in fits:
        assert est.fit_status_ == 0 and est.shape_fit_ == X.shape
    with route("newton"), pytest.warns(ConvergenceWarning, match="max_iter=1"):
        stopped = KerasSVC(n_components=40, random_state=0, max_iter=1).fit(X, y)
    assert stopped.fit_status_ == 1
    # more than cache_size megabytes of them (a streamed fit): no copy of X kept
    streamed = KerasSVC(n_components=40, random_state=0, cache_size=0).fit(X_in, y)
    assert len(streamed.support_) and not hasattr(streamed, "support_vectors_")
    # partial_fit's SGD has no dual variables, so neither support_ nor vectors
    fits[0].partial_fit(X_in, y)
    for name in ("support_", "support_vectors_", "fit_status_", "shape_fit_"):
        assert not hasattr(fits[0], name)


@pytest.mark.parametrize("solver", ["dual", "newton"])
def test_n_iter_counts_each_binary_problem_as_svc_does(data, solver):
    X, y = data
    with route(solver):
        ovr = KerasSVC(n_components=40, random_state=0).fit(X, y)
        ovo = KerasSVC(n_components=40, random_state=0, multi_class="ovo").fit(X[:120], y[:120])
        binary = KerasSVC(n_components=40, random_state=0).fit(X[y < 2], y[y < 2])
    # SVC's type: an int32 array, one count per problem (classes here, pairs there)
    for est, problems in ((ovr, 3), (ovo, 3), (binary, 1)):
        assert est.n_iter_.dtype == np.int32 and est.n_iter_.shape == (problems,)
        assert est.n_iter_.min() >= 1
    if solver == "newton":  # a problem counts the iterations it had not converged in
        assert ovr.n_iter_.min() < ovr.n_iter_.max()  # here two converge one step early


def test_negative_sample_weight_is_ignored_as_svc_does(data):
    X, y = data
    weights = np.ones(len(y))
    weights[:20] = -3.0
    negative = KerasSVC(n_components=40, random_state=0).fit(X, y, sample_weight=weights)
    weights[:20] = 0.0
    zero = KerasSVC(n_components=40, random_state=0).fit(X, y, sample_weight=weights)
    np.testing.assert_allclose(negative.coef_, zero.coef_)
    assert not np.isin(np.arange(20), negative.support_).any()  # SVC drops those rows too
    with pytest.raises(ValueError, match="all samples have zero or negative weights"):
        KerasSVC().fit(X, y, sample_weight=-np.ones(len(y)))


@pytest.mark.parametrize("kernel", ["poly", "sigmoid", "precomputed"])
def test_warm_start_partial_fit_and_cv_for_other_kernels(kernel, data, newton):
    X, y = data
    X_in = X @ X.T if kernel == "precomputed" else X
    clf = KerasSVC(kernel=kernel, n_components=40, random_state=0, warm_start=True, **COEFFICIENTS)
    clf.fit(X_in, y)
    cold_iter = clf.n_iter_
    clf.set_params(C=1.01).fit(X_in, y)
    assert clf.n_iter_.max() <= cold_iter.max()
    streamed = KerasSVC(kernel=kernel, n_components=40, random_state=0, **COEFFICIENTS)
    streamed.partial_fit(X_in, y, classes=np.unique(y))
    assert streamed.predict(X_in).shape == y.shape
    # folds of a precomputed kernel take its rows and their training columns
    search = KerasSVCCV(
        Cs=[0.1, 1.0], kernel=kernel, n_components=30, cv=3, random_state=0, degree=3, coef0=0.5
    )
    search.fit(X_in, y)
    grid = GridSearchCV(
        KerasSVC(kernel=kernel, n_components=30, random_state=0, degree=3, coef0=0.5),
        {"C": [0.1, 1.0]},
        cv=3,
    ).fit(X_in, y)
    np.testing.assert_allclose(
        search.cv_results_["mean_test_score"], grid.cv_results_["mean_test_score"], atol=0.03
    )


# -- one-vs-one ----------------------------------------------------------------


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def test_one_vs_one_linear_hinge_is_svc(iris):
    # each pair's problem is SVC's own (hinge, unpenalised intercept, C): at a
    # tight tol the hyperplanes are SVC's, in SVC's pair order and signs
    X, y = iris
    ours = KerasSVC(kernel="linear", loss="hinge", multi_class="ovo", tol=1e-6, max_iter=-1)
    ours.fit(X, y)
    svc = SVC(kernel="linear", decision_function_shape="ovo", tol=1e-6).fit(X, y)
    assert ours.coef_.shape == svc.coef_.shape == (3, 4)
    np.testing.assert_allclose(ours.coef_, svc.coef_, atol=2e-2 * np.abs(svc.coef_).max())
    np.testing.assert_allclose(ours.intercept_, svc.intercept_, atol=2e-2)
    ours.set_params(decision_function_shape="ovo")
    np.testing.assert_allclose(
        ours.decision_function(X), svc.decision_function(X), atol=2e-2 * np.abs(svc.coef_).max()
    )
    assert np.mean(ours.predict(X) == svc.predict(X)) >= 0.98
    np.testing.assert_array_equal(ours.n_support_, svc.n_support_)
    # SVC's "ovr" shape of one-vs-one scores: votes plus normalised confidences
    ours.set_params(decision_function_shape="ovr")
    svc.set_params(decision_function_shape="ovr")
    np.testing.assert_allclose(ours.decision_function(X), svc.decision_function(X), atol=0.05)


def test_multi_class_auto_is_one_vs_one_for_the_linear_kernel_only(iris):
    # one hyperplane per class against the rest scored 5-15 points below SVC
    # on pendigits and letter with the linear kernel (benchmarks/RESULTS.md)
    X, y = iris
    linear = KerasSVC(kernel="linear").fit(X, y)
    assert linear.multi_class == "auto" and linear.coef_.shape == (3, 4)  # the 3 pairs
    np.testing.assert_allclose(
        linear.coef_, KerasSVC(kernel="linear", multi_class="ovo").fit(X, y).coef_
    )
    forced = KerasSVC(kernel="linear", multi_class="ovr").fit(X, y)
    assert forced.coef_.shape == (3, 4)
    assert not np.allclose(forced.coef_, linear.coef_)
    rbf = KerasSVC(n_components=20, random_state=0).fit(X, y)
    ovr = KerasSVC(n_components=20, multi_class="ovr", random_state=0).fit(X, y)
    np.testing.assert_allclose(rbf.coef_, ovr.coef_)
    search = KerasSVCCV(kernel="linear", Cs=[1.0], cv=3).fit(X, y)
    np.testing.assert_allclose(search.coef_, linear.coef_)


def test_loss_auto_is_svc_s_hinge_for_the_linear_kernel_s_pairs_only(iris):
    # kernel="linear" one-vs-one is SVC(kernel="linear")'s problem: its loss
    # gives its model (benchmarks/RESULTS.md, "The linear kernel's default loss")
    X, y = iris
    linear = KerasSVC(kernel="linear", tol=1e-6).fit(X, y)
    assert linear.loss == "auto"
    hinge = KerasSVC(kernel="linear", loss="hinge", tol=1e-6).fit(X, y)
    np.testing.assert_allclose(linear.coef_, hinge.coef_)
    svc = SVC(kernel="linear", decision_function_shape="ovo", tol=1e-6).fit(X, y)
    np.testing.assert_allclose(linear.coef_, svc.coef_, atol=2e-2 * np.abs(svc.coef_).max())
    binary = y < 2
    two = KerasSVC(kernel="linear", C=0.1).fit(X[binary], y[binary])
    np.testing.assert_allclose(
        two.coef_, KerasSVC(kernel="linear", C=0.1, loss="hinge").fit(X[binary], y[binary]).coef_
    )
    # one hyperplane per class, and the approximated kernels: the squared hinge
    landmarks = {"n_components": 20, "random_state": 0}
    for auto, params in (
        (KerasSVC(kernel="linear", multi_class="ovr"), {"kernel": "linear", "multi_class": "ovr"}),
        (KerasSVC(**landmarks), landmarks),
        (KerasSVCCV(Cs=[1.0], cv=3, **landmarks), landmarks),
    ):
        expected = KerasSVC(loss="squared_hinge", **params).fit(X, y)
        np.testing.assert_allclose(auto.fit(X, y).coef_, expected.coef_)


def test_one_vs_one_everywhere_else(iris):
    X, y = iris
    clf = KerasSVC(multi_class="ovo", n_components=40, random_state=0).fit(X, y)
    assert clf.coef_.shape == (3, 40) and clf.dual_gap_.shape == (3,)
    assert clf.score(X, y) > 0.9
    model = clf.to_keras()
    clf.set_params(decision_function_shape="ovo")
    np.testing.assert_allclose(
        model.predict(X, verbose=0), clf.decision_function(X), rtol=1e-4, atol=1e-4
    )
    # break_ties: the argmax of SVC's "ovr" transformation of the votes
    ties = clone_with(clf, break_ties=True, decision_function_shape="ovr")
    np.testing.assert_array_equal(
        ties.predict(X), clf.classes_[np.argmax(ties.decision_function(X), axis=1)]
    )
    streamed = KerasSVC(multi_class="ovo", n_components=40, random_state=0)
    for _ in range(3):
        streamed.partial_fit(X, y, classes=np.unique(y))
    assert streamed.coef_.shape == (3, 40) and streamed.score(X, y) > 0.8
    # switching scheme with warm_start: a cold start, not a crash
    warm = KerasSVC(n_components=40, random_state=0, warm_start=True).fit(X, y)
    warm.set_params(multi_class="ovo").fit(X, y)
    np.testing.assert_allclose(
        warm.coef_, KerasSVC(multi_class="ovo", n_components=40, random_state=0).fit(X, y).coef_
    )
    search = KerasSVCCV(Cs=[0.1, 1.0], multi_class="ovo", n_components=30, cv=3, random_state=0)
    grid = GridSearchCV(
        KerasSVC(multi_class="ovo", n_components=30, random_state=0), {"C": [0.1, 1.0]}, cv=3
    )
    np.testing.assert_allclose(
        search.fit(X, y).cv_results_["mean_test_score"],
        grid.fit(X, y).cv_results_["mean_test_score"],
        atol=0.02,
    )


def clone_with(estimator, **params):
    from sklearn.base import clone

    fitted = clone(estimator).set_params(**params)
    fitted.__dict__.update({k: v for k, v in vars(estimator).items() if k not in params})
    return fitted


def test_eigenvalue_cutoff_is_relative_to_the_typical_diagonal_entry():
    # one row of large norm makes a polynomial kernel's diagonal span nine
    # orders of magnitude; a cut-off relative to its largest entry kept 1 of 50
    # directions, relative to the median it keeps them all
    Z = np.random.default_rng(0).normal(size=(50, 5))
    Z[0] *= 100
    K = kernel_matrix_numpy(Z, Z, "poly", gamma=0.2, degree=3, coef0=1.0)
    kept = np.count_nonzero(np.any(nystroem_normalization(K) != 0, axis=0))
    assert kept == 50


@pytest.mark.parametrize("kernel", ["poly", "sigmoid", "laplacian", "precomputed"])
def test_keras_file_round_trip_for_every_kernel_layer(kernel, data, tmp_path):
    import keras

    X, y = data
    X_in = X @ X.T if kernel == "precomputed" else X
    clf = KerasSVC(kernel=kernel, n_components=30, random_state=0, **COEFFICIENTS).fit(X_in, y)
    path = tmp_path / "model.keras"
    clf.to_keras().save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(
        loaded.predict(X_in, verbose=0), clf.decision_function(X_in), rtol=1e-4, atol=1e-4
    )


def test_sample_weights_zero_or_negative_as_svc(iris):
    # SVC drops the rows of non-positive weight; on its own problem the
    # hyperplanes are then SVC's with the same weights
    X, y = iris
    weights = np.ones(len(y))
    weights[::7] = -1.0
    weights[1::7] = 0.0
    weights[2::7] = 3.0
    ours = KerasSVC(kernel="linear", loss="hinge", multi_class="ovo", tol=1e-6, max_iter=-1)
    ours.fit(X, y, sample_weight=weights)
    svc = SVC(kernel="linear", tol=1e-6).fit(X, y, sample_weight=weights)
    np.testing.assert_allclose(ours.coef_, svc.coef_, atol=2e-2 * np.abs(svc.coef_).max())
    np.testing.assert_array_equal(ours.n_support_, svc.n_support_)
