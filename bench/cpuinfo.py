"""What machine a benchmark ran on: every script prints it beside its figures (the AVX2 and AVX-512 machines give
different numbers for the same code, and a loaded machine gives slower ones)."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def cpu() -> tuple[str, str]:
    """(CPU model, widest vector instructions: "AVX-512", "AVX2 (no AVX-512)" or "no AVX2"), from /proc/cpuinfo."""
    model, flags = platform.processor() or "unknown CPU", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and model in ("", "unknown CPU", platform.processor()):
                model = value.strip()
            elif key.strip() == "flags" and not flags:
                flags = set(value.split())
    except OSError:
        pass
    simd = "AVX-512" if "avx512f" in flags else "AVX2 (no AVX-512)" if "avx2" in flags else "no AVX2"
    if simd == "AVX-512" and avx512_disabled():
        simd = "AVX2 (AVX-512 present but disabled for numpy and numba by bench/as-avx2)"
    return model, simd


def avx512_disabled() -> bool:
    """True when numpy's AVX-512 loops and numba's AVX-512 code generation are both switched off by the environment
    (bench/as-avx2 does this), so that an AVX-512 machine runs the code paths of an AVX2-only one."""
    disabled = os.environ.get("NPY_DISABLE_CPU_FEATURES", "").replace(",", " ").split()
    return (any(f in disabled for f in ("X86_V4", "AVX512F", "AVX512_SKX"))
            and os.environ.get("NUMBA_CPU_NAME", "") in ("haswell", "znver2", "skylake"))


def describe() -> str:
    """One line: model, instruction set, logical CPUs, load average, Python."""
    model, simd = cpu()
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    return (f"CPU: {model}, {simd}, nproc={os.cpu_count()}; load average {load}; "
            f"Python {platform.python_version()}")
