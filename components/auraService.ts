import * as aws from "@pulumi/aws";
import * as awsx from "@pulumi/awsx";
import * as pulumi from "@pulumi/pulumi";
import { CPU_ARCHITECTURES, Platform, StorageMode } from "../lib/config";
import { DEFAULT_VPC_TASK_SUBNETS, NetworkConfig } from "../lib/network";
import {
  HTTP_ONLY_WARNING,
  HttpsConfig,
  listenerSpecs,
  publicUrl,
  zoneProblem,
} from "../lib/https";
import { ManagedDatabaseSettings } from "../lib/managedDatabases";
import {
  ContainerDefinition,
  ResourceNames,
  taskVolumes,
  withDatabaseEndpoints,
} from "../lib/taskDefinition";
import {
  DEREGISTRATION_DELAY,
  PUBLIC_CONTAINER,
  PUBLIC_PORT,
  TARGET_GROUP_HEALTH_CHECK,
  deploymentSettings,
} from "../lib/service";
import { ManagedDatabases, ManagedEngine } from "./managedDatabases";
import { shortTaskDefinition } from "../lib/rollout";
import { Clock, RolloutCallError, RolloutFailedError, waitForRollout } from "../lib/rolloutCheck";
import type { ECSClient } from "@aws-sdk/client-ecs";
import { DeploymentAlarms } from "./deploymentAlarms";
import { DatabaseStorage } from "./storage";

/** How `pulumi up` verifies the rollout (see `AuraService.verifyRollout`). */
export interface RolloutCheckArgs {
  /** The stack, for the `npm run diagnose` hint in failure messages. */
  readonly stack: string;
  /** Seconds the deployment may take before the check gives up (`rolloutBudget`). */
  readonly budgetSeconds: number;
  /** Failed tasks that trip the circuit breaker. */
  readonly threshold: number;
  /** The ECS client to read the service with; called only on `pulumi up`, never in a preview. */
  readonly createEcs: () => ECSClient;
  /** Replaced in tests. @default the real clock */
  readonly clock?: Clock;
}

