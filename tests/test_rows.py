"""Repeated training rows solved once: the groups, and fits that reach the unmerged optimum."""

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_iris, make_classification, make_regression
from sklearn.svm import SVC

from kernelsvm_keras import KerasLinearSVC, KerasOneClassSVM, KerasSVC, KerasSVCCV, KerasSVR, _rows
from kernelsvm_keras._maps import _draw_landmarks
from kernelsvm_keras._rows import RepeatedRows


def _with_repeats(X, y, repeats=40, seed=0):
    """``X, y`` followed by ``repeats`` copies of some of their rows, shuffled."""
    rng = np.random.RandomState(seed)
    copies = rng.randint(0, X.shape[0], size=repeats)
    order = rng.permutation(X.shape[0] + repeats)
    return np.vstack([X, X[copies]])[order], np.concatenate([y, y[copies]])[order]


#: the real ``RepeatedRows.find``, for fits inside a test that patched it away
_find = RepeatedRows.find.__func__


@pytest.fixture
def unmerged(monkeypatch):
    """Fits that keep every row (the solvers as they were before the merge)."""

    def no_repeats(cls, X, labels):
        return None

    monkeypatch.setattr(RepeatedRows, "find", classmethod(no_repeats))


# -- the groups -----------------------------------------------------------------


def test_groups_are_the_equal_rows_with_equal_labels_dense_or_sparse():
    rng = np.random.RandomState(0)
    X = rng.randint(0, 3, size=(600, 4)).astype(np.float64)
    y = rng.randint(0, 2, size=600)
    rows = RepeatedRows.find(X, y)
    distinct = np.unique(np.column_stack([X, y]), axis=0)
    assert rows.n_groups == len(distinct) and rows.n_samples == 600
    np.testing.assert_array_equal(rows.take(X)[rows.group], X)
    np.testing.assert_array_equal(rows.take(y)[rows.group], y)
    assert np.all(np.diff(rows.first) > 0)  # the first of each group, in the rows' order
    for other in (sp.csr_matrix(X), X.astype(np.float32)):
        again = RepeatedRows.find(other, y)
        np.testing.assert_array_equal(again.first, rows.first)
        np.testing.assert_array_equal(again.group, rows.group)


def test_rows_that_differ_or_repeat_too_rarely_are_left_as_they_are(tmp_path):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 3))
    assert RepeatedRows.find(X, np.zeros(300)) is None
    X[1] = X[0]  # one repeat in 300: under MIN_SHARE
    assert RepeatedRows.find(X, np.zeros(300)) is None
    X[:50] = X[50:100]  # equal rows, other labels: not merged
    assert RepeatedRows.find(X, np.r_[np.zeros(50), np.ones(250)]) is None
    assert RepeatedRows.find(X, np.zeros(300)).n_groups == 250
    assert RepeatedRows.find(X, None) is None
    mapped = np.lib.format.open_memmap(tmp_path / "X.npy", mode="w+", dtype=X.dtype, shape=X.shape)
    mapped[:] = X
    assert RepeatedRows.find(mapped, np.zeros(300)) is None  # never copies a memory map


def test_a_hash_collision_splits_off_and_merges_nothing_else(monkeypatch):
    X = np.repeat(np.arange(20.0)[:, None], 5, axis=0)  # 20 values, 5 rows each
    monkeypatch.setattr(_rows, "_dense_hashes", lambda X: np.zeros(X.shape[0], np.uint64))
    rows = RepeatedRows.find(X, np.zeros(100))
    # every row collides with row 0: only its equals join it
    assert rows.n_groups == 96
    np.testing.assert_array_equal(rows.take(X)[rows.group], X)


def test_weights_sum_over_a_group_and_its_dual_spreads_back_by_weight():
    rng = np.random.RandomState(0)
    X = rng.randint(0, 2, size=(200, 3)).astype(np.float64)
    rows = RepeatedRows.find(X, np.zeros(200))
    weights = rng.uniform(-0.5, 2.0, size=200)  # the negative ones count as zero
    merged = rows.weights(weights)
    np.testing.assert_allclose(merged.sum(), np.maximum(weights, 0).sum())
    dual = rng.normal(size=(rows.n_groups, 2))
    spread = rows.spread(dual, weights)
    assert np.all(spread[weights <= 0] == 0)
    back = np.zeros_like(dual)
    np.add.at(back, rows.group, spread)
    np.testing.assert_allclose(back[merged > 0], dual[merged > 0])


