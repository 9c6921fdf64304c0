"""`.env`: settings (W&B key, data root) a user keeps out of the shell and out of git. The mains
read it once at start; values already in the environment win, and no value is ever printed."""

from __future__ import annotations

import os
from pathlib import Path

from dotenv import dotenv_values


def load_dotenv(path: str | Path = ".env") -> list[str]:
    """Sets the variables of a `.env` file (python-dotenv parses it) that the environment lacks;
    returns their names only. Unlike python-dotenv's own load_dotenv, a blank value is skipped:
    a copied .env.example leaves `WANDB_MODE=` or `DATA_ROOT=` unset, not set to ''."""
    values = {k: v for k, v in dotenv_values(path).items() if v and k not in os.environ}
    os.environ.update(values)
    return list(values)
