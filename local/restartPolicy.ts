/**
 * ECS's container restart policy, decided the way the ECS agent decides it
 * (ecs-agent/api/container/restart/restart_tracker.go, ShouldRestart): a container that exits is
 * restarted in place when the policy is enabled, the task is not stopping, its exit code is not
 * ignored, and it has run for at least `restartAttemptPeriod` seconds since it started or since its
 * last restart. Otherwise it stops as any container does, and an essential one stops the task
 * ("Essential container in task exited").
 */
import type { ContainerDefinition } from "../lib/taskDefinition";

/** The definition's `restartPolicy`, as lib/taskDefinition.ts builds it from the stack. */
export type RestartPolicy = ContainerDefinition["restartPolicy"];

export type RestartDecision =
  { readonly restart: true } | { readonly restart: false; readonly reason: string };

export interface ExitContext {
  readonly exitCode: number | undefined;
  /** The task is stopping (the container's desired status is STOPPED). */
  readonly taskStopping: boolean;
  /** ms the container ran since it started or, after a restart, since that restart. */
  readonly ranForMs: number;
}

/** Whether the agent restarts the container, with the agent's reason when it does not. */
export function restartDecision(
  policy: RestartPolicy | undefined,
  exit: ExitContext,
): RestartDecision {
  if (policy === undefined || !policy.enabled) {
    return { restart: false, reason: "restart policy is not enabled" };
  }
  if (exit.taskStopping) return { restart: false, reason: "container's desired status is stopped" };
  if (exit.exitCode === undefined) return { restart: false, reason: "exit code is nil" };
  if (policy.ignoredExitCodes.includes(exit.exitCode)) {
    return { restart: false, reason: `exit code ${exit.exitCode} should be ignored` };
  }
  if (exit.ranForMs < policy.restartAttemptPeriod * 1000) {
    return { restart: false, reason: "attempt reset period has not elapsed" };
  }
  return { restart: true };
}
