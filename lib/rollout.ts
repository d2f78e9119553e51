/**
 * Rollout verification, the pure part: how long a rollout of this task may take (its budget),
 * what one reading of the service means (still rolling out, completed, failed and how), which
 * changes to report while waiting, and the message `pulumi up` fails with. No AWS calls here:
 * `lib/rolloutCheck.ts` reads the service and feeds these functions.
 *
 * Why it exists: with the circuit breaker's rollback, a failed release ends in a steady service
 * on the OLD task definition, which a steady-state waiter reports as success (pulumi-awsx#1848);
 * on a first deploy there is nothing to roll back to and the deployment stalls; and tasks that
 * reach RUNNING and then fail are replaced without back-off. Only the deployment that runs THIS
 * update's task definition says whether the release is live.
 */
import type { Deployment, Service, Task } from "@aws-sdk/client-ecs";
import { circuitBreakerThreshold, classifyStoppedTask } from "../tools/diagnose/classify";
import { AuraConfig, StorageMode } from "./config";
import { ContainerName } from "./containers";
import { deploymentBakeSeconds } from "./deploymentAlarms";
import { HealthCheckPolicy } from "./healthCheck";
import { DeployOutage, deployOutage, describeDeployOutage, launchSeconds } from "./preflight";
import {
  DEREGISTRATION_DELAY,
  DeploymentSettings,
  TARGET_GROUP_HEALTH_CHECK,
  deploymentSettings,
} from "./service";
import { containerDependencies, taskContainerNames } from "./taskDefinition";

/** The ECS service event that says the scheduler has started backing off task launches. */
export const TASK_START_IMPAIRED = /is unable to consistently start tasks successfully/;
/** "(service S) rolling back to deployment ecs-svc/123." */
const ROLLING_BACK = /rolling back to deployment (ecs-svc\/\d+)/;

/**
 * The latest a container's own health check can declare it UNHEALTHY, with every probe hanging
 * until its timeout: probe n starts at n x interval + (n - 1) x timeout (Docker runs the next one
 * `interval` after the previous ended), a failure counts once the probe ends after `startPeriod`,
 * and `retries` counted failures make it UNHEALTHY.
 */
export function latestUnhealthyAt(policy: Omit<HealthCheckPolicy, "command">): number {
  const { interval, timeout, retries, startPeriod } = policy;
  let counted = 0;
  for (let probe = 1; ; probe++) {
    const end = probe * interval + (probe - 1) * timeout + timeout;
    if (end > startPeriod) counted++;
    if (counted === retries) return end;
  }
}

/** What the budget is made of, so the preview can print it term by term. */
export interface RolloutBudget {
  /** Seconds from launch until a task that never becomes healthy is stopped, at the worst. */
  readonly failedTaskSeconds: number;
  /** Failed tasks that trip the circuit breaker (`circuitBreakerThreshold`). */
  readonly threshold: number;
  /** ECS's bake time: how long a good deployment stays IN_PROGRESS after steady state. */
  readonly bakeSeconds: number;
  /**
   * The whole budget: the breaker's threshold of tasks, each failing as late as it can, and the
   * bake time of the deployment alarms.
   */
  readonly seconds: number;
  /** Seconds to provision a task and pull its images (the outage model's figures). */
  readonly launchSeconds: number;
  /** The latest a container check or the ALB can condemn the task, from its start. */
  readonly condemnedAt: number;
  /** The longest stop: the largest `stopTimeout`, SIGTERM to SIGKILL. */
  readonly stopSeconds: number;
}

export interface RolloutBudgetInput {
  readonly containers: Readonly<
    Record<ContainerName, { readonly healthCheck: HealthCheckPolicy; readonly stopTimeout: number }>
  >;
  readonly storage: StorageMode;
  readonly healthCheckGracePeriodSeconds: number;
  /** The target group's unhealthy threshold x interval: how long the ALB takes to give up. */
  readonly targetGroupUnhealthyAfter: number;
  readonly threshold: number;
  readonly launchSeconds: number;
  /** The deployment alarms' bake time (`deploymentBakeSeconds`). */
  readonly bakeSeconds: number;
}

