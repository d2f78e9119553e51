/**
 * Names why an ECS task stopped, from the texts ECS puts in `stoppedReason`, `stopCode` and each
 * container's `reason` and exit code, and says what to change. Pure: it reads AWS-shaped `Task`
 * objects and calls nothing. One classifier, shared: `npm run diagnose` and the rollout check of
 * `pulumi up` both call `classifyStoppedTask` / `classifyStops` / `assessService`.
 *
 * Wordings come from what ECS and its agents publish (the tests name each source): the ECS guide's
 * "Stopped tasks error codes", "CannotPullContainer task errors" and "Checking stopped tasks for
 * errors" pages, the stopCode enum of the ECS API, the Fargate task-maintenance FAQ, the AWS
 * knowledge-center articles on ResourceInitializationError, and amazon-ecs-agent's own messages
 * (agent/asm/asm.go, agent/engine/dependencygraph/graph.go, agent/dockerclient/dockerapi/errors.go).
 * Every pattern ignores case (the knowledge center itself writes "cannotpullcontainererror") and
 * matches a prefix of the message, because the console and `stoppedReason` truncate long texts.
 */
import type { Container, DeploymentCircuitBreaker, Service, Task } from "@aws-sdk/client-ecs";

/** Every cause the classifier can name. One cause per distinct fix. */
export const STOP_CAUSES = [
  // The image.
  "image-not-found",
  "image-pull-denied",
  "wrong-platform",
  "registry-rate-limited",
  // The task's network path to the AWS endpoints (or a public registry).
  "network-unreachable",
  // Secrets in `secrets[].valueFrom`.
  "secret-access-denied",
  "secret-not-found",
  "secret-json-key-not-found",
  "secret-version-invalid",
  "secret-kms-decrypt-failed",
  // awslogs.
  "log-group-missing",
  "logging-driver-failed",
  // EFS volumes.
  "efs-mount-target-missing",
  "efs-access-denied",
  "efs-unreachable",
  "efs-mount-failed",
  // The task's containers.
  "container-health-check",
  "elb-health-check",
  "out-of-memory",
  "essential-container-exited",
  "dependency-timeout",
  "stop-timeout-exceeded",
  // Not failures: ECS, AWS or an operator stopped the task on purpose.
  "stopped-by-user",
  "scaling",
  "replaced-by-deployment",
  "fargate-maintenance",
  "spot-interruption",
  "instance-deregistration",
  "unknown",
] as const;

export type StopCause = (typeof STOP_CAUSES)[number];

/** The causes that are not failures: diagnose never calls a service failing for them. */
export const ROUTINE_CAUSES: ReadonlySet<StopCause> = new Set<StopCause>([
  "stopped-by-user",
  "scaling",
  "replaced-by-deployment",
  "fargate-maintenance",
  "spot-interruption",
  "instance-deregistration",
]);

/** Causes where no container ever ran, so CloudWatch Logs has nothing to show. */
export const BEFORE_START_CAUSES: ReadonlySet<StopCause> = new Set<StopCause>([
  "image-not-found",
  "image-pull-denied",
  "wrong-platform",
  "registry-rate-limited",
  "network-unreachable",
  "secret-access-denied",
  "secret-not-found",
  "secret-json-key-not-found",
  "secret-version-invalid",
  "secret-kms-decrypt-failed",
  "log-group-missing",
  "logging-driver-failed",
  "efs-mount-target-missing",
  "efs-access-denied",
  "efs-unreachable",
  "efs-mount-failed",
]);

export interface StopDiagnosis {
  readonly cause: StopCause;
  /** False for stops ECS, AWS or an operator made on purpose. `unknown` counts as a failure. */
  readonly failure: boolean;
  /** What happened, in plain words, with the names involved. */
  readonly explanation: string;
  /** The containers the cause concerns (empty when it concerns the task as a whole). */
  readonly containers: readonly string[];
  /** What to change, naming this project's stack config key or the AWS setting. */
  readonly fix: string;
}

/** Exit code of a process killed by SIGKILL (128 + 9): the OOM killer's, or the SIGKILL after stopTimeout. */
export const SIGKILL_EXIT_CODE = 137;
/** Exit code of a process ended by SIGTERM (128 + 15): what ECS sends the others when one exits. */
export const SIGTERM_EXIT_CODE = 143;

