#!/usr/bin/env python3
"""Upload and download one large file through the running server (gunicorn, 2 workers, gthread)
on the local store, against `dd conv=fsync` on the same disk, with the server's peak RSS.

    python scripts/bench_artifacts.py [--size-mib 1024] [--dir PATH] [--json]
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _tree_rss_kib(pid: int, key: str) -> int:
    """Sum of `key` (VmRSS or VmHWM) over the gunicorn master and its workers."""
    pids = [pid] + [int(child) for child in
                    Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    total = 0
    for one in pids:
        for line in Path(f"/proc/{one}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                total += int(line.split()[1])
    return total


def _dd_reference(path: Path, size_mib: int) -> float:
    started = time.perf_counter()
    subprocess.run(["dd", "if=/dev/zero", f"of={path}", "bs=1M", f"count={size_mib}",
                    "conv=fsync", "status=none"], check=True)
    elapsed = time.perf_counter() - started
    path.unlink()
    return size_mib / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--dir", default=None, help="work folder (default: a temporary one)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(dir=args.dir, prefix="modelyard-bench-"))
    source = work / "source.bin"
    with open(source, "wb") as out:  # random-ish bytes, written once, so dedup cannot help
        block = os.urandom(1 << 20)
        for index in range(args.size_mib):
            out.write(block[:-8] + index.to_bytes(8, "big"))
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "MODELYARD_SERVER_DATA_DIR": str(work / "data"), "DATABASE_URL": "",
           "MODELYARD_CONFIG": ""}
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-k", "gthread", "-w", "2", "--threads", "8",
         "--timeout", "600", "-b", f"127.0.0.1:{port}", "registry.wsgi:app"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        for _ in range(300):
            try:
                if requests.get(f"{url}/healthz", timeout=1).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.1)
        requests.post(f"{url}/api/v1/models", json={"name": "big"}).raise_for_status()
        requests.post(f"{url}/api/v1/models/big/versions", json={}).raise_for_status()
        rss_before = _tree_rss_kib(server.pid, "VmRSS")
        file_url = f"{url}/api/v1/models/big/versions/1/files/model.bin"
        started = time.perf_counter()
        with open(source, "rb") as body:
            requests.put(file_url, data=body).raise_for_status()
        upload_s = time.perf_counter() - started
        started = time.perf_counter()
        with requests.get(file_url, stream=True) as response:
            response.raise_for_status()
            received = sum(len(chunk) for chunk in response.iter_content(1 << 20))
        download_s = time.perf_counter() - started
        assert received == args.size_mib << 20
        rss_peak = _tree_rss_kib(server.pid, "VmHWM")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait()
    result = {"size_mib": args.size_mib, "upload_mb_s": round(args.size_mib / upload_s, 1),
              "download_mb_s": round(args.size_mib / download_s, 1),
              "dd_fsync_mb_s": round(_dd_reference(work / "dd.bin", args.size_mib), 1),
              "server_rss_before_mib": round(rss_before / 1024, 1),
              "server_peak_rss_mib": round(rss_peak / 1024, 1)}
    subprocess.run(["rm", "-rf", str(work)], check=True)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for key, value in result.items():
            print(f"{key:<24}{value}")


if __name__ == "__main__":
    main()
