"""The machine a benchmark ran on, for its header (shared by the benchmarks)."""

import platform


def cpu():
    """The processor's model and its widest vector extension (the ratios to SVC depend on them).

    Where the model name holds no model number (a virtual machine's "AMD
    EPYC"), its family and model numbers say which generation it is (the
    project's machines: family 25, model 17 is a Zen 4).
    """
    model, flags, numbers = platform.machine(), set(), {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name":
                    model = value.strip()
                elif key == "flags":
                    flags = set(value.split())
                elif key in ("cpu family", "model") and key not in numbers:
                    numbers[key] = value.strip()
    except OSError:
        pass
    vector = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"
    if not any(c.isdigit() for c in model) and len(numbers) == 2:
        vector = f"family {numbers['cpu family']}, model {numbers['model']}; {vector}"
    return f"{model} ({vector})"
