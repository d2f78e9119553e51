import { strict as assert } from "assert";
import {
  Deployment,
  DescribeServicesCommand,
  DescribeTasksCommand,
  ECSClient,
  HealthStatus,
  ListTasksCommand,
  Service,
  ServiceEvent,
  Task,
} from "@aws-sdk/client-ecs";
import { mockClient } from "aws-sdk-client-mock";
import { parseAuraConfig } from "../../lib/config";
import { deployOutage, describeDeployOutage, launchSeconds } from "../../lib/preflight";
import { deployPlan, latestUnhealthyAt, rolloutBudget, RolloutTarget } from "../../lib/rollout";
import {
  Clock,
  RolloutCallError,
  RolloutFailedError,
  waitForRollout,
} from "../../lib/rolloutCheck";
import { readStackConfig } from "../../lib/stackFile";
import { serviceGracePeriod } from "../../lib/service";
import { ProgramRun, runProgram } from "../mocks";
import { classifyStoppedTask } from "../../tools/diagnose/classify";
import { TEXTS, stoppedTask, taskArn, taskDefinitionArn } from "./diagnose.fixtures";

const NEW = "ecs-svc/2222222222222222222";
const OLD = "ecs-svc/1111111111111111111";
const CREATED = new Date("2026-11-28T23:00:00.000Z");

const TARGET: RolloutTarget = {
  cluster: "aura-dev-cluster",
  service: "aura-dev-service",
  taskDefinitionArn: taskDefinitionArn(8),
  budgetSeconds: 2235,
  threshold: 3,
};

function deployment(
  id: string,
  revision: number,
  fields: Partial<Deployment> & Pick<Deployment, "status" | "rolloutState">,
): Deployment {
  return {
    id,
    taskDefinition: taskDefinitionArn(revision),
    desiredCount: 1,
    runningCount: 0,
    pendingCount: 0,
    failedTasks: 0,
    createdAt: id === NEW ? CREATED : new Date("2026-11-20T10:00:00.000Z"),
    ...fields,
  };
}

function service(deployments: Deployment[], events: ServiceEvent[] = []): Service {
  return {
    serviceName: "aura-dev-service",
    status: "ACTIVE",
    desiredCount: 1,
    runningCount: 0,
    taskDefinition: deployments[0].taskDefinition,
    deployments,
    events,
  };
}

function event(message: string, minutesAfterCreated: number): ServiceEvent {
  return {
    id: `event-${minutesAfterCreated}`,
    createdAt: new Date(CREATED.getTime() + minutesAfterCreated * 60_000),
    message,
  };
}

/** A task of the new deployment that has not stopped. */
function liveTask(
  id: string,
  lastStatus: string,
  health: { task?: HealthStatus; databases?: HealthStatus; apps?: HealthStatus } = {},
): Task {
  return {
    taskArn: taskArn(id),
    taskDefinitionArn: taskDefinitionArn(8),
    startedBy: NEW,
    lastStatus,
    desiredStatus: "RUNNING",
    healthStatus: health.task ?? "UNKNOWN",
    createdAt: new Date(CREATED.getTime() + 5_000),
    containers: [
      { name: "databases", healthStatus: health.databases ?? "UNKNOWN" },
      { name: "api-gateway", healthStatus: health.apps ?? "UNKNOWN" },
      { name: "service-desk-host", healthStatus: health.apps ?? "UNKNOWN" },
    ],
  };
}

/** A stopped task of the new deployment (revision 8, started by NEW). */
function failedTask(id: string, spec: Parameters<typeof stoppedTask>[1]): Task {
  return { ...stoppedTask(id, spec), startedBy: NEW };
}

interface Reading {
  readonly service: Service;
  readonly running?: Task[];
  readonly stopped?: Task[];
}

/** A fake clock: sleeping moves it forward at once, and every sleep is recorded. */
function fakeClock(): Clock & { sleeps: number[] } {
  let now = 0;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => now,
    sleep: async (milliseconds) => {
      sleeps.push(milliseconds);
      now += milliseconds;
    },
  };
}

