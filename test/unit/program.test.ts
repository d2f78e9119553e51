import { strict as assert } from "assert";
import { HTTP_ONLY_WARNING } from "../../lib/https";
import * as path from "path";
import { AuraConfig, parseAuraConfig } from "../../lib/config";
import { contextDigest } from "../../lib/contextDigest";
import { readStackConfig } from "../../lib/stackFile";
import { ContainerDefinition } from "../../lib/taskDefinition";
import { loadModel, validateShape } from "../awsModel";
import {
  fakeEcr,
  ACCOUNT,
  ProgramRun,
  RecordedResource,
  REGISTRY_PASSWORD,
  runProgram,
} from "../mocks";

const REGISTRY = `${ACCOUNT}.dkr.ecr.us-east-2.amazonaws.com`;
const SECRET_ARN = `arn:aws:secretsmanager:us-east-2:${ACCOUNT}:secret:aura-dev-database-credentials-AbCdEf`;
const SECRET_SIGNATURE = "4dabf18193072939515e22adb298388d";
const APP_PROBE = (port: number) =>
  `import urllib.request; urllib.request.urlopen('http://127.0.0.1:${port}/health', timeout=10)`;
/** aura-probe around a check: its degraded window and its own timeout, then the check. */
const WITH_MEMORY = (window: number, timeout: number, ...check: string[]) => [
  "CMD",
  "/usr/local/bin/aura-probe",
  "--window",
  String(window),
  "--timeout",
  String(timeout),
  "--",
  ...check,
];

/** Pulumi marks secret values in mock inputs with a signature key; returns the plain value. */
function revealSecret(value: unknown): unknown {
  assert.ok(
    value !== null && typeof value === "object" && SECRET_SIGNATURE in value,
    "expected a secret",
  );
  return (value as unknown as { value: unknown }).value;
}

function containerDefinitions(run: ProgramRun): ContainerDefinition[] {
  return JSON.parse(run.one("aws:ecs/taskDefinition:TaskDefinition").inputs.containerDefinitions);
}

function secretRefs(...names: string[]) {
  return names.map((name) => ({ name, valueFrom: `${SECRET_ARN}:${name}::` }));
}

const logs = (prefix: string) => ({
  logDriver: "awslogs",
  options: {
    "awslogs-group": "/ecs/aura-app-dev",
    "awslogs-region": "us-east-2",
    "awslogs-stream-prefix": prefix,
  },
});

