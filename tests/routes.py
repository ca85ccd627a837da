"""The two routes a small problem can take, for tests that check both.

Below ``kernelsvm_keras._dual._MAX_ROWS`` rows the estimators solve the exact
dual (libsvm, float64); ``route("newton")`` sends every problem through the
float32 Newton solver instead (a context manager, so that hypothesis tests,
which cannot take function-scoped fixtures, can use it too), as a problem too
large for the dual is solved: landmarks in the eigenbasis. ``route("declined")``
keeps the small problem's feature map (landmarks in the Cholesky basis) and
has libsvm decline, as when it stops at its step limit: the same features as
the dual route, solved by Newton. Neither solves the kernel SVM on its kernel
first (:func:`kernelsvm_keras._dual.solve_on_kernel`).
"""

import contextlib
from unittest import mock

from kernelsvm_keras import _base, _dual

ROUTES = ["dual", "newton"]


@contextlib.contextmanager
def route(name):
    """Solve with the given route: ``"dual"`` (the default), ``"newton"`` or ``"declined"``."""
    if name == "dual":
        yield
        return
    # (both off the kernel SVM on its kernel, which solves no features)
    with mock.patch.object(_dual, "_KERNEL_FLOPS", 0):
        if name == "declined":
            with mock.patch.object(_base, "solve_dual", lambda *args, **kwargs: None):
                yield
            return
        with mock.patch.object(_dual, "_MAX_ROWS", 0):
            yield


def recording_working_sets(monkeypatch):
    """Record what :func:`_dual.solve_working_sets` returns, for the fits that follow."""
    results = []

    def recording(*args, **kwargs):
        results.append(_dual.solve_working_sets(*args, **kwargs))
        return results[-1]

    monkeypatch.setattr(_base, "solve_working_sets", recording)
    return results
