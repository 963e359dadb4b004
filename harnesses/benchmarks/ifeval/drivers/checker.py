"""IFEval's checker process: lm-eval's own IFEval scoring, answering one response at a time.

Runs with the interpreter of IFEval's venv (no benchdock there) and speaks JSON lines: an
init line, then `{"id", "op": "check", "prompt", "instruction_id_list", "kwargs",
"response"}` requests, each answered with every instruction's strict and loose verdict.

The verdicts are lm-eval's `test_instruction_following_strict` / `_loose`
(`lm_eval/tasks/ifeval/utils.py`), called once per instruction so that one instruction whose
checker cannot run here (NLTK's punkt_tab missing) is marked unavailable instead of sinking
the others; each instruction is judged on its own in lm-eval too, so the verdicts are the
same. lm-eval's package `__init__`s (which import its task manager, datasets, ...) are
bypassed: only `lm_eval/tasks/ifeval/*.py` are loaded, unchanged.

Two deliberate differences, both for verdicts that do not change from run to run:
- langdetect is seeded (DetectorFactory.seed = 0): it samples at random, so unseeded (as in
  lm-eval and Google's code) a borderline text can be judged English on one run and not on
  the next;
- `random` is seeded before each instruction is built: a checker given an argument it
  rejects picks a random one instead (Google's code, kept by lm-eval). Two IFEval prompts
  hit this: 1122 and 1129 ask for the "letter" '#' and '!', so their letter_frequency
  checker counts a random letter of the alphabet, here always the same one.
"""

import importlib.util
import json
import os
import random
import sys
import traceback
import types
from typing import Any

NEEDS_PUNKT = ("length_constraints:number_sentences", "change_case:capital_word_frequency")
PUNKT_MISSING = ("checker unavailable offline: needs NLTK punkt "
                 "(run nltk.download('punkt_tab') online, or `benchdock setup ifeval`)")


def load_checkers() -> Any:
    spec = importlib.util.find_spec("lm_eval")
    if spec is None or spec.origin is None:
        raise RuntimeError("lm-eval is not installed in this environment")
    root = os.path.dirname(spec.origin)
    for name, path in (("lm_eval", root), ("lm_eval.tasks", os.path.join(root, "tasks"))):
        pkg = types.ModuleType(name)
        pkg.__path__ = [path]
        sys.modules[name] = pkg
    import langdetect  # type: ignore[import-not-found, unused-ignore]

    langdetect.DetectorFactory.seed = 0
    from lm_eval.tasks.ifeval import utils

    return utils


def punkt_available() -> bool:
    import nltk

    try:
        nltk.data.find("tokenizers/punkt_tab/english/")
    except LookupError:
        return False
    return True


def check(utils: Any, punkt: bool, req: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for iid, kwargs in zip(req["instruction_id_list"], req["kwargs"], strict=True):
        if iid in NEEDS_PUNKT and not punkt:
            out.append({"strict": None, "loose": None, "unavailable": PUNKT_MISSING})
            continue
        random.seed(0)
        inp = utils.InputExample(key=req.get("key", 0), instruction_id_list=[iid],
                                 prompt=req["prompt"], kwargs=[kwargs])
        try:
            strict = utils.test_instruction_following_strict(inp, req["response"])
            loose = utils.test_instruction_following_loose(inp, req["response"])
        except LookupError as exc:  # NLTK data missing for a checker not listed above
            out.append({"strict": None, "loose": None,
                        "unavailable": f"checker unavailable: {str(exc).strip()[:300]}"})
            continue
        except Exception as exc:  # a checker that trips over this text: say so, never guess
            out.append({"strict": None, "loose": None,
                        "error": f"{type(exc).__name__}: {exc}"[:500]})
            continue
        out.append({"strict": bool(strict.follow_instruction_list[0]),
                    "loose": bool(loose.follow_instruction_list[0])})
    return out


def main() -> None:
    reply_to = sys.stdout
    sys.stdout = sys.stderr  # the checkers' and NLTK's chatter must not mix with replies

    def send(msg: dict[str, Any]) -> None:
        reply_to.write(json.dumps(msg) + "\n")
        reply_to.flush()

    sys.stdin.readline()  # the init line: nothing to configure
    try:
        utils = load_checkers()
        punkt = punkt_available()
        from importlib.metadata import version

        send({"ready": True, "lm_eval": version("lm_eval"), "punkt": punkt})
    except Exception as exc:
        send({"ready": False, "error": f"{type(exc).__name__}: {exc}",
              "traceback": traceback.format_exc()})
        return
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        try:
            send({"id": req["id"], "instructions": check(utils, punkt, req)})
        except Exception as exc:
            send({"id": req.get("id"), "bridge_error": f"{type(exc).__name__}: {exc}",
                  "traceback": traceback.format_exc()})


if __name__ == "__main__":
    main()
