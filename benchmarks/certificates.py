"""Fuzz the certificates: each fitted model's objective and gap against a float64 optimum.

Draws small problems (12-400 rows, 1-8 features at scales 1e-4, 1 and 1e3,
repeated rows, imbalanced classes, zero and unequal sample weights), fits
``KerasSVC`` with a random kernel (rbf, linear, poly, sigmoid), loss, ``C``
(1e-3 to 1e4), width and approximation, and checks every one-vs-rest column
(``--multi-class ovo``: every one-vs-one pair, on its rows) on the fitted
model's own features (``decision_function``'s): ``objective_``
is the model's primal objective, and the model is no further from the
optimum than ``dual_gap_`` says. The optimum is libsvm's for the hinge
(``SVC(kernel="precomputed")`` on the model's features, then the best
intercept for its weights) and L-BFGS's for the squared hinge; where either
stops short, the model may measure below it, which is not counted. Prints
each wrong column and the count; ``ValueError`` refusals are printed, not
counted. Exits with status 1 if any column is wrong.

``--estimator linearsvc`` fuzzes ``KerasLinearSVC`` on the same problems
(its loss and ``C``; the features are ``X``).

``--estimator svr`` fuzzes ``KerasSVR`` alike (20-300 rows, 1 or 4 features
at scales 1e-3, 1 and 1e3, the rbf, poly and linear kernels, both losses,
``C`` from 0.1 to 1e3, ``epsilon`` 0 or 0.1), against
``SVR(kernel="precomputed")`` on the model's features, then the best
intercept for its weights (the epsilon-insensitive loss), or L-BFGS (the
squared one). ``--estimator linearsvr``: ``KerasLinearSVR`` alike.

``--estimator oneclass`` fuzzes ``KerasOneClassSVM`` (12-400 rows, 1-8
features at scales 1e-3, 1 and 1e3, centred or not, repeated rows, zero and
unequal sample weights, the rbf, linear, poly and sigmoid kernels, ``nu``
from 0.05 to 1) against ``OneClassSVM(kernel="precomputed")`` on the model's
features (on the rows of positive weight; at ``nu=1``, where libsvm fails, the
optimum's weighted mean of the features), then the best ``rho`` for its
weights. The gap is relative to the floor the estimator documents
(``1e-4 R^2 / 2``).

``--route newton`` sends every problem to the float32 Newton solver (these
small problems otherwise take libsvm's exact dual): the route of the problems
too large for the dual, on the same draws.

``--weights`` gives the regressors sample weights (0, 0.5, 1 or 3).
``--class-weight balanced`` fits the classifiers with
``class_weight="balanced"`` (each row's ``C`` times its class's weight).
``--input sparse`` gives ``X`` as a CSR matrix with half its entries zeroed;
``--input precomputed`` gives the kernel estimators the rbf kernel matrix of
``X`` (``gamma="scale"``) with ``kernel="precomputed"``. Either leaves the
draws of a seed as they are.

Examples
--------
::

    python benchmarks/certificates.py --seed 0 --cases 40
    python benchmarks/certificates.py --estimator svr --seed 0 --cases 40
    python benchmarks/certificates.py --estimator oneclass --seed 0 --cases 40
    python benchmarks/certificates.py --multi-class ovo --input sparse --seed 0 --cases 40
"""

import argparse
import os
import sys
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402
from scipy.optimize import minimize  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.metrics.pairwise import rbf_kernel  # noqa: E402
from sklearn.svm import SVC, SVR, OneClassSVM  # noqa: E402

from kernelsvm_keras import (  # noqa: E402
    KerasLinearSVC,
    KerasLinearSVR,
    KerasOneClassSVM,
    KerasSVC,
    KerasSVR,
)
from kernelsvm_keras._solver import _GAP_FLOOR  # noqa: E402


