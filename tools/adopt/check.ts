/**
 * `--check`: asks AWS which hand-made twins exist and whether the first `pulumi up` after the
 * import would replace any of them (a replaced repository loses its images, a replaced service
 * is deleted and created again). Read-only: Describe* calls only.
 */
import {
  DescribeImagesCommand,
  DescribeRepositoriesCommand,
  ECRClient,
  Repository,
} from "@aws-sdk/client-ecr";
import { DescribeClustersCommand, DescribeServicesCommand, ECSClient } from "@aws-sdk/client-ecs";
import { CloudWatchLogsClient, DescribeLogGroupsCommand } from "@aws-sdk/client-cloudwatch-logs";
import { IMAGES_KEPT } from "../../components/auraContainer";
import { Twin } from "./plan";

export interface AwsClients {
  readonly ecr: ECRClient;
  readonly ecs: ECSClient;
  readonly logs: CloudWatchLogsClient;
}

/** What AWS says about one twin. */
export interface Finding {
  readonly twin: Twin;
  readonly exists: boolean;
  /** Why the first `pulumi up` would delete and re-create it; empty: updated in place. */
  readonly replacements: string[];
  /** What else to know before that `up` (images a lifecycle rule would expire). */
  readonly notes: string[];
}

/** The permissions `--check` needs, for the access-denied message. */
export const CHECK_PERMISSIONS = [
  "ecr:DescribeRepositories",
  "ecr:DescribeImages",
  "logs:DescribeLogGroups",
  "ecs:DescribeClusters",
  "ecs:DescribeServices",
];

/** A failure the user can fix (credentials, permissions): one line, no stack trace. */
export class CheckError extends Error {}

const REJECTED_CREDENTIALS = new Set([
  "ExpiredToken",
  "ExpiredTokenException",
  "InvalidClientTokenId",
  "UnrecognizedClientException",
  "InvalidSignatureException",
]);

function explain(error: unknown): never {
  const name = error instanceof Error ? error.name : "Error";
  const message = error instanceof Error ? error.message : String(error);
  if (name === "CredentialsProviderError") {
    throw new CheckError(
      "No AWS credentials found: set AWS_PROFILE (after `aws configure` or `aws sso login`) or " +
        "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run without --check to write the file from the names alone.",
    );
  }
  if (REJECTED_CREDENTIALS.has(name)) {
    throw new CheckError(
      `AWS rejected the credentials (${name}): refresh them (aws sso login, or new access keys) and run again.`,
    );
  }
  if (name === "AccessDeniedException" || name === "AccessDenied") {
    throw new CheckError(
      `The credentials may not read what --check asks (${name}): allow ${CHECK_PERMISSIONS.join(", ")}. AWS said: ${message}`,
    );
  }
  throw new CheckError(`Could not check: ${name}: ${message}`);
}

async function repositoryFinding(twin: Twin, ecr: ECRClient): Promise<Finding> {
  let repository: Repository | undefined;
  try {
    const found = await ecr.send(
      new DescribeRepositoriesCommand({ repositoryNames: [twin.physicalName] }),
    );
    repository = found.repositories?.[0];
  } catch (error) {
    if ((error as Error).name !== "RepositoryNotFoundException") explain(error);
  }
  if (repository === undefined) return { twin, exists: false, replacements: [], notes: [] };
  const replacements: string[] = [];
  const encryption = repository.encryptionConfiguration?.encryptionType ?? "AES256";
  if (encryption !== "AES256") {
    // ECR cannot change a repository's encryption: the AWS provider marks aws_ecr_repository's
    // encryption_configuration ForceNew (default AES256), so it would replace the repository.
    replacements.push(
      `its encryption is ${encryption}; the program's AES256 would replace the repository and delete its images`,
    );
  }
  let images = 0;
  let nextToken: string | undefined;
  try {
    do {
      const page = await ecr.send(
        new DescribeImagesCommand({ repositoryName: twin.physicalName, nextToken }),
      );
      images += page.imageDetails?.length ?? 0;
      nextToken = page.nextToken;
    } while (nextToken !== undefined);
  } catch (error) {
    explain(error);
  }
  const notes =
    images > IMAGES_KEPT
      ? [
          `holds ${images} images; the program's lifecycle policy keeps the ${IMAGES_KEPT} newest, so ECR expires the ${images - IMAGES_KEPT} oldest within a day of the first pulumi up (copy any you need to go back to another repository first)`,
        ]
      : [];
  return { twin, exists: true, replacements, notes };
}

