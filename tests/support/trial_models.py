"""The agent trial's five fake models (issue 23) and the plugin benchmark it sets up: one
right on every task, one right on 60 % of them, one on 50 % that also fails every third
request with HTTP 503, one on 40 % that answers 0.3 s late, and one always wrong. Which
tasks a model gets right is fixed by a hash of the prompt, so every run asks the same."""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable
from pathlib import Path

from benchdock.harnesses.contract.registry import get_benchmark
from tests.conftest import FIXTURES
from tests.support.fake_models import FakeModel

PLUGIN = FIXTURES / "ifplug"


def plugin_site(root: Path) -> Path:
    """The `say-the-word` benchmark's entry point, for PYTHONPATH (with PLUGIN)."""
    info = root / "benchdock_ifplug-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: benchdock-ifplug\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[benchdock.benchmarks]\nsay-the-word = benchdock_ifplug:benchmarks\n")
    return root


def trial_models() -> dict[str, FakeModel]:
    bench = get_benchmark("humaneval")
    code = {bench.messages(t)[-1]["content"]: bench.reference(t) for t in bench.tasks()}

    def share(percent: int) -> Callable[[str], str]:
        def answer(prompt: str) -> str:
            if zlib.crc32(prompt.encode()) % 100 >= percent:
                return "I cannot do this."
            word = re.search(r"exactly the word '(\w+)'", prompt)
            return word.group(1) if word else code.get(prompt, "I cannot do this.")
        return answer

    return {"right": FakeModel(share(100)), "half": FakeModel(share(60)),
            "flaky": FakeModel(share(50), fail_every=3),
            "slow": FakeModel(share(40), delay_s=0.3), "wrong": FakeModel(share(0))}