/** ECS answering each reading in turn (the last one again if asked more often). */
function ecsReading(readings: readonly Reading[]) {
  const client = new ECSClient({ region: "us-east-2" });
  const ecs = mockClient(client);
  let index = -1;
  const current = () => readings[Math.min(index, readings.length - 1)];
  ecs.on(DescribeServicesCommand).callsFake(() => {
    index++;
    return { services: [current().service] };
  });
  ecs.on(ListTasksCommand).callsFake((input) => ({
    taskArns: (input.desiredStatus === "STOPPED"
      ? (current().stopped ?? [])
      : (current().running ?? [])
    ).map((task) => task.taskArn!),
  }));
  ecs.on(DescribeTasksCommand).callsFake((input) => ({
    tasks: [...(current().running ?? []), ...(current().stopped ?? [])].filter((task) =>
      input.tasks.includes(task.taskArn!),
    ),
  }));
  return { client, ecs };
}

async function watch(readings: readonly Reading[], target: RolloutTarget = TARGET) {
  const { client, ecs } = ecsReading(readings);
  const clock = fakeClock();
  const log: string[] = [];
  const outcome = await waitForRollout(target, {
    ecs: client,
    stack: "dev",
    clock,
    log: (line) => log.push(line),
  }).then(
    (result) => ({ result, error: undefined }),
    (error: Error) => ({ result: undefined, error }),
  );
  return { ...outcome, log, clock, ecs };
}

/**
 * The lines the message gives a stopped task: its cause (asserted literally) with the
 * explanation and fix of the diagnose classifier, the one classifier both commands share (its
 * wording is the classifier's own tests' business).
 */
function stoppedLines(task: Task, cause: string): string[] {
  const diagnosis = classifyStoppedTask(task);
  assert.equal(diagnosis.cause, cause);
  return [
    `  - task ${task.taskArn!.slice(task.taskArn!.lastIndexOf("/") + 1)}: ${cause}: ${diagnosis.explanation}`,
    `    stopped reason: ${task.stoppedReason}`,
    `    fix: ${diagnosis.fix}`,
  ];
}

describe("rollout verification: a completed rollout", () => {
  it("resolves when the deployment of this task definition is COMPLETED, logging each change", async () => {
    const old = deployment(OLD, 7, {
      status: "ACTIVE",
      rolloutState: "COMPLETED",
      runningCount: 1,
    });
    const { result, error, log, clock } = await watch([
      {
        service: service([
          deployment(NEW, 8, { status: "PRIMARY", rolloutState: "IN_PROGRESS" }),
          old,
        ]),
        running: [liveTask("t1", "PROVISIONING")],
      },
      {
        service: service([deployment(NEW, 8, { status: "PRIMARY", rolloutState: "IN_PROGRESS" })]),
        running: [liveTask("t1", "RUNNING", { databases: "HEALTHY" })],
      },
      {
        service: service([
          deployment(NEW, 8, { status: "PRIMARY", rolloutState: "COMPLETED", runningCount: 1 }),
        ]),
        running: [
          liveTask("t1", "RUNNING", { task: "HEALTHY", databases: "HEALTHY", apps: "HEALTHY" }),
        ],
      },
    ]);
    assert.equal(error, undefined);
    assert.deepEqual(result, {
      deploymentId: NEW,
      taskDefinitionArn: taskDefinitionArn(8),
      summary: `deployment ${NEW} of aura-app-dev:8 COMPLETED after 20 s (1 of 1 task(s) running)`,
    });
    assert.deepEqual(log, [
      "rollout: watching aura-dev-service for aura-app-dev:8 (budget 2235 s)",
      `rollout: deployment ${NEW} (aura-app-dev:8): IN_PROGRESS, 0 failed task(s) of the 3 that trip the circuit breaker`,
      "rollout: task t1 PROVISIONING",
      "rollout: task t1 RUNNING; HEALTHY: databases",
      `rollout: deployment ${NEW} (aura-app-dev:8): COMPLETED, 0 failed task(s) of the 3 that trip the circuit breaker`,
      "rollout: task t1 HEALTHY (all containers)",
      `rollout: deployment ${NEW} of aura-app-dev:8 COMPLETED after 20 s (1 of 1 task(s) running)`,
    ]);
    assert.deepEqual(clock.sleeps, [10_000, 10_000]);
  });
});

