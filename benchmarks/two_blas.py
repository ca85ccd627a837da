"""NumPy's and SciPy's OpenBLAS side by side: a Cholesky after a product by the other library.

NumPy's and SciPy's wheels each bundle an OpenBLAS, and after a call each
library's threads spin for a while waiting for more work. This script
times SciPy's ``dpotrf`` of an RBF kernel matrix (digits' first 1,347
standardised rows by default) after a pause, alone, after a product by
NumPy (with pauses between), and after the same product by SciPy's BLAS
(``kernelsvm_keras._blas.matmul``). Median of ``--repeats`` each::

    python benchmarks/two_blas.py --repeats 15
"""

import argparse
import os
import time

import numpy as np
import scipy
import scipy.linalg
from sklearn.datasets import load_digits
from sklearn.preprocessing import StandardScaler

from kernelsvm_keras._blas import matmul
from kernelsvm_keras._kernels import kernel_matrix_numpy

from machine import cpu


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1347)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args(argv)
    print(
        f"numpy {np.__version__}, scipy {scipy.__version__}; {cpu()}, "
        f"{len(os.sched_getaffinity(0))} CPUs"
    )
    X = StandardScaler().fit_transform(load_digits().data[: args.rows])
    K = kernel_matrix_numpy(X, X, "rbf", 1.0 / X.shape[1])
    A = np.random.RandomState(0).rand(args.rows, 64)

    def cholesky_after(before, pause=0.0):
        times = []
        for _ in range(args.repeats):
            time.sleep(0.3)  # every library's threads asleep
            before()
            time.sleep(pause)
            start = time.perf_counter()
            scipy.linalg.lapack.dpotrf(K.T, lower=1, clean=1)
            times.append(time.perf_counter() - start)
        return np.median(times)

    cases = [
        ("alone", lambda: None, 0.0),
        ("right after a NumPy product", lambda: A @ A.T, 0.0),
        ("50 ms after a NumPy product", lambda: A @ A.T, 0.05),
        ("200 ms after a NumPy product", lambda: A @ A.T, 0.2),
        ("right after the product by SciPy's BLAS", lambda: matmul(A, A.T), 0.0),
    ]
    size = f"{args.rows} x {args.rows}"
    print(f"\nSciPy's dpotrf of a {size} kernel matrix, median of {args.repeats}")
    print("\n| before it | seconds |\n|---|---:|")
    for name, before, pause in cases:
        print(f"| {name} | {cholesky_after(before, pause):.4f} |")


if __name__ == "__main__":
    main()
