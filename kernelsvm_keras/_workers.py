"""Thread pools that fit a joblib worker's share of the machine.

``GridSearchCV(..., n_jobs=k)`` and ``cross_val_score(..., n_jobs=k)`` run
fits in worker processes (joblib's default ``loky`` backend), and joblib
gives each worker ``cpu_count() // k`` threads by setting ``OMP_NUM_THREADS``
(and the BLAS libraries' variables) in the worker's environment. NumPy,
SciPy and PyTorch read those; TensorFlow and XLA (JAX) do not, so every
worker would size its pools to the whole machine: ``k`` workers times all the
cores. A worker whose fits need Keras also imports TensorFlow (about 4 s
here) and prints its start-up messages; one that runs only small fits (the
exact dual) never imports it (:mod:`kernelsvm_keras._keras`).

:func:`configure_worker` runs when this module is imported, which
``kernelsvm_keras`` does first, before anything imports Keras. In a child process
whose environment limits its threads (a joblib worker) it gives TensorFlow's
pools that many threads (``TF_NUM_INTRAOP_THREADS``,
``TF_NUM_INTEROP_THREADS``), makes XLA's CPU backend single-threaded when
the share is one thread, and silences TensorFlow's informational messages
(``TF_CPP_MIN_LOG_LEVEL=1``; TensorFlow 2.21 still prints its oneDNN line,
which comes before that setting applies). It sets only variables that are
not set already (a user's own choice wins), and never in the user's own
process: there, nothing changes.
"""

import multiprocessing
import os

__all__ = ["configure_worker", "worker_threads"]


def worker_threads(environ=None):
    """The threads this process is given as a worker, or ``None`` if it is not one.

    A worker is a child process (``multiprocessing.parent_process()`` is
    set: loky, multiprocessing) whose environment holds ``OMP_NUM_THREADS``,
    the limit joblib gives its workers.

    Parameters
    ----------
    environ : mapping, default=None
        The environment to read; ``os.environ`` by default.

    Returns
    -------
    int or None
    """
    environ = os.environ if environ is None else environ
    if multiprocessing.parent_process() is None:
        return None  # the user's own process
    value = environ.get("OMP_NUM_THREADS", "")
    if not value.strip().isdigit() or int(value) < 1:
        return None
    return int(value)


def configure_worker(environ=None):
    """In a joblib worker, size the Keras backends' thread pools to its share.

    Sets, where they are unset, ``TF_NUM_INTRAOP_THREADS`` and
    ``TF_NUM_INTEROP_THREADS`` to the worker's threads,
    ``TF_CPP_MIN_LOG_LEVEL=1`` (no informational messages at start-up) and,
    for a one-thread share, ``--xla_cpu_multi_thread_eigen=false`` in
    ``XLA_FLAGS``. Effective when it runs before the backend starts its
    runtime (``kernelsvm_keras`` calls it on import, before importing Keras).

    Parameters
    ----------
    environ : mutable mapping, default=None
        The environment to change; ``os.environ`` by default.

    Returns
    -------
    int or None
        The worker's threads, or ``None`` (nothing changed) outside a worker.
    """
    environ = os.environ if environ is None else environ
    threads = worker_threads(environ)
    if threads is None:
        return None
    environ.setdefault("TF_NUM_INTRAOP_THREADS", str(threads))
    environ.setdefault("TF_NUM_INTEROP_THREADS", str(threads))
    environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    flags = environ.get("XLA_FLAGS", "")
    if threads == 1 and "xla_cpu_multi_thread_eigen" not in flags:
        environ["XLA_FLAGS"] = f"{flags} --xla_cpu_multi_thread_eigen=false".strip()
    return threads


configure_worker()