def test_a_draw_over_merged_rows_takes_each_at_most_once_and_is_the_plain_draw_without_repeats():
    groups = np.arange(50)
    np.testing.assert_array_equal(
        _draw_landmarks(np.random.RandomState(3), 50, 20, groups=groups),
        _draw_landmarks(np.random.RandomState(3), 50, 20),
    )
    groups = np.repeat(np.arange(10), 10)  # 100 rows, 10 distinct
    drawn = _draw_landmarks(np.random.RandomState(3), 10, 10, groups=groups)
    assert sorted(drawn) == list(range(10))
    drawn = _draw_landmarks(np.random.RandomState(3), 10, 6, first=[7, 2], groups=groups)
    assert list(drawn[:2]) == [7, 2] and len(set(drawn)) == 6


# -- fits -----------------------------------------------------------------------


@pytest.mark.parametrize("loss", ["hinge", "squared_hinge"])
def test_a_fit_on_repeated_rows_reaches_the_optimum_of_every_row(loss, unmerged):
    X, y = load_iris(return_X_y=True)
    X, y = _with_repeats(X[y > 0], y[y > 0], repeats=60)  # binary: SVC's decision function
    # every distinct row is a landmark either way: the exact kernel
    plain = KerasSVC(loss=loss, random_state=0).fit(X, y)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(RepeatedRows, "find", classmethod(_find))
        merged = KerasSVC(loss=loss, random_state=0).fit(X, y)
    assert merged.n_samples_seen_ == X.shape[0] == merged.shape_fit_[0]
    np.testing.assert_allclose(merged.objective_, plain.objective_, rtol=2e-3)
    np.testing.assert_allclose(
        merged.decision_function(X), plain.decision_function(X), rtol=0, atol=5e-3
    )
    np.testing.assert_array_equal(merged.support_vectors_, X[merged.support_])
    if loss == "hinge":
        svc = SVC(kernel="rbf", gamma="scale").fit(X, y)
        assert merged.gamma_ == pytest.approx(svc._gamma)
        np.testing.assert_allclose(
            merged.decision_function(X), svc.decision_function(X), rtol=0, atol=5e-3
        )


def test_support_and_landmark_indices_are_of_the_rows_given():
    X, y = make_classification(300, 4, n_informative=3, n_redundant=0, random_state=0)
    X = np.round(X) + 0.0  # few distinct rows (and no -0.0, another row's bytes than 0.0)
    model = KerasSVC(n_components=30, approximation="nystroem", random_state=0).fit(X, y)
    assert model.component_indices_.max() < X.shape[0]
    np.testing.assert_array_equal(X[model.component_indices_], model.components_)
    assert len(np.unique(model.components_, axis=0)) == 30  # no landmark drawn twice
    np.testing.assert_array_equal(X[model.support_], model.support_vectors_)
    # every repeat of a support vector with its label is one too
    rows = RepeatedRows.find(X, y)
    in_support = np.zeros(X.shape[0], bool)
    in_support[model.support_] = True
    assert np.all(in_support == in_support[rows.first][rows.group])


def test_zero_weight_repeats_change_nothing():
    X, y = load_iris(return_X_y=True)
    extra = np.tile(X[:60], (2, 1)), np.tile(y[:60], 2)
    both = np.vstack([X, extra[0]]), np.concatenate([y, extra[1]])
    weights = np.r_[np.ones(len(X)), np.zeros(120)]
    # (gamma="scale" would see the padding: the variance of every row given, as SVC's)
    alone = KerasSVC(loss="hinge", gamma=0.2).fit(X, y)
    padded = KerasSVC(loss="hinge", gamma=0.2).fit(*both, sample_weight=weights)
    np.testing.assert_allclose(padded.objective_, alone.objective_, rtol=1e-3)
    assert np.all(padded.support_ < len(X))


@pytest.mark.parametrize("multi_class", ["ovr", "ovo"])
def test_class_weights_and_pairs_on_merged_rows(multi_class, unmerged):
    X, y = make_classification(400, 3, n_informative=3, n_redundant=0, n_classes=3, random_state=0)
    X = np.round(X * 2) / 2
    params = dict(class_weight="balanced", multi_class=multi_class, loss="hinge", random_state=0)
    plain = KerasSVC(**params).fit(X, y)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(RepeatedRows, "find", classmethod(_find))
        assert RepeatedRows.find(X, y) is not None
        merged = KerasSVC(**params).fit(X, y)
    np.testing.assert_allclose(merged.objective_, plain.objective_, rtol=2e-3)
    assert np.mean(merged.predict(X) == plain.predict(X)) > 0.99


def test_linear_and_regression_fits_on_merged_rows(unmerged):
    X, y = make_classification(500, 5, random_state=0)
    X = np.round(X)
    Xr, yr = make_regression(300, 3, noise=0.0, random_state=0)
    Xr, yr = _with_repeats(np.round(Xr), np.round(yr), repeats=120)
    plain = KerasLinearSVC().fit(X, y), KerasSVR(C=10).fit(Xr, yr)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(RepeatedRows, "find", classmethod(_find))
        assert RepeatedRows.find(Xr, yr) is not None
        merged = KerasLinearSVC().fit(X, y), KerasSVR(C=10).fit(Xr, yr)
    for a, b, rows in zip(merged, plain, (X, Xr), strict=True):
        np.testing.assert_allclose(a.objective_, b.objective_, rtol=2e-3)
        np.testing.assert_allclose(a.predict(rows), b.predict(rows), atol=1e-2 * np.std(yr))


