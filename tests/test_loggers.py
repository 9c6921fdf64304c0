"""W&B never hangs or kills training, and secrets never leave .env."""

import socket
import threading
import time
from urllib.parse import urlparse

import pytest

from alexnet import loggers
from alexnet.dotenv import load_dotenv
from alexnet.loggers import build_loggers, decide_wandb_mode
from alexnet.timeout import call_with_timeout


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for key in ("WANDB_API_KEY", "WANDB_MODE", "WANDB_BASE_URL", "WANDB_CONFIG_DIR", "NETRC"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc, no ~/.config/wandb/settings
    monkeypatch.setattr(loggers, "_DECIDED", {})  # a new process


@pytest.fixture
def silent_host():
    """A loopback server that accepts connections and never answers (a hung proxy or portal)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held = []

    def accept():
        while True:
            try:
                held.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    server.close()
    for conn in held:
        conn.close()


def test_no_key_means_offline():
    assert decide_wandb_mode("auto") == "offline"


def test_a_wandb_login_for_wandbs_own_default_host_is_recognised(monkeypatch, tmp_path):
    """What `wandb login` leaves with the installed wandb and nothing else set: a netrc entry for
    wandb's default host (whatever that is in this version). That host is the one probed."""
    import wandb

    default = wandb.Settings().base_url
    (tmp_path / ".netrc").write_text(f"machine {urlparse(default).hostname}\n  login user\n"
                                     f"  password {'k' * 40}\n")
    (tmp_path / ".netrc").chmod(0o600)
    probed = []
    monkeypatch.setattr(loggers, "_answers_http", lambda url, timeout=3.0: probed.append(url) or True)
    assert decide_wandb_mode("auto") == "online" and probed == [default]


def test_the_host_of_wandbs_settings_file_is_the_one_probed(monkeypatch, tmp_path):
    settings = tmp_path / ".config" / "wandb" / "settings"
    settings.parent.mkdir(parents=True)
    settings.write_text("[default]\nbase_url = https://wandb.example.org\n")
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    probed = []
    monkeypatch.setattr(loggers, "_answers_http", lambda url, timeout=3.0: probed.append(url) or True)
    assert decide_wandb_mode("auto") == "online" and probed == ["https://wandb.example.org"]


def test_key_but_unreachable_host_means_offline(monkeypatch):
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    monkeypatch.setenv("WANDB_BASE_URL", "http://127.0.0.1:9")  # nothing listens on port 9
    assert decide_wandb_mode("auto") == "offline"


def test_key_and_reachable_host_means_online(monkeypatch):
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    monkeypatch.setattr(loggers, "_answers_http", lambda url, timeout=3.0: True)
    assert decide_wandb_mode("auto") == "online"


def test_a_host_that_accepts_but_never_answers_means_offline_decided_once(monkeypatch, silent_host, caplog):
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    monkeypatch.setenv("WANDB_BASE_URL", silent_host)
    probes = []
    real = loggers._answers_http
    monkeypatch.setattr(loggers, "_answers_http", lambda url, timeout=3.0: probes.append(url) or real(url, timeout))
    start = time.monotonic()
    assert [decide_wandb_mode("auto") for _ in range(4)] == ["offline"] * 4  # four jobs of a sweep
    assert time.monotonic() - start < 5 and probes == [silent_host]
    assert caplog.text.count("did not answer within 3 s: logging offline") == 1


def test_a_call_with_a_timeout_returns_raises_or_is_abandoned():
    hung = threading.Event()
    start = time.monotonic()
    assert call_with_timeout(hung.wait, 0.2) == (False, None)  # left running, not joined
    assert time.monotonic() - start < 1 and call_with_timeout(lambda: 7, 5) == (True, 7)
    with pytest.raises(ZeroDivisionError):
        call_with_timeout(lambda: 1 / 0, 5)
    hung.set()


def test_wandb_mode_env_and_explicit_modes(monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "disabled")
    assert decide_wandb_mode("auto") == "disabled"
    assert decide_wandb_mode("offline") == "offline"
    with pytest.raises(ValueError, match="logger.wandb.mode='cloud'"):
        decide_wandb_mode("cloud")


def test_a_failing_wandb_init_leaves_training_with_csv(monkeypatch, tmp_path, caplog):
    import lightning.pytorch.loggers as pl_loggers

    class Exploding:
        def __init__(self, *a, **k):
            raise TimeoutError("init timed out\nsecond line")

    monkeypatch.setattr(pl_loggers, "WandbLogger", Exploding)
    out = build_loggers({"csv": True, "wandb": {"enabled": True, "mode": "offline"}}, tmp_path,
                        "run", None, [], {})
    assert [type(x).__name__ for x in out] == ["CSVLogger"]
    assert "W&B disabled for this run (TimeoutError: init timed out)" in caplog.text


def test_an_offline_run_is_typed_by_its_arm_and_sums_up_its_best_epoch(tmp_path):
    """W&B's own reading of an ablation: group = the sweep, job_type = the arm; the run's
    summary keeps the best held-out error beside the last, as summary.json keeps both."""
    out = build_loggers({"csv": False, "wandb": {"enabled": True, "mode": "offline"}}, tmp_path,
                        "run", "ablate_lrn", [], {"arm": {"model.lrn": False}})
    run = out[0].experiment
    try:
        assert (run.group, run.job_type) == ("ablate_lrn", "model.lrn=False")
        for err in (0.5, 0.3, 0.4):
            run.log({"val/top1_err": err})
        summary = dict(run.summary)
        assert summary["val/top1_err"]["min"] == 0.3 and summary["val/top1_err"]["last"] == 0.4
    finally:
        loggers.finish_wandb()


def test_dotenv_sets_missing_variables_and_keeps_existing(monkeypatch, tmp_path, capsys):
    secret = "s3cr3t-value-1234567890"
    env = tmp_path / ".env"
    env.write_text(f"# comment\nWANDB_API_KEY={secret}\nexport WANDB_PROJECT='p'\nDATA_ROOT=\n")
    monkeypatch.setenv("WANDB_PROJECT", "mine")
    assert load_dotenv(env) == ["WANDB_API_KEY"]
    import os

    assert os.environ["WANDB_API_KEY"] == secret and os.environ["WANDB_PROJECT"] == "mine"
    assert secret not in capsys.readouterr().out


def test_a_silent_wandb_host_costs_a_sweep_seconds_not_minutes(silent_host, tmp_path):
    """Two tiny jobs with W&B pointed at a host that accepts and never answers finish in well under
    the 90 s that W&B's own init waits for one job (~15 s here); the fallback is said once and every
    job logs offline."""
    import os
    import subprocess
    import sys

    from conftest import REPO

    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env |= {"WANDB_API_KEY": "x" * 40, "WANDB_BASE_URL": silent_host, "HOME": str(tmp_path)}
    start = time.monotonic()
    out = subprocess.run([sys.executable, str(REPO / "src" / "train.py"), "-m", "seed=0,1", "debug=tiny",
                          "trainer.max_epochs=1", "callbacks.progress_bar=none", "logger.wandb.enabled=true",
                          f"hydra.sweep.dir={tmp_path / 'on'}"],
                         capture_output=True, text=True, timeout=900, cwd=REPO, env=env)
    took, log = time.monotonic() - start, out.stdout + out.stderr
    assert out.returncode == 0, out.stderr[-3000:]
    print(f"2-job sweep with a silent W&B host: {took:.1f} s")
    assert took < 90, log[-3000:]
    assert log.count("did not answer within 3 s: logging offline") == 1
    jobs = list((tmp_path / "on").glob("*_seed-*"))
    assert len(jobs) == 2
    for job in jobs:
        assert list((job / "wandb").glob("offline-run-*/run-*.wandb")), job


def test_tensorboards_hparams_view_holds_each_runs_arm_and_test_error(tmp_path):
    """logger=tensorboard: the HParams table (one row per run) gets the arm, the seed and the
    run's real results at its end, not Lightning's placeholder hp_metric."""
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    from alexnet.training import train
    from conftest import make_config

    cfg = make_config("debug=tiny", "callbacks.progress_bar=none", "trainer.max_epochs=1",
                      "logger=tensorboard", "logger.wandb.enabled=false", "ablation.arm=lrn", "seed=3")
    summary = train(cfg, tmp_path / "job")
    events = EventAccumulator(str(tmp_path / "job" / "tensorboard"))
    events.Reload()
    content = events.PluginTagToContent("hparams")
    start = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"])
    hparams = start.session_start_info.hparams
    assert hparams["arm"].string_value == "model.lrn=False" and hparams["seed"].number_value == 3
    assert hparams["model/lrn"].bool_value is False
    experiment = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/experiment"])
    shown = {m.name.tag for m in experiment.experiment.metric_infos}
    assert {"test/top1_err", "best_val/top1_err"} <= shown and "hp_metric" not in shown
    (last, *_) = sorted(events.Scalars("test/top1_err"), key=lambda e: -e.step)
    assert last.value == pytest.approx(summary["test/top1_err"])
