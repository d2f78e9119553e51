/**
 * Runs one ECS task on the local Docker engine with the behaviour ECS gives it: containers start
 * in `dependsOn` order, the runner itself runs each health check on Docker's cadence, and when an
 * essential container exits or turns UNHEALTHY the whole task stops in reverse dependency order
 * (SIGTERM, then SIGKILL after each container's stopTimeout), with ECS's stop reason.
 *
 * It takes the container definitions as the Pulumi program registers them (lib/taskDefinition.ts)
 * and declares nothing of its own: no health checks, environment or dependencies.
 */
import Docker from "dockerode";
import { randomBytes } from "crypto";
import type { ContainerDefinition, SecretRef } from "../lib/taskDefinition";
import {
  ContainerPhase,
  ContainerSnapshot,
  DEPENDENCY_FAILURE_EXIT_CODE,
  startDecision,
  stopInDependencyOrder,
  validateDependencies,
} from "./dependencies";
import { HealthMonitor, HealthStatus, ProbeRecord } from "./healthMonitor";
import { execProbe, lineSplitter } from "./docker";
import { restartDecision } from "./restartPolicy";
import { DockerVolume, LocalStorage, TASK_LABEL, dockerVolumes } from "./volumes";

export { TASK_LABEL } from "./volumes";

/**
 * The fields of a definition the runner applies besides the basics; optional so that a runner
 * built against an older definition shape still runs it.
 */
export type RunnableDefinition = ContainerDefinition & {
  readonly user?: string;
  readonly readonlyRootFilesystem?: boolean;
  readonly mountPoints?: readonly {
    sourceVolume: string;
    containerPath: string;
    readOnly: boolean;
  }[];
  readonly linuxParameters?: { readonly capabilities?: { readonly drop?: readonly string[] } };
};

/** ECS's `stoppedReason` texts for the cases the runner reproduces. */
export const STOPPED_REASONS = {
  essentialContainerExited: "Essential container in task exited",
  failedHealthChecks: "Task failed container health checks",
  userInitiated: "Task stopped by user",
} as const;

export type TaskStatus = "PENDING" | "RUNNING" | "STOPPING" | "STOPPED";

/** Everything the runner observes, in order. `at` is ms since the task started. */
export type TaskEvent =
  | {
      readonly type: "task";
      readonly at: number;
      readonly status: TaskStatus;
      readonly reason?: string;
    }
  | { readonly type: "task-healthy"; readonly at: number }
  | {
      readonly type: "volumes";
      readonly at: number;
      readonly volumes: readonly DockerVolume[];
      /** The persistent volumes that held data of an earlier task (they existed already). */
      readonly reused: readonly string[];
    }
  | {
      readonly type: "container";
      readonly at: number;
      readonly container: string;
      readonly status: ContainerPhase;
      readonly exitCode?: number;
      readonly reason?: string;
      /** Why the restart policy did not restart it, in the agent's words (only with a policy). */
      readonly notRestarted?: string;
    }
  | {
      /** The restart policy restarted an exited container in place (same container, volumes, network). */
      readonly type: "restart";
      readonly at: number;
      readonly container: string;
      readonly exitCode: number;
      /** 1 for the first restart of this container. */
      readonly restartCount: number;
      /** ms it ran since its start or last restart. */
      readonly ranForMs: number;
    }
  | {
      readonly type: "health";
      readonly at: number;
      readonly container: string;
      readonly status: HealthStatus;
      /** ms from the container's start to this change. */
      readonly sinceStart: number;
      readonly output: string;
    }
  | {
      readonly type: "probe";
      readonly at: number;
      readonly container: string;
      readonly exitCode: number;
      readonly output: string;
      readonly durationMs: number;
    }
  | {
      readonly type: "log";
      readonly at: number;
      readonly container: string;
      readonly stream: "stdout" | "stderr";
      readonly line: string;
    };

