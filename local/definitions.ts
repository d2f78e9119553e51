/**
 * The container definitions a local run uses: the stack's config (Pulumi.yaml + Pulumi.<stack>.yaml),
 * optionally overridden per container, validated by parseAuraConfig like any stack config, and
 * turned into definitions by the program's own taskContainerDefinitions with local image tags.
 */
import { AuraConfig, CONTAINER_KEYS, parseAuraConfig } from "../lib/config";
import { CONTAINER_NAMES, ContainerName } from "../lib/containers";
import { readStackConfig } from "../lib/stackFile";
import {
  ContainerDefinition,
  resourceNames,
  taskContainerDefinitions,
} from "../lib/taskDefinition";
import { localSecretRefs } from "./secrets";
import { standInConnection } from "./endpoints";

/** The tags scripts/build-images.sh gives the three images. */
export const LOCAL_IMAGES: Readonly<Record<ContainerName, string>> = {
  databases: "aura-databases:local",
  "api-gateway": "aura-api-gateway:local",
  "service-desk-host": "aura-service-desk-host:local",
};

/** Settings per container that replace the stack's, e.g. `{ "api-gateway": { interval: 5 } }`. */
export type ContainerOverrides = Partial<Record<ContainerName, Record<string, unknown>>>;

/**
 * Merges `overrides` into the raw `aura:<container>` values, key by key, so that the merged map
 * goes through the same validation (and the same error messages) as a stack file.
 */
export function applyOverrides(
  raw: Readonly<Record<string, string>>,
  overrides: ContainerOverrides,
): Record<string, string> {
  const merged: Record<string, string> = { ...raw };
  for (const [name, settings] of Object.entries(overrides)) {
    if (settings === undefined) continue;
    const key = `aura:${name}`;
    const current = merged[key] === undefined ? {} : (JSON.parse(merged[key]) as object);
    merged[key] = JSON.stringify({ ...current, ...settings });
  }
  return merged;
}

/** The stack's validated config with `overrides` applied. */
export function localConfig(
  stack: string,
  overrides: ContainerOverrides = {},
  projectDir?: string,
): AuraConfig {
  const unknown = Object.keys(overrides).filter(
    (name) => !(CONTAINER_NAMES as readonly string[]).includes(name),
  );
  if (unknown.length > 0) {
    throw new Error(
      `override for unknown container ${unknown.join(", ")}: containers are ${CONTAINER_NAMES.join(", ")}`,
    );
  }
  const raw =
    projectDir === undefined ? readStackConfig(stack) : readStackConfig(stack, projectDir);
  return parseAuraConfig(applyOverrides(raw, overrides), stack);
}

/** The task's container definitions for a local run, exactly as the program builds them. */
export function localDefinitions(
  config: AuraConfig,
  images: Readonly<Record<ContainerName, string>> = LOCAL_IMAGES,
): ContainerDefinition[] {
  const names = resourceNames(config.stack, config.repositoryPrefix);
  return taskContainerDefinitions(
    config,
    images,
    { group: names.logGroup, region: config.region },
    localSecretRefs(),
    // Managed: the apps alone, pointed at the stand-in endpoint (local/endpoints.ts).
    config.storage === "managed" ? standInConnection() : undefined,
  );
}

/** Parses one `--health container.key=value`; value is JSON when it parses as JSON, else a string. */
export function parseOverride(text: string): { container: string; key: string; value: unknown } {
  const match = /^([a-z0-9-]+)\.([A-Za-z]+)=(.*)$/s.exec(text);
  if (match === null) {
    throw new Error(
      `--health ${JSON.stringify(text)}: expected <container>.<key>=<value>, e.g. api-gateway.interval=5`,
    );
  }
  const [, container, key, rawValue] = match;
  if (!(CONTAINER_KEYS as readonly string[]).includes(key)) {
    throw new Error(
      `--health ${JSON.stringify(text)}: ${key} is not a container setting: allowed keys are ${CONTAINER_KEYS.join(", ")}`,
    );
  }
  let value: unknown = rawValue;
  try {
    value = JSON.parse(rawValue);
  } catch {
    // A bare word stays a string; parseAuraConfig then names the key and what it expects.
  }
  return { container, key, value };
}
