#!/usr/bin/python
"""Read, upgrade with merged values, or roll back OpenKruise's Helm release with the helm binary."""

from __future__ import annotations

DOCUMENTATION = r"""
module: kruise_helm_release
short_description: Read, upgrade (values merged, never reset) or roll back OpenKruise's Helm release
description:
  - Runs the C(helm) binary against an existing release. It never installs and never uninstalls;
    a release that does not exist fails the task before anything changes.
  - O(state=info) reads the release (revision, status, chart version, the user-supplied values
    and the computed values), optionally the values of the last O(history) revisions, and, with
    O(chart_version), the chart it would install (version, appVersion, C(kubeVersion), default
    values). Nothing changes.
  - O(state=present) upgrades the release to O(chart_version) of the chart at O(chart_ref),
    keeping every user value. The module passes the release's complete user values
    (C(helm get values)) deep-merged with O(values) in a values file, with C(--reset-values), so
    the outcome never depends on helm's value reuse rules. A value of C(null) in O(values)
    removes the key (the chart default applies again). When chart version and values already
    match, nothing runs and no revision is created.
  - Before an upgrade the chart's version must equal O(chart_version) and its C(kubeVersion)
    constraint must accept the API server's version; the release must be C(deployed).
  - O(state=rolled_back) runs C(helm rollback) to O(revision) unless the current revision already
    has that revision's chart version and values.
  - Values files are written with mode C(0600) into a private temporary directory that is removed
    afterwards. A bearer token (O(api_key)) reaches helm through its environment, never its
    command line.
version_added: 0.2.0
author: kruise-cri maintainers
extends_documentation_fragment:
  - kruise_cri.remediation.kube_auth
options:
  release:
    description: Name of the Helm release.
    type: str
    required: true
  namespace:
    description: Namespace of the release (where helm keeps its secrets).
    type: str
    required: true
  state:
    description: What to do with the release.
    type: str
    choices: [info, present, rolled_back]
    default: info
  chart_ref:
    description:
      - The chart. A local directory or C(.tgz) is used as is. C(oci://) and C(https://)
        references are pulled. C(repo/name) is pulled from O(chart_repo_url) with C(--repo)
        (the user's helm repositories are not touched), or from the user's helm repositories
        when O(chart_repo_url) is empty.
    type: str
    default: openkruise/kruise
  chart_repo_url:
    description: The chart repository of a C(repo/name) O(chart_ref).
    type: str
    default: https://openkruise.github.io/charts/
  chart_version:
    description:
      - The chart version to install. Defaults to the release's current chart version with
        O(state=present) (only values change).
    type: str
  values:
    description:
      - Values deep-merged into the release's user values; C(null) removes a key.
    type: dict
    default: {}
  revision:
    description: The revision O(state=rolled_back) returns to.
    type: int
  history:
    description: With O(state=info), how many of the last revisions to return with their values.
    type: int
    default: 0
  description:
    description: The description helm records for the new revision.
    type: str
  wait:
    description: Pass C(--wait) to helm (the collection's roles check readiness themselves).
    type: bool
    default: false
  timeout:
    description: Seconds for helm's C(--timeout).
    type: int
    default: 300
  helm_binary:
    description: The helm binary, a path or a name looked up in C(PATH).
    type: str
    default: helm
attributes:
  check_mode:
    support: full
    description:
      - O(state=present) runs C(helm upgrade --dry-run=server), which renders and validates the
        chart against the API server and creates no revision, and reports the values diff and
        which objects would be added, removed or changed.
  diff_mode:
    support: full
    description: The user values before and after, as YAML, with the chart versions in the headers.
"""

