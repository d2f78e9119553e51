import { strict as assert } from "assert";
import { AuraConfig, parseAuraConfig } from "../../lib/config";
import { ContainerName } from "../../lib/containers";
import { HealthCheckPolicy } from "../../lib/healthCheck";
import { Finding, describePreflight, preflight, preflightErrors } from "../../lib/preflight";
import { TARGET_GROUP_HEALTH_CHECK, serviceGracePeriod } from "../../lib/service";

const DEFAULTS = parseAuraConfig(
  { "aws:region": "us-east-2", "aura:assignPublicIp": "true" },
  "dev",
);

type ContainerOverride = Partial<HealthCheckPolicy> & { startTimeout?: number };
type Overrides = Partial<Record<ContainerName, ContainerOverride>>;

function withOverrides(overrides: Overrides): Pick<AuraConfig, "containers"> {
  const containers = { ...DEFAULTS.containers };
  for (const [name, { startTimeout, ...healthCheck }] of Object.entries(overrides) as [
    ContainerName,
    ContainerOverride,
  ][]) {
    containers[name] = {
      ...containers[name],
      healthCheck: { ...containers[name].healthCheck, ...healthCheck },
      ...(startTimeout === undefined ? {} : { startTimeout }),
    };
  }
  return { containers };
}

function findings(overrides: Overrides, grace?: number): Finding[] {
  const config = withOverrides(overrides);
  return [
    ...preflight(config, {
      healthCheckGracePeriodSeconds: grace ?? serviceGracePeriod(config.containers),
    }).findings,
  ];
}

const notInfo = (list: Finding[]) => list.filter((finding) => finding.severity !== "info");

