#!/usr/bin/env python3
"""Route a corpus with moe-router on a Dask cluster (dask + distributed), two ways.

  pipes   dask.bag partitions of the file, each piped through `moe-router route -` (as Spark's
          RDD.pipe and Hadoop Streaming do). Inside a partition moe-router's `index` counts from 0,
          so each routing line is zipped with its input line: OUT/routed-NNNNN.tsv holds
          "<input line><TAB><routing JSON>", one line per record, partitions in file order.
  shards  N tasks; task i runs `moe-router route CORPUS --shard i/N --out OUT/part-i.jsonl
          --stats OUT/stats-i.json`, then `moe-router merge-stats` and the parts concatenated in
          order: OUT/routed.jsonl is byte for byte a single-machine `moe-router route CORPUS`.

Every worker needs `moe-router` on its PATH and CORPUS and OUT at the same path (a shared file
system). A worker that dies takes its task with it; the scheduler runs the task again elsewhere.
Each output file is written under a temporary name and renamed when complete, so a rerun replaces
a part, never adds one: no part lost, none twice (a killed attempt may leave a *.tmp-* file).

Usage:
  python3 route_dask.py pipes  CORPUS.jsonl OUT [--partitions 8] [--workers 3 | --scheduler ADDR]
  python3 route_dask.py shards CORPUS.jsonl OUT [--parts 8]      [--workers 3 | --scheduler ADDR]
Prints one JSON object on stdout: what ran where.
"""
import argparse
import json
import os
import shlex
import subprocess
import sys

import dask
from dask import bag as db
from distributed import Client, LocalCluster, get_worker

# What every partition is piped through: the same command as the Spark and Hadoop recipes.
PIPE_COMMAND = "moe-router route - --format jsonl --backend cpu -q"


def route_partition(lines):
    """Routes one partition (lines as read, each ending in LF except maybe the file's last)."""
    data = "".join(line if line.endswith("\n") else line + "\n" for line in lines).encode("utf-8")
    proc = subprocess.run(shlex.split(PIPE_COMMAND), input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if proc.returncode != 0:
        raise RuntimeError(f"moe-router exited with {proc.returncode}: {proc.stderr.decode(errors='replace').strip()}")
    routed = proc.stdout.decode("utf-8").split("\n")[:-1]
    if len(routed) != len(lines):  # moe-router writes one line per record; anything else is a bug
        raise RuntimeError(f"moe-router wrote {len(routed)} lines for {len(lines)} records")
    return [line.rstrip("\n") + "\t" + routing for line, routing in zip(lines, routed)]


def write_lines(lines, path):
    """Writes one partition's lines under a temporary name, then renames it: a rerun replaces it."""
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        for line in lines:
            f.write(line + "\n")
    os.replace(tmp, path)
    return {"file": os.path.basename(path), "records": len(lines), "worker": get_worker().address}


def run_pipes(client, corpus, out, partitions):
    size = os.path.getsize(corpus)
    lines = db.read_text(corpus, blocksize=max(1, -(-size // partitions)), linedelimiter="\n")
    routed = lines.map_partitions(route_partition)
    writes = [
        dask.delayed(write_lines)(part, os.path.join(out, f"routed-{i:05d}.tsv"))
        for i, part in enumerate(routed.to_delayed())
    ]
    return {"mode": "pipes", "partitions": list(dask.compute(*writes))}


def route_part(corpus, index, count, out):
    """One --shard task. Its files are its own (part-i, stats-i): a rerun writes the same bytes."""
    cmd = ["moe-router", "route", corpus, "--shard", f"{index}/{count}", "--backend", "cpu", "-q",
           "--out", os.path.join(out, f"part-{index}.jsonl"), "--stats", os.path.join(out, f"stats-{index}.json")]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE)
    _, err = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"part {index}/{count}: moe-router exited with {proc.returncode}: {err.decode(errors='replace').strip()}")
    return {"part": index, "pid": proc.pid, "worker": get_worker().address}


def run_shards(client, corpus, out, count):
    futures = client.map(route_part, [corpus] * count, range(count), [count] * count, [out] * count, pure=False)
    parts = client.gather(futures)
    subprocess.run(["moe-router", "merge-stats", *[os.path.join(out, f"stats-{i}.json") for i in range(count)],
                    "--out", os.path.join(out, "stats.json")], check=True)
    routed = os.path.join(out, "routed.jsonl")
    with open(routed + ".tmp", "wb") as whole:
        for i in range(count):
            with open(os.path.join(out, f"part-{i}.jsonl"), "rb") as part:
                while chunk := part.read(1 << 20):
                    whole.write(chunk)
    os.replace(routed + ".tmp", routed)
    return {"mode": "shards", "parts": parts}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("mode", choices=["pipes", "shards"])
    ap.add_argument("corpus")
    ap.add_argument("out")
    ap.add_argument("--partitions", type=int, default=8, help="pipes: number of partitions (by bytes)")
    ap.add_argument("--parts", type=int, default=8, help="shards: number of --shard tasks")
    ap.add_argument("--scheduler", help="address of a running scheduler (default: start a local cluster)")
    ap.add_argument("--workers", type=int, default=3, help="worker processes of the local cluster")
    args = ap.parse_args()
    corpus, out = os.path.abspath(args.corpus), os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    if args.scheduler:
        client = Client(args.scheduler)
    else:
        cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
    try:
        workers = client.run(os.getpid)  # worker address -> process id
        if args.mode == "pipes":
            result = run_pipes(client, corpus, out, args.partitions)
        else:
            result = run_shards(client, corpus, out, args.parts)
        result["workers"] = workers
        print(json.dumps(result), flush=True)
    finally:
        client.close()
        if not args.scheduler:
            cluster.close()


if __name__ == "__main__":
    sys.exit(main())
