/** Command-line options of `npm run local`, parsed without a dependency (the surface is small). */
import * as fs from "fs";
import { ContainerOverrides, parseOverride } from "./definitions";

export interface LocalOptions {
  readonly stack: string;
  readonly build: boolean;
  /** Replacement tasks after the first stops; 0 runs one task. */
  readonly replacements: number;
  readonly overrides: ContainerOverrides;
  readonly envFile: string;
  readonly keepContainers: boolean;
  /** Remove the stack's persistent data volumes before the first task. */
  readonly freshData: boolean;
  readonly verbose: boolean;
  readonly help: boolean;
}

/** `--replace` without a number allows this many replacements. */
export const DEFAULT_REPLACEMENTS = 3;

export const USAGE = `Usage: npm run local -- [options]

Runs the stack's ECS task on the local Docker engine with ECS's behaviour.

  --stack NAME              stack whose Pulumi.<stack>.yaml to use (default dev)
  --no-build                use the images already tagged aura-*:local
  --replace[=N]             like the service scheduler: start a new task when the task
                            stops, at most N times (default ${DEFAULT_REPLACEMENTS})
  --health C.KEY=VALUE      override container C's setting KEY (command, interval, timeout,
                            retries, startPeriod, startTimeout, stopTimeout); VALUE is JSON,
                            e.g. --health 'api-gateway.command=["CMD-SHELL","exit 1"]'
  --overrides FILE          JSON file of overrides: {"api-gateway": {"interval": 5}}
  --secrets FILE            secrets env file (default local.env; created with random values)
  --fresh-data              remove the stack's persistent database volumes first (with
                            aura:storage efs they outlive every task, as EFS does)
  --keep                    leave the stopped containers on the engine
  --verbose                 print every health-check probe
  -h, --help                this text
`;

export function parseArgs(argv: readonly string[]): LocalOptions {
  let stack = "dev";
  let build = true;
  let replacements = 0;
  let envFile = "local.env";
  let keepContainers = false;
  let freshData = false;
  let verbose = false;
  let help = false;
  const overrides: Record<string, Record<string, unknown>> = {};
  const addOverrides = (more: Record<string, unknown>, source: string) => {
    for (const [container, settings] of Object.entries(more)) {
      if (settings === null || typeof settings !== "object" || Array.isArray(settings)) {
        throw new Error(`${source}: "${container}" must map to an object of settings`);
      }
      overrides[container] = { ...overrides[container], ...(settings as object) };
    }
  };
  for (let index = 0; index < argv.length; index++) {
    const argument = argv[index];
    const [flag, inline] = splitFlag(argument);
    const value = (): string => {
      if (inline !== undefined) return inline;
      const next = argv[++index];
      if (next === undefined) throw new Error(`${flag} needs a value`);
      return next;
    };
    switch (flag) {
      case "--stack":
        stack = value();
        break;
      case "--no-build":
        build = false;
        break;
      case "--replace": {
        replacements = inline === undefined ? DEFAULT_REPLACEMENTS : Number(inline);
        if (!Number.isInteger(replacements) || replacements < 0) {
          throw new Error(`--replace=${inline} must be a whole number of replacements (0 or more)`);
        }
        break;
      }
      case "--health": {
        const { container, key, value: parsed } = parseOverride(value());
        addOverrides({ [container]: { [key]: parsed } }, "--health");
        break;
      }
      case "--overrides": {
        const file = value();
        const parsed: unknown = JSON.parse(fs.readFileSync(file, "utf8"));
        if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
          throw new Error(`${file} must hold a JSON object keyed by container name`);
        }
        addOverrides(parsed as Record<string, unknown>, file);
        break;
      }
      case "--secrets":
        envFile = value();
        break;
      case "--keep":
        keepContainers = true;
        break;
      case "--fresh-data":
        freshData = true;
        break;
      case "--verbose":
        verbose = true;
        break;
      case "-h":
      case "--help":
        help = true;
        break;
      default:
        throw new Error(`unknown option ${argument}\n\n${USAGE}`);
    }
  }
  return {
    stack,
    build,
    replacements,
    overrides,
    envFile,
    keepContainers,
    freshData,
    verbose,
    help,
  };
}

function splitFlag(argument: string): [string, string | undefined] {
  const at = argument.indexOf("=");
  return argument.startsWith("--") && at > 0
    ? [argument.slice(0, at), argument.slice(at + 1)]
    : [argument, undefined];
}
