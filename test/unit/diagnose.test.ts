import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
  DescribeServicesCommand,
  DescribeTasksCommand,
  ECSClient,
  ListTasksCommand,
  Service,
} from "@aws-sdk/client-ecs";
import { CloudWatchLogsClient, GetLogEventsCommand } from "@aws-sdk/client-cloudwatch-logs";
import { mockClient } from "aws-sdk-client-mock";
import {
  assessService,
  circuitBreakerThreshold,
  classifyStops,
} from "../../tools/diagnose/classify";
import { DiagnoseEnvironment, runDiagnose } from "../../tools/diagnose/cli";
import {
  CLUSTER_ARN,
  SERVICE_ARN,
  TEXTS,
  stoppedTask,
  taskDefinitionArn,
} from "./diagnose.fixtures";

describe("diagnose: service assessment", () => {
  it("computes the circuit breaker threshold as ECS does", () => {
    const rows: [Parameters<typeof circuitBreakerThreshold>[0], number, number][] = [
      [{ enable: true, rollback: true }, 1, 3],
      [{ enable: true, rollback: true }, 10, 5],
      [{ enable: true, rollback: true }, 1000, 200],
      [{ enable: true, rollback: true, thresholdConfiguration: { type: "COUNT", value: 1 } }, 4, 1],
      [
        {
          enable: true,
          rollback: true,
          thresholdConfiguration: { type: "UNBOUNDED_PERCENT", value: 50 },
        },
        1,
        1,
      ],
    ];
    for (const [breaker, desired, threshold] of rows) {
      assert.equal(circuitBreakerThreshold(breaker, desired), threshold);
    }
  });

  it("calls a clean rollout deploying, not failing, even with no task running yet", () => {
    const service = steadyService({
      runningCount: 0,
      deployments: [
        deployment("ecs-svc/3333", "PRIMARY", 9, "IN_PROGRESS", { runningCount: 0 }),
        deployment("ecs-svc/2222", "ACTIVE", 8, "COMPLETED", { desiredCount: 0, runningCount: 0 }),
      ],
    });
    assert.deepEqual(assessService(service, []), {
      verdict: "deploying",
      problems: [
        "0 of 1 desired tasks are running.",
        "A deployment is still rolling out; run again to see it finish.",
      ],
      warnings: [],
    });
  });

  it("does not hold failures from before the current deployment against it", () => {
    const service = steadyService({});
    const old = stoppedTask("c0ffee", {
      stopCode: "EssentialContainerExited",
      stoppedReason: TEXTS.essentialExited,
      stoppedAt: "2026-11-28T22:40:00.000Z",
      revision: 7,
      containers: { "service-desk-host": { exitCode: 1 } },
    });
    const stops = classifyStops([old], service);
    assert.equal(stops[0].sinceCurrentDeployment, false);
    assert.deepEqual(assessService(service, stops), {
      verdict: "healthy",
      problems: [],
      warnings: [],
    });
  });

  it("warns when the circuit breaker is off", () => {
    const service = steadyService({
      deploymentConfiguration: {
        deploymentCircuitBreaker: { enable: false, rollback: false },
        maximumPercent: 100,
        minimumHealthyPercent: 0,
      },
    });
    assert.deepEqual(assessService(service, []).warnings, [
      "The deployment circuit breaker is off: a failing deployment retries forever.",
    ]);
  });
});

function deployment(
  id: string,
  status: "PRIMARY" | "ACTIVE",
  revision: number,
  rolloutState: "IN_PROGRESS" | "COMPLETED" | "FAILED",
  counts: {
    desiredCount?: number;
    runningCount?: number;
    pendingCount?: number;
    failedTasks?: number;
  },
  createdAt = "2026-11-28T22:50:00.000Z",
) {
  return {
    id,
    status,
    taskDefinition: taskDefinitionArn(revision),
    desiredCount: counts.desiredCount ?? 1,
    runningCount: counts.runningCount ?? 1,
    pendingCount: counts.pendingCount ?? 0,
    failedTasks: counts.failedTasks ?? 0,
    createdAt: new Date(createdAt),
    updatedAt: new Date(createdAt),
    launchType: "FARGATE" as const,
    platformVersion: "1.4.0",
    rolloutState,
    rolloutStateReason: `ECS deployment ${id} ${rolloutState === "COMPLETED" ? "completed" : "in progress"}.`,
  };
}

