/**
 * Preflight: what the task's health-check policy means in time, checked at preview before
 * anything is deployed. Contradictions (a task that can only loop) are errors; risky settings
 * are warnings; the timeline itself is logged so a reviewer sees it in every preview.
 */
import { AuraConfig, StorageMode } from "./config";
import { CONTAINER_NAMES, ContainerName } from "./containers";
import {
  DEFAULT_INTERVAL,
  HealthCheckPolicy,
  HealthCheckTimeline,
  ToleranceFloors,
  healthCheckTimeline,
  isProbeWithMemory,
  toleranceFloors,
} from "./healthCheck";
import {
  DeploymentSettings,
  PUBLIC_CONTAINER,
  TARGET_GROUP_HEALTH_CHECK,
  targetGroupHealthyAfter,
} from "./service";
import { containerDependencies, taskContainerNames } from "./taskDefinition";

/**
 * Seconds from container start until the process answers its health check, on a cold Fargate
 * task of the default size: the databases' first boot (initdb, three servers, users) is the
 * slow one. Rules compare the health-check budgets against these, with a 2x safety margin.
 */
export const EXPECTED_READY_SECONDS: Readonly<Record<ContainerName, number>> = {
  databases: 60,
  "api-gateway": 10,
  "service-desk-host": 15,
};

/** How far beyond the expected start a policy must tolerate before it stops warning. */
export const SAFETY_FACTOR = 2;

export type Severity = "error" | "warning" | "info";

export interface Finding {
  readonly severity: Severity;
  /** A short stable id, e.g. `boot-budget`, so tests and readers can refer to the rule. */
  readonly rule: string;
  readonly container?: ContainerName;
  readonly message: string;
}

export interface ContainerSchedule {
  readonly container: ContainerName;
  readonly timeline: HealthCheckTimeline;
  /** When the container is started, in seconds from task start: [best case, worst case]. */
  readonly startsAt: readonly [number, number];
  /** When it is HEALTHY with its expected start: start + expected ready + detection. */
  readonly healthyAt: number;
  /** The latest it can be HEALTHY before its own check declares it UNHEALTHY. */
  readonly healthyAtLatest: number;
}

export interface PreflightReport {
  readonly schedule: readonly ContainerSchedule[];
  readonly findings: readonly Finding[];
}

/** The target group's health-check numbers that decide when the ALB admits a target. */
export interface TargetGroupTiming {
  readonly interval: number;
  readonly timeout: number;
  readonly healthyThreshold: number;
}

/** The service settings the preflight checks alongside the containers. */
export interface ServiceTiming {
  readonly healthCheckGracePeriodSeconds: number;
  readonly targetGroup?: TargetGroupTiming;
}

/** Works out the task's schedule and every finding. Pure: no Pulumi, no I/O. */
export function preflight(
  config: Pick<AuraConfig, "containers"> & Partial<Pick<AuraConfig, "storage">>,
  service: ServiceTiming,
): PreflightReport {
  const findings: Finding[] = [];
  const schedule = new Map<ContainerName, ContainerSchedule>();
  // With managed storage the task has no databases container to schedule or judge.
  const storage = config.storage ?? "efs";
  const names = taskContainerNames(storage);

  for (const name of names) {
    const settings = config.containers[name];
    const timeline = healthCheckTimeline(settings.healthCheck);
    const startsAt = dependencyStart(name, schedule, storage);
    const expected = EXPECTED_READY_SECONDS[name];
    // A probe lands on the interval grid; the first one after the process is ready passes.
    const detection =
      Math.max(1, Math.ceil(expected / settings.healthCheck.interval)) *
      settings.healthCheck.interval;
    schedule.set(name, {
      container: name,
      timeline,
      startsAt,
      healthyAt: startsAt[0] + detection,
      healthyAtLatest: startsAt[1] + timeline.earliestUnhealthy,
    });
    findings.push(...containerFindings(name, config, timeline));
  }

  findings.push(...dependencyFindings(config, schedule, storage));
  findings.push(...serviceFindings(service, schedule.get(PUBLIC_CONTAINER)!));
  return { schedule: names.map((name) => schedule.get(name)!), findings };
}

