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
"""

import functools

from ._keras import keras

__all__ = ["compiled"]


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
