"""Fuzz the whole family on rows of extreme magnitude: a clear refusal or a finite model.

Draws tiny problems (3-60 rows, 1-5 features at magnitudes 1e-30 to 1e30, a
constant feature, a far offset), one of the five estimators with a random
kernel, loss, ``C`` (1e-10 to 1e10) and width, and fits it. A fit must
either raise ``ValueError`` (printed, not counted: the estimators refuse
problems beyond float32's range and say why) or return a model whose
coefficients, intercept, decision values, objective and gap are finite.
Anything else (another exception, a non-finite model, a crash) is counted
and printed. Exits with status 1 if any fit was bad. ``--method
partial_fit`` streams the rows in three chunks instead.

Examples
--------
::

    python benchmarks/extremes.py --seed 0 --cases 60
    python benchmarks/extremes.py --method partial_fit --seed 0 --cases 60
"""

import argparse
import os
import sys
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from kernelsvm_keras import (  # noqa: E402
    KerasLinearSVC,
    KerasLinearSVR,
    KerasOneClassSVM,
    KerasSVC,
    KerasSVR,
)

KERNELS = ["rbf", "linear", "poly", "sigmoid", "laplacian"]


def draw(rng):
    """A problem: the estimator and the arguments of its ``fit``."""
    n, d = int(rng.choice([3, 10, 60])), int(rng.choice([1, 2, 5]))
    X = rng.standard_normal((n, d)) * 10.0 ** float(rng.choice([-30, -15, -6, 0, 6, 15, 30]))
    if rng.rand() < 0.3:
        X[:, 0] = X[0, 0]  # a constant feature
    if rng.rand() < 0.2:
        X = X + 10.0 ** float(rng.choice([3, 10, 20]))  # far from the origin
    which = str(rng.choice(["svc", "linearsvc", "svr", "linearsvr", "oneclass"]))
    C = 10.0 ** float(rng.choice([-10, -3, 0, 3, 10]))
    kernel = str(rng.choice(KERNELS))
    y = rng.randint(2, size=n)
    y[:2] = [0, 1]
    target = rng.standard_normal(n) * 10.0 ** float(rng.choice([-10, 0, 10]))
    width = {"n_components": int(rng.choice([4, 32])), "random_state": 0}
    classification = ["hinge", "squared_hinge"]
    regression = ["epsilon_insensitive", "squared_epsilon_insensitive"]
    if which == "svc":
        loss = str(rng.choice(classification))
        return KerasSVC(C=C, kernel=kernel, loss=loss, **width), (X, y)
    if which == "linearsvc":
        return KerasLinearSVC(C=C, loss=str(rng.choice(classification))), (X, y)
    if which == "svr":
        loss = str(rng.choice(regression))
        return KerasSVR(C=C, kernel=kernel, loss=loss, **width), (X, target)
    if which == "linearsvr":
        return KerasLinearSVR(C=C, loss=str(rng.choice(regression))), (X, target)
    nu = float(rng.choice([0.1, 0.5, 1.0]))
    return KerasOneClassSVM(kernel=kernel, nu=nu, **width), (X,)


def check(case, est, args, method="fit"):
    """Fit one problem; print it. Returns 1 if the fit was bad, else 0.

    ``method="partial_fit"``: three chunks of rows in turn (the classifiers
    told the classes); its model is not certified (``objective_`` and
    ``dual_gap_`` NaN), so only the model's arrays must be finite.
    """
    X = args[0]
    what = f"case {case}: {est!r}.{method} on X {X.shape} of magnitude {np.abs(X).max():.1e}"
    what = " ".join(what.split())
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if method == "fit":
                est.fit(*args)
            else:
                extra = (
                    {"classes": [0, 1]} if hasattr(est, "classes_") or "SVC" in repr(est) else {}
                )
                for chunk in np.array_split(np.arange(X.shape[0]), 3):
                    est.partial_fit(*(a[chunk] for a in args), **extra)
            values = est.predict(X) if hasattr(est, "epsilon") else est.decision_function(X)
    except ValueError as exc:
        print(f"{what}: refused: {str(exc)[:100]!r}")
        return 0
    except Exception as exc:  # noqa: BLE001 (what the fuzz is for)
        print(f"{what}: BAD: {type(exc).__name__}: {str(exc)[:300]}")
        return 1
    arrays = [est.coef_, est.intercept_, values]
    if method == "fit":
        arrays += [est.objective_, est.dual_gap_]
    if not all(np.all(np.isfinite(a)) for a in arrays) or np.any(est.dual_gap_ < 0):
        print(f"{what}: BAD: NON-FINITE MODEL: gap {est.dual_gap_}, objective {est.objective_}")
        return 1
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0, help="seed of the problems drawn")
    parser.add_argument("--cases", type=int, default=60, help="problems to fit")
    parser.add_argument("--method", choices=["fit", "partial_fit"], default="fit")
    args = parser.parse_args(argv)
    rng = np.random.RandomState(args.seed)
    bad = sum(check(case, *draw(rng), method=args.method) for case in range(args.cases))
    print(f"seed {args.seed}: {bad} bad fits in {args.cases}")
    return bad


if __name__ == "__main__":
    sys.exit(1 if main() else 0)
