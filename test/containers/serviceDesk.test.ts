/**
 * service-desk-host over real HTTP against the running databases: every endpoint, paging,
 * the Redis read cache and its invalidation, and every client error path.
 */
import assert from "node:assert/strict";
import { APP_PORTS } from "../../lib/containers";
import { defaultAppHealthCheck } from "../../lib/healthCheck";
import {
  CONTAINERS,
  GATEWAY_URL,
  SERVICE_DESK_URL,
  WITH_MONGODB,
  createdTickets,
  definition,
  docker,
  http,
  logs,
  runHealthCheck,
  sleep,
} from "./harness";

interface Ticket {
  id: number;
  title: string;
  description: string;
  status: string;
  created_at: string;
  updated_at: string;
}

const STATUSES = ["in_progress", "resolved", "closed", "open"];
const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d+\+00:00$/;

export async function createTicket(title: string, description = ""): Promise<Ticket> {
  const answer = await http(`${SERVICE_DESK_URL}/tickets`, {
    method: "POST",
    json: { title, description },
  });
  assert.equal(answer.status, 201, answer.text);
  const ticket = answer.body as Ticket;
  createdTickets.set(ticket.id, ticket.status);
  return ticket;
}

/** The fields a 422 names. */
async function invalidFields(
  path: string,
  init: Parameters<typeof http>[1] = {},
): Promise<string[]> {
  const answer = await http(`${SERVICE_DESK_URL}${path}`, init);
  assert.equal(answer.status, 422, answer.text);
  return (answer.body as { fields: string[] }).fields;
}

