"""The README runs as written, in the order a reader meets it.

From a fresh copy of the repository, the README's first command installs Modelyard into a new
virtual environment and starts the server; then every later `sh` and `python` block runs, in
order, in one shell, against that server. Under a command, a comment `# → ...` says what its
output holds: for JSON, a subset of the answer (`...` stands for the rest); for text, pieces that
appear in that order (`...` between them).

Two substitutions stand in for what a reader does: the token the first start printed goes where
the README writes `myd_...`, and the server listens on a free port where the README writes 8080.
The second command (the whole test suite) is what `.ci/run` runs, word for word.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from tests.e2e.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
MARKER = "@@README-COMMAND@@"


@dataclass
class Command:
    text: str
    expect: list[str] = field(default_factory=list)


def blocks(kind: str | None = None) -> list[tuple[str, str]]:
    found = [(lang, body) for lang, body in FENCE.findall((ROOT / "README.md").read_text())]
    return [b for b in found if kind is None or b[0] == kind]


def commands(block: str) -> list[Command]:
    """The block's commands (continued lines joined) with the expectations under each."""
    result: list[Command] = []
    pending = ""
    for line in block.splitlines():
        if line.startswith("# → "):
            result[-1].expect.append(line[len("# → "):])
        elif line.startswith("#") or not line.strip():
            continue
        elif line.endswith("\\"):
            pending += line[:-1] + " "
        else:
            result.append(Command(pending + line))
            pending = ""
    return result


def _subset(expected, actual) -> bool:
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            key in actual and _subset(value, actual[key]) for key, value in expected.items())
    if isinstance(expected, list):
        return isinstance(actual, list) and len(actual) >= len(expected) and all(
            _subset(e, a) for e, a in zip(expected, actual))
    return expected == actual


def holds(expectation: str, output: str) -> bool:
    if expectation.startswith("{"):
        wanted = json.loads(re.sub(r",\s*\.\.\.\s*(?=[}\]])", "", expectation))
        return _subset(wanted, json.loads(output))
    position = 0
    for piece in (p.strip() for p in expectation.split("...")):
        found = output.find(piece, position)
        if found < 0:
            return False
        position = found + len(piece)
    return True


def _clean_environment(home: Path) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MODELYARD_", "VIRTUAL_ENV", "PYTEST", "DATABASE_URL"))}
    env["HOME"] = str(home)  # no client config file of this machine's user
    env["PATH"] = ":".join(p for p in env["PATH"].split(":") if "/.venv/" not in p)
    return env


def _fresh_copy(target: Path) -> None:
    listed = ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"]
    tracked = subprocess.run(listed, cwd=ROOT, capture_output=True,
                             check=True).stdout.decode().split("\0")
    for name in filter(None, tracked):
        if (ROOT / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target / name)


def _start(first_command: str, folder: Path, env: dict, port: int):
    log = tempfile.TemporaryFile()
    process = subprocess.Popen(["bash", "-c", first_command], cwd=folder, stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True,
                               env={**env, "MODELYARD_SERVER_PORT": str(port)})
    deadline = time.monotonic() + 900  # a fresh virtual environment installs every dependency
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).ok:
                log.seek(0)
                return process, log, log.read().decode(errors="replace")
        except requests.RequestException:
            pass
        time.sleep(1)
    log.seek(0)
    output = log.read().decode(errors="replace")
    log.close()
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    pytest.fail(f"the README's first command did not start a server:\n{output[-4000:]}")


def _script(steps: list[Command]) -> str:
    lines = ["set -e"]
    for number, step in enumerate(steps):
        lines += [f"echo '{MARKER} {number}'", step.text, "echo"]
    return "\n".join(lines) + "\n"


def run_and_check(steps: list[Command], folder: Path, env: dict) -> None:
    """Run `steps` in order in one shell in `folder`; each output must hold its expectations."""
    result = subprocess.run(["bash", "-c", _script(steps)], cwd=folder, env=env,
                            capture_output=True, text=True, timeout=600)
    outputs = result.stdout.split(MARKER)[1:]
    assert result.returncode == 0, (steps[len(outputs) - 1].text, result.stdout[-3000:],
                                    result.stderr[-3000:])
    for step, output in zip(steps, outputs):
        output = output.split("\n", 1)[1].strip()
        for expectation in step.expect:
            assert holds(expectation, output), (step.text, expectation, output[-2000:])


def _runnable_steps(port: int, token: str) -> list[Command]:
    steps: list[Command] = []
    shell_blocks = 0
    for lang, body in blocks():
        shell_blocks += lang == "sh"
        if shell_blocks <= 2:  # the two quickstart commands: the server runs, CI runs the suite
            continue
        body = body.replace("8080", str(port)).replace("myd_...", token)
        if lang == "sh":
            steps += commands(body)
        elif lang == "python":
            steps.append(Command(f".venv/bin/python - <<'PYTHON'\n{body}PYTHON"))
    return steps


def test_the_second_command_is_what_ci_runs():
    second = commands(blocks("sh")[1][1])[0].text
    assert second in (ROOT / ".ci" / "run").read_text()


@pytest.mark.slow
def test_the_readme_runs_as_written_from_a_fresh_folder(tmp_path):
    folder, home = tmp_path / "modelyard", tmp_path / "home"
    folder.mkdir()
    home.mkdir()
    _fresh_copy(folder)
    env = _clean_environment(home)
    port = free_port()
    first = commands(blocks("sh")[0][1])[0].text
    process, log, started = _start(first, folder, env, port)
    try:
        banner = blocks("text")[0][1].replace("8080", str(port))
        for line in banner.splitlines()[:3]:
            assert line.strip() in started, (line, started[-2000:])
        token = re.search(r"^  Token (myd_\S+)$", started, re.M).group(1)
        run_and_check(_runnable_steps(port, token), folder, env)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)
        log.close()


@pytest.mark.parametrize("expectation, output, verdict", [
    ('{"a": 1, ...}', '{"a": 1, "b": 2}', True),
    ('{"items": [{"a": 1, ...}], ...}', '{"items": [{"a": 1, "b": 0}, {"a": 2}], "n": 1}', True),
    ('{"a": 2, ...}', '{"a": 1}', False),
    ("registered ... version 1 ... pass", "registered fraud version 1 (ready): pass", True),
    ("version 2 ... version 1", "version 1 then version 2", False),
])
def test_how_expectations_are_read(expectation, output, verdict):
    assert holds(expectation, output) is verdict
