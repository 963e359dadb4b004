"""IFEval's checkers (lm-eval 0.4.13's, in IFEval's venv) against hand-written responses: for
each of the 25 instruction types one response that follows the instruction and one that does
not, with the verdicts we expect, in both sandboxes. Also: the loose variant's allowances, the
punkt-dependent checkers marked unavailable (never passed or failed) without NLTK's data, and
the data file being IFEval's 541 prompts."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from benchdock.harnesses.benchmarks.ifeval.drivers.checker import NEEDS_PUNKT
from benchdock.harnesses.benchmarks.ifeval.environment import IfevalEnv
from benchdock.harnesses.sandbox.rpc import RpcChannel
from tests.support.ifeval_support import check, checker, ifeval_env

REPEAT = ("Write an email to my boss telling him that I am quitting. The email must contain a "
          "title wrapped in double angular brackets, i.e. <<title>>.")
WORDS_300 = " ".join(["word"] * 300)
ENGLISH = "the quick brown fox jumps over the lazy dog while the farmer watches from the field"

# (instruction, kwargs, a response that follows it, one that does not)
CASES: list[tuple[str, dict[str, Any], str, str]] = [
    ("change_case:capital_word_frequency", {"capital_relation": "less than",
                                            "capital_frequency": 3},
     "Only ONE word here is shouted.", "THIS IS ALL SHOUTED TEXT."),
    ("change_case:english_capital", {}, ENGLISH.upper(), ENGLISH.capitalize()),
    ("change_case:english_lowercase", {}, ENGLISH, ENGLISH.capitalize() + " Today."),
    ("combination:repeat_prompt", {"prompt_to_repeat": REPEAT},
     REPEAT + "\n\n<<Resignation>>\nDear boss, I quit.", "<<Resignation>>\nDear boss, I quit."),
    ("combination:two_responses", {}, "First answer.\n******\nSecond answer.",
     "Same answer.\n******\nSame answer."),
    ("detectable_content:number_placeholders", {"num_placeholders": 2},
     "Send it to [name] at [address].", "Send it to [name] at the office."),
    ("detectable_content:postscript", {"postscript_marker": "P.S."},
     "Thanks for reading.\nP.S. See you soon.", "Thanks for reading. See you soon."),
    ("detectable_format:constrained_response", {}, "My answer is yes.", "Yes, I think so."),
    ("detectable_format:json_format", {}, '```json\n{"city": "Paris"}\n```',
     'The city is {"city": "Paris"}'),
    ("detectable_format:multiple_sections", {"section_spliter": "SECTION", "num_sections": 2},
     "SECTION 1\nIntro.\nSECTION 2\nBody.", "SECTION 1\nIntro and body together."),
    ("detectable_format:number_bullet_lists", {"num_bullets": 3},
     "* apples\n* pears\n* plums", "* apples\n* pears"),
    ("detectable_format:number_highlighted_sections", {"num_highlights": 2},
     "Here is *part one* and *part two*.", "Here is *part one* only."),
    ("detectable_format:title", {}, "<<A Day Out>>\nWe went to the sea.",
     "A Day Out\nWe went to the sea."),
    ("keywords:existence", {"keywords": ["correlated", "experiencing"]},
     "People experiencing stress often report correlated symptoms.",
     "People under stress often report symptoms."),
    ("keywords:forbidden_words", {"forbidden_words": ["rock"]}, "I like jazz and blues.",
     "I like Rock music."),
    ("keywords:frequency", {"relation": "at least", "keyword": "story", "frequency": 2},
     "A story within a story.", "A story about nothing."),
    ("keywords:letter_frequency", {"let_relation": "at least", "letter": "z",
                                   "let_frequency": 4},
     "Zany zebras zigzag in the zoo.", "A zebra in the park."),
    ("language:response_language", {"language": "de"},
     "Heute ist das Wetter sehr schön, und wir gehen am Nachmittag in den Park spazieren.",
     "Today the weather is very nice, and we are going for a walk in the park."),
    ("length_constraints:nth_paragraph_first_word", {"first_word": "weekend",
                                                     "num_paragraphs": 2, "nth_paragraph": 2},
     "Plans are set.\n\nWeekend trips are fun.", "Plans are set.\n\nTrips are fun."),
    ("length_constraints:number_paragraphs", {"num_paragraphs": 2},
     "First paragraph.\n***\nSecond paragraph.", "One paragraph only."),
    ("length_constraints:number_sentences", {"relation": "less than", "num_sentences": 3},
     "One sentence. Two sentences.", "One. Two. Three. Four."),
    ("length_constraints:number_words", {"relation": "at least", "num_words": 300},
     WORDS_300, "far too short"),
    ("punctuation:no_comma", {}, "No commas here at all.", "Well, here is one."),
    ("startend:end_checker", {"end_phrase": "Any other questions?"},
     "That is the plan. Any other questions?", "Any other questions? That is the plan."),
    ("startend:quotation", {}, '"All of this is quoted."', "Nothing is quoted here."),
]


@pytest.fixture(scope="module")
def env() -> IfevalEnv:
    return ifeval_env()


@pytest.fixture(scope="module", params=["local", "docker"])
def rpc(request: pytest.FixtureRequest, env: IfevalEnv) -> Iterator[RpcChannel]:
    image = request.getfixturevalue("docker_image") if request.param == "docker" else "unused"
    with checker(env, request.param, image) as (channel, isolation):
        assert isolation
        yield channel


def test_every_instruction_type_has_a_case(env: IfevalEnv) -> None:
    rows = [json.loads(line) for line in env.data_file.read_text().splitlines() if line]
    types = Counter(i for r in rows for i in r["instruction_id_list"])
    assert len(rows) == 541 and sum(types.values()) == 834  # IFEval's own counts
    assert sorted(types) == sorted(c[0] for c in CASES)


@pytest.mark.parametrize(("iid", "kwargs", "follows", "breaks"), CASES, ids=[c[0] for c in CASES])
def test_known_answers(rpc: RpcChannel, iid: str, kwargs: dict[str, Any], follows: str,
                       breaks: str) -> None:
    good = check(rpc, iid, kwargs, follows)
    assert good == {"strict": True, "loose": True}, (iid, good)
    bad = check(rpc, iid, kwargs, breaks)
    assert bad["strict"] is False, (iid, bad)


def test_loose_allows_what_the_paper_allows(rpc: RpcChannel) -> None:
    """Loose also accepts the response without its first or last line, or without `*`."""
    preamble = check(rpc, "startend:quotation", {}, 'Sure! Here it is:\n"All quoted."')
    assert preamble == {"strict": False, "loose": True}
    starred = check(rpc, "startend:end_checker", {"end_phrase": "Any other questions?"},
                    "That is all. **Any other questions?**")
    assert starred == {"strict": False, "loose": True}
    neither = check(rpc, "punctuation:no_comma", {}, "A, b\nc, d\ne, f")
    assert neither == {"strict": False, "loose": False}


def test_a_non_letter_is_judged_the_same_way_every_time(rpc: RpcChannel) -> None:
    """IFEval's 1122 asks for 4 '#': the checker counts a random letter instead (upstream's
    behaviour), seeded here so that the verdict does not change between runs."""
    kwargs = {"let_relation": "at least", "letter": "#", "let_frequency": 4}
    # a-m four times, n-z once: which letter is drawn decides the verdict
    text = "#one #two #three #four " + "".join(c * 4 for c in "abcdefghijklm") + " nopqrstuvwxyz"
    verdicts = {json.dumps(check(rpc, "keywords:letter_frequency", kwargs, text))
                for _ in range(5)}
    assert len(verdicts) == 1


def test_an_empty_response_follows_nothing(rpc: RpcChannel) -> None:
    """lm-eval's rule: an empty response fails even instructions it cannot break."""
    assert check(rpc, "punctuation:no_comma", {}, "   ") == {"strict": False, "loose": False}


def test_without_punkt_those_checkers_are_unavailable(env: IfevalEnv, tmp_path: Path) -> None:
    """No NLTK data: the two punkt checkers say so; the others still judge."""
    with checker(env, "local", "unused", nltk_data=tmp_path) as (rpc, _):
        for iid in NEEDS_PUNKT:
            kwargs = next(c[1] for c in CASES if c[0] == iid)
            out = check(rpc, iid, kwargs, "One sentence. Two sentences.")
            assert out["strict"] is None and out["loose"] is None, out
            assert "checker unavailable offline: needs NLTK punkt" in out["unavailable"]
        assert check(rpc, "punctuation:no_comma", {}, "No commas.") == {"strict": True,
                                                                       "loose": True}
