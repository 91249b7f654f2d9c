# -*- coding: utf-8 -*-
# Node side: Python 3.6+, standard library only.
"""Ask a CRI socket which API versions it really serves, the way kruise-daemon validates it.

For each API version (runtime.v1, runtime.v1alpha2) we call ImageService/ListImages and
RuntimeService/Version on one HTTP/2 connection; one deadline bounds the whole probe.
"""

from __future__ import absolute_import, division, print_function

import time

from ansible_collections.kruise_cri.remediation.plugins.module_utils.node import (
    grpc_unix,
    protobuf_wire,
)

__metaclass__ = type

CRI_API_VERSIONS = ("v1", "v1alpha2")
# The version string kubelet and crictl send in VersionRequest.version.
CLIENT_API_VERSION = b"0.1.0"
VERSION_RESPONSE_FIELDS = (
    (1, "version"),
    (2, "runtime_name"),
    (3, "runtime_version"),
    (4, "runtime_api_version"),
)


def version_method(api):
    return "/runtime.%s.RuntimeService/Version" % api


def list_images_method(api):
    return "/runtime.%s.ImageService/ListImages" % api


def decode_version_response(payload):
    fields = protobuf_wire.decode_message(payload)
    decoded = {}
    for number, name in VERSION_RESPONSE_FIELDS:
        values = fields.get(number) or [b""]
        decoded[name] = values[-1].decode("utf-8", "replace")
    return decoded


def count_images(payload):
    return len(protobuf_wire.decode_message(payload).get(1, []))


def timed_call(channel, method, request, decode):
    started = time.monotonic()
    outcome = {"ok": False, "code": grpc_unix.OK, "details": ""}
    try:
        payload = channel.unary(method, request)
        outcome.update(decode(payload))
        outcome["ok"] = True
    except grpc_unix.GrpcError as error:
        outcome["code"] = error.code
        outcome["details"] = error.details
    except ValueError as error:
        outcome["code"] = grpc_unix.INTERNAL
        outcome["details"] = "malformed response: %s" % error
    outcome["elapsed_ms"] = round((time.monotonic() - started) * 1000.0, 2)
    return outcome


def probe_cri_socket(host_socket_path, timeout):
    """Probe one CRI socket; returns {"probes": {api: {version, list_images}}, "error": str|None}.

    ``error`` is set when the connection itself fails (nothing listens, not a socket, the peer
    does not speak HTTP/2); per-call failures such as UNIMPLEMENTED live in ``probes``.
    """
    result = {"probes": {}, "error": None}
    version_request = protobuf_wire.encode_message([(1, CLIENT_API_VERSION)])
    try:
        with grpc_unix.UnixChannel(host_socket_path, timeout) as channel:
            for api in CRI_API_VERSIONS:
                result["probes"][api] = {
                    "list_images": timed_call(
                        channel,
                        list_images_method(api),
                        b"",
                        lambda payload: {"count": count_images(payload)},
                    ),
                    "version": timed_call(
                        channel, version_method(api), version_request, decode_version_response
                    ),
                }
    except grpc_unix.GrpcError as error:
        result["error"] = error.details or grpc_unix.STATUS_NAMES.get(error.code, str(error.code))
    if (
        not result["error"]
        and result["probes"]
        and all(
            call["code"] == grpc_unix.UNAVAILABLE
            for api_probe in result["probes"].values()
            for call in api_probe.values()
        )
    ):
        first = result["probes"][CRI_API_VERSIONS[0]]["list_images"]
        result["error"] = first["details"] or "unavailable"
    return result
