import * as aws from "@pulumi/aws";
import * as awsx from "@pulumi/awsx";
import * as pulumi from "@pulumi/pulumi";
import { CPU_ARCHITECTURES, Platform } from "../lib/config";
import { ContainerDefinition, ResourceNames } from "../lib/taskDefinition";
import {
  DEREGISTRATION_DELAY,
  PUBLIC_CONTAINER,
  PUBLIC_PORT,
  TARGET_GROUP_HEALTH_CHECK,
} from "../lib/service";

export interface AuraServiceArgs {
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
  /** VPC and public subnets for the ALB and tasks. @default the account's default VPC */
  readonly vpcId?: pulumi.Input<string>;
  readonly subnetIds?: pulumi.Input<pulumi.Input<string>[]>;
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

  constructor(name: string, args: AuraServiceArgs, opts?: pulumi.ComponentResourceOptions) {
    super("aura:service:AuraService", name, {}, opts);
    const { names } = args;

    const { vpcId, subnetIds } = this.network(args);
    this.logGroup = new aws.cloudwatch.LogGroup(
      `${name}-logs`,
      { name: names.logGroup, retentionInDays: args.logRetentionDays, tags: args.tags },
      { parent: this },
    );
    const executionRole = this.createExecutionRole(name, args);
    const taskRole = new aws.iam.Role(
      `${name}-task-role`,
      {
        description: "Aura task role: the apps call no AWS API",
        assumeRolePolicy: ECS_TASKS_TRUST,
        tags: args.tags,
      },
      { parent: this },
    );
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
    const { albSecurityGroup, taskSecurityGroup } = this.createSecurityGroups(name, vpcId, args);
    this.loadBalancer = this.createLoadBalancer(name, args, subnetIds, albSecurityGroup);
    this.service = this.createService(name, args, subnetIds, taskSecurityGroup);

    this.url = pulumi.interpolate`http://${this.loadBalancer.loadBalancer.dnsName}`;
    this.serviceName = this.service.service.name;
    this.registerOutputs({ url: this.url, serviceName: this.serviceName });
  }

  private network(args: AuraServiceArgs) {
    const vpcId =
      args.vpcId ?? aws.ec2.getVpcOutput({ default: true }, { parent: this }).apply((v) => v.id);
    const subnetIds =
      args.subnetIds ??
      aws.ec2
        .getSubnetsOutput({ filters: [{ name: "vpc-id", values: [vpcId] }] }, { parent: this })
        .apply((s) => s.ids);
    return { vpcId, subnetIds };
  }

  /** The execution role pulls these images, writes this log group and reads these secrets only. */
  private createExecutionRole(name: string, args: AuraServiceArgs): aws.iam.Role {
    const role = new aws.iam.Role(
      `${name}-execution-role`,
      {
        description: "Aura execution role: pulls the images, writes the logs, reads the secrets",
        assumeRolePolicy: ECS_TASKS_TRUST,
        tags: args.tags,
      },
      { parent: this },
    );
    new aws.iam.RolePolicy(
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
    return role;
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
        containerDefinitions: pulumi
          .output(args.containerDefinitions)
          .apply((definitions) => JSON.stringify(definitions)),
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
    for (const [suffix, cidr] of [
      ["ipv4", { cidrIpv4: "0.0.0.0/0" }],
      ["ipv6", { cidrIpv6: "::/0" }],
    ] as const) {
      new aws.vpc.SecurityGroupIngressRule(
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
    }
    new aws.vpc.SecurityGroupEgressRule(
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
    new aws.vpc.SecurityGroupIngressRule(
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
    new aws.vpc.SecurityGroupEgressRule(
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
    return { albSecurityGroup, taskSecurityGroup };
  }

  private createLoadBalancer(
    name: string,
    args: AuraServiceArgs,
    subnetIds: pulumi.Input<pulumi.Input<string>[]>,
    securityGroup: aws.ec2.SecurityGroup,
  ): awsx.lb.ApplicationLoadBalancer {
    return new awsx.lb.ApplicationLoadBalancer(
      `${name}-alb`,
      {
        subnetIds,
        securityGroups: [securityGroup.id],
        // awsx's default group opens every port; ours opens 80 in and the gateway port out.
        defaultSecurityGroup: { skip: true },
        listener: { port: 80, protocol: "HTTP" },
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

  private createService(
    name: string,
    args: AuraServiceArgs,
    subnetIds: pulumi.Input<pulumi.Input<string>[]>,
    securityGroup: aws.ec2.SecurityGroup,
  ): awsx.ecs.FargateService {
    return new awsx.ecs.FargateService(
      `${name}-service`,
      {
        name: args.names.service,
        cluster: this.cluster.arn,
        taskDefinition: this.taskDefinition.arn,
        // The databases live in the task: a second task would be a second, diverging copy of
        // them. One task, and a deploy stops the old one before the new one starts.
        desiredCount: 1,
        deploymentMinimumHealthyPercent: 0,
        deploymentMaximumPercent: 100,
        deploymentController: { type: "ECS" },
        deploymentCircuitBreaker: { enable: true, rollback: true },
        healthCheckGracePeriodSeconds: args.healthCheckGracePeriodSeconds,
        networkConfiguration: {
          subnets: subnetIds,
          securityGroups: [securityGroup.id],
          // Public subnets of the default VPC have no NAT: the task needs a public IP to reach
          // ECR, Logs and Secrets Manager. Inbound is still only the ALB (security group).
          assignPublicIp: true,
        },
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
      { parent: this },
    );
  }
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
