# -*- coding: utf-8 -*-
# Node side: Python 3.6+, standard library only.
"""Read-only Docker Engine API calls over its unix socket: what `docker version` and `docker info`
ask."""

from __future__ import absolute_import, division, print_function

import json
import socket

try:
    import http.client as http_client
except ImportError:  # pragma: no cover - Python 2 is not supported on nodes
    raise

__metaclass__ = type


class UnixHTTPConnection(http_client.HTTPConnection):
    def __init__(self, socket_path, timeout):
        http_client.HTTPConnection.__init__(self, "localhost", timeout=timeout)
        self.socket_path = socket_path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.socket_path)
        except Exception:
            sock.close()
            raise
        self.sock = sock


class DockerAPIError(Exception):
    pass


def docker_get(socket_path, path, timeout):
    connection = UnixHTTPConnection(socket_path, timeout)
    try:
        connection.request("GET", path, headers={"Host": "docker"})
        response = connection.getresponse()
        body = response.read()
    except socket.timeout:
        raise DockerAPIError("no answer within %.1f s" % timeout) from None
    except (OSError, http_client.HTTPException) as error:
        raise DockerAPIError(describe_socket_error(error)) from None
    finally:
        connection.close()
    if response.status != 200:
        raise DockerAPIError("GET %s answered HTTP %d" % (path, response.status))
    try:
        return json.loads(body.decode("utf-8"))
    except ValueError:
        raise DockerAPIError(
            "GET %s did not answer JSON: not a Docker Engine API socket?" % path
        ) from None


def describe_socket_error(error):
    text = getattr(error, "strerror", None) or str(error) or error.__class__.__name__
    return text[0].lower() + text[1:] if text else "error"


def docker_engine_facts(socket_path, timeout):
    """Version, cgroup driver and registry settings, as the Docker daemon itself reports them."""
    facts = {
        "socket": socket_path,
        "ok": False,
        "version": None,
        "api_version": None,
        "cgroup_driver": None,
        "root_dir": None,
        "registry_mirrors": [],
        "insecure_registries": [],
        "error": None,
    }
    try:
        version = docker_get(socket_path, "/version", timeout)
        info = docker_get(socket_path, "/info", timeout)
    except DockerAPIError as error:
        facts["error"] = str(error)
        return facts
    registry = info.get("RegistryConfig") or {}
    facts.update(
        ok=True,
        version=version.get("Version"),
        api_version=version.get("ApiVersion"),
        cgroup_driver=info.get("CgroupDriver"),
        root_dir=info.get("DockerRootDir"),
        registry_mirrors=list(registry.get("Mirrors") or []),
        insecure_registries=sorted(
            set(registry.get("InsecureRegistryCIDRs") or [])
            | set(
                name
                for name, index in (registry.get("IndexConfigs") or {}).items()
                if not (index or {}).get("Secure", True)
            )
        ),
    )
    return facts
