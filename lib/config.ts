/**
 * The stack configuration, read once into a typed object. Pure: it takes the flat map of
 * `namespace:key` to string that Pulumi hands the program (`pulumi.runtime.allConfig()`), so
 * the local runner can build the same object from a `Pulumi.<stack>.yaml` file.
 */
import { isEmailAddress } from "./alerts";
import { HttpsConfig, httpsProblems } from "./https";
import { CONTAINER_NAMES, ContainerName, APP_PORTS } from "./containers";
import { validateFargateSize } from "./fargate";
import {
  MANAGED_DEFAULTS,
  ManagedDatabaseSettings,
  desiredCountProblem,
  managedDatabaseProblems,
} from "./managedDatabases";
import { NetworkConfig, networkProblems } from "./network";
import {
  HealthCheckNumbers,
  HealthCheckPolicy,
  appProbeCommand,
  databasesProbeCommand,
  defaultAppHealthCheck,
  defaultDatabasesHealthCheck,
  validateHealthCheck,
} from "./healthCheck";

export type Platform = "linux/amd64" | "linux/arm64";
export const PLATFORMS: readonly Platform[] = ["linux/amd64", "linux/arm64"];

/**
 * The platforms this program can build every image for. The databases image installs MongoDB
 * from MongoDB's Debian repository, which has x86_64 builds only (MongoDB publishes arm64 builds
 * for Ubuntu, Amazon Linux and RHEL, not for Debian), so `linux/arm64` runs only with a prebuilt
 * `aura:databases.image`. No message may recommend a platform outside this list.
 */
export const BUILDABLE_PLATFORMS: readonly Platform[] = ["linux/amd64"];

/** Why `aura:platform = "linux/arm64"` needs a prebuilt databases image, and what to do instead. */
export function arm64NeedsPrebuiltDatabases(): string {
  return (
    'aura:platform = "linux/arm64" needs a prebuilt aura:databases.image: the databases image cannot be built for linux/arm64 ' +
    "because MongoDB publishes no Debian packages for arm64 (its Debian 12 builds are x86_64 only); " +
    'use aura:platform = "linux/amd64", or set aura:databases.image to a linux/arm64 image you built yourself ' +
    "(PostgreSQL 15, Redis 7 and MongoDB 7.0 under supervisord, with this repository's containers/databases/rootfs)"
  );
}

/** Fargate's `runtimePlatform.cpuArchitecture` for each image platform. */
export const CPU_ARCHITECTURES: Readonly<Record<Platform, "X86_64" | "ARM64">> = {
  "linux/amd64": "X86_64",
  "linux/arm64": "ARM64",
};

/**
 * Where the databases keep their files: `efs` survives task replacement (one writer at a time),
 * `ephemeral` is the task's own storage and is lost every time the task is replaced, `managed`
 * runs them on RDS, ElastiCache and DocumentDB instead of in the task (any number of tasks).
 */
export type StorageMode = "efs" | "ephemeral" | "managed";
export const STORAGE_MODES: readonly StorageMode[] = ["efs", "ephemeral", "managed"];

/** Per-container settings from the structured keys `aura:databases`, `aura:api-gateway`, ... */
export interface ContainerConfig {
  /** A prebuilt image reference to run instead of building `containers/<name>`. */
  readonly image?: string;
  readonly healthCheck: HealthCheckPolicy;
  /** Seconds between SIGTERM and SIGKILL (Fargate allows at most 120). */
  readonly stopTimeout: number;
  /** Seconds dependents wait for this container to reach their condition (Fargate 2-120); unset: no limit. */
  readonly startTimeout?: number;
  /** Whether ECS restarts the container in place when it exits (`restartPolicy`). */
  readonly restartPolicy: RestartPolicy;
}

/** ECS's container `restartPolicy`, as the stack sets it. */
export interface RestartPolicy {
  readonly enabled: boolean;
  /** Exit codes that end the container for good (the task then stops if it is essential). */
  readonly ignoredExitCodes: readonly number[];
  /** Seconds the container must have run before an exit is restarted (ECS: 60-1800). */
  readonly restartAttemptPeriod: number;
}

/** ECS's limits for `restartPolicy` (RegisterTaskDefinition `ContainerRestartPolicy`). */
export const RESTART_ATTEMPT_PERIOD_RANGE = { min: 60, max: 1800 } as const;
export const MAX_IGNORED_EXIT_CODES = 50;

