import { strict as assert } from "assert";
import {
  PolicyResource,
  ResourceValidationArgs,
  StackValidationArgs,
  unknownCheckingProxy,
} from "@pulumi/policy";
import { unknownValue } from "@pulumi/pulumi/runtime/rpc";
import { defaultHealthCheck, parseAuraConfig } from "../../lib/config";
import { CONTAINER_NAMES, ContainerName, IMAGE_TOOLS } from "../../lib/containers";
import { taskContainerDefinitions } from "../../lib/taskDefinition";
import {
  AuraResourcePolicy,
  AuraStackPolicy,
  DOCKER_BUILD_IMAGE_TYPE,
  FARGATE_SERVICE_TYPE,
  SERVICE_TYPE,
  TASK_DEFINITION_TYPE,
  auraPolicies,
  deploymentCircuitBreakerWithRollback,
  dependenciesAreSatisfiable,
  essentialContainersHaveHealthChecks,
  fargateTaskSizeValid,
  healthCheckSettingsInRange,
  healthChecksCallDeclaredTools,
  imagePlatformMatchesTask,
  imagesPinnedByDigest,
  managedDatabasesEncrypted,
  noSecretsInEnvironment,
  oneWriterWithInTaskDatabases,
} from "../../policy/policies";
import { healthCheckPrograms, isDeclared } from "../../policy/shell";
import { ACCOUNT, fakeEcr, runProgram } from "../mocks";

type Props = Record<string, unknown>;

const urnOf = (type: string, name: string) => `urn:pulumi:dev::aura::${type}::${name}`;

const noOptions = {
  protect: false,
  ignoreChanges: [],
  aliases: [],
  customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
  additionalSecretOutputs: [],
};

/**
 * The argument bag @pulumi/policy's server builds for a resource, with the props behind the
 * same proxy it uses, so a value the engine marks unknown throws exactly as during a preview.
 */
function resourceArgs(type: string, props: Props, name = "aura-task"): ResourceValidationArgs {
  return {
    type,
    props: unknownCheckingProxy(props),
    urn: urnOf(type, name),
    name,
    opts: noOptions,
    stackTags: new Map(),
    isType: () => false,
    asType: () => undefined,
    getConfig: <T extends object>() => ({}) as T,
    notApplicable: (reason?: string) => {
      throw new Error(`notApplicable: ${reason}`);
    },
  };
}

/** Runs one resource policy and returns every message it reports, in order. */
function violations(policy: AuraResourcePolicy, args: ResourceValidationArgs): string[] {
  const messages: string[] = [];
  void policy.validateResource(args, (message) => messages.push(message));
  return messages;
}

function stackResource(
  type: string,
  name: string,
  props: Props,
  dependencies: PolicyResource[] = [],
): PolicyResource {
  return {
    type,
    name,
    props: unknownCheckingProxy(props),
    urn: urnOf(type, name),
    opts: noOptions,
    dependencies,
    propertyDependencies: {},
    isType: () => false,
    asType: () => undefined,
  };
}

function stackViolations(
  policy: AuraStackPolicy,
  resources: PolicyResource[],
): { message: string; urn?: string }[] {
  const reported: { message: string; urn?: string }[] = [];
  const args: StackValidationArgs = {
    resources,
    stackTags: new Map(),
    getConfig: <T extends object>() => ({}) as T,
    notApplicable: (reason?: string) => {
      throw new Error(`notApplicable: ${reason}`);
    },
  };
  void policy.validateStack(args, (message, urn) => reported.push({ message, urn }));
  return reported;
}

const DIGEST = `sha256:${"a1".repeat(32)}`;
const REGISTRY = "123456789012.dkr.ecr.us-east-2.amazonaws.com";

/** A task definition's props with `containers` as its JSON, Fargate 1024/3072 unless overridden. */
function taskDefinition(containers: Props[], overrides: Props = {}): ResourceValidationArgs {
  return resourceArgs(TASK_DEFINITION_TYPE, {
    family: "aura-app-dev",
    requiresCompatibilities: ["FARGATE"],
    networkMode: "awsvpc",
    cpu: "1024",
    memory: "3072",
    containerDefinitions: JSON.stringify(containers),
    ...overrides,
  });
}

/** A container that passes every policy; tests change one field at a time. */
function container(name: string, overrides: Props = {}): Props {
  return {
    name,
    image: `${REGISTRY}/aura-${name}@${DIGEST}`,
    essential: true,
    environment: [{ name: "PORT", value: "8000" }],
    healthCheck: {
      command: [
        "CMD",
        "python3",
        "-c",
        "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=10)",
      ],
      interval: 16,
      timeout: 15,
      retries: 3,
      startPeriod: 120,
    },
    dockerLabels: { "org.aura.tools": "python3" },
    ...overrides,
  };
}

const resourcePolicies = auraPolicies.filter(
  (policy): policy is AuraResourcePolicy => "validateResource" in policy,
);

