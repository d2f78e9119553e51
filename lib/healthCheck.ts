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
 * The interval of every default policy: ECS's minimum. It decides how fast a ready container is
 * seen HEALTHY (at the next probe, at most one interval later), and every dependent waits for
 * that: the apps start only when the databases are HEALTHY. Tolerance does not come from a long
 * interval any more but from the start period (first boot) and from `aura-probe`'s memory
 * (steady state), so the interval can be as short as ECS allows.
 */
export const DEFAULT_INTERVAL = ECS_HEALTH_CHECK_RANGES.interval.min;

/** The settings of the hand fix that ended the original restart loop: the floor for our defaults. */
export const HAND_FIX = {
  databases: { interval: 30, timeout: 15, retries: 5, startPeriod: 180 },
  app: { interval: 30, timeout: 15, retries: 3, startPeriod: 90 },
} as const;

/** Which floor applies to a container: the databases' or the apps'. */
export type ContainerKind = keyof typeof HAND_FIX;

/** The script baked into the databases image; it checks each database the image was built with. */
export const DATABASES_HEALTH_CHECK_SCRIPT = "/usr/local/bin/aura-db-healthcheck";

/**
 * The probe with memory baked into every image (containers/databases/rootfs/usr/local/bin/
 * aura-probe, copied unchanged into each app's context). It wraps the real check: after the check
 * has passed once, it answers "healthy, degraded for N s" to failures until they have lasted
 * `--window` seconds, then passes them on; before the first pass it passes every failure on at
 * once (the start period covers a slow boot). It kills a check that runs longer than `--timeout`.
 */
export const PROBE_WITH_MEMORY = "/usr/local/bin/aura-probe";

/**
 * Seconds the probe's own `--timeout` must leave inside ECS's `timeout`: enough to start Python,
 * kill the check's process group and write its state on a busy task. A check killed
 * by ECS instead would count as a failure whatever the window says.
 */
export const PROBE_TIMEOUT_MARGIN = 2;

/** What `aura-probe` adds to a health check: its degraded window and its own check timeout. */
export interface ProbeMemory {
  /** Seconds of failures, after a pass, that are still answered healthy (degraded). */
  readonly window: number;
  /** Seconds after which the wrapped check is killed and counted as failed. */
  readonly timeout: number;
  /** The wrapped check, as exec words. */
  readonly check: readonly string[];
}

/** `["CMD", aura-probe, --window, W, --timeout, T, --, ...check]`. */
export function probeWithMemory(
  check: readonly string[],
  memory: Omit<ProbeMemory, "check">,
): string[] {
  return [
    "CMD",
    PROBE_WITH_MEMORY,
    "--window",
    String(memory.window),
    "--timeout",
    String(memory.timeout),
    "--",
    ...check,
  ];
}

/** Whether `program` is aura-probe, by full path or by name on PATH. */
export function isProbeWithMemory(program: string): boolean {
  return program === "aura-probe" || program.endsWith("/aura-probe");
}

/**
 * The probe's settings when `command` runs `aura-probe` (exec form), undefined when it does not;
 * a string naming what is wrong when it runs it with flags it does not take.
 */
export function probeMemoryOf(command: readonly string[]): ProbeMemory | string | undefined {
  const [kind, program, ...args] = command;
  if (kind !== "CMD" || typeof program !== "string" || !isProbeWithMemory(program)) {
    return undefined;
  }
  const flags = new Map<string, string>();
  let i = 0;
  while (i < args.length && args[i] !== "--") {
    const [flag, value] = [args[i], args[i + 1]];
    if (!["--window", "--timeout", "--state"].includes(flag) || value === undefined) {
      return `passes ${JSON.stringify(flag)} to aura-probe, which takes --window, --timeout and --state`;
    }
    flags.set(flag, value);
    i += 2;
  }
  const check = args.slice(i + 1);
  if (i >= args.length || check.length === 0) {
    return `runs aura-probe with no check after "--"`;
  }
  const seconds = (flag: string, min: number) => {
    const value = flags.get(flag);
    return value !== undefined && /^\d+$/.test(value) && Number(value) >= min
      ? Number(value)
      : undefined;
  };
  const window = seconds("--window", 0);
  const timeout = seconds("--timeout", 1);
  if (window === undefined || timeout === undefined) {
    return `runs aura-probe without whole-second --window (0 or more) and --timeout (1 or more)`;
  }
  return { window, timeout, check };
}

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

/** What a container must tolerate, in seconds: the hand fix's tolerance in each phase. */
export interface ToleranceFloors {
  /** Earliest UNHEALTHY after the container starts, every probe failing. */
  readonly firstBoot: number;
  /** A HEALTHY container whose check starts failing at once: UNHEALTHY no sooner than this. */
  readonly steadyFailingFast: number;
  /** A HEALTHY container whose check starts hanging: UNHEALTHY no sooner than this. */
  readonly steadyHanging: number;
}

