import { strict as assert } from "assert";
import { EPHEMERAL_STORAGE_WARNING, taskRolePolicy } from "../../components/auraService";
import { fileSystemPolicy } from "../../components/storage";
import { ConfigError, parseAuraConfig } from "../../lib/config";
import { CONTAINER_NAMES } from "../../lib/containers";
import { readStackConfig } from "../../lib/stackFile";
import {
  ContainerDefinition,
  TaskVolume,
  containerMountPoints,
  taskVolumes,
} from "../../lib/taskDefinition";
import { loadModel, validateShape } from "../awsModel";
import { ACCOUNT, ProgramRun, runProgram } from "../mocks";

const TASK_ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/aura-task-role`;
const FILE_SYSTEM_ARN = `arn:aws:elasticfilesystem:us-east-2:${ACCOUNT}:file-system/aura-storage-fs-id`;
const ACCESS_POINT_ARNS = ["postgres", "redis", "mongodb"].map(
  (db) => `arn:aws:elasticfilesystem:us-east-2:${ACCOUNT}:access-point/aura-storage-${db}-id`,
);
const APP_TMP_VOLUMES = [{ name: "api-gateway-tmp" }, { name: "service-desk-host-tmp" }];
const ECS_EXEC_STATEMENT = {
  Sid: "EcsExec",
  Effect: "Allow",
  Action: [
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
  ],
  Resource: "*",
};
const MOUNT_STATEMENT = {
  Sid: "MountDatabaseVolumes",
  Effect: "Allow",
  Action: ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"],
  Resource: FILE_SYSTEM_ARN,
  Condition: { StringEquals: { "elasticfilesystem:AccessPointArn": ACCESS_POINT_ARNS } },
};

const ecs = loadModel("aws-ecs-2014-11-13.service-2.json");

function task(run: ProgramRun) {
  return run.one("aws:ecs/taskDefinition:TaskDefinition").inputs;
}

function definitions(run: ProgramRun): ContainerDefinition[] {
  return JSON.parse(task(run).containerDefinitions);
}

function taskPolicy(run: ProgramRun): unknown {
  return JSON.parse(run.one("aws:iam/rolePolicy:RolePolicy", "aura-task-policy").inputs.policy);
}

/** Every mount point names a volume of the task, and no two containers share one. */
function assertMountsMatchVolumes(run: ProgramRun): void {
  const volumes = (task(run).volumes as TaskVolume[]).map((volume) => volume.name);
  const mounted = definitions(run).flatMap((d) => d.mountPoints.map((m) => m.sourceVolume));
  assert.deepEqual([...mounted].sort(), [...volumes].sort());
}

describe("durable databases on EFS (dev stack under mocks)", function () {
  this.timeout(20000);
  let run: ProgramRun;

  before(async () => {
    run = await runProgram();
  });

  it("creates an encrypted file system with elastic throughput and AWS Backup", () => {
    const fileSystem = run.one("aws:efs/fileSystem:FileSystem", "aura-storage-fs");
    assert.equal(fileSystem.inputs.encrypted, true);
    assert.equal(fileSystem.inputs.throughputMode, "elastic");
    assert.equal(fileSystem.inputs.lifecyclePolicies, undefined);
    assert.deepEqual(run.one("aws:efs/backupPolicy:BackupPolicy").inputs, {
      fileSystemId: "aura-storage-fs-id",
      backupPolicy: { status: "ENABLED" },
    });
  });

  it("puts one mount target in each task subnet, behind the NFS security group", () => {
    assert.deepEqual(
      run.all("aws:efs/mountTarget:MountTarget").map((target) => [target.name, target.inputs]),
      [
        [
          "aura-storage-mount-0",
          {
            fileSystemId: "aura-storage-fs-id",
            subnetId: "subnet-a",
            securityGroups: ["aura-storage-nfs-sg-id"],
          },
        ],
        [
          "aura-storage-mount-1",
          {
            fileSystemId: "aura-storage-fs-id",
            subnetId: "subnet-b",
            securityGroups: ["aura-storage-nfs-sg-id"],
          },
        ],
      ],
    );
    assert.deepEqual(run.one("awsx:ecs:FargateService").inputs.networkConfiguration.subnets, [
      "subnet-a",
      "subnet-b",
    ]);
    assert.equal(
      run.one("aws:ec2/securityGroup:SecurityGroup", "aura-storage-nfs-sg").inputs.vpcId,
      "vpc-0default",
    );
  });

  it("takes NFS only from the task security group, and lets the tasks reach only NFS on it", () => {
    const nfsRules = [
      ...run.all("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"),
      ...run.all("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"),
    ].filter((rule) => rule.name.startsWith("aura-storage-"));
    assert.deepEqual(
      nfsRules.map((rule) => [rule.type.split(":").pop(), rule.name, rule.inputs]),
      [
        [
          "SecurityGroupIngressRule",
          "aura-storage-nfs-from-tasks",
          {
            securityGroupId: "aura-storage-nfs-sg-id",
            description: "NFS from the Aura tasks only",
            ipProtocol: "tcp",
            fromPort: 2049,
            toPort: 2049,
            referencedSecurityGroupId: "aura-task-sg-id",
          },
        ],
        [
          "SecurityGroupEgressRule",
          "aura-storage-tasks-to-nfs",
          {
            securityGroupId: "aura-task-sg-id",
            description: "NFS to the database file system",
            ipProtocol: "tcp",
            fromPort: 2049,
            toPort: 2049,
            referencedSecurityGroupId: "aura-storage-nfs-sg-id",
          },
        ],
      ],
    );
  });

  it("gives each database an access point with the image's fixed uid/gid and a 0700 root", () => {
    assert.deepEqual(
      run.all("aws:efs/accessPoint:AccessPoint").map((point) => [point.name, point.inputs]),
      [
        ["postgres", 10001],
        ["redis", 10002],
        ["mongodb", 10003],
      ].map(([db, id]) => [
        `aura-storage-${db}`,
        {
          fileSystemId: "aura-storage-fs-id",
          posixUser: { uid: id, gid: id },
          rootDirectory: {
            path: `/${db}`,
            creationInfo: { ownerUid: id, ownerGid: id, permissions: "0700" },
          },
          tags: { project: "aura", stack: "dev" },
        },
      ]),
    );
  });

  it("declares the EFS volumes with TLS and IAM through each access point, and a bind /tmp per app", () => {
    assert.deepEqual(task(run).volumes, [
      ...["postgres", "redis", "mongodb"].map((db) => ({
        name: `${db}-data`,
        efsVolumeConfiguration: {
          fileSystemId: "aura-storage-fs-id",
          transitEncryption: "ENABLED",
          authorizationConfig: { accessPointId: `aura-storage-${db}-id`, iam: "ENABLED" },
        },
      })),
      ...APP_TMP_VOLUMES,
    ]);
    assert.deepEqual(validateShape(ecs, "VolumeList", task(run).volumes), []);
    assertMountsMatchVolumes(run);
  });

  it("mounts the data volumes on the databases container at DATA_DIRECTORIES, and only there", () => {
    assert.deepEqual(
      definitions(run).map((d) => [d.name, d.mountPoints]),
      [
        [
          "databases",
          [
            {
              sourceVolume: "postgres-data",
              containerPath: "/var/lib/aura/postgres",
              readOnly: false,
            },
            { sourceVolume: "redis-data", containerPath: "/var/lib/aura/redis", readOnly: false },
            {
              sourceVolume: "mongodb-data",
              containerPath: "/var/lib/aura/mongodb",
              readOnly: false,
            },
          ],
        ],
        [
          "api-gateway",
          [{ sourceVolume: "api-gateway-tmp", containerPath: "/tmp", readOnly: false }],
        ],
        [
          "service-desk-host",
          [{ sourceVolume: "service-desk-host-tmp", containerPath: "/tmp", readOnly: false }],
        ],
      ],
    );
  });

  it("runs the apps as 10000:10000 on a read-only root, and the databases as the image's root", () => {
    assert.deepEqual(
      definitions(run).map((d) => [d.name, d.user, d.readonlyRootFilesystem, d.linuxParameters]),
      [
        ["databases", undefined, false, undefined],
        ["api-gateway", "10000:10000", true, { capabilities: { drop: ["ALL"] } }],
        ["service-desk-host", "10000:10000", true, { capabilities: { drop: ["ALL"] } }],
      ],
    );
  });

  it("lets the task role mount this file system through its access points, and nothing else", () => {
    assert.deepEqual(taskPolicy(run), { Version: "2012-10-17", Statement: [MOUNT_STATEMENT] });
    assert.equal(
      run.one("aws:iam/rolePolicy:RolePolicy", "aura-task-policy").inputs.role,
      "aura-task-role-id",
    );
  });

  it("lets in only the task role through the access points, and nothing without TLS", () => {
    const policy = run.one("aws:efs/fileSystemPolicy:FileSystemPolicy", "aura-storage-policy");
    assert.equal(policy.inputs.fileSystemId, "aura-storage-fs-id");
    assert.deepEqual(JSON.parse(policy.inputs.policy), {
      Version: "2012-10-17",
      Statement: [
        {
          Sid: "TaskMountsThroughAccessPoints",
          Effect: "Allow",
          Principal: { AWS: TASK_ROLE_ARN },
          Action: ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"],
          Resource: FILE_SYSTEM_ARN,
          Condition: { StringEquals: { "elasticfilesystem:AccessPointArn": ACCESS_POINT_ARNS } },
        },
        {
          Sid: "DenyWithoutTls",
          Effect: "Deny",
          Principal: { AWS: "*" },
          Action: "*",
          Resource: FILE_SYSTEM_ARN,
          Condition: { Bool: { "aws:SecureTransport": "false" } },
        },
      ],
    });
  });

  it("keeps one writer: one task, and a deploy stops the old task before starting the new one", () => {
    const service = run.one("awsx:ecs:FargateService").inputs;
    assert.equal(service.desiredCount, 1);
    assert.equal(service.deploymentMaximumPercent, 100);
    assert.equal(service.deploymentMinimumHealthyPercent, 0);
    assert.equal(service.enableExecuteCommand, false);
  });

  it("does not warn about lost data", () => {
    assert.ok(!run.warnings.includes(EPHEMERAL_STORAGE_WARNING), run.warnings.join("\n"));
  });

  describe("credentials", () => {
    it("puts the generated passwords in the secret version only, as a Pulumi secret", () => {
      const version = run.one(
        "aws:secretsmanager/secretVersion:SecretVersion",
        "aura-credentials-secret-version",
      );
      assert.ok(
        Object.values(version.inputs.secretString).includes("1b47061264138c4ac30d75fd1eb44270"),
        "secretString must be a secret",
      );
      for (const resource of run.resources) {
        if (resource === version) continue;
        assert.doesNotMatch(
          JSON.stringify(resource.inputs),
          /generated-aura-credentials/,
          resource.name,
        );
      }
      assert.doesNotMatch(JSON.stringify(run.outputs), /generated-aura-credentials/);
    });

    it("hands the containers passwords only as valueFrom references, never in environment", () => {
      for (const definition of definitions(run)) {
        assert.deepEqual(
          definition.environment.filter(({ name }) => /PASSWORD|SECRET|TOKEN|KEY/.test(name)),
          [],
          definition.name,
        );
        for (const secret of definition.secrets ?? []) {
          // The gateway's API keys are a secret of their own, read whole (components/apiKeys.ts).
          assert.match(
            secret.valueFrom,
            secret.name === "AURA_API_KEYS"
              ? new RegExp(
                  `^arn:aws:secretsmanager:us-east-2:${ACCOUNT}:secret:aura-dev-api-keys-AbCdEf$`,
                )
              : new RegExp(
                  `^arn:aws:secretsmanager:us-east-2:${ACCOUNT}:secret:aura-dev-database-credentials-AbCdEf:${secret.name}::$`,
                ),
          );
        }
      }
    });

    it("builds images without build arguments or build secrets", () => {
      for (const image of run.all("docker-build:index:Image")) {
        assert.equal(image.inputs.buildArgs, undefined, image.name);
        assert.equal(image.inputs.secrets, undefined, image.name);
      }
    });
  });
});

describe("ephemeral storage with ECS Exec (under mocks)", function () {
  this.timeout(20000);
  let run: ProgramRun;

  before(async () => {
    run = await runProgram({
      overrides: { "aura:storage": "ephemeral", "aura:enableExecuteCommand": "true" },
    });
  });

  it("warns at preview that every task replacement loses the data", () => {
    assert.deepEqual(
      run.warnings.filter((warning) => warning.startsWith("aura:storage")),
      [
        "aura:storage is ephemeral: PostgreSQL, MongoDB and Redis keep their files on the task's own storage, so all their data is lost on every task replacement (each deploy, failed health check or Fargate maintenance); set aura:storage to efs (the default) to keep it",
      ],
    );
  });

  it("creates no EFS resources and no NFS rules", () => {
    assert.deepEqual(
      run.resources
        .filter((r) => r.type.startsWith("aws:efs/") || r.name.startsWith("aura-storage"))
        .map((r) => r.name),
      [],
    );
  });

  it("keeps the same mount points, on bind volumes of the task's own storage", () => {
    assert.deepEqual(task(run).volumes, [
      { name: "postgres-data" },
      { name: "redis-data" },
      { name: "mongodb-data" },
      ...APP_TMP_VOLUMES,
    ]);
    assertMountsMatchVolumes(run);
    assert.deepEqual(
      definitions(run).map((d) => d.mountPoints),
      CONTAINER_NAMES.map((name) => containerMountPoints(name)),
    );
  });

  it("turns ECS Exec on for the service and gives the task role its ssmmessages actions only", () => {
    assert.equal(run.one("awsx:ecs:FargateService").inputs.enableExecuteCommand, true);
    assert.deepEqual(taskPolicy(run), { Version: "2012-10-17", Statement: [ECS_EXEC_STATEMENT] });
  });

  it("still registers a task definition RegisterTaskDefinition accepts", () => {
    const inputs = task(run);
    const request = {
      family: inputs.family,
      requiresCompatibilities: inputs.requiresCompatibilities,
      networkMode: inputs.networkMode,
      cpu: inputs.cpu,
      memory: inputs.memory,
      executionRoleArn: inputs.executionRoleArn,
      taskRoleArn: inputs.taskRoleArn,
      containerDefinitions: definitions(run),
      volumes: inputs.volumes,
    };
    assert.deepEqual(validateShape(ecs, "RegisterTaskDefinitionRequest", request), []);
  });
});

describe("storage and task role, as plain functions", () => {
  it("builds the task role policy for each combination of EFS and ECS Exec", () => {
    const efs = { fileSystemArn: FILE_SYSTEM_ARN, accessPointArns: ACCESS_POINT_ARNS };
    assert.deepEqual(taskRolePolicy(efs, true), {
      Version: "2012-10-17",
      Statement: [MOUNT_STATEMENT, ECS_EXEC_STATEMENT],
    });
    assert.deepEqual(taskRolePolicy(undefined, false), { Version: "2012-10-17", Statement: [] });
  });

  it("builds the same file system policy as the program", () => {
    const policy = fileSystemPolicy(FILE_SYSTEM_ARN, TASK_ROLE_ARN, ACCESS_POINT_ARNS) as {
      Statement: { Sid: string }[];
    };
    assert.deepEqual(
      policy.Statement.map((statement) => statement.Sid),
      ["TaskMountsThroughAccessPoints", "DenyWithoutTls"],
    );
  });

  it("gives EFS volumes only when an EFS file system is given", () => {
    assert.deepEqual(
      taskVolumes().map((volume) => Object.keys(volume)),
      [["name"], ["name"], ["name"], ["name"], ["name"]],
    );
  });

  for (const [key, value, message] of [
    [
      "aura:storage",
      "s3",
      'aura:storage = "s3" is not allowed: choose one of efs, ephemeral, managed',
    ],
    [
      "aura:enableExecuteCommand",
      "yes",
      'aura:enableExecuteCommand = "yes" is not allowed: choose true or false',
    ],
  ] as const) {
    it(`rejects ${key} = ${value}, naming the key, the value and what is allowed`, () => {
      assert.throws(
        () => parseAuraConfig({ ...readStackConfig("dev"), [key]: value }, "dev"),
        (error: ConfigError) => {
          assert.deepEqual(error.problems, [message]);
          return true;
        },
      );
    });
  }
});
