import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ConfigError } from "../../lib/config";
import { defaultAppHealthCheck } from "../../lib/healthCheck";
import {
  LOCAL_IMAGES,
  applyOverrides,
  localConfig,
  localDefinitions,
  parseOverride,
} from "../../local/definitions";
import { DEFAULT_REPLACEMENTS, parseArgs } from "../../local/options";
import {
  generateEnvFile,
  loadLocalSecrets,
  localSecretRefs,
  localSecretResolver,
  parseEnvFile,
  secretNames,
} from "../../local/secrets";
import { runService } from "../../local/service";
import { RunningTask, STOPPED_REASONS, TaskResult } from "../../local/task";
import { formatService } from "../../local/view";
import { probeCommand } from "../../local/docker";

describe("local runner: secrets file", () => {
  it("knows the task's secret variables", () => {
    assert.deepEqual(secretNames(), [
      "AURA_API_KEYS",
      "MONGO_PASSWORD",
      "POSTGRES_PASSWORD",
      "REDIS_PASSWORD",
    ]);
  });

  it("parses NAME=value lines, skipping comments and blanks; values keep '=' and spaces", () => {
    assert.deepEqual(
      [...parseEnvFile("# c\n\nA=1\nB=x=y z\r\n")],
      [
        ["A", "1"],
        ["B", "x=y z"],
      ],
    );
  });

  it("names the line that is not NAME=value", () => {
    assert.throws(
      () => parseEnvFile("A=1\nnot a pair\n", "local.env"),
      /^Error: local.env:2: expected NAME=value, got "not a pair"$/,
    );
  });

  it("generates 48 hex digits per secret (two comma-separated API keys) and writes the file 0600 on first use", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "aura-local-"));
    const file = path.join(dir, "local.env");
    const first = loadLocalSecrets(file);
    assert.equal(first.created, true);
    assert.deepEqual([...first.values.keys()], secretNames());
    for (const [name, value] of first.values) {
      if (name === "AURA_API_KEYS") assert.match(value, /^[0-9a-f]{48},[0-9a-f]{48}$/);
      else assert.match(value, /^[0-9a-f]{48}$/);
    }
    const [one, two] = first.values.get("AURA_API_KEYS")!.split(",");
    assert.notEqual(one, two);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    const second = loadLocalSecrets(file);
    assert.equal(second.created, false);
    assert.deepEqual(second.values, first.values);
    fs.rmSync(dir, { recursive: true });
  });

  it("adds API keys to a file written before the gateway had them, keeping every password", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "aura-local-"));
    const file = path.join(dir, "local.env");
    fs.writeFileSync(file, "POSTGRES_PASSWORD=a\nREDIS_PASSWORD=b\nMONGO_PASSWORD=c\n");
    const loaded = loadLocalSecrets(file);
    assert.deepEqual(
      [loaded.created, loaded.values.get("POSTGRES_PASSWORD"), loaded.values.get("MONGO_PASSWORD")],
      [false, "a", "c"],
    );
    assert.match(loaded.values.get("AURA_API_KEYS")!, /^[0-9a-f]{48},[0-9a-f]{48}$/);
    assert.deepEqual(loadLocalSecrets(file).values, loaded.values);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    fs.rmSync(dir, { recursive: true });
  });

  it("refuses a file that lacks a secret, naming it", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "aura-local-"));
    const file = path.join(dir, "local.env");
    fs.writeFileSync(file, "POSTGRES_PASSWORD=a\nREDIS_PASSWORD=b\n");
    assert.throws(
      () => loadLocalSecrets(file),
      (error: Error) =>
        error.message ===
        `${file} has no value for MONGO_PASSWORD: add NAME=value lines, or delete the file to generate one`,
    );
    fs.rmSync(dir, { recursive: true });
  });

  it("gives the definitions ECS-shaped secrets that resolve only from the file", () => {
    const refs = localSecretRefs();
    assert.deepEqual(refs["api-gateway"], [
      { name: "AURA_API_KEYS", valueFrom: "local.env:AURA_API_KEYS" },
    ]);
    assert.deepEqual(refs.databases, [
      { name: "POSTGRES_PASSWORD", valueFrom: "local.env:POSTGRES_PASSWORD" },
      { name: "REDIS_PASSWORD", valueFrom: "local.env:REDIS_PASSWORD" },
      { name: "MONGO_PASSWORD", valueFrom: "local.env:MONGO_PASSWORD" },
    ]);
    const resolve = localSecretResolver(parseEnvFile(generateEnvFile()));
    assert.match(resolve(refs.databases![0], "databases"), /^[0-9a-f]{48}$/);
    assert.throws(
      () => resolve({ name: "X", valueFrom: "arn:aws:secretsmanager:..." }, "databases"),
      /^Error: databases: secret X comes from arn:aws:secretsmanager:\.\.\., which a local run cannot read$/,
    );
  });
});

