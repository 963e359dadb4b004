"""benchdock's local construction of a RepoQA dataset, in RepoQA's own format, from real
Python source installed with benchdock's dependencies (no download).

A "repository" is one installed, permissively licensed distribution (its licence is read
from its METADATA and recorded; one that is not MIT, BSD or Apache is refused). The steps
mirror RepoQA's curation scripts (`scripts/curate/dep_analysis/python.py`,
`function_analysis.py`, `needle_selection.py` in evalplus/repoqa):

- dependency: intra-package imports, files in RepoQA's topological order;
- functions: tree-sitter's `(function_definition name: (_))` with RepoQA's fields
  (`start_line`, exclusive `end_line`, bytes, global bytes);
- needles: RepoQA's criteria (a name unique in the repository, at most 2,000 bytes, at most
  one per 1/64 of the repository's bytes) plus ours: a docstring of at least 8 words and a
  body beyond it; then NEEDLES of them drawn with a seeded generator (RepoQA draws unseeded);
- description: where RepoQA has GPT-4 describe the needle, here it is the needle's own
  docstring with the function's name removed, and the docstring is removed from the needle
  in the repository's content, so the description is not found verbatim in the context.

Only ASCII files are used (RepoQA slices file text by byte offsets). Deterministic: the
same installed versions and seed give the same dataset, byte for byte (`dataset_hash`).
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import json
import random
import re
from functools import cache
from importlib import metadata
from typing import Any

from benchdock.harnesses.benchmarks.repoqa.context import topological_sort

CONSTRUCTION = 1  # bump when the construction changes
SEED = 0
NEEDLES = 10  # per repository, as RepoQA
MAX_LEN = 2000  # bytes, RepoQA's needle_selection
BINS = 64
MIN_WORDS = 8
# distribution -> its top-level package: real, documented code, installed with benchdock
PACKAGES = {"httpx": "httpx", "click": "click", "jinja2": "jinja2", "docker": "docker",
            "anyio": "anyio"}
PERMISSIVE = re.compile(r"\b(MIT|BSD|Apache)\b", re.I)


def licence(dist: metadata.Distribution) -> str:
    """The distribution's licence as its METADATA states it (SPDX expression, License field
    or trove classifier)."""
    meta = dist.metadata
    stated = [meta["License-Expression"] or "", (meta["License"] or "").split("\n")[0]]
    stated += [c.split("::")[-1].strip() for c in meta.get_all("Classifier") or []
               if c.startswith("License ::")]
    return next((s.strip() for s in stated if PERMISSIVE.search(s)), " / ".join(s for s in stated if s))


def sources(dist: metadata.Distribution, package: str) -> dict[str, str]:
    """The package's ASCII .py files, by path inside the distribution (`httpx/_client.py`)."""
    out: dict[str, str] = {}
    for f in sorted(dist.files or [], key=str):
        path = str(f)
        if not (path.startswith(package + "/") and path.endswith(".py")):
            continue
        raw = dist.locate_file(f).read_bytes()  # type: ignore[attr-defined]
        if raw.isascii():
            out[path] = raw.decode("ascii")
    return out


