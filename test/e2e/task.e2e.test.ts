/**
 * The local runner against the real engine and the real images: the dev stack's task becomes
 * HEALTHY (timed against the hand fix's settings), serves tickets through the gateway, and fails
 * exactly the ways ECS fails it. Run by scripts/test-e2e.sh with mocha's --delay: whether the
 * databases image has MongoDB is read from its label before the tests are declared, so the test
 * names say what is checked.
 */
import { strict as assert } from "assert";
import Docker from "dockerode";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { APP_PORTS } from "../../lib/containers";
import {
  HAND_FIX,
  appHealthCheckCommand,
  databasesHealthCheckCommand,
  healthCheckTimeline,
} from "../../lib/healthCheck";
import {
  ContainerOverrides,
  LOCAL_IMAGES,
  localConfig,
  localDefinitions,
} from "../../local/definitions";
import { buildAdaptations, checkImagesPresent, mongoAbsent } from "../../local/images";
import { loadLocalSecrets, localSecretResolver } from "../../local/secrets";
import { runService } from "../../local/service";
import {
  RunningTask,
  STOPPED_REASONS,
  TASK_LABEL,
  TaskEvent,
  TaskResult,
  startTask,
} from "../../local/task";
import { formatService, formatSummary } from "../../local/view";
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

/** Short policies for the failure tests: seconds per scenario instead of minutes. */
const FAST: ContainerOverrides = {
  databases: { interval: 5, timeout: 4, retries: 3, startPeriod: 120 },
  "api-gateway": { interval: 5, timeout: 4, retries: 3, startPeriod: 60 },
  "service-desk-host": { interval: 5, timeout: 4, retries: 3, startPeriod: 60 },
};

/**
 * The hand fix's timing (DESIGN.md) on the same images: the same checks, without aura-probe
 * (the hand fix had no memory), with its numbers.
 */
const HAND_FIX_OVERRIDES: ContainerOverrides = {
  databases: { ...HAND_FIX.databases, command: databasesHealthCheckCommand() },
  "api-gateway": { ...HAND_FIX.app, command: appHealthCheckCommand(APP_PORTS["api-gateway"]) },
  "service-desk-host": {
    ...HAND_FIX.app,
    command: appHealthCheckCommand(APP_PORTS["service-desk-host"]),
  },
};

/** Removes containers and volumes a crashed earlier run of this runner left behind (by label). */
async function removeLeftovers(): Promise<void> {
  await removeLeftoverContainers(docker);
  const volumes = await docker.listVolumes({ filters: { label: [TASK_LABEL] } });
  for (const volume of volumes.Volumes ?? []) {
    console.log(`      removing leftover volume ${volume.Name}`);
    await docker.getVolume(volume.Name).remove();
  }
}

function containerStops(
  result: TaskResult,
): { container: string; exitCode?: number; at: number }[] {
  return result.events
    .filter(
      (e): e is Extract<TaskEvent, { type: "container" }> =>
        e.type === "container" && e.status === "STOPPED",
    )
    .map((e) => ({ container: e.container, exitCode: e.exitCode, at: e.at }));
}

/** The fields of the service desk's answers that the tests read. */
interface Answer {
  id: number;
  title: string;
  status: string;
  detail: string;
  items: { id: number; action: string }[];
}

