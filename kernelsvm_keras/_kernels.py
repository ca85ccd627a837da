"""The kernels and feature maps' arithmetic, without Keras layers.

NumPy for what is fitted (the landmarks' factorisation, the random draws, the
float64 kernel of ``decision_function``) and ``keras.ops`` for what trains
(:func:`kernel_matrix`, the feature maps), with Keras imported at the first
``ops`` call (:mod:`kernelsvm_keras._keras`): a fit that never reaches the
Newton solver never imports it. The public names are those of
:mod:`kernelsvm_keras.layers`, which holds the layers built on them.
"""

import math
from typing import NamedTuple

import numpy as np
import scipy.linalg

from ._blas import matmul
from ._keras import ops, to_tensor

# Kernels with a random Fourier map (shift-invariant, with a spectral density).
KERNELS = ("rbf", "laplacian")
# Kernels that the landmark (Nystroem) maps and layers compute, with
# scikit-learn's conventions (sklearn.metrics.pairwise).
LANDMARK_KERNELS = ("linear", "poly", "rbf", "laplacian", "sigmoid")

# Elements of the (rows, landmarks, features) temporary of the Laplacian
# kernel's L1 distances, per chunk of rows.
_L1_CHUNK_ELEMENTS = 2**22
# Elements of the host's chunked float64 work: the (rows, landmarks) blocks of
# the NumPy kernels, and the maps' features or kernel block per chunk of
# predicted rows (8 MiB); the NumPy kernels' copies of the rows themselves
# (2 MiB: a fit streaming a memmap stays far below the size of X). (Bounded by
# the rows' width alone, 10,000 rows of 26 features on 2,048 landmarks took one
# chunk: a peak of 627 MiB for a 156 MiB result, now 189 MiB; on this
# project's VM, memory touched for the first time is also slow to map.)
HOST_CHUNK_ELEMENTS = 2**20
_ROWS_CHUNK_ELEMENTS = 2**18


def draw_random_fourier_weights(n_features, n_components, gamma, kernel, random_state):
    """Draw the random projection of a random Fourier feature map.

    The draw order and distributions are those of
    :class:`sklearn.kernel_approximation.RBFSampler`: first the weights, then
    the offsets, from the same :class:`numpy.random.RandomState`. For
    ``kernel="rbf"`` and equal ``gamma``, ``n_components`` and integer seed the
    result is therefore identical to ``RBFSampler``'s ``random_weights_`` and
    ``random_offset_``.

    Parameters
    ----------
    n_features : int
        Number of input features.
    n_components : int
        Number of random features ``D``.
    gamma : float
        Kernel coefficient: ``exp(-gamma ||x - y||_2^2)`` for ``"rbf"``,
        ``exp(-gamma ||x - y||_1)`` for ``"laplacian"``.
    kernel : {"rbf", "laplacian"}
        Kernel whose spectral distribution is sampled: a Gaussian
        ``N(0, 2 gamma)`` for the RBF kernel, a Cauchy distribution of scale
        ``gamma`` for the Laplacian kernel.
    random_state : numpy.random.RandomState
        Source of randomness; it is advanced by the draw.

    Returns
    -------
    weights : ndarray of shape (n_features, n_components), dtype float64
    offset : ndarray of shape (n_components,), dtype float64
    """
    size = (n_features, n_components)
    if kernel == "rbf":
        weights = math.sqrt(2.0 * gamma) * random_state.normal(size=size)
    elif kernel == "laplacian":
        weights = gamma * random_state.standard_cauchy(size=size)
    else:
        raise ValueError(f"kernel must be one of {KERNELS}, got {kernel!r}.")
    offset = random_state.uniform(0.0, 2.0 * np.pi, size=n_components)
    return weights, offset


def random_fourier_features(inputs, weights, offset):
    """The random Fourier feature map ``sqrt(2 / D) * cos(inputs @ weights + offset)``.

    Written with ``keras.ops``: it runs on the active backend's device and
    accepts tensors or NumPy arrays.

    Parameters
    ----------
    inputs : tensor of shape (n, n_features)
    weights : tensor of shape (n_features, D)
    offset : tensor of shape (D,)

    Returns
    -------
    tensor of shape (n, D)
    """
    n_components = weights.shape[-1]
    return ops.cos(ops.matmul(inputs, weights) + offset) * math.sqrt(2.0 / n_components)


# Eigenvalues of the landmarks' kernel matrix at most this fraction of its
# median diagonal entry (the RBF kernel's variance, 1) are dropped: their
# directions add nothing the float32 features could resolve, and keeping them
# would scale float32 round-off by up to 1/sqrt(eigenvalue). The median, not
# the largest: a polynomial kernel's diagonal spans orders of magnitude (on
# standardised a9a, 0.2 median and 2.7e4 largest), and the largest entry kept
# 207 of 2048 directions there.
NYSTROEM_EIGENVALUE_TOL = 1e-4


