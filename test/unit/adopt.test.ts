import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
  DescribeImagesCommand,
  DescribeRepositoriesCommand,
  ECRClient,
  RepositoryNotFoundException,
} from "@aws-sdk/client-ecr";
import { DescribeClustersCommand, DescribeServicesCommand, ECSClient } from "@aws-sdk/client-ecs";
import { CloudWatchLogsClient, DescribeLogGroupsCommand } from "@aws-sdk/client-cloudwatch-logs";
import { mockClient } from "aws-sdk-client-mock";
import { parseAuraConfig } from "../../lib/config";
import { PROJECT_DIR, readStackConfig } from "../../lib/stackFile";
import { AwsClients } from "../../tools/adopt/check";
import { AdoptEnvironment, runAdopt } from "../../tools/adopt/cli";
import { stacksIn } from "../../tools/diagnose/cli";
import { ImportFile, importFile, twins, urnOfRow } from "../../tools/adopt/plan";
import { ProgramRun, runProgram } from "../mocks";

const REPOSITORIES = ["aura-databases", "aura-api-gateway", "aura-service-desk-host"];
const devConfig = () => parseAuraConfig(readStackConfig("dev"), "dev");

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly file?: ImportFile;
}

/** Runs the command in a scratch directory with these (mocked) AWS clients. */
async function adopt(args: string[], clients?: AwsClients): Promise<Run> {
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), "aura-adopt-"));
  let stdout = "";
  let stderr = "";
  const environment: AdoptEnvironment = {
    projectDir: PROJECT_DIR,
    cwd,
    env: {},
    awsxVersion: "3.9.0",
    createClients: () => {
      if (clients === undefined) throw new Error("this run must not ask AWS");
      return clients;
    },
    stdout: (text) => (stdout += text),
    stderr: (text) => (stderr += text),
  };
  try {
    const code = await runAdopt(args, environment);
    const written = path.join(cwd, "adopt-dev.json");
    const file = fs.existsSync(written)
      ? (JSON.parse(fs.readFileSync(written, "utf8")) as ImportFile)
      : undefined;
    return { code, stdout, stderr, file };
  } finally {
    fs.rmSync(cwd, { recursive: true, force: true });
  }
}

function awsError(name: string, message: string): Error {
  return Object.assign(new Error(message), { name, $metadata: {} });
}

/** AWS clients whose every answer the test sets; all twins exist unless a test says otherwise. */
function fakeAws() {
  const clients = {
    ecr: new ECRClient({ region: "us-east-2" }),
    ecs: new ECSClient({ region: "us-east-2" }),
    logs: new CloudWatchLogsClient({ region: "us-east-2" }),
  };
  const ecr = mockClient(clients.ecr);
  const ecs = mockClient(clients.ecs);
  const logs = mockClient(clients.logs);
  for (const name of REPOSITORIES) {
    ecr.on(DescribeRepositoriesCommand, { repositoryNames: [name] }).resolves({
      repositories: [
        { repositoryName: name, encryptionConfiguration: { encryptionType: "AES256" } },
      ],
    });
    ecr.on(DescribeImagesCommand, { repositoryName: name }).resolves({
      imageDetails: [{ imageDigest: `sha256:${"a".repeat(64)}` }],
    });
  }
  logs.on(DescribeLogGroupsCommand, { logGroupNamePrefix: "/ecs/aura-app-dev" }).resolves({
    logGroups: [{ logGroupName: "/ecs/aura-app-dev-old" }, { logGroupName: "/ecs/aura-app-dev" }],
  });
  ecs.on(DescribeClustersCommand, { clusters: ["aura-dev-cluster"] }).resolves({
    clusters: [{ clusterName: "aura-dev-cluster", status: "ACTIVE" }],
    failures: [],
  });
  ecs
    .on(DescribeServicesCommand, { cluster: "aura-dev-cluster", services: ["aura-dev-service"] })
    .resolves({
      services: [
        {
          serviceName: "aura-dev-service",
          status: "ACTIVE",
          launchType: "FARGATE",
          schedulingStrategy: "REPLICA",
          deploymentController: { type: "ECS" },
          taskDefinition: "arn:aws:ecs:us-east-2:123456789012:task-definition/aura-app-dev:7",
          runningCount: 0,
          desiredCount: 1,
        },
      ],
      failures: [],
    });
  return { clients, ecr, ecs, logs };
}