async function http(
  method: string,
  url: string,
  body?: unknown,
): Promise<{ status: number; json: Answer }> {
  const response = await fetch(url, {
    method,
    headers: requestHeaders(url, body !== undefined),
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, json: (text === "" ? {} : JSON.parse(text)) as Answer };
}

async function declareTests(): Promise<void> {
  await checkImagesPresent(docker, LOCAL_IMAGES);
  const withoutMongo = await mongoAbsent(docker, LOCAL_IMAGES.databases);
  const extraEnvironment = await buildAdaptations(docker, LOCAL_IMAGES);
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const secretsFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "aura-e2e-")), "local.env");
  const secrets = loadLocalSecrets(secretsFile);

  function start(label: string, overrides: ContainerOverrides = {}): RunningTask {
    const definitions = localDefinitions(localConfig("dev", overrides), LOCAL_IMAGES);
    return startTask(definitions, {
      docker,
      resolveSecret: localSecretResolver(secrets.values),
      extraEnvironment,
      recordProbes: true,
      onEvent: progress(label),
    });
  }

  describe("local runner on the real engine (e2e)", function () {
    // Each file runs its own gateway with its own keys; the module shares one "current" key.

    beforeEach(() => useApiKeyFrom(secrets.values));
    this.timeout(20 * MINUTE);

    before(async () => {
      await removeLeftovers();
      await waitForFreePorts();
    });

    describe("the dev stack's task with its own settings", () => {
      let task: RunningTask;
      let ours: TaskResult;

      before(async () => {
        await waitForFreePorts();
        task = start("dev");
      });

      after(async () => {
        task.stop();
        await task.done;
      });

      it("starts databases first, then the apps once it is HEALTHY, and every container becomes HEALTHY", async () => {
        await task.waitFor(
          (e) => e.type === "task-healthy" || (e.type === "task" && e.status === "STOPPING"),
          15 * MINUTE,
        );
        const healthy = task.events.filter(
          (e): e is Extract<TaskEvent, { type: "health" }> => e.type === "health",
        );
        assert.deepEqual(healthy.map((e) => [e.container, e.status]).sort(), [
          ["api-gateway", "HEALTHY"],
          ["databases", "HEALTHY"],
          ["service-desk-host", "HEALTHY"],
        ]);
        const databasesHealthy = healthy.find((e) => e.container === "databases")!.at;
        for (const app of ["api-gateway", "service-desk-host"]) {
          const started = task.events.find(
            (e) => e.type === "container" && e.container === app && e.status === "RUNNING",
          )!;
          assert.ok(
            started.at >= databasesHealthy,
            `${app} started at ${started.at} ms, before databases was HEALTHY at ${databasesHealthy} ms`,
          );
        }
      });

      it(
        withoutMongo
          ? "tickets are created, read, updated and listed through the gateway on 127.0.0.1:8000 (MongoDB absent in this build: activity log not checked)"
          : "tickets are created, read, updated and listed through the gateway on 127.0.0.1:8000, and their activity is in MongoDB",
        async () => {
          const title = `e2e ticket ${Date.now()}`;
          const created = await http("POST", `${GATEWAY}/tickets`, {
            title,
            description: "from the e2e test",
          });
          assert.equal(created.status, 201);
          assert.equal(created.json.title, title);
          assert.equal(created.json.status, "open");
          const id: number = created.json.id;

          const read = await http("GET", `${GATEWAY}/tickets/${id}`);
          assert.equal(read.status, 200);
          assert.deepEqual(read.json, created.json);

          const updated = await http("PATCH", `${GATEWAY}/tickets/${id}`, {
            status: "in_progress",
          });
          assert.equal(updated.status, 200);
          assert.equal(updated.json.status, "in_progress");
          const reread = await http("GET", `${GATEWAY}/tickets/${id}`);
          assert.equal(reread.json.status, "in_progress");

          const listed = await http("GET", `${GATEWAY}/tickets?limit=100`);
          assert.equal(listed.status, 200);
          const mine = listed.json.items.filter((t) => t.id === id);
          assert.deepEqual(mine, [reread.json]);

          const activity = await http("GET", `${GATEWAY}/tickets/${id}/activity`);
          if (withoutMongo) {
            assert.equal(activity.status, 501);
            assert.equal(
              activity.json.detail,
              "the activity log is disabled (MONGO_ENABLED=false)",
            );
          } else {
            assert.equal(activity.status, 200);
            assert.deepEqual(
              activity.json.items.map((entry) => entry.action),
              ["created", "status_changed"],
            );
          }
        },
      );

      it("stops on request: apps first, then the databases, all exiting 0, PostgreSQL shut down cleanly", async () => {
        task.stop();
        ours = await task.done;
        console.log(formatSummary(ours));
        assert.equal(ours.stoppedReason, "Task stopped by user");
        // The two apps stop in parallel (either may finish first); the databases only after both.
        const stops = containerStops(ours).map((s) => [s.container, s.exitCode]);
        assert.deepEqual(stops.slice(0, 2).sort(), [
          ["api-gateway", 0],
          ["service-desk-host", 0],
        ]);
        assert.deepEqual(stops.slice(2), [["databases", 0]]);
        assert.ok(
          logLines(ours.events, "databases").some((line) =>
            line.includes("database system is shut down"),
          ),
        );
        recordTimings({ ours });
      });

      it("with the hand fix's settings (interval 30 s) the same images take longer to be all HEALTHY", async () => {
        await waitForFreePorts();
        const handFixTask = start("hand-fix", HAND_FIX_OVERRIDES);
        await handFixTask.waitFor(
          (e) => e.type === "task-healthy" || (e.type === "task" && e.status === "STOPPING"),
          15 * MINUTE,
        );
        handFixTask.stop();
        const handFix = await handFixTask.done;
        console.log(formatSummary(handFix));
        assert.notEqual(
          handFix.allHealthyAt,
          undefined,
          "the hand-fix task never became all HEALTHY",
        );
        const timings = recordTimings({ ours, handFix });
        assert.ok(
          timings.ratio! > 1,
          `hand fix ${handFix.allHealthyAt} ms vs ours ${ours.allHealthyAt} ms`,
        );
        // Faster, and no less tolerant than the hand fix in any phase.
        for (const name of Object.keys(timings.ours!.healthChecks)) {
          const mine = timings.ours!.healthChecks[name].tolerance;
          const theirs = timings.handFix!.healthChecks[name].tolerance;
          assert.ok(mine.firstBoot >= theirs.firstBoot, `${name} first boot`);
          assert.ok(mine.steadyFailingFast >= theirs.steadyFailingFast, `${name} failing fast`);
          assert.ok(mine.steadyHanging >= theirs.steadyHanging, `${name} hanging`);
        }
      });
    });

    describe("the original restart loop", () => {
      it("a curl health check in an image without curl: UNHEALTHY, 'Task failed container health checks', replaced until the cap of 2", async () => {
        const loop: ContainerOverrides = {
          ...FAST,
          "api-gateway": {
            command: ["CMD-SHELL", "curl -f http://127.0.0.1:8000/health || exit 1"],
            interval: 5,
            timeout: 2,
            retries: 2,
            startPeriod: 0,
          },
        };
        await waitForFreePorts();
        // Each replacement waits for free ports only because other suites share this machine's
        // loopback; with the ports free it starts at once, as the scheduler does.
        const service = runService(
          async (number) => {
            await waitForFreePorts();
            return start(`loop-${number}`, loop);
          },
          {
            replacements: 2,
            onTaskStopped: (result, number) => console.log(formatSummary(result, number)),
          },
        );
        const result = await service.done;
        console.log(formatService(result));
        assert.equal(result.tasks.length, 3);
        assert.equal(result.capReached, true);
        assert.deepEqual(result.reasons, [
          "Task failed container health checks",
          "Task failed container health checks",
          "Task failed container health checks",
        ]);
        for (const task of result.tasks) {
          const unhealthy = task.events.find(
            (e): e is Extract<TaskEvent, { type: "health" }> =>
              e.type === "health" && e.status === "UNHEALTHY",
          )!;
          assert.equal(unhealthy.container, "api-gateway");
          assert.equal(unhealthy.output, "/bin/sh: 1: curl: not found");
          // Probes at 5 s and one interval after the first ended; two failures (retries 2) make
          // it UNHEALTHY when the second ends: 10 s plus the two probes' run times (2 s at most each).
          assert.ok(
            unhealthy.sinceStart >= 10_000 && unhealthy.sinceStart <= 14_000,
            `UNHEALTHY ${unhealthy.sinceStart} ms after start`,
          );
          const gateway = task.containers.find((c) => c.name === "api-gateway")!;
          assert.equal(gateway.health, "UNHEALTHY");
        }
      });
    });

    describe("a databases container slower than its startTimeout", () => {
      it("the apps never start (exit 143, the agent's dependency error) and the task stops: 'Essential container in task exited'", async () => {
        // With interval 30 s the first probe runs at 30 s; startTimeout 10 s runs out before any
        // probe can pass. (The default 5 s interval would pass a probe at 10 s; a shorter
        // startTimeout would stop the databases in the middle of their first initialisation.)
        await waitForFreePorts();
        const result = await start("start-timeout", {
          databases: { startTimeout: 10, interval: 30 },
        }).done;
        console.log(formatSummary(result));
        assert.equal(result.stoppedReason, STOPPED_REASONS.essentialContainerExited);
        const byName = new Map(result.containers.map((c) => [c.name, c]));
        for (const app of ["api-gateway", "service-desk-host"]) {
          // Created at task start, unlike on ECS (see local/task.ts create()), but never started.
          assert.notEqual(byName.get(app)!.createdAt, undefined);
          assert.equal(byName.get(app)!.startedAt, undefined);
          assert.equal(byName.get(app)!.exitCode, 143);
          assert.equal(
            byName.get(app)!.reason,
            `CannotStartContainerError: dependency graph: container ordering dependency [databases] for target [${app}] has timed out.`,
          );
        }
        const databases = byName.get("databases")!;
        // Stopped before its first probe passed: an exited container is UNHEALTHY from then on.
        assert.equal(databases.health, "UNHEALTHY");
        assert.equal(databases.exitCode, 0);
        const failedAt = result.events.find(
          (e) => e.type === "container" && e.exitCode === 143,
        )!.at;
        assert.ok(
          failedAt - databases.startedAt! >= 10_000 && failedAt - databases.startedAt! < 11_000,
        );
      });
    });

    describe("an essential app container that exits", () => {
      it("stops the task ('Essential container in task exited'); the gateway, then the databases stop cleanly", async () => {
        await waitForFreePorts();
        const task = start("app-exit", FAST);
        await task.waitFor((e) => e.type === "task-healthy", 15 * MINUTE);
        // A crash, not a stop: the process dies at once and nothing tells the runner first.
        await docker
          .getContainer(`aura-local-${task.taskId}-service-desk-host`)
          .kill({ signal: "SIGKILL" });
        const result = await task.done;
        console.log(formatSummary(result));
        assert.equal(result.stoppedReason, "Essential container in task exited");
        assert.deepEqual(
          containerStops(result).map((s) => [s.container, s.exitCode]),
          [
            ["service-desk-host", 137],
            ["api-gateway", 0],
            ["databases", 0],
          ],
        );
        assert.ok(
          logLines(result.events, "databases").some((line) =>
            line.includes("database system is shut down"),
          ),
        );
      });
    });
  });
}

