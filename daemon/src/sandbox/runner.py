"""socratic's in-container test runner.

In: one JSON request per line on stdin. Out: a ready line, then one JSON line per request on
stdout.

The runner is one pytest session. It collects the whole suite once (project and test modules
imported, test items built) and then, in place of running the tests, serves requests from the
session's run loop. Per request it writes the candidate's files (the unified diff applied in
memory to the clean contents), forks, and the child brings its code up to date the cheapest
correct way:

- "hot": when only function bodies changed, the new code objects are swapped into the live
  function objects (every reference sees the new code) and the selected, already collected
  items go through pytest's own per-test protocol (fixtures, capture, marks, reports);
- "cold": otherwise (module-level code, class bodies, default values, closures' signatures),
  the project's modules are dropped from sys.modules and a fresh pytest session in the child
  collects the selected tests' files from disk and runs the selected tests.

Either way the child writes one result per test to a file (a pipe would wake the parent once
per test): the status and message pytest's JUnit XML report would record; the parent waits for
the child to close its end of a pipe, enforces the timeout (killing the child's process group),
reads the file, writes the clean contents back, and checks by stat that the tests left the tree alone;
when they did not, or when a patch needed `git apply` (renames, binary changes, anything the
in-memory applier does not apply exactly), it resets the tree with `git checkout` / `git clean`.
If the session cannot be served (collection did not reach the run loop, or collected nothing
in this process), every request takes the cold path.

Request:  {"id": str, "patch": unified diff against HEAD or "", "tests": [node ids] (empty:
           the whole suite), "timeout": seconds, "keep": bool (leave the patch applied until
           the next request that does not keep; default false), "cold": bool (force the cold
           path)}
Response: {"id": str, "ok": bool, "stage": "apply"|"timeout"|"crash"|"done"|"error",
           "exit": int, "tests": [{"nodeid", "classname", "name", "file", "status":
           "passed"|"failed"|"error"|"skipped"|"xfail", "message", "seconds"}],
           "ms": int, "mode": "hot"|"cold"|"", "detail": str, "phases": {"apply", "child_start",
           "tests", "tests_cpu", "run", "reset": ms} (where the time went: applying the patch and
           planning the swap, fork to the child's first test, the tests (wall and CPU), the
           whole fork-to-results, restoring the tree)}
"""
import gc
import json
import linecache
import os
import re
import select
import shlex
import signal
import subprocess
import sys
import time
import types

import pytest

REPO = os.path.realpath(os.environ.get("SOCRATIC_REPO", "/work/repo"))
PATCH = "/tmp/socratic-candidate.diff"
RESULTS = "/tmp/socratic-results.jsonl"
# `--tb=native`: a failure's message is the same, its traceback costs far less to format. A test
# file that fails to import does not stop the rest of the suite (its tests are simply missing).
# SOCRATIC_PYTEST_ARGS: what the environment adds (e.g. `-n 0` where addopts asks for xdist).
PYTEST_ARGS = ["-q", "--tb=native", "-p", "no:cacheprovider", "-W", "ignore::DeprecationWarning",
               "--continue-on-collection-errors"] + shlex.split(os.environ.get("SOCRATIC_PYTEST_ARGS", ""))
STARTED = time.monotonic()


def in_repo(path):
    return bool(path) and os.path.realpath(path).startswith(REPO + os.sep)


def git(*args):
    return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True)


# ---------------------------------------------------------------------------------------------
# The tree: clean contents, the candidate's files, restoring.


