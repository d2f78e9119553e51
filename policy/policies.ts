/**
 * The Aura CrossGuard policies, one exported object each so tests can call them without the
 * Pulumi CLI. Every rule stops a cause of the original ECS restart loop (the README's "The
 * failure it prevents") before deploy; ranges and sizes come from ../lib, the same functions
 * the program uses, so the pack and the program cannot disagree.
 *
 * Policies check `args.type` instead of using `validateResourceOfType(aws.ecs.TaskDefinition,
 * ...)`: that would load @pulumi/aws into the pack and every test only to compare a type token.
 */
import {
  PolicyResource,
  ReportViolation,
  ResourceValidation,
  ResourceValidationArgs,
  ResourceValidationPolicy,
  StackValidationArgs,
  StackValidationPolicy,
  UnknownValueError,
} from "@pulumi/policy";
import { CPU_ARCHITECTURES, PLATFORMS, Platform } from "../lib/config";
import { TOOLS_LABEL } from "../lib/containers";
import {
  DependencyNode,
  cycleMessage,
  dependencyCycles,
  selfDependencyMessage,
} from "../lib/dependencies";
import { FARGATE_SIZES, validateFargateSize } from "../lib/fargate";
import {
  ECS_HEALTH_CHECK_DEFAULTS,
  HealthCheckPolicy,
  validateHealthCheck,
} from "../lib/healthCheck";
import { healthCheckPrograms, isDeclared } from "./shell";

export const TASK_DEFINITION_TYPE = "aws:ecs/taskDefinition:TaskDefinition";
export const SERVICE_TYPE = "aws:ecs/service:Service";
export const FARGATE_SERVICE_TYPE = "awsx:ecs:FargateService";
export const DOCKER_BUILD_IMAGE_TYPE = "docker-build:index:Image";

/** A resource policy whose single validation tests can call directly. */
export type AuraResourcePolicy = ResourceValidationPolicy & {
  validateResource: ResourceValidation;
};
/** A stack policy, for symmetry with `AuraResourcePolicy`. */
export type AuraStackPolicy = StackValidationPolicy;

/**
 * The error @pulumi/policy's property proxy throws when a policy reads a value that is unknown
 * during preview. Its declarations mark the class internal, so it is typed here.
 */
const UnknownValue: abstract new (...args: never[]) => Error = UnknownValueError;

const UNKNOWN = Symbol("unknown during preview");

/**
 * Reads a property that may be unknown during preview. Left to the SDK, an unknown value turns
 * into an advisory "can't run policy during preview" note on every resource of a first preview;
 * the policies instead skip quietly and check the value once it is known (at `pulumi up`).
 */
function known<T>(read: () => T): T | typeof UNKNOWN {
  try {
    return read();
  } catch (error) {
    if (error instanceof UnknownValue) return UNKNOWN;
    throw error;
  }
}

type Json = Record<string, unknown>;

