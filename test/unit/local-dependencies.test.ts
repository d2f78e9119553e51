import { strict as assert } from "assert";
import {
  ContainerSnapshot,
  OrderedDefinition,
  conditionMet,
  startDecision,
  startWaves,
  stopInDependencyOrder,
  stopWaves,
  validateDependencies,
} from "../../local/dependencies";
import { localConfig, localDefinitions } from "../../local/definitions";

const pending: ContainerSnapshot = { phase: "PENDING" };
const running: ContainerSnapshot = { phase: "RUNNING", startedAt: 1_000, health: "UNKNOWN" };
const healthy: ContainerSnapshot = { phase: "RUNNING", startedAt: 1_000, health: "HEALTHY" };
const exited0: ContainerSnapshot = { phase: "STOPPED", startedAt: 1_000, exitCode: 0 };
const exited1: ContainerSnapshot = { phase: "STOPPED", startedAt: 1_000, exitCode: 1 };

function definitions(...list: OrderedDefinition[]): Map<string, OrderedDefinition> {
  return new Map(list.map((d) => [d.name, d]));
}

const check = { command: ["CMD", "true"] };

describe("local dependencies: conditions", () => {
  const table: [string, ContainerSnapshot, boolean, boolean, boolean, boolean][] = [
    // snapshot, START, COMPLETE, SUCCESS, HEALTHY
    ["pending", pending, false, false, false, false],
    ["running, health unknown", running, true, false, false, false],
    ["running and healthy", healthy, true, false, false, true],
    ["exited 0", exited0, true, true, true, false],
    ["exited 1", exited1, true, true, false, false],
  ];
  for (const [name, snapshot, start, complete, success, isHealthy] of table) {
    it(`${name}: START ${start}, COMPLETE ${complete}, SUCCESS ${success}, HEALTHY ${isHealthy}`, () => {
      assert.deepEqual(
        [
          conditionMet("START", snapshot),
          conditionMet("COMPLETE", snapshot),
          conditionMet("SUCCESS", snapshot),
          conditionMet("HEALTHY", snapshot),
        ],
        [start, complete, success, isHealthy],
      );
    });
  }
});

describe("local dependencies: start decisions", () => {
  const db: OrderedDefinition = {
    name: "db",
    essential: true,
    healthCheck: check,
    startTimeout: 10,
  };
  const app: OrderedDefinition = {
    name: "app",
    essential: true,
    healthCheck: check,
    dependsOn: [{ containerName: "db", condition: "HEALTHY" }],
  };
  const defs = definitions(db, app);

  it("a container without dependencies starts at once", () => {
    assert.deepEqual(startDecision(db, defs, new Map([["db", pending]]), 0), { action: "start" });
  });

  it("waits while the target is starting, inside its startTimeout", () => {
    const snapshots = new Map([
      ["db", running],
      ["app", pending],
    ]);
    // At the deadline itself it still waits: the agent times out only strictly after it.
    assert.deepEqual(startDecision(app, defs, snapshots, 11_000), { action: "wait", on: ["db"] });
  });

  it("fails with the agent's words once startTimeout has passed since the target started", () => {
    const snapshots = new Map([
      ["db", running],
      ["app", pending],
    ]);
    assert.deepEqual(startDecision(app, defs, snapshots, 11_001), {
      action: "fail",
      reason:
        "CannotStartContainerError: dependency graph: container ordering dependency [db] for target [app] has timed out.",
    });
  });

  it("starts when the target is HEALTHY, even after its startTimeout", () => {
    const snapshots = new Map([
      ["db", healthy],
      ["app", pending],
    ]);
    assert.deepEqual(startDecision(app, defs, snapshots, 60_000), { action: "start" });
  });

  it("without startTimeout it waits as long as the target is still starting", () => {
    const noTimeout = definitions({ ...db, startTimeout: undefined }, app);
    const snapshots = new Map([
      ["db", running],
      ["app", pending],
    ]);
    assert.deepEqual(startDecision(app, noTimeout, snapshots, 3_600_000), {
      action: "wait",
      on: ["db"],
    });
  });

  it("START never times out", () => {
    const starter: OrderedDefinition = {
      name: "app",
      essential: true,
      dependsOn: [{ containerName: "db", condition: "START" }],
    };
    const snapshots = new Map([
      ["db", pending],
      ["app", pending],
    ]);
    assert.deepEqual(startDecision(starter, definitions(db, starter), snapshots, 999_999), {
      action: "wait",
      on: ["db"],
    });
  });

  it("SUCCESS fails fast when the target exited non-zero", () => {
    const init: OrderedDefinition = { name: "init", essential: false };
    const after: OrderedDefinition = {
      name: "app",
      essential: true,
      dependsOn: [{ containerName: "init", condition: "SUCCESS" }],
    };
    const snapshots = new Map([
      ["init", exited1],
      ["app", pending],
    ]);
    assert.deepEqual(startDecision(after, definitions(init, after), snapshots, 5_000), {
      action: "fail",
      reason:
        "CannotStartContainerError: dependency graph: failed to resolve container ordering dependency [init] for target [app] as dependency did not exit successfully.",
    });
    assert.deepEqual(
      startDecision(
        after,
        definitions(init, after),
        new Map([
          ["init", exited0],
          ["app", pending],
        ]),
        5_000,
      ),
      { action: "start" },
    );
  });

  it("HEALTHY on a target that stopped unhealthy can never be met", () => {
    const snapshots = new Map([
      ["db", exited1],
      ["app", pending],
    ]);
    assert.deepEqual(startDecision(app, defs, snapshots, 2_000), {
      action: "fail",
      reason:
        "CannotStartContainerError: dependency graph: failed to resolve the container ordering dependency [db] for target [app]",
    });
  });
});