def dependencies(content: dict[str, str], package: str) -> dict[str, list[str]]:
    """Each file's imports of other files of the package (RepoQA's `dependency` field)."""
    modules = {p[:-3].replace("/", ".").removesuffix(".__init__"): p for p in content}
    out: dict[str, list[str]] = {}
    for path, text in content.items():
        here = path[:-3].replace("/", ".").split(".")
        if not path.endswith("__init__.py"):
            here = here[:-1]
        deps: list[str] = []
        try:
            tree = ast.parse(text)
        except SyntaxError:
            tree = ast.Module(body=[], type_ignores=[])
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom):
                base = ".".join(here[:len(here) - node.level + 1] if node.level else [])
                mod = ".".join(p for p in (base, node.module or "") if p) if node.level else (
                    node.module or "")
                names = [mod] + [f"{mod}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for name in names:
                dep = modules.get(name)
                if dep and dep != path and dep not in deps:
                    deps.append(dep)
        out[path] = deps
    return out


def functions(content: dict[str, str], order: list[str]) -> dict[str, list[dict[str, Any]]]:
    """RepoQA's `function_analysis` for Python, with tree-sitter."""
    from tree_sitter import QueryCursor

    from benchdock.harnesses.benchmarks.repoqa.matcher import _python

    parser, query = _python()
    out: dict[str, list[dict[str, Any]]] = {}
    global_byte = global_line = 0
    for path in order:
        code = content[path]
        raw = code.encode("utf8")
        tree = parser.parse(raw)
        nodes = [n for ns in QueryCursor(query).captures(tree.root_node).values() for n in ns]
        nodes.sort(key=lambda n: (n.start_byte, -n.end_byte))
        found = []
        for n in nodes:
            name_node = n.child_by_field_name("name")
            assert name_node is not None  # the query matches only named definitions
            found.append({
                "name": raw[name_node.start_byte:name_node.end_byte].decode(),
                "start_line": n.start_point[0], "end_line": n.end_point[0] + 1,
                "start_byte": n.start_byte, "end_byte": n.end_byte,
                "global_start_line": global_line + n.start_point[0],
                "global_end_line": global_line + n.end_point[0] + 1,
                "global_start_byte": global_byte + n.start_byte,
                "global_end_byte": global_byte + n.end_byte,
            })
        out[path] = found
        global_byte += len(code)
        global_line += code.count("\n") + 1
    return out


def _docstrings(text: str) -> dict[str, tuple[str, int, int, int]]:
    """Per function name in a file: (docstring, its first and last line (1-based), number of
    statements in the body)."""
    out: dict[str, tuple[str, int, int, int]] = {}
    lines = text.split("\n")
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            doc = ast.get_docstring(node, clean=False)
            first = node.body[0]
            if (doc is not None and first.end_lineno is not None
                    and first.lineno > node.lineno and _alone(lines, first)):
                out[node.name] = (doc, first.lineno, first.end_lineno, len(node.body))
    return out


def _alone(lines: list[str], stmt: ast.stmt) -> bool:
    """Whether the statement has its lines to itself (so removing them removes only it)."""
    end = stmt.end_lineno or stmt.lineno
    return (not lines[stmt.lineno - 1][:stmt.col_offset].strip()
            and not lines[end - 1][stmt.end_col_offset or 0:].strip())


def describe(doc: str, name: str) -> str:
    """The description: the docstring, cleaned, with the function's name removed."""
    text = inspect.cleandoc(doc)
    text = re.sub(rf"`*\b{re.escape(name)}\b(\(\))?`*", "this function", text)
    return "\n" + text.strip()


def build_repo(dist_name: str, package: str, seed: int) -> dict[str, Any]:
    """One repository in RepoQA's format, with NEEDLES needles."""
    dist = metadata.distribution(dist_name)
    lic = licence(dist)
    if not PERMISSIVE.search(lic):
        raise ValueError(f"{dist_name} {dist.version}: licence {lic!r} is not MIT, BSD or Apache")
    content = sources(dist, package)
    dependency = dependencies(content, package)
    order = topological_sort(dependency)
    funcs = functions(content, order)
    counts: dict[str, int] = {}
    for fs in funcs.values():
        for fn in fs:
            counts[fn["name"]] = counts.get(fn["name"], 0) + 1
    bin_size = max(1, sum(len(c) for c in content.values()) // BINS)
    used_bins: set[int] = set()
    docs = {p: _safe_docstrings(content[p]) for p in order}
    candidates: list[tuple[str, str]] = []
    for path in order:
        for fn in funcs[path]:
            name = fn["name"]
            doc = docs[path].get(name)
            if counts[name] != 1 or fn["end_byte"] - fn["start_byte"] > MAX_LEN or doc is None:
                continue
            if doc[3] < 2 or len(describe(doc[0], name).split()) < MIN_WORDS:
                continue
            bin_idx = fn["global_start_byte"] // bin_size
            if bin_idx in used_bins:
                continue
            used_bins.add(bin_idx)
            candidates.append((path, name))
    chosen = random.Random(f"{seed}:{dist_name}").sample(candidates,
                                                           min(NEEDLES, len(candidates)))
    # the needles' docstrings leave the content: the description must be searched for
    for path in sorted({p for p, _ in chosen}):
        lines = content[path].split("\n")
        drop = sorted((docs[path][n][1], docs[path][n][2]) for p, n in chosen if p == path)
        for first, last in reversed(drop):
            del lines[first - 1:last]
        content[path] = "\n".join(lines)
    after = functions(content, order)
    needles = []
    for path, name in chosen:
        fn = next(f for f in after[path] if f["name"] == name)
        needles.append({**fn, "path": path, "description": describe(docs[path][name][0], name)})
    return {"repo": f"{dist_name}-{dist.version}", "licence": lic, "content": content,
            "dependency": dependency, "needles": needles}


def _safe_docstrings(text: str) -> dict[str, tuple[str, int, int, int]]:
    try:
        return _docstrings(text)
    except SyntaxError:
        return {}


@cache
def build(seed: int = SEED) -> dict[str, list[dict[str, Any]]]:
    """The whole local set in RepoQA's format: {"python": [repository, ...]}."""
    return {"python": [build_repo(d, p, seed) for d, p in PACKAGES.items()]}


def provenance(seed: int = SEED) -> str:
    versions = ", ".join(f"{d} {metadata.version(d)}" for d in PACKAGES)
    return (f"repoqa-local {CONSTRUCTION} (benchdock's local construction of RepoQA's "
            f"needle-function search; seed {seed}; {versions}; proxy token count)")


def data_hash(dataset: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(dataset, sort_keys=True).encode()).hexdigest()[:16]
