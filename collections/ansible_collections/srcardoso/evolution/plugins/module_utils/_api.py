# Copyright: (c) 2026, srcardoso.evolution developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""HTTP client for Evolution API v2: the one place that speaks HTTP.

This module util is PRIVATE to the collection; its interface may change without notice.

It owns the ``apikey`` header, timeouts, bounded retries with back-off, TLS validation, and the
translation of every failure (the API's four error-body shapes, HTTP status codes, refused
connections, DNS failures, timeouts, TLS errors) into one message that names the URL and says
what to do. Messages never contain the API key or any other secret.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import time
import urllib.error
import urllib.parse

from ansible.module_utils.basic import env_fallback
from ansible.module_utils.urls import ConnectionError as UrlsConnectionError
from ansible.module_utils.urls import Request, SSLValidationError, make_context

# The connection options shared by every module of the collection (documented in the doc
# fragment srcardoso.evolution.connection).
CONNECTION_ARGSPEC = dict(
    api_url=dict(
        type="str",
        default="http://127.0.0.1:8080",
        fallback=(env_fallback, ["EVOLUTION_API_URL"]),
    ),
    api_key=dict(type="str", no_log=True, fallback=(env_fallback, ["EVOLUTION_API_KEY"])),
    timeout_s=dict(type="float", default=30.0, aliases=["timeout"]),
    validate_certs=dict(type="bool", default=True),
    retries=dict(type="int", default=3),
    retry_backoff_s=dict(type="float", default=1.0),
)

USER_AGENT = "srcardoso.evolution (ansible)"
# The longest single back-off pause, whatever retry_backoff_s and the attempt number say.
MAX_BACKOFF_S = 30.0
# 5xx answers that are worth retrying: the server (or a proxy in front of it) is starting,
# overloaded or restarting. A 500 is an application error and retrying it rarely helps, but the
# API answers 500 while Prisma reconnects to the database, so it is retried as well.
RETRY_STATUSES = frozenset({500, 502, 503, 504})


class EvolutionError(Exception):
    """A failure with a message a user can act on. ``status`` is the HTTP status, if any."""

    def __init__(self, msg, status=None, url=None, api_message=None):
        super().__init__(msg)
        self.msg = msg
        self.status = status
        self.url = url
        self.api_message = api_message


class EvolutionNotFound(EvolutionError):
    """HTTP 404: the instance (or the route) does not exist."""


def display_url(url):
    """The URL without user info (``user:password@``), query or fragment, for messages."""
    parts = urllib.parse.urlsplit(url)
    netloc = parts.hostname or ""
    if parts.hostname and ":" in parts.hostname:
        netloc = f"[{parts.hostname}]"
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def validate_base_url(value, field):
    """Return ``value`` without a trailing slash, or raise EvolutionError naming ``field``."""
    text = value.strip() if isinstance(value, str) else ""
    parts = urllib.parse.urlsplit(text)
    try:
        port_ok = parts.port is None or 0 < parts.port < 65536
    except ValueError:
        port_ok = False
    if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
        raise EvolutionError(
            f"{field} {value!r} is not a valid http(s) URL: give the base URL of the Evolution "
            f"API, for example http://127.0.0.1:8080."
        )
    if parts.query or parts.fragment:
        raise EvolutionError(
            f"{field} {display_url(text)!r} must not carry a query string or fragment: give the "
            f"base URL of the Evolution API, for example http://127.0.0.1:8080."
        )
    return text.rstrip("/")


def parse_error_message(body):
    """Extract the human text from an Evolution API answer, whatever its shape.

    The API puts ``response.message`` in four shapes: a nested list (schema errors), a list of
    strings (explicit exceptions), a plain string (bare 401 and unexpected errors) and a list of
    ``{jid, exists, number}`` objects (number not on WhatsApp). ``connect`` and ``restart``
    report failures as ``{"error": true, "message": ...}`` with HTTP 200. Anything else is
    returned as compact text, cut at 300 characters.
    """
    if isinstance(body, (bytes, bytearray)):
        body = body.decode("utf-8", errors="replace")
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            text = " ".join(body.split())
            return text[:300]
    if isinstance(body, dict):
        response = body.get("response")
        if isinstance(response, dict) and "message" in response:
            return _flatten_message(response["message"])
        if "message" in body:
            return _flatten_message(body["message"])
        if "error" in body and isinstance(body["error"], str):
            return body["error"]
    if body is None:
        return ""
    return json.dumps(body, sort_keys=True)[:300]


def _flatten_message(message):
    if message is None:
        return ""
    if isinstance(message, str):
        return message
    if isinstance(message, dict):
        if message.get("exists") is False and "number" in message:
            return f"number {message['number']} is not on WhatsApp"
        if "message" in message:
            prop = message.get("property")
            text = _flatten_message(message["message"])
            return f"{prop}: {text}" if prop else text
        return json.dumps(message, sort_keys=True)
    if isinstance(message, list):
        parts = [_flatten_message(item) for item in message]
        return "; ".join(part for part in parts if part)
    return str(message)