describe("rollout verification: failures fail pulumi up with the cause", () => {
  it("a rollback after three failed container health checks names the revision and each cause", async () => {
    const unhealthy = (id: string, minute: number) =>
      failedTask(id, {
        stopCode: "ServiceSchedulerInitiated",
        stoppedReason: TEXTS.containerHealth,
        stoppedAt: new Date(CREATED.getTime() + minute * 60_000).toISOString(),
        containers: {
          databases: { healthStatus: "HEALTHY", exitCode: 0 },
          "api-gateway": { healthStatus: "UNHEALTHY", exitCode: 143 },
          "service-desk-host": { healthStatus: "HEALTHY", exitCode: 143 },
        },
      });
    const { error, log } = await watch([
      {
        service: service([
          deployment(NEW, 8, { status: "PRIMARY", rolloutState: "IN_PROGRESS", failedTasks: 1 }),
        ]),
        stopped: [unhealthy("t1", 8)],
      },
      {
        service: service(
          [
            deployment(OLD, 7, { status: "PRIMARY", rolloutState: "IN_PROGRESS" }),
            deployment(NEW, 8, {
              status: "ACTIVE",
              rolloutState: "FAILED",
              rolloutStateReason: "ECS deployment circuit breaker: tasks failed to start.",
              failedTasks: 3,
            }),
          ],
          [
            event(`(service aura-dev-service) rolling back to deployment ${OLD}.`, 24),
            event(
              `(service aura-dev-service) (deployment ${NEW}) deployment failed: tasks failed to start.`,
              24,
            ),
          ],
        ),
        stopped: [unhealthy("t1", 8), unhealthy("t2", 16), unhealthy("t3", 24)],
      },
    ]);
    assert.ok(error instanceof RolloutFailedError);
    const task = (id: string) => stoppedLines(unhealthy(id, 8), "container-health-check");
    assert.equal(
      error.message,
      [
        `Deployment ${NEW} of aura-app-dev:8 to service aura-dev-service did not complete: it FAILED after 3 failed task(s) (ECS deployment circuit breaker: tasks failed to start.). ECS rolled back to revision 7 (aura-app-dev:7, deployment ${OLD}): the service runs the previous release, not this one.`,
        "Stopped tasks of this deployment (3):",
        ...task("t1"),
        ...task("t2"),
        ...task("t3"),
        "Logs and events: npm run diagnose -- --stack dev",
      ].join("\n"),
    );
    assert.deepEqual(log.slice(1, 4), [
      `rollout: deployment ${NEW} (aura-app-dev:8): IN_PROGRESS, 1 failed task(s) of the 3 that trip the circuit breaker`,
      "rollout: task t1 stopped: Task failed container health checks (container-health-check)",
      `rollout: deployment ${NEW} (aura-app-dev:8): FAILED, 3 failed task(s) of the 3 that trip the circuit breaker`,
    ]);
  });

  it("a first deploy that trips the breaker with nothing to roll back to says it is stalled", async () => {
    const crashed = (id: string) =>
      failedTask(id, {
        stopCode: "EssentialContainerExited",
        stoppedReason: TEXTS.essentialExited,
        containers: {
          databases: { exitCode: 143 },
          "api-gateway": { exitCode: 143 },
          "service-desk-host": { exitCode: 1 },
        },
      });
    const { error } = await watch([
      {
        service: service([
          deployment(NEW, 8, {
            status: "PRIMARY",
            rolloutState: "IN_PROGRESS",
            failedTasks: 3,
          }),
        ]),
        stopped: [crashed("t1"), crashed("t2"), crashed("t3")],
      },
    ]);
    assert.ok(error instanceof RolloutFailedError);
    const task = (id: string) => stoppedLines(crashed(id), "essential-container-exited");
    assert.equal(
      error.message,
      [
        `Deployment ${NEW} of aura-app-dev:8 to service aura-dev-service did not complete: 3 task(s) failed, the circuit breaker's threshold of 3, and ECS has no earlier COMPLETED deployment to roll back to (a first deploy): the deployment is stalled and the service runs no healthy task.`,
        "Stopped tasks of this deployment (3):",
        ...task("t1"),
        ...task("t2"),
        ...task("t3"),
        "Logs and events: npm run diagnose -- --stack dev",
      ].join("\n"),
    );
  });

  it("a first deploy the breaker FAILED with no rollback target is stalled too", async () => {
    const { error } = await watch([
      {
        service: service([
          deployment(NEW, 8, {
            status: "PRIMARY",
            rolloutState: "FAILED",
            rolloutStateReason: "ECS deployment circuit breaker: tasks failed to start.",
            failedTasks: 3,
          }),
        ]),
      },
    ]);
    assert.equal(
      error?.message.split("\n")[0],
      `Deployment ${NEW} of aura-app-dev:8 to service aura-dev-service did not complete: it FAILED after 3 failed task(s) (ECS deployment circuit breaker: tasks failed to start.). ECS has no earlier COMPLETED deployment to roll back to (a first deploy), so the deployment is stalled and the service runs no healthy task until a fixed release is deployed.`,
    );
  });

  it("image pull failures name the platform that is missing and the fix", async () => {
    const pull = (id: string) =>
      failedTask(id, {
        stopCode: "TaskFailedToStart",
        started: false,
        stoppedReason: TEXTS.platform,
        containers: { databases: { reason: TEXTS.platform } },
      });
    const { error } = await watch([
      {
        service: service([
          deployment(OLD, 7, { status: "PRIMARY", rolloutState: "IN_PROGRESS" }),
          deployment(NEW, 8, {
            status: "ACTIVE",
            rolloutState: "FAILED",
            rolloutStateReason: "ECS deployment circuit breaker: tasks failed to start.",
            failedTasks: 3,
          }),
        ]),
        stopped: [pull("p1"), pull("p2"), pull("p3")],
      },
    ]);
    const task = (id: string) => stoppedLines(pull(id), "wrong-platform");
    assert.equal(
      error?.message,
      [
        `Deployment ${NEW} of aura-app-dev:8 to service aura-dev-service did not complete: it FAILED after 3 failed task(s) (ECS deployment circuit breaker: tasks failed to start.). ECS rolled back to revision 7 (aura-app-dev:7, deployment ${OLD}): the service runs the previous release, not this one.`,
        "Stopped tasks of this deployment (3):",
        ...task("p1"),
        ...task("p2"),
        ...task("p3"),
        "Logs and events: npm run diagnose -- --stack dev",
      ].join("\n"),
    );
  });

  it("tasks that never start (SERVICE_TASK_START_IMPAIRED) fail at once: ECS is backing off", async () => {
    const impaired =
      "(service aura-dev-service) is unable to consistently start tasks successfully. For more information, see the Troubleshooting section of the Amazon ECS Developer Guide.";
    const secrets = (id: string) =>
      failedTask(id, {
        stopCode: "TaskFailedToStart",
        started: false,
        stoppedReason: TEXTS.secretsDenied,
      });
    const { error, clock } = await watch([
      {
        service: service([
          deployment(NEW, 8, { status: "PRIMARY", rolloutState: "IN_PROGRESS", failedTasks: 1 }),
          deployment(OLD, 7, { status: "ACTIVE", rolloutState: "COMPLETED" }),
        ]),
        stopped: [secrets("s1")],
      },
      {
        service: service(
          [
            deployment(NEW, 8, { status: "PRIMARY", rolloutState: "IN_PROGRESS", failedTasks: 2 }),
            deployment(OLD, 7, { status: "ACTIVE", rolloutState: "COMPLETED" }),
          ],
          // An impaired start from before this deployment does not count.
          [event(impaired, 3), event(impaired, -60)],
        ),
        stopped: [secrets("s1"), secrets("s2")],
      },
    ]);
    const task = (id: string) => stoppedLines(secrets(id), "secret-access-denied");
    assert.equal(
      error?.message,
      [
        `Deployment ${NEW} of aura-app-dev:8 to service aura-dev-service did not complete: ECS is still retrying with back-off (SERVICE_TASK_START_IMPAIRED: "${impaired}"), 2 of the 3 failed tasks that trip the circuit breaker so far.`,
        "Stopped tasks of this deployment (2):",
        ...task("s1"),
        ...task("s2"),
        "Logs and events: npm run diagnose -- --stack dev",
      ].join("\n"),
    );
    assert.deepEqual(clock.sleeps, [10_000]);
  });

  it("a deployment still in progress when the budget runs out says ECS is still retrying", async () => {
    const { error, clock, ecs } = await watch(
      [
        {
          service: service([
            deployment(NEW, 8, { status: "PRIMARY", rolloutState: "IN_PROGRESS", failedTasks: 1 }),
            deployment(OLD, 7, { status: "ACTIVE", rolloutState: "COMPLETED", runningCount: 1 }),
          ]),
          running: [liveTask("t2", "PENDING")],
        },
      ],
      { ...TARGET, budgetSeconds: 30 },
    );
    assert.equal(
      error?.message,
      [
        `Deployment ${NEW} of aura-app-dev:8 to service aura-dev-service did not complete: it is still IN_PROGRESS after the budget of 30 s: ECS is still retrying (1 of the 3 failed tasks that trip the circuit breaker, 0 of 1 task(s) running).`,
        "No task of this deployment has stopped yet.",
        "Logs and events: npm run diagnose -- --stack dev",
      ].join("\n"),
    );
    // Readings at 0, 10, 20, 30 and 40 s: the one past 30 s ends it.
    assert.deepEqual(clock.sleeps, [10_000, 10_000, 10_000, 10_000]);
    assert.equal(ecs.commandCalls(DescribeServicesCommand).length, 5);
  });

  it("a service that no longer runs this revision says it was rolled back and how to redeploy", async () => {
    const { error } = await watch([
      {
        service: service([deployment(OLD, 7, { status: "PRIMARY", rolloutState: "COMPLETED" })]),
      },
    ]);
    assert.equal(
      error?.message,
      [
        "The rollout of aura-app-dev:8 to service aura-dev-service did not complete: no deployment runs it; the service runs aura-app-dev:7. ECS rolled back an earlier attempt of this revision, or the service was changed outside Pulumi: fix the cause, then run pulumi up --refresh so that the service is updated to revision 8 again.",
        "No task of this deployment has stopped yet.",
        "Logs and events: npm run diagnose -- --stack dev",
      ].join("\n"),
    );
  });
});

