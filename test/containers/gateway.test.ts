/**
 * api-gateway over real HTTP: forwarding of method, path, query and body to service-desk-host,
 * the request id end to end, and 502/504 naming the upstream. A second gateway container points
 * at a fake upstream in this process that either never answers (504) or answers garbage (502).
 */
import assert from "node:assert/strict";
import { request as httpRequest } from "node:http";
import net from "node:net";
import { APP_PORTS } from "../../lib/containers";
import { defaultAppHealthCheck } from "../../lib/healthCheck";
import {
  API_KEYS,
  CONTAINERS,
  GATEWAY_URL,
  SERVICE_DESK_URL,
  createdTickets,
  definition,
  docker,
  http,
  logs,
  removeContainer,
  runContainer,
  runHealthCheck,
  sleep,
  waitHealthy,
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

  describe("API keys", () => {
    const tickets = `${GATEWAY_URL}/api/service-desk/tickets?limit=1`;
    const unauthorized = (answer: {
      status: number;
      body: unknown;
      headers: Record<string, string | undefined>;
    }) => [answer.status, (answer.body as { detail: string }).detail];

    it("answers 401 with WWW-Authenticate: Bearer to a request without a key", async () => {
      const answer = await http(tickets, { auth: null });
      assert.deepEqual(unauthorized(answer), [
        401,
        "missing or invalid API key: send Authorization: Bearer <key>",
      ]);
      assert.equal(answer.headers["www-authenticate"], 'Bearer realm="aura"');
    });

    it("answers the same 401 to a wrong key, a key's prefix and another scheme, naming no key", async () => {
      for (const auth of ["wrong-key-0123456789abcdef", API_KEYS[0].slice(0, -1), ""]) {
        const answer = await http(tickets, { auth });
        assert.deepEqual(unauthorized(answer), [
          401,
          "missing or invalid API key: send Authorization: Bearer <key>",
        ]);
        assert.equal(
          answer.headers["www-authenticate"],
          'Bearer realm="aura", error="invalid_token"',
        );
        for (const key of API_KEYS) assert.ok(!answer.text.includes(key));
      }
      const basic = await http(tickets, {
        auth: null,
        headers: { authorization: `Basic ${API_KEYS[0]}` },
      });
      assert.equal(basic.status, 401);
    });

    it("answers 200 to each valid key, and keeps /health and /ready open", async () => {
      for (const key of API_KEYS) {
        assert.equal((await http(tickets, { auth: key })).status, 200, key);
      }
      assert.equal((await http(`${GATEWAY_URL}/health`, { auth: null })).status, 200);
      assert.equal((await http(`${GATEWAY_URL}/ready`, { auth: null })).status, 200);
    });

    it("never writes a key, right or wrong, to its log", async () => {
      await http(tickets, { auth: "wrong-key-fedcba9876543210" });
      await sleep(200);
      const output = logs(CONTAINERS["api-gateway"]);
      for (const key of [...API_KEYS, "wrong-key-fedcba9876543210"]) {
        assert.ok(!output.includes(key), "a key is in the gateway's log");
      }
    });

    it("takes new keys on a gateway restart while the databases keep running", async function () {
      this.timeout(90_000);
      const db = CONTAINERS.databases;
      const before = [
        docker("inspect", "--format", "{{.State.StartedAt}}", db),
        docker("exec", db, "head", "-n1", "/var/lib/aura/postgres/data/postmaster.pid"),
      ];
      const rotated = `${API_KEYS[1]},test-api-key-three-0123456789abcdef`;
      const restart = async (keys: string) => {
        removeContainer(CONTAINERS["api-gateway"]);
        runContainer("api-gateway", { env: { AURA_API_KEYS: keys } });
        await waitHealthy("api-gateway", 60_000);
      };
      try {
        await restart(rotated);
        assert.deepEqual(
          [
            (await http(tickets, { auth: API_KEYS[0] })).status,
            (await http(tickets, { auth: API_KEYS[1] })).status,
            (await http(tickets, { auth: "test-api-key-three-0123456789abcdef" })).status,
          ],
          [401, 200, 200],
        );
      } finally {
        await restart(API_KEYS.join(","));
      }
      assert.deepEqual(
        [
          docker("inspect", "--format", "{{.State.StartedAt}}", db),
          docker("exec", db, "head", "-n1", "/var/lib/aura/postgres/data/postmaster.pid"),
        ],
        before,
      );
    });

    it("refuses to start without keys, or with a short one, without printing it", async function () {
      this.timeout(60_000);
      for (const [keys, message] of [
        ["", "AURA_API_KEYS is empty: set one or more comma-separated API keys"],
        [`${API_KEYS[0]},short-key`, "AURA_API_KEYS key(s) 2 are shorter than 16 characters"],
      ]) {
        const name = "aura-test-api-gateway-no-keys";
        removeContainer(name);
        runContainer("api-gateway", {
          container: name,
          env: { AURA_API_KEYS: keys, PORT: "8010" },
        });
        const deadline = Date.now() + 30_000;
        while (docker("inspect", "--format", "{{.State.Running}}", name) === "true") {
          if (Date.now() > deadline) throw new Error(`${name} kept running`);
          await sleep(300);
        }
        const output = logs(name);
        removeContainer(name);
        assert.equal(output.trim().split("\n").pop(), message);
        assert.ok(!output.includes(API_KEYS[0]));
      }
    });
  });

  it("answers a keep-alive connection that stayed idle for 65 s (longer than the ALB's 60 s)", async function () {
    this.timeout(120_000);
    const socket = net.connect(APP_PORTS["api-gateway"], "127.0.0.1");
    await new Promise<void>((resolve, reject) =>
      socket.once("connect", resolve).once("error", reject),
    );
    let received = "";
    socket.on("data", (chunk) => (received += chunk.toString("latin1")));
    let closedAt: number | undefined;
    socket.on("close", () => (closedAt = Date.now()));
    const ask = async (path: string) => {
      received = "";
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: aura\r\nAuthorization: Bearer ${API_KEYS[0]}\r\nConnection: keep-alive\r\n\r\n`,
      );
      const deadline = Date.now() + 10_000;
      while (!/\r\n\r\n[\s\S]*\}$/.test(received)) {
        if (closedAt !== undefined || Date.now() > deadline) return received;
        await sleep(50);
      }
      return received;
    };
    try {
      assert.match(await ask("/api/service-desk/tickets?limit=1"), /^HTTP\/1\.1 200 /);
      const idleFrom = Date.now();
      await sleep(65_000);
      assert.equal(
        closedAt,
        undefined,
        `closed after ${((closedAt ?? 0) - idleFrom) / 1000} s idle`,
      );
      // The same socket, through both hops: the gateway's idle upstream connections (closed by
      // the gateway after 30 s, never by the upstream first) are replaced without an error.
      assert.match(await ask("/api/service-desk/tickets?limit=1"), /^HTTP\/1\.1 200 /);
      assert.match(await ask("/health"), /^HTTP\/1\.1 200 /);
    } finally {
      socket.destroy();
    }
  });

  it("refuses a request body above 1 MiB with 413 before forwarding it", async () => {
    const id = `big-${Date.now()}`;
    const answer = await http(`${GATEWAY_URL}/api/service-desk/tickets`, {
      method: "POST",
      headers: { "content-type": "application/json", "X-Request-ID": id },
      body: JSON.stringify({ title: "x".repeat(1024 * 1024) }),
    });
    assert.deepEqual(
      [answer.status, answer.body],
      [413, { detail: "request body is larger than 1048576 bytes", request_id: id }],
    );
    await sleep(200);
    assert.doesNotMatch(logs(CONTAINERS["service-desk-host"]), new RegExp(`request_id=${id}`));
  });

  describe("with an upstream that misbehaves", () => {
    let mode: "silent" | "garbage" | "trickle" | "echo" = "silent";
    const sockets = new Set<net.Socket>();
    const fake = net.createServer((socket) => {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      socket.on("error", () => undefined);
      // Garbage in answer to the request, as a server that does not speak HTTP would send it:
      // closing before the request is read would make the gateway's write fail (a reset, not a
      // parse error), which is a different failure.
      if (mode === "garbage") socket.once("data", () => socket.end("this is not HTTP\r\n\r\n"));
      if (mode === "trickle") {
        // A byte of the status line every 200 ms: each read succeeds, the answer never ends.
        const bytes = Buffer.from("HTTP/1.1 200 OK\r\nX-Slow: " + "y".repeat(1000));
        let sent = 0;
        const timer = setInterval(() => {
          if (socket.destroyed || sent >= bytes.length) return clearInterval(timer);
          socket.write(bytes.subarray(sent, ++sent));
        }, 200);
      }
      if (mode === "echo") {
        // The request head as the upstream saw it, and two Set-Cookie headers back.
        let head = "";
        socket.on("data", (chunk) => {
          head += chunk.toString("latin1");
          if (!head.includes("\r\n\r\n")) return;
          const body = JSON.stringify(head.split("\r\n\r\n")[0].split("\r\n").slice(1));
          socket.end(
            `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
          );
        });
      }
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
        detail: "upstream service-desk-host failed: invalid HTTP response",
        upstream: "service-desk-host",
        request_id: "bad-1",
      });
    });

    it("answers 504 after UPSTREAM_TIMEOUT_SECONDS in all, even when every read brings a byte", async () => {
      mode = "trickle";
      const started = Date.now();
      const answer = await http(`${spareUrl}/api/service-desk/tickets`, {
        headers: { "X-Request-ID": "trickle-1" },
      });
      const seconds = (Date.now() - started) / 1000;
      assert.deepEqual(answer.body, {
        detail: "upstream service-desk-host did not answer within 1 s",
        upstream: "service-desk-host",
        request_id: "trickle-1",
      });
      assert.ok(seconds >= 1 && seconds < 3, `took ${seconds} s`);
    });

    it("forwards repeated headers one by one, both ways, and never the client's key", async () => {
      mode = "echo";
      const answer = await new Promise<{ status: number; raw: string[]; body: string }>(
        (resolve, reject) => {
          const request = httpRequest(
            `${spareUrl}/api/service-desk/tickets?x=1`,
            {
              agent: false,
              headers: {
                authorization: `Bearer ${API_KEYS[1]}`,
                "x-multi": ["first", "second"],
                "x-request-id": "echo-1",
              },
            },
            (response) => {
              let body = "";
              response.on("data", (chunk: Buffer) => (body += chunk.toString()));
              response.on("end", () =>
                resolve({ status: response.statusCode ?? 0, raw: response.rawHeaders, body }),
              );
            },
          );
          request.on("error", reject);
          request.end();
        },
      );
      assert.equal(answer.status, 200);
      const seen = JSON.parse(answer.body) as string[];
      assert.deepEqual(
        seen.filter((line) => /^x-multi:/i.test(line)),
        ["x-multi: first", "x-multi: second"],
      );
      assert.ok(
        seen.some((line) => line === "X-Request-ID: echo-1"),
        seen.join("\n"),
      );
      assert.ok(!seen.some((line) => /^authorization:/i.test(line)), seen.join("\n"));
      const cookies = answer.raw.filter(
        (_, index) => index % 2 === 1 && answer.raw[index - 1].toLowerCase() === "set-cookie",
      );
      assert.deepEqual(cookies, ["a=1", "b=2"]);
    });
  });
});
