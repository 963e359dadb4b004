"""Runs real polyglot exercises through the polyglot image's test commands, with the reference
solution in place and with the untouched stub, and prints per language how many passed.

Not a timed test and not collected by pytest: a proof that the image's runners decide as the
exercises' own build would (every reference passes, every stub fails), run by hand:

    BENCHDOCK_POLYGLOT_DIR=../shared/datasets/polyglot-benchmark \\
        python tests/scripts/check_polyglot_image.py --image benchdock-polyglot:dev java javascript rust

Each run is what the harness's container does around the test command, without aider: the
exercise's files (no `.meta/`) copied into the container's tmpfs, the driver's edits to the
tests (xtest -> test, @Disabled removed), then `LANGUAGES[lang].test_command` (its {report} and {build} slots filled as the driver
fills them, with directories outside the exercise) as user 65534
with no network, a read-only root, the session's environment and limits. A pass here needs
exit 0 AND the runner's report listing every test the test files define, none failed (as
Gradle and jest decide: a test left @Disabled, like forth's bare `@Disabled` that the
driver's edit does not match, is skipped, not failed; the output lists such tests). For
Rust only the exercises whose manifests name crates are run, with the stub's Cargo.toml (what
the harness uses: the model may not edit it) and with the reference's .meta/Cargo-example.toml.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from benchdock.harnesses.benchmarks.aider.exercises import (
    LANGUAGES,
    Exercise,
    dataset_root,
    load_exercises,
)
from benchdock.harnesses.benchmarks.aider.session import COMMON_ENV, LIMITS, TEST_TIMEOUT_S

REPORTS = {"java": "TEST-junit-jupiter.xml", "javascript": "jest.json"}  # in {report}
SLOTS = {"report": "/tmp/ex/.report", "build": "/tmp/ex/.build"}  # as testrun fills them
SCRIPT = r"""
mkdir -p /tmp/ex/.report && cp -r /src /tmp/ex/"$EX" && cd /tmp/ex/"$EX" || exit 99
"$@" >/tmp/out.txt 2>&1
rc=$?
tail -c 20000 /tmp/out.txt >/out/output.txt
for f in /tmp/ex/.report/TEST-junit-jupiter.xml /tmp/ex/.report/jest.json; do
  [ -f "$f" ] && cp "$f" /out/
