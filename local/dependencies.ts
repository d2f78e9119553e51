/**
 * ECS's container ordering (`dependsOn`, `startTimeout`) and shutdown order, as plain functions
 * over snapshots of the containers, so the local runner's decisions are unit-tested without Docker.
 * Wording follows the ECS container agent (agent/engine/dependencygraph/graph.go), so that a local
 * failure reads like the one `aws ecs describe-tasks` would show.
 */
import type { ContainerDefinition, DependencyCondition } from "../lib/taskDefinition";
import { dependencyProblems } from "../lib/dependencies";
import type { HealthStatus } from "./healthMonitor";

/** Where a container is in its life, as ECS reports `lastStatus`. */
export type ContainerPhase = "PENDING" | "RUNNING" | "STOPPED";

/** What the scheduler knows about one container at one moment. Times are ms on the task clock. */
export interface ContainerSnapshot {
  readonly phase: ContainerPhase;
  /** When the container's process started; unset while PENDING or if it never ran. */
  readonly startedAt?: number;
  /** Its health-check status; unset when the definition has no health check. */
  readonly health?: HealthStatus;
  readonly exitCode?: number;
}

/** The subset of a container definition that ordering depends on. */
export type OrderedDefinition = Pick<
  ContainerDefinition,
  "name" | "essential" | "dependsOn" | "startTimeout"
> & { healthCheck?: unknown };

export type StartDecision =
  | { readonly action: "start" }
  | { readonly action: "wait"; readonly on: readonly string[] }
  | { readonly action: "fail"; readonly reason: string };

/**
 * The exit code ECS records for a container that never started because a dependency failed
 * (the agent's handleTerminalDependencyError: "143 seems the most appropriate").
 */
export const DEPENDENCY_FAILURE_EXIT_CODE = 143;

/** The agent reports these as `CannotStartContainerError: <dependency graph message>`. */
const CANNOT_START = "CannotStartContainerError";

export function dependencyTimedOutReason(target: string, dependent: string): string {
  return `${CANNOT_START}: dependency graph: container ordering dependency [${target}] for target [${dependent}] has timed out.`;
}

export function dependencyUnsuccessfulReason(target: string, dependent: string): string {
  return `${CANNOT_START}: dependency graph: failed to resolve container ordering dependency [${target}] for target [${dependent}] as dependency did not exit successfully.`;
}

export function dependencyUnresolvableReason(target: string, dependent: string): string {
  return `${CANNOT_START}: dependency graph: failed to resolve the container ordering dependency [${target}] for target [${dependent}]`;
}

/** Whether `target` in state `snapshot` satisfies `condition`. */
export function conditionMet(condition: DependencyCondition, snapshot: ContainerSnapshot): boolean {
  switch (condition) {
    case "START":
      return snapshot.startedAt !== undefined;
    case "COMPLETE":
      return snapshot.phase === "STOPPED" && snapshot.startedAt !== undefined;
    case "SUCCESS":
      return snapshot.phase === "STOPPED" && snapshot.exitCode === 0;
    case "HEALTHY":
      return snapshot.health === "HEALTHY";
  }
}

/**
 * What to do with a PENDING container now: start it, keep waiting, or fail it the way the ECS
 * agent does. `startTimeout` belongs to the container being waited for and counts from its start;
 * it applies to COMPLETE, SUCCESS and HEALTHY only (START cannot time out).
 */
export function startDecision(
  dependent: OrderedDefinition,
  definitions: ReadonlyMap<string, OrderedDefinition>,
  snapshots: ReadonlyMap<string, ContainerSnapshot>,
  now: number,
): StartDecision {
  const waitingOn: string[] = [];
  for (const { containerName, condition } of dependent.dependsOn ?? []) {
    const target = snapshots.get(containerName);
    const targetDefinition = definitions.get(containerName);
    if (target === undefined || targetDefinition === undefined) {
      return {
        action: "fail",
        reason: dependencyUnresolvableReason(containerName, dependent.name),
      };
    }
    if (conditionMet(condition, target)) continue;
    if (condition === "SUCCESS" && target.phase === "STOPPED") {
      return {
        action: "fail",
        reason: dependencyUnsuccessfulReason(containerName, dependent.name),
      };
    }
    if (target.phase === "STOPPED") {
      // Stopped without meeting the condition: it can never meet it now.
      return {
        action: "fail",
        reason: dependencyUnresolvableReason(containerName, dependent.name),
      };
    }
    const timeout = targetDefinition.startTimeout;
    if (
      condition !== "START" &&
      timeout !== undefined &&
      target.startedAt !== undefined &&
      // The agent's hasDependencyTimedOut: time.Now().After(startedAt + startTimeout).
      now - target.startedAt > timeout * 1000
    ) {
      return { action: "fail", reason: dependencyTimedOutReason(containerName, dependent.name) };
    }
    waitingOn.push(containerName);
  }
  return waitingOn.length === 0 ? { action: "start" } : { action: "wait", on: waitingOn };
}

