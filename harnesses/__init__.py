"""The core of benchdock: benchmarks (each a declaration), the endpoint client, the sandbox,
and the engine that runs a benchmark against a model. Nothing here imports MCP."""
