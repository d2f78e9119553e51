/**
 * The stop classifier against the texts ECS really writes. Every row quotes a published message
 * verbatim (only cut where the row says so, to test truncation) and names where it was published.
 * Where ECS wraps a service's own error, and that exact pairing was not published, the row says
 * which part comes from where.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import type { Task, TaskStopCode } from "@aws-sdk/client-ecs";
import {
  ROUTINE_CAUSES,
  STOP_CAUSES,
  StopCause,
  classifyStoppedTask,
} from "../../tools/diagnose/classify";
import { REFERENCE_DIR } from "../awsModel";
import { stoppedTask } from "./diagnose.fixtures";

type Name = "databases" | "api-gateway" | "service-desk-host";

interface Row {
  readonly name: string;
  /** Where the wording was published. */
  readonly source: string;
  /** The wording; it goes into `stoppedReason` and, with `container`, that container's reason. */
  readonly text: string;
  readonly container?: Name;
  readonly stopCode?: TaskStopCode;
  readonly exitCodes?: Partial<Record<Name, number>>;
  readonly expected: {
    readonly cause: StopCause;
    readonly containers: readonly string[];
    /** A part of the explanation or fix that must be there (the endpoint, the key, the zone...). */
    readonly mentions?: readonly string[];
  };
}

const AGENT = "aws/amazon-ecs-agent";
const ERRORS_GO = `${AGENT} agent/dockerclient/dockerapi/errors.go`;
const AUGMENT_TEST = `${AGENT} agent/api/errormessages/error_messages_test.go (the messages the agent writes)`;
const UNABLE_TO_PULL_SECRETS =
  "https://repost.aws/knowledge-center/ecs-unable-to-pull-secrets (AWS knowledge center)";
const STOPPED_TASK_ERRORS =
  "AWS ECS guide, 'Checking stopped tasks for errors' (awsdocs/amazon-ecs-developer-guide doc_source/stopped-task-errors.md)";
const STOPPED_ERROR_CODES =
  "AWS ECS guide, 'Stopped tasks error codes' (https://docs.aws.amazon.com/AmazonECS/latest/userguide/stopped-task-error-codes.html)";

/** The start of a Fargate agent Secrets Manager failure, as published with an AccessDenied (see secret-access-denied). */
const ASM_FETCH =
  "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secret from asm: service call has been retried 1 time(s): failed to fetch secret arn:aws:secretsmanager:ap-northeast-2:205070775242:secret:bitcoin-auto-trader/binance-UMl6GF from secrets manager: ";

