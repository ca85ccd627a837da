"""Collection for the README's test command (``pytest`` at the repository root)."""

import importlib.util

# kernelsvm_keras.onnx needs the optional "onnx" extra; without it, its
# doctests are not collected (tests/test_onnx.py skips itself likewise).
collect_ignore = []
if importlib.util.find_spec("skl2onnx") is None:
    collect_ignore.append("kernelsvm_keras/onnx.py")
