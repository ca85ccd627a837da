"""Float64 matrix products on the host, by the BLAS of SciPy's LAPACK.

NumPy's and SciPy's wheels each bundle their own OpenBLAS. After a call,
a library's threads keep spinning for a while (OpenBLAS's thread timeout,
about a tenth of a second), waiting for more work, and take the cores from
the other library's next call. The host work of a small fit alternates
products and SciPy's factorisations (Cholesky, triangular inverse,
eigendecomposition), so on this project's 2-core machine a Cholesky of
1,347 rows took 0.024 s right after a NumPy product, 0.065 s 50 ms after
it, and 0.011 s alone or after the same product by SciPy's BLAS
(``benchmarks/RESULTS.md``, "Two OpenBLAS libraries"). The products that
feed or follow those factorisations go through :func:`matmul`.
"""

import numpy as np
from scipy.linalg import blas

__all__ = ["matmul"]


def matmul(A, B):
    """``A @ B`` for 2-D arrays, in float64, by SciPy's ``dgemm``; C-ordered.

    C- and Fortran-ordered operands are passed without a copy (as the
    transposes they are in the other order); others are copied once.

    Parameters
    ----------
    A : ndarray of shape (m, k)
    B : ndarray of shape (k, n)

    Returns
    -------
    ndarray of shape (m, n), dtype float64, C-ordered
    """
    A = np.asarray(A, dtype=np.float64)
    B = np.asarray(B, dtype=np.float64)
    if A.ndim != 2 or B.ndim != 2 or A.shape[1] != B.shape[0]:
        raise ValueError(f"matmul takes (m, k) and (k, n) arrays; got {A.shape} and {B.shape}.")
    if A.size == 0 or B.size == 0:
        return A @ B
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
