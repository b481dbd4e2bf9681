#!/usr/bin/env python3
"""Modelyard beside MLflow's model registry, on this machine, in one run: the same registration,
look-up, promote/rollback and search workloads against an MLflow 3.17.2 tracking server (2
workers, started from its own environment as the import tests run it) and against Modelyard as
deployed (gunicorn, 2 workers), both on SQLite and/or both on PostgreSQL (--pg-url, reset).

    python scripts/bench_mlflow.py [--backend sqlite|postgres|both] [--versions 2000]
                                   [--models 200] [--clients 8] [--seconds 8] [--rounds 200]
                                   [--json]

Each system does what its users do for the same outcome:
- registering a trained version: MLflow's client makes a run, logs its params, metrics and tags
  in one batch and creates the model version (3 calls); Modelyard takes it in one call with
  `finalize` (run metadata, metrics, tags; made ready and evaluated).
- the production look-up: MLflow's alias `production`, Modelyard's production holder (wrk).
- promote then roll back: MLflow sets the alias to the new version, then back to the one before
  (its client has to know which); Modelyard's promote (gated) and one-call rollback.
- search, 50 per page: versions of one model, and versions carrying a tag. MLflow's registry has
  no metric filter (its users search runs, then map them to versions), so the metric shapes of
  scripts/bench_search.py are not compared.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import requests

import benchlib

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.e2e.mlflow_server import mlflow_server  # noqa: E402

MLFLOW_API = "/api/2.0/mlflow"


def _metrics(rng: random.Random) -> dict:
    return {"accuracy": 0.9 + 0.1 * rng.random(), "auc": rng.random()}


class Modelyard:
    label = "Modelyard"

    def __init__(self, url: str):
        self.url = url

    def create_model(self, http: requests.Session, name: str) -> None:
        http.post(f"{self.url}/api/v1/models", json={"name": name}).raise_for_status()

    def register(self, http: requests.Session, model: str, rng: random.Random) -> None:
        http.post(f"{self.url}/api/v1/models/{model}/versions", json={
            "finalize": True, "source_uri": f"s3://models/{model}/{rng.random()}",
            "tags": {"team": rng.choice(["risk", "growth", "ops"])},
            "run": {"params": {"lr": rng.choice([0.1, 0.01]), "optimizer": "adam"},
                    "metrics": _metrics(rng)}}).raise_for_status()

    def lookup_url(self, model: str) -> str:
        return f"{self.url}/api/v1/models/{model}/production"

    def promote(self, http: requests.Session, model: str, version: int) -> None:
        http.post(f"{self.url}/api/v1/models/{model}/promote",
                  json={"version": version, "stage": "production"}).raise_for_status()

    def roll_back(self, http: requests.Session, model: str, _previous: int) -> None:
        http.post(f"{self.url}/api/v1/models/{model}/rollback",
                  json={"stage": "production", "reason": "bench"}).raise_for_status()

    def search_url(self, shape: str, model: str) -> str:
        text = f"model = '{model}'" if shape == "by model" else "tags.team = 'risk'"
        return f"{self.url}/api/v1/versions?filter={text}&limit=50"


class MLflow:
    label = "MLflow"

    def __init__(self, url: str):
        self.url = url + MLFLOW_API

    def create_model(self, http: requests.Session, name: str) -> None:
        http.post(f"{self.url}/registered-models/create", json={"name": name}).raise_for_status()

    def register(self, http: requests.Session, model: str, rng: random.Random) -> None:
        now = int(time.time() * 1000)
        run = http.post(f"{self.url}/runs/create", json={"experiment_id": "0",
                                                         "start_time": now})
        run.raise_for_status()
        info = run.json()["run"]["info"]
        http.post(f"{self.url}/runs/log-batch", json={
            "run_id": info["run_id"],
            "params": [{"key": "lr", "value": str(rng.choice([0.1, 0.01]))},
                       {"key": "optimizer", "value": "adam"}],
            "metrics": [{"key": key, "value": value, "timestamp": now, "step": 0}
                        for key, value in _metrics(rng).items()]}).raise_for_status()
        http.post(f"{self.url}/model-versions/create", json={
            "name": model, "source": f"{info['artifact_uri']}/model", "run_id": info["run_id"],
            "tags": [{"key": "team", "value": rng.choice(["risk", "growth", "ops"])}],
        }).raise_for_status()

    def lookup_url(self, model: str) -> str:
        return f"{self.url}/registered-models/alias?name={model}&alias=production"

    def promote(self, http: requests.Session, model: str, version: int) -> None:
        http.post(f"{self.url}/registered-models/alias", json={
            "name": model, "alias": "production", "version": str(version)}).raise_for_status()

    def roll_back(self, http: requests.Session, model: str, previous: int) -> None:
        self.promote(http, model, previous)

    def search_url(self, shape: str, model: str) -> str:
        text = f"name='{model}'" if shape == "by model" else "tags.team = 'risk'"
        return f"{self.url}/model-versions/search?filter={text}&max_results=50"


def registration(system, total: int, clients: int, models: int) -> dict:
    """`total` versions over `models` models from `clients` threads: versions/s and per-version
    p50/p99 (all of a version's calls)."""
    names = [f"m-{index}" for index in range(models)]
    with benchlib.session() as http:
        for name in names:
            system.create_model(http, name)
    return benchlib.client_threads(clients, total // clients, lambda http, rng, n: (
        system.register(http, names[n % models], rng)))


