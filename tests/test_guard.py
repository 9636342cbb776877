"""The guard on generated text: each rule cuts what it should and passes ordinary
answers; through ``!ask`` and ``!gpt2`` an echo never reaches the chat."""

from __future__ import annotations

from literai_core.dialogue import section_dialogue
from literai_core.guard import Guard, Sources, clean, split_sentences
from literai_core.podcast import Host
from literai_core.story import Story, StoryKnobs, next_passage
from literai_core.summarize import SYSTEM, summarize

from .kit.chat import line, make_core, text_of
from .kit.scripted import ScriptedInference

CHAT = ("the run is glitchless any percent", "hello there, chat", "Pixel the cat is asleep")
GUARD = Guard(
    Sources(CHAT, ("speedy_sam", "mod_ana"), ("You are literai, a friendly, witty companion.",))
)


def test_sentences_split_at_ends_and_keep_the_rest() -> None:
    done, rest = split_sentences('It works. "Really?" Yes!\nNext line and more')
    assert done == ["It works. ", '"Really?" ', "Yes!\n"]
    assert rest == "Next line and more"


def test_an_abbreviation_before_a_lowercase_word_ends_no_sentence() -> None:
    said = "My fav. thing is the bell. It rings e.g. at noon... or so. No. 5 is best. lol. ok"
    done, rest = split_sentences(said)
    assert done == ["My fav. thing is the bell. ", "It rings e.g. at noon... or so. ",
                    "No. 5 is best. ", "lol. "] and rest == "ok"  # fmt: skip
    assert split_sentences("I love it. alice: no way")[0] == ["I love it. "]  # a name
    assert split_sentences("Ask Dr. Who. Then go.")[0] == ["Ask Dr. ", "Who. ", "Then go."]
    # Streamed: "My fav." waits for its next word; a plain sentence end does not.
    assert split_sentences("My fav. ", final=False) == ([], "My fav. ")
    assert split_sentences("My fav. thing", final=False) == ([], "My fav. thing")
    assert split_sentences("It rings. ", final=False) == (["It rings. "], "")
    assert split_sentences("My fav.", final=True) == (["My fav."], "")


def test_an_unfinished_sentence_that_copies_a_chat_line_or_an_instruction_is_hopeless() -> None:
    said = "That's a question that gets asked a lot, but I'll try to answer it."
    guard = Guard(Sources((said,), (), ("You are literai, a friendly, witty companion.",)))
    assert guard.hopeless("Oh, that's a question that gets asked a lot")  # 8 copied words
    assert not guard.hopeless("Oh, that's a question that gets asked")  # too few to tell
    assert not guard.hopeless("Oh, that's a question that gets asked a lo")  # a word unfinished
    assert not guard.hopeless("That's a question people asked a lot, but I'll try")
    assert guard.hopeless("As you know, You are literai, a friendly")  # an instruction's 5
    assert not guard.hopeless("I am literai, a friendly bot")
    assert guard.hopeless("I think user: no") and not guard.hopeless("I think user:")
    turns = Guard(Sources((said,), ("bob",), turns=True))  # a transcript continued
    assert turns.hopeless("sam_1: hi") and turns.hopeless("bob: ") and turns.hopeless("zed: a")
    assert not turns.hopeless("10:") and not turns.hopeless("at 10:30 we")  # "10:30"


def test_scripts_without_spaces_have_words_and_sentence_ends() -> None:
    done, rest = split_sentences("テレタイプが鳴りました。紙がなくなった！まだ")
    assert done == ["テレタイプが鳴りました。", "紙がなくなった！"] and rest == "まだ"
    chat = Guard(Sources(("テレタイプが鳴りました",)))
    assert chat.verdict("テレタイプが鳴りました。") == "transcript"
    assert chat.verdict("紙がなくなった。") is None
    assert chat.keep("紙がなくなった。" * 3) == ("紙がなくなった。", "repeat")