/** When `name` starts: at once, or when its HEALTHY dependencies are (best and worst case). */
function dependencyStart(
  name: ContainerName,
  schedule: ReadonlyMap<ContainerName, ContainerSchedule>,
  storage: StorageMode,
): [number, number] {
  let earliest = 0;
  let latest = 0;
  for (const dependency of containerDependencies(name, storage)) {
    const target = schedule.get(dependency.containerName as ContainerName);
    if (target === undefined) continue;
    earliest = Math.max(earliest, target.healthyAt);
    latest = Math.max(latest, target.healthyAtLatest);
  }
  return [earliest, latest];
}

function containerFindings(
  name: ContainerName,
  config: Pick<AuraConfig, "containers">,
  timeline: HealthCheckTimeline,
): Finding[] {
  const findings: Finding[] = [];
  const { healthCheck } = config.containers[name];
  const key = `aura:${name}`;
  const expected = EXPECTED_READY_SECONDS[name];

  if (timeline.earliestUnhealthy < expected) {
    findings.push({
      severity: "error",
      rule: "boot-budget",
      container: name,
      message: `${name} can be UNHEALTHY ${timeline.earliestUnhealthy} s after start, before its expected start-up of ${expected} s: every task would be stopped and replaced, the restart loop. Raise ${key}.startPeriod or ${key}.retries.`,
    });
  } else if (timeline.earliestUnhealthy < expected * SAFETY_FACTOR) {
    findings.push({
      severity: "warning",
      rule: "boot-budget",
      container: name,
      message: `${name} can be UNHEALTHY ${timeline.earliestUnhealthy} s after start, less than ${SAFETY_FACTOR}x its expected start-up of ${expected} s: a slow cold start would loop. Raise ${key}.startPeriod.`,
    });
  }

  findings.push(...floorFindings(name, healthCheck.command, timeline));

  if (healthCheck.interval > SLOW_DETECTION_INTERVAL) {
    findings.push({
      severity: "warning",
      rule: "slow-detection",
      container: name,
      message: `${key}.interval = ${healthCheck.interval}: a ready ${name} may wait ${timeline.detectionLatency} s for the probe that sees it HEALTHY (${timeline.detectionLatencyWorst} s if a probe hangs), and everything that depends on it waits too. ${DEFAULT_INTERVAL} s, ECS's minimum, is the default; aura-probe's window gives the tolerance instead.`,
    });
  }
  return findings;
}

/**
 * An interval above this is flagged: twice ECS's minimum, the default. Every second of interval
 * is a second each dependent may wait.
 */
export const SLOW_DETECTION_INTERVAL = 2 * DEFAULT_INTERVAL;

/** The hand fix's floors that apply to `name`. */
export function floorsFor(name: ContainerName): ToleranceFloors {
  return toleranceFloors(name === "databases" ? "databases" : "app");
}

/** A warning for each phase in which `name` tolerates less than the hand fix did. */
function floorFindings(
  name: ContainerName,
  command: readonly string[],
  timeline: HealthCheckTimeline,
): Finding[] {
  const findings: Finding[] = [];
  const key = `aura:${name}`;
  const floors = floorsFor(name);
  const wrapped = timeline.degradedWindow > 0 || command.some(isProbeWithMemory);
  const window = wrapped
    ? `the --window of aura-probe in ${key}.command`
    : `a degraded window (wrap ${key}.command's check in aura-probe, see the README)`;
  const warn = (rule: string, message: string) =>
    findings.push({ severity: "warning", rule, container: name, message });
  if (timeline.earliestUnhealthy < floors.firstBoot) {
    warn(
      "first-boot-floor",
      `${name} can be UNHEALTHY ${timeline.earliestUnhealthy} s after start, less than the ${floors.firstBoot} s of the hand fix that ended the original loop: a slow first boot it survived would loop. Raise ${key}.startPeriod or ${key}.retries.`,
    );
  }
  if (timeline.steadyFailingFast < floors.steadyFailingFast) {
    warn(
      "steady-failing-fast-floor",
      `${name} is UNHEALTHY ${timeline.steadyFailingFast} s after its last pass when its check starts failing, less than the hand fix's ${floors.steadyFailingFast} s: a crash recovery or a network stall it rode out would replace the task. Raise ${window}, ${key}.retries or ${key}.interval.`,
    );
  }
  if (timeline.steadyHanging < floors.steadyHanging) {
    warn(
      "steady-hanging-floor",
      `${name} is UNHEALTHY ${timeline.steadyHanging} s after its last pass when its check starts hanging, less than the hand fix's ${floors.steadyHanging} s: a stalled disk or network it rode out would replace the task. Raise ${window}, ${key}.retries, ${key}.interval or ${wrapped ? `aura-probe's --timeout in ${key}.command` : `${key}.timeout`}.`,
    );
  }
  return findings;
}

