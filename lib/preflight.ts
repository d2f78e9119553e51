/**
 * Preflight: what the task's health-check policy means in time, checked at preview before
 * anything is deployed. Contradictions (a task that can only loop) are errors; risky settings
 * are warnings; the timeline itself is logged so a reviewer sees it in every preview.
 */
import { AuraConfig, StorageMode } from "./config";
import { CONTAINER_NAMES, ContainerName } from "./containers";
import { HAND_FIX, HealthCheckTimeline, healthCheckTimeline } from "./healthCheck";
import { PUBLIC_CONTAINER, TARGET_GROUP_HEALTH_CHECK, targetGroupHealthyAfter } from "./service";
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

  const handFix = name === "databases" ? HAND_FIX.databases : HAND_FIX.app;
  const handFixBudget = healthCheckTimeline(handFix).earliestUnhealthy;
  if (timeline.earliestUnhealthy < handFixBudget) {
    findings.push({
      severity: "warning",
      rule: "below-hand-fix",
      container: name,
      message: `${name} tolerates ${timeline.earliestUnhealthy} s before UNHEALTHY, less than the ${handFixBudget} s of the hand fix that ended the original loop.`,
    });
  }

  if (healthCheck.interval >= 30) {
    findings.push({
      severity: "warning",
      rule: "slow-detection",
      container: name,
      message: `${key}.interval = ${healthCheck.interval}: a ready ${name} may wait up to ${timeline.healthyWithinAfterReady} s to be seen HEALTHY, and everything that depends on it waits too.`,
    });
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

/** The report as lines for the preview log. */
export function describePreflight(report: PreflightReport, service: ServiceTiming): string[] {
  const lines = report.schedule.map(
    ({ container, timeline, startsAt, healthyAt, healthyAtLatest }) => {
      const start =
        startsAt[1] === 0
          ? "starts with the task"
          : `starts when its dependencies are HEALTHY (${startsAt[0]}-${startsAt[1]} s)`;
      return `${container}: ${start}; HEALTHY within ${timeline.healthyWithinAfterReady} s of being ready (expected at ${healthyAt} s, at the latest ${healthyAtLatest} s); earliest UNHEALTHY ${timeline.earliestUnhealthy} s after its start`;
    },
  );
  lines.push(`service: health-check grace period ${service.healthCheckGracePeriodSeconds} s`);
  return [...lines, ...report.findings.map((finding) => `${finding.severity}: ${finding.message}`)];
}

/** The errors as one message, or undefined when there are none. */
export function preflightErrors(report: PreflightReport): string | undefined {
  const errors = report.findings.filter((finding) => finding.severity === "error");
  if (errors.length === 0) return undefined;
  return `Preflight found settings that can only loop:\n  - ${errors.map((e) => e.message).join("\n  - ")}`;
}
