import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { DATABASE_NAME, DATABASE_USER } from "../lib/containers";
import {
  DOCUMENTDB_USER,
  DatabaseEndpoints,
  ENGINES,
  MANAGED_PORTS,
  ManagedDatabaseSettings,
} from "../lib/managedDatabases";

/** The three engines, by the names their security groups and parameters use. */
export const MANAGED_ENGINES = ["postgres", "redis", "mongodb"] as const;
export type ManagedEngine = (typeof MANAGED_ENGINES)[number];

/** The RDS CA that signs the instance's and the cluster's certificates (in global-bundle.pem). */
export const RDS_CA_IDENTIFIER = "rds-ca-rsa2048-g1";

export interface ManagedDatabasesArgs {
  /** The VPC of the tasks; the engines' security groups live in it. */
  readonly vpcId: pulumi.Input<string>;
  /**
   * The task subnets: the engines' subnet groups. RDS, ElastiCache and DocumentDB need at least
   * two, in different availability zones (checked with the stack config).
   */
  readonly subnetIds: readonly pulumi.Input<string>[];
  /** The tasks' security group: the only source each engine accepts, on its own port. */
  readonly clientSecurityGroupId: pulumi.Input<string>;
  /** Sizes, backups, deletion protection and Multi-AZ, already validated. */
  readonly settings: ManagedDatabaseSettings;
  /**
   * The passwords the apps read from Secrets Manager (`POSTGRES_PASSWORD`, `REDIS_PASSWORD`,
   * `MONGO_PASSWORD`): the master passwords and the Redis AUTH token. Kept secret.
   */
  readonly passwords: Readonly<Record<ManagedEngine, pulumi.Input<string>>>;
  /**
   * Starts the final snapshots' names (`<prefix>-postgres-final`, ...): letters, digits and
   * single hyphens, starting with a letter.
   */
  readonly snapshotPrefix: string;
  /** Tags for every resource. @default none */
  readonly tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/**
 * The databases as AWS runs them, for a service of any number of tasks: PostgreSQL 15 on RDS,
 * Redis on ElastiCache and MongoDB-compatible DocumentDB. Each is encrypted at rest, refuses
 * connections without TLS, is never publicly reachable, and sits in its own security group
 * that admits the tasks' group on its own port only.
 */
export class ManagedDatabases extends pulumi.ComponentResource {
  public readonly securityGroups: Readonly<Record<ManagedEngine, aws.ec2.SecurityGroup>>;
  public readonly postgres: aws.rds.Instance;
  public readonly postgresParameters: aws.rds.ParameterGroup;
  public readonly redis: aws.elasticache.ReplicationGroup;
  public readonly documentDb: aws.docdb.Cluster;
  public readonly documentDbInstances: aws.docdb.ClusterInstance[];
  /** Where the apps connect: RDS's address, Redis's primary endpoint, the cluster endpoint. */
  public readonly endpoints: pulumi.Output<DatabaseEndpoints>;
  /** What must exist before a task can use the engines. */
  public readonly readiness: pulumi.Resource[];

  constructor(name: string, args: ManagedDatabasesArgs, opts?: pulumi.ComponentResourceOptions) {
    super("aura:databases:ManagedDatabases", name, {}, opts);
    if (args.subnetIds.length < 2) {
      throw new pulumi.ResourceError(
        `ManagedDatabases needs at least 2 task subnets in different availability zones for its subnet groups, got ${args.subnetIds.length}`,
        this,
      );
    }

    this.securityGroups = Object.fromEntries(
      MANAGED_ENGINES.map((engine) => [engine, this.createSecurityGroup(name, engine, args)]),
    ) as Record<ManagedEngine, aws.ec2.SecurityGroup>;
    this.postgresParameters = this.createPostgresParameters(name, args);
    this.postgres = this.createPostgres(name, args);
    this.redis = this.createRedis(name, args);
    this.documentDb = this.createDocumentDb(name, args);
    this.documentDbInstances = this.createDocumentDbInstances(name, args);
    this.readiness = [this.postgres, this.redis, ...this.documentDbInstances];

    this.endpoints = pulumi
      .all([this.postgres.address, this.redis.primaryEndpointAddress, this.documentDb.endpoint])
      .apply(([postgres, redis, mongodb]) => ({
        postgres: { host: postgres, port: MANAGED_PORTS.postgres },
        redis: { host: redis, port: MANAGED_PORTS.redis },
        mongodb: { host: mongodb, port: MANAGED_PORTS.mongodb },
      }));
    this.registerOutputs({ endpoints: this.endpoints });
  }

