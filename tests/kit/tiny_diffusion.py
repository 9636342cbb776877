"""A tiny random-weight Stable Diffusion pipeline, built in code and saved to a folder,
so the server loads it through the same ``from_pretrained(local_files_only=True)`` path
as a real model. Its images are noise; their size, format and determinism are real."""

from __future__ import annotations

import json
from pathlib import Path


def _tokenizer_files(folder: Path) -> tuple[Path, Path]:
    """A byte-level BPE vocabulary small enough to write by hand."""
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    vocab = {"<|startoftext|>": 0, "!": 1, "<|endoftext|>": 2}
    for token in letters + [f"{c}</w>" for c in letters]:
        vocab.setdefault(token, len(vocab))
    vocab_file = folder / "vocab.json"
    merges_file = folder / "merges.txt"
    vocab_file.write_text(json.dumps(vocab))
    merges_file.write_text("#version: 0.2\n")
    return vocab_file, merges_file


def build_tiny_pipeline(folder: Path) -> Path:
    import torch
    from diffusers import (
        AutoencoderKL,
        EulerDiscreteScheduler,
        StableDiffusionPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        block_out_channels=(8, 16), layers_per_block=1, sample_size=8, in_channels=4,
        out_channels=4, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=16,
        norm_num_groups=4, attention_head_dim=2,
    )  # fmt: skip
    vae = AutoencoderKL(
        block_out_channels=(8, 16), in_channels=3, out_channels=3,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"), latent_channels=4,
        norm_num_groups=4, sample_size=32,
    )  # fmt: skip
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            bos_token_id=0, eos_token_id=2, pad_token_id=1, hidden_size=16,
            intermediate_size=32, num_attention_heads=2, num_hidden_layers=2,
            vocab_size=1000, max_position_embeddings=77,
        )
    )  # fmt: skip
    tmp_tok = folder / "tok-src"
    tmp_tok.mkdir(parents=True, exist_ok=True)
    vocab, merges = _tokenizer_files(tmp_tok)
    tokenizer = CLIPTokenizer(str(vocab), str(merges), model_max_length=77)
    scheduler = EulerDiscreteScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        timestep_spacing="trailing",
        steps_offset=1,
    )
    pipe = StableDiffusionPipeline(
        unet=unet, vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, scheduler=scheduler,
        safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    )  # fmt: skip
    out = folder / "tiny-sd"
    pipe.save_pretrained(out)
    return out
