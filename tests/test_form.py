"""The shape a viewer asks for: read from the question, said in the prompt, and kept on
the answer where that needs no guessing."""

from __future__ import annotations

import re

import pytest

from inference_server.structured import grammar
from literai_core.form import NONE, Form, count_items, parse, prose_list
from literai_core.inference import InferenceError

from .kit.chat import ASK_GEN, consume, line, make_core
from .kit.scripted import ScriptedInference


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("describe the night sky in one sentence", Form(sentences=1)),
        ("explain it in two sentences", Form(sentences=2)),
        ("name three fruits", Form(items=3)),
        ("list 4 things you need to bake bread", Form(items=4)),
        ("in one word, what colour is grass?", Form(1, None, 1, one_word=True)),
        ("answer with one word only: your favourite season?", Form(1, None, 1, one_word=True)),
        ("yes or no: is the sun a star?", Form(yes_no=True)),
        ("explain a speedrun in under 120 characters", Form(max_chars=120)),
        ("in five words or fewer, hype up the runner", Form(max_words=5)),
        ("say hi in 10 words or less", Form(max_words=10)),
        ("say hi in one sentence under 100 characters", Form(sentences=1, max_chars=100)),
        ("tell me about teletypes and use the word paper", Form(needs=("paper",))),
        ('a welcome that includes the word "cozy"', Form(needs=("cozy",))),
    ],
)
def test_the_form_is_read_from_the_question(question: str, expected: Form) -> None:
    form = parse(question)
    assert form == Form(**{**expected.__dict__, "question": question})
    assert form.hint()


@pytest.mark.parametrize(
    "question",
    ["what is a teletype?", "in 1963 the world", "how many words are in a sentence?",
     "name a fruit"],
)  # fmt: skip
def test_questions_that_ask_for_no_form(question: str) -> None:
    assert parse(question) is NONE and NONE.hint() == ""


def test_one_word_is_picked_from_the_answer_never_made_up() -> None:
    grass = parse("in one word, what colour is grass?")
    assert grass.word("The grass is green.") == "Green."
    assert grass.word("green") == "Green."
    assert parse("one word only: which animal barks?").word("A dog barks loudly.") == "Dog."
    assert grass.word("It is what it is.") is None  # nothing but common words
    # After "is": the answer, not the first uncommon word of the lead-in.
    barks = parse("one word only: which animal barks?")
    assert barks.word("That's a good question, the animal that barks is a dog.") == "Dog."
    assert barks.word("Aw, no.") is None and barks.word("Haha, a dog!") == "Dog."  # interjections


@pytest.mark.parametrize(
    ("answer", "count"),
    [
        ("Apples, bananas and oranges.", 3),
        ("Three fruits: apple, pear, plum. They are sweet, and cheap.", 3),
        ("- flour\n- water\n- salt\n- yeast", 4),
        ("A guitar or a piano.", 2),
        ("Fruit is good.", 1),
    ],
)
def test_listed_things_are_counted(answer: str, count: int) -> None:
    assert count_items(answer) == count


def test_what_cannot_be_cut_into_shape_is_checked_on_the_whole_answer() -> None:
    assert parse("yes or no: is the sun a star?").check("Yes, it is.")
    assert not parse("yes or no: is the sun a star?").check("The sun is a star.")
    assert parse("name three fruits").check("Apples, pears and plums.")
    assert not parse("name three fruits").check("Apples and pears.")
    assert parse("use the word paper").check("Teletypes print on Paper.")
    assert not parse("use the word paper").check("Teletypes print.")
    assert not parse("what is a teletype?").checked


def test_a_sentence_too_long_for_the_limit_is_shortened_at_a_clause_or_word() -> None:
    form = parse("explain what a speedrun is in under 60 characters")
    said, last = form.take(
        "A speedrun is a playthrough of a game, done as fast as possible with glitches.", []
    )
    assert said == "A speedrun is a playthrough of a game…" and last
    assert parse("in five words or fewer, hype it").take("You are doing great, keep going!", [])[
        0
    ] == ("You are doing great…")
    # After a whole sentence, one that does not fit is left out, not shortened.
    later = "And it is fun to watch with friends."
    assert form.take(later, ["A speedrun is a race through a game. "]) == (None, True)


