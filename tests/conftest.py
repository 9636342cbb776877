"""Fixtures that start the real server (a subprocess on a free loopback port, the real
SmolLM2 model) and hand tests the official openai client; the fake Discord and the real
IRC server as fixtures. Everything else tests share is in the kit (tests/kit/)."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from .kit.discord_chat import chat  # a fixture: members talking to the bot on it
from .kit.discord_helpers import fake  # a fixture: the fake Discord
from .kit.ircd import ircd  # a fixture: a real InspIRCd
from .kit.server import API_KEY, SERVER_SLOTS, Server, start_server, stop_server, write_config
from .kit.twitch_helpers import twitch  # a fixture: the fake Twitch

__all__ = ["chat", "client", "fake", "ircd", "lenient_client", "server", "twitch"]


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The real server with the packaged model batching two sequences, an API key, a
    small body limit and a queue of one, shared by the end-to-end tests."""
    tmp = tmp_path_factory.mktemp("server")
    config = write_config(
        tmp,
        server={"port": 0, "max_body_bytes": 65536, "max_queue": 1,
                "models": {"smollm2": {"slots": SERVER_SLOTS}}},
    )  # fmt: skip
    srv = start_server(config, {"LITERAI_API_KEY": API_KEY})
    yield srv
    err = stop_server(srv)
    assert srv.proc.returncode == 0, err
    assert "Traceback" not in err, err
    assert API_KEY not in err, "the API key must never be logged"


@pytest.fixture
def client(server: Server) -> openai.OpenAI:
    return server.client(timeout=60)


@pytest.fixture
def lenient_client(server: Server) -> openai.OpenAI:
    return server.client(strict=False, timeout=60)
