"""A test double of Evolution API 2.3, for tests only (never shipped in the collection).

    from evolution_double import EvolutionDouble, WebhookSink

    with WebhookSink() as sink, EvolutionDouble(api_key="k") as api:
        ...  # HTTP to api.url; api.requests lists what it received; sink.received the webhooks

``python -m evolution_double`` runs it from the environment the real server reads.
See README.md in this folder.
"""

from .routes import EVENTS_ALL, ApiError, Config
from .server import EvolutionDouble, RecordedRequest, StartupError, redis_ping
from .sink import Headers, Received, WebhookSink
from .webhooks import Attempt, RetryPolicy

__all__ = [
    "EVENTS_ALL",
    "ApiError",
    "Attempt",
    "Config",
    "EvolutionDouble",
    "Headers",
    "Received",
    "RecordedRequest",
    "RetryPolicy",
    "StartupError",
    "WebhookSink",
    "redis_ping",
]
