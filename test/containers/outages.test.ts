/**
 * Failures, in the order a bad day brings them: PostgreSQL crashes (supervisord must heal it),
 * service-desk-host goes away (the gateway must say 502), the databases container is stopped
 * (clean shutdown; the apps answer 503 naming the database but stay alive), and a new
 * databases container starts on the same data volume (nothing re-initialised, nothing lost).
 */
import assert from "node:assert/strict";
import {
  CONTAINERS,
  GATEWAY_URL,
  SERVICE_DESK_URL,
  WITH_MONGODB,
  createdTickets,
  docker,
  dockerResult,
  http,
  logs,
  removeContainer,
  runContainer,
  runHealthCheck,
  sleep,
  stopContainer,
  waitHealthy,
  wrappedCheckExecArgs,
} from "./harness";

const db = CONTAINERS.databases;
const desk = CONTAINERS["service-desk-host"];

function count(text: string, pattern: RegExp): number {
  return text.match(new RegExp(pattern.source, "g"))?.length ?? 0;
}

async function waitUntil(
  what: string,
  timeoutMs: number,
  check: () => boolean | Promise<boolean>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(500);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

const postgresDown = { detail: "postgres is unavailable", database: "postgres" };
const redisDown = { detail: "redis is unavailable", database: "redis" };

describe("outages", () => {
  it("heals a killed PostgreSQL (supervisord restarts it) after the apps answered 503 naming it", async function () {
    this.timeout(120_000);
    const postmaster = docker(
      "exec",
      db,
      "head",
      "-n1",
      "/var/lib/aura/postgres/data/postmaster.pid",
    );
    // Freeze supervisord (from the host: PID 1 ignores SIGSTOP from inside its namespace) so
    // the outage lasts long enough to be observed, then let it do its job.
    const supervisord = Number(docker("inspect", "--format", "{{.State.Pid}}", db));
    process.kill(supervisord, "SIGSTOP");
    try {
      docker("exec", db, "kill", "-KILL", postmaster);
      await waitUntil("postgres to refuse connections", 20_000, () =>
        /postgres: FAILED/.test(runHealthCheck("databases").stdout),
      );
      // The image's check fails; the task's command (aura-probe) answers "degraded", so ECS
      // keeps the container HEALTHY while supervisord brings PostgreSQL back.
      const inner = dockerResult("exec", db, ...wrappedCheckExecArgs("databases"));
      assert.equal(inner.status, 1);
      assert.match(inner.stdout, /\nunhealthy: postgres\n$/);
      const check = runHealthCheck("databases");
      assert.equal(check.status, 0);
      assert.match(
        check.stdout,
        /^healthy, degraded for \d+ s \(of 125 s\): the check failed \(exit 1\): postgres: FAILED: [^\n]*\n(.*\n)*unhealthy: postgres\n$/,
      );

      const create = await http(`${SERVICE_DESK_URL}/tickets`, {
        method: "POST",
        json: { title: "during the outage" },
      });
      assert.deepEqual([create.status, create.body], [503, postgresDown]);
      const viaGateway = await http(`${GATEWAY_URL}/api/service-desk/tickets`);
      assert.deepEqual([viaGateway.status, viaGateway.body], [503, postgresDown]);
      const ready = await http(`${SERVICE_DESK_URL}/ready`);
      const body = ready.body as {
        status: string;
        failed: string[];
        checks: Record<string, string>;
      };
      assert.equal(ready.status, 503);
      assert.deepEqual(
        [body.status, body.failed, body.checks.redis],
        ["not ready", ["postgres"], "ok"],
      );
      assert.match(body.checks.postgres, /^unavailable: /);
      // Liveness never depends on a database: ECS must not kill the app for this.
      assert.equal(runHealthCheck("service-desk-host").status, 0);
    } finally {
      process.kill(supervisord, "SIGCONT");
    }
    await waitHealthy("databases", 90_000);
    // supervisord reports RUNNING once the new postgres has stayed up for its startsecs.
    await waitUntil(
      "supervisord to report postgres RUNNING again",
      20_000,
      () => count(logs(db), /success: postgres entered RUNNING state/) === 2,
    );
    assert.match(logs(db), /exited: postgres \(terminated by SIGKILL; not expected\)/);
    assert.notEqual(
      docker("exec", db, "head", "-n1", "/var/lib/aura/postgres/data/postmaster.pid"),
      postmaster,
    );

    const list = await http(`${SERVICE_DESK_URL}/tickets?limit=100`);
    assert.equal(list.status, 200);
    assert.equal((list.body as { total: number }).total, createdTickets.size);
  });

  it("answers 502 naming service-desk-host while it is stopped (and it stops on SIGTERM at once)", async function () {
    this.timeout(120_000);
    const seconds = stopContainer("service-desk-host");
    assert.ok(seconds < 10, `docker stop took ${seconds} s: SIGTERM was not honoured`);
    assert.equal(docker("inspect", "--format", "{{.State.ExitCode}}", desk), "0");
    assert.match(logs(desk), /Finished server process/);
    try {
      const answer = await http(`${GATEWAY_URL}/api/service-desk/tickets`, {
        headers: { "X-Request-ID": "down-1" },
      });
      assert.equal(answer.status, 502);
      assert.deepEqual(answer.body, {
        detail: "upstream service-desk-host failed: ConnectionRefusedError",
        upstream: "service-desk-host",
        request_id: "down-1",
      });
      const ready = await http(`${GATEWAY_URL}/ready`);
      assert.deepEqual(
        [ready.status, ready.body],
        [
          503,
          {
            status: "not ready",
            failed: ["service-desk-host"],
            checks: { "service-desk-host": "unavailable: ConnectionRefusedError" },
          },
        ],
      );
      assert.equal(runHealthCheck("api-gateway").status, 0);
    } finally {
      docker("start", desk);
    }
    await waitHealthy("service-desk-host", 60_000);
  });

  it("stops the databases cleanly on SIGTERM well inside Fargate's 120 s", async function () {
    this.timeout(180_000);
    const seconds = stopContainer("databases");
    assert.ok(seconds < 100, `docker stop took ${seconds} s`);
    assert.equal(docker("inspect", "--format", "{{.State.ExitCode}}", db), "0");
    const output = logs(db);
    assert.match(output, /received fast shutdown request/);
    assert.match(output, /database system is shut down/);
    assert.match(output, /Calling fsync\(\) on the AOF file/);
    assert.match(output, /Redis is now ready to exit, bye bye/);
    assert.match(output, /stopped: postgres \(exit status 0\)/);
    assert.match(output, /stopped: redis \(exit status 0\)/);
  });

  it("answers 503 naming the database while the databases are down, and stays alive", async () => {
    const create = await http(`${SERVICE_DESK_URL}/tickets`, {
      method: "POST",
      json: { title: "while down" },
    });
    assert.deepEqual([create.status, create.body], [503, postgresDown]);
    const list = await http(`${SERVICE_DESK_URL}/tickets`);
    assert.deepEqual([list.status, list.body], [503, postgresDown]);
    // Single reads go to the Redis cache first.
    const read = await http(`${SERVICE_DESK_URL}/tickets/1`);
    assert.deepEqual([read.status, read.body], [503, redisDown]);
    const viaGateway = await http(`${GATEWAY_URL}/api/service-desk/tickets/1`);
    assert.deepEqual([viaGateway.status, viaGateway.body], [503, redisDown]);
    const patch = await http(`${SERVICE_DESK_URL}/tickets/1`, {
      method: "PATCH",
      json: { status: "closed" },
    });
    assert.deepEqual([patch.status, patch.body], [503, postgresDown]);

    const ready = await http(`${SERVICE_DESK_URL}/ready`);
    const body = ready.body as { status: string; failed: string[]; checks: Record<string, string> };
    assert.equal(ready.status, 503);
    assert.deepEqual([body.status, body.failed], ["not ready", ["postgres", "redis"]]);
    assert.equal(body.checks.mongodb, WITH_MONGODB ? body.checks.mongodb : "disabled");
    assert.deepEqual(
      [
        (await http(`${SERVICE_DESK_URL}/health`)).status,
        runHealthCheck("service-desk-host").status,
        runHealthCheck("api-gateway").status,
      ],
      [200, 0, 0],
    );
    assert.doesNotMatch(logs(desk), /Traceback/);
  });

  it("starts a new databases container on the same volume without re-initialising or losing a ticket", async function () {
    this.timeout(300_000);
    removeContainer(db);
    runContainer("databases");
    await waitHealthy("databases", 240_000);
    const output = logs(db);
    assert.match(output, /postgres: existing data in \/var\/lib\/aura\/postgres, not initialising/);
    assert.match(output, /postgres: credentials applied \(role aura_user, database aura\)/);
    assert.match(output, /redis: existing data in \/var\/lib\/aura\/redis/);
    assert.equal(count(output, /initialising a new cluster|initialised \(/), 0);

    // The apps were never restarted: they reconnect on their own.
    await waitUntil(
      "service-desk-host to be ready again",
      30_000,
      async () => (await http(`${SERVICE_DESK_URL}/ready`)).status === 200,
    );
    const list = await http(`${SERVICE_DESK_URL}/tickets?limit=100`);
    const body = list.body as { total: number; items: { id: number; status: string }[] };
    assert.equal(body.total, createdTickets.size);
    assert.deepEqual(
      new Map(body.items.map((ticket) => [ticket.id, ticket.status])),
      new Map([...createdTickets].sort(([a], [b]) => a - b)),
    );
    for (const [id, status] of createdTickets) {
      const ticket = await http(`${GATEWAY_URL}/api/service-desk/tickets/${id}`);
      assert.equal(ticket.status, 200);
      assert.equal((ticket.body as { status: string }).status, status);
    }
  });
});
