"""The fake Twitch's id.twitch.tv: app tokens, user-token validation and refresh, for the
bot's account and the broadcaster's (whose token serves subs, cheers and redemptions)."""

from __future__ import annotations

import itertools
import time
from typing import Any

from aiohttp import web

CLIENT_ID = "hof5gwx0su6owfnys0nyan9c87zr6t"
CLIENT_SECRET = "41vpdji4e9gif29md0ouet6fktd2"
BOT_TOKEN = "bot-user-token-1"
BOT_REFRESH = "bot-refresh-token"
BOT_ID = "2914196"
BOT_LOGIN = "literaibot"
BROADCASTER_ID = "1971641"
BROADCASTER_LOGIN = "streamer"
BROADCASTER_TOKEN = "broadcaster-user-token-1"
BROADCASTER_REFRESH = "broadcaster-refresh-token"
BROADCASTER_SCOPES = ["bits:read", "channel:manage:redemptions", "channel:read:subscriptions"]


class TwitchIdentity:
    """Tokens: which are valid, and whose. Tests may expire or revoke them."""

    def __init__(self) -> None:
        super().__init__()
        self.user_tokens = {BOT_TOKEN}  # the bot's valid user tokens
        self.broadcaster_tokens = {BROADCASTER_TOKEN}
        self.app_tokens: set[str] = set()
        self.refresh_fails = False  # tests: the refresh token was revoked meanwhile
        self.refreshed = 0
        self._ids = itertools.count(1)

    async def _token(self, request: web.Request) -> web.Response:
        q = request.query
        if q.get("client_id") != CLIENT_ID or q.get("client_secret") != CLIENT_SECRET:
            return _json({"status": 403, "message": "invalid client secret"}, 403)
        if q.get("grant_type") == "client_credentials":
            token = f"app-token-{next(self._ids)}"
            self.app_tokens.add(token)
            return _json({"access_token": token, "expires_in": 5011271, "token_type": "bearer"})
        if q.get("grant_type") == "refresh_token" and q.get("refresh_token") == BROADCASTER_REFRESH:
            token = f"broadcaster-user-token-refreshed-{next(self._ids)}"
            self.broadcaster_tokens.add(token)
            body = {
                "access_token": token,
                "refresh_token": BROADCASTER_REFRESH,
                "scope": BROADCASTER_SCOPES,
                "token_type": "bearer",
                "expires_in": 14124,
            }
            return _json(body)  # fmt: skip
        if q.get("grant_type") == "refresh_token":
            if q.get("refresh_token") != BOT_REFRESH or self.refresh_fails:
                return _json({"status": 400, "message": "Invalid refresh token"}, 400)
            self.refreshed += 1
            token = f"bot-user-token-refreshed-{self.refreshed}"
            self.user_tokens.add(token)
            return _json(
                {
                    "access_token": token,
                    "refresh_token": BOT_REFRESH,
                    "scope": ["user:bot", "user:read:chat", "user:write:chat"],
                    "token_type": "bearer",
                    "expires_in": 14124,
                }
            )
        return _json({"status": 400, "message": "unsupported grant type"}, 400)

    async def _validate(self, request: web.Request) -> web.Response:
        # Twitch documents "OAuth <token>" and accepts "Bearer <token>" (twitchio's).
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("OAuth ").removeprefix("Bearer ")
        if token in self.app_tokens:
            return _json({"client_id": CLIENT_ID, "scopes": [], "expires_in": 5520838})
        if token in self.broadcaster_tokens:
            body = {"client_id": CLIENT_ID, "login": BROADCASTER_LOGIN,
                    "scopes": BROADCASTER_SCOPES, "user_id": BROADCASTER_ID,
                    "expires_in": 5520838}  # fmt: skip
            return _json(body)
        if token in self.user_tokens:
            return _json(
                {
                    "client_id": CLIENT_ID,
                    "login": BOT_LOGIN,
                    "scopes": ["user:bot", "user:read:chat", "user:write:chat"],
                    "user_id": BOT_ID,
                    "expires_in": 5520838,
                }
            )
        return _json({"status": 401, "message": "invalid access token"}, 401)


def _json(data: Any, status: int = 200) -> web.Response:
    headers = {
        "Ratelimit-Limit": "800",
        "Ratelimit-Remaining": "799",
        "Ratelimit-Reset": str(int(time.time()) + 60),
    }
    return web.json_response(data, status=status, headers=headers)
