"""Data-parallel training over two simulated devices (Keras's DataParallel on JAX).

The fit runs in a subprocess: the device count is fixed when JAX starts
(``XLA_FLAGS=--xla_force_host_platform_device_count=2``), and the backend when
Keras is imported.

XLA's CPU client can deadlock two simulated devices. Seen under gdb (jaxlib
0.10.2): one device's half of an all-reduce waits in its rendezvous while the
launch of the other device's half waits on that device's semaphore of
in-flight computations, and the main thread waits on the launch. XLA aborts
such a rendezvous after 40 s ("Termination timeout for ... exceeded"). It
happened in 1 of the CI runs and 0 of 4 runs here with these flags, and in 2 of
2 with ``--xla_cpu_multi_thread_eigen=false`` added. That abort, and nothing
else, is retried.
"""

import json
import os
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("jax")

SCRIPT = textwrap.dedent(
    """
    import json
    import keras
    import numpy as np
    from sklearn.datasets import load_digits
    import kernelsvm_keras._design as design
    from kernelsvm_keras import KerasLinearSVC, KerasSVC

    # the features on the devices, as fits beyond the exact dual's sizes compute
    # them (a fit the dual may take computes them in NumPy)
    KerasSVC._host_features = lambda self, n_samples, feature_map: False

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    models = {
        "cached": KerasSVC(C=10, n_components=256, batch_size=300,
                           approximation="random_fourier", random_state=0),
        "streamed": KerasSVC(C=10, n_components=256, batch_size=300, cache_size=0,
                             approximation="random_fourier", random_state=0),
        "linear": KerasLinearSVC(C=1, batch_size=300),
        # without an intercept the exact dual does not serve it: Newton on the devices
        "linear_newton": KerasLinearSVC(C=1, batch_size=300, fit_intercept=False),
    }
    one_device = {}
    for name, est in models.items():
        est.fit(X, y)
        one_device[name] = (est.decision_function(X), est.objective_)

    spans = []
    compute = design.RowBlocks._compute
    def recording_compute(self, start, stop):
        block = compute(self, start, stop)
        spans.append(len(block.sharding.device_set))
        return block
    design.RowBlocks._compute = recording_compute

    keras.distribution.set_distribution(keras.distribution.DataParallel())
    result = {"devices": len(keras.distribution.list_devices())}
    for name, est in models.items():
        spans.clear()
        scores = est.fit(X, y).decision_function(X)
        reference, objective = one_device[name]
        result[name] = {
            "sharded_blocks": sum(span == 2 for span in spans),
            "blocks": len(spans),
            "objective_ratio": (est.objective_ / objective).tolist(),
            "same_predictions": float(np.mean(scores.argmax(1) == reference.argmax(1))),
        }
    print(json.dumps(result))
    """
)


XLA_RENDEZVOUS_ABORT = "Termination timeout for"
ATTEMPTS = 3


def run_on_two_devices(script):
    """Run ``script`` on JAX with two simulated CPU devices; return its run."""
    env = {
        **os.environ,
        "KERAS_BACKEND": "jax",
        "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
        "JAX_PLATFORMS": "cpu",
    }
    for _ in range(ATTEMPTS):
        run = subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=900
        )
        if run.returncode == 0 or XLA_RENDEZVOUS_ABORT not in run.stderr:
            break
    return run


def test_data_parallel_on_two_devices_gives_the_same_model():
    run = run_on_two_devices(SCRIPT)
    assert run.returncode == 0, run.stderr[-4000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["devices"] == 2
    # the linear SVM with an intercept is the exact dual's, on the host in
    # NumPy: its design never computes a block on a device
    assert result["linear"]["blocks"] == 0, result["linear"]
    for name in ("cached", "streamed", "linear", "linear_newton"):
        fit = result[name]
        # 1797 rows in blocks of 300: five full blocks split over both devices,
        # the short last one (297 rows, odd) on one device
        assert name == "linear" or fit["sharded_blocks"] >= 5, (name, fit)
        # the same optimum, summed in another order: both certified to tol=1e-3
        # of it (the weights themselves may differ more along flat directions)
        assert all(abs(ratio - 1) <= 2e-3 for ratio in fit["objective_ratio"]), fit
        assert fit["same_predictions"] >= 0.995, fit
