/**
 * The one mocks helper: runs the Pulumi program under `setMocks` with a stack's config and
 * records every resource it registers, so tests assert exact inputs. The cloud is the only
 * thing mocked.
 */
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import {
  DescribeServicesCommand,
  DescribeTasksCommand,
  ECSClient,
  ListTasksCommand,
} from "@aws-sdk/client-ecs";
import { AwsClientStub, mockClient } from "aws-sdk-client-mock";
import { ecsClients } from "../lib/rolloutCheck";
import { readStackConfig } from "../lib/stackFile";
import { FakeRegistry } from "./fakeRegistry";

export const ACCOUNT = "123456789012";
export const REGISTRY_PASSWORD = "ecr-token-password";

/** The resource options the program registered a resource with, as the engine receives them. */
export interface RecordedOptions {
  readonly protect: boolean;
  readonly retainOnDelete: boolean;
  readonly deleteBeforeReplace: boolean;
  readonly ignoreChanges: string[];
  /**
   * Every URN the engine waits for before it registers this resource: the explicit `dependsOn`
   * (components expanded to their children) and the resources its inputs come from, sorted.
   */
  readonly dependencies: string[];
  /** The URNs each input comes from: the implicit part of `dependencies`. */
  readonly propertyDependencies: Record<string, string[]>;
}

export interface RecordedResource {
  readonly type: string;
  readonly name: string;
  readonly inputs: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** The URN the engine gives it (`urn:pulumi:<stack>::aura::<parent types$>type::name`). */
  readonly urn: string;
  /** The parent's URN; undefined for a resource of the root stack. */
  readonly parent?: string;
  readonly options: RecordedOptions;
}

/** What the mock monitor receives for a registration (Pulumi's RegisterResourceRequest). */
interface RegisterRequest {
  getType(): string;
  getName(): string;
  getParent(): string;
  getProtect(): boolean;
  getRetainondelete(): boolean;
  getDeletebeforereplace(): boolean;
  getIgnorechangesList(): string[];
  getDependenciesList(): string[];
  getPropertydependenciesMap(): {
    forEach(callback: (value: { getUrnsList(): string[] }, key: string) => void): void;
  };
}

/** The engine's URN for a resource: its parent's type chain, `$`-joined, then its own type. */
export function urnOf(stack: string, type: string, name: string, parentUrn?: string): string {
  const qualified = parentUrn ? `${parentUrn.split("::")[2]}$${type}` : type;
  return `urn:pulumi:${stack}::aura::${qualified}::${name}`;
}

export interface ProgramRun {
  /** Every registered resource, in registration order. */
  readonly resources: RecordedResource[];
  readonly outputs: Record<string, unknown>;
  /** What the program logged with `pulumi.log.warn`, in order. */
  readonly warnings: string[];
  /** What the program logged with `pulumi.log.info`, while it was constructed and its outputs resolved. */
  readonly infos: string[];
  /** The fake ECR the run's images were pushed to and checked in. */
  readonly registry: FakeRegistry;
  /** The ECS clients the rollout check created (none in a preview), with their calls. */
  readonly ecs: readonly MockedEcs[];
  /** The one resource of `type` named `name`, or the only one of `type`. Throws otherwise. */
  one(type: string, name?: string): RecordedResource;
  all(type: string): RecordedResource[];
}

/** ECR as the program sees it: this account's registry, asking for the mocked token. */
export function fakeEcr(): FakeRegistry {
  return new FakeRegistry({ username: "AWS", password: REGISTRY_PASSWORD });
}

