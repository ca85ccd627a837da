"""The hinge at a large C on rows that are not separable: with and without the float64 finish.

Issue 16's last case: there, the float32 Newton iterations stop improving
before the float64 certificate meets ``tol`` (a ``ConvergenceWarning``).
Since then a float64 interior point solves such a problem again where its
features are few enough (``kernelsvm_keras._interior``). Each case is fitted
twice in this process, the second time with that finish switched off
(``_certificate._INTERIOR_FLOPS = 0``, as before it existed), and one markdown
row per fit is printed: the fit time, the Newton iterations, the certified
gap, the objective and whether a ``ConvergenceWarning`` was raised.

Example::

    python benchmarks/large_c.py
    python benchmarks/large_c.py --cases kernel-256 linear
"""

import argparse
import os
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from sklearn.datasets import make_classification  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402

from kernelsvm_keras import KerasLinearSVC, KerasSVC  # noqa: E402

try:  # the finish's budget, in the certificate's module (the solver's before it had one)
    from kernelsvm_keras import _certificate as _FINISH  # noqa: E402
except ImportError:
    from kernelsvm_keras import _solver as _FINISH  # noqa: E402


def _data(n, n_classes=2):
    # issue 16's data: 5% of the labels flipped, so not separable
    return make_classification(
        n,
        5,
        n_informative=3,
        n_redundant=0,
        n_clusters_per_class=1,
        n_classes=n_classes,
        flip_y=0.05,
        random_state=0,
    )


CASES = {
    # issue 16's configuration
    "kernel-256": lambda: (
        KerasSVC(C=1e7, loss="hinge", n_components=256, random_state=0),
        _data(8000),
    ),
    "kernel-2048": lambda: (KerasSVC(C=1e7, loss="hinge", random_state=0), _data(8000)),
    "ovr-3": lambda: (
        KerasSVC(C=1e6, loss="hinge", n_components=128, multi_class="ovr", random_state=0),
        _data(6000, n_classes=3),
    ),
    "linear": lambda: (KerasLinearSVC(C=1e7, loss="hinge"), _data(50000)),
}


def fit(case, finish):
    estimator, (X, y) = CASES[case]()
    budget = _FINISH._INTERIOR_FLOPS
    if not finish:
        _FINISH._INTERIOR_FLOPS = 0
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            start = time.perf_counter()
            estimator.fit(X, y)
            seconds = time.perf_counter() - start
    finally:
        _FINISH._INTERIOR_FLOPS = budget
    warned = any(w.category is ConvergenceWarning for w in caught)
    cells = [
        case,
        "yes" if finish else "no",
        f"{seconds:.2f}",
        str(int(np.max(estimator.n_iter_))),
        f"{np.max(estimator.dual_gap_):.2e}",
        f"{np.sum(estimator.objective_):.6e}",
        "yes" if warned else "no",
    ]
    return "| " + " | ".join(cells) + " |"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", choices=sorted(CASES), default=sorted(CASES))
    args = parser.parse_args(argv)
    KerasSVC(n_components=16, random_state=0).fit(*_data(100))  # Keras's first use
    header = ["case", "float64 finish", "fit (s)", "Newton iterations", "certified gap"]
    print("| " + " | ".join(header + ["objective", "warned"]) + " |")
    print("|---|---|---:|---:|---:|---:|---|")
    for case in args.cases:
        for finish in (True, False):
            print(fit(case, finish), flush=True)


if __name__ == "__main__":
    main()
