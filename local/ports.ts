/**
 * With host networking the task's ports are the machine's ports: a second task (or another test's
 * containers) on them would make the databases fail in confusing ways, so check first.
 */
import * as net from "net";
import { APP_PORTS, DATABASE_PORTS } from "../lib/containers";

export const TASK_PORTS: readonly number[] = [
  ...Object.values(DATABASE_PORTS),
  ...Object.values(APP_PORTS),
];

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    socket.setTimeout(1000);
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("timeout", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", () => resolve(false));
  });
}

/** The ports of `ports` that something on 127.0.0.1 already listens on. */
export async function busyPorts(ports: readonly number[] = TASK_PORTS): Promise<number[]> {
  const busy = await Promise.all(ports.map(async (port) => ((await listening(port)) ? port : 0)));
  return busy.filter((port) => port !== 0);
}
