"""TensorFlow's start-up banner, kept out of ``import kernelsvm_keras``.

TensorFlow (2.21 here; 2.17 in its own format) logs INFO lines while it loads: the
oneDNN notice (twice, whatever ``TF_CPP_MIN_LOG_LEVEL`` says) and the CPU
instructions it was not built for. They are not ours to print, and the only variable
that stops them (``TF_ENABLE_ONEDNN_OPTS=0``) changes TensorFlow's kernels.
So the first import of Keras runs with the process's standard error captured;
afterwards everything captured is written back except those INFO lines.
Warnings and errors pass, nothing in the environment or in TensorFlow's
settings changes, and ``TF_CPP_MIN_LOG_LEVEL=0`` (asking for INFO) turns the
filter off.
"""

import contextlib
import os
import re
import sys
import tempfile

# absl's INFO prefix ("I0000 00:00:1796252548.869791    6054 port.cc:153] ..."), the
# INFO prefix of TensorFlow's own logging before absl (2.17: "2026-12-07
# 23:45:20.251984: I tensorflow/core/platform/cpu_feature_guard.cc:210] ..."), absl's
# notice that logging is not initialised yet, and the banner's second line.
_BANNER = re.compile(
    r"^(I\d{4} \d\d:\d\d:\d+\.\d+ +\d+ \S+:\d+\] "
    r"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: I \S+:\d+\] "
    r"|WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|To enable the following instructions: .* rebuild TensorFlow with the appropriate "
    r"compiler flags\.)"
)


def without_banner(text):
    """``text`` without the lines of TensorFlow's start-up banner."""
    return "".join(line for line in text.splitlines(True) if not _BANNER.match(line))


@contextlib.contextmanager
def tensorflow_banner_filtered():
    """Run the block with file descriptor 2 captured, then write back all but the banner."""
    if "tensorflow" in sys.modules or os.environ.get("TF_CPP_MIN_LOG_LEVEL") == "0":
        yield
        return
    try:
        saved = os.dup(2)
    except OSError:  # no standard error to capture
        yield
        return
    with tempfile.TemporaryFile() as capture:
        _flush()
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            _flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            kept = without_banner(capture.read().decode("utf-8", errors="replace"))
            if kept:
                os.write(2, kept.encode("utf-8"))


def _flush():
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
