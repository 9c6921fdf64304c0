"""Loggers for a run: CSV always, TensorBoard if asked, W&B in a mode decided before `init`.

W&B must never hang or kill training. Online `wandb.init` against a host that does not answer
blocks until its timeout, so the mode is decided first, once per process (every job of a sweep
reuses it): a key and a host that answers an HTTP request within 3 s → online, otherwise
offline. If an online `init` still stalls (`logger.wandb.init_timeout_s`), the run and every
later job go on offline — their data kept for `wandb sync` — said in one line; if even that
fails, the run goes on with CSV only. `finish` is bounded too. Secrets are never printed.
"""

from __future__ import annotations

import http.client
import logging
import netrc
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from lightning.pytorch.loggers import CSVLogger, Logger, TensorBoardLogger

from alexnet.timeout import call_with_timeout

log = logging.getLogger(__name__)

WANDB_MODES = ("auto", "online", "offline", "disabled")
SUMMARY_MIN = ("val/top1_err", "val/top5_err", "train_eval/top1_err")  # W&B summary: best and last


def wandb_host() -> str:
    """The W&B host as the installed wandb resolves it when it sets up: its settings file
    (WANDB_CONFIG_DIR/settings, else ~/.config/wandb/settings; then ./wandb/settings), then
    WANDB_BASE_URL, else its own default — never a host written here (wandb's default moves)."""
    import wandb

    settings = wandb.Settings(silent=True)
    config_dir = os.environ.get("WANDB_CONFIG_DIR")
    settings.settings_system = str(Path(config_dir or "~/.config/wandb").expanduser() / "settings")
    settings.update_from_system_settings()
    settings.update_from_env_vars(dict(os.environ))
    return settings.base_url


def _has_wandb_key(host: str) -> bool:
    """WANDB_API_KEY, or a `wandb login` for `host`: wandb's own netrc reader (its file, NETRC
    or ~/.netrc, and its host matching); a key wandb would refuse counts as none."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        from wandb.sdk.lib.wbauth import read_netrc_auth
    except ImportError:  # an older wandb: its netrc entry for the host, read by hand
        try:
            return netrc.netrc().authenticators(urlparse(host).hostname or "") is not None
        except (OSError, netrc.NetrcParseError):
            return False
    try:
        return read_netrc_auth(host=host) is not None
    except Exception:  # noqa: BLE001 - a malformed netrc or key: not logged in
        return False


def _answers_http(url: str, timeout: float = 3.0) -> bool:
    """An HTTP answer (any status) to a GET of `url` within `timeout` seconds in all — name
    lookup, connect and the answer. An open port is not enough: a proxy, a captive portal or a
    hung server accepts connections and never answers."""

    def ask() -> bool:
        try:
            with urllib.request.urlopen(urllib.request.Request(url, method="GET"), timeout=timeout):
                return True
        except urllib.error.HTTPError:  # 401, 404, ...: the host answers
            return True

    try:
        answered, _ = call_with_timeout(ask, timeout)
    except (OSError, ValueError, http.client.HTTPException):
        return False
    return answered


# The mode decided for this process, per (requested, WANDB_MODE, host, key present): every job of
# a sweep reuses it, and a stalled online init turns it offline for the jobs that follow.
_DECIDED: dict[tuple, str] = {}


def _decision_key(requested: str) -> tuple:
    host = wandb_host()
    return requested, os.environ.get("WANDB_MODE", "").lower(), host, _has_wandb_key(host)


def decide_wandb_mode(requested: str = "auto") -> str:
    """online | offline | disabled, decided before any `wandb.init`, once per process."""
    if requested not in WANDB_MODES:
        raise ValueError(f"logger.wandb.mode={requested!r} is not one of {list(WANDB_MODES)}")
    if requested != "auto":
        return _DECIDED.get(_decision_key(requested), requested)
    env = os.environ.get("WANDB_MODE", "").lower()
    if env in ("offline", "disabled", "dryrun"):
        return "offline" if env == "dryrun" else env
    key = _decision_key(requested)
    if key not in _DECIDED:
        url, logged_in = key[2], key[3]
        if not logged_in:
            _DECIDED[key] = "offline"
        elif _answers_http(url):
            _DECIDED[key] = "online"
        else:
            _DECIDED[key] = "offline"
            log.warning("W&B host %s did not answer within 3 s: logging offline (sync later with "
                        "`wandb sync`)",
                        urlparse(url).hostname)
    return _DECIDED[key]


def build_loggers(
    cfg: dict[str, Any], out_dir: str | Path, run_name: str, group: str | None,
    tags: list[str], config: dict[str, Any], run_id: str | None = None,
) -> list[Logger]:
    """The loggers `cfg` (the `logger` config group) asks for, writing under `out_dir`."""
    out_dir = Path(out_dir)
    loggers: list[Logger] = []
    if cfg.get("csv", False):
        loggers.append(CSVLogger(save_dir=out_dir, name="csv", version=""))
    if cfg.get("tensorboard", False):
        # no placeholder hp_metric: the hparams view gets the run's real results at its end
        loggers.append(TensorBoardLogger(save_dir=out_dir, name="tensorboard", version="",
                                         default_hp_metric=False))
    wb = cfg.get("wandb") or {}
    if wb.get("enabled", False):
        wandb_logger = _wandb_logger(wb, out_dir, run_name, group, tags, config, run_id)
        if wandb_logger is not None:
            loggers.append(wandb_logger)
    return loggers


# What TensorBoard's HParams view shows per run, beside its arm, seed and config
HPARAM_METRICS = ("test/top1_err", "test/top5_err", "test/tencrop_top1_err", "best_val/top1_err",
                  "final_val/top1_err")


def log_final_hparams(loggers: list[Logger], hparams: dict[str, Any], summary: dict) -> None:
    """Gives TensorBoard's HParams view each run's results (its table: one row per run, sortable
    by any of them), once they exist: at the run's end, from its summary."""
    metrics = {k: summary[k] for k in HPARAM_METRICS if isinstance(summary.get(k), (int, float))}
    for lg in loggers:
        if isinstance(lg, TensorBoardLogger) and metrics:
            lg.log_hyperparams(hparams, metrics)
            lg.finalize("success")


