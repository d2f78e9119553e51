import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import {
  deploymentFailedPattern,
  isEmailAddress,
  serviceEventMessage,
  taskStartImpairedPattern,
  taskStoppedMessage,
  taskStoppedPattern,
} from "../../lib/alerts";
import { REFERENCE_DIR, loadModel, validateShape } from "../awsModel";
import { matchesEventPattern } from "../eventPattern";
import { ACCOUNT, ProgramRun, runProgram } from "../mocks";

type EcsEvent = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const samples = JSON.parse(
  fs.readFileSync(path.join(REFERENCE_DIR, "aws-ecs-sample-events.json"), "utf8"),
) as Record<string, EcsEvent> & { additional: Record<string, EcsEvent> };

/** The stopped-task rule built for the cluster and service the sample event came from. */
function stoppedPatternFor(event: EcsEvent) {
  return taskStoppedPattern(event.detail.clusterArn, event.detail.group.replace(/^service:/, ""));
}

describe("alert event patterns against AWS's sample ECS events", () => {
  it("matches a stopped task of the service, with its stoppedReason", () => {
    const event = samples.taskStateChangeStopped;
    assert.equal(matchesEventPattern(stoppedPatternFor(event), event), true);
  });

  it("matches a task stopped for failed ELB health checks", () => {
    const event = samples.additional.taskStateChangeStoppedElbHealthCheck;
    assert.equal(matchesEventPattern(stoppedPatternFor(event), event), true);
  });

  it("ignores the scheduler's own scale-down stop", () => {
    const event = samples.additional.taskStateChangeStoppedScaling;
    assert.equal(matchesEventPattern(stoppedPatternFor(event), event), false);
  });

  it("ignores a RUNNING task", () => {
    const event = samples.additional.taskStateChangeRunning;
    const pattern = taskStoppedPattern(event.detail.clusterArn, "sample-fargate");
    assert.equal(matchesEventPattern(pattern, event), false);
  });

  it("ignores stopped tasks of another service or cluster", () => {
    const event = samples.taskStateChangeStopped;
    assert.equal(
      matchesEventPattern(taskStoppedPattern(event.detail.clusterArn, "Other"), event),
      false,
    );
    const otherCluster = `arn:aws:ecs:eu-west-1:${ACCOUNT}:cluster/other`;
    assert.equal(matchesEventPattern(taskStoppedPattern(otherCluster, "Webapp"), event), false);
  });

  it("matches SERVICE_DEPLOYMENT_FAILED of the service and ignores a completed deployment", () => {
    const failed = samples.deploymentStateChangeFailed;
    const completed = samples.additional.deploymentStateChangeCompleted;
    const pattern = deploymentFailedPattern(failed.resources[0]);
    assert.equal(matchesEventPattern(pattern, failed), true);
    assert.equal(matchesEventPattern(pattern, completed), false);
    assert.equal(
      matchesEventPattern(deploymentFailedPattern(`${failed.resources[0]}-other`), failed),
      false,
    );
  });

  it("matches SERVICE_TASK_START_IMPAIRED of the service and ignores steady state", () => {
    const impaired = samples.serviceActionTaskStartImpaired;
    const steady = samples.additional.serviceActionSteadyState;
    const pattern = taskStartImpairedPattern(impaired.resources[0]);
    assert.equal(matchesEventPattern(pattern, impaired), true);
    assert.equal(matchesEventPattern(pattern, steady), false);
  });

  it("pulls stoppedReason into the message", () => {
    assert.deepEqual(taskStoppedMessage("dev"), {
      inputPaths: {
        task: "$.detail.taskArn",
        reason: "$.detail.stoppedReason",
        stopCode: "$.detail.stopCode",
        time: "$.time",
      },
      inputTemplate:
        '"Aura dev: task <task> stopped at <time>: <reason> (<stopCode>). Causes and fixes: npm run diagnose -- --stack dev"',
    });
  });

  it("checks email addresses loosely", () => {
    assert.equal(isEmailAddress("ops@example.com"), true);
    assert.equal(isEmailAddress("ops@example"), false);
    assert.equal(isEmailAddress("ops example.com"), false);
  });
});