function dependencyFindings(
  config: Pick<AuraConfig, "containers">,
  schedule: ReadonlyMap<ContainerName, ContainerSchedule>,
  storage: StorageMode,
): Finding[] {
  const findings: Finding[] = [];
  for (const target of CONTAINER_NAMES) {
    const dependents = CONTAINER_NAMES.filter((name) =>
      containerDependencies(name, storage).some(
        (dependency) => dependency.containerName === target,
      ),
    );
    if (dependents.length === 0) continue;
    const waiting = dependents.join(" and ");
    const { startTimeout } = config.containers[target];
    const { healthyAt, timeline } = schedule.get(target)!;
    const finding = (severity: Severity, message: string) =>
      findings.push({ severity, rule: "start-timeout", container: target, message });
    if (startTimeout === undefined) {
      finding(
        "info",
        `${target} has no startTimeout: ${waiting} wait while ${target} is starting; its own health check ends the wait at ${timeline.earliestUnhealthy} s (UNHEALTHY stops the task).`,
      );
    } else if (startTimeout < healthyAt) {
      finding(
        "error",
        `aura:${target}.startTimeout = ${startTimeout} s ends before ${target} can be HEALTHY (${healthyAt} s with its expected start-up): ${waiting} would never start and the task would stop every time. Raise it or leave it unset.`,
      );
    } else if (startTimeout < timeline.earliestUnhealthy) {
      finding(
        "warning",
        `aura:${target}.startTimeout = ${startTimeout} s cuts ${target}'s boot budget of ${timeline.earliestUnhealthy} s short: a slow boot stops the task at ${startTimeout} s even though its health check would still wait.`,
      );
    }
  }
  return findings;
}

function serviceFindings(service: ServiceTiming, gateway: ContainerSchedule): Finding[] {
  const findings: Finding[] = [];
  const targetGroup = service.targetGroup ?? TARGET_GROUP_HEALTH_CHECK;
  if (targetGroup.timeout >= targetGroup.interval) {
    findings.push({
      severity: "error",
      rule: "target-group",
      message: `The target group's health-check timeout (${targetGroup.timeout} s) must be less than its interval (${targetGroup.interval} s): ELB rejects it.`,
    });
  }
  const albAdmits = targetGroupHealthyAfter(targetGroup);
  const needed = gateway.healthyAtLatest + albAdmits;
  const expected = gateway.healthyAt + albAdmits;
  if (service.healthCheckGracePeriodSeconds < expected) {
    findings.push({
      severity: "error",
      rule: "grace-period",
      message: `healthCheckGracePeriodSeconds = ${service.healthCheckGracePeriodSeconds} s ends before the gateway is expected to pass the ALB's checks (${expected} s): ECS would stop every new task for failed ELB health checks.`,
    });
  } else if (service.healthCheckGracePeriodSeconds < needed) {
    findings.push({
      severity: "warning",
      rule: "grace-period",
      message: `healthCheckGracePeriodSeconds = ${service.healthCheckGracePeriodSeconds} s is shorter than the ${needed} s the container health checks allow the gateway to come up: a slow start would fail on ELB health checks instead.`,
    });
  }
  return findings;
}

/** The report as lines for the preview log: per container its start, then its tolerance in each phase. */
export function describePreflight(report: PreflightReport, service: ServiceTiming): string[] {
  const lines: string[] = [];
  for (const { container, timeline, startsAt, healthyAt, healthyAtLatest } of report.schedule) {
    const floors = floorsFor(container);
    const start =
      startsAt[1] === 0
        ? "starts with the task"
        : `starts when its dependencies are HEALTHY (${startsAt[0]}-${startsAt[1]} s)`;
    const degraded =
      timeline.degradedWindow > 0
        ? `; aura-probe answers the first ${timeline.degradedWindow} s of failures "healthy, degraded"`
        : "";
    lines.push(
      `${container}: ${start}; expected HEALTHY at ${healthyAt} s, at the latest ${healthyAtLatest} s`,
      `${container} first boot: UNHEALTHY at the earliest ${timeline.earliestUnhealthy} s after start (hand fix ${floors.firstBoot} s)`,
      `${container} steady state: UNHEALTHY ${timeline.steadyFailingFast} s after its last pass when the check fails fast (hand fix ${floors.steadyFailingFast} s), ${timeline.steadyHanging} s when it hangs (hand fix ${floors.steadyHanging} s)${degraded}`,
      `${container} detection: HEALTHY within ${timeline.detectionLatency} s of being ready (${timeline.detectionLatencyWorst} s if a probe hangs just then)`,
    );
  }
  if (report.schedule.some(({ timeline }) => timeline.degradedWindow > 0)) {
    lines.push(
      `aura-probe: after one pass a failing check is answered "healthy, degraded" for its window, then ECS's retries count; before the first pass every failure counts at once and the start period covers the boot. So the interval can be ECS's minimum (fast HEALTHY) while each phase tolerates at least what the hand fix did.`,
    );
  }
  lines.push(`service: health-check grace period ${service.healthCheckGracePeriodSeconds} s`);
  return [...lines, ...report.findings.map((finding) => `${finding.severity}: ${finding.message}`)];
}

