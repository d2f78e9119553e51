/**
 * Rollout verification, the AWS part: reads the service until `judgeRollout` reaches a verdict.
 * Each reading is DescribeServices, then ListTasks (RUNNING and STOPPED) and DescribeTasks for
 * the tasks of the watched deployment. The clock and the sleep are injectable so that tests run
 * a 40-minute rollout in milliseconds.
 */
import {
  DescribeServicesCommand,
  DescribeTasksCommand,
  DesiredStatus,
  ECSClient,
  ListTasksCommand,
  Service,
  Task,
} from "@aws-sdk/client-ecs";
import {
  judgeRollout,
  progressLines,
  ProgressMemory,
  RolloutTarget,
  watchedDeployment,
} from "./rollout";

/** How the check tells time and waits; replaced in tests. */
export interface Clock {
  now(): number;
  sleep(milliseconds: number): Promise<void>;
}

export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (milliseconds) => new Promise((resolve) => setTimeout(resolve, milliseconds)),
};

export interface RolloutCheckOptions {
  readonly ecs: ECSClient;
  readonly stack: string;
  /** Where progress goes (`pulumi.log.info` in the program). */
  readonly log: (line: string) => void;
  readonly clock?: Clock;
  /** Seconds between readings. @default 10 */
  readonly pollSeconds?: number;
}

/** The outcome `pulumi up` reports; a failure is thrown as `RolloutFailedError`. */
export interface RolloutResult {
  readonly deploymentId: string;
  /** The watched task definition, which COMPLETED. */
  readonly taskDefinitionArn: string;
  readonly summary: string;
}

/** The rollout did not complete; `message` names the deployment, what ECS did and each cause. */
export class RolloutFailedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RolloutFailedError";
  }
}

/** An AWS call that could not be made or was refused, named in the message. */
export class RolloutCallError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RolloutCallError";
  }
}

/** How often a throttled call is retried, and the first wait (doubled each time, at most 20 s). */
export const THROTTLE_RETRIES = 6;
export const THROTTLE_FIRST_WAIT_MS = 1000;
const THROTTLE_MAX_WAIT_MS = 20_000;

const THROTTLING = new Set([
  "ThrottlingException",
  "Throttling",
  "TooManyRequestsException",
  "RequestLimitExceeded",
]);
const REJECTED_CREDENTIALS = new Set([
  "ExpiredToken",
  "ExpiredTokenException",
  "InvalidClientTokenId",
  "UnrecognizedClientException",
  "InvalidSignatureException",
]);
const DENIED = new Set(["AccessDeniedException", "AccessDenied", "UnauthorizedOperation"]);

/** The IAM actions the check needs, for the messages. */
export const REQUIRED_ACTIONS = "ecs:DescribeServices, ecs:ListTasks and ecs:DescribeTasks";

