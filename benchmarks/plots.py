"""Plots of the benchmarks (PNG, matplotlib): what users compare, at a glance.

Three figures:

``accuracy``
    Test accuracy against fit time, one panel per dataset, from the JSON lines
    that ``compare.py --json`` writes (nothing is re-run)::

        python benchmarks/compare.py ... --json out/compare.jsonl
        python benchmarks/plots.py accuracy out/compare.jsonl --out out/accuracy_vs_time.png

``scaling``
    Fit time against the number of training rows, log-log, for SVC and
    KerasSVC on MNIST subsets (runs them; writes JSON lines next to the PNG)::

        python benchmarks/plots.py scaling --mnist ../shared/data/mnist --out out/scaling.png

``components``
    KerasSVC's test accuracy (and fit time) against ``n_components``, with
    SVC's accuracy as a line (runs them)::

        python benchmarks/plots.py components --train letter.scale --test letter.scale.t \\
            --n-features 16 --out out/components.png

    IDX images (MNIST) take ``--train-labels`` and ``--test-labels``;
    ``--approximation random_fourier nystroem`` draws a line for each.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

try:
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:  # pragma: no cover - a message, not a crash
    raise SystemExit("error: plots need matplotlib: pip install -e '.[bench]'") from None
import numpy as np  # noqa: E402
from sklearn.svm import SVC  # noqa: E402

from kernelsvm_keras import KerasSVC  # noqa: E402
from kernelsvm_keras.datasets import load_mnist  # noqa: E402

import compare  # noqa: E402

OURS = ("KerasSVC", "KerasLinearSVC")


def plot_accuracy(args):
    rows = [json.loads(line) for line in Path(args.results).read_text().splitlines() if line]
    if not rows:
        raise SystemExit(f"error: no results in {args.results}")
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    ncols = min(3, len(datasets))
    nrows = -(-len(datasets) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5 * ncols, 4 * nrows), squeeze=False)
    for ax in axes.flat[len(datasets) :]:
        ax.set_visible(False)
    systems = list(dict.fromkeys(r["system"] for r in rows))
    for ax, dataset in zip(axes.flat, datasets, strict=False):
        for r in (r for r in rows if r["dataset"] == dataset):
            color, marker = _STYLE.get(r["system"], ("C7", "x"))
            ax.scatter(
                r["fit_s"],
                100 * r["accuracy"],
                s=70 if r["system"] in OURS else 45,
                marker=marker,
                color=color,
                edgecolors="k",
                linewidths=0.5,
                label=r["system"],
                zorder=3 if r["system"] in OURS else 2,
            )
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xlabel("fit time (s, log)")
        ax.set_ylabel("test accuracy (%)")
        # at least half a point in view: MNIST's three systems within 0.02
        # points would otherwise fill the panel; never past 100%
        bottom, top = ax.get_ylim()
        if top - bottom < 0.5:
            middle = (bottom + top) / 2
            bottom, top = middle - 0.25, middle + 0.25
        if top > 100:
            bottom, top = bottom - (top - 100), 100
        ax.set_ylim(bottom, top)
        ax.set_title(dataset)
        ax.grid(alpha=0.3)
    # one legend for every panel (labels beside the points overlap where
    # systems tie), systems in the order of the results
    handles = {}
    for ax in axes.flat:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    ordered = [s for s in systems if s in handles]
    fig.legend(
        [handles[s] for s in ordered], ordered, loc="lower center", ncol=min(4, len(ordered))
    )
    fig.suptitle("Accuracy against fit time (red: this library)")
    legend_height = 0.8 / fig.get_figheight()  # two rows of labels, in inches
    save(fig, args.out, rect=(0, legend_height, 1, 0.96))


# Each system its own colour and marker, the same in every panel; ours in red.
_STYLE = {
    "KerasSVC": ("C3", "o"),
    "KerasLinearSVC": ("#f4a582", "^"),
    "SVC": ("k", "s"),
    "LinearSVC": ("0.6", "s"),
    "RBFSampler+LinearSVC": ("C0", "D"),
    "Nystroem+LinearSVC": ("C2", "D"),
    "RBFSampler+SGDClassifier": ("C4", "v"),
}


def fit_time(estimator, X, y):
    start = time.perf_counter()
    estimator.fit(X, y)
    return time.perf_counter() - start


def plot_scaling(args):
    (x_train, y_train), (x_test, y_test) = load_mnist(args.mnist)
    X = x_train.reshape(len(x_train), -1).astype(np.float32) / 255.0
    X_test = x_test.reshape(len(x_test), -1).astype(np.float32) / 255.0
    # SVC's "scale" on all rows: one gamma for every size.
    gamma = float(1.0 / (X.shape[1] * X.var()))
    log = Path(args.out).with_suffix(".jsonl")
    results = {"SVC": [], "KerasSVC": []}
    for n in args.sizes:
        for name in results:
            if name == "SVC" and n > args.svc_max:
                continue
            est = (
                SVC(C=args.C, gamma=gamma)
                if name == "SVC"
                else KerasSVC(C=args.C, gamma=gamma, n_components=args.n_components, random_state=0)
            )
            print(f"[{time.strftime('%H:%M:%S')}] {name} n={n} ...", file=sys.stderr, flush=True)
            seconds = fit_time(est, X[:n], y_train[:n])
            accuracy = float(np.mean(est.predict(X_test) == y_test))
            row = {
                "system": name,
                "n_train": n,
                "fit_s": round(seconds, 3),
                "accuracy": accuracy,
                "C": args.C,
                "gamma": gamma,
                "n_components": args.n_components,
                "environment": compare.environment(),
            }
            results[name].append(row)
            print(json.dumps(row), flush=True)
            with open(log, "a") as f:
                f.write(json.dumps(row) + "\n")
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    for (name, rows), color in zip(results.items(), ("C0", "C3"), strict=True):
        n = np.array([r["n_train"] for r in rows])
        t = np.array([r["fit_s"] for r in rows])
        slope = (
            np.polyfit(np.log(n[n >= 5000]), np.log(t[n >= 5000]), 1)[0]
            if (np.sum(n >= 5000) >= 2)
            else float("nan")
        )
        ax.loglog(n, t, "o-", color=color, label=f"{name} (slope {slope:.2f} from 5k rows)")
    ax.set_xlabel("training rows (MNIST)")
    ax.set_ylabel("fit time (s)")
    ax.set_title(f"Fit time against n (C={args.C:g}, {args.n_components} features)")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    save(fig, args.out)


def plot_components(args):
    args.dataset, args.max_train = "digits", None
    # LIBSVM files standardised, IDX images / 255, digits / 16
    args.scale = "standard" if args.train and not compare.is_idx(args.train) else None
    X_train, X_test, y_train, y_test, name, scale = compare.load(args)
    X_train, X_test = compare.preprocess(X_train, X_test, scale)
    gamma = float(1.0 / (X_train.shape[1] * X_train.var()))
    svc = SVC(C=args.C, gamma=gamma)
    svc_fit = fit_time(svc, X_train, y_train)
    svc_accuracy = float(np.mean(svc.predict(X_test) == y_test))
    log = Path(args.out).with_suffix(".jsonl")
    log.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    for approximation in args.approximation:
        for D in args.components:
            rows.append(
                components_row(
                    args, approximation, D, gamma, name, (X_train, X_test, y_train, y_test)
                )
            )
            rows[-1].update(svc_accuracy=svc_accuracy, svc_fit_s=round(svc_fit, 3))
            print(json.dumps(rows[-1]), flush=True)
            with open(log, "a") as f:
                f.write(json.dumps(rows[-1]) + "\n")
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    for color, approximation in zip(("C3", "C2"), args.approximation, strict=False):
        mine = [r for r in rows if r["approximation"] == approximation]
        D = [r["n_components"] for r in mine]
        ax.semilogx(
            D,
            [100 * r["accuracy"] for r in mine],
            "o-",
            color=color,
            label=f"KerasSVC, {approximation}",
        )
        for r in mine:
            ax.annotate(
                f"{r['fit_s']:.1f} s",
                (r["n_components"], 100 * r["accuracy"]),
                fontsize=7,
                xytext=(3, -10),
                textcoords="offset points",
            )
    ax.axhline(100 * svc_accuracy, color="C0", ls="--", label=f"SVC (fit {svc_fit:.1f} s)")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("n_components (log2); labels: KerasSVC fit time")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"{name}: accuracy against n_components (C={args.C:g})")
    ax.grid(alpha=0.3)
    ax.legend()
    save(fig, args.out)


def components_row(args, approximation, D, gamma, name, data):
    """Fit one KerasSVC of the ``components`` sweep; its JSON row."""
    X_train, X_test, y_train, y_test = data
    est = KerasSVC(
        C=args.C, gamma=gamma, n_components=D, approximation=approximation, random_state=0
    )
    print(
        f"[{time.strftime('%H:%M:%S')}] KerasSVC {approximation} D={D} ...",
        file=sys.stderr,
        flush=True,
    )
    seconds = fit_time(est, X_train, y_train)
    t0 = time.perf_counter()
    accuracy = float(np.mean(est.predict(X_test) == y_test))
    return {
        "dataset": name,
        "approximation": approximation,
        "n_components": D,
        "fit_s": round(seconds, 3),
        "predict_s": round(time.perf_counter() - t0, 3),
        "accuracy": accuracy,
        "environment": compare.environment(),
    }


def save(fig, out, rect=(0, 0, 1, 1)):
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout(rect=rect)
    fig.savefig(out, dpi=120)
    print(f"wrote {out}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    accuracy = commands.add_parser("accuracy", help="accuracy vs fit time from compare.py --json")
    accuracy.add_argument("results", help="JSON lines written by compare.py --json")
    accuracy.add_argument("--out", default="benchmarks/out/accuracy_vs_time.png")
    scaling = commands.add_parser("scaling", help="fit time vs n on MNIST subsets")
    scaling.add_argument("--mnist", required=True, help="folder with the MNIST IDX files")
    scaling.add_argument(
        "--sizes", type=int, nargs="+", default=[1000, 2000, 5000, 10000, 20000, 40000, 60000]
    )
    scaling.add_argument("--svc-max", type=int, default=60000, help="largest n for SVC")
    scaling.add_argument("--C", type=float, default=10.0)
    scaling.add_argument("--n-components", type=int, default=2048)
    scaling.add_argument("--out", default="benchmarks/out/scaling.png")
    components = commands.add_parser("components", help="accuracy vs n_components")
    components.add_argument("--train", help="LIBSVM training file (default: digits)")
    components.add_argument("--test", help="LIBSVM test file")
    components.add_argument("--train-labels", help="IDX labels of --train (MNIST)")
    components.add_argument("--test-labels", help="IDX labels of --test (MNIST)")
    components.add_argument("--n-features", type=int)
    components.add_argument(
        "--approximation",
        nargs="+",
        choices=("random_fourier", "nystroem"),
        default=["random_fourier"],
        help="KerasSVC's kernel approximation(s): one line each",
    )
    components.add_argument(
        "--components", type=int, nargs="+", default=[128, 256, 512, 1024, 2048, 4096]
    )
    components.add_argument("--C", type=float, default=1.0)
    components.add_argument("--out", default="benchmarks/out/components.png")
    args = parser.parse_args(argv)
    {"accuracy": plot_accuracy, "scaling": plot_scaling, "components": plot_components}[
        args.command
    ](args)


if __name__ == "__main__":
    main()
