import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import {
  HAND_FIX,
  HealthCheckPolicy,
  PROBE_WITH_MEMORY,
  appHealthCheckCommand,
  defaultAppHealthCheck,
  defaultDatabasesHealthCheck,
  degradedWindowFor,
  healthCheckTimeline,
  probeMemoryOf,
  probeWithMemory,
  toleranceFloors,
  validateHealthCheck,
} from "../../lib/healthCheck";

const valid: HealthCheckPolicy = {
  command: ["CMD", "python3", "-c", "print(1)"],
  interval: 16,
  timeout: 15,
  retries: 3,
  startPeriod: 120,
};

const messages = (policy: Partial<HealthCheckPolicy>) =>
  validateHealthCheck({ ...valid, ...policy }, "aura:api-gateway").map((p) => p.message);

describe("health-check policy", () => {
  describe("validateHealthCheck", () => {
    it("accepts a policy inside every ECS range", () => {
      assert.deepEqual(messages({}), []);
    });

    const rangeCases: [Partial<HealthCheckPolicy>, string][] = [
      [
        { interval: 4, timeout: 2 },
        "aura:api-gateway.interval = 4 is out of range: ECS allows 5-300 seconds (whole numbers)",
      ],
      [
        { interval: 301 },
        "aura:api-gateway.interval = 301 is out of range: ECS allows 5-300 seconds (whole numbers)",
      ],
      [
        { timeout: 1 },
        "aura:api-gateway.timeout = 1 is out of range: ECS allows 2-60 seconds (whole numbers)",
      ],
      [
        { interval: 90, timeout: 61 },
        "aura:api-gateway.timeout = 61 is out of range: ECS allows 2-60 seconds (whole numbers)",
      ],
      [
        { retries: 0 },
        "aura:api-gateway.retries = 0 is out of range: ECS allows 1-10 (whole numbers)",
      ],
      [
        { retries: 11 },
        "aura:api-gateway.retries = 11 is out of range: ECS allows 1-10 (whole numbers)",
      ],
      [
        { startPeriod: -1 },
        "aura:api-gateway.startPeriod = -1 is out of range: ECS allows 0-300 seconds (whole numbers)",
      ],
      [
        { startPeriod: 400 },
        "aura:api-gateway.startPeriod = 400 is out of range: ECS allows 0-300 seconds (whole numbers)",
      ],
      [
        { interval: 7.5 },
        "aura:api-gateway.interval = 7.5 is out of range: ECS allows 5-300 seconds (whole numbers)",
      ],
    ];
    for (const [policy, message] of rangeCases) {
      it(`rejects ${JSON.stringify(policy)}`, () => {
        assert.deepEqual(messages(policy), [message]);
      });
    }

    it("accepts the range edges", () => {
      assert.deepEqual(messages({ interval: 5, timeout: 2, retries: 1, startPeriod: 0 }), []);
      assert.deepEqual(messages({ interval: 300, timeout: 60, retries: 10, startPeriod: 300 }), []);
    });

    it("accepts a timeout at or above the interval: Docker never overlaps probes, ECS has no such rule", () => {
      assert.deepEqual(messages({ interval: 5, timeout: 15 }), []);
      assert.deepEqual(messages({ interval: 15, timeout: 15 }), []);
    });

    const wrapped = (timeout: string) => [
      "CMD",
      PROBE_WITH_MEMORY,
      "--window",
      "84",
      "--timeout",
      timeout,
      "--",
      "python3",
      "-c",
      "pass",
    ];

    it("accepts aura-probe whose own timeout leaves 2 s inside ECS's", () => {
      assert.deepEqual(messages({ command: wrapped("13"), interval: 5, timeout: 15 }), []);
    });

    it("rejects aura-probe whose own timeout does not leave 2 s inside ECS's", () => {
      assert.deepEqual(messages({ command: wrapped("14"), interval: 5, timeout: 15 }), [
        "aura:api-gateway.command runs aura-probe --timeout 14, which must be at most aura:api-gateway.timeout - 2 = 13 s: the probe has to kill a hanging check before ECS's timeout does, or ECS counts the hang as a failure whatever the degraded window says",
      ]);
    });

    const commandCases: [unknown, string][] = [
      [["curl", "-f", "http://127.0.0.1/"], 'must start with "CMD" or "CMD-SHELL"'],
      [["CMD"], 'has nothing to run after "CMD"'],
      [["CMD-SHELL", "a", "b"], 'with "CMD-SHELL" takes exactly one shell line'],
      [
        ["CMD-SHELL", "curl -f http://localhost:8000/health"],
        'uses "localhost": use 127.0.0.1, which is where the task\'s containers listen',
      ],
      [["CMD", 5], "must be a list of strings"],
      [
        ["CMD", PROBE_WITH_MEMORY, "--window", "84", "--timeout", "12"],
        `runs aura-probe with no check after "--": use ["CMD", "${PROBE_WITH_MEMORY}", "--window", "<s>", "--timeout", "<s>", "--", <check>...]`,
      ],
      [
        ["CMD", PROBE_WITH_MEMORY, "--window", "1.5", "--timeout", "12", "--", "true"],
        `runs aura-probe without whole-second --window (0 or more) and --timeout (1 or more): use ["CMD", "${PROBE_WITH_MEMORY}", "--window", "<s>", "--timeout", "<s>", "--", <check>...]`,
      ],
      [
        ["CMD", PROBE_WITH_MEMORY, "--retries", "3", "--", "true"],
        `passes "--retries" to aura-probe, which takes --window, --timeout and --state: use ["CMD", "${PROBE_WITH_MEMORY}", "--window", "<s>", "--timeout", "<s>", "--", <check>...]`,
      ],
    ];
    for (const [command, ending] of commandCases) {
      it(`rejects the command ${JSON.stringify(command)}`, () => {
        assert.deepEqual(messages({ command: command as string[] }), [
          `aura:api-gateway.command = ${JSON.stringify(command)} ${ending}`,
        ]);
      });
    }
  });

  describe("probeMemoryOf", () => {
    it("reads aura-probe's window, timeout and wrapped check from an exec command", () => {
      assert.deepEqual(
        probeMemoryOf(probeWithMemory(["/bin/check", "-q"], { window: 9, timeout: 3 })),
        {
          window: 9,
          timeout: 3,
          check: ["/bin/check", "-q"],
        },
      );
      assert.deepEqual(
        probeMemoryOf([
          "CMD",
          PROBE_WITH_MEMORY,
          "--timeout",
          "3",
          "--state",
          "/tmp/x",
          "--window",
          "0",
          "--",
          "true",
        ]),
        {
          window: 0,
          timeout: 3,
          check: ["true"],
        },
      );
    });

    it("knows aura-probe by its name on PATH too", () => {
      assert.deepEqual(
        probeMemoryOf(["CMD", "aura-probe", "--window", "1", "--timeout", "2", "--", "true"]),
        {
          window: 1,
          timeout: 2,
          check: ["true"],
        },
      );
    });

    it("is undefined for a command that does not run aura-probe", () => {
      assert.equal(probeMemoryOf(appHealthCheckCommand(8000)), undefined);
      assert.equal(
        probeMemoryOf(["CMD-SHELL", `${PROBE_WITH_MEMORY} --window 9 --timeout 3 -- true`]),
        undefined,
      );
    });
  });

  describe("healthCheckTimeline", () => {
    type Expected = Omit<
      ReturnType<typeof healthCheckTimeline>,
      "firstProbeAt" | "detectionLatency"
    >;
    const cases: [string, Parameters<typeof healthCheckTimeline>[0], Expected][] = [
      [
        "ECS's defaults",
        { interval: 30, timeout: 5, retries: 3, startPeriod: 0 },
        {
          probeLimit: 5,
          detectionLatencyWorst: 35,
          earliestUnhealthy: 90,
          degradedWindow: 0,
          steadyFailingFast: 90,
          steadyHanging: 105,
        },
      ],
      [
        "the hand fix's databases",
        HAND_FIX.databases,
        {
          probeLimit: 15,
          detectionLatencyWorst: 45,
          earliestUnhealthy: 300,
          degradedWindow: 0,
          steadyFailingFast: 150,
          steadyHanging: 225,
        },
      ],
      [
        "the hand fix's apps",
        HAND_FIX.app,
        {
          probeLimit: 15,
          detectionLatencyWorst: 45,
          earliestUnhealthy: 150,
          degradedWindow: 0,
          steadyFailingFast: 90,
          steadyHanging: 135,
        },
      ],
      [
        "the previous defaults (interval 16 s): tolerant of a slow boot, not of a stall",
        { interval: 16, timeout: 15, retries: 5, startPeriod: 240 },
        {
          probeLimit: 15,
          detectionLatencyWorst: 31,
          earliestUnhealthy: 304,
          degradedWindow: 0,
          steadyFailingFast: 80,
          steadyHanging: 155,
        },
      ],
      [
        "a start period that is not a multiple of the interval",
        { interval: 10, timeout: 5, retries: 3, startPeriod: 25 },
        {
          probeLimit: 5,
          detectionLatencyWorst: 15,
          earliestUnhealthy: 50,
          degradedWindow: 0,
          steadyFailingFast: 30,
          steadyHanging: 45,
        },
      ],
      [
        "the smallest policy",
        { interval: 5, timeout: 2, retries: 1, startPeriod: 3 },
        {
          probeLimit: 2,
          detectionLatencyWorst: 7,
          earliestUnhealthy: 5,
          degradedWindow: 0,
          steadyFailingFast: 5,
          steadyHanging: 7,
        },
      ],
      [
        "aura-probe: its window adds to both steady states, its timeout bounds a probe",
        {
          command: probeWithMemory(["true"], { window: 60, timeout: 8 }),
          interval: 5,
          timeout: 10,
          retries: 2,
          startPeriod: 50,
        },
        {
          probeLimit: 8,
          detectionLatencyWorst: 13,
          earliestUnhealthy: 55,
          degradedWindow: 60,
          steadyFailingFast: 70,
          steadyHanging: 86,
        },
      ],
      [
        "a command without aura-probe: no window",
        {
          command: appHealthCheckCommand(8000),
          interval: 5,
          timeout: 10,
          retries: 2,
          startPeriod: 50,
        },
        {
          probeLimit: 10,
          detectionLatencyWorst: 15,
          earliestUnhealthy: 55,
          degradedWindow: 0,
          steadyFailingFast: 10,
          steadyHanging: 30,
        },
      ],
    ];
    for (const [name, policy, expected] of cases) {
      it(`times ${name}`, () => {
        assert.deepEqual(healthCheckTimeline(policy), {
          firstProbeAt: policy.interval,
          detectionLatency: policy.interval,
          ...expected,
        });
      });
    }
  });

  /**
   * Docker's cadence after the last pass (which ended at 0), every probe failing: the first
   * probe one interval later, each next one an interval after the previous ended; aura-probe
   * answers a failure healthy while (this probe's start - the first failed probe's start) is
   * under its window. Returns when the container turns UNHEALTHY.
   */
  function simulateSteadyState(
    policy: HealthCheckPolicy,
    failingProbeRuns: number,
    overhead: number,
  ): number {
    const memory = probeMemoryOf(policy.command);
    const window = typeof memory === "object" ? memory.window : 0;
    let ended = 0;
    let firstFailedStart: number | undefined;
    let streak = 0;
    for (;;) {
      const started = ended + policy.interval;
      ended = started + failingProbeRuns + overhead;
      firstFailedStart ??= started;
      if (started - firstFailedStart >= window && ++streak >= policy.retries) return ended;
    }
  }

  describe("the steady-state figures against Docker's cadence", () => {
    for (const [name, policy] of [
      ["databases", defaultDatabasesHealthCheck()],
      ["apps", defaultAppHealthCheck(8000)],
      ["the hand fix", { ...HAND_FIX.databases, command: appHealthCheckCommand(8000) }],
    ] as const) {
      const timeline = healthCheckTimeline(policy);
      it(`${name}: never UNHEALTHY sooner than the timeline says, failing fast or hanging, whatever a probe's overhead; at most one probe later with none`, () => {
        for (const overhead of [0, 0.05, 0.25, 0.4, 1, 1.3, 2]) {
          const fast = simulateSteadyState(policy, 0, overhead);
          const hanging = simulateSteadyState(policy, timeline.probeLimit, overhead);
          assert.ok(
            fast >= timeline.steadyFailingFast,
            `failing fast, overhead ${overhead}: ${fast}`,
          );
          assert.ok(hanging >= timeline.steadyHanging, `hanging, overhead ${overhead}: ${hanging}`);
        }
        assert.ok(simulateSteadyState(policy, 0, 0) < timeline.steadyFailingFast + policy.interval);
        assert.ok(
          simulateSteadyState(policy, timeline.probeLimit, 0) <
            timeline.steadyHanging + policy.interval + timeline.probeLimit,
        );
      });
    }
  });

  describe("floors and defaults", () => {
    it("takes the floors from the hand fix: databases 300/150/225 s, apps 150/90/135 s", () => {
      assert.deepEqual(toleranceFloors("databases"), {
        firstBoot: 300,
        steadyFailingFast: 150,
        steadyHanging: 225,
      });
      assert.deepEqual(toleranceFloors("app"), {
        firstBoot: 150,
        steadyFailingFast: 90,
        steadyHanging: 135,
      });
    });

    it("sizes the degraded window to the larger of what each steady-state floor needs", () => {
      const floors = toleranceFloors("databases");
      // failing fast: 150 - 5 x 5 = 125; hanging: 225 - 5 x (5 + 16) = 120
      assert.equal(degradedWindowFor(floors, { interval: 5, retries: 5, probeTimeout: 16 }), 125);
      // failing fast: 150 - 5 x 5 = 125; hanging: 225 - 5 x (5 + 2) = 190
      assert.equal(degradedWindowFor(floors, { interval: 5, retries: 5, probeTimeout: 2 }), 190);
      // ECS's retries alone are enough: no window
      assert.equal(degradedWindowFor(floors, { interval: 30, retries: 5, probeTimeout: 15 }), 0);
    });

    it("checks the databases with the image's own script inside aura-probe, at ECS's minimum interval", () => {
      assert.deepEqual(defaultDatabasesHealthCheck(), {
        command: [
          "CMD",
          "/usr/local/bin/aura-probe",
          "--window",
          "125",
          "--timeout",
          "16",
          "--",
          "/usr/local/bin/aura-db-healthcheck",
        ],
        interval: 5,
        timeout: 20,
        retries: 5,
        startPeriod: 280,
      });
    });

    it("probes the apps with Python's standard library on 127.0.0.1 inside aura-probe, never curl or localhost", () => {
      assert.deepEqual(appHealthCheckCommand(8001), [
        "CMD",
        "python3",
        "-c",
        "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8001/health', timeout=10)",
      ]);
      assert.deepEqual(defaultAppHealthCheck(8001), {
        command: [
          "CMD",
          "/usr/local/bin/aura-probe",
          "--window",
          "84",
          "--timeout",
          "12",
          "--",
          ...appHealthCheckCommand(8001).slice(1),
        ],
        interval: 5,
        timeout: 15,
        retries: 3,
        startPeriod: 140,
      });
    });

    const pairs = [
      ["databases", defaultDatabasesHealthCheck(), HAND_FIX.databases],
      ["api-gateway", defaultAppHealthCheck(8000), HAND_FIX.app],
      ["service-desk-host", defaultAppHealthCheck(8001), HAND_FIX.app],
    ] as const;
    for (const [name, ours, handFix] of pairs) {
      it(`${name} tolerates at least what the hand fix did in every phase, and is seen HEALTHY 6x sooner`, () => {
        assert.deepEqual(validateHealthCheck(ours, `aura:${name}`), []);
        const timeline = healthCheckTimeline(ours);
        const floors = toleranceFloors(name === "databases" ? "databases" : "app");
        assert.equal(timeline.earliestUnhealthy, floors.firstBoot);
        assert.ok(timeline.steadyFailingFast >= floors.steadyFailingFast);
        assert.ok(timeline.steadyHanging >= floors.steadyHanging);
        assert.equal(timeline.detectionLatency, 5);
        assert.equal(healthCheckTimeline(handFix).detectionLatency, 30);
      });
    }
  });

  it("ships one aura-probe: the apps' copies are the databases image's file, byte for byte and executable", () => {
    const root = path.join(__dirname, "..", "..", "containers");
    const original = path.join(root, "databases", "rootfs", "usr", "local", "bin", "aura-probe");
    for (const app of ["api-gateway", "service-desk-host"]) {
      const copy = path.join(root, app, "aura-probe");
      assert.equal(fs.readFileSync(copy, "utf8"), fs.readFileSync(original, "utf8"), copy);
      assert.equal(fs.statSync(copy).mode & 0o111, 0o111, `${copy} is not executable`);
    }
    assert.equal(fs.statSync(original).mode & 0o111, 0o111);
  });
});
