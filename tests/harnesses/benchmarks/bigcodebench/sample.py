"""CI's sample of BigCodeBench: real tasks spanning the seven domains of upstream's
`analysis/task2domain.json`, asked through both splits, whose libraries the slim image holds
(numpy, pandas, matplotlib, pytz, dateutil, requests; the rest is the standard library)."""

from __future__ import annotations

# task id -> (domain it stands for, split it is asked through)
SAMPLE: dict[str, tuple[str, str]] = {
    "BigCodeBench/1": ("General", "complete"),
    "BigCodeBench/3": ("Computation", "instruct"),
    "BigCodeBench/14": ("System", "complete"),
    "BigCodeBench/50": ("Time", "instruct"),
    "BigCodeBench/69": ("Visualization", "complete"),
    "BigCodeBench/189": ("Network", "instruct"),
    "BigCodeBench/130": ("Cryptography", "complete"),
}