describe("local runner: definitions from the stack", () => {
  it("are the program's definitions with local image tags and the stack's health checks", () => {
    const definitions = localDefinitions(localConfig("dev"));
    assert.deepEqual(
      definitions.map((d) => [d.name, d.image]),
      [
        ["databases", "aura-databases:local"],
        ["api-gateway", "aura-api-gateway:local"],
        ["service-desk-host", "aura-service-desk-host:local"],
      ],
    );
    const { command, ...timing } = defaultAppHealthCheck(8000);
    assert.deepEqual(definitions[1].healthCheck, { command: [...command], ...timing });
    assert.deepEqual(definitions[1].dependsOn, [
      { containerName: "databases", condition: "HEALTHY" },
    ]);
    assert.deepEqual(LOCAL_IMAGES, {
      databases: "aura-databases:local",
      "api-gateway": "aura-api-gateway:local",
      "service-desk-host": "aura-service-desk-host:local",
    });
  });

  it("overrides merge key by key into the stack's value", () => {
    const merged = applyOverrides(
      { "aura:api-gateway": '{"interval":20,"retries":2}' },
      { "api-gateway": { interval: 5 } },
    );
    assert.deepEqual(JSON.parse(merged["aura:api-gateway"]), { interval: 5, retries: 2 });
  });

  it("overrides are validated by parseAuraConfig, with its messages", () => {
    const config = localConfig("dev", {
      "api-gateway": {
        command: ["CMD-SHELL", "curl -f http://127.0.0.1:8000/health || exit 1"],
        interval: 5,
        timeout: 2,
        retries: 1,
        startPeriod: 0,
      },
      databases: { startTimeout: 10 },
    });
    assert.deepEqual(config.containers["api-gateway"].healthCheck, {
      command: ["CMD-SHELL", "curl -f http://127.0.0.1:8000/health || exit 1"],
      interval: 5,
      timeout: 2,
      retries: 1,
      startPeriod: 0,
    });
    assert.equal(config.containers.databases.startTimeout, 10);
    assert.throws(
      () => localConfig("dev", { "api-gateway": { interval: 1 } }),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.problems.includes(
          "aura:api-gateway.interval = 1 is out of range: ECS allows 5-300 seconds (whole numbers)",
        ),
    );
  });

  it("an override for a container the task does not have is refused", () => {
    assert.throws(
      () => localConfig("dev", { gateway: { interval: 5 } } as never),
      /^Error: override for unknown container gateway: containers are databases, api-gateway, service-desk-host$/,
    );
  });
});

