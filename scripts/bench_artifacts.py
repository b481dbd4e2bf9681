#!/usr/bin/env python3
"""Upload and download one large file through the running server (gunicorn, 2 workers, gthread)
on the local store, against `dd conv=fsync` on the same disk, with the server's peak RSS.

    python scripts/bench_artifacts.py [--size-mib 1024] [--dir PATH] [--json]
"""
from __future__ import annotations

import argparse
import json
import statistics
import os
import subprocess
import tempfile
import time
from pathlib import Path


import benchlib


def _dd_reference(path: Path, size_mib: int) -> float:
    started = time.perf_counter()
    subprocess.run(["dd", "if=/dev/zero", f"of={path}", "bs=1M", f"count={size_mib}",
                    "conv=fsync", "status=none"], check=True)
    elapsed = time.perf_counter() - started
    path.unlink()
    return size_mib / elapsed


def _source(path: Path, size_mib: int, round_: int) -> None:
    """Random-ish bytes, different in every round so dedup cannot help, flushed to disk before
    timing starts: the input's own writeback is not the upload's cost."""
    block = os.urandom(1 << 20)
    with open(path, "wb") as out:
        for index in range(size_mib):
            out.write(block[:-16] + round_.to_bytes(8, "big") + index.to_bytes(8, "big"))
        out.flush()
        os.fsync(out.fileno())


def measure(size_mib: int, parent: str | None = None, rounds: int = 3) -> dict:
    """Upload and download a `size_mib` file through gunicorn on the local store, `rounds`
    times (medians kept: this VM's disk answers fsync fast or slow from one run to the next),
    with `dd conv=fsync` on the same disk as the reference and the server's peak RSS."""
    work = Path(tempfile.mkdtemp(dir=parent, prefix="modelyard-bench-"))
    source = work / "source.bin"
    uploads, downloads, dds = [], [], []
    with benchlib.server(str(work / "data"), extra_args=("--timeout", "600")) as (server, url):
        benchlib.session().post(f"{url}/api/v1/models", json={"name": "big"}).raise_for_status()
        rss_before = benchlib.tree_rss_kib(server.pid, "VmRSS")
        for round_ in range(1, rounds + 1):
            _source(source, size_mib, round_)
            benchlib.session().post(f"{url}/api/v1/models/big/versions", json={}).raise_for_status()
            file_url = f"{url}/api/v1/models/big/versions/{round_}/files/model.bin"
            started = time.perf_counter()
            with open(source, "rb") as body:
                benchlib.session().put(file_url, data=body).raise_for_status()
            uploads.append(size_mib / (time.perf_counter() - started))
            started = time.perf_counter()
            with benchlib.session().get(file_url, stream=True) as response:
                response.raise_for_status()
                received = sum(len(chunk) for chunk in response.iter_content(1 << 20))
            downloads.append(size_mib / (time.perf_counter() - started))
            assert received == size_mib << 20
            dds.append(_dd_reference(work / "dd.bin", size_mib))
        rss_peak = benchlib.tree_rss_kib(server.pid, "VmHWM")
    subprocess.run(["rm", "-rf", str(work)], check=True)
    return {"size_mib": size_mib, "rounds": rounds,
            "upload_mb_s": round(statistics.median(uploads), 1),
            "download_mb_s": round(statistics.median(downloads), 1),
            "dd_fsync_mb_s": round(statistics.median(dds), 1),
            "upload_mb_s_each": [round(value) for value in uploads],
            "dd_fsync_mb_s_each": [round(value) for value in dds],
            "server_rss_before_mib": round(rss_before / 1024, 1),
            "server_peak_rss_mib": round(rss_peak / 1024, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--dir", default=None, help="work folder (default: a temporary one)")
    parser.add_argument("--rounds", type=int, default=3, help="uploads timed (median kept)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = measure(args.size_mib, args.dir, args.rounds)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for key, value in result.items():
            print(f"{key:<24}{value}")


if __name__ == "__main__":
    main()