/**
 * The rollout budget. The worst case that must still end in a clear verdict is the circuit
 * breaker's threshold of tasks, each one launched, condemned as late as its settings allow and
 * stopped as slowly as `stopTimeout` allows: the container checks chain (an app starts only
 * when the databases are HEALTHY, so its budget comes after theirs), and the ALB acts only once
 * the grace period is over. A good deployment also stays IN_PROGRESS for the alarms' bake
 * time once steady. Anything slower than that is not a rollout that is about to finish.
 */
export function rolloutBudget(input: RolloutBudgetInput): RolloutBudget {
  const names = taskContainerNames(input.storage);
  const latest = new Map<ContainerName, number>();
  for (const name of names) {
    const startsAt = Math.max(
      0,
      ...containerDependencies(name, input.storage).map(
        (dependency) => latest.get(dependency.containerName as ContainerName) ?? 0,
      ),
    );
    latest.set(name, startsAt + latestUnhealthyAt(input.containers[name].healthCheck));
  }
  const condemnedAt = Math.max(
    ...latest.values(),
    input.healthCheckGracePeriodSeconds + input.targetGroupUnhealthyAfter,
  );
  const stopSeconds = Math.max(...names.map((name) => input.containers[name].stopTimeout));
  const failedTaskSeconds = input.launchSeconds + condemnedAt + stopSeconds;
  return {
    failedTaskSeconds,
    threshold: input.threshold,
    bakeSeconds: input.bakeSeconds,
    seconds: input.threshold * failedTaskSeconds + input.bakeSeconds,
    launchSeconds: input.launchSeconds,
    condemnedAt,
    stopSeconds,
  };
}

/** The budget as the preview's line. */
export function describeRolloutBudget(budget: RolloutBudget): string {
  return (
    `rollout: pulumi up waits up to ${budget.seconds} s for the deployment to complete ` +
    `(${budget.threshold} failed tasks trip the circuit breaker, each at worst ` +
    `${budget.failedTaskSeconds} s = launch ${budget.launchSeconds} s + condemned at ` +
    `${budget.condemnedAt} s + stop ${budget.stopSeconds} s; then the alarms' bake time ` +
    `${budget.bakeSeconds} s)`
  );
}

/** How this stack deploys: the percentages, the breaker, the rollout budget and the outage. */
export interface DeployPlan {
  readonly deployment: DeploymentSettings;
  readonly threshold: number;
  readonly budget: RolloutBudget;
  readonly outage: DeployOutage;
  /** The preview's lines for all of it. */
  readonly lines: readonly string[];
}

/** The deploy plan from the stack's settings and the service's grace period. */
export function deployPlan(
  config: Pick<AuraConfig, "containers" | "storage" | "desiredCount">,
  healthCheckGracePeriodSeconds: number,
): DeployPlan {
  const deployment = deploymentSettings(config.storage, config.desiredCount);
  // The circuit breaker as the service sets it: enabled, rollback, ECS's default threshold.
  const threshold = circuitBreakerThreshold(
    { enable: true, rollback: true },
    deployment.desiredCount,
  );
  const budget = rolloutBudget({
    containers: config.containers,
    storage: config.storage,
    healthCheckGracePeriodSeconds,
    targetGroupUnhealthyAfter:
      TARGET_GROUP_HEALTH_CHECK.unhealthyThreshold * TARGET_GROUP_HEALTH_CHECK.interval,
    threshold,
    launchSeconds: launchSeconds(config.storage),
    bakeSeconds: deploymentBakeSeconds(),
  });
  const outage = deployOutage({
    deployment,
    storage: config.storage,
    containers: config.containers,
    deregistrationDelay: DEREGISTRATION_DELAY,
    targetGroup: TARGET_GROUP_HEALTH_CHECK,
  });
  return {
    deployment,
    threshold,
    budget,
    outage,
    lines: [describeDeployOutage(outage, deployment), describeRolloutBudget(budget)],
  };
}

