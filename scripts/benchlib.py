"""Shared pieces of the benchmark scripts: a real server under gunicorn, wrk, CPU accounting.

Every benchmark runs the server as users do: gunicorn, 2 workers, gthread (GTHREADS threads),
on a fresh SQLite folder or a reset PostgreSQL database.
"""
from __future__ import annotations

import json
import os
import random
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import requests

GTHREADS = int(os.environ.get("BENCH_GTHREADS", "4"))  # per worker; see docs/benchmarks.md
DEFAULT_PG_URL = os.environ.get("MODELYARD_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
CLK_TCK = os.sysconf("SC_CLK_TCK")
# Servers run with auth on, as deployed: this admin token is seeded through the environment.
TOKEN = "bench-admin-token-" + "0" * 32
AUTH_HEADER = f"Authorization: Bearer {TOKEN}"


def session() -> requests.Session:
    """An HTTP session that sends the benchmark's admin token."""
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {TOKEN}"
    return http


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _postgres(url: str, sql: str) -> None:
    import psycopg2
    connection = psycopg2.connect(url)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(sql)
    connection.close()


def reset_postgres(url: str) -> None:
    """A fresh schema, with the previous part's writes flushed (CHECKPOINT) so that its
    background writing does not land in this part's figures."""
    _postgres(url, "DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    _postgres(url, "CHECKPOINT")


def refresh_statistics(data_dir: str, database_url: str) -> None:
    """What the db_analyze job does every 30 minutes, and on PostgreSQL what autovacuum does
    within a minute of a bulk load (VACUUM ANALYZE): without it the planner believes freshly
    loaded tables are empty, and autovacuum would vacuum them on the other core while the
    measurement runs (PostgreSQL's searches were 1-3 ms slower at p50 then)."""
    env = {**os.environ, "DATABASE_URL": database_url, "MODELYARD_SERVER_DATA_DIR": data_dir,
           "MODELYARD_CONFIG": ""}
    subprocess.run([sys.executable, "-m", "registry", "db", "analyze"], env=env, check=True,
                   capture_output=True)
    if database_url:
        import psycopg2

        connection = psycopg2.connect(database_url)
        connection.autocommit = True  # VACUUM refuses to run in a transaction
        connection.cursor().execute("VACUUM (ANALYZE)")
        connection.close()


def tree_pids(pid: int) -> list[int]:
    return [pid] + [int(child) for child in
                    Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of one process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def worker_cpu_s(pid: int) -> list[float]:
    """CPU seconds of the gunicorn master followed by each worker."""
    return [cpu_s(one) for one in tree_pids(pid)]


def machine_cpu() -> list[int]:
    """The machine's CPU time so far, in ticks: user, nice, system, idle, iowait, irq, softirq,
    steal (/proc/stat)."""
    return [int(ticks) for ticks in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]


def machine_share(before: list[int], after: list[int]) -> dict:
    """How busy every core was between two machine_cpu() readings, and the share the hypervisor
    stole: a high steal means this run's figures say more about the host than the code."""
    used = [late - early for early, late in zip(before, after)]
    total = sum(used) or 1
    return {"machine_busy_pct": round(100 * (total - used[3] - used[4]) / total),
            "steal_pct": round(100 * used[7] / total, 1)}


@contextmanager
def cpu_use(server_pid: int):
    """Yields a dict that, once the block ends, holds the CPU used while it ran by this process
    (the load generator) and by the server, in % of one core, and the machine's share."""
    figures: dict = {}
    started, client, machine = time.monotonic(), time.process_time(), machine_cpu()
    server = sum(worker_cpu_s(server_pid))
    yield figures
    elapsed = time.monotonic() - started
    figures.update(client_cpu_pct=round(100 * (time.process_time() - client) / elapsed),
                   server_cpu_pct=round(100 * (sum(worker_cpu_s(server_pid)) - server) / elapsed),
                   **machine_share(machine, machine_cpu()))


def reference_loop_us() -> float:
    """Microseconds for `sum(range(1000))`, best of 5: how fast this machine runs Python today
    (host CPUs differ from run to run, and every figure scales with it)."""
    return round(min(timeit.repeat("sum(range(1000))", number=20_000, repeat=5)) / 20_000 * 1e6, 1)


def tree_rss_kib(pid: int, key: str) -> int:
    """Sum of `key` (VmRSS or VmHWM) over the gunicorn master and its workers."""
    total = 0
    for one in tree_pids(pid):
        for line in Path(f"/proc/{one}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                total += int(line.split()[1])
    return total


@contextmanager
def backend_server(name: str, pg_url: str):
    """A fresh data folder and a server on `name` ("sqlite", or "postgres" at a reset `pg_url`);
    yields (process, base URL, data folder, database URL)."""
    with tempfile.TemporaryDirectory() as data_dir:
        database_url = ""
        if name == "postgres":
            reset_postgres(pg_url)
            database_url = pg_url
        with server(data_dir, database_url) as (process, url):
            yield process, url, data_dir, database_url


# What `modelyard serve` runs; BENCH_WORKER_CLASS=gthread measures plain gunicorn for comparison.
WORKER_CLASS = os.environ.get("BENCH_WORKER_CLASS", "registry.buffered_worker.BufferingWorker")


@contextmanager
def server(data_dir: str, database_url: str = "", app: str = "registry.wsgi:app",
           extra_args: tuple[str, ...] = ()):
    """A gunicorn server on loopback; yields (process, base URL)."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "MODELYARD_SERVER_DATA_DIR": data_dir,
           "MODELYARD_CONFIG": "", "MODELYARD_ADMIN_TOKEN": TOKEN}
    if app.startswith("registry"):
        subprocess.run([sys.executable, "-m", "registry", "db", "upgrade"], env=env, check=True,
                       capture_output=True)
    log = tempfile.TemporaryFile()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-k", WORKER_CLASS, "-w", "2", "--threads",
         str(GTHREADS), "--reuse-port", "-b", f"127.0.0.1:{port}", *extra_args, app],
        env=env, cwd=Path(__file__).parent, stdout=subprocess.DEVNULL,
        stderr=log, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):  # both workers booted and answering
            try:
                if len(tree_pids(process.pid)) == 3 and requests.get(f"{url}/healthz",
                                                                     timeout=5).ok:
                    break
            except requests.RequestException:  # not listening yet, or a worker still booting
                pass
            time.sleep(0.1)
        else:
            log.seek(0)
            raise SystemExit("server did not start:\n"
                             + log.read().decode(errors="replace")[-3000:])
        time.sleep(1)  # the second worker may still be importing when the first answers
        yield process, url
    finally:
        if process.poll() is not None:  # it died while in use: say why
            log.seek(0)
            print(f"server exited with {process.returncode}:\n"
                  + log.read().decode(errors="replace")[-3000:], file=sys.stderr)
        else:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait()
        log.close()


@contextmanager
def timed(timings_ms: list[float]) -> Iterator[None]:
    """Add the block's wall time, in ms, to `timings_ms`."""
    started = time.perf_counter()
    try:
        yield
    finally:
        timings_ms.append((time.perf_counter() - started) * 1000)


def client_threads(clients: int, calls_each: int,
                   call: Callable[[requests.Session, random.Random, int], None]) -> dict:
    """`call(session, rng, n)` `calls_each` times from each of `clients` threads, each with its
    own session and `random.Random(thread)`, `n` numbering every call from 0: calls/s and each
    call's p50 / p99 ms (closed loop: a thread calls again once its last call returned)."""
    def thread(index: int) -> list[float]:
        rng, own = random.Random(index), []
        with session() as http:
            for step in range(calls_each):
                with timed(own):
                    call(http, rng, index * calls_each + step)
        return own

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        timings = [ms for own in pool.map(thread, range(clients)) for ms in own]
    return {"per_s": round(len(timings) / (time.perf_counter() - started), 1),
            **percentiles(timings)}


def percentiles(timings_ms: list[float]) -> dict:
    ordered = sorted(timings_ms)
    return {"p50_ms": round(statistics.median(ordered), 2),
            "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 2)}


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(number) * _UNITS[unit]


def _wrk_once(url: str, connections: int, seconds: int, server_pid: int | None,
              headers: tuple[str, ...], script: str | None = None) -> dict:
    header_args = [arg for header in (AUTH_HEADER, *headers) for arg in ("-H", header)]
    if script:
        header_args += ["-s", script]
    client_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_before = worker_cpu_s(server_pid) if server_pid else []
    machine_before = machine_cpu()
    output = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency",
                             *header_args, url], check=True, capture_output=True, text=True).stdout
    client_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    machine = machine_share(machine_before, machine_cpu())
    server_used = [after - before for before, after in
                   zip(server_before, worker_cpu_s(server_pid))] if server_pid else []
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", output, re.M))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    client_cpu = (client_after.ru_utime - client_before.ru_utime
                  + client_after.ru_stime - client_before.ru_stime)
    return {"requests_per_s": round(float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1]), 1),
            "p50_ms": round(_ms(latency["50"]), 2), "p99_ms": round(_ms(latency["99"]), 2),
            "errors": int(non_2xx[1]) if non_2xx else 0,
            "client_cpu_pct": round(100 * client_cpu / seconds, 1),
            "server_cpu_pct": round(100 * sum(server_used) / seconds, 1) if server_used else None,
            "worker_cpu_pct": [round(100 * used / seconds) for used in server_used[1:]],
            **machine}


