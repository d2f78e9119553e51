/**
 * What the fault suite's files share: its own container and volume names (label
 * org.aura.test=faults, removed by scripts/test-faults.sh before and after), starting the
 * databases on a given volume, stopping a start at one of the entrypoint's test pause points,
 * SIGKILL, and the checks that no password leaks into a process list or a log.
 * Everything else comes from test/containers/harness.ts, so the containers run with the task
 * definition's environment and health checks.
 */
import { strict as assert } from "assert";
import { spawn } from "child_process";
import {
  definition,
  docker,
  dockerResult,
  logs,
  runContainer,
  sleep,
  waitHealthy,
} from "../containers/harness";
import { ContainerName } from "../../lib/containers";

export const FAULTS_LABEL = "org.aura.test=faults";

export const FAULT_CONTAINERS: Readonly<Record<ContainerName, string>> = {
  databases: "aura-faults-databases",
  "api-gateway": "aura-faults-api-gateway",
  "service-desk-host": "aura-faults-service-desk-host",
};

/** ECS's start period for the databases: the budget a start must become HEALTHY in. */
export const START_BUDGET_MS = definition("databases").healthCheck.startPeriod * 1000;

export function createVolume(name: string): string {
  dockerResult("volume", "rm", "--force", name);
  docker("volume", "create", "--label", FAULTS_LABEL, name);
  return name;
}

let retired = 0;
/**
 * Frees `container`'s name at once and removes it in the background: with the vfs storage
 * driver a removal deletes a full copy of the image, seconds that no test needs to wait for.
 * scripts/test-faults.sh removes whatever is left by the label.
 */
export function remove(container: string): void {
  if (dockerResult("inspect", container).status !== 0) return;
  dockerResult("kill", container);
  const name = `${container}-retired-${process.pid}-${++retired}`;
  docker("rename", container, name);
  spawn("docker", ["rm", "--force", name], { detached: true, stdio: "ignore" }).unref();
}

/** Every databases container's output, kept when it is removed: no password may be in any. */
export const databasesOutput: string[] = [];

export interface DatabasesStart {
  readonly volume: string;
  readonly env?: Readonly<Record<string, string>>;
  readonly dockerArgs?: readonly string[];
  readonly network?: "host" | "none";
}

/** Replaces the suite's databases container by a new one on `volume`, as a new task would. */
export function startDatabases(start: DatabasesStart): number {
  const container = FAULT_CONTAINERS.databases;
  if (dockerResult("inspect", container).status === 0) {
    databasesOutput.push(logs(container));
    remove(container);
  }
  runContainer("databases", {
    container,
    label: FAULTS_LABEL,
    volume: start.volume,
    env: start.env,
    dockerArgs: start.dockerArgs,
    network: start.network,
  });
  return Date.now();
}

/** Waits for the task's health check to pass; returns the seconds since `startedAt`. */
export async function healthyWithinBudget(startedAt: number): Promise<number> {
  await waitHealthy("databases", START_BUDGET_MS, FAULT_CONTAINERS.databases);
  const seconds = (Date.now() - startedAt) / 1000;
  assert.ok(seconds * 1000 < START_BUDGET_MS, `HEALTHY after ${seconds} s`);
  return seconds;
}

/** Starts the databases with AURA_TEST_PAUSE_AT=step and waits until the entrypoint is there. */
export async function startPausedAt(step: string, start: DatabasesStart): Promise<void> {
  startDatabases({ ...start, env: { ...start.env, AURA_TEST_PAUSE_AT: step } });
  const container = FAULT_CONTAINERS.databases;
  const deadline = Date.now() + START_BUDGET_MS;
  while (
    dockerResult("exec", container, "test", "-e", `/run/aura/paused-at-${step}`).status !== 0
  ) {
    if (Date.now() > deadline)
      throw new Error(`${container} never reached ${step}:\n${logs(container)}`);
    const running = dockerResult(
      "inspect",
      "--format",
      "{{.State.Running}}",
      container,
    ).stdout.trim();
    if (running !== "true")
      throw new Error(`${container} exited before ${step}:\n${logs(container)}`);
    await sleep(200);
  }
}

/** SIGKILL to the container's PID 1: the kernel kills every process in it, as on a host failure. */
export function sigkill(container = FAULT_CONTAINERS.databases): void {
  docker("kill", "--signal", "KILL", container);
  docker("wait", container);
  assert.equal(docker("inspect", "--format", "{{.State.ExitCode}}", container), "137");
}

/** Every process's command line in the container. */
export function processList(container = FAULT_CONTAINERS.databases): string {
  return docker("exec", container, "ps", "-eo", "user,args");
}

export function assertNoSecret(text: string, secrets: readonly string[], where: string): void {
  for (const secret of secrets) {
    assert.ok(!text.includes(secret), `a password appears in ${where}:\n${text}`);
  }
}

export function databasesLog(): string {
  return logs(FAULT_CONTAINERS.databases);
}
