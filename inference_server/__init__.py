"""literai's OpenAI-compatible inference server (aiohttp)."""