export interface ContainerSummary {
  readonly name: string;
  readonly essential: boolean;
  /** ms since task start when it was created (all are, at task start); unset if creation failed. */
  readonly createdAt?: number;
  /** ms since task start; unset if it never started. */
  readonly startedAt?: number;
  /** ms since task start of the first HEALTHY. */
  readonly healthyAt?: number;
  /** healthyAt - startedAt: what the health-check policy costs this container. */
  readonly timeToHealthy?: number;
  readonly health?: HealthStatus;
  readonly exitCode?: number;
  readonly reason?: string;
  /** How many times the restart policy restarted it in place. */
  readonly restarts: number;
}

export interface TaskResult {
  readonly taskId: string;
  readonly stoppedReason: string;
  readonly startedAt: Date;
  readonly durationMs: number;
  /** ms since task start when every container with a health check was HEALTHY at once. */
  readonly allHealthyAt?: number;
  readonly containers: readonly ContainerSummary[];
  readonly events: readonly TaskEvent[];
}

export interface TaskOptions {
  readonly docker?: Docker;
  /** Default: 8 random hex digits. Container names are `aura-local-<taskId>-<container>`. */
  readonly taskId?: string;
  /** Turns a definition's `secrets[].valueFrom` into the value; required when a definition has secrets. */
  readonly resolveSecret?: (secret: SecretRef, container: string) => string;
  /**
   * Variables added to a container's environment for this machine only (e.g. an image built
   * without MongoDB); they never replace a variable of the definition.
   */
  readonly extraEnvironment?: Readonly<Record<string, Readonly<Record<string, string>>>>;
  readonly onEvent?: (event: TaskEvent) => void;
  /** Leave the stopped containers on the engine for inspection. */
  readonly keepContainers?: boolean;
  /** How often pending containers' dependencies are re-evaluated. */
  readonly pollMs?: number;
  /** Record every probe as an event (noisy; for tests and `--verbose`). */
  readonly recordProbes?: boolean;
  /**
   * The task's volumes (`stackStorage(config)`): those EFS backs on ECS become the stack's
   * persistent Docker volumes, reused by every task. Default: every volume is the task's own.
   */
  readonly storage?: LocalStorage;
}

export interface RunningTask {
  readonly taskId: string;
  readonly events: readonly TaskEvent[];
  readonly done: Promise<TaskResult>;
  /** Stops the task like `aws ecs stop-task`. */
  stop(reason?: string): void;
  /** The first event, past or future, that matches; rejects after `timeoutMs`. */
  waitFor(predicate: (event: TaskEvent) => boolean, timeoutMs: number): Promise<TaskEvent>;
}

interface Runtime {
  readonly definition: RunnableDefinition;
  phase: ContainerPhase;
  created?: Promise<void>;
  /** ms since task start when the container was created. */
  createdAt?: number;
  launching?: Promise<void>;
  container?: Docker.Container;
  startedAt?: number;
  health?: HealthStatus;
  healthyAt?: number;
  exitCode?: number;
  reason?: string;
  monitor?: HealthMonitor;
  exited?: Promise<void>;
  logsDone?: Promise<void>;
  restartCount: number;
  /** ms since task start of the last restart in place. */
  lastRestartAt?: number;
  /** Settles when a restart in place has started the container again (or failed to). */
  restarting?: Promise<void>;
}

/** Starts the task and returns at once; `done` settles when it has stopped. */
export function startTask(
  definitions: readonly RunnableDefinition[],
  options: TaskOptions = {},
): RunningTask {
  const problems = validateDependencies(definitions);
  if (problems.length > 0)
    throw new Error(`Invalid task definition:\n  - ${problems.join("\n  - ")}`);
  for (const definition of definitions) {
    if ((definition.secrets ?? []).length > 0 && options.resolveSecret === undefined) {
      throw new Error(`${definition.name} has secrets but no resolveSecret was given`);
    }
  }
  const runner = new TaskRunner(definitions, options);
  const done = runner.run();
  return {
    taskId: runner.taskId,
    events: runner.events,
    done,
    stop: (reason) => runner.requestStop(reason ?? STOPPED_REASONS.userInitiated),
    waitFor: (predicate, timeoutMs) => runner.waitFor(predicate, timeoutMs),
  };
}