class Tree:
    """The repository's files as the runner wrote them. `clean` holds HEAD contents read when a
    file was first touched (None: absent at HEAD); `dirty` the files now differing from it."""

    def __init__(self):
        self.clean = {}
        self.dirty = {}
        self.git_dirty = False
        self.written = set()
        self.snapshot = self.take_snapshot()

    def take_snapshot(self):
        """(mtime, size) of every file and folder outside .git: a cheap check that a run left the
        tree alone (a test that writes, creates or deletes a file changes one of them)."""
        snap = {}
        for root, dirs, files in os.walk(REPO):
            if root == REPO and ".git" in dirs:
                dirs.remove(".git")
            for name in [root] + [os.path.join(root, f) for f in files]:
                try:
                    st = os.lstat(name)
                except OSError:
                    continue
                snap[name] = (st.st_mtime_ns, st.st_size)
        return snap

    def current(self, rel):
        if rel in self.dirty:
            return self.dirty[rel]
        if rel not in self.clean:
            try:
                with open(os.path.join(REPO, rel), "rb") as f:
                    self.clean[rel] = f.read()
            except FileNotFoundError:
                self.clean[rel] = None
        return self.clean[rel]

    def write(self, rel, data):
        path = os.path.join(REPO, rel)
        if data is None or self.clean.get(rel) is None:
            self.git_dirty = True  # a file created or deleted: let git tidy the folders
        if data is None:
            if os.path.lexists(path):
                os.remove(path)
        else:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)
        self.written.add(path)
        if data == self.clean.get(rel, b"\0unread"):
            self.dirty.pop(rel, None)
        else:
            self.dirty[rel] = data

    def apply(self, patch):
        """Apply a unified diff: in memory when every hunk matches exactly, else `git apply`.
        Returns an error message or None."""
        try:
            files = apply_unified(patch, self.current)
        except PatchError:
            files = None
        if files is not None:
            for rel, data in files.items():
                self.write(rel, data)
            return None
        with open(PATCH, "w") as f:
            f.write(patch)
        self.git_dirty = True
        applied = git("apply", PATCH)
        if applied.returncode != 0:
            return applied.stderr.strip()[-2000:] or "git apply failed"
        for rel in patch_paths(patch):
            self.clean.setdefault(rel, git_show_head(rel))
            try:
                with open(os.path.join(REPO, rel), "rb") as f:
                    self.dirty[rel] = f.read()
            except FileNotFoundError:
                self.dirty[rel] = None
        return None

    def reset(self):
        """Back to HEAD: write clean contents back; fall back to git when anything else moved."""
        for rel in list(self.dirty):
            self.write(rel, self.clean.get(rel))
        self.dirty.clear()
        now = self.take_snapshot()
        moved = any(now.get(k) != self.snapshot.get(k) for k in now.keys() | self.snapshot.keys() if k not in self.written)
        self.written.clear()
        if self.git_dirty or moved:
            git("checkout", "-q", "--", ".")
            git("clean", "-fdq")
            self.git_dirty = False
            self.clean.clear()
            now = self.take_snapshot()
        self.snapshot = now

    def changed(self):
        """Absolute path -> (clean, current) for every file differing from HEAD."""
        return {os.path.join(REPO, rel): (self.clean.get(rel), data) for rel, data in self.dirty.items()}


def git_show_head(rel):
    out = subprocess.run(["git", "show", "HEAD:" + rel], cwd=REPO, capture_output=True)
    return out.stdout if out.returncode == 0 else None


class PatchError(Exception):
    pass


