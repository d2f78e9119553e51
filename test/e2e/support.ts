/** What both e2e files need: where results go, progress printing, and waiting for the ports. */
import Docker from "dockerode";
import * as fs from "fs";
import * as path from "path";
import { PROJECT_DIR } from "../../lib/stackFile";
import { busyPorts } from "../../local/ports";
import { TASK_LABEL, TaskEvent } from "../../local/task";
import { formatEvent } from "../../local/view";

export const RESULTS_DIR = path.join(PROJECT_DIR, "test-results");
export const GATEWAY = "http://127.0.0.1:8000/api/service-desk";

/** The key every `/api/...` request through the gateway sends, from the run's `local.env`. */
let apiKey: string | undefined;

/** Sends the first of `values`' AURA_API_KEYS with each request to GATEWAY from now on. */
export function useApiKeyFrom(values: ReadonlyMap<string, string>): void {
  apiKey = values.get("AURA_API_KEYS")?.split(",")[0];
}

/** The headers of a request to `url`: the API key for the gateway's API, JSON for a body. */
export function requestHeaders(url: string, withBody: boolean): Record<string, string> {
  return {
    ...(apiKey !== undefined && url.startsWith(GATEWAY)
      ? { authorization: `Bearer ${apiKey}` }
      : {}),
    ...(withBody ? { "content-type": "application/json" } : {}),
  };
}
export const MINUTE = 60_000;

/** Writes every event of a task to test-results/e2e-<label>.log and prints its state changes. */
export function progress(label: string): (event: TaskEvent) => void {
  const logFile = path.join(RESULTS_DIR, `e2e-${label}.log`);
  fs.writeFileSync(logFile, "");
  return (event) => {
    const line = formatEvent(event, true);
    if (line === undefined) return;
    fs.appendFileSync(logFile, `${line}\n`);
    // Container output goes to the file only; state changes are the progress worth printing.
    if (event.type !== "log" && event.type !== "probe") console.log(`      [${label}] ${line}`);
  };
}

/** Waits until no other container holds the task's host ports (at most 20 minutes). */
export async function waitForFreePorts(): Promise<void> {
  const deadline = Date.now() + 20 * MINUTE;
  for (;;) {
    const busy = await busyPorts();
    if (busy.length === 0) return;
    if (Date.now() > deadline)
      throw new Error(`ports ${busy.join(", ")} stayed busy for 20 minutes`);
    console.log(`      waiting: 127.0.0.1 port(s) ${busy.join(", ")} in use by other containers`);
    await new Promise((resolve) => setTimeout(resolve, 15_000));
  }
}

/** The output lines of `container` among a task's events. */
export function logLines(events: readonly TaskEvent[], container: string): string[] {
  return events
    .filter(
      (e): e is Extract<TaskEvent, { type: "log" }> =>
        e.type === "log" && e.container === container,
    )
    .map((e) => e.line);
}

/** Removes containers a crashed earlier run of the runner left behind (by its label only). */
export async function removeLeftoverContainers(docker: Docker): Promise<void> {
  const leftovers = await docker.listContainers({ all: true, filters: { label: [TASK_LABEL] } });
  for (const info of leftovers) {
    console.log(`      removing leftover ${info.Names.join(",")}`);
    await docker.getContainer(info.Id).remove({ force: true });
  }
}