describe("policy pack", () => {
  it("has the eleven policies, every one mandatory, with unique names", () => {
    assert.deepEqual(
      auraPolicies.map((policy) => [policy.name, policy.enforcementLevel]),
      [
        ["aura-essential-containers-have-health-checks", "mandatory"],
        ["aura-dependencies-are-satisfiable", "mandatory"],
        ["aura-health-checks-call-declared-tools", "mandatory"],
        ["aura-health-check-settings-in-range", "mandatory"],
        ["aura-image-platform-matches-task", "mandatory"],
        ["aura-images-pinned-by-digest", "mandatory"],
        ["aura-deployment-circuit-breaker-with-rollback", "mandatory"],
        ["aura-no-secrets-in-environment", "mandatory"],
        ["aura-fargate-task-size-valid", "mandatory"],
        ["aura-one-writer-with-in-task-databases", "mandatory"],
        ["aura-managed-databases-encrypted", "mandatory"],
      ],
    );
  });

  it("passes the task definition the program itself builds (digest-pinned images)", () => {
    const config = parseAuraConfig(
      { "aws:region": "us-east-2", "aura:assignPublicIp": "true" },
      "dev",
    );
    const images = Object.fromEntries(
      CONTAINER_NAMES.map((name) => [name, `${REGISTRY}/aura-${name}@${DIGEST}`]),
    ) as Record<ContainerName, string>;
    const definitions = taskContainerDefinitions(config, images, {
      group: "/ecs/aura-app-dev",
      region: "us-east-2",
    });
    const args = taskDefinition(definitions as unknown as Props[], {
      cpu: String(config.cpu),
      memory: String(config.memory),
    });
    for (const policy of resourcePolicies) {
      assert.deepEqual(violations(policy, args), [], policy.name);
    }
  });

  for (const platform of ["linux/amd64", "linux/arm64"]) {
    it(`passes every resource the program registers under mocks (${platform})`, async () => {
      // linux/arm64 runs only with a prebuilt databases image (lib/config.ts BUILDABLE_PLATFORMS).
      const registry = fakeEcr();
      const arm = platform === "linux/arm64";
      const overrides: Record<string, string> = { "aura:platform": platform };
      if (arm) {
        const image = registry.publish(
          `${ACCOUNT}.dkr.ecr.us-east-2.amazonaws.com/prebuilt-databases-arm64`,
          platform,
        );
        overrides["aura:databases"] = JSON.stringify({ image });
      }
      const run = await runProgram({ registry, overrides });
      const reported: string[] = [];
      for (const resource of run.resources) {
        const args = resourceArgs(resource.type, resource.inputs, resource.name);
        for (const policy of resourcePolicies) {
          void policy.validateResource(args, (message) =>
            reported.push(`${policy.name} ${resource.name}: ${message}`),
          );
        }
      }
      const stack = run.resources.map((r) => stackResource(r.type, r.name, r.inputs));
      for (const { message } of stackViolations(imagePlatformMatchesTask, stack)) {
        reported.push(message);
      }
      assert.deepEqual(reported, []);
      // The run must contain what the policies look at, or passing would prove nothing.
      assert.deepEqual(
        [TASK_DEFINITION_TYPE, DOCKER_BUILD_IMAGE_TYPE, FARGATE_SERVICE_TYPE].map(
          (type) => run.all(type).length,
        ),
        [1, arm ? 2 : 3, 1],
      );
      assert.equal(
        run.one(TASK_DEFINITION_TYPE).inputs.runtimePlatform?.cpuArchitecture,
        platform === "linux/amd64" ? "X86_64" : "ARM64",
      );
      // And the same stack with images built for the other platform fails once per image.
      const other = platform === "linux/amd64" ? "linux/arm64" : "linux/amd64";
      const mismatched = run.resources.map((r) =>
        stackResource(
          r.type,
          r.name,
          r.type === DOCKER_BUILD_IMAGE_TYPE ? { ...r.inputs, platforms: [other] } : r.inputs,
        ),
      );
      assert.equal(stackViolations(imagePlatformMatchesTask, mismatched).length, arm ? 2 : 3);
    });
  }

  it("skips quietly while containerDefinitions is unknown (first preview)", () => {
    const args = taskDefinition([], { containerDefinitions: unknownValue });
    for (const policy of resourcePolicies) {
      assert.deepEqual(violations(policy, args), [], policy.name);
    }
  });

  it("ignores resources of other types", () => {
    const args = resourceArgs("aws:s3/bucket:Bucket", { containerDefinitions: "not json" });
    for (const policy of resourcePolicies) {
      assert.deepEqual(violations(policy, args), [], policy.name);
    }
  });
});

describe("essential containers have health checks", () => {
  it("reports an essential container without one, naming it", () => {
    const args = taskDefinition([container("databases", { healthCheck: undefined })]);
    assert.deepEqual(violations(essentialContainersHaveHealthChecks, args), [
      'databases.healthCheck is missing: an essential container needs a health check ("CMD" or "CMD-SHELL" command with interval, timeout, retries and startPeriod) so ECS knows when it is ready and replaces it when it hangs',
    ]);
  });

  it("treats a container without `essential` as essential, as ECS does", () => {
    const args = taskDefinition([
      container("api-gateway", { essential: undefined, healthCheck: undefined }),
    ]);
    assert.equal(violations(essentialContainersHaveHealthChecks, args).length, 1);
  });

  it("accepts a non-essential container without one", () => {
    const args = taskDefinition([
      container("migrate", { essential: false, healthCheck: undefined }),
    ]);
    assert.deepEqual(violations(essentialContainersHaveHealthChecks, args), []);
  });

  it("reports containerDefinitions that are not JSON", () => {
    const args = taskDefinition([], { containerDefinitions: "[{" });
    assert.deepEqual(violations(essentialContainersHaveHealthChecks, args), [
      `containerDefinitions is not valid JSON (${jsonError("[{")}): it must be a JSON array of ECS container definitions`,
    ]);
  });
});

