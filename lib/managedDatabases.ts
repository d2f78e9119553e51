/**
 * `aura:storage: managed`: the three databases as AWS-run engines (RDS for PostgreSQL,
 * ElastiCache for Redis, DocumentDB for MongoDB) instead of the task's `databases` container.
 * Pure: the settings, their defaults and rules, and what the apps are told about the
 * endpoints. The component (components/managedDatabases.ts), the task definition and the local
 * runner all read them from here.
 */
import { DATABASE_NAME, DATABASE_PORTS, DATABASE_USER } from "./containers";
import type { KeyValuePair } from "./taskDefinition";

/** The stack settings of the managed engines (scalar keys `aura:database*`, ...). */
export interface ManagedDatabaseSettings {
  /** Days RDS and DocumentDB keep automated backups and ElastiCache its daily snapshots (1-35). */
  readonly backupRetentionDays: number;
  /** Refuse to delete the RDS instance and the DocumentDB cluster (also `pulumi destroy`). */
  readonly deletionProtection: boolean;
  /** A standby in a second zone for each engine (RDS Multi-AZ, a Redis replica, a second DocumentDB instance). */
  readonly multiAz: boolean;
  readonly postgresInstanceClass: string;
  /** gp3 storage of the RDS instance, GiB (RDS allows 20-65536 for PostgreSQL on gp3). */
  readonly postgresStorageGb: number;
  readonly redisNodeType: string;
  readonly documentDbInstanceClass: string;
}

/** The defaults: the smallest size of each engine that has everything this product needs. */
export const MANAGED_DEFAULTS: ManagedDatabaseSettings = {
  backupRetentionDays: 7,
  deletionProtection: true,
  multiAz: false,
  postgresInstanceClass: "db.t4g.micro",
  postgresStorageGb: 20,
  redisNodeType: "cache.t4g.micro",
  documentDbInstanceClass: "db.t4g.medium",
};

/** Engine versions. PostgreSQL "15": RDS picks its current 15.x and applies minor upgrades. */
export const ENGINES = {
  postgres: { engine: "postgres", version: "15", parameterFamily: "postgres15" },
  redis: { engine: "redis", version: "7.1", parameterGroup: "default.redis7" },
  documentDb: { engine: "docdb", version: "5.0.0", parameterFamily: "docdb5.0" },
} as const;

/**
 * DocumentDB's master user name may hold letters and digits only (CreateDBCluster's
 * MasterUsername: "1 to 63 letters or numbers, the first a letter"), so it cannot be the
 * `aura_user` of the in-task MongoDB. Master users live in `admin`, the auth source.
 */
export const DOCUMENTDB_USER = "aurauser";
export const DOCUMENTDB_AUTH_SOURCE = "admin";
/** Every DocumentDB cluster is the replica set `rs0`; it does not support retryable writes. */
export const DOCUMENTDB_REPLICA_SET = "rs0";

/**
 * Where the apps find the RDS CA bundle (`global-bundle.pem`), which the service-desk-host
 * image fetches at build time with its checksum pinned (containers/service-desk-host/Dockerfile).
 * It holds the roots of RDS, and DocumentDB uses the same; ElastiCache's certificates are
 * from Amazon's public CA, which the image's system store (ca-certificates) already trusts.
 */
export const RDS_CA_BUNDLE_PATH = "/etc/aura/tls/global-bundle.pem";
export const SYSTEM_CA_BUNDLE_PATH = "/etc/ssl/certs/ca-certificates.crt";

/** Where an engine answers. */
export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

export interface DatabaseEndpoints {
  readonly postgres: Endpoint;
  readonly redis: Endpoint;
  readonly mongodb: Endpoint;
}

/**
 * How the apps reach the databases. `managed`: TLS with full verification against the CA
 * bundles, DocumentDB's user and replica set. `plain`: the databases image on an endpoint
 * without TLS (the local runner's stand-in for the managed engines).
 */
export type EndpointSecurity = "managed" | "plain";

/**
 * The service desk's connection environment for endpoint-style databases (no `databases`
 * container in the task). Credentials are never here: they stay `secrets`.
 */
