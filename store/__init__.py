"""The SQL store: tables in `tables`, engine and migrations in `db`, named queries in `queries`
(the comparison's in `evidence`), the work queue shared by workers in `queue`.

Nothing here knows about MCP or benchmarks; it holds runs, samples and the generation cache.
"""