export interface AuraServiceArgs {
  /** The stack: alarm names carry it. */
  readonly stack: string;
  /** Cluster, service, family and log group names. */
  readonly names: ResourceNames;
  /** The task's containers, in dependency order; their images decide the platform below. */
  readonly containerDefinitions: pulumi.Input<ContainerDefinition[]>;
  /** The images' platform: the task's `runtimePlatform.cpuArchitecture` always follows it. */
  readonly platform: Platform;
  /** Fargate task size, already checked against the Fargate table. */
  readonly cpu: number;
  readonly memory: number;
  readonly logRetentionDays: number;
  /** Seconds ECS ignores ALB and container health checks after a task starts. */
  readonly healthCheckGracePeriodSeconds: number;
  /** ECR repositories the execution role may pull from. */
  readonly repositoryArns: pulumi.Input<pulumi.Input<string>[]>;
  /** Secrets Manager secrets the execution role may read (exactly these). */
  readonly secretArns: pulumi.Input<pulumi.Input<string>[]>;
  /**
   * Where the ALB (public subnets) and the tasks (private subnets, else the public ones) run,
   * and whether tasks get a public IP. Without `vpcId`: the default VPC, the ALB in all its
   * default subnets and the tasks in the first two of them (by ID), one per zone.
   */
  readonly network: NetworkConfig;
  /**
   * `efs`: the databases' files live on EFS and survive task replacement. `ephemeral`: on the
   * task's own storage, lost on every replacement (a warning says so at every preview).
   * @default "efs"
   */
  readonly storage?: StorageMode;
  /**
   * Tasks the service runs. Above 1 only with `managed` storage (in-task databases have one
   * writer; the config refuses more). @default 1
   */
  readonly desiredCount?: number;
  /**
   * The managed engines (required with `managed` storage): their settings, the passwords the
   * apps read from Secrets Manager, and the prefix of their final snapshots' names.
   */
  readonly managedDatabases?: {
    readonly settings: ManagedDatabaseSettings;
    readonly passwords: Readonly<Record<ManagedEngine, pulumi.Input<string>>>;
    readonly snapshotPrefix: string;
  };
  /** ECS Exec: the service allows it and the task role may open its SSM channels. @default false */
  readonly enableExecuteCommand?: boolean;
  /**
   * Resources outside this component that a task needs before it can start, such as the
   * secret's value (a task whose secret has no value fails ResourceInitializationError).
   * @default none
   */
  readonly prerequisites?: readonly pulumi.Resource[];
  /**
   * Verify on `pulumi up` that the deployment of this update's task definition COMPLETED, and
   * fail the update with its causes otherwise. @default no check (awsx does not wait either)
   */
  readonly rolloutCheck?: RolloutCheckArgs;
  /**
   * HTTPS at the ALB (validated by lib/https.ts httpsProblems): `certificateArn`, or
   * `domainName` with `hostedZoneId` to request a DNS-validated ACM certificate. With a
   * certificate, HTTPS 443 forwards to the gateway and HTTP 80 redirects to it; with
   * `hostedZoneId` the domain's alias record points at the ALB.
   * @default none: plain HTTP on 80, with a warning at every preview
   */
  readonly https?: HttpsConfig;
  readonly tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

const ECS_TASKS_TRUST = JSON.stringify({
  Version: "2012-10-17",
  Statement: [
    {
      Effect: "Allow",
      Principal: { Service: "ecs-tasks.amazonaws.com" },
      Action: "sts:AssumeRole",
    },
  ],
});

/**
 * The Aura service: one Fargate task of the three containers behind a public ALB, deployed
 * with the circuit breaker and rollback so that a bad release can never loop in production.
 */
export class AuraService extends pulumi.ComponentResource {
  public readonly cluster: aws.ecs.Cluster;
  public readonly logGroup: aws.cloudwatch.LogGroup;
  public readonly taskDefinition: aws.ecs.TaskDefinition;
  public readonly loadBalancer: awsx.lb.ApplicationLoadBalancer;
  public readonly service: awsx.ecs.FargateService;
  public readonly url: pulumi.Output<string>;
  public readonly serviceName: pulumi.Output<string>;
  /** The databases' EFS storage; undefined with ephemeral or managed storage. */
  public readonly storage?: DatabaseStorage;
  /** RDS, ElastiCache and DocumentDB; only with managed storage. */
  public readonly databases?: ManagedDatabases;
  /**
   * The task definition revision (`aura-app-<stack>:N`) whose deployment `pulumi up` saw
   * COMPLETED; a failed rollout fails the update instead.
   */
  public readonly rollout: pulumi.Output<string>;
  /** The alarms that fail and roll back a deployment of the service. */
  public readonly deploymentAlarms: DeploymentAlarms;

