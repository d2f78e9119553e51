import { strict as assert } from "assert";
import { localConfig, localDefinitions } from "../../local/definitions";
import { STACK_VOLUME_LABEL, TASK_LABEL, dockerVolumes, stackStorage } from "../../local/volumes";
import { formatVolumes } from "../../local/view";

/** The mount points of the dev stack's definitions, as the runner collects them. */
function devMountPoints() {
  return localDefinitions(localConfig("dev")).flatMap((definition) =>
    definition.mountPoints.map((mountPoint) => ({ container: definition.name, mountPoint })),
  );
}

describe("local runner: task volumes as Docker volumes", () => {
  it("efs: the three database volumes are the stack's, reused by every task; /tmp is per task", () => {
    const storage = stackStorage({ stack: "dev", storage: "efs" });
    assert.deepEqual(dockerVolumes(devMountPoints(), "3f9c1a20", storage), [
      {
        sourceVolume: "postgres-data",
        name: "aura-local-dev-postgres-data",
        persistent: true,
        labels: { [STACK_VOLUME_LABEL]: "dev" },
      },
      {
        sourceVolume: "redis-data",
        name: "aura-local-dev-redis-data",
        persistent: true,
        labels: { "org.aura.local.stack": "dev" },
      },
      {
        sourceVolume: "mongodb-data",
        name: "aura-local-dev-mongodb-data",
        persistent: true,
        labels: { "org.aura.local.stack": "dev" },
      },
      {
        sourceVolume: "api-gateway-tmp",
        name: "aura-local-3f9c1a20-api-gateway-tmp",
        persistent: false,
        labels: { [TASK_LABEL]: "3f9c1a20" },
      },
      {
        sourceVolume: "service-desk-host-tmp",
        name: "aura-local-3f9c1a20-service-desk-host-tmp",
        persistent: false,
        labels: { "org.aura.local.task": "3f9c1a20" },
      },
    ]);
  });

  it("efs: a second task gets the same database volumes and new /tmp volumes", () => {
    const storage = stackStorage({ stack: "dev", storage: "efs" });
    const names = (taskId: string) =>
      dockerVolumes(devMountPoints(), taskId, storage).map((v) => v.name);
    assert.deepEqual(names("00000001"), [
      "aura-local-dev-postgres-data",
      "aura-local-dev-redis-data",
      "aura-local-dev-mongodb-data",
      "aura-local-00000001-api-gateway-tmp",
      "aura-local-00000001-service-desk-host-tmp",
    ]);
    assert.deepEqual(names("00000002"), [
      "aura-local-dev-postgres-data",
      "aura-local-dev-redis-data",
      "aura-local-dev-mongodb-data",
      "aura-local-00000002-api-gateway-tmp",
      "aura-local-00000002-service-desk-host-tmp",
    ]);
  });

  it("the persistent volumes are named by stack, so two stacks never share data", () => {
    const prod = dockerVolumes(
      devMountPoints(),
      "ab",
      stackStorage({ stack: "prod", storage: "efs" }),
    );
    assert.deepEqual(
      prod.filter((v) => v.persistent).map((v) => [v.name, v.labels]),
      [
        ["aura-local-prod-postgres-data", { "org.aura.local.stack": "prod" }],
        ["aura-local-prod-redis-data", { "org.aura.local.stack": "prod" }],
        ["aura-local-prod-mongodb-data", { "org.aura.local.stack": "prod" }],
      ],
    );
  });

  it("ephemeral: every volume is the task's own, as on the task's ephemeral storage", () => {
    const storage = stackStorage({ stack: "dev", storage: "ephemeral" });
    assert.deepEqual(
      dockerVolumes(devMountPoints(), "3f9c1a20", storage).map((v) => [v.name, v.persistent]),
      [
        ["aura-local-3f9c1a20-postgres-data", false],
        ["aura-local-3f9c1a20-redis-data", false],
        ["aura-local-3f9c1a20-mongodb-data", false],
        ["aura-local-3f9c1a20-api-gateway-tmp", false],
        ["aura-local-3f9c1a20-service-desk-host-tmp", false],
      ],
    );
  });

  it("without storage (a library caller that gives none) every volume is the task's own", () => {
    assert.deepEqual(
      dockerVolumes(devMountPoints(), "t1").map((v) => [v.name, v.persistent, v.labels]),
      [
        ["aura-local-t1-postgres-data", false, { "org.aura.local.task": "t1" }],
        ["aura-local-t1-redis-data", false, { "org.aura.local.task": "t1" }],
        ["aura-local-t1-mongodb-data", false, { "org.aura.local.task": "t1" }],
        ["aura-local-t1-api-gateway-tmp", false, { "org.aura.local.task": "t1" }],
        ["aura-local-t1-service-desk-host-tmp", false, { "org.aura.local.task": "t1" }],
      ],
    );
  });

  it("the EFS-backed volumes are exactly the ones the task definition gives EFS", () => {
    const storage = stackStorage({ stack: "dev", storage: "efs" });
    assert.deepEqual(
      storage.volumes.map((v) => [v.name, v.efsVolumeConfiguration !== undefined]),
      [
        ["postgres-data", true],
        ["redis-data", true],
        ["mongodb-data", true],
        ["api-gateway-tmp", false],
        ["service-desk-host-tmp", false],
      ],
    );
    assert.deepEqual(
      stackStorage({ stack: "dev", storage: "ephemeral" }).volumes.map((v) => Object.keys(v)),
      [["name"], ["name"], ["name"], ["name"], ["name"]],
    );
  });

  it("a mount point of a volume the task does not declare is refused, as ECS refuses it", () => {
    assert.throws(
      () =>
        dockerVolumes(
          [
            {
              container: "databases",
              mountPoint: { sourceVolume: "scratch", containerPath: "/scratch", readOnly: false },
            },
          ],
          "t1",
          stackStorage({ stack: "dev", storage: "efs" }),
        ),
      /^Error: databases mounts volume "scratch" at \/scratch, but the task declares only postgres-data, redis-data, mongodb-data, api-gateway-tmp, service-desk-host-tmp$/,
    );
  });

  it("a volume mounted by two containers is one Docker volume", () => {
    const mountPoint = { sourceVolume: "redis-data", containerPath: "/d", readOnly: false };
    assert.deepEqual(
      dockerVolumes(
        [
          { container: "a", mountPoint },
          { container: "b", mountPoint: { ...mountPoint, readOnly: true } },
        ],
        "t1",
        stackStorage({ stack: "dev", storage: "efs" }),
      ).map((v) => v.name),
      ["aura-local-dev-redis-data"],
    );
  });

  it("the live view says which volumes outlive the task and which hold earlier data", () => {
    const volumes = dockerVolumes(
      devMountPoints(),
      "t1",
      stackStorage({ stack: "dev", storage: "efs" }),
    );
    assert.equal(
      formatVolumes(volumes, ["aura-local-dev-postgres-data"]),
      "volumes persistent (EFS on ECS, kept across tasks): aura-local-dev-postgres-data (existing data), " +
        "aura-local-dev-redis-data (new), aura-local-dev-mongodb-data (new); " +
        "task's own (removed with the task): aura-local-t1-api-gateway-tmp, aura-local-t1-service-desk-host-tmp",
    );
  });
});
