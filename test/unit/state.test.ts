import { strict as assert } from "assert";
import { RECOVERY_WINDOW_DAYS } from "../../components/credentials";
import { resourceNames } from "../../lib/taskDefinition";
import { ProgramRun, runProgram } from "../mocks";

const SERVICE = "urn:pulumi:dev::aura::aura:service:AuraService";
const STORAGE = `${SERVICE}$aura:storage:DatabaseStorage`;
const CREDENTIALS = "urn:pulumi:dev::aura::aura:secrets:Credentials";

describe("state that cannot be lost by accident", function () {
  this.timeout(20000);
  let run: ProgramRun;

  before(async () => {
    run = await runProgram();
  });

  it("protects and retains exactly the data: the file system, its access points, the passwords and their secret", () => {
    const kept = run.resources
      .filter(({ options }) => options.protect || options.retainOnDelete)
      .map(({ urn, options }) => ({
        urn,
        protect: options.protect,
        retainOnDelete: options.retainOnDelete,
      }))
      .sort((a, b) => a.urn.localeCompare(b.urn));
    const both = { protect: true, retainOnDelete: true };
    assert.deepEqual(
      kept,
      [
        {
          urn: `${CREDENTIALS}$aws:secretsmanager/secret:Secret::aura-credentials-secret`,
          ...both,
        },
        {
          urn: `${CREDENTIALS}$aws:secretsmanager/secretVersion:SecretVersion::aura-credentials-secret-version`,
          ...both,
        },
        // A random password lives in the state alone; a replacement would change it and lock
        // the apps out of databases that keep the first one.
        ...["mongo", "postgres", "redis"].map((key) => ({
          urn: `${CREDENTIALS}$random:index/randomPassword:RandomPassword::aura-credentials-${key}-password`,
          protect: true,
          retainOnDelete: false,
        })),
        ...["mongodb", "postgres", "redis"].map((database) => ({
          urn: `${STORAGE}$aws:efs/accessPoint:AccessPoint::aura-storage-${database}`,
          ...both,
        })),
        { urn: `${STORAGE}$aws:efs/fileSystem:FileSystem::aura-storage-fs`, ...both },
      ].sort((a, b) => a.urn.localeCompare(b.urn)),
    );
  });

  it("never deletes before replacing and ignores no change anywhere", () => {
    assert.deepEqual(
      run.resources.filter(
        ({ options }) => options.deleteBeforeReplace || options.ignoreChanges.length > 0,
      ),
      [],
    );
  });

  it("lets `pulumi destroy` delete the repositories with their (rebuildable) images", () => {
    assert.deepEqual(
      run.all("aws:ecr/repository:Repository").map(({ inputs, options }) => ({
        name: inputs.name,
        forceDelete: inputs.forceDelete,
        protect: options.protect,
        retainOnDelete: options.retainOnDelete,
      })),
      ["aura-databases", "aura-api-gateway", "aura-service-desk-host"].map((name) => ({
        name,
        forceDelete: true,
        protect: false,
        retainOnDelete: false,
      })),
    );
  });

  it("keeps a deleted secret recoverable for 30 days, the longest Secrets Manager allows", () => {
    assert.equal(RECOVERY_WINDOW_DAYS, 30);
    assert.equal(
      run.one("aws:secretsmanager/secret:Secret", "aura-credentials-secret").inputs
        .recoveryWindowInDays,
      RECOVERY_WINDOW_DAYS,
    );
  });

  it("starts the service only after everything a task needs exists", () => {
    const service = run.one("awsx:ecs:FargateService");
    assert.equal(service.urn, `${SERVICE}$awsx:ecs:FargateService::aura-service`);
    const fromInputs = {
      cluster: [`${SERVICE}$aws:ecs/cluster:Cluster::aura-cluster`],
      loadBalancers: [`${SERVICE}$awsx:lb:ApplicationLoadBalancer::aura-alb`],
      networkConfiguration: [`${SERVICE}$aws:ec2/securityGroup:SecurityGroup::aura-task-sg`],
      taskDefinition: [`${SERVICE}$aws:ecs/taskDefinition:TaskDefinition::aura-task`],
    };
    assert.deepEqual(
      Object.fromEntries(
        Object.entries(service.options.propertyDependencies).filter(([, urns]) => urns.length > 0),
      ),
      fromInputs,
    );
    const orderedOnly = [
      // the secret's value, without which the task fails ResourceInitializationError
      `${CREDENTIALS}$aws:secretsmanager/secretVersion:SecretVersion::aura-credentials-secret-version`,
      // the deployment alarms the service names, so ECS can watch them from the first deploy
      `${SERVICE}$aura:monitoring:DeploymentAlarms$aws:cloudwatch/metricAlarm:MetricAlarm::aura-deployment-alarms-target-5xx`,
      `${SERVICE}$aura:monitoring:DeploymentAlarms$aws:cloudwatch/metricAlarm:MetricAlarm::aura-deployment-alarms-unhealthy-target`,
      // mounting EFS: mount targets, file system policy, NFS both ways
      `${STORAGE}$aws:efs/fileSystemPolicy:FileSystemPolicy::aura-storage-policy`,
      `${STORAGE}$aws:efs/mountTarget:MountTarget::aura-storage-mount-0`,
      `${STORAGE}$aws:efs/mountTarget:MountTarget::aura-storage-mount-1`,
      `${STORAGE}$aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule::aura-storage-tasks-to-nfs`,
      `${STORAGE}$aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule::aura-storage-nfs-from-tasks`,
      // pulling images, writing logs, reading the secret; mounting as the task role
      `${SERVICE}$aws:iam/rolePolicy:RolePolicy::aura-execution-policy`,
      `${SERVICE}$aws:iam/rolePolicy:RolePolicy::aura-task-policy`,
      // the ALB's and the tasks' rules
      `${SERVICE}$aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule::aura-alb-to-tasks`,
      `${SERVICE}$aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule::aura-tasks-https`,
      `${SERVICE}$aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule::aura-alb-http-ipv4`,
      `${SERVICE}$aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule::aura-alb-http-ipv6`,
      `${SERVICE}$aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule::aura-tasks-from-alb`,
    ];
    // The ALB (a remote component: it registers once its load balancer, target group and
    // listener exist) is also an explicit dependency; it is already one of the inputs'.
    assert.deepEqual(
      service.options.dependencies,
      [...orderedOnly, ...Object.values(fromInputs).flat()].sort(),
    );
    for (const urn of service.options.dependencies) {
      assert.ok(
        run.resources.some((resource) => resource.urn === urn),
        `${urn} is registered`,
      );
    }
  });

  it("gives a second stack in the same account and region its own names; dev keeps the operators' names", async () => {
    assert.deepEqual(resourceNames("dev"), {
      cluster: "aura-dev-cluster",
      service: "aura-dev-service",
      family: "aura-app-dev",
      logGroup: "/ecs/aura-app-dev",
      secret: "aura-dev-database-credentials",
      repositories: {
        databases: "aura-databases",
        "api-gateway": "aura-api-gateway",
        "service-desk-host": "aura-service-desk-host",
      },
    });
    const staging = await runProgram({ stack: "staging", configFrom: "dev" });
    const physical = (current: ProgramRun) => ({
      repositories: current.all("aws:ecr/repository:Repository").map(({ inputs }) => inputs.name),
      secret: current.one("aws:secretsmanager/secret:Secret", "aura-credentials-secret").inputs
        .name,
      logGroup: current.one("aws:cloudwatch/logGroup:LogGroup").inputs.name,
      cluster: current.one("aws:ecs/cluster:Cluster").inputs.name,
      service: current.one("awsx:ecs:FargateService").inputs.name,
      family: current.one("aws:ecs/taskDefinition:TaskDefinition").inputs.family,
    });
    assert.deepEqual(physical(run), {
      repositories: ["aura-databases", "aura-api-gateway", "aura-service-desk-host"],
      secret: "aura-dev-database-credentials",
      logGroup: "/ecs/aura-app-dev",
      cluster: "aura-dev-cluster",
      service: "aura-dev-service",
      family: "aura-app-dev",
    });
    assert.deepEqual(physical(staging), {
      repositories: [
        "aura-staging-databases",
        "aura-staging-api-gateway",
        "aura-staging-service-desk-host",
      ],
      secret: "aura-staging-database-credentials",
      logGroup: "/ecs/aura-app-staging",
      cluster: "aura-staging-cluster",
      service: "aura-staging-service",
      family: "aura-app-staging",
    });
    // The prefix still applies in every stack.
    assert.deepEqual(resourceNames("staging", "team").repositories, {
      databases: "team-staging-databases",
      "api-gateway": "team-staging-api-gateway",
      "service-desk-host": "team-staging-service-desk-host",
    });
  });
});
