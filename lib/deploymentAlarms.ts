/**
 * The CloudWatch alarms that roll a deployment back (the service's `alarms` with `rollback`):
 * each one means the NEW task is bad in a way no health check sees. Pure, so tests check the
 * exact definitions.
 *
 * Chosen for a service of one task whose deploys stop the old task first:
 * - `target-5xx`: the new release answers its health checks (liveness only) but its API fails.
 *   Only the target's own 5xx count: the ALB's own 503s while no target is registered (the
 *   planned outage of every one-writer deploy) are `HTTPCode_ELB_5XX_Count` and do not count.
 * - `unhealthy-target`: the ALB cannot get a 200 from the new gateway although its container
 *   runs. ECS itself would stop that task only after the grace period (minutes) and roll back
 *   only after three such tasks; the alarm fails the deployment after two minutes.
 * - Not "running below desired": with minimum healthy 0 % every deploy runs 0 of 1 task for its
 *   outage, so a window short enough to matter fires on every good deploy, and ECS adds each
 *   alarm's window to every deployment as bake time (it stays IN_PROGRESS that long after
 *   steady state), so the 10-minute alarm of `Alerts` would add 10 minutes to every `pulumi
 *   up`. Tasks that never run are the circuit breaker's and the rollout check's to catch.
 * An alarm that is already in ALARM when a deployment starts is ignored by ECS for that
 * deployment: a fix deployed while the old release is failing is not rolled back for it.
 */

export interface DeploymentAlarmSpec {
  /** `aura-<stack>-<suffix>`, the alarm's name and the resource's. */
  readonly suffix: string;
  readonly description: string;
  readonly metricName: "HTTPCode_Target_5XX_Count" | "UnHealthyHostCount";
  readonly statistic: "Sum" | "Maximum";
  readonly comparisonOperator: "GreaterThanOrEqualToThreshold";
  readonly threshold: number;
  readonly period: number;
  readonly evaluationPeriods: number;
  readonly datapointsToAlarm: number;
  /** No data means no traffic or no target: not a sign of a bad release. */
  readonly treatMissingData: "notBreaching";
}

export const DEPLOYMENT_ALARMS: readonly DeploymentAlarmSpec[] = [
  {
    suffix: "target-5xx",
    description:
      "the new task answers HTTP 5xx (10 or more a minute for 2 minutes): roll the deployment back",
    metricName: "HTTPCode_Target_5XX_Count",
    statistic: "Sum",
    comparisonOperator: "GreaterThanOrEqualToThreshold",
    // A database blip gives a few 503s; ten a minute for two minutes is a broken release.
    threshold: 10,
    period: 60,
    evaluationPeriods: 2,
    datapointsToAlarm: 2,
    treatMissingData: "notBreaching",
  },
  {
    suffix: "unhealthy-target",
    description:
      "the ALB finds the new task's gateway unhealthy for 2 minutes: roll the deployment back",
    metricName: "UnHealthyHostCount",
    statistic: "Maximum",
    comparisonOperator: "GreaterThanOrEqualToThreshold",
    threshold: 1,
    period: 60,
    // The ALB needs 3 x 10 s to call a target unhealthy; two whole minutes is not a blip.
    evaluationPeriods: 2,
    datapointsToAlarm: 2,
    treatMissingData: "notBreaching",
  },
];

export function deploymentAlarmName(stack: string, spec: DeploymentAlarmSpec): string {
  return `aura-${stack}-${spec.suffix}`;
}

/**
 * Seconds ECS keeps a deployment IN_PROGRESS after steady state to watch its alarms (the bake
 * time). ECS computes it from the alarms' configuration and does not publish the formula; this
 * takes the longest alarm window (evaluation periods x period), which the rollout budget adds.
 */
export function deploymentBakeSeconds(
  specs: readonly DeploymentAlarmSpec[] = DEPLOYMENT_ALARMS,
): number {
  return Math.max(0, ...specs.map((spec) => spec.evaluationPeriods * spec.period));
}