done
echo "$rc" >/out/rc
"""


@dataclass
class Outcome:
    exercise: str
    kind: str
    passed: bool
    why: str
    seconds: float
    output: str


def prepare_tests(root: Path, ex: Exercise) -> None:
    """The driver's edits before each run (driver.py's prepare_tests)."""
    for rel in ex.tests:
        path = root / rel
        if not path.is_file():
            continue
        text = path.read_text()
        if ex.language == "javascript":
            text = re.sub(r"\bxtest\(", "test(", text)
        elif ex.language == "java":
            text = re.sub(r"@Disabled\([^)]*\)\s*\n", "", text)
        path.write_text(text)


def expected_tests(root: Path, ex: Exercise) -> list[str]:
    """The tests the (edited) test files define: Java `Class.method` of each @Test method,
    JavaScript the count of test(/it( calls, skipped ones too (names come from jest's report)."""
    names: list[str] = []
    for rel in ex.tests:
        text = (root / rel).read_text()
        if ex.language == "java":
            cls = Path(rel).stem
            for m in re.finditer(r"@Test\b[^;{]*?(?:public\s+)?void\s+(\w+)\s*\(", text, re.S):
                names.append(f"{cls}.{m.group(1)}")
        elif ex.language == "javascript":
            calls = re.finditer(r"^\s*(?:x?test|x?it)(?:\.skip)?\(", text, re.M)
            names += [f"test#{i}" for i, _ in enumerate(calls)]
    return names


def judge(ex: Exercise, root: Path, rc: int, output: str, reports: dict[str, bytes]) -> tuple[bool, str]:
    lang = ex.language
    if lang == "rust":
        sums = re.findall(r"test result: (\w+)\. (\d+) passed; (\d+) failed; (\d+) ignored", output)
        passed = sum(int(s[1]) for s in sums)
        failed = sum(int(s[2]) for s in sums)
        ok = rc == 0 and passed > 0 and failed == 0
        return ok, f"exit {rc}, cargo: {passed} passed, {failed} failed"
    expected = expected_tests(root, ex)
    data = reports.get(REPORTS[lang])
    if data is None:
        return False, f"exit {rc}, no report"
    if lang == "java":  # Gradle's rule: the build passes when no test failed (skipped is fine)
        results: dict[str, str] = {}
        for c in ET.fromstring(data).iter("testcase"):
            name = f"{re.split(r'[.$]', c.get('classname', ''))[-1]}.{c.get('name', '').split('(')[0]}"
            kinds = {ch.tag for ch in c}
            results[name] = ("failed" if kinds & {"failure", "error"} else
                             "skipped" if "skipped" in kinds else "passed")
        missing = [t for t in expected if t not in results]
        bad = [t for t, r in results.items() if r == "failed"]
        skipped = [t for t, r in results.items() if r == "skipped"]
        ok = rc == 0 and not missing and not bad and bool(results)
        return ok, (f"exit {rc}, report: {list(results.values()).count('passed')}/{len(results)} "
                    f"passed, {len(expected)} expected" + (f", missing {missing[:3]}" if missing else "")
                    + (f", failed {bad[:3]}" if bad else "")
                    + (f", skipped {skipped}" if skipped else ""))
    rep = json.loads(data)  # jest's rule: the run passes when no test failed
    statuses = {str(a["fullName"]): str(a["status"]) for s in rep["testResults"]
                for a in s["assertionResults"]}
    failed = [t for t, st in statuses.items() if st == "failed"]
    skipped = [t for t, st in statuses.items() if st != "passed" and st != "failed"]
    ok = rc == 0 and bool(statuses) and not failed and len(statuses) >= len(expected)
    return ok, (f"exit {rc}, report: {list(statuses.values()).count('passed')}/{len(statuses)} "
                f"passed, {len(expected)} expected" + (f", failed {failed[:3]}" if failed else "")
                + (f", skipped {len(skipped)}: {skipped[:2]}" if skipped else ""))


def run_one(client: object, image: str, ex: Exercise, kind: str) -> Outcome:
    tmp = Path(tempfile.mkdtemp(prefix="bdcheck-"))
    root = tmp / ex.name
    try:
        for rel, data in ex.workspace_files().items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(data)
        if kind.startswith("reference"):
            for rel, text in ex.example_solution().items():
                (root / rel).write_text(text)
            if ex.language == "java":  # a reference may have more classes than the stub
                for rel in ex.example:
                    src = ex.path / rel
                    (root / "src/main/java" / src.name).write_text(src.read_text())
        if kind == "reference+manifest":
            (root / "Cargo.toml").write_text((ex.path / ".meta" / "Cargo-example.toml").read_text())
        prepare_tests(root, ex)
        for p in [tmp, *tmp.rglob("*")]:
            p.chmod(0o755 if p.is_dir() else 0o644)
        lang = LANGUAGES[ex.language]
        slots = {**SLOTS, "name": ex.name}
        argv = ["sh", "-c", SCRIPT, "sh", *(a.format(**slots) for a in lang.test_command)]
        env = {k: v.format(**slots) for k, v in lang.test_env.items()}
        out_dir = tmp / "out"
        error = "the container wrote no result"
        for _ in range(3):  # a container removed by someone else (a concurrent cleanup) runs again
            shutil.rmtree(out_dir, ignore_errors=True)
            out_dir.mkdir(mode=0o777)
            out_dir.chmod(0o777)
            t0 = time.monotonic()
            try:
                run_container(client, image, argv, ex.name, root, out_dir, env)
            except Exception as exc:  # reported below when it persists
                error = f"{type(exc).__name__}: {exc}"
            seconds = time.monotonic() - t0
            if (out_dir / "rc").is_file():
                break
        else:
            return Outcome(ex.id, kind, False, f"no result after 3 tries ({error})", 0.0, "")
        text = (out_dir / "output.txt").read_text(errors="replace")
        reports = {name: (out_dir / name).read_bytes() for name in REPORTS.values()
                   if (out_dir / name).is_file()}
        rc_text = (out_dir / "rc").read_text().strip()
        passed, why = judge(ex, root, int(rc_text or -1), text, reports)
        return Outcome(ex.id, kind, passed, why, seconds, text)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run_container(client: object, image: str, argv: list[str], name: str, root: Path,
                  out_dir: Path, env: dict[str, str]) -> None:
    container = client.containers.run(  # type: ignore[attr-defined]
        image, argv, detach=True, network_mode="none", read_only=True, user="65534:65534",
        tmpfs={"/tmp": f"rw,exec,nosuid,size={LIMITS['tmpfs']}"}, cap_drop=["ALL"],
        security_opt=["no-new-privileges"], mem_limit=LIMITS["memory"],
        memswap_limit=LIMITS["memory"], nano_cpus=int(float(LIMITS["cpus"]) * 1e9),
        pids_limit=LIMITS["pids"], environment={**COMMON_ENV, **env, "EX": name},
        volumes={str(root): {"bind": "/src", "mode": "ro"},
                 str(out_dir): {"bind": "/out", "mode": "rw"}},
        labels={"benchdock.check": "1"})
    try:
        container.wait(timeout=TEST_TIMEOUT_S + 30)
    finally:
        try:
            container.remove(force=True)
        except Exception:  # already gone
            pass


def needs_crates(ex: Exercise) -> bool:
    manifests = [ex.path / "Cargo.toml", ex.path / ".meta" / "Cargo-example.toml"]
    return any(re.search(r"^\[dependencies\]\s*\n\s*\w", p.read_text(), re.M)
               for p in manifests if p.is_file())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("languages", nargs="+", choices=["java", "javascript", "rust"])
    ap.add_argument("--image", default=os.environ.get("BENCHDOCK_POLYGLOT_IMAGE", "benchdock-polyglot:1"))
    ap.add_argument("--only", default="", help="comma-separated exercise names")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--show", action="store_true", help="print the output of unexpected results")
    ap.add_argument("--json", help="write every outcome here")
    args = ap.parse_args()
    import docker

    client = docker.from_env(timeout=600)
    exercises = load_exercises(dataset_root(), args.languages)
    only = {n for n in args.only.split(",") if n}
    jobs: list[tuple[Exercise, str]] = []
    for ex in exercises:
        if only and ex.name not in only:
            continue
        if ex.language == "rust":
            if not needs_crates(ex):
                continue
            kinds = ["reference", "stub"]
            if (ex.path / ".meta" / "Cargo-example.toml").is_file():
                kinds.insert(1, "reference+manifest")
        else:
            kinds = ["reference", "stub"]
        jobs += [(ex, k) for k in kinds]
    t0 = time.monotonic()
    with ThreadPoolExecutor(args.jobs) as pool:
        outcomes = list(pool.map(lambda j: run_one(client, args.image, *j), jobs))
    unexpected = 0
    for o in outcomes:
        expect = not o.kind.startswith("stub")
        mark = "ok " if o.passed == expect else "UNEXPECTED"
        unexpected += o.passed != expect
        print(f"{mark:<10} {o.exercise:<40} {o.kind:<19} {'pass' if o.passed else 'fail'}  "
              f"{o.seconds:5.1f}s  {o.why}")
        if args.show and o.passed != expect:
            print("    | " + "\n    | ".join(o.output.strip().splitlines()[-25:]))
    print()
    for lang in args.languages:
        for kind in ("reference", "reference+manifest", "stub"):
            sel = [o for o in outcomes if o.exercise.startswith(lang + "/") and o.kind == kind]
            if sel:
                secs = [o.seconds for o in sel]
                print(f"{lang:<11} {kind:<19} {sum(o.passed for o in sel):>3}/{len(sel):<3} passed"
                      f"   mean {sum(secs) / len(secs):5.1f}s, max {max(secs):5.1f}s")
    print(f"\n{len(outcomes)} runs in {time.monotonic() - t0:.0f}s, {unexpected} unexpected")
    if args.json:
        Path(args.json).write_text(json.dumps([o.__dict__ for o in outcomes], indent=1))
    return 1 if unexpected else 0


if __name__ == "__main__":
    sys.exit(main())
