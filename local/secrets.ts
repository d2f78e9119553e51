/**
 * Secrets for local runs. On ECS the task's `secrets` come from Secrets Manager; locally they come
 * from a git-ignored env file, so no value ever lands in the repository or in `environment`.
 *
 * Format of `local.env` (one variable a line, as docker's --env-file):
 *
 *     # comments and blank lines are ignored
 *     POSTGRES_PASSWORD=some-long-random-value
 *     REDIS_PASSWORD=another-value
 *     MONGO_PASSWORD=a-third-value
 *
 * Names are the ones in SECRET_VARIABLES; values run to the end of the line, unquoted.
 */
import * as fs from "fs";
import { randomBytes } from "crypto";
import { CONTAINER_NAMES } from "../lib/containers";
import { ContainerSecrets, SECRET_VARIABLES, SecretRef } from "../lib/taskDefinition";

/** `valueFrom` of a local secret: the variable's name in the env file. */
export const LOCAL_SECRET_PREFIX = "local.env:";

/** Every secret variable of the task, once, in a stable order. */
export function secretNames(): string[] {
  return [...new Set(CONTAINER_NAMES.flatMap((name) => SECRET_VARIABLES[name]))].sort();
}

/** Parses the env file; throws naming the line for anything that is not NAME=value. */
export function parseEnvFile(text: string, file = "local.env"): Map<string, string> {
  const values = new Map<string, string>();
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (match === null) {
      throw new Error(`${file}:${index + 1}: expected NAME=value, got ${JSON.stringify(raw)}`);
    }
    values.set(match[1], match[2]);
  });
  return values;
}

/** A fresh env file with a random value for each secret (hex: safe in every shell and URL). */
export function generateEnvFile(names = secretNames()): string {
  const lines = names.map((name) => `${name}=${randomBytes(24).toString("hex")}`);
  return [
    "# Secrets for `npm run local` (generated; git-ignored). One NAME=value a line.",
    ...lines,
    "",
  ].join("\n");
}

/**
 * Reads `file`, creating it with random values when it does not exist, and checks that every
 * secret the task needs is there. Returns the values and whether the file was just created.
 */
export function loadLocalSecrets(file: string): { values: Map<string, string>; created: boolean } {
  let created = false;
  if (!fs.existsSync(file)) {
    fs.writeFileSync(file, generateEnvFile(), { mode: 0o600 });
    created = true;
  }
  const values = parseEnvFile(fs.readFileSync(file, "utf8"), file);
  const missing = secretNames().filter((name) => !values.has(name) || values.get(name) === "");
  if (missing.length > 0) {
    throw new Error(
      `${file} has no value for ${missing.join(", ")}: add NAME=value lines, or delete the file to generate one`,
    );
  }
  return { values, created };
}

/** The task's `secrets` references for local runs, in ECS's shape. */
export function localSecretRefs(): ContainerSecrets {
  return Object.fromEntries(
    CONTAINER_NAMES.map((name) => [
      name,
      SECRET_VARIABLES[name].map((variable) => ({
        name: variable,
        valueFrom: `${LOCAL_SECRET_PREFIX}${variable}`,
      })),
    ]),
  );
}

/** Resolves a local `valueFrom` against the env file's values. */
export function localSecretResolver(values: ReadonlyMap<string, string>) {
  return (secret: SecretRef, container: string): string => {
    if (!secret.valueFrom.startsWith(LOCAL_SECRET_PREFIX)) {
      throw new Error(
        `${container}: secret ${secret.name} comes from ${secret.valueFrom}, which a local run cannot read`,
      );
    }
    const key = secret.valueFrom.slice(LOCAL_SECRET_PREFIX.length);
    const value = values.get(key);
    if (value === undefined) throw new Error(`${container}: no local value for secret ${key}`);
    return value;
  };
}
