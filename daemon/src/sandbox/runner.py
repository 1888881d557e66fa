"""socratic's in-container test runner.

Reads one JSON request per line on stdin, answers one JSON line per request on stdout.
It keeps the interpreter and pytest loaded and forks a child per request, so a candidate costs
a fork and the selected tests, not a container start or an interpreter start.

Request:  {"id": str, "patch": str or "", "tests": [node ids] (empty: whole suite),
           "timeout": seconds, "keep": bool (leave the patch applied; default false)}
Response: {"id": str, "ok": bool, "stage": "apply"|"run"|"timeout"|"done", "exit": int,
           "junit": str, "ms": int, "detail": str}
"""
import json
import os
import signal
import subprocess
import sys
import time

import pytest  # noqa: F401  (preloaded so each forked child starts warm)

REPO = os.environ.get("SOCRATIC_REPO", "/work/repo")
JUNIT = "/tmp/socratic-junit.xml"
PATCH = "/tmp/socratic-candidate.diff"


def git(*args):
    return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True)


def reset_tree():
    git("checkout", "-q", "--", ".")
    git("clean", "-fdq")


def run_tests(tests, timeout):
    """Fork; the child runs pytest on the selected tests and exits with its code."""
    if os.path.exists(JUNIT):
        os.remove(JUNIT)
    pid = os.fork()
    if pid == 0:
        try:
            os.chdir(REPO)
            sys.path.insert(0, REPO)  # as `python -m pytest` does
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            args = ["-q", "-p", "no:cacheprovider", "-o", "junit_family=xunit1",
                    "--junitxml=" + JUNIT, "-W", "ignore::DeprecationWarning"]
            code = pytest.main(args + list(tests))
            os._exit(int(code))
        except BaseException:
            os._exit(99)
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status), False
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return -9, True
        time.sleep(0.002)


def handle(req):
    start = time.monotonic()
    out = {"id": req.get("id", ""), "ok": False, "stage": "apply", "exit": -1, "junit": "", "detail": ""}
    patch = req.get("patch") or ""
    if patch:
        with open(PATCH, "w") as f:
            f.write(patch)
        applied = git("apply", PATCH)
        if applied.returncode != 0:
            out["detail"] = applied.stderr.strip()[-2000:]
            reset_tree()
            out["ms"] = int((time.monotonic() - start) * 1000)
            return out
    code, timed_out = run_tests(req.get("tests") or [], float(req.get("timeout", 60)))
    out["exit"] = code
    if timed_out:
        out["stage"] = "timeout"
    else:
        out["stage"] = "done"
        out["ok"] = True
        if os.path.exists(JUNIT):
            with open(JUNIT) as f:
                out["junit"] = f.read()
    if not req.get("keep"):
        reset_tree()
    out["ms"] = int((time.monotonic() - start) * 1000)
    return out


def main():
    sys.stdout.write(json.dumps({"ready": True}) + "\n")
    sys.stdout.flush()
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            resp = handle(json.loads(line))
        except Exception as e:  # report, keep serving
            resp = {"id": "", "ok": False, "stage": "error", "exit": -1, "junit": "", "detail": repr(e), "ms": 0}
        sys.stdout.write(json.dumps(resp) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
