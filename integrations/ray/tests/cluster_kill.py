"""A real Ray cluster on this machine, one worker killed mid-run.

In: the socratic binary, a head home holding candidates and their environment, the repository,
a node home, a dashboard port, a report path. Out: the report (JSON): the exit code and output of
`socratic cluster submit --wait validate`, the pids of every `cluster run-shard` seen, and which
node was killed. A head (no socratic_docker resource, the dashboard and Jobs API) and two worker
raylets (socratic_docker: 1, one CPU each) are started with ``ray.cluster_utils.Cluster``; once
both shards run, the first worker is removed without grace; Ray reruns its shard on the other.
The cluster is shut down on every exit path.
"""

import argparse
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request

from ray.cluster_utils import Cluster


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


def wait_for(what, check, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise SystemExit(f"timed out after {timeout} s waiting for {what}")


def dashboard_up(url):
    try:
        with urllib.request.urlopen(url + "/api/version", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def main():
    p = argparse.ArgumentParser()
    for flag in ["--socratic", "--home", "--repo", "--node-home", "--report"]:
        p.add_argument(flag, required=True)
    p.add_argument("--dashboard-port", type=int, default=8265)
    p.add_argument("--shards", type=int, default=2)
    a = p.parse_args()
    url = f"http://127.0.0.1:{a.dashboard_port}"
    report = {"killed": None, "run_shard_pids": [], "submit_rc": None, "submit_output": ""}
    cluster = Cluster(
        initialize_head=True,
        head_node_args={
            "num_cpus": 1,
            "include_dashboard": True,
            "dashboard_host": "127.0.0.1",
            "dashboard_port": a.dashboard_port,
        },
    )
    seen, stop = set(), threading.Event()

    def watch():
        while not stop.is_set():
            seen.update(run_shard_pids(a.node_home))
            time.sleep(0.1)

    watcher = threading.Thread(target=watch, daemon=True)
    submit = None
    try:
        workers = [cluster.add_node(num_cpus=1, resources={"socratic_docker": 1}) for _ in range(2)]
        cluster.wait_for_nodes()
        wait_for("the dashboard", lambda: dashboard_up(url), 120)
        watcher.start()
        cmd = [a.socratic, "--home", a.home, "cluster", "submit", "--address", url, "--wait", "--wait-timeout", "240"]
        cmd += ["--python", sys.executable, "--node-home", a.node_home, "--max-retries", "3"]
        cmd += ["validate", "--repo", a.repo, "--shards", str(a.shards), "--timeout", "30"]
        submit = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        wait_for("both shards running", lambda: len(run_shard_pids(a.node_home)) >= 2, 180)
        time.sleep(2)
        cluster.remove_node(workers[0], allow_graceful=False)
        report["killed"] = workers[0].unique_id
        out, _ = submit.communicate(timeout=240)
        report["submit_rc"], report["submit_output"] = submit.returncode, out
    finally:
        stop.set()
        if submit is not None and submit.poll() is None:
            submit.kill()
        cluster.shutdown()
        report["run_shard_pids"] = sorted(seen)
        report["left_running"] = sorted(run_shard_pids(a.node_home))
        with open(a.report, "w") as f:
            json.dump(report, f)


if __name__ == "__main__":
    main()
