"""The GPU figures of issue 19, in one run: MNIST 60k and a million HIGGS-like rows.

Run where a GPU is visible, with ``KERAS_BACKEND=jax`` (see the README's "On
a GPU")::

    python benchmarks/gpu.py --mnist DIR --json benchmarks/out/gpu.jsonl

``DIR`` holds MNIST's four IDX files as shipped (``train-images-idx3-ubyte.gz``
...). Each stage runs in a fresh process under its own time limit (so that
its peak GPU memory is its own, and a stage that runs long costs only
itself) and prints, then appends to ``--json``, one JSON line per figure:

``smoke``
    digits, the default ``KerasSVC()``: the device report and that a fit runs.
``mnist``
    60,000 rows, ``C=10``, 4,096 landmarks, the default loss: test accuracy,
    the first fit (the backend compiles its programs), a second fit of the
    same shapes (they are reused), ``predict`` on the 10,000 test rows (exact
    float64 on the host, the default) and through ``to_keras()`` on the device
    in float32, with the largest difference between the two decisions, under
    JAX's default matrix products and under
    ``jax.default_matmul_precision("float32")``: on recent NVIDIA GPUs JAX
    multiplies float32 matrices in TensorFloat-32 by default (10 bits of
    mantissa). A fit always uses full float32 (``_compiled.full_float32``).
``higgs``
    ``--higgs-rows`` rows of ``make_classification`` data shaped like HIGGS (28
    features; the generator of ``scale.py``), 4,096 landmarks, ``C=1``, with
    ``cache_size`` large enough to keep the feature matrix on the device: fit
    time, test accuracy on 100,000 held-out rows, peak GPU memory.

For every fit: the wall time, the share of it the GPU was busy (NVML's
utilisation, sampled every 20 ms in a thread; ``None`` without NVML), the
programs JAX compiled during it and XLA's seconds on them (``None`` on other
backends), and the device's peak memory in use (JAX's ``memory_stats``;
``None`` elsewhere).

``--quick`` is a dry run of every stage at a small size (also on a CPU).
"""

import argparse
import contextlib
import json
import logging
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent))

STAGES = ("smoke", "mnist", "higgs")


class BusyShare:
    """Mean GPU utilisation (NVML, percent of time a kernel ran) over a ``with`` block."""

    def __init__(self, period=0.02):
        self.period = period
        self.samples = []
        self.share = None
        try:
            import pynvml

            pynvml.nvmlInit()
            self._handle = pynvml.nvmlDeviceGetHandleByIndex(0)
            self._read = lambda: pynvml.nvmlDeviceGetUtilizationRates(self._handle).gpu
        except Exception:  # no NVML (no NVIDIA GPU, or the package missing)
            self._read = None

    def _run(self):
        while not self._stop.is_set():
            self.samples.append(self._read())
            time.sleep(self.period)

    def __enter__(self):
        if self._read is not None:
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc):
        if self._read is not None:
            self._stop.set()
            self._thread.join()
            if self.samples:
                self.share = round(sum(self.samples) / len(self.samples) / 100, 3)


class Compilations(logging.Handler):
    """The programs JAX compiles in a ``with`` block, and XLA's seconds on them.

    On a GPU compiling also autotunes: the first fit of new shapes may spend
    most of its time here. ``count`` and ``seconds`` stay ``None`` on other
    backends. JAX's own log lines (``jax_log_compiles``) are taken here, not
    printed.
    """

    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.count = self.seconds = None
        self._context = None

    def emit(self, record):
        message = record.getMessage()
        found = re.search(r"Finished XLA compilation of .* in ([0-9.eE+-]+) sec", message)
        if found:
            self.count += 1
            self.seconds += float(found.group(1))

    def __enter__(self):
        import keras

        if keras.backend.backend() == "jax":
            import jax

            self.count, self.seconds = 0, 0.0
            logger = logging.getLogger("jax")
            self._saved = logger.level, logger.propagate
            logger.addHandler(self)
            logger.setLevel(logging.DEBUG)
            logger.propagate = False
            self._context = jax.log_compiles(True)
            self._context.__enter__()
        return self

    def __exit__(self, *exc):
        if self._context is not None:
            self._context.__exit__(*exc)
            logger = logging.getLogger("jax")
            logger.removeHandler(self)
            logger.level, logger.propagate = self._saved
            self.seconds = round(self.seconds, 2)


