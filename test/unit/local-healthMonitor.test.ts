import { strict as assert } from "assert";
import {
  HAND_FIX,
  defaultAppHealthCheck,
  defaultDatabasesHealthCheck,
  healthCheckTimeline,
} from "../../lib/healthCheck";
import {
  Clock,
  HealthMonitor,
  HealthState,
  HealthStatus,
  INITIAL_HEALTH,
  ProbeOutcome,
  ProbeRecord,
  applyProbe,
  goDuration,
  timeoutOutput,
} from "../../local/healthMonitor";

/** A clock whose time moves only when a test says so; timers fire in time order. */
class FakeClock implements Clock {
  private time = 0;
  private nextId = 1;
  private timers = new Map<number, { at: number; callback: () => void }>();

  now(): number {
    return this.time;
  }

  setTimeout(callback: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.timers.set(id, { at: this.time + ms, callback });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  /** Runs every timer due up to `target` ms, letting promise callbacks settle after each. */
  async advanceTo(target: number): Promise<void> {
    for (;;) {
      await flush();
      const due = [...this.timers]
        .filter(([, t]) => t.at <= target)
        .sort((a, b) => a[1].at - b[1].at || a[0] - b[0]);
      if (due.length === 0) break;
      const [id, timer] = due[0];
      this.timers.delete(id);
      this.time = timer.at;
      timer.callback();
    }
    this.time = target;
    await flush();
  }
}

async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

const ok: ProbeOutcome = { exitCode: 0, output: "" };
const fail: ProbeOutcome = { exitCode: 1, output: "no" };

interface Run {
  clock: FakeClock;
  monitor: HealthMonitor;
  probes: ProbeRecord[];
  changes: { status: HealthStatus; at: number }[];
}

/**
 * A monitor whose probe takes `durationMs` of fake time and succeeds once the "process" is ready
 * at `readyAt` ms (never when undefined).
 */
function monitor(
  policy: { interval: number; timeout: number; retries: number; startPeriod: number },
  readyAt: number | undefined,
  durationMs = 0,
): Run {
  const clock = new FakeClock();
  const probes: ProbeRecord[] = [];
  const changes: { status: HealthStatus; at: number }[] = [];
  const probe = () =>
    new Promise<ProbeOutcome>((resolve) => {
      const begun = clock.now();
      clock.setTimeout(
        () => resolve(readyAt !== undefined && begun >= readyAt ? ok : fail),
        durationMs,
      );
    });
  const m = new HealthMonitor({
    policy,
    probe,
    clock,
    onProbe: (record) => probes.push(record),
    onChange: (status, at) => changes.push({ status, at }),
  });
  m.start(0);
  return { clock, monitor: m, probes, changes };
}

describe("local health monitor: applyProbe (Docker's state machine)", () => {
  const policy = { retries: 3, startPeriod: 60 };
  const cases: {
    name: string;
    state: HealthState;
    outcome: ProbeOutcome;
    at: number;
    expected: HealthState;
  }[] = [
    {
      name: "a success inside the start period makes it HEALTHY at once",
      state: INITIAL_HEALTH,
      outcome: ok,
      at: 10_000,
      expected: { status: "HEALTHY", failingStreak: 0 },
    },
    {
      name: "a failure inside the start period is not counted",
      state: INITIAL_HEALTH,
      outcome: fail,
      at: 59_999,
      expected: { status: "UNKNOWN", failingStreak: 0 },
    },
    {
      name: "a probe that begins exactly at the end of the start period counts",
      state: INITIAL_HEALTH,
      outcome: fail,
      at: 60_000,
      expected: { status: "UNKNOWN", failingStreak: 1 },
    },
    {
      name: "the retries-th counted failure makes it UNHEALTHY",
      state: { status: "UNKNOWN", failingStreak: 2 },
      outcome: fail,
      at: 90_000,
      expected: { status: "UNHEALTHY", failingStreak: 3 },
    },
    {
      name: "once HEALTHY, failures count even inside the start period",
      state: { status: "HEALTHY", failingStreak: 0 },
      outcome: fail,
      at: 20_000,
      expected: { status: "HEALTHY", failingStreak: 1 },
    },
    {
      name: "a success resets the streak and recovers an UNHEALTHY container",
      state: { status: "UNHEALTHY", failingStreak: 4 },
      outcome: ok,
      at: 200_000,
      expected: { status: "HEALTHY", failingStreak: 0 },
    },
    {
      name: "a timed-out probe (exit -1) is a failure",
      state: { status: "HEALTHY", failingStreak: 2 },
      outcome: { exitCode: -1, output: "Health check exceeded timeout (5s)" },
      at: 200_000,
      expected: { status: "UNHEALTHY", failingStreak: 3 },
    },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepEqual(applyProbe(c.state, c.outcome, c.at, policy), c.expected));
  }
});