/**
 * The default restart policies. The apps restart in place: an app that crashes after it has run
 * for a minute is restarted inside the running task, so the task, and the databases in it, keep
 * running instead of being replaced (their start, HEALTHY and the ALB's admission take about a
 * minute and a half). 60 s is ECS's minimum period and still far above the apps' start of about
 * 2 s: an app that exits sooner than that after (re)starting is broken, is not restarted, and
 * stops the task, which the circuit breaker counts. No exit code is ignored: a server that exits,
 * even with 0, has stopped serving (ECS does not restart containers of a task it is stopping).
 * The databases do not: supervisord (PID 1) already restarts each server in place, so the
 * container exits only when supervisord itself fails or is OOM-killed, which a restart in the
 * same task would not cure and which must stay visible as a stopped task (the alerts see task
 * stops, not in-place restarts).
 */
export const DEFAULT_RESTART_POLICY: Readonly<Record<ContainerName, RestartPolicy>> = {
  databases: { enabled: false, ignoredExitCodes: [], restartAttemptPeriod: 300 },
  "api-gateway": { enabled: true, ignoredExitCodes: [], restartAttemptPeriod: 60 },
  "service-desk-host": { enabled: true, ignoredExitCodes: [], restartAttemptPeriod: 60 },
};

export interface AuraConfig {
  readonly stack: string;
  readonly region: string;
  readonly platform: Platform;
  readonly cpu: number;
  readonly memory: number;
  readonly logRetentionDays: number;
  /** ECR repositories: `<repositoryPrefix>-<container>` in dev, else `<repositoryPrefix>-<stack>-<container>`. */
  readonly repositoryPrefix: string;
  /** Where alerts are emailed; undefined: the SNS topic has no subscription. */
  readonly alertEmail?: string;
  readonly containers: Readonly<Record<ContainerName, ContainerConfig>>;
  readonly storage: StorageMode;
  /** Tasks the service runs; above 1 only with `managed` storage. */
  readonly desiredCount: number;
  /** The managed engines' settings; read (and defaulted) for every stack, used with `managed`. */
  readonly managedDatabases: ManagedDatabaseSettings;
  readonly network: NetworkConfig;
  /** ECS Exec: the service allows it and the task role gets the ssmmessages actions. */
  readonly enableExecuteCommand: boolean;
  /** The ALB's certificate and name; all unset: plain HTTP (a warning says so at every preview). */
  readonly https: HttpsConfig;
}

/**
 * The scalar keys, their defaults and what they allow. `Pulumi.yaml` declares the same keys
 * and defaults (a test keeps the two equal); the program applies them itself so that it does
 * not depend on the CLI having done so.
 */
export const SCALAR_DEFAULTS = {
  platform: "linux/amd64",
  cpu: 1024,
  memory: 3072,
  logRetentionDays: 30,
  repositoryPrefix: "aura",
  alertEmail: "",
  storage: "efs",
  /** Empty: the account's default VPC. */
  vpcId: "",
  assignPublicIp: false,
  enableExecuteCommand: false,
  desiredCount: 1,
  databaseBackupRetentionDays: MANAGED_DEFAULTS.backupRetentionDays,
  databaseDeletionProtection: MANAGED_DEFAULTS.deletionProtection,
  databaseMultiAz: MANAGED_DEFAULTS.multiAz,
  postgresInstanceClass: MANAGED_DEFAULTS.postgresInstanceClass,
  postgresStorageGb: MANAGED_DEFAULTS.postgresStorageGb,
  redisNodeType: MANAGED_DEFAULTS.redisNodeType,
  documentDbInstanceClass: MANAGED_DEFAULTS.documentDbInstanceClass,
  /** Empty: none (HTTPS needs this, or domainName with hostedZoneId). */
  certificateArn: "",
  domainName: "",
  hostedZoneId: "",
} as const;

/** The list keys and their defaults; `Pulumi.yaml` declares them as arrays of strings. */
export const LIST_DEFAULTS: Readonly<Record<"publicSubnetIds" | "privateSubnetIds", []>> = {
  publicSubnetIds: [],
  privateSubnetIds: [],
};

/** The retention periods CloudWatch Logs accepts. */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288,
  3653,
] as const;

