/**
 * AWS-shaped ECS objects for the diagnose tests: a `Task` as DescribeTasks returns it for this
 * stack's three containers, with the stop texts ECS really writes.
 */
import type { Container, HealthStatus, Task, TaskStopCode } from "@aws-sdk/client-ecs";

export const ACCOUNT = "123456789012";
export const REGION = "us-east-2";
export const CLUSTER_ARN = `arn:aws:ecs:${REGION}:${ACCOUNT}:cluster/aura-dev-cluster`;
export const SERVICE_ARN = `arn:aws:ecs:${REGION}:${ACCOUNT}:service/aura-dev-cluster/aura-dev-service`;
export const REGISTRY = `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com`;
export const TARGET_GROUP_ARN = `arn:aws:elasticloadbalancing:${REGION}:${ACCOUNT}:targetgroup/aura-dev-tg/6d0ecf831eec9f09`;

const DIGEST = "sha256:48b2652a7a9a104300046dc3be4aba5e3e19a2ead82a593f63846739a7429230";
const CONTAINERS = ["databases", "api-gateway", "service-desk-host"] as const;
type Name = (typeof CONTAINERS)[number];

export function taskArn(id: string): string {
  return `arn:aws:ecs:${REGION}:${ACCOUNT}:task/aura-dev-cluster/${id}`;
}

export function taskDefinitionArn(revision: number): string {
  return `arn:aws:ecs:${REGION}:${ACCOUNT}:task-definition/aura-app-dev:${revision}`;
}

export function image(name: Name): string {
  return `${REGISTRY}/aura-${name}@${DIGEST}`;
}

export interface ContainerState {
  readonly exitCode?: number;
  readonly reason?: string;
  readonly healthStatus?: HealthStatus;
}

export interface StoppedTaskSpec {
  readonly stoppedReason: string;
  readonly stopCode: TaskStopCode;
  readonly containers?: Partial<Record<Name, ContainerState>>;
  readonly stoppedAt?: string;
  readonly revision?: number;
  /** False for tasks that never got a container running (pull and init failures). */
  readonly started?: boolean;
}

/** A stopped Fargate task of `aura-app-dev` as DescribeTasks returns it. */
export function stoppedTask(id: string, spec: StoppedTaskSpec): Task {
  const stoppedAt = new Date(spec.stoppedAt ?? "2026-11-28T23:05:41.512Z");
  const started = spec.started ?? true;
  const containers: Container[] = CONTAINERS.map((name, index) => {
    const state = spec.containers?.[name] ?? {};
    return {
      containerArn: `arn:aws:ecs:${REGION}:${ACCOUNT}:container/aura-dev-cluster/${id}/0c5c${index}d51-9c53-4d56-82d9-04b26f82369e`,
      taskArn: taskArn(id),
      name,
      image: image(name),
      lastStatus: "STOPPED",
      ...(state.exitCode !== undefined ? { exitCode: state.exitCode } : {}),
      ...(state.reason !== undefined ? { reason: state.reason } : {}),
      healthStatus: state.healthStatus ?? "UNKNOWN",
      networkInterfaces: [],
      cpu: "0",
    };
  });
  return {
    taskArn: taskArn(id),
    clusterArn: CLUSTER_ARN,
    taskDefinitionArn: taskDefinitionArn(spec.revision ?? 8),
    group: "service:aura-dev-service",
    launchType: "FARGATE",
    platformVersion: "1.4.0",
    cpu: "1024",
    memory: "3072",
    lastStatus: "STOPPED",
    desiredStatus: "STOPPED",
    healthStatus: "UNKNOWN",
    startedBy: "ecs-svc/2222222222222222222",
    createdAt: new Date(stoppedAt.getTime() - 300_000),
    ...(started ? { startedAt: new Date(stoppedAt.getTime() - 240_000) } : {}),
    stoppingAt: new Date(stoppedAt.getTime() - 20_000),
    stoppedAt,
    stopCode: spec.stopCode,
    stoppedReason: spec.stoppedReason,
    containers,
  };
}

/** Real texts, as ECS and the Fargate agent write them. */
export const TEXTS = {
  platform:
    "CannotPullContainerError: pull image manifest has been retried 5 time(s): image Manifest does not contain descriptor matching platform 'linux/amd64'",
  notFound: `CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref ${REGISTRY}/aura-api-gateway:v42: ${REGISTRY}/aura-api-gateway:v42: not found`,
  forbidden: `CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref ${REGISTRY}/aura-databases@${DIGEST}: pulling from host ${REGISTRY} failed with status code [manifests ${DIGEST}]: 403 Forbidden`,
  pullTimeout: `CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref ${REGISTRY}/aura-databases@${DIGEST}: failed to do request: Head "https://${REGISTRY}/v2/aura-databases/manifests/${DIGEST}": dial tcp 10.0.3.17:443: i/o timeout`,
  secretsDenied: `ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secret from asm: service call has been retried 1 time(s): AccessDeniedException: User: arn:aws:sts::${ACCOUNT}:assumed-role/aura-dev-execution-role/8f3e0a1c is not authorized to perform: secretsmanager:GetSecretValue on resource: arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:aura-dev-postgres-password-AbCdEf because no identity-based policy allows the secretsmanager:GetSecretValue action`,
  secretsTimeout: `ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secrets from ssm: service call has been retried 5 time(s): RequestCanceled: request context canceled caused by: context deadline exceeded`,
  secretMissing: `ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secret from asm: service call has been retried 1 time(s): failed to fetch secret arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:aura-dev-redis-password from secrets manager: ResourceNotFoundException: Secrets Manager can't find the specified secret.`,
  logGroupMissing:
    "ResourceInitializationError: failed to validate logger args: create stream has been retried 1 times: failed to create Cloudwatch log stream: ResourceNotFoundException: The specified log group does not exist. : exit status 1",
  dependencyTimeout: (target: Name) =>
    `CannotStartContainerError: dependency graph: container ordering dependency [databases(${image("databases")}) (RUNNING->RUNNING)] for target [${target}(${image(target)}) (NONE->RUNNING)] has timed out.`,
  outOfMemory: "OutOfMemoryError: Container killed due to memory usage",
  essentialExited: "Essential container in task exited",
  containerHealth: "Task failed container health checks",
  elbHealth: `Task failed ELB health checks in (target-group ${TARGET_GROUP_ARN})`,
  scaling: "Scaling activity initiated by (deployment ecs-svc/1111111111111111111)",
  byUser: "Task stopped by user",
  runtimeTimeout:
    "ContainerRuntimeTimeoutError: Could not transition to running; timed out after waiting 1m: context deadline exceeded",
} as const;
