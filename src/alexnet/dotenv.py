"""`.env`: settings (W&B key, data root) a user keeps out of the shell and out of git. The mains
read it once at start; values already in the environment win, and no value is ever printed."""

from __future__ import annotations

import os
from pathlib import Path


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
