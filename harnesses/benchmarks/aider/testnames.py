"""The tests an exercise defines, read statically from its test sources.

A polyglot verdict is a pass only when the test runner's own report lists every one of these
as run and passed, so that a test command that exits 0 without running them (an exit at
import, a test binary that never starts its tests, a summary line printed by the solution)
is not taken for a pass. The names are read from the exercise's original files, never from
the copy the model edited, and in the form each runner reports them:

- python: `module.Class.test_method` (pytest's JUnit `classname` + `name`)
- go: `TestName` (top-level `func TestXxx(t *testing.T)` in `*_test.go` files whose build
  constraint holds without tags; subtests are covered by their parent's result)
- rust: `tests/<file>.rs::mod::fn` (each `#[test] fn` of the integration-test targets, minus
  items behind a `cfg(feature)` the manifest does not enable by default)
- cpp: the `TEST_CASE("name")` strings, with `EXERCISM_RUN_ALL_TESTS` defined
- java: `Class.method` of each `@Test` method
- javascript: jest's `fullName` (the enclosing `describe` titles and the test's, space-joined)
"""

from __future__ import annotations

import ast
import re
import tomllib
from collections.abc import Callable, Collection, Iterator
from pathlib import PurePosixPath

Files = dict[str, bytes]

# C/C++/Rust/Java/JS source outside comments and string literals: what the parsers walk.
# A single quote opens a string in JavaScript, a one-character literal elsewhere (and a
# lifetime in Rust).
_COMMON = r"""
    (?P<comment>//[^\n]*|/\*.*?\*/)
  | (?P<raw>r(?P<hashes>\#*)"(?:.|\n)*?"(?P=hashes))
  | (?P<string>"(?:\\.|[^"\\])*"{quote})
  | (?P<word>[A-Za-z_$][\w$]*)
  | (?P<punct>\S)
"""
_LEXEMES = re.compile(_COMMON.format(quote=r"|'(?:\\[^']{1,10}|[^'\\\n])'|'[A-Za-z_]\w*(?!')"),
                      re.VERBOSE | re.DOTALL)
_JS_LEXEMES = re.compile(_COMMON.format(quote=r"|'(?:\\.|[^'\\\n])*'|`(?:\\.|[^`\\])*`"),
                         re.VERBOSE | re.DOTALL)


def _tokens(text: str, js: bool = False) -> Iterator[tuple[str, str]]:
    for m in (_JS_LEXEMES if js else _LEXEMES).finditer(text):
        kind = m.lastgroup or ""
        if kind != "comment" and not (kind == "string" and m.group().startswith("'")
                                      and not js and not m.group().endswith("'")):
            yield ("string" if kind == "raw" else kind), m.group()


def _unquote(literal: str) -> str:
    """A C-family string literal's value (the simple escapes the exercises use)."""
    if literal.startswith("r"):
        return literal.lstrip("r#")[1:].rstrip("#")[:-1]
    body = literal[1:-1]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), body)


# --- python ------------------------------------------------------------------------------

def python_tests(files: Files) -> list[str]:
    """What pytest collects with its defaults: files `test_*.py`/`*_test.py`, `test*`
    functions, and `test*` methods of `Test*` classes or unittest TestCases."""
    out: list[str] = []
    for rel, data in sorted(files.items()):
        path = PurePosixPath(rel)
        if path.suffix != ".py" or not (path.stem.startswith("test_") or path.stem.endswith("_test")):
            continue
        module = path.stem
        try:
            tree = ast.parse(data.decode("utf-8", "replace"))
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test"):
                out.append(f"{module}.{node.name}")
            elif isinstance(node, ast.ClassDef) and (node.name.startswith("Test") or any(
                    "TestCase" in ast.unparse(b) for b in node.bases)):
                out += [f"{module}.{node.name}.{f.name}" for f in node.body
                        if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef)
                        and f.name.startswith("test")]
    return out


# --- go ----------------------------------------------------------------------------------

_GO_TEST = re.compile(r"^func\s+(Test\w*)\s*\(\s*\w+\s+\*testing\.T\s*\)", re.MULTILINE)
_GO_TAGS_TRUE = {"linux", "unix", "amd64", "arm64", "gc", "cgo"}


def _go_build_holds(text: str) -> bool:
    """A `//go:build` line evaluated with no -tags (the platform's own tags true)."""
    m = re.search(r"^//go:build\s+(.+)$", text, re.MULTILINE)
    if not m:
        return True
    toks = re.findall(r"&&|\|\||!|\(|\)|[\w.]+", m.group(1))
    pos = 0

    def atom() -> bool:
        nonlocal pos
        tok = toks[pos] if pos < len(toks) else ""
        pos += 1
        if tok == "!":
            return not atom()
        if tok == "(":
            value = either()
            pos += 1  # ")"
            return value
        return tok in _GO_TAGS_TRUE or re.fullmatch(r"go1\.\d+", tok) is not None

    def both() -> bool:
        nonlocal pos
        value = atom()
        while pos < len(toks) and toks[pos] == "&&":
            pos += 1
            value = atom() and value
        return value

    def either() -> bool:
        nonlocal pos
        value = both()
        while pos < len(toks) and toks[pos] == "||":
            pos += 1
            value = both() or value
        return value

    return either()


