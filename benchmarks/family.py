"""KerasSVR and KerasOneClassSVM next to scikit-learn's SVR, LinearSVR, OneClassSVM and SGD.

Regression (``regression`` command): diamonds (log price; one-hot ``cut``,
``color``, ``clarity``, scaled numeric columns; a fixed split of
``--test-size`` rows with ``random_state=0``), the training set cut to
``--train-rows`` rows, and scikit-learn's diabetes data (442 rows; 5-fold
R^2). Systems at the same ``C``, ``epsilon`` and ``gamma`` (``"scale"`` on
the transformed data): ``KerasSVR``, ``SVR``, ``LinearSVR``, ``Nystroem +
LinearSVR`` (the same number of landmarks as ``KerasSVR``) and
``KerasLinearSVR``.

Novelty (``novelty`` command): MNIST, the training rows of one digit as
inliers, the whole test set scored (that digit inliers, the others
outliers): ROC AUC of ``score_samples``, for ``KerasOneClassSVM``,
``OneClassSVM`` and ``Nystroem + SGDOneClassSVM``, at the same ``nu`` and
``gamma``.

Search (``search`` command): ``KerasSVRCV`` against ``GridSearchCV(KerasSVR())``
on the same diamonds training rows, grid (``--Cs`` x ``--epsilons``,
``gamma="scale"``) and 3 shuffled folds (``random_state=0``).

Every system prints one JSON line (name, score, fit and predict seconds).

Usage::

    python benchmarks/family.py regression --diamonds PATH/diamonds.csv.gz [--train-rows N]
    python benchmarks/family.py search --diamonds PATH/diamonds.csv.gz
    python benchmarks/family.py novelty --mnist PATH/mnist [--digit 0] [--nu 0.1] [--train-rows N]
"""

import argparse
import json
import time
import warnings

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_diabetes
from sklearn.kernel_approximation import Nystroem
from sklearn.linear_model import SGDOneClassSVM
from sklearn.metrics import r2_score, roc_auc_score
from sklearn.model_selection import GridSearchCV, KFold, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.svm import SVR, LinearSVR, OneClassSVM

from kernelsvm_keras import KerasLinearSVR, KerasOneClassSVM, KerasSVR, KerasSVRCV
from kernelsvm_keras.datasets import load_mnist


def _timed(fn, *args):
    start = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - start


def _regressors(args, gamma):
    n = args.n_components
    return {
        "KerasSVR": lambda: KerasSVR(
            C=args.C, epsilon=args.epsilon, gamma=gamma, n_components=n, random_state=0
        ),
        "SVR": lambda: SVR(C=args.C, epsilon=args.epsilon, gamma=gamma, cache_size=2000),
        "Nystroem+LinearSVR": lambda: make_pipeline(
            Nystroem(gamma=gamma, n_components=n, random_state=0),
            LinearSVR(C=args.C, epsilon=args.epsilon, max_iter=10_000, random_state=0),
        ),
        "KerasLinearSVR": lambda: KerasLinearSVR(C=args.C, epsilon=args.epsilon),
        "LinearSVR": lambda: LinearSVR(
            C=args.C, epsilon=args.epsilon, max_iter=10_000, random_state=0
        ),
    }


