"""The examples run (on small data written by the test) and report what they say."""

import runpy
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run_example(name, argv):
    return runpy.run_path(str(EXAMPLES / name), run_name="example")["main"](argv)


@pytest.mark.parametrize("head", ["linear", "rff"])
def test_cnn_svm_head_example(tiny_mnist, head, capsys):
    accuracy = run_example(
        "cnn_svm_head_mnist.py",
        [str(tiny_mnist), "--head", head, "--epochs", "5", "--batch-size", "32"],
    )
    assert accuracy > 0.9
    assert "test_accuracy=" in capsys.readouterr().out


def test_distill_svc_example(capsys):
    results = run_example("distill_svc.py", ["--n-components", "1024"])
    assert set(results) == {"SVC", "KerasSVC retrained", "KerasSVC distilled"}
    out = capsys.readouterr().out
    agreement = float(out.split("KerasSVC distilled")[1].split("agreement_with_SVC=")[1].split()[0])
    assert agreement > 0.95
