"""Test setup shared by every suite: the collection is importable as ansible_collections.*."""

from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


# As kruise_cri.COLLECTIONS_PATH; the shipped unit tests may not import the lab package.
def _collections_path() -> Path:
    """The folder holding ansible_collections/kruise_cri/remediation: the tree the checkout sits
    in (as ansible-test runs it), else the checkout's .collections link (scripts/setup makes it)."""
    if REPO_ROOT.parent.parent.name == "ansible_collections":
        return REPO_ROOT.parents[2]
    return REPO_ROOT / ".collections"


COLLECTIONS_PATH = _collections_path()

if str(COLLECTIONS_PATH) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS_PATH))