function isRecord(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function show(value: unknown): string {
  return value === undefined ? "undefined" : JSON.stringify(value);
}

/** One container definition from the task's JSON, with the name messages use for it. */
interface Container {
  readonly label: string;
  readonly definition: Json;
}

type ParsedContainers =
  | { readonly kind: "skip" }
  | { readonly kind: "invalid"; readonly message: string }
  | { readonly kind: "containers"; readonly containers: readonly Container[] };

/** The task definition's containers; `skip` for other resources and while the JSON is unknown. */
function taskContainers(args: ResourceValidationArgs): ParsedContainers {
  if (args.type !== TASK_DEFINITION_TYPE) return { kind: "skip" };
  const json = known(() => args.props.containerDefinitions as unknown);
  if (json === UNKNOWN || json === undefined) return { kind: "skip" };
  let parsed: unknown;
  try {
    parsed = typeof json === "string" ? JSON.parse(json) : json;
  } catch (error) {
    return {
      kind: "invalid",
      message: `containerDefinitions is not valid JSON (${(error as Error).message}): it must be a JSON array of ECS container definitions`,
    };
  }
  if (!Array.isArray(parsed) || !parsed.every(isRecord)) {
    return {
      kind: "invalid",
      message: `containerDefinitions = ${show(parsed)} is not a list of container definitions: it must be a JSON array of objects`,
    };
  }
  return {
    kind: "containers",
    containers: parsed.map((definition, index) => ({
      label:
        typeof definition.name === "string" && definition.name !== ""
          ? definition.name
          : `containerDefinitions[${index}]`,
      definition,
    })),
  };
}

/** Runs `check` on each container of a task definition; other resources pass untouched. */
function forEachContainer(
  check: (container: Container, all: readonly Container[], report: ReportViolation) => void,
  reportInvalid = false,
): ResourceValidation {
  return (args, reportViolation) => {
    const parsed = taskContainers(args);
    if (parsed.kind === "invalid" && reportInvalid) reportViolation(parsed.message);
    if (parsed.kind !== "containers") return;
    for (const container of parsed.containers) {
      check(container, parsed.containers, reportViolation);
    }
  };
}

/** ECS treats a container without `essential` as essential. */
function isEssential(container: Container): boolean {
  return container.definition.essential !== false;
}

function healthCheckOf(container: Container): Json | undefined {
  const healthCheck = container.definition.healthCheck;
  return isRecord(healthCheck) ? healthCheck : undefined;
}

/**
 * The health check with ECS's defaults for the numbers left out, so the checks see what ECS
 * will run. The command is passed through as given; validateHealthCheck checks its shape.
 */
function effectiveHealthCheck(healthCheck: Json): HealthCheckPolicy {
  const number = (field: keyof typeof ECS_HEALTH_CHECK_DEFAULTS) =>
    (healthCheck[field] ?? ECS_HEALTH_CHECK_DEFAULTS[field]) as number;
  return {
    command: healthCheck.command as string[],
    interval: number("interval"),
    timeout: number("timeout"),
    retries: number("retries"),
    startPeriod: number("startPeriod"),
  };
}

export const essentialContainersHaveHealthChecks: AuraResourcePolicy = {
  name: "aura-essential-containers-have-health-checks",
  description:
    "Every essential container of an ECS task definition has a health check, so ECS can tell when it is ready and when it hangs.",
  enforcementLevel: "mandatory",
  validateResource: forEachContainer((container, _all, report) => {
    if (!isEssential(container) || healthCheckOf(container) !== undefined) return;
    report(
      `${container.label}.healthCheck is missing: an essential container needs a health check ("CMD" or "CMD-SHELL" command with interval, timeout, retries and startPeriod) so ECS knows when it is ready and replaces it when it hangs`,
    );
  }, true),
};

const DEPENDENCY_CONDITIONS = ["START", "COMPLETE", "SUCCESS", "HEALTHY"];

/** The containers as dependency nodes for lib/dependencies.ts, skipping malformed entries. */
function dependencyNodes(containers: readonly Container[]): DependencyNode[] {
  return containers.map((container) => {
    const dependsOn = container.definition.dependsOn;
    return {
      name: container.label,
      dependsOn: Array.isArray(dependsOn)
        ? dependsOn
            .filter(isRecord)
            .filter((dependency) => typeof dependency.containerName === "string")
            .map((dependency) => ({ containerName: dependency.containerName as string }))
        : [],
    };
  });
}

export const dependenciesAreSatisfiable: AuraResourcePolicy = {
  name: "aura-dependencies-are-satisfiable",
  description:
    "A dependsOn names another container of the same task, never the container itself, and forms no cycle; HEALTHY points at a container with a health check; COMPLETE and SUCCESS never wait for an essential container.",
  enforcementLevel: "mandatory",
  validateResource: (args, report) => {
    const parsed = taskContainers(args);
    if (parsed.kind !== "containers") return;
    const all = parsed.containers;
    for (const container of all) {
      const dependsOn = container.definition.dependsOn;
      if (!Array.isArray(dependsOn)) continue;
      dependsOn.forEach((dependency: unknown, index) => {
        const key = `${container.label}.dependsOn[${index}]`;
        if (!isRecord(dependency)) return;
        const { containerName, condition } = dependency;
        if (containerName === container.definition.name) {
          report(`${key}: ${selfDependencyMessage(container.label)}`);
          return;
        }
        const target = all.find((other) => other.definition.name === containerName);
        if (target === undefined) {
          const names = all.map((other) => other.label).join(", ");
          report(
            `${key}.containerName = ${show(containerName)} is not a container of this task: it must be one of ${names}`,
          );
          return;
        }
        if (!DEPENDENCY_CONDITIONS.includes(condition as string)) {
          report(
            `${key}.condition = ${show(condition)} is not an ECS dependency condition: use one of ${DEPENDENCY_CONDITIONS.join(", ")}`,
          );
        } else if (condition === "HEALTHY" && healthCheckOf(target) === undefined) {
          report(
            `${key} waits for ${target.label} to be HEALTHY, but ${target.label} has no healthCheck: HEALTHY needs one on the container waited for; add a health check to ${target.label} or wait for START`,
          );
        } else if ((condition === "COMPLETE" || condition === "SUCCESS") && isEssential(target)) {
          report(
            `${key}.condition = ${show(condition)} waits for ${target.label}, which is essential: ECS allows COMPLETE and SUCCESS only for containers with essential: false; use HEALTHY`,
          );
        }
      });
    }
    // One source of truth for the graph's shape: the local runner refuses the same cycles.
    for (const cycle of dependencyCycles(dependencyNodes(all))) report(cycleMessage(cycle));
  },
};

export const healthChecksCallDeclaredTools: AuraResourcePolicy = {
  name: "aura-health-checks-call-declared-tools",
  description: `No health check calls a program its image does not declare in the ${TOOLS_LABEL} label, or uses localhost.`,
  enforcementLevel: "mandatory",
  validateResource: forEachContainer((container, _all, report) => {
    const healthCheck = healthCheckOf(container);
    if (healthCheck === undefined) return;
    const key = `${container.label}.healthCheck`;
    // The command's shape and `localhost` come from the program's own rule (one wording, one
    // regex); the numbers belong to the settings policy, so they are not repeated here.
    for (const problem of validateHealthCheck(effectiveHealthCheck(healthCheck), key)) {
      if (problem.field === "command") report(problem.message);
    }
    const command = healthCheck.command;
    if (!Array.isArray(command) || !command.every((part) => typeof part === "string")) return;
    const labels = container.definition.dockerLabels;
    const label = isRecord(labels) ? labels[TOOLS_LABEL] : undefined;
    const declared =
      typeof label === "string"
        ? label
            .split(",")
            .map((tool) => tool.trim())
            .filter((tool) => tool !== "")
        : undefined;
    for (const program of healthCheckPrograms(command)) {
      if (declared === undefined) {
        report(
          `${key}.command calls "${program}", but ${container.label} has no dockerLabels["${TOOLS_LABEL}"]: nothing shows the image contains it; declare the image's health-check tools in that label and call only those`,
        );
      } else if (!isDeclared(program, declared)) {
        report(
          `${key}.command calls "${program}", which the image does not declare: dockerLabels["${TOOLS_LABEL}"] = ${show(label)}; call one of those (the check would fail forever and loop the task)`,
        );
      }
    }
  }),
};

export const healthCheckSettingsInRange: AuraResourcePolicy = {
  name: "aura-health-check-settings-in-range",
  description:
    "Health-check interval, timeout, retries and startPeriod are inside ECS's ranges, and aura-probe's own timeout stays inside ECS's.",
  enforcementLevel: "mandatory",
  validateResource: forEachContainer((container, _all, report) => {
    const healthCheck = healthCheckOf(container);
    if (healthCheck === undefined) return;
    const key = `${container.label}.healthCheck`;
    for (const problem of validateHealthCheck(effectiveHealthCheck(healthCheck), key)) {
      if (problem.field !== "command") report(problem.message);
    }
  }),
};

/** A digest reference: the tag can move, the digest cannot. OCI digests are lowercase hex. */
const DIGEST_PINNED = /@sha256:[0-9a-f]{64}$/;

export const imagesPinnedByDigest: AuraResourcePolicy = {
  name: "aura-images-pinned-by-digest",
  description:
    "Every container image is pinned by digest (@sha256:...), so all tasks of a deployment run the same image.",
  enforcementLevel: "mandatory",
  validateResource: forEachContainer((container, _all, report) => {
    const image = container.definition.image;
    if (typeof image === "string" && DIGEST_PINNED.test(image)) return;
    report(
      `${container.label}.image = ${show(image)} is not pinned to a digest: use <repository>@sha256:<64 lowercase hex digits> (the docker-build Image's ref output), so a moved tag cannot change what a restarted task runs`,
    );
  }),
};

/** Names that hold credentials by convention; their values belong in `secrets`. */
const SECRET_NAME = /PASSWORD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIALS?|ACCESS_?KEY/i;

export const noSecretsInEnvironment: AuraResourcePolicy = {
  name: "aura-no-secrets-in-environment",
  description:
    "No secret-looking variable (PASSWORD, SECRET, TOKEN, API_KEY, PRIVATE_KEY, CREDENTIALS, ACCESS_KEY) is set in environment; secrets come through secrets/valueFrom.",
  enforcementLevel: "mandatory",
  validateResource: forEachContainer((container, _all, report) => {
    const environment = container.definition.environment;
    if (!Array.isArray(environment)) return;
    environment.forEach((variable: unknown, index) => {
      if (!isRecord(variable) || typeof variable.name !== "string") return;
      const match = SECRET_NAME.exec(variable.name);
      if (match === null) return;
      // The value is deliberately left out of the message: it may be the secret itself.
      report(
        `${container.label}.environment[${index}].name = ${show(variable.name)} looks like a secret (matches ${match[0].toUpperCase()}): pass it in secrets with valueFrom (a Secrets Manager or SSM parameter ARN); environment values are stored in plain text in the task definition`,
      );
    });
  }),
};

/** Reads `props[field]` of a service; `UNKNOWN` while it is unknown during preview. */
function serviceProp(args: ResourceValidationArgs, field: string): unknown {
  return known(() => args.props[field] as unknown);
}

export const deploymentCircuitBreakerWithRollback: AuraResourcePolicy = {
  name: "aura-deployment-circuit-breaker-with-rollback",
  description:
    "ECS services (and awsx FargateServices) have the deployment circuit breaker with rollback on and the rolling (ECS) deployment controller.",
  enforcementLevel: "mandatory",
  validateResource: (args, reportViolation) => {
    if (args.type !== SERVICE_TYPE && args.type !== FARGATE_SERVICE_TYPE) return;
    const breaker = serviceProp(args, "deploymentCircuitBreaker");
    if (breaker !== UNKNOWN) {
      if (!isRecord(breaker)) {
        reportViolation(
          `deploymentCircuitBreaker is not set: set { enable: true, rollback: true } so a deployment whose tasks keep failing stops and rolls back to the last working one instead of replacing tasks forever`,
        );
      } else {
        for (const field of ["enable", "rollback"]) {
          const value = known(() => breaker[field]);
          if (value === UNKNOWN || value === true) continue;
          reportViolation(
            `deploymentCircuitBreaker.${field} = ${show(value)} must be true: without it a deployment whose tasks keep failing is never stopped${field === "rollback" ? " and rolled back to the last working one" : ""}`,
          );
        }
      }
    }
    const controller = serviceProp(args, "deploymentController");
    if (controller === UNKNOWN || !isRecord(controller)) return;
    const type = known(() => controller.type);
    if (type === UNKNOWN || type === undefined || type === "ECS") return;
    reportViolation(
      `deploymentController.type = ${show(type)} has no deployment circuit breaker: use "ECS" (the rolling deployment controller) or leave it out`,
    );
  },
};

/** Parses ECS's task cpu ("1024" or "1 vCPU") into units; undefined when it is neither. */
function cpuUnits(value: unknown): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(vcpu)?\s*$/i.exec(String(value));
  if (match === null) return undefined;
  return match[2] === undefined ? Number(match[1]) : Number(match[1]) * 1024;
}

