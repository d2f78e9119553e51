import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { DATA_DIRECTORIES } from "../lib/containers";
import { DATABASE_NAMES, DatabaseName, EfsVolumes } from "../lib/taskDefinition";

/**
 * The file system and its access points hold the databases' files. `protect` makes `pulumi
 * destroy` and any replacement stop with an error before anything is deleted (a replacement
 * would start the databases empty); `retainOnDelete` keeps them in AWS even after someone
 * unprotects them and destroys. The README says how to really delete them.
 */
const KEPT: pulumi.CustomResourceOptions = { protect: true, retainOnDelete: true };

/** NFS: the only port of an EFS mount target. */
export const NFS_PORT = 2049;

/** EFS's mode for each access point's root directory: the database's user alone. */
export const DATA_DIRECTORY_MODE = "0700";

export interface DatabaseStorageArgs {
  /** The VPC of the tasks; the NFS security group lives in it. */
  readonly vpcId: pulumi.Input<string>;
  /**
   * The task subnets: one mount target each, so each must be in a different availability zone
   * (EFS allows one mount target per zone). A task can mount only in a zone that has one.
   */
  readonly subnetIds: readonly pulumi.Input<string>[];
  /** The tasks' security group: the only source NFS accepts, and given egress to NFS only. */
  readonly clientSecurityGroupId: pulumi.Input<string>;
  /**
   * The task role. The file system policy lets it, and nothing else, mount through the access
   * points; without a file system policy EFS lets any client that reaches a mount target in.
   */
  readonly clientRoleArn: pulumi.Input<string>;
  /** Tags for every resource. @default none */
  readonly tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/**
 * Durable files for the three databases: an encrypted EFS file system reachable only from the
 * tasks, with one access point per database that pins the POSIX owner to the image's fixed
 * uid/gid (DATA_DIRECTORIES), mounted over TLS with IAM authorization. One writer at a time is
 * the service's job (desired count 1, maximumPercent 100): two PostgreSQL servers on the same
 * directory would corrupt it.
 */
export class DatabaseStorage extends pulumi.ComponentResource {
  public readonly fileSystem: aws.efs.FileSystem;
  public readonly securityGroup: aws.ec2.SecurityGroup;
  public readonly mountTargets: aws.efs.MountTarget[];
  public readonly accessPoints: Readonly<Record<DatabaseName, aws.efs.AccessPoint>>;
  /** What `taskVolumes` needs: the file system and access point IDs. */
  public readonly volumes: pulumi.Output<EfsVolumes>;
  /** The access points' ARNs, for the task role's `elasticfilesystem:AccessPointArn` condition. */
  public readonly accessPointArns: pulumi.Output<string[]>;
  /**
   * What must exist before a task can mount: the mount targets, the file system policy and the
   * NFS rules between the tasks and the mount targets.
   */
  public readonly readiness: pulumi.Resource[];

  constructor(name: string, args: DatabaseStorageArgs, opts?: pulumi.ComponentResourceOptions) {
    super("aura:storage:DatabaseStorage", name, {}, opts);
    if (args.subnetIds.length === 0) {
      throw new pulumi.ResourceError(
        "DatabaseStorage needs at least one task subnet for a mount target",
        this,
      );
    }

    this.fileSystem = this.createFileSystem(name, args);
    const { securityGroup, rules } = this.createSecurityGroup(name, args);
    this.securityGroup = securityGroup;
    this.mountTargets = args.subnetIds.map(
      (subnetId, index) =>
        new aws.efs.MountTarget(
          `${name}-mount-${index}`,
          { fileSystemId: this.fileSystem.id, subnetId, securityGroups: [this.securityGroup.id] },
          { parent: this },
        ),
    );
    this.accessPoints = Object.fromEntries(
      DATABASE_NAMES.map((database) => [database, this.createAccessPoint(name, database, args)]),
    ) as Record<DatabaseName, aws.efs.AccessPoint>;
    this.accessPointArns = pulumi.all(DATABASE_NAMES.map((db) => this.accessPoints[db].arn));
    this.readiness = [...this.mountTargets, this.createFileSystemPolicy(name, args), ...rules];

    this.volumes = pulumi
      .all([this.fileSystem.id, pulumi.all(DATABASE_NAMES.map((db) => this.accessPoints[db].id))])
      .apply(([fileSystemId, ids]) => ({
        fileSystemId,
        accessPointIds: Object.fromEntries(
          DATABASE_NAMES.map((database, index) => [database, ids[index]]),
        ) as Record<DatabaseName, string>,
      }));
    this.registerOutputs({ fileSystemId: this.fileSystem.id, volumes: this.volumes });
  }