/** The errors as one message, or undefined when there are none. */
export function preflightErrors(report: PreflightReport): string | undefined {
  const errors = report.findings.filter((finding) => finding.severity === "error");
  if (errors.length === 0) return undefined;
  return `Preflight found settings that can only loop:\n  - ${errors.map((e) => e.message).join("\n  - ")}`;
}
/**
 * Image sizes measured by `scripts/build-images.sh` on this project's images (docs/containers.md):
 * the uncompressed bytes a new task pulls and unpacks. MongoDB could not be installed where they
 * were measured; it adds an estimated 250-300 MB to the databases image.
 */
export const MEASURED_IMAGE_MEGABYTES: Readonly<Record<ContainerName, number>> = {
  databases: 334,
  "api-gateway": 173,
  "service-desk-host": 173,
};

/**
 * Assumed pull-and-unpack rate of a Fargate task from ECR in its own region, in megabytes of
 * image per second. Not measured on Fargate (this project has never run there); a deliberately
 * modest figure for gzip layers over the task's ENI.
 */
export const PULL_MEGABYTES_PER_SECOND = 40;

/** Assumed seconds from launch to PENDING on Fargate: capacity and the task's ENI attachment. */
export const PROVISIONING_SECONDS = 10;

/**
 * Expected seconds from SIGTERM until each container has exited, on a healthy task (not the
 * `stopTimeout` cap): the apps finish their in-flight requests (each bounded by the gateway's
 * 10 s upstream timeout, usually milliseconds), supervisord stops MongoDB, Redis (snapshot) and
 * PostgreSQL (fast shutdown) in turn.
 */
export const EXPECTED_STOP_SECONDS: Readonly<Record<ContainerName, number>> = {
  databases: 5,
  "api-gateway": 1,
  "service-desk-host": 1,
};

/**
 * Expected seconds until each container answers on a redeploy, with its data already on the
 * volume (no initdb): the e2e run saw the databases HEALTHY 16.2 s after their container was
 * created with a 16 s interval (so ready within that), and the gateway answer within a second
 * of its start.
 */
export const EXPECTED_RESTART_READY_SECONDS: Readonly<Record<ContainerName, number>> = {
  databases: 15,
  "api-gateway": 2,
  "service-desk-host": 2,
};

/** One term of the outage, with the reason it is as small as it is. */
export interface OutageTerm {
  readonly name: string;
  readonly seconds: number;
  readonly detail: string;
}

export interface DeployOutage {
  /** Seconds the service answers nothing during one deploy: 0 when a task always serves. */
  readonly seconds: number;
  readonly terms: readonly OutageTerm[];
  /** Tasks ECS keeps serving during a deploy: desired x minimum healthy percent, rounded up. */
  readonly keptServing: number;
}

export interface OutageInput {
  readonly deployment: DeploymentSettings;
  readonly storage: StorageMode;
  readonly containers: Readonly<
    Record<ContainerName, { readonly healthCheck: HealthCheckPolicy; readonly stopTimeout: number }>
  >;
  readonly deregistrationDelay: number;
  readonly targetGroup: { readonly healthyThreshold: number; readonly interval: number };
  readonly imageMegabytes?: Readonly<Record<ContainerName, number>>;
}

/** Megabytes a new task pulls: the images of the task's containers. */
function taskImageMegabytes(
  storage: StorageMode,
  imageMegabytes: Readonly<Record<ContainerName, number>>,
): number {
  return taskContainerNames(storage).reduce((sum, name) => sum + imageMegabytes[name], 0);
}