def peak_device_bytes():
    """The JAX device's peak memory in use so far in this process (``None`` elsewhere)."""
    import keras

    if keras.backend.backend() != "jax":
        return None
    import jax

    stats = jax.local_devices()[0].memory_stats() or {}
    return stats.get("peak_bytes_in_use")


def timed_fit(est, X, y):
    with BusyShare() as busy, Compilations() as compiled:
        start = time.perf_counter()
        est.fit(X, y)
        seconds = time.perf_counter() - start
    return {
        "fit_s": round(seconds, 3),
        "gpu_busy_share": busy.share,
        "programs_compiled": compiled.count,
        "compile_s": compiled.seconds,
        "n_iter": int(est.n_iter_.max()),
        "dual_gap_max": float(max(est.dual_gap_)),
    }


def mib(n_bytes):
    return None if n_bytes is None else round(n_bytes / 2**20, 1)


def matmul_precision(precision):
    """JAX's ``default_matmul_precision(precision)`` (nothing for ``None`` or another backend)."""
    import keras

    if precision is None or keras.backend.backend() != "jax":
        return contextlib.nullcontext()
    import jax

    return jax.default_matmul_precision(precision)


def load_mnist(folder, max_train):
    """MNIST's first ``max_train`` training rows and its test rows, pixels / 255."""
    from kernelsvm_keras.datasets import load_mnist as load

    (X, y), (X_test, y_test) = load(folder)

    def pixels(images):
        return (images.reshape(len(images), -1) / 255.0).astype("float32")

    return pixels(X[:max_train]), y[:max_train], pixels(X_test), y_test


def stage_smoke(args):
    from sklearn.datasets import load_digits

    from kernelsvm_keras import KerasSVC

    X, y = load_digits(return_X_y=True)
    est = KerasSVC(random_state=0)
    figures = timed_fit(est, X / 16, y)
    figures["train_accuracy"] = round(float(est.score(X / 16, y)), 5)
    return figures


def stage_mnist(args):
    import numpy as np

    from kernelsvm_keras import KerasSVC

    X, y, X_test, y_test = load_mnist(args.mnist, args.max_train)
    est = KerasSVC(C=10, n_components=args.n_components, random_state=0, verbose=args.verbose)
    first = timed_fit(est, X, y)
    figures = {"n_train": len(X), "n_components": args.n_components, "first": first}
    figures["peak_device_mib"] = mib(peak_device_bytes())
    start = time.perf_counter()
    predicted = est.predict(X_test)
    figures["predict_host_s"] = round(time.perf_counter() - start, 3)
    figures["test_accuracy"] = round(float(np.mean(predicted == y_test)), 5)

    # to_keras(): float32 on the device; its columns are the one-vs-one decisions
    # where the estimator trains pairs, else decision_function's (see KerasSVC.to_keras)
    model = est.to_keras()
    exact = est.decision_function(X_test)
    if model.output_shape[-1] != exact.shape[1]:
        shape = est.decision_function_shape
        est.decision_function_shape = "ovo"
        exact = est.decision_function(X_test)
        est.decision_function_shape = shape
    for name, precision in (("to_keras", None), ("to_keras_float32", "float32")):
        with matmul_precision(precision):
            times = []
            for _ in range(3):  # the first call compiles
                start = time.perf_counter()
                on_device = model.predict(X_test, batch_size=len(X_test), verbose=0)
                times.append(round(time.perf_counter() - start, 3))
        figures[f"predict_{name}_s"] = times
        on_device = np.asarray(on_device, dtype=np.float64).reshape(exact.shape)
        figures[f"{name}_max_abs_diff"] = float(np.max(np.abs(on_device - exact)))
        figures[f"{name}_max_rel_diff"] = float(
            np.max(np.abs(on_device - exact) / np.maximum(1.0, np.abs(exact)))
        )
    figures["second"] = timed_fit(est, X, y)  # the same shapes: programs reused
    return figures


