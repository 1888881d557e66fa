"""socratic's in-container test runner.

Reads one JSON request per line on stdin, answers one JSON line per request on stdout.

It imports pytest and collects the suite once (so the project's modules and test modules are in
memory), then forks a child per request. The child applies the candidate's patch on disk and
brings the in-memory code up to date the cheapest correct way:

- "hot": when only function bodies changed, the new code objects are swapped into the live
  function objects (every reference sees the new code; nothing is re-imported);
- "cold": otherwise (module-level code, class bodies, default values, signatures of closures),
  the project's modules are dropped from sys.modules and re-imported from disk.

Then it runs the selected tests. The parent resets the tree (git checkout, git clean).

Request:  {"id": str, "patch": str or "", "tests": [node ids] (empty: whole suite),
           "timeout": seconds, "keep": bool (leave the patch applied; default false),
           "cold": bool (force the cold path)}
Response: {"id": str, "ok": bool, "stage": "apply"|"timeout"|"done"|"error", "exit": int,
           "junit": str, "ms": int, "mode": "hot"|"cold"|"", "detail": str}
"""
import gc
import io
import json
import os
import signal
import subprocess
import sys
import time
import types
from contextlib import redirect_stdout, redirect_stderr

import pytest

REPO = os.path.realpath(os.environ.get("SOCRATIC_REPO", "/work/repo"))
JUNIT = "/tmp/socratic-junit.xml"
PATCH = "/tmp/socratic-candidate.diff"
PYTEST_ARGS = ["-q", "-p", "no:cacheprovider", "-o", "junit_family=xunit1", "--junitxml=" + JUNIT,
               "-W", "ignore::DeprecationWarning"]


def git(*args):
    return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True)


def reset_tree():
    git("checkout", "-q", "--", ".")
    git("clean", "-fdq")


def in_repo(path):
    return bool(path) and os.path.realpath(path).startswith(REPO + os.sep)


def preload():
    """Collect the suite in-process so project and test modules are imported once."""
    os.chdir(REPO)
    sys.path.insert(0, REPO)  # as `python -m pytest` does
    sink = io.StringIO()
    with redirect_stdout(sink), redirect_stderr(sink):
        try:
            pytest.main(["-q", "-p", "no:cacheprovider", "--collect-only"])
        except BaseException:
            pass


def live_functions():
    """(file, qualname) -> function objects defined in the repository, found once."""
    index = {}
    for obj in gc.get_objects():
        if isinstance(obj, types.FunctionType):
            code = obj.__code__
            if in_repo(code.co_filename):
                qualname = getattr(code, "co_qualname", code.co_name)
                index.setdefault((os.path.realpath(code.co_filename), qualname), []).append(obj)
    return index


def changed_files(patch):
    files = []
    for line in patch.splitlines():
        if line.startswith("+++ "):
            path = line[4:].strip()
            if path.startswith("b/"):
                path = path[2:]
            if path != "/dev/null":
                files.append(os.path.realpath(os.path.join(REPO, path)))
    return files


def code_tree(code, out):
    """key -> code object for a module's code and every nested code object; the key is the
    qualname, with `#n` added for the n-th repeat (a property's getter and setter share one)."""
    key = code.co_qualname
    n = 1
    while key in out:
        key = "%s#%d" % (code.co_qualname, n)
        n += 1
    out[key] = code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            code_tree(const, out)
    return out


def shape(code):
    """What a code object does, ignoring line numbers and nested code (compared on their own)."""
    consts = tuple(("<code>", c.co_qualname) if isinstance(c, types.CodeType) else repr(c) for c in code.co_consts)
    return (code.co_code, consts, code.co_names, code.co_varnames, code.co_freevars, code.co_cellvars,
            code.co_argcount, code.co_kwonlyargcount, code.co_posonlyargcount, code.co_flags)


