/**
 * Turns a snapshot into the diagnosis report: a plain JSON-ready object for scripts (`--json`) and
 * the text an operator reads. Pure; dates are printed in UTC so output does not depend on the host.
 */
import type { Deployment, Service, Task } from "@aws-sdk/client-ecs";
import {
  assessService,
  circuitBreakerThreshold,
  classifyStops,
  StopCause,
  Verdict,
} from "./classify";
import { ServiceSnapshot, taskId } from "./collect";

export interface ReportContext {
  readonly stack: string;
  readonly region: string;
  readonly cluster: string;
  readonly serviceName: string;
  /** How many of the service's events to include, newest first. */
  readonly eventLimit: number;
}

export interface DeploymentReport {
  readonly id: string | null;
  readonly status: string | null;
  readonly taskDefinition: string | null;
  readonly rolloutState: string | null;
  readonly rolloutStateReason: string | null;
  readonly desiredCount: number;
  readonly runningCount: number;
  readonly pendingCount: number;
  readonly failedTasks: number;
  readonly createdAt: string | null;
}

export interface ServiceReport {
  readonly status: string | null;
  readonly desiredCount: number;
  readonly runningCount: number;
  readonly pendingCount: number;
  readonly taskDefinition: string | null;
  readonly circuitBreaker: {
    readonly enabled: boolean;
    readonly rollback: boolean;
    readonly failureThreshold: number;
  };
  readonly deployments: readonly DeploymentReport[];
  readonly events: readonly { readonly createdAt: string | null; readonly message: string }[];
}

export interface ContainerReport {
  readonly name: string;
  readonly lastStatus: string | null;
  readonly exitCode: number | null;
  readonly healthStatus: string | null;
  readonly reason: string | null;
}

export interface StoppedTaskReport {
  readonly taskId: string;
  readonly taskDefinition: string | null;
  readonly startedAt: string | null;
  readonly stoppedAt: string | null;
  readonly stopCode: string | null;
  readonly stoppedReason: string | null;
  readonly cause: StopCause;
  readonly failure: boolean;
  readonly sinceCurrentDeployment: boolean;
  readonly explanation: string;
  readonly implicatedContainers: readonly string[];
  readonly fix: string;
  readonly containers: readonly ContainerReport[];
  /** Last log lines by container name, when they were fetched. */
  readonly logs: Readonly<Record<string, readonly string[]>>;
}

/** The `--json` document. */
export interface DiagnosisReport {
  readonly stack: string;
  readonly region: string;
  readonly cluster: string;
  readonly service: string;
  readonly verdict: Verdict;
  readonly problems: readonly string[];
  readonly warnings: readonly string[];
  /** Null when the service or its cluster does not exist. */
  readonly details: ServiceReport | null;
  readonly stoppedTasks: readonly StoppedTaskReport[];
}

export const EXIT_HEALTHY = 0;
/** Failing, still deploying, or not deployed: anything a script should not call done. */
export const EXIT_PROBLEMS = 1;

export function exitCodeFor(verdict: Verdict): number {
  return verdict === "healthy" ? EXIT_HEALTHY : EXIT_PROBLEMS;
}

