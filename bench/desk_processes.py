"""The processes of a running desk (``python -m app.launcher``) by Procfile name, with their
memory and CPU (psutil), for ``bench/load.py`` and ``python bench/desk_processes.py PID``.

Every process under the launcher is named from its command line: ``web``, ``worker`` (the
``dramatiq`` parent and each forked worker process, counted separately), ``ticker``, ``clock``,
``strategies``, ``api``, ``replay``, ``redis`` and the ``launcher``/``honcho`` supervisors.
Memory is RSS, and PSS/USS (``memory_full_info``: what the process alone costs, shared pages
split) where the platform gives them, in MB (10⁶ bytes).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import psutil

#: (Procfile name, a fragment of its command line), first match wins.
NAMES = (
    ("web", "app.ui.web"), ("worker", "dramatiq"), ("ticker", "workers.ticker"), ("clock", "workers.clock"),
    ("strategies", "workers.strategy_runner"), ("api", "app.api"), ("replay", "workers.replay"),
    ("redis", "redis-server"), ("honcho", "honcho"), ("launcher", "app.launcher"),
)
#: What the issue counts as "the default run" (supervisors and Redis are listed apart).
DESK = ("web", "worker", "ticker", "clock", "strategies", "api", "replay")
MB = 1e6
SHELLS = frozenset({"sh", "bash", "dash"})


@dataclass(frozen=True)
class ProcessMemory:
    """One process: ``name`` (Procfile), ``pid``, ``rss``/``pss``/``uss`` in MB (``pss``/``uss``
    ``None`` where unavailable)."""

    name: str
    pid: int
    rss: float
    pss: float | None
    uss: float | None


def name_of(proc: psutil.Process) -> str | None:
    """The Procfile name of ``proc`` from its command line, or ``None`` (a shell, a helper)."""
    try:
        if proc.name() in SHELLS:
            return None  # honcho's ``sh -c`` wrapper: the command runs in its child
        cmd = " ".join(proc.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None
    for name, fragment in NAMES:
        if fragment in cmd:
            return name
    return None


def desk_processes(root_pid: int) -> dict[str, list[psutil.Process]]:
    """Every named process under (and including) ``root_pid``: ``{name: [Process, …]}``.
    Raises ``psutil.NoSuchProcess`` when ``root_pid`` is gone."""
    root = psutil.Process(root_pid)
    found: dict[str, list[psutil.Process]] = {}
    for proc in [root, *root.children(recursive=True)]:
        name = name_of(proc)
        if name is not None:
            found.setdefault(name, []).append(proc)
    return found


def memory(name: str, proc: psutil.Process) -> ProcessMemory | None:
    """``proc``'s memory now, or ``None`` if it exited."""
    try:
        try:
            full = proc.memory_full_info()
            pss, uss = getattr(full, "pss", None), getattr(full, "uss", None)
        except psutil.AccessDenied:
            full, pss, uss = proc.memory_info(), None, None
        return ProcessMemory(name, proc.pid, full.rss / MB, None if pss is None else pss / MB,
                             None if uss is None else uss / MB)
    except psutil.NoSuchProcess:
        return None


def memory_table(root_pid: int) -> list[ProcessMemory]:
    """The memory of every named process under ``root_pid``, in ``NAMES`` order."""
    procs = desk_processes(root_pid)
    rows = [memory(name, p) for name, _ in NAMES for p in procs.get(name, [])]
    return [r for r in rows if r is not None]


def format_memory(rows: list[ProcessMemory]) -> str:
    """A table of ``rows`` with the default run's totals (RSS and PSS over ``DESK``)."""
    def mb(v: float | None) -> str:
        return "   n/a" if v is None else f"{v:6.0f}"

    lines = [f"{'process':<11} {'pid':>7} {'RSS MB':>7} {'PSS MB':>7} {'USS MB':>7}"]
    lines += [f"{r.name:<11} {r.pid:>7} {mb(r.rss):>7} {mb(r.pss):>7} {mb(r.uss):>7}" for r in rows]
    desk = [r for r in rows if r.name in DESK]
    rss = sum(r.rss for r in desk)
    pss = sum(r.pss for r in desk if r.pss is not None)
    lines.append(f"{'desk total':<11} {len(desk):>7} {rss:>7.0f} {pss:>7.0f}   ({', '.join(DESK)})")
    return "\n".join(lines)


#: Issue 16's targets: ticker and clock each, and the default run (``DESK`` processes), RSS MB.
TARGET_SMALL_MB, TARGET_RUN_MB = 120.0, 1000.0


def verdicts(rows: list[ProcessMemory]) -> dict[str, bool]:
    """PASS/FAIL of the memory targets for ``rows`` (RSS)."""
    by = {n: sum(r.rss for r in rows if r.name == n) for n in DESK}
    return {"ticker ≤ 120 MB": 0 < by["ticker"] <= TARGET_SMALL_MB,
            "clock ≤ 120 MB": 0 < by["clock"] <= TARGET_SMALL_MB,
            "default run ≤ 1 GB": sum(by.values()) <= TARGET_RUN_MB}


def memory_report(rows: list[ProcessMemory]) -> str:
    """:func:`format_memory` of ``rows`` followed by one ``PASS``/``FAIL`` line per target."""
    return "\n".join([format_memory(rows), *(f"{'PASS' if ok else 'FAIL'} {name}" for name, ok in verdicts(rows).items())])


def main(argv: list[str]) -> int:
    """``python bench/desk_processes.py [LAUNCHER_PID] [--settle S]``: the memory of a running
    ``make run`` (its launcher's pid), or of a desk started here (``tests.e2e.desk.running_desk``,
    a fresh store) after ``S`` seconds (default 60: the clock's first health check has run)."""
    import argparse
    import os
    import tempfile
    import time
    from pathlib import Path

    ap = argparse.ArgumentParser(description=main.__doc__.splitlines()[0])
    ap.add_argument("pid", nargs="?", type=int, help="the launcher's pid of a running make run")
    ap.add_argument("--settle", type=float, default=60.0, help="seconds after start before measuring")
    args = ap.parse_args(argv)
    if args.pid:
        rows = memory_table(args.pid)
    else:
        root = Path(__file__).resolve().parent.parent
        sys.path.insert(0, str(root))
        from tests.e2e.desk import running_desk

        with running_desk(Path(tempfile.mkdtemp(prefix="paperdesk-memory-"))):
            launcher = next(c for c in psutil.Process().children() if name_of(c) == "launcher")
            time.sleep(args.settle)
            rows = memory_table(launcher.pid)
    print(memory_report(rows))
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} (2 cores)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
