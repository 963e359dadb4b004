"""The core of benchdock: everything but the MCP surface (nothing here imports MCP).

One run's path through the folders, top to bottom (imports only go down; CI checks it with
import-linter, `[tool.importlinter]` in pyproject.toml):

- `choice/`, `report/` — comparing and choosing models (dimensions, recommend, plan,
  decide and its background job, the pooled evidence, probed speeds) and the report; they
  read what runs left in the store.
- `service/` — the façade the MCP tools and the CLI share: validates a request against the
  live state and queues a run (`operations.py`); setting benchmarks up as a job
  (`setup.py`); which endpoints to use (`discovery.py`); the shapes it answers with
  (`views.py`).
- `engine/` — executing runs and jobs: the worker claims a queued run (or a job, whose
  handler it is handed: `jobs.py`), `executor.py` loads its tasks
  and runs the pipeline for the declaration's kind (`chat.py`: benchdock asks and scores;
  `delegated.py`: a reference harness asks and judges through `proxy.py`), then records the
  run's evidence for comparisons (`evidence.py`).
- `benchmarks/<id>/` — one package per benchmark family: `benchmark.py` (its declaration),
  `session.py` (the live reference harness, where it has one), `environment.py` (its managed
  venv), `drivers/` (code that runs inside the sandbox or that venv), `README.md`.
- `datasets/` — data two benchmark packages share (EvalPlus's).
- `contract/` — what a benchmark is (`benchmark.py`, `delegated.py`), the ten dimensions,
  the metrics, and the registry (ids to `"module:factory"`, imported on first use). It
  imports no engine and no benchmark.
- `client/` — talking to model endpoints (`llm.py`, `endpoints.py`, `ttft.py`, the speed
  probe `speed.py`), whether a download source answers (`reach.py`), and the demo model
  benchdock can serve itself.
- `pyjudge/`, `envs/`, `sandbox/` — runtimes: the trusted Python judge, managed venvs and
  what in-sandbox drivers share, and where code runs (Docker or bubblewrap).
- `config.py` (settings: the only reader of the environment), `errors.py`, `runspec.py` (the
  run settings, declared once).

Public for plugins: `benchdock.harnesses.base` (the contract) and `benchdock.harnesses.sandbox`.
"""
