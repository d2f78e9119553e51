/**
 * The few Docker Engine API calls the runner needs, through dockerode: a health-check probe as a
 * `docker exec`, and a container's output split into lines. No CLI text is parsed anywhere.
 */
import Docker from "dockerode";
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

/** Runs a health-check command inside `container` and reports its exit code and output. */
export async function execProbe(
  container: Docker.Container,
  command: readonly string[],
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
  await new Promise<void>((resolve) => {
    stream.on("end", resolve);
    stream.on("close", resolve);
    stream.on("error", () => resolve());
  });
  const info = await exec.inspect();
  return { exitCode: info.ExitCode ?? -1, output: output.slice(0, MAX_PROBE_OUTPUT).trim() };
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
