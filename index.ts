import * as pulumi from "@pulumi/pulumi";
import { Alerts } from "./components/alerts";
import { ApiKeys } from "./components/apiKeys";
import { AuraContainer } from "./components/auraContainer";
import { AuraService } from "./components/auraService";
import { Credentials } from "./components/credentials";
import { parseAuraConfig } from "./lib/config";
import { ContainerName } from "./lib/containers";
import { snapshotPrefix } from "./lib/managedDatabases";
import { describePreflight, preflight, preflightErrors } from "./lib/preflight";
import { deployPlan } from "./lib/rollout";
import { ecsClients } from "./lib/rolloutCheck";
import { serviceGracePeriod } from "./lib/service";
import { resourceNames, taskContainerNames } from "./lib/taskDefinition";

// Every value is checked here, before a single resource is registered.
const config = parseAuraConfig(pulumi.runtime.allConfig(), pulumi.getStack());
const healthCheckGracePeriodSeconds = serviceGracePeriod(config.containers, config.storage);
const timing = preflight(config, { healthCheckGracePeriodSeconds });
const contradiction = preflightErrors(timing);
if (contradiction !== undefined) throw new Error(contradiction);
const plan = deployPlan(config, healthCheckGracePeriodSeconds);
for (const line of [
  ...describePreflight(timing, { healthCheckGracePeriodSeconds }),
  ...plan.lines,
]) {
  if (line.startsWith("warning: ")) pulumi.log.warn(`preflight ${line}`);
  else pulumi.log.info(`preflight ${line}`);
}
// The aws provider's profile, if the stack names one: the rollout check reads with the same identity.
const awsProfile = new pulumi.Config("aws").get("profile");
const names = resourceNames(config.stack, config.repositoryPrefix);
const tags = { project: "aura", stack: config.stack };

const credentials = new Credentials("aura-credentials", {
  secretName: names.secret,
  tags,
});

// With managed storage the task has no `databases` container: no image, no repository.
const taskContainers = taskContainerNames(config.storage);
const apiKeyStore = new ApiKeys("aura-api-keys", {
  secretName: `aura-${config.stack}-api-keys`,
  tags,
});
const containerSecrets = pulumi
  .all([credentials.containerSecrets, apiKeyStore.containerSecret])
  .apply(([databaseSecrets, apiKeysSecret]) => ({
    ...databaseSecrets,
    "api-gateway": [...(databaseSecrets["api-gateway"] ?? []), apiKeysSecret],
  }));

const containers = Object.fromEntries(
  taskContainers.map((name) => [
    name,
    new AuraContainer(name, `aura-${name}`, {
      settings: config.containers[name],
      platform: config.platform,
      repositoryName: names.repositories[name],
      logGroup: names.logGroup,
      region: config.region,
      secrets: containerSecrets.apply((secrets) => [...(secrets[name] ?? [])]),
      storage: config.storage,
      taskCpu: config.cpu,
      tags,
    }),
  ]),
) as Partial<Record<ContainerName, AuraContainer>>;

const service = new AuraService("aura", {
  stack: config.stack,
  names,
  containerDefinitions: pulumi.all(taskContainers.map((name) => containers[name]!.definition)),
  platform: config.platform,
  cpu: config.cpu,
  memory: config.memory,
  logRetentionDays: config.logRetentionDays,
  healthCheckGracePeriodSeconds,
  repositoryArns: taskContainers.flatMap((name) => containers[name]!.repository?.arn ?? []),
  secretArns: [credentials.secret.arn, apiKeyStore.secret.arn],
  network: config.network,
  storage: config.storage,
  desiredCount: config.desiredCount,
  managedDatabases:
    config.storage === "managed"
      ? {
          settings: config.managedDatabases,
          passwords: {
            postgres: credentials.passwords.POSTGRES_PASSWORD,
            redis: credentials.passwords.REDIS_PASSWORD,
            mongodb: credentials.passwords.MONGO_PASSWORD,
          },
          snapshotPrefix: snapshotPrefix(config.stack),
        }
      : undefined,
  enableExecuteCommand: config.enableExecuteCommand,
  prerequisites: [credentials.secretVersion],
  rolloutCheck: {
    stack: config.stack,
    budgetSeconds: plan.budget.seconds,
    threshold: plan.threshold,
    createEcs: () => ecsClients.create(config.region, awsProfile),
  },
  https: config.https,
  tags,
});

new Alerts("aura-alerts", {
  stack: config.stack,
  clusterName: service.cluster.name,
  clusterArn: service.cluster.arn,
  serviceName: service.serviceName,
  email: config.alertEmail,
  tags,
});

export const url = service.url;
export const clusterName = service.cluster.name;
export const serviceName = service.serviceName;
export const logGroupName = service.logGroup.name;
/** Exported so that the engine waits for the rollout check, and fails the update with it. */
export const rollout = service.rollout;
/** Where the gateway's API keys live (read one with the aws CLI, see the README). */
export const apiKeysSecretName = apiKeyStore.secret.name;
/** The API keys themselves: `pulumi stack output apiKeys --show-secrets`. */
export const apiKeys = apiKeyStore.keys;
export const imageRefs = Object.fromEntries(
  taskContainers.map((name) => [name, containers[name]!.imageRef]),
);