describe("local runner: command line", () => {
  it("defaults: dev stack, build, one task, local.env", () => {
    assert.deepEqual(parseArgs([]), {
      stack: "dev",
      build: true,
      replacements: 0,
      overrides: {},
      envFile: "local.env",
      keepContainers: false,
      freshData: false,
      verbose: false,
      help: false,
    });
  });

  it("parses every option", () => {
    const options = parseArgs([
      "--stack",
      "prod",
      "--no-build",
      "--replace=2",
      "--health",
      'api-gateway.command=["CMD-SHELL","curl -f http://127.0.0.1:8000/health || exit 1"]',
      "--health=api-gateway.interval=5",
      "--secrets",
      "/tmp/x.env",
      "--keep",
      "--fresh-data",
      "--verbose",
    ]);
    assert.deepEqual(options, {
      stack: "prod",
      build: false,
      replacements: 2,
      overrides: {
        "api-gateway": {
          command: ["CMD-SHELL", "curl -f http://127.0.0.1:8000/health || exit 1"],
          interval: 5,
        },
      },
      envFile: "/tmp/x.env",
      keepContainers: true,
      freshData: true,
      verbose: true,
      help: false,
    });
  });

  it(`--replace alone allows ${DEFAULT_REPLACEMENTS} replacements`, () => {
    assert.equal(parseArgs(["--replace"]).replacements, 3);
  });

  it("rejects bad input with the reason", () => {
    assert.throws(() => parseArgs(["--replace=-1"]), /^Error: --replace=-1 must be a whole number/);
    assert.throws(
      () => parseOverride("api-gateway.colour=red"),
      /^Error: --health "api-gateway.colour=red": colour is not a container setting: allowed keys are image, command, interval, timeout, retries, startPeriod, stopTimeout, startTimeout, restartEnabled, restartIgnoredExitCodes, restartAttemptPeriod$/,
    );
    assert.throws(() => parseArgs(["--frobnicate"]), /^Error: unknown option --frobnicate/);
  });

  it("reads a JSON overrides file", () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "aura-local-")), "o.json");
    fs.writeFileSync(file, JSON.stringify({ databases: { startTimeout: 10 } }));
    assert.deepEqual(parseArgs(["--overrides", file]).overrides, {
      databases: { startTimeout: 10 },
    });
  });
});

describe("local runner: health-check commands as Docker runs them", () => {
  it("CMD is an exec array; CMD-SHELL runs under /bin/sh -c", () => {
    assert.deepEqual(probeCommand(["CMD", "python3", "-c", "print(1)"]), [
      "python3",
      "-c",
      "print(1)",
    ]);
    assert.deepEqual(probeCommand(["CMD-SHELL", "curl -f x || exit 1"]), [
      "/bin/sh",
      "-c",
      "curl -f x || exit 1",
    ]);
    assert.throws(() => probeCommand(["NONE"]), /must start with CMD or CMD-SHELL/);
  });
});

describe("local runner: service scheduler (--replace)", () => {
  function fakeTask(reason: string): RunningTask {
    const result: TaskResult = {
      taskId: "t",
      stoppedReason: reason,
      startedAt: new Date(0),
      durationMs: 1,
      containers: [],
      events: [],
    };
    return {
      taskId: "t",
      events: [],
      done: Promise.resolve(result),
      stop: () => {},
      waitFor: () => Promise.reject(new Error("unused")),
    };
  }

  it("replaces a failed task until the cap, then reports the loop as one", async () => {
    let started = 0;
    const service = runService(
      () => {
        started++;
        return fakeTask(STOPPED_REASONS.failedHealthChecks);
      },
      { replacements: 2 },
    );
    const result = await service.done;
    assert.equal(started, 3);
    assert.deepEqual(result.reasons, [
      "Task failed container health checks",
      "Task failed container health checks",
      "Task failed container health checks",
    ]);
    assert.equal(result.capReached, true);
    assert.equal(
      formatService(result),
      "service: 3 task(s) started, replacement cap reached: 2 replacement(s)\n  3 x Task failed container health checks",
    );
  });

  it("does not replace a task the user stopped", async () => {
    let started = 0;
    const service = runService(
      () => {
        started++;
        return fakeTask(STOPPED_REASONS.userInitiated);
      },
      { replacements: 5 },
    );
    const result = await service.done;
    assert.equal(started, 1);
    assert.equal(result.stoppedByUser, true);
    assert.equal(result.capReached, false);
  });
});
