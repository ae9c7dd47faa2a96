"""Where the runtime finds the repository and keeps its state (.local/), in one place.

The state directory defaults to <repo>/.local and can be moved with RECOBRO_LOCAL_DIR so tests
and parallel stacks never share logs, secrets or persisted tables.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = REPO_ROOT / "template.yaml"
NODE_MODULES = REPO_ROOT / "infra" / "node_modules"


def state_dir() -> Path:
    configured = os.environ.get("RECOBRO_LOCAL_DIR")
    return Path(configured).resolve() if configured else REPO_ROOT / ".local"


def logs_dir() -> Path:
    path = state_dir() / "logs"
    path.mkdir(parents=True, exist_ok=True)
    return path