  constructor(name: string, args: AuraServiceArgs, opts?: pulumi.ComponentResourceOptions) {
    super("aura:service:AuraService", name, {}, opts);
    const { names } = args;

    const { vpcId, loadBalancerSubnetIds, taskSubnetIds } = this.network(args);
    this.logGroup = new aws.cloudwatch.LogGroup(
      `${name}-logs`,
      { name: names.logGroup, retentionInDays: args.logRetentionDays, tags: args.tags },
      { parent: this },
    );
    const { role: executionRole, policy: executionPolicy } = this.createExecutionRole(name, args);
    const taskRole = new aws.iam.Role(
      `${name}-task-role`,
      {
        description: "Aura task role: mounts the databases' EFS volumes (and ECS Exec if enabled)",
        assumeRolePolicy: ECS_TASKS_TRUST,
        tags: args.tags,
      },
      { parent: this },
    );
    const { albSecurityGroup, taskSecurityGroup, rules } = this.createSecurityGroups(
      name,
      vpcId,
      args,
    );
    const certificateArn = this.certificate(name, args);
    if (certificateArn !== undefined) this.openHttps(name, albSecurityGroup);
    else pulumi.log.warn(HTTP_ONLY_WARNING, this);
    const storage = args.storage ?? "efs";
    if (storage === "managed") {
      this.databases = this.createManagedDatabases(name, args, {
        vpcId,
        subnetIds: taskSubnetIds,
        clientSecurityGroupId: taskSecurityGroup.id,
      });
    } else if (storage === "efs") {
      this.storage = new DatabaseStorage(
        `${name}-storage`,
        {
          vpcId,
          subnetIds: taskSubnetIds,
          clientSecurityGroupId: taskSecurityGroup.id,
          clientRoleArn: taskRole.arn,
          tags: args.tags,
        },
        { parent: this },
      );
    } else {
      pulumi.log.warn(EPHEMERAL_STORAGE_WARNING, this);
    }
    const taskRolePolicy = this.createTaskRolePolicy(name, args, taskRole);
    this.taskDefinition = this.createTaskDefinition(name, args, executionRole, taskRole);
    this.cluster = new aws.ecs.Cluster(
      `${name}-cluster`,
      {
        name: names.cluster,
        settings: [{ name: "containerInsights", value: "enabled" }],
        tags: args.tags,
      },
      { parent: this },
    );
    this.loadBalancer = this.createLoadBalancer(
      name,
      args,
      loadBalancerSubnetIds,
      albSecurityGroup,
      certificateArn,
    );
    this.createAliasRecord(name, args);
    // Everything a task needs exists before CreateService: a task started without them fails
    // (and counts against the circuit breaker on the first deploy): the execution role's policy
    // (pull, logs, secrets), the secret's value, the security-group rules (ALB to task, task to
    // ECR/Logs/Secrets Manager and NFS), the mount targets and file system policy, the task
    // role's policy, and the load balancer with its listener: CreateService refuses a target
    // group without a load balancer. awsx's ALB is a remote component; its registration
    // completes only after its children (load balancer, target group, listener) are created.
    this.deploymentAlarms = new DeploymentAlarms(
      `${name}-deployment-alarms`,
      {
        stack: args.stack,
        loadBalancerArnSuffix: this.loadBalancer.loadBalancer.arnSuffix,
        targetGroupArnSuffix: this.loadBalancer.defaultTargetGroup.arnSuffix,
        tags: args.tags,
      },
      { parent: this },
    );
    const dependsOn = [
      this.deploymentAlarms,
      executionPolicy,
      ...(args.prerequisites ?? []),
      ...rules,
      ...(this.storage?.readiness ?? []),
      ...(this.databases?.readiness ?? []),
      ...(taskRolePolicy ? [taskRolePolicy] : []),
      this.loadBalancer,
    ];
    this.service = this.createService(name, args, taskSubnetIds, taskSecurityGroup, dependsOn);

    this.url = this.loadBalancer.loadBalancer.dnsName.apply((dnsName) =>
      publicUrl(certificateArn !== undefined, dnsName, args.https?.domainName),
    );
    this.serviceName = this.service.service.name;
    this.rollout = this.verifyRollout(args);
    this.registerOutputs({ url: this.url, serviceName: this.serviceName });
  }

  /**
   * `pulumi up` ends when the rollout has ended, and fails when it did not complete. The check is
   * an `apply` on the service's outputs, which resolve only once the service update is done; it
   * runs only when not dry-run, so a preview never calls AWS. The program exports the result as
   * the `rollout` stack output, so the engine waits for it, and a failed rollout rejects it with
   * a ResourceError on this component: `pulumi up` fails with the message, not a wrapper script.
   * A dynamic provider was the alternative; it was not chosen because Pulumi serializes its
   * functions' closures into the state (with this project's AWS SDK client and the classifier's
   * modules captured from TypeScript run by the CLI's ts-node), runs them in another process
   * where pulumi.log progress is not available, and under setMocks its create never runs, so the
   * unit tests could not exercise the check through the program.
   */
  private verifyRollout(args: AuraServiceArgs): pulumi.Output<string> {
    const check = args.rolloutCheck;
    if (check === undefined) return pulumi.output("not checked");
    // The output is the revision that rolled out, the same in a preview as after the update
    // that verified it, so a preview of an unchanged stack shows no change to it.
    if (pulumi.runtime.isDryRun()) return this.taskDefinition.arn.apply(shortTaskDefinition);
    return pulumi
      .all([this.cluster.name, this.serviceName, this.taskDefinition.arn])
      .apply(async ([cluster, service, taskDefinitionArn]) => {
        try {
          const result = await waitForRollout(
            {
              cluster,
              service,
              taskDefinitionArn,
              budgetSeconds: check.budgetSeconds,
              threshold: check.threshold,
            },
            {
              ecs: check.createEcs(),
              stack: check.stack,
              clock: check.clock,
              log: (line) => pulumi.log.info(line, this),
            },
          );
          return shortTaskDefinition(result.taskDefinitionArn);
        } catch (error) {
          if (error instanceof RolloutFailedError || error instanceof RolloutCallError) {
            // hideStack: the message is the whole story; a stack trace would bury it.
            throw new pulumi.ResourceError(error.message, this, true);
          }
          throw error;
        }
      });
  }

