"""Count the solver's passes over the features, to compare two solvers fairly.

A fit's time on these shared machines moves by 10% or more between runs and
by more between machines; the number of passes over the feature matrix does
not. This script fits ``KerasSVC`` on the first ``--rows`` MNIST training rows
(scaled to [0, 1]) and prints, as one JSON line, the fit and solver times,
the Newton iterations, the certified gap and, per method of the design
(:class:`kernelsvm_keras._design.RowBlocks`), how many times it ran and for
how long. Run it from two checkouts (``git worktree add``) one after the
other to tell a slower solver from a slower machine.

Example::

    python benchmarks/solver_passes.py --images ../shared/data/mnist/train-images-idx3-ubyte.gz \\
        --labels ../shared/data/mnist/train-labels-idx1-ubyte.gz --rows 60000 --n-components 4096
"""

import argparse
import collections
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.getcwd())  # the checkout the command runs in, not an installed copy

from kernelsvm_keras import (  # noqa: E402
    KerasSVC,  # noqa: E402
    _base,
    _solver,
)
from kernelsvm_keras.datasets import load_idx  # noqa: E402

try:  # (a checkout from before the design left the solver's module)
    from kernelsvm_keras._design import RowBlocks  # noqa: E402
except ImportError:
    RowBlocks = _solver.RowBlocks

_METHODS = ("matmul", "matmul_rmatmul", "rmatmul", "gram", "new_gram_rows")


def _count(counts, seconds):
    """Wrap the design's products and the solver entry point with counters."""
    for name in _METHODS:
        method = getattr(RowBlocks, name)

        def counted(self, *args, _method=method, _name=name, **kwargs):
            start = time.perf_counter()
            try:
                return _method(self, *args, **kwargs)
            finally:
                seconds[_name] += time.perf_counter() - start
                counts[_name] += 1

        setattr(RowBlocks, name, counted)
    # solve_ovr_svm: its name before the losses became objects (commit f8f0e66)
    name = "solve_svm" if hasattr(_base, "solve_svm") else "solve_ovr_svm"
    solve = getattr(_base, name)

    def timed_solve(*args, **kwargs):
        start = time.perf_counter()
        try:
            return solve(*args, **kwargs)
        finally:
            seconds["solver"] += time.perf_counter() - start

    setattr(_base, name, timed_solve)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", required=True, help="IDX images (MNIST's train-images)")
    parser.add_argument("--labels", required=True, help="IDX labels of --images")
    parser.add_argument("--rows", type=int, default=60000)
    parser.add_argument("--n-components", type=int, default=4096)
    parser.add_argument("--C", type=float, default=10.0)
    parser.add_argument("--loss", default="squared_hinge", choices=("hinge", "squared_hinge"))
    args = parser.parse_args(argv)
    X = load_idx(args.images).reshape(-1, 28 * 28)[: args.rows].astype(np.float32) / 255.0
    y = load_idx(args.labels)[: args.rows]
    counts, seconds = collections.Counter(), collections.Counter()
    _count(counts, seconds)
    est = KerasSVC(
        C=args.C,
        n_components=args.n_components,
        approximation="nystroem",
        loss=args.loss,
        random_state=0,
    )
    start = time.perf_counter()
    est.fit(X, y)
    fit = time.perf_counter() - start
    print(
        json.dumps(
            {
                "rows": int(X.shape[0]),
                "n_components": args.n_components,
                "fit_s": round(fit, 2),
                "solver_s": round(seconds.pop("solver"), 2),
                "n_iter": int(np.max(est.n_iter_)),
                "gap": float(np.max(est.dual_gap_)),
                "passes": dict(counts),
                "passes_s": {k: round(v, 2) for k, v in seconds.items()},
            }
        )
    )


if __name__ == "__main__":
    main()
