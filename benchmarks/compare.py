"""Side-by-side comparison of KerasSVC / KerasLinearSVC with scikit-learn's SVMs.

Runs every system on the same split and the same preprocessing -- KerasSVC,
KerasLinearSVC, SVC, LinearSVC, RBFSampler + LinearSVC, Nystroem + LinearSVC
and SGDClassifier on RBFSampler features, all at the same C, gamma and number
of features -- and prints test accuracy, fit and predict times, the peak
memory added during fit + predict, and for our estimators the certified
relative duality gap (``--objective``: also the objective ratio against
liblinear on the same features) as a markdown table on stdout, with progress
lines per system on stderr; ``--json`` also writes one JSON object per system
(``benchmarks/plots.py`` draws them). ``--quick`` runs digits in about a minute
(15 s with ``--in-process``).

Each system runs in a fresh process (``--in-process``: all in this one,
faster to start), so that its peak memory is its own: in one process, memory
an earlier system freed and the allocator kept is not counted again (SVC
measured 0 MB after KerasSVC). Fit and predict times never include a
process's start or imports.

Examples
--------
The bundled digits data (nothing to download)::

    python benchmarks/compare.py

Your own files, LIBSVM/svmlight text (optionally .bz2/.gz) or IDX (.gz) as
MNIST ships::

    python benchmarks/compare.py --train a9a --test a9a.t --n-features 123
    python benchmarks/compare.py --train train-images-idx3-ubyte.gz \\
        --train-labels train-labels-idx1-ubyte.gz --test t10k-images-idx3-ubyte.gz \\
        --test-labels t10k-labels-idx1-ubyte.gz --C 10 --n-components 4096 \\
        --approximation nystroem
"""

import argparse
import concurrent.futures
import gc
import json
import multiprocessing
import os
import platform
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import sklearn  # noqa: E402
from sklearn.datasets import (  # noqa: E402
    load_breast_cancer,
    load_digits,
    load_svmlight_file,
    make_classification,
)
from sklearn.kernel_approximation import Nystroem, RBFSampler  # noqa: E402
from sklearn.linear_model import SGDClassifier  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.svm import SVC, LinearSVC  # noqa: E402

import kernelsvm_keras  # noqa: E402
from kernelsvm_keras import KerasLinearSVC, KerasSVC  # noqa: E402
from kernelsvm_keras.datasets import load_idx  # noqa: E402

from machine import cpu  # noqa: E402

SYSTEMS = (
    "KerasSVC",
    "KerasLinearSVC",
    "SVC",
    "LinearSVC",
    "RBFSampler+LinearSVC",
    "Nystroem+LinearSVC",
    "RBFSampler+SGDClassifier",
)


# -- data ----------------------------------------------------------------------


def read_idx(path):
    """An IDX file as (n, features) rows, or the CLI's error message."""
    try:
        array = load_idx(path)
    except (OSError, ValueError) as exc:
        raise SystemExit(f"error: {exc}") from exc
    return array.reshape(len(array), -1) if array.ndim > 1 else array


def read_svmlight(path, n_features):
    path = Path(path)
    if not path.is_file():
        raise SystemExit(f"error: LIBSVM file not found: {path}")
    try:
        X, y = load_svmlight_file(str(path), n_features=n_features)
    except ValueError as exc:
        raise SystemExit(f"error: {path} is not a valid LIBSVM/svmlight file: {exc}") from exc
    return X.toarray(), y


def is_idx(path):
    return "idx" in Path(path).name


def noisy():
    """20,000 training and 5,000 test rows of noisy data (nothing to download).

    ``make_classification`` with 20 features (10 informative) and a tenth of
    the labels drawn at random: the hinge's support vectors are many, most
    of them margin errors, as on a9a and HIGGS.
    """
    X, y = make_classification(25000, n_features=20, n_informative=10, flip_y=0.1, random_state=0)
    return X[:20000], X[20000:], y[:20000], y[20000:]


