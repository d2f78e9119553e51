"""Aura API gateway: the task's public HTTP entry (behind the ALB).

Forwards `/api/service-desk/{path}` to service-desk-host (`SERVICE_DESK_URL` + `/{path}`) with
the method, query and body, under a timeout. Every request carries an `X-Request-ID` (the
client's, or a new one) to the upstream, back to the client and into the log. When the
upstream cannot be reached or answers garbage the gateway says 502, when it is too slow 504,
both naming the upstream. `/health` is liveness only.
"""

import asyncio
import http.client
import logging
import os
import re
import socket
import sys
import time
import uuid
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import urlsplit

import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

SERVICE = "api-gateway"
UPSTREAM = "service-desk-host"
PREFIX = "/api/service-desk"
REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
# Connection-level headers belong to one hop only (RFC 9110 7.6.1); the length is recomputed.
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
# uvicorn sets its own.
NOT_FORWARDED_BACK = HOP_BY_HOP | {"server", "date"}

HOST = os.environ.get("HOST", "0.0.0.0")
PORT = int(os.environ.get("PORT", "8000"))
SERVICE_DESK_URL = os.environ.get("SERVICE_DESK_URL", "http://127.0.0.1:8001").rstrip("/")
UPSTREAM_TIMEOUT_SECONDS = float(os.environ.get("UPSTREAM_TIMEOUT_SECONDS", "10"))

logging.basicConfig(
    stream=sys.stdout, level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s"
)
log = logging.getLogger(SERVICE)

_upstream = urlsplit(SERVICE_DESK_URL)
if _upstream.scheme not in ("http", "https") or not _upstream.hostname:
    raise SystemExit(f"SERVICE_DESK_URL = {SERVICE_DESK_URL!r} is not an http(s) URL")

app = FastAPI(title="Aura API gateway", version="1.0.0")


class UpstreamAnswer:
    def __init__(self, status: int, headers: List[Tuple[str, str]], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body


def call_upstream(
    method: str, target: str, headers: Dict[str, str], body: bytes, timeout: float
) -> UpstreamAnswer:
    """One request on a new connection, with the standard library only (no PyPI here).

    `timeout` bounds each socket operation (connect, send, every read), not the total. A new
    connection per request keeps nothing stale across an upstream restart; on the task's
    loopback it costs well under a millisecond.
    """
    kind = http.client.HTTPSConnection if _upstream.scheme == "https" else http.client.HTTPConnection
    connection = kind(_upstream.hostname, _upstream.port, timeout=timeout)
    try:
        connection.request(method, target, body=body or None, headers=headers)
        answer = connection.getresponse()
        return UpstreamAnswer(answer.status, answer.getheaders(), answer.read())
    finally:
        connection.close()


def upstream_failure(error: Exception) -> Optional[Tuple[int, str]]:
    """504 when the upstream was too slow, 502 when it could not be reached or spoke garbage."""
    if isinstance(error, (socket.timeout, TimeoutError)):
        return 504, f"upstream {UPSTREAM} did not answer within {UPSTREAM_TIMEOUT_SECONDS:g} s"
    if isinstance(error, (OSError, http.client.HTTPException)):
        return 502, f"upstream {UPSTREAM} failed: {type(error).__name__}"
    return None


@app.on_event("startup")
def announce() -> None:
    log.info("forwarding %s/* to %s (timeout %ss)", PREFIX, SERVICE_DESK_URL, UPSTREAM_TIMEOUT_SECONDS)


def upstream_error(status: int, detail: str, request_id: str) -> JSONResponse:
    return JSONResponse(
        status_code=status,
        content={"detail": detail, "upstream": UPSTREAM, "request_id": request_id},
    )


@app.get("/health")
async def health() -> Dict[str, str]:
    return {"status": "ok", "service": SERVICE}


@app.get("/ready")
async def ready() -> JSONResponse:
    # The upstream's liveness, not its readiness: a database outage is the upstream's to report.
    try:
        path = _upstream.path.rstrip("/") + "/health"
        answer = await asyncio.to_thread(call_upstream, "GET", path, {}, b"", min(UPSTREAM_TIMEOUT_SECONDS, 3))
        state = "ok" if answer.status == 200 else f"unavailable: HTTP {answer.status}"
    except (OSError, http.client.HTTPException) as error:
        state = f"unavailable: {type(error).__name__}"
    failed = [] if state == "ok" else [UPSTREAM]
    return JSONResponse(
        status_code=503 if failed else 200,
        content={"status": "not ready" if failed else "ready", "failed": failed, "checks": {UPSTREAM: state}},
    )


@app.api_route(PREFIX + "/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
async def forward(path: str, request: Request) -> Response:
    request_id = request.state.request_id
    # The raw path, so percent-encoded characters reach the upstream exactly as sent.
    raw_path = request.scope.get("raw_path", request.url.path.encode()).decode("latin-1")
    target = _upstream.path.rstrip("/") + (raw_path[len(PREFIX) :] or "/")
    if request.url.query:
        target += "?" + request.url.query
    headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
    headers[REQUEST_ID_HEADER] = request_id
    body = await request.body()
    try:
        # http.client blocks: run it on a worker thread so the event loop keeps serving.
        answer = await asyncio.to_thread(
            call_upstream, request.method, target, headers, body, UPSTREAM_TIMEOUT_SECONDS
        )
    except Exception as error:
        failure = upstream_failure(error)
        if failure is None:
            raise
        log.warning("request_id=%s upstream %s failed: %r", request_id, UPSTREAM, error)
        return upstream_error(failure[0], failure[1], request_id)
    request.state.upstream_status = answer.status
    response = Response(content=answer.body, status_code=answer.status)
    for key, value in answer.headers:
        if key.lower() not in NOT_FORWARDED_BACK:
            response.headers.append(key, value)
    return response


@app.middleware("http")
async def request_id_and_errors(request: Request, call_next: Any) -> Any:
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    # Only ids that are safe to log and echo are kept; anything else gets a fresh one.
    request_id = incoming if REQUEST_ID_PATTERN.match(incoming) else uuid.uuid4().hex
    request.state.request_id = request_id
    started = time.monotonic()
    try:
        response = await call_next(request)
    except Exception:  # the last line of defence: log the trace, never send it
        log.exception("request_id=%s unhandled error", request_id)
        response = JSONResponse(status_code=500, content={"detail": "internal error", "request_id": request_id})
    response.headers[REQUEST_ID_HEADER] = request_id
    log.info(
        "request_id=%s method=%s path=%s status=%d upstream_status=%s duration_ms=%d",
        request_id,
        request.method,
        request.url.path,
        response.status_code,
        getattr(request.state, "upstream_status", "-"),
        (time.monotonic() - started) * 1000,
    )
    return response


if __name__ == "__main__":
    uvicorn.run(app, host=HOST, port=PORT, access_log=False, log_level="info")