async function logGroupFinding(twin: Twin, logs: CloudWatchLogsClient): Promise<Finding> {
  try {
    const found = await logs.send(
      new DescribeLogGroupsCommand({ logGroupNamePrefix: twin.physicalName }),
    );
    const exists = (found.logGroups ?? []).some(
      (group) => group.logGroupName === twin.physicalName,
    );
    return { twin, exists, replacements: [], notes: [] };
  } catch (error) {
    if ((error as Error).name === "ResourceNotFoundException") {
      return { twin, exists: false, replacements: [], notes: [] };
    }
    explain(error);
  }
}

async function clusterFinding(twin: Twin, ecs: ECSClient): Promise<Finding> {
  try {
    const found = await ecs.send(new DescribeClustersCommand({ clusters: [twin.physicalName] }));
    const exists = (found.clusters ?? []).some(
      (cluster) => cluster.clusterName === twin.physicalName && cluster.status === "ACTIVE",
    );
    return { twin, exists, replacements: [], notes: [] };
  } catch (error) {
    explain(error);
  }
}

async function serviceFinding(twin: Twin, ecs: ECSClient): Promise<Finding> {
  const [cluster, name] = twin.physicalName.split("/");
  try {
    const found = await ecs.send(new DescribeServicesCommand({ cluster, services: [name] }));
    const service = (found.services ?? []).find(
      (candidate) => candidate.serviceName === name && candidate.status === "ACTIVE",
    );
    if (service === undefined) return { twin, exists: false, replacements: [], notes: [] };
    // What the AWS provider marks ForceNew on aws_ecs_service, against what awsx's
    // FargateService sets (launchType FARGATE, the ECS deployment controller, REPLICA).
    const replacements: string[] = [];
    if (service.launchType !== "FARGATE") {
      replacements.push(
        `its launch type is ${service.launchType ?? "unset (a capacity provider strategy)"}; awsx sets FARGATE, which replaces the service`,
      );
    }
    const controller = service.deploymentController?.type ?? "ECS";
    if (controller !== "ECS") {
      replacements.push(
        `its deployment controller is ${controller}; the program's ECS controller replaces the service`,
      );
    }
    if ((service.schedulingStrategy ?? "REPLICA") !== "REPLICA") {
      replacements.push(
        `its scheduling strategy is ${service.schedulingStrategy}; REPLICA replaces the service`,
      );
    }
    const notes = [
      `runs ${service.taskDefinition ?? "no task definition"} (${service.runningCount ?? 0} of ${service.desiredCount ?? 0} tasks): note it to go back`,
    ];
    return { twin, exists: true, replacements, notes };
  } catch (error) {
    if ((error as Error).name === "ClusterNotFoundException") {
      return { twin, exists: false, replacements: [], notes: [] };
    }
    explain(error);
  }
}

/** Asks AWS about every twin, one after the other (a handful of calls). */
export async function checkTwins(twins: readonly Twin[], clients: AwsClients): Promise<Finding[]> {
  const findings: Finding[] = [];
  for (const twin of twins) {
    switch (twin.kind) {
      case "repository":
        findings.push(await repositoryFinding(twin, clients.ecr));
        break;
      case "logGroup":
        findings.push(await logGroupFinding(twin, clients.logs));
        break;
      case "cluster":
        findings.push(await clusterFinding(twin, clients.ecs));
        break;
      case "service":
        findings.push(await serviceFinding(twin, clients.ecs));
        break;
    }
  }
  return findings;
}
