"""Float64 matrix products on the host: NumPy's BLAS, or SciPy's inside a small fit.

NumPy's and SciPy's wheels each bundle their own OpenBLAS. After a call,
a library's threads keep spinning for a while (OpenBLAS's thread timeout,
about a tenth of a second), waiting for more work, and take the cores from
the other library's next call. The host work of a small fit alternates
products and SciPy's factorisations (Cholesky, triangular inverse), each
a few milliseconds: on this project's 2-core machine a Cholesky of 1,347
rows took 0.024 s right after a NumPy product, 0.060 s 50 ms after it, and
0.011 s alone or after the same product by SciPy's BLAS
(``benchmarks/RESULTS.md``, "Two OpenBLAS libraries"). Inside
:func:`scipy_products` (a fit on landmarks small enough for the exact dual:
the map's kernel and factorisation, the dual and its certificate), :func:`matmul` takes SciPy's
BLAS, so those products and factorisations share one library's threads.
Everywhere else it is NumPy's ``@``: NumPy's OpenBLAS was as fast or
faster on the large products (a Gram matrix of 300 rows of 2,048 features:
2.3 ms against SciPy's 3.5-6.7 ms), and a large fit's factorisation is one
call among seconds of products (w8a's hinge took about 1.3 s longer, 11.7 s
against 10.4 s, with every product on SciPy's BLAS).
"""

import contextlib
import threading

import numpy as np
import scipy.sparse as sp
from scipy.linalg import blas

__all__ = ["matmul", "scipy_products"]

_STATE = threading.local()
# SciPy's dsyrk beat its dgemm on Gram matrices of this many rows or more (1,000
# rows of 2,048 features: 20.9 ms against 37.3 ms; 300 rows: 6.7 ms against 3.5 ms)
_SYRK_ROWS = 512
# Columns of the blocks in which _gram mirrors the triangle dsyrk computes.
_MIRROR_BLOCK = 64


@contextlib.contextmanager
def scipy_products():
    """Within this context (on this thread), :func:`matmul` takes SciPy's BLAS."""
    before = getattr(_STATE, "scipy", False)
    _STATE.scipy = True
    try:
        yield
    finally:
        _STATE.scipy = before


def matmul(A, B):
    """``A @ B``: NumPy's, or inside :func:`scipy_products` SciPy's BLAS in float64.

    SciPy's: C-ordered; ``dgemm``; ``dsyrk`` for ``A @ A.T`` of
    :data:`_SYRK_ROWS` rows or more (a Gram matrix: half the multiply-adds,
    and exactly symmetric); ``dgemv`` where one side is a vector (one row
    or column); 1-D operands as NumPy takes them; a sparse operand: SciPy's
    sparse product, returned dense.

    C- and Fortran-ordered operands are passed without a copy (as the
    transposes they are in the other order); others are copied once.

    Parameters
    ----------
    A : ndarray or sparse matrix of shape (m, k), or ndarray of shape (k,)
    B : ndarray or sparse matrix of shape (k, n), or ndarray of shape (k,)

    Returns
    -------
    ndarray of shape (m, n), (m,), (n,) or () (float64 from SciPy's BLAS)
    """
    if not getattr(_STATE, "scipy", False):
        return A @ B
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
    if A.shape[0] >= _SYRK_ROWS and _transposes(A, B):  # A A^T: half the multiply-adds
        return _gram(A)
    if B.shape[1] == 1:  # one column (a binary problem's coefficients)
        return matmul(A, B[:, 0])[:, None]
    if A.shape[0] == 1:
        return matmul(A[0], B)[None, :]
    # C = A B is C-ordered where its transpose B^T A^T is Fortran-ordered: dgemm's output.
    b_t, trans_a = _fortran(B.T)
    a_t, trans_b = _fortran(A.T)
    return blas.dgemm(1.0, b_t, a_t, trans_a=trans_a, trans_b=trans_b).T


def _transposes(A, B):
    """Whether ``B`` is ``A.T``: the same memory, shape and strides reversed."""
    return (
        A.shape == B.shape[::-1]
        and A.strides == B.strides[::-1]
        and A.__array_interface__["data"][0] == B.__array_interface__["data"][0]
    )


def _gram(A):
    """``A A^T`` by ``dsyrk`` (one triangle), mirrored in place by blocks; C-ordered.

    (``np.triu`` of the triangle and its transpose added took 15 ms of a
    1,347-row Gram matrix of 64 features, against 2.4 ms in place.)
    """
    a, trans = _fortran(A)  # A = a, or a.T
    # dsyrk's trans=0 gives a a^T, trans=1 a^T a: A A^T either way; Fortran-ordered, its
    # upper triangle set
    G = blas.dsyrk(1.0, a, trans=trans, lower=0)
    m, b = G.shape[0], _MIRROR_BLOCK
    for start in range(0, m, b):
        block = slice(start, start + b)
        G[start + b :, block] = G[block, start + b :].T
        diagonal = G[block, block]
        below = np.tril_indices(diagonal.shape[0], -1)
        diagonal[below] = diagonal.T[below]
    return G.T  # symmetric: its C-ordered view


def _fortran(M):
    """``(X, trans)`` with ``X`` Fortran-ordered and ``M`` = ``X`` (trans 0) or ``X.T`` (1)."""
    if M.flags.f_contiguous:
        return M, 0
    if M.flags.c_contiguous:
        return M.T, 1
    return np.asfortranarray(M), 0
