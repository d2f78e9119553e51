/**
 * The one source of truth for the task's containers: the ECS container definitions the Pulumi
 * program registers and the local runner starts. Pure: images, logs and secrets come in as values.
 */
import {
  APP_PORTS,
  APP_USER,
  AppName,
  CONTAINER_NAMES,
  ContainerName,
  DATA_DIRECTORIES,
  DATABASE_NAME,
  DATABASE_PORTS,
  DATABASE_USER,
  IMAGE_TOOLS,
  TASK_LOCAL_HOST,
  TOOLS_LABEL,
} from "./containers";
import { AuraConfig, ContainerConfig, SCALAR_DEFAULTS, StorageMode } from "./config";
import { appWorkers } from "./fargate";
import { DatabaseEndpoints, EndpointSecurity, endpointEnvironment } from "./managedDatabases";

/**
 * The stack whose repositories keep the names the operators made by hand (`aura-databases`,
 * ...); every other stack puts its name in them, so that two stacks share an account and region
 * without a collision.
 */
export const OPERATORS_STACK = "dev";

/**
 * Every physical name the program gives, derived from the stack: unique per stack in one
 * account and region. The cluster, service, family, log group (and the secret, `secretName`)
 * carry the stack's name; the ECR repositories do so except in `dev` (OPERATORS_STACK).
 */
export interface ResourceNames {
  readonly cluster: string;
  readonly service: string;
  readonly family: string;
  readonly logGroup: string;
  /** The Secrets Manager secret of the databases' passwords. */
  readonly secret: string;
  readonly repositories: Readonly<Record<ContainerName, string>>;
}

export function resourceNames(stack: string, repositoryPrefix = "aura"): ResourceNames {
  const repositoryBase =
    stack === OPERATORS_STACK ? repositoryPrefix : `${repositoryPrefix}-${stack}`;
  return {
    cluster: `aura-${stack}-cluster`,
    service: `aura-${stack}-service`,
    family: `aura-app-${stack}`,
    logGroup: `/ecs/aura-app-${stack}`,
    secret: `aura-${stack}-database-credentials`,
    repositories: {
      databases: `${repositoryBase}-databases`,
      "api-gateway": `${repositoryBase}-api-gateway`,
      "service-desk-host": `${repositoryBase}-service-desk-host`,
    },
  };
}

/** A name/value pair in ECS's shape. */
export interface KeyValuePair {
  readonly name: string;
  readonly value: string;
}

/** A secret in ECS's shape: `valueFrom` is a Secrets Manager ARN (optionally `:json-key::`) or SSM parameter. */
export interface SecretRef {
  readonly name: string;
  readonly valueFrom: string;
}

export type DependencyCondition = "START" | "COMPLETE" | "SUCCESS" | "HEALTHY";

/** A volume of the task mounted into a container, in ECS's shape. */
export interface MountPoint {
  readonly sourceVolume: string;
  readonly containerPath: string;
  readonly readOnly: boolean;
}

/** The subset of ECS's `ContainerDefinition` this product uses, with ECS's field names. */
export interface ContainerDefinition {
  name: string;
  image: string;
  essential: boolean;
  portMappings: { containerPort: number; hostPort: number; protocol: "tcp" }[];
  environment: KeyValuePair[];
  secrets?: SecretRef[];
  healthCheck: {
    command: string[];
    interval: number;
    timeout: number;
    retries: number;
    startPeriod: number;
  };
  dependsOn?: { containerName: string; condition: DependencyCondition }[];
  /** `uid:gid` to run as; unset: the image's own user. */
  user?: string;
  readonlyRootFilesystem: boolean;
  mountPoints: MountPoint[];
  linuxParameters?: { capabilities: { drop: string[] } };
  startTimeout?: number;
  stopTimeout: number;
  /** In-place restarts; `{ enabled: false }` spells out that a container is never restarted. */
  restartPolicy:
    | { enabled: true; ignoredExitCodes: number[]; restartAttemptPeriod: number }
    | { enabled: false };
  logConfiguration: {
    logDriver: "awslogs";
    options: Record<string, string>;
  };
  /** Carries `org.aura.tools`, the executables the image declares, for the policy pack. */
  dockerLabels: Record<string, string>;
}

