/**
 * Names why an ECS task stopped, from the texts ECS puts in `stoppedReason` and each container's
 * `reason`, and says what to change. Pure: it reads AWS-shaped `Task` objects and calls nothing.
 *
 * The message texts matched here are the ones ECS and its Fargate agent actually write (see the ECS
 * guide's "stopped task error codes" and "CannotPullContainer task errors" pages, and
 * amazon-ecs-agent's dependency graph); docs/diagnose.md lists one example of each.
 */
import type { Container, DeploymentCircuitBreaker, Service, Task } from "@aws-sdk/client-ecs";

/** Every cause the classifier can name; all but `scaling` and `stopped-by-user` are failures. */
export const STOP_CAUSES = [
  "wrong-platform",
  "image-pull",
  "resource-initialization",
  "dependency-timeout",
  "out-of-memory",
  "container-health-check",
  "elb-health-check",
  "essential-container-exited",
  "unknown",
  "scaling",
  "stopped-by-user",
] as const;

export type StopCause = (typeof STOP_CAUSES)[number];

export interface StopDiagnosis {
  readonly cause: StopCause;
  /** False for stops ECS or an operator made on purpose. `unknown` counts as a failure. */
  readonly failure: boolean;
  /** What happened, in plain words, with the names involved. */
  readonly explanation: string;
  /** The containers the cause points at (may be empty, e.g. for an ELB health check). */
  readonly containers: readonly string[];
  /** What to change, naming this project's stack config keys where one applies. */
  readonly fix: string;
}

/** Exit code of a process killed by SIGKILL (128 + 9): the kernel OOM killer's signature. */
export const SIGKILL_EXIT_CODE = 137;
/** Exit code of a process ended by SIGTERM (128 + 15): what ECS sends the others when one exits. */
export const SIGTERM_EXIT_CODE = 143;

const PULL_ERROR = "CannotPullContainerError";
const RESOURCE_INIT_ERROR = "ResourceInitializationError";
const PLATFORM_MISMATCH = /does not contain descriptor matching platform '([^']+)'/;
const NETWORK_FAILURE =
  /i\/o timeout|context deadline exceeded|dial tcp|RequestCanceled|request canceled|no such host|connection refused|network is unreachable|signal: killed/i;
const ACCESS_DENIED =
  /AccessDenied|not authorized|403 Forbidden|401 Unauthorized|unauthorized|denied|no basic auth credentials/i;
const IMAGE_NOT_FOUND =
  /: not found|manifest unknown|repository does not exist|RepositoryNotFound/i;
const RATE_LIMITED = /toomanyrequests|429 Too Many Requests|rate limit/i;
/**
 * amazon-ecs-agent, on the container left waiting: "dependency graph: container ordering dependency
 * [databases(<image>) (RUNNING->RUNNING)] for target [api-gateway(<image>) (NONE->RUNNING)] has timed out."
 */
const DEPENDENCY_TIMEOUT_NAMES =
  /container ordering dependency \[([^(\]\s]+)[^\]]*\] for target \[([^(\]\s]+)[^\]]*\] has timed out/;
const DEPENDENCY_TIMEOUT =
  /dependency graph:.*has timed out|DependencyTimeout|timed out waiting for (container )?dependenc/i;

const ELB_HEALTH_CHECK = /^Task failed ELB health checks in \(target-group ([^)]+)\)/;
const CONTAINER_HEALTH_CHECK = /^Task failed container health checks/;
const ESSENTIAL_EXITED = /^Essential container in task exited/;
const SCALING = /^Scaling activity initiated by \(deployment ([^)]+)\)/;
const OUT_OF_MEMORY = /OutOfMemoryError/;

function reasonsOf(task: Task): string[] {
  return [task.stoppedReason ?? "", ...(task.containers ?? []).map((c) => c.reason ?? "")].filter(
    (text) => text !== "",
  );
}

function namesOf(containers: readonly Container[]): string[] {
  return containers.map((container) => container.name ?? "(unnamed)");
}

function containersWhose(task: Task, test: (container: Container) => boolean): Container[] {
  return (task.containers ?? []).filter(test);
}

