/**
 * Reads a stack's configuration from `Pulumi.yaml` and `Pulumi.<stack>.yaml` into the flat
 * `namespace:key` -> string map that the Pulumi CLI hands a program, project defaults included.
 * Used where there is no CLI: the unit tests and the local runner.
 */
import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";

export const PROJECT_DIR = path.resolve(__dirname, "..");

interface ProjectFile {
  name: string;
  config?: Record<string, { default?: unknown } | string | number | boolean>;
}

function asConfigString(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

function qualify(project: string, key: string): string {
  return key.includes(":") ? key : `${project}:${key}`;
}

/** The flat config map of `stack`, as `pulumi.runtime.allConfig()` would return it. */
export function readStackConfig(stack: string, projectDir = PROJECT_DIR): Record<string, string> {
  const project = parse(
    fs.readFileSync(path.join(projectDir, "Pulumi.yaml"), "utf8"),
  ) as ProjectFile;
  const values: Record<string, string> = {};
  for (const [key, declaration] of Object.entries(project.config ?? {})) {
    const fallback =
      declaration !== null && typeof declaration === "object" ? declaration.default : declaration;
    if (fallback !== undefined) values[qualify(project.name, key)] = asConfigString(fallback);
  }
  const stackPath = path.join(projectDir, `Pulumi.${stack}.yaml`);
  if (!fs.existsSync(stackPath)) {
    throw new Error(`No stack file ${stackPath}: create it with \`pulumi stack init ${stack}\``);
  }
  const stackFile = (parse(fs.readFileSync(stackPath, "utf8")) ?? {}) as {
    config?: Record<string, unknown>;
  };
  for (const [key, value] of Object.entries(stackFile.config ?? {})) {
    values[qualify(project.name, key)] = asConfigString(value);
  }
  return values;
}
