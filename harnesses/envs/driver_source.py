"""In-sandbox drivers as one `python -c` program.

A driver (aider's, mini-swe-agent's) runs under its harness venv's interpreter, where
benchdock is not installed; the stdlib-only modules it shares with benchdock (the relay, aider's
test-report reader) are pasted in place of the lines importing them.
"""

from __future__ import annotations

from importlib import resources


def inline(package: str, driver: str, modules: dict[str, tuple[str, str]]) -> str:
    """`driver`'s source (a file of `package`) as one `python -c` program: each line in
    `modules` (an import ending in `# inlined by the session`) replaced by the source of the
    (package, file) it names. A driver whose import line changed fails here, at import time,
    not in a sandbox."""
    source = resources.files(package).joinpath(driver).read_text()
    for line, (pkg, name) in modules.items():
        if line not in source:
            raise RuntimeError(f"{package}/{driver} no longer has the line the session inlines: "
                               f"{line.strip()!r}")
        body = resources.files(pkg).joinpath(name).read_text().replace(
            "from __future__ import annotations\n", "")
        source = source.replace(line, body)
    return source


# the relay both drivers give their model client (driver_relay.py)
RELAY = {"from benchdock.harnesses.envs.driver_relay import start_relay  # inlined by the session\n":
         ("benchdock.harnesses.envs", "driver_relay.py")}
