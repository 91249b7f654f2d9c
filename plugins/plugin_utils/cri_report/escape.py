"""Making untrusted text safe to show: one printable line, shortened to a width, escaped for
markdown, fenced as a markdown code block, wrapped after slashes in HTML.

The HTML page itself relies on jinja2's autoescaping (html.py); the markdown and text renderers use
these helpers.
"""

from __future__ import annotations

import re

import markupsafe
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.cri_report.fact_values import (
    text,
)

_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_MARKDOWN_SPECIAL_RE = re.compile(r"([\\`*_\[\]<>|#~!])")


def plain(value: object) -> str:
    """One line of printable text: control characters (ANSI escapes included) and newlines go."""
    line = "" if value is None else text(value)
    line = line.replace("\r\n", " ").replace("\n", " ").replace("\t", " ")
    return _CONTROL_RE.sub("", line)


def ellipsize(line: str, width: int) -> str:
    """*line* cut to *width* characters, the last one an ellipsis when it was longer."""
    return line if len(line) <= width else line[: width - 1] + "…"


def escape_markdown(value: object) -> str:
    """Escape untrusted text for a GitHub markdown table cell or paragraph ("—" when empty)."""
    line = plain(value)
    if not line:
        return "—"
    return _MARKDOWN_SPECIAL_RE.sub(r"\\\1", line).replace("&", "&amp;")


def markdown_code_block(value: object) -> list[str]:
    """A fenced shell code block that untrusted text cannot close: the fence is longer than any
    run of backticks in the text (newlines and control characters are stripped first)."""
    line = plain(value)
    longest = max((len(run) for run in re.findall(r"`+", line)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}sh", line, fence]


def break_after_slashes(value: object) -> markupsafe.Markup:
    """HTML-escape, then let long paths wrap after a slash instead of mid-name."""
    return markupsafe.Markup("/<wbr>").join(
        markupsafe.escape(part) for part in ("" if value is None else str(value)).split("/")
    )
