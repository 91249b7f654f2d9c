# -*- coding: utf-8 -*-
# Node side: Python 3.6+, standard library only.
"""Unary gRPC calls over a unix socket, without grpcio.

HTTP/2 with prior knowledge (cleartext, no upgrade), one call at a time on streams 1, 3, 5...
Everything is bounded by one deadline per channel, connect included, so that probing a socket
that accepts and never answers costs at most that deadline. Every failure surfaces as
GrpcError with a gRPC status code and plain-words details, never as a hang or a traceback.

    with UnixChannel("/run/containerd/containerd.sock", 2.0) as channel:
        payload = channel.unary("/runtime.v1.RuntimeService/Version", request_bytes)
"""

from __future__ import absolute_import, division, print_function

import contextlib
import errno
import math
import os
import socket
import stat
import struct
import time
from urllib.parse import unquote_to_bytes

from ansible_collections.kruise_cri.remediation.plugins.module_utils.node.hpack import (
    Decoder,
    Encoder,
    HpackError,
)

__metaclass__ = type

# gRPC status codes (https://grpc.github.io/grpc/core/md_doc_statuscodes.html).
OK = 0
CANCELLED = 1
UNKNOWN = 2
INVALID_ARGUMENT = 3
DEADLINE_EXCEEDED = 4
NOT_FOUND = 5
ALREADY_EXISTS = 6
PERMISSION_DENIED = 7
RESOURCE_EXHAUSTED = 8
FAILED_PRECONDITION = 9
ABORTED = 10
OUT_OF_RANGE = 11
UNIMPLEMENTED = 12
INTERNAL = 13
UNAVAILABLE = 14
DATA_LOSS = 15
UNAUTHENTICATED = 16

STATUS_NAMES = {
    OK: "OK",
    CANCELLED: "CANCELLED",
    UNKNOWN: "UNKNOWN",
    INVALID_ARGUMENT: "INVALID_ARGUMENT",
    DEADLINE_EXCEEDED: "DEADLINE_EXCEEDED",
    NOT_FOUND: "NOT_FOUND",
    ALREADY_EXISTS: "ALREADY_EXISTS",
    PERMISSION_DENIED: "PERMISSION_DENIED",
    RESOURCE_EXHAUSTED: "RESOURCE_EXHAUSTED",
    FAILED_PRECONDITION: "FAILED_PRECONDITION",
    ABORTED: "ABORTED",
    OUT_OF_RANGE: "OUT_OF_RANGE",
    UNIMPLEMENTED: "UNIMPLEMENTED",
    INTERNAL: "INTERNAL",
    UNAVAILABLE: "UNAVAILABLE",
    DATA_LOSS: "DATA_LOSS",
    UNAUTHENTICATED: "UNAUTHENTICATED",
}

DEFAULT_MAX_MESSAGE_SIZE = 64 * 1024 * 1024
USER_AGENT = "kruise-cri-probe/1 (python)"


class GrpcError(Exception):
    """A failed call: code is a gRPC status code, details the server's message or ours."""

    def __init__(self, code, details):
        super(GrpcError, self).__init__("%s: %s" % (STATUS_NAMES.get(code, code), details))
        self.code = code
        self.details = details

    @property
    def code_name(self):
        return STATUS_NAMES.get(self.code, str(self.code))


# HTTP/2 (RFC 9113) frame types, flags, settings and error codes.
_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
_DATA = 0x0
_HEADERS = 0x1
_PRIORITY = 0x2
_RST_STREAM = 0x3
_SETTINGS = 0x4
_PUSH_PROMISE = 0x5
_PING = 0x6
_GOAWAY = 0x7
_WINDOW_UPDATE = 0x8
_CONTINUATION = 0x9

_FLAG_END_STREAM = 0x1
_FLAG_ACK = 0x1
_FLAG_END_HEADERS = 0x4
_FLAG_PADDED = 0x8
_FLAG_PRIORITY = 0x20

_SETTING_ENABLE_PUSH = 0x2
_SETTING_INITIAL_WINDOW_SIZE = 0x4
_SETTING_MAX_FRAME_SIZE = 0x5