/** The pull or init message, with the containers whose own reason carries it. */
function findError(
  task: Task,
  prefix: string,
): { message: string; containers: string[] } | undefined {
  const failing = containersWhose(task, (c) => (c.reason ?? "").includes(prefix));
  const message =
    failing[0]?.reason ?? (task.stoppedReason?.includes(prefix) ? task.stoppedReason : undefined);
  return message === undefined ? undefined : { message, containers: namesOf(failing) };
}

function list(names: readonly string[]): string {
  return names.length === 0 ? "a container" : names.join(", ");
}

function classifyPull(message: string, containers: string[]): StopDiagnosis {
  const platform = PLATFORM_MISMATCH.exec(message);
  if (platform) {
    return {
      cause: "wrong-platform",
      failure: true,
      explanation: `The image of ${list(containers)} has no ${platform[1]} variant, the platform the task runs on.`,
      containers,
      fix: `Build and push the image for ${platform[1]} (docker buildx --platform ${platform[1]}), or leave aura:<container>.image unset so the program builds it for aura:platform, then run pulumi up.`,
    };
  }
  const base = { cause: "image-pull" as const, failure: true, containers };
  if (NETWORK_FAILURE.test(message)) {
    return {
      ...base,
      explanation: `The task could not reach the registry to pull the image of ${list(containers)}.`,
      fix: "Give the task's subnets a route to ECR: a public IP with an internet gateway, a NAT gateway, or VPC endpoints for ecr.api, ecr.dkr and S3 (gateway); check the security group allows outbound 443.",
    };
  }
  if (RATE_LIMITED.test(message)) {
    return {
      ...base,
      explanation: `The registry refused to serve the image of ${list(containers)}: too many requests.`,
      fix: "Pull from ECR (this stack's aura-* repositories or an ECR pull-through cache) instead of Docker Hub.",
    };
  }
  if (IMAGE_NOT_FOUND.test(message)) {
    return {
      ...base,
      explanation: `The image of ${list(containers)} does not exist in the registry (wrong tag, digest or repository).`,
      fix: "Push the image, or point aura:<container>.image at a reference that exists (aws ecr describe-images --repository-name <repo>); run pulumi up.",
    };
  }
  if (ACCESS_DENIED.test(message)) {
    return {
      ...base,
      explanation: `The task was not allowed to pull the image of ${list(containers)}.`,
      fix: "Give the task execution role ecr:GetAuthorizationToken, ecr:BatchGetImage and ecr:GetDownloadUrlForLayer (AmazonECSTaskExecutionRolePolicy), and allow it in the repository policy for cross-account pulls.",
    };
  }
  return {
    ...base,
    explanation: `The image of ${list(containers)} could not be pulled.`,
    fix: "Check the image reference and the task execution role's ECR permissions, then run pulumi up.",
  };
}

function classifyResourceInit(message: string, containers: string[]): StopDiagnosis {
  const base = { cause: "resource-initialization" as const, failure: true, containers };
  const secrets = /secret|asm|ssm/i.test(message);
  if (/logger|log stream|log group/i.test(message)) {
    return {
      ...base,
      explanation:
        "Fargate could not set up the awslogs driver (log group missing or not writable).",
      fix: "Make sure the log group exists in the task's region and the execution role has logs:CreateLogStream and logs:PutLogEvents; run pulumi up.",
    };
  }
  if (ACCESS_DENIED.test(message)) {
    return {
      ...base,
      explanation: secrets
        ? "The task execution role may not read the container secrets."
        : "The task execution role was denied while fetching registry auth.",
      fix: secrets
        ? "Allow secretsmanager:GetSecretValue (or ssm:GetParameters) and kms:Decrypt for exactly the secrets' ARNs on the task execution role; run pulumi up."
        : "Give the task execution role ecr:GetAuthorizationToken; run pulumi up.",
    };
  }
  if (
    /ResourceNotFoundException|ParameterNotFound|can't find the specified secret/i.test(message)
  ) {
    return {
      ...base,
      explanation: "A secret the task definition references does not exist.",
      fix: "Create the secret (or fix its ARN / JSON key in valueFrom) in the task's region; run pulumi up.",
    };
  }
  if (NETWORK_FAILURE.test(message)) {
    return {
      ...base,
      explanation: `The task could not reach ${secrets ? "Secrets Manager / SSM" : "the AWS APIs"} from its subnets to fetch secrets or registry auth.`,
      fix: "Give the task's subnets a route out (public IP with an internet gateway, or a NAT gateway) or VPC endpoints for secretsmanager, ssm, ecr.api, ecr.dkr, logs and S3; enable DNS resolution in the VPC.",
    };
  }
  return {
    ...base,
    explanation:
      "Fargate could not prepare the task's resources (secrets, registry auth, network or volumes).",
    fix: "Read the full stopped reason below; check the execution role, the VPC's DNS settings and routes, then run pulumi up.",
  };
}