/** What AWS (or awsx) would report for each resource type, on top of its inputs. */
function cloudState(
  args: pulumi.runtime.MockResourceArgs,
  region: string,
  /** Where built images are pushed; undefined when nothing is built (a preview). */
  registry: FakeRegistry | undefined,
): Record<string, unknown> {
  const { inputs, name, type } = args;
  const arn = (service: string, resource: string) =>
    `arn:aws:${service}:${region}:${ACCOUNT}:${resource}`;
  switch (type) {
    case "aws:ecr/repository:Repository":
      return {
        arn: arn("ecr", `repository/${inputs.name}`),
        registryId: ACCOUNT,
        repositoryUrl: `${ACCOUNT}.dkr.ecr.${region}.amazonaws.com/${inputs.name}`,
      };
    case "docker-build:index:Image": {
      // The build pushes an image of the requested platform; `ref` pins its digest.
      const tag: unknown = inputs.tags?.[0];
      const repository = (typeof tag === "string" ? tag : name).replace(/:[^:/]+$/, "");
      const ref =
        registry?.publish(repository, inputs.platforms?.[0] ?? "linux/amd64") ?? `${repository}@`;
      return { digest: ref.slice(ref.indexOf("@") + 1), ref, contextHash: "ctx" };
    }
    case "aws:cloudwatch/logGroup:LogGroup":
      return { arn: arn("logs", `log-group:${inputs.name}`) };
    case "aws:iam/role:Role":
      return { arn: `arn:aws:iam::${ACCOUNT}:role/${name}`, name };
    case "aws:ecs/taskDefinition:TaskDefinition":
      return { arn: arn("ecs", `task-definition/${inputs.family}:1`), revision: 1 };
    case "aws:ecs/cluster:Cluster":
      return { arn: arn("ecs", `cluster/${inputs.name}`) };
    case "aws:secretsmanager/secret:Secret":
      return { arn: arn("secretsmanager", `secret:${inputs.name}-AbCdEf`) };
    case "aws:sns/topic:Topic":
      return { arn: arn("sns", inputs.name) };
    case "aws:cloudwatch/eventRule:EventRule":
      return { arn: arn("events", `rule/${inputs.name}`) };
    case "aws:cloudwatch/metricAlarm:MetricAlarm":
      return { arn: arn("cloudwatch", `alarm:${inputs.name}`) };
    case "random:index/randomPassword:RandomPassword":
      return { result: `generated-${name}` };
    case "aws:acm/certificate:Certificate":
      // ACM's DNS validation: one CNAME per name.
      return {
        arn: arn("acm", "certificate/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"),
        domainValidationOptions: [
          {
            domainName: inputs.domainName,
            resourceRecordName: `_3f2a.${inputs.domainName}.`,
            resourceRecordType: "CNAME",
            resourceRecordValue: "_9c1d.acm-validations.aws.",
          },
        ],
      };
    case "aws:route53/record:Record":
      return { fqdn: String(inputs.name).replace(/\.$/, "") };
    case "awsx:lb:ApplicationLoadBalancer":
      return {
        loadBalancer: {
          dnsName: `${name}-123.${region}.elb.amazonaws.com`,
          arnSuffix: `app/${name}/50dc6c495c0c9188`,
          // The ALB zone of us-east-2 (ELB's canonical hosted zone ID for the region).
          zoneId: "Z3AADJGX6KTTL2",
        },
        defaultTargetGroup: {
          arn: arn("elasticloadbalancing", `targetgroup/${name}/abc`),
          arnSuffix: `targetgroup/${name}/abc`,
        },
      };
    case "aws:efs/fileSystem:FileSystem":
      return { arn: arn("elasticfilesystem", `file-system/${name}-id`) };
    case "aws:efs/accessPoint:AccessPoint":
      return { arn: arn("elasticfilesystem", `access-point/${name}-id`) };
    case "aws:rds/subnetGroup:SubnetGroup":
    case "aws:rds/parameterGroup:ParameterGroup":
    case "aws:elasticache/subnetGroup:SubnetGroup":
    case "aws:docdb/subnetGroup:SubnetGroup":
    case "aws:docdb/clusterParameterGroup:ClusterParameterGroup":
      // Auto-named: the resource name and a random suffix.
      return { name: `${name}-7f3a9c1`, arn: arn("mock", `${type}/${name}`) };
    case "aws:rds/instance:Instance":
      return { address: `${name}.abc123.${region}.rds.amazonaws.com` };
    case "aws:elasticache/replicationGroup:ReplicationGroup":
      return { primaryEndpointAddress: `master.${name}.abc123.use2.cache.amazonaws.com` };
    case "aws:docdb/cluster:Cluster":
      return { endpoint: `${name}.cluster-abc123.${region}.docdb.amazonaws.com` };
    case "awsx:ecs:FargateService":
      return { service: { name: inputs.name } };
    default:
      return { arn: arn("mock", `${type}/${name}`) };
  }
}

