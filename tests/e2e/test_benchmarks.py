"""The README's benchmark command runs as written: `scripts/bench --against mlflow`, at toy sizes
on SQLite. The figures mean nothing at these sizes; what is checked is that every part of the
suite, wrk's workloads and the MLflow comparison still run and report."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TOY_SIZES = ["--versions", "40", "--large", "300", "--size-mib", "8", "--seconds", "1",
             "--runs", "1", "--moves", "4", "--events", "10", "--models", "4", "--per-model", "5",
             "--rounds", "5", "--ready", "40", "--searches", "5"]


def test_the_suite_runs_beside_mlflow_and_reports_every_part(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench"), "--backend", "sqlite",
                           *TOY_SIZES, "--against", "mlflow", "--against-versions", "16",
                           "--json"], cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout)
    sqlite = results["backends"]["sqlite"]
    for part in ("registration", "ready_one", "ready_many", "ready_one_wrk", "ready_many_wrk"):
        assert sqlite[part]["per_s"] > 0, part
    assert sqlite["ready_one_wrk"]["errors"] == sqlite["ready_many_wrk"]["errors"] == 0
    assert set(sqlite["search_shapes"]) == {"by model", "by tag", "by metric threshold",
                                            "by metric, ordered"}
    assert sqlite["stages"]["lookup"]["errors"] == 0
    side_by_side = results["against_mlflow"]
    assert set(side_by_side) == {"MLflow sqlite", "Modelyard sqlite"}
    for figures in side_by_side.values():
        assert figures["registration"]["per_s"] > 0
        assert figures["lookup"]["requests_per_s"] > 0 and figures["lookup"]["errors"] == 0
        assert set(figures["search"]) == {"by model", "by tag"}
