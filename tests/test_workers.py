"""joblib workers: their thread pools (kernelsvm_keras._workers) and Keras at first use (_keras)."""

import subprocess
import sys

import numpy as np
import pytest
from joblib import Parallel, delayed

from kernelsvm_keras._workers import configure_worker, worker_threads


def test_the_users_process_is_left_alone():
    environ = {"OMP_NUM_THREADS": "1"}
    assert worker_threads(environ) is None
    assert configure_worker(environ) is None
    assert environ == {"OMP_NUM_THREADS": "1"}


def _in_child(environ):
    return configure_worker(environ), environ


def test_a_worker_gets_its_share_and_a_users_setting_wins():
    # in a child process (a loky worker; n_jobs=1 would run here); the mapping is ours
    [(threads, environ)] = Parallel(n_jobs=2, backend="loky")(
        delayed(_in_child)(env)
        for env in [{"OMP_NUM_THREADS": "3", "TF_NUM_INTEROP_THREADS": "1", "XLA_FLAGS": "--x"}]
    )
    assert threads == 3
    assert environ["TF_NUM_INTRAOP_THREADS"] == "3"
    assert environ["TF_NUM_INTEROP_THREADS"] == "1"  # already set: kept
    assert environ["TF_CPP_MIN_LOG_LEVEL"] == "1"
    assert environ["XLA_FLAGS"] == "--x"  # XLA stays multi-threaded for 3 threads
    [(threads, environ)] = Parallel(n_jobs=2, backend="loky")(
        delayed(_in_child)(env) for env in [{"OMP_NUM_THREADS": "1"}]
    )
    assert threads == 1 and environ["XLA_FLAGS"] == "--xla_cpu_multi_thread_eigen=false"
    for env in [{}, {"OMP_NUM_THREADS": "many"}]:  # no limit set, or not a number
        [(threads, environ)] = Parallel(n_jobs=2, backend="loky")(
            delayed(_in_child)(e) for e in [dict(env)]
        )
        assert threads is None and environ == env


def _backend_threads():
    import os

    import kernelsvm_keras  # noqa: F401  (imported in the worker, as unpickling does)

    return os.environ.get("OMP_NUM_THREADS"), os.environ.get("TF_NUM_INTRAOP_THREADS")


def test_importing_the_package_in_a_worker_sizes_tensorflow(monkeypatch):
    # joblib's own limit in its workers: cpu_count() // n_jobs, or the parent's value
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.delenv("TF_NUM_INTRAOP_THREADS", raising=False)
    results = Parallel(n_jobs=2, backend="loky")(delayed(_backend_threads)() for _ in range(2))
    assert results == [("1", "1")] * 2


def test_importing_the_package_changes_nothing_in_the_users_process():
    # (TensorFlow sets variables of its own on import; ours are the thread pools')
    code = (
        "import os; import kernelsvm_keras; "
        "print([os.environ.get(name) for name in "
        "('TF_NUM_INTRAOP_THREADS', 'TF_NUM_INTEROP_THREADS', 'XLA_FLAGS')])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"OMP_NUM_THREADS": "1", "PATH": ""},
    )
    assert out.stdout.strip().splitlines()[-1] == "[None, None, None]"


# A search in a fresh Python, so that its loky workers are fresh too (joblib
# reuses them within a process): the digits folds that GridSearchCV(n_jobs=2)
# gives a worker, each with the fit's route, and what the worker had imported.
WORKER_SCRIPT = """
import json, sys
import numpy as np
import pytest
from joblib import Parallel, delayed
from sklearn.datasets import load_digits

def fit(params):
    import numpy as np
    from kernelsvm_keras import KerasLinearSVC, KerasSVC
    X, y = load_digits(return_X_y=True)
    X = X[:600] / 16.0
    y = y[:600]
    before = "keras" in sys.modules
    estimator = KerasLinearSVC(**params) if "fit_intercept" in params else KerasSVC(**params)
    estimator.fit(X[:400], y[:400])
    scores = estimator.decision_function(X[400:])
    out = {"keras_before": before, "keras": "keras" in sys.modules,
           "tensorflow": "tensorflow" in sys.modules, "scores": scores.tolist()}
    if out["keras"]:
        import keras
        # the layers are registered for load_model once Keras is there
        name = "kernelsvm_keras>NystroemFeatures"
        out["registered"] = keras.saving.get_registered_object(name) is not None
    return out

params = json.loads(sys.argv[1])
print(json.dumps(Parallel(n_jobs=2)(delayed(fit)(p) for p in params)))
"""


def _in_fresh_workers(params):
    import json

    run = subprocess.run(
        [sys.executable, "-c", WORKER_SCRIPT, json.dumps(params)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_a_worker_fits_small_problems_without_importing_keras():
    # the exact dual (NumPy, libsvm) and the NumPy decision function: a
    # worker of a search on small data never pays Keras's import (4-5 s),
    # whether the landmarks are every row or fewer (their features then
    # computed in NumPy), or the features random
    from sklearn.datasets import load_digits

    from kernelsvm_keras import KerasSVC

    params = [
        {"C": 1.0, "random_state": 0},
        {"C": 10.0, "kernel": "poly", "random_state": 0},
        {"C": 10.0, "n_components": 128, "random_state": 0},
        {"C": 10.0, "n_components": 128, "approximation": "random_fourier", "random_state": 0},
    ]
    results = _in_fresh_workers(params)
    X, y = load_digits(return_X_y=True)
    X, y = X[:600] / 16.0, y[:600]
    for p, result in zip(params, results, strict=True):
        assert not result["keras_before"] and not result["keras"] and not result["tensorflow"]
        # the same model as in this process, where Keras is imported
        here = KerasSVC(**p).fit(X[:400], y[:400]).decision_function(X[400:])
        np.testing.assert_allclose(result["scores"], here, rtol=1e-6, atol=1e-6)


def test_a_worker_imports_keras_when_a_fit_needs_newton():
    # no intercept: the dual does not serve it, and Newton trains with Keras
    [result, small] = _in_fresh_workers([{"C": 1.0, "fit_intercept": False}, {"C": 1.0}])
    assert not result["keras_before"] and result["keras"] and result["registered"]
    assert np.all(np.isfinite(result["scores"]))
    assert len(small["scores"]) == 200


def test_the_package_imports_keras_in_the_users_process_and_names_its_layers():
    import kernelsvm_keras

    code = "import sys, kernelsvm_keras; print('keras' in sys.modules)"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip().splitlines()[-1] == "True"
    assert kernelsvm_keras.layers.RandomFourierFeatures is kernelsvm_keras.RandomFourierFeatures
    assert kernelsvm_keras.losses.OneVsRestHinge.__module__ == "kernelsvm_keras.losses"
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        kernelsvm_keras.nothing  # noqa: B018
