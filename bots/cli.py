"""The ``literai`` command."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from inference_server.settings import ConfigError

from . import redact, train_cmd
from .config import Environment, LiteraiConfig, environment, load_config
from .explain import explain_text


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0-65535, got {value}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="literai", description="An open, local AI companion for live chat."
    )
    sub = parser.add_subparsers(dest="cmd", required=True, metavar="COMMAND")
    serve = sub.add_parser("serve", help="run the OpenAI-compatible inference server alone")
    serve.add_argument("--host", help="address to bind (default from config: 127.0.0.1)")
    serve.add_argument("--port", type=_port, help="port to bind; 0 picks a free one")
    serve.add_argument("--config", help="deployment YAML (default: built-in defaults)")
    run = sub.add_parser("run", help="run the inference server plus the configured bots")
    run.add_argument("--config", help="deployment YAML (default: built-in defaults)")
    run.add_argument("--teletype", action="store_true", help="console: print like a Teletype")
    run.add_argument("--cps", type=float, help="console: teletype characters per second")
    run.add_argument("--user", help="console: the name your lines are posted as")
    summ = sub.add_parser("summarize", help="summarize a text, Markdown or EPUB file")
    summ.add_argument("file", help="the document (.txt, .md or .epub)")
    summ.add_argument("--config", help="deployment YAML (default: built-in defaults)")
    summ.add_argument("--quiet", action="store_true", help="no progress bar")
    pod = sub.add_parser("podcast", help="make a two-host podcast episode from a document")
    pod.add_argument("file", help="the document (.txt, .md or .epub)")
    pod.add_argument("--config", help="deployment YAML (default: built-in defaults)")
    pod.add_argument("--quiet", action="store_true", help="no progress bar")
    pod.add_argument(
        "--resume", action="store_true", help="continue a stopped run of the same file"
    )
    story = sub.add_parser("story", help="write a story from a premise, round by round")
    story.add_argument("premise", help="what the story is about")
    story.add_argument("--rounds", type=_rounds, default=5, help="passages to write (1-200)")
    story.add_argument("--config", help="deployment YAML (default: built-in defaults)")
    story.add_argument("--quiet", action="store_true", help="no progress bar")
    model = sub.add_parser("model", help="make model files from a packaged model, once")
    what = model.add_subparsers(dest="model_cmd", required=True, metavar="ACTION")
    conv = what.add_parser(
        "convert", help="write the copy the server prefers (data/models; models.*.quant)"
    )
    conv.add_argument(
        "--type", default="q8_0", choices=["q8_0", "q4_0", "f16"], dest="ftype",
        help="q8_0 (default: better answers), q4_0 (repacked: faster in many channels)",
    )  # fmt: skip
    conv.add_argument(
        "--via", default="direct", choices=["direct", "f16", "f32"],
        help="requantize in one pass (default; measured best) or through an F16/F32 copy",
    )  # fmt: skip
    conv.add_argument("--alias", default="smollm2", help="a packaged model alias")
    conv.add_argument("--config", help="deployment YAML (default: built-in defaults)")
    conv.add_argument("--force", action="store_true", help="write it again if it exists")
    hf = what.add_parser("export-hf", help="write a Hugging Face folder for vLLM (data/models)")
    hf.add_argument("--alias", default="smollm2", help="a packaged model alias")
    hf.add_argument("--config", help="deployment YAML (default: built-in defaults)")
    train_cmd.add_parser(sub)
    cfg = sub.add_parser("config", help="check a deployment file, or list every key")
    cfg.add_argument("--config", help="deployment YAML to check (default: built-in defaults)")
    cfg.add_argument(
        "--explain", action="store_true", help="every key: default, bounds and meaning"
    )
    return parser


def _rounds(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 1 <= value <= 200:
        raise argparse.ArgumentTypeError(f"rounds must be 1-200, got {value}")
    return value


def _overrides(args: argparse.Namespace) -> dict[str, dict[str, object]]:
    """Command-line options as config overrides, by section."""
    server = {k: v for k in ("host", "port") if (v := getattr(args, k, None)) is not None}
    console: dict[str, object] = {}
    if getattr(args, "teletype", False):
        console["teletype"] = True
    for key in ("cps", "user"):
        if (value := getattr(args, key, None)) is not None:
            console[key] = value
    return {"server": server, "console": console}


def _load(args: argparse.Namespace) -> LiteraiConfig:
    return load_config(args.config, _overrides(args))


def _dispatch(args: argparse.Namespace, config: LiteraiConfig, env: Environment) -> int:
    """Run the chosen command; ConfigError and OSError are the caller's to report."""
    if args.cmd == "config":
        print(explain_text() if args.explain else f"literai: {args.config or 'defaults'}: ok")
        return 0
    if args.cmd == "model":
        from .model_cmd import make_model

        return make_model(config, args)
    if args.cmd == "train":
        return train_cmd.train(config, args)
    if args.cmd == "serve":
        from .api import serve

        return asyncio.run(serve(config, env))
    if args.cmd == "run":
        from .launch import run

        return asyncio.run(run(config, env, lambda: _load(args)))
    from . import jobs

    progress = not args.quiet
    if args.cmd == "podcast":
        job = jobs.make_podcast(config, env, args.file, progress=progress, resume=args.resume)
    elif args.cmd == "story":
        job = jobs.write_story(config, env, args.premise, args.rounds, progress=progress)
    else:
        job = jobs.summarize_file(config, env, args.file, progress=progress)
    return asyncio.run(job)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        config = _load(args)
        env = Environment()
        if args.cmd not in ("config", "model", "train"):
            # Only `run` starts the adapters; the jobs start a server unless given one.
            serving = args.cmd == "serve" or config.client.base_url is None
            env = environment(config, bots=args.cmd == "run", serving=serving)
        # Before any logging: every record from any library is masked from here on.
        redact.install(env.secrets())
        logging.basicConfig(
            level=config.log_level.upper(),
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            stream=sys.stderr,
        )
        return _dispatch(args, config, env)
    except ConfigError as exc:
        print(f"literai: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # a second Ctrl-C while shutting down
        return 130
    except OSError as exc:  # e.g. the port is taken
        print(f"literai: {exc.strerror or exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
