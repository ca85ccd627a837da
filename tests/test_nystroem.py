"""The Nystroem approximation: the layer, its normalisation, KerasSVC on it, and its landmarks
moved onto the support vectors."""

import keras
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_digits, make_blobs, make_classification, make_regression
from sklearn.kernel_approximation import Nystroem
from sklearn.metrics.pairwise import rbf_kernel
from sklearn.model_selection import train_test_split
from sklearn.svm import SVC, SVR

from kernelsvm_keras import KerasOneClassSVM, KerasSVC, KerasSVCCV, KerasSVR, _base, _dual
from kernelsvm_keras._maps import LandmarkMap, PrecomputedMap, _draw_landmarks
from kernelsvm_keras.layers import (
    NystroemFeatures,
    kernel_matrix_numpy,
    nystroem_factors,
    nystroem_normalization,
    rbf_kernel_matrix,
)

from oracles import kernel_objective
from routes import recording_working_sets

rng = np.random.RandomState(0)
X = rng.uniform(-1, 1, size=(120, 5))
digits_X, digits_y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    digits_X[:800] / 16.0, digits_y[:800], test_size=0.25, random_state=0, stratify=digits_y[:800]
)


def to_numpy(tensor):
    return keras.ops.convert_to_numpy(tensor).astype(np.float64)


# -- the map ------------------------------------------------------------------


def test_kernel_matrix_equals_sklearn():
    np.testing.assert_allclose(
        rbf_kernel_matrix(X, X[:30], 0.7), rbf_kernel(X, X[:30], gamma=0.7), atol=1e-14
    )


def test_normalization_gives_the_nystroem_kernel():
    Z = X[:40]
    N = nystroem_normalization(rbf_kernel_matrix(Z, Z, 0.5))
    features = rbf_kernel(X, Z, gamma=0.5) @ N
    reference = Nystroem(gamma=0.5, n_components=40).fit(Z).transform(X)
    # the same kernel k(x, Z) K^-1 k(Z, y), in another basis of the same span
    np.testing.assert_allclose(features @ features.T, reference @ reference.T, atol=1e-8)
    # exact on the landmarks themselves
    np.testing.assert_allclose(features[:40] @ features[:40].T, rbf_kernel(Z, gamma=0.5), atol=1e-9)


def test_normalization_drops_directions_the_landmarks_repeat():
    Z = np.vstack([X[:20], X[:5]])  # 5 duplicated landmarks: the kernel matrix has rank 20
    K = rbf_kernel_matrix(Z, Z, 0.5)
    N = nystroem_normalization(K)
    assert N.shape == (25, 25)
    assert np.all(N[:, 20:] == 0) and np.all(np.any(N[:, :20] != 0, axis=0))
    # K N N^T K = K: the Nystroem kernel is still exact on every landmark
    np.testing.assert_allclose(K @ N @ N.T @ K, K, atol=1e-9)


def test_normalization_decorrelates_features_of_a_sample():
    # landmarks drawn from the data: phi(X)^T phi(X) ~ (n / m) diag(eigenvalues),
    # what the solver's diagonal preconditioner relies on
    Z = X[:40]
    K = rbf_kernel_matrix(Z, Z, 0.5)
    N = nystroem_normalization(K)
    # eigenvectors scaled by s^-1/2, in decreasing order of s
    np.testing.assert_allclose(np.linalg.norm(N, axis=0), np.linalg.eigvalsh(K)[::-1] ** -0.5)
    features = rbf_kernel_matrix(X, Z, 0.5) @ N
    gram = features.T @ features
    diagonal = np.sqrt(np.diag(gram))
    off = np.abs(gram / np.outer(diagonal, diagonal) - np.eye(40))
    assert np.median(off) < 0.1
    # sklearn's K^-1/2 basis: the same kernel, strongly correlated features
    sym = rbf_kernel_matrix(X, Z, 0.5) @ Nystroem(gamma=0.5, n_components=40).fit(Z).normalization_
    gram = sym.T @ sym
    diagonal = np.sqrt(np.diag(gram))
    assert np.median(np.abs(gram / np.outer(diagonal, diagonal) - np.eye(40))) > 0.2


def test_normalization_stops_at_the_eigenvalue_tolerance():
    Z = np.vstack([X[:10], X[:10] + 1e-4])  # 10 eigenvalues ~ gamma * 5e-8: below 1e-4
    K = rbf_kernel_matrix(Z, Z, 1.0)
    assert np.count_nonzero(np.any(nystroem_normalization(K) != 0, axis=0)) == 10
    assert np.count_nonzero(np.any(nystroem_normalization(K, tol=1e-12) != 0, axis=0)) == 20