def _check_kernel(kernel):
    if kernel not in LANDMARK_KERNELS:
        raise ValueError(f"kernel must be one of {LANDMARK_KERNELS}, got {kernel!r}.")


def kernel_matrix_numpy(A, B, kernel="rbf", gamma=1.0, degree=3, coef0=0.0):
    """The kernel between all rows of dense ``A`` and ``B``, in float64 NumPy.

    The conventions of :mod:`sklearn.metrics.pairwise`: ``"linear"``
    ``<a, b>``; ``"poly"`` ``(gamma <a, b> + coef0) ** degree``; ``"rbf"``
    ``exp(-gamma ||a - b||^2)``; ``"laplacian"`` ``exp(-gamma ||a - b||_1)``;
    ``"sigmoid"`` ``tanh(gamma <a, b> + coef0)``.

    Parameters
    ----------
    A : array-like of shape (n, n_features)
    B : array-like of shape (m, n_features)
    kernel : {"linear", "poly", "rbf", "laplacian", "sigmoid"}, default="rbf"
    gamma, degree, coef0 : float, int, float
        Kernel coefficients (unused where the kernel has none).

    Returns
    -------
    ndarray of shape (n, m), dtype float64
    """
    _check_kernel(kernel)
    same = A is B
    A = np.asarray(A, dtype=np.float64)
    B = A if same else np.asarray(B, dtype=np.float64)
    if kernel == "rbf":  # shift-invariant: centred on B's mean, far less cancels
        center = B.mean(axis=0) if len(B) else 0.0
        B = B - center
        B_norms = np.einsum("ij,ij->i", B, B)
        if same:
            # the rows with themselves (a landmarks' kernel matrix): their Gram matrix
            # (dsyrk inside _blas.scipy_products, half the multiply-adds), then the
            # distances in its own array, without chunks or temporaries
            products = matmul(B, B.T)
            return _rbf_of_products(products, B_norms, B_norms, gamma, out=products)
    # rows of A in chunks: the temporaries stay bounded whatever the batch
    rows = max(
        1,
        min(_ROWS_CHUNK_ELEMENTS // max(1, A.shape[1]), HOST_CHUNK_ELEMENTS // max(1, B.shape[0])),
    )
    if kernel == "laplacian":
        rows = max(1, _L1_CHUNK_ELEMENTS // max(1, B.shape[0] * B.shape[1]))
    out = np.empty((A.shape[0], B.shape[0]))
    for start in range(0, A.shape[0], rows):
        a = A[start : start + rows]
        if kernel == "rbf":
            a = a - center
            a_norms = np.einsum("ij,ij->i", a, a)
            _rbf_of_products(matmul(a, B.T), a_norms, B_norms, gamma, out=out[start : start + rows])
            continue
        if kernel == "laplacian":
            values = np.exp(-gamma * np.abs(a[:, None, :] - B[None]).sum(-1))
        elif kernel == "linear":
            values = matmul(a, B.T)
        elif kernel == "poly":
            values = (gamma * matmul(a, B.T) + coef0) ** degree
        else:
            values = np.tanh(gamma * matmul(a, B.T) + coef0)
        out[start : start + rows] = values
    return out


def _rbf_of_products(products, row_norms, column_norms, gamma, out):
    """``exp(-gamma max(||a||^2 - 2 <a, b> + ||b||^2, 0))`` from the products ``<a, b>``.

    Computed in ``products``' own array (overwritten), then written to
    ``out``: each temporary of the block's size is memory touched anew
    (digits' kernel matrix: 12 ms -> 7.5 ms).
    """
    products *= -2.0
    products += row_norms[:, None]
    products += column_norms
    np.maximum(products, 0.0, out=products)
    products *= -gamma
    return np.exp(products, out=out)


def kernel_matrix(inputs, components, kernel="rbf", gamma=1.0, degree=3, coef0=0.0):
    """The kernel between all rows of ``inputs`` and ``components``, with ``keras.ops``.

    The same kernels and conventions as :func:`kernel_matrix_numpy`, on the
    active backend's device. RBF distances are expanded into matrix products
    after shifting both sides by the components' mean (distances do not
    change; in float32 far less cancels); Laplacian distances are summed over
    chunks of rows, so that the ``(rows, m, n_features)`` temporary stays
    bounded.

    Parameters
    ----------
    inputs : tensor of shape (n, n_features)
    components : tensor of shape (m, n_features)
    kernel : {"linear", "poly", "rbf", "laplacian", "sigmoid"}, default="rbf"
    gamma, degree, coef0 : float, int, float

    Returns
    -------
    tensor of shape (n, m)
    """
    _check_kernel(kernel)
    # (NumPy arrays too: PyTorch's tensors take no part in NumPy's arithmetic)
    inputs, components = to_tensor(inputs), to_tensor(components)
    if kernel == "rbf":
        center = ops.mean(components, axis=0)
        x = inputs - center
        z = components - center
        # -gamma ||x - z||^2 = [x, ||x||^2, 1] . [2 gamma z, -gamma, -gamma ||z||^2]: the
        # product computes the whole exponent, and two elementwise passes over the
        # (n, m) block remain of six (MNIST, 4,000 rows on 4,096 landmarks: 0.57 s
        # against 0.74 s on TensorFlow; benchmarks/RESULTS.md)
        ones = ops.ones_like(x[:, :1])
        rows = ops.concatenate([x, ops.sum(ops.square(x), axis=1, keepdims=True), ones], axis=1)
        scaled = ops.concatenate(
            [
                (2.0 * gamma) * z,
                ops.full_like(z[:, :1], -gamma),
                -gamma * ops.sum(ops.square(z), axis=1, keepdims=True),
            ],
            axis=1,
        )
        return ops.exp(ops.minimum(ops.matmul(rows, ops.transpose(scaled)), 0.0))
    if kernel == "laplacian":
        n, (m, d) = inputs.shape[0], components.shape
        rows = max(1, _L1_CHUNK_ELEMENTS // max(1, m * d))
        if n is None or n <= rows:
            distances = ops.sum(ops.abs(inputs[:, None, :] - components[None]), axis=-1)
        else:
            distances = ops.concatenate(
                [
                    ops.sum(ops.abs(inputs[i : i + rows, None, :] - components[None]), axis=-1)
                    for i in range(0, n, rows)
                ],
                axis=0,
            )
        return ops.exp(-gamma * distances)
    products = ops.matmul(inputs, ops.transpose(components))
    if kernel == "linear":
        return products
    if kernel == "poly":
        return ops.power(gamma * products + coef0, degree)
    return ops.tanh(gamma * products + coef0)


def rbf_kernel_matrix(A, B, gamma):
    """``exp(-gamma ||a - b||^2)`` for all rows of dense ``A`` and ``B``, in float64 NumPy."""
    return kernel_matrix_numpy(A, B, "rbf", gamma)


def nystroem_normalization(
    kernel_matrix, tol=NYSTROEM_EIGENVALUE_TOL, basis="eigen", semidefinite=False
):
    """The normalisation ``N`` of a Nystroem map ``phi(x) = k(x, Z) @ N``.

    ``phi(x) . phi(y) = k(x, Z) K^+ k(Z, y)`` with ``K = k(Z, Z)`` the kernel
    matrix of the landmarks ``Z`` (Williams and Seeger, 2001): the kernel
    restricted to the span of the landmarks' feature vectors. With the
    eigendecomposition ``K = U diag(s) U^T``, ``N = U diag(|s|^-1/2)``,
    columns in decreasing order of ``|s|``, and the columns of eigenvalues
    with ``|s| <= tol * median(|diag(K)|)`` zero (those features are 0 for
    every input; the largest diagonal entry stands in for a zero median).

    For a kernel that is not positive semi-definite (``"sigmoid"``, or a
    precomputed or callable one), ``K`` has negative eigenvalues; their
    magnitudes are used, so that ``phi(x) . phi(y) = k(x, Z) |K|^+ k(Z, y)``:
    what :class:`sklearn.kernel_approximation.Nystroem` computes too (its
    singular value decomposition takes the magnitudes).

    :class:`~sklearn.kernel_approximation.Nystroem` uses ``K^-1/2`` instead,
    the same map up to a rotation, which an L2-regularised linear model does
    not see. This basis makes the features nearly uncorrelated when the
    landmarks are a sample of the data (``phi(X)^T phi(X) ~ (n / m) diag(s)``),
    so that a diagonal preconditioner suits their Hessian: on MNIST, half the
    conjugate-gradient passes of ``K^-1/2`` or of a Cholesky factor.

    ``basis="cholesky"`` gives ``N = L^-T`` instead, with ``K = L L^T``,
    where every eigenvalue of ``K`` is above the cutoff (then none is
    dropped, and the map is the same up to a rotation; checked from the
    factorisation's pivots, a bound on ``||L^-1||``, or a factorisation of
    ``K`` less the cutoff: :func:`_cholesky_above`); elsewhere the
    eigenbasis, or with ``semidefinite`` (a positive semi-definite kernel's
    matrix) the Cholesky basis of the landmarks that a pivoted Cholesky
    factorisation keeps, the others' rows zero (:func:`nystroem_factors`).
    A Cholesky factorisation (two where the bound does not
    decide) and a triangular inverse take a quarter of the
    eigendecomposition's time or less (2,048 landmarks: 0.28 s against
    1.13 s; 4,096: 0.82 s against 5.3 s, on 2 cores). The exact dual (of
    small problems, and of the hinge's working sets) does not see the basis.

    ``basis="leading"`` is the Cholesky basis rotated, ``N = L^-T Q`` with
    ``Q`` orthogonal, so that its first :data:`LEADING_FEATURES` features
    are the leading eigen-directions of ``K`` in decreasing order, the rest
    any orthonormal completion (:func:`_leading_rotation`; same condition,
    else the eigenbasis; the eigenbasis too for at most
    ``4 * LEADING_FEATURES`` landmarks, whose eigendecomposition is cheap).
    The Newton solver's preconditioner is the Hessian on those leading
    features (the diagonal after them), which converges there as in the
    eigenbasis, and in the Cholesky basis itself does not (MNIST's squared
    hinge: 21 s of Newton iterations against 32 s); the rotation costs a
    few products of ``m^2`` by ``LEADING_FEATURES`` (4,096 landmarks: about
    2 s for the map against 7.4 s).

    Parameters
    ----------
    kernel_matrix : ndarray of shape (m, m)
        ``k(Z, Z)``, symmetric.
    tol : float, default=1e-4
        Eigenvalues at or below ``tol`` times the median diagonal magnitude
        are dropped.
    basis : {"eigen", "cholesky", "leading"}, default="eigen"
        The basis of the features, as above.
    semidefinite : bool, default=False
        Whether ``kernel_matrix`` is a positive semi-definite kernel's: then
        landmarks nearly in the others' span may be dropped, as above.

    Returns
    -------
    ndarray of shape (m, m), dtype float64
    """
    return nystroem_factors(kernel_matrix, tol, basis, semidefinite=semidefinite)[0]


def nystroem_factors(
    kernel_matrix,
    tol=NYSTROEM_EIGENVALUE_TOL,
    basis="eigen",
    overwrite=False,
    features=True,
    semidefinite=False,
):
    """The normalisation ``N`` and the landmarks' own features ``phi(Z) = K N``.

    ``N`` as :func:`nystroem_normalization` gives it; ``phi(Z)`` from the
    same factorisation, without the ``m^3`` product: ``U_k sign(s_k)
    |s_k|^1/2`` in the eigenbasis, ``L`` in the Cholesky one. Where the
    landmarks are every training row, ``phi(Z)`` is the training design.

    With ``overwrite``, a float64 ``kernel_matrix`` is this function's to
    work in: symmetrised in place (the Cholesky basis leaves it so, and
    ``L L^T`` is then that matrix), destroyed by the eigendecomposition.
    Without, it is copied (MNIST's 4,096 landmarks: 0.5 s, memory touched
    for the first time in a fit's process). Without ``features``, ``phi(Z)``
    is not computed (a map whose landmarks are not its fit rows does not
    use it: 128 MB and, in the basis ``"leading"``, 0.4 s on 4,096
    landmarks).

    ``semidefinite`` says that ``kernel_matrix`` is a positive semi-definite
    kernel's (rbf, laplacian, linear, poly with ``coef0 >= 0``). Where the
    Cholesky basis was asked for and some eigenvalue is at or below the
    cutoff, it is then taken over the landmarks that a pivoted Cholesky
    factorisation keeps (:func:`_independent_landmarks`), not replaced by
    the eigenbasis: the others are nearly in their span, and their rows of
    ``N`` are zero. Tabular data repeats rows (w8a, a9a, pendigits,
    letter): their 2,048 landmarks took 0.78-1.05 s in the
    eigendecomposition, 0.36-0.48 s this way (the pivoted factorisation
    itself 0.11 s). ``phi(Z) phi(Z)^T`` is then ``K`` between the kept
    landmarks, and within the largest pivot left elsewhere (the eigenbasis:
    within the cutoff). The kernel SVM over the landmarks' span is then
    reached a little less closely: 400 rows of 4 smooth features, 9 of 100
    landmarks dropped, 1.1e-4 of the objective at ``C=10`` against 1.6e-5
    in the eigenbasis. The rotation ``"leading"`` keeps the eigenbasis
    there: over the kept landmarks it took 0.58-0.75 s, and the Newton
    iterations it serves took longer (w8a's squared hinge: 10 iterations
    against 9, its fit 5.5-6.2 s against 5.0-5.4 s).

    Returns
    -------
    normalization : ndarray of shape (m, m), dtype float64
    landmark_features : ndarray of shape (m, m), dtype float64, or None
        ``None`` without ``features``.
    basis : {"eigen", "cholesky", "leading", "pivoted"}
        The basis used: the eigenbasis where the Cholesky one (or its
        rotation) was asked for but some eigenvalue is at or below the
        cutoff (``"pivoted"`` instead, the Cholesky basis over the kept
        landmarks, where ``semidefinite`` allows it), and where the
        rotation was asked for on at most ``4 * LEADING_FEATURES``
        landmarks.
    """
    return _nystroem_factors(kernel_matrix, tol, basis, overwrite, features, semidefinite)[:3]


def _nystroem_factors(kernel_matrix, tol, basis, overwrite, features, semidefinite):
    """:func:`nystroem_factors`, and the :class:`RotatedFactor` of the basis ``"leading"``.

    Returns ``(normalization, landmark_features, basis, rotation)``, ``rotation``
    ``None`` in the other bases.
    """
    if basis not in ("eigen", "cholesky", "leading"):
        raise ValueError(f"basis must be 'eigen', 'cholesky' or 'leading', got {basis!r}.")
    own = np.asarray if overwrite else np.array  # (np.array copies)
    K = own(kernel_matrix, dtype=np.float64)
    if K.size == 0:
        return np.zeros(K.shape), np.zeros(K.shape) if features else None, basis, None
    _symmetrize(K)
    return _factors(K, tol * _cutoff_reference(K), basis, features, semidefinite)


def _factors(K, cutoff, basis, features, semidefinite=False, above=False):
    """:func:`_nystroem_factors` of symmetric ``K`` (this function's own), ``cutoff`` absolute.

    ``above``: every eigenvalue of ``K`` is known to exceed ``cutoff`` (see
    :func:`_cholesky_above`).
    """
    if basis == "leading" and K.shape[0] <= 4 * LEADING_FEATURES:
        basis = "eigen"
    if basis != "eigen":
        factors = _cholesky_above(K, cutoff, above)
        if factors is not None:
            factor, inverse = factors
            if basis == "leading":
                normalization, landmark_features, rotation = _leading_rotation(
                    K, factor, inverse, features
                )
                return normalization, landmark_features, "leading", rotation
            return np.ascontiguousarray(inverse.T), factor if features else None, "cholesky", None
        if semidefinite and basis == "cholesky":
            pivoted = _pivoted_factors(K, cutoff, features)
            if pivoted is not None:
                return (*pivoted, "pivoted", None)
    # Divide and conquer on K, this function's own, overwritten; then
    # each (m, m) result written once, without temporaries. MNIST's 4,096
    # landmarks: 8.7-9.9 s -> 7.0-7.3 s against NumPy's eigh and the gathered,
    # scaled and copied eigenvectors (first call in a process).
    eigenvalues, eigenvectors = scipy.linalg.eigh(
        K, driver="evd", overwrite_a=True, check_finite=False
    )
    magnitudes = np.abs(eigenvalues)
    order = np.argsort(-magnitudes, kind="stable")
    keep = order[magnitudes[order] > cutoff]
    roots = np.sqrt(magnitudes[keep])
    kept = np.take(eigenvectors, keep, axis=1)
    del eigenvectors
    normalization = np.zeros(K.shape)
    np.divide(kept, roots, out=normalization[:, : keep.size])
    if not features:
        return normalization, None, "eigen", None
    landmark_features = np.zeros(K.shape)
    np.multiply(kept, np.sign(eigenvalues[keep]) * roots, out=landmark_features[:, : keep.size])
    return normalization, landmark_features, "eigen", None


def _pivoted_factors(K, cutoff, features):
    """``(N, phi(Z))`` in the Cholesky basis of the landmarks :func:`_independent_landmarks` keeps.

    ``K`` is symmetric and left as it is. The other landmarks' rows of
    ``N`` are zero, and their features ``k(z, Z) N``. ``None`` where no
    landmark is dropped, or where the kept ones' matrix has no Cholesky
    basis above the cutoff either (then the eigenbasis of all of ``K``).
    """
    m = K.shape[0]
    kept = _independent_landmarks(K, cutoff)
    if kept is None:
        return None
    # factored again in the landmarks' own order, not taken from pstrf's factor (its
    # order of pivots): a9a's hinge, whose Newton runs in this basis, took 246
    # conjugate-gradient steps in that one against 126 (benchmarks/RESULTS.md)
    # (their matrix less the cutoff was factored there: its eigenvalues are above it)
    normalization, kept_features, used, _ = _factors(
        K[np.ix_(kept, kept)], cutoff, "cholesky", features, above=True
    )
    if used != "cholesky":
        return None
    full = np.zeros((m, m))
    full[kept, : kept.size] = normalization
    if not features:
        return full, None
    landmark_features = np.zeros((m, m))
    landmark_features[kept, : kept.size] = kept_features
    dropped = np.setdiff1d(np.arange(m), kept)
    landmark_features[dropped, : kept.size] = K[dropped][:, kept] @ normalization
    return full, landmark_features


def _cutoff_reference(K):
    """The cutoff is a fraction of this: the median diagonal magnitude, else the largest."""
    diagonal = np.abs(np.diag(K))
    reference = np.median(diagonal)
    return reference if reference > 0 else np.max(diagonal)


def _independent_landmarks(K, cutoff):
    """The landmarks a pivoted Cholesky factorisation takes while their eigenvalues pass ``cutoff``.

    LAPACK's ``pstrf`` takes, one by one, the landmark of the largest
    remaining pivot (the squared distance of its feature vector to the span
    of those taken), until none is above ``cutoff``. The smallest
    eigenvalue of the taken landmarks' kernel matrix can only fall as each
    is taken (Cauchy's interlacing), so a Cholesky factorisation of that
    matrix less the cutoff, in the order taken, fails at the first landmark
    that brings it to the cutoff: those before it are kept. Each landmark
    left out is within the largest pivot left of the span of those kept.
    Returns them sorted; ``None`` where every landmark is kept (or a
    factorisation fails).
    """
    _, pivots, rank, info = scipy.linalg.lapack.dpstrf(K, lower=1, tol=cutoff)
    if info < 0 or rank == 0:
        return None
    taken = pivots[:rank] - 1
    shifted = K[np.ix_(taken, taken)]
    shifted.flat[:: rank + 1] -= cutoff
    # (symmetric and C-ordered: its transpose is itself in Fortran order, factored in place)
    _, info = scipy.linalg.lapack.dpotrf(shifted.T, lower=1, overwrite_a=1)
    kept = rank if info == 0 else info - 1
    if info < 0 or not 0 < kept < K.shape[0]:
        return None
    return np.sort(taken[:kept])


#: Features of the basis "leading" that are the landmarks' leading eigen-directions,
#: in order: the block the Newton solver's preconditioner takes exactly
#: (``kernelsvm_keras._solver._LeadingBlock``).
LEADING_FEATURES = 256
# Directions beyond LEADING_FEATURES in _leading_rotation's subspace iteration, and
# its products with K after the first (Halko, Martinsson and Tropp, 2011: a few
# suffice where the spectrum decays, as a kernel matrix's does).
_LEADING_OVERSAMPLING = 64
_LEADING_POWER_ITERATIONS = 2
# Rows of the symmetrisation's blocks (a 4,096-row kernel matrix: 40 ms in
# place by blocks of 64, against 138 ms for (K + K.T) / 2 and its new array).
_SYMMETRIC_BLOCK = 64
# Rows of the blocks of the close-pair test of _cholesky_above.
_PAIR_BLOCK = 256


def _symmetrize(K):
    """``K = (K + K^T) / 2`` in place, by blocks (each pair of blocks read and written once)."""
    m, b = K.shape[0], _SYMMETRIC_BLOCK
    for i in range(0, m, b):
        diagonal = K[i : i + b, i : i + b]
        diagonal += diagonal.T.copy()
        diagonal *= 0.5
        for j in range(i + b, m, b):
            upper, lower = K[i : i + b, j : j + b], K[j : j + b, i : i + b]
            upper += lower.T
            upper *= 0.5
            lower[...] = upper.T


def _cholesky_above(K, cutoff, above=False):
    """``(L, L^-1)``, ``L L^T = K``, if every eigenvalue of ``K`` exceeds ``cutoff``; else ``None``.

    ``K`` is symmetric. With ``above``, that is known (the landmarks
    :func:`_independent_landmarks` keeps, whose matrix less the cutoff it
    factored): only the factor and its inverse are computed. Their smallest
    eigenvalue lies close to the cutoff, where the bound below does not
    answer, and the factorisation of ``K - cutoff I`` said yes again (w8a's
    hinge: 0.16-0.17 s of each of its three maps, against 0.04-0.06 s so).
    Otherwise the answers, cheapest first:

    - Two landmarks that nearly repeat each other answer no, without a
      factorisation: ``e_i - e_j`` has the Rayleigh quotient ``(K_ii +
      K_jj) / 2 - K_ij``, and the smallest eigenvalue is at most that
      (tabular data with categorical columns has such pairs).
    - So does a failed factorisation, or a pivot ``L_ii^2`` at or below the
      cutoff: it is the Schur complement of ``K``'s leading block of order
      ``i``, at least that block's smallest eigenvalue and so ``K``'s
      (Cauchy's interlacing). Pendigits' 2,048 landmarks answer here.
    - ``lambda_min(K) = 1 / ||L^-1||_2^2``, and the inverse is the
      normalisation itself: a bound on its norm (:func:`_squared_norm_bound`)
      below ``1 / cutoff`` answers yes (digits' 1,347 rows at 0.2 of it,
      MNIST's 4,096 landmarks at 0.53).
    - Else a factorisation of ``K - cutoff I``, positive definite exactly
      then (backward stable: to ``m eps ||K||``, far below the cutoff).

    LAPACK's ``potrf`` on the transpose of the symmetric C-ordered ``K``,
    which is ``K`` in Fortran order: no copy of ``K`` beyond LAPACK's own.
    """
    if not above and _close_pair(K, cutoff):
        return None
    factor, info = scipy.linalg.lapack.dpotrf(K.T, lower=1, clean=1)
    if info != 0 or np.min(np.square(np.diag(factor))) <= cutoff:
        return None
    inverse, info = scipy.linalg.lapack.dtrtri(factor, lower=1)
    if info != 0:
        return None
    if above:
        return factor, inverse
    # (a margin far above the products' round-off; a bound that holds is finite, and so is
    # the inverse)
    if _squared_norm_bound(inverse) * cutoff * (1.0 + 1e-6) < 1.0:
        return factor, inverse
    if not np.all(np.isfinite(inverse)):
        return None
    shifted = K.copy()
    shifted.flat[:: K.shape[0] + 1] -= cutoff
    _, info = scipy.linalg.lapack.dpotrf(shifted.T, lower=1, overwrite_a=1)
    return (factor, inverse) if info == 0 else None


class RotatedFactor(NamedTuple):
    """The normalisation of the basis ``"leading"``, with its two factors.

    ``N = L^-T Q`` (:func:`_leading_rotation`), the orthogonal ``Q`` in the
    compact WY form of its ``k`` reflectors (Schreiber and Van Loan, 1989):
    ``Q = I - W T W^T``, ``W`` unit lower trapezoidal, ``T`` upper
    triangular. Rows ``B`` of a kernel block are projected as ``(B L^-T) -
    ((B L^-T) W) T W^T``: the triangle's product over the rows each column
    uses (:class:`~kernelsvm_keras._design.FactorBlocks`), then two products
    of width ``k``, instead of the dense ``B @ N``.
    """

    dense: np.ndarray
    """``N``, float64, of shape (m, m): the map's ``normalization_``."""
    triangle: np.ndarray
    """``L^-T``, float32, upper triangular."""
    reflectors: np.ndarray
    """``W``, float32, of shape (m, k)."""
    coupling: np.ndarray
    """``T``, float32, of shape (k, k)."""


def _compact_wy(reflectors, tau):
    """``(W, T)`` of ``Q = H_1 ... H_k = I - W T W^T`` from ``dgeqrf``'s output, or ``None``.

    ``T^-1 = diag(1 / tau) + striu(W^T W)`` (Puglisi, 1992; Joffrain et al.,
    2006). ``None`` where some ``tau`` is zero (a reflector that is the
    identity) or ``T`` is not finite.
    """
    k = tau.size
    if not np.all(tau != 0):
        return None
    W = np.tril(reflectors[:, :k], -1)
    W[np.arange(k), np.arange(k)] = 1.0
    inverse = np.triu(W.T @ W, 1)
    inverse[np.arange(k), np.arange(k)] = 1.0 / tau
    T, info = scipy.linalg.lapack.dtrtri(inverse, lower=0)
    if info != 0 or not np.all(np.isfinite(T)):
        return None
    return W, T


def _leading_rotation(K, factor, inverse, features=True):
    """``(N, phi(Z), rotation)`` of the basis ``"leading"``: ``N = L^-T Q``, ``phi(Z) = K N = L Q``.

    ``factor`` is ``L`` (``L L^T = K``) and ``inverse`` ``L^-1``, both
    lower triangular and Fortran-ordered; both are overwritten. The leading
    eigenvectors ``V`` of ``K`` come from a subspace iteration started on
    evenly spaced columns of ``K`` itself (no random draw), with a
    Rayleigh-Ritz step, in decreasing order of their eigenvalues. Where
    ``V`` is exact, ``L^T V diag(s)^-1/2`` has orthonormal columns and
    ``N``'s first columns are ``V diag(s)^-1/2``, the eigenbasis's; ``Q``
    is the Householder QR factor of ``L^T V``, so that ``Q`` is orthogonal
    however close ``V`` is (``N N^T = K^-1`` to round-off) and its first
    ``j`` columns span those of ``L^T V`` for every ``j``. ``Q`` is applied
    as its reflectors (LAPACK's ``ormqr``), never formed. ``phi(Z)`` is
    ``None`` without ``features``. ``rotation`` is the :class:`RotatedFactor`
    of ``N`` (``None`` where its compact WY form is not finite).
    """
    m = K.shape[0]
    lead = LEADING_FEATURES
    width = min(m, lead + _LEADING_OVERSAMPLING)
    blas, lapack = scipy.linalg.blas, scipy.linalg.lapack
    # (K is symmetric and C-ordered: K.T is K in Fortran order, passed without a copy)
    Y = np.asfortranarray(K[:, np.linspace(0, m - 1, width).astype(int)])
    for _ in range(_LEADING_POWER_ITERATIONS):
        Y = blas.dgemm(1.0, K.T, scipy.linalg.qr(Y, mode="economic", check_finite=False)[0])
    Y = scipy.linalg.qr(Y, mode="economic", check_finite=False)[0]
    values, vectors = scipy.linalg.eigh(
        blas.dgemm(1.0, Y, blas.dgemm(1.0, K.T, Y), trans_a=1), check_finite=False
    )
    V = blas.dgemm(1.0, Y, vectors[:, np.argsort(-values)[:lead]])
    U = blas.dtrmm(1.0, factor, V, lower=1, trans_a=1)  # L^T V
    reflectors, tau, _, info = lapack.dgeqrf(U, overwrite_a=1)
    if info != 0:
        raise RuntimeError(f"LAPACK dgeqrf failed with info={info}.")
    work = max(1, 64 * m)
    # (before ormqr overwrites L^-1 with N^T)
    wy = _compact_wy(reflectors, tau)
    triangle = inverse.T.astype(np.float32) if wy is not None else None
    # N^T = Q^T L^-1 and phi(Z) = L Q
    normalization_t, _, info = lapack.dormqr("L", "T", reflectors, tau, inverse, work, 1)
    landmark_features = None
    if info == 0 and features:
        landmark_features, _, info = lapack.dormqr("R", "N", reflectors, tau, factor, work, 1)
    if info != 0:
        raise RuntimeError(f"LAPACK dormqr failed with info={info}.")
    normalization = normalization_t.T
    rotation = None
    if wy is not None:
        W, T = (part.astype(np.float32) for part in wy)
        rotation = RotatedFactor(normalization, triangle, W, T)
    return normalization, landmark_features, rotation


def _close_pair(K, cutoff):
    """Whether two rows ``i != j`` of symmetric ``K`` have ``(K_ii + K_jj) / 2 - K_ij <= cutoff``.

    By blocks of rows: no ``(m, m)`` temporary.
    """
    halves = np.diag(K) / 2.0
    for start in range(0, K.shape[0], _PAIR_BLOCK):
        rows = slice(start, start + _PAIR_BLOCK)
        pairs = np.add.outer(halves[rows], halves)
        pairs -= K[rows]
        pairs[np.arange(pairs.shape[0]), np.arange(start, start + pairs.shape[0])] = np.inf
        if pairs.min(initial=np.inf) <= cutoff:
            return True
    return False


def _squared_norm_bound(A, rounds=2):
    """An upper bound on ``||A||_2^2`` for a lower triangular ``A`` with a non-zero diagonal.

    ``||A||_2^2 = rho(A^T A) <= rho(M)`` for ``M = |A|^T |A|`` (elementwise
    magnitudes; the spectral radius grows with the entries of a
    non-negative matrix), and ``rho(M) <= max_i (M v)_i / v_i`` for every
    positive ``v`` (Collatz and Wielandt). ``v`` is the vector of ones and
    then ``M`` times it (positive: every row and column of ``|A|`` holds its
    diagonal); the smaller bound is returned. Two triangular products per
    round; ``inf`` where ``A`` is not finite. (``|A|`` read by blocks of rows
    instead, without its whole array, took 0.13-0.45 s on 4,096 rows against
    0.02-0.05 s: not kept.)
    """
    magnitudes = np.abs(A)
    v = np.ones(A.shape[0])
    bound = np.inf
    for _ in range(rounds):
        Mv = scipy.linalg.blas.dtrmv(
            magnitudes, scipy.linalg.blas.dtrmv(magnitudes, v, lower=1), lower=1, trans=1
        )
        bound = min(bound, float(np.max(Mv / v)))  # (NaN, from a non-finite A: stays inf)
        v = Mv / np.max(Mv)
    return bound


def draw_nystroem_landmarks(
    data, n_components, gamma, random_state, kernel="rbf", degree=3, coef0=0.0
):
    """Draw the landmarks of a Nystroem map from the rows of ``data``.

    The draw of :class:`sklearn.kernel_approximation.Nystroem`: the first
    ``n_components`` indices of a permutation of the rows, so that for equal
    arguments and integer seed the landmarks are its ``components_``.

    Parameters
    ----------
    data : array-like or sparse matrix of shape (n_samples, n_features)
        At least ``n_components`` rows.
    n_components : int
        Number of landmarks ``m``.
    gamma : float
        Kernel coefficient.
    random_state : numpy.random.RandomState
        Source of randomness; it is advanced by the draw.
    kernel : {"linear", "poly", "rbf", "laplacian", "sigmoid"}, default="rbf"
    degree, coef0 : int, float
        Coefficients of the polynomial and sigmoid kernels.

    Returns
    -------
    indices : ndarray of shape (m,)
        The landmarks' rows in ``data``.
    components : ndarray of shape (m, n_features), dtype float64
        The landmarks (dense).
    normalization : ndarray of shape (m, m), dtype float64
        See :func:`nystroem_normalization`.
    """
    indices = random_state.permutation(data.shape[0])[:n_components].copy()
    components = data[indices]
    components = np.asarray(
        components.toarray() if hasattr(components, "toarray") else components, dtype=np.float64
    )
    basis = kernel_matrix_numpy(components, components, kernel, gamma, degree, coef0)
    return indices, components, nystroem_normalization(basis)


def nystroem_features(inputs, components, normalization, gamma, kernel="rbf", degree=3, coef0=0.0):
    """The Nystroem feature map ``k(x, z_j)_j @ normalization``, with ``keras.ops``.

    Parameters
    ----------
    inputs : tensor of shape (n, n_features)
    components : tensor of shape (m, n_features)
        The landmarks ``Z``.
    normalization : tensor of shape (m, m)
        See :func:`nystroem_normalization`.
    gamma : float
    kernel : {"linear", "poly", "rbf", "laplacian", "sigmoid"}, default="rbf"
        See :func:`kernel_matrix`.
    degree, coef0 : int, float

    Returns
    -------
    tensor of shape (n, m)
    """
    kernel_values = kernel_matrix(inputs, components, kernel, gamma, degree, coef0)
    return ops.matmul(kernel_values, normalization)
