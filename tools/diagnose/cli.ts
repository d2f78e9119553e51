/**
 * `npm run diagnose -- --stack <name> [--region <region>] [--limit <n>] [--logs <n>] [--json]`
 *
 * Exit codes: 0 the service is healthy; 1 it is failing, still deploying or not deployed;
 * 2 the diagnosis could not run (bad arguments, unknown stack, no region, no or rejected
 * credentials, an AWS error). See docs/diagnose.md.
 */
import * as fs from "fs";
import { parseArgs } from "util";
import { ECSClient } from "@aws-sdk/client-ecs";
import { CloudWatchLogsClient } from "@aws-sdk/client-cloudwatch-logs";
import { PROJECT_DIR, readStackConfig } from "../../lib/stackFile";
import { resourceNames } from "../../lib/taskDefinition";
import { collectSnapshot } from "./collect";
import { buildReport, exitCodeFor, renderJson, renderText } from "./report";

/** Exit codes 0 and 1 come from the verdict (report.ts); this one means no verdict was reached. */
export const EXIT_CANNOT_DIAGNOSE = 2;

const USAGE =
  "usage: npm run diagnose -- --stack <name> [--region <region>] [--limit <1-100>] [--logs <0-100>] [--json]";
const DEFAULT_LIMIT = 10;
const DEFAULT_LOG_LINES = 10;

/** What the command touches outside itself, replaceable in tests. */
export interface DiagnoseEnvironment {
  readonly projectDir: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly createEcs: (region: string) => ECSClient;
  readonly createLogs: (region: string) => CloudWatchLogsClient;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

export const processEnvironment: DiagnoseEnvironment = {
  projectDir: PROJECT_DIR,
  env: process.env,
  createEcs: (region) => new ECSClient({ region }),
  createLogs: (region) => new CloudWatchLogsClient({ region }),
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

/** A mistake the user can fix: reported on stderr without a stack trace, exit code 2. */
export class UsageError extends Error {}

/** The stacks that have a `Pulumi.<stack>.yaml` next to `Pulumi.yaml`. */
export function stacksIn(projectDir: string): string[] {
  return fs
    .readdirSync(projectDir)
    .map((file) => /^Pulumi\.(.+)\.yaml$/.exec(file)?.[1])
    .filter((stack): stack is string => stack !== undefined)
    .sort();
}

/** The `--stack` given, when it has a `Pulumi.<stack>.yaml`; else a UsageError listing those that do. */
export function requireStack(stack: string | undefined, projectDir: string, usage: string): string {
  const stacks = stacksIn(projectDir);
  const allowed = stacks.length > 0 ? stacks.join(", ") : "none (no Pulumi.<stack>.yaml found)";
  if (stack === undefined) {
    throw new UsageError(
      `--stack is required: stacks found as Pulumi.<stack>.yaml: ${allowed}\n${usage}`,
    );
  }
  if (!stacks.includes(stack)) {
    throw new UsageError(`--stack ${stack} has no Pulumi.${stack}.yaml: stacks found: ${allowed}`);
  }
  return stack;
}

function wholeNumber(
  option: string,
  given: string | undefined,
  min: number,
  max: number,
  fallback: number,
): number {
  if (given === undefined) return fallback;
  const value = Number(given);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new UsageError(
      `--${option} ${given} is not allowed: use a whole number from ${min} to ${max}`,
    );
  }
  return value;
}

interface Options {
  readonly stack: string;
  readonly region: string;
  readonly limit: number;
  readonly logLines: number;
  readonly json: boolean;
}

function parseOptions(argv: readonly string[], environment: DiagnoseEnvironment): Options {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        stack: { type: "string" },
        region: { type: "string" },
        limit: { type: "string" },
        logs: { type: "string" },
        json: { type: "boolean", default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n${USAGE}`);
  }
  const stack = requireStack(values.stack, environment.projectDir, USAGE);
  let config: Record<string, string>;
  try {
    config = readStackConfig(stack, environment.projectDir);
  } catch (error) {
    throw new UsageError(`Cannot read Pulumi.${stack}.yaml: ${(error as Error).message}`);
  }
  const region =
    values.region ??
    config["aws:region"] ??
    environment.env.AWS_REGION ??
    environment.env.AWS_DEFAULT_REGION;
  if (region === undefined || region === "") {
    throw new UsageError(
      `No AWS region for stack ${stack}: set aws:region in Pulumi.${stack}.yaml or pass --region`,
    );
  }
  return {
    stack: stack,
    region,
    limit: wholeNumber("limit", values.limit, 1, 100, DEFAULT_LIMIT),
    logLines: wholeNumber("logs", values.logs, 0, 100, DEFAULT_LOG_LINES),
    json: values.json ?? false,
  };
}

const REJECTED_CREDENTIALS = new Set([
  "ExpiredToken",
  "ExpiredTokenException",
  "InvalidClientTokenId",
  "UnrecognizedClientException",
  "InvalidSignatureException",
]);

/** One line for an AWS-side failure; the SDK's stack trace helps nobody running this command. */
export function describeAwsFailure(error: unknown): string {
  const name = error instanceof Error ? error.name : "Error";
  const message = error instanceof Error ? error.message : String(error);
  if (name === "CredentialsProviderError") {
    return (
      "No AWS credentials found: set AWS_PROFILE (after `aws configure` or `aws sso login`) " +
      "or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), then run again."
    );
  }
  if (REJECTED_CREDENTIALS.has(name)) {
    return `AWS rejected the credentials (${name}): refresh them (aws sso login, or new access keys) and run again.`;
  }
  if (/Region is missing/i.test(message)) {
    return "No AWS region: set aws:region in the stack file, pass --region, or set AWS_REGION.";
  }
  if (name === "AccessDeniedException") {
    return `The credentials may not read the service (${name}): allow ecs:DescribeServices, ecs:ListTasks, ecs:DescribeTasks and logs:GetLogEvents. ${message}`;
  }
  return `Could not diagnose: ${name}: ${message}`;
}

/** Runs the command and returns its exit code. */
export async function runDiagnose(
  argv: readonly string[],
  environment: DiagnoseEnvironment = processEnvironment,
): Promise<number> {
  let options: Options;
  try {
    options = parseOptions(argv, environment);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    environment.stderr(`${error.message}\n`);
    return EXIT_CANNOT_DIAGNOSE;
  }
  const names = resourceNames(options.stack);
  try {
    const snapshot = await collectSnapshot(
      environment.createEcs(options.region),
      {
        cluster: names.cluster,
        service: names.service,
        logGroup: names.logGroup,
        limit: options.limit,
        logLines: options.logLines,
      },
      environment.createLogs(options.region),
    );
    const report = buildReport(snapshot, {
      stack: options.stack,
      region: options.region,
      cluster: names.cluster,
      serviceName: names.service,
      eventLimit: options.limit,
    });
    environment.stdout(options.json ? renderJson(report) : renderText(report));
    return exitCodeFor(report.verdict);
  } catch (error) {
    environment.stderr(`${describeAwsFailure(error)}\n`);
    return EXIT_CANNOT_DIAGNOSE;
  }
}

if (require.main === module) {
  // The SDK warns on every run that future releases need Node 22; this project pins its SDK
  // version, and the warning would bury the one-line messages this command promises.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  runDiagnose(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      // Only a bug gets here; still one line, as promised, with the exit code of "could not run".
      process.stderr.write(`diagnose failed: ${(error as Error).message ?? String(error)}\n`);
      process.exitCode = EXIT_CANNOT_DIAGNOSE;
    },
  );
}