  /**
   * The VPC, the ALB's subnets and the tasks' subnets. The task subnets are a list of fixed
   * length even in the default VPC (whose subnets are only known once looked up), because each
   * one gets an EFS mount target and resources are never created inside `apply`.
   */
  private network(args: AuraServiceArgs): {
    vpcId: pulumi.Input<string>;
    loadBalancerSubnetIds: pulumi.Input<pulumi.Input<string>[]>;
    taskSubnetIds: pulumi.Input<string>[];
  } {
    const { vpcId, publicSubnetIds, privateSubnetIds } = args.network;
    if (vpcId !== undefined) {
      return {
        vpcId,
        loadBalancerSubnetIds: [...publicSubnetIds],
        taskSubnetIds: [...(privateSubnetIds.length > 0 ? privateSubnetIds : publicSubnetIds)],
      };
    }
    const defaultVpcId = aws.ec2.getVpcOutput({ default: true }, { parent: this }).id;
    // Default subnets are one per availability zone, as EFS mount targets must be; sorted so
    // that the same two carry the tasks (and the mount targets) on every run.
    const defaultSubnetIds = aws.ec2
      .getSubnetsOutput(
        {
          filters: [
            { name: "vpc-id", values: [defaultVpcId] },
            { name: "default-for-az", values: ["true"] },
          ],
        },
        { parent: this },
      )
      .ids.apply((ids) => {
        if (ids.length < DEFAULT_VPC_TASK_SUBNETS) {
          throw new pulumi.ResourceError(
            `the default VPC has ${ids.length} default subnet(s): the ALB needs ${DEFAULT_VPC_TASK_SUBNETS} in different availability zones; set aura:vpcId and aura:publicSubnetIds`,
            this,
          );
        }
        return [...ids].sort();
      });
    return {
      vpcId: defaultVpcId,
      loadBalancerSubnetIds: defaultSubnetIds,
      taskSubnetIds: Array.from({ length: DEFAULT_VPC_TASK_SUBNETS }, (_, index) =>
        defaultSubnetIds.apply((ids) => ids[index]),
      ),
    };
  }

  /** The managed engines in the task subnets, reachable from the tasks' security group only. */
  private createManagedDatabases(
    name: string,
    args: AuraServiceArgs,
    network: {
      vpcId: pulumi.Input<string>;
      subnetIds: pulumi.Input<string>[];
      clientSecurityGroupId: pulumi.Input<string>;
    },
  ): ManagedDatabases {
    const managed = args.managedDatabases;
    if (managed === undefined) {
      throw new pulumi.ResourceError(
        "aura:storage managed needs the managed databases' settings and passwords",
        this,
      );
    }
    return new ManagedDatabases(
      `${name}-databases`,
      { ...network, ...managed, tags: args.tags },
      { parent: this },
    );
  }