describe("service-desk-host", () => {
  it("passes the task's exact health-check command", () => {
    assert.deepEqual(
      definition("service-desk-host").healthCheck.command,
      defaultAppHealthCheck(APP_PORTS["service-desk-host"]).command,
    );
    const result = runHealthCheck("service-desk-host");
    assert.deepEqual([result.status, result.stdout.trim()], [0, "healthy:"], result.stderr);
  });

  it("GET /health answers liveness", async () => {
    const answer = await http(`${SERVICE_DESK_URL}/health`);
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.body, { status: "ok", service: "service-desk-host" });
  });

  it("GET /ready checks PostgreSQL, Redis and MongoDB (or reports it disabled)", async () => {
    const answer = await http(`${SERVICE_DESK_URL}/ready`);
    assert.equal(answer.status, 200, answer.text);
    assert.deepEqual(answer.body, {
      status: "ready",
      failed: [],
      checks: { postgres: "ok", redis: "ok", mongodb: WITH_MONGODB ? "ok" : "disabled" },
    });
  });

  it("POST /tickets creates an open ticket", async () => {
    const ticket = await createTicket("  Printer on fire  ", "Third floor");
    assert.equal(typeof ticket.id, "number");
    assert.deepEqual(
      { title: ticket.title, description: ticket.description, status: ticket.status },
      { title: "Printer on fire", description: "Third floor", status: "open" },
    );
    assert.match(ticket.created_at, ISO_TIMESTAMP);
    assert.equal(ticket.updated_at, ticket.created_at);
  });

  it("GET /tickets/{id} reads through the Redis cache and PATCH invalidates it", async () => {
    const ticket = await createTicket("VPN drops every hour");
    const first = await http(`${SERVICE_DESK_URL}/tickets/${ticket.id}`);
    assert.equal(first.status, 200);
    assert.equal(first.headers["x-cache"], "miss");
    assert.deepEqual(first.body, ticket);
    const second = await http(`${SERVICE_DESK_URL}/tickets/${ticket.id}`);
    assert.equal(second.headers["x-cache"], "hit");
    assert.deepEqual(second.body, ticket);

    const patched = await http(`${SERVICE_DESK_URL}/tickets/${ticket.id}`, {
      method: "PATCH",
      json: { status: "in_progress" },
    });
    assert.equal(patched.status, 200, patched.text);
    const updated = patched.body as Ticket;
    assert.equal(updated.status, "in_progress");
    assert.equal(updated.created_at, ticket.created_at);
    assert.notEqual(updated.updated_at, ticket.updated_at);
    createdTickets.set(ticket.id, "in_progress");

    const third = await http(`${SERVICE_DESK_URL}/tickets/${ticket.id}`);
    assert.equal(third.headers["x-cache"], "miss");
    assert.deepEqual(third.body, updated);
  });

  it("PATCH to the current status changes nothing", async () => {
    const ticket = await createTicket("Keyboard missing keys");
    const same = await http(`${SERVICE_DESK_URL}/tickets/${ticket.id}`, {
      method: "PATCH",
      json: { status: "open" },
    });
    assert.equal(same.status, 200);
    assert.deepEqual(same.body, ticket);
  });

  it("walks every status: open, in_progress, resolved, closed", async () => {
    const ticket = await createTicket("Password reset");
    for (const status of ["in_progress", "resolved", "closed", "open"]) {
      const answer = await http(`${SERVICE_DESK_URL}/tickets/${ticket.id}`, {
        method: "PATCH",
        json: { status },
      });
      assert.equal(answer.status, 200, answer.text);
      assert.equal((answer.body as Ticket).status, status);
    }
    createdTickets.set(ticket.id, "open");
  });

  it("GET /tickets pages in id order with limit and offset", async () => {
    const all = await http(`${SERVICE_DESK_URL}/tickets?limit=100`);
    const { items, total, limit, offset } = all.body as {
      items: Ticket[];
      total: number;
      limit: number;
      offset: number;
    };
    const ids = [...createdTickets.keys()].sort((a, b) => a - b);
    assert.deepEqual({ total, limit, offset }, { total: ids.length, limit: 100, offset: 0 });
    assert.deepEqual(
      items.map((t) => t.id),
      ids,
    );

    const page = await http(`${SERVICE_DESK_URL}/tickets?limit=2&offset=1`);
    const body = page.body as { items: Ticket[]; total: number; limit: number; offset: number };
    assert.deepEqual(
      body.items.map((t) => t.id),
      ids.slice(1, 3),
    );
    assert.deepEqual([body.total, body.limit, body.offset], [ids.length, 2, 1]);

    const defaults = await http(`${SERVICE_DESK_URL}/tickets`);
    assert.deepEqual(
      [(defaults.body as typeof body).limit, (defaults.body as typeof body).offset],
      [20, 0],
    );

    const beyond = await http(`${SERVICE_DESK_URL}/tickets?offset=1000`);
    assert.deepEqual((beyond.body as typeof body).items, []);
  });

  it("answers 422 naming the invalid field", async () => {
    assert.deepEqual(await invalidFields("/tickets", { method: "POST", json: {} }), ["title"]);
    assert.deepEqual(await invalidFields("/tickets", { method: "POST", json: { title: "   " } }), [
      "title",
    ]);
    assert.deepEqual(await invalidFields("/tickets", { method: "POST", json: { title: 42 } }), [
      "title",
    ]);
    assert.deepEqual(
      await invalidFields("/tickets", { method: "POST", json: { title: "x".repeat(201) } }),
      ["title"],
    );
    assert.deepEqual(
      await invalidFields("/tickets", { method: "POST", json: { title: "ok", description: 7 } }),
      ["description"],
    );
    assert.deepEqual(
      await invalidFields("/tickets", { method: "POST", json: { title: "ok", priority: "high" } }),
      ["priority"],
    );
    assert.deepEqual(
      await invalidFields("/tickets/1", { method: "PATCH", json: { status: "done" } }),
      ["status"],
    );
    assert.deepEqual(
      await invalidFields("/tickets/1", { method: "PATCH", json: { title: "renamed" } }),
      ["status", "title"],
    );
    assert.deepEqual(await invalidFields("/tickets/abc"), ["ticket_id"]);
    assert.deepEqual(await invalidFields("/tickets/0"), ["ticket_id"]);
    assert.deepEqual(await invalidFields("/tickets?limit=0"), ["limit"]);
    assert.deepEqual(await invalidFields("/tickets?limit=101"), ["limit"]);
    assert.deepEqual(await invalidFields("/tickets?offset=-1"), ["offset"]);
  });

  it("bounds every numeric parameter to what PostgreSQL takes: beyond it is a 422, never a 500", async () => {
    const max = "9223372036854775807"; // bigint, the type of OFFSET and of the ids
    const beyond = "9223372036854775808";
    assert.equal((await http(`${SERVICE_DESK_URL}/tickets?offset=${max}`)).status, 200);
    assert.deepEqual(await invalidFields(`/tickets?offset=${beyond}`), ["offset"]);
    assert.deepEqual(await invalidFields(`/tickets?offset=1${"0".repeat(30)}`), ["offset"]);
    assert.deepEqual(await invalidFields("/tickets?offset=1e3"), ["offset"]);
    assert.deepEqual(await invalidFields(`/tickets?limit=${beyond}`), ["limit"]);
    assert.equal((await http(`${SERVICE_DESK_URL}/tickets/${max}`)).status, 404);
    assert.deepEqual(await invalidFields(`/tickets/${beyond}`), ["ticket_id"]);
    assert.deepEqual(
      await invalidFields(`/tickets/${beyond}`, { method: "PATCH", json: { status: "closed" } }),
      ["ticket_id"],
    );
    // The same through the gateway, with its key.
    const viaGateway = await http(`${GATEWAY_URL}/api/service-desk/tickets?offset=${beyond}`);
    assert.deepEqual(
      [viaGateway.status, (viaGateway.body as { fields: string[] }).fields],
      [422, ["offset"]],
    );

    const answer = await http(`${SERVICE_DESK_URL}/tickets/1`, {
      method: "PATCH",
      json: { status: "done" },
    });
    assert.equal((answer.body as { detail: string }).detail, "invalid input: status");
  });

  it("answers 404 for an unknown ticket", async () => {
    for (const [method, path] of [
      ["GET", "/tickets/999999"],
      ["PATCH", "/tickets/999999"],
    ]) {
      const answer = await http(
        `${SERVICE_DESK_URL}${path}`,
        method === "PATCH" ? { method, json: { status: "closed" } } : {},
      );
      assert.equal(answer.status, 404, `${method} ${path}`);
      assert.deepEqual(answer.body, { detail: "ticket 999999 not found" });
    }
  });

  if (WITH_MONGODB) {
    it("GET /tickets/{id}/activity lists every change from MongoDB", async () => {
      const ticket = await createTicket("Monitor flickers");
      await http(`${SERVICE_DESK_URL}/tickets/${ticket.id}`, {
        method: "PATCH",
        json: { status: "resolved" },
        headers: { "X-Request-ID": "activity-test-1" },
      });
      createdTickets.set(ticket.id, "resolved");
      const answer = await http(`${SERVICE_DESK_URL}/tickets/${ticket.id}/activity`);
      assert.equal(answer.status, 200, answer.text);
      const { ticket_id, items } = answer.body as {
        ticket_id: number;
        items: Record<string, unknown>[];
      };
      assert.equal(ticket_id, ticket.id);
      assert.deepEqual(
        items.map(({ at: _at, request_id: _r, ...rest }) => rest),
        [
          { ticket_id: ticket.id, action: "created", status: "open" },
          { ticket_id: ticket.id, action: "status_changed", from: "open", to: "resolved" },
        ],
      );
      assert.equal(items[1].request_id, "activity-test-1");
      const unknown = await http(`${SERVICE_DESK_URL}/tickets/999999/activity`);
      assert.equal(unknown.status, 404);
    });
  } else {
    it("GET /tickets/{id}/activity says the activity log is disabled (MONGO_ENABLED=false)", async () => {
      const ticket = [...createdTickets.keys()][0];
      const answer = await http(`${SERVICE_DESK_URL}/tickets/${ticket}/activity`);
      assert.equal(answer.status, 501);
      assert.deepEqual(answer.body, {
        detail: "the activity log is disabled (MONGO_ENABLED=false)",
      });
    });
  }

  it("echoes a safe X-Request-ID and replaces an unsafe one", async () => {
    const kept = await http(`${SERVICE_DESK_URL}/health`, {
      headers: { "X-Request-ID": "desk-req-42" },
    });
    assert.equal(kept.headers["x-request-id"], "desk-req-42");
    const replaced = await http(`${SERVICE_DESK_URL}/health`, {
      headers: { "X-Request-ID": "bad id\twith tab" },
    });
    assert.match(replaced.headers["x-request-id"] ?? "", /^[0-9a-f]{32}$/);
  });

  it("keeps answering through a PostgreSQL restart: not one failed request under load", async function () {
    this.timeout(120_000);
    const db = CONTAINERS.databases;
    const pidFile = "/var/lib/aura/postgres/data/postmaster.pid";
    const postmaster = docker("exec", db, "head", "-n1", pidFile);
    const restarted = () =>
      docker("exec", db, "sh", "-c", `head -n1 ${pidFile} 2>/dev/null || true`) !== postmaster;
    const failures: string[] = [];
    let answered = 0;
    let running = true;
    // Four clients through the gateway, as the ALB would send them: pooled connections in use
    // and idle in the pool when PostgreSQL goes away. Each reads pages and changes the status
    // of a ticket of its own (few new tickets: the outage tests list them all in one page).
    const own = await Promise.all([0, 1, 2, 3].map((index) => createTicket(`restart ${index}`)));
    const client = async (index: number) => {
      for (let i = 0; running; i++) {
        const status = STATUSES[i % STATUSES.length];
        const answer =
          i % 2 === 0
            ? await http(`${GATEWAY_URL}/api/service-desk/tickets?limit=5`)
            : await http(`${GATEWAY_URL}/api/service-desk/tickets/${own[index].id}`, {
                method: "PATCH",
                json: { status },
              });
        answered++;
        if (answer.status !== 200) failures.push(`${answer.status} ${answer.text}`);
        else if (i % 2 === 1) createdTickets.set(own[index].id, status);
      }
    };
    const clients = [0, 1, 2, 3].map(client);
    await sleep(2000);
    const before = answered;
    // PostgreSQL's fast shutdown (SIGINT: sessions are terminated); supervisord starts it again.
    docker("exec", db, "kill", "-INT", postmaster);
    const deadline = Date.now() + 60_000;
    while (!restarted()) {
      if (Date.now() > deadline) throw new Error("postgres did not restart");
      await sleep(200);
    }
    await sleep(3000);
    running = false;
    await Promise.all(clients);
    assert.deepEqual(failures, []);
    assert.ok(answered - before > 20, `only ${answered - before} requests during the restart`);
    assert.match(logs(db), /received fast shutdown request/);
  });
});
