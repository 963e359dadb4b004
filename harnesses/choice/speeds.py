"""Speeds probed on the endpoints, kept for the plans that follow.

A plan or a decision with nothing measured for a model asks it a few short requests
(`client/speed.py`) rather than assuming a speed; the figures are kept in
BENCHDOCK_HOME/speeds.json (endpoint -> model -> probe) so that the next plan, the
comparison's "not measured" estimates and `recommend_model`'s next run use them too. A
model's succeeded runs always win over its probe (they measured the real work).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.engine import Engine

from benchdock.harnesses.client.llm import EndpointError
from benchdock.harnesses.client.speed import Probe, probe_speed
from benchdock.harnesses.config import Settings
from benchdock.harnesses.errors import BenchdockError
from benchdock.harnesses.service import operations as service
from benchdock.store import evidence as ev


def speeds_file(home: Path) -> Path:
    return home / "speeds.json"


def _read(home: Path) -> dict[str, dict[str, dict[str, object]]]:
    try:
        data = json.loads(speeds_file(home).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def probes(home: Path) -> dict[str, Probe]:
    """model -> its newest probe on any endpoint."""
    out: dict[str, Probe] = {}
    for per_model in _read(home).values():
        for model, raw in per_model.items():
            try:
                p = Probe.model_validate(raw)
            except ValueError:
                continue
            if model not in out or p.at > out[model].at:
                out[model] = p
    return out


def save(home: Path, endpoint: str, model: str, p: Probe) -> None:
    data = _read(home)
    data.setdefault(endpoint, {})[model] = p.model_dump()
    home.mkdir(parents=True, exist_ok=True)
    tmp = speeds_file(home).with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    tmp.replace(speeds_file(home))


def measured(db: Engine, models: Sequence[str]) -> set[str]:
    """Models whose succeeded runs measured their decoding speed."""
    return {r.model for r in ev.summaries(db, list(models)) if r.generated_tokens and r.decode_s}


async def ensure(settings: Settings, db: Engine, models: Sequence[str]) -> tuple[
        dict[str, Probe], list[str]]:
    """Probe each model with no measured speed and no probe yet, one after another (they
    may share one GPU); returns every probe known and a note per probe made or failed. Two
    callers probing the same model at once each keep their figures: harmless."""
    notes: list[str] = []
    known = probes(settings.home)
    have = measured(db, models)
    for m in dict.fromkeys(models):
        if m in have or m in known:
            continue
        try:
            ep, _, _ = await service.find_model(settings, m, None)
            p = await probe_speed(ep, m)
        except (BenchdockError, EndpointError) as exc:
            notes.append(f"{m}: its speed could not be probed ({exc})")
            continue
        save(settings.home, ep.url, m, p)
        known[m] = p
        notes.append(f"{m}: nothing measured here, so its speed was probed with "
                     f"{p.requests} short requests ({p.seconds:.0f} s): "
                     f"{p.tokens_per_s or 0:.1f} tokens/s, time to first token "
                     f"{p.ttft_s or 0:.2f} s")
    return known, notes
