"""benchdock's port of RepoQA's matcher gives what RepoQA 0.1.2's own `needle_evaluator`
gives (run in its venv, `benchdock setup repoqa`): the same best match, the same BLEU
similarity, on right, wrong, partial, chatty and garbage answers over the local set's
needles. Fails instead of skipping when BENCHDOCK_REQUIRE_REPOQA=1 (CI)."""

from __future__ import annotations

import os
from typing import Any

import pytest

from benchdock.harnesses.benchmarks.repoqa import local, matcher, reference
from benchdock.harnesses.config import default_envs_dir
from benchdock.harnesses.envs import managed as envs


@pytest.fixture(scope="module")
def env_root() -> Any:
    root = default_envs_dir()
    try:
        envs.load(root, reference.spec())
    except envs.EnvironmentMissing as exc:
        if os.environ.get("BENCHDOCK_REQUIRE_REPOQA") == "1":
            pytest.fail(f"BENCHDOCK_REQUIRE_REPOQA=1 but {exc}")
        pytest.skip(str(exc))
    return root


def _answers(repo: dict[str, Any], i: int) -> list[str]:
    needles = repo["needles"]
    code = matcher.needle_code(repo["content"], needles[i])
    other = matcher.needle_code(repo["content"], needles[(i + 1) % len(needles)])
    lines = code.split("\n")
    renamed = code.replace(needles[i]["name"], "renamed_function")
    return [
        f"```python\n{code}\n```",
        f"Here it is:\n```python\n{code}\n```\nHope this helps.",
        f"```python\n{other}\n```",
        "```python\n" + "\n".join(lines[: max(2, len(lines) // 2)]) + "\n```",
        f"```\n{renamed}\n```",
        code,  # no fences: the whole answer
        "```python\nprint('no function here')\n```\n```python\n" + code + "\n```",
        "```python\nimport os\nx = 1\n```",
        "I cannot find the function.",
        "",
        "```python\ndef broken(:\n    pass\n```",
        "```python\nclass A:\n    async def f(self):\n        def inner():\n            return 1\n"
        "        return inner\n```",
    ]


def test_port_equals_repoqa_needle_evaluator(env_root: Any) -> None:
    cases: list[dict[str, Any]] = []
    for repo in local.build()["python"]:
        slim = {"content": {n["path"]: repo["content"][n["path"]] for n in repo["needles"]},
                "needles": repo["needles"]}
        for i in (0, 3, 7):
            for answer in _answers(repo, i):
                cases.append({"output": answer, "name": repo["needles"][i]["name"], "repo": slim})
    theirs = reference.evaluate(env_root, cases)
    differ = []
    for case, (best, target, sim) in zip(cases, theirs, strict=True):
        ours = matcher.needle_evaluator(case["output"], case["name"], case["repo"])
        if (ours.best_match, ours.best_target) != (best, target) or abs(ours.similarity - sim) > 1e-9:
            differ.append((case["name"], case["output"][:60], (best, target, sim),
                           (ours.best_match, ours.best_target, ours.similarity)))
    assert not differ, differ
    verdicts = {(b, s >= 0.8) for b, _, s in theirs}
    assert (True, True) in verdicts and (False, False) in verdicts  # both kinds were compared
    assert len(cases) == 12 * 3 * len(local.PACKAGES)
