"""Process lifetimes: ``serve`` (the inference server alone) and ``run`` (server plus
the configured bots). Everything opened here is closed here, in order."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import openai
from aiohttp import web

from inference_server.app import build_backends, create_app, start_server
from inference_server.backends.base import TextBackend
from inference_server.images import build_images
from inference_server.speech import build_speech
from literai_core.config import ConfigError, LiteraiConfig, env_secret
from literai_core.core import ChatCore
from literai_core.inference import InferenceError, OpenAIInference
from literai_core.story import StoryStore

from .console import ConsoleBot, stdin_lines

if TYPE_CHECKING:  # twitchio is imported only when Twitch is enabled
    from .twitch.client import Credentials

log = logging.getLogger(__name__)


class Stop:
    """Why the process is ending: a signal, end of input, or a fatal error."""

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.code = 0

    def on_signal(self) -> None:
        """First Ctrl-C or SIGTERM: stop cleanly. A second one: leave at once."""
        if self.event.is_set():
            print("literai: stopping now", file=sys.stderr, flush=True)
            os._exit(130)
        self.set()

    def set(self, code: int = 0, message: str | None = None) -> None:
        if message:
            print(f"literai: {message}", file=sys.stderr, flush=True)
        if not self.event.is_set():
            self.code = code
        self.event.set()

    def on_signals(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, self.on_signal)


async def _until(stop: Stop, work: Awaitable[object]) -> None:
    """Run ``work`` until it ends or ``stop`` fires, whichever comes first."""
    task = asyncio.ensure_future(work)
    waiter = asyncio.ensure_future(stop.event.wait())
    try:
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in (task, waiter):
            t.cancel()
        await asyncio.gather(task, waiter, return_exceptions=True)
    if task.done() and not task.cancelled():
        # gather() reports a child cancelled during shutdown as a CancelledError
        # exception rather than as cancelled: that is a stop, not a failure.
        exc = task.exception()
        if exc is not None and not isinstance(exc, asyncio.CancelledError):
            raise exc


def _app(config: LiteraiConfig, backends: dict[str, TextBackend], stop: Stop) -> web.Application:
    """The server app with every configured capability; a model that fails to load
    stops the process with its one-line reason."""
    return create_app(
        config.server,
        backends,
        speech=build_speech(config.server.speech),
        images=build_images(config.server.images),
        on_load_error=lambda msg: stop.set(1, msg),
    )


async def _listen(
    app: web.Application, host: str, port: int, section: str = "server"
) -> tuple[web.AppRunner, int]:
    try:
        return await start_server(app, host, port)
    except OSError as exc:
        raise ConfigError(
            f"config error: {section}.port: cannot listen on {host}:{port}: "
            f"{exc.strerror or exc} (choose another port, or 0 for any free one)"
        ) from None


async def _overlay(config: LiteraiConfig, core: ChatCore) -> web.AppRunner:
    """bots/web: the overlay pages, fed every answer and media reply the core makes, and
    the podcast episode player."""
    from .web.episodes import Episodes
    from .web.overlay import ALL, Overlay

    overlay = Overlay(config.web)
    core.observers.append(overlay.observe)
    app = overlay.app()
    Episodes(Path(config.data_dir) / "episodes").add_routes(app)
    runner, port = await _listen(app, config.web.host, config.web.port, "web")
    host = "127.0.0.1" if config.web.host in ("0.0.0.0", "::", "") else config.web.host
    print(f"literai: overlay for OBS at http://{host}:{port}/overlay/{ALL}", file=sys.stderr)
    base = (config.web.public_url or f"http://{host}:{port}").rstrip("/")
    core.episode_link = lambda episode_id: f"{base}/episodes/{episode_id}/"
    return runner


async def serve(config: LiteraiConfig) -> int:
    stop = Stop()
    stop.on_signals()
    backends = build_backends(config.server, Path(config.data_dir))
    runner, port = await _listen(
        _app(config, backends, stop), config.server.host, config.server.port
    )
    print(
        f"literai: serving {', '.join(backends)} on http://{config.server.host}:{port}/v1",
        flush=True,
    )
    try:
        await stop.event.wait()
    finally:
        await runner.cleanup()
    return stop.code


async def _wait_ready(client: openai.AsyncOpenAI, stop: Stop, limit_s: float = 120) -> bool:
    """Poll the API until the model answers (503 while loading)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while not stop.event.is_set():
        try:
            await client.models.list()
            return True
        except openai.APIStatusError as exc:
            if exc.status_code != 503:
                stop.set(1, f"the inference server answered {exc.status_code}")
                return False
        except openai.APIConnectionError:
            pass
        if loop.time() > deadline:
            stop.set(1, "the inference server did not become ready in time")
            return False
        await asyncio.sleep(0.2)
    return False


