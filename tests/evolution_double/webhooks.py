"""Webhook delivery as Evolution API 2.3 does it for an instance webhook.

An event is POSTed as a JSON envelope to the configured URL (plus ``/<event-kebab>`` when
``webhookByEvents`` is on) with the configured headers, if the webhook is enabled, lists the
event, and its URL starts with ``http://`` or ``https://``. Failed attempts are retried with an
exponential back-off; a status in the non-retryable list stops at once. A failure is logged and
recorded, never raised: it must not make an API call fail.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import random
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from http.client import HTTPConnection, HTTPException, HTTPSConnection
from typing import Any
from urllib.parse import urlsplit

# The event names /webhook/set accepts, in the order the real server stores them for ``[]``.
EVENTS = (
    "APPLICATION_STARTUP",
    "QRCODE_UPDATED",
    "MESSAGES_SET",
    "MESSAGES_UPSERT",
    "MESSAGES_EDITED",
    "MESSAGES_UPDATE",
    "MESSAGES_DELETE",
    "SEND_MESSAGE",
    "SEND_MESSAGE_UPDATE",
    "CONTACTS_SET",
    "CONTACTS_UPSERT",
    "CONTACTS_UPDATE",
    "PRESENCE_UPDATE",
    "CHATS_SET",
    "CHATS_UPSERT",
    "CHATS_UPDATE",
    "CHATS_DELETE",
    "GROUPS_UPSERT",
    "GROUP_UPDATE",
    "GROUP_PARTICIPANTS_UPDATE",
    "CONNECTION_UPDATE",
    "LABELS_EDIT",
    "LABELS_ASSOCIATION",
    "CALL",
    "TYPEBOT_START",
    "TYPEBOT_CHANGE_STATUS",
    "REMOVE_INSTANCE",
    "LOGOUT_INSTANCE",
    "INSTANCE_CREATE",
    "INSTANCE_DELETE",
    "STATUS_INSTANCE",
)

USER_AGENT = "axios/1.12.2"
_HTTP_URL = re.compile(r"^https?://")
log = logging.getLogger("evolution_double.webhooks")


def event_key(event: str) -> str:
    """``connection.update`` -> ``CONNECTION_UPDATE`` (the name a webhook's ``events`` lists)."""
    return re.sub(r"[.-]", "_", event).upper()


def event_suffix(event: str) -> str:
    """``connection.update`` -> ``connection-update`` (the webhookByEvents URL suffix)."""
    return event_key(event).lower().replace("_", "-")


def local_time_z() -> str:
    """Local wall-clock time with a ``Z`` suffix, as the real server writes ``date_time``."""
    moment = datetime.now()
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def envelope(
    event: str,
    instance: str,
    data: Any,
    destination: str,
    server_url: str,
    apikey: str | None,
    sender: str | None = None,
) -> dict[str, Any]:
    body = {
        "event": event,
        "instance": instance,
        "data": data,
        "destination": destination,
        "date_time": local_time_z(),
        "sender": sender,
        "server_url": server_url,
        "apikey": apikey,
    }
    if sender is None:  # undefined in the real server, so JSON.stringify drops it
        del body["sender"]
    return body


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def jwt_hs256(key: str, issued_at: int | None = None) -> str:
    """The token sent as ``Authorization: Bearer`` when a webhook's headers hold ``jwt_key``."""
    iat = int(time.time()) if issued_at is None else issued_at
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    claims = {"iat": iat, "exp": iat + 600, "app": "evolution", "action": "webhook"}
    payload = _b64url(json.dumps(claims, separators=(",", ":")).encode())
    signature = hmac.new(key.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64url(signature)}"


@dataclass(frozen=True)
class RetryPolicy:
    """``WEBHOOK_RETRY_*``: the real defaults retry for about 20 minutes."""

    max_attempts: int = 10
    initial_delay_s: float = 5.0
    max_delay_s: float = 300.0
    exponential: bool = True
    jitter: float = 0.2
    non_retryable: frozenset[int] = frozenset({400, 401, 403, 404, 422})

    def delay_s(self, attempt: int) -> float:
        """The wait after failed attempt number ``attempt`` (1-based)."""
        base = self.initial_delay_s
        if self.exponential:
            base = min(self.initial_delay_s * 2 ** (attempt - 1), self.max_delay_s)
        spread = base * self.jitter * (2 * random.random() - 1)
        return max(self.initial_delay_s, base + spread)


@dataclass
class Attempt:
    """One POST the double tried: ``status`` is None when no HTTP answer came back."""

    event: str
    url: str
    attempt: int
    status: int | None
    error: str | None
    at: float = field(default_factory=time.time)


class WebhookDelivery:
    """Sends events to instance webhooks; every attempt is appended to ``attempts``."""

    def __init__(self, timeout_s: float = 60.0, retry: RetryPolicy | None = None) -> None:
        self.timeout_s = timeout_s
        self.retry = retry or RetryPolicy()
        self.attempts: list[Attempt] = []
        self._stopping = threading.Event()

    def target(self, webhook: dict[str, Any] | None, event: str) -> tuple[str, dict] | None:
        """The URL and headers to POST ``event`` to, or None when the webhook does not take it."""
        if not webhook or not webhook.get("enabled"):
            return None
        events = webhook.get("events") or []
        url = webhook.get("url") or ""
        if event_key(event) not in events or not _HTTP_URL.match(url):
            return None
        if webhook.get("webhookByEvents"):
            url = f"{url}/{event_suffix(event)}"
        headers = {"Accept": "application/json, text/plain, */*"}
        headers["Content-Type"] = "application/json"
        for name, value in (webhook.get("headers") or {}).items():
            if name == "jwt_key":
                headers["Authorization"] = f"Bearer {jwt_hs256(str(value))}"
            else:
                headers[name] = str(value)
        headers["User-Agent"] = USER_AGENT
        return url, headers

    def deliver(self, webhook: dict[str, Any] | None, body: dict[str, Any]) -> bool:
        """POST ``body`` with retries, in the calling thread; True once an attempt succeeded."""
        target = self.target(webhook, body["event"])
        if target is None:
            return False
        url, headers = target
        payload = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        for attempt in range(1, self.retry.max_attempts + 1):
            status, error = self._post(url, headers, payload)
            self.attempts.append(Attempt(body["event"], url, attempt, status, error))
            if status is not None and 200 <= status < 300:
                return True
            log.warning(
                "webhook %s to %s: attempt %d/%d failed: %s",
                body["event"],
                url,
                attempt,
                self.retry.max_attempts,
                error or f"HTTP {status}",
            )
            if status in self.retry.non_retryable or attempt == self.retry.max_attempts:
                break
            if self._stopping.wait(self.retry.delay_s(attempt)):
                break
        return False

    def dispatch(self, webhook: dict[str, Any] | None, body: dict[str, Any]) -> None:
        """Deliver in the background, as the real server does for every event but removal."""
        if self.target(webhook, body["event"]) is None:
            return
        threading.Thread(
            target=self.deliver, args=(webhook, body), name="webhook", daemon=True
        ).start()

    def stop(self) -> None:
        """Abandon pending retries (the real server loses them on shutdown too)."""
        self._stopping.set()

    def _post(self, url: str, headers: dict, payload: bytes) -> tuple[int | None, str | None]:
        # http.client keeps header names as configured (urllib would capitalise them).
        parts = urlsplit(url)
        kind = HTTPSConnection if parts.scheme == "https" else HTTPConnection
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            conn = kind(parts.hostname or "", parts.port, timeout=self.timeout_s)
            try:
                conn.request("POST", target, body=payload, headers=headers)
                response = conn.getresponse()
                response.read()
            finally:
                conn.close()
        except (OSError, ValueError, HTTPException) as error:  # refused, timed out, bad URL
            return None, str(error) or type(error).__name__
        if 200 <= response.status < 300:
            return response.status, None
        return response.status, f"HTTP {response.status}"
