import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import {
  InputTransformer,
  deploymentFailedPattern,
  serviceEventMessage,
  taskStartImpairedPattern,
  taskStoppedMessage,
  taskStoppedPattern,
} from "../lib/alerts";

export interface AlertsArgs {
  readonly stack: string;
  readonly clusterName: pulumi.Input<string>;
  readonly clusterArn: pulumi.Input<string>;
  readonly serviceName: pulumi.Input<string>;
  /** Tasks the service should run; the alarm fires when fewer run. @default 1 */
  readonly desiredCount?: number;
  /** Where to email alerts; confirmed by the recipient. @default no subscription */
  readonly email?: string;
  /**
   * Minutes below the desired count before the alarm fires. A deploy stops the old task before
   * the new one is RUNNING, so this must outlast a normal deploy. @default 10
   */
  readonly belowDesiredMinutes?: number;
  readonly tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/**
 * Tells people when the service stops tasks, fails a deployment, cannot start tasks, or runs
 * fewer tasks than it should: each cause of a restart loop is named within minutes.
 */
export class Alerts extends pulumi.ComponentResource {
  public readonly topic: aws.sns.Topic;
  public readonly rules: aws.cloudwatch.EventRule[];
  public readonly alarm: aws.cloudwatch.MetricAlarm;
  private readonly stack: string;

  constructor(name: string, args: AlertsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("aura:monitoring:Alerts", name, {}, opts);
    const { stack } = args;
    this.stack = stack;

    this.topic = new aws.sns.Topic(
      `${name}-topic`,
      { name: `aura-${stack}-alerts`, tags: args.tags },
      { parent: this },
    );
    if (args.email !== undefined) {
      new aws.sns.TopicSubscription(
        `${name}-email`,
        { topic: this.topic.arn, protocol: "email", endpoint: args.email },
        { parent: this },
      );
    }

    const serviceArn = this.serviceArn(args);
    this.rules = [
      this.rule(name, "task-stopped", {
        description: `Aura ${stack}: a task of the service stopped (not a scale-down)`,
        pattern: pulumi
          .all([args.clusterArn, args.serviceName])
          .apply(([clusterArn, serviceName]) => taskStoppedPattern(clusterArn, serviceName)),
        message: taskStoppedMessage(stack),
      }),
      this.rule(name, "deployment-failed", {
        description: `Aura ${stack}: the deployment circuit breaker failed a deployment`,
        pattern: serviceArn.apply(deploymentFailedPattern),
        message: serviceEventMessage(stack, "deployment failed and was rolled back"),
      }),
      this.rule(name, "task-start-impaired", {
        description: `Aura ${stack}: the service cannot get tasks to RUNNING`,
        pattern: serviceArn.apply(taskStartImpairedPattern),
        message: serviceEventMessage(stack, "tasks keep failing to start"),
      }),
    ];
    this.alarm = this.belowDesiredAlarm(name, args);
    this.allowPublishers(name, this.rules, [this.alarm]);
    this.registerOutputs({ topicArn: this.topic.arn });
  }

  /** Service ARNs are not an output of the awsx service; account and partition come from AWS. */
  private serviceArn(args: AlertsArgs): pulumi.Output<string> {
    const identity = aws.getCallerIdentityOutput({}, { parent: this });
    const partition = aws.getPartitionOutput({}, { parent: this });
    const region = aws.getRegionOutput({}, { parent: this });
    return pulumi.interpolate`arn:${partition.partition}:ecs:${region.region}:${identity.accountId}:service/${args.clusterName}/${args.serviceName}`;
  }

