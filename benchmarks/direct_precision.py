"""Exact Newton steps solved in float32 (as a device would) against float64 on the host.

The solver's direct (Woodbury) steps factor a ``q x q`` system of a column's
curved rows in float64 on the host, from a Gram matrix computed in float32
on the device (in float64 where float32 rounding would swamp the diagonal
``1 / c``; see ``_solver._definite_solve``). Issue 19 asks whether float32 on
the device with a jitter would serve, measured in Newton iterations. Mode
``float32`` solves the same systems in float32 (Cholesky, then the jitter
where it fails, as on the host) and never uses the float64 Gram; ``float64``
is the solver as it is. Each case runs on the Newton route (the exact dual
turned off); each mode in a fresh process.

Usage::

    python benchmarks/direct_precision.py --pendigits PATH/pendigits [--mnist PATH/mnist]
"""

import argparse
import json
import os
import subprocess
import sys
import time


def _float32_steps():
    import numpy as np
    import scipy.linalg

    from kernelsvm_keras import _solver

    def solve(M, rhs, jitter):
        M, rhs = M.astype(np.float32), rhs.astype(np.float32)
        eye = np.eye(len(M), dtype=np.float32)
        for shift in (0.0, jitter):
            try:
                factor = scipy.linalg.cho_factor(M + np.float32(shift) * eye, lower=True)
                solution = scipy.linalg.cho_solve(factor, rhs)
            except (np.linalg.LinAlgError, ValueError):
                continue
            if np.all(np.isfinite(solution)):
                return solution.astype(np.float64)
        return np.linalg.lstsq(M, rhs, rcond=None)[0].astype(np.float64)

    _solver._EXACT_GRAM_RATIO = np.inf  # never the float64 Gram
    _solver._definite_solve = solve


def _cases(pendigits, mnist):
    import numpy as np
    from sklearn.datasets import load_digits, load_svmlight_file, make_classification
    from sklearn.preprocessing import StandardScaler

    from kernelsvm_keras import KerasSVC

    X, y = load_digits(return_X_y=True)
    yield "digits, C=10, squared hinge", X / 16.0, y, KerasSVC(C=10, random_state=0)
    yield "digits, C=10, hinge", X / 16.0, y, KerasSVC(C=10, loss="hinge", random_state=0)
    X, y = make_classification(5000, 20, random_state=0)
    model = KerasSVC(C=1000, loss="hinge", n_components=512, random_state=0)
    yield "make_classification 5000, C=1000, hinge, 512", X, y, model
    if pendigits:
        X, y = load_svmlight_file(pendigits, n_features=16)
        X = StandardScaler().fit_transform(X.toarray())
        yield "pendigits, defaults", X, y, KerasSVC(random_state=0)
        yield "pendigits, hinge", X, y, KerasSVC(loss="hinge", random_state=0)
    if mnist:
        from kernelsvm_keras.datasets import load_mnist

        (X, y), _ = load_mnist(mnist)
        X = X.reshape(len(X), -1)[:10000].astype(np.float64) / 255.0
        yield "MNIST 10k, C=10", X, y[:10000], KerasSVC(C=10, random_state=0)


def _run(mode, pendigits, mnist):
    import warnings

    import numpy as np

    warnings.filterwarnings("ignore")
    from kernelsvm_keras import _dual as dual_route

    if mode == "float32":
        _float32_steps()
    dual_route._MAX_ROWS = 0
    for name, X, y, model in _cases(pendigits, mnist):
        start = time.perf_counter()
        model.fit(X, y)
        row = {
            "mode": mode,
            "case": name,
            "n_iter": int(np.max(model.n_iter_)),
            "gap": float(np.max(model.dual_gap_)),
            "tol": model.tol,
            "objective": float(np.sum(model.objective_)),
            "seconds": round(time.perf_counter() - start, 2),
        }
        print(json.dumps(row), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pendigits", help="path of the pendigits training file (LIBSVM)")
    parser.add_argument("--mnist", help="folder of the MNIST IDX files")
    parser.add_argument("--run", help=argparse.SUPPRESS)  # the child process's mode
    args = parser.parse_args()
    if args.run:
        _run(args.run, args.pendigits, args.mnist)
        return
    for mode in ("float64", "float32"):
        command = [sys.executable, __file__, "--run", mode]
        for flag in ("pendigits", "mnist"):
            if getattr(args, flag):
                command += [f"--{flag}", getattr(args, flag)]
        subprocess.run(command, env=dict(os.environ), check=True)


if __name__ == "__main__":
    main()