/** Parses ECS's task memory ("3072" MiB or "3 GB") into MiB; undefined when it is neither. */
function memoryMiB(value: unknown): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(gb)?\s*$/i.exec(String(value));
  if (match === null) return undefined;
  return match[2] === undefined ? Number(match[1]) : Number(match[1]) * 1024;
}

function requiresFargate(props: Record<string, unknown>): boolean | typeof UNKNOWN {
  return known(() => {
    const compatibilities = props.requiresCompatibilities;
    return Array.isArray(compatibilities) && compatibilities.includes("FARGATE");
  });
}

export const fargateTaskSizeValid: AuraResourcePolicy = {
  name: "aura-fargate-task-size-valid",
  description: "A Fargate task definition's cpu and memory are a size Fargate offers.",
  enforcementLevel: "mandatory",
  validateResource: (args, reportViolation) => {
    if (args.type !== TASK_DEFINITION_TYPE || requiresFargate(args.props) !== true) return;
    const cpu = known(() => args.props.cpu as unknown);
    const memory = known(() => args.props.memory as unknown);
    if (cpu === UNKNOWN || memory === UNKNOWN) return;
    const key = args.name;
    const units = cpuUnits(cpu);
    const mib = memoryMiB(memory);
    if (cpu === undefined || units === undefined) {
      reportViolation(
        `${key}:cpu = ${show(cpu)} is not a Fargate task cpu: Fargate needs a task-level cpu in units such as "1024" (${[...FARGATE_SIZES.keys()].join(", ")})`,
      );
    }
    if (memory === undefined || mib === undefined) {
      reportViolation(
        `${key}:memory = ${show(memory)} is not a Fargate task memory: Fargate needs a task-level memory in MiB such as "3072"`,
      );
    }
    if (units === undefined || mib === undefined) return;
    for (const message of validateFargateSize(units, mib, key)) reportViolation(message);
  },
};

