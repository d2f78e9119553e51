/**
 * Where the ALB and the tasks run, from the stack keys `aura:vpcId`, `aura:publicSubnetIds`,
 * `aura:privateSubnetIds` and `aura:assignPublicIp`. Pure: the rules that keep a stack from
 * placing tasks where they cannot pull their images are checked here, before anything is
 * registered.
 */

/** The stack's network, as read from its config. */
export interface NetworkConfig {
  /** The VPC of the ALB, the tasks and the EFS mount targets. @default the account's default VPC */
  readonly vpcId?: string;
  /** Subnets of the internet-facing ALB (two or more AZs). @default the default VPC's subnets */
  readonly publicSubnetIds: readonly string[];
  /**
   * Subnets of the tasks (and of the EFS mount targets, one per subnet, so one per AZ). They
   * need a route to ECR, CloudWatch Logs and Secrets Manager: a NAT gateway or VPC endpoints.
   * @default none: the tasks run in the public subnets
   */
  readonly privateSubnetIds: readonly string[];
  /** Whether each task gets a public IP. Needed in public subnets, pointless in private ones. @default false */
  readonly assignPublicIp: boolean;
}

/** How many default-VPC subnets the tasks (and mount targets) use: the ALB's minimum of two AZs. */
export const DEFAULT_VPC_TASK_SUBNETS = 2;

const VPC_ID = /^vpc-(?:[0-9a-f]{8}|[0-9a-f]{17})$/;
const SUBNET_ID = /^subnet-(?:[0-9a-f]{8}|[0-9a-f]{17})$/;

/** Every problem with `network`, each naming the key, the value and what is allowed. */
export function networkProblems(network: NetworkConfig): string[] {
  const problems: string[] = [];
  const { vpcId, publicSubnetIds, privateSubnetIds, assignPublicIp } = network;
  if (vpcId !== undefined && !VPC_ID.test(vpcId)) {
    problems.push(
      `aura:vpcId = ${JSON.stringify(vpcId)} is not a VPC ID: expected vpc- and 8 or 17 hex digits, or leave it unset for the default VPC`,
    );
  }
  for (const [key, ids] of [
    ["publicSubnetIds", publicSubnetIds],
    ["privateSubnetIds", privateSubnetIds],
  ] as const) {
    ids.forEach((id, index) => {
      if (!SUBNET_ID.test(id)) {
        problems.push(
          `aura:${key}[${index}] = ${JSON.stringify(id)} is not a subnet ID: expected subnet- and 8 or 17 hex digits`,
        );
      } else if (ids.indexOf(id) !== index) {
        problems.push(
          `aura:${key}[${index}] = ${JSON.stringify(id)} is listed twice: list each subnet once`,
        );
      }
    });
    if (ids.length > 0 && vpcId === undefined) {
      problems.push(
        `aura:${key} = ${JSON.stringify(ids)} needs aura:vpcId: subnets are only used with the VPC they belong to (leave both unset for the default VPC)`,
      );
    }
  }
  privateSubnetIds.forEach((id, index) => {
    if (publicSubnetIds.includes(id)) {
      problems.push(
        `aura:privateSubnetIds[${index}] = ${JSON.stringify(id)} is also in aura:publicSubnetIds: the ALB goes in public subnets and the tasks in private ones, so a subnet can be only one of them`,
      );
    }
  });
  if (vpcId !== undefined && publicSubnetIds.length < 2) {
    problems.push(
      `aura:publicSubnetIds = ${JSON.stringify(publicSubnetIds)} lists ${publicSubnetIds.length} subnet(s) for aura:vpcId ${vpcId}: the ALB needs at least 2, in different availability zones`,
    );
  }
  if (privateSubnetIds.length === 0 && !assignPublicIp) {
    problems.push(
      `aura:assignPublicIp = false with no aura:privateSubnetIds: the tasks would run in public subnets (${vpcId === undefined ? "the default VPC's" : "aura:publicSubnetIds"}) without a public IP, and could not reach ECR, CloudWatch Logs or Secrets Manager to start; set aura:assignPublicIp: true, or set aura:privateSubnetIds to subnets of aura:vpcId with a NAT gateway or VPC endpoints`,
    );
  }
  return problems;
}