  private createFileSystem(name: string, args: DatabaseStorageArgs): aws.efs.FileSystem {
    const fileSystem = new aws.efs.FileSystem(
      `${name}-fs`,
      {
        encrypted: true,
        // Elastic throughput follows the load; bursting would throttle a small file system
        // (a few GiB of databases earn almost no burst credits) exactly when it is busiest.
        throughputMode: "elastic",
        tags: args.tags,
      },
      { parent: this, ...KEPT },
    );
    // Durable is not only "survives the task": AWS Backup's daily EFS backups, kept 35 days.
    new aws.efs.BackupPolicy(
      `${name}-backup`,
      { fileSystemId: fileSystem.id, backupPolicy: { status: "ENABLED" } },
      { parent: this },
    );
    return fileSystem;
  }

  /** NFS from the tasks only; no egress (security groups are stateful: replies still flow). */
  private createSecurityGroup(
    name: string,
    args: DatabaseStorageArgs,
  ): { securityGroup: aws.ec2.SecurityGroup; rules: pulumi.Resource[] } {
    const securityGroup = new aws.ec2.SecurityGroup(
      `${name}-nfs-sg`,
      {
        vpcId: args.vpcId,
        description: "Aura EFS mount targets: NFS from the tasks only",
        tags: args.tags,
      },
      { parent: this },
    );
    const ingress = new aws.vpc.SecurityGroupIngressRule(
      `${name}-nfs-from-tasks`,
      {
        securityGroupId: securityGroup.id,
        description: "NFS from the Aura tasks only",
        ipProtocol: "tcp",
        fromPort: NFS_PORT,
        toPort: NFS_PORT,
        referencedSecurityGroupId: args.clientSecurityGroupId,
      },
      { parent: this },
    );
    const egress = new aws.vpc.SecurityGroupEgressRule(
      `${name}-tasks-to-nfs`,
      {
        securityGroupId: args.clientSecurityGroupId,
        description: "NFS to the database file system",
        ipProtocol: "tcp",
        fromPort: NFS_PORT,
        toPort: NFS_PORT,
        referencedSecurityGroupId: securityGroup.id,
      },
      { parent: this },
    );
    return { securityGroup, rules: [ingress, egress] };
  }

  /**
   * Whatever process opens the files, EFS acts as the database's own uid/gid, and creates the
   * directory with that owner and mode 0700 on first use: PostgreSQL refuses a data directory
   * that others can read, and no database can read another's files.
   */
  private createAccessPoint(
    name: string,
    database: DatabaseName,
    args: DatabaseStorageArgs,
  ): aws.efs.AccessPoint {
    const { uid, gid } = DATA_DIRECTORIES[database];
    return new aws.efs.AccessPoint(
      `${name}-${database}`,
      {
        fileSystemId: this.fileSystem.id,
        posixUser: { uid, gid },
        rootDirectory: {
          path: `/${database}`,
          creationInfo: { ownerUid: uid, ownerGid: gid, permissions: DATA_DIRECTORY_MODE },
        },
        tags: args.tags,
      },
      { parent: this, ...KEPT },
    );
  }

  private createFileSystemPolicy(
    name: string,
    args: DatabaseStorageArgs,
  ): aws.efs.FileSystemPolicy {
    return new aws.efs.FileSystemPolicy(
      `${name}-policy`,
      {
        fileSystemId: this.fileSystem.id,
        policy: pulumi
          .all([this.fileSystem.arn, args.clientRoleArn, this.accessPointArns])
          .apply(([fileSystemArn, roleArn, accessPointArns]) =>
            JSON.stringify(fileSystemPolicy(fileSystemArn, roleArn, accessPointArns)),
          ),
      },
      { parent: this },
    );
  }
}

/**
 * The file system's own policy. Its mere presence turns off EFS's default of letting in any
 * client that reaches a mount target; it then lets in the task role, through the access points
 * only, and refuses every connection without TLS.
 */
export function fileSystemPolicy(
  fileSystemArn: string,
  roleArn: string,
  accessPointArns: readonly string[],
): object {
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "TaskMountsThroughAccessPoints",
        Effect: "Allow",
        Principal: { AWS: roleArn },
        Action: ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"],
        Resource: fileSystemArn,
        Condition: { StringEquals: { "elasticfilesystem:AccessPointArn": [...accessPointArns] } },
      },
      {
        Sid: "DenyWithoutTls",
        Effect: "Deny",
        Principal: { AWS: "*" },
        Action: "*",
        Resource: fileSystemArn,
        Condition: { Bool: { "aws:SecureTransport": "false" } },
      },
    ],
  };
}