/** Where the awslogs driver sends each container's output. */
export interface LogTarget {
  readonly group: string;
  readonly region: string;
}

/** The secrets each container receives, by environment variable name. */
export type ContainerSecrets = Partial<Record<ContainerName, readonly SecretRef[]>>;

/** The gateway's API keys, comma-separated (components/apiKeys.ts). */
export const API_KEYS_VARIABLE = "AURA_API_KEYS";

/** The databases' passwords (components/credentials.ts). */
export const DATABASE_SECRET_VARIABLES = [
  "POSTGRES_PASSWORD",
  "REDIS_PASSWORD",
  "MONGO_PASSWORD",
] as const;

/** The environment variables holding secrets; their values only ever arrive through `secrets`. */
export const SECRET_VARIABLES: Readonly<Record<ContainerName, readonly string[]>> = {
  databases: [...DATABASE_SECRET_VARIABLES],
  "api-gateway": [API_KEYS_VARIABLE],
  "service-desk-host": [...DATABASE_SECRET_VARIABLES],
};

const DATABASE_SETTINGS: Record<string, string> = {
  POSTGRES_USER: DATABASE_USER,
  POSTGRES_DB: DATABASE_NAME,
  MONGO_USER: DATABASE_USER,
  MONGO_DB: DATABASE_NAME,
};

/**
 * Databases that are not in the task (`managed`, or the local runner's stand-in for it): where
 * they answer and whether the apps use TLS to reach them.
 */
export interface DatabaseConnection {
  readonly endpoints: DatabaseEndpoints;
  readonly security: EndpointSecurity;
}

/** The apps' uvicorn worker processes (lib/fargate.ts appWorkers, from the task's CPU). */
export const WORKERS_VARIABLE = "WORKERS";

/**
 * Plain (non-secret) environment per container. In-task databases: always 127.0.0.1, never
 * localhost. With `connection` the service desk gets the endpoints instead. The apps' WORKERS
 * follow the task's CPU, `taskCpu` units.
 */
export function containerEnvironment(
  name: ContainerName,
  connection?: DatabaseConnection,
  taskCpu: number = SCALAR_DEFAULTS.cpu,
): KeyValuePair[] {
  const workers = String(appWorkers(taskCpu));
  if (connection !== undefined && name === "service-desk-host") {
    return [
      { name: "HOST", value: "0.0.0.0" },
      { name: "PORT", value: String(APP_PORTS[name]) },
      { name: WORKERS_VARIABLE, value: workers },
      ...endpointEnvironment(connection.endpoints, connection.security),
    ].sort((a, b) => a.name.localeCompare(b.name));
  }
  const variables: Record<string, string> =
    name === "databases"
      ? { ...DATABASE_SETTINGS }
      : name === "api-gateway"
        ? {
            HOST: "0.0.0.0",
            PORT: String(APP_PORTS["api-gateway"]),
            SERVICE_DESK_URL: `http://${TASK_LOCAL_HOST}:${APP_PORTS["service-desk-host"]}`,
            UPSTREAM_TIMEOUT_SECONDS: "10",
            WORKERS: workers,
          }
        : {
            HOST: "0.0.0.0",
            PORT: String(APP_PORTS["service-desk-host"]),
            ...DATABASE_SETTINGS,
            POSTGRES_HOST: TASK_LOCAL_HOST,
            POSTGRES_PORT: String(DATABASE_PORTS.postgres),
            REDIS_HOST: TASK_LOCAL_HOST,
            REDIS_PORT: String(DATABASE_PORTS.redis),
            MONGO_HOST: TASK_LOCAL_HOST,
            MONGO_PORT: String(DATABASE_PORTS.mongodb),
            WORKERS: workers,
          };
  return Object.entries(variables)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, value]) => ({ name: key, value }));
}

/** The databases whose files live in task volumes: the keys of DATA_DIRECTORIES. */
export type DatabaseName = keyof typeof DATA_DIRECTORIES;
export const DATABASE_NAMES = Object.keys(DATA_DIRECTORIES) as DatabaseName[];