/** An ECS client whose calls aws-sdk-client-mock answers and records. */
export interface MockedEcs {
  readonly client: ECSClient;
  readonly stub: AwsClientStub<ECSClient>;
}

/** The task definition ARN the mocks give the program's task definition. */
export function mockTaskDefinitionArn(stack = "dev", region = "us-east-2"): string {
  return `arn:aws:ecs:${region}:${ACCOUNT}:task-definition/aura-app-${stack}:1`;
}

/**
 * ECS as the rollout check sees it after a good `pulumi up`: the service's one deployment runs
 * the program's task definition and has COMPLETED.
 */
export function completedRolloutEcs(stack = "dev", region = "us-east-2"): MockedEcs {
  const client = new ECSClient({ region });
  const ecs = mockClient(client);
  ecs.on(DescribeServicesCommand).callsFake((input) => ({
    services: [
      {
        serviceName: input.services[0],
        status: "ACTIVE",
        desiredCount: 1,
        runningCount: 1,
        taskDefinition: mockTaskDefinitionArn(stack, region),
        deployments: [
          {
            id: "ecs-svc/1000000000000000001",
            status: "PRIMARY",
            taskDefinition: mockTaskDefinitionArn(stack, region),
            desiredCount: 1,
            runningCount: 1,
            pendingCount: 0,
            failedTasks: 0,
            rolloutState: "COMPLETED",
            rolloutStateReason: "ECS deployment ecs-svc/1000000000000000001 completed.",
          },
        ],
        events: [],
      },
    ],
  }));
  ecs.on(ListTasksCommand).resolves({ taskArns: [] });
  ecs.on(DescribeTasksCommand).resolves({ tasks: [] });
  return { client, stub: ecs };
}

/** How a test asks for a run of the program. */
export interface RunOptions {
  stack?: string;
  /** The stack whose `Pulumi.<stack>.yaml` holds the config. @default `stack` */
  configFrom?: string;
  /** Run as `pulumi preview` does (`isDryRun()` true). @default false */
  preview?: boolean;
  /**
   * With `preview`: the stack does not exist yet, so the engine knows no output the cloud
   * computes (ARNs, URLs, IDs, image refs): each is unknown, as in a brand-new stack's first
   * preview. Without it a preview sees the outputs an earlier update stored.
   * @default false
   */
  newStack?: boolean;
  overrides?: Record<string, string>;
  /** The registry the program's images live in. @default an empty fake ECR */
  registry?: FakeRegistry;
  /** The ECS the rollout check reads. @default a completed rollout (`completedRolloutEcs`) */
  ecs?: () => MockedEcs;
}

/**
 * Runs of the program shared by the tests of one mocha worker, keyed by everything that decides
 * what the program registers (stack, config, preview, new stack). A run costs about a tenth of a
 * second of CPU; the suite asks for the dev stack's alone about ten times. Only runs with the
 * default registry and ECS are shared: a test that brings its own gets a run of its own. Shared
 * runs are deeply frozen, so a test that mutated one would throw instead of changing what the
 * next test sees: tests stay independent of their order.
 */
const sharedRuns = new Map<string, Promise<ProgramRun>>();

/**
 * Runs `index.ts` for `stack` (config from `Pulumi.<stack>.yaml` plus `overrides`) and waits
 * until every resource is registered. A run that only differs from an earlier one of the same
 * worker by the object it is asked with is that earlier run (see `sharedRuns`).
 */
export function runProgram(options: RunOptions = {}): Promise<ProgramRun> {
  if (options.registry !== undefined || options.ecs !== undefined) return runProgramAfresh(options);
  const stack = options.stack ?? "dev";
  const config = { ...readStackConfig(options.configFrom ?? stack), ...options.overrides };
  const key = JSON.stringify([
    stack,
    options.preview ?? false,
    options.newStack ?? false,
    Object.entries(config).sort(([a], [b]) => a.localeCompare(b)),
  ]);
  let run = sharedRuns.get(key);
  if (run === undefined) {
    run = runProgramAfresh(options).then(frozen);
    sharedRuns.set(key, run);
    // A failed run is not kept: its error carries what was registered, for that test alone.
    run.catch(() => sharedRuns.delete(key));
  }
  return run;
}

