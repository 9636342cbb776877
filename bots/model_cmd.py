"""``literai model convert`` / ``literai model export-hf``: files made from a packaged
model into data_dir/models, once; the path on stdout."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from inference_server.model_files import (
    PACKAGED_MODELS,
    converted_model_path,
    hf_folder,
    resolve_model_path,
)
from inference_server.settings import ModelSettings

from .config import LiteraiConfig


def make_model(config: LiteraiConfig, args: argparse.Namespace) -> int:
    from inference_server.models import ConvertError, convert_gguf, export_hf

    alias = args.alias
    if alias not in PACKAGED_MODELS:
        known = ", ".join(PACKAGED_MODELS)
        print(f"literai: {alias!r} is not a packaged model ({known})", file=sys.stderr)
        return 2
    source = resolve_model_path(alias, ModelSettings())  # the packaged file itself
    data = Path(config.data_dir)
    try:
        if args.model_cmd == "convert":
            dst = converted_model_path(alias, data, args.ftype)
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