describe("alerts in the program (dev stack under mocks)", function () {
  this.timeout(20000);
  let run: ProgramRun;
  const clusterArn = `arn:aws:ecs:us-east-2:${ACCOUNT}:cluster/aura-dev-cluster`;
  const serviceArn = `arn:aws:ecs:us-east-2:${ACCOUNT}:service/aura-dev-cluster/aura-dev-service`;

  before(async () => {
    run = await runProgram({ overrides: { "aura:alertEmail": "ops@example.com" } });
  });

  it("creates three rules with this service's patterns", () => {
    const rules = run.all("aws:cloudwatch/eventRule:EventRule");
    assert.deepEqual(
      rules.map((rule) => rule.inputs.name),
      ["aura-dev-task-stopped", "aura-dev-deployment-failed", "aura-dev-task-start-impaired"],
    );
    assert.deepEqual(
      rules.map((rule) => [rule.name, JSON.parse(rule.inputs.eventPattern)]),
      [
        ["aura-alerts-task-stopped", taskStoppedPattern(clusterArn, "aura-dev-service")],
        ["aura-alerts-deployment-failed", deploymentFailedPattern(serviceArn)],
        ["aura-alerts-task-start-impaired", taskStartImpairedPattern(serviceArn)],
      ],
    );
  });

  it("sends each rule to the SNS topic with a readable message", () => {
    const topicArn = `arn:aws:sns:us-east-2:${ACCOUNT}:aura-dev-alerts`;
    const targets = run.all("aws:cloudwatch/eventTarget:EventTarget");
    assert.deepEqual(
      targets.map((target) => [target.name, target.inputs.arn, target.inputs.inputTransformer]),
      [
        ["aura-alerts-task-stopped-target", topicArn, taskStoppedMessage("dev")],
        [
          "aura-alerts-deployment-failed-target",
          topicArn,
          serviceEventMessage("dev", "deployment failed and was rolled back"),
        ],
        [
          "aura-alerts-task-start-impaired-target",
          topicArn,
          serviceEventMessage("dev", "tasks keep failing to start"),
        ],
      ],
    );
  });

  it("gives rules and targets that EventBridge's PutRule and PutTargets accept (AWS's API model)", () => {
    const model = loadModel("aws-events-2015-10-07.service-2.json");
    for (const rule of run.all("aws:cloudwatch/eventRule:EventRule")) {
      const request = {
        Name: rule.name,
        EventPattern: rule.inputs.eventPattern,
        State: rule.inputs.state,
        Description: rule.inputs.description,
      };
      assert.deepEqual(validateShape(model, model.operations.PutRule.input!.shape, request), []);
    }
    for (const target of run.all("aws:cloudwatch/eventTarget:EventTarget")) {
      const request = {
        Rule: target.inputs.rule,
        Targets: [
          {
            Id: target.inputs.targetId,
            Arn: target.inputs.arn,
            InputTransformer: {
              InputPathsMap: target.inputs.inputTransformer.inputPaths,
              InputTemplate: target.inputs.inputTransformer.inputTemplate,
            },
          },
        ],
      };
      assert.deepEqual(validateShape(model, model.operations.PutTargets.input!.shape, request), []);
    }
  });

  it("emails the stack's address", () => {
    const subscription = run.one("aws:sns/topicSubscription:TopicSubscription");
    assert.equal(subscription.inputs.protocol, "email");
    assert.equal(subscription.inputs.endpoint, "ops@example.com");
    assert.equal(run.one("aws:sns/topic:Topic").inputs.name, "aura-dev-alerts");
  });

  it("alarms when fewer tasks run than desired for ten minutes", () => {
    const alarm = run.one(
      "aws:cloudwatch/metricAlarm:MetricAlarm",
      "aura-alerts-below-desired",
    ).inputs;
    assert.equal(alarm.comparisonOperator, "LessThanThreshold");
    assert.equal(alarm.threshold, 0);
    assert.equal(alarm.evaluationPeriods, 10);
    assert.equal(alarm.datapointsToAlarm, 10);
    assert.equal(alarm.treatMissingData, "breaching");
    const dimensions = { ClusterName: "aura-dev-cluster", ServiceName: "aura-dev-service" };
    assert.deepEqual(alarm.metricQueries, [
      {
        id: "running",
        metric: {
          namespace: "ECS/ContainerInsights",
          metricName: "RunningTaskCount",
          dimensions,
          period: 60,
          stat: "Average",
        },
      },
      {
        id: "desired",
        metric: {
          namespace: "ECS/ContainerInsights",
          metricName: "DesiredTaskCount",
          dimensions,
          period: 60,
          stat: "Average",
        },
      },
      {
        id: "shortfall",
        expression: "running - desired",
        label: "Running minus desired tasks",
        returnData: true,
      },
    ]);
  });

  it("lets only this stack's three rules and its alarm publish to the topic, in this account", () => {
    const policy = run.one("aws:sns/topicPolicy:TopicPolicy").inputs;
    const topicArn = `arn:aws:sns:us-east-2:${ACCOUNT}:aura-dev-alerts`;
    assert.equal(policy.arn, topicArn);
    const condition = (sources: string[]) => ({
      StringEquals: { "aws:SourceAccount": ACCOUNT },
      ArnEquals: { "aws:SourceArn": sources },
    });
    assert.deepEqual(JSON.parse(policy.policy), {
      Version: "2012-10-17",
      Statement: [
        {
          Sid: "StackRulesPublish",
          Effect: "Allow",
          Principal: { Service: "events.amazonaws.com" },
          Action: "sns:Publish",
          Resource: topicArn,
          Condition: condition(
            ["task-stopped", "deployment-failed", "task-start-impaired"].map(
              (rule) => `arn:aws:events:us-east-2:${ACCOUNT}:rule/aura-dev-${rule}`,
            ),
          ),
        },
        {
          Sid: "StackAlarmsPublish",
          Effect: "Allow",
          Principal: { Service: "cloudwatch.amazonaws.com" },
          Action: "sns:Publish",
          Resource: topicArn,
          Condition: condition([
            `arn:aws:cloudwatch:us-east-2:${ACCOUNT}:alarm:aura-dev-below-desired`,
          ]),
        },
      ],
    });
    // Every rule's target and the alarm's actions are this topic, so each is covered above.
    for (const target of run.all("aws:cloudwatch/eventTarget:EventTarget")) {
      assert.equal(target.inputs.arn, topicArn);
    }
    assert.deepEqual(
      run.one("aws:cloudwatch/metricAlarm:MetricAlarm", "aura-alerts-below-desired").inputs
        .alarmActions,
      [topicArn],
    );
  });
});
