"""BigCodeBench tasks whose tests need the internet, found on the real data (v0.1.4).

Each task's canonical solution was judged in the full image with no network (the sandbox's
default) and with its failure read: these fail there only because a test, or the code it
checks, reaches a host (a URL fetched, a name resolved, NLTK's downloader). They cannot pass
in a sandbox without network whatever the model writes, so they are left out of runs (and of
pass@1) unless BENCHDOCK_BIGCODEBENCH_NETWORK=1 gives the sandbox a network; every run says
how many were left out. `tests/scripts/bigcodebench_parity.py --network` finds them again.
"""

from __future__ import annotations

# task id -> what it reaches (from the canonical solution's failure without network, on both
# benchdock's judge and bigcodebench's own untrusted_check, in the full image)
NEEDS_NETWORK: dict[str, str] = {
    'BigCodeBench/101': 'a host name resolved (Temporary failure in name resolution)',
    'BigCodeBench/176': 'a reverse DNS lookup (the test expects 8.8.8.8 -> dns.google)',
    'BigCodeBench/177': 'NLTK data, downloaded at run time (nltk.download)',
    'BigCodeBench/290': 'NLTK data, downloaded at run time (nltk.download)',
    'BigCodeBench/314': 'a host name resolved (gaierror)',
    'BigCodeBench/332': 'NLTK data, downloaded at run time (nltk.download)',
    'BigCodeBench/334': 'NLTK data, downloaded at run time (nltk.download)',
    'BigCodeBench/376': 'NLTK data, downloaded at run time (nltk.download)',
    'BigCodeBench/383': "TextBlob's corpora, downloaded at run time",
    'BigCodeBench/590': 'a URL fetched (URLError)',
    'BigCodeBench/633': 'NLTK data, downloaded at run time (nltk.download)',
    'BigCodeBench/635': 'NLTK data, downloaded at run time (nltk.download)',
    'BigCodeBench/655': 'NLTK data, downloaded at run time (nltk.download)',
    'BigCodeBench/658': 'NLTK data, downloaded at run time (nltk.download)',
    'BigCodeBench/726': 'NLTK data, downloaded at run time (nltk.download)',
    'BigCodeBench/734': 'NLTK data, downloaded at run time (nltk.download)',
    'BigCodeBench/806': 'NLTK data, downloaded at run time (nltk.download)',
    'BigCodeBench/808': 'NLTK data, downloaded at run time (nltk.download)',
    'BigCodeBench/849': 'NLTK data, downloaded at run time (nltk.download)',
    'BigCodeBench/940': 'NLTK data, downloaded at run time (nltk.download)',
    'BigCodeBench/1005': 'a URL fetched (URL Error)',
    'BigCodeBench/1012': 'a URL fetched (Max retries exceeded with url)',
    'BigCodeBench/1109': 'NLTK data, downloaded at run time (nltk.download)',
}