/** Runs the task to the end. */
export function runTask(
  definitions: readonly RunnableDefinition[],
  options: TaskOptions = {},
): Promise<TaskResult> {
  return startTask(definitions, options).done;
}

class TaskRunner {
  readonly taskId: string;
  readonly events: TaskEvent[] = [];
  private readonly docker: Docker;
  private readonly runtimes: Runtime[];
  private readonly byName: Map<string, Runtime>;
  private readonly startedAt = new Date();
  private stopReason?: string;
  private wake?: () => void;
  private listeners = new Set<(event: TaskEvent) => void>();
  private allHealthyAt?: number;
  private running = false;
  private stoppedAt?: number;
  private readonly volumes: Map<string, DockerVolume>;
  private volumesReady?: Promise<void>;

  constructor(
    private readonly definitions: readonly RunnableDefinition[],
    private readonly options: TaskOptions,
  ) {
    this.taskId = options.taskId ?? randomBytes(4).toString("hex");
    this.docker = options.docker ?? new Docker();
    this.runtimes = definitions.map((definition) => ({
      definition,
      phase: "PENDING",
      restartCount: 0,
    }));
    this.byName = new Map(this.runtimes.map((runtime) => [runtime.definition.name, runtime]));
    const mountPoints = definitions.flatMap((definition) =>
      (definition.mountPoints ?? []).map((mountPoint) => ({
        container: definition.name,
        mountPoint,
      })),
    );
    this.volumes = new Map(
      dockerVolumes(mountPoints, this.taskId, options.storage).map((v) => [v.sourceVolume, v]),
    );
  }

  private at(): number {
    return Date.now() - this.startedAt.getTime();
  }

  private emit(event: TaskEvent): void {
    this.events.push(event);
    this.options.onEvent?.(event);
    for (const listener of this.listeners) listener(event);
  }