  /**
   * The task role may mount exactly this file system through its access points, and open ECS
   * Exec's channels if the stack allows ECS Exec; with neither it has no policy at all.
   */
  private createTaskRolePolicy(
    name: string,
    args: AuraServiceArgs,
    role: aws.iam.Role,
  ): aws.iam.RolePolicy | undefined {
    const enableExecuteCommand = args.enableExecuteCommand ?? false;
    if (this.storage === undefined && !enableExecuteCommand) return undefined;
    const efs =
      this.storage === undefined
        ? undefined
        : pulumi.all([this.storage.fileSystem.arn, this.storage.accessPointArns]);
    return new aws.iam.RolePolicy(
      `${name}-task-policy`,
      {
        role: role.id,
        policy: pulumi
          .output(efs)
          .apply((found) =>
            JSON.stringify(
              taskRolePolicy(
                found === undefined
                  ? undefined
                  : { fileSystemArn: found[0], accessPointArns: found[1] },
                enableExecuteCommand,
              ),
            ),
          ),
      },
      { parent: this },
    );
  }

  /** The execution role pulls these images, writes this log group and reads these secrets only. */
  private createExecutionRole(
    name: string,
    args: AuraServiceArgs,
  ): { role: aws.iam.Role; policy: aws.iam.RolePolicy } {
    const role = new aws.iam.Role(
      `${name}-execution-role`,
      {
        description: "Aura execution role: pulls the images, writes the logs, reads the secrets",
        assumeRolePolicy: ECS_TASKS_TRUST,
        tags: args.tags,
      },
      { parent: this },
    );
    const policy = new aws.iam.RolePolicy(
      `${name}-execution-policy`,
      {
        role: role.id,
        policy: pulumi
          .all([args.repositoryArns, args.secretArns, this.logGroup.arn])
          .apply(([repositoryArns, secretArns, logGroupArn]) =>
            JSON.stringify(executionPolicy(repositoryArns, secretArns, logGroupArn)),
          ),
      },
      { parent: this },
    );
    return { role, policy };
  }

  private createTaskDefinition(
    name: string,
    args: AuraServiceArgs,
    executionRole: aws.iam.Role,
    taskRole: aws.iam.Role,
  ): aws.ecs.TaskDefinition {
    return new aws.ecs.TaskDefinition(
      `${name}-task`,
      {
        family: args.names.family,
        requiresCompatibilities: ["FARGATE"],
        networkMode: "awsvpc",
        cpu: String(args.cpu),
        memory: String(args.memory),
        runtimePlatform: {
          cpuArchitecture: CPU_ARCHITECTURES[args.platform],
          operatingSystemFamily: "LINUX",
        },
        executionRoleArn: executionRole.arn,
        taskRoleArn: taskRole.arn,
        volumes:
          this.storage === undefined
            ? taskVolumes(undefined, args.storage)
            : this.storage.volumes.apply((efs) => taskVolumes(efs)),
        containerDefinitions:
          this.databases === undefined
            ? pulumi
                .output(args.containerDefinitions)
                .apply((definitions) => JSON.stringify(definitions))
            : pulumi
                .all([args.containerDefinitions, this.databases.endpoints])
                .apply(([definitions, endpoints]) =>
                  JSON.stringify(
                    withDatabaseEndpoints(definitions, { endpoints, security: "managed" }),
                  ),
                ),
        tags: args.tags,
      },
      { parent: this },
    );
  }