describe("preflight", () => {
  it("schedules the default task: databases, then both apps once they are HEALTHY", () => {
    const report = preflight(DEFAULTS, { healthCheckGracePeriodSeconds: 484 });
    assert.deepEqual(
      report.schedule.map(({ container, startsAt, healthyAt, healthyAtLatest, timeline }) => ({
        container,
        startsAt,
        healthyAt,
        healthyAtLatest,
        earliestUnhealthy: timeline.earliestUnhealthy,
      })),
      [
        // 60 s expected boot, probes every 16 s: the 4th probe (64 s) passes.
        {
          container: "databases",
          startsAt: [0, 0],
          healthyAt: 64,
          healthyAtLatest: 304,
          earliestUnhealthy: 304,
        },
        {
          container: "api-gateway",
          startsAt: [64, 304],
          healthyAt: 80,
          healthyAtLatest: 464,
          earliestUnhealthy: 160,
        },
        {
          container: "service-desk-host",
          startsAt: [64, 304],
          healthyAt: 80,
          healthyAtLatest: 464,
          earliestUnhealthy: 160,
        },
      ],
    );
  });

  it("passes the defaults with only the note on startTimeout", () => {
    assert.deepEqual(findings({}), [
      {
        severity: "info",
        rule: "start-timeout",
        container: "databases",
        message:
          "databases has no startTimeout: api-gateway and service-desk-host wait while databases is starting; its own health check ends the wait at 304 s (UNHEALTHY stops the task).",
      },
    ]);
    assert.equal(
      preflightErrors(preflight(DEFAULTS, { healthCheckGracePeriodSeconds: 484 })),
      undefined,
    );
  });

  it("fails a databases check that turns UNHEALTHY before the databases can start (the original loop)", () => {
    assert.deepEqual(
      notInfo(findings({ databases: { interval: 30, startPeriod: 0, retries: 1 } })),
      [
        {
          severity: "error",
          rule: "boot-budget",
          container: "databases",
          message:
            "databases can be UNHEALTHY 30 s after start, before its expected start-up of 60 s: every task would be stopped and replaced, the restart loop. Raise aura:databases.startPeriod or aura:databases.retries.",
        },
        {
          severity: "warning",
          rule: "below-hand-fix",
          container: "databases",
          message:
            "databases tolerates 30 s before UNHEALTHY, less than the 300 s of the hand fix that ended the original loop.",
        },
        {
          severity: "warning",
          rule: "slow-detection",
          container: "databases",
          message:
            "aura:databases.interval = 30: a ready databases may wait up to 45 s to be seen HEALTHY, and everything that depends on it waits too.",
        },
      ],
    );
  });

  it("warns when the boot budget is under twice the expected start-up", () => {
    const list = notInfo(
      findings({ "service-desk-host": { startPeriod: 0, retries: 1, interval: 20 } }),
    );
    assert.deepEqual(
      list.map((f) => [f.severity, f.rule, f.container]),
      [
        ["warning", "boot-budget", "service-desk-host"],
        ["warning", "below-hand-fix", "service-desk-host"],
      ],
    );
    assert.equal(
      list[0].message,
      "service-desk-host can be UNHEALTHY 20 s after start, less than 2x its expected start-up of 15 s: a slow cold start would loop. Raise aura:service-desk-host.startPeriod.",
    );
  });

  it("fails a startTimeout that ends before the databases can be HEALTHY", () => {
    const list = notInfo(findings({ databases: { startTimeout: 30 } }));
    assert.deepEqual(
      list.map((f) => [f.severity, f.rule]),
      [["error", "start-timeout"]],
    );
    assert.equal(
      list[0].message,
      "aura:databases.startTimeout = 30 s ends before databases can be HEALTHY (64 s with its expected start-up): api-gateway and service-desk-host would never start and the task would stop every time. Raise it or leave it unset.",
    );
  });

  it("warns when a startTimeout cuts the databases' boot budget short", () => {
    const list = notInfo(findings({ databases: { startTimeout: 120 } }));
    assert.deepEqual(
      list.map((f) => f.message),
      [
        "aura:databases.startTimeout = 120 s cuts databases's boot budget of 304 s short: a slow boot stops the task at 120 s even though its health check would still wait.",
      ],
    );
  });

  it("fails a grace period that ends before the gateway can pass the ALB's checks", () => {
    assert.deepEqual(notInfo(findings({}, 60)), [
      {
        severity: "error",
        rule: "grace-period",
        message:
          "healthCheckGracePeriodSeconds = 60 s ends before the gateway is expected to pass the ALB's checks (100 s): ECS would stop every new task for failed ELB health checks.",
      },
    ]);
  });

  it("warns when the grace period is shorter than the container checks allow", () => {
    assert.deepEqual(
      notInfo(findings({}, 300)).map((f) => f.message),
      [
        "healthCheckGracePeriodSeconds = 300 s is shorter than the 484 s the container health checks allow the gateway to come up: a slow start would fail on ELB health checks instead.",
      ],
    );
  });

  it("fails a target group whose timeout is not below its interval", () => {
    const report = preflight(DEFAULTS, {
      healthCheckGracePeriodSeconds: 484,
      targetGroup: { ...TARGET_GROUP_HEALTH_CHECK, timeout: 10 },
    });
    assert.equal(
      preflightErrors(report),
      "Preflight found settings that can only loop:\n  - The target group's health-check timeout (10 s) must be less than its interval (10 s): ELB rejects it.",
    );
  });

  it("describes the schedule for the preview log", () => {
    const lines = describePreflight(preflight(DEFAULTS, { healthCheckGracePeriodSeconds: 484 }), {
      healthCheckGracePeriodSeconds: 484,
    });
    assert.deepEqual(lines.slice(0, 4), [
      "databases: starts with the task; HEALTHY within 31 s of being ready (expected at 64 s, at the latest 304 s); earliest UNHEALTHY 304 s after its start",
      "api-gateway: starts when its dependencies are HEALTHY (64-304 s); HEALTHY within 31 s of being ready (expected at 80 s, at the latest 464 s); earliest UNHEALTHY 160 s after its start",
      "service-desk-host: starts when its dependencies are HEALTHY (64-304 s); HEALTHY within 31 s of being ready (expected at 80 s, at the latest 464 s); earliest UNHEALTHY 160 s after its start",
      "service: health-check grace period 484 s",
    ]);
  });
});