def is_error_body(body):
    """True for the ``{"error": true, "message": ...}`` answers sent with HTTP 200."""
    return isinstance(body, dict) and body.get("error") is True and "message" in body


def backoff_delays(retries, backoff_s):
    """The pauses before each retry: backoff_s, 2*backoff_s, 4*backoff_s... capped."""
    return [min(backoff_s * (2**attempt), MAX_BACKOFF_S) for attempt in range(max(retries, 0))]


class _Transient(Exception):
    """A failure worth retrying; ``error`` is the EvolutionError to raise when retries run out.

    ``delivered`` tells whether the request may have reached the server (a timeout or a 5xx)
    as opposed to a refused connection, where nothing was sent.
    """

    def __init__(self, error, delivered):
        super().__init__(error.msg)
        self.error = error
        self.delivered = delivered


class EvolutionClient:
    """One Evolution API server reached with one global API key."""

    def __init__(
        self,
        api_url,
        api_key,
        timeout_s=30.0,
        validate_certs=True,
        retries=3,
        retry_backoff_s=1.0,
        sleep=time.sleep,
    ):
        self.api_url = validate_base_url(api_url, "api_url")
        if not api_key:
            raise EvolutionError(
                "api_key is missing: set the api_key option (or module_defaults for "
                "group/srcardoso.evolution.api, or the EVOLUTION_API_KEY environment variable) "
                "to the server's AUTHENTICATION_API_KEY."
            )
        if timeout_s is None or timeout_s <= 0:
            raise EvolutionError(
                f"timeout_s must be a positive number of seconds, not {timeout_s}."
            )
        if retries is None or retries < 0 or retries > 10:
            raise EvolutionError(f"retries must be between 0 and 10, not {retries}.")
        if retry_backoff_s is None or retry_backoff_s < 0:
            raise EvolutionError(
                f"retry_backoff_s must be 0 or more seconds, not {retry_backoff_s}."
            )
        self._api_key = api_key
        self.timeout_s = float(timeout_s)
        self.validate_certs = validate_certs
        self.retries = retries
        self.retry_backoff_s = float(retry_backoff_s)
        self._sleep = sleep
        # One TLS context for every request: building one loads the system's CA certificates,
        # which costs tens of milliseconds, and open_url would do it on each call. A plain
        # http:// URL never uses it, so it gets a bare context.
        if self.api_url.startswith("https://"):
            self._context = make_context(validate_certs=validate_certs)
        else:
            self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        # (method, path) of every request sent, for results and the benchmark.
        self.sent = []

    @classmethod
    def from_params(cls, params):
        return cls(
            api_url=params["api_url"],
            api_key=params["api_key"],
            timeout_s=params["timeout_s"],
            validate_certs=params["validate_certs"],
            retries=params["retries"],
            retry_backoff_s=params["retry_backoff_s"],
        )

    def url(self, *segments, query=None):
        """The URL of a route; each path segment is quoted on its own (names may hold '/')."""
        path = "/".join(urllib.parse.quote(str(seg), safe="") for seg in segments)
        url = f"{self.api_url}/{path}"
        if query:
            url += "?" + urllib.parse.urlencode(query)
        return url

    def get(self, *segments, query=None, what, instance=None):
        return self.request("GET", segments, query=query, what=what, instance=instance)

    def post(self, *segments, body, what, instance=None, idempotent=True):
        return self.request(
            "POST", segments, body=body, what=what, instance=instance, idempotent=idempotent
        )

    def delete(self, *segments, what, instance=None):
        return self.request("DELETE", segments, what=what, instance=instance)

    def request(
        self, method, segments, body=None, query=None, what="", instance=None, idempotent=True
    ):
        """Send one request; return the decoded JSON (``None`` for an empty or null body).

        ``what`` completes the sentence "Could not ..." in error messages; ``instance`` names
        the instance a 404 is about. A request that is not ``idempotent`` (instance creation)
        is only retried when the connection was refused, that is when it surely did not reach
        the server.
        """
        url = self.url(*segments, query=query)
        data = None if body is None else json.dumps(body).encode("utf-8")
        delays = backoff_delays(self.retries, self.retry_backoff_s)
        attempt = 0
        while True:
            try:
                return self._once(method, url, data, what, instance)
            except _Transient as exc:
                may_retry = idempotent or not exc.delivered
                if attempt >= len(delays) or not may_retry:
                    raise exc.error from None
                self._sleep(delays[attempt])
                attempt += 1

    def _once(self, method, url, data, what, instance):
        headers = {"apikey": self._api_key, "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        self.sent.append((method, urllib.parse.urlsplit(url).path))
        shown = f"{method} {display_url(url)}"
        try:
            response = Request().open(
                method,
                url,
                data=data,
                headers=headers,
                timeout=self.timeout_s,
                validate_certs=self.validate_certs,
                http_agent=USER_AGENT,
                follow_redirects="none",
                use_netrc=False,
                context=self._context,
            )
            status = response.getcode()
            raw = response.read()
        except urllib.error.HTTPError as exc:
            status = exc.code
            try:
                raw = exc.read()
            except (OSError, AttributeError):
                raw = b""
            raise self._http_error(status, raw, shown, what, instance) from None
        except (
            urllib.error.URLError,
            UrlsConnectionError,
            OSError,
            http.client.HTTPException,
        ) as exc:
            raise self._connection_error(exc, shown, what) from None
        return self._decode(status, raw, shown, what)

    def _decode(self, status, raw, shown, what):
        text = raw.decode("utf-8", errors="replace").strip() if raw else ""
        if not text:
            return None
        try:
            body = json.loads(text)
        except ValueError:
            raise EvolutionError(
                f"Could not {what}: {shown} answered HTTP {status} with a body that is not "
                f"JSON ({text[:120]!r}). Check that api_url points at an Evolution API v2 "
                f"server, not at a proxy or another service.",
                status=status,
            ) from None
        if is_error_body(body):
            message = parse_error_message(body)
            raise EvolutionError(
                f"Could not {what}: the API reported an error with HTTP {status} ({shown}): "
                f"{message}. See the Evolution API server log for the cause.",
                status=status,
                api_message=message,
            )
        return body

    def _http_error(self, status, raw, shown, what, instance=None):
        message = parse_error_message(raw)
        where = f"(HTTP {status} from {shown})"
        if status == 401:
            return EvolutionError(
                f"Could not {what}: the API key was refused {where}. Set api_key (or "
                f"EVOLUTION_API_KEY) to the AUTHENTICATION_API_KEY of the server at "
                f"{self.api_url}.",
                status=status,
                api_message=message,
            )
        if status == 404:
            if message.startswith("Cannot "):
                return EvolutionNotFound(
                    f"Could not {what}: the server has no such route {where}: {message}. "
                    f"Check that api_url points at an Evolution API v2 server.",
                    status=status,
                    api_message=message,
                )
            if instance is not None:
                return EvolutionNotFound(
                    f"Could not {what}: instance {instance!r} does not exist at {self.api_url} "
                    f"{where}. Create it first (srcardoso.evolution.evolution_instance or "
                    f"evolution_instances), or correct the instance name.",
                    status=status,
                    api_message=message,
                )
            return EvolutionNotFound(
                f"Could not {what}: {message or 'not found'} {where}.",
                status=status,
                api_message=message,
            )
        if status >= 500:
            error = EvolutionError(
                f"Could not {what}: the server failed {where}: {message or 'no details'}. "
                f"Check the Evolution API server log, and its database and Redis.",
                status=status,
                api_message=message,
            )
            if status in RETRY_STATUSES:
                raise _Transient(error, delivered=True)
            return error
        return EvolutionError(
            f"Could not {what}: the API rejected the request {where}: {message or 'no details'}.",
            status=status,
            api_message=message,
        )

    def _connection_error(self, exc, shown, what):
        reason = getattr(exc, "reason", exc)
        host = urllib.parse.urlsplit(self.api_url).hostname
        if isinstance(reason, (socket.timeout, TimeoutError)):
            error = EvolutionError(
                f"Could not {what}: no answer from {shown} within {self.timeout_s:g} s. Check "
                f"that the Evolution API is up and not overloaded, or raise timeout_s.",
            )
            raise _Transient(error, delivered=True)
        if isinstance(reason, socket.gaierror):
            return EvolutionError(
                f"Could not {what}: the host name {host!r} of api_url {self.api_url} does not "
                f"resolve. Check api_url (or EVOLUTION_API_URL).",
            )
        if isinstance(reason, (ssl.SSLError, ssl.CertificateError)) or isinstance(
            exc, SSLValidationError
        ):
            detail = getattr(reason, "verify_message", None) or getattr(reason, "reason", None)
            return EvolutionError(
                f"Could not {what}: the TLS connection to {shown} failed"
                f"{' (' + str(detail) + ')' if detail else ''}. Give the server a certificate "
                f"this host trusts, or set validate_certs: false for a test server.",
            )
        if isinstance(reason, ConnectionRefusedError):
            error = EvolutionError(
                f"Could not {what}: the connection to {shown} was refused. Check that the "
                f"Evolution API is running and that api_url (or EVOLUTION_API_URL) is right.",
            )
            raise _Transient(error, delivered=False)
        detail = getattr(reason, "strerror", None) or type(reason).__name__
        error = EvolutionError(
            f"Could not {what}: the connection to {shown} failed ({detail}). Check that the "
            f"Evolution API is reachable at api_url (or EVOLUTION_API_URL).",
        )
        raise _Transient(error, delivered=True)
