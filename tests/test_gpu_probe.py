"""The GPU probe must run on the first GPU machine in one call: its --smoke run on the CPU checks
every section end to end, so a GPU session finds a table, not a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SECTIONS = ("step", "lrn", "syncs", "loader", "cifar")


def test_smoke_run_writes_a_row_per_section(tmp_path):
    done = subprocess.run([sys.executable, "benchmarks/gpu_probe.py", "--smoke", "--out", str(tmp_path)],
                          cwd=REPO, capture_output=True, text=True, timeout=180,
                          env=os.environ | {"WANDB_MODE": "disabled"})
    assert done.returncode == 0, done.stderr[-2000:]
    probe = json.loads((tmp_path / "probe.json").read_text())
    assert probe["smoke"] and probe["machine"]["device"] == "cpu"
    assert tuple(probe["sections"]) == SECTIONS
    for name, section in probe["sections"].items():
        assert section["rows"], name
        for r in section["rows"]:
            # a number, or a one-line reason in its place
            assert isinstance(r["value"], (int, float)) or (r["measured"] and "\n" not in r["measured"]), r
            assert not r["measured"].startswith("error"), r  # on the CPU every section runs
    table = (tmp_path / "probe.md").read_text().splitlines()
    for name in SECTIONS:
        assert any(line.startswith(f"| {name} |") for line in table), name
