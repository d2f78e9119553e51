/**
 * Issue 10 §3 on the real engine: with ECS's container restartPolicy on the apps, a crashed gateway
 * is restarted in place (same container, the databases untouched, no ticket lost), and a crash
 * sooner than restartAttemptPeriod after its last (re)start stops the task with ECS's reason. Also
 * the local runner's fidelity to the agent and Docker where only a real engine can show it: a
 * probe past its timeout is killed, and an exited container is UNHEALTHY.
 *
 * The period is ECS's minimum, 60 s, as a stack would set it: the test waits for the gateway to
 * have run that long rather than shortening it.
 *
 * Declared at load (see durability.e2e.test.ts). Alone:
 * `flock /tmp/aura-engine.lock flock /tmp/aura-host-ports.lock npx mocha --config test/e2e/.mocharc.json --grep 'restart policy'`.
 */
import { strict as assert } from "assert";
import Docker from "dockerode";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { LOCAL_IMAGES, localConfig, localDefinitions } from "../../local/definitions";
import { execProbe } from "../../local/docker";
import { HealthMonitor, ProbeRecord } from "../../local/healthMonitor";
import { buildAdaptations, checkImagesPresent } from "../../local/images";
import { loadLocalSecrets, localSecretResolver } from "../../local/secrets";
import {
  RunnableDefinition,
  RunningTask,
  STOPPED_REASONS,
  TaskEvent,
  TaskResult,
  startTask,
} from "../../local/task";
import { formatSummary } from "../../local/view";
import { removeStackVolumes, stackStorage } from "../../local/volumes";
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
const STACK = "dev";
/** The dev stack's restartAttemptPeriod for the apps: ECS's minimum, honoured as it is. */
const PERIOD_SECONDS = 60;

interface Ticket {
  id: number;
  title: string;
  status: string;
}

