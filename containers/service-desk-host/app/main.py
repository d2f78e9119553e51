"""Aura service desk: a tickets API.

Tickets live in PostgreSQL, single-ticket reads are cached in Redis (and invalidated on every
change), and every change is appended to an activity log in MongoDB. The databases run in the
task's `databases` container on 127.0.0.1, or (aura:storage managed) on RDS, ElastiCache and
DocumentDB, reached over verified TLS (POSTGRES_SSLMODE, REDIS_TLS, MONGO_TLS and their CA
files); either way they may be down or restarting at any time, so:

- nothing connects at import or start-up time in a way that can crash the process;
- `/health` is liveness only and never touches a database (ECS must not kill this container
  because a database is slow);
- a database outage is a 503 naming the database, never a 500 with a stack trace.
"""

import json
import logging
import os
import re
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any, Dict, Iterator, Literal

import psycopg2
import psycopg2.extras
import pymongo
import pymongo.errors
import redis
import uvicorn
from fastapi import FastAPI, HTTPException, Path, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Extra, constr

SERVICE = "service-desk-host"
STATUSES = ("open", "in_progress", "resolved", "closed")
CACHE_TTL_SECONDS = 300
# Short enough that a request during an outage fails fast, well inside the gateway's timeout.
CONNECT_TIMEOUT_SECONDS = 3
REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,128}$")

logging.basicConfig(
    stream=sys.stdout, level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s"
)
log = logging.getLogger(SERVICE)


def _flag(name: str, default: str) -> bool:
    value = os.environ.get(name, default).strip().lower()
    if value not in ("true", "false"):
        raise SystemExit(f"{name} = {value!r} is not allowed: use true or false")
    return value == "true"


def _ca_file(variable: str, default: str) -> str:
    """A CA bundle the TLS settings name; refuses to start when the file is not in the image."""
    path = os.environ.get(variable, default)
    if not os.path.isfile(path):
        raise SystemExit(
            f"{variable} = {path!r} does not exist: the image has no CA bundle there (an image built with"
            " RDS_CA_BUNDLE_URL=none cannot reach the managed databases); build it with the Dockerfile's"
            " default build args, or turn TLS off for an endpoint without it"
        )
    return path


def postgres_tls() -> Dict[str, Any]:
    """sslmode=verify-full with the RDS CA bundle for RDS; unset: libpq's default (the in-task server)."""
    mode = os.environ.get("POSTGRES_SSLMODE", "").strip()
    allowed = ("", "disable", "prefer", "require", "verify-ca", "verify-full")
    if mode not in allowed:
        raise SystemExit(f"POSTGRES_SSLMODE = {mode!r} is not allowed: use one of {', '.join(allowed[1:])}")
    if mode == "":
        return {}
    if mode in ("verify-ca", "verify-full"):
        return {"sslmode": mode, "sslrootcert": _ca_file("POSTGRES_SSLROOTCERT", "/etc/aura/tls/global-bundle.pem")}
    return {"sslmode": mode}


def redis_tls() -> Dict[str, Any]:
    """TLS (rediss) with the certificate and host name verified, as ElastiCache's in-transit encryption needs."""
    if not _flag("REDIS_TLS", "false"):
        return {}
    return {
        "ssl": True,
        "ssl_cert_reqs": "required",
        "ssl_check_hostname": True,
        "ssl_ca_certs": _ca_file("REDIS_TLS_CA_FILE", "/etc/ssl/certs/ca-certificates.crt"),
    }


def mongo_tls() -> Dict[str, Any]:
    """TLS with the RDS CA bundle, and DocumentDB's replica set (it has no retryable writes)."""
    options: Dict[str, Any] = {}
    if _flag("MONGO_TLS", "false"):
        options.update(tls=True, tlsCAFile=_ca_file("MONGO_TLS_CA_FILE", "/etc/aura/tls/global-bundle.pem"))
    replica_set = os.environ.get("MONGO_REPLICA_SET", "").strip()
    if replica_set:
        options["replicaSet"] = replica_set
    options["retryWrites"] = _flag("MONGO_RETRY_WRITES", "true")
    return options