  /**
   * The ALB takes HTTP from anywhere and talks only to the gateway's port on the tasks; the
   * tasks take that port from the ALB alone. Nothing else in the task is reachable.
   */
  private createSecurityGroups(name: string, vpcId: pulumi.Input<string>, args: AuraServiceArgs) {
    const albSecurityGroup = new aws.ec2.SecurityGroup(
      `${name}-alb-sg`,
      { vpcId, description: "Aura ALB: HTTP from the internet", tags: args.tags },
      { parent: this },
    );
    const taskSecurityGroup = new aws.ec2.SecurityGroup(
      `${name}-task-sg`,
      { vpcId, description: "Aura tasks: the gateway port from the ALB only", tags: args.tags },
      { parent: this },
    );
    const rules: pulumi.Resource[] = [];
    for (const [suffix, cidr] of [
      ["ipv4", { cidrIpv4: "0.0.0.0/0" }],
      ["ipv6", { cidrIpv6: "::/0" }],
    ] as const) {
      const rule = new aws.vpc.SecurityGroupIngressRule(
        `${name}-alb-http-${suffix}`,
        {
          securityGroupId: albSecurityGroup.id,
          description: "HTTP from the internet",
          ipProtocol: "tcp",
          fromPort: 80,
          toPort: 80,
          ...cidr,
        },
        { parent: this },
      );
      rules.push(rule);
    }
    const albToTasks = new aws.vpc.SecurityGroupEgressRule(
      `${name}-alb-to-tasks`,
      {
        securityGroupId: albSecurityGroup.id,
        description: "To the gateway on the tasks",
        ipProtocol: "tcp",
        fromPort: PUBLIC_PORT,
        toPort: PUBLIC_PORT,
        referencedSecurityGroupId: taskSecurityGroup.id,
      },
      { parent: this },
    );
    const tasksFromAlb = new aws.vpc.SecurityGroupIngressRule(
      `${name}-tasks-from-alb`,
      {
        securityGroupId: taskSecurityGroup.id,
        description: "The gateway, from the ALB only",
        ipProtocol: "tcp",
        fromPort: PUBLIC_PORT,
        toPort: PUBLIC_PORT,
        referencedSecurityGroupId: albSecurityGroup.id,
      },
      { parent: this },
    );
    const tasksHttps = new aws.vpc.SecurityGroupEgressRule(
      `${name}-tasks-https`,
      {
        securityGroupId: taskSecurityGroup.id,
        description: "HTTPS to ECR, CloudWatch Logs and Secrets Manager",
        ipProtocol: "tcp",
        fromPort: 443,
        toPort: 443,
        cidrIpv4: "0.0.0.0/0",
      },
      { parent: this },
    );
    rules.push(albToTasks, tasksFromAlb, tasksHttps);
    return { albSecurityGroup, taskSecurityGroup, rules };
  }

  private createLoadBalancer(
    name: string,
    args: AuraServiceArgs,
    subnetIds: pulumi.Input<pulumi.Input<string>[]>,
    securityGroup: aws.ec2.SecurityGroup,
    certificateArn: pulumi.Input<string> | undefined,
  ): awsx.lb.ApplicationLoadBalancer {
    const listeners = listenerSpecs(certificateArn);
    return new awsx.lb.ApplicationLoadBalancer(
      `${name}-alb`,
      {
        subnetIds,
        securityGroups: [securityGroup.id],
        // awsx's default group opens every port; ours opens 80 (and 443) in and the gateway
        // port out.
        defaultSecurityGroup: { skip: true },
        // One listener keeps awsx's `listener` (and the stack's existing listener); with HTTPS
        // awsx names them by position, port 80 first (lib/https.ts listenerSpecs).
        ...(listeners.length === 1 ? { listener: listeners[0] } : { listeners }),
        defaultTargetGroup: {
          port: PUBLIC_PORT,
          protocol: "HTTP",
          targetType: "ip",
          deregistrationDelay: DEREGISTRATION_DELAY,
          healthCheck: { ...TARGET_GROUP_HEALTH_CHECK },
        },
        tags: args.tags,
      },
      { parent: this },
    );
  }

  private zoneId?: pulumi.Output<string>;

  /**
   * The zone's ID, once the zone is known to be public and to contain aura:domainName. The
   * zone's name is only known by looking it up, which previews do too: a name outside it fails
   * the preview, naming the key.
   */
  private checkedZoneId(https: HttpsConfig): pulumi.Output<string> {
    const { domainName, hostedZoneId } = https;
    this.zoneId ??= aws.route53
      .getZoneOutput({ zoneId: hostedZoneId }, { parent: this })
      .apply((zone) => {
        const problem = zoneProblem(domainName!, hostedZoneId!, zone);
        if (problem !== undefined) throw new pulumi.ResourceError(problem, this);
        return zone.zoneId;
      });
    return this.zoneId;
  }

