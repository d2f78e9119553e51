/**
 * Mocha root hooks: start the task's three containers once for the whole suite (databases
 * first, the apps once it is HEALTHY, as `dependsOn` makes ECS do) and remove them at the end.
 * scripts/test-containers.sh also removes them, in case this process is killed.
 */
import { CONTAINER_NAMES } from "../../lib/containers";
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

export const mochaHooks = {
  async beforeAll(this: Mocha.Context): Promise<void> {
    // The databases' health-check start period is the boot budget ECS gives them.
    const budgetMs = (definition("databases").healthCheck.startPeriod + 60) * 1000;
    this.timeout(budgetMs + 120_000);
    removeAll();
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
  afterAll(): void {
    if (process.env.KEEP_CONTAINERS === "1") return;
    removeAll();
  },
};
