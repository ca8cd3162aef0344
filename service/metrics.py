"""Prometheus metrics, in a registry of the app's own (so tests and embedders can build many apps)."""

import time
from collections.abc import Collection

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4  # the format `generate_latest` writes

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048)


class Metrics:
    """Every metric the service exports."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "stance_http_requests",
            "HTTP requests answered, by route template, method and status code.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "stance_http_request_duration_seconds",
            "Time from request start to the end of the response, by route template.",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.paragraphs = Counter(
            "stance_paragraphs_classified",
            "Paragraphs labeled, by predicted label.",
            ["label"],
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "stance_batch_size_paragraphs",
            "Paragraphs per model call made by the micro-batcher.",
            buckets=_BATCH_BUCKETS,
            registry=self.registry,
        )
        self.batch_seconds = Histogram(
            "stance_batch_duration_seconds",
            "Time one model call of the micro-batcher takes.",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "stance_queue_depth_paragraphs",
            "Paragraphs accepted and not yet answered (waiting or being labeled).",
            registry=self.registry,
        )
        self.in_flight_gauge = Gauge(
            "stance_http_requests_in_flight",
            "HTTP requests received and not yet answered in full.",
            registry=self.registry,
        )
        self.in_flight = 0  # the same number, readable: a graceful shutdown waits for it to reach 0
        self.ready = Gauge(
            "stance_model_ready", "1 once the model is loaded and warmed up, else 0.", registry=self.registry
        )

    def observe_batch(self, size: int, seconds: float) -> None:
        self.batch_size.observe(size)
        self.batch_seconds.observe(seconds)

    def track_in_flight(self, change: int) -> None:
        self.in_flight += change
        self.in_flight_gauge.set(self.in_flight)

    def count_labels(self, labels: Collection[str]) -> None:
        for label in labels:
            self.paragraphs.labels(label=label).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Pure ASGI middleware counting every HTTP answer and its latency by route template.

    Routes are labeled by template (`/v1/classify`), never by raw path, so unknown paths cannot blow up
    the number of series: anything no route matched is `unmatched`.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics, routes: Collection[str]) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = frozenset(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # if the app dies before answering, the server answers 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        self.metrics.track_in_flight(+1)
        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            self.metrics.track_in_flight(-1)
            route = self._route(scope)
            self.metrics.requests.labels(route=route, method=scope["method"], status=str(status)).inc()
            self.metrics.latency.labels(route=route).observe(time.perf_counter() - started)

    def _route(self, scope: Scope) -> str:
        # The router writes the matched route into the (shared) scope dict.
        route = scope.get("route")
        path = getattr(route, "path", None)
        if isinstance(path, str):
            return path
        # Answered before routing (e.g. a 413 from the body limit): a known path is still a fine label.
        return scope["path"] if scope["path"] in self.routes else "unmatched"