  /**
   * The listener's certificate: the one given, or one requested from ACM for the domain and
   * validated through a CNAME in its zone (the CertificateValidation waits until ACM has issued
   * it, so the HTTPS listener never gets a pending certificate). Undefined: no HTTPS.
   */
  private certificate(name: string, args: AuraServiceArgs): pulumi.Output<string> | undefined {
    const https = args.https ?? {};
    if (https.certificateArn !== undefined) return pulumi.output(https.certificateArn);
    if (https.domainName === undefined || https.hostedZoneId === undefined) return undefined;
    const certificate = new aws.acm.Certificate(
      `${name}-certificate`,
      { domainName: https.domainName, validationMethod: "DNS", tags: args.tags },
      { parent: this },
    );
    // One name, no alternatives: ACM asks for exactly one validation record.
    const validation = certificate.domainValidationOptions.apply((options) => options[0]);
    const record = new aws.route53.Record(
      `${name}-certificate-validation`,
      {
        zoneId: this.checkedZoneId(https),
        name: validation.resourceRecordName.apply((value) => value!),
        type: validation.resourceRecordType.apply((value) => value!),
        records: [validation.resourceRecordValue.apply((value) => value!)],
        ttl: 300,
        // The same CNAME serves every certificate for the name: a leftover one is taken over.
        allowOverwrite: true,
      },
      { parent: this },
    );
    return new aws.acm.CertificateValidation(
      `${name}-certificate-validated`,
      { certificateArn: certificate.arn, validationRecordFqdns: [record.fqdn] },
      { parent: this },
    ).certificateArn;
  }

  /** HTTPS from anywhere to the ALB (port 80 stays open: it answers with the redirect). */
  private openHttps(name: string, albSecurityGroup: aws.ec2.SecurityGroup): void {
    for (const [suffix, cidr] of [
      ["ipv4", { cidrIpv4: "0.0.0.0/0" }],
      ["ipv6", { cidrIpv6: "::/0" }],
    ] as const) {
      new aws.vpc.SecurityGroupIngressRule(
        `${name}-alb-https-${suffix}`,
        {
          securityGroupId: albSecurityGroup.id,
          description: "HTTPS from the internet",
          ipProtocol: "tcp",
          fromPort: 443,
          toPort: 443,
          ...cidr,
        },
        { parent: this },
      );
    }
  }

  /** aura:domainName as an alias of the ALB, in aura:hostedZoneId; none without a zone. */
  private createAliasRecord(name: string, args: AuraServiceArgs): void {
    const https = args.https ?? {};
    if (https.domainName === undefined || https.hostedZoneId === undefined) return;
    new aws.route53.Record(
      `${name}-alias`,
      {
        zoneId: this.checkedZoneId(https),
        name: https.domainName,
        type: "A",
        aliases: [
          {
            name: this.loadBalancer.loadBalancer.dnsName,
            zoneId: this.loadBalancer.loadBalancer.zoneId,
            evaluateTargetHealth: true,
          },
        ],
      },
      { parent: this },
    );
  }

