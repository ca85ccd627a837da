"""Count the work of the hinge's working sets, to compare two versions fairly.

``KerasSVC(loss="hinge")`` solves a large problem whose support vectors are
few on working sets (:func:`kernelsvm_keras._dual.solve_working_sets`): each
round forms the Gram matrices of the sets' new rows and runs libsvm on each
set. A fit's time on these shared machines moves by 10-30% between runs; the
work does not. This script fits on the data ``compare.py`` reads (the same
arguments), then prints one markdown row: the fit's time, accuracy and
certified gap, libsvm's solves and the Gram matrices' updates, the Gram
matrices' multiply-adds, and SMO's steps times the rows of their set (each
step updates the gradient of every row). Run it from two checkouts one after
the other (``PYTHONPATH=<checkout>``) to tell less work from a quieter machine.

Example::

    D=../shared/data
    python benchmarks/working_sets.py --train $D/w8a/w8a --n-features 300 --scale standard
"""

import argparse
import os
import subprocess
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import kernelsvm_keras  # noqa: E402
from kernelsvm_keras import KerasSVC, _dual  # noqa: E402

from compare import load, preprocess  # noqa: E402


def _counting(work):
    """Wrap a working set's update and libsvm's column with counters of their work."""
    update, column = _dual._WorkingSet.update, _dual._Dual.column

    def counted_update(self, design):
        old = self._previous
        kept = 0
        if old is not None and old.Q is not None:
            kept = int(np.count_nonzero(np.isin(self.rows, old.rows)))
        new = self.rows.size - kept
        work["gram"] += new * (kept + new / 2) * design.n_outputs  # a symmetric block: half
        work["updates"] += 1
        return update(self, design)

    def counted_column(self, k, Q, rows):
        solution = column(self, k, Q, rows)
        work["smo"] += solution[2] * rows.size
        work["solves"] += 1
        return solution

    _dual._WorkingSet.update = counted_update
    _dual._Dual.column = counted_column


def _commit():
    """The checkout's commit, where it is a git checkout."""
    here = os.path.dirname(kernelsvm_keras.__file__)
    try:
        out = subprocess.run(
            ["git", "-C", here, "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        )
    except OSError:
        return "?"
    return out.stdout.strip() or "?"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=("digits", "breast_cancer", "noisy"), default="digits")
    parser.add_argument("--train")
    parser.add_argument("--train-labels")
    parser.add_argument("--test")
    parser.add_argument("--test-labels")
    parser.add_argument("--n-features", type=int)
    parser.add_argument("--max-train", type=int)
    parser.add_argument("--scale", choices=("none", "standard"))
    parser.add_argument("--C", type=float, default=1.0)
    parser.add_argument("--n-components", type=int, default=2048)
    parser.add_argument("--multi-class", choices=("auto", "ovr", "ovo"), default="auto")
    parser.add_argument("--random-state", type=int, default=0)
    args = parser.parse_args(argv)
    X_train, X_test, y_train, y_test, name, scale = load(args)
    X_train, X_test = preprocess(X_train, X_test, scale)
    gamma = float(1.0 / (X_train.shape[1] * X_train.var()))
    work = {"gram": 0.0, "smo": 0.0, "updates": 0, "solves": 0}
    _counting(work)
    est = KerasSVC(
        C=args.C,
        gamma=gamma,
        loss="hinge",
        n_components=args.n_components,
        multi_class=args.multi_class,
        random_state=args.random_state,
    )
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X_train, y_train)
    fit = time.perf_counter() - start
    accuracy = 100 * est.score(X_test, y_test)
    print(
        f"| {name} | {_commit()} | {fit:.2f} | {accuracy:.2f}% | {np.max(est.dual_gap_):.1e} "
        f"| {work['solves']} | {work['updates']} | {work['gram']:.3g} | {work['smo']:.3g} |"
    )


if __name__ == "__main__":
    main()