async function json<T>(method: string, url: string, body?: unknown): Promise<[number, T]> {
  const response = await fetch(url, {
    method,
    headers: requestHeaders(url, body !== undefined),
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return [response.status, (await response.json()) as T];
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function containerName(task: RunningTask, container: string): string {
  return `aura-local-${task.taskId}-${container}`;
}

function declareTests(): void {
  const config = localConfig(STACK);
  const storage = stackStorage(config);
  // The stack's own definitions: the apps restart in place, the databases never.
  const definitions: RunnableDefinition[] = localDefinitions(config, LOCAL_IMAGES);

  describe("restart policy on the real engine (e2e): apps restart in place", function () {
    this.timeout(20 * MINUTE);
    let task: RunningTask;
    let result: TaskResult | undefined;
    const tickets: Ticket[] = [];
    let databasesBefore: { id: string; startedAt: string };
    let gatewayIdBefore: string;
    /** Taken just before the task starts, so never after the runner's own clock zero. */
    let startedWall = 0;

    before(async () => {
      const apps = { enabled: true, ignoredExitCodes: [], restartAttemptPeriod: PERIOD_SECONDS };
      assert.deepEqual(
        definitions.map((d) => [d.name, d.restartPolicy]),
        [
          ["databases", { enabled: false }],
          ["api-gateway", apps],
          ["service-desk-host", apps],
        ],
      );
      await checkImagesPresent(docker, LOCAL_IMAGES);
      const extraEnvironment = await buildAdaptations(docker, LOCAL_IMAGES);
      fs.mkdirSync(RESULTS_DIR, { recursive: true });
      const secrets = loadLocalSecrets(
        path.join(fs.mkdtempSync(path.join(os.tmpdir(), "aura-e2e-")), "local.env"),
      );
      useApiKeyFrom(secrets.values);
      await removeLeftoverContainers(docker);
      // Fresh databases: they are initialised with this run's passwords.
      await removeStackVolumes(docker, STACK);
      await waitForFreePorts();
      startedWall = Date.now();
      task = startTask(definitions, {
        docker,
        resolveSecret: localSecretResolver(secrets.values),
        extraEnvironment,
        storage,
        recordProbes: true,
        onEvent: progress("restart"),
      });
      await task.waitFor(
        (e) => e.type === "task-healthy" || (e.type === "task" && e.status === "STOPPING"),
        15 * MINUTE,
      );
      assert.ok(
        task.events.some((e) => e.type === "task-healthy"),
        "the task stopped before every container was HEALTHY",
      );
    });

    after(async () => {
      task?.stop();
      await task?.done;
      await removeStackVolumes(docker, STACK);
    });

    it("kills a probe that runs past its timeout, with Docker's message and what it printed", async () => {
      const databases = docker.getContainer(containerName(task, "databases"));
      const records: ProbeRecord[] = [];
      const monitor = new HealthMonitor({
        policy: { interval: 5, timeout: 2, retries: 1, startPeriod: 0 },
        probe: (signal) =>
          execProbe(databases, ["CMD-SHELL", "echo still waiting; sleep 47"], signal),
        onProbe: (record) => records.push(record),
      });
      monitor.start();
      while (records.length === 0) await sleep(200);
      monitor.stop();
      assert.deepEqual(records[0].outcome, {
        exitCode: -1,
        output: "Health check exceeded timeout (2s): still waiting",
      });
      assert.ok(records[0].durationMs < 4_500, `the probe took ${records[0].durationMs} ms`);
      const top = await databases.top({ ps_args: "-eo pid,args" });
      const leftovers = ((top.Processes ?? []) as string[][]).filter((row) =>
        row.join(" ").includes("sleep 47"),
      );
      assert.deepEqual(
        leftovers,
        [],
        "the timed-out probe (and its sleep) must not be left running",
      );
    });

    it("serves tickets before the crash", async () => {
      for (const n of [1, 2, 3]) {
        const [status, ticket] = await json<Ticket>("POST", `${GATEWAY}/tickets`, {
          title: `restart e2e ${n} ${Date.now()}`,
          description: "must survive the gateway's restart",
        });
        assert.equal(status, 201);
        tickets.push(ticket);
      }
    });

    it(`restarts the gateway in place when its process dies after running ${PERIOD_SECONDS} s; the databases are untouched and no ticket is lost`, async () => {
      const gatewayStart = task.events.find(
        (e) => e.type === "container" && e.container === "api-gateway" && e.status === "RUNNING",
      )!.at;
      // Task time runs from the runner's start, a few ms after startedWall: 2 s of margin.
      const wait = gatewayStart + PERIOD_SECONDS * 1000 + 2_000 - (Date.now() - startedWall);
      if (wait > 0) await sleep(wait);
      const databases = await docker.getContainer(containerName(task, "databases")).inspect();
      databasesBefore = { id: databases.Id, startedAt: databases.State.StartedAt };
      const gateway = docker.getContainer(containerName(task, "api-gateway"));
      gatewayIdBefore = (await gateway.inspect()).Id;
      // A crash: the process dies at once and nothing tells the runner first.
      await gateway.kill({ signal: "SIGKILL" });
      const restart = (await task.waitFor(
        (e) => e.type === "restart" && e.container === "api-gateway",
        MINUTE,
      )) as Extract<TaskEvent, { type: "restart" }>;
      assert.equal(restart.exitCode, 137);
      assert.equal(restart.restartCount, 1);
      assert.ok(restart.ranForMs >= PERIOD_SECONDS * 1000, `ran ${restart.ranForMs} ms`);
      await task.waitFor(
        (e) =>
          e.type === "health" &&
          e.container === "api-gateway" &&
          e.status === "HEALTHY" &&
          e.at > restart.at,
        5 * MINUTE,
      );
      const after = await gateway.inspect();
      assert.equal(after.Id, gatewayIdBefore, "restarted in place: the same container");
      assert.equal(
        after.RestartCount,
        0,
        "restarted by the runner, not by a Docker restart policy",
      );
      const databasesAfter = await docker.getContainer(containerName(task, "databases")).inspect();
      assert.deepEqual(
        { id: databasesAfter.Id, startedAt: databasesAfter.State.StartedAt },
        databasesBefore,
      );
      assert.equal(databasesAfter.State.Running, true);
      assert.equal(
        task.events.some(
          (e) => e.type === "container" && e.container === "databases" && e.status === "STOPPED",
        ),
        false,
      );
      for (const ticket of tickets) {
        const [status, read] = await json<Ticket>("GET", `${GATEWAY}/tickets/${ticket.id}`);
        assert.equal(status, 200);
        assert.deepEqual(read, ticket);
      }
      assert.equal(
        task.events.some((e) => e.type === "task" && e.status === "STOPPING"),
        false,
        "the task keeps running",
      );
    });

    it(`a crash sooner than ${PERIOD_SECONDS} s after its restart is not restarted: the task stops with ECS's words, the gateway UNHEALTHY`, async () => {
      await docker.getContainer(containerName(task, "api-gateway")).kill({ signal: "SIGKILL" });
      result = await task.done;
      console.log(formatSummary(result));
      assert.equal(result.stoppedReason, STOPPED_REASONS.essentialContainerExited);
      assert.equal(result.stoppedReason, "Essential container in task exited");
      const stopped = result.events.find(
        (e): e is Extract<TaskEvent, { type: "container" }> =>
          e.type === "container" && e.container === "api-gateway" && e.status === "STOPPED",
      )!;
      assert.deepEqual(
        [stopped.exitCode, stopped.notRestarted],
        [137, "attempt reset period has not elapsed"],
      );
      const gateway = result.containers.find((c) => c.name === "api-gateway")!;
      assert.deepEqual([gateway.restarts, gateway.health], [1, "UNHEALTHY"]);
      const unhealthy = result.events.filter(
        (e): e is Extract<TaskEvent, { type: "health" }> =>
          e.type === "health" && e.container === "api-gateway" && e.status === "UNHEALTHY",
      );
      assert.deepEqual(
        unhealthy.map((e) => e.output),
        ["the container exited (exit code 137)"],
      );
      // The others stop because the task stops, each after its dependents: never restarted.
      assert.deepEqual(
        result.events
          .filter((e) => e.type === "restart")
          .map((e) => (e as { container: string }).container),
        ["api-gateway"],
      );
    });
  });
}

declareTests();
