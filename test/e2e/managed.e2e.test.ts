/**
 * `aura:storage managed` on the real engine, TLS aside: the databases image runs as a separate
 * "endpoint" standing in for RDS, ElastiCache and DocumentDB, and the apps run as a task of their
 * own with the endpoint configuration the managed task definition gives them (host/port
 * environment, no `databases` container, no dependsOn). Replacing the app task keeps every
 * ticket, because the data lives in the endpoint. Run by scripts/test-e2e.sh; alone:
 * `--grep 'managed databases'`. Declared at load (see durability.e2e.test.ts).
 */
import { strict as assert } from "assert";
import Docker from "dockerode";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseAuraConfig } from "../../lib/config";
import { readStackConfig } from "../../lib/stackFile";
import { LOCAL_IMAGES, localDefinitions } from "../../local/definitions";
import { standInDefinitions, standInStorage } from "../../local/endpoints";
import { buildAdaptations, checkImagesPresent, mongoAbsent } from "../../local/images";
import { loadLocalSecrets, localSecretResolver } from "../../local/secrets";
import { RunningTask, TaskEvent, startTask } from "../../local/task";
import { removeStackVolumes } from "../../local/volumes";
import {
  GATEWAY,
  requestHeaders,
  useApiKeyFrom,
  MINUTE,
  RESULTS_DIR,
  progress,
  removeLeftoverContainers,
  waitForFreePorts,
} from "./support";

const docker = new Docker();
/** The stand-in's persistent volumes are this stack's, so no other e2e file's data is touched. */
const VOLUME_STACK = "managed-e2e";

interface Ticket {
  id: number;
  title: string;
  status: string;
}

