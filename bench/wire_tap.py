"""The frames a client sends to a server on 127.0.0.1, timed by the kernel as they leave the client's socket.

The emulator stamps each frame when its own event loop gets to it; that loop also encodes and paces the
replies, and a Python process collects garbage, so a stamp can be 40 ms late (seen: a 46 ms "gap" between
appends the client had sent 10 ms apart). The issue's figure is the gap between frames *leaving the socket*.
This tap reads every TCP segment the loopback interface carries (an `AF_PACKET` socket: root or
CAP_NET_RAW) with the kernel's timestamp. That is taken as the loopback device queues the segment for
receipt, still inside the sending process's `send` (`netdev_tstamp_prequeue`), so the time does not depend
on when anyone reads it. The tap rebuilds each client→server byte stream, skips the HTTP upgrade, and
parses the WebSocket frames (masked; permessage-deflate inflated when negotiated). It reads the server's
side too: when each `response.audio.delta` really left the emulator, so a gap in a long reply can be laid
at the sender's door (its deltas strayed further from real time than the jitter buffer holds) or not.

A frame is stamped with the segment that carried its last byte: that is when it had wholly left.
"""

from __future__ import annotations

import base64
import json
import socket
import struct
import threading
import time
import zlib
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

ETH_P_IP = 0x0800
PACKET_HOST = 0  # a socket bound to one protocol sees loopback segments as they are received
SO_TIMESTAMPNS = 35
SO_RCVBUFFORCE = 33
_TIMESPEC = struct.Struct("qq")
APPEND = "input_audio_buffer.append"
DELTA = "response.audio.delta"
AUDIO_FIELD = {APPEND: "audio", DELTA: "delta"}  # the frames that carry PCM16, and where


@dataclass
class Connection:
    """One direction of one connection: its frames as (kernel time on the monotonic clock, type, audio samples
    sent in this direction up to and including the frame)."""

    port: int  # the client's
    from_client: bool = True
    frames: list[tuple[float, str, int]] = field(default_factory=list)  # one append each: safe to read while read
    complete: bool = True  # False once a segment was missed (the kernel dropped one): the frames stop there
    _stream: bytearray = field(default_factory=bytearray)
    _stamps: list[tuple[int, float]] = field(default_factory=list)  # (stream offset of a segment's end, time)
    _next_seq: int | None = None
    _upgraded: bool = False
    _inflater: zlib._Decompress | None = None
    _samples: int = 0

    def sent(self, kind: str) -> bool:
        return any(k == kind for _, k, _ in list(self.frames))

    def appends(self, kind: str = APPEND) -> npt.NDArray[np.float64]:
        """(n, 2): when each `kind` frame left, and the audio samples sent up to and including it (for
        appends, like the emulator's `arrivals`)."""
        rows = [(t, n) for t, k, n in list(self.frames) if k == kind]
        return np.array(rows, dtype=np.float64).reshape(-1, 2)

    def segment(self, seq: int, flags: int, payload: bytes, at: float) -> None:
        if flags & 0x02:  # SYN: the stream starts after it
            self._next_seq = (seq + 1) & 0xFFFFFFFF
            return
        if self._next_seq is None or not payload or not self.complete:
            return
        behind = (self._next_seq - seq) & 0xFFFFFFFF  # how much of it was seen already (modulo 2**32)
        if behind >= 1 << 31:  # it starts beyond what was seen: a segment went missing; stop here, say so
            self.complete = False
            return
        if behind >= len(payload):  # a retransmission of what was seen
            return
        data = payload[behind:]
        self._stream += data
        self._next_seq = (self._next_seq + len(data)) & 0xFFFFFFFF
        self._stamps.append((len(self._stream), at))
        self._parse()

    def _time_of(self, end: int) -> float:
        """The time of the segment that carried stream byte `end - 1`."""
        return next(t for offset, t in self._stamps if offset >= end)

    def _parse(self) -> None:
        consumed = 0
        while True:
            if not self._upgraded:
                header_end = self._stream.find(b"\r\n\r\n", consumed)
                if header_end < 0:
                    break
                consumed = header_end + 4
                self._upgraded = True
                continue
            frame = _frame_at(self._stream, consumed)
            if frame is None:
                break
            end, opcode, rsv1, payload = frame
            if opcode == 1:
                self._text(payload, rsv1, self._time_of(end))
            consumed = end
        if consumed:
            del self._stream[:consumed]
            self._stamps = [(offset - consumed, t) for offset, t in self._stamps if offset > consumed]

    def _text(self, payload: bytes, compressed: bool, at: float) -> None:
        if compressed:  # RSV1: permessage-deflate (each message ends in a stripped sync flush)
            if self._inflater is None:
                self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
            payload = self._inflater.decompress(payload + b"\x00\x00\xff\xff")
        try:
            event = json.loads(payload)
            kind = str(event.get("type"))
        except (ValueError, AttributeError):
            kind = "?"
            event = {}
        if kind in AUDIO_FIELD:
            self._samples += len(base64.b64decode(event.get(AUDIO_FIELD[kind], ""))) // 2
        self.frames.append((at, kind, self._samples))


