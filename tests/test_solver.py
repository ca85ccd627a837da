"""Oracle tests: the objective reached is the SVM optimum (C means what it means)."""

import numpy as np
import pytest
from scipy.optimize import minimize
from sklearn.datasets import make_classification
from sklearn.kernel_approximation import Nystroem, RBFSampler

from kernelsvm_keras import KerasLinearSVC, KerasSVC

from oracles import reference_optimum


def primal(coef, intercept, X, y_pm, weights, C, loss):
    """The SVM primal objective (the README's; ``kernelsvm_keras._solver``), in float64."""
    violation = np.maximum(0.0, 1.0 - y_pm * (X @ coef + intercept))
    losses = violation if loss == "hinge" else violation**2
    return 0.5 * coef @ coef + C * np.sum(weights * losses)


def reference_objective(X, y_pm, weights, C, loss):
    """The optimum P*, as the optimum of the dual QP solved by scipy's SLSQP.

    max sum(a) - 1/2 ||X.T (a y)||^2 [- sum a^2 / (4 C s)]  s.t.  a . y = 0,
    0 <= a <= C s (hinge) or a >= 0 (squared hinge). By strong duality its
    value is the primal optimum with an unpenalised intercept.
    """
    G = (X * y_pm[:, None]) @ (X * y_pm[:, None]).T
    cs = C * weights
    ridge = np.zeros_like(cs) if loss == "hinge" else 1.0 / (2.0 * cs)

    def negative_dual(a):
        Ga = G @ a
        return 0.5 * a @ Ga + 0.5 * ridge @ a**2 - a.sum(), Ga + ridge * a - 1.0

    upper = cs if loss == "hinge" else np.full_like(cs, None)
    result = minimize(
        negative_dual,
        np.zeros_like(cs),
        jac=True,
        method="SLSQP",
        bounds=list(zip(np.zeros_like(cs), upper, strict=True)),
        constraints=[{"type": "eq", "fun": lambda a: a @ y_pm, "jac": lambda a: y_pm}],
        options={"ftol": 1e-12, "maxiter": 2000},
    )
    if not result.success:
        # SLSQP can fail on the box-constrained hinge dual at a large C (seen
        # with scipy 1.17 at C=100), and on the squared hinge's (scipy 1.11):
        # libsvm solves the first exactly, a finite Newton method the second
        return reference_optimum(X.astype(np.float64), y_pm, weights, C, loss)
    return -result.fun


X, y = make_classification(
    n_samples=150, n_features=8, n_informative=5, n_classes=3, random_state=0
)
X = X.astype(np.float32)


@pytest.mark.parametrize("loss", ["hinge", "squared_hinge"])
@pytest.mark.parametrize("C", [0.01, 1.0, 100.0])
def test_linear_objective_matches_reference(loss, C):
    weights = np.random.RandomState(0).uniform(0.5, 2.0, size=len(y))
    est = KerasLinearSVC(C=C, loss=loss, tol=1e-4, max_iter=3000)
    est.fit(X, y, sample_weight=weights)
    X64 = X.astype(np.float64)
    for k in range(3):  # one-vs-rest
        y_pm = np.where(y == k, 1.0, -1.0)
        ours = primal(est.coef_[k], est.intercept_[k], X64, y_pm, weights, C, loss)
        ref = reference_objective(X64, y_pm, weights, C, loss)
        assert ours == pytest.approx(est.objective_[k], rel=1e-4)
        # tol=1e-4 certifies ours <= (1 + 1e-4) P*; float32 rounding allows a hair more
        assert 1 - 1e-5 <= ours / ref <= 1 + 3e-4


@pytest.mark.parametrize("approximation", ["random_fourier", "nystroem"])
@pytest.mark.parametrize("loss", ["hinge", "squared_hinge"])
def test_kernel_objective_matches_reference_on_its_feature_map(loss, approximation):
    yb = (y == 1).astype(int)
    est = KerasSVC(
        C=1.0, gamma=0.1, n_components=100, approximation=approximation, loss=loss, random_state=0
    ).fit(X, yb)
    # sklearn's transformer with the same seed: the same map (Nystroem: in another
    # basis of the same span, which leaves the optimum unchanged)
    Reference = RBFSampler if approximation == "random_fourier" else Nystroem
    features = Reference(gamma=0.1, n_components=100, random_state=0).fit_transform(
        X.astype(np.float64)
    )
    y_pm = np.where(yb == 1, 1.0, -1.0)
    ones = np.ones(len(yb))
    ours_features = est._map.features(X.astype(np.float64))
    ours = primal(est.coef_[0], est.intercept_[0], ours_features, y_pm, ones, 1.0, loss)
    ref = reference_objective(features, y_pm, ones, 1.0, loss)
    # default tol=1e-3 certifies ours <= (1 + 1e-3) * optimum
    assert ref * (1 - 1e-4) <= ours <= ref * (1 + 1.5e-3)
    assert est.dual_gap_[0] <= 1e-3


def test_class_weight_enters_the_objective_as_sample_weight():
    cw = {0: 3.0, 1: 0.5, 2: 1.0}
    a = KerasLinearSVC(class_weight=cw, tol=1e-5).fit(X, y)
    b = KerasLinearSVC(tol=1e-5).fit(X, y, sample_weight=np.vectorize(cw.get)(y))
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-5, atol=1e-6)
    assert not np.allclose(a.coef_, KerasLinearSVC(tol=1e-5).fit(X, y).coef_, atol=1e-2)


def test_converged_gap_is_reported_and_below_tol():
    est = KerasLinearSVC(C=10.0, tol=1e-4).fit(X, y)
    assert est.dual_gap_.shape == (3,)
    assert np.all(est.dual_gap_ <= 1e-4)
    assert est.n_iter_ >= 1


