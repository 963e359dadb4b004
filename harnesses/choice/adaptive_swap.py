"""Model switching on servers that hold one model at a time (llama-swap, ollama).

There, interleaving two models request by request would spend the budget loading weights
(20-50 GB, seconds to minutes each time). So the switch is measured — the time to first
token of a one-token request right after a switch, minus the same on the warm model — and
batches are sized so that switching stays a small share of the time. The measurement is
kept in BENCHDOCK_HOME/switch_costs.json (endpoint -> model -> seconds), where
`plan_evaluation` finds it for its estimates.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import httpx

from benchdock.harnesses.config import EndpointConfig

SWITCH_SHARE = 0.1  # switches may take at most this share of a batch's time
DEFAULT_BATCH = 8


def costs_file(home: Path) -> Path:
    return home / "switch_costs.json"


def load_costs(home: Path) -> dict[str, dict[str, float]]:
    try:
        data = json.loads(costs_file(home).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def save_cost(home: Path, endpoint: str, model: str, seconds: float) -> None:
    data = load_costs(home)
    data.setdefault(endpoint, {})[model] = round(seconds, 3)
    home.mkdir(parents=True, exist_ok=True)
    costs_file(home).write_text(json.dumps(data, indent=1))


def model_switch_s(home: Path) -> dict[str, float]:
    """Seconds to switch to each model (the largest measured on any endpoint)."""
    out: dict[str, float] = {}
    for per_model in load_costs(home).values():
        for model, s in per_model.items():
            out[model] = max(out.get(model, 0.0), float(s))
    return out


def _ttft(client: httpx.Client, ep: EndpointConfig, model: str) -> float:
    """Seconds until the first streamed token of a one-token answer."""
    body = {"model": model, "messages": [{"role": "user", "content": "Say OK."}],
            "max_tokens": 1, "temperature": 0, "stream": True}
    headers = {"Authorization": f"Bearer {ep.api_key}"} if ep.api_key else {}
    start = time.monotonic()
    with client.stream("POST", f"{ep.url}/chat/completions", json=body,
                       headers=headers) as r:
        r.raise_for_status()
        for line in r.iter_lines():
            if line.startswith("data:"):
                return time.monotonic() - start
    return time.monotonic() - start


def measure_switch(ep: EndpointConfig, models: list[str], timeout_s: float = 600.0,
                   transport: httpx.BaseTransport | None = None) -> dict[str, float]:
    """Seconds to switch to each model: TTFT right after the previous model answered, minus
    its TTFT when warm (never below 0). Loads each model twice; call it once per
    decision."""
    out: dict[str, float] = {}
    with httpx.Client(timeout=timeout_s, transport=transport) as client:
        for i, model in enumerate(models):
            _ttft(client, ep, models[i - 1])  # the previous one is loaded now
            cold = _ttft(client, ep, model)
            warm = _ttft(client, ep, model)
            out[model] = max(0.0, cold - warm)
    return out


def batch_size(switch_s: float, per_task_s: float, models: int,
               share: float = SWITCH_SHARE, minimum: int = DEFAULT_BATCH) -> int:
    """Tasks per model per batch so that switches take at most `share` of a batch's time.
    The models run in a snake order (A B | B A | A B ...), so a batch of k models costs
    k - 1 switches: (k - 1) s <= share ((k - 1) s + k b t)."""
    if switch_s <= 0 or models < 2:
        return minimum
    need = (models - 1) * switch_s * (1 - share) / (share * models * max(per_task_s, 1e-3))
    return max(minimum, math.ceil(need))
