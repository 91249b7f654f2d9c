"""The playbooks this collection ships: a plan marks the commands of the others "not shipped"."""

from __future__ import annotations

import os

COLLECTION_DIR = os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
)
PLAYBOOKS_DIR = os.path.join(COLLECTION_DIR, "playbooks")


def shipped_playbooks(directory: str = PLAYBOOKS_DIR) -> list[str]:
    """Names of the playbooks the collection ships (playbooks/NAME.yml)."""
    try:
        entries = os.listdir(directory)
    except OSError:
        return []
    return sorted(name[: -len(".yml")] for name in entries if name.endswith(".yml"))
