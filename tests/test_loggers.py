"""W&B never hangs or kills training, and secrets never leave .env."""

import pytest

from alexnet import loggers
from alexnet.loggers import build_loggers, decide_wandb_mode, load_dotenv


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for key in ("WANDB_API_KEY", "WANDB_MODE", "WANDB_BASE_URL"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc


def test_no_key_means_offline():
    assert decide_wandb_mode("auto") == "offline"


def test_key_but_unreachable_host_means_offline(monkeypatch):
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    monkeypatch.setenv("WANDB_BASE_URL", "http://127.0.0.1:9")  # nothing listens on port 9
    assert decide_wandb_mode("auto") == "offline"


def test_key_and_reachable_host_means_online(monkeypatch):
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    monkeypatch.setattr(loggers, "_reachable", lambda url, timeout=3.0: True)
    assert decide_wandb_mode("auto") == "online"


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


def test_dotenv_sets_missing_variables_and_keeps_existing(monkeypatch, tmp_path, capsys):
    secret = "s3cr3t-value-1234567890"
    env = tmp_path / ".env"
    env.write_text(f"# comment\nWANDB_API_KEY={secret}\nexport WANDB_PROJECT='p'\nDATA_ROOT=\n")
    monkeypatch.setenv("WANDB_PROJECT", "mine")
    assert load_dotenv(env) == ["WANDB_API_KEY"]
    import os

    assert os.environ["WANDB_API_KEY"] == secret and os.environ["WANDB_PROJECT"] == "mine"
    assert secret not in capsys.readouterr().out