function classifyDependency(task: Task): StopDiagnosis | undefined {
  const timeouts = reasonsOf(task).filter((reason) => DEPENDENCY_TIMEOUT.test(reason));
  if (timeouts.length === 0) return undefined;
  const waitedFor = new Set<string>();
  const waiting = new Set<string>();
  for (const text of timeouts) {
    const names = DEPENDENCY_TIMEOUT_NAMES.exec(text);
    if (names) {
      waitedFor.add(names[1]);
      waiting.add(names[2]);
    }
  }
  // The agent writes the timeout on the container that was waiting.
  for (const container of containersWhose(task, (c) => DEPENDENCY_TIMEOUT.test(c.reason ?? ""))) {
    if (container.name !== undefined && !waitedFor.has(container.name)) waiting.add(container.name);
  }
  const dependencies = [...waitedFor];
  const fix =
    dependencies.length > 0
      ? dependencies
          .map(
            (name) =>
              `Raise aura:${name}.startTimeout (Fargate allows up to 120 s) above ${name}'s time to HEALTHY, or remove it to wait as long as the health check allows; read ${name}'s logs for a slow or failing start.`,
          )
          .join(" ")
      : "Raise the startTimeout of the container being waited for above its time to HEALTHY (up to 120 s on Fargate), or remove it; read that container's logs.";
  return {
    cause: "dependency-timeout",
    failure: true,
    explanation: `${list([...waiting])} gave up waiting for ${
      dependencies.length > 0 ? dependencies.join(", ") : "the container it depends on"
    }: the startTimeout ran out before the dependency condition was met.`,
    containers: [...waiting, ...dependencies],
    fix,
  };
}

/** The containers that ended on their own, not from the SIGTERM ECS sends once an essential one exits. */
function firstExited(task: Task): Container[] {
  const exited = containersWhose(task, (c) => c.exitCode !== undefined);
  const own = exited.filter((c) => c.exitCode !== SIGTERM_EXIT_CODE);
  return own.length > 0 ? own : exited;
}

function classifyExit(task: Task): StopDiagnosis | undefined {
  const oomByReason = containersWhose(task, (c) => OUT_OF_MEMORY.test(c.reason ?? ""));
  const essentialExit =
    ESSENTIAL_EXITED.test(task.stoppedReason ?? "") || task.stopCode === "EssentialContainerExited";
  const exited = essentialExit ? firstExited(task) : [];
  const killed = exited.filter((c) => c.exitCode === SIGKILL_EXIT_CODE);
  // A 137 beside a container that failed with its own code is the SIGKILL after stopTimeout, not OOM.
  const otherFailures = exited.filter((c) => c.exitCode !== SIGKILL_EXIT_CODE);
  const oom =
    oomByReason.length > 0 || OUT_OF_MEMORY.test(task.stoppedReason ?? "")
      ? oomByReason
      : killed.length > 0 && otherFailures.length === 0
        ? killed
        : undefined;
  if (oom !== undefined) {
    const names = namesOf(oom);
    const byReason = oomByReason.length > 0 || OUT_OF_MEMORY.test(task.stoppedReason ?? "");
    return {
      cause: "out-of-memory",
      failure: true,
      explanation: byReason
        ? `${list(names)} was killed for using more memory than the task has (OutOfMemoryError).`
        : `${list(names)} was killed with SIGKILL (exit code ${SIGKILL_EXIT_CODE}) while nothing was stopping it: the out-of-memory killer.`,
      containers: names,
      fix: "Raise aura:memory (with aura:cpu to a valid Fargate size), or give the container a memory limit that covers its peak; check its logs for a leak or an oversized cache.",
    };
  }
  if (!essentialExit) return undefined;
  // Name the container that failed with its own code, not the ones killed after stopTimeout.
  const culprits = otherFailures.length > 0 ? otherFailures : exited;
  const names = namesOf(culprits);
  const codes = culprits.map((c) => `${c.name ?? "(unnamed)"} exited ${c.exitCode}`).join(", ");
  return {
    cause: "essential-container-exited",
    failure: true,
    explanation:
      culprits.length > 0
        ? `An essential container exited and took the task down: ${codes}.`
        : "An essential container exited and took the task down (no exit code reported).",
    containers: names,
    fix:
      culprits.length > 0 && culprits.every((c) => c.exitCode === 0)
        ? `${list(names)} finished with exit code 0: an essential container must keep running; fix its command or entrypoint.`
        : `Read ${list(names)}'s last log lines for the error; check its command, environment (HOST/PORT, 127.0.0.1) and secrets; reproduce with npm run local.`,
  };
}