HUNK = re.compile(rb"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


def strip_prefix(path):
    path = path.split(b"\t")[0].strip()
    if path == b"/dev/null":
        return None
    if path[:2] in (b"a/", b"b/"):
        path = path[2:]
    return path.decode()


def patch_paths(patch):
    out = []
    for line in patch.splitlines():
        if line.startswith("+++ ") or line.startswith("--- "):
            p = strip_prefix(line[4:].encode())
            if p and p not in out:
                out.append(p)
    return out


def apply_unified(patch, read):
    """{path: new bytes or None (deleted)} from a plain unified diff applied exactly to
    `read(path)`; None when the diff has anything but plain hunks (renames, modes, binary)."""
    lines = patch.encode().split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    out = {}
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith((b"diff --git ", b"index ", b"new file mode 100644", b"deleted file mode 100644")):
            i += 1
            continue
        if not line.startswith(b"--- "):
            if line.strip():
                return None  # rename, mode change, binary patch, ...
            i += 1
            continue
        if i + 1 >= len(lines) or not lines[i + 1].startswith(b"+++ "):
            raise PatchError("--- without +++")
        old_path, new_path = strip_prefix(line[4:]), strip_prefix(lines[i + 1][4:])
        if old_path and new_path and old_path != new_path:
            return None
        path = new_path or old_path
        i += 2
        source = read(path)
        if (source is None) != (old_path is None):
            raise PatchError("%s: %s" % (path, "no such file" if old_path else "already exists"))
        old = split_lines(source) if source is not None else []
        new = []
        pos = 0
        while i < len(lines) and lines[i].startswith(b"@@"):
            m = HUNK.match(lines[i])
            if not m:
                raise PatchError("bad hunk header")
            start = int(m.group(1)) - (0 if m.group(2) == b"0" else 1)
            if start < pos or start > len(old):
                raise PatchError("hunk out of order")
            new.extend(old[pos:start])
            pos = start
            i += 1
            old_left = int(m.group(2)) if m.group(2) is not None else 1
            new_left = int(m.group(4)) if m.group(4) is not None else 1
            # Hunk lines with their line ends: "\n" unless "\ No newline at end of file" follows.
            while old_left > 0 or new_left > 0:
                if i >= len(lines) or lines[i][:1] not in (b" ", b"-", b"+", b""):
                    raise PatchError("hunk shorter than its header says")
                tag, text = (lines[i][:1] or b" "), lines[i][1:]
                old_left -= tag != b"+"
                new_left -= tag != b"-"
                i += 1
                if i < len(lines) and lines[i].startswith(b"\\"):
                    i += 1
                else:
                    text += b"\n"
                if tag == b"+":
                    new.append(text)
                    continue
                if pos >= len(old) or old[pos] != text:
                    raise PatchError("context mismatch")
                if tag == b" ":
                    new.append(text)
                pos += 1
        new.extend(old[pos:])
        out[path] = b"".join(new) if new_path else None
    return out


def split_lines(data):
    parts = data.split(b"\n")
    out = [p + b"\n" for p in parts[:-1]]
    if parts[-1]:
        out.append(parts[-1])
    return out


# ---------------------------------------------------------------------------------------------
# Hot swap: changed function code into the live functions.


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


def plan_hot_swap(path, old, new_source):
    """(old code, new code) pairs to swap, or None when only a cold reload is correct. `old` is
    the clean file's code tree."""
    try:
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


def plan_swaps(changed, state):
    """Every (function, new code) to swap for the files that differ from HEAD, or None when the
    cold path is needed. Planned in the parent, which keeps the clean files' code trees."""
    plan = []
    for path, (old_source, new_source) in changed.items():
        if old_source is None or new_source is None or not path.endswith(".py"):
            return None
        if path not in state.loaded:
            continue  # not imported in this process: a test that imports it reads it from disk
        if path not in state.clean_code:
            try:
                state.clean_code[path] = code_tree(compile(old_source, path, "exec"), {})
            except SyntaxError:
                return None
        swaps = plan_hot_swap(path, state.clean_code[path], new_source)
        if swaps is None:
            return None
        for old_code, new_code in swaps:
            live = state.index.get((path, old_code.co_qualname), [])
            # Live functions still run exactly the code compiled from the original source; when
            # none does (a test module compiled by pytest's assertion rewriter), reload.
            same = [fn for fn in live if fn.__code__ == old_code]
            if live and not same:
                return None
            for fn in same:
                if len(fn.__code__.co_freevars) != len(new_code.co_freevars):
                    return None
                plan.append((fn, new_code))
    return plan


def loaded_files():
    """Real paths of the repository's modules imported in this process."""
    files = set()
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None) or ""
        if in_repo(path):
            files.add(os.path.realpath(path))
    return files


def try_plan_swaps(changed, state):
    try:
        return plan_swaps(changed, state)
    except Exception:  # e.g. no co_qualname before Python 3.11: reload instead
        return None


def cold_reload():
    for name, module in list(sys.modules.items()):
        if in_repo(getattr(module, "__file__", None) or ""):
            del sys.modules[name]
    linecache.clearcache()


# ---------------------------------------------------------------------------------------------
# Results: what pytest's JUnit XML report would record, per test.


def address(nodeid):
    """pytest's JUnit (classname parts..., name) for a node id: the key a test is found by."""
    path, bracket, params = nodeid.partition("[")
    names = path.split("::")
    names[0] = re.sub(r"\.py$", "", names[0].replace("/", "."))
    names[-1] += bracket + params
    return tuple(names)


def reason(report):
    crash = getattr(report.longrepr, "reprcrash", None)
    return crash.message if crash is not None else str(report.longrepr)