const ROWS: readonly Row[] = [
  // ---------------------------------------------------------------------------- image
  {
    name: "an image without a linux/amd64 manifest (Fargate 1.4 wording)",
    source: "https://github.com/aviswerdlow/relay/issues/71 (service event)",
    text: "CannotPullContainerError: pull image manifest has been retried 7 time(s): image Manifest does not contain descriptor matching platform 'linux/amd64'.",
    container: "databases",
    stopCode: "TaskFailedToStart",
    expected: {
      cause: "wrong-platform",
      containers: ["databases"],
      mentions: ["no linux/amd64 variant"],
    },
  },
  {
    name: "the 'failed to find a descriptor' wording",
    source: "https://github.com/aws/containers-roadmap/issues/1120",
    text: "CannotPullContainerError: failed to find a descriptor for platform {linux/amd64}",
    container: "api-gateway",
    stopCode: "TaskFailedToStart",
    expected: {
      cause: "wrong-platform",
      containers: ["api-gateway"],
      mentions: ["no linux/amd64 variant"],
    },
  },
  {
    name: "the descriptor wording that prints Go pointers instead of the platform",
    source: "https://github.com/hashicorp/consul-ecs/issues/64",
    text: "CannotPullContainerError failed to find a descriptor for platform 0xc0004d52c0 0xc0004d5320",
    container: "service-desk-host",
    stopCode: "TaskFailedToStart",
    expected: {
      cause: "wrong-platform",
      containers: ["service-desk-host"],
      mentions: ["has no variant for the platform the task runs on (ECS did not print which)"],
    },
  },
  {
    name: "Docker's 'no matching manifest' on EC2",
    source:
      "public troubleshooting notes quoting the ECS console's Status reason (find: 'no matching manifest for linux/amd64 in the manifest list entries')",
    text: "CannotPullContainerError: no matching manifest for linux/amd64 in the manifest list entries",
    container: "databases",
    expected: { cause: "wrong-platform", containers: ["databases"] },
  },
  {
    name: "a lower-case prefix and a reason cut off mid-platform, as the console truncates it",
    source:
      'the relay#71 wording above, lower-cased as the knowledge center spells it (https://repost.aws/knowledge-center/ecs-fargate-pull-container-error: "cannotpullcontainererror") and cut',
    text: "cannotpullcontainererror: pull image manifest has been retried 7 time(s): image Manifest does not contain descriptor matching platf",
    container: "databases",
    expected: { cause: "wrong-platform", containers: ["databases"] },
  },
  {
    name: "an image that does not exist (the agent's augmented message)",
    source: AUGMENT_TEST,
    text: "CannotPullContainerError: The task can’t pull the image. Check whether the image exists. Error response from daemon: pull access denied for some/nonsense, repository does not exist or may require 'docker login': denied: requested access to the resource is denied",
    container: "api-gateway",
    stopCode: "TaskFailedToStart",
    expected: {
      cause: "image-not-found",
      containers: ["api-gateway"],
      mentions: ["aura:<container>.image"],
    },
  },
  {
    name: "a tag whose manifest is unknown",
    source: "https://docs.mewrite.jp/errors/aws/aws-ecs-cannotpullcontainererror",
    text: "CannotPullContainerError: Error response from daemon: manifest for my-image:latest not found: manifest unknown: manifest unknown",
    container: "databases",
    expected: { cause: "image-not-found", containers: ["databases"] },
  },
  {
    name: "an execution role without ecr:BatchGetImage",
    source: AUGMENT_TEST,
    text: "CannotPullContainerError: The task can’t pull the image. Check that the role has the permissions to pull images from the registry. Error response from daemon: pull access denied for 123123123123.dkr.ecr.us-east-1.amazonaws.com/my_image, repository does not exist or may require 'docker login': denied: User: arn:aws:sts::123123123123:assumed-role/MyBrokenRole/xyz is not authorized to perform: ecr:BatchGetImage on resource: arn:aws:ecr:us-east-1:123123123123:repository/test_image because no identity-based policy allows the ecr:BatchGetImage action",
    container: "service-desk-host",
    stopCode: "TaskFailedToStart",
    expected: {
      cause: "image-pull-denied",
      containers: ["service-desk-host"],
      mentions: ["ecr:BatchGetImage"],
    },
  },
  {
    name: "Docker Hub's anonymous pull rate limit",
    source:
      "a published ECS deployment troubleshooting guide quoting the stopped reason (find: 'CannotPullContainerError: toomanyrequests')",
    text: "CannotPullContainerError: toomanyrequests: You have reached your pull rate limit.",
    container: "databases",
    expected: { cause: "registry-rate-limited", containers: ["databases"], mentions: ["ECR"] },
  },
  // ---------------------------------------------------------------------------- network
  {
    name: "no route to the ECR registry",
    source: "https://devopsaitoolkit.com/blog/aws-error-cannot-pull-container-error-ecs/",
    text: 'CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref "123456789012.dkr.ecr.us-east-1.amazonaws.com/api:v42": failed to do request: Head "https://123456789012.dkr.ecr.us-east-1.amazonaws.com/v2/api/manifests/v42": dial tcp 10.0.3.17:443: i/o timeout',
    container: "databases",
    stopCode: "TaskFailedToStart",
    expected: {
      cause: "network-unreachable",
      containers: ["databases"],
      mentions: ["Amazon ECR", "aura:assignPublicIp: true", "com.amazonaws.us-east-2.ecr.dkr"],
    },
  },
  {
    name: "no route to Docker Hub (no VPC endpoint can help)",
    source: "https://github.com/ActionIQ/terraform-aws-retool-ecs-fargate/issues/20",
    text: 'CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref docker.io/tryretool/backend:2.110.5: failed to do request: Head "https://registry-1.docker.io/v2/tryretool/backend/manifests/2.110.5": dial tcp 34.205.13.154:443: i/o timeout',
    container: "api-gateway",
    expected: {
      cause: "network-unreachable",
      containers: ["api-gateway"],
      mentions: ["the registry registry-1.docker.io", "VPC endpoints cannot reach"],
    },
  },
  {
    name: "the ECR auth call timing out",
    source: UNABLE_TO_PULL_SECRETS,
    text: 'ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve ecr registry auth: service call has been retried 3 time(s): RequestError: send request failed caused by: Post "https://api.ecr..amazonaws.com/": dial tcp …443: i/o timeout. Please check your task network configuration.',
    stopCode: "TaskFailedToStart",
    expected: {
      cause: "network-unreachable",
      containers: [],
      mentions: ["Amazon ECR", "NAT gateway"],
    },
  },
  {
    name: "the newer 'connection issue between the task and Amazon ECR' wording",
    source: "https://github.com/anomalyco/sst/issues/6019",
    text: "ResourceInitializationError: unable to pull secrets or registry auth: The task cannot pull registry auth from Amazon ECR: There is a connection issue between the task and Amazon ECR. Check your task network configuration. operation error ECR: GetAuthorizationToken, exceeded maximum number of attempts, 3, https response error",
    stopCode: "TaskFailedToStart",
    expected: { cause: "network-unreachable", containers: [], mentions: ["Amazon ECR"] },
  },
  {
    name: "the agent's network hint on a pull",
    source: AUGMENT_TEST,
    text: 'CannotPullContainerError: The task can’t pull the image. Check your network configuration. RequestError: send request failed\ncaused by: Post "https://api.ecr.us-east-1.amazonaws.com/": net/http: request canceled while waiting for connection (Client.Timeout exceeded while awaiting headers)',
    container: "databases",
    expected: { cause: "network-unreachable", containers: ["databases"], mentions: ["Amazon ECR"] },
  },
  {
    name: "CloudWatch Logs unreachable",
    source:
      "a published Fargate troubleshooting write-up quoting the stopped reason (find: 'There is a connection issue between the task and Amazon CloudWatch')",
    text: "ResourceInitializationError: failed to validate logger args: The task cannot find the Amazon CloudWatch log group defined in the task definition. There is a connection issue between the task and Amazon CloudWatch. Check your network configuration. signal: killed",
    stopCode: "TaskFailedToStart",
    expected: {
      cause: "network-unreachable",
      containers: [],
      mentions: ["CloudWatch Logs", "com.amazonaws.us-east-2.logs"],
    },
  },
  {
    name: "the pull of secrets killed by its timeout",
    source: UNABLE_TO_PULL_SECRETS,
    text: "ResourceInitializationError: unable to pull secrets or registry auth: pull command failed: : signal: killed",
    stopCode: "TaskFailedToStart",
    expected: { cause: "network-unreachable", containers: [] },
  },
  // ---------------------------------------------------------------------------- secrets
  {
    name: "an execution role that may not read the secret",
    source:
      "a published Fargate troubleshooting guide quoting the stopped reason (find: 'secret:bitcoin-auto-trader/binance-UMl6GF')",
    text: `${ASM_FETCH}AccessDeniedException: User: arn:aws:sts::205070775242:assumed-role/bitcoin-auto-trader-ecs-execution-role/259ab992ff9d4af08a4fc104adda511d is not authorized to perform: secretsmanager:GetSecretValue`,
    stopCode: "TaskFailedToStart",
    expected: {
      cause: "secret-access-denied",
      containers: [],
      mentions: ["secretsmanager:GetSecretValue", "secret:bitcoin-auto-trader/binance-UMl6GF"],
    },
  },
  {
    name: "SSM parameters the EC2 agent may not read",
    source:
      "public notes quoting an ECS stopped reason (find: 'Fetching secret data from SSM Parameter Store in us-west-2')",
    text: "Fetching secret data from SSM Parameter Store in us-west-2: AccessDeniedException: User",
    expected: { cause: "secret-access-denied", containers: [], mentions: ["ssm:GetParameters"] },
  },
  {
    name: "a secret that does not exist",
    source: `the Fargate agent's wrapper as published above, around Secrets Manager's published ResourceNotFoundException text`,
    text: `${ASM_FETCH}ResourceNotFoundException: Secrets Manager can't find the specified secret.`,
    stopCode: "TaskFailedToStart",
    expected: { cause: "secret-not-found", containers: [] },
  },
  {
    name: "a JSON key the secret does not have",
    source: `${AGENT} agent/asm/asm.go, as published in a stopped reason (find: 'did not contain json key app_definition_id')`,
    text: "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secret from asm: service call has been retried 1 time(s): retrieved secret from Secrets Manager did not contain json key app_definition_id.",
    stopCode: "TaskFailedToStart",
    expected: {
      cause: "secret-json-key-not-found",
      containers: [],
      mentions: ["app_definition_id"],
    },
  },
  {
    name: "a malformed version id in valueFrom",
    source: UNABLE_TO_PULL_SECRETS,
    text: "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secret from asm: service call has been retried 1 time(s): failed to fetch secret arn:aws:secretsmanager:<region>:<accountID>:secret:<secretName> from secrets manager: InvalidParameter: 1 validation error(s) found. – (minimum field size of 32/ maximum field size of 64), GetSecretValueInput.VersionId.",
    stopCode: "TaskFailedToStart",
    expected: { cause: "secret-version-invalid", containers: [], mentions: ["version"] },
  },
  {
    name: "a secret whose KMS key the role may not use",
    source: `the Fargate agent's wrapper as published above, around Secrets Manager's published "Access to KMS is not allowed"`,
    text: `${ASM_FETCH}AccessDeniedException: Access to KMS is not allowed`,
    stopCode: "TaskFailedToStart",
    expected: { cause: "secret-kms-decrypt-failed", containers: [], mentions: ["kms:Decrypt"] },
  },
  // ---------------------------------------------------------------------------- logs
  {
    name: "a missing log group on Fargate",
    source:
      "a published deployment post-mortem quoting the stopped reason (find: 'failed to validate logger args: failed to create CloudWatch log stream')",
    text: "ResourceInitializationError: failed to validate logger args: failed to create CloudWatch log stream: ResourceNotFoundException: The specified log group does not exist.",
    stopCode: "TaskFailedToStart",
    expected: { cause: "log-group-missing", containers: [] },
  },
  {
    name: "a missing log group through CannotStartContainerError and the logging driver",
    source:
      "a published EC2 ECS walkthrough quoting the Status reason (find: 'CannotStartContainerError: Error response from daemon: failed to initialize logging driver')",
    text: "CannotStartContainerError: Error response from daemon: failed to initialize logging driver: failed to create Cloudwatch log stream: ResourceNotFoundException: The specified log group does not exist.",
    container: "api-gateway",
    expected: { cause: "log-group-missing", containers: ["api-gateway"] },
  },
  {
    name: "awslogs options the driver rejects",
    source: "a published runbook quoting the stopped reason (find: 'awslogs-region is required')",
    text: "ResourceInitializationError: failed to validate logger args: unable to get awslogs driver arguments: awslogs-region is required",
    stopCode: "TaskFailedToStart",
    expected: { cause: "logging-driver-failed", containers: [] },
  },
  // ---------------------------------------------------------------------------- EFS
  {
    name: "an EFS file system without a mount target the task can resolve",
    source:
      "a published report of the stopped reason (find: 'Failed to resolve \"fs-0e4a39a0b7bb8b885')",
    text: 'ResourceInitializationError: failed to invoke EFS utils commands to set up EFS volumes: stderr: Failed to resolve "fs-0e4a39a0b7bb8b885.efs.us-east-1.amazonaws.com" - check that your file system ID is correct, and ensure that the VPC has an EFS mount target for this file system ID. See https://docs.aws.amazon.com/console/efs/mount-dns-name for more detail. Attempting to lookup mount target ip address using botocore',
    stopCode: "TaskFailedToStart",
    expected: {
      cause: "efs-mount-target-missing",
      containers: [],
      mentions: ["fs-0e4a39a0b7bb8b885"],
    },
  },
  {
    name: "an EFS mount refused by the server (IAM, access point)",
    source:
      'a published Fargate + EFS write-up quoting the stopped reason (find: "mount.nfs4: access denied by server while mounting 127.0.0.1:/srv/gitlab/data")',
    text: "ResourceInitializationError: failed to invoke EFS utils commands to set up EFS volumes: stderr: b'mount.nfs4: access denied by server while mounting 127.0.0.1:/srv/gitlab/data' Traceback (most recent call last):",
    stopCode: "TaskFailedToStart",
    expected: {
      cause: "efs-access-denied",
      containers: [],
      mentions: ["elasticfilesystem:ClientMount"],
    },
  },
  {
    name: "an EFS mount target behind a security group without 2049",
    source:
      'a published Fargate EFS stack README quoting the stopped reason (find: "mount.nfs4: Connection timed out\' : unsuccessful EFS utils")',
    text: "ResourceInitializationError: failed to invoke EFS utils commands to set up EFS volumes: stderr: b'mount.nfs4: Connection timed out' : unsuccessful EFS utils command execution; code: 32",
    stopCode: "TaskFailedToStart",
    expected: { cause: "efs-unreachable", containers: [], mentions: ["2049"] },
  },
  {
    name: "an EFS mount that failed for a reason cut off by the console",
    source:
      "AWS knowledge center title 'ResourceInitializationError: failed to invoke EFS utils commands to set up EFS volumes' (https://repost.aws/knowledge-center/fargate-unable-to-mount-efs)",
    text: "ResourceInitializationError: failed to invoke EFS utils commands to set up EFS volumes",
    stopCode: "TaskFailedToStart",
    expected: { cause: "efs-mount-failed", containers: [] },
  },
  // ---------------------------------------------------------------------------- running task
  {
    name: "an essential container that exited with code 1",
    source: STOPPED_TASK_ERRORS,
    text: "Essential container in task exited",
    stopCode: "EssentialContainerExited",
    exitCodes: { databases: 143, "api-gateway": 143, "service-desk-host": 1 },
    expected: {
      cause: "essential-container-exited",
      containers: ["service-desk-host"],
      mentions: ["service-desk-host exited 1"],
    },
  },
  {
    name: "an essential exit 137 with nothing else failing: the OOM killer",
    source: STOPPED_TASK_ERRORS,
    text: "Essential container in task exited",
    stopCode: "EssentialContainerExited",
    exitCodes: { databases: 143, "api-gateway": 143, "service-desk-host": 137 },
    expected: {
      cause: "out-of-memory",
      containers: ["service-desk-host"],
      mentions: ["aura:memory"],
    },
  },
  {
    name: "the agent's OutOfMemoryError",
    source: `${ERRORS_GO} (OutOfMemoryError.ErrorName() and Error())`,
    text: "OutOfMemoryError: Container killed due to memory usage",
    container: "databases",
    stopCode: "EssentialContainerExited",
    exitCodes: { databases: 137, "api-gateway": 143, "service-desk-host": 143 },
    expected: { cause: "out-of-memory", containers: ["databases"] },
  },
  {
    name: "a container that did not stop within its stopTimeout",
    source: `${ERRORS_GO} (DockerTimeoutError with Transition "stopped", docker_client.go)`,
    text: "DockerTimeoutError: Could not transition to stopped; timed out after waiting 30s",
    container: "service-desk-host",
    expected: {
      cause: "stop-timeout-exceeded",
      containers: ["service-desk-host"],
      mentions: ["stopTimeout"],
    },
  },
  {
    name: "the classic load balancer's health check",
    source: STOPPED_TASK_ERRORS,
    text: "Task failed ELB health checks in (elb elb-name)",
    stopCode: "ServiceSchedulerInitiated",
    expected: {
      cause: "elb-health-check",
      containers: ["api-gateway"],
      mentions: ["classic load balancer elb-name"],
    },
  },
  {
    name: "an ELB reason cut before the target group's name",
    source: "the sample event's ELB wording (test/reference/aws-ecs-sample-events.json), cut",
    text: "Task failed ELB health checks in (target-gr",
    stopCode: "ServiceSchedulerInitiated",
    expected: { cause: "elb-health-check", containers: ["api-gateway"] },
  },
  {
    name: "a task stopped for Fargate maintenance",
    source:
      "AWS ECS guide, Fargate task maintenance FAQs (docs.aws.amazon.com/AmazonECS/latest/developerguide/task-maintenance.html)",
    text: "ECS is performing maintenance on the underlying infrastructure hosting the task",
    stopCode: "ServiceSchedulerInitiated",
    exitCodes: { databases: 0, "api-gateway": 143, "service-desk-host": 137 },
    expected: { cause: "fargate-maintenance", containers: [] },
  },
  {
    name: "a Fargate Spot interruption",
    source:
      "AWS ECS guide, task state change events (awsdocs/amazon-ecs-developer-guide ecs_cwe_events.md: stopCode TerminationNotice)",
    text: "Your Spot Task was interrupted.",
    stopCode: "TerminationNotice",
    exitCodes: { databases: 137, "api-gateway": 143, "service-desk-host": 143 },
    expected: { cause: "spot-interruption", containers: [] },
  },
  {
    name: "a stopped EC2 container instance",
    source: STOPPED_TASK_ERRORS,
    text: "Host EC2 (instance i-0123456789abcdef0) stopped/terminated",
    stopCode: "ServiceSchedulerInitiated",
    expected: { cause: "instance-deregistration", containers: [] },
  },
  {
    name: "a forced container instance deregistration",
    source: STOPPED_TASK_ERRORS,
    text: "Container instance deregistration forced by user",
    stopCode: "UserInitiated",
    expected: { cause: "instance-deregistration", containers: [] },
  },
  {
    name: "a reason this tool does not know, shown raw",
    source: STOPPED_ERROR_CODES,
    text: "ContainerRuntimeTimeoutError: Could not transition to running; timed out after waiting 1m: <reason>",
    stopCode: "TaskFailedToStart",
    expected: {
      cause: "unknown",
      containers: [],
      mentions: [
        "ContainerRuntimeTimeoutError: Could not transition to running; timed out after waiting 1m: <reason>",
      ],
    },
  },
];

