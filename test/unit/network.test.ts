import { strict as assert } from "assert";
import { ConfigError, parseAuraConfig } from "../../lib/config";
import { readStackConfig } from "../../lib/stackFile";
import { ProgramRun, RecordedResource, runProgram } from "../mocks";

const VPC = "vpc-0123456789abcdef0";
const PUBLIC = ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"];
const PRIVATE = ["subnet-0a1b2c3d4e5f60011", "subnet-0a1b2c3d4e5f60012"];
const OWN_VPC = {
  "aura:vpcId": VPC,
  "aura:publicSubnetIds": JSON.stringify(PUBLIC),
  "aura:privateSubnetIds": JSON.stringify(PRIVATE),
  "aura:assignPublicIp": "false",
};
/** The ports inside the task that nothing outside it may reach. */
const TASK_LOCAL_PORTS = [5432, 27017, 6379, 8001];

interface Rule {
  direction: "in" | "out";
  group: string;
  protocol: string;
  ports: [number, number];
  peer: string;
}

function rules(run: ProgramRun): Rule[] {
  const summary = (direction: Rule["direction"], { inputs }: RecordedResource): Rule => ({
    direction,
    group: inputs.securityGroupId,
    protocol: inputs.ipProtocol,
    ports: [inputs.fromPort, inputs.toPort],
    peer: inputs.cidrIpv4 ?? inputs.cidrIpv6 ?? inputs.referencedSecurityGroupId,
  });
  return [
    ...run
      .all("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
      .map((rule) => summary("in", rule)),
    ...run
      .all("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
      .map((rule) => summary("out", rule)),
  ];
}

function problemsOf(overrides: Record<string, string>, base = readStackConfig("dev")): string[] {
  try {
    parseAuraConfig({ ...base, ...overrides }, "dev");
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${error}`);
    return [...error.problems];
  }
  return assert.fail("expected the configuration to be rejected");
}

describe("a stack with its own VPC: ALB in public subnets, tasks in private ones (under mocks)", function () {
  this.timeout(20000);
  let run: ProgramRun;

  before(async () => {
    run = await runProgram({ overrides: OWN_VPC });
  });

  it("puts the ALB in the public subnets", () => {
    assert.deepEqual(run.one("awsx:lb:ApplicationLoadBalancer").inputs.subnetIds, PUBLIC);
  });

  it("runs the tasks in the private subnets without a public IP", () => {
    assert.deepEqual(run.one("awsx:ecs:FargateService").inputs.networkConfiguration, {
      subnets: PRIVATE,
      securityGroups: ["aura-task-sg-id"],
      assignPublicIp: false,
    });
  });

  it("creates every security group in the stack's VPC", () => {
    assert.deepEqual(
      run
        .all("aws:ec2/securityGroup:SecurityGroup")
        .map((group) => [group.name, group.inputs.vpcId]),
      [
        ["aura-alb-sg", VPC],
        ["aura-task-sg", VPC],
        ["aura-storage-nfs-sg", VPC],
      ],
    );
  });

  it("puts the EFS mount targets in the task subnets", () => {
    assert.deepEqual(
      run.all("aws:efs/mountTarget:MountTarget").map((target) => target.inputs.subnetId),
      PRIVATE,
    );
  });

  it("has exactly these security-group rules", () => {
    const sorted = (list: Rule[]) =>
      [...list].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
    const tcp = (direction: Rule["direction"], group: string, port: number, peer: string) => ({
      direction,
      group,
      protocol: "tcp",
      ports: [port, port] as [number, number],
      peer,
    });
    assert.deepEqual(
      sorted(rules(run)),
      sorted([
        tcp("in", "aura-alb-sg-id", 80, "0.0.0.0/0"),
        tcp("in", "aura-alb-sg-id", 80, "::/0"),
        tcp("out", "aura-alb-sg-id", 8000, "aura-task-sg-id"),
        tcp("in", "aura-task-sg-id", 8000, "aura-alb-sg-id"),
        tcp("out", "aura-task-sg-id", 443, "0.0.0.0/0"),
        tcp("out", "aura-task-sg-id", 2049, "aura-storage-nfs-sg-id"),
        tcp("in", "aura-storage-nfs-sg-id", 2049, "aura-task-sg-id"),
      ]),
    );
  });

  it("lets nothing outside the task reach 5432, 27017, 6379 or 8001", () => {
    for (const rule of rules(run)) {
      assert.notEqual(rule.protocol, "-1", `${JSON.stringify(rule)} opens every protocol`);
      for (const port of TASK_LOCAL_PORTS) {
        assert.ok(
          port < rule.ports[0] || port > rule.ports[1],
          `${JSON.stringify(rule)} covers ${port}`,
        );
      }
    }
    // The only rules open to addresses rather than groups: HTTP into the ALB, HTTPS out.
    assert.deepEqual(
      rules(run)
        .filter((rule) => rule.peer.includes("/"))
        .map((rule) => `${rule.direction} ${rule.group} ${rule.ports[0]}`)
        .sort(),
      ["in aura-alb-sg-id 80", "in aura-alb-sg-id 80", "out aura-task-sg-id 443"],
    );
  });
});

describe("the network settings", function () {
  this.timeout(20000);

  it("fails before registering anything in the default VPC without a public IP", async () => {
    await assert.rejects(
      runProgram({ overrides: { "aura:assignPublicIp": "false" } }),
      (error: Error & { registered?: unknown[] }) => {
        assert.deepEqual(error.registered, []);
        assert.equal(
          error.message,
          "Invalid stack configuration:\n  - aura:assignPublicIp = false with no aura:privateSubnetIds: the tasks would run in public subnets (the default VPC's) without a public IP, and could not reach ECR, CloudWatch Logs or Secrets Manager to start; set aura:assignPublicIp: true, or set aura:privateSubnetIds to subnets of aura:vpcId with a NAT gateway or VPC endpoints",
        );
        return true;
      },
    );
  });

  it("reads the dev stack as the default VPC with a public IP", () => {
    assert.deepEqual(parseAuraConfig(readStackConfig("dev"), "dev").network, {
      vpcId: undefined,
      publicSubnetIds: [],
      privateSubnetIds: [],
      assignPublicIp: true,
    });
  });

  it("reads a VPC with public and private subnets", () => {
    assert.deepEqual(parseAuraConfig({ ...readStackConfig("dev"), ...OWN_VPC }, "dev").network, {
      vpcId: VPC,
      publicSubnetIds: PUBLIC,
      privateSubnetIds: PRIVATE,
      assignPublicIp: false,
    });
  });

  it("allows tasks in the public subnets of a VPC when the stack asks for a public IP", () => {
    const network = parseAuraConfig(
      {
        ...readStackConfig("dev"),
        ...OWN_VPC,
        "aura:privateSubnetIds": "[]",
        "aura:assignPublicIp": "true",
      },
      "dev",
    ).network;
    assert.deepEqual(network.privateSubnetIds, []);
    assert.equal(network.assignPublicIp, true);
  });

  const cases: [string, Record<string, string>, string[]][] = [
    [
      "the default VPC without a public IP",
      { "aura:assignPublicIp": "false" },
      [
        "aura:assignPublicIp = false with no aura:privateSubnetIds: the tasks would run in public subnets (the default VPC's) without a public IP, and could not reach ECR, CloudWatch Logs or Secrets Manager to start; set aura:assignPublicIp: true, or set aura:privateSubnetIds to subnets of aura:vpcId with a NAT gateway or VPC endpoints",
      ],
    ],
    [
      "a VPC's public subnets for the tasks without a public IP",
      { ...OWN_VPC, "aura:privateSubnetIds": "[]" },
      [
        "aura:assignPublicIp = false with no aura:privateSubnetIds: the tasks would run in public subnets (aura:publicSubnetIds) without a public IP, and could not reach ECR, CloudWatch Logs or Secrets Manager to start; set aura:assignPublicIp: true, or set aura:privateSubnetIds to subnets of aura:vpcId with a NAT gateway or VPC endpoints",
      ],
    ],
    [
      "a public IP that is not a boolean",
      { "aura:assignPublicIp": "yes" },
      ['aura:assignPublicIp = "yes" is not allowed: choose true or false'],
    ],
    [
      "a VPC ID that is not one",
      { ...OWN_VPC, "aura:vpcId": "default" },
      [
        'aura:vpcId = "default" is not a VPC ID: expected vpc- and 8 or 17 hex digits, or leave it unset for the default VPC',
      ],
    ],
    [
      "a subnet ID that is not one",
      { ...OWN_VPC, "aura:privateSubnetIds": JSON.stringify([PRIVATE[0], "subnet-private-b"]) },
      [
        'aura:privateSubnetIds[1] = "subnet-private-b" is not a subnet ID: expected subnet- and 8 or 17 hex digits',
      ],
    ],
    [
      "a subnet listed twice",
      { ...OWN_VPC, "aura:privateSubnetIds": JSON.stringify([PRIVATE[0], PRIVATE[0]]) },
      [`aura:privateSubnetIds[1] = "${PRIVATE[0]}" is listed twice: list each subnet once`],
    ],
    [
      "a subnet list that is not a list",
      { ...OWN_VPC, "aura:publicSubnetIds": PUBLIC[0] },
      [
        `aura:publicSubnetIds = "${PUBLIC[0]}" must be a list of subnet IDs, e.g. ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"]`,
      ],
    ],
    [
      "subnets without their VPC",
      { ...OWN_VPC, "aura:vpcId": "" },
      [
        `aura:publicSubnetIds = ${JSON.stringify(PUBLIC)} needs aura:vpcId: subnets are only used with the VPC they belong to (leave both unset for the default VPC)`,
        `aura:privateSubnetIds = ${JSON.stringify(PRIVATE)} needs aura:vpcId: subnets are only used with the VPC they belong to (leave both unset for the default VPC)`,
      ],
    ],
    [
      "a VPC with one public subnet",
      { ...OWN_VPC, "aura:publicSubnetIds": JSON.stringify([PUBLIC[0]]) },
      [
        `aura:publicSubnetIds = ["${PUBLIC[0]}"] lists 1 subnet(s) for aura:vpcId ${VPC}: the ALB needs at least 2, in different availability zones`,
      ],
    ],
    [
      "a subnet that is both public and private",
      { ...OWN_VPC, "aura:privateSubnetIds": JSON.stringify([PUBLIC[1]]) },
      [
        `aura:privateSubnetIds[0] = "${PUBLIC[1]}" is also in aura:publicSubnetIds: the ALB goes in public subnets and the tasks in private ones, so a subnet can be only one of them`,
      ],
    ],
  ];
  for (const [situation, overrides, expected] of cases) {
    it(`rejects ${situation}, naming the key, the value and what is allowed`, () => {
      assert.deepEqual(problemsOf(overrides), expected);
    });
  }
});