def wrk(url: str, *, connections: int = 16, seconds: int = 10, server_pid: int | None = None,
        headers: tuple[str, ...] = (), runs: int = 3) -> dict:
    """Throughput and p50/p99 from wrk (one thread: it needs far less CPU than the server),
    with the CPU that wrk, the server and each worker used, so a reader can tell who was the
    bottleneck. wrk opens its keep-alive connections at once and gunicorn's workers do not
    always share them evenly, so it runs `runs` times and reports the run with the median
    throughput, with every run's figures under `runs`."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed for throughput figures: apt-get install wrk")
    results = [_wrk_once(url, connections, seconds, server_pid, headers) for _ in range(runs)]
    median = sorted(results, key=lambda r: r["requests_per_s"])[len(results) // 2]
    return {**median, "runs": [{key: r[key] for key in ("requests_per_s", "p99_ms",
                                                         "worker_cpu_pct")} for r in results]}


def wrk_posts(base_url: str, paths: list[str], body: dict, *, connections: int, seconds: int,
              server_pid: int | None = None) -> dict:
    """wrk's figures (as `wrk` gives them, one run) for POSTs of `body` to `paths` in turn, from
    `connections` connections that each send the next request when the last is answered: a
    closed-loop load like that many clients, made in C, so the load generator takes a tenth
    of the CPU Python clients take from the cores the server runs on."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed for throughput figures: apt-get install wrk")
    lua = "\n".join([
        "local paths = {" + ", ".join(json.dumps(path) for path in paths) + "}",
        f"local body = {json.dumps(json.dumps(body))}",
        "local sent = 0",
        'wrk.headers["Content-Type"] = "application/json"',
        "request = function()",
        "  sent = sent + 1",
        '  return wrk.format("POST", paths[sent % #paths + 1], nil, body)',
        "end"])
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(lua)
        script.flush()
        return _wrk_once(base_url + paths[0], connections, seconds, server_pid, (), script.name)


