"""Grid search: KerasSVCCV against GridSearchCV(KerasSVC) and GridSearchCV(SVC).

The same grid (C x gamma), the same folds, the same data; prints the time of
each whole search (refit included), the best parameters, the best CV score
and the test accuracy of the refitted model, as a markdown table (and JSON
lines with ``--json``).

    python benchmarks/search.py --mnist ../shared/data/mnist      # 20k MNIST rows
    python benchmarks/search.py --quick                           # digits, ~1 minute
    python benchmarks/search.py --libsvm ../shared/data/w8a/w8a --n-features 300 \
        --Cs 1 10 100 1000 --gammas 0.003333 --approximation auto --loss hinge \
        --systems "GridSearchCV(KerasSVC),GridSearchCV(SVC)"  # a grid taken over from SVC

A LIBSVM-format file (``--libsvm``) is split and standardised as
``compare.py`` does it (a quarter held out, stratified).

``GridSearchCV(SVC)`` runs with ``n_jobs=2`` (libsvm is single-threaded; this
gives it both cores of the project's machine, as Keras's backends use them);
``GridSearchCV(KerasSVC)`` with ``n_jobs=1`` (one fit on both cores), or once
for each of ``--n-jobs 1 2`` (each of two workers' fits on one core).
"""

import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import sklearn  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.svm import SVC  # noqa: E402

import kernelsvm_keras  # noqa: E402
from kernelsvm_keras import KerasSVC, KerasSVCCV  # noqa: E402
from kernelsvm_keras.datasets import load_mnist  # noqa: E402

from machine import cpu  # noqa: E402

SYSTEMS = ("KerasSVCCV", "GridSearchCV(KerasSVC)", "GridSearchCV(SVC)")


def load(args):
    if args.libsvm is not None:
        from compare import read_svmlight

        X, y = read_svmlight(args.libsvm, args.n_features)
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=0.25, random_state=0, stratify=y
        )
        scaler = StandardScaler().fit(X_train)
        name = os.path.basename(args.libsvm)
        return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test, name
    if args.mnist is None:
        X, y = load_digits(return_X_y=True)
        X_train, X_test, y_train, y_test = train_test_split(
            X / 16.0, y, test_size=0.3, random_state=0, stratify=y
        )
        return X_train, X_test, y_train, y_test, "digits"
    try:
        (x_train, y_train), (x_test, y_test) = load_mnist(args.mnist)
    except (OSError, ValueError) as exc:
        raise SystemExit(f"error: {exc}") from exc
    n = args.n_train
    X_train = x_train[:n].reshape(-1, 784).astype(np.float32) / 255.0
    X_test = x_test.reshape(-1, 784).astype(np.float32) / 255.0
    return X_train, X_test, y_train[:n], y_test, f"MNIST[:{len(X_train)}]"


def make_search(name, args, folds, n_jobs=1):
    grid = {"C": args.Cs, "gamma": args.gammas}
    common = {
        "n_components": args.n_components,
        "approximation": args.approximation,
        "loss": args.loss,
        "random_state": 0,
    }
    if name == "KerasSVCCV":
        return KerasSVCCV(Cs=args.Cs, gammas=args.gammas, cv=folds, **common)
    if name == "GridSearchCV(KerasSVC)":
        return GridSearchCV(KerasSVC(**common), grid, cv=folds, n_jobs=n_jobs)
    return GridSearchCV(SVC(), grid, cv=folds, n_jobs=2)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", help="folder with the MNIST IDX files (default: digits)")
    parser.add_argument("--libsvm", help="a LIBSVM-format file instead (w8a, a9a, ...)")
    parser.add_argument("--n-features", type=int, help="its number of features")
    parser.add_argument("--n-train", type=int, default=20000)
    parser.add_argument("--Cs", type=float, nargs="+", default=[0.3, 1, 3, 10, 30, 100])
    parser.add_argument("--gammas", type=float, nargs="+", default=[0.01, 0.02, 0.04])
    parser.add_argument("--n-components", type=int, default=2048)
    parser.add_argument(
        "--approximation",
        choices=("auto", "random_fourier", "nystroem"),
        default="random_fourier",
    )
    parser.add_argument(
        "--loss", choices=("auto", "hinge", "squared_hinge"), default="auto", help="KerasSVC's"
    )
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument(
        "--n-jobs",
        type=int,
        nargs="+",
        default=[1],
        help="GridSearchCV(KerasSVC)'s n_jobs; one search for each",
    )
    parser.add_argument("--systems", default=",".join(SYSTEMS))
    parser.add_argument("--quick", action="store_true", help="digits, a small grid")
    parser.add_argument("--json", help="append one JSON object per system to this file")
    args = parser.parse_args(argv)
    if args.quick:
        args.mnist, args.Cs, args.gammas, args.n_components = None, [1, 10], [0.02, 0.05], 512
    systems = args.systems.split(",")
    unknown = set(systems) - set(SYSTEMS)
    if unknown:
        raise SystemExit(f"error: unknown systems {sorted(unknown)}; choose from {SYSTEMS}")

    X_train, X_test, y_train, y_test, dataset = load(args)
    folds = StratifiedKFold(args.folds, shuffle=True, random_state=0)
    n_candidates = len(args.Cs) * len(args.gammas)
    print(
        f"{dataset}: {len(X_train)} train / {len(X_test)} test rows; {len(args.Cs)} Cs x "
        f"{len(args.gammas)} gammas x {args.folds} folds = {n_candidates * args.folds} fits; "
        f"{args.n_components} features ({args.approximation}), loss {args.loss}; "
        f"keras {keras.__version__} on {keras.backend.backend()}, "
        f"kernelsvm_keras {kernelsvm_keras.__version__}, scikit-learn {sklearn.__version__}, "
        f"{cpu()}, {os.cpu_count()} CPUs",
        flush=True,
    )
    runs = [
        (name, n_jobs)
        for name in systems
        for n_jobs in (args.n_jobs if name == "GridSearchCV(KerasSVC)" else [None])
    ]
    rows = []
    for name, n_jobs in runs:
        label = name if n_jobs is None or args.n_jobs == [1] else f"{name}, n_jobs={n_jobs}"
        print(f"[{time.strftime('%H:%M:%S')}] {label} ...", file=sys.stderr, flush=True)
        search = make_search(name, args, folds, n_jobs)
        start = time.perf_counter()
        search.fit(X_train, y_train)
        fit_s = time.perf_counter() - start
        best = {k: float(v) for k, v in search.best_params_.items() if k != "n_components"}
        row = {
            "system": label,
            "dataset": dataset,
            "search_s": round(fit_s, 2),
            "best_C": best["C"],
            "best_gamma": best["gamma"],
            "best_cv_score": round(float(search.best_score_), 4),
            "test_accuracy": round(float(search.score(X_test, y_test)), 4),
        }
        rows.append(row)
        print(f"[{time.strftime('%H:%M:%S')}] {json.dumps(row)}", file=sys.stderr, flush=True)
        if args.json:
            with open(args.json, "a") as f:
                f.write(json.dumps(row) + "\n")
    print()
    print("| system | search (s) | best C | best gamma | best CV | test | vs ours |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    ours = next((r["search_s"] for r in rows if r["system"] == "KerasSVCCV"), None)
    for r in rows:
        ratio = f"{r['search_s'] / ours:.1f}x" if ours else "-"
        print(
            f"| {r['system']} | {r['search_s']:.1f} | {r['best_C']:g} | {r['best_gamma']:g} | "
            f"{r['best_cv_score']:.2%} | {r['test_accuracy']:.2%} | {ratio} |"
        )


if __name__ == "__main__":
    main()
