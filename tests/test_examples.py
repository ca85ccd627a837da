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


def test_stream_libsvm_example(tmp_path, capsys):
    from sklearn.datasets import dump_svmlight_file, load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X / 16, y, random_state=0, stratify=y)
    dump_svmlight_file(X_train, y_train, str(tmp_path / "train.svm"), zero_based=False)
    dump_svmlight_file(X_test, y_test, str(tmp_path / "test.svm"), zero_based=False)
    results = run_example(
        "stream_libsvm.py",
        [
            str(tmp_path / "train.svm"),
            str(tmp_path / "test.svm"),
            "--n-features",
            "64",
            "--chunk-rows",
            "150",
            "--passes",
            "3",
            "--C",
            "10",
            "--n-components",
            "512",
            "--compare-fit",
        ],
    )
    assert results["partial_fit pass 3"] >= results["fit"] - 0.02
    assert results["fit"] > 0.95
    assert "pass 3: test_accuracy=" in capsys.readouterr().out
