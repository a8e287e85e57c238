"""Helpers for running the real ``orbit`` command in child processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ORBIT = [sys.executable, "-m", "orbit_gui.engine.cli"]
ROOT = Path(__file__).parents[2]


@dataclass
class Orbit:
    """Runs ``orbit`` with a private config folder (profiles, journal, logs)."""

    config: Path

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["ORBIT_CONFIG_DIR"] = str(self.config)
        env.pop("ORBIT_LOG_LEVEL", None)
        return env

    def run(self, *args: str, input: str | None = None,
            check: bool = False) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([*ORBIT, *args], capture_output=True, text=True, input=input,
                              env=self.env, cwd=ROOT, timeout=240)
        if check and done.returncode != 0:
            raise AssertionError(f"orbit {' '.join(args)} failed ({done.returncode}):\n"
                                 f"{done.stdout}\n{done.stderr}")
        return done

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen([*ORBIT, *args], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                                env=self.env, cwd=ROOT)

    def journal_path(self) -> Path:
        return self.config / "state" / "journal.sqlite3"


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def follow(process: subprocess.Popen[str]) -> Iterator[dict[str, Any]]:
    """The JSON progress lines of a running ``orbit ... --progress json``."""
    assert process.stdout is not None
    for line in process.stdout:
        if line.strip():
            yield json.loads(line)


@pytest.fixture
def orbit(tmp_path: Path) -> Orbit:
    config = tmp_path / "orbit-config"
    config.mkdir()
    return Orbit(config)