class Reporter:
    """Collects per-test results from report hooks and streams them to a file descriptor."""

    def __init__(self, fd):
        self.fd = fd
        self.tests = {}

    def entry(self, report):
        t = self.tests.get(report.nodeid)
        if t is None:
            names = address(report.nodeid)
            location = getattr(report, "location", None)
            t = {"nodeid": report.nodeid, "classname": ".".join(names[:-1]), "name": names[-1],
                 "file": location[0] if location else "", "status": None, "message": "", "seconds": 0.0}
            self.tests[report.nodeid] = t
        return t

    def set(self, t, status, message):
        # As the JUnit report reads back: the first outcome, unless it passed or an error follows.
        if t["status"] in (None, "passed") or status == "error":
            t["status"], t["message"] = status, message

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_logreport(self, report):
        t = self.entry(report)
        t["seconds"] += getattr(report, "duration", 0.0) or 0.0
        if report.passed:
            if report.when == "call":
                self.set(t, "passed", "")
        elif report.failed:
            if report.when == "call":
                if hasattr(report, "wasxfail"):
                    self.set(t, "skipped", "xfail-marked test passes unexpectedly")
                else:
                    self.set(t, "failed", reason(report))
            else:
                what = "teardown" if report.when == "teardown" else "setup"
                self.set(t, "error", 'failed on %s with "%s"' % (what, reason(report)))
        elif report.skipped:
            if hasattr(report, "wasxfail"):
                self.set(t, "xfail", str(report.wasxfail))
            else:
                self.set(t, "skipped", reason(report) if report.longrepr else "")
        if report.when == "teardown":
            self.send(t)

    @pytest.hookimpl(trylast=True)
    def pytest_collectreport(self, report):
        if report.failed:
            t = self.entry(report)
            t["classname"], t["name"] = "", ".".join(address(report.nodeid))
            self.set(t, "error", "collection failure")
            self.send(t)

    def send(self, t):
        if t["status"] is None:
            t["status"] = "error"
        write_all(self.fd, (json.dumps(t) + "\n").encode())


class Selector:
    """Keeps only the requested tests (all when none are named), in collection order."""

    def __init__(self, keys):
        self.keys = keys

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items):
        if self.keys is not None:
            items[:] = [item for item in items if address(item.nodeid) in self.keys]


def write_all(fd, data):
    while data:
        n = os.write(fd, data)
        data = data[n:]


def cache_assertion_rewrites():
    """Remember the code pytest's assertion rewriter makes per (file, source), so a cold child
    re-importing unchanged test modules and conftests skips re-parsing and re-rewriting them.
    (The rewriter's own cache is .pyc files, which the runner does not write.)"""
    try:
        from _pytest.assertion import rewrite
        original = rewrite._rewrite_test
    except (ImportError, AttributeError):
        return
    cache = {}

    def cached(fn, config, *args, **kwargs):
        try:
            with open(fn, "rb") as f:
                key = (str(fn), f.read())
        except OSError:
            return original(fn, config, *args, **kwargs)
        hit = cache.get(key)
        if hit is not None:
            return os.stat(fn), hit
        stat, code = original(fn, config, *args, **kwargs)
        cache[key] = code
        return stat, code

    rewrite._rewrite_test = cached


def cheap_failure_reports():
    """Failures keep their message (what the JUnit report records) but skip formatting the
    traceback, which nothing reads here and which costs more than many tests."""
    try:
        from _pytest._code.code import ExceptionInfo, ReprExceptionInfo, ReprTracebackNative
    except ImportError:
        return
    original = ExceptionInfo.getrepr

    def getrepr(self, *args, **kwargs):
        try:
            crash = self._getreprcrash()
            if crash is None:
                return original(self, *args, **kwargs)
            return ReprExceptionInfo(reprtraceback=ReprTracebackNative([self.exconly()]), reprcrash=crash)
        except Exception:
            return original(self, *args, **kwargs)

    ExceptionInfo.getrepr = getrepr


# ---------------------------------------------------------------------------------------------
# Serving.


class Server:
    """A pytest plugin: after collection, the run loop serves requests instead of running."""

    def __init__(self, requests, answers):
        self.requests = requests
        self.answers = answers
        self.served = False
        self.session = None

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session):
        self.served = True
        self.session = session
        # No items here (a plugin such as xdist collects in other processes): every request
        # takes the cold path.
        serve(self.requests, self.answers, session, hot=bool(session.items))
        return True


class State:
    """What the parent holds between requests."""

    def __init__(self, session, hot, startup):
        self.startup = startup
        self.tree = Tree()
        # The session's capture manager holds the standard streams: a cold child stops it.
        self.capman = session.config.pluginmanager.getplugin("capturemanager") if session is not None else None
        session = session if hot else None
        self.session = session
        self.items = list(session.items) if session is not None else []
        self.by_address = {}
        for n, item in enumerate(self.items):
            self.by_address.setdefault(address(item.nodeid), n)
        self.index = live_functions()
        self.loaded = loaded_files()
        self.clean_code = {}