describe("the Pulumi program (dev stack under mocks)", function () {
  this.timeout(20000);
  let run: ProgramRun;
  let images: Record<string, string>;

  before(async () => {
    run = await runProgram();
    images = run.outputs.imageRefs as Record<string, string>;
  });

  it("exports the URL, names, image refs, log group and API keys", () => {
    assert.deepEqual(Object.keys(run.outputs).sort(), [
      "apiKeys",
      "apiKeysSecretName",
      "clusterName",
      "imageRefs",
      "logGroupName",
      "rollout",
      "serviceName",
      "url",
    ]);
    assert.equal(run.outputs.rollout, "aura-app-dev:1");
    assert.equal(run.outputs.url, "http://aura-alb-123.us-east-2.elb.amazonaws.com");
    assert.equal(run.outputs.clusterName, "aura-dev-cluster");
    assert.equal(run.outputs.serviceName, "aura-dev-service");
    assert.equal(run.outputs.logGroupName, "/ecs/aura-app-dev");
    assert.equal(run.outputs.apiKeysSecretName, "aura-dev-api-keys");
    assert.deepEqual(run.outputs.apiKeys, [
      "generated-aura-api-keys-key-1",
      "generated-aura-api-keys-key-2",
    ]);
    for (const name of ["databases", "api-gateway", "service-desk-host"]) {
      assert.match(images[name], new RegExp(`^${REGISTRY}/aura-${name}@sha256:[0-9a-f]{64}$`));
    }
  });

  it("wraps each container in its own component", () => {
    const components = run.resources
      .filter((resource) => resource.type.startsWith("aura:"))
      .map((resource) => `${resource.type} ${resource.name}`);
    assert.deepEqual(components, [
      "aura:secrets:Credentials aura-credentials",
      "aura:secrets:ApiKeys aura-api-keys",
      "aura:containers:Databases aura-databases",
      "aura:containers:ApiGateway aura-api-gateway",
      "aura:containers:ServiceDeskHost aura-service-desk-host",
      "aura:service:AuraService aura",
      "aura:monitoring:Alerts aura-alerts",
      "aura:storage:DatabaseStorage aura-storage",
      "aura:monitoring:DeploymentAlarms aura-deployment-alarms",
    ]);
  });

  for (const name of ["databases", "api-gateway", "service-desk-host"]) {
    it(`creates the ${name} repository with scan on push and a bounded lifecycle`, () => {
      const repository = run.one("aws:ecr/repository:Repository", `aura-${name}-repository`);
      assert.equal(repository.inputs.name, `aura-${name}`);
      assert.deepEqual(repository.inputs.imageScanningConfiguration, { scanOnPush: true });
      const lifecycle = run.one(
        "aws:ecr/lifecyclePolicy:LifecyclePolicy",
        `aura-${name}-lifecycle`,
      );
      assert.equal(lifecycle.inputs.repository, `aura-${name}`);
      assert.deepEqual(JSON.parse(lifecycle.inputs.policy), {
        rules: [
          {
            rulePriority: 1,
            description: "Keep the 20 newest images",
            selection: { tagStatus: "any", countType: "imageCountMoreThan", countNumber: 20 },
            action: { type: "expire" },
          },
        ],
      });
    });

    it(`builds ${name} for linux/amd64 from containers/${name} and pushes it to its repository`, () => {
      const image = run.one("docker-build:index:Image", `aura-${name}-image`);
      const context = path.resolve(__dirname, "..", "..", "containers", name);
      const repository = `${REGISTRY}/aura-${name}`;
      // Relative to the project directory, so that another checkout path changes no input.
      assert.deepEqual(image.inputs.context, { location: `containers/${name}` });
      assert.deepEqual(image.inputs.platforms, ["linux/amd64"]);
      assert.equal(image.inputs.push, true);
      assert.equal(image.inputs.buildOnPreview, false);
      assert.deepEqual(image.inputs.tags, [
        `${repository}:${contextDigest(context, "linux/amd64")}`,
      ]);
      assert.deepEqual(revealSecret(image.inputs.registries), [
        { address: repository, username: "AWS", password: REGISTRY_PASSWORD },
      ]);
      assert.deepEqual(image.inputs.cacheFrom, [{ registry: { ref: `${repository}:buildcache` } }]);
      assert.deepEqual(image.inputs.cacheTo, [
        {
          registry: {
            ref: `${repository}:buildcache`,
            imageManifest: true,
            ociMediaTypes: true,
            mode: "max",
          },
        },
      ]);
    });
  }

  it("registers a Fargate task definition with the stack's size and platform", () => {
    const task = run.one("aws:ecs/taskDefinition:TaskDefinition");
    assert.equal(task.inputs.family, "aura-app-dev");
    assert.deepEqual(task.inputs.requiresCompatibilities, ["FARGATE"]);
    assert.equal(task.inputs.networkMode, "awsvpc");
    assert.equal(task.inputs.cpu, "1024");
    assert.equal(task.inputs.memory, "3072");
    assert.deepEqual(task.inputs.runtimePlatform, {
      cpuArchitecture: "X86_64",
      operatingSystemFamily: "LINUX",
    });
    assert.equal(task.inputs.executionRoleArn, `arn:aws:iam::${ACCOUNT}:role/aura-execution-role`);
    assert.equal(task.inputs.taskRoleArn, `arn:aws:iam::${ACCOUNT}:role/aura-task-role`);
  });

  it("runs the databases with the full check, a clean-shutdown stop timeout and no public port", () => {
    const [databases] = containerDefinitions(run);
    assert.deepEqual(databases, {
      name: "databases",
      image: images.databases,
      essential: true,
      portMappings: [],
      environment: [
        { name: "MONGO_DB", value: "aura" },
        { name: "MONGO_USER", value: "aura_user" },
        { name: "POSTGRES_DB", value: "aura" },
        { name: "POSTGRES_USER", value: "aura_user" },
      ],
      healthCheck: {
        command: WITH_MEMORY(125, 16, "/usr/local/bin/aura-db-healthcheck"),
        interval: 5,
        timeout: 20,
        retries: 5,
        startPeriod: 280,
      },
      stopTimeout: 120,
      // supervisord restarts each server in place; the container itself is not restarted.
      restartPolicy: { enabled: false },
      // Root, so that supervisord can drop to each database's user; see containerSecurity.
      readonlyRootFilesystem: false,
      mountPoints: [
        { sourceVolume: "postgres-data", containerPath: "/var/lib/aura/postgres", readOnly: false },
        { sourceVolume: "redis-data", containerPath: "/var/lib/aura/redis", readOnly: false },
        { sourceVolume: "mongodb-data", containerPath: "/var/lib/aura/mongodb", readOnly: false },
      ],
      logConfiguration: logs("databases"),
      dockerLabels: {
        "org.aura.tools":
          "/usr/local/bin/aura-probe,/usr/local/bin/aura-db-healthcheck,pg_isready,psql,redis-cli,mongosh",
      },
      secrets: secretRefs("POSTGRES_PASSWORD", "REDIS_PASSWORD", "MONGO_PASSWORD"),
    });
  });

  it("runs api-gateway on 8000 after the databases are HEALTHY, probed with python3 on 127.0.0.1", () => {
    const gateway = containerDefinitions(run)[1];
    assert.deepEqual(gateway, {
      name: "api-gateway",
      image: images["api-gateway"],
      essential: true,
      portMappings: [{ containerPort: 8000, hostPort: 8000, protocol: "tcp" }],
      environment: [
        { name: "HOST", value: "0.0.0.0" },
        { name: "PORT", value: "8000" },
        { name: "SERVICE_DESK_URL", value: "http://127.0.0.1:8001" },
        { name: "UPSTREAM_TIMEOUT_SECONDS", value: "10" },
        // aura:cpu 1024 is one vCPU: one uvicorn process (appWorkers).
        { name: "WORKERS", value: "1" },
      ],
      healthCheck: {
        command: WITH_MEMORY(84, 12, "python3", "-c", APP_PROBE(8000)),
        interval: 5,
        timeout: 15,
        retries: 3,
        startPeriod: 140,
      },
      stopTimeout: 30,
      restartPolicy: { enabled: true, ignoredExitCodes: [], restartAttemptPeriod: 60 },
      user: "10000:10000",
      readonlyRootFilesystem: true,
      linuxParameters: { capabilities: { drop: ["ALL"] } },
      mountPoints: [{ sourceVolume: "api-gateway-tmp", containerPath: "/tmp", readOnly: false }],
      logConfiguration: logs("api-gateway"),
      dockerLabels: { "org.aura.tools": "/usr/local/bin/aura-probe,python3" },
      // The whole API keys secret (comma-separated keys), not a JSON key of it.
      secrets: [
        {
          name: "AURA_API_KEYS",
          valueFrom: `arn:aws:secretsmanager:us-east-2:${ACCOUNT}:secret:aura-dev-api-keys-AbCdEf`,
        },
      ],
      dependsOn: [{ containerName: "databases", condition: "HEALTHY" }],
    });
  });

  it("runs service-desk-host on 8001 with every database on 127.0.0.1 and passwords as secrets", () => {
    const host = containerDefinitions(run)[2];
    assert.deepEqual(host, {
      name: "service-desk-host",
      image: images["service-desk-host"],
      essential: true,
      portMappings: [],
      environment: [
        { name: "HOST", value: "0.0.0.0" },
        { name: "MONGO_DB", value: "aura" },
        { name: "MONGO_HOST", value: "127.0.0.1" },
        { name: "MONGO_PORT", value: "27017" },
        { name: "MONGO_USER", value: "aura_user" },
        { name: "PORT", value: "8001" },
        { name: "POSTGRES_DB", value: "aura" },
        { name: "POSTGRES_HOST", value: "127.0.0.1" },
        { name: "POSTGRES_PORT", value: "5432" },
        { name: "POSTGRES_USER", value: "aura_user" },
        { name: "REDIS_HOST", value: "127.0.0.1" },
        { name: "REDIS_PORT", value: "6379" },
        { name: "WORKERS", value: "1" },
      ],
      healthCheck: {
        command: WITH_MEMORY(84, 12, "python3", "-c", APP_PROBE(8001)),
        interval: 5,
        timeout: 15,
        retries: 3,
        startPeriod: 140,
      },
      stopTimeout: 30,
      restartPolicy: { enabled: true, ignoredExitCodes: [], restartAttemptPeriod: 60 },
      user: "10000:10000",
      readonlyRootFilesystem: true,
      linuxParameters: { capabilities: { drop: ["ALL"] } },
      mountPoints: [
        { sourceVolume: "service-desk-host-tmp", containerPath: "/tmp", readOnly: false },
      ],
      logConfiguration: logs("service-desk-host"),
      dockerLabels: { "org.aura.tools": "/usr/local/bin/aura-probe,python3" },
      secrets: secretRefs("POSTGRES_PASSWORD", "REDIS_PASSWORD", "MONGO_PASSWORD"),
      dependsOn: [{ containerName: "databases", condition: "HEALTHY" }],
    });
  });

  it("never mentions localhost in what ECS receives", () => {
    assert.doesNotMatch(
      run.one("aws:ecs/taskDefinition:TaskDefinition").inputs.containerDefinitions,
      /localhost/,
    );
  });

  it("registers a task definition that RegisterTaskDefinition accepts (AWS's ECS API model)", () => {
    const task = run.one("aws:ecs/taskDefinition:TaskDefinition").inputs;
    const request = {
      family: task.family,
      requiresCompatibilities: task.requiresCompatibilities,
      networkMode: task.networkMode,
      cpu: task.cpu,
      memory: task.memory,
      runtimePlatform: task.runtimePlatform,
      executionRoleArn: task.executionRoleArn,
      taskRoleArn: task.taskRoleArn,
      containerDefinitions: containerDefinitions(run),
      volumes: task.volumes,
    };
    const model = loadModel("aws-ecs-2014-11-13.service-2.json");
    assert.equal(
      model.operations.RegisterTaskDefinition.input?.shape,
      "RegisterTaskDefinitionRequest",
    );
    assert.deepEqual(validateShape(model, "RegisterTaskDefinitionRequest", request), []);
  });

  it("keeps logs in /ecs/aura-app-dev for the stack's retention", () => {
    const group = run.one("aws:cloudwatch/logGroup:LogGroup");
    assert.equal(group.inputs.name, "/ecs/aura-app-dev");
    assert.equal(group.inputs.retentionInDays, 14);
  });

  it("lets the execution role pull these images, write this log group and read this secret only", () => {
    const policy = JSON.parse(
      run.one("aws:iam/rolePolicy:RolePolicy", "aura-execution-policy").inputs.policy,
    );
    assert.deepEqual(policy, {
      Version: "2012-10-17",
      Statement: [
        { Sid: "EcrLogin", Effect: "Allow", Action: "ecr:GetAuthorizationToken", Resource: "*" },
        {
          Sid: "PullImages",
          Effect: "Allow",
          Action: [
            "ecr:BatchCheckLayerAvailability",
            "ecr:BatchGetImage",
            "ecr:GetDownloadUrlForLayer",
          ],
          Resource: ["databases", "api-gateway", "service-desk-host"].map(
            (name) => `arn:aws:ecr:us-east-2:${ACCOUNT}:repository/aura-${name}`,
          ),
        },
        {
          Sid: "LogStreams",
          Effect: "Allow",
          Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
          Resource: `arn:aws:logs:us-east-2:${ACCOUNT}:log-group:/ecs/aura-app-dev:log-stream:*`,
        },
        {
          Sid: "ReadSecrets",
          Effect: "Allow",
          Action: "secretsmanager:GetSecretValue",
          Resource: [
            SECRET_ARN,
            `arn:aws:secretsmanager:us-east-2:${ACCOUNT}:secret:aura-dev-api-keys-AbCdEf`,
          ],
        },
      ],
    });
  });

  it("creates the cluster aura-dev-cluster", () => {
    assert.equal(run.one("aws:ecs/cluster:Cluster").inputs.name, "aura-dev-cluster");
  });

  it("runs one task with the circuit breaker, rollback and a grace period from the health-check timeline", () => {
    const service = run.one("awsx:ecs:FargateService").inputs;
    assert.equal(service.name, "aura-dev-service");
    assert.equal(service.cluster, `arn:aws:ecs:us-east-2:${ACCOUNT}:cluster/aura-dev-cluster`);
    assert.equal(
      service.taskDefinition,
      `arn:aws:ecs:us-east-2:${ACCOUNT}:task-definition/aura-app-dev:1`,
    );
    assert.deepEqual(service.deploymentCircuitBreaker, { enable: true, rollback: true });
    assert.deepEqual(service.deploymentController, { type: "ECS" });
    assert.equal(service.desiredCount, 1);
    assert.equal(service.deploymentMinimumHealthyPercent, 0);
    assert.equal(service.deploymentMaximumPercent, 100);
    // The program's rollout check decides, not the provider's steady-state wait.
    assert.equal(service.continueBeforeSteadyState, true);
    assert.equal(service.enableExecuteCommand, false);
    // databases may take 300 s, then the gateway 150 s, then the ALB admits it in 2 x 10 s.
    assert.equal(service.healthCheckGracePeriodSeconds, 300 + 150 + 20);
    assert.deepEqual(service.loadBalancers, [
      {
        targetGroupArn: `arn:aws:elasticloadbalancing:us-east-2:${ACCOUNT}:targetgroup/aura-alb/abc`,
        containerName: "api-gateway",
        containerPort: 8000,
      },
    ]);
    assert.deepEqual(service.networkConfiguration, {
      subnets: ["subnet-a", "subnet-b"],
      securityGroups: ["aura-task-sg-id"],
      assignPublicIp: true,
    });
  });

  it("puts the gateway behind an ALB target group of type ip on 8000 with explicit health-check timing", () => {
    const alb = run.one("awsx:lb:ApplicationLoadBalancer").inputs;
    assert.deepEqual(alb.listener, { port: 80, protocol: "HTTP" });
    assert.deepEqual(alb.defaultSecurityGroup, { skip: true });
    assert.deepEqual(alb.securityGroups, ["aura-alb-sg-id"]);
    assert.deepEqual(alb.defaultTargetGroup, {
      port: 8000,
      protocol: "HTTP",
      targetType: "ip",
      deregistrationDelay: 10,
      healthCheck: {
        enabled: true,
        path: "/health",
        port: "traffic-port",
        protocol: "HTTP",
        matcher: "200",
        interval: 10,
        timeout: 5,
        healthyThreshold: 2,
        unhealthyThreshold: 3,
      },
    });
  });

  it("opens HTTP to the ALB, 8000 from the ALB to the tasks, NFS from the tasks to EFS, and nothing else inbound", () => {
    const summary = (direction: "in" | "out", inputs: RecordedResource["inputs"]) => ({
      direction,
      securityGroupId: inputs.securityGroupId as string,
      fromPort: inputs.fromPort as number,
      toPort: inputs.toPort as number,
      peer: (inputs.cidrIpv4 ?? inputs.cidrIpv6 ?? inputs.referencedSecurityGroupId) as string,
    });
    const rules = [
      ...run
        .all("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        .map((r) => summary("in", r.inputs)),
      ...run
        .all("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
        .map((r) => summary("out", r.inputs)),
    ];
    const sorted = (list: typeof rules) =>
      [...list].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
    assert.deepEqual(
      sorted(rules),
      sorted([
        {
          direction: "in",
          securityGroupId: "aura-alb-sg-id",
          fromPort: 80,
          toPort: 80,
          peer: "0.0.0.0/0",
        },
        {
          direction: "in",
          securityGroupId: "aura-alb-sg-id",
          fromPort: 80,
          toPort: 80,
          peer: "::/0",
        },
        {
          direction: "out",
          securityGroupId: "aura-alb-sg-id",
          fromPort: 8000,
          toPort: 8000,
          peer: "aura-task-sg-id",
        },
        {
          direction: "in",
          securityGroupId: "aura-task-sg-id",
          fromPort: 8000,
          toPort: 8000,
          peer: "aura-alb-sg-id",
        },
        {
          direction: "out",
          securityGroupId: "aura-task-sg-id",
          fromPort: 443,
          toPort: 443,
          peer: "0.0.0.0/0",
        },
        {
          direction: "out",
          securityGroupId: "aura-task-sg-id",
          fromPort: 2049,
          toPort: 2049,
          peer: "aura-storage-nfs-sg-id",
        },
        {
          direction: "in",
          securityGroupId: "aura-storage-nfs-sg-id",
          fromPort: 2049,
          toPort: 2049,
          peer: "aura-task-sg-id",
        },
      ]),
    );
    for (const port of [5432, 27017, 6379, 8001]) {
      assert.ok(
        rules.every(
          (rule) => rule.direction === "out" || port < rule.fromPort! || port > rule.toPort!,
        ),
      );
    }
  });

  it("keeps the generated passwords in Secrets Manager and out of every environment", () => {
    const version = run.one(
      "aws:secretsmanager/secretVersion:SecretVersion",
      "aura-credentials-secret-version",
    );
    assert.deepEqual(JSON.parse(revealSecret(version.inputs.secretString) as string), {
      POSTGRES_PASSWORD: "generated-aura-credentials-postgres-password",
      REDIS_PASSWORD: "generated-aura-credentials-redis-password",
      MONGO_PASSWORD: "generated-aura-credentials-mongo-password",
    });
    const definitions = run.one("aws:ecs/taskDefinition:TaskDefinition").inputs
      .containerDefinitions as string;
    assert.doesNotMatch(definitions, /generated-aura-credentials/);
  });
});

describe("the Pulumi program in other situations", function () {
  this.timeout(20000);

  it("builds the apps for linux/arm64 next to a prebuilt arm64 databases image, on ARM64", async () => {
    const registry = fakeEcr();
    const databases = registry.publish(`${REGISTRY}/prebuilt-databases-arm64`, "linux/arm64");
    const run = await runProgram({
      registry,
      overrides: {
        "aura:platform": "linux/arm64",
        "aura:databases": JSON.stringify({ image: databases }),
      },
    });
    assert.deepEqual(
      run.all("docker-build:index:Image").map((image) => [image.name, image.inputs.platforms]),
      [
        ["aura-api-gateway-image", ["linux/arm64"]],
        ["aura-service-desk-host-image", ["linux/arm64"]],
      ],
    );
    assert.deepEqual(run.one("aws:ecs/taskDefinition:TaskDefinition").inputs.runtimePlatform, {
      cpuArchitecture: "ARM64",
      operatingSystemFamily: "LINUX",
    });
  });

  it("runs a prebuilt image as given and builds nothing for it", async () => {
    const registry = fakeEcr();
    const prebuilt = registry.publish(`${REGISTRY}/prebuilt-databases`, "linux/amd64");
    const run = await runProgram({
      registry,
      overrides: { "aura:databases": JSON.stringify({ image: prebuilt }) },
    });
    assert.deepEqual(
      run.all("docker-build:index:Image").map((image) => image.name),
      ["aura-api-gateway-image", "aura-service-desk-host-image"],
    );
    assert.deepEqual(
      run.all("aws:ecr/repository:Repository").map((repository) => repository.inputs.name),
      ["aura-api-gateway", "aura-service-desk-host"],
    );
    assert.equal(
      JSON.parse(run.one("aws:ecs/taskDefinition:TaskDefinition").inputs.containerDefinitions)[0]
        .image,
      prebuilt,
    );
    assert.deepEqual((run.outputs.imageRefs as Record<string, string>).databases, prebuilt);
  });

  it("checks every image's platform in the registry with ECR credentials before using it", async () => {
    const run = await runProgram();
    const basic = `Basic ${Buffer.from(`AWS:${REGISTRY_PASSWORD}`).toString("base64")}`;
    const images = run.outputs.imageRefs as Record<string, string>;
    for (const ref of Object.values(images)) {
      const [repository, digest] = ref.split("@");
      const path = repository.slice(repository.indexOf("/") + 1);
      assert.deepEqual(
        run.registry.requests.find((request) =>
          request.url.endsWith(`/v2/${path}/manifests/${digest}`),
        ),
        { url: `https://${REGISTRY}/v2/${path}/manifests/${digest}`, authorization: basic },
      );
    }
  });

  it("fails `pulumi up` when a prebuilt image lacks the task's platform (the ARM laptop build)", async () => {
    const registry = fakeEcr();
    const armOnly = registry.publish(`${REGISTRY}/laptop-build`, "linux/arm64");
    await assert.rejects(
      runProgram({
        registry,
        overrides: { "aura:api-gateway": JSON.stringify({ image: armOnly }) },
      }),
      (error: Error) => {
        assert.equal(error.name, "ImagePlatformError");
        assert.match(error.message, /CannotPullContainerError/);
        assert.match(error.message, /does not contain descriptor matching platform 'linux\/amd64'/);
        assert.match(error.message, /linux\/arm64/);
        return true;
      },
    );
  });

  it("uses per-stack health-check overrides in the container definition and the grace period", async () => {
    const run = await runProgram({
      overrides: {
        "aura:databases": JSON.stringify({ interval: 20, startPeriod: 300, retries: 3 }),
      },
    });
    const [databases] = JSON.parse(
      run.one("aws:ecs/taskDefinition:TaskDefinition").inputs.containerDefinitions,
    );
    // aura-probe resized for these numbers: window max(150 - 3 x 20, 225 - 3 x (20 + 16)) = 117 s.
    assert.deepEqual(databases.healthCheck, {
      command: WITH_MEMORY(117, 16, "/usr/local/bin/aura-db-healthcheck"),
      interval: 20,
      timeout: 20,
      retries: 3,
      startPeriod: 300,
    });
    // (15 + 3 - 1) x 20 = 340 s for the databases, then 150 s and 20 s as before.
    assert.equal(
      run.one("awsx:ecs:FargateService").inputs.healthCheckGracePeriodSeconds,
      340 + 150 + 20,
    );
  });

  it("fails before registering any resource when the config is bad", async () => {
    await assert.rejects(
      runProgram({ overrides: { "aura:databases": '{"startPeriod": 400}' } }),
      (error: Error & { registered?: unknown[] }) => {
        assert.deepEqual(error.registered, []);
        assert.equal(
          error.message,
          "Invalid stack configuration:\n  - aura:databases.startPeriod = 400 is out of range: ECS allows 0-300 seconds (whole numbers)",
        );
        return true;
      },
    );
  });
});

describe("the Pulumi program's preflight", function () {
  this.timeout(20000);

  it("logs the task's timeline and its findings in every preview", async () => {
    const run = await runProgram({ preview: true });
    assert.deepEqual(run.infos, [
      "preflight databases: starts with the task; expected HEALTHY at 60 s, at the latest 300 s",
      "preflight databases first boot: UNHEALTHY at the earliest 300 s after start (hand fix 300 s)",
      'preflight databases steady state: UNHEALTHY 150 s after its last pass when the check fails fast (hand fix 150 s), 230 s when it hangs (hand fix 225 s); aura-probe answers the first 125 s of failures "healthy, degraded"',
      "preflight databases detection: HEALTHY within 5 s of being ready (21 s if a probe hangs just then)",
      "preflight api-gateway: starts when its dependencies are HEALTHY (60-300 s); expected HEALTHY at 70 s, at the latest 450 s",
      "preflight api-gateway first boot: UNHEALTHY at the earliest 150 s after start (hand fix 150 s)",
      'preflight api-gateway steady state: UNHEALTHY 99 s after its last pass when the check fails fast (hand fix 90 s), 135 s when it hangs (hand fix 135 s); aura-probe answers the first 84 s of failures "healthy, degraded"',
      "preflight api-gateway detection: HEALTHY within 5 s of being ready (17 s if a probe hangs just then)",
      "preflight service-desk-host: starts when its dependencies are HEALTHY (60-300 s); expected HEALTHY at 75 s, at the latest 450 s",
      "preflight service-desk-host first boot: UNHEALTHY at the earliest 150 s after start (hand fix 150 s)",
      'preflight service-desk-host steady state: UNHEALTHY 99 s after its last pass when the check fails fast (hand fix 90 s), 135 s when it hangs (hand fix 135 s); aura-probe answers the first 84 s of failures "healthy, degraded"',
      "preflight service-desk-host detection: HEALTHY within 5 s of being ready (17 s if a probe hangs just then)",
      `preflight aura-probe: after one pass a failing check is answered "healthy, degraded" for its window, then ECS's retries count; before the first pass every failure counts at once and the start period covers the boot. So the interval can be ECS's minimum (fast HEALTHY) while each phase tolerates at least what the hand fix did.`,
      "preflight service: health-check grace period 470 s",
      "preflight info: databases has no startTimeout: api-gateway and service-desk-host wait while databases is starting; its own health check ends the wait at 300 s (UNHEALTHY stops the task).",
      "preflight deploy: expected outage per deploy 80 s (maximum 100 %, minimum healthy 0 %, one writer: the old task stops before the new one starts) = deregistration 10 s (in-flight requests finish; no other target could take new ones) + old task stop 6 s (apps, then the databases' clean shutdown) + provisioning 10 s (Fargate capacity and the task's ENI) + image pull 17 s (680 MB at 40 MB/s) + databases HEALTHY 15 s (ready in about 15 s, seen on the 5 s probe grid; the apps wait for it) + gateway start 2 s (the ALB probes the gateway itself, not its container health) + ALB admits 20 s (healthy threshold 2 x 10 s)",
      "preflight rollout: pulumi up waits up to 2361 s for the deployment to complete (3 failed tasks trip the circuit breaker, each at worst 747 s = launch 27 s + condemned at 600 s + stop 120 s; then the alarms' bake time 120 s)",
    ]);
    // dev has no certificate (test/unit/https.test.ts covers HTTPS).
    assert.deepEqual(run.warnings, [HTTP_ONLY_WARNING]);
  });

  it("warns at preview about a risky setting without failing", async () => {
    const run = await runProgram({
      preview: true,
      overrides: { "aura:databases": JSON.stringify({ startTimeout: 120 }) },
    });
    assert.deepEqual(run.warnings, [
      "preflight warning: aura:databases.startTimeout = 120 s cuts databases's boot budget of 300 s short: a slow boot stops the task at 120 s even though its health check would still wait.",
      HTTP_ONLY_WARNING,
    ]);
  });

  it("fails a startTimeout that ends before the databases can be HEALTHY, before any resource", async () => {
    await assert.rejects(
      runProgram({ overrides: { "aura:databases": '{"startTimeout": 30}' } }),
      (error: Error & { registered?: unknown[] }) => {
        assert.deepEqual(error.registered, []);
        assert.match(
          error.message,
          /^Preflight found settings that can only loop:\n {2}- aura:databases\.startTimeout = 30 s ends before databases can be HEALTHY/,
        );
        return true;
      },
    );
  });
});

describe("config parsing used by the program", () => {
  it("gives the same typed config the program uses", () => {
    const config: AuraConfig = parseAuraConfig(readStackConfig("dev"), "dev");
    assert.equal(config.containers["api-gateway"].healthCheck.command[9], APP_PROBE(8000));
  });
});
