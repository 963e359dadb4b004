"""RepoQA's matcher, ported line for line so that it runs beside benchdock's own tree-sitter.

RepoQA 0.1.2 scores an answer like this (`repoqa/compute_score.py`, `needle_evaluator` and
`sanitize_output`; `repoqa/metric.py`, `compute_function_similarity`):

1. sanitise the answer: no fenced block -> the whole answer, stripped; else the first
   Python `function_definition` (tree-sitter query `(function_definition name: (_)) @fdef`)
   in the first block that has one; else the first block;
2. compare it with every needle of the repository (its lines `start_line:end_line` of the
   file) by sentence BLEU over whitespace-split tokens, NLTK's `SmoothingFunction().method4`;
3. the answer matches the needle whose similarity is highest (strictly greater than the
   running best, which starts at 0); it passes at threshold t when that needle is the one
   asked for and its similarity is >= t.

Why a port: repoqa's module imports `tree_sitter_languages`, which needs tree-sitter < 0.22,
while benchdock (through EvalPlus's sanitiser) has 0.26; it also imports transformers at
module level. The port uses tree-sitter 0.26 with `tree_sitter_python` and the same NLTK;
`tests/harnesses/benchmarks/repoqa/test_repoqa_parity.py` checks that it gives the same (verdict, best needle,
similarity) as repoqa's own `needle_evaluator`, run in its own venv (`benchdock setup
repoqa`). `ignore_comments` (RepoQA's `--ignore-comments` variant) is not ported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

THRESHOLDS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)  # RepoQA's
FUNCTION_QUERY = "(function_definition name: (_)) @fdef"  # repoqa/utility.py, python
FENCE = re.compile(r"^```(?:\w+)?\s*\n(.*?)(?=^```)```", re.DOTALL | re.MULTILINE)


@dataclass(frozen=True)
class Match:
    """What RepoQA's `needle_evaluator` returns: whether the best-matching needle is the one
    asked for, which needle that is (None when no similarity exceeded 0), and its
    similarity."""

    best_match: bool
    best_target: str | None
    similarity: float
    sanitized: str

    def passes(self, threshold: float) -> bool:
        """RepoQA's `compute_score`: a pass at `threshold`."""
        return self.best_match and self.similarity >= threshold


@cache
def _python() -> tuple[Any, Any]:
    import tree_sitter_python
    from tree_sitter import Language, Parser, Query

    lang = Language(tree_sitter_python.language())
    return Parser(lang), Query(lang, FUNCTION_QUERY)


def functions_in(code: str) -> list[str]:
    """The Python function definitions tree-sitter finds in `code`, in document order."""
    from tree_sitter import QueryCursor

    parser, query = _python()
    raw = code.encode("utf8")
    tree = parser.parse(raw)
    nodes = [n for ns in QueryCursor(query).captures(tree.root_node).values() for n in ns]
    nodes.sort(key=lambda n: (n.start_byte, -n.end_byte))
    return [raw[n.start_byte:n.end_byte].decode("utf8") for n in nodes]


def sanitize_output(model_output: str) -> str:
    """RepoQA's `sanitize_output(model_output, "python")`."""
    model_output = model_output.strip()
    blocks = FENCE.findall(model_output)
    if not blocks:
        return model_output
    for block in blocks:
        try:
            found = functions_in(block)
        except Exception:  # RepoQA's bare `except: pass`
            found = []
        if found:
            return found[0]
    return str(blocks[0])


def compute_function_similarity(candidate: str, reference: str) -> float:
    """RepoQA's `compute_function_similarity`: sentence BLEU, method4 smoothing."""
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

    cand = list(re.split(r"\s+", candidate.strip()))
    ref = list(re.split(r"\s+", reference.strip()))
    return float(sentence_bleu([ref], cand, smoothing_function=SmoothingFunction().method4))


def needle_code(content: dict[str, str], needle: dict[str, Any]) -> str:
    """A needle's code as the matcher sees it: its file's lines start_line:end_line."""
    return "\n".join(content[needle["path"]].split("\n")[needle["start_line"]:needle["end_line"]])


def needle_evaluator(model_output: str, ground_truth: str, repo: dict[str, Any]) -> Match:
    """RepoQA's `needle_evaluator(..., lang="python", ignore_comments=False)`."""
    best_target: str | None = None
    best_similarity = 0.0
    sanitized = sanitize_output(model_output)
    for needle in repo["needles"]:
        similarity = compute_function_similarity(sanitized, needle_code(repo["content"], needle))
        if similarity > best_similarity:
            best_similarity = similarity
            best_target = needle["name"]
    return Match(best_match=best_target == ground_truth, best_target=best_target,
                 similarity=best_similarity, sanitized=sanitized)
