/**
 * Issue 6's proof on the real engine: the dev stack's task (aura:storage efs) runs with the uids,
 * read-only roots and volumes its task definition declares, and a stop and start of the task on
 * the same (persistent, EFS-like) volumes keeps every ticket. Run by scripts/test-e2e.sh.
 *
 * Declared at load, not after awaiting the engine: under mocha's --delay (test/e2e/.mocharc.json)
 * task.e2e.test.ts calls run() once its own asynchronous declarations are done, and a second
 * asynchronous declaration here would race it. Alone: `--grep 'durable databases'`.
 */
import { strict as assert } from "assert";
import Docker from "dockerode";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { APP_USER, DATA_DIRECTORIES } from "../../lib/containers";
import { LOCAL_IMAGES, localConfig, localDefinitions } from "../../local/definitions";
import { execProbe } from "../../local/docker";
import { buildAdaptations, checkImagesPresent, mongoAbsent } from "../../local/images";
import { loadLocalSecrets, localSecretResolver } from "../../local/secrets";
import { RunningTask, STOPPED_REASONS, TaskEvent, TaskResult, startTask } from "../../local/task";
import { formatSummary } from "../../local/view";
import { STACK_VOLUME_LABEL, removeStackVolumes, stackStorage } from "../../local/volumes";
import {
  GATEWAY,
  requestHeaders,
  useApiKeyFrom,
  MINUTE,
  RESULTS_DIR,
  logLines,
  progress,
  removeLeftoverContainers,
  waitForFreePorts,
} from "./support";

const docker = new Docker();
const STACK = "dev";
const PERSISTENT = [
  "aura-local-dev-postgres-data",
  "aura-local-dev-redis-data",
  "aura-local-dev-mongodb-data",
];

function volumesEvent(task: RunningTask): Extract<TaskEvent, { type: "volumes" }> {
  const event = task.events.find(
    (e): e is Extract<TaskEvent, { type: "volumes" }> => e.type === "volumes",
  );
  assert.ok(event !== undefined, `task ${task.taskId} reported no volumes`);
  return event;
}

async function volumeNames(filter: string): Promise<string[]> {
  const listed = await docker.listVolumes({ filters: { label: [filter] } });
  return (listed.Volumes ?? []).map((v) => v.Name).sort();
}

interface Ticket {
  id: number;
  title: string;
  description: string;
  status: string;
  created_at: string;
  updated_at: string;
}