def plan_hot_swap(path, old_source, new_source):
    """(old code, new code) pairs to swap, or None when only a cold reload is correct."""
    try:
        old = code_tree(compile(old_source, path, "exec"), {})
        new = code_tree(compile(new_source, path, "exec"), {})
    except SyntaxError:
        return None
    if set(old) != set(new):
        return None
    changed = [k for k in new if shape(old[k]) != shape(new[k])]
    swaps = {}
    for key in changed:
        # Climb to the outermost enclosing function: nested code lives in its parent's constants.
        top = key
        while "<locals>" in top:
            top = top.rsplit(".<locals>.", 1)[0]
        if top not in new:  # a repeated qualname inside a closure: too ambiguous
            return None
        if top == "<module>" or not new[top].co_flags & 0x02:  # module or class body (not CO_NEWLOCALS)
            return None
        swaps[top] = (old[top], new[top])
        for k, c in new.items():  # closures already built from the changed code
            if k.startswith(top.split("#")[0] + ".<locals>."):
                swaps[k] = (old[k], c)
    return list(swaps.values())


def hot_swap(patch, originals, index):
    """Swap changed function code into live functions. False: take the cold path."""
    for path in changed_files(patch):
        if path not in originals:
            return False
        try:
            with open(path) as f:
                new_source = f.read()
        except OSError:
            return False
        swaps = plan_hot_swap(path, originals[path], new_source)
        if swaps is None:
            return False
        for old_code, new_code in swaps:
            # Live functions still run exactly the code compiled from the original source.
            for fn in index.get((path, old_code.co_qualname), []):
                if fn.__code__ != old_code:
                    continue
                if len(fn.__code__.co_freevars) != len(new_code.co_freevars):
                    return False
                fn.__code__ = new_code
    return True


def cold_reload():
    for name, module in list(sys.modules.items()):
        if in_repo(getattr(module, "__file__", None) or ""):
            del sys.modules[name]


def try_hot_swap(patch, originals, index):
    try:
        return hot_swap(patch, originals, index)
    except Exception:  # e.g. no co_qualname before Python 3.11: reload instead
        return False


def run_child(patch, tests, force_cold, originals, index):
    mode = "cold" if force_cold or not try_hot_swap(patch, originals, index) else "hot"
    if mode == "cold":
        cold_reload()
    with open("/tmp/socratic-mode", "w") as f:
        f.write(mode)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    return int(pytest.main(PYTEST_ARGS + list(tests)))


def run_tests(patch, tests, timeout, force_cold, originals, index):
    """Fork; the child updates its code and runs pytest; the parent enforces the timeout."""
    for path in (JUNIT, "/tmp/socratic-mode"):
        if os.path.exists(path):
            os.remove(path)
    pid = os.fork()
    if pid == 0:
        try:
            os._exit(run_child(patch, tests, force_cold, originals, index))
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
        time.sleep(0.001)


def handle(req, originals, index):
    start = time.monotonic()
    out = {"id": req.get("id", ""), "ok": False, "stage": "apply", "exit": -1, "junit": "", "mode": "", "detail": ""}
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
    code, timed_out = run_tests(patch, req.get("tests") or [], float(req.get("timeout", 60)),
                                bool(req.get("cold")), originals, index)
    out["exit"] = code
    if os.path.exists("/tmp/socratic-mode"):
        with open("/tmp/socratic-mode") as f:
            out["mode"] = f.read()
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
    preload()
    index = live_functions()
    originals = {}
    for (path, _), _fns in index.items():
        if path not in originals:
            try:
                with open(path) as f:
                    originals[path] = f.read()
            except OSError:
                pass
    sys.stdout.write(json.dumps({"ready": True, "functions": len(index)}) + "\n")
    sys.stdout.flush()
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            resp = handle(json.loads(line), originals, index)
        except Exception as e:  # report, keep serving
            resp = {"id": "", "ok": False, "stage": "error", "exit": -1, "junit": "", "mode": "", "detail": repr(e), "ms": 0}
        sys.stdout.write(json.dumps(resp) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