async def _check_remote(client: openai.AsyncOpenAI, base_url: str) -> None:
    """A remote server that is down is not fatal: the bot starts and answers politely."""
    try:
        await client.models.list()
    except openai.OpenAIError as exc:
        print(
            f"literai: warning: the inference server at {base_url} is not answering "
            f"({type(exc).__name__}); the bot will say so in chat until it is",
            file=sys.stderr,
            flush=True,
        )


async def _discord(
    core: ChatCore, config: LiteraiConfig, token: str, stop: Stop, reloader: Reloader
) -> None:
    import discord

    from .discord.client import LiteraiDiscord, point_at

    point_at(config.discord.api_base_url, config.discord.gateway_url)
    failure = None
    async with LiteraiDiscord(core, config.discord) as client:
        reloader.appliers.append(lambda new: client.reconfigure(new.discord))
        try:
            await client.start(token)
        except discord.LoginFailure:
            failure = f"discord: the token in {config.discord.token_env} was rejected"
        except discord.PrivilegedIntentsRequired:
            failure = (
                "discord: enable the Message Content intent for this bot in the Developer Portal"
            )
    if failure is not None:  # said once the client has closed, so nothing cuts that short
        stop.set(1, failure)


class Reloader:
    """``!reload``: re-read the config and apply what can change while running (the
    bot's and the Discord adapter's settings). The rest needs a restart; it says which."""

    LIVE = ("bot", "discord")

    def __init__(self, load: Callable[[], LiteraiConfig], config: LiteraiConfig) -> None:
        self.load = load
        self.current = config
        self.appliers: list[Callable[[LiteraiConfig], None]] = []

    async def __call__(self) -> str:
        try:
            new = await asyncio.to_thread(self.load)  # file I/O, off the loop
        except ConfigError as exc:
            return f"Config not reloaded, nothing changed: {str(exc)[:300]}"
        old, self.current = self.current, new
        for apply in self.appliers:
            apply(new)
        pinned = [
            name
            for name in type(new).model_fields
            if name not in self.LIVE and getattr(new, name) != getattr(old, name)
        ]
        if old.discord.token_env != new.discord.token_env or (
            old.discord.enabled != new.discord.enabled
        ):
            pinned.append("discord.enabled/token_env")
        log.info("config reloaded; needs a restart: %s", pinned or "nothing")
        if pinned:
            return f"Config reloaded. A restart is needed for: {', '.join(sorted(pinned))}."
        return "Config reloaded."


def _twitch_credentials(config: LiteraiConfig) -> Credentials:
    """The four Twitch secrets from the environment, or one line naming the missing."""
    from .twitch.client import Credentials

    t = config.twitch
    names = (t.client_id_env, t.client_secret_env, t.token_env, t.refresh_token_env)
    values = [env_secret(name) for name in names]
    missing = [name for name, value in zip(names, values, strict=True) if value is None]
    if missing:
        raise ConfigError(
            f"config error: twitch: twitch is enabled but {', '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} not set in the environment"
        )
    if not t.channels:
        raise ConfigError("config error: twitch.channels: name at least one channel to join")
    return Credentials(*values)  # type: ignore[arg-type]