def verdict(what, true_gap, reported, objective, ours, context):
    """Print a wrong column: a gap certified below the true one, or an objective not the
    model's. Returns 1 if wrong, else 0."""
    flags = []
    if true_gap > float(reported) * (1 + 1e-3) + 1e-7:
        flags.append("FALSE CERTIFICATE")
    if abs(objective - ours) > 1e-6 * max(1.0, abs(ours)):
        flags.append("NOT THE MODEL'S OBJECTIVE")
    if flags:
        print(
            f"{what}: {' and '.join(flags)}: true gap {true_gap:.3e}, reported "
            f"{float(reported):.3e}; objective_ {objective:.6e}, the model's {ours:.6e}; {context}"
        )
    return int(bool(flags))


def model_features(est, X):
    """The fitted model's float64 features of ``X`` (``decision_function``'s), dense."""
    F = est._map.features(X.astype(np.float64))
    return F.toarray() if sp.issparse(F) else np.asarray(F)


def primal(w, b, F, t, s, C, loss):
    """The SVM primal objective of ``(w, b)`` on features ``F``, labels ``t``, weights ``s``."""
    v = np.maximum(0.0, 1.0 - t * (F @ w + b))
    return 0.5 * w @ w + C * np.sum(s * (v if loss == "hinge" else v * v))


def optimum(F, t, s, C, loss):
    """The least primal objective found by a float64 reference solver."""
    if loss == "hinge":
        keep = s > 0
        ref = SVC(kernel="precomputed", C=C, tol=1e-10, max_iter=10**7)
        ref.fit(F[keep] @ F[keep].T, t[keep], sample_weight=s[keep])
        w = ref.dual_coef_[0] @ F[keep][ref.support_]
        # libsvm's intercept, and every kink of the primal along b for that w
        kinks = np.concatenate([[ref.intercept_[0]], t * (1.0 - t * (F @ w))])
        return min(primal(w, b, F, t, s, C, loss) for b in kinks)
    d = F.shape[1]

    def value_and_gradient(z):
        w, b = z[:d], z[d]
        v = np.maximum(1.0 - t * (F @ w + b), 0.0)
        g = -2.0 * C * s * v * t
        return 0.5 * w @ w + C * np.sum(s * v * v), np.concatenate([w + F.T @ g, [g.sum()]])

    options = {"maxiter": 20000, "ftol": 1e-15, "gtol": 1e-12, "maxcor": 50}
    found = minimize(
        value_and_gradient, np.zeros(d + 1), jac=True, method="L-BFGS-B", options=options
    )
    return found.fun