function jsonError(text: string): string {
  try {
    JSON.parse(text);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error(`${text} parses`);
}

describe("dependencies are satisfiable", () => {
  const app = (dependsOn: Props[]) => container("api-gateway", { dependsOn });

  it("accepts HEALTHY on a container with a health check", () => {
    const args = taskDefinition([
      container("databases"),
      app([{ containerName: "databases", condition: "HEALTHY" }]),
    ]);
    assert.deepEqual(violations(dependenciesAreSatisfiable, args), []);
  });

  it("reports HEALTHY on a container without a health check", () => {
    const args = taskDefinition([
      container("databases", { healthCheck: undefined }),
      app([{ containerName: "databases", condition: "HEALTHY" }]),
    ]);
    assert.deepEqual(violations(dependenciesAreSatisfiable, args), [
      "api-gateway.dependsOn[0] waits for databases to be HEALTHY, but databases has no healthCheck: HEALTHY needs one on the container waited for; add a health check to databases or wait for START",
    ]);
  });

  it("reports a dependency on a container the task does not have", () => {
    const args = taskDefinition([
      container("databases"),
      app([{ containerName: "postgres", condition: "HEALTHY" }]),
    ]);
    assert.deepEqual(violations(dependenciesAreSatisfiable, args), [
      'api-gateway.dependsOn[0].containerName = "postgres" is not a container of this task: it must be one of databases, api-gateway',
    ]);
  });

  it("reports COMPLETE or SUCCESS on an essential container", () => {
    const args = taskDefinition([
      container("databases"),
      app([
        { containerName: "databases", condition: "START" },
        { containerName: "databases", condition: "SUCCESS" },
      ]),
    ]);
    assert.deepEqual(violations(dependenciesAreSatisfiable, args), [
      'api-gateway.dependsOn[1].condition = "SUCCESS" waits for databases, which is essential: ECS allows COMPLETE and SUCCESS only for containers with essential: false; use HEALTHY',
    ]);
  });

  it("accepts COMPLETE on a non-essential container", () => {
    const args = taskDefinition([
      container("migrate", { essential: false }),
      app([{ containerName: "migrate", condition: "COMPLETE" }]),
    ]);
    assert.deepEqual(violations(dependenciesAreSatisfiable, args), []);
  });

  it("reports a container that depends on itself", () => {
    const args = taskDefinition([
      container("databases", { dependsOn: [{ containerName: "databases", condition: "HEALTHY" }] }),
    ]);
    assert.deepEqual(violations(dependenciesAreSatisfiable, args), [
      "databases.dependsOn[0]: databases.dependsOn names databases itself: a container cannot wait for itself, ECS would never start it; remove that entry",
    ]);
  });

  it("reports a dependsOn cycle once, naming every container in it", () => {
    const args = taskDefinition([
      container("databases", {
        dependsOn: [{ containerName: "service-desk-host", condition: "START" }],
      }),
      app([{ containerName: "databases", condition: "HEALTHY" }]),
      container("service-desk-host", {
        dependsOn: [{ containerName: "api-gateway", condition: "HEALTHY" }],
      }),
    ]);
    assert.deepEqual(violations(dependenciesAreSatisfiable, args), [
      "dependsOn has a cycle: databases -> service-desk-host -> api-gateway -> databases: each of databases, service-desk-host, api-gateway waits for another, so ECS can never start them; remove one of these dependencies",
    ]);
  });

  it("reports a condition ECS does not have", () => {
    const args = taskDefinition([
      container("databases"),
      app([{ containerName: "databases", condition: "READY" }]),
    ]);
    assert.deepEqual(violations(dependenciesAreSatisfiable, args), [
      'api-gateway.dependsOn[0].condition = "READY" is not an ECS dependency condition: use one of START, COMPLETE, SUCCESS, HEALTHY',
    ]);
  });
});

describe("health checks call declared tools", () => {
  const withCheck = (name: string, command: string[], tools?: string) =>
    taskDefinition([
      container(name, {
        healthCheck: { command, interval: 16, timeout: 15, retries: 3, startPeriod: 120 },
        dockerLabels: tools === undefined ? {} : { "org.aura.tools": tools },
      }),
    ]);

  it("reports the original loop's gateway check: curl in a python3 image, and localhost", () => {
    const args = withCheck(
      "api-gateway",
      ["CMD-SHELL", "curl -f http://localhost:8000/health || exit 1"],
      "python3",
    );
    assert.deepEqual(violations(healthChecksCallDeclaredTools, args), [
      'api-gateway.healthCheck.command = ["CMD-SHELL","curl -f http://localhost:8000/health || exit 1"] uses "localhost": use 127.0.0.1, which is where the task\'s containers listen',
      'api-gateway.healthCheck.command calls "curl", which the image does not declare: dockerLabels["org.aura.tools"] = "python3"; call one of those (the check would fail forever and loop the task)',
    ]);
  });

  it("reports mongosh in a container without the tools label", () => {
    const args = withCheck("databases", [
      "CMD-SHELL",
      "mongosh --quiet --eval 'db.adminCommand({ping: 1})' 127.0.0.1:27017",
    ]);
    assert.deepEqual(violations(healthChecksCallDeclaredTools, args), [
      'databases.healthCheck.command calls "mongosh", but databases has no dockerLabels["org.aura.tools"]: nothing shows the image contains it; declare the image\'s health-check tools in that label and call only those',
    ]);
  });

  it("checks every program of a shell line: the hand fix's grep is not in the databases image", () => {
    const args = withCheck(
      "databases",
      [
        "CMD-SHELL",
        "pg_isready -h 127.0.0.1 -p 5432 -U aura_user && redis-cli -h 127.0.0.1 -p 6379 ping | grep PONG",
      ],
      "/usr/local/bin/aura-db-healthcheck,pg_isready,psql,redis-cli,mongosh",
    );
    assert.deepEqual(violations(healthChecksCallDeclaredTools, args), [
      'databases.healthCheck.command calls "grep", which the image does not declare: dockerLabels["org.aura.tools"] = "/usr/local/bin/aura-db-healthcheck,pg_isready,psql,redis-cli,mongosh"; call one of those (the check would fail forever and loop the task)',
    ]);
  });

  it("reads quotes: the hand fix's python one-liner calls python, not python3", () => {
    const args = withCheck(
      "service-desk-host",
      [
        "CMD-SHELL",
        "python -c \"import urllib.request; urllib.request.urlopen('http://127.0.0.1:8001/health', timeout=10)\"",
      ],
      "python3",
    );
    assert.deepEqual(violations(healthChecksCallDeclaredTools, args), [
      'service-desk-host.healthCheck.command calls "python", which the image does not declare: dockerLabels["org.aura.tools"] = "python3"; call one of those (the check would fail forever and loop the task)',
    ]);
  });

  it("looks inside sh -c in an exec-form check", () => {
    const args = withCheck(
      "api-gateway",
      ["CMD", "/bin/sh", "-c", "wget -qO- http://127.0.0.1:8000/health"],
      "python3",
    );
    assert.deepEqual(violations(healthChecksCallDeclaredTools, args), [
      'api-gateway.healthCheck.command calls "/bin/sh", which the image does not declare: dockerLabels["org.aura.tools"] = "python3"; call one of those (the check would fail forever and loop the task)',
      'api-gateway.healthCheck.command calls "wget", which the image does not declare: dockerLabels["org.aura.tools"] = "python3"; call one of those (the check would fail forever and loop the task)',
    ]);
  });

  it("accepts declared tools by full path or name, with builtins and env assignments around them", () => {
    const databases = "/usr/local/bin/aura-db-healthcheck,pg_isready";
    for (const [command, tools] of [
      [["CMD", "/usr/local/bin/aura-db-healthcheck"], databases],
      [["CMD", "aura-db-healthcheck"], databases],
      [["CMD", "/usr/bin/python3", "-c", "pass"], "python3"],
      [
        ["CMD-SHELL", "[ -f /tmp/ready ] && PGCONNECT_TIMEOUT=5 pg_isready -h 127.0.0.1 || exit 1"],
        databases,
      ],
      [["CMD-SHELL", "if pg_isready -h 127.0.0.1; then exit 0; else exit 1; fi"], databases],
    ] as [string[], string][]) {
      assert.deepEqual(
        violations(healthChecksCallDeclaredTools, withCheck("x", command, tools)),
        [],
        command.join(" "),
      );
    }
  });

  it("looks inside aura-probe: the check it wraps may only call declared tools too", () => {
    const wrapped = [
      "CMD",
      "/usr/local/bin/aura-probe",
      "--window",
      "84",
      "--timeout",
      "12",
      "--",
      "curl",
      "-f",
      "http://127.0.0.1:8000/health",
    ];
    assert.deepEqual(
      violations(
        healthChecksCallDeclaredTools,
        withCheck("api-gateway", wrapped, "/usr/local/bin/aura-probe,python3"),
      ),
      [
        'api-gateway.healthCheck.command calls "curl", which the image does not declare: dockerLabels["org.aura.tools"] = "/usr/local/bin/aura-probe,python3"; call one of those (the check would fail forever and loop the task)',
      ],
    );
  });

  it("accepts every default command with the tools its image declares", () => {
    for (const name of CONTAINER_NAMES) {
      const args = withCheck(
        name,
        [...defaultHealthCheck(name).command],
        IMAGE_TOOLS[name].join(","),
      );
      assert.deepEqual(violations(healthChecksCallDeclaredTools, args), [], name);
    }
  });

  it("reports a command that is neither CMD nor CMD-SHELL", () => {
    const args = withCheck("api-gateway", ["python3", "-c", "pass"], "python3");
    assert.deepEqual(violations(healthChecksCallDeclaredTools, args), [
      'api-gateway.healthCheck.command = ["python3","-c","pass"] must start with "CMD" or "CMD-SHELL"',
    ]);
  });
});

describe("health-check programs (shell reading)", () => {
  const cases: [string[], string[]][] = [
    [["CMD", "python3", "-c", "import sys; sys.exit(0)"], ["python3"]],
    [
      ["CMD-SHELL", "curl -f http://127.0.0.1/ | grep -q ok; test $? -eq 0"],
      ["curl", "grep"],
    ],
    [["CMD-SHELL", "A=1 B='x y' exec nc -z 127.0.0.1 5432"], ["nc"]],
    [["CMD-SHELL", "redis-cli ping >/dev/null 2>&1 && echo ok"], ["redis-cli"]],
    [["CMD-SHELL", "> /tmp/probe mongo --eval 1"], ["mongo"]],
    [
      ["CMD-SHELL", "bash -c 'wget -q -O - http://127.0.0.1:8000'"],
      ["bash", "wget"],
    ],
    [["CMD-SHELL", "echo 'curl | wget' && true"], []],
    [["CMD-SHELL", 'test "$(curl -s http://127.0.0.1:8000/health)" = ok'], ["curl"]],
    [
      ["CMD-SHELL", "[ `wget -qO- http://127.0.0.1:8000 | wc -c` -gt 0 ]"],
      ["wget", "wc"],
    ],
    [["CMD-SHELL", "echo '$(curl x)'"], []],
    [["HEALTH", "curl"], []],
    [
      [
        "CMD",
        "/usr/local/bin/aura-probe",
        "--window",
        "84",
        "--timeout",
        "12",
        "--",
        "python3",
        "-c",
        "pass",
      ],
      ["/usr/local/bin/aura-probe", "python3"],
    ],
    [
      [
        "CMD",
        "/usr/local/bin/aura-probe",
        "--window",
        "9",
        "--timeout",
        "3",
        "--",
        "sh",
        "-c",
        "curl x",
      ],
      ["/usr/local/bin/aura-probe", "sh", "curl"],
    ],
  ];
  for (const [command, programs] of cases) {
    it(`${JSON.stringify(command)} runs ${JSON.stringify(programs)}`, () => {
      assert.deepEqual(healthCheckPrograms(command), programs);
    });
  }

  it("matches a path only against the same path or a bare name", () => {
    assert.equal(isDeclared("/usr/bin/python3", ["python3"]), true);
    assert.equal(isDeclared("aura-db-healthcheck", ["/usr/local/bin/aura-db-healthcheck"]), true);
    assert.equal(isDeclared("/tmp/python3", ["/usr/bin/python3"]), false);
    assert.equal(isDeclared("python", ["python3"]), false);
  });
});

describe("health-check settings in range", () => {
  const withNumbers = (numbers: Props) =>
    taskDefinition([
      container("databases", {
        healthCheck: { command: ["CMD", "/usr/local/bin/aura-db-healthcheck"], ...numbers },
        dockerLabels: { "org.aura.tools": "/usr/local/bin/aura-db-healthcheck" },
      }),
    ]);

  it("accepts the shipped databases policy, whose timeout is above its interval", () => {
    const { command, ...numbers } = defaultHealthCheck("databases");
    const args = taskDefinition([
      container("databases", {
        healthCheck: { command, ...numbers },
        dockerLabels: { "org.aura.tools": IMAGE_TOOLS.databases.join(",") },
      }),
    ]);
    assert.deepEqual(numbers, { interval: 5, timeout: 20, retries: 5, startPeriod: 280 });
    assert.deepEqual(violations(healthCheckSettingsInRange, args), []);
  });

  it("reports numbers outside ECS's ranges", () => {
    const args = withNumbers({ interval: 30, timeout: 30, retries: 11, startPeriod: 400 });
    assert.deepEqual(violations(healthCheckSettingsInRange, args), [
      "databases.healthCheck.retries = 11 is out of range: ECS allows 1-10 (whole numbers)",
      "databases.healthCheck.startPeriod = 400 is out of range: ECS allows 0-300 seconds (whole numbers)",
    ]);
  });

  it("checks aura-probe's timeout against ECS's default timeout when it is left out (5 s)", () => {
    const args = taskDefinition([
      container("databases", {
        healthCheck: {
          command: [
            "CMD",
            "/usr/local/bin/aura-probe",
            "--window",
            "9",
            "--timeout",
            "4",
            "--",
            "true",
          ],
          interval: 5,
        },
      }),
    ]);
    assert.deepEqual(violations(healthCheckSettingsInRange, args), [
      "databases.healthCheck.command runs aura-probe --timeout 4, which must be at most databases.healthCheck.timeout - 2 = 3 s: the probe has to kill a hanging check before ECS's timeout does, or ECS counts the hang as a failure whatever the degraded window says",
    ]);
  });
});

describe("image platform matches the task", () => {
  const image = (name: string, platforms: unknown) =>
    stackResource(DOCKER_BUILD_IMAGE_TYPE, name, { push: true, platforms });
  const task = (props: Props, images: PolicyResource[], name = "aura-task") =>
    stackResource(
      TASK_DEFINITION_TYPE,
      name,
      { requiresCompatibilities: ["FARGATE"], ...props },
      images,
    );

  it("reports an ARM image run by an X86_64 task", () => {
    const arm = image("api-gateway-image", ["linux/arm64"]);
    const resources = [arm, task({ runtimePlatform: { cpuArchitecture: "X86_64" } }, [arm])];
    assert.deepEqual(stackViolations(imagePlatformMatchesTask, resources), [
      {
        message:
          'docker-build Image "api-gateway-image".platforms = ["linux/arm64"] has no linux/amd64, but task definition "aura-task" runs on X86_64 (runtimePlatform.cpuArchitecture = "X86_64"): ECS would fail with CannotPullContainerError (no descriptor matching platform \'linux/amd64\'); build for linux/amd64 or change the task\'s runtimePlatform.cpuArchitecture',
        urn: arm.urn,
      },
    ]);
  });

  it("says that Fargate defaults to X86_64 when runtimePlatform is not set", () => {
    const arm = image("databases-image", ["linux/arm64"]);
    const resources = [arm, task({}, [arm])];
    assert.deepEqual(
      stackViolations(imagePlatformMatchesTask, resources).map((v) => v.message),
      [
        'docker-build Image "databases-image".platforms = ["linux/arm64"] has no linux/amd64, but task definition "aura-task" runs on X86_64 (runtimePlatform is not set: Fargate defaults to X86_64): ECS would fail with CannotPullContainerError (no descriptor matching platform \'linux/amd64\'); build for linux/amd64 or change the task\'s runtimePlatform.cpuArchitecture',
      ],
    );
  });

  it("reports an image without platforms, which builds for the machine running pulumi up", () => {
    const native = image("databases-image", undefined);
    const resources = [native, task({ runtimePlatform: { cpuArchitecture: "ARM64" } }, [native])];
    assert.deepEqual(
      stackViolations(imagePlatformMatchesTask, resources).map((v) => v.message),
      [
        'docker-build Image "databases-image".platforms is not set, so it is built for whatever machine runs pulumi up, but task definition "aura-task" runs on ARM64 (runtimePlatform.cpuArchitecture = "ARM64"): set platforms: ["linux/arm64"]',
      ],
    );
  });

  it("accepts matching and multi-platform images, with or without a variant", () => {
    const amd = image("a", ["linux/amd64"]);
    const both = image("b", ["linux/arm64/v8", "linux/amd64"]);
    assert.deepEqual(
      stackViolations(imagePlatformMatchesTask, [amd, both, task({}, [amd, both])]),
      [],
    );
    const arm = image("c", ["linux/arm64/v8"]);
    const armTask = task({ runtimePlatform: { cpuArchitecture: "ARM64" } }, [arm]);
    assert.deepEqual(stackViolations(imagePlatformMatchesTask, [arm, armTask]), []);
  });

  it("follows dependencies to pair each task with its own images", () => {
    const amd = image("x86-image", ["linux/amd64"]);
    const arm = image("arm-image", ["linux/arm64"]);
    const resources = [
      amd,
      arm,
      task({}, [amd], "x86-task"),
      task({ runtimePlatform: { cpuArchitecture: "ARM64" } }, [arm], "arm-task"),
    ];
    assert.deepEqual(stackViolations(imagePlatformMatchesTask, resources), []);
  });

  it("uses every image of a stack whose only task definition records no image dependency", () => {
    const arm = image("api-gateway-image", ["linux/arm64"]);
    const resources = [arm, task({ runtimePlatform: { cpuArchitecture: "X86_64" } }, [])];
    assert.equal(stackViolations(imagePlatformMatchesTask, resources).length, 1);
  });

  it("skips an image whose platforms are unknown during preview", () => {
    const unknown = image("api-gateway-image", unknownValue);
    assert.deepEqual(stackViolations(imagePlatformMatchesTask, [unknown, task({}, [unknown])]), []);
  });

  it("skips a task off Fargate without runtimePlatform, whose architecture is the instance's", () => {
    const arm = image("api-gateway-image", ["linux/arm64"]);
    const ec2 = task({ requiresCompatibilities: ["EC2"] }, [arm]);
    assert.deepEqual(stackViolations(imagePlatformMatchesTask, [arm, ec2]), []);
  });
});

describe("images pinned by digest", () => {
  it("reports a tag", () => {
    const image = `${REGISTRY}/aura-api-gateway:latest`;
    const args = taskDefinition([container("api-gateway", { image })]);
    assert.deepEqual(violations(imagesPinnedByDigest, args), [
      `api-gateway.image = "${image}" is not pinned to a digest: use <repository>@sha256:<64 lowercase hex digits> (the docker-build Image's ref output), so a moved tag cannot change what a restarted task runs`,
    ]);
  });

  it("reports a short digest and a missing image", () => {
    const args = taskDefinition([
      container("api-gateway", { image: `${REGISTRY}/aura-api-gateway@sha256:abc123` }),
      container("databases", { image: undefined }),
    ]);
    assert.deepEqual(
      violations(imagesPinnedByDigest, args).map((message) => message.split(" is not")[0]),
      [
        `api-gateway.image = "${REGISTRY}/aura-api-gateway@sha256:abc123"`,
        "databases.image = undefined",
      ],
    );
  });

  it("accepts a digest, with or without a tag before it", () => {
    const args = taskDefinition([
      container("api-gateway", { image: `${REGISTRY}/aura-api-gateway:v1@${DIGEST}` }),
    ]);
    assert.deepEqual(violations(imagesPinnedByDigest, args), []);
  });
});

describe("deployment circuit breaker with rollback", () => {
  const service = (type: string, props: Props) => resourceArgs(type, props, "aura-service");
  const on = { deploymentCircuitBreaker: { enable: true, rollback: true } };

  it("accepts it on aws.ecs.Service and awsx FargateService, with or without an ECS controller", () => {
    assert.deepEqual(
      violations(deploymentCircuitBreakerWithRollback, service(SERVICE_TYPE, on)),
      [],
    );
    const rolling = { ...on, deploymentController: { type: "ECS" } };
    assert.deepEqual(
      violations(deploymentCircuitBreakerWithRollback, service(FARGATE_SERVICE_TYPE, rolling)),
      [],
    );
  });

  it("reports a service without it", () => {
    assert.deepEqual(violations(deploymentCircuitBreakerWithRollback, service(SERVICE_TYPE, {})), [
      "deploymentCircuitBreaker is not set: set { enable: true, rollback: true } so a deployment whose tasks keep failing stops and rolls back to the last working one instead of replacing tasks forever",
    ]);
  });

  it("reports rollback off on a FargateService", () => {
    const props = { deploymentCircuitBreaker: { enable: true, rollback: false } };
    assert.deepEqual(
      violations(deploymentCircuitBreakerWithRollback, service(FARGATE_SERVICE_TYPE, props)),
      [
        "deploymentCircuitBreaker.rollback = false must be true: without it a deployment whose tasks keep failing is never stopped and rolled back to the last working one",
      ],
    );
  });

  it("reports a deployment controller other than ECS", () => {
    const props = { ...on, deploymentController: { type: "CODE_DEPLOY" } };
    assert.deepEqual(
      violations(deploymentCircuitBreakerWithRollback, service(SERVICE_TYPE, props)),
      [
        'deploymentController.type = "CODE_DEPLOY" has no deployment circuit breaker: use "ECS" (the rolling deployment controller) or leave it out',
      ],
    );
  });
});

describe("no secrets in environment", () => {
  it("reports secret-looking names, without their values", () => {
    const args = taskDefinition([
      container("service-desk-host", {
        environment: [
          { name: "POSTGRES_USER", value: "aura_user" },
          { name: "POSTGRES_PASSWORD", value: "hunter2" },
          { name: "stripe_api_key", value: "sk_live_x" },
        ],
      }),
    ]);
    const messages = violations(noSecretsInEnvironment, args);
    assert.deepEqual(messages, [
      'service-desk-host.environment[1].name = "POSTGRES_PASSWORD" looks like a secret (matches PASSWORD): pass it in secrets with valueFrom (a Secrets Manager or SSM parameter ARN); environment values are stored in plain text in the task definition',
      'service-desk-host.environment[2].name = "stripe_api_key" looks like a secret (matches API_KEY): pass it in secrets with valueFrom (a Secrets Manager or SSM parameter ARN); environment values are stored in plain text in the task definition',
    ]);
    assert.ok(messages.every((message) => !message.includes("hunter2")));
  });

  it("accepts plain settings and secrets passed by valueFrom", () => {
    const args = taskDefinition([
      container("service-desk-host", {
        environment: [
          { name: "POSTGRES_HOST", value: "127.0.0.1" },
          { name: "UPSTREAM_TIMEOUT_SECONDS", value: "10" },
        ],
        secrets: [{ name: "POSTGRES_PASSWORD", valueFrom: "arn:aws:secretsmanager:x" }],
      }),
    ]);
    assert.deepEqual(violations(noSecretsInEnvironment, args), []);
  });
});

describe("Fargate task size valid", () => {
  const size = (cpu: unknown, memory: unknown, compatibilities = ["FARGATE"]) =>
    taskDefinition([container("api-gateway")], {
      cpu,
      memory,
      requiresCompatibilities: compatibilities,
    });

  it("accepts Fargate sizes written in units or in vCPU and GB", () => {
    assert.deepEqual(violations(fargateTaskSizeValid, size("1024", "3072")), []);
    assert.deepEqual(violations(fargateTaskSizeValid, size("0.25 vCPU", "0.5GB")), []);
  });

  it("reports memory that does not fit the cpu", () => {
    assert.deepEqual(violations(fargateTaskSizeValid, size("1024", "3000")), [
      "aura-task:memory = 3000 does not fit aura-task:cpu = 1024: Fargate allows 2048-8192 in steps of 1024 MiB with that cpu",
    ]);
  });

  it("reports a cpu Fargate does not offer", () => {
    assert.deepEqual(violations(fargateTaskSizeValid, size("300", "1024")), [
      "aura-task:cpu = 300 is not a Fargate task size: allowed cpu values are 256, 512, 1024, 2048, 4096, 8192, 16384",
    ]);
  });

  it("reports a missing cpu", () => {
    assert.deepEqual(violations(fargateTaskSizeValid, size(undefined, "2048")), [
      'aura-task:cpu = undefined is not a Fargate task cpu: Fargate needs a task-level cpu in units such as "1024" (256, 512, 1024, 2048, 4096, 8192, 16384)',
    ]);
  });

  it("leaves task definitions that do not require Fargate alone", () => {
    assert.deepEqual(violations(fargateTaskSizeValid, size("300", "1000", ["EC2"])), []);
  });
});

describe("one writer with in-task databases, and managed databases encrypted", function () {
  this.timeout(20000);

  /** One program run per stack config: the checks only change copies of its inputs. */
  const runs = new Map<string, Awaited<ReturnType<typeof runProgram>>>();

  /** Every violation of every policy for a program run, with `change` applied to its inputs. */
  async function programViolations(
    overrides: Record<string, string>,
    change: (type: string, inputs: Props) => Props = (_type, inputs) => inputs,
  ): Promise<string[]> {
    const key = JSON.stringify(overrides);
    const run = runs.get(key) ?? (await runProgram({ overrides }));
    runs.set(key, run);
    const reported: string[] = [];
    const resources = run.resources.map((r) => ({ ...r, inputs: change(r.type, r.inputs) }));
    for (const resource of resources) {
      const args = resourceArgs(resource.type, resource.inputs, resource.name);
      for (const policy of resourcePolicies) {
        void policy.validateResource(args, (message) =>
          reported.push(`${policy.name}: ${message}`),
        );
      }
    }
    const stack = resources.map((r) => stackResource(r.type, r.name, r.inputs));
    for (const policy of [oneWriterWithInTaskDatabases, imagePlatformMatchesTask]) {
      for (const { message } of stackViolations(policy, stack)) {
        reported.push(`${policy.name}: ${message}`);
      }
    }
    return reported;
  }

  it("passes the program's efs stack (1 task) and its managed stack (3 tasks at 200 %)", async () => {
    assert.deepEqual(await programViolations({}), []);
    assert.deepEqual(
      await programViolations({ "aura:storage": "managed", "aura:desiredCount": "3" }),
      [],
    );
  });

  it("reports a second task or a 200 % deploy beside in-task databases", async () => {
    const reported = await programViolations({}, (type, inputs) =>
      type === FARGATE_SERVICE_TYPE
        ? { ...inputs, desiredCount: 2, deploymentMaximumPercent: 200 }
        : inputs,
    );
    assert.deepEqual(reported, [
      'aura-one-writer-with-in-task-databases: service "aura-service".desiredCount = 2 with the databases inside the task: each task would be a second, diverging PostgreSQL, Redis and MongoDB (on EFS, two writers on one data directory); run 1 task, or move the databases out with aura:storage managed',
      'aura-one-writer-with-in-task-databases: service "aura-service".deploymentMaximumPercent = 200 with the databases inside the task: a deploy would start the new task beside the old one (ECS\'s default is 200), two writers on the same data; set it to 100 (and deploymentMinimumHealthyPercent to 0)',
    ]);
  });

  it("reports unencrypted, public or TLS-optional engines, naming the field and the value", async () => {
    const reported = await programViolations({ "aura:storage": "managed" }, (type, inputs) => {
      if (type === "aws:rds/instance:Instance") {
        return { ...inputs, storageEncrypted: false, publiclyAccessible: true };
      }
      if (type === "aws:elasticache/replicationGroup:ReplicationGroup") {
        const changed: Props = { ...inputs, transitEncryptionMode: "preferred" };
        delete changed.authToken;
        return { ...changed, atRestEncryptionEnabled: false };
      }
      if (type === "aws:docdb/cluster:Cluster") return { ...inputs, storageEncrypted: false };
      return inputs;
    });
    assert.deepEqual(reported, [
      "aura-managed-databases-encrypted: atRestEncryptionEnabled = false must be true: the cache holds tickets, encrypt it at rest",
      'aura-managed-databases-encrypted: transitEncryptionMode = "preferred" lets clients in without TLS: use "required" (or leave it out)',
      "aura-managed-databases-encrypted: authToken is not set: without an AUTH token any client that reaches the port can read and write the cache",
      "aura-managed-databases-encrypted: storageEncrypted = false must be true: the activity log must be encrypted at rest",
      "aura-managed-databases-encrypted: storageEncrypted = false must be true: the tickets' database must be encrypted at rest",
      "aura-managed-databases-encrypted: publiclyAccessible = true must be false: PostgreSQL must never get a public address; the tasks reach it inside the VPC",
    ]);
  });

  it("skips engine fields that are unknown during preview", () => {
    const args = resourceArgs("aws:elasticache/replicationGroup:ReplicationGroup", {
      atRestEncryptionEnabled: true,
      transitEncryptionEnabled: true,
      authToken: unknownValue,
    });
    assert.deepEqual(violations(managedDatabasesEncrypted, args), []);
  });
});