/** Which deployment to watch and for how long. */
export interface RolloutTarget {
  readonly cluster: string;
  readonly service: string;
  /** The task definition ARN (with revision) this update registered. */
  readonly taskDefinitionArn: string;
  readonly budgetSeconds: number;
  /** Failed tasks that trip the circuit breaker. */
  readonly threshold: number;
}

/** One reading of the service. */
export interface RolloutReading {
  readonly service: Service | undefined;
  /** The tasks of the watched deployment (running and stopped), as DescribeTasks returns them. */
  readonly tasks: readonly Task[];
  /** Seconds since the check began. */
  readonly elapsedSeconds: number;
}

export type RolloutVerdict =
  | { readonly state: "waiting"; readonly deployment: Deployment | undefined }
  | { readonly state: "completed"; readonly deployment: Deployment; readonly summary: string }
  | { readonly state: "failed"; readonly message: string };

/** `arn:aws:ecs:...:task-definition/aura-app-dev:7` -> `aura-app-dev:7`. */
export function shortTaskDefinition(arn: string | undefined): string {
  return arn === undefined ? "(unknown)" : arn.slice(arn.lastIndexOf("/") + 1);
}

function revisionOf(arn: string | undefined): string {
  return arn === undefined ? "?" : arn.slice(arn.lastIndexOf(":") + 1);
}

export function taskId(arn: string | undefined): string {
  return arn === undefined ? "(unknown)" : arn.slice(arn.lastIndexOf("/") + 1);
}

/** The deployment that runs this update's task definition: the newest one, if several do. */
export function watchedDeployment(
  service: Service | undefined,
  taskDefinitionArn: string,
): Deployment | undefined {
  return (service?.deployments ?? [])
    .filter((deployment) => deployment.taskDefinition === taskDefinitionArn)
    .sort((a, b) => (b.createdAt?.getTime() ?? 0) - (a.createdAt?.getTime() ?? 0))[0];
}

/** The tasks a deployment started: ECS sets a service task's `startedBy` to the deployment ID. */
export function tasksOf(tasks: readonly Task[], deployment: Deployment | undefined): Task[] {
  if (deployment?.id === undefined) return [];
  return tasks.filter((task) => task.startedBy === deployment.id);
}

/** Each stopped task of the deployment with its cause and fix, from the diagnose classifier. */
function stoppedTaskLines(tasks: readonly Task[]): string[] {
  const stopped = tasks
    .filter((task) => task.lastStatus === "STOPPED")
    .sort((a, b) => (a.stoppedAt?.getTime() ?? 0) - (b.stoppedAt?.getTime() ?? 0));
  if (stopped.length === 0) return ["No task of this deployment has stopped yet."];
  const lines = [`Stopped tasks of this deployment (${stopped.length}):`];
  for (const task of stopped) {
    const diagnosis = classifyStoppedTask(task);
    lines.push(
      `  - task ${taskId(task.taskArn)}: ${diagnosis.cause}: ${diagnosis.explanation}`,
      `    stopped reason: ${task.stoppedReason ?? "(none)"}`,
      `    fix: ${diagnosis.fix}`,
    );
  }
  return lines;
}

function failure(
  target: RolloutTarget,
  deployment: Deployment | undefined,
  what: string,
  tasks: readonly Task[],
  stack: string,
): RolloutVerdict {
  const name =
    deployment?.id === undefined
      ? `The rollout of ${shortTaskDefinition(target.taskDefinitionArn)}`
      : `Deployment ${deployment.id} of ${shortTaskDefinition(target.taskDefinitionArn)}`;
  return {
    state: "failed",
    message: [
      `${name} to service ${target.service} did not complete: ${what}`,
      ...stoppedTaskLines(tasks),
      `Logs and events: npm run diagnose -- --stack ${stack}`,
    ].join("\n"),
  };
}

