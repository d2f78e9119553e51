/**
 * A container health check run the way Docker runs it (and ECS reports it): the first probe one
 * interval after the container starts, each next one an interval after the previous ended, a
 * probe slower than `timeout` counted as failed, failures inside `startPeriod` not counted while
 * the container has never been healthy, and any success making it HEALTHY at once.
 * The state machine is a pure function; the monitor adds the cadence on an injectable clock so
 * tests drive time by hand.
 */
import type { HealthCheckPolicy } from "../lib/healthCheck";

/** ECS's container `healthStatus` values (Docker's "starting" is ECS's UNKNOWN). */
export type HealthStatus = "UNKNOWN" | "HEALTHY" | "UNHEALTHY";

export interface HealthState {
  readonly status: HealthStatus;
  /** Consecutive counted failures; UNHEALTHY when it reaches `retries`. */
  readonly failingStreak: number;
}

export const INITIAL_HEALTH: HealthState = { status: "UNKNOWN", failingStreak: 0 };

/** What one probe returned. Exit 0 is success; anything else (timeout included) is failure. */
export interface ProbeOutcome {
  readonly exitCode: number;
  readonly output: string;
}

/** Docker's exit code for a probe that timed out or could not run at all. */
export const PROBE_ERROR_EXIT_CODE = -1;

/**
 * The next state after a probe that began `probeStartedAfter` ms after the container started.
 * As in Docker (daemon/health.go handleProbeResult), the start period is judged by when the probe
 * began, and only while the container has never been healthy.
 */
export function applyProbe(
  state: HealthState,
  outcome: ProbeOutcome,
  probeStartedAfter: number,
  policy: Pick<HealthCheckPolicy, "retries" | "startPeriod">,
): HealthState {
  if (outcome.exitCode === 0) return { status: "HEALTHY", failingStreak: 0 };
  const inStartPeriod = state.status === "UNKNOWN" && probeStartedAfter < policy.startPeriod * 1000;
  if (inStartPeriod) return state;
  const failingStreak = state.failingStreak + 1;
  return {
    status: failingStreak >= policy.retries ? "UNHEALTHY" : state.status,
    failingStreak,
  };
}

/** Time, so tests can replace it. Milliseconds. */
export interface Clock {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const SYSTEM_CLOCK: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** One probe as it happened, for the live view and the tests. */
export interface ProbeRecord {
  /** ms after the container started. */
  readonly startedAfter: number;
  readonly durationMs: number;
  readonly outcome: ProbeOutcome;
  readonly state: HealthState;
}

export interface HealthMonitorOptions {
  readonly policy: Omit<HealthCheckPolicy, "command">;
  /**
   * Runs the check once; a rejection counts as a failed probe. When `signal` aborts (the probe ran
   * past its timeout) the probe must kill what it started and settle with what it printed so far.
   */
  readonly probe: (signal: AbortSignal) => Promise<ProbeOutcome>;
  readonly clock?: Clock;
  readonly onProbe?: (record: ProbeRecord) => void;
  /** Called on every status change, with the clock time of the change. */
  readonly onChange?: (status: HealthStatus, at: number, record: ProbeRecord) => void;
}

/** Go's time.Duration.String() for whole seconds, as Docker prints the timeout: 5s, 1m0s. */
export function goDuration(seconds: number): string {
  const minutes = Math.floor(seconds / 60);
  return minutes === 0 ? `${seconds}s` : `${minutes}m${seconds % 60}s`;
}

/**
 * Docker's output for a probe killed at its timeout (moby daemon/health.go): "Health check exceeded
 * timeout (5s)" with ": <output>" when the probe had printed something.
 */
export function timeoutOutput(timeoutSeconds: number, printed: string): string {
  const base = `Health check exceeded timeout (${goDuration(timeoutSeconds)})`;
  return printed === "" ? base : `${base}: ${printed}`;
}

export class HealthMonitor {
  private state: HealthState = INITIAL_HEALTH;
  private timer: unknown;
  private stopped = false;
  private containerStartedAt = 0;
  private readonly clock: Clock;

  constructor(private readonly options: HealthMonitorOptions) {
    this.clock = options.clock ?? SYSTEM_CLOCK;
  }

  get status(): HealthStatus {
    return this.state.status;
  }

  /** Begins the cadence; the first probe runs one interval after `containerStartedAt`. */
  start(containerStartedAt = this.clock.now()): void {
    this.containerStartedAt = containerStartedAt;
    const firstAt = containerStartedAt + this.options.policy.interval * 1000;
    this.schedule(Math.max(0, firstAt - this.clock.now()));
  }

  /** No further probes; a probe in flight is ignored when it returns. */
  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(delay: number): void {
    if (this.stopped) return;
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      void this.runProbe();
    }, delay);
  }

  private async runProbe(): Promise<void> {
    const { policy } = this.options;
    const began = this.clock.now();
    const outcome = await this.probeWithTimeout(policy.timeout);
    if (this.stopped) return;
    const ended = this.clock.now();
    const previous = this.state.status;
    this.state = applyProbe(this.state, outcome, began - this.containerStartedAt, policy);
    const record: ProbeRecord = {
      startedAfter: began - this.containerStartedAt,
      durationMs: ended - began,
      outcome,
      state: this.state,
    };
    this.options.onProbe?.(record);
    if (this.state.status !== previous) this.options.onChange?.(this.state.status, ended, record);
    this.schedule(policy.interval * 1000);
  }

  /**
   * As Docker does (moby daemon/health.go): past the timeout the probe is cancelled, and the
   * monitor waits for it to exit before anything else, so dying probes never pile up; the result
   * keeps what it printed.
   */
  private probeWithTimeout(timeoutSeconds: number): Promise<ProbeOutcome> {
    const controller = new AbortController();
    const running = this.options.probe(controller.signal).catch((error: unknown): ProbeOutcome => ({
      exitCode: PROBE_ERROR_EXIT_CODE,
      output: `probe failed: ${String(error)}`,
    }));
    return new Promise<ProbeOutcome>((resolve) => {
      let timedOut = false;
      const handle = this.clock.setTimeout(() => {
        timedOut = true;
        controller.abort();
        void running.then((outcome) =>
          resolve({
            exitCode: PROBE_ERROR_EXIT_CODE,
            output: timeoutOutput(timeoutSeconds, outcome.output),
          }),
        );
      }, timeoutSeconds * 1000);
      void running.then((outcome) => {
        if (timedOut) return;
        this.clock.clearTimeout(handle);
        resolve(outcome);
      });
    });
  }
}