def _init_wandb(wb, out_dir, run_name, group, tags, config, mode, run_id):
    import wandb
    from lightning.pytorch.loggers import WandbLogger

    # `mode=` goes to this run's init only; WandbLogger(offline=True) would instead set
    # WANDB_MODE for the whole process and every later job of a sweep. `id` + resume="allow":
    # every attempt of a resumed job logs to the same W&B run.
    # job_type = the arm, group = the sweep: W&B's own grouping of an ablation
    arm = ",".join(f"{k}={v}" for k, v in (config.get("arm") or {}).items()) or "baseline"
    logger = WandbLogger(
        name=run_name, project=wb.get("project"), entity=wb.get("entity"), group=group,
        job_type=arm[:64], tags=[t[:64] for t in tags], save_dir=str(out_dir), mode=mode,
        config=config, id=run_id, resume="allow",
        settings=wandb.Settings(init_timeout=float(wb.get("init_timeout_s", 5)), silent=True),
    )
    # Lightning passes `anonymous=None`, which wandb ≥ 0.22 warns about on every run; unset, it
    # means the same (wandb's default)
    if getattr(logger, "_wandb_init", {}).get("anonymous", "unset") is None:
        del logger._wandb_init["anonymous"]
    run = logger.experiment  # init now, where a failure can be caught, not inside fit()
    for key in SUMMARY_MIN:  # the run's summary holds the best epoch too, as summary.json does
        run.define_metric(key, summary="min,last")
    return logger


def _wandb_logger(wb, out_dir, run_name, group, tags, config, run_id=None):
    requested = wb.get("mode", "auto")
    mode = decide_wandb_mode(requested)
    if mode == "disabled":
        return None
    try:
        logger = _init_wandb(wb, out_dir, run_name, group, tags, config, mode, run_id)
        log.info("W&B logging %s%s", mode, f" (group {group})" if group else "")
        return logger
    except Exception as e:  # noqa: BLE001 - logging must never stop training
        reason = f"{type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"
        if mode != "online":
            log.warning("W&B disabled for this run (%s); CSV records are still written", reason)
            return None
    # online init stalled or failed: offline from now on, for this job and the next ones
    _DECIDED[_decision_key(requested)] = "offline"
    log.warning("W&B online init failed (%s): logging offline for this and the next jobs (sync "
                "later with `wandb sync`)", reason)
    return _wandb_logger(wb | {"mode": "offline"}, out_dir, run_name, group, tags, config, run_id)


def finish_wandb(timeout_s: float = 10.0) -> None:
    """Close this job's W&B run so the next job of a sweep starts clean; a `finish` that stalls
    (a host that stopped answering) is left behind after `timeout_s`, its data on disk."""
    try:
        import wandb

        run = wandb.run
        if run is None:
            return
    except Exception as e:  # noqa: BLE001
        log.warning("wandb.finish failed: %s", e)
        return
    try:
        finished, _ = call_with_timeout(run.finish, timeout_s)
    except Exception as e:  # noqa: BLE001
        log.warning("wandb.finish failed: %s", e)
        return
    if not finished:
        log.warning("wandb.finish did not end within %.0f s; moving on (the run's files are in its "
                    "wandb/ folder)", timeout_s)
