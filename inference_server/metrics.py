"""Prometheus metrics, on a registry owned by the app (no module-level state)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class ServerMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "literai_requests",
            "HTTP requests by route and status",
            ["route", "status"],
            registry=r,
        )
        self.prompt_tokens = Counter(
            "literai_prompt_tokens", "Prompt tokens processed", ["model"], registry=r
        )
        self.completion_tokens = Counter(
            "literai_completion_tokens",
            "Completion tokens sent to clients",
            ["model"],
            registry=r,
        )
        self.generated_tokens = Gauge(
            "literai_engine_generated_tokens",
            "Tokens the engine generated in total, cancelled work included",
            ["model"],
            registry=r,
        )
        self.cancelled = Counter(
            "literai_generations_cancelled",
            "Streamed generations stopped before their end (the client left: a closed "
            "stream, a barge-in)",
            ["model"],
            registry=r,
        )
        self.ttft = Histogram(
            "literai_time_to_first_token_seconds",
            "From request to first token",
            ["model"],
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=r,
        )
        self.queue_depth = Gauge(
            "literai_queue_depth", "Requests waiting for the engine", ["model"], registry=r
        )
        self.running = Gauge(
            "literai_requests_running", "Requests being generated", ["model"], registry=r
        )