describe("rollout verification: AWS errors", () => {
  const completed = service([
    deployment(NEW, 8, { status: "PRIMARY", rolloutState: "COMPLETED", runningCount: 1 }),
  ]);

  it("retries throttling with back-off, then succeeds", async () => {
    const client = new ECSClient({ region: "us-east-2" });
    const ecs = mockClient(client);
    const throttled = Object.assign(new Error("Rate exceeded"), { name: "ThrottlingException" });
    ecs
      .on(DescribeServicesCommand)
      .rejectsOnce(throttled)
      .rejectsOnce(throttled)
      .resolves({ services: [completed] });
    ecs.on(ListTasksCommand).resolves({ taskArns: [] });
    const clock = fakeClock();
    const log: string[] = [];
    const result = await waitForRollout(TARGET, {
      ecs: client,
      stack: "dev",
      clock,
      log: (line) => log.push(line),
    });
    assert.equal(result.deploymentId, NEW);
    assert.deepEqual(clock.sleeps, [1000, 2000]);
    assert.deepEqual(log.slice(1, 3), [
      "ecs:DescribeServices was throttled; retrying in 1 s",
      "ecs:DescribeServices was throttled; retrying in 2 s",
    ]);
  });

  it("gives up on throttling after the retries, naming the call", async () => {
    const client = new ECSClient({ region: "us-east-2" });
    mockClient(client)
      .on(DescribeServicesCommand)
      .rejects(Object.assign(new Error("Rate exceeded"), { name: "ThrottlingException" }));
    const clock = fakeClock();
    await assert.rejects(
      waitForRollout(TARGET, { ecs: client, stack: "dev", clock, log: () => undefined }),
      (error: Error) => {
        assert.ok(error instanceof RolloutCallError);
        assert.equal(
          error.message,
          "The rollout check's call ecs:DescribeServices was still throttled after 6 retries with back-off (ThrottlingException: Rate exceeded). Run pulumi up again when the account's ECS API rate allows.",
        );
        return true;
      },
    );
    assert.deepEqual(clock.sleeps, [1000, 2000, 4000, 8000, 16000, 20000]);
  });

  it("missing credentials and denied calls each say what to do, naming the call", async () => {
    const cases = [
      {
        error: Object.assign(new Error("Could not load credentials from any providers"), {
          name: "CredentialsProviderError",
        }),
        message:
          "The rollout check could not call ecs:DescribeServices: no AWS credentials were found (Could not load credentials from any providers). Set AWS_PROFILE (after aws configure or aws sso login) or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, the same credentials pulumi up uses, and run pulumi up again.",
      },
      {
        error: Object.assign(
          new Error(
            "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: ecs:DescribeServices",
          ),
          { name: "AccessDeniedException" },
        ),
        message:
          "The rollout check's call ecs:DescribeServices was denied (AccessDeniedException: User: arn:aws:iam::123456789012:user/ci is not authorized to perform: ecs:DescribeServices). Allow ecs:DescribeServices, ecs:ListTasks and ecs:DescribeTasks to the identity that runs pulumi up.",
      },
    ];
    for (const { error, message } of cases) {
      const client = new ECSClient({ region: "us-east-2" });
      mockClient(client).on(DescribeServicesCommand).rejects(error);
      await assert.rejects(
        waitForRollout(TARGET, {
          ecs: client,
          stack: "dev",
          clock: fakeClock(),
          log: () => undefined,
        }),
        { name: "RolloutCallError", message },
      );
    }
  });

  it("a denied ListTasks is named as ListTasks", async () => {
    const client = new ECSClient({ region: "us-east-2" });
    const ecs = mockClient(client);
    ecs.on(DescribeServicesCommand).resolves({ services: [completed] });
    ecs
      .on(ListTasksCommand)
      .rejects(Object.assign(new Error("not authorized"), { name: "AccessDeniedException" }));
    await assert.rejects(
      waitForRollout(TARGET, {
        ecs: client,
        stack: "dev",
        clock: fakeClock(),
        log: () => undefined,
      }),
      {
        message:
          "The rollout check's call ecs:ListTasks was denied (AccessDeniedException: not authorized). Allow ecs:DescribeServices, ecs:ListTasks and ecs:DescribeTasks to the identity that runs pulumi up.",
      },
    );
  });
});

