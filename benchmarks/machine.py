"""The machine a benchmark ran on, for its header (shared by the benchmarks)."""

import platform


def cpu():
    """The processor's model and its widest vector extension (the ratios to SVC depend on them)."""
    model, flags = platform.machine(), set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name":
                    model = value.strip()
                elif key.strip() == "flags":
                    flags = set(value.split())
    except OSError:
        pass
    vector = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"
    return f"{model} ({vector})"
