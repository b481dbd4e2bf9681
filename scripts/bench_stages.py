#!/usr/bin/env python3
"""The deployers' figures: production look-up throughput and latency at 16 clients (wrk),
with a bare Flask endpoint as the ceiling of the stack, and promote / rollback latency; the same
look-up and moves for a declared stage (canary) next to production's.

    python scripts/bench_stages.py [--backend sqlite|postgres|both] [--seconds 10]
                                   [--moves 200] [--json]

The server is gunicorn, 2 workers, gthread, on a fresh SQLite folder or a reset PostgreSQL
(--pg-url; its public schema is dropped). Needs `wrk` (apt-get install wrk).
"""
from __future__ import annotations

import argparse
import json
import tempfile

import benchlib


def seed_versions(url: str, model: str, versions: int) -> None:
    session = benchlib.session()
    session.post(f"{url}/api/v1/models", json={"name": model}).raise_for_status()
    for number in range(1, versions + 1):
        session.post(f"{url}/api/v1/models/{model}/versions", json={
            "run": {"metrics": {"accuracy": 0.9}}}).raise_for_status()
        session.put(f"{url}/api/v1/models/{model}/versions/{number}/files/model.bin",
                    data=f"weights {number}".encode()).raise_for_status()
        session.post(f"{url}/api/v1/models/{model}/versions/{number}/finalize").raise_for_status()


def move_latencies(url: str, moves: int, model: str = "moves", stage: str = "production") -> dict:
    """Promote a new version into `stage`, then roll it back, `moves` times, one client, timing
    each call (`model` seeded with moves + 1 versions)."""
    session = benchlib.session()
    base = f"{url}/api/v1/models/{model}"
    session.post(f"{base}/promote", json={"version": 1, "stage": stage}).raise_for_status()
    promotes, rollbacks = [], []
    for number in range(2, moves + 2):
        for timings, path, body in ((promotes, "promote", {"version": number, "stage": stage}),
                                    (rollbacks, "rollback", {"reason": "bench", "stage": stage})):
            with benchlib.timed(timings):
                response = session.post(f"{base}/{path}", json=body)
            response.raise_for_status()
    return {"promote": benchlib.percentiles(promotes),
            "rollback": benchlib.percentiles(rollbacks)}


def promote(url: str, model: str, version: int, stage: str) -> None:
    benchlib.session().post(f"{url}/api/v1/models/{model}/promote",
                            json={"version": version, "stage": stage}).raise_for_status()


def _declare_canary(url: str, model: str) -> None:
    benchlib.session().post(f"{url}/api/v1/models/{model}/stages",
                            json={"name": "canary"}).raise_for_status()


def run_backend(name: str, args) -> dict:
    with benchlib.backend_server(name, args.pg_url) as (process, url, data_dir, database_url):
        seed_versions(url, "hot", 2)
        _declare_canary(url, "hot")
        promote(url, "hot", 1, "production")
        promote(url, "hot", 2, "canary")
        for model in ("moves", "canary-moves"):
            seed_versions(url, model, args.moves + 1)
        _declare_canary(url, "canary-moves")
        benchlib.refresh_statistics(data_dir, database_url)  # before timing, as the job would
        moves = move_latencies(url, args.moves)
        canary = move_latencies(url, args.moves, "canary-moves", "canary")
        production = f"{url}/api/v1/models/hot/production"
        etag = benchlib.session().get(production).headers["ETag"]
        lookup = benchlib.wrk(production, seconds=args.seconds, server_pid=process.pid,
                              runs=args.runs)
        revalidate = benchlib.wrk(production, seconds=args.seconds, server_pid=process.pid,
                                  headers=(f"If-None-Match: {etag}",), runs=args.runs)
        canary_lookup = benchlib.wrk(f"{url}/api/v1/models/hot/stages/canary",
                                     seconds=args.seconds, server_pid=process.pid, runs=args.runs)
    return {"backend": name, "lookup": lookup, "lookup_304": revalidate, **moves,
            "canary_lookup": canary_lookup, "canary_promote": canary["promote"],
            "canary_rollback": canary["rollback"]}


def ceiling(args) -> dict:
    with tempfile.TemporaryDirectory() as data_dir:
        with benchlib.server(data_dir, app="ceiling_app:app") as (process, url):
            return benchlib.wrk(f"{url}/healthz", seconds=args.seconds, server_pid=process.pid,
                                runs=args.runs)


def _print_table(bare: dict, results: list[dict]) -> None:
    print(f"{'backend':<9}{'measure':<22}{'req/s':>9}{'p50 ms':>8}{'p99 ms':>8}"
          f"{'errors':>8}{'wrk cpu%':>9}{'server cpu%':>12}  worker cpu% / req/s of each run")

    def line(backend, label, row):
        print(f"{backend:<9}{label:<22}{row.get('requests_per_s', ''):>9}{row['p50_ms']:>8}"
              f"{row['p99_ms']:>8}{row.get('errors', ''):>8}{row.get('client_cpu_pct', ''):>9}"
              f"{row.get('server_cpu_pct', '') or '':>12}  "
              + " ".join(f"{run['worker_cpu_pct']}/{run['requests_per_s']:.0f}"
                         for run in row.get("runs", [])))

    line("-", "bare Flask constant", bare)
    for result in results:
        share = 100 * result["lookup"]["requests_per_s"] / bare["requests_per_s"]
        line(result["backend"], f"production ({share:.0f}%)", result["lookup"])
        line(result["backend"], "production 304", result["lookup_304"])
        line(result["backend"], "promote (1 client)", result["promote"])
        line(result["backend"], "rollback (1 client)", result["rollback"])
        share = 100 * result["canary_lookup"]["requests_per_s"] / bare["requests_per_s"]
        line(result["backend"], f"canary ({share:.0f}%)", result["canary_lookup"])
        line(result["backend"], "canary promote", result["canary_promote"])
        line(result["backend"], "canary rollback", result["canary_rollback"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--seconds", type=int, default=8, help="length of each wrk run")
    parser.add_argument("--runs", type=int, default=3, help="wrk runs per figure (median kept)")
    parser.add_argument("--moves", type=int, default=200, help="promote+rollback pairs timed")
    parser.add_argument("--pg-url", default=benchlib.DEFAULT_PG_URL)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args()
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    bare = ceiling(args)
    results = [run_backend(name, args) for name in backends]
    if args.json:
        print(json.dumps({"bare_flask": bare, "results": results}, indent=2))
    else:
        _print_table(bare, results)


if __name__ == "__main__":
    main()
