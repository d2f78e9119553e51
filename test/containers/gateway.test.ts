/**
 * api-gateway over real HTTP: forwarding of method, path, query and body to service-desk-host,
 * the request id end to end, and 502/504 naming the upstream. A second gateway container points
 * at a fake upstream in this process that either never answers (504) or answers garbage (502).
 */
import assert from "node:assert/strict";
import net from "node:net";
import { APP_PORTS } from "../../lib/containers";
import { defaultAppHealthCheck } from "../../lib/healthCheck";
import {
  CONTAINERS,
  GATEWAY_URL,
  SERVICE_DESK_URL,
  createdTickets,
  definition,
  http,
  logs,
  removeContainer,
  runContainer,
  runHealthCheck,
  sleep,
} from "./harness";

const FAKE_UPSTREAM_PORT = 18001;
const SPARE_GATEWAY_PORT = 8010;
const SPARE_GATEWAY = "aura-test-api-gateway-fake-upstream";

describe("api-gateway", () => {
  it("passes the task's exact health-check command", () => {
    assert.deepEqual(
      definition("api-gateway").healthCheck.command,
      defaultAppHealthCheck(APP_PORTS["api-gateway"]).command,
    );
    const result = runHealthCheck("api-gateway");
    assert.deepEqual([result.status, result.stdout.trim()], [0, "healthy:"], result.stderr);
  });

  it("GET /health answers liveness and GET /ready checks service-desk-host", async () => {
    const health = await http(`${GATEWAY_URL}/health`);
    assert.deepEqual([health.status, health.body], [200, { status: "ok", service: "api-gateway" }]);
    const ready = await http(`${GATEWAY_URL}/ready`);
    assert.deepEqual(
      [ready.status, ready.body],
      [200, { status: "ready", failed: [], checks: { "service-desk-host": "ok" } }],
    );
  });

  it("forwards POST, PATCH and GET with body and query to service-desk-host", async () => {
    const created = await http(`${GATEWAY_URL}/api/service-desk/tickets`, {
      method: "POST",
      json: { title: "Via the gateway" },
    });
    assert.equal(created.status, 201, created.text);
    const ticket = created.body as { id: number; title: string; status: string };
    assert.deepEqual([ticket.title, ticket.status], ["Via the gateway", "open"]);
    createdTickets.set(ticket.id, "open");

    const patched = await http(`${GATEWAY_URL}/api/service-desk/tickets/${ticket.id}`, {
      method: "PATCH",
      json: { status: "resolved" },
    });
    assert.equal(patched.status, 200);
    createdTickets.set(ticket.id, "resolved");

    const viaGateway = await http(`${GATEWAY_URL}/api/service-desk/tickets/${ticket.id}`);
    const direct = await http(`${SERVICE_DESK_URL}/tickets/${ticket.id}`);
    assert.equal(viaGateway.status, 200);
    assert.deepEqual(viaGateway.body, direct.body);
    assert.equal((viaGateway.body as { status: string }).status, "resolved");

    const page = await http(`${GATEWAY_URL}/api/service-desk/tickets?limit=1&offset=2`);
    const body = page.body as { items: { id: number }[]; limit: number; offset: number };
    assert.deepEqual([body.items.length, body.limit, body.offset], [1, 1, 2]);
  });

  it("passes the upstream's own errors through unchanged (404, 422)", async () => {
    const missing = await http(`${GATEWAY_URL}/api/service-desk/tickets/999999`);
    assert.deepEqual([missing.status, missing.body], [404, { detail: "ticket 999999 not found" }]);
    const invalid = await http(`${GATEWAY_URL}/api/service-desk/tickets`, {
      method: "POST",
      json: {},
    });
    assert.equal(invalid.status, 422);
    assert.deepEqual((invalid.body as { fields: string[] }).fields, ["title"]);
  });

  it("passes a client's X-Request-ID to the upstream, back to the client and into both logs", async () => {
    const id = `gw-test-${Date.now()}`;
    const answer = await http(`${GATEWAY_URL}/api/service-desk/tickets?limit=1`, {
      headers: { "X-Request-ID": id },
    });
    assert.equal(answer.headers["x-request-id"], id);
    await sleep(200);
    assert.match(
      logs(CONTAINERS["api-gateway"]),
      new RegExp(
        `request_id=${id} method=GET path=/api/service-desk/tickets status=200 upstream_status=200`,
      ),
    );
    assert.match(
      logs(CONTAINERS["service-desk-host"]),
      new RegExp(`request_id=${id} method=GET path=/tickets status=200`),
    );
  });

  it("generates an X-Request-ID when the client sends none, and the upstream sees the same one", async () => {
    const answer = await http(`${GATEWAY_URL}/api/service-desk/tickets?limit=1`);
    const id = answer.headers["x-request-id"] ?? "";
    assert.match(id, /^[0-9a-f]{32}$/);
    await sleep(200);
    assert.match(
      logs(CONTAINERS["service-desk-host"]),
      new RegExp(`request_id=${id} method=GET path=/tickets status=200`),
    );
  });

  describe("with an upstream that misbehaves", () => {
    let mode: "silent" | "garbage" = "silent";
    const sockets = new Set<net.Socket>();
    const fake = net.createServer((socket) => {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      socket.on("error", () => undefined);
      if (mode === "garbage") socket.end("this is not HTTP\r\n\r\n");
      // "silent": accept the connection and never answer.
    });
    const spareUrl = `http://127.0.0.1:${SPARE_GATEWAY_PORT}`;

    before(async function () {
      this.timeout(90_000);
      await new Promise<void>((resolve) => fake.listen(FAKE_UPSTREAM_PORT, "127.0.0.1", resolve));
      removeContainer(SPARE_GATEWAY);
      runContainer("api-gateway", {
        container: SPARE_GATEWAY,
        env: {
          PORT: String(SPARE_GATEWAY_PORT),
          SERVICE_DESK_URL: `http://127.0.0.1:${FAKE_UPSTREAM_PORT}`,
          UPSTREAM_TIMEOUT_SECONDS: "1",
        },
      });
      // Its health check targets port 8000 (the task's); this spare gateway listens on 8010.
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline) {
        try {
          if ((await http(`${spareUrl}/health`)).status === 200) return;
        } catch {
          await sleep(500);
        }
      }
      throw new Error(`${SPARE_GATEWAY} did not start`);
    });

    after(() => {
      removeContainer(SPARE_GATEWAY);
      for (const socket of sockets) socket.destroy();
      fake.close();
    });

    it("answers 504 naming service-desk-host when it does not answer within UPSTREAM_TIMEOUT_SECONDS", async () => {
      mode = "silent";
      const started = Date.now();
      const answer = await http(`${spareUrl}/api/service-desk/tickets`, {
        headers: { "X-Request-ID": "slow-1" },
      });
      const seconds = (Date.now() - started) / 1000;
      assert.equal(answer.status, 504);
      assert.deepEqual(answer.body, {
        detail: "upstream service-desk-host did not answer within 1 s",
        upstream: "service-desk-host",
        request_id: "slow-1",
      });
      assert.ok(seconds >= 1 && seconds < 5, `took ${seconds} s`);
    });

    it("answers 502 naming service-desk-host when it answers something that is not HTTP", async () => {
      mode = "garbage";
      const answer = await http(`${spareUrl}/api/service-desk/tickets`, {
        headers: { "X-Request-ID": "bad-1" },
      });
      assert.equal(answer.status, 502);
      assert.deepEqual(answer.body, {
        detail: "upstream service-desk-host failed: BadStatusLine",
        upstream: "service-desk-host",
        request_id: "bad-1",
      });
    });
  });
});