@pytest.mark.parametrize("approximation", ["random_fourier", "nystroem"])
@pytest.mark.parametrize("n_components", [16, 200])  # D x D and Woodbury preconditioners
@pytest.mark.parametrize("loss", ["hinge", "squared_hinge"])
def test_streamed_features_reach_the_optimum(
    monkeypatch, n_components, loss, approximation, newton
):
    # cache_size=0 streams the features: conjugate gradients then run with the
    # sampled-Hessian preconditioner, here at every Newton step (no direct
    # Woodbury steps), for every one-vs-rest column. Landmarks are streamed as
    # their kernel block, the normalisation applied on the coefficients' side.
    monkeypatch.setattr("kernelsvm_keras._solver._DIRECT_MAX_ROWS", 0)
    monkeypatch.setattr("kernelsvm_keras._certificate._SUPPORT_MAX_ROWS", 0)  # (the same bound)
    est = KerasSVC(
        C=10.0,
        gamma=0.1,
        n_components=n_components,
        loss=loss,
        cache_size=0,
        batch_size=40,
        tol=1e-3,
        max_iter=3000,
        approximation=approximation,
        random_state=0,
    ).fit(X, y)
    if approximation == "nystroem":
        features = Nystroem(gamma=0.1, n_components=n_components, random_state=0).fit(X)
        assert np.array_equal(features.component_indices_, est.component_indices_)
        features = est._map.features(X)  # the same map, in est's normalisation
    else:
        features = RBFSampler(gamma=0.1, n_components=n_components, random_state=0)
        features = features.fit_transform(X.astype(np.float64))
    ones = np.ones(len(y))
    for k in range(3):
        y_pm = np.where(y == k, 1.0, -1.0)
        ours = primal(est.coef_[k], est.intercept_[k], features, y_pm, ones, 10.0, loss)
        ref = reference_objective(features, y_pm, ones, 10.0, loss)
        assert ref * (1 - 1e-4) <= ours <= ref * (1 + 1.5e-3)


def _hessian(Phi, curv, damping, intercept):
    """The Newton system of the solver, [phi, 1]^T diag(c) [phi, 1] + diag(1, ..., 1, damping)."""
    A = np.hstack([Phi, np.ones((len(Phi), 1))]) if intercept else Phi
    R = np.eye(A.shape[1])
    if intercept:
        R[-1, -1] = damping
    return R + A.T @ (curv[:, None] * A)


@pytest.mark.parametrize("intercept", [True, False])
def test_hessian_directions_solve_each_columns_own_newton_system(intercept):
    # each column's Hessian sums its own curved rows, with their curvatures
    from kernelsvm_keras import _design, _solver

    rng = np.random.RandomState(0)
    Phi = rng.normal(size=(70, 6)).astype(np.float32)
    curv = np.where(rng.uniform(size=(70, 3)) < 0.5, rng.uniform(0.5, 2.0, size=(70, 3)), 0.0)
    curv[:, 2] = 0.0
    curv[:5, 2] = 1.0  # a column with few curved rows
    design = _design.RowBlocks(Phi, None, 6, batch_size=16, cache_bytes=10**9)
    gW, gb = rng.normal(size=(6, 3)), rng.normal(size=3)
    damping = _solver._INTERCEPT_DAMPING if intercept else 0.0
    dW, db = np.zeros((6, 3)), np.zeros(3)
    columns = np.array([0, 2])
    _solver._hessian_directions(design, columns, curv > 0, curv, gW, gb, damping, dW, db)
    for k in columns:
        H = _hessian(Phi.astype(np.float64), curv[:, k], damping, intercept)
        g = np.append(gW[:, k], gb[k]) if intercept else gW[:, k]
        d = np.linalg.solve(H, -g)
        np.testing.assert_allclose(dW[:, k], d[:6], rtol=1e-10, atol=1e-12)
        assert db[k] == (pytest.approx(d[6], rel=1e-10) if intercept else 0.0)
    assert not dW[:, 1].any() and db[1] == 0.0  # a column not asked for is left alone


@pytest.mark.parametrize("intercept", [True, False])
def test_centered_diagonal_preconditioner_is_its_formula(intercept):
    # P = diag(1 + diag(A_c), damping) + [h; s][h; s]^T / s: exact on the
    # Hessian's mean direction and the intercept's coupling, diagonal elsewhere.
    from keras import ops

    from kernelsvm_keras import _design, _solver

    rng = np.random.RandomState(0)
    Phi = (rng.normal(size=(60, 5)) + 2.0).astype(np.float32)  # features with a mean
    curv = np.where(rng.uniform(size=60) < 0.6, 2.0, 0.0).astype(np.float32)
    design = _design.RowBlocks(Phi, None, 5, batch_size=16, cache_bytes=10**9)
    precondition = _solver._centered_diagonal(
        design, ops.convert_to_tensor(curv[:, None]), 1.0 if intercept else 0.0
    )
    P64, c64 = Phi.astype(np.float64), curv.astype(np.float64)
    s, h = c64.sum(), P64.T @ c64
    centred = (c64[:, None] * P64**2).sum(axis=0) - h**2 / s
    v = np.append(h, s) if intercept else h
    diag = np.append(1.0 + centred, _solver._INTERCEPT_DAMPING) if intercept else 1.0 + centred
    P = np.diag(diag) + np.outer(v, v) / s
    r = rng.normal(size=v.size)
    zW, zb = precondition(
        ops.convert_to_tensor(r[:5, None].astype(np.float32)),
        ops.convert_to_tensor(r[5:].astype(np.float32) if intercept else np.zeros(1, "float32")),
    )
    z = ops.convert_to_numpy(zW)[:, 0]
    if intercept:
        z = np.append(z, ops.convert_to_numpy(zb))
    else:
        assert not ops.convert_to_numpy(zb).any()
    np.testing.assert_allclose(z, np.linalg.solve(P, r), rtol=1e-4, atol=1e-6)
    # Where the centred scatter is diagonal, the preconditioner is the Hessian.
    H = _hessian(P64, c64, _solver._INTERCEPT_DAMPING, intercept)
    assert np.allclose(np.diag(P), np.diag(H))


def _leading_preconditioner(monkeypatch, Phi, curv, damping, rows):
    """The leading-block preconditioner of features ``Phi`` (width 4), from ``rows`` rows."""
    from keras import ops

    from kernelsvm_keras import _design, _solver

    monkeypatch.setattr(_solver, "_LEADING_WIDTH", 4)
    monkeypatch.setattr(_solver, "_LEADING_ROWS", rows)
    design = _design.RowBlocks(Phi, None, Phi.shape[1], batch_size=16, cache_bytes=10**9)
    curv = ops.convert_to_tensor(curv)
    squares = design.rmatmul(curv, squared=True)
    return _solver._LeadingBlock.build(design, curv, squares, damping, cg_iter=20)


def _applied(precondition, r, D, intercept):
    """``precondition`` applied to each column of ``r`` ((D + 1) x K), as one array."""
    from keras import ops

    zW, zb = precondition(
        ops.convert_to_tensor(r[:D].astype(np.float32)),
        ops.convert_to_tensor(r[D].astype(np.float32)),
    )
    z = ops.convert_to_numpy(zW)
    if not intercept:
        assert not ops.convert_to_numpy(zb).any()
        return z
    return np.vstack([z, ops.convert_to_numpy(zb)[None, :]])