  private createService(
    name: string,
    args: AuraServiceArgs,
    subnetIds: pulumi.Input<string>[],
    securityGroup: aws.ec2.SecurityGroup,
    dependsOn: pulumi.Resource[],
  ): awsx.ecs.FargateService {
    const deployment = deploymentSettings(args.storage ?? "efs", args.desiredCount ?? 1);
    return new awsx.ecs.FargateService(
      `${name}-service`,
      {
        name: args.names.service,
        cluster: this.cluster.arn,
        taskDefinition: this.taskDefinition.arn,
        // In-task databases: a second task would be a second, diverging copy of them, so one
        // task, and a deploy stops the old one before the new one starts. Managed databases:
        // any number of tasks, and a deploy starts the new ones before stopping the old ones.
        desiredCount: deployment.desiredCount,
        deploymentMinimumHealthyPercent: deployment.minimumHealthyPercent,
        deploymentMaximumPercent: deployment.maximumPercent,
        deploymentController: { type: "ECS" },
        // awsx's own wait (the aws provider's waitForSteadyState = !continueBeforeSteadyState)
        // is off: it reports success once a rolled-back service is steady on the OLD revision,
        // and its 20-minute update timeout ends before three failing tasks have used their
        // health-check budgets. Without it the provider's create waits only for the service to be
        // ACTIVE and its update returns after UpdateService, so its customTimeouts never run
        // out during a rollout (awsx passes the component's options, customTimeouts included, not
        // to its aws.ecs.Service, which gets { parent } only). The rollout check decides instead.
        continueBeforeSteadyState: true,
        deploymentCircuitBreaker: { enable: true, rollback: true },
        // awsx spreads its args into aws.ecs.Service, so `alarms` reaches the service as given.
        alarms: {
          alarmNames: this.deploymentAlarms.alarmNames,
          enable: true,
          rollback: true,
        },
        healthCheckGracePeriodSeconds: args.healthCheckGracePeriodSeconds,
        networkConfiguration: {
          subnets: subnetIds,
          securityGroups: [securityGroup.id],
          // Only when the stack asks: public subnets have no NAT, so a task there needs a public
          // IP to reach ECR, Logs and Secrets Manager. Inbound is still only the ALB (its group).
          assignPublicIp: args.network.assignPublicIp,
        },
        enableExecuteCommand: args.enableExecuteCommand ?? false,
        loadBalancers: [
          {
            targetGroupArn: this.loadBalancer.defaultTargetGroup.arn,
            containerName: PUBLIC_CONTAINER,
            containerPort: PUBLIC_PORT,
          },
        ],
        propagateTags: "SERVICE",
        tags: args.tags,
      },
      { parent: this, dependsOn },
    );
  }
}

/** What preview says whenever the databases run without durable storage. */
export const EPHEMERAL_STORAGE_WARNING =
  "aura:storage is ephemeral: PostgreSQL, MongoDB and Redis keep their files on the task's own storage, so all their data is lost on every task replacement (each deploy, failed health check or Fargate maintenance); set aura:storage to efs (the default) to keep it";

/**
 * The task role's policy document: the EFS client actions on this file system through its
 * access points (no ClientRootAccess: root in the container is the access point's user on
 * EFS), and ECS Exec's channels when enabled.
 */
export function taskRolePolicy(
  efs: { fileSystemArn: string; accessPointArns: readonly string[] } | undefined,
  enableExecuteCommand: boolean,
): object {
  const statements: object[] = [];
  if (efs !== undefined) {
    statements.push({
      Sid: "MountDatabaseVolumes",
      Effect: "Allow",
      Action: ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"],
      Resource: efs.fileSystemArn,
      Condition: {
        StringEquals: { "elasticfilesystem:AccessPointArn": [...efs.accessPointArns] },
      },
    });
  }
  if (enableExecuteCommand) {
    // The ssmmessages actions have no resource-level permissions: "*" is the only form.
    statements.push({
      Sid: "EcsExec",
      Effect: "Allow",
      Action: [
        "ssmmessages:CreateControlChannel",
        "ssmmessages:CreateDataChannel",
        "ssmmessages:OpenControlChannel",
        "ssmmessages:OpenDataChannel",
      ],
      Resource: "*",
    });
  }
  return { Version: "2012-10-17", Statement: statements };
}

/** The execution role's policy document: exactly these repositories, log group and secrets. */
export function executionPolicy(
  repositoryArns: readonly string[],
  secretArns: readonly string[],
  logGroupArn: string,
): object {
  const statements: object[] = [
    // GetAuthorizationToken has no resource-level permissions: "*" is the only form AWS accepts.
    { Sid: "EcrLogin", Effect: "Allow", Action: "ecr:GetAuthorizationToken", Resource: "*" },
    {
      Sid: "LogStreams",
      Effect: "Allow",
      Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
      Resource: `${logGroupArn}:log-stream:*`,
    },
  ];
  if (repositoryArns.length > 0) {
    statements.splice(1, 0, {
      Sid: "PullImages",
      Effect: "Allow",
      Action: [
        "ecr:BatchCheckLayerAvailability",
        "ecr:BatchGetImage",
        "ecr:GetDownloadUrlForLayer",
      ],
      Resource: [...repositoryArns],
    });
  }
  if (secretArns.length > 0) {
    statements.push({
      Sid: "ReadSecrets",
      Effect: "Allow",
      Action: "secretsmanager:GetSecretValue",
      Resource: [...secretArns],
    });
  }
  return { Version: "2012-10-17", Statement: statements };
}