/** The deployment ECS is rolling back to (or has rolled back to), other than the watched one. */
function rollbackTarget(service: Service, watched: Deployment | undefined): Deployment | undefined {
  const others = (service.deployments ?? []).filter((d) => d !== watched);
  const named = (service.events ?? [])
    .map((event) => ROLLING_BACK.exec(event.message ?? "")?.[1])
    .find((id) => id !== undefined);
  return others.find((d) => d.id === named) ?? others.find((d) => d.status === "PRIMARY");
}

function rolledBack(target: Deployment): string {
  return `ECS rolled back to revision ${revisionOf(target.taskDefinition)} (${shortTaskDefinition(target.taskDefinition)}, deployment ${target.id ?? "?"}): the service runs the previous release, not this one.`;
}

function impairedEvent(service: Service, since: Date | undefined): string | undefined {
  return (service.events ?? []).find(
    (event) =>
      TASK_START_IMPAIRED.test(event.message ?? "") &&
      (since === undefined ||
        event.createdAt === undefined ||
        event.createdAt.getTime() >= since.getTime()),
  )?.message;
}

/**
 * Judges one reading. Completed: the watched deployment's rollout state is COMPLETED. Failed:
 * it is FAILED (rolled back, or stalled with nothing to roll back to), it is gone and the
 * service runs another revision (rolled back), ECS reports that it cannot start tasks (it then
 * backs off for up to about 27 minutes between launches, so waiting only spends the budget),
 * the breaker's threshold is reached with no other deployment to return to, or the budget ran
 * out. Anything else: keep waiting.
 */
export function judgeRollout(
  target: RolloutTarget,
  reading: RolloutReading,
  stack: string,
): RolloutVerdict {
  const { service } = reading;
  if (service === undefined || service.status !== "ACTIVE") {
    return failure(
      target,
      undefined,
      `the service is ${service?.status ?? "MISSING"} in cluster ${target.cluster}.`,
      [],
      stack,
    );
  }
  const deployment = watchedDeployment(service, target.taskDefinitionArn);
  const tasks = tasksOf(reading.tasks, deployment);
  const failed = deployment?.failedTasks ?? 0;

  if (deployment?.rolloutState === "COMPLETED") {
    return {
      state: "completed",
      deployment,
      summary: `deployment ${deployment.id ?? "?"} of ${shortTaskDefinition(target.taskDefinitionArn)} COMPLETED after ${Math.round(reading.elapsedSeconds)} s (${deployment.runningCount ?? 0} of ${deployment.desiredCount ?? 0} task(s) running)`,
    };
  }
  if (deployment === undefined) {
    const current = (service.deployments ?? []).find((d) => d.status === "PRIMARY");
    return failure(
      target,
      undefined,
      `no deployment runs it; the service runs ${shortTaskDefinition(current?.taskDefinition ?? service.taskDefinition)}. ` +
        `ECS rolled back an earlier attempt of this revision, or the service was changed outside Pulumi: ` +
        `fix the cause, then run pulumi up --refresh so that the service is updated to revision ${revisionOf(target.taskDefinitionArn)} again.`,
      [],
      stack,
    );
  }
  const others = (service.deployments ?? []).filter((d) => d !== deployment);
  if (deployment.rolloutState === "FAILED") {
    const reason = deployment.rolloutStateReason ?? "no reason given";
    const back = rollbackTarget(service, deployment);
    const what =
      back !== undefined
        ? rolledBack(back)
        : "ECS has no earlier COMPLETED deployment to roll back to (a first deploy), so the deployment is stalled and the service runs no healthy task until a fixed release is deployed.";
    return failure(
      target,
      deployment,
      `it FAILED after ${failed} failed task(s) (${reason}). ${what}`,
      tasks,
      stack,
    );
  }
  if (failed >= target.threshold && others.length === 0) {
    return failure(
      target,
      deployment,
      `${failed} task(s) failed, the circuit breaker's threshold of ${target.threshold}, and ECS has no earlier COMPLETED deployment to roll back to (a first deploy): the deployment is stalled and the service runs no healthy task.`,
      tasks,
      stack,
    );
  }
  const impaired = impairedEvent(service, deployment.createdAt);
  if (impaired !== undefined) {
    return failure(
      target,
      deployment,
      `ECS is still retrying with back-off (SERVICE_TASK_START_IMPAIRED: "${impaired}"), ${failed} of the ${target.threshold} failed tasks that trip the circuit breaker so far.`,
      tasks,
      stack,
    );
  }
  if (reading.elapsedSeconds > target.budgetSeconds) {
    return failure(
      target,
      deployment,
      `it is still ${deployment.rolloutState ?? "IN_PROGRESS"} after the budget of ${target.budgetSeconds} s: ECS is still retrying (${failed} of the ${target.threshold} failed tasks that trip the circuit breaker, ${deployment.runningCount ?? 0} of ${deployment.desiredCount ?? 0} task(s) running).`,
      tasks,
      stack,
    );
  }
  return { state: "waiting", deployment };
}