describe("rollout budget", () => {
  const config = parseAuraConfig(readStackConfig("dev"), "dev");

  it("lets a hung probe take its full timeout: the latest UNHEALTHY of each default check", () => {
    assert.equal(latestUnhealthyAt(config.containers.databases.healthCheck), 400);
    assert.equal(latestUnhealthyAt(config.containers["api-gateway"].healthCheck), 200);
    // interval 5, timeout 2, no start period, 3 retries: probes end at 7, 14, 21 s.
    assert.equal(latestUnhealthyAt({ interval: 5, timeout: 2, retries: 3, startPeriod: 0 }), 21);
  });

  it("covers the breaker's threshold of tasks, each failing as late as the settings allow", () => {
    const budget = rolloutBudget({
      containers: config.containers,
      storage: "efs",
      healthCheckGracePeriodSeconds: serviceGracePeriod(config.containers),
      targetGroupUnhealthyAfter: 30,
      threshold: 3,
      launchSeconds: launchSeconds(),
      bakeSeconds: 120,
    });
    // launch 10 + 680 MB / 40 MB/s; the gateway condemned at 400 + 200 s; stop 120 s.
    assert.deepEqual(budget, {
      failedTaskSeconds: 27 + 600 + 120,
      threshold: 3,
      bakeSeconds: 120,
      seconds: 3 * 747 + 120,
      launchSeconds: 27,
      condemnedAt: 600,
      stopSeconds: 120,
    });
    // More than the aws provider's 20-minute default wait, which would time out first.
    assert.ok(budget.seconds > 20 * 60);
  });

  it("takes the ALB's verdict when it comes later than the container checks", () => {
    const budget = rolloutBudget({
      containers: config.containers,
      storage: "efs",
      healthCheckGracePeriodSeconds: 900,
      targetGroupUnhealthyAfter: 30,
      threshold: 3,
      launchSeconds: 27,
      bakeSeconds: 120,
    });
    assert.equal(budget.condemnedAt, 930);
  });
});

