"""CPU time per process group while a run goes on, read from /proc and the cgroup tree.

For `perf_benchmark.py --legs`: what benchdock itself costs a model served on the same
machine — the worker, the progress poller, sandbox runners (bubblewrap processes or Docker
containers), Docker's daemons — sampled once a second, each interval counted as
"generating" when the model server used at least a quarter of a core in it and the sandbox
hardly any (under 5 % of a core), "turn change" when both were busy (with scoring and
generation taking turns, a second often holds the end of one and the start of the other:
counting those as "generating" charged the scoring to the model's time), "first request"
for the first second the model worked in (it also holds the end of the run's start: the
worker's imports, the sandbox's containers, a fixed cost per run apart from the steady
share), else "scoring/idle". It also counts the server's involuntary context switches (a thread of the
model preempted by something else: with llama.cpp's threads on every core, one preempted
thread stalls the others at the next barrier).

Light on purpose: a sample reads a few dozen small files (the tracked processes' stat
files, and the stat file of each process new since the last sample), so the sampler's own
CPU is printed and stays far below what it measures.
"""

from __future__ import annotations

import glob
import os
import threading
import time
from collections import defaultdict
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")
DAEMONS = {"dockerd": "docker daemons", "containerd": "docker daemons",
           "containerd-shim": "docker daemons", "containerd-shim-runc-v2": "docker daemons",
           "docker-proxy": "docker daemons"}
CGROUP_GLOBS = ("/sys/fs/cgroup/cpuacct/docker/*/cpuacct.usage",  # cgroup v1
                "/sys/fs/cgroup/system.slice/docker-*.scope/cpu.stat",  # v2, systemd driver
                "/sys/fs/cgroup/docker/*/cpu.stat")  # v2, cgroupfs driver


