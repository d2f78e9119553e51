/**
 * The few Docker Engine API calls the runner needs, through dockerode: a health-check probe as a
 * `docker exec`, and a container's output split into lines. No CLI text is parsed anywhere.
 */
import Docker from "dockerode";
import * as fs from "fs";
import { PassThrough, Readable } from "stream";
import type { ProbeOutcome } from "./healthMonitor";

/** Docker keeps at most this much of a probe's output; so do we, for the same reason. */
const MAX_PROBE_OUTPUT = 4096;

/** `CMD` runs the words as an exec array; `CMD-SHELL` runs its one line with `/bin/sh -c`, as Docker does. */
export function probeCommand(command: readonly string[]): string[] {
  const [kind, ...rest] = command;
  if (kind === "CMD-SHELL") return ["/bin/sh", "-c", rest.join(" ")];
  if (kind === "CMD") return rest;
  throw new Error(
    `health-check command ${JSON.stringify(command)} must start with CMD or CMD-SHELL`,
  );
}

/** The host PIDs of `pid` and every process below it, parents first (Linux /proc). */
function processTree(pid: number): number[] {
  let entries: string[];
  try {
    entries = fs.readdirSync("/proc").filter((name) => /^\d+$/.test(name));
  } catch {
    return [pid];
  }
  const children = new Map<number, number[]>();
  for (const entry of entries) {
    try {
      // /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces and parentheses.
      const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
      const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      children.set(parent, [...(children.get(parent) ?? []), Number(entry)]);
    } catch {
      // The process ended while we read.
    }
  }
  const tree: number[] = [];
  const visit = (at: number) => {
    tree.push(at);
    for (const child of children.get(at) ?? []) visit(child);
  };
  visit(pid);
  return tree;
}

/**
 * Kills a probe that ran past its timeout, as Docker's exec cancel does (the exec's own process
 * first, so a shell dies without reporting its child's death), then its children too so that
 * nothing it started keeps running. The Engine API has no call to kill an exec, so this
 * signals the exec's host PID (ExecInspect.Pid): the runner must run on the engine's host, which
 * host networking requires anyway.
 */
async function killExec(exec: Docker.Exec): Promise<string | undefined> {
  const info = await exec.inspect();
  if (!info.Running || !info.Pid) return undefined;
  for (const pid of processTree(info.Pid)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== "ESRCH") return `could not kill the probe (pid ${pid}: ${code})`;
    }
  }
  return undefined;
}

/**
 * Runs a health-check command inside `container` and reports its exit code and output. When
 * `signal` aborts, the probe is killed and this settles with what it printed so far.
 */
export async function execProbe(
  container: Docker.Container,
  command: readonly string[],
  signal?: AbortSignal,
): Promise<ProbeOutcome> {
  const exec = await container.exec({
    Cmd: probeCommand(command),
    AttachStdout: true,
    AttachStderr: true,
  });
  const stream = (await exec.start({ hijack: true, stdin: false })) as Readable;
  let output = "";
  const collect = new PassThrough();
  collect.on("data", (chunk: Buffer) => {
    if (output.length < MAX_PROBE_OUTPUT) output += chunk.toString("utf8");
  });
  container.modem.demuxStream(stream, collect, collect);
  const ended = new Promise<void>((resolve) => {
    stream.on("end", resolve);
    stream.on("close", resolve);
    stream.on("error", () => resolve());
  });
  const aborted = new Promise<void>((resolve) => {
    if (signal?.aborted) resolve();
    signal?.addEventListener("abort", () => resolve(), { once: true });
  });
  await Promise.race([ended, aborted]);
  const printed = () => output.slice(0, MAX_PROBE_OUTPUT).trim();
  if (signal?.aborted) {
    const problem = await killExec(exec);
    // A killed probe's output ends with it; a grandchild that escaped may hold the pipe open.
    await Promise.race([ended, new Promise((resolve) => setTimeout(resolve, 2_000))]);
    stream.destroy();
    const text = printed();
    return {
      exitCode: -1,
      output: problem === undefined ? text : [text, problem].filter((t) => t !== "").join("; "),
    };
  }
  const info = await exec.inspect();
  return { exitCode: info.ExitCode ?? -1, output: printed() };
}

/** Calls `onLine` for each complete line written to the returned stream. */
export function lineSplitter(onLine: (line: string) => void): PassThrough {
  const stream = new PassThrough();
  let pending = "";
  stream.on("data", (chunk: Buffer) => {
    pending += chunk.toString("utf8");
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) onLine(line.replace(/\r$/, ""));
  });
  stream.on("end", () => {
    if (pending !== "") onLine(pending);
    pending = "";
  });
  return stream;
}

/** The image's labels, or undefined when the image is not on the engine. */
export async function imageLabels(
  docker: Docker,
  image: string,
): Promise<Record<string, string> | undefined> {
  try {
    const info = await docker.getImage(image).inspect();
    return info.Config?.Labels ?? {};
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) return undefined;
    throw error;
  }
}
