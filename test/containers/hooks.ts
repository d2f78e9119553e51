/**
 * Mocha root hooks: start the task's three containers once for the whole suite (databases
 * first, the apps once it is HEALTHY, as `dependsOn` makes ECS do) and remove them at the end.
 * scripts/test-containers.sh also removes them, in case this process is killed.
 */
import net from "node:net";
import { APP_PORTS, CONTAINER_NAMES, DATABASE_PORTS, TASK_LOCAL_HOST } from "../../lib/containers";
import {
  CONTAINERS,
  DATA_VOLUME,
  createDataVolume,
  definition,
  docker,
  dockerResult,
  removeContainer,
  runContainer,
  waitHealthy,
} from "./harness";

function removeAll(): void {
  for (const name of CONTAINER_NAMES) removeContainer(CONTAINERS[name]);
  dockerResult("volume", "rm", "--force", DATA_VOLUME);
}

/** Whether something already listens on 127.0.0.1:port (e.g. another run's container). */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: TASK_LOCAL_HOST, port });
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
  });
}

/** With --network host a busy port would silently point the tests at someone else's server. */
async function assertPortsFree(): Promise<void> {
  const ports = [...Object.values(DATABASE_PORTS), ...Object.values(APP_PORTS)];
  const busy = [];
  for (const port of ports) if (await listening(port)) busy.push(port);
  if (busy.length > 0) {
    const running = docker("ps", "--format", "{{.Names}} ({{.Image}})").split("\n").join(", ");
    throw new Error(
      `ports ${busy.join(", ")} are already in use on 127.0.0.1; running: ${running}`,
    );
  }
}

export const mochaHooks = {
  async beforeAll(this: Mocha.Context): Promise<void> {
    // The databases' health-check start period is the boot budget ECS gives them.
    const budgetMs = (definition("databases").healthCheck.startPeriod + 60) * 1000;
    this.timeout(budgetMs + 120_000);
    removeAll();
    await assertPortsFree();
    createDataVolume();
    console.log(`    starting ${CONTAINERS.databases}`);
    runContainer("databases");
    await waitHealthy("databases", budgetMs);
    for (const name of ["service-desk-host", "api-gateway"] as const) {
      console.log(`    starting ${CONTAINERS[name]}`);
      runContainer(name);
    }
    await waitHealthy("service-desk-host", 60_000);
    await waitHealthy("api-gateway", 60_000);
    console.log(
      `    all three containers healthy (${docker("version", "--format", "{{.Server.Version}}")})`,
    );
  },
  afterAll(this: Mocha.Context): void {
    // vfs copies whole filesystems: removing the containers can take minutes on a busy engine.
    this.timeout(300_000);
    if (process.env.KEEP_CONTAINERS === "1") return;
    removeAll();
  },
};
