"""Small problems at large C: which fits certify, which warn, and how long each takes.

Issue 16 asks that a large ``C`` give a finite, certified model or a clear
refusal. The classifier grid fits ``KerasSVC`` on five small binary and
multi-class problems (make_classification's issue-16 rows, iris, breast
cancer standardised, and noisy rows that are not separable), both losses,
``C`` from 1e4 to 1e12, with three maps (the default landmarks, 64
landmarks, the linear kernel): 150 fits. The regressor grid
(``--estimators regressors``) fits ``KerasSVR`` with the same three maps
and ``KerasLinearSVR`` on diabetes (standardised) and 300 rows of
``make_regression``, both losses: 80 fits. Each prints one markdown row
per fit that warned, was refused or took more than ``--slow`` seconds, then
a summary: fits certified, warned and refused, the total and the slowest
fit time.

Run it against another commit by putting a clone of it first on
``PYTHONPATH``.

Example::

    python benchmarks/large_c_grid.py
    python benchmarks/large_c_grid.py --estimators regressors
    PYTHONPATH=/tmp/old python benchmarks/large_c_grid.py --slow 2
"""

import argparse
import os
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from sklearn.datasets import (  # noqa: E402
    load_breast_cancer,
    load_diabetes,
    load_iris,
    make_classification,
    make_regression,
)
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import kernelsvm_keras  # noqa: E402
from kernelsvm_keras import KerasLinearSVR, KerasSVC, KerasSVR  # noqa: E402


def _datasets():
    X_bc, y_bc = load_breast_cancer(return_X_y=True)
    return {
        "issue16": make_classification(
            200, 5, n_informative=3, n_redundant=0, n_clusters_per_class=1, random_state=0
        ),
        "mc42": make_classification(random_state=42),
        "iris": load_iris(return_X_y=True),
        "cancer": (StandardScaler().fit_transform(X_bc), y_bc),
        "noisy": make_classification(300, 8, flip_y=0.1, random_state=1),
    }


MAPS = {"default": {}, "64 landmarks": {"n_components": 64}, "linear": {"kernel": "linear"}}


def _classifier_fits(Cs):
    """``(data, loss, C, map, estimator, X, y)`` of the classifier grid."""
    for name, (X, y) in _datasets().items():
        for loss in ("hinge", "squared_hinge"):
            for C in Cs:
                for label, params in MAPS.items():
                    est = KerasSVC(C=C, loss=loss, random_state=0, **params)
                    yield name, loss, C, label, est, X, y


def _regressor_fits(Cs):
    """``(data, loss, C, map, estimator, X, y)`` of the regressor grid."""
    X_d, y_d = load_diabetes(return_X_y=True)
    X_r, y_r = make_regression(300, 5, noise=5.0, random_state=0)
    data = {
        "diabetes": (StandardScaler().fit_transform(X_d), (y_d - y_d.mean()) / y_d.std()),
        "regression": (X_r, y_r / y_r.std()),
    }
    for name, (X, y) in data.items():
        for loss in ("epsilon_insensitive", "squared_epsilon_insensitive"):
            for C in Cs:
                for label, params in MAPS.items():
                    est = KerasSVR(C=C, loss=loss, random_state=0, **params)
                    yield name, loss, C, label, est, X, y
                yield name, loss, C, "KerasLinearSVR", KerasLinearSVR(C=C, loss=loss), X, y


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slow", type=float, default=1.0, help="print fits slower than this")
    parser.add_argument("--Cs", type=float, nargs="+", default=[1e4, 1e6, 1e8, 1e10, 1e12])
    parser.add_argument(
        "--estimators", choices=["classifiers", "regressors"], default="classifiers"
    )
    args = parser.parse_args()
    fits = _classifier_fits if args.estimators == "classifiers" else _regressor_fits
    print(f"kernelsvm_keras from {os.path.dirname(kernelsvm_keras.__file__)}")
    print("| data | loss | C | map | fit (s) | gap | outcome |")
    print("|---|---|---:|---|---:|---:|---|")
    counts = {"certified": 0, "warned": 0, "refused": 0}
    times = []
    for name, loss, C, label, est, X, y in fits(args.Cs):
        start = time.perf_counter()
        gap = float("nan")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            try:
                est.fit(X, y)
            except ValueError:
                outcome = "refused"
            else:
                gap = float(np.max(est.dual_gap_))
                warned = any(w.category is ConvergenceWarning for w in caught)
                outcome = "warned" if warned else "certified"
        seconds = time.perf_counter() - start
        counts[outcome] += 1
        times.append(seconds)
        if outcome != "certified" or seconds > args.slow:
            print(
                f"| {name} | {loss} | {C:.0e} | {label} | {seconds:.2f} | {gap:.1e} | {outcome} |",
                flush=True,
            )
    print()
    print(
        f"{len(times)} fits: {counts['certified']} certified, {counts['warned']} warned, "
        f"{counts['refused']} refused; {sum(times):.1f} s in all, the slowest {max(times):.2f} s"
    )


if __name__ == "__main__":
    main()