async def test_ask_says_the_form_in_the_prompt_and_keeps_it() -> None:
    inference = ScriptedInference(
        ["The sky is dark and full of stars. ", "The moon is ", "bright tonight."],
        ["The grass is green."],
        ["A speedrun is a playthrough of a game, done as fast as possible."],
    )
    core = make_core(inference, user_cooldown_s=0, channel_cooldown_s=0)
    _, sky = await consume(await core.handle(line("!ask describe the night sky in one sentence")))
    assert sky == "The sky is dark and full of stars."
    assert inference.calls[0].closed  # one sentence was enough: the model was stopped
    ask = (inference.calls[0].messages or [])[-1]["content"]
    assert ask.endswith("in one sentence\n\nAnswer in exactly one sentence.")
    _, grass = await consume(await core.handle(line("!ask in one word, what colour is grass?")))
    assert grass == "Green."
    _, run = await consume(await core.handle(line("!ask what is a speedrun, under 40 characters")))
    assert run == "A speedrun is a playthrough of a game…"


async def test_an_answer_that_recites_the_hint_is_cut() -> None:
    inference = ScriptedInference(
        ["Answer in exactly one sentence. The sky is dark."], ["The sky is dark."]
    )
    core = make_core(inference)
    _, sky = await consume(await core.handle(line("!ask describe the sky in one sentence")))
    assert sky == "The sky is dark."
    assert len(inference.calls) == 2


async def test_an_answer_that_misses_a_checked_form_is_written_again_before_it_shows() -> None:
    inference = ScriptedInference(
        ["The sun is a star. ", "It is hot."], ["Yes, the sun is a star."],
        ["Apples and pears."], ["Bananas."],
    )  # fmt: skip
    core = make_core(inference, user_cooldown_s=0, channel_cooldown_s=0)
    _, sun = await consume(await core.handle(line("!ask yes or no: is the sun a star?")))
    assert sun == "Yes, the sun is a star." and len(inference.calls) == 2
    # No try passes (one retry in these tests): the first answer is shown as it was said.
    _, fruit = await consume(await core.handle(line("!ask name three fruits")))
    assert fruit == "Apples and pears." and len(inference.calls) == 4


def test_a_list_becomes_one_line_of_chat() -> None:
    assert prose_list("Three fruits:\n- banana\n- apple.\n- orange\n") == (
        "Three fruits: banana, apple, orange."
    )
    assert prose_list("1. flour\n2. water!") == "flour, water!"
    assert prose_list("- only one item") == "- only one item"  # not a list
    assert prose_list("A sentence.\nAnother one.") == "A sentence.\nAnother one."


async def test_the_last_item_of_a_list_is_kept_without_an_end_mark() -> None:
    inference = ScriptedInference(["Sure:\n- flour\n- water", "\n- salt"])
    core = make_core(inference, user_cooldown_s=0)
    _, bread = await consume(await core.handle(line("!ask list three things for bread")))
    assert bread == "Sure: flour, water, salt." and len(inference.calls) == 1


async def test_the_bot_caps_an_answer_at_max_sentences_unless_the_asker_asked_for_more() -> None:
    said = ["It is green. ", "Grass is a plant. ", "Plants are green. ", "Cows eat it."]
    again = ["Grass grows. ", "It is soft. ", "Cows like it. ", "It is cut in May."]
    inference = ScriptedInference(said, again)
    ask = ASK_GEN.model_copy(update={"max_sentences": 2})
    core = make_core(inference, user_cooldown_s=0, ask=ask)
    _, grass = await consume(await core.handle(line("!ask what colour is grass?")))
    assert grass == "It is green. Grass is a plant."
    assert inference.calls[0].closed  # stopped at the cap
    ask_text = (inference.calls[0].messages or [])[-1]["content"]
    assert "sentences" not in ask_text  # the cap is the bot's own, not a hint to the model
    _, three = await consume(await core.handle(line("!ask describe grass in three sentences")))
    assert three == "Grass grows. It is soft. Cows like it."  # not the bot's own earlier lines
    assert Form(items=3).capped(2) == Form(items=3) and NONE.capped(0) is NONE
    asked = "say hi under 50 characters"
    assert parse(asked).capped(1) == Form(sentences=1, max_chars=50, question=asked)


