"""Findings: what a reader or a decision noticed, for the report and the user.

Every part of the collection reports problems it can work around the same way: a severity, the
input it is about (a file, a cluster object, an option) and a message that names the fix.
"""

from __future__ import annotations

from typing import Literal

Severity = Literal["error", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")
Finding = dict[str, str]


def finding(severity: Severity, source: str, message: str) -> Finding:
    """``{"severity": ..., "source": ..., "message": ...}``, the shape facts and plans carry."""
    return {"severity": severity, "source": source, "message": message}