def _frame_at(stream: bytearray, start: int) -> tuple[int, int, bool, bytes] | None:
    """The whole frame at `start` as (end offset, opcode, RSV1, unmasked payload), or None if incomplete."""
    if len(stream) - start < 2:
        return None
    first, second = stream[start], stream[start + 1]
    length, at = second & 0x7F, start + 2
    if length == 126:
        if len(stream) - at < 2:
            return None
        length, at = struct.unpack_from(">H", stream, at)[0], at + 2
    elif length == 127:
        if len(stream) - at < 8:
            return None
        length, at = struct.unpack_from(">Q", stream, at)[0], at + 8
    mask = b""
    if second & 0x80:
        if len(stream) - at < 4:
            return None
        mask, at = bytes(stream[at : at + 4]), at + 4
    if len(stream) - at < length:
        return None
    payload = bytes(stream[at : at + length])
    if mask:
        key = np.frombuffer((mask * (length // 4 + 1))[:length], dtype=np.uint8)
        payload = (np.frombuffer(payload, dtype=np.uint8) ^ key).tobytes()
    return at + length, first & 0x0F, bool(first & 0x40), payload


def realtime_offset() -> float:
    """CLOCK_REALTIME − CLOCK_MONOTONIC: the kernel stamps packets on the first, the benchmark times everything
    on the second. Read between two monotonic readings, keeping the tightest pair (a preemption between
    the two calls would shift every time by its length)."""
    best = (float("inf"), 0.0)
    for _ in range(50):
        before, real, after = time.monotonic(), time.time(), time.monotonic()
        best = min(best, (after - before, real - (before + after) / 2))
    return best[1]


def available() -> bool:
    """Whether this process may read the loopback interface's packets (root or CAP_NET_RAW)."""
    try:
        socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_IP)).close()
    except (OSError, AttributeError):
        return False
    return True


class WireTap:
    """Frames to and from the server at `port` on the loopback interface, per connection and direction."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.connections: list[Connection] = []  # in the order they connected
        self._by_port: dict[int, Connection] = {}  # by the client's port, negative for the server's side
        self._sock = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_IP))
        try:  # past net.core.rmem_max (root may): a packet the kernel drops is a frame the tap never sees
            self._sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 16 << 20)
        except OSError:
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 << 20)
        self._sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self._sock.bind(("lo", 0))
        self._sock.settimeout(0.005)  # a wait this long means the kernel's queue is read to the end
        self._offset = realtime_offset()
        self._lock = threading.Lock()
        self._stopped = False
        self._drained = threading.Event()
        self._thread = threading.Thread(target=self._read, name="wire-tap", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while True:
            try:
                packet, ancillary, _, address = self._sock.recvmsg(1 << 17, socket.CMSG_SPACE(_TIMESPEC.size))
            except TimeoutError:
                self._drained.set()
                if self._stopped:
                    return
                continue
            except OSError:
                return
            if address[2] != PACKET_HOST:
                continue
            at = next((sec + nsec / 1e9 for level, kind, data in ancillary
                       if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS
                       for sec, nsec in [_TIMESPEC.unpack(data[: _TIMESPEC.size])]), time.time())
            self._segment(packet, at - self._offset)

    def _segment(self, packet: bytes, at: float) -> None:
        if len(packet) < 20 or packet[9] != socket.IPPROTO_TCP:
            return
        ihl = (packet[0] & 0x0F) * 4
        total = struct.unpack_from(">H", packet, 2)[0]
        src_port, dst_port, seq = struct.unpack_from(">HHI", packet, ihl)
        if self.port not in (src_port, dst_port):
            return
        from_client = dst_port == self.port
        key = (src_port if from_client else -dst_port)
        offset = (packet[ihl + 12] >> 4) * 4
        flags = packet[ihl + 13]
        with self._lock:
            connection = self._by_port.get(key)
            if connection is None or flags & 0x02:  # a new connection (a port may be used again)
                connection = self._by_port[key] = Connection(abs(key), from_client)
                self.connections.append(connection)
            connection.segment(seq, flags, packet[ihl + offset : total], at)

    def latest(self, kind: str = APPEND) -> Connection | None:
        """The most recent connection that sent a `kind` frame (a benchmark run's session; the server's side
        for a server event), once what the kernel had queued by now is read."""
        self._drained.clear()
        self._drained.wait(1.0)
        with self._lock:
            return next((c for c in reversed(self.connections) if c.sent(kind)), None)

    def close(self) -> None:
        """Stop once the kernel's queue is read to the end."""
        self._stopped = True
        self._thread.join(timeout=2)
        self._sock.close()

    def __enter__(self) -> WireTap:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def spread_ms(frames: npt.NDArray[np.float64], sample_rate: int) -> tuple[float, npt.NDArray[np.float64]]:
    """How far audio frames strayed from real time as they left: each frame's departure minus when its first
    sample is due (real time from the first frame), as (max − min) in ms, and each frame's lateness in ms
    above the earliest one. A receiver's jitter buffer must hold at least the spread to play without a gap."""
    if not len(frames):
        return 0.0, np.zeros(0)
    due = np.concatenate([[0.0], frames[:-1, 1]]) / sample_rate
    late = (frames[:, 0] - frames[0, 0] - due) * 1000
    late -= late.min()
    return float(late.max()), late