async def _twitch(
    core: ChatCore,
    config: LiteraiConfig,
    credentials: Credentials,
    stop: Stop,
    reloader: Reloader,
) -> None:
    import twitchio

    from .twitch.client import LiteraiTwitch, TwitchSetupError, point_at

    t = config.twitch
    point_at(t.api_base_url, t.id_base_url, t.eventsub_url)
    failure = None
    client = LiteraiTwitch(core, t, credentials, overlay=config.web.enabled)
    reloader.appliers.append(lambda new: client.reconfigure(new.twitch))
    try:
        await client.start(with_adapter=False, load_tokens=False, save_tokens=False)
    except twitchio.InvalidTokenException:
        failure = f"twitch: the token in {t.token_env} was rejected and could not be refreshed"
    except twitchio.HTTPException as exc:
        if exc.status in (400, 401, 403):
            failure = (
                f"twitch: Twitch refused the credentials ({t.client_id_env}, "
                f"{t.client_secret_env}): {exc.status}"
            )
        else:
            failure = f"twitch: Twitch answered {exc.status} while starting"
    except TwitchSetupError as exc:
        failure = f"twitch: {exc}"
    finally:
        await client.close()
    if failure is not None:
        stop.set(1, failure)


async def _irc(core: ChatCore, config: LiteraiConfig, reloader: Reloader) -> None:
    from .irc.client import LiteraiIrc

    s = config.irc
    bot = LiteraiIrc(
        core,
        s,
        password=env_secret(s.password_env) if s.password_env else None,
        sasl_password=env_secret(s.sasl_password_env) if s.sasl_password_env else None,
    )
    reloader.appliers.append(lambda new: bot.reconfigure(new.irc))
    try:
        await bot.run()  # reconnects by itself; ends only when cancelled
    finally:
        await bot.close()


async def summarize_file(config: LiteraiConfig, file: str, *, progress: bool = True) -> int:
    """``literai summarize FILE``: the summary on stdout, a progress bar on stderr."""
    from tqdm import tqdm

    from literai_core.documents import DocumentError, read_document
    from literai_core.summarize import SummaryBudget, SummaryError, summarize

    s = config.bot.summary
    try:
        text = await asyncio.to_thread(read_document, Path(file), s.max_file_bytes)
    except DocumentError as exc:
        print(f"literai: {exc}", file=sys.stderr)
        return 2
    stop = Stop()
    stop.on_signals()
    bar = tqdm(total=0, unit="chunk", file=sys.stderr, disable=not progress, leave=False)

    def show(stage: str, done: int, total: int) -> None:
        if bar.total != total or bar.desc != stage:
            bar.reset(total)
            bar.set_description(stage)
        bar.n = done
        bar.refresh()

    async with _api(config, stop) as (client, ready):
        if not ready:
            return stop.code or 1
        model = config.client.model or config.server.default_model
        budget = SummaryBudget(s.chunk_tokens, s.summary_tokens, s.max_depth)
        work = summarize(
            OpenAIInference(client, model), text, budget, about=Path(file).name, progress=show
        )
        try:
            task = asyncio.ensure_future(work)
            await _until(stop, task)
            if not task.done():
                return 130
            summary = task.result()
        except (SummaryError, InferenceError) as exc:
            bar.close()
            print(f"literai: cannot summarize {file}: {exc}", file=sys.stderr)
            return 1
    bar.close()
    print(summary)
    return 0


