"""A voice client whose transport is a UDP socket on loopback instead of a Discord voice
server. Only the handshake is skipped (the voice gateway and IP discovery); everything
after it is discord.py's own: FFmpegPCMAudio, the player thread, libopus encoding, RTP
headers, AEAD encryption and ``socket.sendall``. The test decrypts and decodes what
arrives, as a voice server would."""

from __future__ import annotations

import os
import socket
import struct
from dataclasses import dataclass
from typing import Any

import discord
import nacl.secret
from discord.voice_state import ConnectionFlowState

MODE = "aead_xchacha20_poly1305_rtpsize"
SILENCE = b"\xf8\xff\xfe"  # discord.py's Opus silence frame


class _VoiceGateway:
    """Stands in for the voice websocket: records speaking-state changes."""

    def __init__(self) -> None:
        self.speaking: list[int] = []
        self.latency = 0.0
        self.average_latency = 0.0

    async def speak(self, state: Any = True) -> None:
        self.speaking.append(int(state))


class VoiceServer:
    """The receiving end: one UDP socket per test."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.key = os.urandom(32)
        self.ssrc = 0x5EED
        self.clients: list[CapturingVoiceClient] = []

    @property
    def address(self) -> tuple[str, int]:
        return self.sock.getsockname()  # type: ignore[no-any-return]

    def packets(self) -> list[Packet]:
        """Every datagram received so far, decrypted."""
        got = []
        while True:
            try:
                data = self.sock.recv(65536)
            except BlockingIOError:
                return got
            got.append(Packet.open(data, self.key))

    def close(self) -> None:
        self.sock.close()


@dataclass
class Packet:
    sequence: int
    timestamp: int
    ssrc: int
    opus: bytes

    @classmethod
    def open(cls, data: bytes, key: bytes) -> Packet:
        header, body, nonce4 = data[:12], data[12:-4], data[-4:]
        assert header[0] == 0x80 and header[1] == 0x78, header[:2]
        opus = nacl.secret.Aead(key).decrypt(body, header, nonce4 + bytes(20))
        sequence, timestamp, ssrc = struct.unpack(">HII", header[2:12])
        return cls(sequence, timestamp, ssrc, opus)


class CapturingVoiceClient(discord.VoiceClient):
    """Set ``CapturingVoiceClient.server`` before the bot joins."""

    server: VoiceServer | None = None

    async def connect(self, **_: Any) -> None:
        server = type(self).server
        assert server is not None, "no VoiceServer to send to"
        conn = self._connection
        conn.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        conn.socket.connect(server.address)
        conn.mode = MODE
        conn.secret_key = list(server.key)
        conn.ssrc = server.ssrc
        conn.ws = _VoiceGateway()  # type: ignore[assignment]
        conn.state = ConnectionFlowState.connected
        server.clients.append(self)

    async def disconnect(self, *, force: bool = False) -> None:
        self.stop()
        self._connection.state = ConnectionFlowState.disconnected
        if self._connection.socket:
            self._connection.socket.close()
        self.cleanup()

    async def move_to(self, channel: Any, **_: Any) -> None:
        self.channel = channel
