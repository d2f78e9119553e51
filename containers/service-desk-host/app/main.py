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
import select
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any, Callable, Dict, Iterator, List, Literal, TypeVar

import psycopg2
import psycopg2.extensions
import psycopg2.extras
import pymongo
import pymongo.errors
import redis
import uvicorn
from fastapi import FastAPI, HTTPException, Path, Query, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Extra, constr

SERVICE = "service-desk-host"
STATUSES = ("open", "in_progress", "resolved", "closed")
CACHE_TTL_SECONDS = 300
# Short enough that a request during an outage fails fast, well inside the gateway's timeout.
CONNECT_TIMEOUT_SECONDS = 3
# How long a request waits for PostgreSQL to accept connections again (a restart takes about a
# second); below the gateway's 10 s budget for the whole request.
RECONNECT_SECONDS = 5
# Above the gateway's own upstream keep-alive (30 s) and the ALB's 60 s: the client side of
# every connection closes first.
KEEP_ALIVE_SECONDS = 75
# PostgreSQL's OFFSET and ids are bigint.
BIGINT_MAX = 2**63 - 1
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
        self.pool_size = int(env("POSTGRES_POOL_SIZE", "8"))
        configured = env("WORKERS", "").strip()
        # WORKERS comes from the task definition (sized from the task's CPU).
        self.workers = max(1, int(configured)) if configured else max(1, len(os.sched_getaffinity(0)))


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
T = TypeVar("T")


def connect_postgres() -> Any:
    """The one place a PostgreSQL connection is opened: every option of it lives here."""
    return psycopg2.connect(
        connect_timeout=CONNECT_TIMEOUT_SECONDS, application_name=SERVICE, **settings.postgres
    )


class PostgresPool:
    """Connections kept open between requests, checked before each use.

    A pooled connection is handed out only if it is idle and PostgreSQL has not closed it: a
    server that shuts down or restarts terminates its sessions, which leaves the socket
    readable (an idle session never has anything to read), so the check costs no round trip.
    When no connection can be opened the pool retries for RECONNECT_SECONDS, which covers a
    restart; after that the request is a 503.
    """

    def __init__(self, size: int) -> None:
        self._idle: List[Any] = []
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(size)

    @staticmethod
    def _usable(conn: Any) -> bool:
        if conn.closed or conn.get_transaction_status() != psycopg2.extensions.TRANSACTION_STATUS_IDLE:
            return False
        readable, _, _ = select.select([conn.fileno()], [], [], 0)
        return not readable

    def _open(self, patient: bool) -> Any:
        deadline = time.monotonic() + (RECONNECT_SECONDS if patient else 0)
        delay = 0.05
        while True:
            try:
                return connect_postgres()
            except psycopg2.OperationalError as error:
                if time.monotonic() + delay > deadline:
                    raise DatabaseUnavailable("postgres", _first_line(error)) from error
                time.sleep(delay)
                delay = min(delay * 2, 0.5)

    def checkout(self, patient: bool = True) -> Any:
        if not self._slots.acquire(timeout=RECONNECT_SECONDS):
            raise DatabaseUnavailable("postgres", "no pooled connection free")
        try:
            while True:
                with self._lock:
                    conn = self._idle.pop() if self._idle else None
                if conn is None:
                    return self._open(patient)
                if self._usable(conn):
                    return conn
                conn.close()
        except BaseException:
            self._slots.release()
            raise

    def checkin(self, conn: Any, broken: bool) -> None:
        try:
            if broken or conn.closed:
                conn.close()
            else:
                with self._lock:
                    self._idle.append(conn)
        finally:
            self._slots.release()

    def discard_idle(self) -> None:
        """After a lost connection the others are likely dead too: they are reopened on demand."""
        with self._lock:
            stale, self._idle = self._idle, []
        for conn in stale:
            conn.close()


_pool = PostgresPool(settings.pool_size)


def _connection_lost(conn: Any) -> bool:
    return bool(conn.closed)


def in_transaction(work: Callable[[Any], T], patient: bool = True) -> T:
    """Runs `work(cursor)` in one transaction on a pooled connection, committing on success.

    If the connection is lost before the commit (PostgreSQL restarted under it), the server has
    rolled the transaction back, so `work` runs once more on a fresh connection: a restart costs
    the client latency, not an error. A connection lost during the commit is a 503, because the
    commit may or may not have happened.
    """
    for attempt in (1, 2):
        conn = _pool.checkout(patient)
        broken = True
        try:
            try:
                with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cursor:
                    _ensure_schema(cursor)
                    result = work(cursor)
            except (psycopg2.OperationalError, psycopg2.InterfaceError) as error:
                if _connection_lost(conn):
                    _pool.discard_idle()
                    if attempt == 1 and patient:
                        log.warning("postgres: connection lost (%s); retrying on a new one", _first_line(error))
                        continue
                else:
                    conn.rollback()
                    broken = False
                raise DatabaseUnavailable("postgres", _first_line(error)) from error
            except BaseException:
                if not conn.closed:
                    conn.rollback()
                    broken = False
                raise
            try:
                conn.commit()
            except (psycopg2.OperationalError, psycopg2.InterfaceError) as error:
                raise DatabaseUnavailable("postgres", _first_line(error)) from error
            broken = False
            return result
        finally:
            _pool.checkin(conn, broken)
    raise AssertionError("unreachable")


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
        in_transaction(lambda cursor: None, patient=False)
    except DatabaseUnavailable as error:
        log.warning("postgres not reachable at start-up (%s); schema will be created on first use", error.reason)


@app.get("/health")
async def health() -> Dict[str, str]:
    return {"status": "ok", "service": SERVICE}


