"""Small problems: ``KerasSVC`` and ``KerasLinearSVC`` next to ``SVC``, on scikit-learn's own data.

For each dataset (standardised, a stratified 75/25 split with
``random_state=0``) and system, one warm-up fit, then the median of
``--repeats`` fits; accuracy on the held-out quarter, the solver's
iterations and the certified gap. ``--routes`` times the estimators both
ways they can solve a problem of this size: ``dual`` (the exact dual by
libsvm, :mod:`kernelsvm_keras._dual`, the default below its row limit) and
``newton`` (the limit set to 0: the float32 Newton solver, as before the
dual route). Everything runs in one process, so the ratios to ``SVC`` are
of one moment of the machine.

Examples
--------
::

    python benchmarks/small.py
    python benchmarks/small.py --routes dual newton --large-C
"""

import argparse
import os
import platform
import statistics
import time
import warnings

import numpy as np
import sklearn
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

import kernelsvm_keras
from kernelsvm_keras import KerasLinearSVC, KerasSVC
from kernelsvm_keras import _dual as dual_route
from kernelsvm_keras._solver import device_report

from machine import cpu


def datasets(large_C):
    """``(name, X, y, C)``: scikit-learn's small sets, and a hard-margin case with ``--large-C``."""
    for name, loader in (
        ("iris", load_iris),
        ("breast_cancer", load_breast_cancer),
        ("digits", load_digits),
    ):
        X, y = loader(return_X_y=True)
        yield name, X, y, 1.0
    if large_C:
        X, y = make_classification(random_state=42)
        yield "make_classification C=1e8", X, y, 1e8


def systems(C):
    """``(name, estimator, routes)``: ``routes`` whether the dual/Newton choice applies."""
    return [
        ("SVC", SVC(C=C), False),
        ("KerasSVC", KerasSVC(C=C, random_state=0), True),
        ('KerasSVC loss="hinge"', KerasSVC(C=C, loss="hinge", random_state=0), True),
        ("KerasLinearSVC", KerasLinearSVC(C=C), True),
    ]


def timed_fit(estimator, X, y, repeats):
    """Median fit seconds over ``repeats`` fits after a warm-up fit; the last fitted estimator."""
    seconds = []
    for k in range(repeats + 1):
        start = time.perf_counter()
        estimator.fit(X, y)
        if k:
            seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), estimator


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--routes", nargs="+", choices=("dual", "newton"), default=["dual"])
    parser.add_argument("--large-C", action="store_true", help="also a hard-margin case, C=1e8")
    args = parser.parse_args(argv)

    import keras

    print(
        f"python {platform.python_version()}, numpy {np.__version__}, scikit-learn "
        f"{sklearn.__version__}, keras {keras.__version__} (training: {device_report()}), "
        f"kernelsvm_keras {kernelsvm_keras.__version__}; {cpu()}, {os.cpu_count()} CPUs; "
        f"the dual route up to {dual_route._MAX_ROWS} rows\n"
    )
    print("| data | system | route | accuracy | fit (s) | x SVC | iterations | gap |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    limit = dual_route._MAX_ROWS
    for name, X, y, C in datasets(args.large_C):
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=0.25, stratify=y, random_state=0
        )
        scaler = StandardScaler().fit(X_train)
        X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
        reference = None
        for system, estimator, has_routes in systems(C):
            for route in args.routes if has_routes else ["libsvm"]:
                dual_route._MAX_ROWS = limit if route != "newton" else 0
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always", ConvergenceWarning)
                    seconds, fitted = timed_fit(estimator, X_train, y_train, args.repeats)
                dual_route._MAX_ROWS = limit
                reference = seconds if system == "SVC" else reference
                gap = f"{np.max(fitted.dual_gap_):.1e}" if hasattr(fitted, "dual_gap_") else ""
                if any(issubclass(w.category, ConvergenceWarning) for w in caught):
                    gap += " (warned)"
                iterations = np.max(fitted.n_iter_)
                print(
                    f"| {name} | {system} | {route} | {100 * fitted.score(X_test, y_test):.2f}% | "
                    f"{seconds:.3f} | {seconds / reference:.1f} | {iterations} | {gap} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