@pytest.mark.parametrize("intercept", [True, False])
def test_leading_block_preconditioner_is_its_formula(monkeypatch, intercept):
    # P_k = blockdiag(Hessian on the first 4 weights and the intercept,
    # diag(1 + sum_i c_ik phi_ij^2) after): each column its own curvatures.
    from kernelsvm_keras import _solver

    rng = np.random.RandomState(0)
    D, K = 12, 3
    scales = np.linspace(3.0, 0.2, D)  # leading features larger, as in the eigenbasis
    Phi = ((rng.normal(size=(80, D)) + 0.5) * scales).astype(np.float32)
    curv = np.where(rng.uniform(size=(80, K)) < 0.5, 2.0, 0.0).astype(np.float32)
    curv[:, 2] = 0.0  # a column with no curved row: P = R
    damping = 0.5 if intercept else 0.0
    precondition = _leading_preconditioner(monkeypatch, Phi, curv, damping, rows=10**6)
    assert isinstance(precondition, _solver._LeadingBlock)
    P64 = Phi.astype(np.float64)
    r = rng.normal(size=(D + 1, K))
    z = _applied(precondition, r, D, intercept)
    for k in range(K):
        c = curv[:, k].astype(np.float64)
        H = _hessian(P64, c, damping, intercept)
        lead = list(range(4)) + ([D] if intercept else [])
        P = np.diag(np.diag(H))
        P[np.ix_(lead, lead)] = H[np.ix_(lead, lead)]
        size = D + intercept
        expected = np.linalg.solve(P[:size, :size], r[:size, k])
        np.testing.assert_allclose(z[:size, k], expected, rtol=2e-4, atol=1e-6)


def test_leading_block_from_a_sample_keeps_the_exact_diagonal(monkeypatch):
    # Summed over every third row, the block takes the sample's correlations
    # on the diagonal of all rows: P stays symmetric positive definite, and
    # its diagonal is the Hessian's.
    rng = np.random.RandomState(1)
    D = 10
    Phi = (rng.normal(size=(90, D)) * np.linspace(2.0, 0.3, D)).astype(np.float32)
    curv = np.where(rng.uniform(size=(90, 1)) < 0.7, 3.0, 0.0).astype(np.float32)
    precondition = _leading_preconditioner(monkeypatch, Phi, curv, 1.0, rows=30)
    P_inverse = _applied(precondition, np.eye(D + 1), D, intercept=True)
    np.testing.assert_allclose(P_inverse, P_inverse.T, atol=1e-6)
    P = np.linalg.inv(P_inverse.astype(np.float64))
    assert np.all(np.linalg.eigvalsh((P + P.T) / 2) > 0)
    H = _hessian(Phi.astype(np.float64), curv[:, 0].astype(np.float64), 1.0, True)
    np.testing.assert_allclose(np.diag(P), np.diag(H), rtol=1e-3)


def test_leading_block_declines_features_without_leading_ones(monkeypatch):
    # Random features spread the curvature evenly: the first 4 of 12 hold a
    # third of the trace, and the centred diagonal stays.
    rng = np.random.RandomState(2)
    Phi = rng.normal(size=(60, 12)).astype(np.float32)
    curv = np.full((60, 1), 2.0, np.float32)
    assert _leading_preconditioner(monkeypatch, Phi, curv, 1.0, rows=10**6) is None


@pytest.mark.parametrize("loss", ["hinge", "squared_hinge"])
def test_landmark_fit_with_the_leading_block_reaches_the_same_optimum(monkeypatch, loss, newton):
    # Conjugate gradients on the curved rows, preconditioned by the leading
    # block, end at the optimum the centred diagonal reaches: two certified
    # objectives within tol of each other.
    from kernelsvm_keras import _certificate, _solver

    monkeypatch.setattr(_solver, "_LEADING_WIDTH", 8)
    # every step by conjugate gradients
    monkeypatch.setattr(_solver, "_DIRECT_MAX_ROWS", 0)
    monkeypatch.setattr(_solver, "_PRECOND_GRAM_BYTES", 0)
    monkeypatch.setattr(_certificate, "_SUPPORT_MAX_ROWS", 0)  # (the same bounds)
    monkeypatch.setattr(_certificate, "_SUPPORT_GRAM_BYTES", 0)
    built = []
    build = _solver._LeadingBlock.build.__func__

    def counting_build(cls, *args, **kwargs):
        block = build(cls, *args, **kwargs)
        built.append(block is not None)
        return block

    monkeypatch.setattr(_solver._LeadingBlock, "build", classmethod(counting_build))
    Xb, yb = make_classification(n_samples=600, n_features=6, random_state=3)
    C = 1.0 if loss == "hinge" else 10.0  # (curved zones under half the rows)
    params = dict(C=C, n_components=64, loss=loss, tol=1e-4, random_state=0)
    with_block = KerasSVC(**params).fit(Xb, yb)
    assert any(built)
    monkeypatch.setattr(_solver, "_LEADING_WIDTH", 10**6)  # the centred diagonal alone
    without = KerasSVC(**params).fit(Xb, yb)
    np.testing.assert_allclose(with_block.objective_, without.objective_, rtol=2e-4)
    assert with_block.dual_gap_.max() <= 1e-4


