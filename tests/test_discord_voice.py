"""Voice: the real discord.py playback pipeline (FFmpegPCMAudio, the player thread,
libopus, RTP, AEAD encryption, a UDP socket) into a loopback receiver that decrypts and
decodes what arrives. Commands come through the fake gateway like any message."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator

import discord
import openai
import pytest

from bots.discord.client import LiteraiDiscord
from literai_core.inference import Generation, OpenAIInference
from literai_core.settings import BotSettings

from .kit.discord_helpers import run_bot as _run_bot
from .kit.discord_helpers import stop_bot as _stop
from .kit.discord_helpers import until as _until
from .kit.fake_discord import GUILD_ID, FakeDiscord
from .kit.fake_voice import SILENCE, CapturingVoiceClient, Packet, VoiceServer
from .kit.media import tone, wav_seconds
from .kit.scripted import Call, ScriptedInference
from .kit.server import API_KEY, Server

GUILD = int(GUILD_ID)


@pytest.fixture
def udp() -> Iterator[VoiceServer]:
    server = VoiceServer()
    CapturingVoiceClient.server = server
    yield server
    CapturingVoiceClient.server = None
    server.close()


def decode(packets: list[Packet]) -> tuple[float, float]:
    """Seconds of audio and its RMS, decoding every non-silence Opus frame."""
    decoder = discord.opus.Decoder()
    pcm = b"".join(decoder.decode(p.opus, fec=False) for p in packets if p.opus != SILENCE)
    samples = memoryview(pcm).cast("h")
    rms = math.sqrt(sum(x * x for x in samples) / max(1, len(samples)))
    return len(samples) / 2 / 48000, rms  # 48 kHz stereo


class ToneInference(ScriptedInference):
    """Speech as a tone whose length is set by the text's word count (0.5 s a word)."""

    async def speech(self, text: str, *, voice: str, model: str) -> bytes:
        self.calls.append(Call("speech", Generation(max_tokens=0), None, prompt=text))
        return tone(0.5 * len(text.split()))


def guild_voice(client: LiteraiDiscord) -> object:
    assert client.voice is not None
    return client.voice.guilds.get(GUILD)


def texts(fake: FakeDiscord) -> list[str]:
    return [a.content for a in fake.actions if a.kind == "send"]


@pytest.mark.slow
async def test_say_is_played_in_voice_and_decodes_to_the_same_length(
    fake: FakeDiscord, server: Server, udp: VoiceServer
) -> None:
    async with openai.AsyncOpenAI(base_url=server.v1, api_key=API_KEY, max_retries=0) as api:
        client, task = await _run_bot(
            fake, OpenAIInference(api, "smollm2"), voice_cls=CapturingVoiceClient
        )
        try:
            await fake.user_says("!join")
            await _until(lambda: any(t.startswith("Joined Lounge") for t in texts(fake)))
            await fake.user_says("!say the teletype prints slowly, one line at a time")
            await _until(lambda: any(a.files for a in fake.actions))
            assert client.voice is not None
            await _until(lambda: client.voice.guilds[GUILD].played == 1)  # type: ignore[union-attr]
            await fake.user_says("!skip")
            await _until(lambda: "Nothing is playing." in texts(fake))
            await fake.user_says("!leave")
            await _until(lambda: "Left the voice channel." in texts(fake))
            (vc,) = udp.clients
            assert not vc.is_connected() and GUILD not in client.voice.guilds
        finally:
            await _stop(client, task)
    ((name, wav),) = next(a for a in fake.actions if a.files).files
    assert name == "speech.wav"
    packets = udp.packets()
    voiced = [p for p in packets if p.opus != SILENCE]
    assert len(voiced) > 50, len(packets)
    assert all(p.ssrc == udp.ssrc for p in packets)
    seqs = [p.sequence for p in packets]
    assert all(b == (a + 1) % 65536 for a, b in itertools.pairwise(seqs)), seqs
    steps = {b.timestamp - a.timestamp for a, b in itertools.pairwise(voiced)}
    assert steps == {960}, steps  # 20 ms frames at 48 kHz
    seconds, rms = decode(packets)
    # discord.py drops a last partial 20 ms frame; the resampler adds a little.
    assert abs(seconds - wav_seconds(wav)) < 0.045, (seconds, wav_seconds(wav))
    assert rms > 300, rms  # speech, not silence
    assert vc.ws.speaking[0] == 1 and vc.ws.speaking[-1] == 0  # type: ignore[attr-defined]


async def test_voice_queue_skip_stop_spoken_replies_and_idle_leave(
    fake: FakeDiscord, udp: VoiceServer
) -> None:
    inference = ToneInference(["Two words."], ["Three more words."])
    bot = BotSettings(  # type: ignore[call-arg]
        user_cooldown_s=0, channel_cooldown_s=0, media_concurrency=4, user_commands=100
    )  # one member sends every command here: the per-user rate has its own tests
    client, task = await _run_bot(
        fake,
        inference,
        bot=bot,
        voice_cls=CapturingVoiceClient,
        voice={"speak_replies": True, "queue": 2, "idle_leave_s": 2.5},
    )
    voice = client.voice
    assert voice is not None
    try:
        await fake.user_says("!join", user_id="1100000000000000200", name="not-in-voice")
        await _until(lambda: "Join a voice channel first, then ask me again." in texts(fake))
        await fake.user_says("!join")
        await _until(lambda: any(t.startswith("Joined") for t in texts(fake)))
        # A spoken answer (2 words: 1.0 s), then four 4 s clips: one plays, two wait
        # (the queue holds 2), so the fourth is not played: 🔇 on its message.
        await fake.user_says("!ask how are you?")
        await _until(lambda: voice.guilds[GUILD].played == 1)
        for n in range(4):
            await fake.user_says(f"!say one two three four five six seven {n}")
            await _until(lambda n=n: sum(1 for a in fake.actions if a.files) == n + 1)
        await _until(lambda: any(a.kind == "react" and a.content == "🔇" for a in fake.actions))
        await fake.user_says("!skip")
        await _until(lambda: "Skipped." in texts(fake))
        await fake.user_says("!stop")
        await _until(lambda: any(t.startswith("Stopped (") for t in texts(fake)))
        # Nothing left to play: after idle_leave_s it leaves on its own.
        await _until(lambda: GUILD not in voice.guilds, 10)
        (vc,) = udp.clients
        assert not vc.is_connected()
    finally:
        await _stop(client, task)
    spoken = [c.prompt for c in inference.calls if c.kind == "speech"]
    assert spoken[0] == "Two words."
    seconds, _ = decode(udp.packets())
    # 1.0 s of the answer, then parts of the clips that were skipped and stopped.
    assert 1.0 <= seconds < 1.0 + 4 * 2, seconds
