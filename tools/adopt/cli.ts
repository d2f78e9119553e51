/**
 * `npm run adopt -- --stack <name> [--check] [--region <region>] [--out <file>]`
 *
 * Writes the Pulumi import file that adopts the resources the operators made by hand (ECR
 * repositories, log group, cluster, service) into the stack, at the URNs the program gives them.
 * Without `--check` it writes every twin from the names; with it, only those AWS has, and it
 * says which would be replaced by the first `pulumi up`. See README ("Adopting the running
 * system").
 *
 * Exit codes: 0 written; 1 written, but the first `pulumi up` would replace a twin; 2 nothing
 * written (bad arguments, unknown stack, invalid config, no or rejected credentials, access
 * denied, an AWS error).
 */
import * as fs from "fs";
import * as path from "path";
import { parseArgs } from "util";
import { ECRClient } from "@aws-sdk/client-ecr";
import { ECSClient } from "@aws-sdk/client-ecs";
import { CloudWatchLogsClient } from "@aws-sdk/client-cloudwatch-logs";
import { AuraConfig, parseAuraConfig } from "../../lib/config";
import { PROJECT_DIR, readStackConfig } from "../../lib/stackFile";
import { requireStack, UsageError } from "../diagnose/cli";
import { AwsClients, CheckError, Finding, checkTwins } from "./check";
import { Twin, importFile, twins, urnOfRow } from "./plan";

export const EXIT_WRITTEN = 0;
export const EXIT_WOULD_REPLACE = 1;
export const EXIT_NOT_WRITTEN = 2;

const USAGE = "usage: npm run adopt -- --stack <name> [--check] [--region <region>] [--out <file>]";

/** What the command touches outside itself, replaceable in tests. */
export interface AdoptEnvironment {
  readonly projectDir: string;
  /** Where `--out` is resolved (npm runs scripts in the project directory). */
  readonly cwd: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly awsxVersion: string;
  readonly createClients: (region: string) => AwsClients;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

export const processEnvironment: AdoptEnvironment = {
  projectDir: PROJECT_DIR,
  cwd: process.cwd(),
  env: process.env,
  // The version `pulumi import` records for awsx's remote component, as `preview --import-file` does.
  awsxVersion: (require("@pulumi/awsx/package.json") as { version: string }).version, // eslint-disable-line @typescript-eslint/no-require-imports
  createClients: (region) => ({
    ecr: new ECRClient({ region }),
    ecs: new ECSClient({ region }),
    logs: new CloudWatchLogsClient({ region }),
  }),
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

interface Options {
  readonly stack: string;
  readonly config: AuraConfig;
  readonly region: string;
  readonly check: boolean;
  readonly out: string;
}

function parseOptions(argv: readonly string[], environment: AdoptEnvironment): Options {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        stack: { type: "string" },
        region: { type: "string" },
        out: { type: "string" },
        check: { type: "boolean", default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n${USAGE}`);
  }
  const stack = requireStack(values.stack, environment.projectDir, USAGE);
  let config: AuraConfig;
  try {
    config = parseAuraConfig(readStackConfig(stack, environment.projectDir), stack);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const region =
    values.region ??
    config.region ??
    environment.env.AWS_REGION ??
    environment.env.AWS_DEFAULT_REGION;
  if (region === undefined || region === "") {
    throw new UsageError(
      `No AWS region for stack ${stack}: set aws:region in Pulumi.${stack}.yaml or pass --region`,
    );
  }
  return {
    stack: stack,
    config,
    region,
    check: values.check ?? false,
    out: path.resolve(environment.cwd, values.out ?? `adopt-${stack}.json`),
  };
}

/** Runs the command and returns its exit code. */
export async function runAdopt(
  argv: readonly string[],
  environment: AdoptEnvironment = processEnvironment,
): Promise<number> {
  let options: Options;
  try {
    options = parseOptions(argv, environment);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    environment.stderr(`${error.message}\n`);
    return EXIT_NOT_WRITTEN;
  }
  const all = twins(options.config, environment.awsxVersion);
  let findings: Finding[];
  if (options.check) {
    try {
      findings = await checkTwins(all, environment.createClients(options.region));
    } catch (error) {
      if (!(error instanceof CheckError)) throw error;
      environment.stderr(`${error.message}\nNothing written.\n`);
      return EXIT_NOT_WRITTEN;
    }
  } else {
    findings = all.map((twin) => ({ twin, exists: true, replacements: [], notes: [] }));
  }
  const adopted: Twin[] = findings.filter((finding) => finding.exists).map(({ twin }) => twin);
  const file = importFile(adopted);
  const lines = [
    options.check
      ? `Stack ${options.stack} (${options.region}): asked AWS which of the ${all.length} hand-made twins exist.`
      : `Stack ${options.stack} (${options.region}): ${all.length} hand-made twins, from the names alone (not asked AWS: --check leaves out what does not exist).`,
  ];
  for (const finding of findings) {
    const { twin } = finding;
    if (!finding.exists) {
      lines.push(
        `  missing  ${twin.label}: left out of the import file; the first pulumi up creates it`,
      );
      continue;
    }
    lines.push(`  import   ${twin.label} as ${urnOfRow(file, twin.spec, options.stack)}`);
    for (const reason of finding.replacements) lines.push(`    REPLACE: ${reason}`);
    for (const note of finding.notes) lines.push(`    note: ${note}`);
  }
  fs.writeFileSync(options.out, `${JSON.stringify(file, null, 2)}\n`);
  const components = file.resources.filter((row) => row.component).length;
  lines.push(
    `Wrote ${options.out}: ${adopted.length} resources and the ${components} components that parent them.`,
  );
  const replaced = findings.some((finding) => finding.replacements.length > 0);
  if (replaced) {
    lines.push(
      "Do not run pulumi up on this stack yet: it would delete and re-create what is marked REPLACE (README, Adopting the running system).",
    );
  } else if (adopted.length > 0) {
    lines.push(
      `Next: pulumi import --file ${path.relative(environment.cwd, options.out)} --stack ${options.stack}, then pulumi up --stack ${options.stack}`,
    );
  }
  environment.stdout(`${lines.join("\n")}\n`);
  return replaced ? EXIT_WOULD_REPLACE : EXIT_WRITTEN;
}

if (require.main === module) {
  runAdopt(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
      process.exit(EXIT_NOT_WRITTEN);
    },
  );
}
