"""Run the double as the real server runs: configured by its environment variables.

Inside the image (``DOCKER_ENV=true``) a variable that is not set takes the value the real
image bakes in from ``.env.example`` (Redis cache on at localhost, a Postgres URI at host
``postgres``, the public API key), and ``DATABASE_PROVIDER`` must be set, as the real
entrypoint demands. Elsewhere the code defaults apply (no database: state in memory).

Exit status 1, with the log line the real server leaves, when the database or Redis is wrong.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading

from .server import EvolutionDouble, StartupError, redact
from .store import DatabaseError
from .webhooks import RetryPolicy

IMAGE_DEFAULTS = {
    "SERVER_PORT": "8080",
    "SERVER_URL": "http://localhost:8080",
    "AUTHENTICATION_API_KEY": "429683C4C977415CAAFCCE10F7D57E11",
    "AUTHENTICATION_EXPOSE_IN_FETCH_INSTANCES": "true",
    "DATABASE_CONNECTION_URI": "postgresql://user:pass@postgres:5432/evolution_db?schema=evolution_api",
    "DATABASE_CONNECTION_CLIENT_NAME": "evolution_exchange",
    "CACHE_REDIS_ENABLED": "true",
    "CACHE_REDIS_URI": "redis://localhost:6379/6",
    "QRCODE_COLOR": "#175197",
    "WEBHOOK_REQUEST_TIMEOUT_MS": "60000",
    "DOUBLE_CONNECT_WAIT_S": "2",
    "DOUBLE_INSTANCES_DIR": "/evolution/instances",
}
CODE_DEFAULTS = {
    "SERVER_PORT": "8080",
    "SERVER_URL": "",
    "AUTHENTICATION_API_KEY": "BQYHJGJHJ",
    "AUTHENTICATION_EXPOSE_IN_FETCH_INSTANCES": "false",
    "DATABASE_CONNECTION_URI": "",
    "DATABASE_CONNECTION_CLIENT_NAME": "evolution",
    "CACHE_REDIS_ENABLED": "false",
    "CACHE_REDIS_URI": "",
    "QRCODE_COLOR": "#198754",
    "WEBHOOK_REQUEST_TIMEOUT_MS": "30000",
    "DOUBLE_CONNECT_WAIT_S": "0",
    "DOUBLE_INSTANCES_DIR": "",
}
PROVIDERS = ("postgresql", "mysql", "psql_bouncer")
log = logging.getLogger("evolution_double")


def _number(value: str | None, default: float) -> float:
    """``parseInt(x) || default``: unset, junk and 0 all give the default."""
    try:
        number = float(value or "")
    except ValueError:
        return default
    return number or default


def settings(env: dict[str, str]) -> tuple[dict, str | None, str | None]:
    """Keyword arguments for ``EvolutionDouble``, the database URI and the Redis URI."""
    defaults = IMAGE_DEFAULTS if env.get("DOCKER_ENV") == "true" else CODE_DEFAULTS

    def get(name: str, fallback: str = "") -> str:
        return env.get(name, defaults.get(name, fallback))

    provider = env.get("DATABASE_PROVIDER", "")
    database_uri = get("DATABASE_CONNECTION_URI") or None
    if env.get("DOCKER_ENV") == "true" and provider not in PROVIDERS:
        raise StartupError(f"Error: Database provider {provider} invalid.")
    if database_uri and provider == "mysql":
        raise StartupError("Error: the test double speaks to PostgreSQL only, not mysql.")
    redis_uri = None
    if get("CACHE_REDIS_ENABLED") == "true" and get("CACHE_REDIS_URI"):
        redis_uri = get("CACHE_REDIS_URI")

    port = int(_number(get("SERVER_PORT"), 8080))
    del_instance = env.get("DEL_INSTANCE", "false")
    retry = RetryPolicy(
        max_attempts=int(_number(env.get("WEBHOOK_RETRY_MAX_ATTEMPTS"), 10)),
        initial_delay_s=_number(env.get("WEBHOOK_RETRY_INITIAL_DELAY_SECONDS"), 5),
        max_delay_s=_number(env.get("WEBHOOK_RETRY_MAX_DELAY_SECONDS"), 300),
        exponential=env.get("WEBHOOK_RETRY_USE_EXPONENTIAL_BACKOFF") != "false",
        jitter=_number(env.get("WEBHOOK_RETRY_JITTER_FACTOR"), 0.2),
        non_retryable=frozenset(
            int(code)
            for code in env.get("WEBHOOK_RETRY_NON_RETRYABLE_STATUS_CODES", "400,401,403,404,422")
            .replace(" ", "")
            .split(",")
            if code.isdigit()
        ),
    )
    kwargs = {
        "api_key": get("AUTHENTICATION_API_KEY"),
        "delete_delay_s": _number(env.get("DOUBLE_DELETE_DELAY_S"), 1.0),
        "host": env.get("DOUBLE_HOST", "0.0.0.0"),
        "port": port,
        "client_name": get("DATABASE_CONNECTION_CLIENT_NAME"),
        "server_url": get("SERVER_URL") or f"http://localhost:{port}",
        "connect_wait_s": float(get("DOUBLE_CONNECT_WAIT_S") or 0),
        "qrcode_color": get("QRCODE_COLOR"),
        "webhook_timeout_s": _number(get("WEBHOOK_REQUEST_TIMEOUT_MS"), 30000) / 1000,
        "webhook_retry": retry,
        "expose_token_in_webhooks": get("AUTHENTICATION_EXPOSE_IN_FETCH_INSTANCES") == "true",
        "cors_origin": env.get("CORS_ORIGIN", "*"),
        "manager_enabled": env.get("SERVER_DISABLE_MANAGER") != "true",
        "del_instance_min": float(del_instance)
        if del_instance.replace(".", "").isdigit()
        else None,
        "instances_dir": get("DOUBLE_INSTANCES_DIR") or None,
    }
    return kwargs, database_uri, redis_uri


def main() -> int:
    logging.basicConfig(
        level=os.environ.get("DOUBLE_LOG_LEVEL", "INFO"),
        format="[evolution-double] %(asctime)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    try:
        kwargs, database_uri, redis_uri = settings(dict(os.environ))
        if database_uri:
            log.info("Deploying migrations for postgresql (%s)", redact(database_uri))
        double = EvolutionDouble(database_uri=database_uri, redis_uri=redis_uri, **kwargs)
        double.start()
    except StartupError as error:
        log.error("%s", error)
        if isinstance(error.__cause__, DatabaseError):
            log.error("Migration failed")
        return 1
    log.info("state in %s", "PostgreSQL" if database_uri else "memory")
    if redis_uri:
        log.info("Redis answered PING at %s", redact(redis_uri))
    log.info("HTTP - ON: %s", kwargs["port"])
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    stopping.wait()
    double.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