@pytest.mark.parametrize("basis", ["eigen", "cholesky"])
def test_factors_give_the_landmarks_own_features(basis):
    K = rbf_kernel_matrix(X[:40], X[:40], 0.5)
    N, features, used = nystroem_factors(K, basis=basis)
    assert used == basis  # nothing at or below the cutoff
    np.testing.assert_allclose(features, K @ N, atol=1e-9)
    np.testing.assert_allclose(features @ features.T, K, atol=1e-10)
    np.testing.assert_array_equal(N, nystroem_normalization(K, basis=basis))
    if basis == "cholesky":
        np.testing.assert_array_equal(features, np.tril(features))  # L, K = L L^T
        np.testing.assert_allclose(N @ N.T, np.linalg.inv(K), rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize(
    "Z, kernel",
    [
        (np.vstack([X[:20], X[:5]]), "rbf"),  # repeated landmarks: eigenvalues of 0
        (np.vstack([X[:10], X[:10] + 1e-4]), "rbf"),  # positive, but below the cutoff
        (X[:40], "sigmoid"),  # negative eigenvalues
        (np.linspace(0, 1, 40)[:, None], "rbf"),  # smooth, no close pair: only potrf sees it
    ],
)
def test_the_cholesky_basis_falls_back_where_the_eigenbasis_drops_or_flips(Z, kernel):
    K = kernel_matrix_numpy(Z, Z, kernel, 0.5, 3, 0.0)
    N, features, used = nystroem_factors(K, basis="cholesky")
    assert used == "eigen"
    eigen_N, eigen_features, _ = nystroem_factors(K)
    np.testing.assert_array_equal(N, eigen_N)
    np.testing.assert_allclose(features, K @ N, atol=1e-9)


def test_nearly_repeated_landmarks_need_no_factorisation(monkeypatch):
    import scipy.linalg

    K = rbf_kernel_matrix(np.vstack([X[:20], X[:5] + 1e-4]), np.vstack([X[:20], X[:5] + 1e-4]), 0.5)

    def refuse(*args, **kwargs):
        raise AssertionError("factorised")

    monkeypatch.setattr(scipy.linalg.lapack, "dpotrf", refuse)
    assert nystroem_factors(K, basis="cholesky")[2] == "eigen"


def _counting_potrf(monkeypatch):
    import scipy.linalg

    calls = []
    potrf = scipy.linalg.lapack.dpotrf

    def counted(*args, **kwargs):
        calls.append(args[0].shape)
        return potrf(*args, **kwargs)

    monkeypatch.setattr(scipy.linalg.lapack, "dpotrf", counted)
    return calls


def test_the_inverse_s_norm_proves_the_cutoff_with_one_factorisation(monkeypatch):
    # digits' rows: lambda_min(K) is 31 times the cutoff, and the bound on ||L^-1||^2 proves
    # it, so K - cutoff I is not factored
    Z = digits_X[:400] / 16.0
    K = rbf_kernel_matrix(Z, Z, 1.0 / (64 * Z.var()))
    calls = _counting_potrf(monkeypatch)
    N, features, used = nystroem_factors(K, basis="cholesky")
    assert used == "cholesky" and len(calls) == 1
    np.testing.assert_allclose(N @ N.T, np.linalg.inv(K), rtol=1e-6, atol=1e-8)


def test_where_the_bound_does_not_prove_the_cutoff_the_shifted_factorisation_does(monkeypatch):
    from kernelsvm_keras import _kernels

    K = rbf_kernel_matrix(X[:40], X[:40], 0.5)
    monkeypatch.setattr(_kernels, "_squared_norm_bound", lambda A: np.inf)
    calls = _counting_potrf(monkeypatch)
    assert nystroem_factors(K, basis="cholesky")[2] == "cholesky"
    assert len(calls) == 2
    calls.clear()
    Z = np.linspace(0, 1, 40)[:, None]  # positive definite, far below the cutoff
    assert nystroem_factors(rbf_kernel_matrix(Z, Z, 0.5), basis="cholesky")[2] == "eigen"


def test_a_pivot_below_the_cutoff_answers_without_the_inverse(monkeypatch):
    import scipy.linalg

    # no close pair, a successful factorisation, and a pivot L_ii^2 below the cutoff: the
    # Schur complement bounds the smallest eigenvalue
    Z = np.linspace(0, 1, 6)[:, None]  # smooth: lambda_min 4.7e-8, closest pair 2.0e-2
    K = rbf_kernel_matrix(Z, Z, 0.5)
    cutoff = 1e-4
    pairs = np.add.outer(np.diag(K), np.diag(K)) / 2 - K
    np.fill_diagonal(pairs, np.inf)
    assert pairs.min() > cutoff
    assert np.min(np.diag(np.linalg.cholesky(K)) ** 2) <= cutoff

    def refuse(*args, **kwargs):
        raise AssertionError("inverted")

    monkeypatch.setattr(scipy.linalg.lapack, "dtrtri", refuse)
    assert nystroem_factors(K, basis="cholesky")[2] == "eigen"


@pytest.mark.parametrize("seed", range(6))
def test_the_norm_bound_holds_for_triangular_matrices(seed):
    from kernelsvm_keras._kernels import _squared_norm_bound

    rng = np.random.RandomState(seed)
    n = rng.randint(1, 90)
    A = np.tril(rng.normal(size=(n, n)) * rng.choice([1e-3, 1.0, 1e3], size=(n, n)))
    A[np.diag_indices(n)] = rng.choice([-1, 1], size=n) * rng.uniform(1e-2, 1e2, size=n)
    A = np.asfortranarray(A)
    norm = np.linalg.norm(A, 2) ** 2
    bound = _squared_norm_bound(A)
    assert norm <= bound * (1 + 1e-12)
    assert bound <= n * np.sum(A**2)  # a finite bound, no worse than Frobenius times n
    A[n - 1, 0] = np.nan
    assert _squared_norm_bound(A) == np.inf


@pytest.mark.parametrize("n", [255, 256, 700])
def test_the_norm_bound_is_two_collatz_wielandt_rounds_of_the_whole_matrix(n):
    # the two rounds of M = |A|^T |A| from the vector of ones, on sizes around the
    # factorisations' blocks
    from kernelsvm_keras._kernels import _squared_norm_bound

    rng = np.random.RandomState(n)
    A = np.asfortranarray(np.tril(rng.normal(size=(n, n))) + 5 * np.eye(n))
    M = np.abs(A).T @ np.abs(A)
    v, expected = np.ones(n), np.inf
    for _ in range(2):
        Mv = M @ v
        expected = min(expected, np.max(Mv / v))
        v = Mv / Mv.max()
    assert _squared_norm_bound(A) == pytest.approx(expected, rel=1e-12)
    assert np.linalg.norm(A, 2) ** 2 <= expected


@pytest.mark.parametrize("basis", ["eigen", "cholesky"])
def test_the_kernel_matrix_is_overwritten_only_when_asked(basis):
    Z = np.r_[X[:30], X[:30] + 1e-9] if basis == "eigen" else X[:30]  # eigen: repeated rows
    K = rbf_kernel_matrix(Z, Z, 0.5)
    K[0, 1] += 1e-12  # (not exactly symmetric)
    before = K.copy()
    expected = nystroem_factors(K, basis="cholesky")
    np.testing.assert_array_equal(K, before)
    got = nystroem_factors(K, basis="cholesky", overwrite=True)
    assert got[2] == expected[2] == basis
    for a, b in zip(got[:2], expected[:2], strict=True):
        np.testing.assert_array_equal(a, b)
    if basis == "cholesky":  # left symmetrised, and L L^T is that matrix
        np.testing.assert_array_equal(K, (before + before.T) / 2)


def test_maps_leave_a_precomputed_matrix_and_a_callable_s_kernel_as_they_were():
    K = rbf_kernel_matrix(X[:50], X[:50], 0.5)
    K_user = K.copy()
    PrecomputedMap(n_components=100, basis="eigen").fit(K_user, np.random.RandomState(0))
    PrecomputedMap(n_components=20, basis="eigen").fit(K_user, np.random.RandomState(0))
    np.testing.assert_array_equal(K_user, K)
    returned = []

    def kernel(A, B):  # a callable whose arrays stay the caller's (it may cache them)
        values = rbf_kernel_matrix(A, B, 0.5)
        returned.append((values, values.copy()))
        return values

    LandmarkMap(kernel, n_components=20).fit(X[:50], np.random.RandomState(0))
    LandmarkMap(kernel, n_components=50, basis="cholesky").fit(X[:50], np.random.RandomState(0))
    assert returned
    for values, original in returned:
        np.testing.assert_array_equal(values, original)


@pytest.mark.parametrize("m", [1, 63, 64, 65, 200])
def test_symmetrisation_in_place_is_the_mean_with_the_transpose(m):
    from kernelsvm_keras._kernels import _symmetrize

    K = np.random.RandomState(m).normal(size=(m, m))
    expected = (K + K.T) / 2
    _symmetrize(K)
    np.testing.assert_array_equal(K, expected)


def test_the_basis_is_one_of_three():
    with pytest.raises(ValueError, match="'eigen', 'cholesky' or 'leading', got 'qr'"):
        nystroem_factors(np.eye(3), basis="qr")


def _digits_kernel(m, seed=0):
    """An RBF kernel matrix of ``m`` digit-like rows (distinct, well conditioned)."""
    rows = np.random.RandomState(seed).permutation(len(digits_X))[:m]
    Z = digits_X[rows] / 16.0 + 1e-3 * np.random.RandomState(seed).normal(size=(m, 64))
    return rbf_kernel(Z, gamma=0.05)


def test_the_leading_basis_is_the_cholesky_basis_rotated_onto_the_eigen_directions():
    # N N^T = K^-1 to round-off (the same kernel as every basis), phi(Z) = K N with
    # phi(Z) phi(Z)^T = K; its first LEADING_FEATURES features are the leading
    # eigen-directions: their scatter over the landmarks is the top eigenvalues,
    # in order, and every later feature's is below them
    from kernelsvm_keras._kernels import LEADING_FEATURES

    m = 4 * LEADING_FEATURES + 100
    K = _digits_kernel(m)
    N, features, basis = nystroem_factors(K, basis="leading")
    assert basis == "leading"
    np.testing.assert_allclose(N @ (N.T @ K), np.eye(m), atol=1e-8)
    np.testing.assert_allclose(K @ N, features, atol=1e-10)
    np.testing.assert_allclose(features @ features.T, K, atol=1e-10)
    eigen_N, _, eigen_basis = nystroem_factors(K, basis="eigen")
    assert eigen_basis == "eigen"
    np.testing.assert_allclose(
        N @ N.T, eigen_N @ eigen_N.T, rtol=1e-7, atol=1e-7 * np.abs(N).max() ** 2
    )
    values = np.linalg.eigvalsh(K)[::-1]
    scatter = np.einsum("ij,ij->j", features, features)
    lead = scatter[:LEADING_FEATURES]
    assert np.all(lead <= values[:LEADING_FEATURES] * (1 + 1e-9))
    assert np.all(lead >= 0.5 * values[:LEADING_FEATURES])
    assert np.all(lead[:64] >= 0.99 * values[:64])
    assert scatter[LEADING_FEATURES:].max() <= values[LEADING_FEATURES // 2]


def test_the_leading_basis_falls_back_to_the_eigenbasis():
    # where the Cholesky basis does not exist (repeated landmarks), and on few landmarks
    from kernelsvm_keras._kernels import LEADING_FEATURES

    m = 4 * LEADING_FEATURES + 100
    K = _digits_kernel(m)
    K[:, 1] = K[:, 0]
    K[1, :] = K[0, :]
    assert nystroem_factors(K, basis="leading")[2] == "eigen"
    small = _digits_kernel(4 * LEADING_FEATURES)
    assert nystroem_factors(small, basis="leading")[2] == "eigen"
    assert nystroem_factors(small, basis="cholesky")[2] == "cholesky"


@pytest.mark.parametrize("near", [0.0, 1e-4])
def test_repeated_landmarks_keep_the_cholesky_basis_over_those_a_pivoted_factorisation_keeps(near):
    # a semi-definite kernel's landmarks that repeat others (exactly, or within 1e-4): they
    # are dropped (rows of N zero) and the others keep the Cholesky basis; phi(Z) = K N,
    # and phi(Z) phi(Z)^T is K but for the Schur complement of the kept landmarks, positive
    # semi-definite, whose diagonal is the pivots left (their squared distances to the kept
    # landmarks' span: here below the cutoff)
    from kernelsvm_keras._kernels import NYSTROEM_EIGENVALUE_TOL

    m = 60
    rows = np.random.RandomState(0).permutation(len(digits_X))[: m + 50]
    base = digits_X[rows] / 16.0 + 1e-3 * np.random.RandomState(0).normal(size=(m + 50, 64))
    Z = np.vstack([base[:m], base[: m : m // 10] + near])  # (as _digits_kernel: distinct rows)
    K = rbf_kernel(Z, gamma=0.05)
    N, features, used = nystroem_factors(K, basis="cholesky", semidefinite=True)
    assert used == "pivoted"
    kept = np.flatnonzero(np.any(N != 0, axis=1))
    assert m - 1 <= kept.size <= m  # a repeat or its original: one of each pair
    np.testing.assert_allclose(features, K @ N, atol=1e-9)
    cutoff = NYSTROEM_EIGENVALUE_TOL * np.median(np.diag(K))
    left = K - features @ features.T
    np.testing.assert_allclose(left[kept], 0.0, atol=1e-9)
    assert np.abs(left).max() <= np.diag(left).max() + 1e-12 <= cutoff
    if near == 0.0:  # the same kernel as the eigenbasis's, which drops only the repeats
        eigen_N, _, _ = nystroem_factors(K, basis="eigen")
        others = rbf_kernel(base[m:], Z, gamma=0.05)
        np.testing.assert_allclose(
            (others @ N) @ (others @ N).T, (others @ eigen_N) @ (others @ eigen_N).T, atol=1e-8
        )
    inner = np.linalg.inv(K[np.ix_(kept, kept)])  # the kept landmarks' exact RKHS norm
    scale = np.abs(inner).max()
    np.testing.assert_allclose(N[kept] @ N[kept].T, inner, rtol=1e-6, atol=1e-8 * scale)
    assert nystroem_factors(K, basis="cholesky")[2] == "eigen"  # not known semi-definite


def test_the_kept_landmarks_are_factored_without_checking_their_eigenvalues_again(monkeypatch):
    # _independent_landmarks factored the kept landmarks' matrix less the cutoff: its
    # eigenvalues are above it, so their factorisation skips the checks that would say
    # so again (the close pairs, the norm bound, a second factorisation), with the same
    # factor and inverse
    from kernelsvm_keras import _kernels

    K = rbf_kernel(np.vstack([digits_X[:80], digits_X[:10]]) / 16.0, gamma=0.05)
    cutoff = _kernels.NYSTROEM_EIGENVALUE_TOL * np.median(np.diag(K))
    kept = _kernels._independent_landmarks(K, cutoff)
    assert kept is not None and kept.size < len(K)
    Kk = K[np.ix_(kept, kept)]
    checked = _kernels._cholesky_above(Kk.copy(), cutoff)
    assert checked is not None
    N, _, used = nystroem_factors(K, basis="cholesky", semidefinite=True)
    assert used == "pivoted"
    np.testing.assert_array_equal(np.flatnonzero(np.any(N != 0, axis=1)), kept)

    def refused(*args, **kwargs):
        raise AssertionError("checked again")

    monkeypatch.setattr(_kernels, "_close_pair", refused)
    monkeypatch.setattr(_kernels, "_squared_norm_bound", refused)
    known = _kernels._cholesky_above(Kk.copy(), cutoff, above=True)
    for a, b in zip(known, checked, strict=True):
        np.testing.assert_array_equal(a, b)


def test_the_leading_basis_of_repeated_landmarks_stays_the_eigenbasis():
    # its rotation over the kept landmarks served Newton's iterations less well
    from kernelsvm_keras._kernels import LEADING_FEATURES

    K = _digits_kernel(4 * LEADING_FEATURES + 100)
    K = K[np.r_[np.arange(len(K)), 0, 1]][:, np.r_[np.arange(len(K)), 0, 1]]
    assert nystroem_factors(K, basis="cholesky", semidefinite=True)[2] == "pivoted"
    assert nystroem_factors(K, basis="leading", semidefinite=True)[2] == "eigen"


def test_a_semidefinite_kernel_is_named_by_the_landmark_map():
    assert LandmarkMap("rbf")._semidefinite() and LandmarkMap("laplacian")._semidefinite()
    assert LandmarkMap("linear")._semidefinite() and LandmarkMap("poly", coef0=1)._semidefinite()
    assert not LandmarkMap("poly", coef0=-1)._semidefinite()
    assert not LandmarkMap("sigmoid")._semidefinite()
    assert not LandmarkMap(lambda A, B: A @ B.T)._semidefinite()


def test_a_fit_on_repeated_rows_reaches_the_eigenbasis_optimum(monkeypatch):
    # rows that repeat (tabular data): the landmark map drops the repeated landmarks and
    # the fit reaches the objective of the eigenbasis, which drops their directions (the
    # fit's merge of repeated rows off, so that the map meets them)
    from kernelsvm_keras import _kernels, _rows

    monkeypatch.setattr(_rows.RepeatedRows, "find", classmethod(lambda cls, X, labels: None))

    Xr = np.vstack([X_train[:300], X_train[:150]])
    yr = np.r_[y_train[:300], y_train[:150]]
    params = dict(C=10.0, n_components=350, loss="hinge", tol=1e-5, random_state=0)
    pivoted = KerasSVC(**params).fit(Xr, yr)
    assert np.count_nonzero(np.all(pivoted.normalization_ == 0, axis=1)) > 0
    monkeypatch.setattr(_kernels, "_pivoted_factors", lambda *args: None)
    eigen = KerasSVC(**params).fit(Xr, yr)
    assert not np.any(np.all(eigen.normalization_ == 0, axis=1))
    np.testing.assert_allclose(pivoted.objective_, eigen.objective_, rtol=1e-5)
    np.testing.assert_allclose(
        pivoted.decision_function(X_test), eigen.decision_function(X_test), atol=1e-3
    )


@pytest.mark.parametrize("basis", ["eigen", "cholesky"])
@pytest.mark.parametrize("rows", [40, 60])
def test_a_map_over_every_fit_row_keeps_their_features_once(basis, rows):
    Xf = X[:rows]
    landmark = LandmarkMap("rbf", 0.5, n_components=40, basis=basis)
    precomputed = PrecomputedMap(n_components=40, basis=basis)
    landmark.fit(Xf, np.random.RandomState(0), keep_fit_rows=True)
    precomputed.fit(rbf_kernel(Xf, gamma=0.5), np.random.RandomState(0), keep_fit_rows=True)
    for fitted, inputs in ((landmark, Xf), (precomputed, rbf_kernel(Xf, gamma=0.5))):
        kept = fitted.fit_rows()
        if rows > 40:  # some rows are not landmarks: nothing to keep
            assert kept is None
            continue
        features, gram = kept
        np.testing.assert_allclose(features, fitted.features(inputs), atol=1e-9)
        if basis == "cholesky":  # the Gram matrix is the kernel itself
            np.testing.assert_allclose(gram, features @ features.T, atol=1e-12)
        else:
            assert gram is None
        assert fitted.fit_rows() is None  # given once: not part of the fitted map
    unasked = LandmarkMap("rbf", 0.5, n_components=40).fit(X[:40], np.random.RandomState(0))
    assert unasked.fit_rows() is None


def test_every_fit_row_over_landmarks_a_pivoted_factorisation_keeps_has_its_gram_matrix():
    # some rows repeat others: the pivoted basis leaves them out; their Gram matrix is
    # the kernel but between the rows left out, and the fit on it is the fit on the
    # features' own products
    Xf = np.vstack([X[:30], X[:10]])
    landmark = LandmarkMap("rbf", 0.5, n_components=40, basis="cholesky")
    landmark.fit(Xf, np.random.RandomState(0), keep_fit_rows=True)
    dropped = landmark.component_indices_[~np.any(landmark.normalization_, axis=1)]
    assert dropped.size >= 10
    features, gram = landmark.fit_rows()
    np.testing.assert_allclose(features, landmark.features(Xf), atol=1e-9)
    np.testing.assert_allclose(gram, features @ features.T, atol=1e-10)
    K = rbf_kernel(Xf, gamma=0.5)
    kept = np.setdiff1d(np.arange(len(Xf)), dropped)
    np.testing.assert_allclose(gram[kept], K[kept], atol=1e-12)


def test_layer_adapt_draws_the_landmarks_of_sklearn():
    layer = NystroemFeatures(n_components=60, gamma=0.3, seed=4)
    layer.adapt(X)
    reference = Nystroem(gamma=0.3, n_components=60, random_state=4).fit(X)
    np.testing.assert_allclose(to_numpy(layer.components), reference.components_, atol=1e-7)
    ours, theirs = to_numpy(layer(X)), reference.transform(X)
    np.testing.assert_allclose(ours @ ours.T, theirs @ theirs.T, atol=2e-5)  # float32 layer


def test_layer_before_adapt_outputs_zeros_and_has_no_trainable_weights():
    layer = NystroemFeatures(8, gamma=0.5)
    out = to_numpy(layer(X.astype(np.float32)))
    assert out.shape == (120, 8) and np.all(out == 0)
    assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == 2
    assert layer.compute_output_shape((None, 5)) == (None, 8)


def test_layer_saved_model_round_trip(tmp_path):
    layer = NystroemFeatures(32, gamma=0.3, seed=0, name="nys")
    layer.adapt(X)
    model = keras.Sequential([keras.Input((5,)), layer, keras.layers.Dense(2)])
    path = tmp_path / "nys.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(to_numpy(loaded(X)), to_numpy(model(X)), rtol=1e-6)
    clone = NystroemFeatures.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()


@pytest.mark.parametrize(
    "kwargs, error",
    [
        (dict(n_components=0), ValueError),
        (dict(n_components=2.5), TypeError),
        (dict(n_components=4, gamma=-1.0), ValueError),
        (dict(n_components=4, kernel="chi2"), ValueError),
        (dict(n_components=4, kernel="poly", degree=-1), ValueError),
        (dict(n_components=4, seed="a"), TypeError),
    ],
)
def test_layer_invalid_arguments(kwargs, error):
    with pytest.raises(error):
        NystroemFeatures(**kwargs)


def test_layer_adapt_needs_enough_rows():
    with pytest.raises(ValueError, match=r"at least n_components=200 rows, got shape \(120, 5\)"):
        NystroemFeatures(200).adapt(X)


# -- KerasSVC(approximation="nystroem") ------------------------------------------


def nystroem_svc(**params):
    return KerasSVC(approximation="nystroem", n_components=300, C=10.0, random_state=0, **params)


def test_svc_landmarks_and_kernel_are_sklearn_nystroem():
    est = nystroem_svc().fit(X_train, y_train)
    reference = Nystroem(gamma=est.gamma_, n_components=300, random_state=0).fit(X_train)
    np.testing.assert_array_equal(est.component_indices_, reference.component_indices_)
    np.testing.assert_array_equal(est.components_, reference.components_)
    ours, theirs = est._map.features(X_test), reference.transform(X_test)
    np.testing.assert_allclose(ours @ ours.T, theirs @ theirs.T, atol=1e-8)
    assert not hasattr(est, "random_weights_")
    assert est.coef_.shape == (10, 300)


def test_svc_decision_function_is_the_linear_model_on_its_features():
    est = nystroem_svc().fit(X_train, y_train)
    np.testing.assert_allclose(
        est.decision_function(X_test),
        est._map.features(X_test) @ est.coef_.T + est.intercept_,
        atol=1e-10,
    )
    assert est.score(X_test, y_test) >= 0.97


def test_svc_is_as_accurate_as_random_features_with_fewer_of_them():
    # Near the optimum (tol=1e-4), so that the maps are compared, not where two
    # solves stop within the default tol (one test row of 200 apart at 1e-3).
    nystroem = nystroem_svc().set_params(n_components=150, tol=1e-4).fit(X_train, y_train)
    fourier = KerasSVC(
        n_components=150, C=10.0, tol=1e-4, approximation="random_fourier", random_state=0
    )
    fourier.fit(X_train, y_train)
    assert nystroem.score(X_test, y_test) >= fourier.score(X_test, y_test)


def test_svc_fewer_rows_than_landmarks_uses_every_row():
    est = nystroem_svc().fit(X_train[:100], y_train[:100])
    assert est.components_.shape == (100, 64) and est.coef_.shape == (10, 100)
    np.testing.assert_array_equal(np.sort(est.component_indices_), np.arange(100))


def test_svc_basis_follows_the_route_and_does_not_change_the_model(monkeypatch):
    # small problems (the exact dual) take the Cholesky basis, others the
    # leading one (here the eigenbasis: few landmarks); the model is the same,
    # the features only rotated
    small = KerasSVC(gamma=0.02, random_state=0).fit(X_train, y_train)
    assert small._map.basis == "cholesky" and not small._map.fit_rows()
    monkeypatch.setattr(_base, "may_serve_dual", lambda *args: False)
    large = KerasSVC(gamma=0.02, random_state=0).fit(X_train, y_train)
    assert large._map.basis == "leading"
    monkeypatch.undo()
    np.testing.assert_allclose(
        small.decision_function(X_test), large.decision_function(X_test), atol=1e-8
    )
    np.testing.assert_allclose(small.objective_, large.objective_, rtol=1e-9)
    # a search's folds and refit too
    search = KerasSVCCV(Cs=[1.0], gammas=[0.02], cv=2, random_state=0).fit(X_train, y_train)
    assert search._map.basis == "cholesky"
    np.testing.assert_allclose(
        search.decision_function(X_test), small.decision_function(X_test), atol=1e-8
    )


def test_the_basis_is_the_leading_one_wherever_newton_solves():
    # the leading-block preconditioner needs the leading eigen-directions first:
    # more rows than the dual takes; a small problem goes to the dual, the
    # one-class SVM's too
    from kernelsvm_keras import KerasOneClassSVM, KerasSVR, _dual

    many = _dual._MAX_ROWS + 1
    assert KerasSVC(n_components=8)._map_for(many).basis == "leading"
    assert KerasSVR(n_components=8)._map_for(many).basis == "leading"
    assert KerasSVC(n_components=8)._map_for(100).basis == "cholesky"
    assert KerasOneClassSVM(n_components=8)._map_for(100).basis == "cholesky"
    # the hinge's working sets are an exact dual too, which does not see it
    assert KerasSVC(n_components=8, loss="hinge")._map_for(many).basis == "cholesky"
    assert KerasSVR(n_components=8, loss="epsilon_insensitive")._map_for(many).basis == "cholesky"
    assert KerasOneClassSVM(n_components=8)._map_for(many).basis == "cholesky"


def test_the_hinge_s_working_sets_reach_the_same_model_in_either_basis(monkeypatch):
    from kernelsvm_keras import _dual

    results = recording_working_sets(monkeypatch)
    monkeypatch.setattr(_dual, "_MAX_ROWS", 300)  # X_train's rows go to working sets
    make = lambda: KerasSVC(loss="hinge", gamma=0.02, tol=1e-6, random_state=0)  # noqa: E731
    cholesky = make().fit(X_train, y_train)
    assert cholesky._map.basis == "cholesky" and results[0] is not None
    monkeypatch.setattr(_base, "may_serve_working_sets", lambda *args: False)
    eigen = make().fit(X_train, y_train)
    assert eigen._map.basis == "leading"  # (the eigenbasis on its 600 landmarks)
    assert np.all(cholesky.dual_gap_ <= 1e-6) and np.all(eigen.dual_gap_ <= 1e-6)
    np.testing.assert_allclose(cholesky.objective_, eigen.objective_, rtol=1e-5)
    np.testing.assert_allclose(
        cholesky.decision_function(X_test), eigen.decision_function(X_test), atol=1e-3
    )


def test_svc_sparse_input_equals_dense():
    # a fixed gamma: "scale" reads X.var(), whose rounding differs between formats
    dense = nystroem_svc(gamma=0.05).fit(X_train, y_train)
    sparse = nystroem_svc(gamma=0.05).fit(sp.csr_matrix(X_train), y_train)
    np.testing.assert_array_equal(sparse.components_, dense.components_)
    np.testing.assert_allclose(
        sparse.decision_function(sp.csr_matrix(X_test)), dense.decision_function(X_test), atol=1e-5
    )


def test_svc_random_features_need_a_shift_invariant_kernel_and_a_failed_fit_keeps_the_model():
    est = nystroem_svc().fit(X_train, y_train)
    before = est.decision_function(X_test)
    with pytest.raises(ValueError, match="not kernel='poly'; approximation='nystroem'"):
        est.set_params(kernel="poly", approximation="random_fourier").fit(X_train, y_train)
    np.testing.assert_array_equal(est.decision_function(X_test), before)


def test_svc_switching_approximation_replaces_the_fitted_map():
    est = nystroem_svc(warm_start=True).fit(X_train, y_train)
    est.set_params(approximation="random_fourier").fit(X_train, y_train)
    assert hasattr(est, "random_weights_")
    assert not any(hasattr(est, name) for name in ("components_", "normalization_"))
    fresh = KerasSVC(n_components=300, C=10.0, approximation="random_fourier", random_state=0).fit(
        X_train, y_train
    )
    np.testing.assert_allclose(est.decision_function(X_test), fresh.decision_function(X_test))
    est.set_params(approximation="nystroem").fit(X_train, y_train)
    assert not hasattr(est, "random_weights_") and hasattr(est, "components_")


def test_svc_warm_start_keeps_the_landmarks_and_continues(newton):
    cold = nystroem_svc().fit(X_train, y_train)
    warm = nystroem_svc(warm_start=True).set_params(C=1.0).fit(X_train, y_train)
    components = warm.components_
    warm.set_params(C=10.0).fit(X_train, y_train)
    assert warm.components_ is components
    assert warm.n_iter_.max() < cold.n_iter_.max()
    np.testing.assert_allclose(warm.objective_, cold.objective_, rtol=2e-3)


def test_svc_partial_fit_takes_landmarks_from_the_first_chunk():
    est = nystroem_svc()
    classes = np.unique(y_train)
    chunks = np.array_split(np.random.RandomState(0).permutation(len(y_train)), 3)
    for _ in range(5):
        for chunk in chunks:
            est.partial_fit(X_train[chunk], y_train[chunk], classes=classes)
    assert np.isin(est.component_indices_, np.arange(len(chunks[0]))).all()
    np.testing.assert_array_equal(est.components_, X_train[chunks[0]][est.component_indices_])
    assert (
        est.score(X_test, y_test)
        >= nystroem_svc().fit(X_train, y_train).score(X_test, y_test) - 0.02
    )


# -- landmarks on the support vectors (approximation="auto") ---------------------

# Two classes apart: few support vectors (SVC: 36 to 70 of 400 rows)
X_sep, y_sep = make_classification(
    400, 4, n_informative=3, n_redundant=0, class_sep=2.0, flip_y=0, random_state=0
)


def test_the_draw_takes_the_given_rows_first_then_nystroem_s():
    nystroem = np.random.RandomState(0).permutation(50)
    np.testing.assert_array_equal(_draw_landmarks(np.random.RandomState(0), 50, 10), nystroem[:10])
    held = _draw_landmarks(np.random.RandomState(0), 50, 10, first=[7, 3])
    rest = [i for i in nystroem if i not in (3, 7)]
    np.testing.assert_array_equal(held, [7, 3] + rest[:8])


@pytest.mark.parametrize("C", [1.0, 10.0])
def test_landmarks_on_few_support_vectors_solve_svc_s_problem(C, monkeypatch):
    # a landmark fit solves the kernel SVM over the landmarks' span; SVC's
    # solution is in the span of its support vectors: once they are landmarks,
    # the fit reaches SVC's objective (to what the map drops: here 9 of the 100
    # landmarks, nearly in the others' span, 1.1e-4 of the objective at C=10; the
    # eigenbasis's dropped eigenvalues, 1.6e-5). Each fit's distance to it is
    # certified (_kernel_gap), and true. (The kernel SVM solved on its kernel
    # first would give the landmarks at once: test_on_kernel.py; off here.)
    monkeypatch.setattr(_dual, "_KERNEL_FLOPS", 0)
    gaps = []
    kernel_gap = _base._kernel_gap

    def recorded(*args):
        gaps.append(kernel_gap(*args))
        return gaps[-1]

    monkeypatch.setattr(_base, "_kernel_gap", recorded)
    params = dict(loss="hinge", C=C, n_components=100, random_state=0, tol=1e-6)
    auto = KerasSVC(**params).fit(X_sep, y_sep)
    drawn = KerasSVC(approximation="nystroem", **params).fit(X_sep, y_sep)
    svc = SVC(C=C, gamma=auto.gamma_, tol=1e-10).fit(X_sep, y_sep)
    optimum = kernel_objective(
        X_sep, 2.0 * y_sep - 1, svc.support_, svc.dual_coef_[0], svc.intercept_[0], auto.gamma_, C
    )
    assert np.isin(drawn.support_, auto.component_indices_).all()
    np.testing.assert_allclose(auto.objective_[0], optimum, rtol=2e-4)
    assert drawn.objective_[0] > optimum * 1.005  # the drawn landmarks: 0.9-2.1% above
    assert np.mean(auto.predict(X_sep) == svc.predict(X_sep)) == 1.0
    # the first certificate is the drawn fit's (the same draw, before any move)
    true_distance = (drawn.objective_[0] - optimum) / drawn.objective_[0]
    assert true_distance <= gaps[0][0] <= 1.5 * true_distance + 1e-6  # 1.0-1.2 times
    assert gaps[-1][0] < 2e-4


def test_the_kernel_excess_is_zero_between_landmarks_and_positive_beyond():
    landmark = LandmarkMap(gamma=0.5, n_components=30).fit(X, np.random.RandomState(0))
    beta = np.random.RandomState(1).normal(size=(30, 2))
    held = landmark.kernel_excess(X, landmark.component_indices_, beta)
    np.testing.assert_allclose(held, 0.0, atol=1e-9)
    others = np.setdiff1d(np.arange(len(X)), landmark.component_indices_)[:30]
    beyond = landmark.kernel_excess(X, others, beta)
    K = rbf_kernel(X[others], gamma=0.5)
    Phi = landmark.features(X[others])
    np.testing.assert_allclose(beyond, 0.5 * np.diag(beta.T @ (K - Phi @ Phi.T) @ beta))
    assert np.all(beyond > 0)
    precomputed = PrecomputedMap(n_components=30).fit(
        rbf_kernel(X, gamma=0.5), np.random.RandomState(0)
    )
    np.testing.assert_allclose(
        precomputed.kernel_excess(rbf_kernel(X, gamma=0.5), others, beta), beyond
    )


def test_landmarks_on_few_support_vectors_solve_svr_s_problem():
    Xr, yr = make_regression(400, 4, noise=5.0, random_state=0)
    yr = yr / yr.std()
    params = dict(C=10.0, epsilon=0.3, loss="epsilon_insensitive", n_components=100, tol=1e-6)
    auto = KerasSVR(random_state=0, **params).fit(Xr, yr)
    drawn = KerasSVR(approximation="nystroem", random_state=0, **params).fit(Xr, yr)
    svr = SVR(C=10.0, epsilon=0.3, gamma=auto.gamma_, tol=1e-10).fit(Xr, yr)
    optimum = kernel_objective(
        Xr, yr, svr.support_, svr.dual_coef_[0], svr.intercept_[0], auto.gamma_, 10.0, 0.3
    )
    np.testing.assert_allclose(auto.objective_[0], optimum, rtol=1e-5)
    assert drawn.objective_[0] > optimum * 1.05  # 18.06 against 15.32


def test_the_one_class_svm_moves_its_landmarks_onto_its_support_vectors_too(monkeypatch):
    monkeypatch.setattr(_dual, "_KERNEL_FLOPS", 0)  # (its kernel's own route: test_on_kernel.py)
    Xo, _ = make_blobs(400, 3, centers=1, random_state=0)
    params = dict(nu=0.05, n_components=100, random_state=0, tol=1e-6)
    auto = KerasOneClassSVM(**params).fit(Xo)
    drawn = KerasOneClassSVM(approximation="nystroem", **params).fit(Xo)
    assert np.isin(drawn.support_, auto.component_indices_).all()
    assert auto.objective_[0] < drawn.objective_[0]


def test_landmarks_stay_drawn_where_the_support_vectors_do_not_fit():
    # noisy labels: more support vectors than landmarks; auto is Nystroem's draw
    Xn, yn = make_classification(400, 4, flip_y=0.3, random_state=0)
    params = dict(loss="hinge", n_components=50, random_state=0)
    auto = KerasSVC(**params).fit(Xn, yn)
    drawn = KerasSVC(approximation="nystroem", **params).fit(Xn, yn)
    assert drawn.support_.size > 50
    np.testing.assert_array_equal(auto.component_indices_, drawn.component_indices_)
    np.testing.assert_array_equal(auto.coef_, drawn.coef_)


def test_a_warm_start_keeps_the_landmarks_it_moved():
    est = KerasSVC(loss="hinge", n_components=100, random_state=0, warm_start=True)
    est.fit(X_sep, y_sep)
    landmarks = est.component_indices_
    assert not np.array_equal(landmarks, np.random.RandomState(0).permutation(400)[:100])
    est.set_params(C=2.0).fit(X_sep, y_sep)
    assert est.component_indices_ is landmarks


def test_a_precomputed_kernel_moves_its_landmarks_as_the_kernel_itself_does():
    params = dict(loss="hinge", n_components=100, random_state=0, tol=1e-6)
    direct = KerasSVC(gamma=0.25, **params).fit(X_sep, y_sep)
    K = rbf_kernel(X_sep, gamma=0.25)
    precomputed = KerasSVC(kernel="precomputed", **params).fit(K, y_sep)
    drawn = KerasSVC(kernel="precomputed", approximation="nystroem", **params).fit(K, y_sep)
    np.testing.assert_array_equal(precomputed.component_indices_, direct.component_indices_)
    np.testing.assert_allclose(precomputed.objective_, direct.objective_, rtol=1e-6)
    assert precomputed.objective_[0] < 0.8 * drawn.objective_[0]  # 31.6 against 40.6


# -- host products: NumPy's BLAS, or SciPy's in a small fit -----------------


def test_host_products_are_numpy_s_outside_small_fits_and_scipy_s_inside():
    from kernelsvm_keras import _blas
    from kernelsvm_keras._blas import scipy_products

    rng = np.random.RandomState(0)
    A, B, S = rng.randn(7, 5), rng.randn(5, 3), sp.csr_array(rng.randn(7, 5))
    np.testing.assert_array_equal(_blas.matmul(A, B), A @ B)  # NumPy's own
    assert type(_blas.matmul(S, S.T)) is type(S @ S.T)
    with scipy_products():
        with scipy_products():
            pass
        _products_are_numpy_s(_blas.matmul)  # (still inside after a nested context)
    assert not getattr(_blas._STATE, "scipy", False)  # restored after the context


def _products_are_numpy_s(matmul):
    rng = np.random.RandomState(0)
    A, B = rng.randn(7, 5), rng.randn(5, 3)
    for a in (A, np.asfortranarray(A), rng.randn(7, 10)[:, ::2], A.astype(np.float32)):
        for b in (B, np.asfortranarray(B), rng.randn(10, 3)[::2]):
            C = matmul(a, b)
            assert C.dtype == np.float64 and C.flags.c_contiguous
            np.testing.assert_allclose(C, np.asarray(a, dtype=np.float64) @ b, rtol=1e-14)
    for a, b in ((sp.csr_array(A), B), (A, sp.csr_matrix(B)), (sp.csr_array(A), sp.csc_array(B))):
        C = matmul(a, b)
        assert isinstance(C, np.ndarray) and C.dtype == np.float64
        np.testing.assert_allclose(C, A @ B, rtol=1e-14)
    v, w = rng.randn(5), rng.randn(7)
    for a, b in ((A, v), (w, A), (v, v), (A, v[:, None]), (w[None, :], A)):
        np.testing.assert_allclose(matmul(a, b), a @ b, rtol=1e-14)
        assert matmul(a, b).shape == (a @ b).shape
    big = rng.randn(600, 4)  # (dsyrk from _SYRK_ROWS rows)
    for a in (A, np.asfortranarray(A), rng.randn(7, 10)[:, ::2], A[:1], big, big.T):  # Gram
        G = matmul(a, a.T)
        np.testing.assert_allclose(G, a @ a.T, rtol=1e-14)
        np.testing.assert_array_equal(G, G.T)
        np.testing.assert_allclose(matmul(a.T, a), a.T @ a, rtol=1e-14)
    assert matmul(np.zeros((0, 5)), B).shape == (0, 3)
    assert matmul(A, np.zeros((5, 0))).shape == (7, 0)
    with pytest.raises(ValueError, match=r"\(m, k\) and \(k, n\)|matmul: Input operand 1"):
        matmul(A, B.T)


def test_a_newton_fit_in_the_leading_basis_reaches_the_eigenbasis_s_optimum(monkeypatch, newton):
    # more landmarks than the eigenbasis is kept for: the same model and objective,
    # in about as many Newton iterations
    from kernelsvm_keras import _maps
    from kernelsvm_keras._kernels import LEADING_FEATURES

    Xd, yd = digits_X[:1300] / 16.0, digits_y[:1300]
    Xd = Xd + 1e-3 * np.random.RandomState(0).normal(size=Xd.shape)  # (distinct rows)
    make = lambda: KerasSVC(n_components=4 * LEADING_FEATURES + 100, random_state=0)  # noqa: E731
    leading = make().fit(Xd, yd)
    assert leading._map.basis == "leading"
    bases = []
    factors = _maps._nystroem_factors

    def eigen_only(kernel_matrix, tol, basis, *args):
        result = factors(kernel_matrix, tol, "eigen", *args)
        bases.append(result[2])
        return result

    monkeypatch.setattr(_maps, "_nystroem_factors", eigen_only)
    eigen = make().fit(Xd, yd)
    assert bases and set(bases) == {"eigen"}  # (landmarks moved onto the support vectors too)
    assert np.all(leading.dual_gap_ <= leading.tol) and np.all(eigen.dual_gap_ <= eigen.tol)
    np.testing.assert_allclose(leading.objective_, eigen.objective_, rtol=2 * leading.tol)
    assert np.mean(leading.predict(X_test) == eigen.predict(X_test)) >= 0.99
    assert leading.n_iter_.max() <= eigen.n_iter_.max() + 2


@pytest.mark.parametrize("basis", ["eigen", "cholesky", "leading"])
def test_the_landmarks_features_only_where_asked(basis):
    # a map whose landmarks are not its fit rows does not use phi(Z): not computed
    from kernelsvm_keras._kernels import LEADING_FEATURES

    K = _digits_kernel(4 * LEADING_FEATURES + 50)
    N, features, used = nystroem_factors(K, basis=basis)
    bare_N, bare_features, bare_used = nystroem_factors(K, basis=basis, features=False)
    assert bare_features is None and features is not None and bare_used == used == basis
    np.testing.assert_array_equal(bare_N, N)
    landmark = LandmarkMap("rbf", 0.5, n_components=40, basis=basis)
    landmark.fit(X, np.random.RandomState(0), keep_fit_rows=True)
    assert landmark.fit_rows() is None  # (120 rows, 40 landmarks)