def test_continuing_a_transcript_no_one_else_may_speak() -> None:
    turns = Guard(Sources(CHAT, ("speedy_sam",), turns=True))
    for turn in ("sarah_schloe: lol", " drew: hi there", " and user1: lol and wolf"):
        assert turns.verdict(turn) == "label", turn
        assert GUARD.verdict(turn) is None, turn  # a chat answer may say "drew: hi"
    for said in (" is simple: be kind.", " the score is 9:12 now", "I said: no."):
        assert turns.verdict(said) is None, said


def test_ordinary_answers_pass() -> None:
    for ok in ("Paris is the capital of France.", "A teletype is a printing telegraph.",
               "The run category is glitchless.", "Yes."):  # fmt: skip
        assert GUARD.verdict(ok) is None, ok


def test_each_rule_cuts_what_it_should() -> None:
    assert GUARD.verdict("User: what is a teletype?") == "label"
    assert GUARD.verdict("Sure. speedy_sam: nice run") == "label"
    assert GUARD.verdict("I am literai, a friendly, witty companion here.") == "instruction"
    assert GUARD.verdict("Hello there, chat.") == "transcript"
    assert GUARD.verdict("The run is glitchless any percent today.") == "transcript"
    inside = "Chat says the run is glitchless any percent, which is the hardest one to do well."
    assert GUARD.verdict(inside) == "transcript"  # a whole chat line inside a longer one
    assert GUARD.verdict("The bell rings at noon.", ["The bell rings at noon. "]) == "repeat"
    loop = "the pages of the pages of the pages of the pages of the pages."
    assert GUARD.verdict(loop) == "repeat"
    pb = "The runner's PB is 27:41, the best is 27:41, and the sum is 27:41."
    assert GUARD.verdict(pb) == "repeat"  # one 3-gram three times
    # ... but not three characters of a script without spaces ("ました")
    assert GUARD.verdict("紙が出ました、音が鳴りました、人が来ました。") is None


def test_copied_context_is_found_across_short_sentences() -> None:
    summary = "A lone figure waits. She's a loner, not a loner. She's got a story to tell."
    guard = Guard(Sources(quoted=(summary,)))
    text = "The wind rose. She's a loner, not a loner. She's got a story to tell. It rained."
    assert clean(text, guard) == "The wind rose. She's a loner, not a loner. It rained."


def test_keep_stops_at_the_first_bad_sentence() -> None:
    kept, why = GUARD.keep("A teletype prints. Hello there, chat. It is loud.")
    assert (kept, why) == ("A teletype prints.", "transcript")
    assert GUARD.keep("Fine. Also fine. Trailing bit") == ("Fine. Also fine.", None)


async def test_ask_never_shows_an_echo_and_writes_again() -> None:
    echo = ["Hello there, chat. ", "User: what is a teletype?"]
    good = ["A teletype is a printing telegraph. ", "User: more?"]
    inference = ScriptedInference(echo, good)
    core = make_core(inference)
    await core.handle(line("hello there, chat", user="alice"))
    reply = await core.handle(line("!ask what is a teletype?", user="bob", time=1))
    assert await text_of(reply) == "A teletype is a printing telegraph."
    assert len(inference.calls) == 2 and all(c.closed for c in inference.calls)
    assert inference.calls[1].gen.frequency_penalty > inference.calls[0].gen.frequency_penalty


async def test_an_answer_that_only_echoes_becomes_a_notice() -> None:
    inference = ScriptedInference(["hello there, chat\n"], ["hello there, chat."])
    core = make_core(inference)
    await core.handle(line("hello there, chat", user="alice"))
    reply = await core.handle(line("!ask hm?", user="bob", time=1))
    assert await text_of(reply) == "(I had nothing to add this time, bob. Try again?)"


