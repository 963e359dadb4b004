"""SWE-bench-format issue resolution driven by mini-swe-agent (see benchmark.py)."""