const NOTHING_TO_FIX = "Nothing to fix.";

/* ------------------------------------------------------------------------------------------ */
/* Wordings                                                                                   */
/* ------------------------------------------------------------------------------------------ */

/** Errors of a task that never got its containers running: the image, secrets, logs, volumes. */
const START_ERROR =
  /Fetching secret data from|CannotPullContainerError|ResourceInitializationError|CannotCreateVolumeError|CannotStartContainerError|CannotCreateContainerError/i;

/**
 * Every way ECS says the image has no variant for the task's platform:
 * "image Manifest does not contain descriptor matching platform 'linux/amd64'" (Fargate 1.4) and
 * "failed to find a descriptor for platform {linux/amd64}" (aws/containers-roadmap#1120); the
 * second one sometimes prints Go pointers instead of the platform (hashicorp/consul-ecs#64).
 */
const PLATFORM_MISMATCH =
  /does not contain descriptor|failed to find a descriptor|no matching manifest for|no match for platform in manifest/i;
const PLATFORM_NAME = /platform[ '{]+((?:linux|windows)\/[a-z0-9_]+(?:\/v\d+)?)/i;

/** Timeouts and refused connections: the network path, not permissions. */
const NETWORK_FAILURE =
  /i\/o timeout|context deadline exceeded|dial tcp|request canceled|RequestCanceled|Client\.Timeout|TLS handshake|no such host|connection refused|network is unreachable|connection issue between the task and|check your task network configuration|signal: killed|exceeded maximum number of attempts/i;
const ACCESS_DENIED =
  /AccessDenied|not authorized|403 Forbidden|401 Unauthorized|\bunauthorized\b|pull access denied|no basic auth credentials|authorization token has expired|denied:/i;
const RATE_LIMITED = /toomanyrequests|429 Too Many Requests|rate limit/i;

/** The secrets part of "unable to pull secrets or registry auth": which store the agent was reading. */
const FROM_SECRETS_MANAGER = /from asm|secretsmanager|secrets manager|asm fetching/i;
const FROM_SSM = /from ssm|\bssm\b|parameter store|ssm:GetParameters/i;
/** amazon-ecs-agent agent/asm/asm.go: "retrieved secret from Secrets Manager did not contain json key %s". */
const JSON_KEY_MISSING = /did not contain json key\s*([^\s,.:]+)?/i;
const SECRET_MISSING =
  /ResourceNotFoundException|can't find the specified secret|ParameterNotFound|invalid parameters?:/i;
const SECRET_VERSION = /VersionId|VersionStage|version stage|version id/i;
const KMS_FAILURE = /\bkms\b|KMSAccessDenied|DecryptionFailure|kms:Decrypt/i;

/** awslogs: "failed to validate logger args", "failed to initialize logging driver". */
const LOGGING = /logger|logging driver|log stream|log group|awslogs/i;
const LOG_GROUP_MISSING = /log group does not exist/i;

/**
 * EFS through Fargate's efs-utils: "failed to invoke EFS utils commands to set up EFS volumes:
 * stderr: Failed to resolve "fs-....efs.<region>.amazonaws.com" - check that your file system ID is
 * correct, and ensure that the VPC has an EFS mount target for this file system ID."
 */
const EFS =
  /\befs\b|efs-utils|EFS utils|mount\.nfs|fs-[0-9a-f]{8,}|fsap-[0-9a-f]{8,}|mount target/i;
const EFS_NO_MOUNT_TARGET =
  /Failed to resolve "fs-|No matching mount target|mount target ip address cannot be found|has an EFS mount target/i;
const EFS_DENIED =
  /access denied by server|AccessDenied|ClientMount|not authorized|permission denied/i;
const EFS_UNREACHABLE =
  /timed out|timeout|Connection reset by peer|connection refused|\b2049\b|no route to host/i;

/**
 * amazon-ecs-agent graph.go, on the container left waiting: "dependency graph: container ordering
 * dependency [databases(<image>) (RUNNING->RUNNING)] for target [api-gateway(<image>)
 * (NONE->RUNNING)] has timed out." The local runner writes the bare names.
 */
const DEPENDENCY_TIMEOUT_NAMES =
  /container ordering dependency \[([^(\]\s]+)[^\]]*\] for target \[([^(\]\s]+)/i;
const DEPENDENCY_TIMEOUT =
  /dependency graph:.*has timed out|DependencyTimeout|timed out waiting for (?:container )?dependenc/i;

/** agent dockerapi/errors.go DockerTimeoutError: "Could not transition to stopped; timed out after waiting 30s". */
const STOP_TIMEOUT = /transition to stopped; timed out|CannotStopContainerError/i;

/** agent dockerapi/errors.go OutOfMemoryError: "OutOfMemoryError: Container killed due to memory usage". */
const OUT_OF_MEMORY = /OutOfMemoryError|killed due to memory usage/i;

/** "Task failed ELB health checks in (target-group <arn>)" and, for classic ELBs, "(elb <name>)". */
const ELB_HEALTH_CHECK = /^Task failed ELB health checks/i;
const ELB_TARGET = /\((target-group|elb) ([^)]+)\)/i;
const CONTAINER_HEALTH_CHECK = /^Task failed container health checks/i;
const ESSENTIAL_EXITED = /^Essential container in task exited/i;
const SCALING = /^Scaling activity initiated by \(deployment ([^)]+)\)?/i;
const STOPPED_BY_USER = /^Task stopped by user/i;
/** The Fargate task-maintenance FAQ's stoppedReason. */
const MAINTENANCE =
  /performing maintenance on the underlying infrastructure|task retirement|is being retired/i;
