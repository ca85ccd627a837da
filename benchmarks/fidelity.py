"""Does the fit reach the SVM optimum? Objective ratios against liblinear.

For each loss and C, fits KerasLinearSVC on X and KerasSVC, and solves the
same problems with liblinear on the same features (X, or KerasSVC's fitted
random Fourier features), evaluating both solutions with the objective of
the README, ``1/2 ||w||^2 + C sum_i s_i loss(y_i (w . phi(x_i) + b))`` (intercept
unpenalised; liblinear's intercept_scaling=10 makes its
intercept penalty negligible). Prints, per system: our certified relative
duality gap, the ratio of our objective to liblinear's (maximum over the
one-vs-rest problems), whether liblinear converged, and fit times.

    python benchmarks/fidelity.py ../shared/data/a9a/a9a --n-features 123
"""

import argparse
import os
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.svm import LinearSVC  # noqa: E402

from kernelsvm_keras import KerasLinearSVC, KerasSVC  # noqa: E402

from compare import environment, primal_objective, read_svmlight  # noqa: E402


def reference(features, y, C, loss):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        t0 = time.perf_counter()
        ref = LinearSVC(
            C=C, loss=loss, dual=loss == "hinge", intercept_scaling=10, tol=1e-6, max_iter=20000
        ).fit(features, y)
        seconds = time.perf_counter() - t0
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    return ref, seconds, converged


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", help="LIBSVM training file")
    parser.add_argument("--n-features", type=int, required=True)
    parser.add_argument("--n-components", type=int, default=1024)
    parser.add_argument("--Cs", type=float, nargs="+", default=[0.01, 1.0, 100.0])
    args = parser.parse_args(argv)

    X, y = read_svmlight(args.path, args.n_features)
    X = StandardScaler().fit_transform(X)
    print(environment())
    print(f"{args.path}: {X.shape[0]} rows, {X.shape[1]} features; StandardScaler\n")
    print(
        "| system | loss | C | certified gap | objective / liblinear | liblinear converged "
        "| fit (s) | liblinear (s) |"
    )
    print("|---|---|---:|---:|---:|---|---:|---:|")
    for loss in ("squared_hinge", "hinge"):
        for C in args.Cs:
            for est in (
                KerasLinearSVC(C=C, loss=loss),
                KerasSVC(C=C, loss=loss, n_components=args.n_components, random_state=0),
            ):
                t0 = time.perf_counter()
                est.fit(X, y)
                fit_s = time.perf_counter() - t0
                features = est._features(X) if isinstance(est, KerasSVC) else X
                ref, ref_s, converged = reference(features, y, C, loss)
                ours = primal_objective(
                    est.coef_, est.intercept_, features, y, est.classes_, C, loss
                )
                theirs = primal_objective(
                    ref.coef_, ref.intercept_, features, y, est.classes_, C, loss
                )
                print(
                    f"| {type(est).__name__} | {loss} | {C:g} | {est.dual_gap_.max():.1e} | "
                    f"{np.max(ours / theirs):.5f} | {'yes' if converged else 'no'} | "
                    f"{fit_s:.2f} | {ref_s:.1f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