def serve(requests, answers, session, hot=True):
    state = State(session, hot, time.monotonic() - STARTED)
    gc.collect()
    if hasattr(gc, "freeze"):
        gc.freeze()  # forked children do not copy the collected objects' pages
    answer(answers, {"ready": True, "served": state.session is not None, "items": len(state.items), "functions": len(state.index)})
    for line in requests:
        line = line.strip()
        if not line:
            continue
        try:
            resp = handle(json.loads(line), state)
        except Exception as e:  # report, keep serving
            resp = {"id": "", "ok": False, "stage": "error", "exit": -1, "tests": [], "mode": "", "detail": repr(e), "ms": 0}
            try:
                state.tree.reset()
            except Exception:
                pass
        answer(answers, resp)


def answer(answers, obj):
    answers.write(json.dumps(obj) + "\n")
    answers.flush()


def handle(req, state):
    start = time.monotonic()
    phases = {}
    out = {"id": req.get("id", ""), "ok": False, "stage": "apply", "exit": -1, "tests": [], "mode": "", "detail": "",
           "phases": phases}

    def lap(name, since):
        now = time.monotonic()
        phases[name] = round((now - since) * 1000, 1)
        return now

    patch = req.get("patch") or ""
    t = start
    if patch:
        err = state.tree.apply(patch)
        if err is not None:
            out["detail"] = err
            state.tree.reset()
            out["ms"] = int((time.monotonic() - start) * 1000)
            return out
    plan = None if req.get("cold") or state.session is None else try_plan_swaps(state.tree.changed(), state)
    t = lap("apply", t)
    code, stage, tests, mode, detail = run_tests(req.get("tests") or [], float(req.get("timeout", 60)), plan, state,
                                                 phases)
    t = lap("run", t)
    out.update(exit=code, stage=stage, ok=stage == "done", tests=tests, mode=mode, detail=detail)
    if not req.get("keep"):
        state.tree.reset()
    lap("reset", t)
    out["ms"] = int((time.monotonic() - start) * 1000)
    return out