class Settings:
    """Read once from the environment (lib/taskDefinition.ts containerEnvironment and SECRET_VARIABLES)."""

    def __init__(self) -> None:
        env = os.environ.get
        self.host = env("HOST", "0.0.0.0")
        self.port = int(env("PORT", "8001"))
        self.postgres = dict(
            host=env("POSTGRES_HOST", "127.0.0.1"),
            port=int(env("POSTGRES_PORT", "5432")),
            user=env("POSTGRES_USER", "aura_user"),
            dbname=env("POSTGRES_DB", "aura"),
            password=env("POSTGRES_PASSWORD", ""),
            **postgres_tls(),
        )
        self.redis = dict(
            host=env("REDIS_HOST", "127.0.0.1"),
            port=int(env("REDIS_PORT", "6379")),
            password=env("REDIS_PASSWORD") or None,
            **redis_tls(),
        )
        self.mongo_enabled = _flag("MONGO_ENABLED", "true")
        self.mongo = dict(
            host=env("MONGO_HOST", "127.0.0.1"),
            port=int(env("MONGO_PORT", "27017")),
            username=env("MONGO_USER", "aura_user"),
            password=env("MONGO_PASSWORD", ""),
            # DocumentDB's users live in admin; the in-task MongoDB's user in the app's database.
            authSource=env("MONGO_AUTH_SOURCE", env("MONGO_DB", "aura")),
            **mongo_tls(),
        )
        self.mongo_db = env("MONGO_DB", "aura")


settings = Settings()


class DatabaseUnavailable(Exception):
    """A database did not answer; the handler turns it into a 503 naming it."""

    def __init__(self, database: str, reason: str) -> None:
        super().__init__(f"{database}: {reason}")
        self.database = database
        self.reason = reason


# --- PostgreSQL: tickets ---------------------------------------------------------------------

SCHEMA = """
CREATE TABLE IF NOT EXISTS tickets (
    id          BIGSERIAL PRIMARY KEY,
    title       TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    status      TEXT NOT NULL DEFAULT 'open'
                CHECK (status IN ('open', 'in_progress', 'resolved', 'closed')),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
)
"""
_schema_ready = False
_schema_lock = threading.Lock()


@contextmanager
def postgres() -> Iterator[Any]:
    """A cursor in one transaction on a new connection.

    A connection per request costs a few milliseconds on the task's loopback and means there
    is never a stale pooled connection after PostgreSQL restarts: the first request after the
    database is back simply works.
    """
    try:
        conn = psycopg2.connect(
            connect_timeout=CONNECT_TIMEOUT_SECONDS, application_name=SERVICE, **settings.postgres
        )
    except psycopg2.OperationalError as error:
        raise DatabaseUnavailable("postgres", _first_line(error)) from error
    try:
        with conn:  # commit on success, roll back on any exception
            with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cursor:
                _ensure_schema(cursor)
                yield cursor
    except (psycopg2.OperationalError, psycopg2.InterfaceError) as error:
        raise DatabaseUnavailable("postgres", _first_line(error)) from error
    finally:
        conn.close()


def _ensure_schema(cursor: Any) -> None:
    """Creates the schema once per process, on the first connection that works (idempotent)."""
    global _schema_ready
    if _schema_ready:
        return
    with _schema_lock:
        if not _schema_ready:
            # Serialises concurrent creators (several tasks during a deployment).
            cursor.execute("SELECT pg_advisory_xact_lock(7248001)")
            cursor.execute(SCHEMA)
            cursor.connection.commit()
            _schema_ready = True
            log.info("postgres: schema ready")


# --- Redis: read cache -----------------------------------------------------------------------

_redis = redis.Redis(
    **settings.redis,
    socket_timeout=CONNECT_TIMEOUT_SECONDS,
    socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
    decode_responses=True,
)


@contextmanager
def redis_errors() -> Iterator[None]:
    try:
        yield
    except redis.exceptions.RedisError as error:
        raise DatabaseUnavailable("redis", _first_line(error)) from error


def cache_key(ticket_id: int) -> str:
    return f"ticket:{ticket_id}"


# --- MongoDB: activity log -------------------------------------------------------------------

# MongoClient connects lazily in the background; the first operation waits at most this long.
_mongo = (
    pymongo.MongoClient(
        **settings.mongo,
        serverSelectionTimeoutMS=CONNECT_TIMEOUT_SECONDS * 1000,
        connectTimeoutMS=CONNECT_TIMEOUT_SECONDS * 1000,
        socketTimeoutMS=CONNECT_TIMEOUT_SECONDS * 2000,
    )
    if settings.mongo_enabled
    else None
)