def results_per_backend(args, run_backend) -> list[dict] | None:
    """Run `run_backend` on the chosen backends; prints JSON and answers None with --json."""
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    results = [run_backend(name, args) for name in backends]
    if args.json:
        print(json.dumps(results, indent=2))
        return None
    return results


def open_registry_database(database_url: str, data_dir: str):
    """The registry's database for this data folder and URL, opened in this process (for bulk
    seeding); returns the shared proxy."""
    from registry.config import load_config
    from registry.db import database, open_database

    open_database(load_config({"server": {"data_dir": data_dir},
                               "database": {"url": database_url}}, environ={}))
    return database


def seeded_version_row(rng: random.Random, model_id: int, number: int) -> dict:
    return {"model": model_id, "version": number, "status": "ready", "dataset_name": "tx",
            "dataset_digest": f"d{rng.randrange(10)}"}


def insert_seeded_versions(rng: random.Random, rows: list[dict]) -> None:
    """Insert version rows (seeded_version_row) with what the API writes beside them: two
    metrics in the search index, two params (a number and a text) and a tag, one statement per
    table. Inside the caller's transaction."""
    from registry.models import MetricValue, ModelVersion, Param, VersionTag

    ids = [row.id for row in ModelVersion.insert_many(rows).returning(ModelVersion.id).execute()]
    MetricValue.insert_many([{"version": vid, "key": key, "value": rng.random(),
                              "recorded_at": 0} for vid in ids
                             for key in ("accuracy", "auc")]).execute()
    params = [(vid, rng.choice([0.1, 0.05, 0.01, 0.005, 0.001]), rng.choice(["adam", "sgd"]))
              for vid in ids]
    Param.insert_many([{"version": vid, "key": "lr", "value_json": json.dumps(lr),
                        "value_num": lr, "value_text": None} for vid, lr, _ in params]
                      + [{"version": vid, "key": "optimizer", "value_json": json.dumps(opt),
                          "value_num": None, "value_text": opt} for vid, _, opt in params]
                      ).execute()
    VersionTag.insert_many([{"version": vid, "key": "team",
                             "value": rng.choice(["risk", "growth", "ops"])}
                            for vid in ids]).execute()