/** The image platform ECS pulls for an architecture: the inverse of the program's mapping. */
function platformFor(cpuArchitecture: string): Platform | undefined {
  return PLATFORMS.find((platform) => CPU_ARCHITECTURES[platform] === cpuArchitecture);
}

/** `linux/arm64/v8` runs where `linux/arm64` is asked for. */
function withoutVariant(platform: string): string {
  return platform.split("/").slice(0, 2).join("/");
}

/**
 * The docker-build images a task definition runs: those it depends on, directly or through
 * other resources (an image check between them, say). A stack with one task definition and no
 * recorded dependency on an image gets all of the stack's images, since they can only be its.
 */
function imagesOf(
  taskDefinition: PolicyResource,
  taskDefinitions: readonly PolicyResource[],
  images: readonly PolicyResource[],
): readonly PolicyResource[] {
  const seen = new Set<string>([taskDefinition.urn]);
  const queue = [taskDefinition];
  const found: PolicyResource[] = [];
  while (queue.length > 0) {
    const resource = queue.shift()!;
    const next = [
      ...resource.dependencies,
      ...Object.values(resource.propertyDependencies ?? {}).flat(),
    ];
    for (const dependency of next) {
      if (seen.has(dependency.urn)) continue;
      seen.add(dependency.urn);
      if (dependency.type === DOCKER_BUILD_IMAGE_TYPE) found.push(dependency);
      else queue.push(dependency);
    }
  }
  return found.length === 0 && taskDefinitions.length === 1 ? images : found;
}

