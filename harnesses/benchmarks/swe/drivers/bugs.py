"""benchdock's bug candidates for one project, made with SWE-smith's LM-free procedural
Python modifiers (swesmith 0.0.9, `bug_gen/procedural/python`, libcst-based) used as a
library: SWE-smith's own CLI clones GitHub and pulls images, so benchdock validates the
candidates itself (construct.py).

Runs with the `swe` venv's interpreter on the host over a copy of the project's sources:
it only parses and rewrites them, it never imports or runs the project. Imports nothing
from benchdock. Reads one JSON line on stdin ({"root", "sources", "seed", "max"}) and
writes one JSON line per candidate: {"modifier", "entity", "file", "patch", "explanation"}.
The order is fixed by the seed alone: the entities in file order, every (entity, modifier)
pair the modifier accepts, shuffled by a seeded random generator.
"""

from __future__ import annotations

import json
import random
import sys
from typing import Any


def main() -> None:
    cfg = json.loads(sys.stdin.readline())
    from swesmith.bug_gen.adapters.python import get_entities_from_file_py
    from swesmith.bug_gen.procedural.python import MODIFIERS_PYTHON
    from swesmith.bug_gen.utils import generate_patch_fast

    seed = int(cfg["seed"])
    root = cfg["root"].rstrip("/")
    entities: list[Any] = []
    for rel in cfg["sources"]:
        get_entities_from_file_py(entities, f"{root}/{rel}")
    # fresh modifiers seeded by the construction's seed (the library's are seeded with 24)
    modifiers = [type(pm)(likelihood=pm.likelihood, seed=seed) for pm in MODIFIERS_PYTHON]
    pairs = [(e, pm) for e in entities for pm in modifiers if pm.can_change(e)]
    random.Random(seed).shuffle(pairs)
    emitted = 0
    seen: set[str] = set()
    for entity, pm in pairs:
        if emitted >= int(cfg["max"]):
            break
        try:
            bug = pm.modify(entity)
        except Exception:  # a modifier that trips on some code: no candidate from it
            continue
        if bug is None:
            continue
        patch = generate_patch_fast(entity, bug, root)
        if not patch or patch in seen:
            continue
        seen.add(patch)
        emitted += 1
        rel = entity.file_path[len(root) + 1:]
        sys.stdout.write(json.dumps({"modifier": pm.name, "entity": entity.name, "file": rel,
                                     "line": entity.line_start, "patch": patch,
                                     "explanation": bug.explanation}) + "\n")


if __name__ == "__main__":
    main()
