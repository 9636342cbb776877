"""The long-form paths on texts written for the project (bench/data/longform), scored from
the text alone with bench/scores.py, through literai's server on the embedded model.

    .venv/bin/python -m bench.longform [--quick] [--rounds 4] [--premises 6] [--seed 7]
        [--variants defaults,story-t0.5,...] [--out F]

Paths: ``literai summarize`` (literai_core.summarize) on short_story.txt and article.txt;
``!summary 60`` through the chat core after speedrun_chat.txt (its ``literai`` lines are the
bot's own earlier recaps); story mode (literai_core.story.next_passage), --rounds rounds per
premise of premises.json; a podcast script (literai_core.podcast.script) of short_story.txt.

Variants (``--variants``, default all) change one setting each and run every path again
with the same seeds: ``defaults`` is what ships. The last line gives the defaults' figures
and, under "variants", each variant's.

Figures (the last line is JSON):
  summary_faithfulness  lowest share of a summary's content words found in its source
  summary_coverage      mean share of the text's key facts (facts.json) a summary names
  instruction_echo      summaries, passages and podcast lines that echo their prompt: any 5
                        words in a row of a system prompt or instruction (runs also in the
                        title or source text do not count), a prompt label ("Premise:",
                        "The story so far"), or for a passage any 8 words in a row of the
                        premise or story summary it was given
  unfinished            summaries and passages that do not end on a complete sentence
  max_self_repeat4      highest share of a passage's own 4-grams it repeats (target <= 0.2)
  repeat_passages       passages whose own 4-grams repeat more than 20%
  max_repeat4_against   highest share of a passage's 4-grams already in earlier passages
  own_echo              share of the !summary's 4-grams taken from the bot's own recaps
  podcast_both_speak    both hosts have a line with words besides the fixed intro, recaps
                        and outro
  podcast_bad_lines     podcast lines that echo, repeat (>20% own 4-grams) or are unfinished
  summaries, passages, podcast_lines, declined, errors: how many of each; declined: summaries
                        and passages the product gave up on (its guard left nothing: a
                        SummaryError, an error reply, a ValueError for a round), in no
                        other figure; errors: jobs that failed otherwise
--out writes every scored item (its text, what it was given, its scores) as JSON lines.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openai
from tqdm import tqdm

from bench.longform_report import figures, table, variants_table
from bench.report import report
from bench.scores import (
    coverage,
    faithfulness,
    instruction_echo,
    ngrams,
    repeat4_against,
    self_repeat4,
    speaker_lines,
    unfinished,
    words,
)
from literai_core import dialogue, podcast, story, summarize
from literai_core.chat import ChatLine, ReplyKind
from literai_core.commands import default_components
from literai_core.core import ChatCore
from literai_core.inference import Inference, OpenAIInference
from literai_core.settings import BotSettings
from tests.kit.server import start_server, stop_server, write_config

DATA = Path(__file__).resolve().parent / "data" / "longform"
STORY_LABELS = re.compile(r"(?:^|[.!?(\[\n]\s*)(?:the )?(?:premise|last paragraph|new paragraph|"
    r"summary so far)[\s\d]*:|the story so far|write the next paragraph|"
    r"the audience asks for this next|do not reuse earlier", re.IGNORECASE)  # fmt: skip
Item = dict[str, Any]
# Each changes one setting of one long-form path (the others run as shipped).
VARIANTS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "story-t0.5": {"story": {"temperature": 0.5}},
    "story-t1.0": {"story": {"temperature": 1.0}},
    "summary-t0": {"summary": {"temperature": 0.0}},
    "summary-t0.5": {"summary": {"temperature": 0.5}},
    "grounding-0.65": {"summary": {"grounding": 0.65}},
    "grounding-0.5": {"summary": {"grounding": 0.5}},  # the documents' default before
    "podcast-t0.4": {"podcast": {"temperature": 0.4}},
    "podcast-t1.0": {"podcast": {"temperature": 1.0}},
    # !summary of a chat: the model's summary instead of the quoted highlights.
    "chat-model": {"summary": {"chat_style": "model"}},
}


def settings_for(overrides: dict[str, Any]) -> BotSettings:
    data = BotSettings().model_dump()
    for key, value in overrides.items():
        data[key] = {**data[key], **value}
    return BotSettings(**data)


@dataclass
class Run:
    inference: Inference
    settings: BotSettings
    bar: tqdm
    gate: asyncio.Semaphore
    items: list[Item] = field(default_factory=list)

    def add(self, item: Item) -> None:
        self.items.append(item)
        self.bar.update()


def constants(module: object, about: str) -> list[str]:
    """The module's upper-case string constants (its prompt texts, whatever they are
    called: SYSTEM, FINAL, PART, ...), templates filled with and without ``about``."""
    found = [v for k, v in vars(module).items() if k.isupper() and isinstance(v, str)]
    whats = ("", f" ({about})", f" of {about}")  # "{what}", as literai_core.summarize fills it
    return [t.format(what=w) if "{what}" in t else t for t in found for w in whats]


def echoes(text: str, given: list[str], n: int = 8, allowed: str = "") -> bool:
    """Any ``n`` words in a row of one of ``given`` appear in ``text`` (``words`` tokens),
    except runs that also occur in ``allowed`` (the title, the source: words the output
    may use). With n = 5 and nothing allowed this is ``scores.instruction_echo``."""
    grams = set(ngrams(words(text), n)) - set(ngrams(words(allowed), n))
    return any(grams.intersection(ngrams(words(g), n)) for g in given if g)


def score_summary(summary: str, source: str, facts: list[list[str]], about: str) -> Item:
    return {
        "faithfulness": round(faithfulness(summary, source), 3),
        "coverage": round(coverage(summary, facts), 3),
        "echo": echoes(summary, constants(summarize, about), 5, f"{about}\n{source}"),
        "unfinished": unfinished(summary),
        "self_repeat4": round(self_repeat4(summary), 3),
    }


async def file_summary(run: Run, name: str, fact: dict[str, Any]) -> None:
    """``literai summarize`` on one file."""
    text = (DATA / name).read_text()
    budget = summarize.SummaryBudget.from_settings(run.settings.summary)
    item = {"kind": "summary", "path": "summarize", "item": name}
    try:
        async with run.gate:
            out = await summarize.summarize(run.inference, text, budget, about=fact["title"])
    except summarize.SummaryError as exc:  # the product declined: no summary to score
        run.add({**item, "failed": str(exc)})
        return
    run.add({**item, "text": out, **score_summary(out, text, fact["facts"], fact["title"])})


async def chat_summary(run: Run, name: str, fact: dict[str, Any]) -> None:
    """``!summary 60`` after the whole chat, the bot's own recaps among its lines."""
    settings = run.settings
    said = [ln.partition(": ") for ln in (DATA / name).read_text().splitlines() if ln.strip()]
    core = ChatCore(settings, run.inference, default_components())
    t = 1000.0
    try:
        for i, (user, _, text) in enumerate(said):
            t = 1000.0 + 5 * i
            mine = user == settings.name  # the bot's earlier recaps: its own lines
            await core.handle(ChatLine("twitch", "#bench", user, text, t, own=mine))
        async with run.gate:
            reply = await core.handle(ChatLine("twitch", "#bench", "viewer", "!summary 60", t + 1))
            body = await reply.text() if reply is not None else ""
    finally:
        await core.aclose()
    item = {"kind": "summary", "path": "!summary", "item": name, "reply": body}
    if reply is None or reply.kind is not ReplyKind.ANSWER:  # declined: nothing to score
        run.add({**item, "failed": body})
        return
    out = body.removeprefix("Last 60 minutes: ")
    source = "\n".join(f"{u}: {x}" for u, _, x in said if u != settings.name)
    own = "\n".join(x for u, _, x in said if u == settings.name)
    scores = score_summary(out, source, fact["facts"], "a live chat")
    run.add({**item, "text": out, **scores, "own_echo": round(repeat4_against(out, own), 3)})


