"""Thread pools in joblib workers (kernelsvm_keras._workers)."""

import subprocess
import sys

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