  /**
   * The engine's port from the tasks only, and the tasks' egress to it (their group allows
   * HTTPS out alone). No egress of its own: security groups are stateful, replies still flow.
   */
  private createSecurityGroup(
    name: string,
    engine: ManagedEngine,
    args: ManagedDatabasesArgs,
  ): aws.ec2.SecurityGroup {
    const port = MANAGED_PORTS[engine];
    const securityGroup = new aws.ec2.SecurityGroup(
      `${name}-${engine}-sg`,
      {
        vpcId: args.vpcId,
        description: `Aura ${engine}: port ${port} from the tasks only`,
        tags: args.tags,
      },
      { parent: this },
    );
    new aws.vpc.SecurityGroupIngressRule(
      `${name}-${engine}-from-tasks`,
      {
        securityGroupId: securityGroup.id,
        description: `${engine} from the Aura tasks only`,
        ipProtocol: "tcp",
        fromPort: port,
        toPort: port,
        referencedSecurityGroupId: args.clientSecurityGroupId,
      },
      { parent: this },
    );
    new aws.vpc.SecurityGroupEgressRule(
      `${name}-tasks-to-${engine}`,
      {
        securityGroupId: args.clientSecurityGroupId,
        description: `To the managed ${engine}`,
        ipProtocol: "tcp",
        fromPort: port,
        toPort: port,
        referencedSecurityGroupId: securityGroup.id,
      },
      { parent: this },
    );
    return securityGroup;
  }

  /** `rds.force_ssl = 1`: the server refuses every connection that is not TLS. */
  private createPostgresParameters(name: string, args: ManagedDatabasesArgs) {
    return new aws.rds.ParameterGroup(
      `${name}-postgres-params`,
      {
        family: ENGINES.postgres.parameterFamily,
        description: "Aura PostgreSQL: TLS required",
        // A dynamic parameter: it applies without a reboot.
        parameters: [{ name: "rds.force_ssl", value: "1", applyMethod: "immediate" }],
        tags: args.tags,
      },
      { parent: this },
    );
  }

  private createPostgres(name: string, args: ManagedDatabasesArgs): aws.rds.Instance {
    const { settings } = args;
    const subnetGroup = new aws.rds.SubnetGroup(
      `${name}-postgres-subnets`,
      {
        description: "Aura PostgreSQL: the task subnets",
        subnetIds: [...args.subnetIds],
        tags: args.tags,
      },
      { parent: this },
    );
    return new aws.rds.Instance(
      `${name}-postgres`,
      {
        engine: ENGINES.postgres.engine,
        engineVersion: ENGINES.postgres.version,
        instanceClass: settings.postgresInstanceClass,
        allocatedStorage: settings.postgresStorageGb,
        storageType: "gp3",
        storageEncrypted: true,
        dbName: DATABASE_NAME,
        username: DATABASE_USER,
        password: pulumi.secret(args.passwords.postgres),
        port: MANAGED_PORTS.postgres,
        dbSubnetGroupName: subnetGroup.name,
        vpcSecurityGroupIds: [this.securityGroups.postgres.id],
        parameterGroupName: this.postgresParameters.name,
        caCertIdentifier: RDS_CA_IDENTIFIER,
        publiclyAccessible: false,
        multiAz: settings.multiAz,
        backupRetentionPeriod: settings.backupRetentionDays,
        deletionProtection: settings.deletionProtection,
        autoMinorVersionUpgrade: true,
        copyTagsToSnapshot: true,
        // A destroy (once deletion protection is off) keeps the data as a snapshot.
        skipFinalSnapshot: false,
        finalSnapshotIdentifier: `${args.snapshotPrefix}-postgres-final`,
        tags: args.tags,
      },
      { parent: this },
    );
  }