def moves(system, rounds: int) -> dict:
    """Promote a new version to production, then roll back to the one before, `rounds` times."""
    rng, promotes, rollbacks = random.Random(1), [], []
    with benchlib.session() as http:
        system.create_model(http, "moves")
        for _ in range(rounds + 1):
            system.register(http, "moves", rng)
        system.promote(http, "moves", 1)
        for number in range(2, rounds + 2):
            with benchlib.timed(promotes):
                system.promote(http, "moves", number)
            with benchlib.timed(rollbacks):
                system.roll_back(http, "moves", 1)
    return {"promote": benchlib.percentiles(promotes),
            "rollback": benchlib.percentiles(rollbacks)}


def searches(system, rounds: int, models: int) -> dict:
    result = {}
    with benchlib.session() as http:
        for shape in ("by model", "by tag"):
            timings = []
            for index in range(rounds):
                with benchlib.timed(timings):
                    response = http.get(system.search_url(shape, f"m-{index % models}"))
                response.raise_for_status()
            result[shape] = benchlib.percentiles(timings)
    return result


def measure(system, args) -> dict:
    figures = {"registration": registration(system, args.versions, args.clients, args.models),
               "moves": moves(system, args.rounds),
               "search": searches(system, args.rounds, args.models)}
    figures["lookup"] = benchlib.wrk(system.lookup_url("moves"), seconds=args.seconds)
    return figures


def run(args) -> dict:
    """Figures per system and backend ("MLflow sqlite", "Modelyard sqlite", ...): on each
    backend MLflow first, then Modelyard on a fresh database."""
    results = {}
    for name in ["sqlite", "postgres"] if args.backend == "both" else [args.backend]:
        with tempfile.TemporaryDirectory() as root:
            store = None
            if name == "postgres":
                benchlib.reset_postgres(args.pg_url)
                store = args.pg_url.replace("postgresql://", "postgresql+psycopg2://", 1)
            with mlflow_server(Path(root), workers=2, backend_store_uri=store) as mlflow_url:
                results[f"MLflow {name}"] = measure(MLflow(mlflow_url), args)
        with benchlib.backend_server(name, args.pg_url) as (_process, url, _data, _db):
            results[f"Modelyard {name}"] = measure(Modelyard(url), args)
    return results


def rows(results: dict) -> list[tuple[str, list[str]]]:
    """(measure, one figure per system) in the order of `results`."""
    def each(pick) -> list[str]:
        return [pick(figures) for figures in results.values()]

    registered = "registration, versions/s (p50 / p99 ms)"
    return [
        (registered, each(lambda f: "{per_s} ({p50_ms} / {p99_ms})".format(**f["registration"]))),
        ("production look-up req/s (p50 / p99 ms)", each(
            lambda f: "{requests_per_s} ({p50_ms} / {p99_ms})".format(**f["lookup"]))),
        ("promote p50 / p99 ms", each(lambda f: "{p50_ms} / {p99_ms}".format(
            **f["moves"]["promote"]))),
        ("rollback p50 / p99 ms", each(lambda f: "{p50_ms} / {p99_ms}".format(
            **f["moves"]["rollback"]))),
        *[(f"search {shape} p50 / p99 ms", each(
            lambda f, shape=shape: "{p50_ms} / {p99_ms}".format(**f["search"][shape])))
          for shape in ("by model", "by tag")]]


def print_table(results: dict) -> None:
    print("| measure | " + " | ".join(results) + " |")
    print("|---|" + "---:|" * len(results))
    for measure_, figures in rows(results):
        print(f"| {measure_} | " + " | ".join(figures) + " |")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--versions", type=int, default=2000)
    parser.add_argument("--models", type=int, default=200)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=200)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--pg-url", default=benchlib.DEFAULT_PG_URL)
    parser.add_argument("--json", action="store_true")
    add_arguments(parser)
    args = parser.parse_args()
    results = run(args)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print_table(results)


if __name__ == "__main__":
    main()