function classifyHealth(task: Task): StopDiagnosis | undefined {
  const reason = task.stoppedReason ?? "";
  if (CONTAINER_HEALTH_CHECK.test(reason)) {
    const names = namesOf(containersWhose(task, (c) => c.healthStatus === "UNHEALTHY"));
    return {
      cause: "container-health-check",
      failure: true,
      explanation: `ECS stopped the task because ${list(names)} failed its container health check.`,
      containers: names,
      fix: `Run ${list(names)}'s health-check command locally (npm run local) and read its logs; if it becomes ready later than the check allows, raise aura:<container>.startPeriod (up to 300 s), interval or retries; make sure the command's binary exists in the image.`,
    };
  }
  const elb = ELB_HEALTH_CHECK.exec(reason);
  if (elb) {
    return {
      cause: "elb-health-check",
      failure: true,
      explanation: `The load balancer's target group ${elb[1]} found the task unhealthy.`,
      containers: [],
      fix: "Check the target group's health-check path and port answer 200 on api-gateway:8000, that the task's security group allows the ALB, and that the service's healthCheckGracePeriodSeconds covers the time until the gateway is healthy.",
    };
  }
  return undefined;
}

function classifyExpected(task: Task): StopDiagnosis | undefined {
  const reason = task.stoppedReason ?? "";
  const scaling = SCALING.exec(reason);
  if (scaling) {
    return {
      cause: "scaling",
      failure: false,
      explanation: `Replaced or scaled in by deployment ${scaling[1]}: not a failure.`,
      containers: [],
      fix: "Nothing to fix.",
    };
  }
  if (task.stopCode === "UserInitiated" || /^Task stopped by user/.test(reason)) {
    return {
      cause: "stopped-by-user",
      failure: false,
      explanation: "Stopped by a user or an API call (StopTask): not a failure.",
      containers: [],
      fix: "Nothing to fix.",
    };
  }
  return undefined;
}

/**
 * Names the cause of one stopped task. The order matters: a task that never started (pull, init)
 * also has its containers' reasons set, and an OOM kill also reads "Essential container in task
 * exited", so the specific causes are tried before the general ones.
 */
export function classifyStoppedTask(task: Task): StopDiagnosis {
  const pull = findError(task, PULL_ERROR);
  if (pull) return classifyPull(pull.message, pull.containers);
  const init = findError(task, RESOURCE_INIT_ERROR);
  if (init) return classifyResourceInit(init.message, init.containers);
  const diagnosis =
    classifyDependency(task) ??
    classifyExit(task) ??
    classifyHealth(task) ??
    classifyExpected(task);
  if (diagnosis) return diagnosis;
  return {
    cause: "unknown",
    failure: true,
    explanation: `ECS gave a reason this tool does not know: ${task.stoppedReason ?? "(none)"}.`,
    containers: [],
    fix: "Read the stopped reason and the containers' reasons below, and the ECS guide's stopped-task error codes.",
  };
}

/**
 * How many failed tasks trip the deployment circuit breaker. ECS's default is BOUNDED_PERCENT 50:
 * half the desired count, clamped to 3..200; UNBOUNDED_PERCENT drops the clamp, COUNT is literal.
 */
export function circuitBreakerThreshold(
  breaker: DeploymentCircuitBreaker | undefined,
  desiredCount: number,
): number {
  const type = breaker?.thresholdConfiguration?.type ?? "BOUNDED_PERCENT";
  const value = breaker?.thresholdConfiguration?.value ?? 50;
  if (type === "COUNT") return value;
  const share = Math.ceil((value / 100) * desiredCount);
  return type === "UNBOUNDED_PERCENT" ? Math.max(1, share) : Math.min(200, Math.max(3, share));
}

