/**
 * Health-check policy: the numbers ECS accepts, the defaults this product ships, and the
 * timeline a policy implies. Plain functions, shared by the components, the preflight, the
 * policy pack and the local runner.
 */

/** A container health check in the shape of ECS's `HealthCheck` (seconds). */
export interface HealthCheckPolicy {
  /** `["CMD", ...]` (exec, no shell) or `["CMD-SHELL", "<one shell line>"]`. */
  readonly command: readonly string[];
  readonly interval: number;
  readonly timeout: number;
  readonly retries: number;
  readonly startPeriod: number;
}

export type HealthCheckNumber = "interval" | "timeout" | "retries" | "startPeriod";

/** ECS's documented ranges (RegisterTaskDefinition `HealthCheck`), inclusive, in seconds or counts. */
export const ECS_HEALTH_CHECK_RANGES: Readonly<
  Record<HealthCheckNumber, { min: number; max: number }>
> = {
  interval: { min: 5, max: 300 },
  timeout: { min: 2, max: 60 },
  retries: { min: 1, max: 10 },
  startPeriod: { min: 0, max: 300 },
};

/** What ECS uses when a field is left out (startPeriod: off). */
export const ECS_HEALTH_CHECK_DEFAULTS = { interval: 30, timeout: 5, retries: 3, startPeriod: 0 };

/**
 * The interval of every default policy. It sets how fast a ready container is seen as HEALTHY
 * (at most one interval plus the probe), and every dependent waits for that. 16 s is the
 * smallest interval that keeps the hand fix's 15 s probe timeout strictly below it, so a slow
 * probe can never overlap the next one; ECS's default of 30 s nearly doubles the wait.
 */
export const DEFAULT_INTERVAL = 16;

/** The probe timeout of every default policy: the hand fix's 15 s, which proved enough under load. */
export const DEFAULT_TIMEOUT = 15;

/** The settings of the hand fix that ended the original restart loop: the floor for our defaults. */
export const HAND_FIX = {
  databases: { interval: 30, timeout: 15, retries: 5, startPeriod: 180 },
  app: { interval: 30, timeout: 15, retries: 3, startPeriod: 90 },
} as const;

/** The script baked into the databases image; it checks each database the image was built with. */
export const DATABASES_HEALTH_CHECK_SCRIPT = "/usr/local/bin/aura-db-healthcheck";

/** Runs the databases image's own check: PostgreSQL, Redis and MongoDB each answer a real query. */
export function databasesHealthCheckCommand(): string[] {
  return ["CMD", DATABASES_HEALTH_CHECK_SCRIPT];
}

/**
 * An HTTP liveness probe with Python's standard library only: the slim app images have
 * `python3` but no curl or wget, which is what made the original checks fail forever.
 * Always `127.0.0.1`: `localhost` may resolve to `::1`, where uvicorn does not listen.
 */
export function appHealthCheckCommand(port: number, path = "/health"): string[] {
  return [
    "CMD",
    "python3",
    "-c",
    `import urllib.request; urllib.request.urlopen('http://127.0.0.1:${port}${path}', timeout=10)`,
  ];
}

/**
 * Databases: three servers boot and initialise in one container. The start period is raised
 * from the hand fix's 180 s to 240 s so that, with the shorter interval, the earliest UNHEALTHY
 * (304 s) still comes later than the hand fix's (300 s): never less tolerant of a slow first boot.
 */
export function defaultDatabasesHealthCheck(): HealthCheckPolicy {
  return {
    command: databasesHealthCheckCommand(),
    interval: DEFAULT_INTERVAL,
    timeout: DEFAULT_TIMEOUT,
    retries: 5,
    startPeriod: 240,
  };
}

/** Apps: same reasoning; 120 s keeps the earliest UNHEALTHY (160 s) above the hand fix's 150 s. */
export function defaultAppHealthCheck(port: number): HealthCheckPolicy {
  return {
    command: appHealthCheckCommand(port),
    interval: DEFAULT_INTERVAL,
    timeout: DEFAULT_TIMEOUT,
    retries: 3,
    startPeriod: 120,
  };
}