/** `run` with its recorded resources, outputs and logs deeply frozen. */
function frozen(run: ProgramRun): ProgramRun {
  const freeze = (value: unknown): void => {
    if (value === null || typeof value !== "object" || Object.isFrozen(value)) return;
    const prototype: unknown = Object.getPrototypeOf(value);
    // Plain data only: Pulumi's own objects (such as its `unknown`) stay as they are.
    if (!Array.isArray(value) && prototype !== Object.prototype && prototype !== null) return;
    Object.freeze(value);
    for (const child of Object.values(value)) freeze(child);
  };
  freeze(run.resources);
  freeze(run.outputs);
  freeze(run.warnings);
  freeze(run.infos);
  return run;
}

/**
 * Pulumi takes a stack trace for every resource and every promise it makes (source positions and
 * promise-leak diagnostics, which the mocks never read); formatting them through tsx's source maps
 * was three quarters of a run's CPU. So errors made while the program runs carry their message
 * but no stack frames; `AURA_TEST_STACKS=1 npm test` keeps the frames, for debugging a run.
 */
let runsUnderway = 0;
let stackTraceLimit = Error.stackTraceLimit;

/** A run of its own, never shared (`npm run bench` times these). */
export async function runProgramAfresh(options: RunOptions = {}): Promise<ProgramRun> {
  if (process.env.AURA_TEST_STACKS === "1") return recordRun(options);
  // Counted, so that runs awaited together restore the limit only when the last one ends.
  if (runsUnderway++ === 0) {
    stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
  }
  try {
    return await recordRun(options);
  } finally {
    if (--runsUnderway === 0) Error.stackTraceLimit = stackTraceLimit;
  }
}

async function recordRun(options: RunOptions): Promise<ProgramRun> {
  const registry = options.registry ?? fakeEcr();
  const stack = options.stack ?? "dev";
  const config = { ...readStackConfig(options.configFrom ?? stack), ...options.overrides };
  const region = config["aws:region"] ?? "us-east-2";
  const resources: RecordedResource[] = [];
  const warnings: string[] = [];
  const infos: string[] = [];
  const unknownOutputs = (options.preview ?? false) && (options.newStack ?? false);
  let registering: Pick<RecordedResource, "urn" | "parent" | "options"> | undefined;

  pulumi.runtime.setAllConfig(config);
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        resources.push({ type: args.type, name: args.name, inputs: args.inputs, ...registering! });
        if (unknownOutputs) {
          // A create's preview: the inputs come back as given, everything computed is unknown.
          const computed = cloudState(args, region, undefined);
          return {
            id: undefined,
            state: {
              ...args.inputs,
              ...Object.fromEntries(Object.keys(computed).map((key) => [key, pulumi.unknown])),
            },
          };
        }
        return {
          id: `${args.name}-id`,
          state: { ...args.inputs, ...cloudState(args, region, registry) },
        };
      },
      call(args) {
        switch (args.token) {
          case "aws:ecr/getAuthorizationToken:getAuthorizationToken":
            return { userName: "AWS", password: REGISTRY_PASSWORD, proxyEndpoint: "" };
          case "aws:index/getCallerIdentity:getCallerIdentity":
            return { accountId: ACCOUNT, arn: `arn:aws:iam::${ACCOUNT}:user/test`, userId: "test" };
          case "aws:index/getPartition:getPartition":
            return { partition: "aws", dnsSuffix: "amazonaws.com" };
          case "aws:index/getRegion:getRegion":
            return { region, name: region };
          case "aws:ec2/getVpc:getVpc":
            return { id: "vpc-0default" };
          case "aws:ec2/getSubnets:getSubnets":
            return { ids: ["subnet-a", "subnet-b"] };
          case "aws:route53/getZone:getZone":
            // Every zone of the test account is the public example.com.
            return { zoneId: args.inputs.zoneId, name: "example.com.", privateZone: false };
          default:
            return args.inputs;
        }
      },
    },
    "aura",
    stack,
    options.preview ?? false,
  );
  // The mocks' `newResource` sees only inputs; the options come with the registration request.
  const monitor = pulumi.runtime.getMonitor() as unknown as {
    registerResource(request: RegisterRequest, callback: unknown): Promise<void>;
  };
  const register = monitor.registerResource.bind(monitor);
  // The mock monitor's own URNs keep only the parent's last type; the engine's keep the whole
  // chain (`A$B$type`). Everything recorded is translated to the engine's.
  const engineUrns = new Map<string, string>();
  const engineUrn = (urn: string) => engineUrns.get(urn) ?? urn;
  monitor.registerResource = (request, callback) => {
    const mockParent = request.getParent() || undefined;
    const parent = mockParent === undefined ? undefined : engineUrn(mockParent);
    const urn = urnOf(stack, request.getType(), request.getName(), parent);
    const mockType = mockParent
      ? `${mockParent.split("::")[2].split("$").pop()}$${request.getType()}`
      : request.getType();
    engineUrns.set(`urn:pulumi:${stack}::aura::${mockType}::${request.getName()}`, urn);
    const propertyDependencies: Record<string, string[]> = {};
    request.getPropertydependenciesMap().forEach((value, key) => {
      propertyDependencies[key] = value.getUrnsList().map(engineUrn).sort();
    });
    registering = {
      urn,
      parent,
      options: {
        protect: request.getProtect(),
        retainOnDelete: request.getRetainondelete(),
        deleteBeforeReplace: request.getDeletebeforereplace(),
        ignoreChanges: [...request.getIgnorechangesList()],
        dependencies: request.getDependenciesList().map(engineUrn).sort(),
        propertyDependencies,
      },
    };
    // MockMonitor calls `newResource` synchronously, before its first await.
    return register(request, callback);
  };

  const realFetch = globalThis.fetch;
  const realCreate = ecsClients.create;
  const ecs: MockedEcs[] = [];
  globalThis.fetch = registry.fetch;
  ecsClients.create = () => {
    const mocked = options.ecs?.() ?? completedRolloutEcs(stack, region);
    ecs.push(mocked);
    return mocked.client;
  };
  try {
    return await runEntry(resources, { warnings, infos }, registry, ecs);
  } finally {
    globalThis.fetch = realFetch;
    ecsClients.create = realCreate;
  }
}