describe("rollout verification in the program", function () {
  this.timeout(20000);
  let update: ProgramRun;
  let preview: ProgramRun;

  before(async () => {
    update = await runProgram();
    preview = await runProgram({ preview: true });
  });

  it("makes no AWS call in a preview, whose rollout output equals the update's", () => {
    assert.deepEqual(preview.ecs, []);
    // The revision: a preview of the unchanged stack shows no change to the output.
    assert.equal(preview.outputs.rollout, "aura-app-dev:1");
    assert.equal(update.outputs.rollout, "aura-app-dev:1");
  });

  it("on pulumi up reads the service and logs the rollout's progress", () => {
    assert.equal(update.ecs.length, 1);
    const calls = update.ecs[0].stub.calls().map((call) => call.args[0].constructor.name);
    assert.deepEqual(calls, ["DescribeServicesCommand", "ListTasksCommand", "ListTasksCommand"]);
    assert.deepEqual(
      update.infos.filter((line) => line.startsWith("rollout: ")),
      [
        "rollout: watching aura-dev-service for aura-app-dev:1 (budget 2361 s)",
        "rollout: deployment ecs-svc/1000000000000000001 (aura-app-dev:1): COMPLETED, 0 failed task(s) of the 3 that trip the circuit breaker",
        "rollout: deployment ecs-svc/1000000000000000001 of aura-app-dev:1 COMPLETED after 0 s (1 of 1 task(s) running)",
      ],
    );
  });
});

