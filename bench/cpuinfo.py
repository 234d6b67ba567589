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
    return model, simd


def describe() -> str:
    """One line: model, instruction set, logical CPUs, load average, Python."""
    model, simd = cpu()
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    return (f"CPU: {model}, {simd}, nproc={os.cpu_count()}; load average {load}; "
            f"Python {platform.python_version()}")
