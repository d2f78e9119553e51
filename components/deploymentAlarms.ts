import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { DEPLOYMENT_ALARMS, deploymentAlarmName } from "../lib/deploymentAlarms";

export interface DeploymentAlarmsArgs {
  readonly stack: string;
  /** The ALB's `arnSuffix` (`app/<name>/<id>`), the metrics' LoadBalancer dimension. */
  readonly loadBalancerArnSuffix: pulumi.Input<string>;
  /** The target group's `arnSuffix` (`targetgroup/<name>/<id>`), the TargetGroup dimension. */
  readonly targetGroupArnSuffix: pulumi.Input<string>;
  readonly tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/**
 * The alarms the service's deployments watch (`lib/deploymentAlarms.ts` says which and why).
 * They exist before the service that names them, so ECS can read them from the first deploy.
 */
export class DeploymentAlarms extends pulumi.ComponentResource {
  public readonly alarms: aws.cloudwatch.MetricAlarm[];
  /** The names to give the service's `alarms.alarmNames`. */
  public readonly alarmNames: string[];

  constructor(name: string, args: DeploymentAlarmsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("aura:monitoring:DeploymentAlarms", name, {}, opts);
    this.alarmNames = DEPLOYMENT_ALARMS.map((spec) => deploymentAlarmName(args.stack, spec));
    this.alarms = DEPLOYMENT_ALARMS.map(
      (spec) =>
        new aws.cloudwatch.MetricAlarm(
          `${name}-${spec.suffix}`,
          {
            name: deploymentAlarmName(args.stack, spec),
            alarmDescription: `Aura ${args.stack}: ${spec.description}`,
            namespace: "AWS/ApplicationELB",
            metricName: spec.metricName,
            dimensions: {
              LoadBalancer: args.loadBalancerArnSuffix,
              TargetGroup: args.targetGroupArnSuffix,
            },
            statistic: spec.statistic,
            period: spec.period,
            evaluationPeriods: spec.evaluationPeriods,
            datapointsToAlarm: spec.datapointsToAlarm,
            comparisonOperator: spec.comparisonOperator,
            threshold: spec.threshold,
            treatMissingData: spec.treatMissingData,
            tags: args.tags,
          },
          { parent: this },
        ),
    );
    this.registerOutputs({ alarmNames: this.alarmNames });
  }
}
