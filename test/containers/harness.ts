/**
 * Runs the Aura images on the local Docker engine the way the task definition describes them:
 * environment, secrets, health checks and stop timeouts all come from lib/taskDefinition.ts,
 * so these tests exercise the contract, not a copy of it. `--network host` makes the host's
 * loopback play the task's shared 127.0.0.1.
 */
import { spawnSync } from "node:child_process";
import { request as httpRequest } from "node:http";
import { APP_PORTS, ContainerName, TASK_LOCAL_HOST } from "../../lib/containers";
import { DEFAULT_RESTART_POLICY, DEFAULT_STOP_TIMEOUT, defaultHealthCheck } from "../../lib/config";
import { probeMemoryOf } from "../../lib/healthCheck";
import {
  ContainerDefinition,
  SECRET_VARIABLES,
  containerDefinition,
} from "../../lib/taskDefinition";

const prefix = process.env.IMAGE_PREFIX ?? "aura";
const tag = process.env.IMAGE_TAG ?? "local";

/** Whether the databases image was built with MongoDB (scripts/test-containers.sh exports it). */
export const WITH_MONGODB = (process.env.WITH_MONGODB ?? "false") === "true";

export const IMAGES: Readonly<Record<ContainerName, string>> = {
  databases: `${prefix}-databases:${tag}`,
  "api-gateway": `${prefix}-api-gateway:${tag}`,
  "service-desk-host": `${prefix}-service-desk-host:${tag}`,
};

export const CONTAINERS: Readonly<Record<ContainerName, string>> = {
  databases: "aura-test-databases",
  "api-gateway": "aura-test-api-gateway",
  "service-desk-host": "aura-test-service-desk-host",
};

/** scripts/test-containers.sh removes everything with this label, before and after the run. */
export const TEST_LABEL = "org.aura.test=containers";
export const DATA_VOLUME = "aura-test-data";

/** Test-only secrets: in ECS they come from Secrets Manager, never from the image. */
export const SECRETS: Readonly<Record<string, string>> = {
  POSTGRES_PASSWORD: "pg-test-Secret-1",
  REDIS_PASSWORD: "redis-test-Secret-2",
  MONGO_PASSWORD: "mongo-test-Secret-3",
  AURA_API_KEYS: "test-api-key-one-0123456789abcdef,test-api-key-two-0123456789abcdef",
};

/** The gateway's valid keys (SECRETS.AURA_API_KEYS). */
export const API_KEYS = SECRETS.AURA_API_KEYS.split(",");

export const GATEWAY_URL = `http://${TASK_LOCAL_HOST}:${APP_PORTS["api-gateway"]}`;
export const SERVICE_DESK_URL = `http://${TASK_LOCAL_HOST}:${APP_PORTS["service-desk-host"]}`;

/** The container definition ECS receives for `name` with the product's default settings. */
export function definition(name: ContainerName, taskCpu?: number): ContainerDefinition {
  const settings = {
    healthCheck: defaultHealthCheck(name),
    stopTimeout: DEFAULT_STOP_TIMEOUT[name],
    restartPolicy: DEFAULT_RESTART_POLICY[name],
  };
  return containerDefinition(
    name,
    settings,
    IMAGES[name],
    { group: "/ecs/test", region: "us-east-2" },
    [],
    "efs",
    undefined,
    taskCpu,
  );
}