def go_tests(files: Files) -> list[str]:
    out: list[str] = []
    for rel, data in sorted(files.items()):
        if "/" in rel or not rel.endswith("_test.go"):
            continue
        text = data.decode("utf-8", "replace")
        if _go_build_holds(text):
            # go test runs TestXxx where Xxx does not start with a lower-case letter
            out += [n for n in _GO_TEST.findall(text) if len(n) == 4 or not n[4].islower()]
    return out


# --- rust --------------------------------------------------------------------------------

def _default_features(files: Files) -> set[str]:
    try:
        manifest = tomllib.loads(files.get("Cargo.toml", b"").decode("utf-8", "replace"))
    except tomllib.TOMLDecodeError:
        return set()
    default = manifest.get("features", {}).get("default", [])
    return {str(f) for f in default} if isinstance(default, list) else set()


def _cfg_holds(attr: str, features: set[str]) -> bool:
    m = re.fullmatch(r'cfg\s*\(\s*feature\s*=\s*"([^"]*)"\s*\)', attr)
    return m is None or m.group(1) in features


def rust_tests(files: Files) -> list[str]:
    """`#[test]` functions of each `tests/*.rs` target, with their module path."""
    features = _default_features(files)
    out: list[str] = []
    for rel, data in sorted(files.items()):
        path = PurePosixPath(rel)
        if path.parent != PurePosixPath("tests") or path.suffix != ".rs":
            continue
        toks = list(_tokens(data.decode("utf-8", "replace")))
        scopes: list[tuple[str | None, bool]] = []  # (module name or None, excluded)
        attrs: list[str] = []
        i = 0
        while i < len(toks):
            kind, text = toks[i]
            excluded = bool(scopes) and scopes[-1][1]
            if text == "#" and i + 1 < len(toks) and toks[i + 1][1] in ("[", "!"):
                j = i + 1 + (toks[i + 1][1] == "!")
                depth, start = 0, j
                while j < len(toks):
                    depth += {"[": 1, "]": -1}.get(toks[j][1], 0)
                    if depth == 0:
                        break
                    j += 1
                attrs.append("".join(t for _, t in toks[start + 1:j]).strip())
                i = j + 1
                continue
            if kind == "word" and text == "mod" and i + 2 < len(toks) and toks[i + 2][1] == "{":
                gone = excluded or not all(_cfg_holds(a, features) for a in attrs)
                scopes.append((toks[i + 1][1], gone))
                attrs = []
                i += 3
                continue
            if kind == "word" and text == "fn" and i + 1 < len(toks) and toks[i + 1][0] == "word":
                if "test" in attrs and not excluded and all(_cfg_holds(a, features) for a in attrs):
                    mods = [name for name, _ in scopes if name is not None]
                    if len(mods) == len(scopes) and not toks[i + 1][1].startswith("$"):
                        out.append("::".join([rel, *mods, toks[i + 1][1]]))
                attrs = []
            elif text == "{":
                scopes.append((None, excluded))
                attrs = []
            elif text == "}":
                if scopes:
                    scopes.pop()
                attrs = []
            elif text == ";":
                attrs = []
            i += 1
    return out


# --- cpp ---------------------------------------------------------------------------------

CPP_DEFINED = {"EXERCISM_RUN_ALL_TESTS"}


def _cpp_active_lines(text: str) -> str:
    """The source with the blocks of #if/#ifdef/#ifndef whose condition fails blanked
    (only `defined(X)` and `!defined(X)` are evaluated; anything else counts as true)."""
    keep: list[bool] = []
    out = []
    for line in text.splitlines():
        s = line.strip()
        m = re.match(r"#\s*(ifdef|ifndef|if|elif|else|endif)\b\s*(.*)", s)
        if m:
            word, cond = m.groups()
            if word in ("ifdef", "ifndef", "if"):
                name = re.search(r"(!?)\s*(?:defined\s*\(?\s*)?(\w+)", cond)
                if word == "ifdef":
                    ok = cond.split()[0] in CPP_DEFINED if cond else True
                elif word == "ifndef":
                    ok = cond.split()[0] not in CPP_DEFINED if cond else True
                elif name and "defined" in cond:
                    ok = (name.group(2) in CPP_DEFINED) != bool(name.group(1))
                else:
                    ok = True
                keep.append(ok)
            elif word in ("else", "elif") and keep:
                keep[-1] = not keep[-1]
            elif word == "endif" and keep:
                keep.pop()
            out.append("")
            continue
        out.append(line if all(keep) else "")
    return "\n".join(out)