  waitFor(predicate: (event: TaskEvent) => boolean, timeoutMs: number): Promise<TaskEvent> {
    const seen = this.events.find(predicate);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const listener = (event: TaskEvent) => {
        if (!predicate(event)) return;
        clearTimeout(timer);
        this.listeners.delete(listener);
        resolve(event);
      };
      const timer = setTimeout(() => {
        this.listeners.delete(listener);
        reject(new Error(`task ${this.taskId}: no matching event within ${timeoutMs} ms`));
      }, timeoutMs);
      this.listeners.add(listener);
    });
  }

  requestStop(reason: string): void {
    if (this.stopReason !== undefined) return;
    this.stopReason = reason;
    this.wake?.();
  }

  async run(): Promise<TaskResult> {
    this.emit({ type: "task", at: this.at(), status: "PENDING" });
    const definitionsByName = new Map(this.definitions.map((d) => [d.name, d]));
    this.volumesReady = this.createVolumes();
    // Every container is created at once (see create()); dependsOn gates only the start.
    for (const runtime of this.runtimes) {
      runtime.created = this.create(runtime).then(
        () => {
          runtime.createdAt = this.at();
        },
        (error: unknown) =>
          this.failToStart(
            runtime,
            `CannotCreateContainerError: ${errorMessage(error)}`,
            undefined,
          ),
      );
    }
    while (this.stopReason === undefined) {
      for (const runtime of this.runtimes) {
        if (runtime.phase !== "PENDING" || runtime.launching !== undefined) continue;
        const decision = startDecision(
          runtime.definition,
          definitionsByName,
          this.snapshots(),
          this.at(),
        );
        if (decision.action === "start") {
          runtime.launching = this.launch(runtime).catch((error: unknown) =>
            this.failToStart(
              runtime,
              `CannotStartContainerError: ${errorMessage(error)}`,
              undefined,
            ),
          );
        } else if (decision.action === "fail") {
          this.failToStart(runtime, decision.reason);
        }
      }
      this.updateTaskStatus();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.options.pollMs ?? 200);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
    await this.stopAll(this.stopReason);
    return this.result(this.stopReason);
  }

  private snapshots(): Map<string, ContainerSnapshot> {
    return new Map(
      this.runtimes.map((runtime) => [
        runtime.definition.name,
        {
          phase: runtime.phase,
          startedAt: runtime.startedAt,
          health: runtime.health,
          exitCode: runtime.exitCode,
        },
      ]),
    );
  }

  private updateTaskStatus(): void {
    // RUNNING once every essential container runs; a non-essential one may already have exited.
    const essential = this.runtimes.filter((runtime) => runtime.definition.essential);
    if (!this.running && essential.every((runtime) => runtime.phase === "RUNNING")) {
      this.running = true;
      this.emit({ type: "task", at: this.at(), status: "RUNNING" });
    }
    const checked = this.runtimes.filter((runtime) => runtime.definition.healthCheck !== undefined);
    if (
      this.allHealthyAt === undefined &&
      checked.length > 0 &&
      checked.every((r) => r.health === "HEALTHY")
    ) {
      this.allHealthyAt = this.at();
      this.emit({ type: "task-healthy", at: this.allHealthyAt });
    }
  }

  /** A container that cannot start: ECS marks it STOPPED with the reason (and 143 for a dependency). */
  private failToStart(
    runtime: Runtime,
    reason: string,
    exitCode: number | undefined = DEPENDENCY_FAILURE_EXIT_CODE,
  ): void {
    if (runtime.phase === "STOPPED") return;
    runtime.phase = "STOPPED";
    runtime.exitCode = exitCode;
    runtime.reason = reason;
    this.emit({
      type: "container",
      at: this.at(),
      container: runtime.definition.name,
      status: "STOPPED",
      exitCode: runtime.exitCode,
      reason,
    });
    if (runtime.definition.essential) this.requestStop(STOPPED_REASONS.essentialContainerExited);
  }

  private environment(definition: RunnableDefinition): string[] {
    const variables = new Map<string, string>();
    const extra = this.options.extraEnvironment?.[definition.name] ?? {};
    for (const [name, value] of Object.entries(extra)) variables.set(name, value);
    for (const { name, value } of definition.environment) variables.set(name, value);
    for (const secret of definition.secrets ?? []) {
      variables.set(secret.name, this.options.resolveSecret!(secret, definition.name));
    }
    return [...variables].map(([name, value]) => `${name}=${value}`);
  }

  /**
   * Creates every volume before any container, labelled so that a cleanup finds it; a persistent
   * one that exists already is kept as it is, like an EFS access point mounted by the next task.
   */
  private async createVolumes(): Promise<void> {
    const reused: string[] = [];
    for (const volume of this.volumes.values()) {
      if (volume.persistent) {
        const existing = await this.docker
          .getVolume(volume.name)
          .inspect()
          .catch((error: unknown) => {
            if ((error as { statusCode?: number }).statusCode === 404) return undefined;
            throw error;
          });
        if (existing !== undefined) {
          reused.push(volume.name);
          continue;
        }
      }
      await this.docker.createVolume({
        Name: volume.name,
        Driver: "local",
        Labels: { ...volume.labels },
      });
    }
    this.emit({ type: "volumes", at: this.at(), volumes: [...this.volumes.values()], reused });
  }

  /**
   * Creates the container and attaches to its output. The ECS agent creates a container only once
   * its dependsOn conditions allow it (agent/engine/dependencygraph/graph.go: the CREATED
   * transition waits for them). The runner creates every container when the task starts instead:
   * this engine's vfs storage copies the whole image on create, which took 82 s for the two apps
   * under load (a Fargate create takes well under a second), and doing it after the databases are
   * HEALTHY would add that to every time-to-HEALTHY. What differs: a dependent that can never start
   * is still created (never started, and removed with the task). startTimeout is unaffected: it
   * counts from the dependency's start, as the agent counts it.
   */
  private async create(runtime: Runtime): Promise<void> {
    const { definition } = runtime;
    await this.volumesReady;
    const container = await this.docker.createContainer({
      name: `aura-local-${this.taskId}-${definition.name}`,
      Image: definition.image,
      Env: this.environment(definition),
      Labels: { ...definition.dockerLabels, [TASK_LABEL]: this.taskId },
      // Fargate ignores a Dockerfile HEALTHCHECK; only the task definition's counts, run by us.
      Healthcheck: { Test: ["NONE"] },
      StopTimeout: definition.stopTimeout,
      Tty: false,
      ...(definition.user !== undefined ? { User: definition.user } : {}),
      HostConfig: {
        // The host's loopback plays the task's shared awsvpc namespace: every container sees
        // the others on 127.0.0.1 (this engine has no bridge).
        NetworkMode: "host",
        ReadonlyRootfs: definition.readonlyRootFilesystem ?? false,
        CapDrop: definition.linuxParameters?.capabilities?.drop ?? [],
        // Created by createVolumes; an empty one gets the image's directory (and its owner)
        // copied in on first mount, as Docker does for any named volume.
        Mounts: (definition.mountPoints ?? []).map((mount) => ({
          Type: "volume" as const,
          Source: this.volumes.get(mount.sourceVolume)!.name,
          Target: mount.containerPath,
          ReadOnly: mount.readOnly,
        })),
      },
    });
    runtime.container = container;
    await this.attachOutput(runtime, container);
  }

  /** Attaches to the container's output; before each start, so not a line of it is lost. */
  private async attachOutput(runtime: Runtime, container: Docker.Container): Promise<void> {
    const stream = await container.attach({ stream: true, stdout: true, stderr: true });
    const name = runtime.definition.name;
    const out = lineSplitter((line) =>
      this.emit({ type: "log", at: this.at(), container: name, stream: "stdout", line }),
    );
    const err = lineSplitter((line) =>
      this.emit({ type: "log", at: this.at(), container: name, stream: "stderr", line }),
    );
    container.modem.demuxStream(stream, out, err);
    runtime.logsDone = new Promise<void>((resolve) => {
      const finish = () => {
        out.end();
        err.end();
        resolve();
      };
      stream.on("end", finish);
      stream.on("close", finish);
      stream.on("error", finish);
    });
  }

  private async launch(runtime: Runtime): Promise<void> {
    const { definition } = runtime;
    await runtime.created;
    const container = runtime.container;
    if (container === undefined || runtime.phase !== "PENDING") return;
    const name = definition.name;
    if (this.stopReason !== undefined) return;
    await container.start();
    runtime.startedAt = this.at();
    runtime.phase = "RUNNING";
    this.emit({ type: "container", at: runtime.startedAt, container: name, status: "RUNNING" });
    this.watch(runtime, container);
    this.wake?.();
  }

  /** Waits for the container's exit and runs its health check, from its (re)start on. */
  private watch(runtime: Runtime, container: Docker.Container): void {
    const { definition } = runtime;
    runtime.exited = container.wait().then(
      (status: { StatusCode: number }) => this.onExit(runtime, status.StatusCode),
      (error: unknown) => this.onExit(runtime, -1, errorMessage(error)),
    );
    if (definition.healthCheck !== undefined) {
      runtime.health = "UNKNOWN";
      runtime.monitor = new HealthMonitor({
        policy: definition.healthCheck,
        probe: (signal) => execProbe(container, definition.healthCheck.command, signal),
        onProbe: (record) => this.onProbe(runtime, record),
        onChange: (status, _at, record) => this.onHealth(runtime, status, record),
      });
      runtime.monitor.start(
        this.startedAt.getTime() + (runtime.lastRestartAt ?? runtime.startedAt!),
      );
    }
  }

  private onProbe(runtime: Runtime, record: ProbeRecord): void {
    if (!this.options.recordProbes) return;
    this.emit({
      type: "probe",
      at: this.at(),
      container: runtime.definition.name,
      exitCode: record.outcome.exitCode,
      output: record.outcome.output,
      durationMs: record.durationMs,
    });
  }

  private onHealth(runtime: Runtime, status: HealthStatus, record: ProbeRecord): void {
    if (runtime.phase !== "RUNNING") return;
    runtime.health = status;
    const at = this.at();
    if (status === "HEALTHY" && runtime.healthyAt === undefined) runtime.healthyAt = at;
    this.emit({
      type: "health",
      at,
      container: runtime.definition.name,
      status,
      sinceStart: at - (runtime.startedAt ?? 0),
      output: record.outcome.output,
    });
    // Task health is the worst of its essential containers; the service replaces UNHEALTHY tasks.
    if (status === "UNHEALTHY" && runtime.definition.essential) {
      this.requestStop(STOPPED_REASONS.failedHealthChecks);
    }
    this.updateTaskStatus();
    this.wake?.();
  }

  private onExit(runtime: Runtime, exitCode: number, reason?: string): void {
    runtime.monitor?.stop();
    const policy = runtime.definition.restartPolicy;
    const ranForMs = this.at() - (runtime.lastRestartAt ?? runtime.startedAt ?? 0);
    const decision = restartDecision(policy, {
      exitCode: reason === undefined ? exitCode : undefined,
      taskStopping: this.stopReason !== undefined,
      ranForMs,
    });
    if (decision.restart) {
      runtime.restarting = this.restartInPlace(runtime, exitCode, ranForMs);
      return;
    }
    this.markStopped(runtime, exitCode, reason, policy?.enabled ? decision.reason : undefined);
  }

  /**
   * The agent's restart: `docker start` on the same container, so it keeps its id, volumes and
   * network namespace, and nothing else in the task is touched. Its health starts over (Docker
   * resets it to starting); if the start fails, the container stops as it would have.
   */
  private async restartInPlace(
    runtime: Runtime,
    exitCode: number,
    ranForMs: number,
  ): Promise<void> {
    const container = runtime.container!;
    runtime.restartCount += 1;
    runtime.lastRestartAt = this.at();
    this.emit({
      type: "restart",
      at: runtime.lastRestartAt,
      container: runtime.definition.name,
      exitCode,
      restartCount: runtime.restartCount,
      ranForMs,
    });
    try {
      // The old attachment ends with the exit; a new one must be in place before the start.
      await Promise.race([runtime.logsDone, new Promise((resolve) => setTimeout(resolve, 2000))]);
      await this.attachOutput(runtime, container);
      await container.start();
    } catch (error) {
      this.markStopped(runtime, exitCode, `CannotStartContainerError: ${errorMessage(error)}`);
      return;
    }
    if (runtime.definition.healthCheck !== undefined) {
      runtime.health = "UNKNOWN";
      const at = this.at();
      this.emit({
        type: "health",
        at,
        container: runtime.definition.name,
        status: "UNKNOWN",
        sinceStart: at - (runtime.startedAt ?? 0),
        output: `restarted in place after exit code ${exitCode}`,
      });
    }
    this.emit({
      type: "container",
      at: this.at(),
      container: runtime.definition.name,
      status: "RUNNING",
      reason: `restarted in place (restart ${runtime.restartCount}) after exit code ${exitCode}`,
    });
    this.watch(runtime, container);
  }

  private markStopped(
    runtime: Runtime,
    exitCode: number,
    reason: string | undefined,
    notRestarted?: string,
  ): void {
    runtime.phase = "STOPPED";
    runtime.exitCode = exitCode;
    if (reason !== undefined) runtime.reason = reason;
    this.emit({
      type: "container",
      at: this.at(),
      container: runtime.definition.name,
      status: "STOPPED",
      exitCode,
      ...(reason !== undefined ? { reason } : {}),
      ...(notRestarted !== undefined ? { notRestarted } : {}),
    });
    if (runtime.definition.essential) this.requestStop(STOPPED_REASONS.essentialContainerExited);
    this.reportExitedUnhealthy(runtime, exitCode);
  }

  /**
   * A container that exited is not healthy, whatever its last probe said: from its exit on it is
   * UNHEALTHY (never its last HEALTHY), with the exit as the reason.
   */
  private reportExitedUnhealthy(runtime: Runtime, exitCode: number): void {
    if (runtime.health === undefined || runtime.health === "UNHEALTHY") return;
    runtime.health = "UNHEALTHY";
    const at = this.at();
    this.emit({
      type: "health",
      at,
      container: runtime.definition.name,
      status: "UNHEALTHY",
      sinceStart: at - (runtime.startedAt ?? 0),
      output: `the container exited (exit code ${exitCode})`,
    });
  }

  private async stopAll(reason: string): Promise<void> {
    this.emit({ type: "task", at: this.at(), status: "STOPPING", reason });
    for (const runtime of this.runtimes) runtime.monitor?.stop();
    // Each container waits only for its own dependents, as the agent's shutdown order does.
    await stopInDependencyOrder(this.definitions, (name) =>
      this.stopContainer(this.byName.get(name)!),
    );
    // Output of a container that ran ends with its exit; one that never started has none to wait for.
    await Promise.all(
      this.runtimes.map((runtime) =>
        runtime.logsDone === undefined || runtime.startedAt === undefined
          ? undefined
          : Promise.race([runtime.logsDone, new Promise((resolve) => setTimeout(resolve, 2000))]),
      ),
    );
    this.stoppedAt = this.at();
    this.emit({ type: "task", at: this.stoppedAt, status: "STOPPED", reason });
    if (!this.options.keepContainers) {
      await Promise.all(
        this.runtimes.map((runtime) => runtime.container?.remove({ force: true }).catch(() => {})),
      );
      // The task's own storage goes with it; what EFS would hold stays for the next task.
      await this.volumesReady?.catch(() => {});
      await Promise.all(
        [...this.volumes.values()]
          .filter((volume) => !volume.persistent)
          .map((volume) =>
            this.docker
              .getVolume(volume.name)
              .remove()
              .catch(() => {}),
          ),
      );
    }
  }

  private async stopContainer(runtime: Runtime): Promise<void> {
    await runtime.created;
    await runtime.launching;
    await runtime.restarting;
    if (runtime.phase === "PENDING") {
      // Never started: ECS shows it STOPPED without an exit code.
      runtime.phase = "STOPPED";
      this.emit({
        type: "container",
        at: this.at(),
        container: runtime.definition.name,
        status: "STOPPED",
      });
      return;
    }
    if (runtime.phase === "RUNNING" && runtime.container !== undefined) {
      // Docker's stop is ECS's: SIGTERM (or the image's STOPSIGNAL), SIGKILL after `t` seconds.
      await runtime.container
        .stop({ t: runtime.definition.stopTimeout })
        .catch((error: unknown) => {
          if ((error as { statusCode?: number }).statusCode !== 304) throw error;
        });
    }
    await runtime.exited;
  }

  private result(stoppedReason: string): TaskResult {
    return {
      taskId: this.taskId,
      stoppedReason,
      startedAt: this.startedAt,
      durationMs: this.stoppedAt ?? this.at(),
      allHealthyAt: this.allHealthyAt,
      containers: this.runtimes.map((runtime) => ({
        name: runtime.definition.name,
        essential: runtime.definition.essential,
        createdAt: runtime.createdAt,
        startedAt: runtime.startedAt,
        healthyAt: runtime.healthyAt,
        timeToHealthy:
          runtime.healthyAt !== undefined && runtime.startedAt !== undefined
            ? runtime.healthyAt - runtime.startedAt
            : undefined,
        health: runtime.health,
        exitCode: runtime.exitCode,
        reason: runtime.reason,
        restarts: runtime.restartCount,
      })),
      events: this.events,
    };
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