@pytest.mark.parametrize("n_components", [8, 100])  # (D + 1) x (D + 1) sum, Woodbury
@pytest.mark.parametrize("intercept", [True, False])
def test_sampled_hessian_is_the_hessian_when_every_row_is_sampled(n_components, intercept):
    # Fewer curved rows than the sample size: every one is sampled with weight
    # 1, and the preconditioner is the exact Hessian, intercept coupling
    # included, so that it inverts a Hessian product.
    from keras import ops

    from kernelsvm_keras import _design, _solver

    rng = np.random.RandomState(1)
    n = 40
    Phi = (rng.normal(size=(n, n_components)) + 1.0).astype(np.float32)
    curv = np.where(rng.uniform(size=n) < 0.5, 2.0, 0.0).astype(np.float32)[:, None]
    design = _design.RowBlocks(Phi, None, n_components, batch_size=16, cache_bytes=0)
    precondition = _solver._SampledHessian(
        design, curv, curv[:, 0] > 0, skip=None, damping=1.0 if intercept else 0.0
    )
    H = _hessian(Phi.astype(np.float64), curv[:, 0].astype(np.float64), 1.0, intercept)
    v = rng.normal(size=H.shape[0])
    Hv = (H @ v).astype(np.float32)
    zW, zb = precondition(
        ops.convert_to_tensor(Hv[:n_components, None]),
        ops.convert_to_tensor(Hv[n_components:] if intercept else np.zeros(1, "float32")),
    )
    z = ops.convert_to_numpy(zW)[:, 0]
    if intercept:
        z = np.append(z, ops.convert_to_numpy(zb))
    else:
        assert not ops.convert_to_numpy(zb).any()
    np.testing.assert_allclose(z, v, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("kernel", ["rbf", "poly", "precomputed"])
def test_a_streamed_landmark_design_keeps_its_factor_apart(kernel):
    # Streamed landmarks: every pass computes k(X, Z) alone, and each product
    # multiplies by the normalisation N on the small side. Every product the
    # solver asks equals that of the projected features k(X, Z) @ N: in
    # float32 to round-off, in float64 (the certificate) exactly.
    from keras import ops

    from kernelsvm_keras import _design
    from kernelsvm_keras._maps import make_feature_map

    rng = np.random.RandomState(3)
    rows = X.astype(np.float64)
    if kernel == "precomputed":
        rows = rows @ rows.T
    feature_map = make_feature_map(kernel=kernel, gamma=0.1, n_components=30)
    feature_map.fit(rows, np.random.RandomState(0))
    transform, factor = feature_map.training_form()
    assert factor is not None

    def design(cache_bytes):
        return _design.RowBlocks(
            rows, transform, 30, batch_size=32, cache_bytes=cache_bytes, factor=factor
        )

    streamed, cached = design(0), design(10**9)
    assert streamed.streamed and streamed.factored
    assert not cached.streamed and not cached.factored
    Phi = cached.numpy()
    np.testing.assert_allclose(streamed.numpy(), Phi, rtol=1e-4, atol=1e-5)

    V = rng.normal(size=(30, 3))
    U = rng.normal(size=(len(rows), 3))
    tensor = lambda a: ops.convert_to_tensor(a.astype(np.float32))  # noqa: E731
    close = dict(rtol=1e-4, atol=1e-4 * np.abs(Phi).max() * len(rows))
    np.testing.assert_allclose(ops.convert_to_numpy(streamed.matmul(tensor(V))), Phi @ V, **close)
    np.testing.assert_allclose(
        ops.convert_to_numpy(streamed.rmatmul(tensor(U))), Phi.T @ U, **close
    )
    np.testing.assert_allclose(
        ops.convert_to_numpy(streamed.rmatmul(tensor(U), squared=True)), (Phi**2).T @ U, **close
    )
    Z, total = streamed.matmul_rmatmul(tensor(V), 0.0, lambda start, stop, Zb: Zb)
    np.testing.assert_allclose(ops.convert_to_numpy(Z), Phi @ V, **close)
    np.testing.assert_allclose(ops.convert_to_numpy(total), Phi.T @ (Phi @ V), **close)
    taken = np.array([1, 7, 40, 41, 149])
    np.testing.assert_allclose(streamed.gram(taken, key=0), Phi[taken] @ Phi[taken].T, **close)

    # float64: the float32 kernel block and factor, multiplied exactly
    exact = np.vstack([B for _, _, B in streamed.exact_blocks()])
    kernel_block = np.vstack([ops.convert_to_numpy(B) for _, _, B in streamed._raw_blocks()])
    kernel_block = kernel_block.astype(np.float64)
    np.testing.assert_allclose(exact, kernel_block @ factor.astype(np.float32), rtol=1e-12)
    Z, u = streamed.exact_products(V, U)
    np.testing.assert_allclose(Z, exact @ V, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(u, exact.T @ U, rtol=1e-10, atol=1e-10)
    # the rows taken alone: their kernel rows are computed without their
    # blocks (float32 products of fewer rows, which BLAS may round otherwise
    # than a block's: the poly kernel's cube moved them by up to 6e-6), then
    # multiplied exactly
    ((parts, positions),) = streamed.padded_parts([taken], project=False)
    alone = np.vstack([ops.convert_to_numpy(B) for B in parts])[positions].astype(np.float64)
    np.testing.assert_allclose(alone, kernel_block[taken], rtol=1e-5, atol=1e-6)
    exact_alone = alone @ factor.astype(np.float32).astype(np.float64)
    np.testing.assert_allclose(streamed.exact_rows(taken), exact_alone, rtol=1e-13, atol=1e-16)
    np.testing.assert_allclose(
        streamed.gram(taken, key=0, exact=True), exact_alone @ exact_alone.T, rtol=1e-12
    )
    # the cached design's float64 products are those of its own features
    Z, u = cached.exact_products(V, U)
    np.testing.assert_allclose(Z, Phi @ V, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(u, Phi.T @ U, rtol=1e-10, atol=1e-10)
    np.testing.assert_array_equal(cached.exact_rows(taken), Phi[taken])


@pytest.mark.parametrize(
    "basis, repeated", [("cholesky", False), ("cholesky", True), ("eigen", False)]
)
def test_a_factor_multiplies_over_the_rows_its_columns_use(basis, repeated, monkeypatch):
    # The Cholesky basis's N = L^-T is upper triangular; over the landmarks a
    # pivoted factorisation keeps (repeated rows), columns of zeros besides.
    # B @ N by blocks of columns, each over its rows, is B @ N; the
    # eigenbasis's dense N is multiplied whole.
    import keras
    from keras import ops

    from kernelsvm_keras import _design
    from kernelsvm_keras._maps import make_feature_map

    monkeypatch.setattr(_design, "_FACTOR_SMALLEST", 8)
    rows = X[:100].astype(np.float64)
    if repeated:
        rows = np.vstack([X[:40], X[:20], X[40:80]]).astype(np.float64)  # 20 rows twice
    feature_map = make_feature_map(kernel="rbf", gamma=0.1, n_components=60, basis=basis)
    feature_map.fit(rows, np.random.RandomState(0))
    transform, N = feature_map.training_form()
    nonzero = N != 0
    if repeated:
        assert not np.all(np.any(nonzero, axis=0))  # landmarks left out: the pivoted basis
    elif basis == "cholesky":
        assert not np.any(np.tril(nonzero, -1))  # upper triangular
    factor = _design.FactorBlocks(N.astype(np.float32))
    if not repeated:  # (JAX multiplies every factor whole)
        assert (factor.blocks is None) == (basis == "eigen" or keras.backend.backend() == "jax")
    B = transform(ops.convert_to_tensor(X[100:].astype(np.float32)))
    expected = ops.convert_to_numpy(B).astype(np.float64) @ N.astype(np.float32)
    got = ops.convert_to_numpy(factor.right(B))
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max())
    # a cached design's features, projected by blocks
    design = _design.RowBlocks(rows, transform, 60, batch_size=32, cache_bytes=10**9, factor=N)
    np.testing.assert_allclose(
        design.numpy(), feature_map.features(rows), rtol=1e-4, atol=1e-4 * np.abs(N).max()
    )


def test_the_leading_basis_projects_by_its_triangle_and_reflectors(monkeypatch):
    # N = L^-T Q with Q = I - W T W^T (its reflectors' compact WY form): the rows are
    # projected by the triangle's blocks, then by the reflectors, as by N itself
    import keras
    from keras import ops

    from kernelsvm_keras import _design, _kernels
    from kernelsvm_keras._maps import make_feature_map

    monkeypatch.setattr(_kernels, "LEADING_FEATURES", 4)  # (60 landmarks: blocks that save)
    monkeypatch.setattr(_design, "_FACTOR_SMALLEST", 8)
    rows = X[:100].astype(np.float64)
    feature_map = make_feature_map(kernel="rbf", gamma=0.1, n_components=60, basis="leading")
    feature_map.fit(rows, np.random.RandomState(0))
    transform, rotation = feature_map.training_form()
    assert isinstance(rotation, _kernels.RotatedFactor)
    N = feature_map.normalization_
    assert rotation.dense is N
    assert not np.any(np.tril(rotation.triangle, -1))
    W, T = rotation.reflectors.astype(np.float64), rotation.coupling.astype(np.float64)
    assert W.shape == (60, 4) and T.shape == (4, 4)
    Q = np.eye(60) - W @ T @ W.T
    np.testing.assert_allclose(Q.T @ Q, np.eye(60), atol=1e-5)
    np.testing.assert_allclose(rotation.triangle @ Q, N, atol=1e-5 * np.abs(N).max())
    factor = _design.FactorBlocks(N.astype(np.float32), rotation)
    assert (factor.blocks is None) == (keras.backend.backend() == "jax")
    B = transform(ops.convert_to_tensor(X[100:].astype(np.float32)))
    expected = ops.convert_to_numpy(B).astype(np.float64) @ N
    got = ops.convert_to_numpy(factor.right(B))
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max())
    design = _design.RowBlocks(
        rows, transform, 60, batch_size=32, cache_bytes=10**9, factor=rotation
    )
    np.testing.assert_allclose(
        design.numpy(), feature_map.features(rows), rtol=1e-4, atol=1e-4 * np.abs(N).max()
    )
    # a fitted estimator's map holds normalization_ alone, and projects by it
    assert feature_map.training_done() is feature_map
    assert feature_map.training_form()[1] is N


def test_a_landmark_map_s_transposed_products_are_those_of_its_features():
    from kernelsvm_keras._maps import make_feature_map

    U = np.random.RandomState(0).normal(size=(50, 3))
    for basis in ("cholesky", "eigen"):
        feature_map = make_feature_map(kernel="rbf", gamma=0.1, n_components=40, basis=basis)
        feature_map.fit(X[:100].astype(np.float64), np.random.RandomState(0))
        np.testing.assert_allclose(
            feature_map.transposed_products(X[100:], U),
            feature_map.features(X[100:]).T @ U,
            rtol=1e-9,
            atol=1e-12,
        )


@pytest.mark.parametrize("on_host", [True, False])  # in NumPy, or with the backend's ops
@pytest.mark.parametrize("loss", ["hinge", "squared_hinge"])
def test_line_search_never_accepts_a_step_that_raises_the_objective(loss, on_host):
    # One row far past the margin after a unit step, a long direction: at t=1
    # the derivative (t * |dW|^2 = 40) is within 5% of its value at 0 (-1000,
    # hinge), yet the objective is 40 times its start. w8a, standardised, hinge,
    # C=1: the first Newton step was accepted at 100 times the starting objective.
    from keras import ops

    from kernelsvm_keras import _solver

    def tensor(value):
        return ops.convert_to_tensor(np.array(value, dtype=np.float32))

    from kernelsvm_keras._loss import get_loss, margin_intervals

    # label +1 at prediction 0, moving up by 1000 per unit step
    lower, upper = margin_intervals(np.ones((1, 1)))
    problem = _solver._Problem(get_loss(loss), lower, upper, np.ones(1), 0.0)
    problem.on_host = on_host
    Z, Zd = tensor([[0.0]]), tensor([[1000.0]])
    W, dW = tensor([[0.0]]), tensor([[np.sqrt(40.0)]])
    b, db = tensor([0.0]), tensor([0.0])
    delta = tensor([1.0])
    t = _solver._line_search(problem, Z, Zd, 1.0, delta, W, dW, b, db)

    def objective(t):
        data = (problem.loss, Z, Zd, problem.lower, problem.upper, problem.s, 1.0, 0.0)
        smoothing = problem.smoothing(delta)
        zero, norm = tensor([0.0]), tensor([40.0])
        value, _, _ = _solver._along_line(*data, smoothing, t, zero, zero, norm, b, db)
        return float(ops.convert_to_numpy(value)[0])

    assert objective(t) < objective(tensor([0.0]))


@pytest.mark.parametrize("loss", ["hinge", "squared_hinge"])
def test_the_line_search_in_numpy_is_the_backend_s(loss):
    # On CPUs the line search runs in NumPy: the same steps as the backend's
    # ops, column by column, in float32 (a NumPy float64 C made them float64),
    # and a tensor for the iterate's update.
    from keras import ops

    from kernelsvm_keras import _solver
    from kernelsvm_keras._loss import get_loss, margin_intervals

    rng = np.random.RandomState(6)
    n, D, K = 300, 8, 3
    Phi = rng.normal(size=(n, D)).astype(np.float32)
    lower, upper = margin_intervals(np.where(rng.rand(n, K) < 0.5, 1.0, -1.0))
    weights = rng.uniform(0.5, 2.0, size=n)
    W, b = rng.normal(size=(D, K)).astype(np.float32), rng.normal(size=K).astype(np.float32)
    smoothing = np.float32([1.0, 0.1, 0.01])
    # steepest descent: the gradient from -loss' (derivatives' second output)
    slope = get_loss(loss).derivatives(Phi @ W + b, lower, upper, smoothing)[1]
    beta = 2.0 * weights[:, None] * slope
    dW = (Phi.T @ beta - W).astype(np.float32)
    db = beta.sum(axis=0).astype(np.float32)
    steps = []
    for on_host in (True, False):
        problem = _solver._Problem(get_loss(loss), lower, upper, weights, 0.0)
        problem.on_host = on_host
        tensors = [ops.convert_to_tensor(a) for a in (Phi @ W + b, Phi @ dW + db, W, dW, b, db)]
        Z, Zd, W_, dW_, b_, db_ = tensors
        delta = ops.convert_to_tensor(smoothing)
        t = _solver._line_search(problem, Z, Zd, np.float64(2.0), delta, W_, dW_, b_, db_)
        assert ops.convert_to_numpy(t).dtype == np.float32
        steps.append(ops.convert_to_numpy(t))
    np.testing.assert_allclose(steps[0], steps[1], rtol=1e-4)
    assert np.all(steps[0] > 0)


@pytest.mark.parametrize("with_cost", [False, True])  # the one-class SVM's intercept cost
@pytest.mark.parametrize("loss", ["hinge", "squared_hinge"])
def test_the_rows_side_in_numpy_is_the_backend_s(loss, with_cost):
    # On CPUs the loss's terms at the iterate and the signed dual points of a
    # pass run in NumPy: the same float32 values as the backend's ops, and
    # tensors of its type back (a NumPy float64 C kept them float32).
    from keras import ops

    from kernelsvm_keras import _solver
    from kernelsvm_keras._loss import get_loss, margin_intervals

    rng = np.random.RandomState(7)
    n, D, K = 200, 6, 3
    Phi = rng.normal(size=(n, D)).astype(np.float32)
    lower, upper = margin_intervals(np.where(rng.rand(n, K) < 0.5, 1.0, -1.0))
    problem = _solver._Problem(get_loss(loss), lower, upper, rng.uniform(0.5, 2, n), 0.0)
    W = rng.normal(size=(D, K)).astype(np.float32)
    b = rng.normal(size=K).astype(np.float32)
    Z = ops.convert_to_tensor(Phi @ W + b)
    cap = ops.convert_to_tensor(np.ones((n, K), np.float32))
    delta = ops.convert_to_tensor(np.float32([1.0, 0.1, 0.01])) if loss == "hinge" else None
    C, cb = np.float64(2.0), 0.5 if with_cost else 0.0
    rows = (problem.lower, problem.upper, problem.s)
    bounds = cap if with_cost else None
    kwargs = dict(loss=problem.loss)
    outputs = []
    for side in (_solver._on_host, _solver._on_device):
        halves = side(_solver._signed_betas, Z, *rows, bounds, C, delta, **kwargs)
        halves = ops.convert_to_tensor(Phi.T) @ halves
        outputs.append(
            (halves,)
            + side(
                _solver._iterate,
                Z,
                halves,
                *rows,
                cap,
                ops.convert_to_tensor(W),
                ops.convert_to_tensor(b),
                C,
                cb,
                delta,
                with_cost=with_cost,
                fit_intercept=True,
                **kwargs,
            )  # fmt: skip
        )
    host, device = (ops.convert_to_numpy(ops.concatenate(
        [ops.reshape(ops.convert_to_tensor(a), (-1,)) for a in _flat(out) if a is not None], 0,
    )) for out in outputs)  # fmt: skip
    assert host.dtype == np.float32
    np.testing.assert_allclose(host, device, rtol=1e-5, atol=1e-4)


def _flat(tree):
    """The leaves of nested tuples."""
    if isinstance(tree, tuple):
        return [leaf for part in tree for leaf in _flat(part)]
    return [tree]


@pytest.mark.parametrize("cache_bytes", [10**9, 0])  # cached or streamed features
def test_gram_reuses_the_products_of_rows_met_before(monkeypatch, cache_bytes):
    # The direct Newton steps ask for Gram matrices of curved zones that change
    # by a few rows from step to step: new rows cost their products only, any
    # order of requests gives phi[rows] phi[rows]^T, and nothing is kept beyond
    # the byte budget.
    from kernelsvm_keras import _design

    rng = np.random.RandomState(2)
    Phi = rng.normal(size=(50, 7)).astype(np.float32)
    design = _design.RowBlocks(Phi, None, 7, batch_size=16, cache_bytes=cache_bytes)
    requests = [np.arange(10, 30), np.arange(12, 35), np.arange(0, 50, 3), np.arange(12, 35)]
    expected_new = [20, 5, None, 0]
    for rows, new in zip(requests, expected_new, strict=True):
        if new is not None:
            assert design.new_gram_rows(rows, key=1) == new
        np.testing.assert_allclose(
            design.gram(rows, key=1), Phi[rows] @ Phi[rows].T, rtol=1e-5, atol=1e-5
        )
    assert design.new_gram_rows(np.arange(5), key=2) == 5  # keys are apart
    monkeypatch.setattr(_design, "_GRAM_MAX_ROWS", 30)  # too many rows: start again
    np.testing.assert_allclose(
        design.gram(np.arange(40, 50), key=1), Phi[40:] @ Phi[40:].T, atol=1e-5
    )
    assert design.new_gram_rows(np.arange(40, 50), key=1) == 0
    assert design.new_gram_rows(np.arange(10, 30), key=1) == 20
    monkeypatch.setattr(_design, "_GRAM_CACHE_BYTES", 0)
    design.gram(np.arange(5), key=3)
    assert design.new_gram_rows(np.arange(5), key=3) == 5


def test_the_certificate_is_of_the_float64_problem(newton):
    # The iterations see y in float32; the objective and gap reported are
    # those of the problem asked, y in float64 (targets near 1e4: float32
    # rounds them by up to 5e-4, which moved the reported objective by 1e-6
    # of itself when the certificate used the float32 intervals).
    from kernelsvm_keras import KerasLinearSVR

    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 3))
    y = 1e4 + X @ np.array([1.0, -2.0, 0.5]) + 0.3 * rng.normal(size=300) + 1e-4 / 3
    est = KerasLinearSVR(C=1.0, epsilon=0.1, loss="squared_epsilon_insensitive", tol=1e-6)
    est.fit(X, y)
    residual = np.abs(y - (X @ est.coef_ + est.intercept_)) - 0.1
    objective = 0.5 * est.coef_ @ est.coef_ + np.sum(np.maximum(residual, 0.0) ** 2)
    np.testing.assert_allclose(est.objective_, objective, rtol=1e-10)