async def make_podcast(
    config: LiteraiConfig, file: str, *, progress: bool = True, resume: bool = False
) -> int:
    """``literai podcast FILE``: an episode folder under data/episodes, its path on stdout.
    Finished stages are kept in a work folder beside the episodes; ``resume`` reuses
    them after a stopped run of the same file and settings."""
    import hashlib
    import shutil
    import time

    from tqdm import tqdm

    from literai_core.documents import DocumentError, read_document
    from literai_core.episode import EpisodeError, write_episode
    from literai_core.podcast import PodcastPlan, new_episode_id, produce
    from literai_core.summarize import SummaryBudget, SummaryError

    b = config.bot
    try:
        text = await asyncio.to_thread(read_document, Path(file), b.summary.max_file_bytes)
    except DocumentError as exc:
        print(f"literai: {exc}", file=sys.stderr)
        return 2
    title = Path(file).stem.replace("_", " ").replace("-", " ").strip() or "Episode"
    episode_id = new_episode_id(title, time.time())
    plan = PodcastPlan.from_settings(b.podcast)
    budget = SummaryBudget(b.summary.chunk_tokens, b.summary.summary_tokens, b.summary.max_depth)
    episodes = Path(config.data_dir) / "episodes"
    key = hashlib.sha256(f"{text}\0{b.podcast!r}\0{b.summary!r}".encode()).hexdigest()[:16]
    work = episodes / f".work-{key}"
    if not resume:
        await asyncio.to_thread(shutil.rmtree, work, True)
    elif not work.is_dir():
        print(f"literai: nothing to resume for {file}; starting afresh", file=sys.stderr)
    bar = tqdm(total=0, file=sys.stderr, disable=not progress, leave=False)

    def stage(name: str, done: int, total: int) -> None:
        if bar.desc != name or bar.total != total:
            bar.reset(total)
            bar.set_description(name)
        bar.n = done
        bar.refresh()

    stop = Stop()
    stop.on_signals()
    async with _api(config, stop) as (client, ready):
        if not ready:
            return stop.code or 1
        inference = OpenAIInference(client, config.client.model or config.server.default_model)
        task = asyncio.ensure_future(
            produce(
                inference,
                title,
                text,
                plan,
                budget,
                model=b.podcast.speech_model,
                stage=stage,
                cache=work,
            )
        )
        try:
            await _until(stop, task)
            if not task.done():
                return 130
            made = task.result()
            folder = await asyncio.to_thread(
                write_episode,
                episodes,
                episode_id,
                title,
                made.wav,
                made.cues,
                made.images,
                made.sections,
            )
            await asyncio.to_thread(shutil.rmtree, work, True)
        except (InferenceError, SummaryError, EpisodeError) as exc:
            bar.close()
            print(
                f"literai: cannot make the episode: {exc} (--resume goes on from there)",
                file=sys.stderr,
            )
            return 1
    bar.close()
    print(folder)
    return 0


async def write_story(
    config: LiteraiConfig, premise: str, rounds: int, *, progress: bool = True
) -> int:
    """``literai story PREMISE --rounds N``: passages on stdout as they are written."""
    from tqdm import tqdm

    from literai_core.story import Story, StoryKnobs, next_passage

    premise = premise.strip()
    if not premise or len(premise) > 1000:
        print("literai: the premise must be 1 to 1000 characters", file=sys.stderr)
        return 2
    knobs = StoryKnobs.from_settings(config.bot.story)
    stop = Stop()
    stop.on_signals()
    story = Story(premise)
    async with _api(config, stop) as (client, ready):
        if not ready:
            return stop.code or 1
        inference = OpenAIInference(client, config.client.model or config.server.default_model)
        bar = tqdm(range(rounds), "writing", unit="passage", file=sys.stderr, disable=not progress)
        for _ in bar:
            task = asyncio.ensure_future(next_passage(inference, story, knobs))
            try:
                await _until(stop, task)
            except (InferenceError, ValueError) as exc:
                bar.close()
                print(f"literai: round {len(story.passages) + 1} failed: {exc}", file=sys.stderr)
                return 1
            if not task.done():
                return 130
            paragraph = " ".join(task.result().text.split())  # one paragraph each
            bar.write(paragraph + "\n", file=sys.stdout)
        bar.close()
    return 0


@contextlib.asynccontextmanager
async def _api(config: LiteraiConfig, stop: Stop) -> AsyncIterator[tuple[openai.AsyncOpenAI, bool]]:
    """An openai client for ``client.base_url``, or for a server started here; and
    whether it is ready to answer."""
    runner = None
    base_url = config.client.base_url
    if base_url is None:
        backends = build_backends(config.server, Path(config.data_dir))
        runner, port = await _listen(
            _app(config, backends, stop), config.server.host, config.server.port
        )
        host = "127.0.0.1" if config.server.host in ("0.0.0.0", "::", "") else config.server.host
        base_url = f"http://{host}:{port}/v1"
    key = env_secret(config.client.api_key_env) or "no-key"
    try:
        async with openai.AsyncOpenAI(
            base_url=base_url, api_key=key, max_retries=0, timeout=config.client.timeout_s
        ) as client:
            if runner is None:
                await _check_remote(client, base_url)
                yield client, True
            else:
                yield client, await _wait_ready(client, stop)
    finally:
        if runner is not None:
            await runner.cleanup()


