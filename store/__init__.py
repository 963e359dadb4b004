"""The SQL store: tables in `models`, engine and migrations in `db`, named queries in `queries`.

Nothing here knows about MCP or benchmarks; it holds runs, samples and the generation cache.
"""