def stage_higgs(args):
    import numpy as np
    from scale import N_TEST, generate

    from kernelsvm_keras import KerasSVC

    prefix = str(Path(args.data) / f"higgs{args.higgs_rows}")  # the rows of this size
    if not Path(prefix + ".X.npy").exists():
        start = time.perf_counter()
        generate(prefix, args.higgs_rows, seed=0)
        print(f"generated in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    X = np.load(prefix + ".X.npy")
    y = np.load(prefix + ".y.npy")
    X_train, y_train = X[: args.higgs_rows], y[: args.higgs_rows]
    X_test, y_test = X[-N_TEST:], y[-N_TEST:]
    feature_mb = args.higgs_rows * args.n_components * 4 / 2**20
    est = KerasSVC(
        C=1.0,
        n_components=args.n_components,
        cache_size=1.1 * feature_mb,
        random_state=0,
        verbose=args.verbose,
    )
    figures = {"n_train": int(len(X_train)), "n_components": args.n_components}
    figures["first"] = timed_fit(est, X_train, y_train)
    figures["peak_device_mib"] = mib(peak_device_bytes())
    figures["feature_matrix_mib"] = round(feature_mb, 1)
    start = time.perf_counter()
    figures["test_accuracy"] = round(float(est.score(X_test, y_test)), 5)
    figures["predict_host_s"] = round(time.perf_counter() - start, 3)
    figures["n_test"] = N_TEST
    return figures


def environment():
    import keras
    import numpy as np
    import scipy
    import sklearn

    import kernelsvm_keras
    from kernelsvm_keras._solver import device_report

    from machine import cpu

    versions = {
        "python": sys.version.split()[0],
        "kernelsvm_keras": kernelsvm_keras.__version__,
        "keras": keras.__version__,
        "sklearn": sklearn.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
    }
    if keras.backend.backend() == "jax":
        import jax

        versions["jax"] = jax.__version__
    try:
        gpu = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        gpu = None
    return {
        "device": device_report(),
        "gpu": gpu,
        "cpu": f"{cpu()}, {os.cpu_count()} CPUs",
        "versions": versions,
    }


def child(args):
    run = {
        "smoke": stage_smoke,
        "mnist": stage_mnist,
        "higgs": stage_higgs,
    }[args._stage]
    start = time.perf_counter()
    with contextlib.redirect_stdout(sys.stderr):  # the fits' progress lines (verbose)
        figures = run(args)
    line = {"stage": args._stage, **figures, "stage_s": round(time.perf_counter() - start, 1)}
    if args._stage == "smoke":
        line["environment"] = environment()
    print(json.dumps(line), flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mnist", help="folder of MNIST's four IDX files")
    parser.add_argument("--stages", nargs="+", choices=STAGES, default=list(STAGES))
    parser.add_argument("--n-components", type=int, default=4096)
    parser.add_argument("--max-train", type=int, default=60_000, help="MNIST training rows")
    parser.add_argument("--higgs-rows", type=int, default=1_000_000)
    parser.add_argument("--data", default="/tmp", help="folder for the generated HIGGS-like rows")
    parser.add_argument("--timeout", type=float, default=300, help="seconds per stage")
    parser.add_argument("--budget", type=float, help="seconds for all the stages together")
    parser.add_argument("--quick", action="store_true", help="every stage at a small size")
    parser.add_argument("--json", help="append one JSON line per stage to this file")
    parser.add_argument("--verbose", type=int, default=0, help="the estimators' verbose (stderr)")
    parser.add_argument("--_stage", choices=STAGES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.n_components, args.max_train, args.higgs_rows = 512, 5000, 20_000
    if args._stage:
        return child(args)
    if args.mnist is None:
        args.stages = [s for s in args.stages if not s.startswith("mnist")]
    forwarded = [
        f"--n-components={args.n_components}",
        f"--max-train={args.max_train}",
        f"--higgs-rows={args.higgs_rows}",
        f"--data={args.data}",
        f"--verbose={args.verbose}",
    ] + ([f"--mnist={args.mnist}"] if args.mnist else [])
    deadline = None if args.budget is None else time.monotonic() + args.budget
    for stage in args.stages:
        command = [sys.executable, __file__, f"--_stage={stage}", *forwarded]
        timeout = args.timeout
        if deadline is not None:
            timeout = min(timeout, deadline - time.monotonic())
        if timeout <= 0:
            print(json.dumps({"stage": stage, "error": "no time left in --budget"}), flush=True)
            continue
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=timeout, check=False
            )
            output, log = done.stdout.strip(), done.stderr
            if done.returncode != 0:
                output = json.dumps({"stage": stage, "error": log.strip()[-2000:]})
        except subprocess.TimeoutExpired as exc:
            output = json.dumps({"stage": stage, "error": f"over {timeout:.0f} s"})
            log = exc.stderr.decode() if isinstance(exc.stderr, bytes) else exc.stderr or ""
            log += f"(over {timeout:.0f} s)\n"
        print(log, end="", file=sys.stderr, flush=True)
        print(output, flush=True)
        if args.json:
            with open(args.json, "a") as f:
                f.write(output + "\n")


if __name__ == "__main__":
    main()