async def test_a_busy_channel_gets_one_sentence_answers_so_the_queue_moves() -> None:
    said = ["It is green. ", "Grass is a plant. ", "Plants are green."]
    inference = ScriptedInference(said, said, ["Grass grows. ", "It is soft. ", "Cows eat it."])
    ask = ASK_GEN.model_copy(update={"busy_after": 2})
    core = make_core(inference, user_cooldown_s=0, channel_queue=5, ask=ask)
    _, calm = await consume(await core.handle(line("!ask what colour is grass?")))
    assert calm == "It is green. Grass is a plant. Plants are green."
    for _ in range(2):  # two more model commands pending in the channel: three in all
        assert core.queues.try_enter(line("x").key)
    _, busy = await consume(await core.handle(line("!ask what colour is grass?", time=1)))
    assert busy == "It is green." and inference.calls[1].closed  # stopped at one
    three = await core.handle(line("!ask describe grass in three sentences", time=2))
    assert (await consume(three))[1] == "Grass grows. It is soft. Cows eat it."  # as asked


async def test_an_answer_begun_before_a_rush_stops_at_its_next_sentence_end() -> None:
    said = ["It is green. ", "Grass is a plant. ", "Plants are green."]
    inference = ScriptedInference(said)
    ask = ASK_GEN.model_copy(update={"busy_after": 2})
    core = make_core(inference, user_cooldown_s=0, channel_queue=5, ask=ask)
    reply = await core.handle(line("!ask what colour is grass?"))
    assert reply is not None
    deltas = reply.deltas()
    assert await anext(deltas) == "It is green. "  # calm so far: it would go on
    for _ in range(2):  # then two more viewers ask: three pending in all
        assert core.queues.try_enter(line("x").key)
    assert [piece async for piece in deltas] == []
    assert await reply.text() == "It is green." and inference.calls[0].closed


async def test_a_list_or_one_word_is_held_to_its_shape_by_a_schema() -> None:
    inference = ScriptedInference(['["apple", "pear" ,', ' "kiwi"]'], ['"green"'], ["Dark."])
    core = make_core(inference, user_cooldown_s=0, channel_cooldown_s=0)
    _, fruit = await consume(await core.handle(line("!ask name three fruits")))
    assert fruit == "Apple, pear, kiwi."
    item = {"type": "string", "pattern": "^[A-Za-z][A-Za-z0-9' -]{0,31}$"}
    schema = {"type": "array", "items": item, "minItems": 3, "maxItems": 3}
    assert inference.calls[0].gen.schema == schema
    _, grass = await consume(await core.handle(line("!ask in one word, what colour is grass?")))
    assert grass == "Green."
    assert inference.calls[1].gen.schema == {"type": "string", "pattern": "^[A-Za-z]{2,24}$"}
    await consume(await core.handle(line("!ask describe the sky in one sentence")))
    assert inference.calls[2].gen.schema is None  # a sentence is cut to shape afterwards


async def test_a_word_to_use_is_held_by_a_schema_to_one_sentence_that_uses_it() -> None:
    inference = ScriptedInference(['"Teletypes print every line on paper."'])
    core = make_core(inference, user_cooldown_s=0, channel_cooldown_s=0)
    _, said = await consume(
        await core.handle(line("!ask tell me about teletypes, use the word paper"))
    )
    assert said == "Teletypes print every line on paper."
    schema = inference.calls[0].gen.schema or {}
    grammar(schema)  # the server's converter takes it


