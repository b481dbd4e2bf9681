#!/usr/bin/env python3
"""Upload and download one large file through the running server (gunicorn, 2 workers, gthread)
on the local store, against `dd conv=fsync` on the same disk, with the server's peak RSS.

    python scripts/bench_artifacts.py [--size-mib 1024] [--dir PATH] [--json]
"""
from __future__ import annotations

import argparse
import json
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


def measure(size_mib: int, parent: str | None = None) -> dict:
    """Upload and download one `size_mib` file through gunicorn on the local store."""
    work = Path(tempfile.mkdtemp(dir=parent, prefix="modelyard-bench-"))
    source = work / "source.bin"
    with open(source, "wb") as out:  # random-ish bytes, written once, so dedup cannot help
        block = os.urandom(1 << 20)
        for index in range(size_mib):
            out.write(block[:-8] + index.to_bytes(8, "big"))
    with benchlib.server(str(work / "data"), extra_args=("--timeout", "600")) as (server, url):
        benchlib.session().post(f"{url}/api/v1/models", json={"name": "big"}).raise_for_status()
        benchlib.session().post(f"{url}/api/v1/models/big/versions", json={}).raise_for_status()
        rss_before = benchlib.tree_rss_kib(server.pid, "VmRSS")
        file_url = f"{url}/api/v1/models/big/versions/1/files/model.bin"
        started = time.perf_counter()
        with open(source, "rb") as body:
            benchlib.session().put(file_url, data=body).raise_for_status()
        upload_s = time.perf_counter() - started
        started = time.perf_counter()
        with benchlib.session().get(file_url, stream=True) as response:
            response.raise_for_status()
            received = sum(len(chunk) for chunk in response.iter_content(1 << 20))
        download_s = time.perf_counter() - started
        assert received == size_mib << 20
        rss_peak = benchlib.tree_rss_kib(server.pid, "VmHWM")
    result = {"size_mib": size_mib, "upload_mb_s": round(size_mib / upload_s, 1),
              "download_mb_s": round(size_mib / download_s, 1),
              "dd_fsync_mb_s": round(_dd_reference(work / "dd.bin", size_mib), 1),
              "server_rss_before_mib": round(rss_before / 1024, 1),
              "server_peak_rss_mib": round(rss_peak / 1024, 1)}
    subprocess.run(["rm", "-rf", str(work)], check=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--dir", default=None, help="work folder (default: a temporary one)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = measure(args.size_mib, args.dir)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for key, value in result.items():
            print(f"{key:<24}{value}")


if __name__ == "__main__":
    main()
