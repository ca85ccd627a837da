"""Float64 matrix products on the host, by the BLAS of SciPy's LAPACK.

NumPy's and SciPy's wheels each bundle their own OpenBLAS. After a call,
a library's threads keep spinning for a while (OpenBLAS's thread timeout,
about a tenth of a second), waiting for more work, and take the cores from
the other library's next call. The host work of a small fit alternates
products and SciPy's factorisations (Cholesky, triangular inverse,
eigendecomposition), so on this project's 2-core machine a Cholesky of
1,347 rows took 0.024 s right after a NumPy product, 0.065 s 50 ms after
it, and 0.011 s alone or after the same product by SciPy's BLAS
(``benchmarks/RESULTS.md``, "Two OpenBLAS libraries"). So every float64
matrix product on the host goes through :func:`matmul`: one library, whose
threads are the ones already awake. (Dot products of vectors, which
OpenBLAS runs on one thread, stay NumPy's.)
"""

import numpy as np
import scipy.sparse as sp
from scipy.linalg import blas

__all__ = ["matmul"]


def matmul(A, B):
    """``A @ B`` in float64 by SciPy's BLAS, C-ordered; 1-D operands as NumPy takes them.

    ``dgemm``, or ``dgemv`` where one side is a vector (one row or column);
    a sparse operand: SciPy's sparse product, returned dense.

    C- and Fortran-ordered operands are passed without a copy (as the
    transposes they are in the other order); others are copied once.

    Parameters
    ----------
    A : ndarray or sparse matrix of shape (m, k), or ndarray of shape (k,)
    B : ndarray or sparse matrix of shape (k, n), or ndarray of shape (k,)

    Returns
    -------
    ndarray of shape (m, n), (m,), (n,) or (), dtype float64
    """
    if sp.issparse(A) or sp.issparse(B):  # SciPy's sparse product (no BLAS), as a dense array
        product = A @ B
        return np.asarray(product.toarray() if sp.issparse(product) else product, dtype=np.float64)
    A = np.asarray(A, dtype=np.float64)
    B = np.asarray(B, dtype=np.float64)
    if A.ndim == 1:
        return matmul(B.T, A) if B.ndim == 2 else matmul(A[None, :], B)[0]
    if B.ndim == 1 and A.ndim == 2 and A.shape[1] == B.shape[0] and A.size:
        a, trans = _fortran(A)  # a matrix-vector product: dgemv, twice dgemm's speed there
        return blas.dgemv(1.0, a, B, trans=trans)
    if B.ndim == 1:
        return matmul(A, B[:, None])[:, 0]
    if A.ndim != 2 or B.ndim != 2 or A.shape[1] != B.shape[0]:
        raise ValueError(f"matmul takes (m, k) and (k, n) arrays; got {A.shape} and {B.shape}.")
    if A.size == 0 or B.size == 0:
        return A @ B
    if B.shape[1] == 1:  # one column (a binary problem's coefficients)
        return matmul(A, B[:, 0])[:, None]
    if A.shape[0] == 1:
        return matmul(A[0], B)[None, :]
    # C = A B is C-ordered where its transpose B^T A^T is Fortran-ordered: dgemm's output.
    b_t, trans_a = _fortran(B.T)
    a_t, trans_b = _fortran(A.T)
    return blas.dgemm(1.0, b_t, a_t, trans_a=trans_a, trans_b=trans_b).T


def _fortran(M):
    """``(X, trans)`` with ``X`` Fortran-ordered and ``M`` = ``X`` (trans 0) or ``X.T`` (1)."""
    if M.flags.f_contiguous:
        return M, 0
    if M.flags.c_contiguous:
        return M.T, 1
    return np.asfortranarray(M), 0
