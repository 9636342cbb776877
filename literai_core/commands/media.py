"""Media commands: ``!say`` (speech) and ``!imagine`` (images). Media work has its own,
smaller concurrency limit across all channels, on top of the usual cooldowns."""

from __future__ import annotations

from ..chat import Media, Reply, ReplyKind
from ..inference import InferenceError
from ..limits import ChannelQueues, Notices
from ..router import Component, Context, command

MEDIA_KEY = "media"


class MediaCommands(Component):
    """Speech and image jobs share one limit across all channels
    (``bot.media_concurrency``, read at each use so ``!reload`` applies)."""

    def __init__(self) -> None:
        self.slots = ChannelQueues(1)  # one key: all media
        self.notices = Notices()

    def _enter(self, ctx: Context) -> bool:
        self.slots.limit = ctx.host.settings.media_concurrency
        return self.slots.try_enter(MEDIA_KEY)

    @command("say", arg="What to say (default: my last reply)")
    async def say(self, ctx: Context) -> Reply:
        """!say [text]

        Speak the text in the bot's voice; with no text, speak the bot's last reply.
        """
        host = ctx.host
        text = ctx.args or _last_bot_line(ctx)
        if not text:
            return Reply(ctx.line, ReplyKind.NOTICE, "I haven't said anything here yet.")
        if not self._enter(ctx):
            return Reply(
                ctx.line, ReplyKind.REFUSED, "I'm busy making other media — try again soon."
            )
        try:
            audio = await host.inference.speech(
                text, voice=host.settings.voice, model=host.settings.speech_model
            )
        except InferenceError as exc:
            return Reply(ctx.line, ReplyKind.ERROR, f"Sorry, I can't speak right now: {exc}.")
        finally:
            self.slots.leave(MEDIA_KEY)
        media = Media(audio, "audio/wav", "wav", text)
        return Reply(ctx.line, ReplyKind.MEDIA, f"🔊 {text}", media=media)

    @command("imagine", requires_args=True, arg="What to draw")
    async def imagine(self, ctx: Context) -> Reply | None:
        """!imagine <prompt>

        Make a picture of the prompt.
        """
        host = ctx.host
        if not self._enter(ctx):
            busy = "I'm busy making other media — try again soon."
            return Reply(ctx.line, ReplyKind.REFUSED, busy)
        try:
            png = await host.inference.image(ctx.args, size=host.settings.image_size)
        except InferenceError as exc:
            if exc.not_configured:
                # Say it once per channel (an hour), not every time someone tries.
                key = ("no-images", ctx.line.platform, ctx.line.channel)
                if not self.notices.allow(key, ctx.line.time, 3600):
                    return None
                return Reply(ctx.line, ReplyKind.NOTICE, "Sorry, images aren't set up here.")
            return Reply(ctx.line, ReplyKind.ERROR, f"Sorry, I can't draw right now: {exc}.")
        finally:
            self.slots.leave(MEDIA_KEY)
        media = Media(png, "image/png", "png", ctx.args)
        return Reply(ctx.line, ReplyKind.MEDIA, f"🎨 {ctx.args}", media=media)


def _last_bot_line(ctx: Context) -> str:
    name = ctx.host.settings.name
    for line in reversed(ctx.host.window(ctx.line.key)):
        if line.user == name:
            return line.text
    return ""
