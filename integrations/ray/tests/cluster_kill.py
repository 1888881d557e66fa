"""A real Ray cluster on this machine; the node running a shard is killed while the shard is
provably mid-run.

In: the socratic binary, a head home holding candidates and their environment, the repository,
a node home, a dashboard port, a hold folder, a report path. Out: the report (JSON): the exit
code and output of `socratic cluster submit --wait validate` (and of `grade` with
``--then-grade``, one shard run on the surviving node afterwards), the shard runs each shard started
(from the hold folder), which node and shard were killed, and the shard processes left.

A head (the dashboard and Jobs API, where the job's driver runs; no ``socratic_docker``) and two
worker raylets (``socratic_docker: 1`` each) are started with ``ray.cluster_utils.Cluster``. The
raylets run with ``SOCRATIC_SHARD_HOLD`` set to the hold folder (test-only, see
``engine::shard``): every ``cluster run-shard`` writes ``start-<shard>-<pid>`` there, and after
its first verdict writes ``held-<shard>-<pid>`` and waits for ``release``. Nothing here sleeps
to let something happen: as soon as one shard is held, the node whose raylet is an ancestor of
that process is removed without grace and every process it started is killed (the machine
dying); once that shard process is gone, ``release`` is written. The other shard then finishes,
and Ray reruns the killed one on the surviving node. The cluster is shut down on every exit path.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

from ray.cluster_utils import Cluster

HOLD_VAR = "SOCRATIC_SHARD_HOLD"


def run_shard_pids(marker):
    """Pids of running `socratic ... cluster run-shard` processes whose command line names `marker`."""
    pids = set()
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                words = f.read().split(b"\0")
        except OSError:
            continue
        if b"run-shard" in words and any(marker.encode() in w for w in words):
            pids.add(int(pid))
    return pids


def parent_of(pid):
    """The parent pid of a running process, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    # Field 4, counted after the command name's closing parenthesis (the name may hold spaces).
    return int(stat[stat.rindex(")") + 2 :].split()[1])


def ancestors(pid):
    chain = []
    while pid and pid > 1:
        pid = parent_of(pid)
        if pid:
            chain.append(pid)
    return chain


def descendants(root):
    """Every running process below `root`."""
    children = {}
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            parent = parent_of(int(pid))
            if parent:
                children.setdefault(parent, []).append(int(pid))
    out, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def raylet_pid(node):
    return node.all_processes["raylet"][0].process.pid


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return parent_of(pid) is not None


def wait_for(what, check, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise SystemExit(f"timed out after {timeout} s waiting for {what}")


def dashboard_up(url):
    try:
        with urllib.request.urlopen(url + "/api/version", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def markers(hold, prefix):
    """{shard: [pids]} of the `<prefix>-<shard>-<pid>` files in the hold folder."""
    out = {}
    for name in os.listdir(hold):
        parts = name.split("-")
        if len(parts) == 3 and parts[0] == prefix:
            out.setdefault(int(parts[1]), []).append(int(parts[2]))
    return out


def kill_node_of(cluster, workers, pid):
    """Remove the worker node whose raylet is an ancestor of `pid`, then kill what it started."""
    chain = ancestors(pid)
    node = next((w for w in workers if raylet_pid(w) in chain), None)
    if node is None:
        raise SystemExit(f"shard process {pid} (ancestors {chain}) belongs to no worker node")
    below = descendants(raylet_pid(node))
    cluster.remove_node(node, allow_graceful=False)
    for p in below:
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return node


def main():
    p = argparse.ArgumentParser()
    for flag in ["--socratic", "--home", "--repo", "--node-home", "--hold", "--report"]:
        p.add_argument(flag, required=True)
    p.add_argument("--dashboard-port", type=int, default=8265)
    p.add_argument("--shards", type=int, default=2)
    p.add_argument("--then-grade", default=None, help="a predictions file to grade on the cluster afterwards")
    a = p.parse_args()
    url = f"http://127.0.0.1:{a.dashboard_port}"
    started = time.time()
    report = {"killed": None, "killed_shard": None, "submit_rc": None, "submit_output": "", "seconds": {}}
    # Node failures are noticed within seconds, not the default ~30 s.
    system = {"health_check_initial_delay_ms": 0, "health_check_period_ms": 1000, "health_check_failure_threshold": 3}
    cluster = Cluster(
        initialize_head=True,
        head_node_args={
            "num_cpus": 1,
            "include_dashboard": True,
            "dashboard_host": "127.0.0.1",
            "dashboard_port": a.dashboard_port,
            "_system_config": system,
        },
    )
    submit = None
    try:
        # Only the worker raylets (and so their workers and shards) see the hold folder.
        os.environ[HOLD_VAR] = a.hold
        workers = [cluster.add_node(num_cpus=1, resources={"socratic_docker": 1}) for _ in range(2)]
        del os.environ[HOLD_VAR]
        cluster.wait_for_nodes()
        wait_for("the dashboard", lambda: dashboard_up(url), 120)
        report["seconds"]["cluster"] = round(time.time() - started, 1)
        cmd = [a.socratic, "--home", a.home, "cluster", "submit", "--address", url, "--wait", "--wait-timeout", "240"]
        cmd += ["--python", sys.executable, "--node-home", a.node_home, "--max-retries", "3"]
        cmd += ["validate", "--repo", a.repo, "--shards", str(a.shards), "--timeout", "30"]
        submit = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        held = wait_for("a shard held mid-run", lambda: markers(a.hold, "held"), 180)
        report["seconds"]["first_hold"] = round(time.time() - started, 1)
        shard, pids = sorted(held.items())[0]
        node = kill_node_of(cluster, workers, pids[0])
        report["killed"], report["killed_shard"] = node.unique_id, shard
        wait_for(f"shard process {pids[0]} to be gone", lambda: not alive(pids[0]), 30)
        with open(os.path.join(a.hold, "release"), "w"):
            pass
        report["seconds"]["released"] = round(time.time() - started, 1)
        out, _ = submit.communicate(timeout=240)
        report["submit_rc"], report["submit_output"] = submit.returncode, out
        report["seconds"]["done"] = round(time.time() - started, 1)
        # The validation's shard runs (a grade job's shards would count as runs too).
        report["starts"] = {str(k): v for k, v in markers(a.hold, "start").items()}
        if a.then_grade and submit.returncode == 0:
            cmd = [a.socratic, "--home", a.home, "cluster", "submit", "--address", url, "--wait"]
            cmd += ["--wait-timeout", "120", "--python", sys.executable, "--node-home", a.node_home]
            cmd += ["grade", "--predictions", a.then_grade, "--shards", "1"]
            graded = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=150)
            report["grade_rc"], report["grade_output"] = graded.returncode, graded.stdout
            report["seconds"]["graded"] = round(time.time() - started, 1)
    finally:
        if submit is not None and submit.poll() is None:
            submit.kill()
        cluster.shutdown()
        report.setdefault("starts", {str(k): v for k, v in markers(a.hold, "start").items()})
        # When each shard run started, in seconds since the script did (the hold files' times).
        report["started_at"] = {
            n: round(os.stat(os.path.join(a.hold, n)).st_mtime - started, 1)
            for n in sorted(os.listdir(a.hold))
            if n.startswith(("start-", "held-"))
        }
        report["held"] = {str(k): v for k, v in markers(a.hold, "held").items()}
        report["left_running"] = sorted(run_shard_pids(a.node_home))
        with open(a.report, "w") as f:
            json.dump(report, f)


if __name__ == "__main__":
    main()
