"""The run settings, declared once: each field's type, bounds, default and description.

`RunRequest` is what run_benchmark takes (the MCP tool's parameters use these very types,
and a test checks its schema against this model), what `benchdock run` parses (its flags are
generated from these fields) and what the service validates; `SamplingParams` (llm.py) is
the part that reaches the request, built from the same types. A benchmark changes a default
by declaring `run_defaults` (e.g. aider-polyglot's max_tokens).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field

ModelId = Annotated[str, Field(description="Model id as list_models shows it")]
BenchmarkId = Annotated[str, Field(description="Benchmark id as list_benchmarks shows it")]
Limit = Annotated[int | None, Field(ge=1, description=(
    "Only the first N tasks; on suites, N per part (describe_benchmark lists the parts)"))]
TaskIds = Annotated[list[str] | None, Field(description="Only these task ids")]
NSamples = Annotated[int, Field(ge=1, le=200, description="Samples per task, for pass@k")]
Temperature = Annotated[float, Field(ge=0.0, le=2.0, description="0 = greedy")]
TopP = Annotated[float, Field(gt=0.0, le=1.0, description="Nucleus sampling; 0.95 as EvalPlus")]
MaxTokens = Annotated[int, Field(ge=16, le=262144, description=(
    "Tokens per answer; raise it for reasoning models"))]
OptionalMaxTokens = Annotated[int | None, Field(ge=16, le=262144, description=(
    "Tokens per answer; default: the benchmark's (768 unless its run_defaults say "
    "otherwise); raise it for reasoning models"))]
Seed = Annotated[int | None, Field(description="Sent to the server when set")]
Concurrency = Annotated[int | None, Field(ge=1, le=64, description=(
    "Requests at once; default: what the server reports it can serve (llama-server's "
    "slots), else 1"))]
EndpointChoice = Annotated[str | None, Field(description=(
    "Endpoint URL or name, when the model id is on several"))]
Mode = Annotated[str | None, Field(description=(
    "Shorthand for the benchmark's main option (describe_benchmark names it and its "
    "choices)"))]
Options = Annotated[dict[str, Any] | None, Field(description=(
    "The benchmark's own options by name (describe_benchmark gives their schema)"))]


class RunRequest(BaseModel):
    model: ModelId
    benchmark: BenchmarkId
    limit: Limit = None
    tasks: TaskIds = None
    n_samples: NSamples = 1
    temperature: Temperature = 0.0
    top_p: TopP = 0.95
    max_tokens: OptionalMaxTokens = None
    seed: Seed = None
    concurrency: Concurrency = None
    endpoint: EndpointChoice = None
    mode: Mode = None
    options: Options = None
