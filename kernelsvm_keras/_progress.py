"""What a fit prints at ``verbose``: one object, so that every estimator reads alike.

``verbose=1``: a line per phase (the feature map, the features, each Newton
iteration of the solver) with the time since the fit began, and a closing
summary. ``verbose=2`` adds the inner work: the kind of each Newton step and
its conjugate-gradient passes, the line search's step, the stages of the
``C`` path. The cross-validated searches print a line per solve at
``verbose=1`` and hand ``verbose - 1`` to the solver (see :meth:`Progress.inner`).

Plain lines on standard output, flushed: they read the same in a terminal, a
log file and a notebook.
"""

import contextlib
import time


class Progress:
    """Progress lines of one fit, prefixed with the estimator and the elapsed time.

    Parameters
    ----------
    name : str
        The estimator's class name.
    verbose : int
        Nothing is printed at 0; see the module's docstring for 1 and 2.
    start : float or None, default=None
        ``time.perf_counter()`` at the start of the fit (now by default).
    """

    def __init__(self, name, verbose, start=None):
        self.name = name
        self.verbose = int(verbose or 0)
        self.start = time.perf_counter() if start is None else start

    def __bool__(self):
        return self.verbose > 0

    def elapsed(self):
        """Seconds since the fit began."""
        return time.perf_counter() - self.start

    def line(self, text, level=1):
        """Print ``text`` when ``verbose >= level``."""
        if self.verbose >= level:
            print(f"[{self.name}] {self.elapsed():8.2f}s  {text}", flush=True)

    @contextlib.contextmanager
    def phase(self, what, level=1):
        """Print ``what`` and its duration once the block has run."""
        if self.verbose < level:
            yield
            return
        started = time.perf_counter()
        yield
        self.line(f"{what} ({time.perf_counter() - started:.2f} s)", level)

    def inner(self):
        """The progress of a nested fit (a search's solves): one level quieter, same clock."""
        return Progress(self.name, max(0, self.verbose - 1), self.start)


SILENT = Progress("", 0, 0.0)