function utc(date: Date | undefined): string | null {
  return date === undefined ? null : date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** `arn:aws:ecs:...:task-definition/aura-app-dev:7` -> `aura-app-dev:7`. */
function shortTaskDefinition(arn: string | undefined): string | null {
  return arn === undefined ? null : arn.slice(arn.lastIndexOf("/") + 1);
}

function deploymentReport(deployment: Deployment): DeploymentReport {
  return {
    id: deployment.id ?? null,
    status: deployment.status ?? null,
    taskDefinition: shortTaskDefinition(deployment.taskDefinition),
    rolloutState: deployment.rolloutState ?? null,
    rolloutStateReason: deployment.rolloutStateReason ?? null,
    desiredCount: deployment.desiredCount ?? 0,
    runningCount: deployment.runningCount ?? 0,
    pendingCount: deployment.pendingCount ?? 0,
    failedTasks: deployment.failedTasks ?? 0,
    createdAt: utc(deployment.createdAt),
  };
}

function serviceReport(service: Service, eventLimit: number): ServiceReport {
  const breaker = service.deploymentConfiguration?.deploymentCircuitBreaker;
  return {
    status: service.status ?? null,
    desiredCount: service.desiredCount ?? 0,
    runningCount: service.runningCount ?? 0,
    pendingCount: service.pendingCount ?? 0,
    taskDefinition: shortTaskDefinition(service.taskDefinition),
    circuitBreaker: {
      enabled: breaker?.enable ?? false,
      rollback: breaker?.rollback ?? false,
      failureThreshold: circuitBreakerThreshold(breaker, service.desiredCount ?? 0),
    },
    deployments: (service.deployments ?? []).map(deploymentReport),
    // ECS already returns events newest first.
    events: (service.events ?? []).slice(0, eventLimit).map((event) => ({
      createdAt: utc(event.createdAt),
      message: event.message ?? "",
    })),
  };
}

function logsOf(task: Task, logs: ServiceSnapshot["logs"]): Record<string, readonly string[]> {
  const id = taskId(task.taskArn ?? "");
  const byContainer: Record<string, readonly string[]> = {};
  for (const container of task.containers ?? []) {
    const lines = logs[`${id}/${container.name ?? ""}`];
    if (lines !== undefined) byContainer[container.name ?? ""] = lines;
  }
  return byContainer;
}

/** Classifies the snapshot's stops, judges the service and assembles the report. */
export function buildReport(snapshot: ServiceSnapshot, context: ReportContext): DiagnosisReport {
  const stops = classifyStops(snapshot.stoppedTasks, snapshot.service);
  const assessment = assessService(snapshot.service, stops);
  return {
    stack: context.stack,
    region: context.region,
    cluster: context.cluster,
    service: context.serviceName,
    verdict: assessment.verdict,
    problems: assessment.problems,
    warnings: assessment.warnings,
    details:
      snapshot.service === undefined ? null : serviceReport(snapshot.service, context.eventLimit),
    stoppedTasks: stops.map(({ task, diagnosis, sinceCurrentDeployment }) => ({
      taskId: taskId(task.taskArn ?? ""),
      taskDefinition: shortTaskDefinition(task.taskDefinitionArn),
      startedAt: utc(task.startedAt),
      stoppedAt: utc(task.stoppedAt),
      stopCode: task.stopCode ?? null,
      stoppedReason: task.stoppedReason ?? null,
      cause: diagnosis.cause,
      failure: diagnosis.failure,
      sinceCurrentDeployment,
      explanation: diagnosis.explanation,
      implicatedContainers: diagnosis.containers,
      fix: diagnosis.fix,
      containers: (task.containers ?? []).map((container) => ({
        name: container.name ?? "(unnamed)",
        lastStatus: container.lastStatus ?? null,
        exitCode: container.exitCode ?? null,
        healthStatus: container.healthStatus ?? null,
        reason: container.reason ?? null,
      })),
      logs: logsOf(task, snapshot.logs),
    })),
  };
}

export function renderJson(report: DiagnosisReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}

function renderDeployment(deployment: DeploymentReport): string[] {
  const head =
    `  ${deployment.status ?? "?"} ${deployment.id ?? "?"} ${deployment.taskDefinition ?? "?"}: ` +
    `${deployment.rolloutState ?? "no rollout state"}, running ${deployment.runningCount}/` +
    `${deployment.desiredCount}, pending ${deployment.pendingCount}, ` +
    `failed tasks ${deployment.failedTasks}, created ${deployment.createdAt ?? "?"}`;
  return deployment.rolloutStateReason === null
    ? [head]
    : [head, `    ${deployment.rolloutStateReason}`];
}

function renderContainer(container: ContainerReport): string {
  const parts = [
    container.exitCode === null ? "no exit code" : `exit ${container.exitCode}`,
    ...(container.healthStatus !== null && container.healthStatus !== "UNKNOWN"
      ? [container.healthStatus]
      : []),
    ...(container.reason !== null ? [container.reason] : []),
  ];
  return `      ${container.name}: ${parts.join(", ")}`;
}

function renderStop(stop: StoppedTaskReport): string[] {
  const when = stop.sinceCurrentDeployment ? "" : " (before the current deployment)";
  const lines = [
    `  ${stop.stoppedAt ?? "?"}  task ${stop.taskId}  ${stop.taskDefinition ?? "?"}${when}`,
    `    cause: ${stop.cause}${stop.failure ? "" : " (not a failure)"}: ${stop.explanation}`,
    `    stopped reason: ${stop.stoppedReason ?? "(none)"}`,
    "    containers:",
    ...stop.containers.map(renderContainer),
  ];
  if (stop.failure) lines.push(`    fix: ${stop.fix}`);
  for (const [container, logLines] of Object.entries(stop.logs)) {
    lines.push(`    last log lines of ${container}:`, ...logLines.map((line) => `      | ${line}`));
  }
  return lines;
}

/** The readable report, ending with the verdict so it is the last thing on the screen. */
export function renderText(report: DiagnosisReport): string {
  const lines = [
    `Service ${report.service} in cluster ${report.cluster} (${report.region}), stack ${report.stack}`,
  ];
  const details = report.details;
  if (details === null) {
    lines.push("  not found");
  } else {
    const breaker = details.circuitBreaker;
    lines.push(
      `  status ${details.status ?? "?"}, desired ${details.desiredCount}, running ` +
        `${details.runningCount}, pending ${details.pendingCount}`,
      `  task definition ${details.taskDefinition ?? "?"}`,
      breaker.enabled
        ? `  circuit breaker on, rollback ${breaker.rollback ? "on" : "off"}, trips at ` +
            `${breaker.failureThreshold} failed tasks`
        : "  circuit breaker off",
      "",
      "Deployments",
      ...details.deployments.flatMap(renderDeployment),
      "",
      "Last events (newest first)",
      ...(details.events.length === 0
        ? ["  none"]
        : details.events.map((event) => `  ${event.createdAt ?? "?"}  ${event.message}`)),
      "",
      "Stopped tasks (newest first)",
      ...(report.stoppedTasks.length === 0
        ? ["  none in the last hour (ECS keeps stopped tasks for about an hour)"]
        : report.stoppedTasks.flatMap((stop) => [...renderStop(stop), ""]).slice(0, -1)),
    );
  }
  lines.push("", `Verdict: ${report.verdict.toUpperCase()}`);
  lines.push(...report.problems.map((problem) => `  - ${problem}`));
  if (report.warnings.length > 0) {
    lines.push("Warnings", ...report.warnings.map((warning) => `  - ${warning}`));
  }
  return `${lines.join("\n")}\n`;
}
