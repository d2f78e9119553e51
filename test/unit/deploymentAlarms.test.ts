import { strict as assert } from "assert";
import { DEPLOYMENT_ALARMS, deploymentBakeSeconds } from "../../lib/deploymentAlarms";
import { loadModel, validateShape } from "../awsModel";
import { ProgramRun, runProgram } from "../mocks";

describe("deployment alarms", () => {
  it("take the longest alarm window as ECS's bake time", () => {
    assert.equal(deploymentBakeSeconds(), 120);
    assert.equal(deploymentBakeSeconds([]), 0);
  });
});

describe("deployment alarms in the program (dev stack under mocks)", function () {
  this.timeout(20000);
  let run: ProgramRun;
  const dimensions = {
    LoadBalancer: "app/aura-alb/50dc6c495c0c9188",
    TargetGroup: "targetgroup/aura-alb/abc",
  };

  before(async () => {
    run = await runProgram();
  });

  it("alarms on the target's 5xx: 10 or more a minute for 2 minutes", () => {
    const alarm = run.one(
      "aws:cloudwatch/metricAlarm:MetricAlarm",
      "aura-deployment-alarms-target-5xx",
    );
    assert.deepEqual(alarm.inputs, {
      name: "aura-dev-target-5xx",
      alarmDescription:
        "Aura dev: the new task answers HTTP 5xx (10 or more a minute for 2 minutes): roll the deployment back",
      namespace: "AWS/ApplicationELB",
      metricName: "HTTPCode_Target_5XX_Count",
      dimensions,
      statistic: "Sum",
      period: 60,
      evaluationPeriods: 2,
      datapointsToAlarm: 2,
      comparisonOperator: "GreaterThanOrEqualToThreshold",
      threshold: 10,
      treatMissingData: "notBreaching",
      tags: { project: "aura", stack: "dev" },
    });
  });

  it("alarms on an unhealthy target for 2 minutes", () => {
    const alarm = run.one(
      "aws:cloudwatch/metricAlarm:MetricAlarm",
      "aura-deployment-alarms-unhealthy-target",
    );
    assert.deepEqual(alarm.inputs, {
      name: "aura-dev-unhealthy-target",
      alarmDescription:
        "Aura dev: the ALB finds the new task's gateway unhealthy for 2 minutes: roll the deployment back",
      namespace: "AWS/ApplicationELB",
      metricName: "UnHealthyHostCount",
      dimensions,
      statistic: "Maximum",
      period: 60,
      evaluationPeriods: 2,
      datapointsToAlarm: 2,
      comparisonOperator: "GreaterThanOrEqualToThreshold",
      threshold: 1,
      treatMissingData: "notBreaching",
      tags: { project: "aura", stack: "dev" },
    });
  });

  it("gives the service exactly these alarms, with rollback, in ECS's DeploymentAlarms shape", () => {
    const service = run.one("awsx:ecs:FargateService").inputs;
    assert.deepEqual(service.alarms, {
      alarmNames: ["aura-dev-target-5xx", "aura-dev-unhealthy-target"],
      enable: true,
      rollback: true,
    });
    assert.deepEqual(
      DEPLOYMENT_ALARMS.map((spec) => `aura-dev-${spec.suffix}`),
      service.alarms.alarmNames,
    );
    const model = loadModel("aws-ecs-2014-11-13.service-2.json");
    assert.deepEqual(validateShape(model, "DeploymentAlarms", service.alarms), []);
  });

  it("does not roll back on the 10-minute below-desired alert, which stays an alert", () => {
    const service = run.one("awsx:ecs:FargateService").inputs;
    assert.ok(!service.alarms.alarmNames.includes("aura-dev-below-desired"));
    assert.equal(
      run.one("aws:cloudwatch/metricAlarm:MetricAlarm", "aura-alerts-below-desired").inputs.name,
      "aura-dev-below-desired",
    );
  });
});
