"""RepoQA's prompt and its code context packed around the needle, ported from
`repoqa/search_needle_function.py` (0.1.2): `make_code_context`, `_forward_tokenizable_lines`,
`_backward_tokenizable_lines`, `TEMPLATE`, `INSTRUCTION`; `topological_sort` from
`repoqa/utility.py`.

One difference, said in every result's version string: RepoQA counts tokens with
CodeLlama-7b-Instruct's tokenizer, which comes from the Hugging Face hub at run time. No
hub is reachable here, so benchdock counts with a fixed, deterministic proxy (`count_tokens`):
words with their leading space, single digits, single other characters, newlines and runs of
other whitespace. On httpx's `_client.py` it counts 1.19 pieces per SmolLM2 token (SmolLM2
itself: 4.0 characters per token); a "16k" context is 16,384 proxy tokens, for every model.

Kept as RepoQA has it: the needle's bytes start at its `def`, and its indentation, the last
piece of the prefix's lines, gets a newline of its own, so a method's `def` stands at column 0
in the context (the matcher compares whitespace-split tokens, so this does not change scores).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

# RepoQA's prompt: the four parts, concatenated as they are (no separators)
INSTRUCTION = (
    "Based on the function description and code context,"
    " please retrieve and repeat the exact described function from the code context in a "
    "code block wrapped by ```:"
)
COMMENT_PREFIX = "#"  # python
_PIECE = re.compile(r" ?[A-Za-z]+|[0-9]|[^\sA-Za-z0-9]|\n|[^\S\n]+")


def count_tokens(text: str) -> int:
    """benchdock's proxy token count (see the module's docstring)."""
    return len(_PIECE.findall(text))


def prompt(code_context: str, description: str) -> str:
    """RepoQA's TEMPLATE "instruction\\ncode_context\\ndescription\\ninstruction", filled."""
    return INSTRUCTION + code_context + f"\nFunction Description:{description}\n" + INSTRUCTION


def topological_sort(graph: Mapping[str, Sequence[str]]) -> list[str]:
    """RepoQA's `topological_sort`: depth-first, dependencies before dependants."""
    stack: list[str] = []
    visited: set[str] = set()

    def dfs(node: str) -> None:
        visited.add(node)
        for neighbour in graph.get(node, []):
            if neighbour not in visited:
                dfs(neighbour)
        stack.append(node)

    for node in graph:
        if node not in visited:
            dfs(node)
    return stack


def _backward(lines: list[str], max_tokens: int) -> tuple[str, int, bool]:
    text, ntokens = "", 0
    for line in reversed(lines):
        new = count_tokens(line + "\n")
        if ntokens + new > max_tokens:
            return text, ntokens, True
        text = line + "\n" + text
        ntokens += new
    return text, ntokens, False


def _forward(lines: list[str], max_tokens: int) -> tuple[str, int, bool]:
    text, ntokens, is_break = "", 0, False
    for line in lines:
        new = count_tokens(line + "\n")
        if ntokens + new > max_tokens:
            is_break = True
            break
        text += line + "\n"
        ntokens += new
    if is_break:
        text += "...\n"
        ntokens += count_tokens("...\n")
    return text, ntokens, is_break


def make_code_context(needle: Mapping[str, Any], files: list[tuple[str, str]],
                      position_ratio: float, size: int) -> dict[str, Any]:
    """RepoQA's `make_code_context`: about `size` tokens of the repository's files (in
    dependency order, each headed by `# Path: ...`) with the needle at `position_ratio` of it
    (less exactly near the repository's ends)."""
    idx, content = next((i, c) for i, (f, c) in enumerate(files) if f == needle["path"])
    code = content[needle["start_byte"]:needle["end_byte"]]
    prefix_size = int(size * position_ratio - count_tokens(code) / 2)
    suffix_size = size - count_tokens(code) - prefix_size

    prefix, n, is_break = _backward(
        [f"{COMMENT_PREFIX} Path: {needle['path']}", *content[:needle["start_byte"]].split("\n")],
        prefix_size)
    prefix_size -= n
    i = idx - 1
    while not is_break and prefix_size > 0 and i >= 0:
        path, text = files[i]
        part, n, is_break = _forward([f"{COMMENT_PREFIX} Path: {path}", *text.split("\n")],
                                     prefix_size)
        prefix = part + prefix
        prefix_size -= n
        i -= 1

    suffix, n, is_break = _forward(content[needle["end_byte"]:].split("\n"), suffix_size)
    suffix_size -= n
    i = idx + 1
    while not is_break and suffix_size > 0 and i < len(files):
        path, text = files[i]
        part, n, is_break = _forward([f"{COMMENT_PREFIX} Path: {path}", *text.split("\n")],
                                     suffix_size)
        suffix += part
        suffix_size -= n
        i += 1

    prefix, code, suffix = (s.replace("\0", "") for s in (prefix, code, suffix))
    start = count_tokens(prefix)
    end = start + count_tokens(code)
    return {"code_context": prefix + code + suffix, "needle_token_start": start,
            "needle_token_end": end, "code_context_ntokens": end + count_tokens(suffix)}