/** Seconds a new task needs to be provisioned and to pull its images. */
export function launchSeconds(
  storage: StorageMode = "efs",
  imageMegabytes: Readonly<Record<ContainerName, number>> = MEASURED_IMAGE_MEGABYTES,
): number {
  return (
    PROVISIONING_SECONDS +
    Math.ceil(taskImageMegabytes(storage, imageMegabytes) / PULL_MEGABYTES_PER_SECOND)
  );
}

/**
 * The expected outage of one deploy, from the program's own settings. ECS keeps
 * ceil(desired x minimumHealthyPercent / 100) tasks serving while it replaces the others: with
 * one or more (`managed` storage: minimum healthy 100 %, maximum 200 %) the old tasks serve
 * until the new ones pass the ALB's checks and the outage is 0 s. With none (one writer: maximum 100 %, minimum
 * 0 %) the service answers nothing from the old target's deregistration until the ALB admits
 * the new one, and the terms add up in order.
 */
export function deployOutage(input: OutageInput): DeployOutage {
  const { deployment } = input;
  const keptServing = Math.ceil(
    (deployment.desiredCount * deployment.minimumHealthyPercent) / 100 - 1e-9,
  );
  if (keptServing >= 1) return { seconds: 0, terms: [], keptServing };
  const megabytes = taskImageMegabytes(
    input.storage,
    input.imageMegabytes ?? MEASURED_IMAGE_MEGABYTES,
  );
  // Stop order is the reverse of dependsOn: the apps (in parallel), then the databases.
  const stop = (name: ContainerName) =>
    Math.min(EXPECTED_STOP_SECONDS[name], input.containers[name].stopTimeout);
  const appsStop = Math.max(
    ...CONTAINER_NAMES.filter((name) => containerDependencies(name).length > 0).map(stop),
  );
  const databasesInterval = input.containers.databases.healthCheck.interval;
  const databasesHealthy =
    Math.max(1, Math.ceil(EXPECTED_RESTART_READY_SECONDS.databases / databasesInterval)) *
    databasesInterval;
  const terms: OutageTerm[] = [
    {
      name: "deregistration",
      seconds: input.deregistrationDelay,
      detail: "in-flight requests finish; no other target could take new ones",
    },
    {
      name: "old task stop",
      seconds: appsStop + stop("databases"),
      detail: "apps, then the databases' clean shutdown",
    },
    {
      name: "provisioning",
      seconds: PROVISIONING_SECONDS,
      detail: "Fargate capacity and the task's ENI",
    },
    {
      name: "image pull",
      seconds: Math.ceil(megabytes / PULL_MEGABYTES_PER_SECOND),
      detail: `${megabytes} MB at ${PULL_MEGABYTES_PER_SECOND} MB/s`,
    },
    {
      name: "databases HEALTHY",
      seconds: databasesHealthy,
      detail: `ready in about ${EXPECTED_RESTART_READY_SECONDS.databases} s, seen on the ${databasesInterval} s probe grid; the apps wait for it`,
    },
    {
      name: "gateway start",
      seconds: EXPECTED_RESTART_READY_SECONDS[PUBLIC_CONTAINER],
      detail: "the ALB probes the gateway itself, not its container health",
    },
    {
      name: "ALB admits",
      seconds: input.targetGroup.healthyThreshold * input.targetGroup.interval,
      detail: `healthy threshold ${input.targetGroup.healthyThreshold} x ${input.targetGroup.interval} s`,
    },
  ];
  return { seconds: terms.reduce((sum, term) => sum + term.seconds, 0), terms, keptServing };
}

/** The outage as the preflight's line. */
export function describeDeployOutage(outage: DeployOutage, deployment: DeploymentSettings): string {
  const shape = `maximum ${deployment.maximumPercent} %, minimum healthy ${deployment.minimumHealthyPercent} %`;
  if (outage.seconds === 0) {
    return `deploy: expected outage per deploy 0 s (${shape}: ${outage.keptServing} task(s) keep serving while the new one starts)`;
  }
  const terms = outage.terms.map((term) => `${term.name} ${term.seconds} s (${term.detail})`);
  return `deploy: expected outage per deploy ${outage.seconds} s (${shape}, one writer: the old task stops before the new one starts) = ${terms.join(" + ")}`;
}