/** Keys allowed inside `aura:<container>`. */
export const CONTAINER_KEYS = [
  "image",
  "command",
  "interval",
  "timeout",
  "retries",
  "startPeriod",
  "stopTimeout",
  "startTimeout",
  "restartEnabled",
  "restartIgnoredExitCodes",
  "restartAttemptPeriod",
] as const;

/** The default stop timeouts: the databases get Fargate's maximum to flush and shut down cleanly. */
export const DEFAULT_STOP_TIMEOUT: Readonly<Record<ContainerName, number>> = {
  databases: 120,
  "api-gateway": 30,
  "service-desk-host": 30,
};

/** Thrown with every problem found, one per line, before anything is registered. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid stack configuration:\n  - ${problems.join("\n  - ")}`);
    this.name = "ConfigError";
  }
}

const NAMESPACE = "aura";
const KNOWN_KEYS = new Set<string>([
  ...Object.keys(SCALAR_DEFAULTS),
  ...Object.keys(LIST_DEFAULTS),
  ...CONTAINER_NAMES,
]);

/** A name[:tag][@digest] reference such as `123.dkr.ecr.us-east-2.amazonaws.com/aura-databases@sha256:...`. */
const IMAGE_REFERENCE =
  /^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/;

export function isImageReference(value: string): boolean {
  return value.length <= 255 && IMAGE_REFERENCE.test(value) && !value.endsWith(":latest");
}

export function defaultHealthCheck(name: ContainerName): HealthCheckPolicy {
  return name === "databases"
    ? defaultDatabasesHealthCheck()
    : defaultAppHealthCheck(APP_PORTS[name]);
}

/**
 * The command a container gets when the stack sets none: its check inside aura-probe, sized for
 * the stack's numbers so that changing interval, timeout or retries keeps the hand fix's
 * steady-state tolerance (lib/healthCheck.ts probeCommandFor).
 */
export function defaultHealthCheckCommand(
  name: ContainerName,
  numbers: HealthCheckNumbers,
): string[] {
  return name === "databases"
    ? databasesProbeCommand(numbers)
    : appProbeCommand(APP_PORTS[name], numbers);
}

/**
 * Reads and validates the stack's configuration. Throws a ConfigError listing every problem;
 * each names the key, the value given and what is allowed.
 */
