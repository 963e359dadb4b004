"""EvalPlus's chat codegen, reproduced: the same system message, instruction and sanitiser,
so that numbers compare with the EvalPlus leaderboard.

The strings below are EvalPlus 0.3.1's (`evalplus/codegen.py`, `evalplus/gen/util/
openai_request.py`, `evalplus/provider/openai.py`); the sanitiser is EvalPlus's own function.
Only its request loop is not reproduced (it retries forever under SIGALRM).
"""

from __future__ import annotations

from benchdock.harnesses.contract.benchmark import Task

SYSTEM = "You are a helpful assistant good at coding."
INSTRUCTION = (
    "Please provide a self-contained Python script that solves the following problem "
    "in a markdown code block:"
)


def chat_messages(task_prompt: str) -> list[dict[str, str]]:
    prompt = task_prompt.strip() + "\n"
    message = INSTRUCTION + f"\n```python\n{prompt.strip()}\n```"
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": message}]


def sanitize(answer: str, entry_point: str) -> str:
    """EvalPlus's tree-sitter sanitiser: the entry point and what it needs, nothing else."""
    from evalplus.sanitize import sanitize as _sanitize

    return str(_sanitize(answer, entrypoint=entry_point))


class EvalPlusChatCodegen:
    """Mixin for function-completion benchmarks asked the EvalPlus way: the chat request,
    the code extraction, and the reference answer as a model would write it."""

    def messages(self, task: Task) -> list[dict[str, str]]:
        return chat_messages(task.prompt)

    def extract(self, task: Task, completion: str) -> str:
        return sanitize(completion, task.entry_point)

    def reference(self, task: Task) -> str:
        return f"```python\n{task.prompt}{task.data['canonical_solution']}\n```"