describe("npm run adopt", function () {
  this.timeout(20000);
  let program: ProgramRun;

  before(async () => {
    program = await runProgram();
  });

  it("imports each hand-made twin at the URN, type, name and parent chain the program registers", () => {
    const file = importFile(twins(devConfig(), "3.9.0"));
    const registered = new Map(program.resources.map((resource) => [resource.urn, resource]));
    for (const row of file.resources) {
      const urn = urnOfRow(file, row, "dev");
      if (row.type === "aws:ecs/service:Service") continue; // awsx's child: checked below
      const resource = registered.get(urn);
      assert.ok(resource, `${urn} is what the program registers`);
      assert.equal(resource.type, row.type);
      assert.equal(resource.name, row.logicalName ?? row.name);
      const parent = file.resources.find((candidate) => candidate.name === row.parent);
      assert.equal(resource.parent, parent && urnOfRow(file, parent, "dev"), urn);
    }
    // awsx creates the service inside its remote component, named after it and parented to it
    // (awsx/ecs/fargateService.ts), so the engine's URN is the component's type chain + Service.
    const fargate = program.one("awsx:ecs:FargateService");
    const serviceRow = file.resources.find((row) => row.type === "aws:ecs/service:Service")!;
    assert.equal(
      urnOfRow(file, serviceRow, "dev"),
      `urn:pulumi:dev::aura::${fargate.urn.split("::")[2]}$aws:ecs/service:Service::${fargate.name}`,
    );
  });

  it("covers exactly the program's resources that have a hand-made twin, with each provider's import ID", () => {
    const file = importFile(twins(devConfig(), "3.9.0"));
    const ids = Object.fromEntries(
      file.resources
        .filter((row) => !row.component)
        .map((row) => [urnOfRow(file, row, "dev"), row.id]),
    );
    const fargate = program.one("awsx:ecs:FargateService");
    const cluster = program.one("aws:ecs/cluster:Cluster");
    const logGroup = program.one("aws:cloudwatch/logGroup:LogGroup");
    assert.deepEqual(ids, {
      ...Object.fromEntries(
        program
          .all("aws:ecr/repository:Repository")
          .map((repository) => [repository.urn, repository.inputs.name]), // ECR: the name
      ),
      [logGroup.urn]: logGroup.inputs.name, // log group: the name
      [cluster.urn]: cluster.inputs.name, // cluster: the name
      // service: cluster/service
      [`urn:pulumi:dev::aura::${fargate.urn.split("::")[2]}$aws:ecs/service:Service::aura-service`]: `${cluster.inputs.name}/${fargate.inputs.name}`,
    });
    assert.deepEqual(Object.values(ids), [
      ...REPOSITORIES,
      "/ecs/aura-app-dev",
      "aura-dev-cluster",
      "aura-dev-cluster/aura-dev-service",
    ]);
  });

  it("writes a file `pulumi import --file` reads: parents before children, components without IDs", () => {
    const file = importFile(twins(devConfig(), "3.9.0"));
    assert.deepEqual(Object.keys(file), ["nameTable", "resources"]);
    assert.deepEqual(file.nameTable, {});
    const names = file.resources.map((row) => row.name);
    assert.equal(new Set(names).size, names.length, "row names are unique");
    file.resources.forEach((row, index) => {
      if (row.parent !== undefined) assert.ok(names.indexOf(row.parent) < index, row.name);
      assert.equal(row.component === true, row.id === undefined, row.name);
      if (row.remote) assert.equal(row.component, true, row.name);
    });
    assert.deepEqual(
      file.resources.filter((row) => row.component),
      [
        { type: "aura:containers:Databases", name: "aura-databases", component: true },
        { type: "aura:containers:ApiGateway", name: "aura-api-gateway", component: true },
        {
          type: "aura:containers:ServiceDeskHost",
          name: "aura-service-desk-host",
          component: true,
        },
        { type: "aura:service:AuraService", name: "aura", component: true },
        {
          type: "awsx:ecs:FargateService",
          name: "aura-service-component",
          logicalName: "aura-service",
          parent: "aura",
          component: true,
          remote: true,
          version: "3.9.0",
        },
      ],
    );
  });

  it("leaves out a repository the program does not create (a prebuilt image)", () => {
    const config = parseAuraConfig(
      {
        ...readStackConfig("dev"),
        "aura:databases": JSON.stringify({
          image: `123456789012.dkr.ecr.us-east-2.amazonaws.com/prebuilt@sha256:${"b".repeat(64)}`,
        }),
      },
      "dev",
    );
    assert.deepEqual(
      twins(config, "3.9.0").map((twin) => twin.label),
      [
        "ECR repository aura-api-gateway",
        "ECR repository aura-service-desk-host",
        "log group /ecs/aura-app-dev",
        "ECS cluster aura-dev-cluster",
        "ECS service aura-dev-service in aura-dev-cluster",
      ],
    );
  });

  it("without --check writes every twin from the names and asks AWS nothing", async () => {
    const run = await adopt(["--stack", "dev"]);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(run.file, importFile(twins(devConfig(), "3.9.0")));
    assert.match(run.stdout, /from the names alone \(not asked AWS/);
    assert.match(
      run.stdout,
      /Next: pulumi import --file adopt-dev\.json --stack dev, then pulumi up --stack dev\n$/,
    );
  });

  it("with --check writes what exists and says so for each twin", async () => {
    const aws = fakeAws();
    const run = await adopt(["--stack", "dev", "--check"], aws.clients);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(run.file, importFile(twins(devConfig(), "3.9.0")));
    assert.equal(run.stdout.match(/^ {2}import {3}/gm)?.length, 6);
    assert.match(
      run.stdout,
      /runs arn:aws:ecs:us-east-2:123456789012:task-definition\/aura-app-dev:7 \(0 of 1 tasks\): note it to go back/,
    );
  });

  it("with --check leaves out what AWS does not have, with a line saying so", async () => {
    const aws = fakeAws();
    aws.ecr.on(DescribeRepositoriesCommand, { repositoryNames: ["aura-api-gateway"] }).rejects(
      new RepositoryNotFoundException({
        message: "The repository with name 'aura-api-gateway' does not exist",
        $metadata: {},
      }),
    );
    aws.ecs
      .on(DescribeServicesCommand, { cluster: "aura-dev-cluster", services: ["aura-dev-service"] })
      .resolves({
        services: [],
        failures: [
          { arn: "arn:aws:ecs:us-east-2:123456789012:service/aura-dev-service", reason: "MISSING" },
        ],
      });
    const run = await adopt(["--stack", "dev", "--check"], aws.clients);
    assert.equal(run.code, 0, run.stderr);
    const kept = twins(devConfig(), "3.9.0").filter(
      (twin) =>
        ![
          "ECR repository aura-api-gateway",
          "ECS service aura-dev-service in aura-dev-cluster",
        ].includes(twin.label),
    );
    // The awsx component goes too: it has no child left to parent.
    assert.deepEqual(run.file, importFile(kept));
    assert.ok(!run.file!.resources.some((row) => row.type === "awsx:ecs:FargateService"));
    assert.match(
      run.stdout,
      /^ {2}missing {2}ECR repository aura-api-gateway: left out of the import file; the first pulumi up creates it$/m,
    );
    assert.match(
      run.stdout,
      /^ {2}missing {2}ECS service aura-dev-service in aura-dev-cluster: left out of the import file; the first pulumi up creates it$/m,
    );
    assert.match(
      run.stdout,
      /Wrote .*adopt-dev\.json: 4 resources and the 3 components that parent them\./,
    );
  });

  it("with --check and no credentials writes nothing and says how to give them", async () => {
    const aws = fakeAws();
    aws.ecr
      .on(DescribeRepositoriesCommand)
      .rejects(
        awsError("CredentialsProviderError", "Could not load credentials from any providers"),
      );
    const run = await adopt(["--stack", "dev", "--check"], aws.clients);
    assert.equal(run.code, 2);
    assert.equal(run.file, undefined);
    assert.equal(
      run.stderr,
      "No AWS credentials found: set AWS_PROFILE (after `aws configure` or `aws sso login`) or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run without --check to write the file from the names alone.\nNothing written.\n",
    );
  });

  it("with --check and access denied writes nothing and names the permissions it needs", async () => {
    const aws = fakeAws();
    aws.ecs
      .on(DescribeClustersCommand)
      .rejects(
        awsError(
          "AccessDeniedException",
          "User: arn:aws:iam::123456789012:user/ops is not authorized to perform: ecs:DescribeClusters",
        ),
      );
    const run = await adopt(["--stack", "dev", "--check"], aws.clients);
    assert.equal(run.code, 2);
    assert.equal(run.file, undefined);
    assert.equal(
      run.stderr,
      "The credentials may not read what --check asks (AccessDeniedException): allow ecr:DescribeRepositories, ecr:DescribeImages, logs:DescribeLogGroups, ecs:DescribeClusters, ecs:DescribeServices. AWS said: User: arn:aws:iam::123456789012:user/ops is not authorized to perform: ecs:DescribeClusters\nNothing written.\n",
    );
  });

  it("with --check warns (exit 1) about what the first pulumi up would replace, and about images a lifecycle rule would expire", async () => {
    const aws = fakeAws();
    aws.ecr.on(DescribeRepositoriesCommand, { repositoryNames: ["aura-databases"] }).resolves({
      repositories: [
        { repositoryName: "aura-databases", encryptionConfiguration: { encryptionType: "KMS" } },
      ],
    });
    aws.ecr
      .on(DescribeImagesCommand, { repositoryName: "aura-api-gateway" })
      .resolvesOnce({
        imageDetails: Array.from({ length: 15 }, () => ({})),
        nextToken: "page-2",
      })
      .resolves({ imageDetails: Array.from({ length: 10 }, () => ({})) });
    aws.ecs.on(DescribeServicesCommand).resolves({
      services: [
        {
          serviceName: "aura-dev-service",
          status: "ACTIVE",
          capacityProviderStrategy: [{ capacityProvider: "FARGATE", weight: 1 }],
          taskDefinition: "arn:aws:ecs:us-east-2:123456789012:task-definition/aura-app-dev:7",
          runningCount: 1,
          desiredCount: 1,
        },
      ],
    });
    const run = await adopt(["--stack", "dev", "--check"], aws.clients);
    assert.equal(run.code, 1, run.stderr);
    assert.match(
      run.stdout,
      /REPLACE: its encryption is KMS; the program's AES256 would replace the repository and delete its images/,
    );
    assert.match(
      run.stdout,
      /REPLACE: its launch type is unset \(a capacity provider strategy\); awsx sets FARGATE, which replaces the service/,
    );
    assert.match(
      run.stdout,
      /note: holds 25 images; the program's lifecycle policy keeps the 20 newest, so ECR expires the 5 oldest/,
    );
    assert.match(run.stdout, /Do not run pulumi up on this stack yet/);
  });

  it("refuses a stack without a stack file, before asking AWS", async () => {
    const run = await adopt(["--stack", "prod", "--check"]);
    assert.equal(run.code, 2);
    assert.equal(
      run.stderr,
      `--stack prod has no Pulumi.prod.yaml: stacks found: ${stacksIn(PROJECT_DIR).join(", ")}\n`,
    );
  });
});