/** ECS developer guide (Fargate Spot, task state change events): "Your Spot Task was interrupted." */
const SPOT = /Spot Task was interrupted|spot interruption/i;
/** "Checking stopped tasks for errors": "Host EC2 (instance id) stopped/terminated", "Container instance deregistration forced by user". */
const INSTANCE_GONE =
  /^Host EC2 \(instance ([^)]+)\)? ?stopped\/terminated|container instance deregistration|instance deregistration forced/i;

/* ------------------------------------------------------------------------------------------ */
/* Helpers                                                                                    */
/* ------------------------------------------------------------------------------------------ */

function namesOf(containers: readonly Container[]): string[] {
  return containers.map((container) => container.name ?? "(unnamed)");
}

function containersWhose(task: Task, test: (container: Container) => boolean): Container[] {
  return (task.containers ?? []).filter(test);
}

function list(names: readonly string[]): string {
  return names.length === 0 ? "a container" : names.join(", ");
}

function regionOf(task: Task): string {
  return /^arn:aws[a-z-]*:ecs:([a-z0-9-]+):/.exec(task.taskArn ?? "")?.[1] ?? "<region>";
}

/**
 * The start error with the containers whose own reason carries it. The container reason is the
 * full text; `stoppedReason` may be cut, so the longest text wins.
 */
function findStartError(task: Task): { message: string; containers: string[] } | undefined {
  const failing = containersWhose(task, (c) => START_ERROR.test(c.reason ?? ""));
  const texts = [
    ...failing.map((c) => c.reason ?? ""),
    ...(START_ERROR.test(task.stoppedReason ?? "") ? [task.stoppedReason ?? ""] : []),
  ];
  if (texts.length === 0) return undefined;
  const message = texts.reduce((longest, text) => (text.length > longest.length ? text : longest));
  // A dependency timeout is also a CannotStartContainerError; it is the containers' own cause.
  if (DEPENDENCY_TIMEOUT.test(message)) return undefined;
  return { message, containers: namesOf(failing) };
}

/** The AWS endpoint (or registry) a network failure names, for the explanation and the fix. */
interface Endpoint {
  readonly name: string;
  /** VPC endpoint service names, or undefined when only internet access helps (a public registry). */
  readonly vpcEndpoints?: readonly string[];
}