def load(args):
    """Return X_train, X_test, y_train, y_test, a dataset name and the scaling used."""
    if args.train is None and args.dataset == "noisy":
        X_train, X_test, y_train, y_test = noisy()
        if args.max_train is not None:
            X_train, y_train = X_train[: args.max_train], y_train[: args.max_train]
        return X_train, X_test, y_train, y_test, "noisy", args.scale or "standard"
    if args.train is None:
        loader = {"digits": load_digits, "breast_cancer": load_breast_cancer}[args.dataset]
        X, y = loader(return_X_y=True)
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=0.25, random_state=0, stratify=y
        )
        scale = "standard" if args.dataset == "breast_cancer" else "divide:16"
        return X_train, X_test, y_train, y_test, args.dataset, scale
    if is_idx(args.train):
        if args.train_labels is None:
            raise SystemExit("error: IDX images need --train-labels")
        X_train = read_idx(args.train).astype(np.float32)
        y_train = read_idx(args.train_labels)
        if args.test is not None:
            if args.test_labels is None:
                raise SystemExit("error: IDX images need --test-labels")
            X_test = read_idx(args.test).astype(np.float32)
            y_test = read_idx(args.test_labels)
        scale = "divide:255"
    else:
        X_train, y_train = read_svmlight(args.train, args.n_features)
        if args.test is not None:
            X_test, y_test = read_svmlight(args.test, X_train.shape[1])
        scale = "none"
    if len(X_train) != len(y_train):
        raise SystemExit(f"error: {len(X_train)} training rows but {len(y_train)} labels")
    if args.test is None:
        X_train, X_test, y_train, y_test = train_test_split(
            X_train, y_train, test_size=0.25, random_state=0, stratify=y_train
        )
    if args.max_train is not None:
        X_train, y_train = X_train[: args.max_train], y_train[: args.max_train]
    # IDX files are named by their folder (train-images-idx3-ubyte.gz says little).
    name = Path(args.train).parent.name if is_idx(args.train) else Path(args.train).name
    return X_train, X_test, y_train, y_test, name, args.scale or scale


def preprocess(X_train, X_test, scale):
    if scale.startswith("divide:"):
        d = float(scale.split(":")[1])
        return X_train / d, X_test / d
    if scale == "standard":
        scaler = StandardScaler().fit(X_train)
        return scaler.transform(X_train), scaler.transform(X_test)
    return X_train, X_test


# -- systems -------------------------------------------------------------------


def make_system(name, args, gamma, n_train):
    C, D, seed = args.C, args.n_components, args.random_state
    kernel = {"kernel": args.kernel, "degree": args.degree, "coef0": args.coef0}
    if args.kernel != "rbf" and name.startswith("RBFSampler"):
        raise ValueError(f"{name} approximates the RBF kernel only, not --kernel {args.kernel}")
    if name == "KerasSVC":
        return KerasSVC(
            C=C,
            gamma=gamma,
            **kernel,
            n_components=D,
            approximation=args.approximation,
            multi_class=args.multi_class,
            loss=args.loss,
            cache_size=args.cache_size,
            random_state=seed,
        )
    loss = linear_loss(args)
    if name == "KerasLinearSVC":
        return KerasLinearSVC(C=C, loss=loss)
    if name == "SVC":
        return SVC(C=C, gamma=gamma, **kernel)
    if name == "LinearSVC":
        return LinearSVC(C=C, loss=loss)
    if name == "RBFSampler+LinearSVC":
        return make_pipeline(
            RBFSampler(gamma=gamma, n_components=D, random_state=seed),
            LinearSVC(C=C, loss=loss),
        )
    if name == "Nystroem+LinearSVC":
        return make_pipeline(
            Nystroem(gamma=gamma, n_components=min(D, n_train), random_state=seed, **kernel),
            LinearSVC(C=C, loss=loss),
        )
    if name == "RBFSampler+SGDClassifier":
        # SGD's objective is the mean loss + alpha/2 ||w||^2: the SVM's for alpha = 1/(C n).
        # At that small alpha it runs to max_iter (1000 epochs by default: over two
        # minutes on pendigits); --sgd-epochs caps it, as a user with a budget would.
        return make_pipeline(
            RBFSampler(gamma=gamma, n_components=D, random_state=seed),
            SGDClassifier(
                loss=loss,
                alpha=1.0 / (C * n_train),
                max_iter=args.sgd_epochs,
                random_state=seed,
            ),
        )
    raise ValueError(name)