async function http<T>(method: string, url: string, body?: unknown): Promise<[number, T, Headers]> {
  const response = await fetch(url, {
    method,
    headers: requestHeaders(url, body !== undefined),
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return [response.status, (await response.json()) as T, response.headers];
}

function healthyAt(task: RunningTask): number {
  const event = task.events.find(
    (e): e is Extract<TaskEvent, { type: "task-healthy" }> => e.type === "task-healthy",
  );
  assert.ok(event !== undefined, `task ${task.taskId} was never HEALTHY`);
  return event.at;
}

function declareTests(): void {
  const config = parseAuraConfig(
    { ...readStackConfig("dev"), "aura:storage": "managed", "aura:desiredCount": "2" },
    "dev",
  );
  const definitions = localDefinitions(config, LOCAL_IMAGES);
  let secrets: ReturnType<typeof loadLocalSecrets>;
  let extraEnvironment: Awaited<ReturnType<typeof buildAdaptations>> = {};
  let withoutMongo = true;

  async function startHealthy(label: string, task: () => RunningTask): Promise<RunningTask> {
    const running = task();
    await running.waitFor(
      (e) => e.type === "task-healthy" || (e.type === "task" && e.status === "STOPPING"),
      15 * MINUTE,
    );
    assert.ok(
      running.events.some((e) => e.type === "task-healthy"),
      `${label} stopped before every container was HEALTHY`,
    );
    return running;
  }

  const appTask = (label: string) => () =>
    startTask(definitions, {
      docker,
      resolveSecret: localSecretResolver(secrets.values),
      extraEnvironment,
      recordProbes: true,
      onEvent: progress(label),
    });

  describe("managed databases on the real engine (e2e): apps against an endpoint, TLS aside", function () {
    // Each file runs its own gateway with its own keys; the module shares one "current" key.

    beforeEach(() => useApiKeyFrom(secrets.values));
    this.timeout(20 * MINUTE);
    let endpoint: RunningTask | undefined;
    let first: RunningTask | undefined;
    let second: RunningTask | undefined;
    const created: Ticket[] = [];

    before(async () => {
      await checkImagesPresent(docker, LOCAL_IMAGES);
      withoutMongo = await mongoAbsent(docker, LOCAL_IMAGES.databases);
      extraEnvironment = await buildAdaptations(docker, LOCAL_IMAGES);
      fs.mkdirSync(RESULTS_DIR, { recursive: true });
      secrets = loadLocalSecrets(
        path.join(fs.mkdtempSync(path.join(os.tmpdir(), "aura-e2e-managed-")), "local.env"),
      );
      await removeLeftoverContainers(docker);
      await removeStackVolumes(docker, VOLUME_STACK);
      await waitForFreePorts();
      endpoint = await startHealthy("managed-endpoint", () =>
        startTask(standInDefinitions(config, LOCAL_IMAGES.databases), {
          docker,
          taskId: "managed-e2e-endpoint",
          resolveSecret: localSecretResolver(secrets.values),
          extraEnvironment,
          storage: standInStorage({ stack: VOLUME_STACK }),
          onEvent: progress("managed-endpoint"),
        }),
      );
      first = await startHealthy("managed-apps-1", appTask("managed-apps-1"));
    });

    after(async () => {
      for (const task of [first, second, endpoint]) {
        task?.stop();
        await task?.done;
      }
      await removeStackVolumes(docker, VOLUME_STACK);
    });

    it("the task holds the two apps only, configured by endpoint like the managed task definition", () => {
      assert.deepEqual(
        definitions.map((d) => [d.name, d.dependsOn]),
        [
          ["api-gateway", undefined],
          ["service-desk-host", undefined],
        ],
      );
      const desk = definitions.find((d) => d.name === "service-desk-host")!;
      const env = Object.fromEntries(desk.environment.map((v) => [v.name, v.value]));
      assert.deepEqual(
        [env.POSTGRES_HOST, env.POSTGRES_PORT, env.REDIS_HOST, env.MONGO_HOST, env.MONGO_PORT],
        ["127.0.0.1", "5432", "127.0.0.1", "127.0.0.1", "27017"],
      );
      assert.deepEqual(
        [env.POSTGRES_SSLMODE, env.REDIS_TLS, env.MONGO_TLS],
        ["disable", "false", "false"],
      );
      assert.deepEqual(
        desk.secrets?.map((s) => s.name),
        ["POSTGRES_PASSWORD", "REDIS_PASSWORD", "MONGO_PASSWORD"],
      );
      // The app task's containers are only the apps: the endpoint is another task.
      assert.ok(!first!.events.some((e) => e.type === "container" && e.container === "databases"));
    });

    it("serves tickets through the gateway from the endpoint's PostgreSQL and Redis", async () => {
      for (const title of ["printer on fire", "vpn drops"]) {
        const [status, ticket] = await http<Ticket>("POST", `${GATEWAY}/tickets`, { title });
        assert.equal(status, 201);
        created.push(ticket);
      }
      const [, first1, h1] = await http<Ticket>("GET", `${GATEWAY}/tickets/${created[0].id}`);
      const [, again, h2] = await http<Ticket>("GET", `${GATEWAY}/tickets/${created[0].id}`);
      assert.deepEqual([h1.get("x-cache"), h2.get("x-cache")], ["miss", "hit"]);
      assert.deepEqual(again, first1);
      const [readyStatus, ready] = await http<{ checks: Record<string, string> }>(
        "GET",
        "http://127.0.0.1:8001/ready",
      );
      assert.equal(readyStatus, 200);
      assert.deepEqual(ready.checks, {
        postgres: "ok",
        redis: "ok",
        mongodb: withoutMongo ? "disabled" : "ok",
      });
    });

    it("a new app task (a deploy) keeps every ticket: the data lives in the endpoint, not the task", async () => {
      first!.stop();
      await first!.done;
      // The endpoint kept running through the replacement.
      assert.ok(!endpoint!.events.some((e) => e.type === "task" && e.status === "STOPPING"));
      second = await startHealthy("managed-apps-2", appTask("managed-apps-2"));
      const [status, listed] = await http<{ items: Ticket[]; total: number }>(
        "GET",
        `${GATEWAY}/tickets?limit=100`,
      );
      assert.equal(status, 200);
      assert.equal(listed.total, 2);
      assert.deepEqual(
        listed.items.map((t) => [t.id, t.title]),
        created.map((t) => [t.id, t.title]),
      );
      // The cached copy was in the endpoint's Redis, so the new task's first read is a hit.
      const [, , headers] = await http<Ticket>("GET", `${GATEWAY}/tickets/${created[0].id}`);
      assert.equal(headers.get("x-cache"), "hit");
      const seconds = (healthyAt(second) / 1000).toFixed(1);
      console.log(`      app task HEALTHY ${seconds} s after start (no databases to wait for)`);
      fs.writeFileSync(
        path.join(RESULTS_DIR, "e2e-managed-timings.json"),
        `${JSON.stringify({ appTaskHealthyMs: healthyAt(second), endpointHealthyMs: healthyAt(endpoint!) }, null, 2)}\n`,
      );
    });
  });
}

declareTests();
