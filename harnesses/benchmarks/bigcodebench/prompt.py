"""How bigcodebench 0.2.5 asks a chat model and takes the code out of its answer.

Asking (`bigcodebench.generate` with the `openai` backend, the one that talks to an
OpenAI-compatible server as benchdock does): one user message, no system message, built by
`provider.utility.make_raw_chat_prompt` without a tokenizer — the instruction prefix, then
for Complete the task's `complete_prompt` stripped inside a bare ``` fence, for Instruct its
`instruct_prompt` stripped; greedy (temperature 0, top_p 0.95), `max_new_tokens` 1280 and no
stop sequences (that backend sends none; the `EOS` list and the extra stops for direct
completion are the vllm/hf backends', for base models, listed below for reference).

Extracting (`bigcodebench.sanitize.sanitize(answer, entry_point)`): the longest run of lines
that parses; its imports, and the top-level classes, functions and assignments the entry
point reaches (first definition of each name wins); then any trailing unindented lines that
mention the entry point are cut off; if that leaves nothing, the longest parsing run itself.
It differs from EvalPlus's sanitiser (which this project also uses) in three ways: the
answer is stripped first, a function is kept whether or not it has a `return`, and the
trailing-lines cut. The tree-sitter walk is written here; the helpers it shares with
EvalPlus's, line for line, are EvalPlus's own functions.

When scoring, upstream's evaluator (`calibrated=True`, its default) runs
`code_prompt + "\\n    pass\\n" + solution`: the task's own imports and a stub first, then
the extracted code (`calibrated_code`).
"""

from __future__ import annotations

from typing import Literal

from benchdock.harnesses.contract.benchmark import Task

Split = Literal["complete", "instruct"]

INSTRUCTION_PREFIX = ("Please provide a self-contained Python script that solves the following "
                      "problem in a markdown code block:")
# upstream's response prefix: only prefilled into the assistant turn with a tokenizer's chat
# template (vllm/hf backends); the openai backend, like benchdock, does not send it
RESPONSE_PREFIX = ("Below is a Python script with a self-contained function that solves the "
                   "problem and passes corresponding tests:")
MAX_NEW_TOKENS = 1280
# bigcodebench.provider.utility.EOS and, for direct completion, its extra stops: what the
# vllm/hf backends stop on for base models (benchdock asks chat endpoints only)
EOS = ("<|endoftext|>", "<|endofmask|>", "</s>", "\nif __name__", "\ndef main(", "\nprint(")
DIRECT_COMPLETION_STOP = ("\ndef ", "\nclass ", "\nimport ", "\nfrom ", "\nassert ")


def user_message(task_prompt: str, split: Split) -> str:
    if split == "complete":
        return f"{INSTRUCTION_PREFIX}\n```\n{task_prompt.strip()}\n```\n"
    return f"{INSTRUCTION_PREFIX}\n{task_prompt.strip()}\n"


def chat_messages(task: Task, split: Split) -> list[dict[str, str]]:
    return [{"role": "user", "content": user_message(task.prompt, split)}]


def calibrated_code(task: Task, solution: str) -> str:
    """What upstream's evaluator runs for a sanitised solution (calibrated, its default)."""
    return str(task.data["code_prompt"]) + "\n    pass\n" + solution


def _definition_nodes(root: object) -> tuple[list[object], list[tuple[str, object]]]:
    """Top-level imports, and (name, node) of classes, functions and assignments in order,
    the first definition of a name only."""
    from evalplus.sanitize import (
        ASSIGNMENT_TYPE,
        CLASS_TYPE,
        EXPRESSION_TYPE,
        FUNCTION_TYPE,
        IMPORT_TYPE,
        get_definition_name,
    )

    imports: list[object] = []
    defs: list[tuple[str, object]] = []
    names: set[str] = set()
    for child in root.children:  # type: ignore[attr-defined]
        if child.type in IMPORT_TYPE:
            imports.append(child)
            continue
        node = None
        if child.type in (CLASS_TYPE, FUNCTION_TYPE):
            node = child
        elif child.type == EXPRESSION_TYPE and child.children[0].type == ASSIGNMENT_TYPE:
            node = child.children[0]
        if node is None:
            continue
        name = get_definition_name(node)
        if name not in names:
            defs.append((name, node))
            names.add(name)
    return imports, defs


def _target_code(answer: str, entry_point: str) -> str:
    import tree_sitter_python
    from evalplus.sanitize import code_extract, get_deps, get_function_dependency
    from tree_sitter import Language, Parser

    code = code_extract(answer.strip())
    data = code.encode("utf8")
    tree = Parser(Language(tree_sitter_python.language())).parse(data)
    imports, defs = _definition_nodes(tree.root_node)
    reachable = get_function_dependency(entry_point, get_deps(defs))
    out = b""
    for node in imports:
        out += data[node.start_byte:node.end_byte] + b"\n"  # type: ignore[attr-defined]
    for name, node in defs:
        if name in reachable:
            out += data[node.start_byte:node.end_byte] + b"\n"  # type: ignore[attr-defined]
    text = out[:-1].decode("utf8")
    lines = text.splitlines()
    trailing = []
    for i in range(len(lines) - 1, -1, -1):
        if lines[i].startswith(" "):
            break
        if entry_point in lines[i]:
            trailing.append(i)
    if trailing:
        text = "\n".join(lines[:trailing[-1]])
    return text


def sanitize(answer: str, entry_point: str) -> str:
    """bigcodebench 0.2.5's `sanitize(answer, entry_point)`."""
    from evalplus.sanitize import code_extract

    code = _target_code(answer, entry_point).strip()
    return code if code else str(code_extract(answer))