describe("local health monitor: cadence on a fake clock", () => {
  const policies = {
    "default databases": defaultDatabasesHealthCheck(),
    "default app": defaultAppHealthCheck(8000),
    "hand-fix databases": { ...HAND_FIX.databases, command: [] },
    "hand-fix app": { ...HAND_FIX.app, command: [] },
    "short (tests)": { interval: 5, timeout: 2, retries: 1, startPeriod: 0, command: [] },
  };
  const expectedUnhealthy: Record<keyof typeof policies, number> = {
    "default databases": 300_000,
    "default app": 150_000,
    "hand-fix databases": 300_000,
    "hand-fix app": 150_000,
    "short (tests)": 5_000,
  };
  for (const [name, policy] of Object.entries(policies) as [
    keyof typeof policies,
    (typeof policies)["default app"],
  ][]) {
    it(`${name}: an always-failing check turns UNHEALTHY at exactly ${expectedUnhealthy[name] / 1000} s, as healthCheckTimeline says`, async () => {
      const run = monitor(policy, undefined);
      await run.clock.advanceTo(400_000);
      assert.deepEqual(run.changes, [{ status: "UNHEALTHY", at: expectedUnhealthy[name] }]);
      assert.equal(expectedUnhealthy[name], healthCheckTimeline(policy).earliestUnhealthy * 1000);
      run.monitor.stop();
    });
  }

  it("the first probe runs one interval after start; a ready container is HEALTHY at the next probe", async () => {
    const run = monitor({ interval: 16, timeout: 15, retries: 3, startPeriod: 120 }, 20_000);
    await run.clock.advanceTo(40_000);
    assert.deepEqual(
      run.probes.map((p) => p.startedAfter),
      [16_000, 32_000],
    );
    assert.deepEqual(run.changes, [{ status: "HEALTHY", at: 32_000 }]);
    run.monitor.stop();
  });

  it("ECS's default interval of 30 s makes the same container wait until 30 s", async () => {
    const run = monitor({ interval: 30, timeout: 15, retries: 3, startPeriod: 90 }, 20_000);
    await run.clock.advanceTo(40_000);
    assert.deepEqual(run.changes, [{ status: "HEALTHY", at: 30_000 }]);
    run.monitor.stop();
  });

  it("each next probe starts one interval after the previous one ended", async () => {
    const run = monitor(
      { interval: 10, timeout: 5, retries: 10, startPeriod: 0 },
      undefined,
      3_000,
    );
    await run.clock.advanceTo(40_000);
    assert.deepEqual(
      run.probes.map((p) => [p.startedAfter, p.durationMs]),
      [
        [10_000, 3_000],
        [23_000, 3_000],
        [36_000, 3_000],
      ],
    );
    run.monitor.stop();
  });

  it("a probe past its timeout is killed, waited for, and keeps what it printed (Docker's wording)", async () => {
    const clock = new FakeClock();
    const probes: ProbeRecord[] = [];
    const began: number[] = [];
    const aborted: number[] = [];
    const m = new HealthMonitor({
      policy: { interval: 5, timeout: 2, retries: 1, startPeriod: 0 },
      // A hung check: it prints a line, then never exits until killed, and takes 1 s to die.
      probe: (signal) =>
        new Promise<ProbeOutcome>((resolve) => {
          began.push(clock.now());
          signal.addEventListener("abort", () => {
            aborted.push(clock.now());
            clock.setTimeout(
              () => resolve({ exitCode: 137, output: "waiting for postgres" }),
              1_000,
            );
          });
        }),
      clock,
      onProbe: (record) => probes.push(record),
    });
    m.start(0);
    await clock.advanceTo(9_500);
    assert.deepEqual(aborted, [7_000], "killed at its timeout");
    assert.deepEqual(probes, [
      {
        startedAfter: 5_000,
        durationMs: 3_000,
        outcome: {
          exitCode: -1,
          output: "Health check exceeded timeout (2s): waiting for postgres",
        },
        state: { status: "UNHEALTHY", failingStreak: 1 },
      },
    ]);
    // The next probe starts an interval after the killed one has exited, never beside it.
    assert.deepEqual(began, [5_000]);
    await clock.advanceTo(13_000);
    assert.deepEqual(began, [5_000, 13_000]);
    assert.equal(m.status, "UNHEALTHY");
    m.stop();
  });

  it("prints the timeout as Go's Duration does", () => {
    assert.deepEqual([goDuration(5), goDuration(60), goDuration(15)], ["5s", "1m0s", "15s"]);
    assert.equal(timeoutOutput(4, ""), "Health check exceeded timeout (4s)");
  });

  it("a probe that cannot run (exec error) counts as a failure", async () => {
    const clock = new FakeClock();
    const m = new HealthMonitor({
      policy: { interval: 5, timeout: 2, retries: 2, startPeriod: 0 },
      probe: () => Promise.reject(new Error("container is not running")),
      clock,
    });
    m.start(0);
    await clock.advanceTo(10_000);
    assert.equal(m.status, "UNHEALTHY");
    m.stop();
  });

  it("stop() ends the probes", async () => {
    const run = monitor({ interval: 5, timeout: 2, retries: 3, startPeriod: 0 }, 0);
    await run.clock.advanceTo(11_000);
    run.monitor.stop();
    await run.clock.advanceTo(60_000);
    assert.deepEqual(
      run.probes.map((p) => p.startedAfter),
      [5_000, 10_000],
    );
  });
});