/** The architecture a task definition runs on, and why; undefined when it cannot be known. */
function taskArchitecture(
  taskDefinition: PolicyResource,
): { readonly cpuArchitecture: string; readonly reason: string } | undefined {
  const given = known(() => {
    const runtimePlatform = taskDefinition.props.runtimePlatform as unknown;
    return isRecord(runtimePlatform) ? runtimePlatform.cpuArchitecture : undefined;
  });
  if (given === UNKNOWN) return undefined;
  if (typeof given === "string") {
    return { cpuArchitecture: given, reason: `runtimePlatform.cpuArchitecture = "${given}"` };
  }
  // Off Fargate the architecture is the instance's, which the task definition does not say.
  if (requiresFargate(taskDefinition.props) !== true) return undefined;
  return {
    cpuArchitecture: "X86_64",
    reason: "runtimePlatform is not set: Fargate defaults to X86_64",
  };
}

export const imagePlatformMatchesTask: AuraStackPolicy = {
  name: "aura-image-platform-matches-task",
  description:
    "Each docker-build Image is built for the platform of the task definition that runs it (X86_64: linux/amd64, ARM64: linux/arm64).",
  enforcementLevel: "mandatory",
  validateStack: (args: StackValidationArgs, reportViolation) => {
    const taskDefinitions = args.resources.filter((r) => r.type === TASK_DEFINITION_TYPE);
    const images = args.resources.filter((r) => r.type === DOCKER_BUILD_IMAGE_TYPE);
    for (const taskDefinition of taskDefinitions) {
      const architecture = taskArchitecture(taskDefinition);
      if (architecture === undefined) continue;
      const { cpuArchitecture, reason } = architecture;
      const task = `task definition "${taskDefinition.name}"`;
      const wanted = platformFor(cpuArchitecture);
      if (wanted === undefined) {
        const allowed = PLATFORMS.map((platform) => CPU_ARCHITECTURES[platform]).join(", ");
        reportViolation(
          `${task} has ${reason}, which ECS does not offer: use one of ${allowed}`,
          taskDefinition.urn,
        );
        continue;
      }
      for (const image of imagesOf(taskDefinition, taskDefinitions, images)) {
        const platforms = known(() => {
          const value = image.props.platforms as unknown;
          return Array.isArray(value) ? value.map(String) : value;
        });
        if (platforms === UNKNOWN) continue;
        const name = `docker-build Image "${image.name}"`;
        if (!Array.isArray(platforms) || platforms.length === 0) {
          reportViolation(
            `${name}.platforms is not set, so it is built for whatever machine runs pulumi up, but ${task} runs on ${cpuArchitecture} (${reason}): set platforms: ["${wanted}"]`,
            image.urn,
          );
        } else if (!platforms.map(withoutVariant).includes(wanted)) {
          reportViolation(
            `${name}.platforms = ${show(platforms)} has no ${wanted}, but ${task} runs on ${cpuArchitecture} (${reason}): ECS would fail with CannotPullContainerError (no descriptor matching platform '${wanted}'); build for ${wanted} or change the task's runtimePlatform.cpuArchitecture`,
            image.urn,
          );
        }
      }
    }
  },
};