/** What was last reported for each task, so only changes are logged. */
export type ProgressMemory = Map<string, string>;

function taskState(task: Task): { key: string; line: string } {
  const id = taskId(task.taskArn);
  if (task.lastStatus === "STOPPED") {
    const diagnosis = classifyStoppedTask(task);
    return {
      key: "STOPPED",
      line: `task ${id} stopped: ${task.stoppedReason ?? "(no reason)"} (${diagnosis.cause})`,
    };
  }
  const healthy = (task.containers ?? [])
    .filter((container) => container.healthStatus === "HEALTHY")
    .map((container) => container.name ?? "?");
  const status = task.lastStatus ?? "PROVISIONING";
  if (task.healthStatus === "HEALTHY") {
    return { key: `${status}/HEALTHY`, line: `task ${id} HEALTHY (all containers)` };
  }
  if (healthy.length > 0) {
    return {
      key: `${status}/${healthy.join(",")}`,
      line: `task ${id} ${status}; HEALTHY: ${healthy.join(", ")}`,
    };
  }
  return { key: status, line: `task ${id} ${status === "RUNNING" ? "started (RUNNING)" : status}` };
}

/** The lines to log for what changed since the last reading; updates `memory`. */
export function progressLines(
  target: RolloutTarget,
  reading: RolloutReading,
  memory: ProgressMemory,
): string[] {
  const deployment = watchedDeployment(reading.service, target.taskDefinitionArn);
  const lines: string[] = [];
  if (deployment !== undefined) {
    const key = `deployment ${deployment.id}`;
    const state = `${deployment.rolloutState ?? "?"}/${deployment.failedTasks ?? 0}`;
    if (memory.get(key) !== state) {
      memory.set(key, state);
      lines.push(
        `deployment ${deployment.id ?? "?"} (${shortTaskDefinition(deployment.taskDefinition)}): ${deployment.rolloutState ?? "no rollout state"}, ${deployment.failedTasks ?? 0} failed task(s) of the ${target.threshold} that trip the circuit breaker`,
      );
    }
  }
  const tasks = [...tasksOf(reading.tasks, deployment)].sort(
    (a, b) => (a.createdAt?.getTime() ?? 0) - (b.createdAt?.getTime() ?? 0),
  );
  for (const task of tasks) {
    const { key, line } = taskState(task);
    const id = `task ${task.taskArn ?? "?"}`;
    if (memory.get(id) !== key) {
      memory.set(id, key);
      lines.push(line);
    }
  }
  return lines;
}