def test_padded_sizes_are_few_and_hold_their_rows():
    # On JAX, gathered rows are padded to powers of two from 64 (a backend that
    # compiles per shape then compiles a few programs per fit, not one per
    # Newton step): each size holds its rows, wastes at most half, and 1..4096
    # rows meet 7 sizes. The eager backends gather exactly the rows.
    import keras

    from kernelsvm_keras import _design

    k = np.arange(1, 4097)
    sizes = np.array([_design._padded_size(int(n)) for n in k])
    if keras.backend.backend() == "jax":
        assert np.all(sizes >= k)
        assert np.all(sizes <= np.maximum(2 * k - 1, 64))
        assert np.all(np.diff(sizes) >= 0)
        assert np.unique(sizes).size == 7
    else:
        np.testing.assert_array_equal(sizes, k)
    assert _design._padded_size(0) == 0


@pytest.mark.parametrize("cache_bytes", [10**9, 0])  # cached or streamed features
def test_padded_parts_gather_every_set_in_one_pass(cache_bytes):
    # Row sets in any order, over several blocks: the parts' rows at the
    # positions returned are the rows asked for, every part's size is on the
    # grid, and the subset design holds them where it says.
    from keras import ops

    from kernelsvm_keras import _design

    rng = np.random.RandomState(3)
    Phi = rng.normal(size=(70, 5)).astype(np.float32)
    design = _design.RowBlocks(Phi, None, 5, batch_size=16, cache_bytes=cache_bytes)
    sets = [rng.permutation(70)[:23], np.array([69]), np.arange(0, 70, 7)[::-1]]
    for (parts, positions), rows in zip(design.padded_parts(sets), sets, strict=True):
        taken = np.concatenate([ops.convert_to_numpy(part) for part in parts])
        np.testing.assert_array_equal(taken[positions], Phi[rows])
        for part in parts:
            assert part.shape[0] == _design._padded_size(part.shape[0])
    subset, positions = design.subset(np.arange(3, 60, 2))
    np.testing.assert_array_equal(subset.numpy()[positions], Phi[3:60:2])