/** The task volume that holds a database's files (EFS, or task storage when ephemeral). */
export function dataVolumeName(database: DatabaseName): string {
  return `${database}-data`;
}

/**
 * An app's writable /tmp. Fargate has no tmpfs, so it is a bind volume on the task's ephemeral
 * storage, one per app so that neither can read the other's temporary files.
 */
export function tmpVolumeName(app: AppName): string {
  return `${app}-tmp`;
}

/**
 * Where each container may write. The databases write their data directories (the only
 * volumes that outlive a task, with EFS); the apps, whose root filesystem is read-only, write
 * /tmp alone.
 */
export function containerMountPoints(name: ContainerName): MountPoint[] {
  return name === "databases"
    ? DATABASE_NAMES.map((database) => ({
        sourceVolume: dataVolumeName(database),
        containerPath: DATA_DIRECTORIES[database].path,
        readOnly: false,
      }))
    : [{ sourceVolume: tmpVolumeName(name), containerPath: "/tmp", readOnly: false }];
}

/** The EFS file system and its access points (one per database) backing the data volumes. */
export interface EfsVolumes {
  readonly fileSystemId: string;
  readonly accessPointIds: Readonly<Record<DatabaseName, string>>;
}

/** A task volume in ECS's (and `aws.ecs.TaskDefinition`'s) shape. */
export interface TaskVolume {
  name: string;
  efsVolumeConfiguration?: {
    fileSystemId: string;
    transitEncryption: "ENABLED";
    authorizationConfig: { accessPointId: string; iam: "ENABLED" };
  };
}

/**
 * The task's volumes, matching `containerMountPoints`. With `efs` the data volumes are EFS
 * access points, mounted over TLS with the task role's IAM identity (the access point, not the
 * container, decides the POSIX owner); without it every volume is a bind volume on the task's
 * ephemeral storage and is gone when the task is replaced.
 */
export function taskVolumes(efs?: EfsVolumes, storage: StorageMode = "efs"): TaskVolume[] {
  // Managed databases keep their files on RDS, ElastiCache and DocumentDB: no data volumes.
  const databases = storage === "managed" ? [] : DATABASE_NAMES;
  const data = databases.map((database): TaskVolume => {
    const name = dataVolumeName(database);
    if (efs === undefined) return { name };
    return {
      name,
      efsVolumeConfiguration: {
        fileSystemId: efs.fileSystemId,
        transitEncryption: "ENABLED",
        authorizationConfig: { accessPointId: efs.accessPointIds[database], iam: "ENABLED" },
      },
    };
  });
  const tmp = (Object.keys(APP_PORTS) as AppName[]).map((app) => ({ name: tmpVolumeName(app) }));
  return [...data, ...tmp];
}

/**
 * Who each container runs as. The apps run as APP_USER on a read-only root filesystem with no
 * Linux capabilities: they only serve HTTP on ports above 1024 and write /tmp. The databases
 * container starts as root because supervisord (PID 1) drops to postgres, redis and mongodb per
 * program and the entrypoint fixes the owners of freshly mounted data directories; its root
 * filesystem stays writable because the entrypoint and servers write /run and /tmp. It needs no
 * init process (`initProcessEnabled`): supervisord already reaps children and forwards SIGTERM
 * in order.
 */
export function containerSecurity(
  name: ContainerName,
): Pick<ContainerDefinition, "user" | "readonlyRootFilesystem" | "linuxParameters"> {
  return name === "databases"
    ? { readonlyRootFilesystem: false }
    : {
        user: `${APP_USER.uid}:${APP_USER.gid}`,
        readonlyRootFilesystem: true,
        linuxParameters: { capabilities: { drop: ["ALL"] } },
      };
}

/**
 * The apps wait for the databases to be HEALTHY; the databases wait for nothing. With
 * `managed` storage there is no `databases` container and nothing to wait for: the apps
 * answer `/health` at once and report a missing database per request (503) and in `/ready`.
 */
