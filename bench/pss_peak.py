#!/usr/bin/env python3
"""Peak total memory (PSS) of a command and everything it starts, sampled every 20 ms.

    bench/pss_peak.py [--match TEXT]... -- COMMAND...

In: a command; `--match TEXT` also counts processes whose command line contains TEXT (the
runner processes inside Docker containers are not descendants of the command). Out: the
command's exit status, and on stderr the peak of the summed proportional set size (shared pages
split among the processes sharing them, so forked children are not counted twice) in MiB.
Linux only (reads /proc/PID/smaps_rollup; needs permission to read other users' processes).
"""
import os
import subprocess
import sys
import threading
import time


def processes():
    """pid -> (ppid, command line) for every process."""
    out = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{name}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, ValueError, IndexError):
            continue
        out[int(name)] = (ppid, cmd)
    return out


def pss_kib(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def counted(root, matches):
    procs = processes()
    children = {}
    for pid, (ppid, _) in procs.items():
        children.setdefault(ppid, []).append(pid)
    picked, stack = set(), [root]
    while stack:
        pid = stack.pop()
        if pid in picked:
            continue
        picked.add(pid)
        stack.extend(children.get(pid, []))
    for pid, (_, cmd) in procs.items():
        if any(m in cmd for m in matches) and pid != os.getpid():
            picked.add(pid)
    return picked


def main():
    args = sys.argv[1:]
    matches = []
    while args and args[0] == "--match":
        matches.append(args[1])
        args = args[2:]
    if args and args[0] == "--":
        args = args[1:]
    if not args:
        sys.exit(__doc__)
    child = subprocess.Popen(args)
    peak = 0
    done = threading.Event()

    def sample():
        nonlocal peak
        while not done.is_set():
            peak = max(peak, sum(pss_kib(p) for p in counted(child.pid, matches)))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    code = child.wait()
    done.set()
    sampler.join()
    print(f"peak PSS {peak / 1024:.1f} MiB", file=sys.stderr)
    sys.exit(code)


if __name__ == "__main__":
    main()