export function parseAuraConfig(raw: Readonly<Record<string, string>>, stack: string): AuraConfig {
  const problems: string[] = [];
  const reader = new Reader(raw, problems);

  for (const fullKey of Object.keys(raw)) {
    const [namespace, key] = splitKey(fullKey);
    if (namespace === NAMESPACE && !KNOWN_KEYS.has(key)) {
      problems.push(
        `${fullKey} is not a known setting: known keys are ${[...KNOWN_KEYS].map((k) => `aura:${k}`).join(", ")}`,
      );
    }
  }

  const platform = reader.oneOf("platform", PLATFORMS, SCALAR_DEFAULTS.platform);
  const cpu = reader.integer("cpu", SCALAR_DEFAULTS.cpu);
  const memory = reader.integer("memory", SCALAR_DEFAULTS.memory);
  if (cpu !== undefined && memory !== undefined) problems.push(...validateFargateSize(cpu, memory));
  const logRetentionDays = reader.oneOf(
    "logRetentionDays",
    LOG_RETENTION_DAYS,
    SCALAR_DEFAULTS.logRetentionDays,
  );
  const repositoryPrefix = reader.string("repositoryPrefix", SCALAR_DEFAULTS.repositoryPrefix);
  if (!/^[a-z0-9]+(?:[._-][a-z0-9]+)*$/.test(repositoryPrefix)) {
    problems.push(
      `aura:repositoryPrefix = ${JSON.stringify(repositoryPrefix)} is not a valid ECR repository name prefix: use lowercase letters, digits and single . _ - between them`,
    );
  }

  const alertEmail = reader.string("alertEmail", SCALAR_DEFAULTS.alertEmail).trim();
  if (alertEmail !== "" && !isEmailAddress(alertEmail)) {
    problems.push(
      `aura:alertEmail = ${JSON.stringify(alertEmail)} is not an email address: expected name@example.com, or leave it empty for no subscription`,
    );
  }

  const storage = reader.oneOf("storage", STORAGE_MODES, SCALAR_DEFAULTS.storage);
  const enableExecuteCommand = reader.boolean(
    "enableExecuteCommand",
    SCALAR_DEFAULTS.enableExecuteCommand,
  );
  const vpcId = reader.string("vpcId", SCALAR_DEFAULTS.vpcId).trim();
  const publicSubnetIds = reader.stringList("publicSubnetIds", "subnet IDs");
  const privateSubnetIds = reader.stringList("privateSubnetIds", "subnet IDs");
  const assignPublicIp = reader.boolean("assignPublicIp", SCALAR_DEFAULTS.assignPublicIp);
  const network: NetworkConfig = {
    vpcId: vpcId === "" ? undefined : vpcId,
    publicSubnetIds: publicSubnetIds ?? [],
    privateSubnetIds: privateSubnetIds ?? [],
    assignPublicIp: assignPublicIp ?? false,
  };
  // How the keys combine is only worth judging once each one could be read.
  if (publicSubnetIds && privateSubnetIds && assignPublicIp !== undefined) {
    problems.push(...networkProblems(network));
  }

  const desiredCount = reader.integer("desiredCount", SCALAR_DEFAULTS.desiredCount);
  if (desiredCount !== undefined && storage !== undefined) {
    const problem = desiredCountProblem(desiredCount, storage);
    if (problem !== undefined) problems.push(problem);
  }
  const managedDatabases = readManagedDatabases(reader, problems);
  if (storage === "managed" && publicSubnetIds && privateSubnetIds) {
    const taskSubnets = privateSubnetIds.length > 0 ? privateSubnetIds : publicSubnetIds;
    if (vpcId !== "" && taskSubnets.length < 2) {
      const key = privateSubnetIds.length > 0 ? "privateSubnetIds" : "publicSubnetIds";
      problems.push(
        `aura:${key} = ${JSON.stringify(taskSubnets)} lists ${taskSubnets.length} task subnet(s): aura:storage managed puts the databases' subnet groups in the task subnets, and RDS, ElastiCache and DocumentDB need at least 2, in different availability zones`,
      );
    }
  }
  const optional = (key: "certificateArn" | "domainName" | "hostedZoneId") => {
    const value = reader.string(key, SCALAR_DEFAULTS[key]).trim();
    return value === "" ? undefined : value;
  };
  const https: HttpsConfig = {
    certificateArn: optional("certificateArn"),
    domainName: optional("domainName"),
    hostedZoneId: optional("hostedZoneId"),
  };
  problems.push(...httpsProblems(https, raw["aws:region"]));

  const containers = Object.fromEntries(
    CONTAINER_NAMES.map((name) => [name, readContainer(reader, name, problems)]),
  ) as Record<ContainerName, ContainerConfig>;

  // With managed storage no databases image is built or run: the apps build for arm64 too.
  if (
    platform === "linux/arm64" &&
    storage !== "managed" &&
    containers.databases.image === undefined
  ) {
    problems.push(arm64NeedsPrebuiltDatabases());
  }

  const region = raw["aws:region"];
  if (region === undefined || region === "") {
    problems.push("aws:region is not set: set it with `pulumi config set aws:region us-east-2`");
  }

  if (problems.length > 0) throw new ConfigError(problems);
  return {
    stack,
    region,
    platform: platform as Platform,
    cpu: cpu!,
    memory: memory!,
    logRetentionDays: logRetentionDays as number,
    repositoryPrefix,
    alertEmail: alertEmail === "" ? undefined : alertEmail,
    containers,
    storage: storage as StorageMode,
    desiredCount: desiredCount!,
    managedDatabases: managedDatabases!,
    network,
    enableExecuteCommand: enableExecuteCommand!,
    https,
  };
}

