#!/usr/bin/env python3
"""The console's pages on a large registry: the fleet with 500 models (each with a production
holder and its evaluation, a third with a staging holder too) and the page of a model with
5,000 versions, time per page, p50 / p99 over --rounds requests from one client on loopback
(so the time is the server's: rendering, queries, the request itself).

    python scripts/bench_console.py [--backend sqlite|postgres|both] [--models 500]
                                    [--versions 5000] [--rounds 50] [--json]

The server is gunicorn, 2 workers, gthread, on a fresh SQLite folder or a reset PostgreSQL
(--pg-url; its public schema is dropped).
"""
from __future__ import annotations

import argparse
import re
import time
from concurrent.futures import ThreadPoolExecutor

import requests

import bench_registry
import benchlib


def _seed_model(url: str, index: int) -> None:
    http, name = benchlib.session(), f"m{index:04d}"
    api = f"{url}/api/v1/models"
    http.post(api, json={"name": name, "tags": {"team": ["risk", "growth", "ops"][index % 3]}}
              ).raise_for_status()
    for number in (1, 2) if index % 3 == 0 else (1,):
        http.post(f"{api}/{name}/versions", json={
            "source_uri": "s3://models/m", "run": {"metrics": {"accuracy": 0.9}}}
                  ).raise_for_status()
        http.post(f"{api}/{name}/versions/{number}/finalize").raise_for_status()
    http.post(f"{api}/{name}/promote", json={"version": 1}).raise_for_status()
    if index % 3 == 0:
        http.post(f"{api}/{name}/promote", json={"version": 2, "stage": "staging"}
                  ).raise_for_status()


def _seed_big_model(url: str, database_url: str, data_dir: str, versions: int) -> None:
    """Model `bench` with `versions` versions (straight in the database), criteria on two
    metrics and a few production moves."""
    http = benchlib.session()
    http.post(f"{url}/api/v1/models", json={"name": "bench"}).raise_for_status()
    bench_registry.bulk_seed(database_url, data_dir, versions)
    http.put(f"{url}/api/v1/models/bench/criteria", json={"stages": {"production": [
        {"metric": "accuracy", "op": ">=", "threshold": 0.0},
        {"metric": "auc", "op": ">=", "threshold": 0.0}]}}).raise_for_status()
    for number in (versions - 2, versions - 1, versions):
        http.post(f"{url}/api/v1/models/bench/promote",
                  json={"version": number, "force": True, "reason": "bench"}).raise_for_status()


def _signed_in(url: str) -> requests.Session:
    """A browser-like session: the sign-in form's CSRF token, then the admin token."""
    browser = requests.Session()
    form = browser.get(f"{url}/ui/login").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    browser.post(f"{url}/ui/login", data={"csrf_token": csrf, "token": benchlib.TOKEN,
                                         "next": "/ui/"}).raise_for_status()
    return browser


def page_times(browser: requests.Session, url: str, rounds: int) -> dict:
    browser.get(url).raise_for_status()  # warm: templates compiled, connections open
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        answer = browser.get(url)
        timings.append((time.perf_counter() - started) * 1000)
        answer.raise_for_status()
    return {**benchlib.percentiles(timings), "bytes": len(answer.content)}


def run_backend(name: str, args) -> dict:
    with benchlib.backend_server(name, args.pg_url) as (process, url, data_dir, database_url):
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda index: _seed_model(url, index), range(args.models)))
        _seed_big_model(url, database_url, data_dir, args.versions)
        benchlib.refresh_statistics(data_dir, database_url)
        browser = _signed_in(url)
        fleet = page_times(browser, f"{url}/ui/", args.rounds)
        model = page_times(browser, f"{url}/ui/models/bench", args.rounds)
        sorted_page = page_times(browser, f"{url}/ui/models/bench?order_by=metrics.auc+desc",
                                 args.rounds)
    return {"backend": name, "models": args.models + 1, "versions": args.versions,
            "fleet": fleet, "model": model, "model_sorted_by_metric": sorted_page}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--models", type=int, default=500)
    parser.add_argument("--versions", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--pg-url", default=benchlib.DEFAULT_PG_URL)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args()
    results = benchlib.results_per_backend(args, run_backend)
    if results is None:
        return
    print(f"{'backend':<9}{'page':<34}{'p50 ms':>8}{'p99 ms':>8}{'KiB':>8}")
    for result in results:
        for key, label in (("fleet", f"fleet, {result['models']} models"),
                           ("model", f"model, {result['versions']} versions"),
                           ("model_sorted_by_metric", "model, sorted by a metric")):
            row = result[key]
            print(f"{result['backend']:<9}{label:<34}{row['p50_ms']:>8}{row['p99_ms']:>8}"
                  f"{row['bytes'] // 1024:>8}")


if __name__ == "__main__":
    main()
