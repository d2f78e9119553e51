import { strict as assert } from "assert";
import {
  HAND_FIX,
  HealthCheckPolicy,
  appHealthCheckCommand,
  defaultAppHealthCheck,
  defaultDatabasesHealthCheck,
  healthCheckTimeline,
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

    it("rejects a timeout that is not below the interval", () => {
      assert.deepEqual(messages({ interval: 15, timeout: 15 }), [
        "aura:api-gateway.timeout = 15 must be less than aura:api-gateway.interval = 15: a probe may not run into the next one",
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
    ];
    for (const [command, ending] of commandCases) {
      it(`rejects the command ${JSON.stringify(command)}`, () => {
        assert.deepEqual(messages({ command: command as string[] }), [
          `aura:api-gateway.command = ${JSON.stringify(command)} ${ending}`,
        ]);
      });
    }
  });

  describe("healthCheckTimeline", () => {
    const cases: [Omit<HealthCheckPolicy, "command">, number, number, number][] = [
      // policy, earliest UNHEALTHY, HEALTHY within after ready, UNHEALTHY after a hang
      [{ interval: 30, timeout: 5, retries: 3, startPeriod: 0 }, 90, 35, 105],
      [{ interval: 30, timeout: 15, retries: 5, startPeriod: 180 }, 300, 45, 225],
      [{ interval: 30, timeout: 15, retries: 3, startPeriod: 90 }, 150, 45, 135],
      [{ interval: 16, timeout: 15, retries: 5, startPeriod: 240 }, 304, 31, 155],
      [{ interval: 16, timeout: 15, retries: 3, startPeriod: 120 }, 160, 31, 93],
      [{ interval: 10, timeout: 5, retries: 3, startPeriod: 25 }, 50, 15, 45],
      [{ interval: 5, timeout: 2, retries: 1, startPeriod: 3 }, 5, 7, 7],
    ];
    for (const [policy, earliestUnhealthy, healthyWithin, afterHang] of cases) {
      it(`times ${JSON.stringify(policy)}`, () => {
        assert.deepEqual(healthCheckTimeline(policy), {
          firstProbeAt: policy.interval,
          healthyWithinAfterReady: healthyWithin,
          earliestUnhealthy,
          unhealthyAfterHang: afterHang,
        });
      });
    }
  });

  describe("defaults", () => {
    const pairs = [
      ["databases", defaultDatabasesHealthCheck(), HAND_FIX.databases],
      ["api-gateway", defaultAppHealthCheck(8000), HAND_FIX.app],
      ["service-desk-host", defaultAppHealthCheck(8001), HAND_FIX.app],
    ] as const;
    for (const [name, ours, handFix] of pairs) {
      it(`${name} tolerates a slow start at least as long as the hand fix, and is seen HEALTHY sooner`, () => {
        assert.deepEqual(validateHealthCheck(ours, `aura:${name}`), []);
        const oursTimeline = healthCheckTimeline(ours);
        const handFixTimeline = healthCheckTimeline(handFix);
        assert.ok(ours.timeout >= handFix.timeout);
        assert.ok(ours.retries >= handFix.retries);
        assert.ok(ours.startPeriod >= handFix.startPeriod);
        assert.ok(oursTimeline.earliestUnhealthy >= handFixTimeline.earliestUnhealthy);
        assert.ok(oursTimeline.healthyWithinAfterReady < handFixTimeline.healthyWithinAfterReady);
      });
    }

    it("probes the apps with Python's standard library on 127.0.0.1, never curl or localhost", () => {
      assert.deepEqual(appHealthCheckCommand(8001), [
        "CMD",
        "python3",
        "-c",
        "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8001/health', timeout=10)",
      ]);
    });

    it("checks the databases with the image's own script", () => {
      assert.deepEqual(defaultDatabasesHealthCheck(), {
        command: ["CMD", "/usr/local/bin/aura-db-healthcheck"],
        interval: 16,
        timeout: 15,
        retries: 5,
        startPeriod: 240,
      });
    });
  });
});
