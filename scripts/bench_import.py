#!/usr/bin/env python3
"""Time to import from MLflow: a real MLflow tracking server (SQLite backend, artifact proxy,
2 workers, from its own environment as the tests run it) holding VERSIONS versions of one model with 1 MiB
of weights each (one run per version, params, metrics, a dataset), imported by
`modelyard import mlflow` (4 jobs, its default) into a fresh Modelyard server (gunicorn, 2 workers, as the other
benches) on SQLite or PostgreSQL. Reports the wall time, versions/s and MiB/s, and the time of
a second run, which finds everything imported.

    python scripts/bench_import.py [--versions 200] [--backend sqlite|postgres|both] [--json]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import benchlib

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.e2e.mlflow_server import mlflow_server, populate  # noqa: E402


def _import(mlflow_url: str, url: str) -> tuple[float, dict]:
    env = {**os.environ, "MODELYARD_TOKEN": benchlib.TOKEN}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "registry", "import", "mlflow", "--tracking-uri",
                           mlflow_url, "--url", url, "--json"], env=env, capture_output=True,
                          text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"import failed ({done.returncode}): {done.stderr[-2000:]}")
    return elapsed, json.loads(done.stdout)["models"][0]


def run_backend(name: str, args, mlflow_url: str) -> dict:
    with benchlib.backend_server(name, args.pg_url) as (_process, url, _data, _db):
        first_s, report = _import(mlflow_url, url)
        second_s, again = _import(mlflow_url, url)
    assert len(report["imported"]) == args.versions and not again["imported"], (report, again)
    mib = report["bytes"] / (1 << 20)
    return {"backend": name, "versions": args.versions, "files": report["files"],
            "mib": round(mib, 1), "import_s": round(first_s, 2),
            "versions_per_s": round(args.versions / first_s, 1),
            "mib_per_s": round(mib / first_s, 1), "second_run_s": round(second_s, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", type=int, default=200)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="sqlite")
    parser.add_argument("--pg-url", default=benchlib.DEFAULT_PG_URL)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root, \
            mlflow_server(Path(root), workers=2) as mlflow_url:
        started = time.perf_counter()
        populate(mlflow_url, "bench", str(args.versions))
        print(f"MLflow filled with {args.versions} versions in "
              f"{time.perf_counter() - started:.0f} s", file=sys.stderr)
        backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
        results = [run_backend(name, args, mlflow_url) for name in backends]
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for r in results:
        print(f"{r['backend']}: {r['versions']} versions ({r['files']} files, {r['mib']} MiB) in "
              f"{r['import_s']} s: {r['versions_per_s']} versions/s, {r['mib_per_s']} MiB/s; "
              f"second run {r['second_run_s']} s")


if __name__ == "__main__":
    main()
