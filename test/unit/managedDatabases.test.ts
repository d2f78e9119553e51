import { strict as assert } from "assert";
import { HTTP_ONLY_WARNING } from "../../lib/https";
import { ConfigError, parseAuraConfig } from "../../lib/config";
import {
  DOCUMENTDB_USER,
  MANAGED_DEFAULTS,
  desiredCountProblem,
  endpointEnvironment,
  managedDatabaseProblems,
  snapshotPrefix,
} from "../../lib/managedDatabases";
import { preflight } from "../../lib/preflight";
import { deploymentSettings, serviceGracePeriod } from "../../lib/service";
import { readStackConfig } from "../../lib/stackFile";
import { ContainerDefinition, taskVolumes } from "../../lib/taskDefinition";
import { LOCAL_IMAGES, localDefinitions } from "../../local/definitions";
import { standInDefinitions, standInStorage } from "../../local/endpoints";
import { ApiModel, loadModel, validateShape } from "../awsModel";
import { ProgramRun, RecordedResource, runProgram } from "../mocks";

const SECRET_SIGNATURE = "4dabf18193072939515e22adb298388d";
const TAGS = { project: "aura", stack: "dev" };
const MANAGED = { "aura:storage": "managed", "aura:desiredCount": "3" };
const SECRET_ARN =
  "arn:aws:secretsmanager:us-east-2:123456789012:secret:aura-dev-database-credentials-AbCdEf";

/** Pulumi marks secret values in mock inputs with a signature key; returns the plain value. */
function revealSecret(value: unknown): unknown {
  assert.ok(
    value !== null && typeof value === "object" && SECRET_SIGNATURE in value,
    "expected a secret",
  );
  return (value as unknown as { value: unknown }).value;
}

function withSecret(inputs: Record<string, unknown>, key: string): Record<string, unknown> {
  return { ...inputs, [key]: revealSecret(inputs[key]) };
}

function containerDefinitions(run: ProgramRun): ContainerDefinition[] {
  return JSON.parse(run.one("aws:ecs/taskDefinition:TaskDefinition").inputs.containerDefinitions);
}

/**
 * Pulumi's input names mapped to the AWS API's members, operation by operation. Inputs that
 * only matter when the resource is deleted (final snapshots) belong to the Delete* call. Every
 * input must be mapped: an unmapped one fails the test instead of going unchecked.
 */
type Mapping = Record<string, readonly [shape: string, member: string]>;

function toApiCalls(
  resource: RecordedResource,
  mapping: Mapping,
  autonamed: readonly [shape: string, member: string, value: string][],
): Map<string, Record<string, unknown>> {
  const calls = new Map<string, Record<string, unknown>>();
  const put = (shape: string, member: string, value: unknown) =>
    calls.set(shape, { ...(calls.get(shape) ?? {}), [member]: value });
  // Pulumi names these itself (resource name plus a random suffix): the API requires them.
  for (const [shape, member, value] of autonamed) put(shape, member, value);
  for (const [key, raw] of Object.entries(resource.inputs)) {
    const target = mapping[key];
    assert.ok(target, `${resource.type} input ${key} has no API member in this test's mapping`);
    let value: unknown = raw;
    if (value !== null && typeof value === "object" && SECRET_SIGNATURE in value) {
      value = revealSecret(value);
    }
    if (key === "tags") {
      value = Object.entries(value as Record<string, string>).map(([Key, Value]) => ({
        Key,
        Value,
      }));
    }
    if (key === "parameters") {
      value = (value as { name: string; value: string; applyMethod: string }[]).map((p) => ({
        ParameterName: p.name,
        ParameterValue: p.value,
        ApplyMethod: p.applyMethod,
      }));
    }
    put(target[0], target[1], value);
  }
  return calls;
}

function assertFitsModel(
  model: ApiModel,
  operations: Record<string, string>,
  calls: Map<string, Record<string, unknown>>,
): void {
  for (const [operation, shape] of Object.entries(operations)) {
    assert.equal(model.operations[operation].input?.shape, shape, operation);
  }
  for (const [shape, request] of calls) {
    assert.ok(Object.values(operations).includes(shape), `unexpected shape ${shape}`);
    assert.deepEqual(validateShape(model, shape, request), [], shape);
  }
}