/** The floors for `kind`: what the hand fix tolerated (databases 300/150/225 s, apps 150/90/135 s). */
export function toleranceFloors(kind: ContainerKind): ToleranceFloors {
  const handFix = healthCheckTimeline(HAND_FIX[kind]);
  return {
    firstBoot: handFix.earliestUnhealthy,
    steadyFailingFast: handFix.steadyFailingFast,
    steadyHanging: handFix.steadyHanging,
  };
}

/**
 * The smallest degraded window that, with these ECS numbers, meets both steady-state floors:
 * failing fast the container is UNHEALTHY after window + retries x interval, hanging after
 * window + retries x (interval + probe timeout) (see healthCheckTimeline).
 */
export function degradedWindowFor(
  floors: ToleranceFloors,
  policy: { readonly interval: number; readonly retries: number; readonly probeTimeout: number },
): number {
  const { interval, retries, probeTimeout } = policy;
  return Math.max(
    0,
    floors.steadyFailingFast - retries * interval,
    floors.steadyHanging - retries * (interval + probeTimeout),
  );
}

/** The numbers a default command is sized for. */
export type HealthCheckNumbers = Pick<HealthCheckPolicy, "interval" | "timeout" | "retries">;

/**
 * ECS's timeout and aura-probe's own. Databases: the probe kills the check after 16 s, because
 * the script's own timeouts add up to 14 s (psql 4, redis-cli 4, mongosh 6) and a slow check that
 * would still pass must not be cut short; ECS's timeout is 20 s to keep the probe's margin. Apps:
 * the probe kills the check after 12 s (urllib's own timeout is 10 s), inside the hand fix's 15 s.
 */
export const DEFAULT_TIMEOUTS: Readonly<Record<ContainerKind, { ecs: number; probe: number }>> = {
  databases: { ecs: 20, probe: 16 },
  app: { ecs: 15, probe: 12 },
};

/**
 * `check` wrapped in aura-probe, sized for `numbers`: the probe's timeout is the default one or,
 * under a shorter ECS timeout, that timeout minus the margin; its window is the smallest that
 * meets both steady-state floors of `kind` with these numbers (0 when ECS's retries alone do).
 * A stack that changes the numbers without setting `command` keeps the floors this way.
 */
export function probeCommandFor(
  kind: ContainerKind,
  check: readonly string[],
  numbers: HealthCheckNumbers,
): string[] {
  const probeTimeout = Math.max(
    1,
    Math.min(DEFAULT_TIMEOUTS[kind].probe, numbers.timeout - PROBE_TIMEOUT_MARGIN),
  );
  const window = degradedWindowFor(toleranceFloors(kind), { ...numbers, probeTimeout });
  return probeWithMemory(check, { window, timeout: probeTimeout });
}

/** The databases' default command for `numbers`: their image's script inside aura-probe. */
export function databasesProbeCommand(numbers: HealthCheckNumbers): string[] {
  return probeCommandFor("databases", databasesHealthCheckCommand().slice(1), numbers);
}

/** An app's default command for `numbers`: the urllib probe of its port inside aura-probe. */
export function appProbeCommand(port: number, numbers: HealthCheckNumbers): string[] {
  return probeCommandFor("app", appHealthCheckCommand(port).slice(1), numbers);
}

/**
 * A default policy: ECS's minimum interval, the hand fix's retries, the start period that puts
 * the earliest UNHEALTHY exactly on the first-boot floor ((startPeriod / interval + retries - 1)
 * x interval), and the command sized for those numbers.
 */
function defaultNumbers(kind: ContainerKind): Omit<HealthCheckPolicy, "command"> {
  const interval = DEFAULT_INTERVAL;
  const { retries } = HAND_FIX[kind];
  return {
    interval,
    timeout: DEFAULT_TIMEOUTS[kind].ecs,
    retries,
    startPeriod: toleranceFloors(kind).firstBoot - (retries - 1) * interval,
  };
}

/**
 * Databases: interval 5 s, start period 280 s, retries 5: UNHEALTHY at the earliest 300 s after
 * start, as with the hand fix. Window 125 s: failing fast, UNHEALTHY after 125 + 5 x 5 = 150 s;
 * hanging, after 125 + 5 x (5 + 16) = 230 s.
 */
export function defaultDatabasesHealthCheck(): HealthCheckPolicy {
  const numbers = defaultNumbers("databases");
  return { command: databasesProbeCommand(numbers), ...numbers };
}

/**
 * Apps: interval 5 s, start period 140 s, retries 3: UNHEALTHY at the earliest 150 s after
 * start. Window 84 s: hanging, UNHEALTHY after 84 + 3 x (5 + 12) = 135 s; failing fast, after
 * 84 + 3 x 5 = 99 s.
 */