describe("deploy outage model", () => {
  const config = parseAuraConfig(readStackConfig("dev"), "dev");
  const input = {
    storage: "efs" as const,
    containers: config.containers,
    deregistrationDelay: 10,
    targetGroup: { healthyThreshold: 2, interval: 10 },
  };

  it("adds up the one-writer deploy's terms from the program's settings: 80 s by default", () => {
    const outage = deployOutage({
      ...input,
      deployment: { desiredCount: 1, minimumHealthyPercent: 0, maximumPercent: 100 },
    });
    assert.deepEqual(
      outage.terms.map((term) => [term.name, term.seconds]),
      [
        ["deregistration", 10],
        ["old task stop", 6],
        ["provisioning", 10],
        ["image pull", 17],
        ["databases HEALTHY", 15],
        ["gateway start", 2],
        ["ALB admits", 20],
      ],
    );
    assert.equal(outage.seconds, 80);
    assert.ok(outage.seconds <= 90);
  });

  it("follows the databases' interval and the image sizes", () => {
    const slower = parseAuraConfig(
      { ...readStackConfig("dev"), "aura:databases": '{"interval": 30, "startPeriod": 240}' },
      "dev",
    );
    const outage = deployOutage({
      ...input,
      containers: slower.containers,
      deployment: { desiredCount: 1, minimumHealthyPercent: 0, maximumPercent: 100 },
      imageMegabytes: { databases: 600, "api-gateway": 173, "service-desk-host": 173 },
    });
    // 946 MB at 40 MB/s; ready at 15 s is seen at the first 30 s probe.
    assert.equal(outage.seconds, 10 + 6 + 10 + 24 + 30 + 2 + 20);
  });

  it("is 0 s when ECS keeps a task serving (minimum healthy 100 %, maximum 200 %)", () => {
    const deployment = { desiredCount: 2, minimumHealthyPercent: 100, maximumPercent: 200 };
    const outage = deployOutage({ ...input, storage: "managed", deployment });
    assert.deepEqual(outage, { seconds: 0, terms: [], keptServing: 2 });
    assert.equal(
      describeDeployOutage(outage, deployment),
      "deploy: expected outage per deploy 0 s (maximum 200 %, minimum healthy 100 %: 2 task(s) keep serving while the new one starts)",
    );
  });
});

