"""Aura API gateway: the task's public HTTP entry (behind the ALB).

Forwards `/api/service-desk/{path}` to service-desk-host (`SERVICE_DESK_URL` + `/{path}`) with
the method, raw path, query, headers (repeated ones too) and body. Every `/api/...` request must
carry `Authorization: Bearer <key>` with one of the keys in `AURA_API_KEYS` (comma-separated, so
a new key can be added before an old one is removed); anything else is a 401 that says nothing
about which keys exist. `/health` (liveness, the ALB's and ECS's probe) and `/ready` are open.

Every request carries an `X-Request-ID` (the client's, or a new one) to the upstream, back to
the client and into the log. When the upstream cannot be reached or answers garbage the gateway
says 502, when the whole exchange takes longer than `UPSTREAM_TIMEOUT_SECONDS` 504, both naming
the upstream. Request bodies above `MAX_BODY_BYTES` are refused with 413 before anything is
forwarded; responses are streamed back as they arrive.

A plain ASGI app (no framework): a proxy needs no routing or validation, and on a 1-vCPU task
every microsecond per request is throughput.
"""

import asyncio
import hashlib
import hmac
import json
import logging
import os
import re
import sys
import time
import uuid
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple
from urllib.parse import urlsplit

import aiohttp
import uvicorn
from multidict import CIMultiDict
from yarl import URL

SERVICE = "api-gateway"
UPSTREAM = "service-desk-host"
PREFIX = "/api/service-desk"
API_PREFIX = "/api/"
REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
# Connection-level headers belong to one hop only (RFC 9110 7.6.1); the length is recomputed.
# The client's credentials stop here: service-desk-host trusts the task's loopback.
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
}
NOT_FORWARDED = HOP_BY_HOP | {"authorization", REQUEST_ID_HEADER.lower()}
# uvicorn sets its own Server and Date; the upstream's Content-Length is kept (bodies are passed
# through byte for byte: no decompression), its Transfer-Encoding is the upstream hop's.
NOT_FORWARDED_BACK = (HOP_BY_HOP - {"content-length"}) | {"server", "date", REQUEST_ID_HEADER.lower()}
# Idempotent methods are retried once on a pooled connection the upstream had already closed.
RETRYABLE = {"GET", "HEAD", "OPTIONS", "PUT", "DELETE"}
# Well above the ALB's 60 s idle timeout: the target must never close a connection the ALB still
# considers open, or the ALB's next request on it gets a 502 (ELB docs, "Connection idle timeout":
# the target's keep-alive should be greater than the load balancer's idle timeout).
KEEP_ALIVE_SECONDS = 75
# Below service-desk-host's keep-alive (also 75 s), so the gateway always closes an idle upstream
# connection before the upstream does, never racing a request against the upstream's close.
UPSTREAM_KEEP_ALIVE_SECONDS = 30
MIN_KEY_LENGTH = 16

HOST = os.environ.get("HOST", "0.0.0.0")
PORT = int(os.environ.get("PORT", "8000"))
SERVICE_DESK_URL = os.environ.get("SERVICE_DESK_URL", "http://127.0.0.1:8001").rstrip("/")
UPSTREAM_TIMEOUT_SECONDS = float(os.environ.get("UPSTREAM_TIMEOUT_SECONDS", "10"))
MAX_BODY_BYTES = int(os.environ.get("MAX_BODY_BYTES", str(1024 * 1024)))
UPSTREAM_CONNECTIONS = int(os.environ.get("UPSTREAM_CONNECTIONS", "64"))

logging.basicConfig(
    stream=sys.stdout, level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s"
)
log = logging.getLogger(SERVICE)

_upstream = urlsplit(SERVICE_DESK_URL)
if _upstream.scheme not in ("http", "https") or not _upstream.hostname:
    raise SystemExit(f"SERVICE_DESK_URL = {SERVICE_DESK_URL!r} is not an http(s) URL")


