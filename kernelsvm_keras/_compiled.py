"""The solver's arithmetic as programs that the backend compiles whole.

JAX runs every eager operation as a program of its own, compiled at the first
call for each shape (30-50 ms apiece on a CPU) and dispatched alone at every
call. An iteration of the Newton solver is a few hundred such operations on
the loss's per-row terms, small ``(K,)`` vectors and the line search's
scalars: on 10,000 MNIST rows the first fit spent 5 s compiling them before
its first iteration. :func:`compiled` makes a pure function of tensors one
program on JAX (``jax.jit``: compiled once per shape and static arguments,
fused, and reused by every later fit of the same shapes, as in a grid
search); on the other backends it is the function itself, whose operations
run eagerly as before (TensorFlow's eager operations are not compiled per
shape). ``tf.function`` was measured and does not pay there: its tracing
costs more than the dispatch it saves except in fits of many cheap
iterations, and XLA is slower on a CPU (``benchmarks/tf_function.py``;
``benchmarks/RESULTS.md``, "TensorFlow stays eager").

The solver (:mod:`kernelsvm_keras._solver`) stays backend-agnostic: it calls
the functions decorated here like any other.

:func:`full_float32` keeps a fit's matrix products in float32: on NVIDIA GPUs
since Ampere, JAX and TensorFlow multiply float32 matrices in TensorFloat-32
by default (10 bits of mantissa), too coarse for the solver.
"""

import contextlib
import functools
import sys
import threading

from ._keras import keras

__all__ = ["compiled", "full_float32"]


def compiled(*, static=()):
    """Decorator: the function compiled per shape where the backend compiles (JAX).

    Parameters
    ----------
    static : tuple of str
        Names of the arguments that select the program rather than feed it
        (a loss object, a flag): they must be hashable, and each value
        compiles its own program. They must be passed by keyword.

    Notes
    -----
    The backend is read at the first call (Keras is imported late in a
    joblib worker; see :mod:`kernelsvm_keras._keras`).
    """

    def decorate(function):
        program = []

        @functools.wraps(function)
        def run(*args, **kwargs):
            if not program:
                program.append(_program(function, static))
            return program[0](*args, **kwargs)

        return run

    return decorate


def _program(function, static):
    if keras.backend.backend() != "jax":
        return function
    import jax

    return jax.jit(function, static_argnames=static)


_LOCK = threading.Lock()
_PROCESS_WIDE = {"entered": 0, "restore": []}


@contextlib.contextmanager
def full_float32():
    """Context manager: float32 matrix products in full float32 inside the block.

    JAX and TensorFlow multiply float32 matrices in TensorFloat-32 on NVIDIA
    GPUs since Ampere, by default: inputs rounded to 10 bits of mantissa. The
    solver's products are too coarse for its line search and certificate
    (MNIST, 60,000 rows, 4,096 landmarks, ``C=10`` on an H200: stalled after 34
    Newton iterations at a certified gap of 3e-2, where the CPU converges in
    12; ``benchmarks/RESULTS.md``, "On a GPU"). Every fit runs inside this
    block (``_BaseSVM._all_or_nothing``, which the searches' ``fit`` calls
    too); on a CPU it changes nothing.

    * JAX: ``jax.default_matmul_precision("float32")``, local to the thread
      and part of ``jax.jit``'s cache key;
    * TensorFlow: ``tf.config.experimental.enable_tensor_float_32_execution``
      off, a process-wide switch: turned off by the first fit that enters and
      restored by the last one that leaves (threads fitting at once share it);
    * torch: ``torch.get_float32_matmul_precision()`` set to ``"highest"``,
      likewise (torch's own default).

    Only backends already imported are touched, so that a joblib worker that
    has not imported Keras does not import it here (:mod:`kernelsvm_keras._keras`);
    such a worker's first fit that imports Keras runs with the backend's
    default precision. A user's setting is never changed outside the block.
    """
    with contextlib.ExitStack() as stack:
        if "jax" in sys.modules:
            import jax

            stack.enter_context(jax.default_matmul_precision("float32"))
        stack.enter_context(_process_wide_float32())
        yield


@contextlib.contextmanager
def _process_wide_float32():
    """TensorFlow's and torch's process-wide switches, off from the first entry to the last exit."""
    with _LOCK:
        if _PROCESS_WIDE["entered"] == 0:
            _PROCESS_WIDE["restore"] = _switch_off_reduced_precision()
        _PROCESS_WIDE["entered"] += 1
    try:
        yield
    finally:
        with _LOCK:
            _PROCESS_WIDE["entered"] -= 1
            if _PROCESS_WIDE["entered"] == 0:
                for restore in _PROCESS_WIDE["restore"]:
                    restore()
                _PROCESS_WIDE["restore"] = []


def _switch_off_reduced_precision():
    """Switch TensorFloat-32 off where imported; return the functions that restore it."""
    restore = []
    tf = sys.modules.get("tensorflow")
    if tf is not None and hasattr(tf, "config"):
        experimental = tf.config.experimental
        if experimental.tensor_float_32_execution_enabled():
            experimental.enable_tensor_float_32_execution(False)
            restore.append(lambda: experimental.enable_tensor_float_32_execution(True))
    torch = sys.modules.get("torch")
    if torch is not None and hasattr(torch, "get_float32_matmul_precision"):
        previous = torch.get_float32_matmul_precision()
        if previous != "highest":
            torch.set_float32_matmul_precision("highest")
            restore.append(lambda: torch.set_float32_matmul_precision(previous))
    return restore