def prompt_echo(passage: str, given: list[str]) -> list[str]:
    """Why a passage echoes its prompt: "instruction" (5 words in a row of the system prompt
    or a nudge), "label" (a prompt label), "given" (8 words in a row of premise/summary)."""
    fixed = [*constants(story, ""), *getattr(story, "NUDGES", ())]
    why = ["instruction"] if instruction_echo(passage, fixed) else []
    why += ["label"] if STORY_LABELS.search(passage) else []
    return why + (["given"] if echoes(passage, given) else [])


async def story_rounds(run: Run, n: int, premise: str, rounds: int, seed: int) -> None:
    """``rounds`` passages of one story; each scored against what came before."""
    tale = story.Story(premise=premise)
    knobs = story.StoryKnobs.from_settings(run.settings.story, seed=seed)
    written: list[str] = []
    async with run.gate:
        for r in range(rounds):
            given = [tale.premise, tale.summary]
            try:
                passage = await story.next_passage(run.inference, tale, knobs)
            except ValueError as exc:  # nothing survived the guard: the round fails
                run.add({"kind": "passage", "path": "story", "item": f"premise {n + 1}",
                         "round": r + 1, "failed": str(exc)})  # fmt: skip
                continue
            text = passage.text
            run.add({
                "kind": "passage", "path": "story", "item": f"premise {n + 1}", "round": r + 1,
                "text": text, "given_summary": given[1], "tries": passage.tries,
                "echo": bool(prompt_echo(text, given)), "why": prompt_echo(text, given),
                "self_repeat4": round(self_repeat4(text), 3),
                "repeat4_against": round(repeat4_against(text, "\n\n".join(written)), 3),
                "unfinished": unfinished(text),
            })  # fmt: skip
            written.append(text)


def fixed_line(i: int, line: podcast.Line, total: int) -> bool:
    """The product's own fixed lines: intro, recaps, outro (not the model's dialogue)."""
    intro = line.section == 0 and line.text.startswith(("Welcome!", "Let's get into it"))
    return intro or i >= total - 2 or line.text.startswith("To recap so far:")


