"""Prometheus metrics, on a registry per runtime (no global state at import)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.deliveries = Counter(
            "helpdesk_retain_deliveries",
            "Webhook deliveries by source and outcome",
            ["source", "outcome"],
            registry=self.registry,
        )
        self.processing = Histogram(
            "helpdesk_retain_delivery_processing_seconds",
            "Time from request to answer for a webhook delivery",
            ["source"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
        )
        self.messages = Counter(
            "helpdesk_retain_messages",
            "Outbound messages by channel and outcome",
            ["channel", "outcome"],
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
