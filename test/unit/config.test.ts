import { strict as assert } from "assert";
import { ConfigError, SCALAR_DEFAULTS, parseAuraConfig } from "../../lib/config";
import { readStackConfig } from "../../lib/stackFile";

const dev = readStackConfig("dev");

function problemsOf(overrides: Record<string, string>): readonly string[] {
  try {
    parseAuraConfig({ ...dev, ...overrides }, "dev");
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${error}`);
    return error.problems;
  }
  assert.fail("expected the configuration to be rejected");
}

describe("stack configuration", () => {
  it("reads Pulumi.dev.yaml into the typed config", () => {
    const config = parseAuraConfig(dev, "dev");
    assert.equal(config.stack, "dev");
    assert.equal(config.region, "us-east-2");
    assert.equal(config.platform, "linux/amd64");
    assert.equal(config.cpu, 1024);
    assert.equal(config.memory, 3072);
    assert.equal(config.logRetentionDays, 14);
    assert.equal(config.repositoryPrefix, "aura");
    assert.deepEqual(config.containers.databases, {
      image: undefined,
      healthCheck: {
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
      },
      stopTimeout: 120,
      startTimeout: undefined,
      restartPolicy: { enabled: false, ignoredExitCodes: [], restartAttemptPeriod: 300 },
    });
    assert.equal(config.containers["service-desk-host"].stopTimeout, 30);
    assert.deepEqual(config.containers["service-desk-host"].restartPolicy, {
      enabled: true,
      ignoredExitCodes: [],
      restartAttemptPeriod: 60,
    });
  });

  it("applies the defaults when only the region (and, in the default VPC, a public IP) is set", () => {
    const config = parseAuraConfig(
      { "aws:region": "eu-west-1", "aura:assignPublicIp": "true" },
      "prod",
    );
    assert.equal(config.platform, SCALAR_DEFAULTS.platform);
    assert.equal(config.cpu, SCALAR_DEFAULTS.cpu);
    assert.equal(config.memory, SCALAR_DEFAULTS.memory);
    assert.equal(config.logRetentionDays, SCALAR_DEFAULTS.logRetentionDays);
    assert.equal(config.storage, "efs");
    assert.equal(config.enableExecuteCommand, false);
    assert.deepEqual(config.network, {
      vpcId: undefined,
      publicSubnetIds: [],
      privateSubnetIds: [],
      assignPublicIp: true,
    });
  });

  it("takes per-container overrides of every health-check number and a prebuilt image, and sizes aura-probe for them", () => {
    const image = `123456789012.dkr.ecr.us-east-2.amazonaws.com/aura-api-gateway@sha256:${"a".repeat(64)}`;
    const config = parseAuraConfig(
      {
        ...dev,
        "aura:api-gateway": JSON.stringify({
          image,
          interval: 20,
          timeout: 10,
          retries: 4,
          startPeriod: 60,
          stopTimeout: 45,
        }),
        "aura:databases": JSON.stringify({ startTimeout: 120 }),
      },
      "dev",
    );
    assert.equal(config.containers["api-gateway"].image, image);
    // The probe's timeout leaves 2 s inside ECS's 10 s; its window keeps the apps' floors with
    // these numbers: max(90 - 4 x 20, 135 - 4 x (20 + 8)) = 23 s.
    assert.deepEqual(config.containers["api-gateway"].healthCheck, {
      command: [
        "CMD",
        "/usr/local/bin/aura-probe",
        "--window",
        "23",
        "--timeout",
        "8",
        "--",
        "python3",
        "-c",
        "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=10)",
      ],
      interval: 20,
      timeout: 10,
      retries: 4,
      startPeriod: 60,
    });
    assert.equal(config.containers["api-gateway"].stopTimeout, 45);
    assert.equal(config.containers.databases.startTimeout, 120);
  });

  it("accepts linux/arm64 with a prebuilt databases image", () => {
    const image = "123456789012.dkr.ecr.us-east-2.amazonaws.com/aura-databases-arm64:7.0.1";
    const config = parseAuraConfig(
      { ...dev, "aura:platform": "linux/arm64", "aura:databases": JSON.stringify({ image }) },
      "dev",
    );
    assert.deepEqual([config.platform, config.containers.databases.image], ["linux/arm64", image]);
  });

  it("refuses linux/arm64 without a prebuilt databases image, saying why and what to do", () => {
    assert.throws(
      () => parseAuraConfig({ ...dev, "aura:platform": "linux/arm64" }, "dev"),
      (error: ConfigError) => {
        assert.deepEqual(error.problems, [
          'aura:platform = "linux/arm64" needs a prebuilt aura:databases.image: the databases image cannot be built for linux/arm64 because MongoDB publishes no Debian packages for arm64 (its Debian 12 builds are x86_64 only); use aura:platform = "linux/amd64", or set aura:databases.image to a linux/arm64 image you built yourself (PostgreSQL 15, Redis 7 and MongoDB 7.0 under supervisord, with this repository\'s containers/databases/rootfs)',
        ]);
        return true;
      },
    );
  });

  const errors: [string, Record<string, string>, string][] = [
    [
      "an unknown architecture",
      { "aura:platform": "linux/386" },
      'aura:platform = "linux/386" is not allowed: choose one of linux/amd64, linux/arm64',
    ],
    [
      "a startPeriod out of range",
      { "aura:databases": '{"startPeriod": 400}' },
      "aura:databases.startPeriod = 400 is out of range: ECS allows 0-300 seconds (whole numbers)",
    ],
    [
      "an interval out of range",
      { "aura:api-gateway": '{"interval": 3}' },
      "aura:api-gateway.interval = 3 is out of range: ECS allows 5-300 seconds (whole numbers)",
    ],
    [
      "a timeout too short for aura-probe",
      { "aura:api-gateway": '{"timeout": 2}' },
      "aura:api-gateway.timeout = 2 leaves aura-probe no time for its check: it kills the check 2 s before ECS's timeout, so the timeout must be at least 3 seconds",
    ],
    [
      "retries out of range",
      { "aura:service-desk-host": '{"retries": 12}' },
      "aura:service-desk-host.retries = 12 is out of range: ECS allows 1-10 (whole numbers)",
    ],
    [
      "a timeout out of range",
      { "aura:databases": '{"timeout": 90, "interval": 120}' },
      "aura:databases.timeout = 90 is out of range: ECS allows 2-60 seconds (whole numbers)",
    ],
    [
      "an aura-probe timeout that does not leave 2 s inside ECS's",
      {
        "aura:databases":
          '{"timeout": 10, "command": ["CMD", "/usr/local/bin/aura-probe", "--window", "125", "--timeout", "9", "--", "/usr/local/bin/aura-db-healthcheck"]}',
      },
      "aura:databases.command runs aura-probe --timeout 9, which must be at most aura:databases.timeout - 2 = 8 s: the probe has to kill a hanging check before ECS's timeout does, or ECS counts the hang as a failure whatever the degraded window says",
    ],
    [
      "a health-check number that is not a number",
      { "aura:databases": '{"retries": "five"}' },
      'aura:databases.retries = "five" must be a whole number of seconds',
    ],
    [
      "a command that calls localhost",
      { "aura:api-gateway": '{"command": ["CMD-SHELL", "curl -f http://localhost:8000/health"]}' },
      'aura:api-gateway.command = ["CMD-SHELL","curl -f http://localhost:8000/health"] uses "localhost": use 127.0.0.1, which is where the task\'s containers listen',
    ],
    [
      "a command that is not a list",
      { "aura:api-gateway": '{"command": "curl"}' },
      'aura:api-gateway.command = "curl" must be a list of strings starting with "CMD" or "CMD-SHELL"',
    ],
    [
      "an invalid Fargate cpu",
      { "aura:cpu": "300" },
      "aura:cpu = 300 is not a Fargate task size: allowed cpu values are 256, 512, 1024, 2048, 4096, 8192, 16384",
    ],
    [
      "an invalid Fargate cpu/memory pair",
      { "aura:cpu": "256", "aura:memory": "4096" },
      "aura:memory = 4096 does not fit aura:cpu = 256: Fargate allows 512, 1024, 2048 MiB with that cpu",
    ],
    [
      "a cpu that is not a number",
      { "aura:cpu": "lots" },
      'aura:cpu = "lots" must be a whole number',
    ],
    [
      "a prebuilt image that is not an image reference",
      { "aura:databases": '{"image": "Not An Image!"}' },
      'aura:databases.image = "Not An Image!" is not an image reference: expected registry/repository:tag or registry/repository@sha256:<64 hex>, never :latest',
    ],
    [
      "a prebuilt image on :latest",
      { "aura:databases": '{"image": "registry.example.com/aura-databases:latest"}' },
      'aura:databases.image = "registry.example.com/aura-databases:latest" is not an image reference: expected registry/repository:tag or registry/repository@sha256:<64 hex>, never :latest',
    ],
    [
      "an unknown key under a structured value",
      { "aura:databases": '{"startperiod": 200}' },
      "aura:databases.startperiod is not a known setting: allowed keys are image, command, interval, timeout, retries, startPeriod, stopTimeout, startTimeout, restartEnabled, restartIgnoredExitCodes, restartAttemptPeriod",
    ],
    [
      "a structured value that is not an object",
      { "aura:databases": "[1, 2]" },
      'aura:databases = "[1, 2]" must be an object with keys image, command, interval, timeout, retries, startPeriod, stopTimeout, startTimeout, restartEnabled, restartIgnoredExitCodes, restartAttemptPeriod',
    ],
    [
      "an unknown aura key",
      { "aura:platfrom": "linux/amd64" },
      "aura:platfrom is not a known setting: known keys are aura:platform, aura:cpu, aura:memory, aura:logRetentionDays, aura:repositoryPrefix, aura:alertEmail, aura:storage, aura:vpcId, aura:assignPublicIp, aura:enableExecuteCommand, aura:desiredCount, aura:databaseBackupRetentionDays, aura:databaseDeletionProtection, aura:databaseMultiAz, aura:postgresInstanceClass, aura:postgresStorageGb, aura:redisNodeType, aura:documentDbInstanceClass, aura:certificateArn, aura:domainName, aura:hostedZoneId, aura:publicSubnetIds, aura:privateSubnetIds, aura:databases, aura:api-gateway, aura:service-desk-host",
    ],
    [
      "a log retention CloudWatch does not offer",
      { "aura:logRetentionDays": "10" },
      'aura:logRetentionDays = "10" is not allowed: choose one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653',
    ],
    [
      "a stopTimeout over Fargate's 120 s",
      { "aura:databases": '{"stopTimeout": 300}' },
      "aura:databases.stopTimeout = 300 is out of range: Fargate allows 2-120 seconds",
    ],
    [
      "a startTimeout over Fargate's 120 s",
      { "aura:databases": '{"startTimeout": 180}' },
      "aura:databases.startTimeout = 180 is out of range: Fargate allows 2-120 seconds",
    ],
    [
      "an invalid repository prefix",
      { "aura:repositoryPrefix": "Aura_" },
      'aura:repositoryPrefix = "Aura_" is not a valid ECR repository name prefix: use lowercase letters, digits and single . _ - between them',
    ],
    [
      "a missing region",
      { "aws:region": "" },
      "aws:region is not set: set it with `pulumi config set aws:region us-east-2`",
    ],
  ];
  for (const [what, overrides, message] of errors) {
    it(`rejects ${what}, naming the key, the value and what is allowed`, () => {
      assert.deepEqual(problemsOf(overrides), [message]);
    });
  }

  it("reports every problem at once", () => {
    const problems = problemsOf({ "aura:platform": "arm", "aura:databases": '{"retries": 0}' });
    assert.equal(problems.length, 2);
    assert.match(
      new ConfigError(problems).message,
      /^Invalid stack configuration:\n {2}- aura:platform/,
    );
  });
});