describe("managed databases (dev stack, aura:storage managed, 3 tasks, under mocks)", function () {
  this.timeout(20000);
  let run: ProgramRun;

  before(async () => {
    run = await runProgram({ overrides: MANAGED });
  });

  it("runs PostgreSQL 15 on RDS: encrypted, private, TLS-only, backed up and deletion-protected", () => {
    const instance = run.one("aws:rds/instance:Instance", "aura-databases-postgres");
    assert.deepEqual(withSecret(instance.inputs, "password"), {
      engine: "postgres",
      engineVersion: "15",
      instanceClass: "db.t4g.micro",
      allocatedStorage: 20,
      storageType: "gp3",
      storageEncrypted: true,
      dbName: "aura",
      username: "aura_user",
      password: "generated-aura-credentials-postgres-password",
      port: 5432,
      dbSubnetGroupName: "aura-databases-postgres-subnets-7f3a9c1",
      vpcSecurityGroupIds: ["aura-databases-postgres-sg-id"],
      parameterGroupName: "aura-databases-postgres-params-7f3a9c1",
      caCertIdentifier: "rds-ca-rsa2048-g1",
      publiclyAccessible: false,
      multiAz: false,
      backupRetentionPeriod: 7,
      deletionProtection: true,
      autoMinorVersionUpgrade: true,
      copyTagsToSnapshot: true,
      skipFinalSnapshot: false,
      finalSnapshotIdentifier: "aura-dev-postgres-final",
      tags: TAGS,
    });
    assert.deepEqual(run.one("aws:rds/parameterGroup:ParameterGroup").inputs, {
      family: "postgres15",
      description: "Aura PostgreSQL: TLS required",
      parameters: [{ name: "rds.force_ssl", value: "1", applyMethod: "immediate" }],
      tags: TAGS,
    });
    assert.deepEqual(run.one("aws:rds/subnetGroup:SubnetGroup").inputs, {
      description: "Aura PostgreSQL: the task subnets",
      subnetIds: ["subnet-a", "subnet-b"],
      tags: TAGS,
    });
  });

  it("runs Redis on ElastiCache with in-transit (required) and at-rest encryption and an AUTH token", () => {
    const group = run.one("aws:elasticache/replicationGroup:ReplicationGroup");
    assert.deepEqual(withSecret(group.inputs, "authToken"), {
      description: "Aura Redis: the service desk's ticket cache",
      engine: "redis",
      engineVersion: "7.1",
      parameterGroupName: "default.redis7",
      nodeType: "cache.t4g.micro",
      port: 6379,
      numCacheClusters: 1,
      automaticFailoverEnabled: false,
      multiAzEnabled: false,
      subnetGroupName: "aura-databases-redis-subnets-7f3a9c1",
      securityGroupIds: ["aura-databases-redis-sg-id"],
      atRestEncryptionEnabled: true,
      transitEncryptionEnabled: true,
      transitEncryptionMode: "required",
      authToken: "generated-aura-credentials-redis-password",
      snapshotRetentionLimit: 7,
      autoMinorVersionUpgrade: true,
      finalSnapshotIdentifier: "aura-dev-redis-final",
      tags: TAGS,
    });
    assert.deepEqual(run.one("aws:elasticache/subnetGroup:SubnetGroup").inputs.subnetIds, [
      "subnet-a",
      "subnet-b",
    ]);
  });

  it("runs MongoDB on DocumentDB 5.0: an encrypted cluster with TLS pinned on, and one instance", () => {
    const cluster = run.one("aws:docdb/cluster:Cluster");
    assert.deepEqual(withSecret(cluster.inputs, "masterPassword"), {
      engine: "docdb",
      engineVersion: "5.0.0",
      masterUsername: "aurauser",
      masterPassword: "generated-aura-credentials-mongo-password",
      port: 27017,
      dbSubnetGroupName: "aura-databases-mongodb-subnets-7f3a9c1",
      vpcSecurityGroupIds: ["aura-databases-mongodb-sg-id"],
      dbClusterParameterGroupName: "aura-databases-mongodb-params-7f3a9c1",
      storageEncrypted: true,
      backupRetentionPeriod: 7,
      deletionProtection: true,
      skipFinalSnapshot: false,
      finalSnapshotIdentifier: "aura-dev-mongodb-final",
      tags: TAGS,
    });
    assert.deepEqual(run.one("aws:docdb/clusterParameterGroup:ClusterParameterGroup").inputs, {
      family: "docdb5.0",
      description: "Aura DocumentDB: TLS required",
      parameters: [{ name: "tls", value: "enabled", applyMethod: "pending-reboot" }],
      tags: TAGS,
    });
    assert.deepEqual(run.one("aws:docdb/clusterInstance:ClusterInstance").inputs, {
      clusterIdentifier: "aura-databases-mongodb-id",
      engine: "docdb",
      instanceClass: "db.t4g.medium",
      caCertIdentifier: "rds-ca-rsa2048-g1",
      autoMinorVersionUpgrade: true,
      tags: TAGS,
    });
  });

  it("puts each engine in its own security group, open on its port to the tasks' group only", () => {
    const ports = { postgres: 5432, redis: 6379, mongodb: 27017 };
    for (const [engine, port] of Object.entries(ports)) {
      assert.deepEqual(
        run.one("aws:ec2/securityGroup:SecurityGroup", `aura-databases-${engine}-sg`).inputs,
        {
          vpcId: "vpc-0default",
          description: `Aura ${engine}: port ${port} from the tasks only`,
          tags: TAGS,
        },
      );
      assert.deepEqual(
        run.one(
          "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
          `aura-databases-${engine}-from-tasks`,
        ).inputs,
        {
          securityGroupId: `aura-databases-${engine}-sg-id`,
          description: `${engine} from the Aura tasks only`,
          ipProtocol: "tcp",
          fromPort: port,
          toPort: port,
          referencedSecurityGroupId: "aura-task-sg-id",
        },
      );
      assert.deepEqual(
        run.one(
          "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
          `aura-databases-tasks-to-${engine}`,
        ).inputs,
        {
          securityGroupId: "aura-task-sg-id",
          description: `To the managed ${engine}`,
          ipProtocol: "tcp",
          fromPort: port,
          toPort: port,
          referencedSecurityGroupId: `aura-databases-${engine}-sg-id`,
        },
      );
    }
    // Nothing else reaches an engine: one ingress rule each, none from a CIDR.
    const ingress = run
      .all("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
      .filter((rule) => String(rule.inputs.securityGroupId).startsWith("aura-databases-"));
    assert.equal(ingress.length, 3);
    assert.ok(ingress.every((rule) => rule.inputs.cidrIpv4 === undefined));
  });

  it("runs no databases container, EFS, data volume or databases repository", () => {
    const definitions = containerDefinitions(run);
    assert.deepEqual(
      definitions.map((definition) => definition.name),
      ["api-gateway", "service-desk-host"],
    );
    assert.ok(definitions.every((definition) => definition.dependsOn === undefined));
    assert.deepEqual(run.all("aws:efs/fileSystem:FileSystem"), []);
    assert.deepEqual(run.one("aws:ecs/taskDefinition:TaskDefinition").inputs.volumes, [
      { name: "api-gateway-tmp" },
      { name: "service-desk-host-tmp" },
    ]);
    assert.deepEqual(
      run.all("aws:ecr/repository:Repository").map((repository) => repository.inputs.name),
      ["aura-api-gateway", "aura-service-desk-host"],
    );
    assert.deepEqual(Object.keys(run.outputs.imageRefs as object), [
      "api-gateway",
      "service-desk-host",
    ]);
    // Managed storage is durable: no ephemeral warning (only dev's plain-HTTP one).
    assert.deepEqual(run.warnings, [HTTP_ONLY_WARNING]);
  });

  it("gives the service desk the endpoints and TLS settings in environment, the passwords as secrets", () => {
    const desk = containerDefinitions(run).find((d) => d.name === "service-desk-host")!;
    assert.deepEqual(desk.environment, [
      { name: "HOST", value: "0.0.0.0" },
      { name: "MONGO_AUTH_SOURCE", value: "admin" },
      { name: "MONGO_DB", value: "aura" },
      {
        name: "MONGO_HOST",
        value: "aura-databases-mongodb.cluster-abc123.us-east-2.docdb.amazonaws.com",
      },
      { name: "MONGO_PORT", value: "27017" },
      { name: "MONGO_REPLICA_SET", value: "rs0" },
      { name: "MONGO_RETRY_WRITES", value: "false" },
      { name: "MONGO_TLS", value: "true" },
      { name: "MONGO_TLS_CA_FILE", value: "/etc/aura/tls/global-bundle.pem" },
      { name: "MONGO_USER", value: "aurauser" },
      { name: "PORT", value: "8001" },
      { name: "POSTGRES_DB", value: "aura" },
      {
        name: "POSTGRES_HOST",
        value: "aura-databases-postgres.abc123.us-east-2.rds.amazonaws.com",
      },
      { name: "POSTGRES_PORT", value: "5432" },
      { name: "POSTGRES_SSLMODE", value: "verify-full" },
      { name: "POSTGRES_SSLROOTCERT", value: "/etc/aura/tls/global-bundle.pem" },
      { name: "POSTGRES_USER", value: "aura_user" },
      { name: "REDIS_HOST", value: "master.aura-databases-redis.abc123.use2.cache.amazonaws.com" },
      { name: "REDIS_PORT", value: "6379" },
      { name: "REDIS_TLS", value: "true" },
      { name: "REDIS_TLS_CA_FILE", value: "/etc/ssl/certs/ca-certificates.crt" },
      { name: "WORKERS", value: "1" },
    ]);
    assert.deepEqual(
      desk.secrets,
      ["POSTGRES_PASSWORD", "REDIS_PASSWORD", "MONGO_PASSWORD"].map((name) => ({
        name,
        valueFrom: `${SECRET_ARN}:${name}::`,
      })),
    );
    const environment = JSON.stringify(containerDefinitions(run).map((d) => d.environment));
    assert.ok(!environment.includes("generated-"), "no password in any environment");
  });

  it("deploys 3 tasks at 100 %/200 % with the circuit breaker, after the engines exist", () => {
    const service = run.one("awsx:ecs:FargateService").inputs;
    assert.equal(service.desiredCount, 3);
    assert.equal(service.deploymentMinimumHealthyPercent, 100);
    assert.equal(service.deploymentMaximumPercent, 200);
    assert.deepEqual(service.deploymentCircuitBreaker, { enable: true, rollback: true });
    assert.deepEqual(service.deploymentController, { type: "ECS" });
    // The deployment alarms roll a deploy back too, whatever the storage.
    assert.deepEqual(service.alarms, {
      alarmNames: ["aura-dev-target-5xx", "aura-dev-unhealthy-target"],
      enable: true,
      rollback: true,
    });
    // Every task is registered in the ALB's one target group, which spreads requests over them.
    assert.deepEqual(service.loadBalancers, [
      {
        targetGroupArn:
          "arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/aura-alb/abc",
        containerName: "api-gateway",
        containerPort: 8000,
      },
    ]);
    // No databases to wait for: the gateway's own budget (150 s) and the ALB's 20 s.
    assert.equal(service.healthCheckGracePeriodSeconds, 170);
    // The preflight's outage model: the old tasks serve until the new ones pass the ALB.
    assert.ok(
      run.infos.includes(
        "preflight deploy: expected outage per deploy 0 s (maximum 200 %, minimum healthy 100 %: 3 task(s) keep serving while the new one starts)",
      ),
      run.infos.join("\n"),
    );
  });

  it("sends CreateDBInstance, CreateDBParameterGroup and CreateDBSubnetGroup what RDS's API model accepts", () => {
    const model = loadModel("aws-rds-2014-10-31.service-2.json");
    const operations = {
      CreateDBInstance: "CreateDBInstanceMessage",
      DeleteDBInstance: "DeleteDBInstanceMessage",
      CreateDBParameterGroup: "CreateDBParameterGroupMessage",
      ModifyDBParameterGroup: "ModifyDBParameterGroupMessage",
      CreateDBSubnetGroup: "CreateDBSubnetGroupMessage",
    };
    const create = "CreateDBInstanceMessage";
    const instance = toApiCalls(
      run.one("aws:rds/instance:Instance"),
      {
        engine: [create, "Engine"],
        engineVersion: [create, "EngineVersion"],
        instanceClass: [create, "DBInstanceClass"],
        allocatedStorage: [create, "AllocatedStorage"],
        storageType: [create, "StorageType"],
        storageEncrypted: [create, "StorageEncrypted"],
        dbName: [create, "DBName"],
        username: [create, "MasterUsername"],
        password: [create, "MasterUserPassword"],
        port: [create, "Port"],
        dbSubnetGroupName: [create, "DBSubnetGroupName"],
        vpcSecurityGroupIds: [create, "VpcSecurityGroupIds"],
        parameterGroupName: [create, "DBParameterGroupName"],
        caCertIdentifier: [create, "CACertificateIdentifier"],
        publiclyAccessible: [create, "PubliclyAccessible"],
        multiAz: [create, "MultiAZ"],
        backupRetentionPeriod: [create, "BackupRetentionPeriod"],
        deletionProtection: [create, "DeletionProtection"],
        autoMinorVersionUpgrade: [create, "AutoMinorVersionUpgrade"],
        copyTagsToSnapshot: [create, "CopyTagsToSnapshot"],
        tags: [create, "Tags"],
        skipFinalSnapshot: ["DeleteDBInstanceMessage", "SkipFinalSnapshot"],
        finalSnapshotIdentifier: ["DeleteDBInstanceMessage", "FinalDBSnapshotIdentifier"],
      },
      [
        [create, "DBInstanceIdentifier", "aura-databases-postgres-7f3a9c1"],
        ["DeleteDBInstanceMessage", "DBInstanceIdentifier", "aura-databases-postgres-7f3a9c1"],
      ],
    );
    const parameters = toApiCalls(
      run.one("aws:rds/parameterGroup:ParameterGroup"),
      {
        family: ["CreateDBParameterGroupMessage", "DBParameterGroupFamily"],
        description: ["CreateDBParameterGroupMessage", "Description"],
        tags: ["CreateDBParameterGroupMessage", "Tags"],
        parameters: ["ModifyDBParameterGroupMessage", "Parameters"],
      },
      [
        ["CreateDBParameterGroupMessage", "DBParameterGroupName", "aura-databases-postgres-params"],
        ["ModifyDBParameterGroupMessage", "DBParameterGroupName", "aura-databases-postgres-params"],
      ],
    );
    const subnets = toApiCalls(
      run.one("aws:rds/subnetGroup:SubnetGroup"),
      {
        description: ["CreateDBSubnetGroupMessage", "DBSubnetGroupDescription"],
        subnetIds: ["CreateDBSubnetGroupMessage", "SubnetIds"],
        tags: ["CreateDBSubnetGroupMessage", "Tags"],
      },
      [["CreateDBSubnetGroupMessage", "DBSubnetGroupName", "aura-databases-postgres-subnets"]],
    );
    assertFitsModel(model, operations, new Map([...instance, ...parameters, ...subnets]));
  });

  it("sends CreateReplicationGroup what ElastiCache's API model accepts", () => {
    const model = loadModel("aws-elasticache-2015-02-02.service-2.json");
    const create = "CreateReplicationGroupMessage";
    const calls = toApiCalls(
      run.one("aws:elasticache/replicationGroup:ReplicationGroup"),
      {
        description: [create, "ReplicationGroupDescription"],
        engine: [create, "Engine"],
        engineVersion: [create, "EngineVersion"],
        parameterGroupName: [create, "CacheParameterGroupName"],
        nodeType: [create, "CacheNodeType"],
        port: [create, "Port"],
        numCacheClusters: [create, "NumCacheClusters"],
        automaticFailoverEnabled: [create, "AutomaticFailoverEnabled"],
        multiAzEnabled: [create, "MultiAZEnabled"],
        subnetGroupName: [create, "CacheSubnetGroupName"],
        securityGroupIds: [create, "SecurityGroupIds"],
        atRestEncryptionEnabled: [create, "AtRestEncryptionEnabled"],
        transitEncryptionEnabled: [create, "TransitEncryptionEnabled"],
        transitEncryptionMode: [create, "TransitEncryptionMode"],
        authToken: [create, "AuthToken"],
        snapshotRetentionLimit: [create, "SnapshotRetentionLimit"],
        autoMinorVersionUpgrade: [create, "AutoMinorVersionUpgrade"],
        tags: [create, "Tags"],
        finalSnapshotIdentifier: ["DeleteReplicationGroupMessage", "FinalSnapshotIdentifier"],
      },
      [
        [create, "ReplicationGroupId", "aura-databases-redis-7f3a9c1"],
        ["DeleteReplicationGroupMessage", "ReplicationGroupId", "aura-databases-redis-7f3a9c1"],
      ],
    );
    assertFitsModel(
      model,
      {
        CreateReplicationGroup: create,
        DeleteReplicationGroup: "DeleteReplicationGroupMessage",
      },
      calls,
    );
  });

  it("sends CreateDBCluster and CreateDBInstance what DocumentDB's API model accepts", () => {
    const model = loadModel("aws-docdb-2014-10-31.service-2.json");
    const cluster = "CreateDBClusterMessage";
    const instance = "CreateDBInstanceMessage";
    const calls = new Map([
      ...toApiCalls(
        run.one("aws:docdb/cluster:Cluster"),
        {
          engine: [cluster, "Engine"],
          engineVersion: [cluster, "EngineVersion"],
          masterUsername: [cluster, "MasterUsername"],
          masterPassword: [cluster, "MasterUserPassword"],
          port: [cluster, "Port"],
          dbSubnetGroupName: [cluster, "DBSubnetGroupName"],
          vpcSecurityGroupIds: [cluster, "VpcSecurityGroupIds"],
          dbClusterParameterGroupName: [cluster, "DBClusterParameterGroupName"],
          storageEncrypted: [cluster, "StorageEncrypted"],
          backupRetentionPeriod: [cluster, "BackupRetentionPeriod"],
          deletionProtection: [cluster, "DeletionProtection"],
          tags: [cluster, "Tags"],
          skipFinalSnapshot: ["DeleteDBClusterMessage", "SkipFinalSnapshot"],
          finalSnapshotIdentifier: ["DeleteDBClusterMessage", "FinalDBSnapshotIdentifier"],
        },
        [
          [cluster, "DBClusterIdentifier", "aura-databases-mongodb-7f3a9c1"],
          ["DeleteDBClusterMessage", "DBClusterIdentifier", "aura-databases-mongodb-7f3a9c1"],
        ],
      ),
      ...toApiCalls(
        run.one("aws:docdb/clusterInstance:ClusterInstance"),
        {
          clusterIdentifier: [instance, "DBClusterIdentifier"],
          engine: [instance, "Engine"],
          instanceClass: [instance, "DBInstanceClass"],
          caCertIdentifier: [instance, "CACertificateIdentifier"],
          autoMinorVersionUpgrade: [instance, "AutoMinorVersionUpgrade"],
          tags: [instance, "Tags"],
        },
        [[instance, "DBInstanceIdentifier", "aura-databases-mongodb-0-7f3a9c1"]],
      ),
    ]);
    assertFitsModel(
      model,
      {
        CreateDBCluster: cluster,
        DeleteDBCluster: "DeleteDBClusterMessage",
        CreateDBInstance: instance,
      },
      calls,
    );
    // The model documents MasterUsername as 1-63 letters or digits, the first a letter.
    assert.match(DOCUMENTDB_USER, /^[A-Za-z][A-Za-z0-9]{0,62}$/);
  });
});

describe("managed databases with Multi-AZ and other settings (under mocks)", function () {
  this.timeout(20000);

  it("adds a Redis replica with failover, a second DocumentDB instance and RDS Multi-AZ", async () => {
    const run = await runProgram({
      overrides: {
        ...MANAGED,
        "aura:databaseMultiAz": "true",
        "aura:databaseBackupRetentionDays": "14",
        "aura:databaseDeletionProtection": "false",
        "aura:postgresInstanceClass": "db.m7g.large",
        "aura:postgresStorageGb": "100",
      },
    });
    const postgres = run.one("aws:rds/instance:Instance").inputs;
    assert.equal(postgres.multiAz, true);
    assert.equal(postgres.backupRetentionPeriod, 14);
    assert.equal(postgres.deletionProtection, false);
    assert.equal(postgres.instanceClass, "db.m7g.large");
    assert.equal(postgres.allocatedStorage, 100);
    const redis = run.one("aws:elasticache/replicationGroup:ReplicationGroup").inputs;
    assert.equal(redis.numCacheClusters, 2);
    assert.equal(redis.automaticFailoverEnabled, true);
    assert.equal(redis.multiAzEnabled, true);
    assert.equal(redis.snapshotRetentionLimit, 14);
    assert.deepEqual(
      run.all("aws:docdb/clusterInstance:ClusterInstance").map((instance) => instance.name),
      ["aura-databases-mongodb-0", "aura-databases-mongodb-1"],
    );
    assert.equal(run.one("aws:docdb/cluster:Cluster").inputs.deletionProtection, false);
  });
});

describe("managed databases, as plain functions", () => {
  const parse = (overrides: Record<string, string>) =>
    parseAuraConfig({ ...readStackConfig("dev"), ...overrides }, "dev");
  const problemsOf = (overrides: Record<string, string>): readonly string[] => {
    try {
      parse(overrides);
      return [];
    } catch (error) {
      return (error as ConfigError).problems;
    }
  };

  for (const [what, overrides, message] of [
    [
      "two tasks with efs storage (one writer)",
      { "aura:desiredCount": "2" },
      "aura:desiredCount = 2 is not allowed with aura:storage efs: the databases run inside the task and their files have one writer, so the service runs exactly 1 task; set aura:storage to managed to run more",
    ],
    [
      "two tasks with ephemeral storage (one writer)",
      { "aura:desiredCount": "2", "aura:storage": "ephemeral" },
      "aura:desiredCount = 2 is not allowed with aura:storage ephemeral: the databases run inside the task and their files have one writer, so the service runs exactly 1 task; set aura:storage to managed to run more",
    ],
    [
      "no tasks",
      { "aura:desiredCount": "0", "aura:storage": "managed" },
      "aura:desiredCount = 0 is out of range: the service runs at least 1 task",
    ],
    [
      "a desired count that is not a number",
      { "aura:desiredCount": "two" },
      'aura:desiredCount = "two" must be a whole number',
    ],
    [
      "a backup retention of 0 days",
      { "aura:databaseBackupRetentionDays": "0" },
      "aura:databaseBackupRetentionDays = 0 is out of range: RDS, DocumentDB and ElastiCache keep backups 1-35 days (DocumentDB allows no 0)",
    ],
    [
      "a backup retention of 36 days",
      { "aura:databaseBackupRetentionDays": "36" },
      "aura:databaseBackupRetentionDays = 36 is out of range: RDS, DocumentDB and ElastiCache keep backups 1-35 days (DocumentDB allows no 0)",
    ],
    [
      "deletion protection that is not a boolean",
      { "aura:databaseDeletionProtection": "maybe" },
      'aura:databaseDeletionProtection = "maybe" is not allowed: choose true or false',
    ],
    [
      "Multi-AZ that is not a boolean",
      { "aura:databaseMultiAz": "2" },
      'aura:databaseMultiAz = "2" is not allowed: choose true or false',
    ],
    [
      "10 GiB of PostgreSQL storage",
      { "aura:postgresStorageGb": "10" },
      "aura:postgresStorageGb = 10 is out of range: RDS for PostgreSQL on gp3 allows 20-65536 GiB",
    ],
    [
      "an instance class without db.",
      { "aura:postgresInstanceClass": "t4g.micro" },
      'aura:postgresInstanceClass = "t4g.micro" is not an instance class: expected the form db.t4g.micro',
    ],
    [
      "a node type without cache.",
      { "aura:redisNodeType": "db.t4g.micro" },
      'aura:redisNodeType = "db.t4g.micro" is not an instance class: expected the form cache.t4g.micro',
    ],
    [
      "a burstable DocumentDB class it does not offer",
      { "aura:documentDbInstanceClass": "db.t4g.micro" },
      'aura:documentDbInstanceClass = "db.t4g.micro" is not offered by DocumentDB: its burstable classes are db.t3.medium and db.t4g.medium',
    ],
    [
      "managed storage with one private subnet",
      {
        "aura:storage": "managed",
        "aura:vpcId": "vpc-0123456789abcdef0",
        "aura:publicSubnetIds": '["subnet-0123456789abcdef0","subnet-0123456789abcdef1"]',
        "aura:privateSubnetIds": '["subnet-0123456789abcdef2"]',
        "aura:assignPublicIp": "false",
      },
      'aura:privateSubnetIds = ["subnet-0123456789abcdef2"] lists 1 task subnet(s): aura:storage managed puts the databases\' subnet groups in the task subnets, and RDS, ElastiCache and DocumentDB need at least 2, in different availability zones',
    ],
  ] as const) {
    it(`rejects ${what}, naming the key, the value and what is allowed`, () => {
      assert.deepEqual(problemsOf(overrides), [message]);
    });
  }

  it("reads the managed settings with their defaults, and a desired count above 1 with managed", () => {
    const config = parse({ "aura:storage": "managed", "aura:desiredCount": "4" });
    assert.equal(config.desiredCount, 4);
    assert.deepEqual(config.managedDatabases, MANAGED_DEFAULTS);
    assert.deepEqual(managedDatabaseProblems(MANAGED_DEFAULTS), []);
    assert.equal(desiredCountProblem(1, "efs"), undefined);
    assert.equal(desiredCountProblem(9, "managed"), undefined);
  });

  it("allows linux/arm64 with managed storage: no databases image is built", () => {
    assert.equal(
      parse({ "aura:storage": "managed", "aura:platform": "linux/arm64" }).platform,
      "linux/arm64",
    );
    assert.match(
      problemsOf({ "aura:platform": "linux/arm64" })[0],
      /needs a prebuilt aura:databases.image/,
    );
  });

  it("deploys without outage only with managed databases", () => {
    assert.deepEqual(deploymentSettings("managed", 3), {
      desiredCount: 3,
      minimumHealthyPercent: 100,
      maximumPercent: 200,
    });
    assert.deepEqual(deploymentSettings("efs", 1), {
      desiredCount: 1,
      minimumHealthyPercent: 0,
      maximumPercent: 100,
    });
  });

  it("schedules only the apps with managed storage, both starting with the task", () => {
    const config = parse({ "aura:storage": "managed" });
    const grace = serviceGracePeriod(config.containers, "managed");
    assert.equal(grace, 170);
    const report = preflight(config, { healthCheckGracePeriodSeconds: grace });
    assert.deepEqual(
      report.schedule.map((entry) => [entry.container, entry.startsAt]),
      [
        ["api-gateway", [0, 0]],
        ["service-desk-host", [0, 0]],
      ],
    );
    assert.deepEqual(
      report.findings.filter((finding) => finding.severity !== "info"),
      [],
    );
  });

  it("has no data volumes with managed storage", () => {
    assert.deepEqual(taskVolumes(undefined, "managed"), [
      { name: "api-gateway-tmp" },
      { name: "service-desk-host-tmp" },
    ]);
  });

  it("turns TLS off for a plain endpoint (the local stand-in) and keeps the in-task user", () => {
    const endpoints = {
      postgres: { host: "127.0.0.1", port: 15432 },
      redis: { host: "127.0.0.1", port: 16379 },
      mongodb: { host: "127.0.0.1", port: 37017 },
    };
    assert.deepEqual(endpointEnvironment(endpoints, "plain"), [
      { name: "MONGO_DB", value: "aura" },
      { name: "MONGO_HOST", value: "127.0.0.1" },
      { name: "MONGO_PORT", value: "37017" },
      { name: "MONGO_TLS", value: "false" },
      { name: "MONGO_USER", value: "aura_user" },
      { name: "POSTGRES_DB", value: "aura" },
      { name: "POSTGRES_HOST", value: "127.0.0.1" },
      { name: "POSTGRES_PORT", value: "15432" },
      { name: "POSTGRES_SSLMODE", value: "disable" },
      { name: "POSTGRES_USER", value: "aura_user" },
      { name: "REDIS_HOST", value: "127.0.0.1" },
      { name: "REDIS_PORT", value: "16379" },
      { name: "REDIS_TLS", value: "false" },
    ]);
  });

  it("names final snapshots from the stack with letters, digits and single hyphens", () => {
    assert.equal(snapshotPrefix("dev"), "aura-dev");
    assert.equal(snapshotPrefix("Prod_EU.1"), "aura-prod-eu-1");
    assert.equal(snapshotPrefix("__"), "aura-stack");
  });

  it("runs locally as the managed task definition does: the apps alone, pointed at the stand-in", () => {
    const config = parse({ "aura:storage": "managed" });
    const apps = localDefinitions(config, LOCAL_IMAGES);
    assert.deepEqual(
      apps.map((d) => [d.name, d.dependsOn, d.image]),
      [
        ["api-gateway", undefined, "aura-api-gateway:local"],
        ["service-desk-host", undefined, "aura-service-desk-host:local"],
      ],
    );
    const desk = apps.find((d) => d.name === "service-desk-host")!;
    assert.deepEqual(
      desk.environment.filter((v) => /_(HOST|PORT|SSLMODE|TLS)$/.test(v.name)),
      [
        { name: "MONGO_HOST", value: "127.0.0.1" },
        { name: "MONGO_PORT", value: "27017" },
        { name: "MONGO_TLS", value: "false" },
        { name: "POSTGRES_HOST", value: "127.0.0.1" },
        { name: "POSTGRES_PORT", value: "5432" },
        { name: "POSTGRES_SSLMODE", value: "disable" },
        { name: "REDIS_HOST", value: "127.0.0.1" },
        { name: "REDIS_PORT", value: "6379" },
        { name: "REDIS_TLS", value: "false" },
      ],
    );
    const [endpoint] = standInDefinitions(config, LOCAL_IMAGES.databases);
    assert.equal(endpoint.name, "databases");
    assert.equal(endpoint.image, "aura-databases:local");
    assert.deepEqual(
      endpoint.secrets?.map((secret) => secret.name),
      ["POSTGRES_PASSWORD", "REDIS_PASSWORD", "MONGO_PASSWORD"],
    );
    // The stand-in's files outlive the app tasks, as the engines' do.
    assert.deepEqual(
      standInStorage({ stack: "dev" })
        .volumes.filter((v) => v.efsVolumeConfiguration !== undefined)
        .map((v) => v.name),
      ["postgres-data", "redis-data", "mongodb-data"],
    );
  });
});