  /**
   * Only these rules and alarms may publish to the topic: every alarm or rule that targets the
   * topic must be passed here, or SNS refuses its messages.
   */
  private allowPublishers(
    name: string,
    rules: readonly aws.cloudwatch.EventRule[],
    alarms: readonly aws.cloudwatch.MetricAlarm[],
  ): void {
    const identity = aws.getCallerIdentityOutput({}, { parent: this });
    new aws.sns.TopicPolicy(
      `${name}-topic-policy`,
      {
        arn: this.topic.arn,
        policy: pulumi
          .all([
            this.topic.arn,
            identity.accountId,
            pulumi.all(rules.map((rule) => rule.arn)),
            pulumi.all(alarms.map((alarm) => alarm.arn)),
          ])
          .apply(([topicArn, accountId, ruleArns, alarmArns]) =>
            JSON.stringify(alertTopicPolicy(topicArn, accountId, ruleArns, alarmArns)),
          ),
      },
      { parent: this },
    );
  }

  private rule(
    name: string,
    suffix: string,
    spec: { description: string; pattern: pulumi.Output<object>; message: InputTransformer },
  ): aws.cloudwatch.EventRule {
    const rule = new aws.cloudwatch.EventRule(
      `${name}-${suffix}`,
      {
        name: `aura-${this.stack}-${suffix}`,
        description: spec.description,
        eventPattern: spec.pattern.apply((pattern) => JSON.stringify(pattern)),
        state: "ENABLED",
      },
      { parent: this },
    );
    new aws.cloudwatch.EventTarget(
      `${name}-${suffix}-target`,
      {
        rule: rule.name,
        targetId: "sns",
        arn: this.topic.arn,
        inputTransformer: { ...spec.message },
      },
      { parent: this },
    );
    return rule;
  }

  /** Container Insights reports both counts per minute; their difference is the shortfall. */
  private belowDesiredAlarm(name: string, args: AlertsArgs): aws.cloudwatch.MetricAlarm {
    const minutes = args.belowDesiredMinutes ?? 10;
    const dimensions = { ClusterName: args.clusterName, ServiceName: args.serviceName };
    const metric = (id: string, metricName: string) => ({
      id,
      metric: {
        namespace: "ECS/ContainerInsights",
        metricName,
        dimensions,
        period: 60,
        stat: "Average",
      },
    });
    return new aws.cloudwatch.MetricAlarm(
      `${name}-below-desired`,
      {
        name: `aura-${args.stack}-below-desired`,
        alarmDescription: `Aura ${args.stack}: fewer tasks RUNNING than desired for ${minutes} minutes`,
        comparisonOperator: "LessThanThreshold",
        threshold: 0,
        evaluationPeriods: minutes,
        datapointsToAlarm: minutes,
        // No data means no running task reported at all: that is the outage, not a gap.
        treatMissingData: "breaching",
        metricQueries: [
          metric("running", "RunningTaskCount"),
          metric("desired", "DesiredTaskCount"),
          {
            id: "shortfall",
            expression: "running - desired",
            label: "Running minus desired tasks",
            returnData: true,
          },
        ],
        alarmActions: [this.topic.arn],
        okActions: [this.topic.arn],
        tags: args.tags,
      },
      { parent: this },
    );
  }
}

/**
 * The alert topic's policy: the stack's EventBridge rules and CloudWatch alarms may publish, in
 * this account, and nothing else. `aws:SourceArn` names each publisher, and `aws:SourceAccount`
 * pins the account too, so another account's rule or alarm with a look-alike name is refused
 * (the confused-deputy guard both services document for SNS targets).
 */
export function alertTopicPolicy(
  topicArn: string,
  accountId: string,
  ruleArns: readonly string[],
  alarmArns: readonly string[],
): object {
  const publish = (sid: string, service: string, sources: readonly string[]) => ({
    Sid: sid,
    Effect: "Allow",
    Principal: { Service: service },
    Action: "sns:Publish",
    Resource: topicArn,
    Condition: {
      StringEquals: { "aws:SourceAccount": accountId },
      ArnEquals: { "aws:SourceArn": [...sources] },
    },
  });
  return {
    Version: "2012-10-17",
    Statement: [
      publish("StackRulesPublish", "events.amazonaws.com", ruleArns),
      publish("StackAlarmsPublish", "cloudwatch.amazonaws.com", alarmArns),
    ],
  };
}