def run_tests(tests, timeout, plan, state, phases):
    """Fork; the child updates its code and runs the tests; the parent collects the results
    and enforces the timeout."""
    if plan is None:
        # A cold child starts a pytest session of its own first: allow what starting took here.
        timeout += max(1.0, 2 * state.startup)
    # Results go to a file, not the pipe: a write to a pipe wakes the parent and, on a busy
    # machine, hands it the CPU once per test. The pipe only says when the child is gone (EOF).
    out_fd = os.open(RESULTS, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    read_fd, write_fd = os.pipe()
    forked = time.monotonic()
    pid = os.fork()
    if pid == 0:
        code = 99
        try:
            os.close(read_fd)
            os.setpgid(0, 0)
            code = child(tests, plan, state, out_fd, forked)
        except BaseException as e:
            try:
                write_all(out_fd, (json.dumps({"crash": repr(e)[:2000]}) + "\n").encode())
            except BaseException:
                pass
        finally:
            os._exit(code)
    os.close(write_fd)
    deadline = time.monotonic() + timeout
    timed_out = False
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            timed_out = True
            break
        ready, _, _ = select.select([read_fd], [], [], left)
        if ready:
            if not os.read(read_fd, 1 << 16):
                break
    os.close(read_fd)
    if timed_out:
        for target in (-pid, pid):
            try:
                os.kill(target, signal.SIGKILL)
            except OSError:
                pass
    _, status = os.waitpid(pid, 0)
    code = -9 if timed_out else os.waitstatus_to_exitcode(status)
    os.lseek(out_fd, 0, os.SEEK_SET)
    with os.fdopen(out_fd, "rb") as f:
        written = f.read()
    results, mode, finished, detail = [], "", False, ""
    for line in written.decode(errors="replace").splitlines():
        try:
            msg = json.loads(line)
        except ValueError:  # empty, or cut short by a kill
            continue
        if "mode" in msg:
            mode = msg["mode"]
            phases["child_start"] = msg.get("ms", 0.0)
        elif "end" in msg:
            finished = True
            phases["tests"] = msg.get("ms", 0.0)
            phases["tests_cpu"] = msg.get("cpu_ms", 0.0)
        elif "crash" in msg:
            detail = msg["crash"]
        else:
            results.append(msg)
    if timed_out:
        return code, "timeout", results, mode, "timed out after %.1f s" % timeout
    if not finished:
        return code, "crash", results, mode, detail or "the test process exited with %d" % code
    return code, "done", results, mode, detail


def child(tests, plan, state, fd, forked):
    devnull = os.open(os.devnull, os.O_RDWR)
    for target in (0, 1, 2):
        os.dup2(devnull, target)
    hot = plan is not None
    cheap_failure_reports()
    for fn, code in plan or []:
        fn.__code__ = code
    began, cpu = time.monotonic(), time.process_time()
    write_all(fd, (json.dumps({"mode": "hot" if hot else "cold", "ms": round((began - forked) * 1000, 1)}) + "\n").encode())
    reporter = Reporter(fd)
    code = run_items(state, tests, reporter) if hot else run_fresh(state, tests, reporter)
    ms, cpu_ms = round((time.monotonic() - began) * 1000, 1), round((time.process_time() - cpu) * 1000, 1)
    write_all(fd, (json.dumps({"end": True, "ms": ms, "cpu_ms": cpu_ms}) + "\n").encode())
    return code


class QuietTerminal:
    """The terminal reporter without its hooks: what plugins read from it (its writer, stats)
    is still there, but nothing prints progress per test (it went to /dev/null anyway)."""

    def __init__(self, real):
        self.__dict__["_real"] = real

    def __getattr__(self, name):
        return getattr(self._real, name)


def quiet_terminal(config):
    terminal = config.pluginmanager.get_plugin("terminalreporter")
    if terminal is not None:
        config.pluginmanager.unregister(terminal)
        config.pluginmanager.register(QuietTerminal(terminal), "terminalreporter")


def run_items(state, tests, reporter):
    """The selected collected items through pytest's per-test protocol, in collection order."""
    session, items, by_address = state.session, state.items, state.by_address
    if tests:
        wanted = sorted({by_address[k] for k in (address(t) for t in tests) if k in by_address})
        selected = [items[n] for n in wanted]
    else:
        selected = list(items)
    linecache.checkcache()
    config = session.config
    config.pluginmanager.register(reporter, "socratic-reporter")
    quiet_terminal(config)
    for n, item in enumerate(selected):
        nextitem = selected[n + 1] if n + 1 < len(selected) else None
        item.config.hook.pytest_runtest_protocol(item=item, nextitem=nextitem)
        if session.shouldfail or session.shouldstop:
            break
    statuses = [t["status"] for t in reporter.tests.values()]
    if not selected:
        return 5
    return 1 if any(s in ("failed", "error") for s in statuses) else 0


def run_fresh(state, tests, reporter):
    """A new pytest session over the selected tests' files, with the project re-imported."""
    items, by_address = state.items, state.by_address
    cold_reload()
    if state.capman is not None:
        state.capman.stop_global_capturing()
    keys = None
    args = []
    if tests:
        keys = {address(t) for t in tests}
        first = {}  # file -> where its first selected test was collected
        for t in tests:
            n = by_address.get(address(t))
            path = items[n].nodeid.split("::")[0] if n is not None else t.split("::")[0]
            first[path] = min(first.get(path, len(items)), n if n is not None else len(items))
        # A file that is gone (deleted by the patch) would stop the whole session: its tests are
        # simply missing from the results.
        args = sorted((p for p in first if os.path.exists(p)), key=lambda p: (first[p], p))
        if not args:
            return 5
    return int(pytest.main(PYTEST_ARGS + args, plugins=[Selector(keys), reporter]))


def main():
    # The protocol keeps the original stdin / stdout; everything the tests or pytest print goes
    # to /dev/null.
    requests = os.fdopen(os.dup(0), "r")
    answers = os.fdopen(os.dup(1), "w")
    devnull = os.open(os.devnull, os.O_RDWR)
    for target in (0, 1, 2):
        os.dup2(devnull, target)
    os.chdir(REPO)
    sys.path.insert(0, REPO)  # as `python -m pytest` does
    server = Server(requests, answers)
    cache_assertion_rewrites()
    try:
        pytest.main(PYTEST_ARGS, plugins=[server])
    except BaseException:
        pass
    if not server.served:
        serve(requests, answers, None)


if __name__ == "__main__":
    main()
