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
 *     AURA_API_KEYS=first-key,second-key
 *
 * Names are the ones in SECRET_VARIABLES; values run to the end of the line, unquoted.
 * AURA_API_KEYS holds the gateway's API keys, comma-separated (send one as
 * `Authorization: Bearer <key>`); a file from before the gateway had keys gets them appended.
 */
import * as fs from "fs";
import { randomBytes } from "crypto";
import { CONTAINER_NAMES } from "../lib/containers";
import {
  API_KEYS_VARIABLE,
  ContainerSecrets,
  SECRET_VARIABLES,
  SecretRef,
} from "../lib/taskDefinition";

/** How many API keys a generated file holds: two, as on ECS, so one can be rotated at a time. */
export const LOCAL_API_KEY_COUNT = 2;

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

/** A random value for `name`: 48 hex digits (safe in every shell and URL), two of them for the API keys. */
function generatedValue(name: string): string {
  const value = () => randomBytes(24).toString("hex");
  return name === API_KEYS_VARIABLE
    ? Array.from({ length: LOCAL_API_KEY_COUNT }, value).join(",")
    : value();
}

/** A fresh env file with a random value for each secret. */
export function generateEnvFile(names = secretNames()): string {
  const lines = names.map((name) => `${name}=${generatedValue(name)}`);
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
  let text = fs.readFileSync(file, "utf8");
  if (!parseEnvFile(text, file).has(API_KEYS_VARIABLE)) {
    // Written before the gateway had API keys: the databases' passwords stay, keys are added.
    text += `${text.endsWith("\n") || text === "" ? "" : "\n"}${API_KEYS_VARIABLE}=${generatedValue(API_KEYS_VARIABLE)}\n`;
    fs.writeFileSync(file, text);
    fs.chmodSync(file, 0o600); // it holds secrets; an existing file keeps its mode on write
  }
  const values = parseEnvFile(text, file);
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