class PeakMemory:
    """Peak resident memory above the level at entry, sampled every 5 ms (Linux).

    ``peak_mb`` is None where ``/proc/self/statm`` does not exist. Memory that
    an earlier system freed but the allocator kept counts as already there,
    so a figure can undercount unless the system has the process to itself
    (the default; not with ``--in-process``).
    """

    _STATM = Path("/proc/self/statm")

    def __enter__(self):
        self.peak_mb = None
        if not self._STATM.exists():
            return self
        gc.collect()
        self._base = self._peak = self._rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _rss(self):
        return int(self._STATM.read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def _sample(self):
        while not self._stop.wait(0.005):
            self._peak = max(self._peak, self._rss())

    def __exit__(self, *exc):
        if self._STATM.exists():
            self._stop.set()
            self._thread.join()
            self._peak = max(self._peak, self._rss())
            self.peak_mb = round((self._peak - self._base) / 2**20, 1)
        return False


def primal_objective(coef, intercept, features, y, classes, C, loss):
    """SVM primal objective of each one-vs-rest problem (unit weights), in float64."""
    columns = [classes[1]] if len(classes) == 2 else classes
    values = []
    for k, label in enumerate(columns):
        y_pm = np.where(y == label, 1.0, -1.0)
        margin = y_pm * (features @ coef[k] + intercept[k])
        violation = np.maximum(0.0, 1.0 - margin)
        losses = violation if loss == "hinge" else violation**2
        values.append(0.5 * coef[k] @ coef[k] + C * losses.sum())
    return np.array(values)


def linear_loss(args):
    """The loss of the systems other than KerasSVC: ``--loss auto`` is LinearSVC's default."""
    return "squared_hinge" if args.loss == "auto" else args.loss


def system_loss(est, args):
    """The loss a system minimises (KerasSVC resolves ``"auto"`` itself; SVC's is the hinge)."""
    if isinstance(est, KerasSVC):
        return est._loss().name
    return "hinge" if isinstance(est, SVC) else linear_loss(args)


def objective_ratio(est, X_train, y_train, args):
    """Our objective over a reference solver's, on the same features (max over OvR problems).

    The reference is liblinear (primal Newton for the squared hinge, dual
    coordinate descent for the hinge) with intercept_scaling=10, which makes
    its penalty on the intercept negligible, and a tight tolerance. Its
    solution is evaluated with our objective (intercept unpenalised), so a
    ratio <= 1 means we reached at least the reference's objective.
    """
    if isinstance(est, KerasSVC):
        features = est._map.features(X_train.astype(np.float64))
    else:
        features = X_train.astype(np.float64)
    loss = system_loss(est, args)
    ref = LinearSVC(
        C=args.C,
        loss=loss,
        dual=loss == "hinge",
        intercept_scaling=10,
        tol=1e-6,
        max_iter=20000,
    ).fit(features, y_train)
    classes = est.classes_
    ours = primal_objective(est.coef_, est.intercept_, features, y_train, classes, args.C, loss)
    theirs = primal_objective(ref.coef_, ref.intercept_, features, y_train, classes, args.C, loss)
    return float(np.max(ours / theirs))


def run(args):
    X_train, X_test, y_train, y_test, name, scale = load(args)
    X_train, X_test = preprocess(X_train, X_test, scale)
    X_train = np.ascontiguousarray(X_train, dtype=np.float32)
    X_test = np.ascontiguousarray(X_test, dtype=np.float32)
    # one gamma for every kernel system: SVC's "scale" on the training data
    gamma = float(args.gamma or 1.0 / (X_train.shape[1] * X_train.var()))
    header = (
        f"dataset {name}: {X_train.shape[0]} train / {X_test.shape[0]} test rows, "
        f"{X_train.shape[1]} features, {len(np.unique(y_train))} classes, scaling {scale}; "
        f"kernel={args.kernel} (degree={args.degree}, coef0={args.coef0}), "
        f"C={args.C}, gamma={gamma:.4g}, n_components={args.n_components}, loss={args.loss}, "
        f"KerasSVC approximation={args.approximation}, multi_class={args.multi_class}"
    )
    print(header, flush=True)
    data = (X_train, X_test, y_train, y_test)
    rows = []
    for system in args.systems:
        print(f"  [{time.strftime('%H:%M:%S')}] {system} ...", file=sys.stderr, flush=True)
        if args.in_process:
            row = measure(system, args, gamma, name, data)
        else:  # a fresh interpreter: its peak memory is the system's own
            spawn = multiprocessing.get_context("spawn")
            with concurrent.futures.ProcessPoolExecutor(1, mp_context=spawn) as pool:
                row = pool.submit(measure, system, args, gamma, name, data).result()
        rows.append(row)
        print(
            f"  {system:<22s} accuracy {row['accuracy']:.4f}  fit {row['fit_s']:8.2f} s  "
            f"predict {row['predict_s']:7.3f} s  peak +{row['peak_mb'] or 0:.0f} MB"
            + (
                ""
                if row["objective_ratio"] is None
                else f"  objective / reference {row['objective_ratio']:.5f}"
            ),
            file=sys.stderr,
            flush=True,
        )
    return header, rows


def measure(system, args, gamma, name, data):
    """Fit and score one system on ``data``; its row of the table."""
    X_train, X_test, y_train, y_test = data
    est = make_system(system, args, gamma, len(X_train))
    with PeakMemory() as memory:
        t0 = time.perf_counter()
        est.fit(X_train, y_train)
        fit_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        accuracy = float(np.mean(est.predict(X_test) == y_test))
        predict_s = time.perf_counter() - t0
    gap = getattr(est, "dual_gap_", None)
    ratio = None
    if args.objective and gap is not None:
        ratio = objective_ratio(est, X_train, y_train, args)
    return {
        "dataset": name,
        "system": system,
        "accuracy": accuracy,
        "fit_s": round(fit_s, 3),
        "predict_s": round(predict_s, 3),
        "peak_mb": memory.peak_mb,
        "dual_gap": None if gap is None else float(np.max(gap)),
        "objective_ratio": ratio,
        "n_train": int(X_train.shape[0]),
        "n_test": int(X_test.shape[0]),
        "C": args.C,
        "gamma": gamma,
        "n_components": args.n_components,
        "approximation": args.approximation if system == "KerasSVC" else None,
        "multi_class": args.multi_class if system == "KerasSVC" else None,
        "kernel": args.kernel,
        "degree": args.degree,
        "coef0": args.coef0,
        "loss": system_loss(est, args),
    }


def markdown(rows):
    """The table; the objective ratio's column only where some row has one (``--objective``)."""
    ratios = any(r["objective_ratio"] is not None for r in rows)
    lines = [
        "| system | test accuracy | fit (s) | predict (s) | peak memory (MB) | certified gap |"
        + (" objective ratio |" if ratios else ""),
        "|---|---:|---:|---:|---:|---:|" + ("---:|" if ratios else ""),
    ]
    for r in rows:
        gap = "" if r["dual_gap"] is None else f"{r['dual_gap']:.1e}"
        memory = "" if r["peak_mb"] is None else f"{r['peak_mb']:.0f}"
        line = (
            f"| {r['system']} | {100 * r['accuracy']:.2f}% | {r['fit_s']:.2f} | "
            f"{r['predict_s']:.3f} | {memory} | {gap} |"
        )
        if ratios:
            ratio = "" if r["objective_ratio"] is None else f"{r['objective_ratio']:.5f}"
            line += f" {ratio} |"
        lines.append(line)
    return "\n".join(lines)


def environment():
    import keras

    from kernelsvm_keras._solver import device_report

    return (
        f"python {platform.python_version()}, numpy {np.__version__}, scikit-learn "
        f"{sklearn.__version__}, keras {keras.__version__} (training: {device_report()}), "
        f"kernelsvm_keras {kernelsvm_keras.__version__}; {cpu()}, {os.cpu_count()} CPUs"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--dataset",
        choices=("digits", "breast_cancer", "noisy"),
        default="digits",
        help="bundled data, without --train (noisy: 20,000 make_classification rows, "
        "a tenth of the labels random)",
    )
    parser.add_argument("--train", help="training file (LIBSVM text or IDX images)")
    parser.add_argument("--train-labels", help="IDX labels of --train")
    parser.add_argument("--test", help="test file; without it, 25%% of --train is held out")
    parser.add_argument("--test-labels", help="IDX labels of --test")
    parser.add_argument("--n-features", type=int, help="LIBSVM: number of features")
    parser.add_argument("--max-train", type=int, help="use the first rows of the training set")
    parser.add_argument(
        "--scale", help="'none', 'standard' or 'divide:K' (default: by data format)"
    )
    parser.add_argument("--C", type=float, default=1.0)
    parser.add_argument("--gamma", type=float, help="default: SVC's 'scale' on training X")
    parser.add_argument(
        "--kernel", choices=("linear", "poly", "rbf", "sigmoid", "laplacian"), default="rbf"
    )
    parser.add_argument("--degree", type=int, default=3, help="poly kernel degree")
    parser.add_argument("--coef0", type=float, default=0.0, help="poly / sigmoid constant")
    parser.add_argument("--n-components", type=int, default=2048)
    parser.add_argument(
        "--approximation",
        choices=("auto", "random_fourier", "nystroem"),
        default="auto",
        help="KerasSVC's kernel approximation",
    )
    parser.add_argument(
        "--loss",
        choices=("auto", "hinge", "squared_hinge"),
        default="auto",
        help="KerasSVC's loss (auto: its default); the other systems take the squared hinge "
        "for auto",
    )
    parser.add_argument(
        "--multi-class",
        choices=("auto", "ovr", "ovo"),
        default="auto",
        help="KerasSVC's multi_class",
    )
    parser.add_argument("--random-state", type=int, default=0)
    parser.add_argument(
        "--sgd-epochs", type=int, default=20, help="max_iter of RBFSampler+SGDClassifier"
    )
    parser.add_argument(
        "--cache-size", type=float, default=1024, help="KerasSVC cache_size (MB of features)"
    )
    parser.add_argument("--systems", nargs="+", choices=SYSTEMS, default=list(SYSTEMS))
    parser.add_argument(
        "--objective",
        action="store_true",
        help="also solve each of our problems with liblinear and print the objective ratio",
    )
    parser.add_argument("--json", help="append one JSON line per system to this file")
    parser.add_argument(
        "--quick", action="store_true", help="digits and 1024 features: about a minute"
    )
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="run every system in this process (faster to start; peak memory undercounted)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.train, args.dataset, args.n_components = None, "digits", 1024

    print(environment(), flush=True)
    header, rows = run(args)
    print()
    print(markdown(rows))
    if args.json:
        with open(args.json, "a") as f:
            for row in rows:
                f.write(json.dumps({**row, "environment": environment()}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