interface Timings {
  measuredAt: string;
  machine: { cpus: number; storageDriver: string };
  ours?: ReturnType<typeof timingOf>;
  handFix?: ReturnType<typeof timingOf>;
  /** handFix / ours for the time to all-HEALTHY. */
  ratio?: number;
}

/** Each container's health check as the task ran it, and the tolerance it gives in each phase. */
function policiesOf(overrides: ContainerOverrides) {
  const config = localConfig("dev", overrides);
  return Object.fromEntries(
    Object.entries(config.containers).map(([name, settings]) => {
      const { command, interval, timeout, retries, startPeriod } = settings.healthCheck;
      const timeline = healthCheckTimeline(settings.healthCheck);
      return [
        name,
        {
          command,
          interval,
          timeout,
          retries,
          startPeriod,
          tolerance: {
            firstBoot: timeline.earliestUnhealthy,
            steadyFailingFast: timeline.steadyFailingFast,
            steadyHanging: timeline.steadyHanging,
            detectionLatency: timeline.detectionLatency,
          },
        },
      ];
    }),
  );
}

function timingOf(result: TaskResult, overrides: ContainerOverrides) {
  return {
    healthChecks: policiesOf(overrides),
    allHealthySeconds: result.allHealthyAt === undefined ? undefined : result.allHealthyAt / 1000,
    containers: Object.fromEntries(
      result.containers.map((c) => [
        c.name,
        {
          startedSeconds: c.startedAt === undefined ? undefined : c.startedAt / 1000,
          healthySeconds: c.healthyAt === undefined ? undefined : c.healthyAt / 1000,
          timeToHealthySeconds: c.timeToHealthy === undefined ? undefined : c.timeToHealthy / 1000,
        },
      ]),
    ),
  };
}

let storageDriver = "unknown";

function recordTimings(results: { ours: TaskResult; handFix?: TaskResult }): Timings {
  const timings: Timings = {
    measuredAt: new Date().toISOString(),
    machine: { cpus: os.cpus().length, storageDriver },
    ours: timingOf(results.ours, {}),
  };
  if (results.handFix !== undefined) {
    timings.handFix = timingOf(results.handFix, HAND_FIX_OVERRIDES);
    timings.ratio = Number((results.handFix.allHealthyAt! / results.ours.allHealthyAt!).toFixed(2));
  }
  const file = path.join(RESULTS_DIR, "e2e-timings.json");
  fs.writeFileSync(file, `${JSON.stringify(timings, null, 2)}\n`);
  console.log(
    `      time to all-HEALTHY: ours ${timings.ours?.allHealthySeconds} s` +
      (timings.handFix !== undefined
        ? `, hand fix ${timings.handFix.allHealthySeconds} s, ratio ${timings.ratio} (written to ${file})`
        : ""),
  );
  return timings;
}

docker
  .info()
  .then((info: { Driver: string }) => {
    storageDriver = info.Driver;
    return declareTests();
  })
  .then(
    () => run(),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
