/**
 * Service-level timing: the ALB target group's health check and the grace period that keeps
 * ECS from acting on ALB health checks before the gateway can possibly answer.
 */
import type { StorageMode } from "./config";
import { APP_PORTS, ContainerName } from "./containers";
import { HealthCheckPolicy, healthCheckTimeline } from "./healthCheck";

/**
 * The target group's health check. Pulumi's defaults (3 healthy / 3 unhealthy, 30 s) take 90 s
 * to admit a target; 2 x 10 s admits it in 20 s once `/health` answers, and 3 x 10 s still
 * rides out a brief stall. `/health` is liveness only, so it never fails for a slow database.
 */
export const TARGET_GROUP_HEALTH_CHECK = {
  enabled: true,
  path: "/health",
  port: "traffic-port",
  protocol: "HTTP",
  matcher: "200",
  interval: 10,
  timeout: 5,
  healthyThreshold: 2,
  unhealthyThreshold: 3,
} as const;

/**
 * Seconds the ALB lets in-flight requests finish on a deregistering target. A draining target
 * gets no new requests, and with in-task databases (one task) there is no other target to serve
 * them, so every second of it is outage; it only has to outlast the longest request in flight,
 * which the gateway bounds with its upstream timeout (`UPSTREAM_TIMEOUT_SECONDS`, 10 s). The
 * default of 300 s would add five minutes of outage to every such deploy.
 */
export const DEREGISTRATION_DELAY = 10;

/** The port the ALB forwards to: the gateway, the only container reachable from outside. */
export const PUBLIC_CONTAINER: ContainerName = "api-gateway";
export const PUBLIC_PORT = APP_PORTS[PUBLIC_CONTAINER];

/** Seconds until an ALB target with `TARGET_GROUP_HEALTH_CHECK` is healthy once it answers. */
export function targetGroupHealthyAfter(
  check: {
    readonly healthyThreshold: number;
    readonly interval: number;
  } = TARGET_GROUP_HEALTH_CHECK,
): number {
  return check.healthyThreshold * check.interval;
}

/**
 * The service's `healthCheckGracePeriodSeconds`: the longest the container health checks
 * themselves let the gateway take to come up (the databases' boot budget, then the gateway's),
 * plus the ALB's own time to admit it. Within that window the container checks are the ones
 * that act; after it a gateway the ALB cannot reach is really broken.
 */
export function serviceGracePeriod(
  containers: Readonly<Record<ContainerName, { readonly healthCheck: HealthCheckPolicy }>>,
  storage: StorageMode = "efs",
): number {
  // Managed databases are not in the task: the gateway starts with it, waiting for nothing.
  const databasesBudget =
    storage === "managed"
      ? 0
      : healthCheckTimeline(containers.databases.healthCheck).earliestUnhealthy;
  return (
    databasesBudget +
    healthCheckTimeline(containers[PUBLIC_CONTAINER].healthCheck).earliestUnhealthy +
    targetGroupHealthyAfter()
  );
}

/** How a deployment replaces tasks: `deploymentMinimumHealthyPercent` and `deploymentMaximumPercent`. */
export interface DeploymentSettings {
  readonly desiredCount: number;
  readonly minimumHealthyPercent: number;
  readonly maximumPercent: number;
}

/**
 * In-task databases (`efs`, `ephemeral`) have one writer: one task, and a deploy stops the old
 * task before the new one starts (0 % / 100 %), an outage on every deploy. `managed` databases
 * are shared by every task: the new tasks start beside the old ones (up to 200 %) and the old
 * ones stop only once the new ones are healthy, so at least the desired count serves at all
 * times (100 %) and a deploy has no outage.
 */
export function deploymentSettings(storage: StorageMode, desiredCount: number): DeploymentSettings {
  return storage === "managed"
    ? { desiredCount, minimumHealthyPercent: 100, maximumPercent: 200 }
    : { desiredCount: 1, minimumHealthyPercent: 0, maximumPercent: 100 };
}
