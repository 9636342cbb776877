"""The batch scheduler's policy (inference_server/backends/batch_policy.py), without a
model: which slot a prompt takes, what it keeps of the cache, what one step holds."""

from __future__ import annotations

from inference_server.backends.batch_policy import (
    Lane,
    Plan,
    SlotChoice,
    choose_slot,
    common_prefix,
    plan_step,
)


def test_common_prefix() -> None:
    assert common_prefix([1, 2, 3], [1, 2, 4, 5]) == 2
    assert common_prefix([], [1]) == 0
    assert common_prefix([1, 2], [1, 2]) == 2
    assert common_prefix([9], [1, 9]) == 0


def test_the_free_slot_sharing_the_longest_prefix_wins() -> None:
    cached = [[1, 2, 3, 4], [1, 2, 3, 4, 5, 6], [7, 8], []]
    prompt = [1, 2, 3, 4, 5, 9]
    assert choose_slot([0, 1, 2, 3], cached, prompt) == SlotChoice(1, 5)
    assert choose_slot([0, 2, 3], cached, prompt) == SlotChoice(0, 4)  # slot 1 is busy
    assert choose_slot([2, 3], cached, prompt) == SlotChoice(2, 0)  # none shares: the first


def test_a_longer_prefix_in_another_slot_is_copied_from_it() -> None:
    persona = list(range(100, 140))  # 40 tokens every prompt of the channel shares
    cached = [[*persona[:4]], [*persona, 7, 8], [], [*persona[:30]]]
    prompt = [*persona, 9]
    # Slot 1 is busy (another choice of the request, another channel): its 40 tokens
    # are copied into free slot 0, which held only 4 of them.
    assert choose_slot([0, 2], cached, prompt) == SlotChoice(0, 40, donor=1)
    # Slot 3 holds 30 of its own: 10 more elsewhere is not worth a copy.
    assert choose_slot([3, 2], cached, prompt) == SlotChoice(3, 30)
    assert choose_slot([2], [[], [], []], [1, 2, 3]) == SlotChoice(2, 0)  # nothing shared


def test_on_a_tie_the_first_free_slot_is_taken() -> None:
    cached = [[5], [1, 2], [1, 2]]
    assert choose_slot([2, 1, 0], cached, [1, 2, 3]) == SlotChoice(2, 2)
    assert choose_slot([1, 2], cached, [1, 2, 3]) == SlotChoice(1, 2)


def test_at_least_one_prompt_token_is_fed_again() -> None:
    cached = [[1, 2, 3, 4, 5]]
    # The whole prompt is cached: its last token is fed again for the first logits.
    assert choose_slot([0], cached, [1, 2, 3]) == SlotChoice(0, 2)
    assert choose_slot([0], cached, [1, 2, 3, 4, 5]) == SlotChoice(0, 4)
    assert choose_slot([0], [[1]], [1]) == SlotChoice(0, 0)


def test_decoding_lanes_go_first_one_token_each() -> None:
    lanes = [Lane(10, 0), Lane(4, 4), Lane(3, 3)]  # one prefilling, two decoding
    plan = plan_step(lanes, room=512, chunk=128)
    assert plan.decode == (1, 2)
    assert plan.prefill == ((0, 9),)  # all but the last prompt token
    assert plan.size == 11


def test_prompts_come_in_chunks_up_to_the_chunk_and_the_room() -> None:
    lanes = [Lane(300, 0), Lane(300, 0), Lane(5, 5)]
    assert plan_step(lanes, room=512, chunk=128) == Plan((2,), ((0, 128), (1, 128)))
    # The batch's room is shared out in order; a lane that finds none waits.
    assert plan_step(lanes, room=150, chunk=128) == Plan((2,), ((0, 128), (1, 21)))
    assert plan_step(lanes, room=129, chunk=128) == Plan((2,), ((0, 128),))
    # Later chunks continue from what is fed, and stop short of the last token.
    assert plan_step([Lane(300, 256)], room=512, chunk=128) == Plan((), ((0, 43),))


def test_a_prompts_last_token_is_always_a_step_of_its_own() -> None:
    # 299 of 300 fed: only the last goes, whatever the chunk and room.
    assert plan_step([Lane(300, 299)], room=512, chunk=128) == Plan((), ((0, 1),))
    # A one-token prompt (or one whose prefix was cached) is just its last token.
    assert plan_step([Lane(1, 0)], room=512, chunk=128) == Plan((), ((0, 1),))
    # A prompt of 5 with nothing cached: 4 tokens, then the last in the next step.
    assert plan_step([Lane(5, 0)], room=512, chunk=128) == Plan((), ((0, 4),))
    assert plan_step([Lane(5, 4)], room=512, chunk=128) == Plan((), ((0, 1),))


def test_an_idle_or_full_batch_plans_accordingly() -> None:
    assert plan_step([], room=512, chunk=128) == Plan((), ())
    assert plan_step([], room=512, chunk=128).size == 0
    # Decoding lanes fill the room: no prompt chunk this step.
    lanes = [Lane(2, 2), Lane(2, 2), Lane(50, 0)]
    assert plan_step(lanes, room=2, chunk=128) == Plan((0, 1), ())
