"""The benchmark's text scores (bench/scores.py): each rule with a case it accepts, a case it
rejects and the edges (empty text, unicode, punctuation, emoji endings, numbers as words),
so the figures the README quotes mean what its definitions say."""

from __future__ import annotations

import pytest

from bench.answers import line_ended
from bench.scores import (
    content_words,
    coverage,
    cut_mid_word,
    degenerate,
    echo,
    fact_hit,
    faithfulness,
    format_ok,
    instruction_echo,
    labels,
    list_items,
    ngrams,
    repeat4_against,
    self_repeat4,
    speaker_lines,
    stem,
    transcript_echo,
    unfinished,
    words,
)


def test_words_lowercase_keep_inner_apostrophes_and_unicode() -> None:
    assert words("Don’t STOP, café-2000!") == ["don't", "stop", "café", "2000"]
    assert words("'quoted' _under_ 🎉") == ["quoted", "under"]
    assert words("") == []


def test_ngrams() -> None:
    assert ngrams(["a", "b", "c"], 2) == [("a", "b"), ("b", "c")]
    assert ngrams(["a", "b"], 3) == []


def test_self_repeat4() -> None:
    assert self_repeat4("the cat sat on the mat today") == 0.0
    # 8 four-grams: abcd bcda cdab dabc, then the same four again (4 repeats)
    text = "a b c d a b c d a b c"
    assert self_repeat4(text) == pytest.approx(4 / 8)
    assert self_repeat4("one two three four") == 0.0  # a single 4-gram
    assert self_repeat4("") == 0.0


def test_repeat4_against() -> None:
    earlier = "the run is any percent on celeste"
    assert repeat4_against("yes the run is any percent", earlier) == pytest.approx(2 / 3)
    assert repeat4_against("something else entirely here", earlier) == 0.0
    assert repeat4_against("too short", earlier) == 0.0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("It is Paris.", False),
        ("Really?!", False),
        ("Well…", False),
        ("one; two;", False),
        ('He said "go."', False),
        ("Nice run! 😂👍🏽", False),
        ("**Done.**", False),
        ("(see above.)", False),
        ("It is Paris", True),
        ("Here are three:", True),
        ("Nice run 😂", True),
        ("", True),
        ("   ", True),
        ("🎉", True),
    ],
)
def test_unfinished(text: str, expected: bool) -> None:
    assert unfinished(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The cat sat on the ma", True),
        ("It's a well-kno", True),
        ("The cat sat on the mat.", False),
        ("The list goes red, green,", False),
        ("The answer is 42", False),
        ("Nice run 😂", False),
        ("", False),
    ],
)
def test_cut_mid_word(text: str, expected: bool) -> None:
    assert cut_mid_word(text) is expected


def test_labels_finds_names_and_roles_at_line_or_sentence_start() -> None:
    reply = "Sure. User: what now?\n  **Bot:** hi\n- xQc_fan : lol"
    assert labels(reply, ["xQc_fan"]) == ["User", "Bot", "xQc_fan"]
    assert labels("assistant: hello", []) == ["assistant"]


def test_labels_ignores_mid_sentence_and_unknown_names() -> None:
    assert labels("I asked the user: no reply.", []) == []
    assert labels("Note: it works. Time: 3pm", ["pixel"]) == []
    assert labels("http://example.com", ["http"]) == []
    assert labels("", ["pixel"]) == []


def test_transcript_echo_whole_line_inside_the_reply() -> None:
    chat = ["the category is any percent today", "gg"]
    assert transcript_echo("Well, the category is ANY percent today!", chat)
    assert not transcript_echo("It is any percent.", chat)


def test_transcript_echo_short_lines_only_as_a_whole_reply_line() -> None:
    chat = ["good luck", "lol"]
    assert transcript_echo("Good luck!\nYou will do great.", chat)
    assert not transcript_echo("Good luck on the run, you will do great.", chat)
    assert not transcript_echo("lol", chat)  # one word never counts


def test_transcript_echo_by_shared_4grams() -> None:
    chat = ["did you see that jump", "that jump was insane honestly"]
    assert transcript_echo("see that jump was insane", chat)  # 1 of 2 grams is chat's
    assert not transcript_echo("I missed the jump but the run looks clean", chat)
    assert not transcript_echo("", chat)
    assert not transcript_echo("anything", [])


def test_instruction_echo_five_word_runs() -> None:
    prompt = ["You are literai, a friendly chat bot on a Twitch stream."]
    assert instruction_echo("Hi! I am a friendly chat bot on a stream", prompt)
    assert not instruction_echo("a friendly chat bot here", prompt)  # 4 words in a row
    assert not instruction_echo("", prompt)
    assert not instruction_echo("anything at all goes here", [])


def test_echo_reasons_in_order_and_clean() -> None:
    persona = "You speak like a cheerful pirate captain from the seven seas."
    reply = "User: arr I speak like a cheerful pirate captain. the run is any percent today"
    reasons = echo(
        reply,
        transcript=["the run is any percent today"],
        persona=persona,
        names=["pixel"],
        instructions=["Answer the viewer in one short sentence please."],
    )
    assert reasons == ["transcript", "label", "persona"]
    task = "Answer the viewer in one short sentence please."
    assert echo(task, transcript=[], instructions=[task]) == ["instruction"]
    assert echo("The capital of France is Paris.", transcript=["what is the capital"]) == []


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("", ["empty"]),
        ("🎉 !!! ...", ["empty"]),
        ("Paris is the capital of France.", []),
        ("I like it. I like it.", ["repeat"]),
        ("Thank you. Thank you.", []),  # sentences under 3 words may repeat
        ("go go go go go go!", ["repeat"]),
        ("a b c x a b c y a b c z.", ["repeat"]),  # the 3-gram "a b c" three times
        ("The cat sat on the ma", ["cut"]),
        ("so so so so so so so and the", ["repeat", "cut"]),
    ],
)
def test_degenerate(reply: str, expected: list[str]) -> None:
    assert degenerate(reply) == expected