function taskFor(row: Row, index: number): Task {
  const containers: Partial<Record<Name, { exitCode?: number; reason?: string }>> = {};
  for (const [name, exitCode] of Object.entries(row.exitCodes ?? {}) as [Name, number][]) {
    containers[name] = { exitCode };
  }
  if (row.container !== undefined) {
    containers[row.container] = { ...containers[row.container], reason: row.text };
  }
  return stoppedTask(`r${index}`, {
    stopCode: row.stopCode ?? "TaskFailedToStart",
    stoppedReason: row.text,
    containers,
    started: row.exitCodes !== undefined,
  });
}

describe("diagnose: classifyStoppedTask with published ECS wordings", () => {
  ROWS.forEach((row, index) => {
    it(`names ${row.expected.cause} for ${row.name} [${row.source}]`, () => {
      const diagnosis = classifyStoppedTask(taskFor(row, index));
      assert.deepEqual(
        { cause: diagnosis.cause, containers: diagnosis.containers },
        { cause: row.expected.cause, containers: row.expected.containers },
      );
      assert.equal(diagnosis.failure, !ROUTINE_CAUSES.has(row.expected.cause));
      for (const part of row.expected.mentions ?? []) {
        assert.ok(
          `${diagnosis.explanation} ${diagnosis.fix}`.includes(part),
          `expected "${part}" in: ${diagnosis.explanation} / ${diagnosis.fix}`,
        );
      }
    });
  });

  it("says exactly what to do when an ECR pull times out from the subnets", () => {
    const diagnosis = classifyStoppedTask(taskFor(ROWS[9], 9));
    assert.equal(diagnosis.explanation, "The task could not reach Amazon ECR from its subnets.");
    assert.equal(
      diagnosis.fix,
      "Tasks in public subnets (aura:privateSubnetIds empty) need a public IP: set aura:assignPublicIp: true. Tasks in aura:privateSubnetIds need a NAT gateway (route 0.0.0.0/0 to it) or the VPC endpoints com.amazonaws.us-east-2.ecr.api, com.amazonaws.us-east-2.ecr.dkr, com.amazonaws.us-east-2.s3 (gateway, for the layers) with private DNS on; the task's security group must allow outbound 443 to them, and the VPC needs DNS resolution and DNS hostnames enabled.",
    );
  });

  it("reads the container's full reason when stoppedReason is cut", () => {
    const full = ROWS[0].text;
    const task = stoppedTask("cut", {
      stopCode: "TaskFailedToStart",
      stoppedReason: full.slice(0, 40),
      containers: { databases: { reason: full } },
      started: false,
    });
    assert.equal(
      classifyStoppedTask(task).explanation,
      "The image of databases has no linux/amd64 variant, the platform the task runs on.",
    );
  });

  it("ignores case in the prefixes ECS writes", () => {
    const text =
      "Resourceinitializationerror: failed to invoke EFS utils commands to set up EFS volumes: stderr: b'mount.nfs4: Connection timed out' : unsuccessful EFS utils command execution; code: 32";
    const task = stoppedTask("case", {
      stopCode: "TaskFailedToStart",
      stoppedReason: text,
      started: false,
    });
    assert.equal(classifyStoppedTask(task).cause, "efs-unreachable");
  });

  it("names the container UNHEALTHY in the health-check stop, and its stack key in the fix", () => {
    const task = stoppedTask("hc", {
      stopCode: "ServiceSchedulerInitiated",
      stoppedReason: "Task failed container health checks",
      containers: {
        databases: { exitCode: 137, healthStatus: "UNHEALTHY" },
        "api-gateway": { exitCode: 143 },
        "service-desk-host": { exitCode: 143 },
      },
    });
    const diagnosis = classifyStoppedTask(task);
    assert.deepEqual(
      [diagnosis.cause, diagnosis.containers, diagnosis.explanation],
      [
        "container-health-check",
        ["databases"],
        "ECS stopped the task because databases failed its container health check.",
      ],
    );
    assert.match(diagnosis.fix, /raise aura:databases\.startPeriod \(up to 300 s\)/);
  });

  it("names both sides of a startTimeout that ran out (the agent's graph.go wording)", () => {
    const image = (name: string) => `123456789012.dkr.ecr.us-east-2.amazonaws.com/aura-${name}:v1`;
    const reason = (target: string) =>
      `CannotStartContainerError: dependency graph: container ordering dependency [databases(${image("databases")}) (RUNNING->RUNNING)] for target [${target}(${image(target)}) (NONE->RUNNING)] has timed out.`;
    const task = stoppedTask("dt", {
      stopCode: "EssentialContainerExited",
      stoppedReason: "Essential container in task exited",
      containers: {
        databases: { exitCode: 143 },
        "api-gateway": { exitCode: 143, reason: reason("api-gateway") },
        "service-desk-host": { exitCode: 143, reason: reason("service-desk-host") },
      },
    });
    const diagnosis = classifyStoppedTask(task);
    assert.deepEqual(diagnosis.containers, ["api-gateway", "service-desk-host", "databases"]);
    assert.equal(diagnosis.cause, "dependency-timeout");
    assert.match(
      diagnosis.fix,
      /^Raise aura:databases\.startTimeout \(Fargate allows up to 120 s\)/,
    );
  });

  it("calls an app crash beside a SIGKILLed neighbour the crash, and says who was slow to stop", () => {
    const task = stoppedTask("sk", {
      stopCode: "EssentialContainerExited",
      stoppedReason: "Essential container in task exited",
      containers: {
        databases: { exitCode: 137 },
        "api-gateway": { exitCode: 2 },
        "service-desk-host": { exitCode: 143 },
      },
    });
    assert.equal(
      classifyStoppedTask(task).explanation,
      "An essential container exited and took the task down: api-gateway exited 2. databases then ignored SIGTERM and was killed after its stopTimeout (exit 137).",
    );
  });

  it("tells a rollout's replacement from a scale-in by the deployment that started the task", () => {
    const samples = JSON.parse(
      fs.readFileSync(path.join(REFERENCE_DIR, "aws-ecs-sample-events.json"), "utf8"),
    ) as { additional: { taskStateChangeStoppedScaling: { detail: Task } } };
    const scaledIn = samples.additional.taskStateChangeStoppedScaling.detail;
    assert.equal(classifyStoppedTask(scaledIn).cause, "scaling");
    const replaced = stoppedTask("rp", {
      stopCode: "ServiceSchedulerInitiated",
      stoppedReason: scaledIn.stoppedReason!,
      containers: { databases: { exitCode: 0 }, "api-gateway": { exitCode: 143 } },
    });
    const diagnosis = classifyStoppedTask(replaced);
    assert.deepEqual([diagnosis.cause, diagnosis.failure], ["replaced-by-deployment", false]);
    assert.equal(
      diagnosis.explanation,
      "Replaced by deployment ecs-svc/3941167241989127803: not a failure.",
    );
  });

  it("classifies AWS's published sample STOPPED events", () => {
    const samples = JSON.parse(
      fs.readFileSync(path.join(REFERENCE_DIR, "aws-ecs-sample-events.json"), "utf8"),
    ) as {
      taskStateChangeStopped: { detail: Task };
      additional: Record<string, { detail: Task }>;
    };
    assert.equal(
      classifyStoppedTask(samples.taskStateChangeStopped.detail).cause,
      "stopped-by-user",
    );
    const elb = classifyStoppedTask(samples.additional.taskStateChangeStoppedElbHealthCheck.detail);
    assert.equal(elb.cause, "elb-health-check");
    assert.equal(
      elb.explanation,
      "The load balancer's target group arn:aws:elasticloadbalancing:ap-northeast-2:653734769926:targetgroup/sin-web-target-dev/ccb1c7ee670051a0 found the task unhealthy.",
    );
  });

  it("covers every cause it can name", () => {
    const named = new Set<StopCause>(ROWS.map((row) => row.expected.cause));
    for (const cause of [
      "container-health-check",
      "dependency-timeout",
      "scaling",
      "replaced-by-deployment",
      "stopped-by-user",
    ] as const) {
      named.add(cause); // covered by the tests below the table
    }
    assert.deepEqual(
      STOP_CAUSES.filter((cause) => !named.has(cause)),
      [],
    );
  });
});