async def run(config: LiteraiConfig, load: Callable[[], LiteraiConfig] | None = None) -> int:
    """Run the server (unless ``client.base_url`` names another) and the bots.
    ``load`` re-reads the config for ``!reload``."""
    stop = Stop()
    stop.on_signals()
    if not (
        config.console.enabled
        or config.discord.enabled
        or config.twitch.enabled
        or config.irc.enabled
    ):
        print(
            "literai: no bot is configured (enable console, discord, twitch or irc)",
            file=sys.stderr,
        )
        return 2
    if config.irc.enabled:
        if not config.irc.channels:
            raise ConfigError("config error: irc.channels: name at least one channel to join")
        for name in (config.irc.password_env, config.irc.sasl_password_env):
            if name and env_secret(name) is None:
                raise ConfigError(f"config error: irc: {name} is not set in the environment")
    twitch = _twitch_credentials(config) if config.twitch.enabled else None
    discord_token = None
    if config.discord.enabled:
        discord_token = env_secret(config.discord.token_env)
        if discord_token is None:
            raise ConfigError(
                f"config error: discord.token_env: discord is enabled but "
                f"{config.discord.token_env} is not set in the environment"
            )
        if config.discord.voice.enabled:
            from .discord.voice import OpusMissing, load_opus

            try:
                load_opus()
            except OpusMissing as exc:
                raise ConfigError(f"config error: {exc}") from None
    pages = None
    try:
        async with _api(config, stop) as (client, ready):
            if ready:
                model = config.client.model or config.server.default_model
                core = ChatCore(config.bot, OpenAIInference(client, model))
                core.stories = await asyncio.to_thread(
                    StoryStore, Path(config.data_dir) / "stories.sqlite"
                )
                core.episodes = Path(config.data_dir) / "episodes"
                reloader = Reloader(load or (lambda: config), config)
                reloader.appliers.append(lambda new: core.reconfigure(new.bot))
                core.reloader = reloader
                if config.web.enabled:
                    pages = await _overlay(config, core)
                bots = []
                if config.console.enabled:
                    console = ConsoleBot(core, config.console, Path(config.data_dir) / "media")
                    bots.append(console.run(stdin_lines()))
                if discord_token is not None:
                    bots.append(_discord(core, config, discord_token, stop, reloader))
                if twitch is not None:
                    bots.append(_twitch(core, config, twitch, stop, reloader))
                if config.irc.enabled:
                    bots.append(_irc(core, config, reloader))
                try:
                    await _until(stop, asyncio.gather(*bots))
                finally:
                    await core.aclose()  # a podcast being recorded, recap timers
    finally:
        if pages is not None:
            await pages.cleanup()
    return stop.code


def make_model(config: LiteraiConfig, args: Any) -> int:
    """``literai model convert`` / ``literai model export-hf``: files made from a
    packaged model into data_dir/models, once; the path on stdout."""
    from inference_server.backends.remote import hf_folder
    from inference_server.models import ConvertError, convert_gguf, export_hf
    from literai_core.config import (
        PACKAGED_MODELS,
        ModelSettings,
        converted_model_path,
        resolve_model_path,
    )

    alias = args.alias
    if alias not in PACKAGED_MODELS:
        known = ", ".join(PACKAGED_MODELS)
        print(f"literai: {alias!r} is not a packaged model ({known})", file=sys.stderr)
        return 2
    source = resolve_model_path(alias, ModelSettings())  # the packaged file itself
    data = Path(config.data_dir)
    try:
        if args.model_cmd == "convert":
            dst = converted_model_path(alias, data)
            if args.ftype != "q4_0":
                dst = dst.with_name(dst.name.replace(".Q4_0.", f".{args.ftype.upper()}."))
            if dst.is_file() and not args.force:
                print(f"literai: {dst} exists already (--force writes it again)", file=sys.stderr)
            else:
                print(f"literai: converting {source.name} to {args.ftype}", file=sys.stderr)
                convert_gguf(source, dst, args.ftype, via=args.via)
        else:
            dst = hf_folder(alias, data)
            if dst.is_dir():
                print(f"literai: {dst} exists already", file=sys.stderr)
            else:
                print(f"literai: exporting {source.name} for vLLM", file=sys.stderr)
                export_hf(source, dst)
    except ConvertError as exc:
        print(f"literai: {exc}", file=sys.stderr)
        return 1
    print(dst)
    return 0
