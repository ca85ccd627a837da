"""Quiet by default: importing the package prints nothing that the user did not ask for."""

import os
import subprocess
import sys

import keras
import pytest

from kernelsvm_keras._quiet import without_banner

BANNER = (
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
    "I0000 00:00:1796252548.869791    6054 port.cc:153] oneDNN custom operations are on.\n"
    "I0000 00:00:1796252548.922657    6054 cpu_feature_guard.cc:227] This TensorFlow binary "
    "is optimized to use available CPU instructions in performance-critical operations.\n"
    "To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow "
    "with the appropriate compiler flags.\n"
)


def test_only_the_banner_is_dropped():
    warning = "W0000 00:00:1796252548.9 6054 gpu_device.cc:2342] Cannot dlopen GPU libraries.\n"
    error = "E0000 00:00:1796252548.9 6054 cuda_dnn.cc:8310] Unable to register cuDNN factory\n"
    mine = "a line of the user's own\n"
    assert without_banner(BANNER) == ""
    assert without_banner(warning + BANNER + error + mine) == warning + error + mine


def test_the_banner_of_tensorflow_s_own_logging_is_dropped_too():
    # TensorFlow 2.17 wrote its INFO lines with a date, before absl took its logging
    banner = (
        "2026-12-07 23:45:20.251984: I tensorflow/core/platform/cpu_feature_guard.cc:210] "
        "This TensorFlow binary is optimized to use available CPU instructions in "
        "performance-critical operations.\n"
    )
    warning = "2026-12-07 23:45:21.1: W tensorflow/core/util/port.cc:113] A warning.\n"
    assert without_banner(banner) == ""
    assert without_banner(banner + warning) == warning


def _import_in_a_new_process(code, **environ):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**env, **environ},
        check=True,
        timeout=300,
    )


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="the warning is faked at TensorFlow's import, which only that backend imports",
)
def test_import_prints_no_info_but_keeps_what_else_is_written():
    code = (
        "import os, sys, builtins, warnings\n"
        # (deprecation notices of other libraries, which this hook in __main__ would
        # show: Keras 3.5 importing jax.xla_computation where JAX is installed)
        "warnings.simplefilter('ignore', DeprecationWarning)\n"
        "real_import = builtins.__import__\n"
        "def noisy(name, *args, **kwargs):\n"  # a warning written to fd 2 as TensorFlow loads
        "    if name == 'tensorflow' and not getattr(noisy, 'done', False):\n"
        "        noisy.done = True\n"
        "        os.write(2, b'W0000 a warning of the import\\n')\n"
        "    return real_import(name, *args, **kwargs)\n"
        "builtins.__import__ = noisy\n"
        "import kernelsvm_keras\n"
        "print('imported')\n"
    )
    result = _import_in_a_new_process(code)
    assert result.stdout == "imported\n"
    # the warning came while standard error was captured, and was written back
    assert result.stderr == "W0000 a warning of the import\n"