describe("local dependencies: validation and order", () => {
  it("rejects what ECS rejects, naming the container", () => {
    assert.deepEqual(
      validateDependencies([
        { name: "a", essential: true },
        { name: "b", essential: true, dependsOn: [{ containerName: "a", condition: "HEALTHY" }] },
        { name: "c", essential: true, dependsOn: [{ containerName: "a", condition: "SUCCESS" }] },
        { name: "d", essential: true, dependsOn: [{ containerName: "x", condition: "START" }] },
      ]),
      [
        'd.dependsOn names "x", which is not a container of the task: it must be one of a, b, c, d',
        "b.dependsOn a HEALTHY needs a health check on a",
        "c.dependsOn a SUCCESS is not allowed: a is essential, and an essential container that exits stops the task",
      ],
    );
  });

  it("rejects a cycle", () => {
    assert.deepEqual(
      validateDependencies([
        { name: "a", essential: true, dependsOn: [{ containerName: "b", condition: "START" }] },
        { name: "b", essential: true, dependsOn: [{ containerName: "a", condition: "START" }] },
      ]),
      [
        "dependsOn has a cycle: a -> b -> a: each of a, b waits for another, so ECS can never start them; remove one of these dependencies",
      ],
    );
  });

  it("the dev stack's task: apps stop first (in parallel), the databases last", () => {
    const dev = localDefinitions(localConfig("dev"));
    assert.deepEqual(validateDependencies(dev), []);
    assert.deepEqual(stopWaves(dev), [["api-gateway", "service-desk-host"], ["databases"]]);
    assert.deepEqual(startWaves(dev), [["databases"], ["api-gateway", "service-desk-host"]]);
  });

  it("a chain stops from its end", () => {
    const chain: OrderedDefinition[] = [
      { name: "a", essential: true },
      { name: "b", essential: true, dependsOn: [{ containerName: "a", condition: "START" }] },
      { name: "c", essential: true, dependsOn: [{ containerName: "b", condition: "START" }] },
    ];
    assert.deepEqual(stopWaves(chain), [["c"], ["b"], ["a"]]);
  });

  it("stops a container once its own dependents have stopped, not when a whole wave has", async () => {
    // db <- app; cache stands alone and is slow to stop. By waves db would wait for cache too.
    const task: OrderedDefinition[] = [
      { name: "db", essential: true },
      { name: "app", essential: true, dependsOn: [{ containerName: "db", condition: "HEALTHY" }] },
      { name: "cache", essential: true },
    ];
    const started: string[] = [];
    const finish = new Map<string, () => void>();
    const done = stopInDependencyOrder(task, (name) => {
      started.push(name);
      return new Promise<void>((resolve) => finish.set(name, resolve));
    });
    const settle = () => new Promise((resolve) => setImmediate(resolve));
    await settle();
    assert.deepEqual(started, ["app", "cache"]);
    finish.get("app")!();
    await settle();
    assert.deepEqual(started, ["app", "cache", "db"], "db stops while cache is still stopping");
    finish.get("db")!();
    finish.get("cache")!();
    await done;
  });
});
