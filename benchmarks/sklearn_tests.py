"""scikit-learn's own SVM tests, run with our estimators in place of libsvm's and liblinear's.

A measure of the drop-in promise: the installed scikit-learn's
``sklearn/svm/tests/test_svm.py`` is copied to a temporary folder with
``SVC``, ``LinearSVC``, ``SVR``, ``LinearSVR`` and ``OneClassSVM`` replaced
by ``KerasSVC``, ``KerasLinearSVC``, ``KerasSVR``, ``KerasLinearSVR`` and
``KerasOneClassSVM`` (``NuSVC``, ``NuSVR`` and libsvm's private module stay
scikit-learn's), then run by pytest. It prints the counts and each failing
test with the last line of its error, grouped by that line, so that a
failure's cause (an attribute we do not keep, an error message, a value)
reads at a glance; the README's tables say which differences are by design.

The tests are scikit-learn's, so they change with its version: the header
names it. They are not part of our test suite for that reason (a new
upstream test would fail CI without a change here); what they found is,
case by case, in ``tests/``.

Examples
--------
::

    python benchmarks/sklearn_tests.py
    python benchmarks/sklearn_tests.py --keep /tmp/skt   # leave the copied tests there
"""

import argparse
import collections
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import sklearn
import sklearn.svm

import kernelsvm_keras

# test_svm.py's names for the estimators, and ours
REPLACED = {
    "SVC": "KerasSVC",
    "LinearSVC": "KerasLinearSVC",
    "SVR": "KerasSVR",
    "LinearSVR": "KerasLinearSVR",
    "OneClassSVM": "KerasOneClassSVM",
}

CONFTEST = '''
import pytest


@pytest.fixture(params=[42])
def global_random_seed(request):
    """scikit-learn's conftest gives this fixture; one seed here."""
    return request.param


def pytest_configure(config):
    config.addinivalue_line("markers", "thread_unsafe: scikit-learn's marker")
'''


def substituted(source):
    """``test_svm.py``'s text with our estimators in place of scikit-learn's."""
    namespace = (
        "import types as _types\n"
        "import sklearn.svm as _sklearn_svm\n"
        "import kernelsvm_keras as _ours\n"
        "svm = _types.SimpleNamespace(**vars(_sklearn_svm))\n"
        + "".join(f"svm.{name} = _ours.{keras}\n" for name, keras in REPLACED.items())
    )
    source, count = re.subn(
        r"^from sklearn import (.*)\bsvm\b(.*)$",
        lambda m: f"from sklearn import {(m.group(1) + m.group(2)).strip(', ')}\n{namespace}",
        source,
        count=1,
        flags=re.M,
    )
    if count != 1:
        raise SystemExit("test_svm.py no longer imports `svm` from sklearn: update this script")
    block = re.search(r"^from sklearn\.svm import \((.*?)\)", source, flags=re.M | re.S)
    if block is None:
        raise SystemExit("test_svm.py no longer imports its estimators in one block")
    names = [name.strip() for name in block.group(1).split(",") if name.strip()]
    kept = [name for name in names if name not in REPLACED]
    ours = [f"{REPLACED[name]} as {name}" for name in names if name in REPLACED]
    lines = f"from sklearn.svm import {', '.join(kept)}\n" if kept else ""
    lines += f"from kernelsvm_keras import {', '.join(ours)}\n" if ours else ""
    return source[: block.start()] + lines + source[block.end() :]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keep", help="folder to write the copied tests to (kept)")
    parser.add_argument("-n", "--workers", default="2", help="pytest-xdist workers (or 0)")
    args = parser.parse_args(argv)
    source = Path(sklearn.svm.__file__).parent / "tests" / "test_svm.py"
    print(
        f"scikit-learn {sklearn.__version__} {source}, kernelsvm_keras "
        f"{kernelsvm_keras.__version__}, Python {sys.version.split()[0]}",
        flush=True,
    )
    folder = Path(args.keep or tempfile.mkdtemp(prefix="sklearn_svm_tests_"))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "test_svm_ours.py").write_text(substituted(source.read_text()))
    (folder / "conftest.py").write_text(CONFTEST)
    command = [sys.executable, "-m", "pytest", "-q", "-rf", "--tb=line", "-p", "no:cacheprovider"]
    command += ["-p", "no:randomly"] if _has_plugin("pytest_randomly") else []
    command += ["-n", args.workers] if args.workers != "0" else []
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "COLUMNS": "400"}  # untruncated reasons
    run = subprocess.run(
        [*command, "test_svm_ours.py"], cwd=folder, capture_output=True, text=True, env=env
    )
    report(run.stdout)
    return 0


def _has_plugin(module):
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def report(output):
    """The counts, then the failures grouped by the last line of their error."""
    summary = [line for line in output.splitlines() if re.search(r"\d+ (passed|failed)", line)]
    print(summary[-1] if summary else output[-2000:])
    causes = collections.defaultdict(list)
    for line in output.splitlines():
        match = re.match(r"FAILED test_svm_ours\.py::(\S+) - (.*)$", line)
        if match:
            causes[match.group(2)[:110]].append(match.group(1))
    for cause, tests in sorted(causes.items(), key=lambda item: -len(item[1])):
        print(f"\n{len(tests)} x {cause}")
        for test in tests:
            print(f"    {test}")


if __name__ == "__main__":
    sys.exit(main())