async def test_gpt2_keeps_the_viewers_text_and_cuts_a_new_speaker() -> None:
    inference = ScriptedInference([" is the best machine. alice: no way"])
    core = make_core(inference)
    await core.handle(line("teletypes rule", user="alice"))
    reply = await core.handle(line("!gpt2 the Model 33", user="bob", time=1))
    assert await text_of(reply) == "the Model 33 is the best machine."


async def test_a_summary_drops_recited_instructions_and_unsupported_sentences() -> None:
    said = f"{SYSTEM} Mara read the news at Harwick. A dragon ate the moon. Mara then"
    out = await summarize(ScriptedInference([said]), "At Harwick, Mara read the news aloud.")
    assert out == "Mara read the news at Harwick."


async def test_a_story_passage_never_recites_its_prompt_and_ends_a_sentence() -> None:
    story = Story("A teletype prints tomorrow's news in a lonely station.", "", [])
    passage = (
        "The story so far, in short: a teletype. Mara tore the paper from the machine. "
        "A teletype prints tomorrow's news in a lonely station, she read. She ran"
    )
    inference = ScriptedInference([passage], ["Mara tore the paper."])
    kept = await next_passage(inference, story, StoryKnobs())
    assert kept.text == "Mara tore the paper from the machine."


async def test_a_passage_that_names_its_prompt_without_a_colon_loses_that_sentence() -> None:
    """The prompt's short headings, said anywhere (too short for the 5-word rule): how
    bench/longform.py counts a recited prompt."""
    story = Story("A teletype prints tomorrow's news in a lonely station.", "", [])
    passage = (
        "As the story so far had it, Mara was alone. Mara tore the paper from the machine. "
        "The audience asks for this next one. Write the next paragraph now. She ran outside. "
        "The audience asks for an encore."  # prose: not the heading
    )
    kept = await next_passage(ScriptedInference([passage], ["Mara."]), story, StoryKnobs())
    assert kept.text == (
        "Mara tore the paper from the machine. She ran outside. The audience asks for an encore."
    )
    told = Story("A bard sums up the story so far each night.", "", [])  # the story says it
    said = "The bard sang the story so far to the hall."
    assert (await next_passage(ScriptedInference([said], ["x."]), told, StoryKnobs())).text == said


async def test_podcast_hosts_take_turns_and_their_labels_are_dropped() -> None:
    hosts = (Host("Ada", "joe", "curious"), Host("Bob", "robot", "dry"))
    inference = ScriptedInference(
        ["Ada: The lamp went out. Bob: no it did not"],
        ["The lamp went out."],  # Bob repeats Ada: written again
        ["Odile wound it by hand for four hours."],
    )
    summary = "A keeper fixes a lamp."
    talk = await section_dialogue(inference, "Gull Point", summary, hosts, 2, temperature=0.4)
    assert talk == [
        ("Ada", "The lamp went out."),
        ("Bob", "Odile wound it by hand for four hours."),
    ]
    # podcast.temperature, sampled 0.2 wider for a line written again
    assert [round(c.gen.temperature, 2) for c in inference.calls] == [0.4, 0.4, 0.6]


async def test_a_sentence_end_at_a_piece_boundary_keeps_its_space() -> None:
    # The stream may stop right after "week." with its space still to come (or "3."
    # may become "3.5"): the sentence is complete only once the next piece comes.
    inference = ScriptedInference(["It takes 3.", "5 days a week.", " It ends."])
    reply = await make_core(inference).handle(line("!ask how long?"))
    assert await text_of(reply) == "It takes 3.5 days a week. It ends."


def test_long_form_keeps_only_finished_supported_sentences() -> None:
    guard = Guard(Sources(names=("premise",)))
    source = "In 1963 the Model 33 came out. It printed ten characters a second."
    text = (
        "The Model 33 came out in 1963.\nIt printed fast\nPremise 2: a story. "
        "It printed 112 characters a second. It printed ten characters a second."
    )
    assert clean(text, guard, source=source) == (
        "The Model 33 came out in 1963. It printed ten characters a second."
    )
