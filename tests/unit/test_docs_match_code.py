"""Facts the docs repeat from the code must agree with it.

Where a doc has to show a fact the code holds (what disabling kruise-daemon stops, the lines and
the names each looks for), the doc keeps it between markers or in a table this test reads. Run
this file as a script to rewrite the marked blocks from the code:
``.venv/bin/python tests/unit/test_docs_match_code.py``.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / ".collections"))

from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.kruise_pin_check import (  # noqa: E402
    VALUES_AFTER_1_5,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.openkruise.daemon_features import (  # noqa: E402
    STOPS_WORKING,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.openkruise.releases import (  # noqa: E402
    LINES,
)
from ansible_collections.kruise_cri.remediation.plugins.plugin_utils.kruise_compat import (  # noqa: E402
    LINE_MODELS,
    V1,
    V1ALPHA2,
    cri_apis_of_line,
)


def stops_working_block() -> str:
    return "".join(f"- {item}\n" for item in STOPS_WORKING)


# doc -> marker name -> the block's text, made from the code
GENERATED: dict[str, dict[str, Callable[[], str]]] = {
    "docs/remediations.md": {"daemon_features.STOPS_WORKING": stops_working_block},
}


def _block(text: str, name: str) -> re.Match[str] | None:
    return re.search(
        rf"(<!-- {re.escape(name)}[^\n]*-->\n)(.*?)(<!-- end {re.escape(name)} -->)", text, re.S
    )


@pytest.mark.parametrize(
    ("doc", "name"), [(doc, name) for doc, blocks in GENERATED.items() for name in blocks]
)
def test_generated_blocks_match_the_code(doc: str, name: str) -> None:
    match = _block((REPO_ROOT / doc).read_text(), name)
    assert match, f"{doc} has no block <!-- {name} --> ... <!-- end {name} -->"
    assert match.group(2) == GENERATED[doc][name](), (
        f"{doc}: the block {name} differs from the code; rewrite it with "
        "`.venv/bin/python tests/unit/test_docs_match_code.py`"
    )


def _per_line_table() -> dict[str, list[str]]:
    text = (REPO_ROOT / "docs/kruise-daemon-model.md").read_text()
    section = text.split("## Per line", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for row in section.splitlines():
        cells = [cell.strip() for cell in row.strip().strip("|").split("|")]
        if len(cells) == 5 and re.fullmatch(r"\d+\.\d+", cells[0]):
            rows[cells[0]] = cells
    return rows


def _candidate_names(cell: str, rows: dict[str, list[str]]) -> list[str]:
    """``as 1.4, plus `cri-dockerd.sock``` -> the names of 1.4's cell and cri-dockerd.sock."""
    names: list[str] = []
    for part in cell.split(", "):
        part = part.removeprefix("plus ").strip()
        if part.startswith("as "):
            names += _candidate_names(rows[part.removeprefix("as ")][2], rows)
        elif part in ("pouch", "docker"):
            names.append(part)
        else:
            names.append(part.strip("`"))
    return names


def test_the_per_line_table_lists_every_line_and_its_candidates() -> None:
    rows = _per_line_table()
    assert tuple(rows) == LINES == tuple(LINE_MODELS)
    for line, cells in rows.items():
        modelled = [
            {"pouchcri.sock": "pouch", "dockershim.sock": "docker"}.get(c.cri_name, c.cri_name)
            for c in LINE_MODELS[line].candidates
        ]
        assert _candidate_names(cells[2], rows) == modelled, line


def test_the_per_line_table_says_which_cri_api_each_line_speaks() -> None:
    for line, cells in _per_line_table().items():
        api = cells[3]
        expected = {
            frozenset({V1ALPHA2}): "v1alpha2 only",
            frozenset({V1}): "v1 only",
            frozenset({V1, V1ALPHA2}): "v1 first; v1alpha2 only when v1 answers UNIMPLEMENTED",
        }[cri_apis_of_line(line)]
        assert api.startswith(expected), line


def test_the_values_only_newer_charts_read_are_all_named() -> None:
    text = (REPO_ROOT / "docs/remediations.md").read_text()
    sentence = next(line for line in text.splitlines() if "only charts after 1.5 read" in line)
    for key in VALUES_AFTER_1_5:
        assert f"`{key}`" in sentence, key


def write() -> None:
    for doc, blocks in GENERATED.items():
        path = REPO_ROOT / doc
        text = path.read_text()
        for name, make in blocks.items():
            match = _block(text, name)
            if match is None:
                raise SystemExit(f"{doc}: no block <!-- {name} --> ... <!-- end {name} -->")
            text = text[: match.start(2)] + make() + text[match.end(2) :]
        path.write_text(text)
        print(f"wrote {doc}")


if __name__ == "__main__":
    write()