/** The `managed` engines' keys; undefined when one of them could not be read. */
function readManagedDatabases(
  reader: Reader,
  problems: string[],
): ManagedDatabaseSettings | undefined {
  const settings = {
    backupRetentionDays: reader.integer(
      "databaseBackupRetentionDays",
      SCALAR_DEFAULTS.databaseBackupRetentionDays,
    ),
    deletionProtection: reader.boolean(
      "databaseDeletionProtection",
      SCALAR_DEFAULTS.databaseDeletionProtection,
    ),
    multiAz: reader.boolean("databaseMultiAz", SCALAR_DEFAULTS.databaseMultiAz),
    postgresInstanceClass: reader
      .string("postgresInstanceClass", SCALAR_DEFAULTS.postgresInstanceClass)
      .trim(),
    postgresStorageGb: reader.integer("postgresStorageGb", SCALAR_DEFAULTS.postgresStorageGb),
    redisNodeType: reader.string("redisNodeType", SCALAR_DEFAULTS.redisNodeType).trim(),
    documentDbInstanceClass: reader
      .string("documentDbInstanceClass", SCALAR_DEFAULTS.documentDbInstanceClass)
      .trim(),
  };
  if (Object.values(settings).some((value) => value === undefined)) return undefined;
  const complete = settings as ManagedDatabaseSettings;
  problems.push(...managedDatabaseProblems(complete));
  return complete;
}

function readContainer(reader: Reader, name: ContainerName, problems: string[]): ContainerConfig {
  const key = `aura:${name}`;
  const settings = reader.object(name);
  for (const field of Object.keys(settings)) {
    if (!(CONTAINER_KEYS as readonly string[]).includes(field)) {
      problems.push(
        `${key}.${field} is not a known setting: allowed keys are ${CONTAINER_KEYS.join(", ")}`,
      );
    }
  }
  const defaults = defaultHealthCheck(name);
  const number = (field: (typeof CONTAINER_KEYS)[number], fallback: number | undefined) => {
    const value = settings[field];
    if (value === undefined) return fallback;
    if (typeof value !== "number" || !Number.isInteger(value)) {
      problems.push(`${key}.${field} = ${JSON.stringify(value)} must be a whole number of seconds`);
      return fallback;
    }
    return value;
  };

  const numbers = {
    interval: number("interval", defaults.interval)!,
    timeout: number("timeout", defaults.timeout)!,
    retries: number("retries", defaults.retries)!,
    startPeriod: number("startPeriod", defaults.startPeriod)!,
  };
  let command = defaultHealthCheckCommand(name, numbers);
  if (settings.command !== undefined) {
    const given = settings.command;
    if (!Array.isArray(given) || given.some((part) => typeof part !== "string")) {
      problems.push(
        `${key}.command = ${JSON.stringify(given)} must be a list of strings starting with "CMD" or "CMD-SHELL"`,
      );
    } else {
      command = given as string[];
    }
  }
  const healthCheck: HealthCheckPolicy = { command, ...numbers };
  problems.push(...validateHealthCheck(healthCheck, key).map((problem) => problem.message));

  const stopTimeout = number("stopTimeout", DEFAULT_STOP_TIMEOUT[name])!;
  if (stopTimeout < 2 || stopTimeout > 120) {
    problems.push(
      `${key}.stopTimeout = ${stopTimeout} is out of range: Fargate allows 2-120 seconds`,
    );
  }
  const startTimeout = number("startTimeout", undefined);
  if (startTimeout !== undefined && (startTimeout < 2 || startTimeout > 120)) {
    problems.push(
      `${key}.startTimeout = ${startTimeout} is out of range: Fargate allows 2-120 seconds`,
    );
  }

  let image: string | undefined;
  if (settings.image !== undefined) {
    if (typeof settings.image !== "string" || !isImageReference(settings.image)) {
      problems.push(
        `${key}.image = ${JSON.stringify(settings.image)} is not an image reference: expected registry/repository:tag or registry/repository@sha256:<64 hex>, never :latest`,
      );
    } else {
      image = settings.image;
    }
  }
  return {
    image,
    healthCheck,
    stopTimeout,
    startTimeout,
    restartPolicy: readRestartPolicy(settings, name, problems),
  };
}

