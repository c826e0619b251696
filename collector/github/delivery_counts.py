"""The webhook's counters, each delivery counted once: GitHub's redelivery repeats X-GitHub-Delivery, and a
redelivered delivery is stored again (the tables collapse it) but not counted again.

A delivery is new unless its id is among the recent ones this process stored or, for older ones and those
stored before a restart, in github_deliveries. Label values are bounded: the known events and `other`.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Callable

from prometheus_client import Counter

from collector.github.payloads import KNOWN_EVENTS
from plumbing.metrics_registry import ProcessMetrics

OTHER_EVENT = "other"
# What happened to a delivery: stored, or the refusal (its HTTP status in the webhook's answers).
OUTCOMES = ("stored", "unsigned", "too_large", "unsupported", "malformed", "other_owner", "unlisted_owner",
            "unavailable")
RECENT_DELIVERY_IDS = 10_000


def event_label(event: str) -> str:
    return event if event in KNOWN_EVENTS else OTHER_EVENT


class DeliveryCounts:
    """cc_analytics_github_deliveries_total{event,outcome} and _redeliveries_total{event}."""

    def __init__(self, metrics: ProcessMetrics, stored_before: Callable[[str], bool]):
        """stored_before(delivery_id) says whether github_deliveries holds the id (a blocking store read)."""
        self.deliveries = Counter(
            "cc_analytics_github_deliveries",
            "GitHub webhook deliveries, each counted once however often GitHub redelivers it: stored, or why "
            "they were refused.", ["event", "outcome"], registry=metrics.registry)
        self.redeliveries = Counter(
            "cc_analytics_github_redeliveries",
            "GitHub webhook deliveries received again (same X-GitHub-Delivery): stored once, not counted again.",
            ["event"], registry=metrics.registry)
        for event in (*KNOWN_EVENTS, OTHER_EVENT):  # every series from the start, so rate() has a baseline
            self.redeliveries.labels(event)
            for outcome in OUTCOMES:
                self.deliveries.labels(event, outcome)
        self._stored_before = stored_before
        self._recent: OrderedDict[str, None] = OrderedDict()

    def refused(self, event: str, outcome: str) -> None:
        self.deliveries.labels(event_label(event), outcome).inc()

    def is_redelivery(self, delivery_id: str) -> bool:
        """Blocking (it may read the store): call it before storing the delivery, off the event loop."""
        return delivery_id in self._recent or self._stored_before(delivery_id)

    def stored(self, event: str, delivery_id: str, redelivery: bool) -> None:
        if redelivery:
            self.redeliveries.labels(event_label(event)).inc()
        else:
            self.deliveries.labels(event_label(event), "stored").inc()
        self._recent[delivery_id] = None
        self._recent.move_to_end(delivery_id)
        while len(self._recent) > RECENT_DELIVERY_IDS:
            self._recent.popitem(last=False)