EXAMPLES = r"""
- name: Read the release and the chart 1.5.5 would install
  kruise_cri.remediation.kruise_helm_release:
    release: kruise
    namespace: kruise-system
    chart_version: 1.5.5
    history: 5
  register: kruise_release

- name: Upgrade to chart 1.5.5 keeping every user value, with one value changed
  kruise_cri.remediation.kruise_helm_release:
    release: kruise
    namespace: kruise-system
    state: present
    chart_version: 1.5.5
    values:
      manager:
        image:
          tag: v1.5.5
    description: "kruise-cri: pin OpenKruise 1.5.5"

- name: Go back to the recorded revision
  kruise_cri.remediation.kruise_helm_release:
    release: kruise
    namespace: kruise-system
    state: rolled_back
    revision: "{{ kruise_release.release.revision }}"
"""

RETURN = r"""
release:
  description: The release after the task (name, namespace, revision, status, chart, chart_version, app_version, user values).
  returned: success
  type: dict
before:
  description: The release before the task, same keys as RV(release).
  returned: success
  type: dict
computed_values:
  description: The values in effect (chart defaults with the user's values), with O(state=info).
  returned: state is info
  type: dict
chart:
  description: The chart inspected (name, version, app_version, kube_version, kube_version_ok, default_values, source).
  returned: when a chart was inspected
  type: dict
server_version:
  description: The API server's version.
  returned: success
  type: str
history:
  description: The last revisions, newest first, each with revision, status, chart, app_version, description, values and computed_values.
  returned: state is info and history > 0
  type: list
  elements: dict
manifest_changes:
  description: Objects the upgrade adds, removes and changes (kind namespace/name).
  returned: state is present and a change is made or would be made
  type: dict
commands:
  description: The helm command lines run (no secrets are ever on them).
  returned: always
  type: list
  elements: list
"""

import json
import os
import shutil
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.client import (
    AUTH_ARGUMENT_SPEC,
    KubeAccessError,
    KubeClient,
    KubeRequestError,
    load_settings,
)
from ansible_collections.kruise_cri.remediation.plugins.module_utils.cluster.kruise_helm_release import (
    DEFAULT_CHART_REF,
    DEFAULT_CHART_REPO_URL,
    DEPLOYED,
    ConstraintError,
    HelmCli,
    HelmError,
    chart_source,
    connection_args,
    deep_merge,
    manifest_changes,
    satisfies,
    values_diff,
)

ARGUMENT_SPEC = {
    **AUTH_ARGUMENT_SPEC,
    "release": {"type": "str", "required": True},
    "namespace": {"type": "str", "required": True},
    "state": {"type": "str", "choices": ["info", "present", "rolled_back"], "default": "info"},
    "chart_ref": {"type": "str", "default": DEFAULT_CHART_REF},
    "chart_repo_url": {"type": "str", "default": DEFAULT_CHART_REPO_URL},
    "chart_version": {"type": "str"},
    "values": {"type": "dict", "default": {}},
    "revision": {"type": "int"},
    "history": {"type": "int", "default": 0},
    "description": {"type": "str"},
    "wait": {"type": "bool", "default": False},
    "timeout": {"type": "int", "default": 300},
    "helm_binary": {"type": "str", "default": "helm"},
}


class Failure(Exception):
    pass


def main() -> None:
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC,
        supports_check_mode=True,
        required_if=[("state", "rolled_back", ["revision"])],
    )
    workdir = tempfile.mkdtemp(prefix="kruise-cri-helm-")
    cli = None
    try:
        cli = _cli(module)
        result = _run(module, cli, workdir)
    except (Failure, HelmError, ValueError) as error:
        module.fail_json(msg=str(error), commands=cli.commands if cli else [])
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    result["commands"] = cli.commands
    module.exit_json(**result)


def _cli(module: AnsibleModule) -> HelmCli:
    params = module.params
    binary = params["helm_binary"]
    if os.sep not in binary:
        found = module.get_bin_path(binary)
        if not found:
            raise Failure(
                f"helm binary {binary!r} not found in PATH: install helm or set helm_binary"
            )
        binary = found
    elif not os.access(binary, os.X_OK):
        raise Failure(f"helm binary {binary} does not exist or is not executable")
    args, env = connection_args(params)

    def run(argv, extra_env):
        return module.run_command(argv, environ_update=dict(extra_env), check_rc=False)

    return HelmCli(binary=binary, global_args=args, env=env, run=run)