def podcast_prompts(plan: podcast.PodcastPlan, title: str) -> list[str]:
    """Each host's system prompt (literai_core.dialogue writes one line per call) and the
    modules' own prompt constants."""
    a, b = plan.hosts
    told = [*constants(podcast, title), *constants(dialogue, title)]
    system = getattr(dialogue, "_system", None)
    return told + ([system(a, b, title), system(b, a, title)] if system is not None else [])


async def podcast_script(run: Run, name: str, fact: dict[str, Any]) -> None:
    """A podcast script of one file; every line scored, the fixed ones marked."""
    settings = run.settings
    plan = podcast.PodcastPlan.from_settings(settings.podcast)
    budget = summarize.SummaryBudget.from_settings(settings.summary)
    text, title = (DATA / name).read_text(), fact["title"]
    async with run.gate:
        lines, _ = await podcast.script(run.inference, title, text, plan, budget)
    a, b = plan.hosts
    prompts = [*podcast_prompts(plan, title), *constants(summarize, title)]
    allowed = f"{title}\n{text}"
    hosts = (a.name, b.name)
    check = speaker_lines([(ln.speaker, ln.text) for ln in lines], hosts)
    for i, ln in enumerate(lines):
        run.items.append({
            "kind": "podcast_line", "path": "podcast", "item": name, "speaker": ln.speaker,
            "section": ln.section, "text": ln.text, "fixed": fixed_line(i, ln, len(lines)),
            "echo": echoes(ln.text, prompts, 5, allowed), "unfinished": unfinished(ln.text),
            "self_repeat4": round(self_repeat4(ln.text), 3),
        })  # fmt: skip
    said = [ln.speaker for i, ln in enumerate(lines)
            if words(ln.text) and not fixed_line(i, ln, len(lines))]  # fmt: skip
    content = {h: said.count(h) for h in hosts}
    run.add({"kind": "podcast", "path": "podcast", "item": name, **check, "content": content})


async def measure(
    base_url: str, args: argparse.Namespace, premises: list[str], variant: str
) -> Run:
    facts = json.loads((DATA / "facts.json").read_text())
    settings = settings_for(VARIANTS[variant])
    async with openai.AsyncOpenAI(base_url=base_url, api_key="none", max_retries=0) as api:
        total = 4 + len(premises) * args.rounds
        with tqdm(total=total, desc=variant, unit="item", file=sys.stderr) as bar:
            run = Run(OpenAIInference(api, "smollm2"), settings, bar, asyncio.Semaphore(4))
            jobs = [
                *(story_rounds(run, n, p, args.rounds, args.seed) for n, p in enumerate(premises)),
                file_summary(run, "short_story.txt", facts["short_story.txt"]),
                file_summary(run, "article.txt", facts["article.txt"]),
                chat_summary(run, "speedrun_chat.txt", facts["speedrun_chat.txt"]),
                podcast_script(run, "short_story.txt", facts["short_story.txt"]),
            ]
            done = await asyncio.gather(*jobs, return_exceptions=True)
    errors = [d for d in done if isinstance(d, BaseException)]
    for exc in errors:
        print(f"longform: a job failed: {type(exc).__name__}: {exc}", file=sys.stderr)
    run.items.append({"kind": "errors", "count": len(errors)})
    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--premises", type=int, default=None, help="default: all of them")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="2 premises, 2 rounds")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated")
    parser.add_argument("--out", type=Path, help="write every scored item here (JSONL)")
    args = parser.parse_args()
    names = [n.strip() for n in args.variants.split(",") if n.strip()]
    unknown = [n for n in names if n not in VARIANTS]
    if unknown or not names:
        parser.error(f"--variants: unknown {unknown}; known: {', '.join(VARIANTS)}")
    all_premises = json.loads((DATA / "premises.json").read_text())
    if args.quick:
        args.rounds, args.premises = 2, 2
    if not 1 <= args.rounds <= 100:
        parser.error("--rounds 1-100")
    premises = all_premises[: args.premises or len(all_premises)]
    with tempfile.TemporaryDirectory() as tmp:
        server = {"port": 0, "api_key_env": "LITERAI_BENCH_NO_KEY",
                  "models": {"smollm2": {"slots": 4}}}  # fmt: skip
        started = start_server(write_config(Path(tmp), server=server), capture_stderr=False)
        runs: dict[str, Run] = {}
        try:
            for name in names:
                start = time.perf_counter()
                runs[name] = asyncio.run(measure(started.v1, args, premises, name))
                runs[name].items.append({"kind": "seconds", "s": time.perf_counter() - start})
        finally:
            stop_server(started)
    if args.out is not None:
        rows = [{**it, "variant": name} for name, run in runs.items() for it in run.items]
        args.out.write_text("".join(json.dumps(row) + "\n" for row in rows))
    for name, run in runs.items():
        print(f"\n{name}")
        table(run.items)
    figs = {name: figures(run.items) for name, run in runs.items()}
    variants_table(figs)
    first = figs[names[0]]
    header = f"longform: {len(premises)} premises x {args.rounds} rounds, seed {args.seed}"
    report(header, first, first.keys(), rounds=args.rounds, premises=len(premises),
           seed=args.seed, variant=names[0], variants=figs)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
