"""Kept for tests/test_images.py, which imports it from here; the pipeline builder
lives in the kit (tests/kit/tiny_diffusion.py)."""

from __future__ import annotations

from .kit.tiny_diffusion import build_tiny_pipeline

__all__ = ["build_tiny_pipeline"]