@pytest.mark.parametrize("cache_bytes", [10**9, 0])  # gathered on the device, or on the host
@pytest.mark.parametrize("count", [0, 1, 29, 70])
def test_curved_subset_holds_the_masked_rows_once_and_pads_with_zero_weight(cache_bytes, count):
    # Conjugate gradients on the curved rows alone: the subset design and its
    # weights give the same weighted products as the whole design (the
    # padding weighs nothing), over several blocks, whatever the count.
    from keras import ops

    from kernelsvm_keras import _design

    rng = np.random.RandomState(4)
    Phi = rng.normal(size=(70, 5)).astype(np.float32)
    weights = rng.uniform(1.0, 2.0, size=(70, 3)).astype(np.float32)
    mask = np.zeros(70, dtype=bool)
    mask[rng.permutation(70)[:count]] = True
    design = _design.RowBlocks(Phi, None, 5, batch_size=16, cache_bytes=cache_bytes)
    subset, taken = design.curved_subset(
        ops.convert_to_tensor(mask), count, ops.convert_to_tensor(weights)
    )
    rows, taken = subset.numpy(), ops.convert_to_numpy(taken)
    assert rows.shape[0] == taken.shape[0] >= count
    assert np.count_nonzero(taken.any(axis=1)) == count  # the padding weighs nothing
    expected = Phi[mask].astype(np.float64).T @ weights[mask]
    np.testing.assert_allclose(rows.T @ taken, expected, rtol=1e-5, atol=1e-5)
    # each masked row once: its weights are found exactly once among the rows
    for i in np.flatnonzero(mask):
        assert np.sum(np.all(rows == Phi[i], axis=1) & taken.any(axis=1)) == 1


