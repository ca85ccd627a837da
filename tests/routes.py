"""The two routes a small problem can take, for tests that check both.

Below ``kernelsvm_keras._dual._MAX_ROWS`` rows the estimators solve the exact
dual (libsvm, float64); ``route("newton")`` sends every problem through the
float32 Newton solver instead (a context manager, so that hypothesis tests,
which cannot take function-scoped fixtures, can use it too).
"""

import contextlib
from unittest import mock

from kernelsvm_keras import _dual

ROUTES = ["dual", "newton"]


@contextlib.contextmanager
def route(name):
    """Solve with the given route: ``"dual"`` (the default) or ``"newton"``."""
    if name == "dual":
        yield
        return
    with mock.patch.object(_dual, "_MAX_ROWS", 0):
        yield