export function containerDependencies(
  name: ContainerName,
  storage: StorageMode = "efs",
): { containerName: string; condition: DependencyCondition }[] {
  if (storage === "managed") return [];
  return name === "databases" ? [] : [{ containerName: "databases", condition: "HEALTHY" }];
}

/** The containers of the task: with `managed` storage the databases are not among them. */
export function taskContainerNames(storage: StorageMode): ContainerName[] {
  return CONTAINER_NAMES.filter((name) => storage !== "managed" || name !== "databases");
}

/**
 * The definitions with the managed engines' endpoints in the service desk's environment: the
 * endpoints are only known once the engines exist, after the containers were defined.
 */
export function withDatabaseEndpoints(
  definitions: readonly ContainerDefinition[],
  connection: DatabaseConnection,
): ContainerDefinition[] {
  return definitions.map((definition) =>
    definition.name === "service-desk-host"
      ? {
          ...definition,
          // The definition's own WORKERS (sized from the task's CPU) stays.
          environment: [
            ...containerEnvironment("service-desk-host", connection).filter(
              (variable) => variable.name !== WORKERS_VARIABLE,
            ),
            ...definition.environment.filter((variable) => variable.name === WORKERS_VARIABLE),
          ].sort((a, b) => a.name.localeCompare(b.name)),
        }
      : definition,
  );
}

/**
 * Builds the ECS container definition of `name` from the stack's settings, for a task of
 * `taskCpu` units.
 */
export function containerDefinition(
  name: ContainerName,
  settings: ContainerConfig,
  image: string,
  logs: LogTarget,
  secrets: readonly SecretRef[] = [],
  storage: StorageMode = "efs",
  connection?: DatabaseConnection,
  taskCpu: number = SCALAR_DEFAULTS.cpu,
): ContainerDefinition {
  const { command, interval, timeout, retries, startPeriod } = settings.healthCheck;
  const dependsOn = containerDependencies(name, storage);
  const definition: ContainerDefinition = {
    name,
    image,
    essential: true,
    portMappings:
      name === "api-gateway"
        ? [{ containerPort: APP_PORTS[name], hostPort: APP_PORTS[name], protocol: "tcp" }]
        : [],
    environment: containerEnvironment(name, connection, taskCpu),
    healthCheck: { command: [...command], interval, timeout, retries, startPeriod },
    stopTimeout: settings.stopTimeout,
    restartPolicy: containerRestartPolicy(settings),
    ...containerSecurity(name),
    mountPoints: containerMountPoints(name),
    logConfiguration: {
      logDriver: "awslogs",
      options: {
        "awslogs-group": logs.group,
        "awslogs-region": logs.region,
        "awslogs-stream-prefix": name,
      },
    },
    dockerLabels: { [TOOLS_LABEL]: IMAGE_TOOLS[name].join(",") },
  };
  if (secrets.length > 0) definition.secrets = secrets.map((secret) => ({ ...secret }));
  if (dependsOn.length > 0) definition.dependsOn = dependsOn;
  if (settings.startTimeout !== undefined) definition.startTimeout = settings.startTimeout;
  return definition;
}

/**
 * The task's definitions, in dependency order (databases first): all three, or with `managed`
 * storage the two apps, given the engines' endpoints in `connection`.
 */
export function taskContainerDefinitions(
  config: AuraConfig,
  images: Readonly<Partial<Record<ContainerName, string>>>,
  logs: LogTarget,
  secrets: ContainerSecrets = {},
  connection?: DatabaseConnection,
): ContainerDefinition[] {
  return taskContainerNames(config.storage).map((name) =>
    containerDefinition(
      name,
      config.containers[name],
      images[name]!,
      logs,
      secrets[name] ?? [],
      config.storage,
      connection,
      config.cpu,
    ),
  );
}

/** ECS's `restartPolicy` for a container's settings. */
export function containerRestartPolicy(
  settings: Pick<ContainerConfig, "restartPolicy">,
): ContainerDefinition["restartPolicy"] {
  const { enabled, ignoredExitCodes, restartAttemptPeriod } = settings.restartPolicy;
  return enabled
    ? { enabled: true, ignoredExitCodes: [...ignoredExitCodes], restartAttemptPeriod }
    : { enabled: false };
}