export interface Result {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the docker CLI and returns what happened, whatever the exit code. */
export function dockerResult(...args: string[]): Result {
  const result = spawnSync("docker", args, { encoding: "utf8", timeout: 180_000 });
  return { status: result.status, stdout: result.stdout ?? "", stderr: result.stderr ?? "" };
}

/** Runs the docker CLI and returns its trimmed stdout; throws with stderr when it fails. */
export function docker(...args: string[]): string {
  const result = dockerResult(...args);
  if (result.status !== 0) {
    throw new Error(`docker ${args.join(" ")} exited ${result.status}: ${result.stderr.trim()}`);
  }
  return result.stdout.trim();
}

/** The task definition's health-check command as `docker exec` arguments. */
export function healthCheckExecArgs(name: ContainerName): string[] {
  const [kind, ...rest] = definition(name).healthCheck.command;
  return kind === "CMD-SHELL" ? ["sh", "-c", rest[0]] : rest;
}

/** The check aura-probe wraps in the task's command, as `docker exec` arguments: the image's own check. */
export function wrappedCheckExecArgs(name: ContainerName): string[] {
  const memory = probeMemoryOf(definition(name).healthCheck.command);
  if (typeof memory !== "object") throw new Error(`${name}'s health check does not run aura-probe`);
  return [...memory.check];
}

export function runHealthCheck(name: ContainerName, container = CONTAINERS[name]): Result {
  return dockerResult("exec", container, ...healthCheckExecArgs(name));
}

export interface RunOptions {
  /** Container name (default: the suite's name for it). */
  readonly container?: string;
  /** Extra or overriding environment. */
  readonly env?: Readonly<Record<string, string>>;
  /** The databases' data volume (default: the suite's DATA_VOLUME). */
  readonly volume?: string;
  /** The label cleanup finds the container by (default: TEST_LABEL). */
  readonly label?: string;
  /** The container's network (default: host, the task's shared 127.0.0.1 on the host's ports). */
  readonly network?: "host" | "none";
  /** More `docker run` arguments, before the image (e.g. `--volume` bind mounts). */
  readonly dockerArgs?: readonly string[];
}

/** Starts `name` as ECS would: its definition's environment plus its secrets, on the host network. */
export function runContainer(name: ContainerName, options: RunOptions = {}): string {
  const def = definition(name);
  const env: Record<string, string> = {};
  for (const { name: key, value } of def.environment) env[key] = value;
  for (const key of SECRET_VARIABLES[name]) env[key] = SECRETS[key];
  // The local databases image may lack MongoDB; the service desk is then told not to use it.
  if (name === "service-desk-host") env.MONGO_ENABLED = String(WITH_MONGODB);
  Object.assign(env, options.env ?? {});

  const args = ["run", "--detach", "--name", options.container ?? CONTAINERS[name]];
  args.push("--network", options.network ?? "host", "--label", options.label ?? TEST_LABEL);
  if (name === "databases") {
    args.push("--volume", `${options.volume ?? DATA_VOLUME}:/var/lib/aura`);
  } else {
    // The apps must run on a read-only root filesystem, as their own user (no --user here).
    args.push("--read-only", "--tmpfs", "/tmp");
  }
  for (const [key, value] of Object.entries(env)) args.push("--env", `${key}=${value}`);
  args.push(...(options.dockerArgs ?? []), IMAGES[name]);
  return docker(...args);
}

export function createDataVolume(): void {
  docker("volume", "create", "--label", TEST_LABEL, DATA_VOLUME);
}

export function removeContainer(container: string): void {
  dockerResult("rm", "--force", "--volumes", container);
}

/** `docker stop` with the definition's stopTimeout: what ECS gives the container before SIGKILL. */
export function stopContainer(name: ContainerName, container = CONTAINERS[name]): number {
  const started = Date.now();
  docker("stop", "--time", String(definition(name).stopTimeout), container);
  return (Date.now() - started) / 1000;
}

export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls the task's own health-check command until it passes, like ECS does, but only a real
 * pass: aura-probe's "healthy, degraded" answer keeps ECS's status HEALTHY while the check fails.
 */
export async function waitHealthy(
  name: ContainerName,
  timeoutMs: number,
  container = CONTAINERS[name],
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: Result = { status: null, stdout: "", stderr: "" };
  while (Date.now() < deadline) {
    const state = dockerResult(
      "inspect",
      "--format",
      "{{.State.Running}}",
      container,
    ).stdout.trim();
    if (state !== "true") {
      throw new Error(
        `${container} is not running:\n${dockerResult("logs", "--tail", "40", container).stdout}`,
      );
    }
    last = runHealthCheck(name, container);
    if (last.status === 0 && !last.stdout.startsWith("healthy, degraded")) return;
    await sleep(1000);
  }
  throw new Error(`${container} not healthy after ${timeoutMs} ms: ${last.stdout}${last.stderr}`);
}

export function logs(container: string): string {
  const result = dockerResult("logs", container);
  return result.stdout + result.stderr;
}

export interface HttpAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly body: unknown;
  readonly text: string;
}

/**
 * One real HTTP request on a new connection (no keep-alive pool: a server that closes an idle
 * connection between two tests must not fail the second one). JSON bodies are parsed. Requests
 * to a gateway's `/api/...` carry `Authorization: Bearer <API_KEYS[0]>` unless `auth` says
 * otherwise: a key to send instead, or null for no Authorization header at all.
 */
export function http(
  url: string,
  init: {
    method?: string;
    json?: unknown;
    body?: string;
    headers?: Record<string, string>;
    auth?: string | null;
  } = {},
): Promise<HttpAnswer> {
  const headers: Record<string, string> = { ...(init.headers ?? {}) };
  const key = init.auth === undefined ? API_KEYS[0] : init.auth;
  if (new URL(url).pathname.startsWith("/api/") && key !== null) {
    headers.authorization = `Bearer ${key}`;
  }
  let body = init.body;
  if (init.json !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(init.json);
  }
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      url,
      { method: init.method ?? "GET", headers, agent: false, timeout: 30_000 },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("error", reject);
        response.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let parsed: unknown = undefined;
          try {
            parsed = JSON.parse(text);
          } catch {
            parsed = undefined;
          }
          const flat: Record<string, string> = {};
          for (const [key, value] of Object.entries(response.headers)) {
            if (value !== undefined) flat[key] = Array.isArray(value) ? value.join(", ") : value;
          }
          resolve({ status: response.statusCode ?? 0, headers: flat, body: parsed, text });
        });
      },
    );
    request.on("timeout", () => request.destroy(new Error(`${url}: no answer within 30 s`)));
    request.on("error", reject);
    request.end(body);
  });
}

/** Tickets created during the run, by id, with their last known status: the restart test re-reads them all. */
export const createdTickets = new Map<number, string>();