def _server_version(params) -> str:
    try:
        client = KubeClient(load_settings(params))
        return str(client.get("/version", counted_as="version").get("gitVersion") or "")
    except KubeAccessError as error:
        raise Failure(str(error)) from error
    except KubeRequestError as error:
        raise Failure(f"cannot read the API server's version: {error}") from error


def _run(module: AnsibleModule, cli: HelmCli, workdir: str) -> dict:
    params = module.params
    server_version = _server_version(params)
    name, namespace = params["release"], params["namespace"]
    release = cli.release(name, namespace)
    if release is None:
        raise Failure(
            f"Helm release {name!r} not found in namespace {namespace!r} "
            f"(helm list -n {namespace} shows the releases there); nothing was changed"
        )
    result = {"changed": False, "server_version": server_version, "before": release.summary()}
    state = params["state"]
    if state == "info":
        result["release"] = release.summary()
        result["computed_values"] = cli.values(name, namespace, computed=True)
        if params["chart_version"]:
            chart = _chart(module, cli, workdir, params["chart_version"], server_version)
            result["chart"] = {k: v for k, v in chart.items() if k != "path"}
        if params["history"] > 0:
            result["history"] = _history(cli, name, namespace, params["history"])
        return result
    if state == "rolled_back":
        return _rollback(module, cli, release, result)
    return _upgrade(module, cli, release, result, workdir, server_version)


def _chart(module, cli, workdir, version, server_version) -> dict:
    params = module.params
    source = chart_source(
        params["chart_ref"], params["chart_repo_url"], version, lambda ref: os.path.exists(ref)
    )
    path = source.local_path
    if path is None:
        pulled = os.path.join(workdir, "chart")
        os.mkdir(pulled, 0o700)
        cli.pull(source, pulled)
        archives = sorted(os.listdir(pulled))
        if len(archives) != 1:
            raise Failure(f"helm pull {source.describe} left {archives!r}, not one chart archive")
        path = os.path.join(pulled, archives[0])
    metadata = cli.show_chart(path)
    chart_version = str(metadata.get("version") or "")
    if chart_version.lstrip("v") != str(version).lstrip("v"):
        raise Failure(
            f"the chart at {params['chart_ref']} is version {chart_version or 'unknown'}, not "
            f"{version}; point chart_ref at chart {version}"
        )
    kube_version = metadata.get("kubeVersion")
    kube_version_ok = True
    if kube_version:
        try:
            kube_version_ok = satisfies(server_version, str(kube_version))
        except (ConstraintError, ValueError) as error:
            raise Failure(
                f"cannot check chart {chart_version}'s kubeVersion {kube_version!r} against the "
                f"API server's {server_version}: {error}"
            ) from error
        if not kube_version_ok:
            raise Failure(
                f"chart {metadata.get('name')} {chart_version} requires Kubernetes "
                f"{kube_version}; the API server is {server_version}. Nothing was changed"
            )
    return {
        "name": metadata.get("name"),
        "version": chart_version,
        "app_version": metadata.get("appVersion"),
        "kube_version": kube_version,
        "kube_version_ok": kube_version_ok,
        "default_values": cli.show_values(path),
        "source": params["chart_ref"],
        "path": path,
    }


def _history(cli: HelmCli, name: str, namespace: str, depth: int) -> list:
    entries = []
    for entry in cli.history(name, namespace, depth):
        revision = int(entry.get("revision") or 0)
        entries.append(
            {
                "revision": revision,
                "status": entry.get("status"),
                "chart": entry.get("chart"),
                "app_version": entry.get("app_version"),
                "description": entry.get("description"),
                "updated": entry.get("updated"),
                "values": cli.values(name, namespace, revision=revision),
                "computed_values": cli.values(name, namespace, computed=True, revision=revision),
            }
        )
    return entries


