"""TensorFlow: the solver's programs eager, as ``tf.function`` graphs, or compiled by XLA.

:func:`kernelsvm_keras._compiled.compiled` makes the solver's arithmetic one
program on JAX and leaves it eager on TensorFlow. This benchmark measures
that choice: each mode runs in a fresh process, with every program of
``_compiled`` wrapped as the mode asks (``graph``: ``tf.function`` with
``reduce_retracing=True``; ``xla``: the same with ``jit_compile=True``;
Python numbers sent as float32 tensors so that new values do not retrace),
then fits, twice each (the first fit traces and compiles, the second reuses):

* digits (``X / 16``) on the Newton route (the exact dual turned off), default
  ``KerasSVC`` with the squared hinge and with the hinge;
* pendigits, standardised, default ``KerasSVC`` (Newton: past the dual's rows).

Usage::

    python benchmarks/tf_function.py --pendigits PATH/pendigits [--modes eager graph xla]
"""

import argparse
import json
import os
import subprocess
import sys
import time


def _wrap(mode):
    """Make every program of ``kernelsvm_keras._compiled`` a ``tf.function`` (graph, xla)."""
    if mode == "eager":
        return
    import numpy as np
    import tensorflow as tf

    from kernelsvm_keras import _compiled

    def program(function, static):
        traced = tf.function(function, reduce_retracing=True, jit_compile=mode == "xla")

        def sent(value):
            if isinstance(value, (float, np.floating)):
                return tf.constant(value, dtype=tf.float32)
            return value

        def run(*args, **kwargs):
            args = [sent(value) for value in args]
            kwargs = {k: v if k in static else sent(v) for k, v in kwargs.items()}
            return traced(*args, **kwargs)

        return run

    _compiled._program = program


def _run(mode, pendigits):
    import warnings

    warnings.filterwarnings("ignore")
    from sklearn.datasets import load_digits, load_svmlight_file
    from sklearn.preprocessing import StandardScaler

    from kernelsvm_keras import KerasSVC
    from kernelsvm_keras import _dual as dual_route
    from kernelsvm_keras._solver import device_report

    _wrap(mode)
    head = {"mode": mode, "device": device_report()}

    def timed(name, X, y, **params):
        for fit in ("first", "second"):
            start = time.perf_counter()
            model = KerasSVC(random_state=0, **params).fit(X, y)
            seconds = time.perf_counter() - start
            row = {**head, "workload": name, "fit": fit, "seconds": round(seconds, 2)}
            print(json.dumps({**row, "n_iter": int(model.n_iter_.max())}), flush=True)

    X, y = load_digits(return_X_y=True)
    limit, dual_route._MAX_ROWS = dual_route._MAX_ROWS, 0
    timed("digits newton squared_hinge", X / 16.0, y)
    timed("digits newton hinge", X / 16.0, y, loss="hinge")
    dual_route._MAX_ROWS = limit
    if pendigits:
        X, y = load_svmlight_file(pendigits, n_features=16)
        timed("pendigits", StandardScaler().fit_transform(X.toarray()), y)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pendigits", help="path of the pendigits training file (LIBSVM)")
    parser.add_argument("--modes", nargs="+", default=["eager", "graph", "xla"])
    parser.add_argument("--run", help=argparse.SUPPRESS)  # the child process's mode
    args = parser.parse_args()
    if args.run:
        _run(args.run, args.pendigits)
        return
    env = {**os.environ, "KERAS_BACKEND": "tensorflow"}
    for mode in args.modes:
        command = [sys.executable, __file__, "--run", mode]
        if args.pendigits:
            command += ["--pendigits", args.pendigits]
        subprocess.run(command, env=env, check=True)


if __name__ == "__main__":
    main()