/** A healthy `aura-dev-service` as DescribeServices returns it; `overrides` make it sick. */
function steadyService(overrides: Partial<Service>): Service {
  return {
    serviceArn: SERVICE_ARN,
    serviceName: "aura-dev-service",
    clusterArn: CLUSTER_ARN,
    status: "ACTIVE",
    desiredCount: 1,
    runningCount: 1,
    pendingCount: 0,
    launchType: "FARGATE",
    platformVersion: "LATEST",
    taskDefinition: taskDefinitionArn(8),
    deploymentConfiguration: {
      deploymentCircuitBreaker: { enable: true, rollback: true },
      maximumPercent: 100,
      minimumHealthyPercent: 0,
    },
    deployments: [deployment("ecs-svc/2222", "PRIMARY", 8, "COMPLETED", {})],
    events: [
      {
        id: "e0",
        createdAt: new Date("2026-11-28T22:55:12.000Z"),
        message: "(service aura-dev-service) has reached a steady state.",
      },
    ],
    healthCheckGracePeriodSeconds: 240,
    schedulingStrategy: "REPLICA",
    deploymentController: { type: "ECS" },
    ...overrides,
  };
}

describe("diagnose: collector, report and CLI against mocked AWS", () => {
  const ecs = mockClient(ECSClient);
  const logs = mockClient(CloudWatchLogsClient);
  let projectDir: string;
  let stdout: string;
  let stderr: string;
  let environment: DiagnoseEnvironment;

  before(() => {
    // The SDK's "Node 22 from 2027" notice would bury the test output; it is not under test.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";
    projectDir = fs.mkdtempSync(path.join(os.tmpdir(), "aura-diagnose-"));
    fs.writeFileSync(path.join(projectDir, "Pulumi.yaml"), "name: aura\nruntime: nodejs\n");
    fs.writeFileSync(
      path.join(projectDir, "Pulumi.dev.yaml"),
      "config:\n  aws:region: us-east-2\n",
    );
    fs.writeFileSync(path.join(projectDir, "Pulumi.prod.yaml"), "config:\n  aura:cpu: 2048\n");
  });

  after(() => {
    fs.rmSync(projectDir, { recursive: true, force: true });
    ecs.restore();
    logs.restore();
  });

  beforeEach(() => {
    ecs.reset();
    logs.reset();
    stdout = "";
    stderr = "";
    environment = {
      projectDir,
      env: {},
      createEcs: (region) => new ECSClient({ region, credentials: FAKE_CREDENTIALS }),
      createLogs: (region) => new CloudWatchLogsClient({ region, credentials: FAKE_CREDENTIALS }),
      stdout: (text) => (stdout += text),
      stderr: (text) => (stderr += text),
    };
  });

  const FAKE_CREDENTIALS = { accessKeyId: "AKIAEXAMPLE", secretAccessKey: "example" };

  /** A deployment of revision 8 looping on the databases' health check; revision 7 was fine. */
  function mockFailingDeployment(): void {
    const failingService = steadyService({
      runningCount: 0,
      pendingCount: 1,
      deployments: [
        deployment("ecs-svc/2222", "PRIMARY", 8, "IN_PROGRESS", {
          runningCount: 0,
          pendingCount: 1,
          failedTasks: 2,
        }),
        deployment(
          "ecs-svc/1111",
          "ACTIVE",
          7,
          "COMPLETED",
          { desiredCount: 0, runningCount: 0 },
          "2026-11-28T21:10:00.000Z",
        ),
      ],
      events: [
        {
          id: "e3",
          createdAt: new Date("2026-11-28T23:05:52.000Z"),
          message:
            "(service aura-dev-service) has started 1 tasks: (task 7e12d648155541fbb8a922c39b586f82).",
        },
        {
          id: "e2",
          createdAt: new Date("2026-11-28T23:05:41.000Z"),
          message:
            "(service aura-dev-service) has stopped 1 running tasks: (task 33a7f27282624543abd4a00c3e84d0ee).",
        },
        {
          id: "e1",
          createdAt: new Date("2026-11-28T22:58:30.000Z"),
          message:
            "(service aura-dev-service) has stopped 1 running tasks: (task 0c45c999f51741509482c5829cebb82e).",
        },
      ],
    });
    const healthFailures = [
      "33a7f27282624543abd4a00c3e84d0ee",
      "0c45c999f51741509482c5829cebb82e",
    ].map((id, index) =>
      stoppedTask(id, {
        stopCode: "ServiceSchedulerInitiated",
        stoppedReason: TEXTS.containerHealth,
        stoppedAt: index === 0 ? "2026-11-28T23:05:41.512Z" : "2026-11-28T22:58:30.104Z",
        containers: {
          databases: { exitCode: 137, healthStatus: "UNHEALTHY" },
          "api-gateway": { exitCode: 143, healthStatus: "UNKNOWN" },
          "service-desk-host": { exitCode: 143, healthStatus: "UNKNOWN" },
        },
      }),
    );
    const replacedOld = stoppedTask("b38a1269debf7ada9576f69ce2752526", {
      stopCode: "ServiceSchedulerInitiated",
      stoppedReason: "Scaling activity initiated by (deployment ecs-svc/2222)",
      stoppedAt: "2026-11-28T22:50:31.000Z",
      revision: 7,
      containers: {
        databases: { exitCode: 0, healthStatus: "HEALTHY" },
        "api-gateway": { exitCode: 143, healthStatus: "HEALTHY" },
        "service-desk-host": { exitCode: 143, healthStatus: "HEALTHY" },
      },
    });
    const crashBeforeDeployment = stoppedTask("d005c78498bdb9c9043fc924cd120f54", {
      stopCode: "EssentialContainerExited",
      stoppedReason: TEXTS.essentialExited,
      stoppedAt: "2026-11-28T21:30:07.000Z",
      revision: 7,
      containers: {
        databases: { exitCode: 143, healthStatus: "HEALTHY" },
        "api-gateway": { exitCode: 143, healthStatus: "HEALTHY" },
        "service-desk-host": { exitCode: 1, healthStatus: "UNKNOWN" },
      },
    });
    ecs.on(DescribeServicesCommand).resolves({ services: [failingService], failures: [] });
    // ListTasks promises no order; the report must still come out newest first.
    const tasks = [replacedOld, crashBeforeDeployment, healthFailures[1], healthFailures[0]];
    ecs.on(ListTasksCommand).resolves({ taskArns: tasks.map((task) => task.taskArn!) });
    ecs.on(DescribeTasksCommand).resolves({ tasks, failures: [] });
    logs
      .on(GetLogEventsCommand, {
        logStreamName: "databases/databases/33a7f27282624543abd4a00c3e84d0ee",
      })
      .resolves({
        events: [
          {
            timestamp: 1,
            message: "2026-11-28 23:04:10 INFO success: redis entered RUNNING state",
          },
          { timestamp: 2, message: "2026-11-28 23:04:58 WARN mongod still starting (pid 41)\n" },
        ],
      });
    const missingStream = Object.assign(new Error("The specified log stream does not exist."), {
      name: "ResourceNotFoundException",
    });
    logs
      .on(GetLogEventsCommand, {
        logStreamName: "databases/databases/0c45c999f51741509482c5829cebb82e",
      })
      .rejects(missingStream);
  }

  const HEALTH_CHECK_FIX =
    "Run databases's health-check command locally (npm run local) and read its logs; if it becomes ready later than the check allows, raise aura:databases.startPeriod (up to 300 s), interval or retries; make sure the command's binary exists in the image.";

  it("reads the service and its newest stopped tasks, and prints the classified report", async () => {
    mockFailingDeployment();
    const code = await runDiagnose(["--stack", "dev", "--limit", "4", "--logs", "2"], environment);
    assert.equal(stderr, "");
    assert.equal(
      stdout,
      `Service aura-dev-service in cluster aura-dev-cluster (us-east-2), stack dev
  status ACTIVE, desired 1, running 0, pending 1
  task definition aura-app-dev:8
  circuit breaker on, rollback on, trips at 3 failed tasks

Deployments
  PRIMARY ecs-svc/2222 aura-app-dev:8: IN_PROGRESS, running 0/1, pending 1, failed tasks 2, created 2026-11-28T22:50:00Z
    ECS deployment ecs-svc/2222 in progress.
  ACTIVE ecs-svc/1111 aura-app-dev:7: COMPLETED, running 0/0, pending 0, failed tasks 0, created 2026-11-28T21:10:00Z
    ECS deployment ecs-svc/1111 completed.

Last events (newest first)
  2026-11-28T23:05:52Z  (service aura-dev-service) has started 1 tasks: (task 7e12d648155541fbb8a922c39b586f82).
  2026-11-28T23:05:41Z  (service aura-dev-service) has stopped 1 running tasks: (task 33a7f27282624543abd4a00c3e84d0ee).
  2026-11-28T22:58:30Z  (service aura-dev-service) has stopped 1 running tasks: (task 0c45c999f51741509482c5829cebb82e).

Stopped tasks (newest first)
  2026-11-28T23:05:41Z  task 33a7f27282624543abd4a00c3e84d0ee  aura-app-dev:8
    cause: container-health-check: ECS stopped the task because databases failed its container health check.
    stopped reason: Task failed container health checks
    containers:
      databases: exit 137, UNHEALTHY
      api-gateway: exit 143
      service-desk-host: exit 143
    fix: ${HEALTH_CHECK_FIX}
    last log lines of databases:
      | 2026-11-28 23:04:10 INFO success: redis entered RUNNING state
      | 2026-11-28 23:04:58 WARN mongod still starting (pid 41)

  2026-11-28T22:58:30Z  task 0c45c999f51741509482c5829cebb82e  aura-app-dev:8
    cause: container-health-check: ECS stopped the task because databases failed its container health check.
    stopped reason: Task failed container health checks
    containers:
      databases: exit 137, UNHEALTHY
      api-gateway: exit 143
      service-desk-host: exit 143
    fix: ${HEALTH_CHECK_FIX}

  2026-11-28T22:50:31Z  task b38a1269debf7ada9576f69ce2752526  aura-app-dev:7
    cause: replaced-by-deployment (not a failure): Replaced by deployment ecs-svc/2222: not a failure.
    stopped reason: Scaling activity initiated by (deployment ecs-svc/2222)
    containers:
      databases: exit 0, HEALTHY
      api-gateway: exit 143, HEALTHY
      service-desk-host: exit 143, HEALTHY

  2026-11-28T21:30:07Z  task d005c78498bdb9c9043fc924cd120f54  aura-app-dev:7 (before the current deployment)
    cause: essential-container-exited: An essential container exited and took the task down: service-desk-host exited 1.
    stopped reason: Essential container in task exited
    containers:
      databases: exit 143, HEALTHY
      api-gateway: exit 143, HEALTHY
      service-desk-host: exit 1
    fix: Read service-desk-host's last log lines for the error; check its command, environment (HOST/PORT, 127.0.0.1) and secrets; reproduce with npm run local. A crash that should not replace the task is what the container's restartPolicy is for.

Verdict: FAILING
  - 0 of 1 desired tasks are running.
  - Deployment ecs-svc/2222 has 2 failed task(s) of the 3 that trip the circuit breaker.
  - 2 task(s) failed since the current deployment began: container-health-check x2.
`,
    );
    assert.equal(code, 1);
    assert.deepEqual(ecs.commandCalls(DescribeServicesCommand)[0].args[0].input, {
      cluster: "aura-dev-cluster",
      services: ["aura-dev-service"],
    });
    assert.deepEqual(ecs.commandCalls(ListTasksCommand)[0].args[0].input, {
      cluster: "aura-dev-cluster",
      serviceName: "aura-dev-service",
      desiredStatus: "STOPPED",
      maxResults: 100,
    });
    assert.deepEqual(
      logs.commandCalls(GetLogEventsCommand).map((call) => call.args[0].input.logStreamName),
      [
        "databases/databases/33a7f27282624543abd4a00c3e84d0ee",
        "databases/databases/0c45c999f51741509482c5829cebb82e",
        "service-desk-host/service-desk-host/d005c78498bdb9c9043fc924cd120f54",
      ],
    );
    assert.deepEqual(logs.commandCalls(GetLogEventsCommand)[0].args[0].input, {
      logGroupName: "/ecs/aura-app-dev",
      logStreamName: "databases/databases/33a7f27282624543abd4a00c3e84d0ee",
      limit: 2,
      startFromHead: false,
    });
  });

  it("prints the same diagnosis as JSON for scripts", async () => {
    mockFailingDeployment();
    const code = await runDiagnose(
      ["--stack", "dev", "--limit", "2", "--logs", "2", "--json"],
      environment,
    );
    assert.equal(code, 1);
    assert.deepEqual(JSON.parse(stdout), {
      stack: "dev",
      region: "us-east-2",
      cluster: "aura-dev-cluster",
      service: "aura-dev-service",
      verdict: "failing",
      problems: [
        "0 of 1 desired tasks are running.",
        "Deployment ecs-svc/2222 has 2 failed task(s) of the 3 that trip the circuit breaker.",
        "2 task(s) failed since the current deployment began: container-health-check x2.",
      ],
      warnings: [],
      details: {
        status: "ACTIVE",
        desiredCount: 1,
        runningCount: 0,
        pendingCount: 1,
        taskDefinition: "aura-app-dev:8",
        circuitBreaker: { enabled: true, rollback: true, failureThreshold: 3 },
        deployments: [
          {
            id: "ecs-svc/2222",
            status: "PRIMARY",
            taskDefinition: "aura-app-dev:8",
            rolloutState: "IN_PROGRESS",
            rolloutStateReason: "ECS deployment ecs-svc/2222 in progress.",
            desiredCount: 1,
            runningCount: 0,
            pendingCount: 1,
            failedTasks: 2,
            createdAt: "2026-11-28T22:50:00Z",
          },
          {
            id: "ecs-svc/1111",
            status: "ACTIVE",
            taskDefinition: "aura-app-dev:7",
            rolloutState: "COMPLETED",
            rolloutStateReason: "ECS deployment ecs-svc/1111 completed.",
            desiredCount: 0,
            runningCount: 0,
            pendingCount: 0,
            failedTasks: 0,
            createdAt: "2026-11-28T21:10:00Z",
          },
        ],
        events: [
          {
            createdAt: "2026-11-28T23:05:52Z",
            message:
              "(service aura-dev-service) has started 1 tasks: (task 7e12d648155541fbb8a922c39b586f82).",
          },
          {
            createdAt: "2026-11-28T23:05:41Z",
            message:
              "(service aura-dev-service) has stopped 1 running tasks: (task 33a7f27282624543abd4a00c3e84d0ee).",
          },
        ],
      },
      stoppedTasks: [
        {
          taskId: "33a7f27282624543abd4a00c3e84d0ee",
          taskDefinition: "aura-app-dev:8",
          startedAt: "2026-11-28T23:01:41Z",
          stoppedAt: "2026-11-28T23:05:41Z",
          stopCode: "ServiceSchedulerInitiated",
          stoppedReason: "Task failed container health checks",
          cause: "container-health-check",
          failure: true,
          sinceCurrentDeployment: true,
          explanation: "ECS stopped the task because databases failed its container health check.",
          implicatedContainers: ["databases"],
          fix: HEALTH_CHECK_FIX,
          containers: [
            {
              name: "databases",
              lastStatus: "STOPPED",
              exitCode: 137,
              healthStatus: "UNHEALTHY",
              reason: null,
            },
            {
              name: "api-gateway",
              lastStatus: "STOPPED",
              exitCode: 143,
              healthStatus: "UNKNOWN",
              reason: null,
            },
            {
              name: "service-desk-host",
              lastStatus: "STOPPED",
              exitCode: 143,
              healthStatus: "UNKNOWN",
              reason: null,
            },
          ],
          logs: {
            databases: [
              "2026-11-28 23:04:10 INFO success: redis entered RUNNING state",
              "2026-11-28 23:04:58 WARN mongod still starting (pid 41)",
            ],
          },
        },
        {
          taskId: "0c45c999f51741509482c5829cebb82e",
          taskDefinition: "aura-app-dev:8",
          startedAt: "2026-11-28T22:54:30Z",
          stoppedAt: "2026-11-28T22:58:30Z",
          stopCode: "ServiceSchedulerInitiated",
          stoppedReason: "Task failed container health checks",
          cause: "container-health-check",
          failure: true,
          sinceCurrentDeployment: true,
          explanation: "ECS stopped the task because databases failed its container health check.",
          implicatedContainers: ["databases"],
          fix: HEALTH_CHECK_FIX,
          containers: [
            {
              name: "databases",
              lastStatus: "STOPPED",
              exitCode: 137,
              healthStatus: "UNHEALTHY",
              reason: null,
            },
            {
              name: "api-gateway",
              lastStatus: "STOPPED",
              exitCode: 143,
              healthStatus: "UNKNOWN",
              reason: null,
            },
            {
              name: "service-desk-host",
              lastStatus: "STOPPED",
              exitCode: 143,
              healthStatus: "UNKNOWN",
              reason: null,
            },
          ],
          logs: {},
        },
      ],
    });
  });

  it("exits 0 for a steady service whose only stop was a rollout", async () => {
    ecs.on(DescribeServicesCommand).resolves({ services: [steadyService({})], failures: [] });
    const replaced = stoppedTask("b38a1269debf7ada9576f69ce2752526", {
      stopCode: "ServiceSchedulerInitiated",
      stoppedReason: TEXTS.scaling,
      revision: 7,
    });
    ecs.on(ListTasksCommand).resolves({ taskArns: [replaced.taskArn!] });
    ecs.on(DescribeTasksCommand).resolves({ tasks: [replaced] });
    const code = await runDiagnose(["--stack", "dev", "--json"], environment);
    assert.equal(code, 0);
    const report = JSON.parse(stdout) as { verdict: string; problems: string[] };
    assert.deepEqual([report.verdict, report.problems], ["healthy", []]);
    assert.equal(logs.commandCalls(GetLogEventsCommand).length, 0);
  });

  it("reports a service that ECS does not know as not deployed, exit 1", async () => {
    ecs.on(DescribeServicesCommand).resolves({
      services: [],
      failures: [{ arn: SERVICE_ARN, reason: "MISSING" }],
    });
    const code = await runDiagnose(["--stack", "dev"], environment);
    assert.equal(code, 1);
    assert.equal(
      stdout,
      "Service aura-dev-service in cluster aura-dev-cluster (us-east-2), stack dev\n  not found\n\n" +
        "Verdict: NOT-FOUND\n  - The service is MISSING: deploy it with pulumi up.\n",
    );
    assert.equal(ecs.commandCalls(ListTasksCommand).length, 0);
  });

  it("says in one line how to provide credentials when there are none, exit 2", async () => {
    const noCredentials = Object.assign(
      new Error("Could not load credentials from any providers"),
      { name: "CredentialsProviderError" },
    );
    ecs.on(DescribeServicesCommand).rejects(noCredentials);
    const code = await runDiagnose(["--stack", "dev"], environment);
    assert.equal(code, 2);
    assert.equal(stdout, "");
    assert.equal(
      stderr,
      "No AWS credentials found: set AWS_PROFILE (after `aws configure` or `aws sso login`) or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), then run again.\n",
    );
  });

  it("says so when AWS rejects expired credentials, exit 2", async () => {
    const expired = Object.assign(
      new Error("The security token included in the request is expired"),
      {
        name: "ExpiredTokenException",
      },
    );
    ecs.on(DescribeServicesCommand).rejects(expired);
    assert.equal(await runDiagnose(["--stack", "dev"], environment), 2);
    assert.equal(
      stderr,
      "AWS rejected the credentials (ExpiredTokenException): refresh them (aws sso login, or new access keys) and run again.\n",
    );
  });

  it("names the stacks it found when --stack is missing or unknown, exit 2", async () => {
    assert.equal(await runDiagnose([], environment), 2);
    assert.equal(
      stderr,
      "--stack is required: stacks found as Pulumi.<stack>.yaml: dev, prod\n" +
        "usage: npm run diagnose -- --stack <name> [--region <region>] [--limit <1-100>] [--logs <0-100>] [--json]\n",
    );
    stderr = "";
    assert.equal(await runDiagnose(["--stack", "staging"], environment), 2);
    assert.equal(stderr, "--stack staging has no Pulumi.staging.yaml: stacks found: dev, prod\n");
    assert.equal(ecs.calls().length, 0);
  });

  it("needs a region from the stack, --region or AWS_REGION, exit 2", async () => {
    assert.equal(await runDiagnose(["--stack", "prod"], environment), 2);
    assert.equal(
      stderr,
      "No AWS region for stack prod: set aws:region in Pulumi.prod.yaml or pass --region\n",
    );
    ecs.on(DescribeServicesCommand).resolves({ services: [steadyService({})] });
    ecs.on(ListTasksCommand).resolves({ taskArns: [] });
    assert.equal(
      await runDiagnose(["--stack", "prod", "--region", "eu-west-1", "--json"], environment),
      0,
    );
    assert.equal((JSON.parse(stdout) as { region: string }).region, "eu-west-1");
  });
});
