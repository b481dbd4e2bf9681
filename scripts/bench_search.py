#!/usr/bin/env python3
"""Search latency by shape, across models, on both databases.

    python scripts/bench_search.py [--backend sqlite|postgres|both] [--models 200]
                                   [--per-model 25] [--rounds 200] [--stages] [--moves 100]
                                   [--seconds 8] [--pg-url URL] [--json]

Seeds `--models` models of `--per-model` versions each in bulk (the rows the API writes: two
metrics, two params, a tag, a dataset), gathers planner statistics (what the db_analyze job and
autovacuum do), starts the server as deployed and times `--rounds` sequential searches of each
shape in SHAPES, a 50-item page each: p50/p99 ms and the number of hits. With `--stages` it
then times, in the same grown registry, the production look-up (wrk, 16 connections) and
`--moves` promote/rollback pairs, as scripts/bench_stages.py does on an empty one: how those
costs grow with the registry (`--models 10000 --per-model 100` is the 1,000,000-version run).
"""
from __future__ import annotations

import argparse
import random

import benchlib
import bench_stages

SHAPES = {
    "by model": "filter=model = 'm-{model}'",
    "by tag": "filter=tags.team = 'risk'",
    "by metric threshold": "filter=metrics.accuracy > 0.9",
    "by metric, ordered": "filter=metrics.accuracy > 0.5&order_by=metrics.accuracy desc",
}
BATCH = 2000


def seed(database_url: str, data_dir: str, models: int, per_model: int, seed_: int = 7) -> None:
    """`models` models named m-0... with `per_model` ready versions each, thousands of rows per
    statement, in one transaction."""
    from registry.models import RegisteredModel

    database = benchlib.open_registry_database(database_url, data_dir)
    rng = random.Random(seed_)
    with database.connection_context(), database.atomic():
        for first in range(0, models, BATCH):
            RegisteredModel.insert_many([{"name": f"m-{i}", "last_version": per_model}
                                         for i in range(first, min(first + BATCH, models))]
                                        ).execute()
        model_ids = [mid for (mid,) in RegisteredModel.select(RegisteredModel.id)
                     .where(RegisteredModel.name.startswith("m-")).tuples()]
        pending: list[dict] = []
        for model_id in model_ids:
            pending += [benchlib.seeded_version_row(rng, model_id, n)
                        for n in range(1, per_model + 1)]
            if len(pending) >= BATCH or model_id == model_ids[-1]:
                benchlib.insert_seeded_versions(rng, pending)
                pending = []
    database.close()


def shape_latencies(url: str, rounds: int, models: int) -> dict:
    """shape -> p50/p99 ms and hits on the first page, over `rounds` sequential searches."""
    figures = {}
    rng = random.Random(1)
    with benchlib.session() as session:
        for shape, query in SHAPES.items():
            timings, hits = [], 0
            for _ in range(rounds):
                text = query.format(model=rng.randrange(models))
                with benchlib.timed(timings):
                    response = session.get(f"{url}/api/v1/versions?{text}&limit=50")
                response.raise_for_status()
                hits = len(response.json()["items"])
            figures[shape] = {**benchlib.percentiles(timings), "hits": hits}
    return figures


def run_backend(name: str, args) -> dict:
    with benchlib.backend_server(name, args.pg_url) as (_process, _url, data_dir, database_url):
        seed(database_url, data_dir, args.models, args.per_model)
        benchlib.refresh_statistics(data_dir, database_url)
        # A server started after the statistics: SQLite connections read them when they open.
        with benchlib.server(data_dir, database_url) as (fresh, url):
            shapes = shape_latencies(url, args.rounds, args.models)
            stages = stage_figures(url, fresh.pid, args) if getattr(args, "stages", False) else {}
    return {"backend": name, "versions": args.models * args.per_model, "shapes": shapes,
            **stages}


def stage_figures(url: str, server_pid: int, args) -> dict:
    """Look-up throughput and latency, and promote/rollback latency, on two models added to the
    grown registry."""
    bench_stages.seed_versions(url, "hot", 2)
    bench_stages.promote(url, "hot", 1, "production")
    bench_stages.seed_versions(url, "moves", args.moves + 1)
    moves = bench_stages.move_latencies(url, args.moves)
    lookup = benchlib.wrk(f"{url}/api/v1/models/hot/production", seconds=args.seconds,
                          server_pid=server_pid, runs=1)
    return {"lookup": lookup, **moves}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--models", type=int, default=200)
    parser.add_argument("--per-model", type=int, default=25)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--stages", action="store_true",
                        help="also time the production look-up, promote and rollback")
    parser.add_argument("--moves", type=int, default=100)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--pg-url", default=benchlib.DEFAULT_PG_URL)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    results = benchlib.results_per_backend(parser.parse_args(), run_backend)
    if results is None:
        return
    print(f"{'backend':<10}{'versions':>9}  {'shape':<22}{'p50 ms':>8}{'p99 ms':>8}{'hits':>6}")
    for row in results:
        for shape, figures in row["shapes"].items():
            print(f"{row['backend']:<10}{row['versions']:>9}  {shape:<22}"
                  f"{figures['p50_ms']:>8.2f}{figures['p99_ms']:>8.2f}{figures['hits']:>6}")
        if "lookup" in row:
            lookup = row["lookup"]
            print(f"{row['backend']:<10}{row['versions']:>9}  {'look-up':<22}"
                  f"{lookup['p50_ms']:>8.2f}{lookup['p99_ms']:>8.2f}  {lookup['requests_per_s']} req/s")
            for move in ("promote", "rollback"):
                print(f"{row['backend']:<10}{row['versions']:>9}  {move:<22}"
                      f"{row[move]['p50_ms']:>8.2f}{row[move]['p99_ms']:>8.2f}")


if __name__ == "__main__":
    main()
