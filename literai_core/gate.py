"""Who may run what, and when: the per-user rate on every command, cooldowns and the
channel queue for model commands, and notices said once. Time comes from the lines;
nothing here sleeps."""

from __future__ import annotations

from .chat import ChatLine, Reply, ReplyKind
from .limits import ChannelQueues, Cooldown, Notices, RateLimit
from .settings import BotSettings


class Go:
    """A check passed: go on."""


GO = Go()
# The role an adapter gives only to the person running literai, on a surface of their
# own (the voice page): cooldowns and the per-user rate are for sharing a channel, and
# nobody shares it (the channel queue still applies). Counted only on the platforms
# literai itself is (OWNED), so no platform's role of that name can claim it.
OWNER = "owner"
OWNED = frozenset({"voice"})


def is_owner(line: ChatLine) -> bool:
    return OWNER in line.roles and line.platform in OWNED


class Gate:
    def __init__(self, settings: BotSettings) -> None:
        self.settings = settings
        self.user_cooldown = Cooldown(settings.user_cooldown_s)
        self.channel_cooldown = Cooldown(settings.channel_cooldown_s)
        self.queues = ChannelQueues(settings.channel_queue)
        self.user_rate = RateLimit(settings.user_commands, settings.user_window_s)
        self.notices = Notices()

    def reconfigure(self, settings: BotSettings) -> None:
        """New limits apply from the next line; uses counted so far are kept."""
        self.settings = settings
        self.user_cooldown.seconds = settings.user_cooldown_s
        self.channel_cooldown.seconds = settings.channel_cooldown_s
        self.queues.limit = settings.channel_queue
        self.user_rate.limit = settings.user_commands
        self.user_rate.window_s = settings.user_window_s

    def rate(self, line: ChatLine) -> Reply | Go | None:
        """Every command a user sends counts (help and voice commands too, unknown ones
        too), across the platform's channels: past ``bot.user_commands`` per
        ``bot.user_window_s``, one notice, then silence until the window has room. The
        owner's (the person running literai on the voice page, which begins an answer
        at a pause and drops it if they go on) are not counted."""
        if is_owner(line):
            return GO
        who = (line.platform, line.user)
        left = self.user_rate.hit(who, line.time)
        if left is None:
            return GO
        if self.notices.allow(("rate", *who), line.time, left):
            slow = f"@{line.user} slow down — try again in {max(left, 1):.0f} s."
            return Reply(line, ReplyKind.REFUSED, slow)
        return None

    async def once(self, line: ChatLine, reply: Reply | None) -> Reply | None:
        """The same notice (help, usage, settings) is said once in a channel within
        ``bot.repeat_notice_s``: forty ``!help`` fill no channel's send budget."""
        if reply is None or reply.streaming or reply.kind is not ReplyKind.NOTICE:
            return reply
        text = await reply.text()  # final already: it is not streaming
        quiet = self.settings.repeat_notice_s
        if self.notices.allow(("same", line.key, text), line.time, quiet):
            return reply
        return None

    def admit(self, line: ChatLine) -> Reply | Go | None:
        """Cooldowns and the channel queue for a model command: ``GO`` (a queue slot is
        then held), a refusal, or None (refused already, quietly now)."""
        user_key = (line.platform, line.channel, line.user)
        left = self.user_cooldown.retry_after(user_key, line.time)
        if left is None:
            left = self.channel_cooldown.retry_after(line.key, line.time)
        if is_owner(line):  # the person running literai, talking to it alone
            left = None
        if left is not None:
            if self.notices.allow(("wait", *user_key), line.time, left):
                slow = f"@{line.user} slow down — try again in {left:.0f} s."
                return Reply(line, ReplyKind.REFUSED, slow)
            return None
        if not self.queues.try_enter(line.key):
            quiet = self.settings.user_cooldown_s
            if not self.notices.allow(("busy", *user_key), line.time, quiet):
                return None
            busy = f"@{line.user} I'm busy with other questions — try again soon."
            return Reply(line, ReplyKind.REFUSED, busy)
        self.user_cooldown.hit(user_key, line.time)
        self.channel_cooldown.hit(line.key, line.time)
        return GO