@app.get("/ready")
def ready() -> JSONResponse:
    checks: Dict[str, str] = {}
    try:
        in_transaction(lambda cursor: cursor.execute("SELECT 1"), patient=False)
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
def create_ticket(ticket: TicketCreate, request: Request) -> JSONResponse:
    def insert(cursor: Any) -> Dict[str, Any]:
        cursor.execute(
            "INSERT INTO tickets (title, description) VALUES (%s, %s) RETURNING *",
            (ticket.title, ticket.description),
        )
        created = ticket_json(cursor.fetchone())
        # Inside the transaction: if the activity log is down, the ticket is not created either.
        record_activity(created["id"], "created", request.state.request_id, status=created["status"])
        return created

    # A JSONResponse as is: FastAPI would otherwise walk every value through jsonable_encoder.
    return JSONResponse(status_code=201, content=in_transaction(insert))


@app.get("/tickets")
def list_tickets(
    limit: int = Query(20, ge=1, le=100), offset: int = Query(0, ge=0, le=BIGINT_MAX)
) -> JSONResponse:
    def page(cursor: Any) -> Dict[str, Any]:
        cursor.execute("SELECT count(*) AS total FROM tickets")
        total = cursor.fetchone()["total"]
        cursor.execute("SELECT * FROM tickets ORDER BY id LIMIT %s OFFSET %s", (limit, offset))
        items = [ticket_json(row) for row in cursor.fetchall()]
        return {"items": items, "total": total, "limit": limit, "offset": offset}

    return JSONResponse(content=in_transaction(page))


@app.get("/tickets/{ticket_id}")
def get_ticket(ticket_id: int = ticket_id_path()) -> JSONResponse:
    with redis_errors():
        cached = _redis.get(cache_key(ticket_id))
    if cached is not None:
        # Stored as the JSON it is sent as.
        return Response(content=cached, media_type="application/json", headers={"X-Cache": "hit"})
    def read(cursor: Any) -> Any:
        cursor.execute("SELECT * FROM tickets WHERE id = %s", (ticket_id,))
        return cursor.fetchone()

    row = in_transaction(read)
    if row is None:
        raise HTTPException(status_code=404, detail=f"ticket {ticket_id} not found")
    ticket = ticket_json(row)
    with redis_errors():
        _redis.set(cache_key(ticket_id), json.dumps(ticket), ex=CACHE_TTL_SECONDS)
    return JSONResponse(content=ticket, headers={"X-Cache": "miss"})


@app.patch("/tickets/{ticket_id}")
def change_status(
    change: TicketStatusChange, request: Request, ticket_id: int = ticket_id_path()
) -> JSONResponse:
    def update(cursor: Any) -> Any:
        cursor.execute("SELECT * FROM tickets WHERE id = %s FOR UPDATE", (ticket_id,))
        row = cursor.fetchone()
        if row is None:
            raise HTTPException(status_code=404, detail=f"ticket {ticket_id} not found")
        if row["status"] == change.status:
            return ticket_json(row), False  # nothing changed: no write, no activity entry
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
        return updated, True

    updated, changed = in_transaction(update)
    if not changed:
        return JSONResponse(content=updated)
    try:
        _redis.delete(cache_key(ticket_id))
    except redis.exceptions.RedisError as error:
        log.warning("redis: second invalidation of ticket %s failed: %s", ticket_id, error)
    return JSONResponse(content=updated)


@app.get("/tickets/{ticket_id}/activity")
def ticket_activity(ticket_id: int = ticket_id_path()) -> Dict[str, Any]:
    if _mongo is None:
        raise HTTPException(status_code=501, detail="the activity log is disabled (MONGO_ENABLED=false)")
    def exists(cursor: Any) -> bool:
        cursor.execute("SELECT 1 FROM tickets WHERE id = %s", (ticket_id,))
        return cursor.fetchone() is not None

    if not in_transaction(exists):
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


@app.exception_handler(Exception)
def internal_error(request: Request, error: Exception) -> JSONResponse:
    # Starlette's outermost layer answers with this and re-raises; RequestIds logs the trace.
    return JSONResponse(status_code=500, content={"detail": "internal error", "request_id": _request_id(request)})


class RequestIds:
    """Request id and access log as plain ASGI middleware (Starlette's `@app.middleware` runs
    every request through an extra task and memory streams, a large share of its cost)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: Dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.inner(scope, receive, send)
            return
        incoming = ""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
        # Only ids that are safe to log and echo are kept; anything else gets a fresh one.
        request_id = incoming if REQUEST_ID_PATTERN.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.monotonic()
        status = [0]

        async def send_with_id(message: Dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"]
                message["headers"] = [*headers, (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.inner(scope, receive, send_with_id)
        except Exception:  # the last line of defence: log the trace, never send it
            log.exception("request_id=%s unhandled error", request_id)
        log.info(
            "request_id=%s method=%s path=%s status=%d duration_ms=%d",
            request_id,
            scope["method"],
            scope["path"],
            status[0],
            (time.monotonic() - started) * 1000,
        )


asgi = RequestIds(app)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


if __name__ == "__main__":
    log.info(
        "activity log %s; %d worker(s), up to %d PostgreSQL connections each",
        "enabled (MongoDB)" if settings.mongo_enabled else "disabled (MONGO_ENABLED=false)",
        settings.workers,
        settings.pool_size,
    )
    uvicorn.run(
        "main:asgi" if settings.workers > 1 else asgi,
        app_dir=os.path.dirname(os.path.abspath(__file__)),
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        loop="uvloop",
        # httptools (C) parses HTTP/1.1 at about 1.6x the rate of h11 (pure Python) here.
        http="httptools",
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        access_log=False,
        log_level="info",
    )