export function endpointEnvironment(
  endpoints: DatabaseEndpoints,
  security: EndpointSecurity = "managed",
): KeyValuePair[] {
  const tls = security === "managed";
  const variables: Record<string, string> = {
    POSTGRES_HOST: endpoints.postgres.host,
    POSTGRES_PORT: String(endpoints.postgres.port),
    POSTGRES_USER: DATABASE_USER,
    POSTGRES_DB: DATABASE_NAME,
    POSTGRES_SSLMODE: tls ? "verify-full" : "disable",
    REDIS_HOST: endpoints.redis.host,
    REDIS_PORT: String(endpoints.redis.port),
    REDIS_TLS: String(tls),
    MONGO_HOST: endpoints.mongodb.host,
    MONGO_PORT: String(endpoints.mongodb.port),
    MONGO_DB: DATABASE_NAME,
    MONGO_TLS: String(tls),
  };
  if (tls) {
    Object.assign(variables, {
      POSTGRES_SSLROOTCERT: RDS_CA_BUNDLE_PATH,
      REDIS_TLS_CA_FILE: SYSTEM_CA_BUNDLE_PATH,
      MONGO_TLS_CA_FILE: RDS_CA_BUNDLE_PATH,
      MONGO_USER: DOCUMENTDB_USER,
      MONGO_AUTH_SOURCE: DOCUMENTDB_AUTH_SOURCE,
      MONGO_REPLICA_SET: DOCUMENTDB_REPLICA_SET,
      MONGO_RETRY_WRITES: "false",
    });
  } else {
    variables.MONGO_USER = DATABASE_USER;
  }
  return Object.entries(variables)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, value]) => ({ name, value }));
}

/** The ports of the managed engines: the same as the in-task ones. */
export const MANAGED_PORTS = {
  postgres: DATABASE_PORTS.postgres,
  redis: DATABASE_PORTS.redis,
  mongodb: DATABASE_PORTS.mongodb,
} as const;

const INSTANCE_CLASS = /^db\.[a-z0-9]+\.[a-z0-9]+$/;
const NODE_TYPE = /^cache\.[a-z0-9]+\.[a-z0-9]+$/;

/** Every problem with the settings, each naming the key, the value and what is allowed. */
export function managedDatabaseProblems(settings: ManagedDatabaseSettings): string[] {
  const problems: string[] = [];
  const { backupRetentionDays, postgresStorageGb } = settings;
  if (backupRetentionDays < 1 || backupRetentionDays > 35) {
    problems.push(
      `aura:databaseBackupRetentionDays = ${backupRetentionDays} is out of range: RDS, DocumentDB and ElastiCache keep backups 1-35 days (DocumentDB allows no 0)`,
    );
  }
  if (postgresStorageGb < 20 || postgresStorageGb > 65536) {
    problems.push(
      `aura:postgresStorageGb = ${postgresStorageGb} is out of range: RDS for PostgreSQL on gp3 allows 20-65536 GiB`,
    );
  }
  for (const [key, value, pattern, example] of [
    ["postgresInstanceClass", settings.postgresInstanceClass, INSTANCE_CLASS, "db.t4g.micro"],
    ["documentDbInstanceClass", settings.documentDbInstanceClass, INSTANCE_CLASS, "db.t4g.medium"],
    ["redisNodeType", settings.redisNodeType, NODE_TYPE, "cache.t4g.micro"],
  ] as const) {
    if (!pattern.test(value)) {
      problems.push(
        `aura:${key} = ${JSON.stringify(value)} is not an instance class: expected the form ${example}`,
      );
    }
  }
  if (
    settings.documentDbInstanceClass.startsWith("db.t") &&
    !/^db\.t[34]g?\.medium$/.test(settings.documentDbInstanceClass)
  ) {
    problems.push(
      `aura:documentDbInstanceClass = ${JSON.stringify(settings.documentDbInstanceClass)} is not offered by DocumentDB: its burstable classes are db.t3.medium and db.t4g.medium`,
    );
  }
  return problems;
}

/** The number of tasks a storage mode allows, as a problem, or undefined when it is fine. */
export function desiredCountProblem(desiredCount: number, storage: string): string | undefined {
  if (desiredCount < 1) {
    return `aura:desiredCount = ${desiredCount} is out of range: the service runs at least 1 task`;
  }
  if (desiredCount > 1 && storage !== "managed") {
    return `aura:desiredCount = ${desiredCount} is not allowed with aura:storage ${storage}: the databases run inside the task and their files have one writer, so the service runs exactly 1 task; set aura:storage to managed to run more`;
  }
  return undefined;
}

/**
 * The prefix of the engines' final snapshot names, from the stack: RDS, ElastiCache and
 * DocumentDB allow letters, digits and single hyphens, starting with a letter.
 */
export function snapshotPrefix(stack: string): string {
  const cleaned = stack
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "");
  return `aura-${cleaned === "" ? "stack" : cleaned}`.slice(0, 40).replace(/-+$/, "");
}