export const RDS_INSTANCE_TYPE = "aws:rds/instance:Instance";
export const REPLICATION_GROUP_TYPE = "aws:elasticache/replicationGroup:ReplicationGroup";
export const DOCDB_CLUSTER_TYPE = "aws:docdb/cluster:Cluster";

/** A task definition runs in-task databases when one of its containers is named `databases`. */
function runsInTaskDatabases(taskDefinition: PolicyResource): boolean | typeof UNKNOWN {
  return known(() => {
    const json = taskDefinition.props.containerDefinitions as unknown;
    if (json === undefined) return false;
    const parsed: unknown = typeof json === "string" ? JSON.parse(json) : json;
    return Array.isArray(parsed) && parsed.some((d) => isRecord(d) && d.name === "databases");
  });
}

export const oneWriterWithInTaskDatabases: AuraStackPolicy = {
  name: "aura-one-writer-with-in-task-databases",
  description:
    "A service whose task runs the databases container runs one task, and a deploy never starts a second beside it (desiredCount 1, deploymentMaximumPercent 100): the databases' files have one writer.",
  enforcementLevel: "mandatory",
  validateStack: (args: StackValidationArgs, reportViolation) => {
    const taskDefinitions = args.resources.filter((r) => r.type === TASK_DEFINITION_TYPE);
    if (!taskDefinitions.some((task) => runsInTaskDatabases(task) === true)) return;
    const services = args.resources.filter(
      (r) => r.type === SERVICE_TYPE || r.type === FARGATE_SERVICE_TYPE,
    );
    for (const service of services) {
      const desiredCount = known(() => service.props.desiredCount as unknown);
      const maximumPercent = known(() => service.props.deploymentMaximumPercent as unknown);
      const name = `service "${service.name}"`;
      if (desiredCount !== UNKNOWN && desiredCount !== undefined && desiredCount !== 1) {
        reportViolation(
          `${name}.desiredCount = ${show(desiredCount)} with the databases inside the task: each task would be a second, diverging PostgreSQL, Redis and MongoDB (on EFS, two writers on one data directory); run 1 task, or move the databases out with aura:storage managed`,
          service.urn,
        );
      }
      if (
        maximumPercent !== UNKNOWN &&
        (maximumPercent === undefined || Number(maximumPercent) > 100)
      ) {
        reportViolation(
          `${name}.deploymentMaximumPercent = ${show(maximumPercent)} with the databases inside the task: a deploy would start the new task beside the old one (ECS's default is 200), two writers on the same data; set it to 100 (and deploymentMinimumHealthyPercent to 0)`,
          service.urn,
        );
      }
    }
  },
};