export function defaultAppHealthCheck(port: number): HealthCheckPolicy {
  const numbers = defaultNumbers("app");
  return { command: appProbeCommand(port, numbers), ...numbers };
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
  // No "timeout < interval" rule: ECS has none, and Docker starts each probe one interval
  // after the previous one ended (moby daemon/health.go: "interval between probe runs (from the
  // end of the first to the start of the second)"), so probes never overlap whatever the timeout.
  problems.push(...validateCommand(policy.command, key));
  if (problems.some((problem) => problem.field === "command")) return problems;
  const memory = probeMemoryOf(policy.command);
  if (typeof memory === "object" && Number.isInteger(policy.timeout)) {
    const limit = policy.timeout - PROBE_TIMEOUT_MARGIN;
    if (limit < 1) {
      problems.push({
        field: "timeout",
        value: policy.timeout,
        message: `${key}.timeout = ${policy.timeout} leaves aura-probe no time for its check: it kills the check ${PROBE_TIMEOUT_MARGIN} s before ECS's timeout, so the timeout must be at least ${PROBE_TIMEOUT_MARGIN + 1} seconds`,
      });
    } else if (memory.timeout > limit) {
      problems.push({
        field: "timeout",
        value: policy.timeout,
        message: `${key}.command runs aura-probe --timeout ${memory.timeout}, which must be at most ${key}.timeout - ${PROBE_TIMEOUT_MARGIN} = ${limit} s: the probe has to kill a hanging check before ECS's timeout does, or ECS counts the hang as a failure whatever the degraded window says`,
      });
    }
  }
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
  const memory = probeMemoryOf(command);
  if (typeof memory === "string") {
    return problem(
      `${memory}: use ["CMD", "${PROBE_WITH_MEMORY}", "--window", "<s>", "--timeout", "<s>", "--", <check>...]`,
    );
  }
  return [];
}

/** What a policy means in time, in seconds from the container's start or from its last pass. */
export interface HealthCheckTimeline {
  /** When the first probe runs (one interval after start). */
  readonly firstProbeAt: number;
  /**
   * The longest a probe runs: aura-probe's own timeout when the command uses it (it kills the
   * check then), else ECS's timeout.
   */
  readonly probeLimit: number;
  /**
   * Detection latency: the longest a process that is ready waits for the probe that sees it
   * HEALTHY, as long as probes fail fast while it starts: the next one is at most one interval
   * away (its own run, well under a second for a passing check, comes on top).
   */
  readonly detectionLatency: number;
  /** The same when the probe running at the moment it became ready hung: plus `probeLimit`. */
  readonly detectionLatencyWorst: number;
  /**
   * First-boot tolerance: the earliest UNHEALTHY after start when every probe fails at once,
   * (k0 + retries - 1) x interval with k0 = max(1, ceil(startPeriod / interval)). It is also the
   * boot budget: a process ready just before that last probe still turns HEALTHY.
   */
  readonly earliestUnhealthy: number;
  /** The degraded window of aura-probe, 0 without it. */
  readonly degradedWindow: number;
  /**
   * Steady state, failing fast: a HEALTHY container whose check starts failing at once is
   * UNHEALTHY no sooner than this after its last pass: window + retries x interval. Without the
   * probe, retries x interval. With it, the first failed probe starts the window at least one
   * interval after the last pass; the probe that starts once the window is over is the first
   * one answered as a failure, and ECS needs `retries` of those.
   */
  readonly steadyFailingFast: number;
  /** Steady state, hanging: window + retries x (interval + probeLimit); every probe runs to its limit. */
  readonly steadyHanging: number;
}

/**
 * The timeline Docker's cadence (which ECS follows) gives `policy`: probes `interval` apart
 * (from the end of one to the start of the next), failures inside `startPeriod` not counted
 * while the container has never been healthy, one success at any time making it HEALTHY. The
 * steady-state figures are lower bounds: every probe's own run time only adds to them.
 */
export function healthCheckTimeline(
  policy: Omit<HealthCheckPolicy, "command"> & { readonly command?: readonly string[] },
): HealthCheckTimeline {
  const { interval, timeout, retries, startPeriod } = policy;
  const memory = policy.command === undefined ? undefined : probeMemoryOf(policy.command);
  const probe = typeof memory === "object" ? memory : undefined;
  const probeLimit = probe?.timeout ?? timeout;
  const degradedWindow = probe?.window ?? 0;
  const firstCountedProbe = Math.max(1, Math.ceil(startPeriod / interval));
  return {
    firstProbeAt: interval,
    probeLimit,
    detectionLatency: interval,
    detectionLatencyWorst: interval + probeLimit,
    earliestUnhealthy: (firstCountedProbe + retries - 1) * interval,
    degradedWindow,
    steadyFailingFast: degradedWindow + retries * interval,
    steadyHanging: degradedWindow + retries * (interval + probeLimit),
  };
}
