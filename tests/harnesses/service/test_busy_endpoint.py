"""A model on an endpoint that is busy generating is found, not "unknown" (service/seen.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from benchdock.harnesses.client.endpoints import EndpointStatus, ModelInfo
from benchdock.harnesses.config import EndpointConfig, Settings
from benchdock.harnesses.errors import BenchdockError
from benchdock.harnesses.service import operations

URL = "http://127.0.0.1:18999/v1"


def _settings(home: Path) -> Settings:
    return Settings(endpoints=[EndpointConfig(url=URL)], home=home,
                    database_url=f"sqlite:///{home / 'benchdock.db'}")


def test_a_busy_endpoint_lists_what_it_listed_last(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    up = EndpointStatus(url=URL, up=True, server="llama-cpp-python",
                        models=[ModelInfo(id="m", endpoint=URL, server="llama-cpp-python")])
    answers: list[list[EndpointStatus]] = [[up]]

    async def discover(eps: list[EndpointConfig], only: str | None = None,
                       **_: Any) -> list[EndpointStatus]:
        if answers:
            return answers.pop(0)
        return [EndpointStatus(url=URL, up=False, error="ReadTimeout: ")]

    monkeypatch.setattr(operations, "discover", discover)
    settings = _settings(tmp_path)
    ep, st, info = anyio.run(operations.find_model, settings, "m", None)  # it answered
    assert ep.url == URL and st.error is None and info.id == "m"
    ep, st, info = anyio.run(operations.find_model, settings, "m", None)  # now it is busy
    assert ep.url == URL and info.id == "m"
    assert st.error is not None and st.error.startswith("busy: /v1/models did not answer")
    with pytest.raises(BenchdockError, match="unknown model 'other'"):
        anyio.run(operations.find_model, settings, "other", None)
    answers.append([EndpointStatus(url=URL, up=False, error="ConnectError: refused")])
    answers.append([EndpointStatus(url=URL, up=False, error="ConnectError: refused")])
    with pytest.raises(BenchdockError, match="Endpoints down"):  # refused is not busy
        anyio.run(operations.find_model, settings, "m", None)
