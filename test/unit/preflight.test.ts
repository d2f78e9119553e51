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
    const report = preflight(DEFAULTS, { healthCheckGracePeriodSeconds: 470 });
    assert.deepEqual(
      report.schedule.map(({ container, startsAt, healthyAt, healthyAtLatest, timeline }) => ({
        container,
        startsAt,
        healthyAt,
        healthyAtLatest,
        earliestUnhealthy: timeline.earliestUnhealthy,
      })),
      [
        // 60 s expected boot, probes every 5 s: the 12th probe (60 s) passes.
        {
          container: "databases",
          startsAt: [0, 0],
          healthyAt: 60,
          healthyAtLatest: 300,
          earliestUnhealthy: 300,
        },
        // 10 s and 15 s expected starts: the 2nd and 3rd probes pass.
        {
          container: "api-gateway",
          startsAt: [60, 300],
          healthyAt: 70,
          healthyAtLatest: 450,
          earliestUnhealthy: 150,
        },
        {
          container: "service-desk-host",
          startsAt: [60, 300],
          healthyAt: 75,
          healthyAtLatest: 450,
          earliestUnhealthy: 150,
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
          "databases has no startTimeout: api-gateway and service-desk-host wait while databases is starting; its own health check ends the wait at 300 s (UNHEALTHY stops the task).",
      },
    ]);
    assert.equal(
      preflightErrors(preflight(DEFAULTS, { healthCheckGracePeriodSeconds: 470 })),
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
          rule: "first-boot-floor",
          container: "databases",
          message:
            "databases can be UNHEALTHY 30 s after start, less than the 300 s of the hand fix that ended the original loop: a slow first boot it survived would loop. Raise aura:databases.startPeriod or aura:databases.retries.",
        },
        {
          // The window (125 s) still covers failing fast: 125 + 1 x 30 = 155 s.
          severity: "warning",
          rule: "steady-hanging-floor",
          container: "databases",
          message:
            "databases is UNHEALTHY 171 s after its last pass when its check starts hanging, less than the hand fix's 225 s: a stalled disk or network it rode out would replace the task. Raise the --window of aura-probe in aura:databases.command, aura:databases.retries, aura:databases.interval or aura-probe's --timeout in aura:databases.command.",
        },
        {
          severity: "warning",
          rule: "slow-detection",
          container: "databases",
          message:
            "aura:databases.interval = 30: a ready databases may wait 30 s for the probe that sees it HEALTHY (46 s if a probe hangs), and everything that depends on it waits too. 5 s, ECS's minimum, is the default; aura-probe's window gives the tolerance instead.",
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
        ["warning", "first-boot-floor", "service-desk-host"],
        ["warning", "steady-hanging-floor", "service-desk-host"],
        ["warning", "slow-detection", "service-desk-host"],
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
      "aura:databases.startTimeout = 30 s ends before databases can be HEALTHY (60 s with its expected start-up): api-gateway and service-desk-host would never start and the task would stop every time. Raise it or leave it unset.",
    );
  });

  it("warns when a startTimeout cuts the databases' boot budget short", () => {
    const list = notInfo(findings({ databases: { startTimeout: 120 } }));
    assert.deepEqual(
      list.map((f) => f.message),
      [
        "aura:databases.startTimeout = 120 s cuts databases's boot budget of 300 s short: a slow boot stops the task at 120 s even though its health check would still wait.",
      ],
    );
  });

  it("fails a grace period that ends before the gateway can pass the ALB's checks", () => {
    assert.deepEqual(notInfo(findings({}, 60)), [
      {
        severity: "error",
        rule: "grace-period",
        message:
          "healthCheckGracePeriodSeconds = 60 s ends before the gateway is expected to pass the ALB's checks (90 s): ECS would stop every new task for failed ELB health checks.",
      },
    ]);
  });

  it("warns when the grace period is shorter than the container checks allow", () => {
    assert.deepEqual(
      notInfo(findings({}, 300)).map((f) => f.message),
      [
        "healthCheckGracePeriodSeconds = 300 s is shorter than the 470 s the container health checks allow the gateway to come up: a slow start would fail on ELB health checks instead.",
      ],
    );
  });

  it("fails a target group whose timeout is not below its interval", () => {
    const report = preflight(DEFAULTS, {
      healthCheckGracePeriodSeconds: 470,
      targetGroup: { ...TARGET_GROUP_HEALTH_CHECK, timeout: 10 },
    });
    assert.equal(
      preflightErrors(report),
      "Preflight found settings that can only loop:\n  - The target group's health-check timeout (10 s) must be less than its interval (10 s): ELB rejects it.",
    );
  });

  it("describes the schedule and each container's tolerance in both phases for the preview log", () => {
    const lines = describePreflight(preflight(DEFAULTS, { healthCheckGracePeriodSeconds: 470 }), {
      healthCheckGracePeriodSeconds: 470,
    });
    assert.deepEqual(lines, [
      "databases: starts with the task; expected HEALTHY at 60 s, at the latest 300 s",
      "databases first boot: UNHEALTHY at the earliest 300 s after start (hand fix 300 s)",
      'databases steady state: UNHEALTHY 150 s after its last pass when the check fails fast (hand fix 150 s), 230 s when it hangs (hand fix 225 s); aura-probe answers the first 125 s of failures "healthy, degraded"',
      "databases detection: HEALTHY within 5 s of being ready (21 s if a probe hangs just then)",
      "api-gateway: starts when its dependencies are HEALTHY (60-300 s); expected HEALTHY at 70 s, at the latest 450 s",
      "api-gateway first boot: UNHEALTHY at the earliest 150 s after start (hand fix 150 s)",
      'api-gateway steady state: UNHEALTHY 99 s after its last pass when the check fails fast (hand fix 90 s), 135 s when it hangs (hand fix 135 s); aura-probe answers the first 84 s of failures "healthy, degraded"',
      "api-gateway detection: HEALTHY within 5 s of being ready (17 s if a probe hangs just then)",
      "service-desk-host: starts when its dependencies are HEALTHY (60-300 s); expected HEALTHY at 75 s, at the latest 450 s",
      "service-desk-host first boot: UNHEALTHY at the earliest 150 s after start (hand fix 150 s)",
      'service-desk-host steady state: UNHEALTHY 99 s after its last pass when the check fails fast (hand fix 90 s), 135 s when it hangs (hand fix 135 s); aura-probe answers the first 84 s of failures "healthy, degraded"',
      "service-desk-host detection: HEALTHY within 5 s of being ready (17 s if a probe hangs just then)",
      `aura-probe: after one pass a failing check is answered "healthy, degraded" for its window, then ECS's retries count; before the first pass every failure counts at once and the start period covers the boot. So the interval can be ECS's minimum (fast HEALTHY) while each phase tolerates at least what the hand fix did.`,
      "service: health-check grace period 470 s",
      "info: databases has no startTimeout: api-gateway and service-desk-host wait while databases is starting; its own health check ends the wait at 300 s (UNHEALTHY stops the task).",
    ]);
  });

  it("warns, naming the keys, when a stack goes below the hand fix's steady-state floors", () => {
    const unwrapped = ["CMD", "/usr/local/bin/aura-db-healthcheck"];
    assert.deepEqual(notInfo(findings({ databases: { command: unwrapped } })), [
      {
        severity: "warning",
        rule: "steady-failing-fast-floor",
        container: "databases",
        message:
          "databases is UNHEALTHY 25 s after its last pass when its check starts failing, less than the hand fix's 150 s: a crash recovery or a network stall it rode out would replace the task. Raise a degraded window (wrap aura:databases.command's check in aura-probe, see the README), aura:databases.retries or aura:databases.interval.",
      },
      {
        severity: "warning",
        rule: "steady-hanging-floor",
        container: "databases",
        message:
          "databases is UNHEALTHY 125 s after its last pass when its check starts hanging, less than the hand fix's 225 s: a stalled disk or network it rode out would replace the task. Raise a degraded window (wrap aura:databases.command's check in aura-probe, see the README), aura:databases.retries, aura:databases.interval or aura:databases.timeout.",
      },
    ]);
    // The default window with one retry: 84 + 1 x 5 = 89 s failing fast, 84 + 1 x 17 = 101 s hanging.
    assert.deepEqual(
      notInfo(findings({ "api-gateway": { retries: 1, startPeriod: 150 } })).map((f) => [
        f.rule,
        f.message,
      ]),
      [
        [
          "steady-failing-fast-floor",
          "api-gateway is UNHEALTHY 89 s after its last pass when its check starts failing, less than the hand fix's 90 s: a crash recovery or a network stall it rode out would replace the task. Raise the --window of aura-probe in aura:api-gateway.command, aura:api-gateway.retries or aura:api-gateway.interval.",
        ],
        [
          "steady-hanging-floor",
          "api-gateway is UNHEALTHY 101 s after its last pass when its check starts hanging, less than the hand fix's 135 s: a stalled disk or network it rode out would replace the task. Raise the --window of aura-probe in aura:api-gateway.command, aura:api-gateway.retries, aura:api-gateway.interval or aura-probe's --timeout in aura:api-gateway.command.",
        ],
      ],
    );
  });

  it("stays quiet when the stack's own numbers resize the default probe: its window keeps the floors", () => {
    const config = parseAuraConfig(
      {
        "aws:region": "us-east-2",
        "aura:assignPublicIp": "true",
        "aura:databases": JSON.stringify({ retries: 2, interval: 10, startPeriod: 290 }),
      },
      "dev",
    );
    const report = preflight(config, {
      healthCheckGracePeriodSeconds: serviceGracePeriod(config.containers),
    });
    assert.deepEqual(notInfo([...report.findings]), []);
    const databases = report.schedule[0].timeline;
    // max(150 - 2 x 10, 225 - 2 x (10 + 16)) = 173 s of window
    assert.deepEqual(
      [databases.degradedWindow, databases.steadyFailingFast, databases.steadyHanging],
      [173, 193, 225],
    );
  });
});