def test_fact_hit_whole_words_case_and_punctuation() -> None:
    assert fact_hit("It's PARIS, of course!", ["paris"])
    assert fact_hit("The streamer's cat is Pixel's sister", ["pixel"])  # possessive
    assert fact_hit("Je pense: Pokemon.", ["Pokémon"])  # accents
    assert fact_hit("it is any%", ["any%"])
    assert not fact_hit("Comparison of cities", ["paris"])
    assert not fact_hit("Parisian food", ["paris"])
    assert not fact_hit("anything", ["", "!!"])
    assert not fact_hit("", ["paris"])


def test_fact_hit_numbers_as_digits_or_words() -> None:
    assert fact_hit("A spider has eight legs.", ["8"])
    assert fact_hit("Water freezes at 0 degrees.", ["zero degrees"])
    assert fact_hit("twenty of them", ["20"])
    assert not fact_hit("A spider has 18 legs.", ["8"])
    assert not fact_hit("twenty-one", ["21"])  # only 0-20 are mapped


def test_list_items_bullets_numbers_and_inline() -> None:
    assert list_items("Here you go:\n- red\n* green\n• blue") == 3
    assert list_items("1. red\n2) green") == 2
    assert list_items("Three colours: red, green and blue.") == 3
    assert list_items("Red, green & blue") == 3
    assert list_items("Red, green. And blue.") == 0  # inline lists need one sentence
    assert list_items("") == 0


@pytest.mark.parametrize(
    ("reply", "fmt", "expected"),
    [
        ("Short.", {"max_chars": 6}, True),
        ("Too long.", {"max_chars": 6}, False),
        ("one two three", {"max_words": 3}, True),
        ("one two three four", {"max_words": 3}, False),
        ("It is blue.", {"one_sentence": True}, True),
        ("It is blue. Very blue.", {"one_sentence": True}, False),
        ("It is blue. Very blue.", {"one_sentence": False}, True),
        ("Paris.", {"one_word": True}, True),
        ("Paris, France", {"one_word": True}, False),
        ("...", {"one_word": True}, False),
        ("Yes, it is.", {"yes_no": True}, True),
        ("No.", {"yes_no": True}, True),
        ("Maybe yes.", {"yes_no": True}, False),
        ("", {"yes_no": True}, False),
        ("apples, pears and plums", {"list_of": 3}, True),
        ("apples and pears", {"list_of": 3}, False),
        ("Fantasy, fantasy and Fantasy.", {"list_of": 3}, False),  # one thing, thrice
        ("- flour\n- Flour\n- salt", {"list_of": 3}, False),
        ("I love my cat Pixel!", {"must_include": ["pixel", "cat"]}, True),
        ("I love my cats", {"must_include": ["cat"]}, False),
        ("Yes, Pixel.", {"yes_no": True, "max_chars": 5}, False),
        ("anything", {}, True),
        ("anything", {"colour": "red"}, False),
    ],
)
def test_format_ok(reply: str, fmt: dict[str, object], expected: bool) -> None:
    assert format_ok(reply, fmt) is expected


def test_content_words_drop_stopwords_and_short_tokens() -> None:
    assert content_words("The cat is on a mat at 10 o'clock, isn't it?") == [
        "cat",
        "mat",
        "o'clock",
    ]
    assert content_words("") == []


def test_stem() -> None:
    assert [stem(w) for w in ["jumping", "jumped", "boxes", "cats", "pixel's"]] == [
        "jump",
        "jump",
        "box",
        "cat",
        "pixel",
    ]
    assert [stem(w) for w in ["sing", "bed", "yes", "its"]] == ["sing", "bed", "yes", "its"]


def test_faithfulness() -> None:
    source = "Mira walked her dog Biscuit to the harbour and watched the boats."
    assert faithfulness("Mira walks Biscuit; she watches boats.", source) == 1.0
    assert faithfulness("Mira flew a dragon over Biscuit.", source) == pytest.approx(2 / 4)
    assert faithfulness("", source) == 0.0
    assert faithfulness("the and of", source) == 0.0


def test_coverage() -> None:
    facts = [["Mira"], ["dog", "puppy"], ["3", "three days"], ["harbour", "harbor"]]
    assert coverage("Mira's puppy waited three days.", facts) == pytest.approx(3 / 4)
    assert coverage("Nothing relevant.", facts) == 0.0
    assert coverage("Mira", []) == 0.0


def test_speaker_lines() -> None:
    good = [("Ana", "Hi."), ("Ben", "Hey."), ("ana ", "So."), ("BEN", "Right.")]
    assert speaker_lines(good, ("Ana", "Ben")) == {
        "both_speak": True,
        "bad_speakers": 0,
        "label_in_text": 0,
    }
    bad = [
        ("Ana", "Hi. Ben: hey"),
        ("Narrator", "x"),
        ("Ana", "ana : again"),
        ("Ben", "Banana: no"),
    ]
    assert speaker_lines(bad, ("Ana", "Ben")) == {
        "both_speak": False,
        "bad_speakers": 1,
        "label_in_text": 2,
    }
    assert speaker_lines([], ("Ana", "Ben"))["both_speak"] is False


def test_a_gpt2_line_the_model_ended_itself_is_not_cut() -> None:
    assert line_ended("good morning from Wales", ["\n Wales?\n", " good morning from Wales\nbob"])
    # Stopped by the token limit (no line break after it), or not the line shown: cut.
    assert not line_ended("good morning from the", [" good morning from the"])
    assert not line_ended("good morning from", [" good morning from Wales\n"])
