"""Helm release handling for kruise_helm_release: value merging, chart kubeVersion constraints,
chart references, manifest comparison, and a small wrapper of the helm command line.

Everything but :class:`HelmCli` is pure. :class:`HelmCli` only builds argument vectors and parses
helm's JSON; it runs commands through a callable the module gives it
(``AnsibleModule.run_command``), so it is tested with a fake.

Values are never left to helm's reuse rules: an upgrade passes the release's *complete* user values
(``helm get values``) deep-merged with the change, in a values file, with ``--reset-values``. The
result is the chart's defaults plus exactly the user's values plus the change, whatever helm's
``--reuse-values`` defaults are (the trap of kubernetes.core.helm's ``reset_values: true``, which
drops every value not passed again).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

DEFAULT_CHART_REF = "openkruise/kruise"
DEFAULT_CHART_REPO_URL = "https://openkruise.github.io/charts/"
DEPLOYED = "deployed"


class HelmError(Exception):
    """helm failed; the message has the command (without secrets) and helm's own words."""


class ConstraintError(ValueError):
    """A kubeVersion constraint that cannot be read."""


# --------------------------------------------------------------------------------------------
# Values


def deep_merge(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``overrides`` merged in, recursively for mappings. An override of ``None``
    removes the key (so the chart's default applies again); lists and scalars replace."""
    merged = copy.deepcopy(dict(base))
    for key, value in overrides.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def dig(values: Mapping[str, Any] | None, path: str) -> Any:
    """``dig(values, "manager.image.tag")``; None when any step is missing."""
    node: Any = values
    for step in path.split("."):
        if not isinstance(node, Mapping) or step not in node:
            return None
        node = node[step]
    return node


def values_yaml(values: Mapping[str, Any]) -> str:
    return yaml.safe_dump(dict(values), sort_keys=True, default_flow_style=False) if values else ""


def values_diff(
    before: Mapping[str, Any], after: Mapping[str, Any], before_header: str, after_header: str
) -> dict[str, str]:
    return {
        "before": values_yaml(before),
        "after": values_yaml(after),
        "before_header": before_header,
        "after_header": after_header,
    }


# --------------------------------------------------------------------------------------------
# Semantic versions and chart kubeVersion constraints (Masterminds semver v3, as helm reads them)

_VERSION_RE = re.compile(
    r"^v?(?P<major>0|[1-9]\d*|[xX*])"
    r"(?:\.(?P<minor>\d+|[xX*]))?"
    r"(?:\.(?P<patch>\d+|[xX*]))?"
    r"(?:-(?P<pre>[0-9A-Za-z.-]+))?"
    r"(?:\+(?P<build>[0-9A-Za-z.-]+))?$"
)
_COMPARATOR_RE = re.compile(
    r"\s*(?P<op>!=|>=|=>|<=|=<|~>|>|<|=|~|\^)?\s*"
    r"(?P<version>v?[0-9xX*]+(?:\.[0-9xX*]+){0,2}(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?)"
    r"\s*,?"
)


@dataclass(frozen=True, order=False)
class Version:
    major: int
    minor: int
    patch: int
    prerelease: tuple[str, ...] = ()

    def key(self) -> tuple[Any, ...]:
        # A release sorts after its prereleases; numeric identifiers sort before alphanumeric.
        pre: tuple[Any, ...] = tuple(
            (0, int(part), "") if part.isdigit() else (1, 0, part) for part in self.prerelease
        )
        return (self.major, self.minor, self.patch, 0 if self.prerelease else 1, pre)

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        return text + ("-" + ".".join(self.prerelease) if self.prerelease else "")


def parse_version(text: str) -> Version:
    """A full version (``v1.37.2``, ``1.28.3-eks-1``); raises ValueError otherwise."""
    match = _VERSION_RE.match(str(text).strip())
    if not match or any(
        (match.group(part) or "0") in ("x", "X", "*") for part in ("major", "minor", "patch")
    ):
        raise ValueError(f"{text!r} is not a version")
    pre = tuple(match.group("pre").split(".")) if match.group("pre") else ()
    return Version(
        int(match.group("major")),
        int(match.group("minor") or 0),
        int(match.group("patch") or 0),
        pre,
    )


def _bound(text: str) -> tuple[Version, int]:
    """The version a comparator names, and how many leading parts were given as numbers
    (``1.2`` or ``1.2.x`` -> 2)."""
    match = _VERSION_RE.match(text)
    if not match:
        raise ConstraintError(f"{text!r} is not a version")
    parts = [match.group("major"), match.group("minor"), match.group("patch")]
    given = 0
    for part in parts:
        if part is None or part in ("x", "X", "*"):
            break
        given += 1
    numbers = [int(part) if part and part.isdigit() else 0 for part in parts]
    pre = tuple(match.group("pre").split(".")) if match.group("pre") else ()
    return Version(numbers[0], numbers[1], numbers[2], pre), given


def _bump(version: Version, index: int) -> Version:
    """The next version at part ``index`` (0 major, 1 minor, 2 patch), lower parts zeroed."""
    parts = [version.major, version.minor, version.patch]
    parts[index] += 1
    for lower in range(index + 1, 3):
        parts[lower] = 0
    return Version(parts[0], parts[1], parts[2])


def _check(op: str, text: str, version: Version) -> bool:
    bound, given = _bound(text)
    # Masterminds v3: a prerelease only satisfies comparators that name a prerelease.
    if version.prerelease and not bound.prerelease:
        return False
    key = version.key()
    if op in ("", "="):
        if given == 3:
            return key == bound.key()
        if given == 0:
            return True
        return bound.key() <= key < _bump(bound, given - 1).key()
    if op == "!=":
        if given == 3:
            return key != bound.key()
        if given == 0:
            return False
        return not bound.key() <= key < _bump(bound, given - 1).key()
    if op == ">":
        if given == 3:
            return key > bound.key()
        return given > 0 and key >= _bump(bound, given - 1).key()
    if op in (">=", "=>"):
        return key >= bound.key()
    if op == "<":
        return key < bound.key() if given else False
    if op in ("<=", "=<"):
        if given == 3:
            return key <= bound.key()
        return given == 0 or key < _bump(bound, given - 1).key()
    if op in ("~", "~>"):
        upper = _bump(bound, 0 if given <= 1 else 1)
        return bound.key() <= key < upper.key()
    if op == "^":
        if bound.major > 0 or given <= 1:
            upper = _bump(bound, 0)
        elif bound.minor > 0 or given == 2:
            upper = _bump(bound, 1)
        else:
            upper = _bump(bound, 2)
        return bound.key() <= key < upper.key()
    raise ConstraintError(f"unknown operator {op!r}")


def _comparators(group: str) -> list[tuple[str, str]]:
    text = group.strip()
    hyphen = re.match(r"^(\S+)\s+-\s+(\S+)$", text)
    if hyphen:
        return [(">=", hyphen.group(1)), ("<=", hyphen.group(2))]
    found: list[tuple[str, str]] = []
    position = 0
    while position < len(text):
        match = _COMPARATOR_RE.match(text, position)
        if not match or match.end() == position:
            raise ConstraintError(f"cannot read {text[position:]!r}")
        found.append((match.group("op") or "", match.group("version")))
        position = match.end()
    if not found:
        raise ConstraintError("empty constraint")
    return found


def satisfies(version: str, constraint: str) -> bool:
    """Whether ``version`` meets a chart's ``kubeVersion`` constraint, as helm decides it
    (``||`` between alternatives; commas or spaces between comparators that must all hold)."""
    parsed = parse_version(str(version).split("+", 1)[0])
    groups = [group for group in str(constraint).split("||")]
    if not any(group.strip() for group in groups):
        return True
    return any(
        all(_check(op, text, parsed) for op, text in _comparators(group))
        for group in groups
        if group.strip()
    )


# --------------------------------------------------------------------------------------------
# Chart references


@dataclass(frozen=True)
class ChartSource:
    """How to get a chart: a local path used as is, or ``helm pull`` arguments."""

    local_path: str | None
    pull_args: tuple[str, ...] = ()

    @property
    def describe(self) -> str:
        return self.local_path or " ".join(self.pull_args)


def chart_source(
    chart_ref: str,
    chart_repo_url: str | None,
    chart_version: str | None,
    is_local: Callable[[str], bool],
) -> ChartSource:
    """A local chart (directory or .tgz) is used as is; ``oci://`` and ``http(s)://`` references
    are pulled; ``repo/name`` is pulled from ``chart_repo_url`` with ``--repo`` (no ``helm repo
    add``, so the user's repository list is not touched), or from the user's own helm
    repositories when ``chart_repo_url`` is empty."""
    ref = chart_ref.strip()
    if not ref:
        raise ValueError("chart_ref is empty")
    if is_local(ref):
        return ChartSource(local_path=ref)
    version = ("--version", str(chart_version)) if chart_version else ()
    if ref.startswith(("oci://", "http://", "https://")) or not chart_repo_url:
        return ChartSource(local_path=None, pull_args=(ref, *version))
    name = ref.rstrip("/").rsplit("/", 1)[-1]
    return ChartSource(local_path=None, pull_args=(name, "--repo", chart_repo_url, *version))


# --------------------------------------------------------------------------------------------
# Manifests


def manifest_objects(text: str | None) -> dict[str, dict[str, Any]]:
    """``Kind namespace/name`` -> object, for every document of a rendered manifest."""
    objects: dict[str, dict[str, Any]] = {}
    for document in yaml.safe_load_all(text or ""):
        if not isinstance(document, dict) or "kind" not in document:
            continue
        metadata = document.get("metadata") or {}
        namespace = metadata.get("namespace")
        name = metadata.get("name")
        key = f"{document['kind']} {namespace + '/' if namespace else ''}{name}"
        objects[key] = document
    return objects


def manifest_changes(before: str | None, after: str | None) -> dict[str, list[str]]:
    """Which objects an upgrade adds, removes and changes."""
    old = manifest_objects(before)
    new = manifest_objects(after)
    return {
        "added": sorted(set(new) - set(old)),
        "removed": sorted(set(old) - set(new)),
        "changed": sorted(key for key in set(old) & set(new) if old[key] != new[key]),
    }


# --------------------------------------------------------------------------------------------
# The helm command line

RunCommand = Callable[[list[str], Mapping[str, str]], tuple[int, str, str]]


def connection_args(options: Mapping[str, Any]) -> tuple[list[str], dict[str, str]]:
    """helm's global flags and environment for the kube_auth options. The token goes in the
    environment (``HELM_KUBETOKEN``), never on the command line."""
    args: list[str] = []
    env: dict[str, str] = {}
    if options.get("kubeconfig"):
        args += ["--kubeconfig", str(options["kubeconfig"])]
    if options.get("context"):
        args += ["--kube-context", str(options["context"])]
    if options.get("host"):
        args += ["--kube-apiserver", str(options["host"])]
    if options.get("api_key"):
        env["HELM_KUBETOKEN"] = str(options["api_key"])
    if options.get("ca_cert"):
        args += ["--kube-ca-file", str(options["ca_cert"])]
    if options.get("validate_certs") is False:
        args.append("--kube-insecure-skip-tls-verify")
    if (options.get("client_cert") or options.get("client_key")) and not options.get("kubeconfig"):
        raise ValueError(
            "helm takes client certificates only from a kubeconfig: give kubeconfig= "
            "(with the certificate in it) instead of client_cert=/client_key="
        )
    if options.get("proxy"):
        env["HTTPS_PROXY"] = env["https_proxy"] = str(options["proxy"])
    return args, env


@dataclass(frozen=True)
class ReleaseState:
    name: str
    namespace: str
    revision: int
    status: str
    chart: str | None
    chart_version: str | None
    app_version: str | None
    values: dict[str, Any]

    def summary(self) -> dict[str, Any]:
        return {
            "release": self.name,
            "namespace": self.namespace,
            "revision": self.revision,
            "status": self.status,
            "chart": self.chart,
            "chart_version": self.chart_version,
            "app_version": self.app_version,
            "values": self.values,
        }


@dataclass
class HelmCli:
    binary: str
    global_args: Sequence[str]
    env: Mapping[str, str]
    run: RunCommand
    commands: list[list[str]] = field(default_factory=list)

    def call(self, *args: str, allow_missing: bool = False) -> str | None:
        argv = [self.binary, *self.global_args, *args]
        self.commands.append(argv)
        rc, out, err = self.run(argv, self.env)
        if rc != 0:
            message = (err or out or "").strip()
            if allow_missing and "not found" in message:
                return None
            raise HelmError(f"helm {' '.join(args)} failed (rc {rc}): {message}")
        return out

    def json(self, *args: str, allow_missing: bool = False) -> Any:
        out = self.call(*args, "-o", "json", allow_missing=allow_missing)
        if out is None:
            return None
        try:
            return json.loads(out) if out.strip() else None
        except ValueError as error:
            raise HelmError(f"helm {' '.join(args)} printed no JSON: {out[:300]!r}") from error

    def release(self, name: str, namespace: str) -> ReleaseState | None:
        status = self.json("status", name, "-n", namespace, allow_missing=True)
        if status is None:
            return None
        metadata = self.json("get", "metadata", name, "-n", namespace) or {}
        return ReleaseState(
            name=name,
            namespace=namespace,
            revision=int(status.get("version") or metadata.get("revision") or 0),
            status=str((status.get("info") or {}).get("status") or metadata.get("status")),
            chart=metadata.get("chart"),
            chart_version=metadata.get("version"),
            app_version=metadata.get("appVersion"),
            values=dict(status.get("config") or {}),
        )

    def values(
        self, name: str, namespace: str, *, computed: bool = False, revision: int | None = None
    ) -> dict[str, Any]:
        args = ["get", "values", name, "-n", namespace]
        if computed:
            args.append("--all")
        if revision is not None:
            args += ["--revision", str(revision)]
        return dict(self.json(*args) or {})

    def manifest(self, name: str, namespace: str, revision: int | None = None) -> str:
        args = ["get", "manifest", name, "-n", namespace]
        if revision is not None:
            args += ["--revision", str(revision)]
        return self.call(*args) or ""

    def history(self, name: str, namespace: str, depth: int | None) -> list[dict[str, Any]]:
        """The last ``depth`` revisions (helm's default maximum for None), newest first."""
        depth_args = ("--max", str(depth)) if depth else ()
        entries = self.json("history", name, "-n", namespace, *depth_args) or []
        return sorted(entries, key=lambda entry: -int(entry.get("revision") or 0))

    def show_chart(self, chart: str) -> dict[str, Any]:
        return dict(yaml.safe_load(self.call("show", "chart", chart) or "") or {})

    def show_values(self, chart: str) -> dict[str, Any]:
        return dict(yaml.safe_load(self.call("show", "values", chart) or "") or {})

    def pull(self, source: ChartSource, directory: str) -> None:
        self.call("pull", *source.pull_args, "--destination", directory)