@contextmanager
def mongo_errors() -> Iterator[None]:
    try:
        yield
    except pymongo.errors.PyMongoError as error:
        raise DatabaseUnavailable("mongodb", _first_line(error)) from error


def activity_collection() -> Any:
    assert _mongo is not None
    return _mongo[settings.mongo_db]["ticket_activity"]


def record_activity(ticket_id: int, action: str, request_id: str, **details: Any) -> None:
    if _mongo is None:
        return
    entry = {"ticket_id": ticket_id, "action": action, "request_id": request_id, **details}
    entry["at"] = datetime.now(timezone.utc)
    with mongo_errors():
        activity_collection().insert_one(entry)


# --- API -------------------------------------------------------------------------------------

Title = constr(strict=True, strip_whitespace=True, min_length=1, max_length=200)
Description = constr(strict=True, max_length=5000)
Status = Literal["open", "in_progress", "resolved", "closed"]


class TicketCreate(BaseModel):
    title: Title
    description: Description = ""

    class Config:
        extra = Extra.forbid


class TicketStatusChange(BaseModel):
    status: Status

    class Config:
        extra = Extra.forbid


def ticket_json(row: Dict[str, Any]) -> Dict[str, Any]:
    return {
        "id": row["id"],
        "title": row["title"],
        "description": row["description"],
        "status": row["status"],
        "created_at": row["created_at"].isoformat(),
        "updated_at": row["updated_at"].isoformat(),
    }


app = FastAPI(title="Aura service desk", version="1.0.0")


def ticket_id_path() -> Any:
    return Path(..., ge=1, le=2**63 - 1, description="ticket id")


@app.on_event("startup")
def create_schema_early() -> None:
    # Best effort: the databases may still be starting. The first request that reaches
    # PostgreSQL creates the schema instead, so an outage here never stops the service.
    try:
        with postgres():
            pass
    except DatabaseUnavailable as error:
        log.warning("postgres not reachable at start-up (%s); schema will be created on first use", error.reason)


@app.get("/health")
def health() -> Dict[str, str]:
    return {"status": "ok", "service": SERVICE}


@app.get("/ready")
def ready() -> JSONResponse:
    checks: Dict[str, str] = {}
    try:
        with postgres() as cursor:
            cursor.execute("SELECT 1")
        checks["postgres"] = "ok"
    except DatabaseUnavailable as error:
        checks["postgres"] = f"unavailable: {error.reason}"
    try:
        with redis_errors():
            _redis.ping()
        checks["redis"] = "ok"
    except DatabaseUnavailable as error:
        checks["redis"] = f"unavailable: {error.reason}"
    if _mongo is None:
        checks["mongodb"] = "disabled"
    else:
        try:
            with mongo_errors():
                _mongo[settings.mongo_db].command("ping")
            checks["mongodb"] = "ok"
        except DatabaseUnavailable as error:
            checks["mongodb"] = f"unavailable: {error.reason}"
    failed = [name for name, state in checks.items() if state.startswith("unavailable")]
    body = {"status": "not ready" if failed else "ready", "failed": failed, "checks": checks}
    return JSONResponse(status_code=503 if failed else 200, content=body)


@app.post("/tickets", status_code=201)
def create_ticket(ticket: TicketCreate, request: Request) -> Dict[str, Any]:
    with postgres() as cursor:
        cursor.execute(
            "INSERT INTO tickets (title, description) VALUES (%s, %s) RETURNING *",
            (ticket.title, ticket.description),
        )
        created = ticket_json(cursor.fetchone())
        # Inside the transaction: if the activity log is down, the ticket is not created either.
        record_activity(created["id"], "created", request.state.request_id, status=created["status"])
    return created


@app.get("/tickets")
def list_tickets(
    limit: int = Query(20, ge=1, le=100), offset: int = Query(0, ge=0)
) -> Dict[str, Any]:
    with postgres() as cursor:
        cursor.execute("SELECT count(*) AS total FROM tickets")
        total = cursor.fetchone()["total"]
        cursor.execute("SELECT * FROM tickets ORDER BY id LIMIT %s OFFSET %s", (limit, offset))
        items = [ticket_json(row) for row in cursor.fetchall()]
    return {"items": items, "total": total, "limit": limit, "offset": offset}