@pytest.mark.parametrize("container", [sp.csr_matrix, sp.csr_array, sp.csc_matrix])
def test_sparse_rows_of_every_container_are_grouped(container):
    rng = np.random.RandomState(0)
    X = rng.randint(0, 3, size=(300, 5)).astype(np.float64) * (rng.uniform(size=(300, 5)) < 0.4)
    y = rng.randint(0, 2, size=300)
    dense = RepeatedRows.find(X, y)
    rows = RepeatedRows.find(sp.csr_matrix(container(X)), y)
    np.testing.assert_array_equal(rows.group, dense.group)
    model = KerasSVC(loss="hinge", gamma=0.5).fit(container(X), y)
    np.testing.assert_array_equal(X[model.support_], model.support_vectors_.toarray())


def test_a_search_solves_each_fold_on_its_merged_rows(unmerged, monkeypatch):
    X, y = make_classification(300, 3, n_informative=3, n_redundant=0, random_state=0)
    X = np.round(X * 2) / 2 + 0.0
    params = dict(Cs=[0.1, 1, 10], gammas=[0.5], cv=3, loss="hinge", random_state=0)
    plain = KerasSVCCV(**params).fit(X, y)
    merged_sizes = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(RepeatedRows, "find", classmethod(_find))
        solve = KerasSVCCV._solve

        def recording(self, design, *args, **kwargs):
            merged_sizes.append(design.n_samples)
            return solve(self, design, *args, **kwargs)

        monkeypatch.setattr(KerasSVCCV, "_solve", recording)
        merged = KerasSVCCV(**params).fit(X, y)
    assert max(merged_sizes) < 200  # each fold's 200 training rows, merged
    # every distinct row a landmark: the folds' exact kernels, the same scores
    np.testing.assert_allclose(
        merged.cv_results_["mean_test_score"], plain.cv_results_["mean_test_score"], atol=0.01
    )
    assert merged.best_params_ == plain.best_params_


def test_a_one_class_fit_on_merged_rows_reaches_the_same_optimum(unmerged):
    X, _ = make_classification(300, 3, n_informative=3, n_redundant=0, random_state=0)
    X = np.round(X * 2) / 2 + 0.0
    plain = KerasOneClassSVM(nu=0.2, gamma=0.5).fit(X)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(RepeatedRows, "find", classmethod(_find))
        assert RepeatedRows.find(X, np.zeros(len(X))) is not None
        merged = KerasOneClassSVM(nu=0.2, gamma=0.5).fit(X)
    np.testing.assert_allclose(merged.objective_, plain.objective_, rtol=2e-3)
    np.testing.assert_allclose(
        merged.decision_function(X),
        plain.decision_function(X),
        atol=2e-2 * np.ptp(plain.decision_function(X)),
    )
    np.testing.assert_array_equal(X[merged.support_], merged.support_vectors_)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**31 - 1),
    loss=st.sampled_from(["hinge", "squared_hinge"]),
    multi_class=st.sampled_from(["ovr", "ovo"]),
    C=st.sampled_from([0.1, 1.0, 100.0]),
)
def test_merged_and_unmerged_fits_reach_one_optimum(seed, loss, multi_class, C):
    # small integer rows with many repeats, weights of every sign: every distinct row is a
    # landmark, so both fits solve the exact kernel SVM and must meet within their gaps
    rng = np.random.RandomState(seed)
    n, d = rng.randint(60, 250), rng.randint(1, 5)
    X = rng.randint(-2, 3, size=(n, d)).astype(np.float64) + 0.0
    y = rng.randint(0, rng.randint(2, 5), size=n)
    y[:2] = [0, 1]  # two classes at least
    weights = rng.choice([0.0, 0.5, 1.0, 2.0, -1.0], size=n, p=[0.1, 0.2, 0.5, 0.15, 0.05])
    weights[:2] = 1.0
    params = dict(loss=loss, multi_class=multi_class, C=C, gamma=0.3)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(RepeatedRows, "find", classmethod(lambda cls, X, labels: None))
        plain = KerasSVC(**params).fit(X, y, sample_weight=weights)
    merged = KerasSVC(**params).fit(X, y, sample_weight=weights)
    assert np.all(np.isfinite(merged.coef_))
    gaps = np.maximum(plain.dual_gap_, merged.dual_gap_)
    np.testing.assert_array_less(
        np.abs(merged.objective_ - plain.objective_), 2 * gaps * np.abs(plain.objective_) + 1e-9
    )