async function runEntry(
  resources: RecordedResource[],
  { warnings, infos }: { warnings: string[]; infos: string[] },
  registry: FakeRegistry,
  ecs: MockedEcs[],
): Promise<ProgramRun> {
  const entry = require.resolve(path.join(__dirname, "..", "index.ts"));
  delete require.cache[entry];
  let program: Record<string, pulumi.Output<unknown>>;
  // Without an engine, pulumi.log writes to the console with these prefixes.
  const consoleWarn = console.warn;
  const consoleLog = console.log;
  console.warn = (...args: unknown[]) => {
    const text = args.map(String).join(" ");
    if (text.startsWith("warning: [runtime] ")) warnings.push(text.slice(19));
    else consoleWarn(...args);
  };
  console.log = (...args: unknown[]) => {
    const text = args.map(String).join(" ");
    if (text.startsWith("info: [runtime] ")) infos.push(text.slice(16));
    else consoleLog(...args);
  };
  let outputs: Record<string, unknown>;
  try {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      program = require(entry);
    } catch (error) {
      throw Object.assign(error as Error, { registered: resources });
    }
    // Logged while the outputs resolve too: the rollout check reports its progress then.
    outputs = Object.fromEntries(
      await Promise.all(
        Object.entries(program).map(
          async ([key, output]) => [key, await outputValue(pulumi.output(output))] as const,
        ),
      ),
    );
    // Registrations are asynchronous; let the last ones land.
    await new Promise((resolve) => setTimeout(resolve, 10));
  } finally {
    console.warn = consoleWarn;
    console.log = consoleLog;
  }

  const all = (type: string) => resources.filter((resource) => resource.type === type);
  return {
    resources,
    outputs,
    warnings,
    infos,
    registry,
    ecs,
    all,
    one(type, name) {
      const matches = all(type).filter((resource) => name === undefined || resource.name === name);
      if (matches.length !== 1) {
        throw new Error(
          `expected one ${type}${name ? ` named ${name}` : ""}, found ${matches.length}`,
        );
      }
      return matches[0];
    },
  };
}

/** The value of an Output; rejects when computing it failed (as `pulumi up` would). */
export function outputValue<T>(output: pulumi.Output<T>): Promise<T> {
  // `promise()` is the SDK's own (internal) accessor; unlike `apply` it also carries failures.
  return (output as unknown as { promise(): Promise<T> }).promise();
}
