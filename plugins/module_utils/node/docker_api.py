# -*- coding: utf-8 -*-
# Node side: Python 3.6+, standard library only.
"""Read-only Docker Engine API calls over its unix socket: what `docker version` and `docker info`
ask."""

from __future__ import absolute_import, division, print_function

import contextlib
import json
import os
import socket
from urllib.parse import quote

try:
    import http.client as http_client
except ImportError:  # pragma: no cover - Python 2 is not supported on nodes
    raise

__metaclass__ = type

SUN_PATH_MAX = 107
MAX_BODY_BYTES = 4 * 1024 * 1024


class UnixHTTPConnection(http_client.HTTPConnection):
    def __init__(self, socket_path, timeout):
        http_client.HTTPConnection.__init__(self, "localhost", timeout=timeout)
        self.socket_path = socket_path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        directory_fd = None
        try:
            address = self.socket_path
            if len(os.fsencode(address)) > SUN_PATH_MAX:
                # sun_path holds 107 bytes; a deep socket is reached through its directory.
                directory_fd = os.open(os.path.dirname(address), os.O_RDONLY)
                address = "/proc/self/fd/%d/%s" % (directory_fd, os.path.basename(address))
            sock.connect(address)
        except Exception:
            sock.close()
            raise
        finally:
            if directory_fd is not None:
                os.close(directory_fd)
        self.sock = sock


class DockerAPIError(Exception):
    pass


@contextlib.contextmanager
def docker_connection(socket_path, timeout):
    """A connection to Docker's API socket; its failures raised as DockerAPIError, described."""
    connection = UnixHTTPConnection(socket_path, timeout)
    try:
        yield connection
    except socket.timeout:
        raise DockerAPIError("no answer within %.1f s" % timeout) from None
    except (OSError, http_client.HTTPException) as error:
        raise DockerAPIError(describe_socket_error(error)) from None
    finally:
        connection.close()


def docker_get(socket_path, path, timeout):
    with docker_connection(socket_path, timeout) as connection:
        connection.request("GET", path, headers={"Host": "docker"})
        response = connection.getresponse()
        body = response.read(MAX_BODY_BYTES + 1)
    if len(body) > MAX_BODY_BYTES:
        raise DockerAPIError("GET %s answered more than %d bytes" % (path, MAX_BODY_BYTES))
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
    if len(text) > 1 and text[1].islower():
        return text[0].lower() + text[1:]
    return text or "error"


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


def docker_save(socket_path, names, dest, timeout, chunk_bytes=1024 * 1024):
    """``docker save NAME...`` into ``dest`` (0600), written beside it first and renamed into
    place, so a half-written archive is never taken for a whole one. Returns the bytes written."""
    query = "&".join("names=%s" % quote(name, safe="") for name in names)
    partial = dest + ".partial"
    written = 0
    try:
        with docker_connection(socket_path, timeout) as connection:
            connection.request("GET", "/images/get?" + query, headers={"Host": "docker"})
            response = connection.getresponse()
            if response.status != 200:
                detail = response.read(4096).decode("utf-8", "replace").strip()
                raise DockerAPIError(
                    "GET /images/get answered HTTP %d: %s" % (response.status, detail)
                )
            flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
            with os.fdopen(os.open(partial, flags, 0o600), "wb") as archive:
                chunk = response.read(chunk_bytes)
                while chunk:
                    archive.write(chunk)
                    written += len(chunk)
                    chunk = response.read(chunk_bytes)
                archive.flush()
                os.fsync(archive.fileno())
        os.rename(partial, dest)
    finally:
        if os.path.lexists(partial):
            os.unlink(partial)
    return written