/** `restartEnabled`, `restartIgnoredExitCodes` and `restartAttemptPeriod` of `aura:<name>`. */
function readRestartPolicy(
  settings: Record<string, unknown>,
  name: ContainerName,
  problems: string[],
): RestartPolicy {
  const key = `aura:${name}`;
  const defaults = DEFAULT_RESTART_POLICY[name];
  let enabled = defaults.enabled;
  if (settings.restartEnabled !== undefined) {
    if (typeof settings.restartEnabled !== "boolean") {
      problems.push(
        `${key}.restartEnabled = ${JSON.stringify(settings.restartEnabled)} is not allowed: choose true or false`,
      );
    } else {
      enabled = settings.restartEnabled;
    }
  }
  let restartAttemptPeriod = defaults.restartAttemptPeriod;
  const period = settings.restartAttemptPeriod;
  if (period !== undefined) {
    const { min, max } = RESTART_ATTEMPT_PERIOD_RANGE;
    if (typeof period !== "number" || !Number.isInteger(period) || period < min || period > max) {
      problems.push(
        `${key}.restartAttemptPeriod = ${JSON.stringify(period)} is out of range: ECS allows ${min}-${max} seconds (whole numbers)`,
      );
    } else {
      restartAttemptPeriod = period;
    }
  }
  let ignoredExitCodes = defaults.ignoredExitCodes;
  const codes = settings.restartIgnoredExitCodes;
  if (codes !== undefined) {
    if (
      !Array.isArray(codes) ||
      codes.some(
        (code) => typeof code !== "number" || !Number.isInteger(code) || code < 0 || code > 255,
      )
    ) {
      problems.push(
        `${key}.restartIgnoredExitCodes = ${JSON.stringify(codes)} must be a list of exit codes, whole numbers 0-255`,
      );
    } else if (codes.length > MAX_IGNORED_EXIT_CODES) {
      problems.push(
        `${key}.restartIgnoredExitCodes has ${codes.length} exit codes: ECS allows at most ${MAX_IGNORED_EXIT_CODES}`,
      );
    } else {
      ignoredExitCodes = codes as number[];
    }
  }
  return { enabled, ignoredExitCodes, restartAttemptPeriod };
}

function splitKey(fullKey: string): [string, string] {
  const at = fullKey.indexOf(":");
  return at < 0 ? ["", fullKey] : [fullKey.slice(0, at), fullKey.slice(at + 1)];
}

/** Reads `aura:` keys from the flat map, recording a problem for each bad value. */
class Reader {
  constructor(
    private readonly raw: Readonly<Record<string, string>>,
    private readonly problems: string[],
  ) {}

  private value(key: string): string | undefined {
    return this.raw[`${NAMESPACE}:${key}`];
  }

  string(key: string, fallback: string): string {
    return this.value(key) ?? fallback;
  }

  integer(key: string, fallback: number): number | undefined {
    const text = this.value(key);
    if (text === undefined) return fallback;
    if (!/^-?\d+$/.test(text.trim())) {
      this.problems.push(`${NAMESPACE}:${key} = ${JSON.stringify(text)} must be a whole number`);
      return undefined;
    }
    return Number(text);
  }

  oneOf<T extends string | number>(key: string, allowed: readonly T[], fallback: T): T | undefined {
    const text = this.value(key);
    if (text === undefined) return fallback;
    const match = allowed.find((option) => String(option) === text.trim());
    if (match === undefined) {
      this.problems.push(
        `${NAMESPACE}:${key} = ${JSON.stringify(text)} is not allowed: choose one of ${allowed.join(", ")}`,
      );
    }
    return match;
  }

  boolean(key: string, fallback: boolean): boolean | undefined {
    const text = this.value(key);
    if (text === undefined) return fallback;
    if (text.trim() !== "true" && text.trim() !== "false") {
      this.problems.push(
        `${NAMESPACE}:${key} = ${JSON.stringify(text)} is not allowed: choose true or false`,
      );
      return undefined;
    }
    return text.trim() === "true";
  }

  /** A list of strings: the CLI hands structured stack config to the program as JSON. */
  stringList(key: string, what: string): string[] | undefined {
    const text = this.value(key);
    if (text === undefined || text.trim() === "") return [];
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (!Array.isArray(parsed) || parsed.some((item) => typeof item !== "string")) {
      this.problems.push(
        `${NAMESPACE}:${key} = ${JSON.stringify(text)} must be a list of ${what}, e.g. ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"]`,
      );
      return undefined;
    }
    return parsed as string[];
  }

  object(key: string): Record<string, unknown> {
    const text = this.value(key);
    if (text === undefined || text.trim() === "") return {};
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
      this.problems.push(
        `${NAMESPACE}:${key} = ${JSON.stringify(text)} must be an object with keys ${CONTAINER_KEYS.join(", ")}`,
      );
      return {};
    }
    return parsed as Record<string, unknown>;
  }
}