@app.get("/tickets/{ticket_id}")
def get_ticket(ticket_id: int = ticket_id_path()) -> JSONResponse:
    with redis_errors():
        cached = _redis.get(cache_key(ticket_id))
    if cached is not None:
        return JSONResponse(content=json.loads(cached), headers={"X-Cache": "hit"})
    with postgres() as cursor:
        cursor.execute("SELECT * FROM tickets WHERE id = %s", (ticket_id,))
        row = cursor.fetchone()
    if row is None:
        raise HTTPException(status_code=404, detail=f"ticket {ticket_id} not found")
    ticket = ticket_json(row)
    with redis_errors():
        _redis.set(cache_key(ticket_id), json.dumps(ticket), ex=CACHE_TTL_SECONDS)
    return JSONResponse(content=ticket, headers={"X-Cache": "miss"})


@app.patch("/tickets/{ticket_id}")
def change_status(
    change: TicketStatusChange, request: Request, ticket_id: int = ticket_id_path()
) -> Dict[str, Any]:
    with postgres() as cursor:
        cursor.execute("SELECT * FROM tickets WHERE id = %s FOR UPDATE", (ticket_id,))
        row = cursor.fetchone()
        if row is None:
            raise HTTPException(status_code=404, detail=f"ticket {ticket_id} not found")
        if row["status"] == change.status:
            return ticket_json(row)  # nothing changed: no write, no activity entry
        cursor.execute(
            "UPDATE tickets SET status = %s, updated_at = now() WHERE id = %s RETURNING *",
            (change.status, ticket_id),
        )
        updated = ticket_json(cursor.fetchone())
        record_activity(
            ticket_id, "status_changed", request.state.request_id, **{"from": row["status"], "to": change.status}
        )
        # Before the commit, so an unreachable cache aborts the change instead of leaving a
        # stale entry behind; and once more after it, for a reader that refilled it meanwhile.
        with redis_errors():
            _redis.delete(cache_key(ticket_id))
    try:
        _redis.delete(cache_key(ticket_id))
    except redis.exceptions.RedisError as error:
        log.warning("redis: second invalidation of ticket %s failed: %s", ticket_id, error)
    return updated


@app.get("/tickets/{ticket_id}/activity")
def ticket_activity(ticket_id: int = ticket_id_path()) -> Dict[str, Any]:
    if _mongo is None:
        raise HTTPException(status_code=501, detail="the activity log is disabled (MONGO_ENABLED=false)")
    with postgres() as cursor:
        cursor.execute("SELECT 1 FROM tickets WHERE id = %s", (ticket_id,))
        if cursor.fetchone() is None:
            raise HTTPException(status_code=404, detail=f"ticket {ticket_id} not found")
    with mongo_errors():
        entries = list(
            activity_collection().find({"ticket_id": ticket_id}, {"_id": 0}).sort("_id", pymongo.ASCENDING)
        )
    for entry in entries:
        entry["at"] = entry["at"].replace(tzinfo=timezone.utc).isoformat()
    return {"ticket_id": ticket_id, "items": entries}


# --- Errors and request ids ------------------------------------------------------------------


@app.exception_handler(DatabaseUnavailable)
def database_unavailable(request: Request, error: DatabaseUnavailable) -> JSONResponse:
    log.warning("request_id=%s %s unavailable: %s", _request_id(request), error.database, error.reason)
    return JSONResponse(
        status_code=503,
        content={"detail": f"{error.database} is unavailable", "database": error.database},
    )


@app.exception_handler(RequestValidationError)
def invalid_input(request: Request, error: RequestValidationError) -> JSONResponse:
    # Name each field as the client wrote it: "title", "status", "limit", "ticket_id".
    fields = []
    for problem in error.errors():
        where = [str(part) for part in problem["loc"][1:]] or [str(problem["loc"][0])]
        fields.append(".".join(where))
    return JSONResponse(
        status_code=422,
        content={
            "detail": "invalid input: " + ", ".join(sorted(set(fields))),
            "fields": sorted(set(fields)),
            "errors": jsonable_encoder(error.errors()),
        },
    )


def _request_id(request: Request) -> str:
    return getattr(request.state, "request_id", "-")


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
        "request_id=%s method=%s path=%s status=%d duration_ms=%d",
        request_id,
        request.method,
        request.url.path,
        response.status_code,
        (time.monotonic() - started) * 1000,
    )
    return response


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


if __name__ == "__main__":
    log.info("activity log %s", "enabled (MongoDB)" if settings.mongo_enabled else "disabled (MONGO_ENABLED=false)")
    uvicorn.run(app, host=settings.host, port=settings.port, access_log=False, log_level="info")
