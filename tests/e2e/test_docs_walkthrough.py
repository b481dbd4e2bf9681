"""The walk-throughs in docs/ run as written, each against a fresh real server with auth on,
with the command line on PATH (the README's runner reads the expectations)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import free_port, running
from tests.e2e.test_readme import FENCE, ROOT, commands, run_and_check

ADMIN = "docs-walkthrough-admin-token-0123456789"


def _steps(doc: Path, port: int):
    steps = []
    for lang, body in FENCE.findall(doc.read_text()):
        if lang == "sh":
            steps += commands(body.replace("8080", str(port)))
    return steps


@pytest.mark.slow
@pytest.mark.parametrize("doc", ["stages.md", "approvals.md"])
def test_the_walkthrough_runs_as_written(tmp_path, doc):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "MODELYARD_CONFIG": "", "DATABASE_URL": "",
           "MODELYARD_AUTH_ENABLED": "true", "MODELYARD_ADMIN_TOKEN": ADMIN,
           "MODELYARD_URL": url, "MODELYARD_TOKEN": ADMIN, "HOME": str(tmp_path),
           "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    steps = _steps(ROOT / "docs" / doc, port)
    assert len(steps) > 10
    with running([sys.executable, "-m", "registry", "serve", "--port", str(port), "--data-dir",
                  str(tmp_path / "data")], url, env=env):
        run_and_check(steps, tmp_path, env)
