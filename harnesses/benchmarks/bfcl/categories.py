"""BFCL v4's categories as benchdock offers them: `bfcl-<category>` with hyphens (underscores
are accepted too), and `bfcl` for every category that runs offline.

Counts are those of bfcl-eval 2026.3.23's data files; the loaded data decide at run time.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

Kind = Literal["ast", "relevance", "multi_turn", "agentic"]


class Category(BaseModel):
    name: str
    count: int
    kind: Kind
    language: str = "python"
    offline: bool = True
    why_not: str | None = None

    @property
    def benchmark_id(self) -> str:
        # BFCL's "simple" category is simple_python; `bfcl-simple` is the short name for it
        short = "simple" if self.name == "simple_python" else self.name
        return "bfcl-" + short.replace("_", "-")


_NET = ("needs the internet at run time ({}) and benchdock does not run BFCL's agentic "
        "categories yet")
CATEGORIES: list[Category] = [
    Category(name="simple_python", count=400, kind="ast"),
    Category(name="simple_java", count=100, kind="ast", language="java"),
    Category(name="simple_javascript", count=50, kind="ast", language="javascript"),
    Category(name="multiple", count=200, kind="ast"),
    Category(name="parallel", count=200, kind="ast"),
    Category(name="parallel_multiple", count=200, kind="ast"),
    Category(name="irrelevance", count=240, kind="relevance"),
    Category(name="live_simple", count=258, kind="ast"),
    Category(name="live_multiple", count=1053, kind="ast"),
    Category(name="live_parallel", count=16, kind="ast"),
    Category(name="live_parallel_multiple", count=24, kind="ast"),
    Category(name="live_irrelevance", count=884, kind="relevance"),
    Category(name="live_relevance", count=16, kind="relevance"),
    Category(name="multi_turn_base", count=200, kind="multi_turn"),
    Category(name="multi_turn_miss_func", count=200, kind="multi_turn"),
    Category(name="multi_turn_miss_param", count=200, kind="multi_turn"),
    Category(name="multi_turn_long_context", count=200, kind="multi_turn"),
    Category(name="web_search_base", count=100, kind="agentic", offline=False,
             why_not=_NET.format("a SerpAPI web search")),
    Category(name="web_search_no_snippet", count=100, kind="agentic", offline=False,
             why_not=_NET.format("a SerpAPI web search")),
    Category(name="memory_kv", count=155, kind="agentic", offline=False,
             why_not=_NET.format("an embedding model download")),
    Category(name="memory_vector", count=155, kind="agentic", offline=False,
             why_not=_NET.format("an embedding model download")),
    Category(name="memory_rec_sum", count=155, kind="agentic", offline=False,
             why_not=_NET.format("an embedding model download")),
]
BY_NAME = {c.name: c for c in CATEGORIES}
OFFLINE = [c for c in CATEGORIES if c.offline]


def category_of(entry_id: str) -> str:
    """`multi_turn_base_12` -> `multi_turn_base` (BFCL's ids are `<category>_<n>`)."""
    return entry_id.rsplit("_", 1)[0]