function isThrottling(error: unknown): boolean {
  const name = (error as { name?: string })?.name ?? "";
  const status = (error as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
  return THROTTLING.has(name) || status === 429;
}

/** One clear sentence for an error of `call`, naming it. */
export function describeCallError(call: string, error: unknown): string {
  const name = error instanceof Error ? error.name : "Error";
  const message = error instanceof Error ? error.message : String(error);
  if (name === "CredentialsProviderError") {
    return `The rollout check could not call ecs:${call}: no AWS credentials were found (${message}). Set AWS_PROFILE (after aws configure or aws sso login) or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, the same credentials pulumi up uses, and run pulumi up again.`;
  }
  if (REJECTED_CREDENTIALS.has(name)) {
    return `The rollout check's call ecs:${call} was refused: AWS rejected the credentials (${name}: ${message}). Refresh them (aws sso login, or new access keys) and run pulumi up again.`;
  }
  if (DENIED.has(name)) {
    return `The rollout check's call ecs:${call} was denied (${name}: ${message}). Allow ${REQUIRED_ACTIONS} to the identity that runs pulumi up.`;
  }
  if (isThrottling(error)) {
    return `The rollout check's call ecs:${call} was still throttled after ${THROTTLE_RETRIES} retries with back-off (${name}: ${message}). Run pulumi up again when the account's ECS API rate allows.`;
  }
  return `The rollout check's call ecs:${call} failed (${name}: ${message}).`;
}

/** Sends `command`, retrying throttling with exponential back-off; other errors are final. */
async function send<T>(
  call: string,
  attempt: () => Promise<T>,
  clock: Clock,
  log: (line: string) => void,
): Promise<T> {
  let wait = THROTTLE_FIRST_WAIT_MS;
  for (let retry = 0; ; retry++) {
    try {
      return await attempt();
    } catch (error) {
      if (isThrottling(error) && retry < THROTTLE_RETRIES) {
        log(`ecs:${call} was throttled; retrying in ${wait / 1000} s`);
        await clock.sleep(wait);
        wait = Math.min(wait * 2, THROTTLE_MAX_WAIT_MS);
        continue;
      }
      throw new RolloutCallError(describeCallError(call, error));
    }
  }
}

/** ECS describes at most 100 tasks per call, and ListTasks pages at 100. */
const PAGE = 100;

async function listTaskArns(
  ecs: ECSClient,
  target: RolloutTarget,
  desiredStatus: DesiredStatus,
  clock: Clock,
  log: (line: string) => void,
): Promise<string[]> {
  const arns: string[] = [];
  let nextToken: string | undefined;
  do {
    const page = await send(
      "ListTasks",
      () =>
        ecs.send(
          new ListTasksCommand({
            cluster: target.cluster,
            serviceName: target.service,
            desiredStatus,
            maxResults: PAGE,
            nextToken,
          }),
        ),
      clock,
      log,
    );
    arns.push(...(page.taskArns ?? []));
    nextToken = page.nextToken;
  } while (nextToken !== undefined);
  return arns;
}

async function readService(
  ecs: ECSClient,
  target: RolloutTarget,
  clock: Clock,
  log: (line: string) => void,
): Promise<{ service: Service | undefined; tasks: Task[] }> {
  const described = await send(
    "DescribeServices",
    () =>
      ecs.send(
        new DescribeServicesCommand({ cluster: target.cluster, services: [target.service] }),
      ),
    clock,
    log,
  );
  const service = described.services?.[0];
  const deployment = watchedDeployment(service, target.taskDefinitionArn);
  if (deployment === undefined) return { service, tasks: [] };
  const arns = [
    ...(await listTaskArns(ecs, target, "RUNNING", clock, log)),
    ...(await listTaskArns(ecs, target, "STOPPED", clock, log)),
  ];
  const tasks: Task[] = [];
  for (let start = 0; start < arns.length; start += PAGE) {
    const page = await send(
      "DescribeTasks",
      () =>
        ecs.send(
          new DescribeTasksCommand({
            cluster: target.cluster,
            tasks: arns.slice(start, start + PAGE),
          }),
        ),
      clock,
      log,
    );
    tasks.push(...(page.tasks ?? []));
  }
  return { service, tasks };
}

/**
 * Reads the service until the watched deployment has COMPLETED (resolves) or has failed, was
 * rolled back, stalled or ran past the budget (rejects with `RolloutFailedError`). Logs every
 * change of the deployment and its tasks on the way.
 */
export async function waitForRollout(
  target: RolloutTarget,
  options: RolloutCheckOptions,
): Promise<RolloutResult> {
  const clock = options.clock ?? realClock;
  const pollMs = (options.pollSeconds ?? 10) * 1000;
  const started = clock.now();
  const memory: ProgressMemory = new Map();
  options.log(
    `rollout: watching ${target.service} for ${target.taskDefinitionArn.slice(target.taskDefinitionArn.lastIndexOf("/") + 1)} (budget ${target.budgetSeconds} s)`,
  );
  for (;;) {
    const { service, tasks } = await readService(options.ecs, target, clock, options.log);
    const reading = { service, tasks, elapsedSeconds: (clock.now() - started) / 1000 };
    for (const line of progressLines(target, reading, memory)) options.log(`rollout: ${line}`);
    const verdict = judgeRollout(target, reading, options.stack);
    if (verdict.state === "completed") {
      options.log(`rollout: ${verdict.summary}`);
      return {
        deploymentId: verdict.deployment.id ?? "",
        taskDefinitionArn: target.taskDefinitionArn,
        summary: verdict.summary,
      };
    }
    if (verdict.state === "failed") throw new RolloutFailedError(verdict.message);
    await clock.sleep(pollMs);
  }
}

/**
 * Makes the ECS client the check reads with: the stack's region, and `aws:profile` when the stack
 * sets one, so the check uses the same identity as the aws provider. Replaced by the unit tests'
 * mocks helper with a mocked client.
 */
export const ecsClients = {
  create(region: string, profile?: string): ECSClient {
    return new ECSClient({ region, ...(profile !== undefined ? { profile } : {}) });
  },
};
