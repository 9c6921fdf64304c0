"""Loggers for a run: CSV always, TensorBoard if asked, W&B in a mode decided before `init`.

W&B must never hang or kill training. Online `wandb.init` with the network down blocks for a
long time and then raises, and falling back to offline in the same process fails too, so the
mode is decided first: a key and a reachable host → online, otherwise offline. If `init` still
fails, the run goes on without W&B and says so in one line. Secrets are never printed.
"""

from __future__ import annotations

import logging
import netrc
import os
import socket
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from lightning.pytorch.loggers import CSVLogger, Logger

log = logging.getLogger(__name__)

WANDB_MODES = ("auto", "online", "offline", "disabled")


def load_dotenv(path: str | Path = ".env") -> list[str]:
    """Sets the variables of a `.env` file that the environment lacks; returns their names only."""
    path = Path(path)
    if not path.is_file():
        return []
    names = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.removeprefix("export ").split("=", 1)
        key, value = key.strip(), value.strip().strip("'\"")
        if key and value and key not in os.environ:
            os.environ[key] = value
            names.append(key)
    return names


def _has_wandb_key() -> bool:
    if os.environ.get("WANDB_API_KEY"):
        return True
    host = urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname or ""
    try:
        return netrc.netrc().authenticators(host) is not None
    except (OSError, netrc.NetrcParseError):
        return False


def _reachable(url: str, timeout: float = 3.0) -> bool:
    """A TCP connection within `timeout` seconds, name lookup included (a broken resolver can
    otherwise stall for tens of seconds before the connect timeout even starts)."""
    parsed = urlparse(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)

    def connect() -> bool:
        with socket.create_connection((parsed.hostname, port), timeout=timeout):
            return True

    pool = ThreadPoolExecutor(max_workers=1)
    try:
        return pool.submit(connect).result(timeout=timeout)
    except (OSError, FutureTimeout):
        return False
    finally:
        pool.shutdown(wait=False)


def decide_wandb_mode(requested: str = "auto") -> str:
    """online | offline | disabled, decided before any `wandb.init`."""
    if requested not in WANDB_MODES:
        raise ValueError(f"logger.wandb.mode={requested!r} is not one of {list(WANDB_MODES)}")
    if requested != "auto":
        return requested
    env = os.environ.get("WANDB_MODE", "").lower()
    if env in ("offline", "disabled", "dryrun"):
        return "offline" if env == "dryrun" else env
    if _has_wandb_key() and _reachable(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")):
        return "online"
    return "offline"


def build_loggers(
    cfg: dict[str, Any], out_dir: str | Path, run_name: str, group: str | None,
    tags: list[str], config: dict[str, Any],
) -> list[Logger]:
    """The loggers `cfg` (the `logger` config group) asks for, writing under `out_dir`."""
    out_dir = Path(out_dir)
    loggers: list[Logger] = []
    if cfg.get("csv", True):
        loggers.append(CSVLogger(save_dir=out_dir, name="csv", version=""))
    if cfg.get("tensorboard", False):
        from lightning.pytorch.loggers import TensorBoardLogger

        loggers.append(TensorBoardLogger(save_dir=out_dir, name="tensorboard", version=""))
    wb = cfg.get("wandb") or {}
    if wb.get("enabled", False):
        wandb_logger = _wandb_logger(wb, out_dir, run_name, group, tags, config)
        if wandb_logger is not None:
            loggers.append(wandb_logger)
    return loggers


def _wandb_logger(wb, out_dir, run_name, group, tags, config):
    mode = decide_wandb_mode(wb.get("mode", "auto"))
    if mode == "disabled":
        return None
    try:
        import wandb
        from lightning.pytorch.loggers import WandbLogger

        # `mode=` goes to this run's init only; WandbLogger(offline=True) would instead set
        # WANDB_MODE for the whole process and every later job of a sweep.
        logger = WandbLogger(
            name=run_name, project=wb.get("project"), entity=wb.get("entity"), group=group,
            tags=[t[:64] for t in tags], save_dir=str(out_dir), mode=mode, config=config,
            settings=wandb.Settings(init_timeout=float(wb.get("init_timeout_s", 20)), silent=True),
        )
        _ = logger.experiment  # init now, where a failure can be caught, not inside fit()
        log.info("W&B logging %s (group %s)", mode, group)
        return logger
    except Exception as e:  # noqa: BLE001 - logging must never stop training
        log.warning("W&B disabled for this run (%s: %s); CSV records are still written", type(e).__name__, str(e).splitlines()[0][:200])
        return None


def finish_wandb() -> None:
    """Close this job's W&B run so the next job of a sweep starts clean."""
    try:
        import wandb

        if wandb.run is not None:
            wandb.finish()
    except Exception as e:  # noqa: BLE001
        log.warning("wandb.finish failed: %s", e)