def parse_api_keys(text: str) -> List[bytes]:
    """The keys of AURA_API_KEYS, as SHA-256 digests: only digests are kept and compared."""
    keys = [key.strip() for key in text.split(",") if key.strip()]
    if not keys:
        raise SystemExit("AURA_API_KEYS is empty: set one or more comma-separated API keys")
    short = [str(index + 1) for index, key in enumerate(keys) if len(key) < MIN_KEY_LENGTH]
    if short:
        # Which position, never the value: the log must not carry a key.
        raise SystemExit(
            f"AURA_API_KEYS key(s) {', '.join(short)} are shorter than {MIN_KEY_LENGTH} characters"
        )
    return [hashlib.sha256(key.encode()).digest() for key in keys]


API_KEY_DIGESTS = parse_api_keys(os.environ.get("AURA_API_KEYS", ""))


def authorized(header: Optional[bytes]) -> bool:
    """Whether `Authorization: Bearer <key>` names a configured key, in constant time.

    The presented key is hashed and compared with every configured digest, with no early exit,
    so neither the time taken nor the answer tells which key (or how much of one) matched.
    """
    if header is None:
        return False
    scheme, _, token = header.decode("latin-1").strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    presented = hashlib.sha256(token.strip().encode("latin-1")).digest()
    match = False
    for digest in API_KEY_DIGESTS:
        match |= hmac.compare_digest(presented, digest)
    return match


def workers() -> int:
    """WORKERS (the task definition sizes it from the task's CPU), else the CPUs this process may use."""
    configured = os.environ.get("WORKERS", "").strip()
    if configured:
        return max(1, int(configured))
    return max(1, len(os.sched_getaffinity(0)))


Send = Callable[[Dict[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[Dict[str, Any]]]


async def send_json(send: Send, status: int, body: Dict[str, Any], extra: List[Tuple[bytes, bytes]]) -> None:
    payload = json.dumps(body, separators=(",", ":")).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers + extra})
    await send({"type": "http.response.body", "body": payload})


def failure_reason(error: BaseException) -> str:
    """The cause's name: the operating system's (ConnectionRefusedError, ...) for a failed connect."""
    if isinstance(error, aiohttp.ClientConnectorError):
        return type(error.os_error).__name__
    if isinstance(error, aiohttp.ClientResponseError):
        # Raised while parsing the answer (aiohttp: "400, message='Expected HTTP/'").
        return "invalid HTTP response"
    return type(error).__name__


def upstream_failure(error: BaseException) -> Optional[Tuple[int, str]]:
    """504 when the upstream was too slow, 502 when it could not be reached or spoke garbage."""
    if isinstance(error, asyncio.TimeoutError):
        return 504, f"upstream {UPSTREAM} did not answer within {UPSTREAM_TIMEOUT_SECONDS:g} s"
    if isinstance(error, (aiohttp.ClientError, OSError)):
        return 502, f"upstream {UPSTREAM} failed: {failure_reason(error)}"
    return None


class TooLarge(Exception):
    pass