def draw(rng, linear=False, multi_class="ovr"):
    """A problem: ``X, y, sample_weight`` and the parameters of ``KerasSVC``.

    With ``linear``, those of ``KerasLinearSVC`` (its loss and ``C``).
    ``multi_class``: ``KerasSVC``'s, whose ``"ovo"`` pairs are checked on
    their own rows.
    """
    n, d = int(rng.choice([12, 40, 150, 400])), int(rng.choice([1, 3, 8]))
    X = rng.standard_normal((n, d)) * float(rng.choice([1e-4, 1.0, 1e3]))
    if rng.rand() < 0.3:
        X[: n // 3] = X[0]  # repeated rows
    n_classes = int(rng.choice([2, 3]))
    y = rng.randint(n_classes, size=n)
    if rng.rand() < 0.3:
        y[rng.rand(n) < 0.8] = 0  # imbalanced
    y[:n_classes] = np.arange(n_classes)
    weights = None
    if rng.rand() < 0.4:
        weights = rng.choice([0.0, 0.5, 1.0, 3.0], size=n)
        weights[:n_classes] = 1.0
    params = {
        "kernel": str(rng.choice(["rbf", "linear", "poly", "sigmoid"])),
        "loss": str(rng.choice(["hinge", "squared_hinge"])),
        "C": float(rng.choice([1e-3, 0.1, 1.0, 100.0, 1e4])),
        "n_components": int(rng.choice([8, 32, 256])),
        "approximation": str(rng.choice(["auto", "nystroem"])),
        "multi_class": multi_class,
        "random_state": int(rng.randint(100)),
    }
    if params["kernel"] in ("poly", "sigmoid"):
        params["gamma"] = float(rng.choice([0.01, 0.1, 1.0]))
        params["coef0"] = float(rng.choice([0.0, 1.0]))
    if linear:
        params = {name: params[name] for name in ("loss", "C", "random_state")}
    return X, y, weights, params


def check(case, X, y, weights, params, linear=False):
    """Fit one problem; print each wrong column. Returns their number."""
    est = (KerasLinearSVC if linear else KerasSVC)(**params)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            est.fit(X, y, sample_weight=weights)
        except ValueError as exc:
            print(f"case {case}: refused: {str(exc)[:120]!r} {params}")
            return 0
    warned = [str(w.message)[:80] for w in caught if issubclass(w.category, ConvergenceWarning)]
    if not (np.all(np.isfinite(est.coef_)) and np.all(np.isfinite(est.intercept_))):
        print(f"case {case}: NON-FINITE MODEL {params}")
        return 1
    F = model_features(est, X)
    s = np.ones(len(y)) if weights is None else weights.astype(np.float64)
    classes = est.classes_
    if getattr(est, "class_weight_", None) is not None:  # C times the row's class weight
        s = s * est.class_weight_[np.searchsorted(classes, y)]
    if len(classes) == 2:
        columns = [(classes[1], None)]
    elif params.get("multi_class") == "ovo":  # SVC's pairs: +1 for the first, on their rows
        columns = [(a, b) for i, a in enumerate(classes) for b in classes[i + 1 :]]
    else:
        columns = [(label, None) for label in classes]
    loss, C, wrong = est._loss().name, params["C"], 0
    for k, (label, other) in enumerate(columns):
        t = np.where(y == label, 1.0, -1.0)
        s_k = s if other is None else s * np.isin(y, [label, other])
        ours = primal(est.coef_[k], est.intercept_[k], F, t, s_k, C, loss)
        true_gap = (ours - optimum(F, t, s_k, C, loss)) / max(abs(ours), 1e-300)
        what = f"case {case} column {k}"
        context = f"warnings {warned}; {params}, {X.shape}, weights {weights is not None}"
        wrong += verdict(what, true_gap, est.dual_gap_[k], est.objective_[k], ours, context)
    return wrong


def draw_regression(rng, linear=False):
    """A regression problem: ``X, y`` and the parameters of ``KerasSVR``.

    With ``linear``, those of ``KerasLinearSVR`` (its loss, ``C`` and ``epsilon``).
    """
    n, d = int(rng.choice([20, 80, 300])), int(rng.choice([1, 4]))
    scale = float(rng.choice([1e-3, 1.0, 1e3]))
    X = rng.standard_normal((n, d)) * scale
    y = np.sin(X[:, 0] / scale) * float(rng.choice([1.0, 100.0])) + 0.1 * rng.standard_normal(n)
    kernel = str(rng.choice(["rbf", "poly", "linear"]))
    params = {
        "kernel": kernel,
        "loss": str(rng.choice(["epsilon_insensitive", "squared_epsilon_insensitive"])),
        "C": float(rng.choice([0.1, 10.0, 1e3])),
        "epsilon": float(rng.choice([0.0, 0.1])),
        "n_components": int(rng.choice([16, 64])),
        "random_state": 0,
    }
    if kernel == "poly":
        params["gamma"] = 0.01
    if linear:
        params = {name: params[name] for name in ("loss", "C", "epsilon", "random_state")}
    return X, y, params


def check_regression(case, X, y, params, linear=False, weights=None):
    """Fit one regression problem; print it if wrong. Returns 1 if wrong, else 0."""
    try:
        est = (KerasLinearSVR if linear else KerasSVR)(**params).fit(X, y, sample_weight=weights)
    except ValueError as exc:
        print(f"case {case}: refused: {str(exc)[:120]!r} {params}")
        return 0
    C, epsilon, squared = params["C"], params["epsilon"], params["loss"].startswith("squared")
    F = model_features(est, X)
    coef = np.ravel(est._model()[0][0])
    s = np.ones(len(y)) if weights is None else weights

    def objective(w, residuals, b):
        v = np.maximum(0.0, np.abs(residuals - b) - epsilon)
        return 0.5 * w @ w + C * np.sum(s * (v * v if squared else v))

    ours = objective(coef, y - F @ coef, est.intercept_[0])
    if squared:  # smooth: L-BFGS on (w, b)
        d = F.shape[1]

        def value_and_gradient(z):
            r = F @ z[:d] + z[d] - y
            v = np.maximum(np.abs(r) - epsilon, 0.0)
            g = 2.0 * C * s * v * np.sign(r)
            return 0.5 * z[:d] @ z[:d] + C * np.sum(s * v * v), np.concatenate(
                [z[:d] + F.T @ g, [g.sum()]]
            )

        options = {"maxiter": 20000, "ftol": 1e-15, "gtol": 1e-12, "maxcor": 50}
        start = np.zeros(d + 1)
        best = minimize(value_and_gradient, start, jac=True, method="L-BFGS-B", options=options).fun
    else:
        ref = SVR(kernel="precomputed", C=C, epsilon=epsilon, tol=1e-10, max_iter=10**7)
        keep = s > 0
        ref.fit(F[keep] @ F[keep].T, y[keep], sample_weight=s[keep])
        w = ref.dual_coef_[0] @ F[keep][ref.support_]
        residuals = y - F @ w
        kinks = np.concatenate([residuals - epsilon, residuals + epsilon, [ref.intercept_[0]]])
        best = min(objective(w, residuals, b) for b in kinks)
    true_gap = (ours - best) / max(abs(ours), 1e-300)
    context = f"{params}, {X.shape}, weights {weights is not None}"
    return verdict(f"case {case}", true_gap, est.dual_gap_[0], est.objective_[0], ours, context)


def draw_one_class(rng):
    """A novelty problem: ``X, sample_weight`` and the parameters of ``KerasOneClassSVM``."""
    n, d = int(rng.choice([12, 40, 150, 400])), int(rng.choice([1, 3, 8]))
    X = rng.standard_normal((n, d)) * float(rng.choice([1e-3, 1.0, 1e3]))
    if rng.rand() < 0.5:
        X += 2.0 * np.abs(X).max()  # away from the origin
    if rng.rand() < 0.3:
        X[: n // 3] = X[0]  # repeated rows
    weights = None
    if rng.rand() < 0.4:
        weights = rng.choice([0.0, 0.5, 1.0, 3.0], size=n)
        weights[:2] = 1.0
    kernel = str(rng.choice(["rbf", "linear", "poly", "sigmoid"]))
    params = {
        "kernel": kernel,
        "nu": float(rng.choice([0.05, 0.2, 0.5, 0.9, 1.0])),
        "n_components": int(rng.choice([8, 32, 256])),
        "approximation": str(rng.choice(["auto", "nystroem"])),
        "random_state": int(rng.randint(100)),
    }
    if kernel in ("poly", "sigmoid"):
        params["gamma"] = float(rng.choice([0.01, 0.1, 1.0]))
        params["coef0"] = float(rng.choice([0.0, 1.0]))
    return X, weights, params


def check_one_class(case, X, weights, params):
    """Fit one novelty problem; print it if wrong. Returns 1 if wrong, else 0."""
    try:
        est = KerasOneClassSVM(**params).fit(X, sample_weight=weights)
    except ValueError as exc:
        print(f"case {case}: refused: {str(exc)[:120]!r} {params}")
        return 0
    if not (np.all(np.isfinite(est.coef_)) and np.all(np.isfinite(est.intercept_))):
        print(f"case {case}: NON-FINITE MODEL {params}")
        return 1
    s = np.ones(X.shape[0]) if weights is None else weights.astype(np.float64)
    nu, total = params["nu"], float(s.sum())
    F = model_features(est, X)
    keep = s > 0

    def objective(w):
        """The primal at the best rho for ``w`` (a weighted quantile of the scores, a kink)."""
        scores = F[keep] @ w
        rhos = scores[:, None]
        losses = np.sum(s[keep] * np.maximum(0.0, rhos - scores), axis=1) / (nu * total)
        return 0.5 * w @ w + np.min(losses - scores)

    w, rho = est.coef_[0] / (nu * total), -est.intercept_[0] / (nu * total)
    scores = F[keep] @ w
    ours = 0.5 * w @ w - rho + np.sum(s[keep] * np.maximum(0.0, rho - scores)) / (nu * total)
    best = objective(w)  # the model's w at its best rho: a point of the problem too
    if nu > 1.0 - 1e-9:  # every row at its bound (libsvm fails there): the mean
        best = min(best, objective(s[keep] @ F[keep] / total))
    else:  # libsvm's dual: 0 <= alpha_i <= s_i, sum(alpha) = nu sum(s), ours times nu sum(s)
        ref = OneClassSVM(kernel="precomputed", nu=nu, tol=1e-10, max_iter=10**7)
        ref.fit(F[keep] @ F[keep].T, sample_weight=s[keep])
        best = min(best, objective(ref.dual_coef_[0] @ F[keep][ref.support_] / (nu * total)))
    floor = _GAP_FLOOR * float(np.max(np.sum(F[keep] ** 2, axis=1))) / 2.0
    true_gap = (ours - best) / max(abs(ours), floor, 1e-300)
    context = f"{params}, {X.shape}, weights {weights is not None}"
    return verdict(f"case {case}", true_gap, est.dual_gap_[0], est.objective_[0], ours, context)


def as_input(X, params, kind, rng):
    """``X`` and ``params`` for ``--input``: ``dense`` as drawn, ``sparse`` (CSR, half
    the entries zeroed) or ``precomputed`` (the rbf kernel of ``X`` at ``gamma="scale"``)."""
    if kind == "sparse":
        X = X * (rng.rand(*X.shape) < 0.5)
        return sp.csr_matrix(X), params
    if kind == "precomputed":
        params = {name: value for name, value in params.items() if name not in ("gamma", "coef0")}
        variance = X.var()
        K = rbf_kernel(X, gamma=1.0 / (X.shape[1] * variance) if variance > 0 else 1.0)
        return K, {**params, "kernel": "precomputed"}
    return X, params


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--estimator", choices=["svc", "linearsvc", "svr", "linearsvr", "oneclass"], default="svc"
    )
    parser.add_argument("--multi-class", choices=["ovr", "ovo"], default="ovr", help="svc's")
    parser.add_argument(
        "--input", choices=["dense", "sparse", "precomputed"], default="dense", help="X's form"
    )
    parser.add_argument(
        "--class-weight", choices=["none", "balanced"], default="none", help="the classifiers'"
    )
    parser.add_argument(
        "--weights", action="store_true", help="the regressors' rows weighted 0, 0.5, 1 or 3"
    )
    parser.add_argument(
        "--route", choices=["auto", "newton"], default="auto", help="newton: no exact dual"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the problems drawn")
    parser.add_argument("--cases", type=int, default=40, help="problems to fit")
    args = parser.parse_args(argv)
    if args.route == "newton":  # (as tests/routes.py: no problem is small enough for the dual)
        from kernelsvm_keras import _dual

        _dual._MAX_ROWS = 0
    rng = np.random.RandomState(args.seed)
    linear = args.estimator.startswith("linear")
    if linear and args.input == "precomputed":
        parser.error("the linear estimators take no kernel")
    wrong = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (the references' step limits; ours are recorded)
        for case in range(args.cases):
            own = np.random.RandomState([args.seed, case])  # (--input leaves the draws as they are)
            if args.estimator.endswith("svc"):
                X, y, weights, params = draw(rng, linear, args.multi_class)
                X, params = as_input(X, params, args.input, own)
                if args.class_weight == "balanced":
                    params["class_weight"] = "balanced"
                wrong += check(case, X, y, weights, params, linear=linear)
            elif args.estimator.endswith("svr"):
                X, y, params = draw_regression(rng, linear)
                X, params = as_input(X, params, args.input, own)
                weights = None
                if args.weights:  # (drawn apart: the seed's problems are unchanged)
                    weights = own.choice([0.0, 0.5, 1.0, 3.0], size=len(y))
                    weights[:2] = 1.0
                wrong += check_regression(case, X, y, params, linear=linear, weights=weights)
            else:
                X, weights, params = draw_one_class(rng)
                X, params = as_input(X, params, args.input, own)
                wrong += check_one_class(case, X, weights, params)
    route = ", Newton" if args.route == "newton" else ""
    print(f"{args.estimator}{route}, seed {args.seed}: {wrong} wrong columns in {args.cases} fits")
    return wrong


if __name__ == "__main__":
    sys.exit(1 if main() else 0)