/** A stopped task with its diagnosis. */
export interface ClassifiedStop {
  readonly task: Task;
  readonly diagnosis: StopDiagnosis;
  /**
   * Whether it stopped after the service's current (PRIMARY) deployment began. ECS lists stopped
   * tasks for about an hour; failures from before a fix was deployed must not fail the check.
   */
  readonly sinceCurrentDeployment: boolean;
}

export function classifyStops(
  tasks: readonly Task[],
  service: Service | undefined,
): ClassifiedStop[] {
  const primary = service?.deployments?.find((deployment) => deployment.status === "PRIMARY");
  const since = primary?.createdAt?.getTime();
  return tasks.map((task) => ({
    task,
    diagnosis: classifyStoppedTask(task),
    sinceCurrentDeployment:
      since === undefined || task.stoppedAt === undefined || task.stoppedAt.getTime() >= since,
  }));
}

/** Only `healthy` exits 0; `deploying` is a rollout that has not failed (yet). */
export type Verdict = "healthy" | "deploying" | "failing" | "not-found";

export interface ServiceAssessment {
  readonly verdict: Verdict;
  /** Each reason the service is not healthy; empty only when it is. */
  readonly problems: readonly string[];
  /** Settings that make a failure worse (a loop without end) but are not failures themselves. */
  readonly warnings: readonly string[];
}

function countBy(causes: readonly StopCause[]): string {
  const counts = new Map<StopCause, number>();
  for (const cause of causes) counts.set(cause, (counts.get(cause) ?? 0) + 1);
  return [...counts].map(([cause, count]) => `${cause} x${count}`).join(", ");
}

/** Judges the service from its description and its classified stops. */
export function assessService(
  service: Service | undefined,
  stops: readonly ClassifiedStop[],
): ServiceAssessment {
  if (service === undefined || service.status !== "ACTIVE") {
    const status = service?.status ?? "MISSING";
    return {
      verdict: "not-found",
      problems: [`The service is ${status}: deploy it with pulumi up.`],
      warnings: [],
    };
  }
  const failures: string[] = [];
  const warnings: string[] = [];
  const desired = service.desiredCount ?? 0;
  const running = service.runningCount ?? 0;
  const deployments = service.deployments ?? [];
  const breaker = service.deploymentConfiguration?.deploymentCircuitBreaker;
  const threshold = circuitBreakerThreshold(breaker, desired);
  for (const deployment of deployments) {
    if (deployment.rolloutState === "FAILED") {
      failures.push(
        `Deployment ${deployment.id} FAILED: ${deployment.rolloutStateReason ?? "no reason given"}`,
      );
    } else if (deployment.rolloutState === "IN_PROGRESS" && (deployment.failedTasks ?? 0) > 0) {
      failures.push(
        `Deployment ${deployment.id} has ${deployment.failedTasks} failed task(s)` +
          (breaker?.enable ? ` of the ${threshold} that trip the circuit breaker.` : "."),
      );
    }
  }
  const currentFailures = stops.filter(
    (stop) => stop.diagnosis.failure && stop.sinceCurrentDeployment,
  );
  if (currentFailures.length > 0) {
    failures.push(
      `${currentFailures.length} task(s) failed since the current deployment began: ${countBy(
        currentFailures.map((stop) => stop.diagnosis.cause),
      )}.`,
    );
  }
  if (!breaker?.enable) {
    warnings.push("The deployment circuit breaker is off: a failing deployment retries forever.");
  } else if (!breaker.rollback) {
    warnings.push("The circuit breaker does not roll back: a failed deployment leaves no tasks.");
  }
  const rollingOut =
    deployments.length > 1 || deployments.some((d) => d.rolloutState === "IN_PROGRESS");
  const shortfall = running < desired ? `${running} of ${desired} desired tasks are running.` : "";
  // While a rollout is replacing tasks, fewer running than desired is expected, not a failure.
  const verdict: Verdict =
    failures.length > 0 || (shortfall !== "" && !rollingOut)
      ? "failing"
      : rollingOut
        ? "deploying"
        : "healthy";
  const problems = [
    ...(shortfall !== "" ? [shortfall] : []),
    ...failures,
    ...(verdict === "deploying"
      ? ["A deployment is still rolling out; run again to see it finish."]
      : []),
  ];
  return { verdict, problems, warnings };
}