async def read_body(scope: Dict[str, Any], receive: Receive) -> bytes:
    """The request body, refusing (TooLarge) anything above MAX_BODY_BYTES as soon as it is known."""
    for name, value in scope["headers"]:
        if name == b"content-length" and value.isdigit() and int(value) > MAX_BODY_BYTES:
            raise TooLarge()
    chunks: List[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ConnectionResetError("client disconnected")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise TooLarge()
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


class Gateway:
    def __init__(self) -> None:
        self.session: Optional[aiohttp.ClientSession] = None

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(
            limit=UPSTREAM_CONNECTIONS, keepalive_timeout=UPSTREAM_KEEP_ALIVE_SECONDS
        )
        self.session = aiohttp.ClientSession(
            connector=connector,
            # One budget for the whole exchange: pool wait, connect, send, and every byte of the
            # answer (aiohttp's `total`), not a per-socket-operation timeout that a slow trickle
            # can renew forever.
            timeout=aiohttp.ClientTimeout(total=UPSTREAM_TIMEOUT_SECONDS),
            auto_decompress=False,
            skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        log.info(
            "forwarding %s/* to %s (timeout %ss, keep-alive %ss, %d worker(s))",
            PREFIX,
            SERVICE_DESK_URL,
            UPSTREAM_TIMEOUT_SECONDS,
            KEEP_ALIVE_SECONDS,
            workers(),
        )

    async def stop(self) -> None:
        if self.session is not None:
            await self.session.close()

    async def __call__(self, scope: Dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        incoming = ""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
        # Only ids that are safe to log and echo are kept; anything else gets a fresh one.
        request_id = incoming if REQUEST_ID_PATTERN.match(incoming) else uuid.uuid4().hex
        started = time.monotonic()
        outcome = {"status": 0, "upstream_status": "-"}
        id_header = (b"x-request-id", request_id.encode())

        async def send_with_id(message: Dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                outcome["status"] = message["status"]
                message["headers"] = [*message.get("headers", []), id_header]
            await send(message)

        try:
            await self.route(scope, receive, send_with_id, request_id, outcome)
        except Exception:  # the last line of defence: log the trace, never send it
            log.exception("request_id=%s unhandled error", request_id)
            if outcome["status"] == 0:
                await send_json(send_with_id, 500, {"detail": "internal error", "request_id": request_id}, [])
        log.info(
            "request_id=%s method=%s path=%s status=%d upstream_status=%s duration_ms=%d",
            request_id,
            scope["method"],
            scope["path"],
            outcome["status"],
            outcome["upstream_status"],
            (time.monotonic() - started) * 1000,
        )

    async def lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def route(
        self, scope: Dict[str, Any], receive: Receive, send: Send, request_id: str, outcome: Dict[str, Any]
    ) -> None:
        path = scope["path"]
        if path == "/health":
            await send_json(send, 200, {"status": "ok", "service": SERVICE}, [])
        elif path == "/ready":
            await self.ready(send)
        elif path.startswith(API_PREFIX) or path == API_PREFIX.rstrip("/"):
            header = next((value for name, value in scope["headers"] if name == b"authorization"), None)
            if not authorized(header):
                challenge = b'Bearer realm="aura"' if header is None else b'Bearer realm="aura", error="invalid_token"'
                await send_json(
                    send,
                    401,
                    {"detail": "missing or invalid API key: send Authorization: Bearer <key>", "request_id": request_id},
                    [(b"www-authenticate", challenge)],
                )
            elif path == PREFIX or path.startswith(PREFIX + "/"):
                await self.forward(scope, receive, send, request_id, outcome)
            else:
                await send_json(send, 404, {"detail": "Not Found"}, [])
        else:
            await send_json(send, 404, {"detail": "Not Found"}, [])

    async def ready(self, send: Send) -> None:
        # The upstream's liveness, not its readiness: a database outage is the upstream's to report.
        assert self.session is not None
        try:
            url = URL(SERVICE_DESK_URL + "/health", encoded=True)
            async with self.session.get(url, timeout=aiohttp.ClientTimeout(total=min(UPSTREAM_TIMEOUT_SECONDS, 3))) as answer:
                await answer.read()
                state = "ok" if answer.status == 200 else f"unavailable: HTTP {answer.status}"
        except (asyncio.TimeoutError, aiohttp.ClientError, OSError) as error:
            state = f"unavailable: {failure_reason(error)}"
        failed = [] if state == "ok" else [UPSTREAM]
        body = {"status": "not ready" if failed else "ready", "failed": failed, "checks": {UPSTREAM: state}}
        await send_json(send, 503 if failed else 200, body, [])

    async def forward(
        self, scope: Dict[str, Any], receive: Receive, send: Send, request_id: str, outcome: Dict[str, Any]
    ) -> None:
        assert self.session is not None
        try:
            body = await read_body(scope, receive)
        except TooLarge:
            await send_json(
                send,
                413,
                {"detail": f"request body is larger than {MAX_BODY_BYTES} bytes", "request_id": request_id},
                [(b"connection", b"close")],
            )
            return
        # The raw path, so percent-encoded characters reach the upstream exactly as sent.
        raw_path = scope.get("raw_path") or scope["path"].encode()
        target = _upstream.path.rstrip("/") + (raw_path.decode("latin-1")[len(PREFIX) :] or "/")
        if scope.get("query_string"):
            target += "?" + scope["query_string"].decode("latin-1")
        url = URL(f"{_upstream.scheme}://{_upstream.netloc}{target}", encoded=True)

        # Headers named in Connection are hop-by-hop too (RFC 9110 7.6.1).
        listed = set()
        for name, value in scope["headers"]:
            if name == b"connection":
                listed.update(part.strip().lower() for part in value.decode("latin-1").split(","))
        headers: CIMultiDict[str] = CIMultiDict()
        for name, value in scope["headers"]:
            key = name.decode("latin-1")
            if key not in NOT_FORWARDED and key not in listed:
                headers.add(key, value.decode("latin-1"))  # add, not set: repeated headers stay
        headers[REQUEST_ID_HEADER] = request_id

        method = scope["method"]
        attempts = 2 if method in RETRYABLE else 1
        for attempt in range(1, attempts + 1):
            try:
                await self.exchange(method, url, headers, body, send, outcome)
                return
            except aiohttp.ServerDisconnectedError as error:
                # A pooled connection the upstream closed: nothing was answered, so an idempotent
                # request is sent once more on a fresh connection.
                if attempt < attempts and outcome["status"] == 0:
                    continue
                await self.fail(error, send, request_id, outcome)
                return
            except (asyncio.TimeoutError, aiohttp.ClientError, OSError) as error:
                await self.fail(error, send, request_id, outcome)
                return

    async def exchange(
        self, method: str, url: URL, headers: CIMultiDict, body: bytes, send: Send, outcome: Dict[str, Any]
    ) -> None:
        assert self.session is not None
        async with self.session.request(
            method, url, headers=headers, data=body or None, allow_redirects=False
        ) as answer:
            outcome["upstream_status"] = answer.status
            response_headers = [
                (name.lower(), value)
                for name, value in answer.raw_headers
                if name.decode("latin-1").lower() not in NOT_FORWARDED_BACK
            ]
            first = await answer.content.readany()
            # Up to here a failure can still become a 502/504; after the start it only ends the stream.
            await send({"type": "http.response.start", "status": answer.status, "headers": response_headers})
            chunk = first
            while chunk:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                chunk = await answer.content.readany()
            await send({"type": "http.response.body", "body": b""})

    async def fail(self, error: BaseException, send: Send, request_id: str, outcome: Dict[str, Any]) -> None:
        failure = upstream_failure(error)
        log.warning("request_id=%s upstream %s failed: %s", request_id, UPSTREAM, failure_reason(error))
        if outcome["status"] != 0:
            raise error  # the answer had started: the client sees the stream end early
        assert failure is not None
        await send_json(
            send, failure[0], {"detail": failure[1], "upstream": UPSTREAM, "request_id": request_id}, []
        )


app = Gateway()


if __name__ == "__main__":
    count = workers()
    uvicorn.run(
        "main:app" if count > 1 else app,
        app_dir=os.path.dirname(os.path.abspath(__file__)),
        host=HOST,
        port=PORT,
        workers=count,
        loop="uvloop",
        # httptools (C) parses HTTP/1.1 at about 1.6x the rate of h11 (pure Python) here.
        http="httptools",
        lifespan="on",
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        access_log=False,
        log_level="info",
    )
