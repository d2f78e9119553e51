import { strict as assert } from "assert";
import { ConfigError, parseAuraConfig } from "../../lib/config";
import { readStackConfig } from "../../lib/stackFile";
import { containerRestartPolicy } from "../../lib/taskDefinition";

function parse(overrides: Record<string, string>) {
  return parseAuraConfig({ ...readStackConfig("dev"), ...overrides }, "dev");
}

function problems(overrides: Record<string, string>): readonly string[] {
  try {
    parse(overrides);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe("container restart policy", () => {
  it("restarts the apps in place after 60 s of running, never the databases container", () => {
    const { containers } = parse({});
    assert.deepEqual(containerRestartPolicy(containers["api-gateway"]), {
      enabled: true,
      ignoredExitCodes: [],
      restartAttemptPeriod: 60,
    });
    assert.deepEqual(containerRestartPolicy(containers["service-desk-host"]), {
      enabled: true,
      ignoredExitCodes: [],
      restartAttemptPeriod: 60,
    });
    assert.deepEqual(containerRestartPolicy(containers.databases), { enabled: false });
  });

  it("takes every value from the stack", () => {
    const { containers } = parse({
      "aura:api-gateway":
        '{"restartAttemptPeriod": 1800, "restartIgnoredExitCodes": [0, 2], "restartEnabled": true}',
      "aura:databases": '{"restartEnabled": true, "restartAttemptPeriod": 600}',
      "aura:service-desk-host": '{"restartEnabled": false}',
    });
    assert.deepEqual(containerRestartPolicy(containers["api-gateway"]), {
      enabled: true,
      ignoredExitCodes: [0, 2],
      restartAttemptPeriod: 1800,
    });
    assert.deepEqual(containerRestartPolicy(containers.databases), {
      enabled: true,
      ignoredExitCodes: [],
      restartAttemptPeriod: 600,
    });
    assert.deepEqual(containerRestartPolicy(containers["service-desk-host"]), { enabled: false });
  });

  it("rejects values ECS refuses, naming the key, the value and what is allowed", () => {
    assert.deepEqual(
      problems({
        "aura:api-gateway": '{"restartAttemptPeriod": 59}',
        "aura:service-desk-host": '{"restartAttemptPeriod": 1801, "restartEnabled": "yes"}',
        "aura:databases": '{"restartIgnoredExitCodes": [1, 256]}',
      }),
      [
        "aura:databases.restartIgnoredExitCodes = [1,256] must be a list of exit codes, whole numbers 0-255",
        "aura:api-gateway.restartAttemptPeriod = 59 is out of range: ECS allows 60-1800 seconds (whole numbers)",
        'aura:service-desk-host.restartEnabled = "yes" is not allowed: choose true or false',
        "aura:service-desk-host.restartAttemptPeriod = 1801 is out of range: ECS allows 60-1800 seconds (whole numbers)",
      ],
    );
  });

  it("allows at most 50 ignored exit codes", () => {
    const codes = Array.from({ length: 51 }, (_, index) => index);
    assert.deepEqual(
      problems({ "aura:api-gateway": JSON.stringify({ restartIgnoredExitCodes: codes }) }),
      ["aura:api-gateway.restartIgnoredExitCodes has 51 exit codes: ECS allows at most 50"],
    );
    assert.deepEqual(
      problems({ "aura:api-gateway": JSON.stringify({ restartIgnoredExitCodes: codes.slice(1) }) }),
      [],
    );
  });
});