@pytest.mark.parametrize(
    ("asked", "admitted", "refused"),
    [
        ("tell me about teletypes, use the word paper",
         ["Teletypes print every line on paper.", "Paper, mostly!", "PAPER."],
         ["Legit-papered details.", "The paper's edge.", "No paper. Two sentences.",
          "Teletypes print.", "Teletypes use 2paper.", "And,paper."]),
        ("say hi and use the word don't", ["I don't know."], ["Don go.", "I do not."]),
        ("a welcome that includes the word cozy and uses the word tea",
         ["A cozy tea.", "Cozy vibes, tea!"], ["Tea is cozy."]),  # in the order asked
        ("yes or no: is the sun a star?", ["Yes.", "No, it is not."], ["Maybe.", "Yes it is."]),
        ("yes or no, and use the word moon: is it up?", ["Yes, the moon is up."],
         ["Yes.", "The moon is up."]),
        ("yes or no in one word: is it up?", ["No"], ["Maybe", "No."]),
        ("a pep talk in under 20 words that uses the word reset", ["He hit reset, go!"],
         ["Reset " + "and go " * 12 + "."]),  # about 20 words at most
    ],
)  # fmt: skip
def test_held_sentences_take_what_the_check_takes(
    asked: str, admitted: list[str], refused: list[str]
) -> None:
    """The schema's pattern and Form.check agree: what one takes the other takes."""
    form = parse(asked)
    schema = form.schema() or {}
    grammar(schema)
    for text in admitted:
        assert re.match(schema["pattern"], text) and form.check(text), text
    for text in refused:
        assert not re.match(schema["pattern"], text), text
    assert (form.sentence or form.one_word) and parse("list three fruits").schema() is not None


async def test_a_repeated_echoed_or_cut_short_list_is_written_again() -> None:
    inference = ScriptedInference(
        ['["Fantasy", "fantasy", "Chess"]'],  # one thing twice
        ['["sourdough day", "flour", "salt"]'],  # a chat line, passed off as an item
        ['["flour", "wat'],  # cut short by max_tokens
        ['["flour", "water", "salt"]'],
    )
    ask = ASK_GEN.model_copy(update={"retries": 3})
    core = make_core(inference, user_cooldown_s=0, ask=ask)
    await core.handle(line("sourdough day", user="bob"))
    asked = line("!ask list three things to bake bread", time=1)
    _, bread = await consume(await core.handle(asked))
    assert bread == "Flour, water, salt." and len(inference.calls) == 4


async def test_a_server_without_structured_outputs_is_asked_for_free_text() -> None:
    refused = InferenceError("that request was too big for the model", param="response_format")
    inference = ScriptedInference(refused, ["Apples, pears and kiwis."], ["Apples and pears."])
    core = make_core(inference, user_cooldown_s=0, channel_cooldown_s=0)
    _, fruit = await consume(await core.handle(line("!ask name three fruits")))
    assert fruit == "Apples, pears and kiwis."
    first, second = inference.calls
    assert first.gen.schema is not None and second.gen.schema is None
    unshaped = make_core(inference, ask=ASK_GEN.model_copy(update={"shaped": False}))
    await consume(await unshaped.handle(line("!ask name two fruits")))
    assert inference.calls[2].gen.schema is None


async def test_a_shaped_thing_may_hold_and_and_a_long_list_is_not_shaped() -> None:
    inference = ScriptedInference(['["bacon and eggs", "French toast"]'], ["Cats, dogs."])
    core = make_core(inference, user_cooldown_s=0, channel_cooldown_s=0)
    _, breakfast = await consume(await core.handle(line("!ask name two breakfasts")))
    assert breakfast == "Bacon and eggs, French toast." and len(inference.calls) == 1
    await consume(await core.handle(line("!ask list 50 animals")))
    assert inference.calls[1].gen.schema is None  # 50 would not fit the tokens whole
