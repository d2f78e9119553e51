/** The live view and the end-of-run summary, as plain text builders (the CLI only prints them). */
import type { ServiceResult } from "./service";
import type { TaskEvent, TaskResult } from "./task";
import type { DockerVolume } from "./volumes";

/** Seconds with one decimal, as `+12.3s`. */
export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

/** A probe's output on one line: the databases check prints one line per database. */
function oneLine(text: string): string {
  return text
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "")
    .join("; ");
}

/** One line for an event, prefixed with the time since task start; undefined to show nothing. */
export function formatEvent(event: TaskEvent, verbose = false): string | undefined {
  const time = `+${seconds(event.at).padStart(6)}`;
  switch (event.type) {
    case "task":
      return `${time} task ${event.status}${event.reason !== undefined ? `: ${event.reason}` : ""}`;
    case "task-healthy":
      return `${time} task HEALTHY (every container HEALTHY after ${seconds(event.at)})`;
    case "container": {
      const exit = event.exitCode !== undefined ? ` (exit ${event.exitCode})` : "";
      const reason = event.reason !== undefined ? `: ${event.reason}` : "";
      const kept =
        event.notRestarted !== undefined ? ` (not restarted: ${event.notRestarted})` : "";
      return `${time} [${event.container}] ${event.status}${exit}${reason}${kept}`;
    }
    case "restart":
      return `${time} [${event.container}] exited (exit ${event.exitCode}) after ${seconds(event.ranForMs)}: restarting in place (restart ${event.restartCount})`;
    case "health": {
      const detail =
        event.status === "UNHEALTHY" && event.output !== "" ? `: ${oneLine(event.output)}` : "";
      return `${time} [${event.container}] ${event.status} ${seconds(event.sinceStart)} after start${detail}`;
    }
    case "probe":
      return verbose
        ? `${time} [${event.container}] probe exit ${event.exitCode} in ${event.durationMs} ms${event.output !== "" ? `: ${oneLine(event.output)}` : ""}`
        : undefined;
    case "log":
      return `${time} ${event.container} | ${event.line}`;
    case "volumes":
      return `${time} ${formatVolumes(event.volumes, event.reused)}`;
  }
}

/** Which volumes outlive the task: what a user must know before trusting data to a local run. */
export function formatVolumes(volumes: readonly DockerVolume[], reused: readonly string[]): string {
  const persistent = volumes.filter((v) => v.persistent);
  const own = volumes.filter((v) => !v.persistent);
  const list = (items: readonly DockerVolume[], describe: (v: DockerVolume) => string) =>
    items.length === 0 ? "none" : items.map(describe).join(", ");
  return [
    `volumes persistent (EFS on ECS, kept across tasks): ${list(
      persistent,
      (v) => `${v.name} (${reused.includes(v.name) ? "existing data" : "new"})`,
    )}`,
    `task's own (removed with the task): ${list(own, (v) => v.name)}`,
  ].join("; ");
}

/** The per-container table and the stop reason of one task. */
export function formatSummary(result: TaskResult, number?: number): string {
  const title =
    number === undefined ? `task ${result.taskId}` : `task ${number} (${result.taskId})`;
  const rows = result.containers.map((c) => [
    c.name,
    c.startedAt !== undefined ? `+${seconds(c.startedAt)}` : "never",
    c.healthyAt !== undefined
      ? `+${seconds(c.healthyAt)} (${seconds(c.timeToHealthy!)} after start)`
      : (c.health ?? "-"),
    c.exitCode !== undefined ? String(c.exitCode) : "-",
  ]);
  const header = ["container", "started", "healthy at", "exit code"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i])).join("  ");
  const reasons = result.containers
    .filter((c) => c.reason !== undefined)
    .map((c) => `  ${c.name}: ${c.reason}`);
  return [
    `${title} stopped after ${seconds(result.durationMs)}: ${result.stoppedReason}`,
    result.allHealthyAt !== undefined
      ? `all containers HEALTHY at +${seconds(result.allHealthyAt)}`
      : "the task never had every container HEALTHY",
    `  ${line(header)}`,
    ...rows.map((row) => `  ${line(row)}`),
    ...reasons,
  ].join("\n");
}

/** The restart loop as one: how many tasks, and why each stopped. */
export function formatService(result: ServiceResult): string {
  const counts = new Map<string, number>();
  for (const reason of result.reasons) counts.set(reason, (counts.get(reason) ?? 0) + 1);
  const end = result.stoppedByUser
    ? "stopped by user"
    : result.capReached
      ? `replacement cap reached: ${result.tasks.length - 1} replacement(s)`
      : "ended";
  return [
    `service: ${result.tasks.length} task(s) started, ${end}`,
    ...[...counts].map(([reason, count]) => `  ${count} x ${reason}`),
  ].join("\n");
}
