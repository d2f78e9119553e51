/**
 * The EventBridge patterns and messages that name a restart loop within minutes: this service's
 * stopped tasks (except the scheduler's own scale-downs), failed deployments, and impaired task
 * starts. Pure, so tests check them against AWS's published sample events.
 */

/** A task the scheduler stops on purpose (scale-in, deployment replacing it) says this. */
export const SCALING_STOP_PREFIX = "Scaling activity initiated by";

/** Tasks of this service that stopped for any reason but the scheduler's own scaling. */
export function taskStoppedPattern(clusterArn: string, serviceName: string): object {
  return {
    source: ["aws.ecs"],
    "detail-type": ["ECS Task State Change"],
    detail: {
      clusterArn: [clusterArn],
      group: [`service:${serviceName}`],
      lastStatus: ["STOPPED"],
      stoppedReason: [{ "anything-but": { prefix: SCALING_STOP_PREFIX } }],
    },
  };
}

/** A deployment the circuit breaker gave up on (and rolled back). */
export function deploymentFailedPattern(serviceArn: string): object {
  return {
    source: ["aws.ecs"],
    "detail-type": ["ECS Deployment State Change"],
    resources: [serviceArn],
    detail: { eventName: ["SERVICE_DEPLOYMENT_FAILED"] },
  };
}

/** The service keeps failing to get tasks to RUNNING: the loop itself, as ECS reports it. */
export function taskStartImpairedPattern(serviceArn: string): object {
  return {
    source: ["aws.ecs"],
    "detail-type": ["ECS Service Action"],
    resources: [serviceArn],
    detail: { eventName: ["SERVICE_TASK_START_IMPAIRED"] },
  };
}

/** An EventBridge input transformer: JSON paths into the event, and the message built from them. */
export interface InputTransformer {
  readonly inputPaths: Record<string, string>;
  readonly inputTemplate: string;
}

function message(text: string): string {
  // EventBridge fills <name> placeholders; a JSON string template reaches SNS as plain text.
  return JSON.stringify(text);
}

export function taskStoppedMessage(stack: string): InputTransformer {
  return {
    inputPaths: {
      task: "$.detail.taskArn",
      reason: "$.detail.stoppedReason",
      stopCode: "$.detail.stopCode",
      time: "$.time",
    },
    inputTemplate: message(
      `Aura ${stack}: task <task> stopped at <time>: <reason> (<stopCode>). Causes and fixes: npm run diagnose -- --stack ${stack}`,
    ),
  };
}

export function serviceEventMessage(stack: string, what: string): InputTransformer {
  return {
    inputPaths: { event: "$.detail.eventName", reason: "$.detail.reason", time: "$.time" },
    inputTemplate: message(
      `Aura ${stack}: ${what} (<event>) at <time>. <reason> Causes and fixes: npm run diagnose -- --stack ${stack}`,
    ),
  };
}

/** A loose check that catches typos; SNS confirms the address itself. */
export function isEmailAddress(value: string): boolean {
  return /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(value);
}
