"""The documentation builds as a site with `mkdocs build --strict`, with no warning: every
relative link and anchor between the pages resolves — the front page, docs/, and the README
beside each benchmark package, which docs/hooks.py adds at their repository paths — and no
page is missing from the navigation (mkdocs.yml's `validation:`). The same build on a copy
with one fault planted must fail and name it, so the check is shown able to fail."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import ROOT


def build(root: Path, site: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=root, capture_output=True, text=True, timeout=300)


def hooks() -> ModuleType:
    spec = importlib.util.spec_from_file_location("benchdock_docs_hooks", ROOT / "docs" / "hooks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_docs_build_strictly_without_a_warning(tmp_path: Path) -> None:
    done = build(ROOT, tmp_path / "site")
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "WARNING" not in output, output
    # the pages outside docs/ are in the site, at their repository paths
    for page in hooks().outside_pages(ROOT):
        built = tmp_path / "site" / Path(page).parent / "index.html"
        assert built.is_file(), f"{page} is not in the site"


def test_every_benchmark_package_has_a_readme() -> None:
    packages = [p for p in (ROOT / "harnesses" / "benchmarks").iterdir()
                if (p / "__init__.py").is_file()]
    assert len(packages) >= 7
    missing = [p.name for p in packages if not (p / "README.md").is_file()]
    assert not missing, f"benchmark packages without a README.md: {missing}"


def copy_of_the_docs(dest: Path) -> Path:
    """The site's sources (mkdocs.yml, docs/, the READMEs outside docs/) under `dest`."""
    dest.mkdir()
    shutil.copy(ROOT / "mkdocs.yml", dest / "mkdocs.yml")
    shutil.copytree(ROOT / "docs", dest / "docs",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for page in hooks().outside_pages(ROOT):
        (dest / page).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / page, dest / page)
    return dest


BFCL_README = "harnesses/benchmarks/bfcl/README.md"


@pytest.mark.parametrize(("fault", "page", "old", "new", "named"), [
    # a link from a benchmark README (outside docs/) to a page that does not exist
    ("broken link", BFCL_README, "## Prompts",
     "See [nowhere](../../../docs/no-such-page.md).\n\n## Prompts", "no-such-page.md"),
    # a link to a heading that does not exist, from the front page
    ("broken anchor", "README.md", "## Quick start",
     "See [nowhere](docs/security.md#no-such-heading).\n\n## Quick start", "#no-such-heading"),
    # a README that is in the site but not in the navigation
    ("page left out of the navigation", "mkdocs.yml",
     "      - BFCL: harnesses/benchmarks/bfcl/README.md\n", "", BFCL_README),
])
def test_a_planted_fault_fails_the_build(tmp_path: Path, fault: str, page: str, old: str,
                                         new: str, named: str) -> None:
    root = copy_of_the_docs(tmp_path / "src")
    assert build(root, tmp_path / "clean").returncode == 0, "the copy builds before the fault"
    text = (root / page).read_text()
    assert old in text, f"{page} no longer holds {old!r}: update this test's fault"
    (root / page).write_text(text.replace(old, new, 1))
    done = build(root, tmp_path / "site")
    output = done.stdout + done.stderr
    assert done.returncode != 0, f"{fault}: the build passed\n{output}"
    assert "WARNING" in output and named in output, output
