"""A real IRC server for the tests: InspIRCd 3 from Debian's packages, started on a free
loopback port with its own config in a temp folder (IRCv3: cap, message tags, msgid,
server-time, client-only tags), plus ``IrcPeer``, a raw-socket user to talk to the bot."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

PASSWORD = "connect-password-not-secret"

CONFIG = """<config format="xml">
<server name="irc.literai.test" description="literai test server" network="LiteraiTest">
<admin name="literai" nick="literai" email="literai@example.invalid">
<bind address="127.0.0.1" port="{port}" type="clients">
<connect name="main" allow="*" password="{password}" hash="plaintext" timeout="30"
         pingfreq="120" sendq="262144" recvq="8192" softsendq="8192" hardsendq="1048576"
         threshold="1000" commandrate="{commandrate}" fakelag="{fakelag}" localmax="100"
         globalmax="100" limit="1000" resolvehostnames="no" useident="no">
<class name="all" commands="*" privs="*" usermodes="*" chanmodes="*">
<pid file="{dir}/inspircd.pid">
<log method="file" type="* -USERINPUT -USEROUTPUT" level="default" target="{dir}/ircd.log">
<files motd="{dir}/motd.txt">
<dns timeout="1">
<options prefixquit="Quit: " defaultmodes="not">
<channels users="1000" opers="1000">
<security hideserver="" userstats="" customversion="" runasuser="" runasgroup="">
<performance netbuffersize="10240" somaxconn="128" softlimit="1024" quietbursts="yes">
<module name="cap">
<module name="ircv3">
<module name="ircv3_msgid">
<module name="ircv3_servertime">
<module name="ircv3_ctctags">
"""


@dataclass
class Ircd:
    host: str
    port: int
    password: str
    proc: subprocess.Popen[bytes]
    folder: Path

    def log(self) -> str:
        path = self.folder / "ircd.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_ircd(folder: Path, *, fakelag: bool = False, port: int | None = None) -> Ircd:
    binary = shutil.which("inspircd") or "/usr/sbin/inspircd"
    assert Path(binary).exists(), "InspIRCd is needed: scripts/setup.sh test installs it"
    folder.mkdir(parents=True, exist_ok=True)
    port = port or _free_port()
    (folder / "motd.txt").write_text("literai test server\n")
    conf = folder / "inspircd.conf"
    conf.write_text(
        CONFIG.format(
            port=port,
            password=PASSWORD,
            dir=folder,
            fakelag="on" if fakelag else "off",
            commandrate="1000" if fakelag else "100000",
        )
    )
    proc = subprocess.Popen(
        [binary, "--nofork", "--runasroot", "--config", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    ircd = Ircd("127.0.0.1", port, PASSWORD, proc, folder)
    deadline = time.monotonic() + 15
    while True:
        assert proc.poll() is None, f"InspIRCd exited: {ircd.log()[-2000:]}"
        try:
            socket.create_connection((ircd.host, port), 0.2).close()
            return ircd
        except OSError:
            assert time.monotonic() < deadline, "InspIRCd did not start listening"
            time.sleep(0.05)


@pytest.fixture
def ircd(tmp_path: Path) -> Iterator[Ircd]:
    server = start_ircd(tmp_path / "ircd")
    yield server
    server.stop()


@dataclass
class Line:
    tags: dict[str, str]
    source: str
    command: str
    params: list[str] = field(default_factory=list)
    raw: str = ""  # the whole line as it came, for byte counts
    at: float = 0.0  # when it arrived (time.monotonic)

    @classmethod
    def parse(cls, raw: str) -> Line:
        whole = raw
        tags: dict[str, str] = {}
        if raw.startswith("@"):
            head, raw = raw[1:].split(" ", 1)
            for item in head.split(";"):
                key, _, value = item.partition("=")
                tags[key] = value
        source = ""
        if raw.startswith(":"):
            source, raw = raw[1:].split(" ", 1)
        trailing = None
        if " :" in raw:
            raw, trailing = raw.split(" :", 1)
        params = raw.split()
        command = params.pop(0).upper()
        if trailing is not None:
            params.append(trailing)
        return cls(tags, source, command, params, whole)

    @property
    def nick(self) -> str:
        return self.source.split("!", 1)[0]


class IrcPeer:
    """A person on IRC, speaking the protocol by hand (so the bot's library is not
    also the test's)."""

    def __init__(self, ircd: Ircd, nick: str) -> None:
        self.ircd = ircd
        self.nick = nick
        self.lines: list[Line] = []
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None
        self._new = asyncio.Event()

    async def connect(self, caps: str = "message-tags server-time") -> None:
        self._reader, self._writer = await asyncio.open_connection(self.ircd.host, self.ircd.port)
        self._task = asyncio.create_task(self._read())
        await self.send("CAP LS 302")
        await self.send(f"PASS {self.ircd.password}")
        await self.send(f"NICK {self.nick}")
        await self.send(f"USER {self.nick} 0 * :{self.nick}")
        await self.send(f"CAP REQ :{caps}")
        await self.send("CAP END")
        await self.wait_for(lambda line: line.command == "001")

    async def send(self, raw: str) -> None:
        assert self._writer is not None
        self._writer.write(raw.encode() + b"\r\n")
        await self._writer.drain()

    async def join(self, channel: str) -> None:
        await self.send(f"JOIN {channel}")
        await self.wait_for(lambda line: line.command == "366" and line.params[1] == channel)

    async def say(self, target: str, text: str, tags: dict[str, str] | None = None) -> None:
        prefix = "@" + ";".join(f"{k}={v}" for k, v in tags.items()) + " " if tags else ""
        await self.send(f"{prefix}PRIVMSG {target} :{text}")

    async def wait_for(self, check: Callable[[Line], bool], limit_s: float = 30) -> Line:
        deadline = time.monotonic() + limit_s
        seen = 0
        while True:
            for line in self.lines[seen:]:
                if check(line):
                    return line
            seen = len(self.lines)
            left = deadline - time.monotonic()
            assert left > 0, f"{self.nick} did not see it; got {[ln.command for ln in self.lines]}"
            self._new.clear()
            try:
                await asyncio.wait_for(self._new.wait(), left)
            except TimeoutError:
                pass

    def privmsgs(self, target: str | None = None) -> list[Line]:
        return [
            ln
            for ln in self.lines
            if ln.command == "PRIVMSG" and (target is None or ln.params[0] == target)
        ]

    async def _read(self) -> None:
        assert self._reader is not None
        while raw := await self._reader.readline():
            text = raw.decode(errors="replace").rstrip("\r\n")
            if not text:
                continue
            line = Line.parse(text)
            line.at = time.monotonic()
            if line.command == "PING":
                await self.send(f"PONG :{line.params[-1]}")
            self.lines.append(line)
            self._new.set()

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        if self._task is not None:
            self._task.cancel()
