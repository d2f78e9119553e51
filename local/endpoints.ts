/**
 * `aura:storage managed` on the local engine: the databases image stands in for RDS,
 * ElastiCache and DocumentDB as a separate "endpoint" that outlives the app tasks, and the
 * apps get host/port configuration exactly as the managed task definition gives it (no
 * `databases` container in their task, no `dependsOn`), TLS aside: the stand-in has none.
 */
import type { AuraConfig } from "../lib/config";
import { DATABASE_PORTS, TASK_LOCAL_HOST } from "../lib/containers";
import {
  ContainerDefinition,
  DatabaseConnection,
  containerDefinition,
  resourceNames,
} from "../lib/taskDefinition";
import { localSecretRefs } from "./secrets";
import { LocalStorage, stackStorage } from "./volumes";

/**
 * Where the stand-in answers: the host's loopback (every local container shares the host's
 * network), on the engines' own ports. Plain: the databases image serves no TLS.
 */
export function standInConnection(host: string = TASK_LOCAL_HOST): DatabaseConnection {
  return {
    endpoints: {
      postgres: { host, port: DATABASE_PORTS.postgres },
      redis: { host, port: DATABASE_PORTS.redis },
      mongodb: { host, port: DATABASE_PORTS.mongodb },
    },
    security: "plain",
  };
}

/** The stand-in's one container: the stack's `databases` definition, run as its own task. */
export function standInDefinitions(config: AuraConfig, image: string): ContainerDefinition[] {
  const names = resourceNames(config.stack, config.repositoryPrefix);
  return [
    containerDefinition(
      "databases",
      config.containers.databases,
      image,
      { group: names.logGroup, region: config.region },
      localSecretRefs().databases ?? [],
    ),
  ];
}

/**
 * The stand-in keeps its files in the stack's persistent volumes, as the managed engines keep
 * theirs whatever happens to the app tasks.
 */
export function standInStorage(config: Pick<AuraConfig, "stack">): LocalStorage {
  return stackStorage({ stack: config.stack, storage: "efs" });
}
