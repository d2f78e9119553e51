/**
 * The databases container: the task's health-check command passes, and fails naming the
 * database that does not answer; first start initialised each database from the environment;
 * the servers listen on 127.0.0.1 only.
 */
import assert from "node:assert/strict";
import net from "node:net";
import os from "node:os";
import { DATABASE_NAME, DATABASE_PORTS, DATABASE_USER } from "../../lib/containers";
import { DATABASES_HEALTH_CHECK_SCRIPT, PROBE_WITH_MEMORY } from "../../lib/healthCheck";
import {
  CONTAINERS,
  SECRETS,
  WITH_MONGODB,
  definition,
  docker,
  dockerResult,
  logs,
  runHealthCheck,
  wrappedCheckExecArgs,
} from "./harness";

const db = CONTAINERS.databases;

const okOutput = WITH_MONGODB
  ? "postgres: ok\nredis: ok\nmongodb: ok\nhealthy: postgres redis mongodb"
  : "postgres: ok\nredis: ok\nmongodb: not in this build (WITH_MONGODB=false), not checked\nhealthy: postgres redis";

/** Resolves true when a TCP connection to host:port succeeds, false when it is refused. */
function connects(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port, timeout: 3000 });
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
    socket.once("timeout", () => (socket.destroy(), resolve(false)));
  });
}

describe("databases container", () => {
  it("uses the script of lib/healthCheck.ts, inside aura-probe, as its task health check", () => {
    assert.deepEqual(definition("databases").healthCheck.command, [
      "CMD",
      PROBE_WITH_MEMORY,
      "--window",
      "125",
      "--timeout",
      "16",
      "--",
      DATABASES_HEALTH_CHECK_SCRIPT,
    ]);
    assert.deepEqual(wrappedCheckExecArgs("databases"), ["/usr/local/bin/aura-db-healthcheck"]);
  });

  it("passes the task's exact health-check command, checking each database it was built with", () => {
    const result = runHealthCheck("databases");
    assert.equal(result.stdout.trim(), `healthy: ${okOutput}`);
    assert.equal(result.status, 0);
  });

  it("fails the health check naming PostgreSQL when it refuses the application user", () => {
    const result = dockerResult(
      "exec",
      "--env",
      "POSTGRES_PASSWORD=wrong",
      db,
      ...wrappedCheckExecArgs("databases"),
    );
    assert.equal(result.status, 1);
    const lines = result.stdout.trim().split("\n");
    assert.match(
      lines[0],
      /^postgres: FAILED: .*password authentication failed for user "aura_user"/,
    );
    assert.equal(lines[1], "redis: ok");
    assert.equal(lines[lines.length - 1], "unhealthy: postgres");
  });

  it("fails the health check naming Redis when it refuses the password", () => {
    const result = dockerResult(
      "exec",
      "--env",
      "REDIS_PASSWORD=wrong",
      db,
      ...wrappedCheckExecArgs("databases"),
    );
    assert.equal(result.status, 1);
    const lines = result.stdout.trim().split("\n");
    assert.equal(lines[0], "postgres: ok");
    assert.match(lines[1], /^redis: FAILED: .*(WRONGPASS|invalid password)/);
    assert.equal(lines[lines.length - 1], "unhealthy: redis");
  });

  it("initialised PostgreSQL once with the role and database from the environment (not a superuser)", () => {
    const output = logs(db);
    assert.equal(output.match(/postgres: initialising a new cluster/g)?.length, 1);
    assert.match(output, /postgres: initialised \(role aura_user, database aura\)/);
    const role = docker(
      "exec",
      "--env",
      `PGPASSWORD=${SECRETS.POSTGRES_PASSWORD}`,
      db,
      "psql",
      "-X",
      "-h",
      "127.0.0.1",
      "-U",
      DATABASE_USER,
      "-d",
      DATABASE_NAME,
      "-tAc",
      "SELECT current_user, current_database(), rolsuper FROM pg_roles WHERE rolname = current_user",
    );
    assert.equal(role, "aura_user|aura|f");
  });

  it("requires the Redis password from the environment", () => {
    assert.equal(
      docker("exec", db, "redis-cli", "-h", "127.0.0.1", "PING"),
      "NOAUTH Authentication required.",
    );
    assert.equal(
      docker(
        "exec",
        "--env",
        `REDISCLI_AUTH=${SECRETS.REDIS_PASSWORD}`,
        db,
        "redis-cli",
        "-h",
        "127.0.0.1",
        "PING",
      ),
      "PONG",
    );
  });

  it("sends every program's log to the container's output", () => {
    const output = logs(db);
    assert.match(output, /database system is ready to accept connections/);
    assert.match(output, /\* Ready to accept connections/);
    assert.match(output, /success: postgres entered RUNNING state/);
    assert.match(output, /success: redis entered RUNNING state/);
  });

  it("listens on 127.0.0.1 only", async function () {
    const outside = Object.values(os.networkInterfaces())
      .flat()
      .find((address) => address && address.family === "IPv4" && !address.internal);
    if (!outside) this.skip(); // no second address on this machine to try from
    for (const port of [DATABASE_PORTS.postgres, DATABASE_PORTS.redis]) {
      assert.equal(await connects("127.0.0.1", port), true, `127.0.0.1:${port}`);
      assert.equal(await connects(outside!.address, port), false, `${outside!.address}:${port}`);
    }
  });
});