def _stat(pid: int) -> tuple[str, int, float] | None:
    """(comm, ppid, CPU seconds of the process and its reaped children)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    comm = raw[raw.index("(") + 1:raw.rindex(")")]
    f = raw[raw.rindex(")") + 2:].split()
    return comm, int(f[1]), sum(int(x) for x in f[11:15]) / TICK


def _container_cpu() -> dict[str, float]:
    out: dict[str, float] = {}
    for pattern in CGROUP_GLOBS:
        for path in glob.glob(pattern):
            try:
                text = Path(path).read_text()
            except OSError:
                continue
            if path.endswith("cpuacct.usage"):
                out[path] = int(text) / 1e9
            else:
                usage = next((ln.split()[1] for ln in text.splitlines()
                              if ln.startswith("usage_usec")), "0")
                out[path] = int(usage) / 1e6
    return out


def thread_switches(pid: int) -> dict[int, int]:
    """Involuntary context switches of each thread of `pid` now, by thread id."""
    out: dict[int, int] = {}
    for status in glob.glob(f"/proc/{pid}/task/*/status"):
        try:
            for line in Path(status).read_text().splitlines():
                if line.startswith("nonvoluntary_ctxt_switches"):
                    out[int(status.split("/")[4])] = int(line.split()[1])
        except (OSError, ValueError):
            continue
    return out


# groups that are not benchdock's cost: the model itself, and a bare leg's own client
NOT_OURS = ("model server", "perf script (the bare loop's client)")
PHASES = ("generating", "turn change", "first request", "scoring/idle")
SCORING_GROUPS = ("sandbox containers", "local sandbox (bwrap runners, jobs)")


class SwitchCounter:
    """The server's involuntary context switches since `start`, summed thread by thread: a
    sum over the threads alive now would go down when a thread ends (uvicorn's and anyio's
    worker threads come and go), which once printed a negative count."""

    def __init__(self, pid: int | None) -> None:
        self.pid = pid
        self.last = thread_switches(pid) if pid else {}
        self.total = 0

    def update(self) -> int:
        if self.pid:
            for tid, n in thread_switches(self.pid).items():
                self.total += max(0, n - self.last.get(tid, 0))
                self.last[tid] = n
        return self.total


class _Fixed(SwitchCounter):
    """A count already taken (the sum over merged legs)."""

    def __init__(self, total: int) -> None:
        self.pid, self.last, self.total = None, {}, total


class CpuSampler:
    """Samples CPU per group in a thread until `stop()`; `table()` prints what it saw."""

    def __init__(self, server_pid: int | None, interval_s: float = 1.0,
                 bare: bool = False) -> None:
        self.server_pid = server_pid
        self.me = os.getpid()
        # in a bare leg this script is the client sending the requests, not a poller: its CPU
        # is the baseline's own, so it is shown apart and not charged to benchdock
        self.me_group = ("perf script (the bare loop's client)" if bare
                         else "perf script (progress polling)")
        self.interval_s = interval_s
        self.groups: dict[int, str] = {}  # pid -> group
        self.last: dict[object, float] = {}  # pid or cgroup path -> CPU seconds last seen
        self.used: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        self.phase_s: dict[str, float] = defaultdict(float)
        self.switches = SwitchCounter(server_pid)
        self.parent: dict[int, int] = {}  # pid -> ppid, for the CPU of reaped children
        self.reaped: dict[int, float] = defaultdict(float)  # ppid -> CPU counted in its children
        self.initial: set[int] = set()  # processes there before: their past CPU is not counted
        self.known: dict[int, tuple[str, int]] = {}  # pid -> (comm, ppid) of live processes
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="cpu-sampler", daemon=True)
        self._samples = 0
        self._generated = False  # the model has generated since the sampler started
        self._own_unbilled = 0.0  # the sampler's CPU since the last read
        # (from, to, CPU per group) of each sample: for `within`
        self.timeline: list[tuple[float, float, dict[str, float]]] = []
        self._last_t = time.time()
        self.own_s = 0.0

    def __enter__(self) -> CpuSampler:
        self._scan()
        self.initial = set(self.groups)
        self._read(count=False)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._read(count=True, phase_s=0.0)

    @classmethod
    def merged(cls, samplers: list[CpuSampler]) -> CpuSampler:
        """One table for several legs of the same kind (`--blocks`): their CPU and phase seconds
        summed."""
        out = cls(samplers[0].server_pid if samplers else None,
                  samplers[0].interval_s if samplers else 1.0)
        out.me_group = samplers[0].me_group if samplers else out.me_group
        for smp in samplers:
            for group, phases in smp.used.items():
                for phase, cpu in phases.items():
                    out.used[group][phase] += cpu
            for phase, sec in smp.phase_s.items():
                out.phase_s[phase] += sec
            out.own_s += smp.own_s
            out.timeline.extend(smp.timeline)
        out.switches = _Fixed(sum(smp.switches.total for smp in samplers))
        return out

    # --- which process is whose -------------------------------------------------------------

    def _scan(self) -> None:
        """Classify every process new since the last scan: the model server's tree, this
        script, its descendants (the worker; bubblewrap runners and their jobs), Docker's
        daemons. Every sample scans: a process found only at every tenth sample had all its CPU
        so far (a worker's imports, a container's start) charged to the second it was found
        in, mostly a generating one; only new pids' stat files are read."""
        alive = {int(e) for e in os.listdir("/proc") if e.isdigit()}
        for pid in set(self.known) - alive:
            del self.known[pid]
        new = []
        for pid in alive - set(self.known):
            st = _stat(pid)
            if st is not None:
                self.known[pid] = (st[0], st[1])
                new.append(pid)
        for pid in new:  # once all are read: a new child's parent may be new too
            if pid not in self.groups:
                self.groups[pid] = self._group(pid, self.known[pid][0], self.known)

    def _group(self, pid: int, comm: str, stats: dict[int, tuple[str, int]]) -> str:
        if comm in DAEMONS:
            return DAEMONS[comm]
        chain: list[int] = []
        p = pid
        while p in stats and p > 1 and len(chain) < 64:
            chain.append(p)
            p = stats[p][1]
        if self.server_pid in chain:
            return "model server"
        if pid == self.me:
            return self.me_group
        if self.me in chain:
            below = chain[:chain.index(self.me)]
            if any(stats[q][0] == "bwrap" for q in below):
                return "local sandbox (bwrap runners, jobs)"
            if any("worker" in _cmdline(q) for q in below):
                return "benchdock worker"
            return "other benchdock children"
        return ""  # the rest of the machine: not tracked

    # --- sampling ----------------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            t0 = time.thread_time()
            self._samples += 1
            self._scan()
            self._read(count=True)
            self.switches.update()
            took = time.thread_time() - t0
            self.own_s += took
            self._own_unbilled += took  # taken off this script's CPU at the next read

    def _read(self, count: bool, phase_s: float | None = None) -> None:
        now: dict[object, tuple[str, float]] = {}
        for pid, group in list(self.groups.items()):
            if not group:
                continue
            st = _stat(pid)
            if st is not None:
                self.parent[pid] = st[1]
                now[pid] = (group, st[2])
            elif isinstance(seen := self.last.pop(pid, None), float):
                # ended: once reaped, its CPU (counted here already) shows again in its
                # parent's children's time; the parent's next rise is not charged for it
                self.reaped[self.parent.get(pid, 0)] += seen
                del self.groups[pid]
        for path, cpu in _container_cpu().items():
            now[path] = ("sandbox containers", cpu)
        deltas: dict[str, float] = defaultdict(float)
        for key, (group, cpu) in now.items():
            before = self.last.get(key)
            self.last[key] = cpu
            if before is not None and cpu >= before:
                rise = cpu - before
                if isinstance(key, int) and self.reaped.get(key):
                    credit = min(rise, self.reaped[key])
                    self.reaped[key] -= credit
                    rise -= credit
                deltas[group] += rise
            elif before is None and count and (isinstance(key, str) or key not in self.initial):
                deltas[group] += cpu  # born since the sampler started: all of it is this leg's
        # this script's CPU holds the sampler's own: shown apart, not as the poller's
        mine = deltas.get(self.me_group, 0.0)
        if mine:
            deltas[self.me_group] = max(0.0, mine - self._own_unbilled)
        self._own_unbilled = 0.0
        if not count:
            return
        scoring = sum(deltas.get(g, 0.0) for g in SCORING_GROUPS)
        if deltas.get("model server", 0.0) < 0.25 * self.interval_s:
            phase = "scoring/idle"
        elif not self._generated:
            # the second the first request went out in also holds the end of the run's start
            # (the worker's imports, the sandbox's containers): a run's fixed cost, apart
            phase, self._generated = "first request", True
        else:
            phase = "turn change" if scoring >= 0.05 * self.interval_s else "generating"
        self.phase_s[phase] += self.interval_s if phase_s is None else phase_s
        for group, cpu in deltas.items():
            self.used[group][phase] += cpu
        now_t = time.time()
        self.timeline.append((self._last_t, now_t, dict(deltas)))
        self._last_t = now_t

    def within(self, windows: list[tuple[float, float]]) -> tuple[float, dict[str, float]]:
        """Seconds and CPU per group in the samples that lie wholly inside one of `windows`
        (epoch seconds: the model's requests, from the store). Finer than the phases: a 1-s
        sample often holds a request's end and the next one's start, and with it the worker's
        handling of the answer and a scoring turn's tail; sampled every 0.25 s, what falls
        inside a request is what the model shared its cores with while it generated."""
        spans = sorted(windows)
        secs = 0.0
        used: dict[str, float] = defaultdict(float)
        for t0, t1, deltas in self.timeline:
            if any(a <= t0 and t1 <= b for a, b in spans):
                secs += t1 - t0
                for group, cpu in deltas.items():
                    used[group] += cpu
        return secs, dict(used)

    # --- the figures -------------------------------------------------------------------------

    def ours_generating(self) -> float:
        """CPU seconds of benchdock and Docker in the seconds the model generated alone."""
        return sum(v["generating"] for k, v in self.used.items()
                   if k not in NOT_OURS)

    def by_group(self, phase: str) -> str:
        """One line: each group's CPU seconds in `phase` (the model server left out)."""
        return ", ".join(f"{g} {v[phase]:.2f}" for g, v in sorted(self.used.items())
                         if g != "model server" and v[phase] >= 0.005)

    def table(self, title: str) -> str:
        gen, mixed, first, rest = (self.phase_s[k] for k in PHASES)
        lines = [f"   {title}: CPU seconds per process group (sampled every "
                 f"{self.interval_s:g} s: {gen:.0f} s generating, {mixed:.0f} s turn change, "
                 f"{first:.0f} s with the first request, {rest:.0f} s scoring/idle)",
                 f"   {'group':38s} {'generating':>11s} {'% core':>7s} {'turn change':>12s} "
                 f"{'first request':>14s} {'scoring/idle':>13s}"]
        for group in sorted(self.used, key=lambda g: -sum(self.used[g].values())):
            g, m, f, r = (self.used[group][k] for k in PHASES)
            pct = 100 * g / gen if gen else 0.0
            lines.append(f"   {group:38s} {g:11.2f} {pct:6.2f}% {m:12.2f} {f:14.2f} {r:13.2f}")
        ours = self.ours_generating()
        lines.append(f"   benchdock and Docker while the model generates: {ours:.2f} s = "
                     f"{100 * ours / gen if gen else 0:.2f}% of a core (target: well under 2%); "
                     f"the {mixed:.0f} s of turn change, where scoring shared a second with "
                     "generation, are apart: the wall-time ratio counts them")
        if self.server_pid:
            n = self.switches.update()
            lines.append(f"   model server: {n} involuntary context switches "
                         f"({n / max(gen + mixed + first + rest, 1e-9):.1f}/s)")
        lines.append(f"   (the sampler itself: {self.own_s:.2f} s CPU)")
        return "\n".join(lines)


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""