@pytest.mark.parametrize("cache_bytes", [10**9, 0])  # gathered, or two passes (not cached)
@pytest.mark.parametrize("count", [0, 1, 29, 60])  # few curved rows, or most of them
def test_a_woodbury_step_s_products_on_its_curved_rows_are_the_whole_design_s(cache_bytes, count):
    # The products of a direct step, phi @ V on the curved rows and phi.T @ Y
    # for Y zero elsewhere, are those of the whole design, whether the curved
    # rows are gathered (few, cached) or not (many, or streamed).
    from kernelsvm_keras import _design, _solver

    rng = np.random.RandomState(5)
    Phi = rng.normal(size=(70, 5)).astype(np.float32)
    mask = np.zeros(70, dtype=bool)
    mask[rng.permutation(70)[:count]] = True
    design = _design.RowBlocks(Phi, None, 5, batch_size=16, cache_bytes=cache_bytes)
    curved = _solver._CurvedRows(design, mask)
    assert (curved._taken is not None) == (count < 35 and design.fits_in_cache(count))
    V = rng.normal(size=(5, 3))
    Y = np.where(mask[:, None], rng.normal(size=(70, 3)), 0.0)
    Phi64 = Phi.astype(np.float64)
    np.testing.assert_allclose(curved.matmul(V)[mask], (Phi64 @ V)[mask], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(curved.rmatmul(Y), Phi64.T @ Y, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("loss", ["hinge", "squared_hinge"])
def test_direct_steps_on_cached_grams_reach_the_optimum(monkeypatch, loss, newton):
    # Every Newton step direct, on Gram matrices kept from step to step (the
    # curved zone changes by a few rows): the optimum of the dual QP.
    from kernelsvm_keras import _design, _solver

    monkeypatch.setattr(_solver, "_CG_TYPICAL_ITER", 10**6)  # direct whenever q allows
    computed = []
    gram = _design.RowBlocks.gram

    def counting_gram(self, rows, key, exact=False):
        computed.append(self.new_gram_rows(rows, key, exact))
        return gram(self, rows, key, exact)

    monkeypatch.setattr(_design.RowBlocks, "gram", counting_gram)
    C = 30.0
    est = KerasSVC(
        C=C,
        gamma=0.1,
        n_components=64,
        approximation="random_fourier",
        loss=loss,
        tol=1e-4,
        random_state=0,
    )
    est.fit(X, y)
    assert len(computed) > 3 and 0 in computed  # some steps reused every product
    features = RBFSampler(gamma=0.1, n_components=64, random_state=0).fit_transform(
        X.astype(np.float64)
    )
    ones = np.ones(len(y))
    for k in range(3):
        y_pm = np.where(y == k, 1.0, -1.0)
        ours = primal(est.coef_[k], est.intercept_[k], features, y_pm, ones, C, loss)
        ref = reference_objective(features, y_pm, ones, C, loss)
        assert ref * (1 - 1e-4) <= ours <= ref * (1 + 1.5e-4)


@pytest.mark.parametrize(
    "problem", ["classification", "no intercept", "one-class", "least deviations"]
)  # fmt: skip
@pytest.mark.parametrize("hardness", [0, 1, 2, 3])
def test_the_interior_point_solves_the_hinge_dual(problem, hardness):
    # Weak duality is the oracle: the primal at (the w and intercept
    # returned) and the dual at x, both recomputed here, meet within the gap
    # asked for. Classification at C = 1, 1e3, 1e7, 1e10 on rows that are
    # not separable; the one-class SVM at nu = 0.5, 0.1, 0.01, 1 / n; the
    # epsilon-insensitive loss at epsilon = 0 (each row's box [-C, C] around
    # one point) at C = 1, 1e3, 1e7, 1e12, where A^T x holds only C times
    # float64's round-off of w and the free rows give it instead.
    from kernelsvm_keras._interior import solve_hinge_dual

    rng = np.random.RandomState(0)
    n, D = 300, 6
    A = rng.normal(size=(n, D))
    cost, fit_intercept = 0.0, problem != "no intercept"
    if problem == "one-class":  # [0, inf): q = 0, sum(x) = c_b = 1, b = -rho
        A += 2.0
        nu = [0.5, 0.1, 0.01, 1.0 / n][hardness]
        cost, q, C = 1.0, np.zeros(n), 1.0 / (nu * n)
        low, high = np.zeros(n), np.full(n, C)
    elif problem == "least deviations":  # C sum |q - A w - b| + ||w||^2 / 2
        C = [1.0, 1e3, 1e7, 1e12][hardness]
        q = A @ rng.normal(size=D) + rng.normal(size=n)
        low, high = np.full(n, -C), np.full(n, C)
    else:  # labels +-1, 10% flipped
        C = [1.0, 1e3, 1e7, 1e10][hardness]
        t = np.sign(A @ rng.normal(size=D) + 0.1)
        t[rng.rand(n) < 0.1] *= -1
        q = t
        low, high = np.where(t > 0, 0.0, -C), np.where(t > 0, C, 0.0)
    # (at C = 1e10, float64 reaches a gap of about 3e-7)
    tol = 1e-5 if problem in ("classification", "no intercept") and hardness == 3 else 1e-7
    x, w, b, n_iter = solve_hinge_dual(A, q, low, high, cost, fit_intercept, tol=tol)
    assert n_iter < 100
    assert np.all((low <= x) & (x <= high))
    if fit_intercept:
        assert abs(x.sum() - cost) <= 1e-9 * max(1.0, np.abs(x).sum())
    else:
        assert b == 0.0
    z = A @ w + b  # the primal point returned
    below = q - z  # each row's term: its box's support function
    P = 0.5 * w @ w + cost * b + np.sum(np.maximum(high * below, low * below))
    u = A.T @ x
    dual = q @ x - 0.5 * u @ u
    assert -1e-9 * abs(P) <= P - dual <= tol * abs(P)


@pytest.mark.parametrize("seed", range(5))
def test_the_best_intercept_is_exact_on_boxes_of_either_sign(seed):
    # The primal of fixed weights, cost b + sum_i max(high_i p_i, low_i p_i) with
    # p_i = q_i - m_i - b, is piecewise linear: its minimum lies at a breakpoint,
    # each of which is evaluated here. Boxes [0, C], [-C, 0] and [-C, C] mixed.
    from kernelsvm_keras._interior import best_intercept

    rng = np.random.RandomState(seed)
    n = 40
    q, margins = rng.normal(size=n), rng.normal(size=n)
    C = rng.uniform(0.1, 2.0, size=n)
    kind = rng.randint(3, size=n)
    low = np.where(kind == 1, 0.0, -C)
    high = np.where(kind == 2, 0.0, C)
    cost = rng.uniform(-1.0, 1.0) * min(high.sum(), -low.sum())

    def primal(b):
        below = q - margins - b
        return cost * b + np.sum(np.maximum(high * below, low * below))

    values = [primal(b) for b in q - margins]
    b = best_intercept(margins, q, low, high, cost)
    assert primal(b) <= min(values) + 1e-12 * max(1.0, abs(min(values)))


@pytest.mark.parametrize("C", [1.0, 1e4])
def test_another_route_s_start_is_taken_unless_c_takes_the_path(C):
    # A start that another route found (NewtonStart: coef_init with
    # smoothing_init) is Newton's at a moderate C; at a C whose continuation
    # takes a path of C values, the path from zero is taken instead, as if
    # there were no start (from w8a's working sets' last solution at C=100,
    # Newton stalled at a gap of 34).
    from kernelsvm_keras import _design, _solver
    from kernelsvm_keras._loss import get_loss, margin_intervals

    rng = np.random.RandomState(0)
    Phi = rng.normal(size=(300, 6)).astype(np.float32)
    labels = np.where(Phi[:, 0] + 0.5 * rng.normal(size=300) > 0, 1.0, -1.0)[:, None]
    lower, upper = margin_intervals(labels)

    def design():  # (a fresh one each: a design keeps the Gram products it formed)
        return _design.RowBlocks(Phi, None, 6, batch_size=64, cache_bytes=10**9)

    path = _solver._continuation(C, np.ones(300), design(), 1e-3)
    assert (len(path) > 1) == (C > 1.0)

    def solve(**start):
        return _solver.solve_svm(
            design(),
            lower,
            upper,
            np.ones(300),
            C=C,
            loss=get_loss("hinge"),
            fit_intercept=True,
            tol=1e-3,
            max_iter=500,
            **start,
        )

    cold = solve()
    start = {"coef_init": rng.normal(size=(1, 6)), "intercept_init": np.zeros(1)}
    warm = solve(**start, smoothing_init=np.array([_solver._DELTA_WARM]))
    assert cold.converged and warm.converged
    if len(path) > 1:  # the start dropped: the same iterations as from zero
        assert warm.n_iter == cold.n_iter
        np.testing.assert_array_equal(warm.coef, cold.coef)
    else:
        assert warm.n_iter != cold.n_iter
        np.testing.assert_allclose(warm.primal, cold.primal, rtol=2e-3)


def test_the_backend_s_devices_are_named_on_every_backend():
    # keras.distribution.list_devices fails on PyTorch (Keras has no distribution
    # module there): the Newton solver and verbose fits ask for the devices all the same
    import keras

    from kernelsvm_keras._solver import backend_devices, device_report

    devices = backend_devices()
    assert devices and all(isinstance(d, str) and d for d in devices)
    assert device_report() == f"float32 on {keras.backend.backend()} {', '.join(devices)}"