/** One rule a policy breaks, with the field it is about. */
export interface HealthCheckProblem {
  readonly field: HealthCheckNumber | "command";
  readonly value: unknown;
  readonly message: string;
}

/**
 * Every way `policy` breaks what ECS accepts or what this product requires. `key` prefixes each
 * message (e.g. `aura:databases`) so the user sees the config key to change.
 */
export function validateHealthCheck(policy: HealthCheckPolicy, key: string): HealthCheckProblem[] {
  const problems: HealthCheckProblem[] = [];
  for (const field of Object.keys(ECS_HEALTH_CHECK_RANGES) as HealthCheckNumber[]) {
    const value = policy[field];
    const { min, max } = ECS_HEALTH_CHECK_RANGES[field];
    const unit = field === "retries" ? "" : " seconds";
    if (!Number.isInteger(value) || value < min || value > max) {
      problems.push({
        field,
        value,
        message: `${key}.${field} = ${JSON.stringify(value)} is out of range: ECS allows ${min}-${max}${unit} (whole numbers)`,
      });
    }
  }
  if (
    Number.isInteger(policy.timeout) &&
    Number.isInteger(policy.interval) &&
    policy.timeout >= policy.interval
  ) {
    problems.push({
      field: "timeout",
      value: policy.timeout,
      message: `${key}.timeout = ${policy.timeout} must be less than ${key}.interval = ${policy.interval}: a probe may not run into the next one`,
    });
  }
  problems.push(...validateCommand(policy.command, key));
  return problems;
}

function validateCommand(command: readonly string[], key: string): HealthCheckProblem[] {
  const shown = JSON.stringify(command);
  const problem = (message: string): HealthCheckProblem[] => [
    { field: "command", value: command, message: `${key}.command = ${shown} ${message}` },
  ];
  if (!Array.isArray(command) || command.some((part) => typeof part !== "string")) {
    return problem("must be a list of strings");
  }
  const [kind, ...rest] = command;
  if (kind !== "CMD" && kind !== "CMD-SHELL") {
    return problem(`must start with "CMD" or "CMD-SHELL"`);
  }
  if (rest.length === 0 || rest[0].trim() === "") {
    return problem(`has nothing to run after "${kind}"`);
  }
  if (kind === "CMD-SHELL" && rest.length !== 1) {
    return problem(`with "CMD-SHELL" takes exactly one shell line`);
  }
  if (/\blocalhost\b/.test(rest.join(" "))) {
    return problem(`uses "localhost": use 127.0.0.1, which is where the task's containers listen`);
  }
  return [];
}

/** What a policy means in time, in seconds from the container's start. */
export interface HealthCheckTimeline {
  /** When the first probe runs (one interval after start). */
  readonly firstProbeAt: number;
  /**
   * The longest wait between the process being ready and the container being HEALTHY:
   * one interval plus one probe at its timeout.
   */
  readonly healthyWithinAfterReady: number;
  /**
   * The earliest UNHEALTHY when every probe fails at once: (k0 + retries - 1) x interval with
   * k0 = max(1, ceil(startPeriod / interval)). It is also the boot budget: a process ready just
   * before that last probe still turns HEALTHY.
   */
  readonly earliestUnhealthy: number;
  /** How long a container that was HEALTHY keeps that status after it stops answering. */
  readonly unhealthyAfterHang: number;
}

/**
 * The timeline Docker's cadence (which ECS follows) gives `policy`: probes `interval` apart,
 * failures inside `startPeriod` not counted, one success at any time making it HEALTHY.
 */
export function healthCheckTimeline(
  policy: Omit<HealthCheckPolicy, "command">,
): HealthCheckTimeline {
  const { interval, timeout, retries, startPeriod } = policy;
  const firstCountedProbe = Math.max(1, Math.ceil(startPeriod / interval));
  const earliestUnhealthy = (firstCountedProbe + retries - 1) * interval;
  return {
    firstProbeAt: interval,
    healthyWithinAfterReady: interval + timeout,
    earliestUnhealthy,
    unhealthyAfterHang: retries * (interval + timeout),
  };
}
