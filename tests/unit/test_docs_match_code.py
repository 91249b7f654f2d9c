"""Facts the docs repeat from the code must agree with it.

Where a doc has to show a fact the code holds (what disabling kruise-daemon stops, the lines and
the names each looks for), the doc keeps it between markers or in a table this test reads. Run
this file as a script to rewrite the marked blocks from the code:
``.venv/bin/python tests/unit/test_docs_match_code.py``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]

from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster import (  # noqa: E402
    cluster_record,
    kruise_helm_release,
    kruise_info,
    kruise_manifests,
    kruise_pin_check,
    kruise_wait,
    node_drain,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.access import (  # noqa: E402
    Access,
)
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


# The names docs/permissions.md uses for what differs between clusters.
KRUISE_NAMESPACE = "kruise-system"
RELEASE_NAMESPACE = "default"
MANAGER = "kruise-controller-manager"
DAEMON = "kruise-daemon"
# The lock the roles take (kruise_lock): one Lease in the release's namespace (Helm) or the
# kruise namespace (manifests), taken, renewed and released.
LOCK_VERBS = ("get", "create", "update", "delete")


def lock_needs(namespace: str) -> list[Access]:
    return [
        Access(verb, "leases", "coordination.k8s.io", namespace, why="the lock")
        for verb in LOCK_VERBS
    ]


def needs_block(needs: Iterable[Access]) -> str:
    """One line per request: ``- `verb resource.group name in namespace ns` (why)``."""
    return "".join(
        f"- `{need.describe()}`" + (f" ({need.why})" if need.why else "") + "\n"
        for need in dict.fromkeys(needs)
    )


def rbac_yaml(name: str, needs: Iterable[Access]) -> str:
    """A ClusterRole for the requests without a namespace and a Role in each namespace for the
    others: one rule per resource (and object names), its verbs in the order first needed."""
    by_namespace: dict[str | None, dict[tuple[str, str, tuple[str, ...]], list[str]]] = {}
    for need in dict.fromkeys(needs):
        resource = need.resource + (f"/{need.subresource}" if need.subresource else "")
        names = (need.name,) if need.name else ()
        verbs = by_namespace.setdefault(need.namespace, {}).setdefault(
            (need.group, resource, names), []
        )
        if need.verb not in verbs:
            verbs.append(need.verb)
    documents = []
    for namespace in sorted(by_namespace, key=lambda ns: (ns is not None, ns or "")):
        rules = []
        for (group, resource, names), verbs in by_namespace[namespace].items():
            rule: dict[str, object] = {"apiGroups": [group], "resources": [resource]}
            if names:
                rule["resourceNames"] = list(names)
            rule["verbs"] = verbs
            rules.append(rule)
        metadata = {"name": name, **({"namespace": namespace} if namespace else {})}
        documents.append(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "Role" if namespace else "ClusterRole",
                "metadata": metadata,
                "rules": rules,
            }
        )
    return "---\n".join(
        yaml.dump(
            document, Dumper=_IndentedDumper, sort_keys=False, default_flow_style=None, width=100
        )
        for document in documents
    )


class _IndentedDumper(yaml.SafeDumper):
    """Block sequences indented under their key, as yamllint's default wants them."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def assess_needs() -> list[Access]:
    return kruise_info.read_needs(KRUISE_NAMESPACE, RELEASE_NAMESPACE)


def drain_needs() -> list[Access]:
    options = node_drain.DrainOptions("NODE")
    return [
        *node_drain.read_needs(options),
        *node_drain.change_needs(options, cordon=True, eviction_namespaces=["NAMESPACE"]),
    ]


def manifests_needs(**change: object) -> list[Access]:
    return [
        *kruise_manifests.read_needs(KRUISE_NAMESPACE, MANAGER, DAEMON),
        *kruise_manifests.change_needs(KRUISE_NAMESPACE, MANAGER, DAEMON, **change),  # type: ignore[arg-type]  # pylint: disable=missing-kwoa
    ]


def manifests_path_needs(*, disable: bool) -> list[Access]:
    """The whole manifests path: what kruise_info must read for it, the pre-flight, the lock,
    the change with its way back and health check (both directions for the daemon gate)."""
    reads = [
        Access("list", "deployments", "apps", why="where the kruise manager runs"),
        Access("list", "daemonsets", "apps", KRUISE_NAMESPACE),
    ]
    if disable:
        feature_use = [
            need
            for need in kruise_info.read_needs(KRUISE_NAMESPACE, None)
            if need.group == kruise_info.KRUISE_GROUP or need.resource == "pods"
        ]
        change = [
            *manifests_needs(manager_patched=True, daemon_change="delete", record_change="create"),
            *manifests_needs(manager_patched=True, daemon_change="delete", record_change="update"),
            *manifests_needs(manager_patched=True, daemon_change="create", record_change="delete"),
        ]
        return reads + feature_use + lock_needs(KRUISE_NAMESPACE) + change
    change = manifests_needs(manager_patched=True, daemon_change="patch", record_change=None)
    # The record of the way back: a Secret in OpenKruise's namespace, earlier ones listed.
    records = [
        Access("list", "secrets", namespace=KRUISE_NAMESPACE, why="the records of earlier pins"),
        *cluster_record.needed_access("Secret", KRUISE_NAMESPACE, "present"),
    ]
    return reads + kruise_pin_check.read_needs() + lock_needs(KRUISE_NAMESPACE) + records + change


def helm_storage_needs() -> list[Access]:
    return [
        *kruise_helm_release.storage_needs(RELEASE_NAMESPACE, "upgrade"),
        *kruise_helm_release.storage_needs(RELEASE_NAMESPACE, "rollback"),
    ]


# doc -> marker name -> the block's text, made from the code
GENERATED: dict[str, dict[str, Callable[[], str]]] = {
    "docs/remediations.md": {"daemon_features.STOPS_WORKING": stops_working_block},
    "docs/permissions.md": {
        "kruise_info.read_needs": lambda: needs_block(assess_needs()),
        "node_drain.needs": lambda: needs_block(drain_needs()),
        "kruise_helm_release.storage_needs": lambda: needs_block(helm_storage_needs()),
        "kruise_wait.read_needs": lambda: needs_block(kruise_wait.read_needs(KRUISE_NAMESPACE)),
        "kruise_pin_check.read_needs": lambda: needs_block(kruise_pin_check.read_needs()),
    },
}
RBAC_HEADER = """\
---
# Made from the code's needs by tests/unit/test_docs_match_code.py (run it as a script to write
# it again): {what}, for OpenKruise installed from manifests in kruise-system.
"""
# rbac/ files made from the code, whole
GENERATED_FILES: dict[str, Callable[[], str]] = {
    "rbac/pin-manifests.yml": lambda: (
        RBAC_HEADER.format(what="pin_kruise")
        + rbac_yaml("kruise-cri-pin", manifests_path_needs(disable=False))
    ),
    "rbac/disable-manifests.yml": lambda: (
        RBAC_HEADER.format(what="disable_kruise_daemon, both directions")
        + rbac_yaml("kruise-cri-daemon-gate", manifests_path_needs(disable=True))
    ),
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


@pytest.mark.parametrize("path", list(GENERATED_FILES))
def test_generated_files_match_the_code(path: str) -> None:
    assert (REPO_ROOT / path).read_text() == GENERATED_FILES[path](), (
        f"{path} differs from the code; rewrite it with "
        "`.venv/bin/python tests/unit/test_docs_match_code.py`"
    )


def write() -> None:
    for path, make in GENERATED_FILES.items():
        (REPO_ROOT / path).write_text(make())
        print(f"wrote {path}")
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
