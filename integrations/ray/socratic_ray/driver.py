"""The driver: plan shards on the head, run each as a Ray task, import the results.

In: argv (driver options, then the kind and its ``socratic cluster shards`` arguments). Out:
result files under the work folder and the import's summary (JSON) on stdout; exit 0 when every
shard's results were imported, 1 otherwise. Each shard task asks for one ``socratic_docker``
resource (and ``--gpus`` GPUs), is retried by Ray when its worker or node dies (``max_retries``),
and runs ``socratic cluster run-shard`` on the node it lands on; the shard file travels as bytes,
so nodes need no shared file system.
"""

import argparse
import ctypes
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

RESOURCE = "socratic_docker"


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m socratic_ray", description=__doc__)
    p.add_argument("--socratic", default="socratic", help="the socratic binary on the head")
    p.add_argument("--home", required=True, help="the head's socratic home (its store receives the results)")
    p.add_argument("--node-socratic", default=None, help="the socratic binary on the nodes (default: --socratic)")
    p.add_argument("--node-home", default=None, help="the socratic home on the nodes (default: theirs)")
    p.add_argument("--node-repo", default=None, help="where the nodes have the repository checked out")
    p.add_argument("--workers", type=int, default=1, help="warm containers per shard")
    p.add_argument("--gpus", type=float, default=0, help="GPUs per shard (scoring shards)")
    p.add_argument("--max-retries", type=int, default=3, help="Ray re-runs of a shard whose worker died")
    p.add_argument("--work-dir", default=None, help="where shard and result files go (default: a new folder)")
    p.add_argument("--address", default=None, help="ray.init address (default: the job's cluster)")
    p.add_argument("kind", choices=["validate", "grade", "env-build", "score"])
    p.add_argument("rest", nargs=argparse.REMAINDER, help="arguments of `socratic cluster shards KIND`")
    return p.parse_args(argv)


def shard_options(kind, gpus, max_retries, index=None, nodes=None):
    """Ray task options of a shard: the socratic resource, GPUs, retries; env-build shards are
    spread one per node when the node ids are known."""
    opts = {"resources": {RESOURCE: 1}, "num_cpus": 0, "max_retries": max_retries, "retry_exceptions": False}
    if gpus:
        opts["num_gpus"] = gpus
    if kind == "env-build" and nodes:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        opts["scheduling_strategy"] = NodeAffinitySchedulingStrategy(node_id=nodes[index % len(nodes)], soft=True)
    return opts


def _die_with_parent():
    """In the child: SIGKILL when the Ray worker that started it dies (a killed node leaves no
    socratic behind; its containers are swept by the next shard run in that home)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def run_shard(shard_bytes, socratic, home, repo, workers):
    """Run one shard on this node; returns (result file bytes, node name)."""
    with tempfile.TemporaryDirectory(prefix="socratic-shard-") as tmp:
        src, out = os.path.join(tmp, "shard.json"), os.path.join(tmp, "result.json")
        with open(src, "wb") as f:
            f.write(shard_bytes)
        cmd = [socratic] + (["--home", home] if home else [])
        cmd += ["cluster", "run-shard", "--input", src, "--out", out, "--workers", str(workers)]
        if repo:
            cmd += ["--repo", repo]
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=_die_with_parent)
        if proc.returncode != 0:
            raise RuntimeError(
                f"`{' '.join(cmd)}` exited {proc.returncode} on {os.uname().nodename}: "
                f"{proc.stderr.decode(errors='replace')[-2000:]}"
            )
        with open(out, "rb") as f:
            return f.read()


def _socratic(args, *rest):
    cmd = [args.socratic, "--home", args.home, *rest]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if proc.returncode != 0:
        raise SystemExit(f"`{' '.join(cmd)}` exited {proc.returncode}: {proc.stderr.decode(errors='replace')}")
    return json.loads(proc.stdout)


def _docker_nodes():
    import ray

    return [n["NodeID"] for n in ray.nodes() if n.get("Alive") and n.get("Resources", {}).get(RESOURCE, 0) > 0]


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    import ray

    work = args.work_dir or os.path.join(args.home, "cluster", time.strftime("%Y%m%dT%H%M%S") + f"-{os.getpid()}")
    inputs, results = os.path.join(work, "shards"), os.path.join(work, "results")
    os.makedirs(results, exist_ok=True)
    rest = [a for a in args.rest if a != "--"]
    planned = _socratic(args, "cluster", "shards", "--out", inputs, "--json", args.kind, *rest)
    print(f"socratic_ray: {len(planned['files'])} {args.kind} shard(s) in {inputs}", flush=True)
    if not planned["files"]:
        print(json.dumps({"shards": 0}), flush=True)
        return 0

    package = os.path.dirname(os.path.abspath(__file__))
    # Under `socratic cluster submit` the job's runtime_env already ships this package to every
    # worker; run by hand, the driver ships itself.
    in_job = "RAY_JOB_CONFIG_JSON_ENV_VAR" in os.environ
    ray.init(address=args.address, runtime_env=None if in_job else {"py_modules": [package]})
    task = ray.remote(run_shard)
    nodes = _docker_nodes() if args.kind == "env-build" else None
    if args.kind != "env-build" and not _docker_nodes():
        print(f"socratic_ray: no node has the {RESOURCE} resource yet; the shards wait for one", flush=True)
    node_bin = args.node_socratic or args.socratic
    pending = {}
    for i, path in enumerate(planned["files"]):
        with open(path, "rb") as f:
            data = f.read()
        opts = shard_options(args.kind, args.gpus, args.max_retries, i, nodes)
        ref = task.options(**opts).remote(data, node_bin, args.node_home, args.node_repo, args.workers)
        pending[ref] = os.path.basename(path)
    written, failed = [], []
    while pending:
        done, _ = ray.wait(list(pending), num_returns=1)
        name = pending.pop(done[0])
        try:
            data = ray.get(done[0])
        except Exception as e:  # a shard that failed for good (retries spent, or socratic refused it)
            failed.append(name)
            print(f"socratic_ray: shard {name} failed: {e}", file=sys.stderr, flush=True)
            continue
        out = os.path.join(results, name)
        with open(out, "wb") as f:
            f.write(data)
        written.append(out)
        print(f"socratic_ray: shard {name} done ({len(written)}/{len(written) + len(pending) + len(failed)})", flush=True)
    summary = _socratic(args, "tasks", "import-results", *written, "--json") if written else {}
    summary["failed_shards"] = failed
    summary["work_dir"] = work
    print(json.dumps(summary), flush=True)
    return 1 if failed else 0
