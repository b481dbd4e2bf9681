#!/usr/bin/env python3
"""Registration rate and search latency against a real server (gunicorn, 2 workers, gthread).

    python scripts/bench_registry.py [--backend sqlite|postgres|both] [--versions 5000]
                                     [--clients 8] [--searches 300] [--ready N] [--seconds 8]
                                     [--json]

PostgreSQL comes from --pg-url (default: the local test database; its public schema is reset).
Prints a table (or JSON) with versions/s at N clients and search p50/p99 at the given size.
"""
from __future__ import annotations

import argparse
import random

import benchlib

SEARCHES = [
    "filter=metrics.accuracy > 0.9&order_by=metrics.accuracy desc",
    "filter=metrics.accuracy > 0.5 and params.lr < 0.01&order_by=metrics.accuracy desc",
    "filter=tags.team = 'risk' and metrics.auc >= 0.8",
    "filter=run.dataset.digest = 'd3' and version > 100&order_by=version desc",
]


def _version_body(rng: random.Random) -> dict:
    return {"tags": {"team": rng.choice(["risk", "growth", "ops"])},
            "run": {"params": {"lr": rng.choice([0.1, 0.05, 0.01, 0.005, 0.001]),
                               "optimizer": rng.choice(["adam", "sgd"])},
                    "metrics": {"accuracy": rng.random(), "auc": rng.random()},
                    "dataset": {"name": "tx", "digest": f"d{rng.randrange(10)}"}}}


def register(url: str, server_pid: int, total: int, clients: int) -> dict:
    """Versions/s registering `total` versions over `clients` concurrent connections, with the
    CPU the clients, the server and the machine used (see benchlib.cpu_use)."""
    def create(session, rng, _n) -> None:
        session.post(f"{url}/api/v1/models/bench/versions",
                     json=_version_body(rng)).raise_for_status()

    with benchlib.cpu_use(server_pid) as cpu:
        figures = benchlib.client_threads(clients, total // clients, create)
    return {"per_s": figures["per_s"], **cpu}


def register_ready(url: str, server_pid: int, total: int, clients: int, models: int) -> dict:
    """A training job's registration, one call each (`finalize: true` with a `source_uri`):
    `total` ready versions over `models` models (created first, `ready-0`...) from `clients`
    concurrent connections; versions/s, per-call p50/p99 and the CPU used."""
    http = benchlib.session()
    for index in range(models):
        http.post(f"{url}/api/v1/models", json={"name": f"ready-{index}"})

    def create_ready(session, rng, n) -> None:
        model = f"ready-{n % models}"
        body = {**_version_body(rng), "finalize": True, "source_uri": f"s3://models/{model}/{n}"}
        session.post(f"{url}/api/v1/models/{model}/versions", json=body).raise_for_status()

    with benchlib.cpu_use(server_pid) as cpu:
        figures = benchlib.client_threads(clients, total // clients, create_ready)
    return {**figures, **cpu}


def register_ready_wrk(url: str, server_pid: int, seconds: int, clients: int,
                       models: int) -> dict:
    """register_ready's workload with wrk as the `clients` clients (benchlib.wrk_posts): one
    body for every version, over `models` models (created first, `wrk200-0`...), for `seconds`;
    versions/s, p50/p99 and the CPU used. Raises SystemExit if any call was refused."""
    http = benchlib.session()
    for index in range(models):
        http.post(f"{url}/api/v1/models", json={"name": f"wrk{models}-{index}"}).raise_for_status()
    body = {**_version_body(random.Random(0)), "finalize": True,
            "source_uri": "s3://models/trained/weights"}
    figures = benchlib.wrk_posts(url, [f"/api/v1/models/wrk{models}-{index}/versions"
                                       for index in range(models)], body,
                                 connections=clients, seconds=seconds, server_pid=server_pid)
    if figures["errors"]:
        raise SystemExit(f"{figures['errors']} registrations were refused: {figures}")
    return {**figures, "per_s": figures["requests_per_s"]}


def bulk_seed(database_url: str, data_dir: str, total: int, seed: int = 7) -> None:
    """Grow model `bench` to `total` versions straight in the database (the same rows the API
    writes, thousands per statement): registering 100,000 over HTTP would take minutes, and
    the load is not what this measures."""
    from registry.models import RegisteredModel

    database = benchlib.open_registry_database(database_url, data_dir)
    rng = random.Random(seed)
    with database.connection_context(), database.atomic():
        model = RegisteredModel.get(RegisteredModel.name == "bench")
        for first in range(model.last_version + 1, total + 1, 2000):
            benchlib.insert_seeded_versions(rng, [
                benchlib.seeded_version_row(rng, model.id, n)
                for n in range(first, min(first + 2000, total + 1))])
        model.last_version = total
        model.save()
    database.obj.close_all() if hasattr(database.obj, "close_all") else database.close()


def search_latencies(url: str, rounds: int) -> dict:
    timings = []
    with benchlib.session() as session:
        for index in range(rounds):
            query = SEARCHES[index % len(SEARCHES)]
            with benchlib.timed(timings):
                response = session.get(f"{url}/api/v1/models/bench/versions?{query}&limit=50")
            response.raise_for_status()
    return benchlib.percentiles(timings)


def run_backend(name: str, args) -> dict:
    with benchlib.backend_server(name, args.pg_url) as (process, url, data_dir, database_url):
        benchlib.session().post(f"{url}/api/v1/models", json={"name": "bench"}).raise_for_status()
        registration = register(url, process.pid, args.versions, args.clients)
        ready = {models: register_ready(url, process.pid, args.ready, args.clients, models)
                 for models in (1, 200)} if args.ready else {}
        ready_wrk = {models: register_ready_wrk(url, process.pid, args.seconds, args.clients,
                                                models)
                     for models in (1, 200)} if args.ready else {}
        benchlib.refresh_statistics(data_dir, database_url)
        latencies = search_latencies(url, args.searches)
    return {"backend": name, "versions": args.versions, "clients": args.clients,
            "registrations_per_s": registration["per_s"], "registration_cpu": registration,
            "ready_one_model": ready.get(1), "ready_200_models": ready.get(200),
            "ready_one_model_wrk": ready_wrk.get(1), "ready_200_models_wrk": ready_wrk.get(200),
            "search_p50_ms": round(latencies["p50_ms"], 2),
            "search_p99_ms": round(latencies["p99_ms"], 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--versions", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--searches", type=int, default=300)
    parser.add_argument("--ready", type=int, default=0, help="also register this many ready "
                        "versions in one call each, on one model and over 200 models, then "
                        "as many as wrk's clients register in --seconds")
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--pg-url", default=benchlib.DEFAULT_PG_URL)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    results = benchlib.results_per_backend(parser.parse_args(), run_backend)
    if results is None:
        return
    print(f"{'backend':<10}{'versions':>9}{'clients':>8}{'versions/s':>12}"
          f"{'search p50 ms':>15}{'search p99 ms':>15}")
    for row in results:
        print(f"{row['backend']:<10}{row['versions']:>9}{row['clients']:>8}"
              f"{row['registrations_per_s']:>12}{row['search_p50_ms']:>15}{row['search_p99_ms']:>15}")


if __name__ == "__main__":
    main()