def _write_values(workdir: str, values: dict) -> str:
    path = os.path.join(workdir, "values.yaml")
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(values, handle)  # JSON is YAML; no YAML quirks with strings like "on"
    return path


def _upgrade(module, cli, release, result, workdir, server_version) -> dict:
    params = module.params
    version = params["chart_version"] or release.chart_version
    if not version:
        raise Failure("the release's chart version is unknown: give chart_version")
    if release.status != DEPLOYED:
        raise Failure(
            f"release {release.name} is {release.status!r}, not deployed: finish or roll back "
            f"that operation first (helm history {release.name} -n {release.namespace})"
        )
    chart = _chart(module, cli, workdir, version, server_version)
    result["chart"] = {k: v for k, v in chart.items() if k not in ("default_values", "path")}
    if release.chart and chart["name"] and chart["name"] != release.chart:
        raise Failure(
            f"the chart at {params['chart_ref']} is {chart['name']!r}; release {release.name} "
            f"runs chart {release.chart!r}"
        )
    desired = deep_merge(release.values, params["values"])
    same_chart = str(release.chart_version).lstrip("v") == str(chart["version"]).lstrip("v")
    if same_chart and desired == release.values:
        result["release"] = release.summary()
        return result
    result["changed"] = True
    if module._diff:
        result["diff"] = values_diff(
            release.values,
            desired,
            f"{release.name} values (revision {release.revision}, chart {release.chart_version})",
            f"{release.name} values (chart {chart['version']})",
        )
    values_file = _write_values(workdir, desired)
    argv = [
        "upgrade",
        release.name,
        chart["path"],
        "--namespace",
        release.namespace,
        "--values",
        values_file,
        "--reset-values",
        "--timeout",
        f"{params['timeout']}s",
        "--description",
        params["description"] or f"kruise-cri: chart {chart['version']}",
    ]
    if params["wait"]:
        argv.append("--wait")
    before_manifest = cli.manifest(release.name, release.namespace)
    if module.check_mode:
        rendered = cli.json(*argv, "--dry-run=server") or {}
        result["manifest_changes"] = manifest_changes(before_manifest, rendered.get("manifest"))
        result["release"] = {
            **release.summary(),
            "chart_version": chart["version"],
            "app_version": chart["app_version"],
            "values": desired,
        }
        return result
    upgraded = cli.json(*argv) or {}
    result["manifest_changes"] = manifest_changes(before_manifest, upgraded.get("manifest"))
    after = cli.release(release.name, release.namespace)
    result["release"] = after.summary() if after else None
    return result


def _rollback(module, cli, release, result) -> dict:
    params = module.params
    revision = params["revision"]
    if revision < 1:
        raise Failure(f"revision {revision} must be 1 or more")
    target_values = cli.values(release.name, release.namespace, revision=revision)
    history = {
        int(entry.get("revision") or 0): entry
        for entry in cli.history(release.name, release.namespace, None)
    }
    target = history.get(revision)
    if target is None:
        raise Failure(
            f"release {release.name} has no revision {revision} (helm history shows "
            f"{sorted(history)})"
        )
    target_chart = str(target.get("chart") or "")
    current_chart = f"{release.chart}-{release.chart_version}"
    if (
        release.revision == revision
        or (target_chart == current_chart and target_values == release.values)
    ) and release.status == DEPLOYED:
        result["release"] = release.summary()
        return result
    result["changed"] = True
    if module._diff:
        result["diff"] = values_diff(
            release.values,
            target_values,
            f"{release.name} values (revision {release.revision}, chart {release.chart_version})",
            f"{release.name} values (revision {revision}, {target_chart})",
        )
    if module.check_mode:
        result["release"] = release.summary()
        return result
    argv = ["rollback", release.name, str(revision), "--namespace", release.namespace]
    argv += ["--timeout", f"{params['timeout']}s"]
    if params["wait"]:
        argv.append("--wait")
    cli.call(*argv)
    after = cli.release(release.name, release.namespace)
    result["release"] = after.summary() if after else None
    return result


if __name__ == "__main__":
    main()