_H2_ERROR_NAMES = (
    "NO_ERROR",
    "PROTOCOL_ERROR",
    "INTERNAL_ERROR",
    "FLOW_CONTROL_ERROR",
    "SETTINGS_TIMEOUT",
    "STREAM_CLOSED",
    "FRAME_SIZE_ERROR",
    "REFUSED_STREAM",
    "CANCEL",
    "COMPRESSION_ERROR",
    "CONNECT_ERROR",
    "ENHANCE_YOUR_CALM",
    "INADEQUATE_SECURITY",
    "HTTP_1_1_REQUIRED",
)
_H2_NO_ERROR = 0x0
_H2_PROTOCOL_ERROR = 0x1
_H2_FLOW_CONTROL_ERROR = 0x3
_H2_FRAME_SIZE_ERROR = 0x6
_H2_CANCEL = 0x8
_H2_COMPRESSION_ERROR = 0x9

# How grpc-go turns a RST_STREAM error code into a status; anything else is INTERNAL.
_RST_STREAM_STATUS = {
    0x3: RESOURCE_EXHAUSTED,  # FLOW_CONTROL_ERROR
    0x7: UNAVAILABLE,  # REFUSED_STREAM
    0x8: CANCELLED,  # CANCEL
    0xB: RESOURCE_EXHAUSTED,  # ENHANCE_YOUR_CALM
    0xC: PERMISSION_DENIED,  # INADEQUATE_SECURITY
}

# gRPC's mapping for responses that carry an HTTP status but no grpc-status.
_HTTP_STATUS_TO_GRPC = {
    b"400": INTERNAL,
    b"401": UNAUTHENTICATED,
    b"403": PERMISSION_DENIED,
    b"404": UNIMPLEMENTED,
    b"429": UNAVAILABLE,
    b"502": UNAVAILABLE,
    b"503": UNAVAILABLE,
    b"504": UNAVAILABLE,
}

_DEFAULT_WINDOW = 65535
_MAX_WINDOW = (1 << 31) - 1
# Large receive windows so that a big ListImages flows without waiting for our updates.
_RECEIVE_WINDOW = 16 * 1024 * 1024
_LOCAL_MAX_FRAME_SIZE = 1024 * 1024
_MAX_HEADER_BLOCK = 1024 * 1024
_RECV_CHUNK = 256 * 1024
_COMPACT_THRESHOLD = 1024 * 1024
_SUN_PATH_MAX = 107  # sockaddr_un.sun_path holds 108 bytes including the terminating NUL

_ERRNO_WORDS = {
    errno.ECONNREFUSED: "connection refused",
    errno.ENOENT: "no such file",
    errno.ENOTDIR: "no such file",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.ENOTSOCK: "not a socket",
    errno.EPROTOTYPE: "not a stream socket",
    errno.ECONNRESET: "connection reset by the server",
    errno.EPIPE: "connection closed by the server",
    errno.ELOOP: "too many levels of symbolic links",
}


def _errno_words(error):
    words = _ERRNO_WORDS.get(error.errno)
    if words:
        return words
    text = error.strerror or str(error) or error.__class__.__name__
    return text[:1].lower() + text[1:]


def _frame(frame_type, flags, stream_id, payload=b""):
    length = len(payload)
    return (
        struct.pack(">BHBBI", length >> 16, length & 0xFFFF, frame_type, flags, stream_id) + payload
    )


def encode_grpc_timeout(seconds):
    """The grpc-timeout header value: at most 8 digits and a unit, rounded up."""
    for unit, per_second in (
        ("u", 1e6),
        ("m", 1e3),
        ("S", 1.0),
        ("M", 1 / 60.0),
        ("H", 1 / 3600.0),
    ):
        value = math.ceil(seconds * per_second)
        if value < 100000000:
            return "%d%s" % (max(value, 1), unit)
    return "99999999H"


def percent_decode(value):
    """Decode a grpc-message value: percent-encoded UTF-8, invalid escapes kept as they are."""
    return unquote_to_bytes(value).decode("utf-8", "replace")


def _first(headers, name):
    for header_name, value in headers:
        if header_name == name:
            return value
    return None


def _not_grpc_response(headers):
    """(code, details) when response headers are not those of a gRPC response, else None."""
    http_status = _first(headers, b":status")
    if http_status != b"200":
        return (
            _HTTP_STATUS_TO_GRPC.get(http_status, UNKNOWN),
            "not a gRPC response: HTTP status %s"
            % (http_status or b"missing").decode("ascii", "replace"),
        )
    content_type = _first(headers, b"content-type") or b""
    if not content_type.startswith(b"application/grpc"):
        return (
            UNKNOWN,
            "not a gRPC server: response content-type %r" % content_type.decode("ascii", "replace"),
        )
    return None