export const managedDatabasesEncrypted: AuraResourcePolicy = {
  name: "aura-managed-databases-encrypted",
  description:
    "RDS instances, ElastiCache replication groups and DocumentDB clusters are encrypted at rest, RDS is not publicly accessible, and Redis takes TLS only, with an AUTH token.",
  enforcementLevel: "mandatory",
  validateResource: (args, reportViolation) => {
    const expect = (field: string, wanted: unknown, why: string) => {
      const value = known(() => args.props[field] as unknown);
      if (value === UNKNOWN || value === wanted) return;
      reportViolation(`${field} = ${show(value)} must be ${show(wanted)}: ${why}`);
    };
    switch (args.type) {
      case RDS_INSTANCE_TYPE:
        expect("storageEncrypted", true, "the tickets' database must be encrypted at rest");
        expect(
          "publiclyAccessible",
          false,
          "PostgreSQL must never get a public address; the tasks reach it inside the VPC",
        );
        return;
      case REPLICATION_GROUP_TYPE: {
        expect("atRestEncryptionEnabled", true, "the cache holds tickets, encrypt it at rest");
        expect("transitEncryptionEnabled", true, "clients must reach Redis over TLS");
        const mode = known(() => args.props.transitEncryptionMode as unknown);
        if (mode !== UNKNOWN && mode !== undefined && mode !== "required") {
          reportViolation(
            `transitEncryptionMode = ${show(mode)} lets clients in without TLS: use "required" (or leave it out)`,
          );
        }
        const token = known(() => args.props.authToken as unknown);
        if (token !== UNKNOWN && (token === undefined || token === "")) {
          reportViolation(
            "authToken is not set: without an AUTH token any client that reaches the port can read and write the cache",
          );
        }
        return;
      }
      case DOCDB_CLUSTER_TYPE:
        expect("storageEncrypted", true, "the activity log must be encrypted at rest");
        return;
      default:
        return;
    }
  },
};

/** Every policy of the pack, in the order the README lists them. */
export const auraPolicies: readonly (AuraResourcePolicy | AuraStackPolicy)[] = [
  essentialContainersHaveHealthChecks,
  dependenciesAreSatisfiable,
  healthChecksCallDeclaredTools,
  healthCheckSettingsInRange,
  imagePlatformMatchesTask,
  imagesPinnedByDigest,
  deploymentCircuitBreakerWithRollback,
  noSecretsInEnvironment,
  fargateTaskSizeValid,
  oneWriterWithInTaskDatabases,
  managedDatabasesEncrypted,
];