def regression(args):
    frame = pd.read_csv(args.diamonds)
    y = np.log(frame.pop("price").to_numpy(dtype=np.float64))
    prep = ColumnTransformer(
        [
            ("categories", OneHotEncoder(sparse_output=False), ["cut", "color", "clarity"]),
            ("numbers", StandardScaler(), ["carat", "depth", "table", "x", "y", "z"]),
        ]
    )
    f_train, f_test, y_train, y_test = train_test_split(
        frame, y, test_size=args.test_size, random_state=0
    )
    f_train, y_train = f_train[: args.train_rows], y_train[: args.train_rows]
    X_train = prep.fit_transform(f_train)
    X_test = prep.transform(f_test)
    gamma = float(1.0 / (X_train.shape[1] * X_train.var()))
    header = {"dataset": "diamonds", "train_rows": len(y_train), "test_rows": len(y_test)}
    print(json.dumps({**header, "gamma": gamma, "C": args.C, "epsilon": args.epsilon}))
    for name, make in _regressors(args, gamma).items():
        if name not in args.systems:
            continue
        model, fit = _timed(make().fit, X_train, y_train)
        pred, predict = _timed(model.predict, X_test)
        row = {"dataset": "diamonds", "system": name, "r2": round(r2_score(y_test, pred), 4)}
        print(json.dumps({**row, "fit_s": round(fit, 2), "predict_s": round(predict, 2)}))
    X, y = load_diabetes(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    y = (y - y.mean()) / y.std()
    gamma = float(1.0 / (X.shape[1] * X.var()))
    for name, make in _regressors(args, gamma).items():
        if name not in args.systems:
            continue
        scores, fit = [], 0.0
        for train, test in KFold(5, shuffle=True, random_state=0).split(X):
            model, seconds = _timed(make().fit, X[train], y[train])
            fit += seconds
            scores.append(r2_score(y[test], model.predict(X[test])))
        row = {"dataset": "diabetes (5-fold)", "system": name, "r2": round(np.mean(scores), 4)}
        print(json.dumps({**row, "fit_s": round(fit, 2)}))


def search(args):
    """KerasSVRCV against GridSearchCV(KerasSVR) on the same diamonds rows and grid."""
    frame = pd.read_csv(args.diamonds)
    y = np.log(frame.pop("price").to_numpy(dtype=np.float64))
    prep = ColumnTransformer(
        [
            ("categories", OneHotEncoder(sparse_output=False), ["cut", "color", "clarity"]),
            ("numbers", StandardScaler(), ["carat", "depth", "table", "x", "y", "z"]),
        ]
    )
    f_train, _, y_train, _ = train_test_split(frame, y, test_size=10_000, random_state=0)
    X = prep.fit_transform(f_train[: args.train_rows])
    y = y_train[: args.train_rows]
    grid = {
        "C": args.Cs,
        "epsilon": args.epsilons,
        "gamma": ["scale"],
        "n_components": [args.n_components],
    }
    cv = KFold(3, shuffle=True, random_state=0)
    ours, t_ours = _timed(
        KerasSVRCV(
            Cs=args.Cs,
            epsilons=args.epsilons,
            n_components=args.n_components,
            cv=cv,
            random_state=0,
        ).fit,
        X,
        y,
    )
    theirs, t_theirs = _timed(GridSearchCV(KerasSVR(random_state=0), grid, cv=cv).fit, X, y)
    difference = np.max(
        np.abs(ours.cv_results_["mean_test_score"] - theirs.cv_results_["mean_test_score"])
    )
    for name, result, seconds in [
        ("KerasSVRCV", ours, t_ours),
        ("GridSearchCV(KerasSVR)", theirs, t_theirs),
    ]:
        row = {"dataset": "diamonds", "train_rows": len(y), "system": name}
        print(
            json.dumps(
                {
                    **row,
                    "seconds": round(seconds, 1),
                    "best": result.best_params_,
                    "best_score": round(result.best_score_, 4),
                }
            )
        )
    print(json.dumps({"max_mean_score_difference": float(difference)}))


def novelty(args):
    (X_train, y_train), (X_test, y_test) = load_mnist(args.mnist)
    X_train = X_train.reshape(len(X_train), -1).astype(np.float64) / 255.0
    X_test = X_test.reshape(len(X_test), -1).astype(np.float64) / 255.0
    inliers = X_train[y_train == args.digit][: args.train_rows]
    truth = (y_test == args.digit).astype(int)  # 1: inlier
    gamma = float(1.0 / (inliers.shape[1] * inliers.var()))
    print(
        json.dumps(
            {
                "dataset": f"MNIST digit {args.digit}",
                "train_rows": len(inliers),
                "nu": args.nu,
                "gamma": gamma,
            }
        )
    )
    n = args.n_components
    systems = {
        "KerasOneClassSVM": lambda: KerasOneClassSVM(
            nu=args.nu, gamma=gamma, n_components=n, random_state=0
        ),
        "OneClassSVM": lambda: OneClassSVM(nu=args.nu, gamma=gamma, cache_size=2000),
        "Nystroem+SGDOneClassSVM": lambda: make_pipeline(
            Nystroem(gamma=gamma, n_components=n, random_state=0),
            SGDOneClassSVM(nu=args.nu, random_state=0),
        ),
    }
    for name, make in systems.items():
        if name not in args.systems:
            continue
        model, fit = _timed(make().fit, inliers)
        scores, predict = _timed(model.score_samples, X_test)
        outside = float(np.mean(model.predict(inliers) == -1))
        row = {"dataset": f"MNIST digit {args.digit}", "system": name}
        print(
            json.dumps(
                {
                    **row,
                    "roc_auc": round(roc_auc_score(truth, scores), 4),
                    "train_outside": round(outside, 4),
                    "fit_s": round(fit, 2),
                    "predict_s": round(predict, 2),
                }
            )
        )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    reg = commands.add_parser("regression")
    reg.add_argument("--diamonds", required=True)
    reg.add_argument("--train-rows", type=int, default=20_000)
    reg.add_argument("--test-size", type=int, default=10_000)
    reg.add_argument("--C", type=float, default=1.0)
    reg.add_argument("--epsilon", type=float, default=0.1)
    reg.add_argument("--n-components", type=int, default=2048)
    reg.add_argument(
        "--systems",
        nargs="+",
        default=list(_regressors(argparse.Namespace(C=1, epsilon=0.1, n_components=1), 1.0)),
    )
    srch = commands.add_parser("search")
    srch.add_argument("--diamonds", required=True)
    srch.add_argument("--train-rows", type=int, default=20_000)
    srch.add_argument("--Cs", type=float, nargs="+", default=[0.1, 1.0, 10.0])
    srch.add_argument("--epsilons", type=float, nargs="+", default=[0.05, 0.1])
    srch.add_argument("--n-components", type=int, default=1024)
    nov = commands.add_parser("novelty")
    nov.add_argument("--mnist", required=True)
    nov.add_argument("--digit", type=int, default=0)
    nov.add_argument("--nu", type=float, default=0.1)
    nov.add_argument(
        "--train-rows", type=int, default=None, help="the first rows of the digit only"
    )
    nov.add_argument("--n-components", type=int, default=2048)
    nov.add_argument(
        "--systems",
        nargs="+",
        default=["KerasOneClassSVM", "OneClassSVM", "Nystroem+SGDOneClassSVM"],
    )
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    {"regression": regression, "search": search, "novelty": novelty}[args.command](args)


if __name__ == "__main__":
    main()