def cpp_tests(files: Files) -> list[str]:
    out: list[str] = []
    for rel, data in sorted(files.items()):
        if "/" in rel or not rel.endswith("_test.cpp"):
            continue
        toks = list(_tokens(_cpp_active_lines(data.decode("utf-8", "replace"))))
        for i, (kind, text) in enumerate(toks):
            if kind == "word" and text in ("TEST_CASE", "SCENARIO") and i + 2 < len(toks) \
                    and toks[i + 1][1] == "(":
                parts = []
                j = i + 2
                while j < len(toks) and toks[j][0] == "string":  # "a" "b" concatenates
                    parts.append(_unquote(toks[j][1]))
                    j += 1
                if parts:
                    out.append(("Scenario: " if text == "SCENARIO" else "") + "".join(parts))
    return out


# --- java --------------------------------------------------------------------------------

_JAVA_TEST = re.compile(r"((?:@ \w+ (?:\( [^)]* \) )?)+)(?:public |protected )?"
                        r"(?:static )?void (\w+) \(")
_BARE_DISABLED = re.compile(r"@ Disabled (?!\()")


def java_tests(files: Files, edited: Collection[str] | None = None) -> list[str]:
    """`@Test` methods of the test sources that JUnit runs once Aider's benchmark has removed
    `@Disabled(...)` from the exercise's test files (`edited`; all of them when not given): a
    bare `@Disabled` (no reason) stays, as it does there (java/forth), and so does any
    `@Disabled` in a test source the exercise does not list as a test file (java/satellite's
    TreeTest), which Gradle then skips."""
    out: list[str] = []
    for rel, data in sorted(files.items()):
        path = PurePosixPath(rel)
        if path.suffix == ".java" and rel.startswith("src/test/"):
            untouched = edited is not None and rel not in edited
            text = " ".join('""' if k == "string" else t for k, t in _tokens(
                data.decode("utf-8", "replace"))) + " "
            out += [f"{path.stem}.{name}" for notes, name in _JAVA_TEST.findall(text)
                    if "@ Test " in notes and not _BARE_DISABLED.search(notes)
                    and not (untouched and "@ Disabled " in notes)]
    return out


# --- javascript --------------------------------------------------------------------------

_JS_BLOCKS = {"describe", "xdescribe"}
_JS_TESTS = {"test", "xtest", "it", "xit"}


def javascript_tests(files: Files) -> list[str]:
    """`describe`/`test`/`it` calls whose first argument is a plain string literal and that
    jest runs once Aider's benchmark has turned `xtest(` into `test(` (its only edit): `xit`,
    `.skip` and anything inside `xdescribe`/`describe.skip` stay skipped, as they do there
    (javascript/grep, palindrome-products, robot-name)."""
    out: list[str] = []
    for rel, data in sorted(files.items()):
        if "/" in rel or not rel.endswith(".spec.js"):
            continue
        toks = list(_tokens(data.decode("utf-8", "replace"), js=True))
        # (paren depth at the describe call, title, whether the block is skipped)
        titles: list[tuple[int, str, bool]] = []
        depth = 0
        for i, (kind, text) in enumerate(toks):
            if text == "(":
                depth += 1
            elif text == ")":
                depth -= 1
                while titles and titles[-1][0] > depth:
                    titles.pop()
            if kind != "word" or (text not in _JS_BLOCKS and text not in _JS_TESTS):
                continue
            j = i + 1
            skipped = text in ("xdescribe", "xit")
            if j + 1 < len(toks) and toks[j][1] == "." and toks[j + 1][1] in ("skip", "only"):
                skipped = skipped or toks[j + 1][1] == "skip"
                j += 2
            if j + 1 < len(toks) and toks[j][1] == "(" and toks[j + 1][0] == "string":
                title = _unquote(toks[j + 1][1])
                inside_skipped = any(s for _, _, s in titles)
                if text in _JS_BLOCKS:
                    titles.append((depth + 1, title, skipped))
                elif not (skipped or inside_skipped):
                    out.append(" ".join([*(t for _, t, _ in titles), title]))
    return out


PARSERS: dict[str, Callable[[Files], list[str]]] = {
    "python": python_tests, "go": go_tests, "rust": rust_tests, "cpp": cpp_tests,
    "java": java_tests, "javascript": javascript_tests,
}


def expected_tests(language: str, files: Files, edited: Collection[str] | None = None) -> list[str]:
    """The tests the runner must report, given the files Aider's benchmark edits before the
    run (`edited`: the exercise's test files; only Java's answer depends on them)."""
    if language == "java":
        return java_tests(files, edited)
    return PARSERS[language](files)
