"""The mkdocs hook that builds the site from the repository's own layout (`mkdocs.yml`:
`hooks: [docs/hooks.py]`).

The documentation is read in two places: on GitHub, file by file, and as this site. For one
set of relative links to work in both, every page keeps its repository path as its place in
the site: the pages of `docs/` become `docs/<page>.md`, and the Markdown files that live
outside `docs/` — the front page (`README.md`, the site's home), a README beside each
benchmark package (`harnesses/benchmarks/<id>/README.md`, as lm-evaluation-harness keeps one
per task), `harnesses/README.md` and `tests/README.md` — are added at their own paths. Then
`mkdocs build --strict` checks every link and anchor between them, and fails on a README
missing from the navigation (`validation:` in mkdocs.yml).

Nothing is copied: the added files are read where they are.
"""

from __future__ import annotations

from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files, InclusionLevel

REPO = Path(__file__).resolve().parent.parent
DOCS = "docs"
# Markdown outside docs/ that belongs to the site, as globs from the repository's root
OUTSIDE = ("README.md", "harnesses/README.md", "harnesses/**/README.md", "tests/README.md")


def outside_pages(root: Path = REPO) -> list[str]:
    """The repository paths of the Markdown pages outside docs/, sorted, without repeats."""
    found = {p.relative_to(root).as_posix() for pattern in OUTSIDE for p in root.glob(pattern)
             if "__pycache__" not in p.parts}
    return sorted(found)


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """docs/ pages moved to `docs/…` in the site; the READMEs outside docs/ added."""
    docs_dir = Path(config.docs_dir).resolve()
    out: list[File] = []
    for f in files:
        if f.abs_src_path is None or not Path(f.abs_src_path).resolve().is_relative_to(docs_dir):
            out.append(f)  # the theme's own files
        elif f.inclusion != InclusionLevel.EXCLUDED:
            out.append(File.generated(config, f"{DOCS}/{f.src_uri}", abs_src_path=f.abs_src_path,
                                      inclusion=f.inclusion))
    for path in outside_pages():
        out.append(File.generated(config, path, abs_src_path=str(REPO / path)))
    return Files(out)