def _strip_padding(flags, payload):
    """Payload without PADDED padding; None when the padding length is invalid."""
    if not flags & _FLAG_PADDED:
        return payload
    if not payload or payload[0] >= len(payload):
        return None
    return payload[1 : len(payload) - payload[0]]


class _Call:
    __slots__ = (
        "body",
        "deadline",
        "done",
        "error",
        "headers",
        "local_closed",
        "message_length",
        "remote_closed",
        "send_window",
        "stream_id",
        "timeout_seconds",
        "trailers",
        "unacked",
    )

    def __init__(self, stream_id, deadline, timeout_seconds, send_window):
        self.stream_id = stream_id
        self.deadline = deadline
        self.timeout_seconds = timeout_seconds
        self.send_window = send_window
        self.headers = None
        self.trailers = None
        self.body = bytearray()
        self.message_length = None
        self.local_closed = False
        self.remote_closed = False
        self.done = False
        self.error = None
        self.unacked = 0


class UnixChannel:
    """One HTTP/2 connection to a unix socket, for sequential unary calls.

    deadline_seconds bounds the channel's whole life from construction: connect, every call
    and every wait. Once it has passed, calls raise DEADLINE_EXCEEDED. A connection-level
    failure makes every later call raise the same error.
    """

    def __init__(
        self,
        socket_path,
        deadline_seconds,
        max_message_size=DEFAULT_MAX_MESSAGE_SIZE,
        authority="localhost",
    ):
        self.socket_path = socket_path
        self.deadline_seconds = float(deadline_seconds)
        self.deadline = time.monotonic() + self.deadline_seconds
        self.max_message_size = max_message_size
        self.authority = authority
        self._sock = None
        self._failure = None
        self._out = bytearray()
        self._in = bytearray()
        self._in_pos = 0
        self._recv_buffer = bytearray(_RECV_CHUNK)
        self._recv_view = memoryview(self._recv_buffer)
        self._received_bytes = 0
        self._server_settings_seen = False
        self._encoder = Encoder()
        self._decoder = Decoder()
        self._next_stream_id = 1
        self._peer_initial_window = _DEFAULT_WINDOW
        self._peer_max_frame_size = 16384
        self._send_window = _DEFAULT_WINDOW
        self._connection_unacked = 0
        self._continuation = None
        self._goaway = None
        self._call = None

    def __enter__(self):
        self.connect()
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        self.close()
        return False

    # Connection life cycle ------------------------------------------------------------------

    def connect(self):
        """Connect and queue the HTTP/2 preface (sent with the first call); raises GrpcError.

        The context manager calls this; unary() also connects on demand.
        """
        if self._failure is not None:
            raise GrpcError(*self._failure)
        if self._sock is not None:
            return
        path = self.socket_path
        try:
            mode = os.stat(path).st_mode
        except OSError as error:
            raise self._fail(UNAVAILABLE, _errno_words(error)) from None
        if not stat.S_ISSOCK(mode):
            raise self._fail(UNAVAILABLE, "not a socket")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        directory_fd = None
        try:
            address = path
            if len(os.fsencode(path)) > _SUN_PATH_MAX:
                # Reach a deep socket through its directory's descriptor: the kernel limits
                # sun_path to 107 bytes, but /proc/self/fd/N/name is short.
                directory_fd = os.open(os.path.dirname(path) or ".", os.O_RDONLY)
                address = "/proc/self/fd/%d/%s" % (directory_fd, os.path.basename(path))
            retry_delay = 0.001
            while True:
                remaining = self.deadline - time.monotonic()
                if remaining <= 0:
                    raise self._fail(DEADLINE_EXCEEDED, self._deadline_words("connecting"))
                sock.settimeout(remaining)
                try:
                    sock.connect(address)
                    break
                except socket.timeout:
                    raise self._fail(
                        DEADLINE_EXCEEDED, self._deadline_words("connecting")
                    ) from None
                except OSError as error:
                    if error.errno not in (errno.EAGAIN, errno.EWOULDBLOCK):
                        raise self._fail(UNAVAILABLE, _errno_words(error)) from None
                # The listener's accept queue is full: it may drain before the deadline.
                time.sleep(min(retry_delay, max(remaining, 0)))
                retry_delay = min(retry_delay * 2, 0.05)
        except OSError as error:
            sock.close()
            raise self._fail(UNAVAILABLE, _errno_words(error)) from None
        except GrpcError:
            sock.close()
            raise
        finally:
            if directory_fd is not None:
                os.close(directory_fd)
        self._sock = sock
        settings = struct.pack(
            ">HIHIHI",
            _SETTING_ENABLE_PUSH,
            0,
            _SETTING_INITIAL_WINDOW_SIZE,
            _RECEIVE_WINDOW,
            _SETTING_MAX_FRAME_SIZE,
            _LOCAL_MAX_FRAME_SIZE,
        )
        self._out += _PREFACE
        self._out += _frame(_SETTINGS, 0, 0, settings)
        self._out += _frame(
            _WINDOW_UPDATE, 0, 0, struct.pack(">I", _RECEIVE_WINDOW - _DEFAULT_WINDOW)
        )

    def close(self):
        """Say GOAWAY if the connection is healthy, then close it. Safe to call twice."""
        sock = self._sock
        if sock is not None and self._failure is None:
            self._out += _frame(_GOAWAY, 0, 0, struct.pack(">II", 0, _H2_NO_ERROR))
            self._send_without_waiting()
        if self._failure is None:
            self._failure = (UNAVAILABLE, "channel closed")
        if sock is not None:
            self._sock = None
            sock.close()

    def _send_without_waiting(self):
        try:
            self._sock.setblocking(False)
            self._sock.send(self._out)
        except OSError:
            pass
        del self._out[:]

    def _fail(self, code, details, goaway_code=None):
        """Mark the connection unusable; returns the GrpcError for the caller to raise."""
        if self._failure is None:
            self._failure = (code, details)
        if self._sock is not None:
            if goaway_code is not None:
                self._out += _frame(_GOAWAY, 0, 0, struct.pack(">II", 0, goaway_code))
                self._send_without_waiting()
            self._sock.close()
            self._sock = None
        return GrpcError(code, details)

    def _protocol_error(self, details, goaway_code=_H2_PROTOCOL_ERROR):
        return self._fail(INTERNAL, "HTTP/2 protocol error: %s" % details, goaway_code)

    def _deadline_words(self, doing, deadline_seconds=None):
        if deadline_seconds is None:
            deadline_seconds = self.deadline_seconds
        words = "deadline of %gs exceeded while %s" % (deadline_seconds, doing)
        if doing != "connecting" and self._received_bytes == 0:
            words += " (the server accepted the connection but sent nothing)"
        return words

    def _deadline_error(self, call, doing):
        if call is None or call.deadline >= self.deadline:
            return self._fail(DEADLINE_EXCEEDED, self._deadline_words(doing))
        # Only this call's own timeout has passed: cancel its stream, keep the connection.
        call.done = True
        self._out += _frame(_RST_STREAM, 0, call.stream_id, struct.pack(">I", _H2_CANCEL))
        return GrpcError(DEADLINE_EXCEEDED, self._deadline_words(doing, call.timeout_seconds))

    def _closed_words(self):
        if not self._server_settings_seen:
            if len(self._in) > self._in_pos:
                return self._not_grpc_words()
            return "connection closed by the server before the HTTP/2 handshake"
        if self._goaway is not None:
            return "connection closed by the server after GOAWAY (%s)" % self._goaway_words()
        return "connection closed by the server"

    def _not_grpc_words(self):
        start = bytes(self._in[self._in_pos : self._in_pos + 200])
        first_line = start.split(b"\n", 1)[0].rstrip(b"\r")[:100]
        try:
            text = first_line.decode("ascii")
        except UnicodeDecodeError:
            text = None
        if text and text.isprintable():
            if start.startswith(b"HTTP/"):
                return "not a gRPC server: it answered with HTTP/1 (%s)" % text
            return "not a gRPC server: it answered with text (%s)" % text
        return "not a gRPC server: its reply is not HTTP/2 (starts with %r)" % start[:24]

    def _goaway_words(self):
        _last_stream_id, code, debug = self._goaway
        words = _H2_ERROR_NAMES[code] if code < len(_H2_ERROR_NAMES) else "error 0x%x" % code
        if debug:
            words += ": %s" % debug.decode("utf-8", "replace")
        return words

    # Bytes in and out -----------------------------------------------------------------------

    def _flush(self, call):
        if not self._out:
            return
        data = bytes(self._out)
        del self._out[:]
        view = memoryview(data)
        if call is None:
            deadline, seconds = self.deadline, None
        else:
            deadline, seconds = call.deadline, call.timeout_seconds
        sent = 0
        while sent < len(data):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                # A frame may be half written: the connection cannot be used any more.
                raise self._fail(DEADLINE_EXCEEDED, self._deadline_words("sending", seconds))
            self._sock.settimeout(remaining)
            try:
                sent += self._sock.send(view[sent:])
            except socket.timeout:
                raise self._fail(
                    DEADLINE_EXCEEDED, self._deadline_words("sending", seconds)
                ) from None
            except OSError as error:
                if error.errno not in (errno.EPIPE, errno.ECONNRESET):
                    raise self._fail(UNAVAILABLE, _errno_words(error)) from None
                self._read_what_is_there()
                raise self._fail(UNAVAILABLE, self._closed_words()) from None

    def _read_what_is_there(self):
        """After a failed send, collect what the server said before it hung up."""
        try:
            self._sock.setblocking(False)
            count = self._sock.recv_into(self._recv_view)
            self._in += self._recv_view[:count]
        except OSError:
            pass

    def _fill(self, call):
        if self._out:
            self._flush(call)
        deadline = call.deadline if call is not None else self.deadline
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise self._deadline_error(call, "waiting for the response")
        self._sock.settimeout(remaining)
        try:
            count = self._sock.recv_into(self._recv_view)
        except socket.timeout:
            raise self._deadline_error(call, "waiting for the response") from None
        except OSError as error:
            if error.errno in (errno.ECONNRESET, errno.EPIPE):
                raise self._fail(UNAVAILABLE, self._closed_words()) from None
            raise self._fail(UNAVAILABLE, _errno_words(error)) from None
        if count == 0:
            raise self._fail(UNAVAILABLE, self._closed_words())
        self._in += self._recv_view[:count]
        self._received_bytes += count

    def _read_frame(self, call):
        """Return the next complete frame as (type, flags, stream id, payload bytes)."""
        while True:
            buffer = self._in
            position = self._in_pos
            available = len(buffer) - position
            # The server's first frame must be SETTINGS, whose header starts with a zero byte
            # (short length) and has type 4 in its fourth byte.
            if (
                not self._server_settings_seen
                and available
                and (
                    buffer[position] != 0 or (available >= 4 and buffer[position + 3] != _SETTINGS)
                )
            ):
                raise self._fail(UNAVAILABLE, self._not_grpc_words())
            if available >= 9:
                high, low, frame_type, flags, stream_id = struct.unpack_from(
                    ">BHBBI", buffer, position
                )
                length = (high << 16) | low
                stream_id &= 0x7FFFFFFF
                if not self._server_settings_seen and (
                    flags & _FLAG_ACK or stream_id or length % 6
                ):
                    raise self._fail(UNAVAILABLE, self._not_grpc_words())
                if length > _LOCAL_MAX_FRAME_SIZE:
                    raise self._protocol_error(
                        "frame of %d bytes exceeds our maximum frame size" % length,
                        _H2_FRAME_SIZE_ERROR,
                    )
                end = position + 9 + length
                if len(buffer) >= end:
                    payload = bytes(buffer[position + 9 : end])
                    if end == len(buffer):
                        del buffer[:]
                        self._in_pos = 0
                    elif end > _COMPACT_THRESHOLD:
                        del buffer[:end]
                        self._in_pos = 0
                    else:
                        self._in_pos = end
                    return frame_type, flags, stream_id, payload
            self._fill(call)

    # Calls ----------------------------------------------------------------------------------

    def unary(self, method_path, request, timeout=None):
        """Call method_path ("/package.Service/Method") with serialized request bytes.

        Returns the serialized response bytes; raises GrpcError. timeout (seconds) further
        limits this call within the channel's deadline.
        """
        started = time.monotonic()
        if self._failure is not None:
            raise GrpcError(*self._failure)
        if self._sock is None:
            self.connect()
        if self._goaway is not None:
            raise GrpcError(
                UNAVAILABLE, "the server is closing the connection (%s)" % self._goaway_words()
            )
        deadline = self.deadline
        if timeout is not None and started + timeout < deadline:
            deadline = started + timeout
        if deadline <= started:
            if deadline >= self.deadline:
                raise self._fail(DEADLINE_EXCEEDED, self._deadline_words("starting a call"))
            raise GrpcError(DEADLINE_EXCEEDED, "deadline of %gs exceeded" % timeout)
        stream_id = self._next_stream_id
        if stream_id > _MAX_WINDOW:
            raise self._fail(UNAVAILABLE, "no stream ids left on this connection")
        self._next_stream_id += 2
        call = _Call(stream_id, deadline, deadline - started, self._peer_initial_window)
        request = bytes(request)
        self._call = call
        try:
            self._send_request(call, method_path, request)
            while not call.done:
                self._process_frame(*self._read_frame(call))
        except (IndexError, ValueError, struct.error) as error:
            # Every malformed input should already be caught by name; this is the safety net
            # that keeps a peer we did not foresee from ending the probe with a traceback.
            raise self._fail(INTERNAL, "malformed HTTP/2 data: %s" % error) from None
        finally:
            self._call = None
        if self._out and self._sock is not None:
            with contextlib.suppress(GrpcError):
                self._flush(None)
        return self._finish(call)

    def _send_request(self, call, method_path, request):
        headers = (
            (":method", "POST"),
            (":scheme", "http"),
            (":path", method_path),
            (":authority", self.authority),
            ("content-type", "application/grpc"),
            ("te", "trailers"),
            ("grpc-timeout", encode_grpc_timeout(call.timeout_seconds)),
            ("user-agent", USER_AGENT),
        )
        block = self._encoder.encode(headers)
        frame_size = self._peer_max_frame_size
        chunks = [block[i : i + frame_size] for i in range(0, len(block), frame_size)] or [b""]
        for index, chunk in enumerate(chunks):
            flags = _FLAG_END_HEADERS if index == len(chunks) - 1 else 0
            self._out += _frame(
                _HEADERS if index == 0 else _CONTINUATION, flags, call.stream_id, chunk
            )

        message = struct.pack(">BI", 0, len(request)) + request
        offset = 0
        while not call.done:
            size = min(
                len(message) - offset,
                self._peer_max_frame_size,
                self._send_window,
                call.send_window,
            )
            if size > 0:
                end = offset + size
                flags = _FLAG_END_STREAM if end == len(message) else 0
                self._out += _frame(_DATA, flags, call.stream_id, message[offset:end])
                self._send_window -= size
                call.send_window -= size
                offset = end
                if flags:
                    call.local_closed = True
                    break
                continue
            # Out of send window: let the server see what we have and wait for WINDOW_UPDATE.
            self._flush(call)
            self._process_frame(*self._read_frame(call))
        self._flush(call)

    def _finish(self, call):
        if call.error is not None:
            raise call.error
        headers = call.headers or []
        trailers = call.trailers
        grpc_status = _first(trailers, b"grpc-status") if trailers is not None else None
        if grpc_status is None:
            not_grpc = _not_grpc_response(headers)
            if not_grpc is not None:
                raise GrpcError(*not_grpc)
            if trailers is None:
                raise GrpcError(INTERNAL, "the server ended the stream without trailers")
            raise GrpcError(INTERNAL, "the server's trailers carry no grpc-status")
        try:
            code = int(grpc_status)
        except ValueError:
            raise GrpcError(
                INTERNAL, "malformed grpc-status %r" % grpc_status.decode("ascii", "replace")
            ) from None
        if code != OK:
            raise GrpcError(code, percent_decode(_first(trailers, b"grpc-message") or b""))
        if call.message_length is None:
            raise GrpcError(INTERNAL, "the server sent no response message")
        received = len(call.body) - 5
        if received < call.message_length:
            raise GrpcError(
                INTERNAL,
                "response message truncated: %d of %d bytes" % (received, call.message_length),
            )
        with memoryview(call.body) as view:
            return bytes(view[5:])

    def _fail_call(self, call, code, details):
        call.error = GrpcError(code, details)
        call.done = True
        if not call.remote_closed:
            self._out += _frame(_RST_STREAM, 0, call.stream_id, struct.pack(">I", _H2_CANCEL))

    def _active_call(self, stream_id):
        """The call a frame on stream_id belongs to, or None for a call we gave up on."""
        if stream_id % 2 == 0 or stream_id >= self._next_stream_id:
            raise self._protocol_error("frame on stream %d, which we never opened" % stream_id)
        call = self._call
        if call is None or call.stream_id != stream_id or call.done:
            return None
        return call

    # Frames ---------------------------------------------------------------------------------

    def _process_frame(self, frame_type, flags, stream_id, payload):
        if self._continuation is not None and frame_type != _CONTINUATION:
            raise self._protocol_error("expected CONTINUATION, got frame type %d" % frame_type)
        if frame_type == _DATA:
            self._on_data(flags, stream_id, payload)
        elif frame_type == _HEADERS:
            self._on_headers(flags, stream_id, payload)
        elif frame_type == _CONTINUATION:
            self._on_continuation(flags, stream_id, payload)
        elif frame_type == _SETTINGS:
            self._on_settings(flags, stream_id, payload)
        elif frame_type == _PING:
            if stream_id != 0 or len(payload) != 8:
                raise self._protocol_error("malformed PING", _H2_FRAME_SIZE_ERROR)
            if not flags & _FLAG_ACK:
                self._out += _frame(_PING, _FLAG_ACK, 0, payload)
        elif frame_type == _WINDOW_UPDATE:
            self._on_window_update(stream_id, payload)
        elif frame_type == _RST_STREAM:
            self._on_rst_stream(stream_id, payload)
        elif frame_type == _GOAWAY:
            self._on_goaway(stream_id, payload)
        elif frame_type == _PUSH_PROMISE:
            raise self._protocol_error("PUSH_PROMISE although we disabled push")
        # PRIORITY and unknown extension frames carry nothing we need.

    def _on_data(self, flags, stream_id, payload):
        if stream_id == 0:
            raise self._protocol_error("DATA on stream 0")
        # Flow control counts the whole payload, padding included, on every stream.
        self._connection_unacked += len(payload)
        if self._connection_unacked >= _RECEIVE_WINDOW // 2:
            self._out += _frame(_WINDOW_UPDATE, 0, 0, struct.pack(">I", self._connection_unacked))
            self._connection_unacked = 0
        data = _strip_padding(flags, payload)
        if data is None:
            raise self._protocol_error("DATA padding longer than the frame")
        call = self._active_call(stream_id)
        if call is None:
            return
        if call.headers is None:
            raise self._protocol_error("DATA before response headers")
        if flags & _FLAG_END_STREAM:
            call.remote_closed = True
            call.done = True
        else:
            call.unacked += len(payload)
            if call.unacked >= _RECEIVE_WINDOW // 2:
                self._out += _frame(_WINDOW_UPDATE, 0, stream_id, struct.pack(">I", call.unacked))
                call.unacked = 0
        if data:
            self._take_message_bytes(call, data)

    def _take_message_bytes(self, call, data):
        body = call.body
        body += data
        if call.message_length is None and len(body) >= 5:
            compressed, length = struct.unpack_from(">BI", body, 0)
            if compressed == 1:
                encoding = _first(call.headers, b"grpc-encoding") or b"unknown"
                return self._fail_call(
                    call,
                    INTERNAL,
                    "the server sent a compressed message (grpc-encoding %s); "
                    "compressed messages are not supported" % encoding.decode("ascii", "replace"),
                )
            if compressed != 0:
                return self._fail_call(call, INTERNAL, "invalid message flag %d" % compressed)
            if length > self.max_message_size:
                return self._fail_call(
                    call,
                    RESOURCE_EXHAUSTED,
                    "response message of %d bytes exceeds the limit of %d bytes"
                    % (length, self.max_message_size),
                )
            call.message_length = length
        if call.message_length is not None and len(body) > 5 + call.message_length:
            self._fail_call(call, INTERNAL, "more than one response message for a unary call")

    def _on_headers(self, flags, stream_id, payload):
        if stream_id == 0:
            raise self._protocol_error("HEADERS on stream 0")
        block = _strip_padding(flags, payload)
        if block is None:
            raise self._protocol_error("HEADERS padding longer than the frame")
        if flags & _FLAG_PRIORITY:
            if len(block) < 5:
                raise self._protocol_error("HEADERS too short for its priority fields")
            block = block[5:]
        end_stream = bool(flags & _FLAG_END_STREAM)
        if flags & _FLAG_END_HEADERS:
            self._on_header_block(stream_id, end_stream, block)
        else:
            self._continuation = (stream_id, end_stream, bytearray(block))

    def _on_continuation(self, flags, stream_id, payload):
        if self._continuation is None or self._continuation[0] != stream_id:
            raise self._protocol_error("unexpected CONTINUATION on stream %d" % stream_id)
        block = self._continuation[2]
        block += payload
        if len(block) > _MAX_HEADER_BLOCK:
            raise self._protocol_error("header block larger than %d bytes" % _MAX_HEADER_BLOCK)
        if flags & _FLAG_END_HEADERS:
            end_stream = self._continuation[1]
            self._continuation = None
            self._on_header_block(stream_id, end_stream, bytes(block))

    def _on_header_block(self, stream_id, end_stream, block):
        # Decode every block, even of calls we gave up on: HPACK state is per connection.
        try:
            headers = self._decoder.decode(block)
        except HpackError as error:
            raise self._fail(
                INTERNAL, "HTTP/2 header compression error: %s" % error, _H2_COMPRESSION_ERROR
            ) from None
        call = self._active_call(stream_id)
        if call is None:
            return
        if call.headers is None:
            call.headers = headers
            if end_stream:
                call.trailers = headers  # a trailers-only response
            else:
                not_grpc = _not_grpc_response(headers)
                if not_grpc is not None:
                    return self._fail_call(call, *not_grpc)
        elif end_stream:
            call.trailers = headers
        else:
            return self._fail_call(call, INTERNAL, "second header block does not end the stream")
        if end_stream:
            call.remote_closed = True
            call.done = True

    def _on_settings(self, flags, stream_id, payload):
        if stream_id != 0:
            raise self._protocol_error("SETTINGS on stream %d" % stream_id)
        if flags & _FLAG_ACK:
            if payload:
                raise self._protocol_error("SETTINGS ACK with a payload", _H2_FRAME_SIZE_ERROR)
            return
        if len(payload) % 6:
            raise self._protocol_error("SETTINGS length not a multiple of 6", _H2_FRAME_SIZE_ERROR)
        for offset in range(0, len(payload), 6):
            identifier, value = struct.unpack_from(">HI", payload, offset)
            if identifier == _SETTING_INITIAL_WINDOW_SIZE:
                if value > _MAX_WINDOW:
                    raise self._protocol_error(
                        "initial window size %d too large" % value, _H2_FLOW_CONTROL_ERROR
                    )
                if self._call is not None:
                    self._call.send_window += value - self._peer_initial_window
                self._peer_initial_window = value
            elif identifier == _SETTING_MAX_FRAME_SIZE:
                if not 16384 <= value <= 16777215:
                    raise self._protocol_error("invalid max frame size %d" % value)
                self._peer_max_frame_size = value
            elif identifier == _SETTING_ENABLE_PUSH and value > 1:
                raise self._protocol_error("invalid ENABLE_PUSH %d" % value)
            # The others limit what we would never send: a dynamic table in our encoder,
            # concurrent streams, big header lists.
        self._server_settings_seen = True
        self._out += _frame(_SETTINGS, _FLAG_ACK, 0)

    def _on_window_update(self, stream_id, payload):
        if len(payload) != 4:
            raise self._protocol_error(
                "WINDOW_UPDATE of %d bytes" % len(payload), _H2_FRAME_SIZE_ERROR
            )
        increment = struct.unpack(">I", payload)[0] & 0x7FFFFFFF
        if stream_id == 0:
            if increment == 0:
                raise self._protocol_error("WINDOW_UPDATE with increment 0")
            self._send_window += increment
            if self._send_window > _MAX_WINDOW:
                raise self._protocol_error("connection window overflow", _H2_FLOW_CONTROL_ERROR)
        elif self._call is not None and self._call.stream_id == stream_id:
            self._call.send_window += increment

    def _on_rst_stream(self, stream_id, payload):
        if stream_id == 0 or len(payload) != 4:
            raise self._protocol_error("malformed RST_STREAM", _H2_FRAME_SIZE_ERROR)
        call = self._active_call(stream_id)
        if call is None:
            return
        error_code = struct.unpack(">I", payload)[0]
        name = _H2_ERROR_NAMES[error_code] if error_code < len(_H2_ERROR_NAMES) else None
        call.remote_closed = True
        if error_code == _H2_CANCEL and time.monotonic() >= call.deadline - 0.05:
            # The server cancelled because our grpc-timeout ran out there first.
            return self._fail_call(
                call, DEADLINE_EXCEEDED, "deadline exceeded (stream cancelled by the server)"
            )
        self._fail_call(
            call,
            _RST_STREAM_STATUS.get(error_code, INTERNAL),
            "stream reset by the server (%s)" % (name or "error 0x%x" % error_code),
        )

    def _on_goaway(self, stream_id, payload):
        if stream_id != 0 or len(payload) < 8:
            raise self._protocol_error("malformed GOAWAY", _H2_FRAME_SIZE_ERROR)
        last_stream_id, error_code = struct.unpack_from(">II", payload)
        self._goaway = (last_stream_id & 0x7FFFFFFF, error_code, bytes(payload[8:264]))
        call = self._call
        if call is not None and not call.done and call.stream_id > self._goaway[0]:
            call.remote_closed = True
            self._fail_call(
                call,
                UNAVAILABLE,
                "the server is closing the connection (%s)" % self._goaway_words(),
            )


def unary_call(socket_path, method_path, request, timeout):
    """One call on a fresh connection; timeout bounds connect and call together."""
    with UnixChannel(socket_path, timeout) as channel:
        return channel.unary(method_path, request)