/**
 * Every way a set of definitions breaks ECS's ordering rules, each message naming the container.
 * The runner refuses to start such a task, as RegisterTaskDefinition or RunTask would. The graph's
 * shape (self-dependencies, unknown targets, cycles) is lib/dependencies.ts, shared with the
 * policy pack; the conditions' rules are checked here.
 */
export function validateDependencies(definitions: readonly OrderedDefinition[]): string[] {
  const problems = dependencyProblems(definitions).map((problem) => problem.message);
  const byName = new Map(definitions.map((definition) => [definition.name, definition]));
  for (const definition of definitions) {
    for (const { containerName, condition } of definition.dependsOn ?? []) {
      const target = byName.get(containerName);
      if (target === undefined || containerName === definition.name) continue;
      if (condition === "HEALTHY" && target.healthCheck === undefined) {
        problems.push(
          `${definition.name}.dependsOn ${containerName} HEALTHY needs a health check on ${containerName}`,
        );
      }
      if ((condition === "COMPLETE" || condition === "SUCCESS") && target.essential) {
        problems.push(
          `${definition.name}.dependsOn ${containerName} ${condition} is not allowed: ${containerName} is essential, and an essential container that exits stops the task`,
        );
      }
    }
  }
  return problems;
}

/**
 * Stops every container the way the ECS agent does (graph.go verifyShutdownOrder): a container
 * stops as soon as the containers that depend on it have stopped, and waits for nothing else; one
 * that no container depends on stops at once. `stop` resolves when that container has exited (at
 * once for one that already has). Assumes validated (acyclic) input.
 */
export function stopInDependencyOrder(
  definitions: readonly OrderedDefinition[],
  stop: (name: string) => Promise<void>,
): Promise<void> {
  const stopping = new Map<string, Promise<void>>();
  const stopOf = (name: string): Promise<void> => {
    let promise = stopping.get(name);
    if (promise === undefined) {
      const dependents = definitions
        .filter((other) => (other.dependsOn ?? []).some((d) => d.containerName === name))
        .map((other) => other.name);
      promise = Promise.all(dependents.map(stopOf)).then(() => stop(name));
      stopping.set(name, promise);
    }
    return promise;
  };
  return Promise.all(definitions.map((definition) => stopOf(definition.name))).then(() => {});
}

/**
 * The reverse of the start order as waves, for display: a container comes after every container
 * that depends on it. The runner does not stop by waves (see stopInDependencyOrder); containers
 * are listed in definition order inside a wave. Assumes validated (acyclic) input.
 */
export function stopWaves(definitions: readonly OrderedDefinition[]): string[][] {
  const remaining = new Set(definitions.map((d) => d.name));
  const waves: string[][] = [];
  while (remaining.size > 0) {
    const wave = definitions
      .map((d) => d.name)
      .filter(
        (name) =>
          remaining.has(name) &&
          !definitions.some(
            (other) =>
              remaining.has(other.name) &&
              (other.dependsOn ?? []).some((dependency) => dependency.containerName === name),
          ),
      );
    if (wave.length === 0) throw new Error("stopWaves: dependsOn has a cycle");
    for (const name of wave) remaining.delete(name);
    waves.push(wave);
  }
  return waves;
}

/** The reverse of `stopWaves`: the order in which containers can first become startable. */
export function startWaves(definitions: readonly OrderedDefinition[]): string[][] {
  return stopWaves(definitions).reverse();
}