  /**
   * One shard (cluster mode off): the app uses plain Redis commands on the primary endpoint.
   * With Multi-AZ a replica in another zone takes over automatically.
   */
  private createRedis(name: string, args: ManagedDatabasesArgs): aws.elasticache.ReplicationGroup {
    const { settings } = args;
    const subnetGroup = new aws.elasticache.SubnetGroup(
      `${name}-redis-subnets`,
      {
        description: "Aura Redis: the task subnets",
        subnetIds: [...args.subnetIds],
        tags: args.tags,
      },
      { parent: this },
    );
    return new aws.elasticache.ReplicationGroup(
      `${name}-redis`,
      {
        description: "Aura Redis: the service desk's ticket cache",
        engine: ENGINES.redis.engine,
        engineVersion: ENGINES.redis.version,
        parameterGroupName: ENGINES.redis.parameterGroup,
        nodeType: settings.redisNodeType,
        port: MANAGED_PORTS.redis,
        numCacheClusters: settings.multiAz ? 2 : 1,
        automaticFailoverEnabled: settings.multiAz,
        multiAzEnabled: settings.multiAz,
        subnetGroupName: subnetGroup.name,
        securityGroupIds: [this.securityGroups.redis.id],
        atRestEncryptionEnabled: true,
        // AUTH needs in-transit encryption; "required" refuses clients without TLS.
        transitEncryptionEnabled: true,
        transitEncryptionMode: "required",
        authToken: pulumi.secret(args.passwords.redis),
        snapshotRetentionLimit: settings.backupRetentionDays,
        autoMinorVersionUpgrade: true,
        finalSnapshotIdentifier: `${args.snapshotPrefix}-redis-final`,
        tags: args.tags,
      },
      { parent: this },
    );
  }

  private createDocumentDb(name: string, args: ManagedDatabasesArgs): aws.docdb.Cluster {
    const { settings } = args;
    const subnetGroup = new aws.docdb.SubnetGroup(
      `${name}-mongodb-subnets`,
      {
        description: "Aura DocumentDB: the task subnets",
        subnetIds: [...args.subnetIds],
        tags: args.tags,
      },
      { parent: this },
    );
    // TLS is DocumentDB's default; the group pins it so that nobody can turn it off in place.
    const parameters = new aws.docdb.ClusterParameterGroup(
      `${name}-mongodb-params`,
      {
        family: ENGINES.documentDb.parameterFamily,
        description: "Aura DocumentDB: TLS required",
        parameters: [{ name: "tls", value: "enabled", applyMethod: "pending-reboot" }],
        tags: args.tags,
      },
      { parent: this },
    );
    return new aws.docdb.Cluster(
      `${name}-mongodb`,
      {
        engine: ENGINES.documentDb.engine,
        engineVersion: ENGINES.documentDb.version,
        masterUsername: DOCUMENTDB_USER,
        masterPassword: pulumi.secret(args.passwords.mongodb),
        port: MANAGED_PORTS.mongodb,
        dbSubnetGroupName: subnetGroup.name,
        vpcSecurityGroupIds: [this.securityGroups.mongodb.id],
        dbClusterParameterGroupName: parameters.name,
        storageEncrypted: true,
        backupRetentionPeriod: settings.backupRetentionDays,
        deletionProtection: settings.deletionProtection,
        skipFinalSnapshot: false,
        finalSnapshotIdentifier: `${args.snapshotPrefix}-mongodb-final`,
        tags: args.tags,
      },
      { parent: this },
    );
  }

  /** One instance, or two with Multi-AZ (DocumentDB places a replica in another zone). */
  private createDocumentDbInstances(
    name: string,
    args: ManagedDatabasesArgs,
  ): aws.docdb.ClusterInstance[] {
    const count = args.settings.multiAz ? 2 : 1;
    return Array.from(
      { length: count },
      (_, index) =>
        new aws.docdb.ClusterInstance(
          `${name}-mongodb-${index}`,
          {
            clusterIdentifier: this.documentDb.id,
            engine: ENGINES.documentDb.engine,
            instanceClass: args.settings.documentDbInstanceClass,
            caCertIdentifier: RDS_CA_IDENTIFIER,
            autoMinorVersionUpgrade: true,
            tags: args.tags,
          },
          { parent: this },
        ),
    );
  }
}