async function http<T>(method: string, url: string, body?: unknown): Promise<[number, T, Headers]> {
  const response = await fetch(url, {
    method,
    headers: requestHeaders(url, body !== undefined),
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return [response.status, (await response.json()) as T, response.headers];
}

/** Runs `command` in the task's container (a docker exec, as the health checks run). */
async function inContainer(task: RunningTask, container: string, ...command: string[]) {
  return execProbe(docker.getContainer(`aura-local-${task.taskId}-${container}`), [
    "CMD",
    ...command,
  ]);
}

function declareTests(): void {
  const config = localConfig(STACK);
  const definitions = localDefinitions(config, LOCAL_IMAGES);
  const storage = stackStorage(config);
  let withoutMongo = true;
  let extraEnvironment: Awaited<ReturnType<typeof buildAdaptations>> = {};
  let secrets: ReturnType<typeof loadLocalSecrets>;

  function start(label: string): RunningTask {
    return startTask(definitions, {
      docker,
      resolveSecret: localSecretResolver(secrets.values),
      extraEnvironment,
      storage,
      recordProbes: true,
      onEvent: progress(label),
    });
  }

  async function startHealthy(label: string): Promise<RunningTask> {
    await waitForFreePorts();
    const task = start(label);
    await task.waitFor(
      (e) => e.type === "task-healthy" || (e.type === "task" && e.status === "STOPPING"),
      15 * MINUTE,
    );
    assert.ok(
      task.events.some((e) => e.type === "task-healthy"),
      `task ${label} stopped before every container was HEALTHY`,
    );
    return task;
  }

  describe("durable databases on the real engine (e2e): aura:storage efs", function () {
    // Each file runs its own gateway with its own keys; the module shares one "current" key.

    beforeEach(() => useApiKeyFrom(secrets.values));
    this.timeout(20 * MINUTE);
    let first: RunningTask | undefined;
    let second: RunningTask | undefined;
    let firstResult: TaskResult;
    const created: Ticket[] = [];

    before(async () => {
      assert.equal(config.storage, "efs", "the dev stack is expected to keep its data on EFS");
      await checkImagesPresent(docker, LOCAL_IMAGES);
      withoutMongo = await mongoAbsent(docker, LOCAL_IMAGES.databases);
      extraEnvironment = await buildAdaptations(docker, LOCAL_IMAGES);
      fs.mkdirSync(RESULTS_DIR, { recursive: true });
      // One secrets file for both tasks: the databases keep the passwords they were created with.
      secrets = loadLocalSecrets(
        path.join(fs.mkdtempSync(path.join(os.tmpdir(), "aura-e2e-")), "local.env"),
      );
      await removeLeftoverContainers(docker);
      // --fresh-data: the first task must initialise the databases, or the test proves nothing.
      await removeStackVolumes(docker, STACK);
      first = await startHealthy("durability-1");
    });

    after(async () => {
      for (const task of [first, second]) {
        task?.stop();
        await task?.done;
      }
      // Only what this test made: the stack's persistent volumes, by label and name.
      await removeStackVolumes(docker, STACK);
    });

    it("the first task creates the stack's persistent database volumes and initialises new databases", () => {
      const volumes = volumesEvent(first!);
      assert.deepEqual(
        volumes.volumes.map((v) => [v.name, v.persistent]),
        [
          ...PERSISTENT.map((name) => [name, true]),
          [`aura-local-${first!.taskId}-api-gateway-tmp`, false],
          [`aura-local-${first!.taskId}-service-desk-host-tmp`, false],
        ],
      );
      assert.deepEqual(volumes.reused, []);
      const log = logLines(first!.events, "databases");
      assert.ok(
        log.includes(
          "[aura-db-entrypoint] postgres: initialising a new cluster in /var/lib/aura/postgres",
        ),
      );
      assert.ok(
        log.includes("[aura-db-entrypoint] redis: no saved data yet in /var/lib/aura/redis"),
      );
    });

    it("the containers run as the definitions say: apps uid 10000 on a read-only root, data dirs owned by 10001/10002/10003", async () => {
      for (const app of ["api-gateway", "service-desk-host"]) {
        const definition = definitions.find((d) => d.name === app)!;
        assert.equal(definition.user, "10000:10000");
        assert.equal(definition.readonlyRootFilesystem, true);
        assert.deepEqual(await inContainer(first!, app, "id", "-u"), {
          exitCode: 0,
          output: String(APP_USER.uid),
        });
        assert.deepEqual(await inContainer(first!, app, "id", "-g"), {
          exitCode: 0,
          output: String(APP_USER.gid),
        });
        assert.deepEqual(await inContainer(first!, app, "touch", "/aura-write-probe"), {
          exitCode: 1,
          output: "touch: cannot touch '/aura-write-probe': Read-only file system",
        });
        // /tmp is the one writable place, the task volume mounted there.
        assert.deepEqual(await inContainer(first!, app, "touch", "/tmp/aura-write-probe"), {
          exitCode: 0,
          output: "",
        });
        const info = await docker.getContainer(`aura-local-${first!.taskId}-${app}`).inspect();
        assert.equal(info.Config.User, "10000:10000");
        assert.equal(info.HostConfig.ReadonlyRootfs, true);
        assert.deepEqual(info.HostConfig.CapDrop, ["ALL"]);
        assert.deepEqual(
          info.Mounts.map((m) => [m.Name, m.Destination, m.RW]),
          [[`aura-local-${first!.taskId}-${app}-tmp`, "/tmp", true]],
        );
      }
      const stat = await inContainer(
        first!,
        "databases",
        "stat",
        "-c",
        "%u:%g %a %n",
        ...Object.values(DATA_DIRECTORIES).map((d) => d.path),
      );
      assert.deepEqual(stat, {
        exitCode: 0,
        output: [
          "10001:10001 700 /var/lib/aura/postgres",
          "10002:10002 700 /var/lib/aura/redis",
          "10003:10003 700 /var/lib/aura/mongodb",
        ].join("\n"),
      });
      const databases = await docker
        .getContainer(`aura-local-${first!.taskId}-databases`)
        .inspect();
      assert.equal(databases.HostConfig.ReadonlyRootfs, false);
      assert.deepEqual(databases.Mounts.map((m) => [m.Name, m.Destination, m.RW]).sort(), [
        ["aura-local-dev-mongodb-data", "/var/lib/aura/mongodb", true],
        ["aura-local-dev-postgres-data", "/var/lib/aura/postgres", true],
        ["aura-local-dev-redis-data", "/var/lib/aura/redis", true],
      ]);
    });

    it("tickets are created and one changes status through the gateway on 127.0.0.1:8000", async () => {
      const stamp = Date.now();
      for (const n of [1, 2, 3]) {
        const [status, ticket] = await http<Ticket>("POST", `${GATEWAY}/tickets`, {
          title: `durable ticket ${n} ${stamp}`,
          description: `kept across tasks ${n}`,
        });
        assert.equal(status, 201);
        assert.equal(ticket.status, "open");
        created.push(ticket);
      }
      const [status, updated] = await http<Ticket>("PATCH", `${GATEWAY}/tickets/${created[1].id}`, {
        status: "resolved",
      });
      assert.equal(status, 200);
      assert.equal(updated.status, "resolved");
      created[1] = updated;
      // Read once so Redis caches a ticket too: its snapshot must survive as well.
      const [readStatus, read, headers] = await http<Ticket>(
        "GET",
        `${GATEWAY}/tickets/${created[0].id}`,
      );
      assert.equal(readStatus, 200);
      assert.deepEqual(read, created[0]);
      assert.equal(headers.get("x-cache"), "miss");
    });

    it("stopping the task shuts the databases down cleanly and keeps only the persistent volumes", async () => {
      first!.stop();
      firstResult = await first!.done;
      console.log(formatSummary(firstResult));
      assert.equal(firstResult.stoppedReason, STOPPED_REASONS.userInitiated);
      assert.deepEqual(
        firstResult.containers.map((c) => [c.name, c.exitCode]),
        [
          ["databases", 0],
          ["api-gateway", 0],
          ["service-desk-host", 0],
        ],
      );
      const log = logLines(firstResult.events, "databases");
      assert.ok(log.some((line) => line.includes("database system is shut down")));
      assert.deepEqual(await volumeNames(`${STACK_VOLUME_LABEL}=${STACK}`), [...PERSISTENT].sort());
      assert.deepEqual(await volumeNames(`org.aura.local.task=${first!.taskId}`), []);
    });

    it("a new task on the same volumes does not re-initialise (PostgreSQL, Redis, and MongoDB when built in) and serves every ticket as it was", async () => {
      second = await startHealthy("durability-2");
      assert.notEqual(second.taskId, first!.taskId);
      const volumes = volumesEvent(second);
      assert.deepEqual(volumes.reused, PERSISTENT);
      assert.deepEqual(
        volumes.volumes.filter((v) => !v.persistent).map((v) => v.name),
        [
          `aura-local-${second.taskId}-api-gateway-tmp`,
          `aura-local-${second.taskId}-service-desk-host-tmp`,
        ],
      );
      const log = logLines(second.events, "databases");
      assert.ok(
        log.includes(
          "[aura-db-entrypoint] postgres: existing data in /var/lib/aura/postgres, not initialising",
        ),
        log.join("\n"),
      );
      assert.ok(!log.some((line) => line.includes("initialising a new cluster")));
      assert.ok(log.includes("[aura-db-entrypoint] redis: existing data in /var/lib/aura/redis"));
      if (withoutMongo) {
        console.log("      MongoDB absent in this build (org.aura.mongodb=absent): not checked");
        assert.ok(
          log.includes("[aura-db-entrypoint] mongodb: not in this build (WITH_MONGODB=false)"),
        );
      } else {
        assert.ok(
          log.includes(
            "[aura-db-entrypoint] mongodb: existing data in /var/lib/aura/mongodb, not initialising",
          ),
        );
      }

      // Fresh data at the start, so the list is exactly the tickets of the first task.
      const [listStatus, listed] = await http<{ items: Ticket[]; total: number }>(
        "GET",
        `${GATEWAY}/tickets?limit=100`,
      );
      assert.equal(listStatus, 200);
      assert.equal(listed.total, 3);
      assert.deepEqual(listed.items, created);
      assert.deepEqual(
        listed.items.map((t) => t.status),
        ["open", "resolved", "open"],
      );
      // Ticket 1 was cached (for 300 s) before the stop: a hit proves Redis's snapshot survived.
      const cache: string[] = [];
      for (const ticket of created) {
        const [status, read, headers] = await http<Ticket>(
          "GET",
          `${GATEWAY}/tickets/${ticket.id}`,
        );
        assert.equal(status, 200);
        assert.deepEqual(read, ticket);
        cache.push(headers.get("x-cache") ?? "none");
      }
      assert.deepEqual(cache, ["hit", "miss", "miss"]);
    });
  });
}

declareTests();