function endpointOf(message: string, region: string): Endpoint {
  const host = /https?:\/\/([^/"\s:]+)/i.exec(message)?.[1] ?? "";
  const service = (name: string) => `com.amazonaws.${region}.${name}`;
  if (/starport-layer-bucket|\.s3[.-]/i.test(host)) {
    return {
      name: "S3 (where ECR keeps image layers)",
      vpcEndpoints: [`${service("s3")} (gateway)`],
    };
  }
  if (
    /\.ecr\.|ecr registry auth|registry auth from Amazon ECR|GetAuthorizationToken/i.test(
      `${host} ${message}`,
    )
  ) {
    return {
      name: "Amazon ECR",
      vpcEndpoints: [
        service("ecr.api"),
        service("ecr.dkr"),
        `${service("s3")} (gateway, for the layers)`,
      ],
    };
  }
  if (FROM_SECRETS_MANAGER.test(message)) {
    return { name: "Secrets Manager", vpcEndpoints: [service("secretsmanager")] };
  }
  if (FROM_SSM.test(message)) {
    return { name: "SSM Parameter Store", vpcEndpoints: [service("ssm")] };
  }
  if (LOGGING.test(message) || /^logs\./i.test(host)) {
    return { name: "CloudWatch Logs", vpcEndpoints: [service("logs")] };
  }
  if (host !== "" && !/amazonaws\.com$/i.test(host)) {
    // Docker Hub, quay.io, ghcr.io...: no VPC endpoint reaches them.
    return { name: `the registry ${host}` };
  }
  if (/CannotPullContainerError/i.test(message)) {
    return {
      name: "the image registry",
      vpcEndpoints: [
        service("ecr.api"),
        service("ecr.dkr"),
        `${service("s3")} (gateway, for the layers)`,
      ],
    };
  }
  return {
    name: "the AWS endpoints the task needs at start (ECR, S3, Secrets Manager, CloudWatch Logs)",
    vpcEndpoints: ["ecr.api", "ecr.dkr", "s3 (gateway)", "secretsmanager", "logs"].map(service),
  };
}

function networkFix(endpoint: Endpoint): string {
  const publicPath =
    "Tasks in public subnets (aura:privateSubnetIds empty) need a public IP: set aura:assignPublicIp: true.";
  if (endpoint.vpcEndpoints === undefined) {
    return `${publicPath} Tasks in aura:privateSubnetIds need a NAT gateway (route 0.0.0.0/0 to it): VPC endpoints cannot reach ${endpoint.name}. Or pull the image from ECR instead (an ECR pull-through cache). The task's security group must allow outbound 443.`;
  }
  return `${publicPath} Tasks in aura:privateSubnetIds need a NAT gateway (route 0.0.0.0/0 to it) or the VPC endpoints ${endpoint.vpcEndpoints.join(", ")} with private DNS on; the task's security group must allow outbound 443 to them, and the VPC needs DNS resolution and DNS hostnames enabled.`;
}

/* ------------------------------------------------------------------------------------------ */
/* Causes before any container ran                                                             */
/* ------------------------------------------------------------------------------------------ */

function failure(
  cause: StopCause,
  containers: readonly string[],
  explanation: string,
  fix: string,
): StopDiagnosis {
  return { cause, failure: true, explanation, containers, fix };
}

function classifyPlatform(message: string, containers: string[]): StopDiagnosis {
  const platform = PLATFORM_NAME.exec(message)?.[1]?.toLowerCase();
  return failure(
    "wrong-platform",
    containers,
    platform !== undefined
      ? `The image of ${list(containers)} has no ${platform} variant, the platform the task runs on.`
      : `The image of ${list(containers)} has no variant for the platform the task runs on (ECS did not print which).`,
    `Build and push the image for ${platform ?? "the task's runtimePlatform"} (docker buildx --platform ${platform ?? "linux/amd64"}), or leave aura:<container>.image unset so the program builds it for aura:platform, then run pulumi up.`,
  );
}

function classifyEfs(message: string, containers: string[]): StopDiagnosis {
  const fileSystem = /fs-[0-9a-f]{8,}/i.exec(message)?.[0] ?? "the EFS file system";
  if (EFS_NO_MOUNT_TARGET.test(message)) {
    const zone = /in the az ([a-z0-9-]+)/i.exec(message)?.[1];
    return failure(
      "efs-mount-target-missing",
      containers,
      `${fileSystem} has no mount target the task can reach${zone !== undefined ? ` in ${zone}` : " in its availability zone"} (its DNS name did not resolve).`,
      `Create a mount target of ${fileSystem} in every subnet the tasks use (aura:privateSubnetIds, or the public subnets), and enable DNS resolution and DNS hostnames on the VPC (aura:vpcId); run pulumi up.`,
    );
  }
  if (EFS_DENIED.test(message)) {
    return failure(
      "efs-access-denied",
      containers,
      `${fileSystem} refused the mount (IAM or access point).`,
      `Give the task role elasticfilesystem:ClientMount and elasticfilesystem:ClientWrite on ${fileSystem} (the volume uses IAM authorization), check the file system policy allows that role, and that each access point (fsap-...) belongs to ${fileSystem}; run pulumi up.`,
    );
  }
  if (EFS_UNREACHABLE.test(message)) {
    return failure(
      "efs-unreachable",
      containers,
      `The task could not reach ${fileSystem}'s mount target over NFS (port 2049).`,
      "Allow inbound TCP 2049 on the mount targets' security group from the task's security group (and outbound 2049 from the task's), with a mount target in each task subnet; run pulumi up.",
    );
  }
  return failure(
    "efs-mount-failed",
    containers,
    `Fargate could not mount ${fileSystem} (efs-utils failed).`,
    "EFS volumes need Fargate platform version 1.4.0 or later and transit encryption with IAM; read the efs-utils output in the reason below for the file system, access point or mount target it names.",
  );
}

function classifyLogs(message: string, containers: string[]): StopDiagnosis {
  if (LOG_GROUP_MISSING.test(message)) {
    return failure(
      "log-group-missing",
      containers,
      "The awslogs log group of the task definition does not exist in the task's region.",
      "Run pulumi up: the program creates the log group /ecs/aura-app-<stack> in aws:region; if it was deleted by hand, pulumi refresh first. The awslogs-region option must be the task's region.",
    );
  }
  return failure(
    "logging-driver-failed",
    containers,
    `The awslogs logging driver of ${list(containers)} could not start.`,
    ACCESS_DENIED.test(message)
      ? "Give the task execution role logs:CreateLogStream and logs:PutLogEvents on the log group (AmazonECSTaskExecutionRolePolicy has them); run pulumi up."
      : "Check the container's logConfiguration options (awslogs-group, awslogs-region, awslogs-stream-prefix) and that the execution role may write the log group; run pulumi up.",
  );
}

function classifySecrets(message: string, containers: string[]): StopDiagnosis | undefined {
  const store = FROM_SSM.test(message) && !FROM_SECRETS_MANAGER.test(message) ? "SSM" : "ASM";
  const arn = /arn:aws[a-z-]*:(?:secretsmanager|ssm):[^\s"']+/i.exec(message)?.[0];
  const which = arn ?? "a secret of the task definition";
  const jsonKey = JSON_KEY_MISSING.exec(message);
  if (jsonKey) {
    const key = jsonKey[1];
    return failure(
      "secret-json-key-not-found",
      containers,
      `The secret in Secrets Manager has no JSON key ${key ?? "(the one valueFrom names)"}.`,
      `Add the key${key !== undefined ? ` ${key}` : ""} to the secret's JSON, or fix the key in valueFrom (<secret ARN>:<json-key>:<version-stage>:<version-id>); a new task picks up the change.`,
    );
  }
  if (KMS_FAILURE.test(message)) {
    return failure(
      "secret-kms-decrypt-failed",
      containers,
      `The secret ${which} could not be decrypted with its KMS key.`,
      "Allow kms:Decrypt on the secret's customer managed key for the task execution role (in the key policy and the role's policy), or use the AWS managed key; run pulumi up.",
    );
  }
  if (SECRET_VERSION.test(message)) {
    return failure(
      "secret-version-invalid",
      containers,
      `valueFrom asks for a version of ${which} that does not exist (bad version id or stage).`,
      "Fix valueFrom's version part (<secret ARN>:<json-key>:<version-stage>:<version-id>): a version id is 32-64 characters, a stage such as AWSCURRENT must exist; or leave both empty for the current version.",
    );
  }
  if (SECRET_MISSING.test(message)) {
    return failure(
      "secret-not-found",
      containers,
      `The secret ${which} does not exist in the task's region.`,
      "Create the secret (or fix the ARN in valueFrom; a partial ARN of a name ending in -XXXXXX finds nothing) in the task's region; run pulumi up.",
    );
  }
  if (ACCESS_DENIED.test(message)) {
    return failure(
      "secret-access-denied",
      containers,
      `The task execution role may not read ${which}.`,
      store === "SSM"
        ? "Allow ssm:GetParameters on exactly those parameters' ARNs (and kms:Decrypt for SecureString) on the task execution role; run pulumi up."
        : "Allow secretsmanager:GetSecretValue on exactly those secrets' ARNs (and kms:Decrypt for a customer managed key) on the task execution role; run pulumi up.",
    );
  }
  return undefined;
}

/**
 * amazon-ecs-agent agent/api/errormessages/error_messages.go tells the two apart the same way:
 * Docker's "pull access denied ... repository does not exist or may require 'docker login'" ends in
 * "denied: User: ... is not authorized to perform: ecr:BatchGetImage" when the role may not pull,
 * and in "denied: requested access to the resource is denied" when the image is not there; the
 * agent then prefixes "The task can't pull the image. Check that the role has the permissions..."
 * or "... Check whether the image exists.".
 */
const PULL_NOT_PERMITTED =
  /not authorized to perform: ecr:|Check that the role has the permissions|403 Forbidden|401 Unauthorized|no basic auth credentials|authorization token has expired/i;
const PULL_IMAGE_MISSING =
  /Check whether the image exists|requested access to the resource is denied|: not found|manifest unknown|not found: manifest|repository does not exist|RepositoryNotFoundException|ImageNotFoundException|failed to resolve ref/i;

function classifyPull(message: string, containers: string[]): StopDiagnosis {
  if (RATE_LIMITED.test(message)) {
    return failure(
      "registry-rate-limited",
      containers,
      `The registry refused to serve the image of ${list(containers)}: too many requests.`,
      "Pull from ECR (this stack's aura-* repositories or an ECR pull-through cache) instead of Docker Hub.",
    );
  }
  if (
    PULL_NOT_PERMITTED.test(message) ||
    (ACCESS_DENIED.test(message) && !PULL_IMAGE_MISSING.test(message))
  ) {
    return failure(
      "image-pull-denied",
      containers,
      `The registry denied the pull of ${list(containers)}'s image.`,
      "Give the task execution role ecr:GetAuthorizationToken, ecr:BatchGetImage and ecr:GetDownloadUrlForLayer (AmazonECSTaskExecutionRolePolicy); for another account's repository, allow the role in that repository's policy; for a private non-ECR registry, set repositoryCredentials.",
    );
  }
  if (PULL_IMAGE_MISSING.test(message)) {
    return failure(
      "image-not-found",
      containers,
      `The image of ${list(containers)} does not exist in the registry (wrong repository, tag or digest).`,
      "Push the image, or set aura:<container>.image to a reference that exists (aws ecr describe-images --repository-name <repository>); a digest removed by an ECR lifecycle rule must be pushed again; run pulumi up.",
    );
  }
  return failure(
    "unknown",
    containers,
    `The image of ${list(containers)} could not be pulled: ${message}`,
    "Check the image reference (aura:<container>.image), the task execution role's ECR permissions (ecr:GetAuthorizationToken, ecr:BatchGetImage, ecr:GetDownloadUrlForLayer) and the network path to the registry, then run pulumi up.",
  );
}

function classifyStartError(task: Task, message: string, containers: string[]): StopDiagnosis {
  if (PLATFORM_MISMATCH.test(message)) return classifyPlatform(message, containers);
  if (EFS.test(message) && !/CannotPullContainerError/i.test(message)) {
    return classifyEfs(message, containers);
  }
  if (NETWORK_FAILURE.test(message)) {
    const endpoint = endpointOf(message, regionOf(task));
    return failure(
      "network-unreachable",
      containers,
      `The task could not reach ${endpoint.name} from its subnets.`,
      networkFix(endpoint),
    );
  }
  if (LOGGING.test(message)) return classifyLogs(message, containers);
  const readingSecrets =
    FROM_SECRETS_MANAGER.test(message) || FROM_SSM.test(message) || JSON_KEY_MISSING.test(message);
  const secrets = classifySecrets(message, containers);
  if (secrets !== undefined && readingSecrets) return secrets;
  if (!readingSecrets && /CannotPullContainerError|registry auth/i.test(message)) {
    return classifyPull(message, containers);
  }
  return (
    secrets ??
    failure(
      "unknown",
      containers,
      `Fargate could not prepare the task${containers.length > 0 ? ` for ${list(containers)}` : ""}: ${message}`,
      "Read the reason above; AWSSupport-TroubleshootECSTaskFailedToStart (Systems Manager) checks the network path, the execution role and the secrets of a task that failed to start.",
    )
  );
}

/* ------------------------------------------------------------------------------------------ */
/* Causes while the task ran                                                                   */
/* ------------------------------------------------------------------------------------------ */

function classifyDependency(task: Task): StopDiagnosis | undefined {
  const texts = [task.stoppedReason ?? "", ...(task.containers ?? []).map((c) => c.reason ?? "")];
  const timeouts = texts.filter((reason) => DEPENDENCY_TIMEOUT.test(reason));
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
  return failure(
    "dependency-timeout",
    [...waiting, ...dependencies],
    `${list([...waiting])} gave up waiting for ${
      dependencies.length > 0 ? dependencies.join(", ") : "the container it depends on"
    }: the startTimeout ran out before the dependency condition was met.`,
    fix,
  );
}

/** The containers that ended on their own, not from the SIGTERM ECS sends once an essential one exits. */
function firstExited(task: Task): Container[] {
  const exited = containersWhose(task, (c) => c.exitCode !== undefined && c.exitCode !== null);
  const own = exited.filter((c) => c.exitCode !== SIGTERM_EXIT_CODE);
  return own.length > 0 ? own : exited;
}

function outOfMemory(task: Task, killed: readonly Container[], byReason: boolean): StopDiagnosis {
  const names = namesOf(
    byReason ? containersWhose(task, (c) => OUT_OF_MEMORY.test(c.reason ?? "")) : killed,
  );
  return failure(
    "out-of-memory",
    names,
    byReason
      ? `${list(names)} was killed for using more memory than it may (OutOfMemoryError: Container killed due to memory usage).`
      : `${list(names)} was killed with SIGKILL (exit code ${SIGKILL_EXIT_CODE}) while nothing was stopping it: the out-of-memory killer.`,
    "Raise aura:memory (with aura:cpu, to a size Fargate offers), or the container's memory limit if it has one; look in its logs for a leak or an oversized cache.",
  );
}

function classifyExit(task: Task): StopDiagnosis | undefined {
  const byReason =
    containersWhose(task, (c) => OUT_OF_MEMORY.test(c.reason ?? "")).length > 0 ||
    OUT_OF_MEMORY.test(task.stoppedReason ?? "");
  const essentialExit =
    ESSENTIAL_EXITED.test(task.stoppedReason ?? "") || task.stopCode === "EssentialContainerExited";
  if (byReason) return outOfMemory(task, [], true);
  if (!essentialExit) return undefined;
  const exited = firstExited(task);
  const killed = exited.filter((c) => c.exitCode === SIGKILL_EXIT_CODE);
  // A 137 beside a container that failed with its own code is the SIGKILL after stopTimeout.
  const ownFailures = exited.filter((c) => c.exitCode !== SIGKILL_EXIT_CODE);
  if (killed.length > 0 && ownFailures.length === 0) return outOfMemory(task, killed, false);
  const culprits = ownFailures.length > 0 ? ownFailures : exited;
  const names = namesOf(culprits);
  const codes = culprits.map((c) => `${c.name ?? "(unnamed)"} exited ${c.exitCode}`).join(", ");
  const slowToStop =
    ownFailures.length > 0 && killed.length > 0
      ? ` ${list(namesOf(killed))} then ignored SIGTERM and was killed after its stopTimeout (exit ${SIGKILL_EXIT_CODE}).`
      : "";
  return failure(
    "essential-container-exited",
    names,
    culprits.length > 0
      ? `An essential container exited and took the task down: ${codes}.${slowToStop}`
      : "An essential container exited and took the task down (no exit code reported).",
    culprits.length > 0 && culprits.every((c) => c.exitCode === 0)
      ? `${list(names)} finished with exit code 0: an essential container must keep running; fix its command or entrypoint.`
      : `Read ${list(names)}'s last log lines for the error; check its command, environment (HOST/PORT, 127.0.0.1) and secrets; reproduce with npm run local. A crash that should not replace the task is what the container's restartPolicy is for.`,
  );
}

function classifyStopTimeout(task: Task): StopDiagnosis | undefined {
  const stuck = containersWhose(task, (c) => STOP_TIMEOUT.test(c.reason ?? ""));
  if (stuck.length === 0 && !STOP_TIMEOUT.test(task.stoppedReason ?? "")) return undefined;
  const names = namesOf(stuck);
  return failure(
    "stop-timeout-exceeded",
    names,
    `${list(names)} did not stop within its stopTimeout after SIGTERM.`,
    `Make ${list(names)} exit on SIGTERM (run the server as PID 1 or with exec, or set initProcessEnabled), or raise aura:<container>.stopTimeout (Fargate allows at most 120 s).`,
  );
}

function classifyHealth(task: Task): StopDiagnosis | undefined {
  const reason = task.stoppedReason ?? "";
  if (CONTAINER_HEALTH_CHECK.test(reason)) {
    const names = namesOf(containersWhose(task, (c) => c.healthStatus === "UNHEALTHY"));
    const key = names.length === 1 ? `aura:${names[0]}` : "aura:<container>";
    return failure(
      "container-health-check",
      names,
      `ECS stopped the task because ${list(names)} failed its container health check.`,
      `Run ${list(names)}'s health-check command locally (npm run local) and read its logs; if it becomes ready later than the check allows, raise ${key}.startPeriod (up to 300 s), interval or retries; make sure the command's binary exists in the image.`,
    );
  }
  if (ELB_HEALTH_CHECK.test(reason)) {
    const target = ELB_TARGET.exec(reason);
    const what =
      target === null
        ? "health check"
        : target[1].toLowerCase() === "elb"
          ? `classic load balancer ${target[2]}`
          : `target group ${target[2]}`;
    return failure(
      "elb-health-check",
      ["api-gateway"],
      `The load balancer's ${what} found the task unhealthy.`,
      "Check that the health-check path and port answer 200 on api-gateway:8000, that the task's security group allows the load balancer, and that the service's healthCheckGracePeriodSeconds covers the time until the gateway is healthy.",
    );
  }
  return undefined;
}

function routine(cause: StopCause, explanation: string): StopDiagnosis {
  return { cause, failure: false, explanation, containers: [], fix: NOTHING_TO_FIX };
}

function classifyRoutine(task: Task): StopDiagnosis | undefined {
  const reason = task.stoppedReason ?? "";
  const scaling = SCALING.exec(reason);
  if (scaling) {
    // The task's startedBy is the deployment that started it: a stop by another deployment is a
    // replacement (a rollout); by its own, a scale-in.
    const by = scaling[1];
    return task.startedBy !== undefined && task.startedBy !== by
      ? routine("replaced-by-deployment", `Replaced by deployment ${by}: not a failure.`)
      : routine("scaling", `Scaled in by deployment ${by}: not a failure.`);
  }
  if (
    SPOT.test(reason) ||
    task.stopCode === "SpotInterruption" ||
    task.stopCode === "TerminationNotice"
  ) {
    return routine(
      "spot-interruption",
      "Fargate Spot reclaimed the capacity (Spot interruption): not a failure; the service starts a replacement.",
    );
  }
  if (MAINTENANCE.test(reason)) {
    return routine(
      "fargate-maintenance",
      "AWS retired the task for Fargate maintenance: not a failure; the service starts a replacement.",
    );
  }
  if (INSTANCE_GONE.test(reason)) {
    return routine(
      "instance-deregistration",
      "The container instance was stopped, terminated or deregistered: not a failure of the task.",
    );
  }
  if (task.stopCode === "UserInitiated" || STOPPED_BY_USER.test(reason)) {
    return routine(
      "stopped-by-user",
      "Stopped by a user or an API call (StopTask): not a failure.",
    );
  }
  return undefined;
}

/**
 * Names the cause of one stopped task. The order matters: a task that never started also has its
 * containers' reasons set, an out-of-memory kill also reads "Essential container in task exited",
 * and a routine stop (a rollout, Spot) leaves containers with exit codes that look like failures.
 */
export function classifyStoppedTask(task: Task): StopDiagnosis {
  const start = findStartError(task);
  if (start) return classifyStartError(task, start.message, start.containers);
  const diagnosis =
    classifyDependency(task) ??
    classifyRoutine(task) ??
    classifyExit(task) ??
    classifyStopTimeout(task) ??
    classifyHealth(task);
  if (diagnosis) return diagnosis;
  const reasons = [
    task.stoppedReason ?? "(no stopped reason)",
    ...(task.containers ?? [])
      .filter((c) => (c.reason ?? "") !== "")
      .map((c) => `${c.name ?? "(unnamed)"}: ${c.reason}`),
  ];
  return failure(
    "unknown",
    [],
    `ECS gave a reason this tool does not know: ${reasons.join("; ")}.`,
    "Read the stopped reason and the containers' reasons, and the ECS guide's \"Stopped tasks error codes\".",
  );
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
