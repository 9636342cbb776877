"""The chat core's bounded state: rolling windows per channel, cooldowns, notices
said once per quiet period, and per-channel queues. Time is a parameter."""

from __future__ import annotations

import pytest

from literai_core.chat import ChannelKey, ChatLine
from literai_core.limits import ChannelQueues, Cooldown, Notices, RateLimit
from literai_core.window import RollingWindows

# ---------------------------------------------------------------------------------- RollingWindows


def wl(text: str, user: str = "u", channel: str = "#c", platform: str = "p") -> ChatLine:
    return ChatLine(platform, channel, user, text, 0.0)


def test_window_keeps_the_last_n_lines() -> None:
    windows = RollingWindows(max_lines=3, max_chars=10_000)
    for i in range(1, 6):
        windows.add(wl(f"line {i}"))
    assert [ln.text for ln in windows.lines(ChannelKey("p", "#c"))] == [
        "line 3",
        "line 4",
        "line 5",
    ]


def test_window_drops_oldest_lines_by_char_budget() -> None:
    # Each line costs len(user) + len(text) + 2 = 1 + 40 + 2 = 43 characters.
    windows = RollingWindows(max_lines=10, max_chars=100)
    for ch in "abc":
        windows.add(wl(ch * 40))
    texts = [ln.text for ln in windows.lines(ChannelKey("p", "#c"))]
    assert texts == ["b" * 40, "c" * 40]
    windows.add(wl("short"))  # 8 more: 94 in all, still within the budget
    texts = [ln.text for ln in windows.lines(ChannelKey("p", "#c"))]
    assert texts == ["b" * 40, "c" * 40, "short"]
    windows.add(wl("d" * 20))  # 23 more: 117, so the oldest goes
    texts = [ln.text for ln in windows.lines(ChannelKey("p", "#c"))]
    assert texts == ["c" * 40, "short", "d" * 20]


def test_window_keeps_text_not_the_platform_event_and_a_cut_line_stays_the_bots() -> None:
    windows = RollingWindows(max_lines=3, max_chars=30)
    payload = {"raw": "x" * 10_000}  # a platform message, with everything it carries
    windows.add(ChatLine("p", "#c", "u", "hi", 0.0, source=payload))
    [kept] = windows.lines(ChannelKey("p", "#c"))
    assert kept.text == "hi" and kept.source is None
    windows.add(ChatLine("p", "#c", "literai", "y" * 100, 1.0, own=True))
    [cut] = windows.lines(ChannelKey("p", "#c"))
    assert cut.own and cut.text == "y" * 21  # cut to fit, still the bot's own


def test_window_channels_are_separate_even_with_the_same_name() -> None:
    windows = RollingWindows()
    windows.add(wl("on twitch", channel="#main", platform="twitch"))
    windows.add(wl("on discord", channel="#main", platform="discord"))
    windows.add(wl("elsewhere", channel="#other", platform="twitch"))
    assert [ln.text for ln in windows.lines(ChannelKey("twitch", "#main"))] == ["on twitch"]
    assert [ln.text for ln in windows.lines(ChannelKey("discord", "#main"))] == ["on discord"]
    assert [ln.text for ln in windows.lines(ChannelKey("twitch", "#other"))] == ["elsewhere"]
    assert windows.lines(ChannelKey("discord", "#other")) == []
    assert len(windows) == 3


def test_window_count_is_bounded_least_recently_used_first() -> None:
    windows = RollingWindows(max_channels=2)
    windows.add(wl("a1", channel="a"))
    windows.add(wl("b1", channel="b"))
    windows.add(wl("a2", channel="a"))  # "a" is now the most recently used
    windows.add(wl("c1", channel="c"))  # evicts "b"
    assert len(windows) == 2
    assert windows.lines(ChannelKey("p", "b")) == []
    assert [ln.text for ln in windows.lines(ChannelKey("p", "a"))] == ["a1", "a2"]
    assert [ln.text for ln in windows.lines(ChannelKey("p", "c"))] == ["c1"]
    for i in range(50):
        windows.add(wl("x", channel=f"many{i}"))
    assert len(windows) == 2


def test_window_clear_forgets_only_that_channel() -> None:
    windows = RollingWindows()
    windows.add(wl("a", channel="a"))
    windows.add(wl("b", channel="b"))
    windows.clear(ChannelKey("p", "a"))
    windows.clear(ChannelKey("p", "never-seen"))  # no error
    assert windows.lines(ChannelKey("p", "a")) == []
    assert [ln.text for ln in windows.lines(ChannelKey("p", "b"))] == ["b"]
    assert len(windows) == 1
    windows.add(wl("again", channel="a"))
    assert [ln.text for ln in windows.lines(ChannelKey("p", "a"))] == ["again"]


def test_window_lines_is_a_copy() -> None:
    windows = RollingWindows()
    windows.add(wl("kept"))
    windows.lines(ChannelKey("p", "#c")).clear()
    assert [ln.text for ln in windows.lines(ChannelKey("p", "#c"))] == ["kept"]


