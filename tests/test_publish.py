"""Publishing a sweep into experiments/: completed jobs' records only, never checkpoints, and
a second call adds the jobs finished since without touching those published."""

import json

import pytest

from alexnet.tools.publish import JOB_FILES, UncommittedRecord, publish_records
from conftest import run_main


def job(sweep, name, status=None, sha="0a32eab"):
    d = sweep / name
    (d / "checkpoints").mkdir(parents=True)
    (d / "checkpoints" / "last.ckpt").write_bytes(b"weights")
    (d / "wandb").mkdir()
    for f in ("config.yaml", "metrics.csv", "test_outcomes.csv"):
        (d / f).write_text(f"{name} {f}\n")
    if status:
        (d / "summary.json").write_text(json.dumps({"status": status, "git_sha": sha}))
    return d


def test_only_completed_jobs_records_are_copied_and_only_once(tmp_path):
    sweep, dest = tmp_path / "sweep", tmp_path / "experiments" / "study"
    sweep.mkdir()
    (sweep / "multirun.yaml").write_text("hydra: {}\n")
    job(sweep, "0_model.lrn-true+seed-0", "completed")
    failed = job(sweep, "1_model.lrn-false+seed-0", "failed")
    job(sweep, "2_model.lrn-true+seed-1")  # still running: no summary yet

    copied, left = publish_records(sweep, dest)
    assert copied == ["0_model.lrn-true+seed-0"]
    assert left == ["1_model.lrn-false+seed-0", "2_model.lrn-true+seed-1"]
    published = dest / "0_model.lrn-true+seed-0"
    assert sorted(p.name for p in published.iterdir()) == sorted(JOB_FILES)  # no checkpoints, no wandb/
    assert (dest / "multirun.yaml").is_file()

    (failed / "summary.json").write_text(json.dumps({"status": "completed"}))  # resumed, then done
    (sweep / "0_model.lrn-true+seed-0" / "metrics.csv").write_text("changed\n")
    copied, left = publish_records(sweep, dest)
    assert copied == ["1_model.lrn-false+seed-0"] and left == ["2_model.lrn-true+seed-1"]
    assert (published / "metrics.csv").read_text() == "0_model.lrn-true+seed-0 metrics.csv\n"  # untouched
    assert not list(dest.glob(".*partial"))


def test_a_directory_that_is_no_sweep_is_refused_in_one_line(tmp_path):
    with pytest.raises(FileNotFoundError, match="holds no multirun.yaml: pass a sweep directory"):
        publish_records(tmp_path, tmp_path / "out")


def test_a_record_of_uncommitted_code_is_refused_and_nothing_is_copied(tmp_path):
    sweep, dest = tmp_path / "sweep", tmp_path / "experiments" / "study"
    sweep.mkdir()
    (sweep / "multirun.yaml").write_text("hydra: {}\n")
    job(sweep, "0_model.lrn-true+seed-0", "completed")
    job(sweep, "1_model.lrn-false+seed-0", "completed", sha="0a32eab-dirty")
    with pytest.raises(UncommittedRecord, match="1_model.lrn-false.* uncommitted code .*0a32eab-dirty"):
        publish_records(sweep, dest)
    assert not dest.exists()
    done = run_main("publish.py", sweep, dest)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert "nothing was copied" in done.stderr and not dest.exists()
