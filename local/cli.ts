/**
 * `npm run local`: builds the images, then runs the stack's task (and, with --replace, its
 * replacements) on the local engine, printing every state change and log line as it happens.
 * Thin on purpose: the behaviour lives in task.ts and service.ts, which the e2e tests drive.
 */
import Docker from "dockerode";
import { ConfigError } from "../lib/config";
import { LOCAL_IMAGES, localConfig, localDefinitions } from "./definitions";
import { standInDefinitions, standInStorage } from "./endpoints";
import { buildAdaptations, buildImages, checkImagesPresent, checkPlatform } from "./images";
import { parseArgs, USAGE } from "./options";
import { busyPorts } from "./ports";
import { loadLocalSecrets, localSecretResolver } from "./secrets";
import { runService } from "./service";
import { RunningTask, startTask } from "./task";
import { STACK_VOLUME_LABEL, removeStackVolumes, stackStorage } from "./volumes";
import { formatEvent, formatService, formatSummary } from "./view";

async function main(argv: readonly string[]): Promise<number> {
  const options = parseArgs(argv);
  if (options.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const config = localConfig(options.stack, options.overrides);
  const definitions = localDefinitions(config, LOCAL_IMAGES);
  const docker = new Docker();
  await checkPlatform(docker, config.platform);
  if (options.build) buildImages();
  await checkImagesPresent(docker, LOCAL_IMAGES);
  const busy = await busyPorts();
  if (busy.length > 0) {
    throw new Error(
      `127.0.0.1 port(s) ${busy.join(", ")} already in use: the task shares the host's network, stop whatever listens there first`,
    );
  }
  const storage = stackStorage(config);
  if (options.freshData) {
    const removed = await removeStackVolumes(docker, config.stack);
    console.log(
      `--fresh-data: removed ${removed.length === 0 ? "no volumes (none yet)" : removed.join(", ")}`,
    );
  }
  const secrets = loadLocalSecrets(options.envFile);
  if (secrets.created) {
    console.log(`created ${options.envFile} with random secrets`);
    // The databases keep the passwords they were initialised with; new ones would lock the apps out.
    const kept = await docker.listVolumes({
      filters: { label: [`${STACK_VOLUME_LABEL}=${config.stack}`] },
    });
    if ((kept.Volumes ?? []).length > 0) {
      console.log(
        `warning: stack ${config.stack} has persistent database volumes made with other secrets; run with --fresh-data if the apps cannot log in`,
      );
    }
  }
  const extraEnvironment = await buildAdaptations(docker, LOCAL_IMAGES);
  for (const [container, variables] of Object.entries(extraEnvironment)) {
    console.log(`${container}: local build adaptation ${JSON.stringify(variables)}`);
  }

  // Managed: the databases image runs beside the tasks as the stand-in for RDS, ElastiCache
  // and DocumentDB, started first and kept until the service ends.
  const endpoint =
    config.storage === "managed"
      ? await startEndpoint(config, {
          docker,
          resolveSecret: localSecretResolver(secrets.values),
          extraEnvironment,
          verbose: options.verbose,
        })
      : undefined;

  const service = runService(
    (number) => {
      console.log(`\n=== task ${number} of stack ${config.stack} ===`);
      return startTask(definitions, {
        docker,
        resolveSecret: localSecretResolver(secrets.values),
        extraEnvironment,
        keepContainers: options.keepContainers,
        storage,
        recordProbes: options.verbose,
        onEvent: (event) => {
          const line = formatEvent(event, options.verbose);
          if (line !== undefined) console.log(line);
        },
      });
    },
    {
      replacements: options.replacements,
      onTaskStopped: (result, number) => console.log(`\n${formatSummary(result, number)}`),
    },
  );
  let interrupts = 0;
  const interrupt = () => {
    // First Ctrl-C stops the task the ECS way (stopTimeout per container); a second one exits now.
    if (++interrupts > 1) process.exit(130);
    console.log("\nstopping (Ctrl-C again to abandon the containers)");
    service.stop();
  };
  process.on("SIGINT", interrupt);
  process.on("SIGTERM", interrupt);
  const result = await service.done;
  if (endpoint !== undefined) {
    endpoint.stop();
    await endpoint.done;
  }
  if (result.tasks.length > 1 || options.replacements > 0)
    console.log(`\n${formatService(result)}`);
  return result.stoppedByUser ? 0 : 1;
}

/** Starts the managed engines' stand-in and waits until it is HEALTHY. */
async function startEndpoint(
  config: ReturnType<typeof localConfig>,
  options: {
    docker: Docker;
    resolveSecret: ReturnType<typeof localSecretResolver>;
    extraEnvironment: Awaited<ReturnType<typeof buildAdaptations>>;
    verbose: boolean;
  },
): Promise<RunningTask> {
  console.log(
    "\n=== managed databases' stand-in: the databases image on 127.0.0.1:5432, 6379, 27017 (no TLS) ===",
  );
  const endpoint = startTask(standInDefinitions(config, LOCAL_IMAGES.databases), {
    docker: options.docker,
    taskId: `${config.stack}-endpoint`,
    resolveSecret: options.resolveSecret,
    extraEnvironment: options.extraEnvironment,
    storage: standInStorage(config),
    onEvent: (event) => {
      const line = formatEvent(event, options.verbose);
      if (line !== undefined) console.log(`[endpoint] ${line}`);
    },
  });
  await endpoint.waitFor(
    (e) => e.type === "task-healthy" || (e.type === "task" && e.status === "STOPPED"),
    15 * 60_000,
  );
  if (!endpoint.events.some((e) => e.type === "task-healthy")) {
    throw new Error("the managed databases' stand-in stopped before it was HEALTHY");
  }
  return endpoint;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof ConfigError || error instanceof Error ? error.message : error);
    process.exit(2);
  },
);