def test_window_truncates_a_line_longer_than_the_budget() -> None:
    windows = RollingWindows(max_lines=5, max_chars=100)
    windows.add(wl("y" * 500))
    for ln in windows.lines(ChannelKey("p", "#c")):
        assert len(ln.text) <= 100


def test_window_keeps_the_newest_line_even_when_it_alone_fills_the_budget() -> None:
    windows = RollingWindows(max_lines=5, max_chars=100)
    windows.add(wl("earlier"))
    windows.add(wl("z" * 150, user="bob"))
    lines = windows.lines(ChannelKey("p", "#c"))
    assert lines, "the newest line (truncated) should stay in the window"
    assert lines[-1].user == "bob"
    assert lines[-1].text.startswith("zzz")


# ---------------------------------------------------------------------------------------- Cooldown


def test_cooldown_hit_and_retry_after() -> None:
    cd = Cooldown(10)
    assert cd.retry_after("k", 100.0) is None
    assert cd.hit("k", 100.0) is None  # allowed; the cooldown starts now
    assert cd.retry_after("k", 103.0) == pytest.approx(7.0)
    assert cd.hit("k", 103.0) == pytest.approx(7.0)  # refused; does not restart it
    assert cd.retry_after("k", 109.5) == pytest.approx(0.5)
    assert cd.retry_after("k", 110.0) is None
    assert cd.hit("k", 110.0) is None
    assert cd.retry_after("k", 115.0) == pytest.approx(5.0)


def test_cooldown_keys_are_independent() -> None:
    cd = Cooldown(10)
    assert cd.hit("a", 0.0) is None
    assert cd.hit("b", 1.0) is None
    assert cd.hit("a", 2.0) == pytest.approx(8.0)
    assert cd.retry_after(("x", "y"), 2.0) is None


def test_cooldown_of_zero_seconds_never_blocks() -> None:
    cd = Cooldown(0)
    assert cd.hit("k", 5.0) is None
    assert cd.hit("k", 5.0) is None


def test_cooldown_key_count_is_bounded() -> None:
    cd = Cooldown(100, max_keys=2)
    for key in "abc":
        assert cd.hit(key, 0.0) is None
    assert cd.retry_after("a", 1.0) is None  # evicted, oldest first
    assert cd.retry_after("b", 1.0) == pytest.approx(99.0)
    assert cd.retry_after("c", 1.0) == pytest.approx(99.0)


def test_notices_once_per_quiet_period() -> None:
    notices = Notices(max_keys=10)
    assert notices.allow("k", 1.0, 9.0) is True
    assert notices.allow("k", 2.0, 9.0) is False
    assert notices.allow("k", 9.9, 9.0) is False
    assert notices.allow("k", 10.0, 9.0) is True  # the quiet period is over
    assert notices.allow("k", 12.0, 9.0) is False
    # Other keys have their own notices; a zero quiet period always allows.
    assert notices.allow("other", 12.5, 9.0) is True
    assert notices.allow("z", 1.0, 0.0) is True
    assert notices.allow("z", 1.0, 0.0) is True


def test_notices_key_count_is_bounded() -> None:
    notices = Notices(max_keys=2)
    for key in "abc":
        assert notices.allow(key, 0.0, 100.0)
    assert notices.allow("a", 1.0, 100.0) is True  # evicted, oldest first
    assert notices.allow("c", 1.0, 100.0) is False


def test_keys_whose_time_is_over_are_forgotten() -> None:
    """A long stream's every viewer must not stay in the tables: a key whose cooldown,
    quiet period or window is over is dropped (least recent first) as others come."""
    cd, notices, rate = Cooldown(10), Notices(), RateLimit(2, 10)
    for n in range(1000):
        t = float(n)  # one new viewer a second, each using it once
        assert cd.hit(n, t) is None and notices.allow(n, t, 10) and rate.hit(n, t) is None
    # Only the last window's viewers are kept, and they are still held back.
    assert len(cd._until) <= 11 and len(notices._quiet_until) <= 11 and len(rate._uses) <= 11
    assert cd.retry_after(999, 1000.0) == pytest.approx(9.0)
    assert notices.allow(999, 1000.0, 10) is False
    assert rate.hit(999, 1000.0) is None and rate.hit(999, 1000.5) == pytest.approx(8.5)


# ----------------------------------------------------------------------------------- ChannelQueues


def test_channel_queue_limit_and_leave() -> None:
    queues = ChannelQueues(limit=2)
    assert queues.try_enter("a") is True
    assert queues.try_enter("a") is True
    assert queues.try_enter("a") is False
    assert queues.pending("a") == 2
    assert queues.try_enter("b") is True  # other channels are not affected
    queues.leave("a")
    assert queues.pending("a") == 1
    assert queues.try_enter("a") is True
    assert queues.try_enter("a") is False


def test_channel_queue_leave_never_goes_negative() -> None:
    queues = ChannelQueues(limit=1)
    queues.leave("a")
    queues.leave("a")
    assert queues.pending("a") == 0
    assert queues.try_enter("a") is True
    assert queues.try_enter("a") is False