describe("a failed rollout fails pulumi up", function () {
  this.timeout(20000);

  it("rejects the rollout output with a ResourceError on the service, naming what ECS did", async () => {
    const deployed = "arn:aws:ecs:us-east-2:123456789012:task-definition/aura-app-dev:1";
    const rolledBack = service([
      {
        id: OLD,
        status: "PRIMARY",
        rolloutState: "IN_PROGRESS",
        taskDefinition: "arn:aws:ecs:us-east-2:123456789012:task-definition/aura-app-dev:0",
      },
      {
        id: NEW,
        status: "ACTIVE",
        rolloutState: "FAILED",
        rolloutStateReason: "ECS deployment circuit breaker: tasks failed to start.",
        failedTasks: 3,
        taskDefinition: deployed,
      },
    ]);
    await assert.rejects(
      runProgram({
        ecs: () => {
          const client = new ECSClient({ region: "us-east-2" });
          const stub = mockClient(client);
          stub.on(DescribeServicesCommand).resolves({ services: [rolledBack] });
          stub.on(ListTasksCommand).resolves({ taskArns: [] });
          return { client, stub };
        },
      }),
      (error: Error) => {
        assert.equal(error.constructor.name, "ResourceError");
        assert.equal(
          error.message.split("\n")[0],
          `Deployment ${NEW} of aura-app-dev:1 to service aura-dev-service did not complete: it FAILED after 3 failed task(s) (ECS deployment circuit breaker: tasks failed to start.). ECS rolled back to revision 0 (aura-app-dev:0, deployment ${OLD}): the service runs the previous release, not this one.`,
        );
        return true;
      },
    );
  });
});

describe("deploy plan", () => {
  it("for managed storage: no outage, and a budget without the databases container", () => {
    const config = parseAuraConfig(
      { ...readStackConfig("dev"), "aura:storage": "managed", "aura:desiredCount": "2" },
      "dev",
    );
    const plan = deployPlan(config, serviceGracePeriod(config.containers, config.storage));
    assert.deepEqual(plan.deployment, {
      desiredCount: 2,
      minimumHealthyPercent: 100,
      maximumPercent: 200,
    });
    assert.deepEqual(plan.lines, [
      "deploy: expected outage per deploy 0 s (maximum 200 %, minimum healthy 100 %: 2 task(s) keep serving while the new one starts)",
      // launch 10 s + 346 MB of app images; the ALB's verdict (grace 170 s + 30 s) comes last.
      "rollout: pulumi up waits up to 867 s for the deployment to complete (3 failed tasks trip the circuit breaker, each at worst 249 s = launch 19 s + condemned at 200 s + stop 30 s; then the alarms' bake time 120 s)",
    ]);
  });
});
