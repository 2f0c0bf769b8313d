"""Prometheus metrics, on a registry per runtime (no global state at import)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._children: dict[tuple[str, str], tuple[Counter, Histogram]] = {}
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

    def delivery(self, source: str, outcome: str, seconds: float) -> None:
        """Count a webhook delivery and observe its processing time. Label children are looked up once per
        (source, outcome): ``labels()`` validates and locks on every call, which the hot path does not need."""
        children = self._children.get((source, outcome))
        if children is None:
            children = (self.deliveries.labels(source, outcome), self.processing.labels(source))
            self._children[source, outcome] = children
        children[0].inc()
        children[1].observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
