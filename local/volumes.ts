/**
 * Task volumes as Docker volumes, with ECS's storage semantics. On ECS a volume backed by EFS
 * outlives every task (the next task mounts the same access point) while any other volume lives
 * on the task's ephemeral storage and is wiped with it. Locally the first become named volumes
 * per stack that every task reuses, the others one volume per task, removed with it.
 */
import Docker from "dockerode";
import type { AuraConfig } from "../lib/config";
import { DATABASE_NAMES, MountPoint, TaskVolume, taskVolumes } from "../lib/taskDefinition";

/** On the per-task volumes (and containers), valued with the task id. */
export const TASK_LABEL = "org.aura.local.task";
/** On the persistent volumes, valued with the stack: how `--fresh-data` and cleanups find them. */
export const STACK_VOLUME_LABEL = "org.aura.local.stack";

/** The task's volumes and the stack that owns the persistent ones. */
export interface LocalStorage {
  readonly stack: string;
  /** In ECS's shape, as `taskVolumes` builds them for the task definition. */
  readonly volumes: readonly TaskVolume[];
}

/** The Docker volume that plays one task volume. */
export interface DockerVolume {
  /** The task volume's name (a mount point's `sourceVolume`). */
  readonly sourceVolume: string;
  readonly name: string;
  /** True: backed by EFS on ECS, so kept across tasks; false: removed with the task. */
  readonly persistent: boolean;
  readonly labels: Readonly<Record<string, string>>;
}

/**
 * The stack's task volumes, from the same `taskVolumes` the program registers, so the runner does
 * not decide again which volumes EFS backs. The IDs are placeholders: only whether a volume has
 * an `efsVolumeConfiguration` matters locally.
 */
export function stackStorage(config: Pick<AuraConfig, "stack" | "storage">): LocalStorage {
  const efs =
    config.storage === "efs"
      ? {
          fileSystemId: "fs-local",
          accessPointIds: Object.fromEntries(
            DATABASE_NAMES.map((database) => [database, `fsap-local-${database}`]),
          ) as Record<(typeof DATABASE_NAMES)[number], string>,
        }
      : undefined;
  return { stack: config.stack, volumes: taskVolumes(efs, config.storage) };
}

export function persistentVolumeName(stack: string, sourceVolume: string): string {
  return `aura-local-${stack}-${sourceVolume}`;
}

export function taskVolumeName(taskId: string, sourceVolume: string): string {
  return `aura-local-${taskId}-${sourceVolume}`;
}

/**
 * One Docker volume per task volume that a container mounts, in the order first mounted. Without
 * `storage` every volume is on task storage (as with `aura:storage: ephemeral`). A mount point
 * naming a volume the task does not declare is an error, as ECS rejects such a task definition.
 */
export function dockerVolumes(
  mountPoints: readonly { readonly container: string; readonly mountPoint: MountPoint }[],
  taskId: string,
  storage?: LocalStorage,
): DockerVolume[] {
  const declared = new Map((storage?.volumes ?? []).map((volume) => [volume.name, volume]));
  const result = new Map<string, DockerVolume>();
  for (const { container, mountPoint } of mountPoints) {
    const source = mountPoint.sourceVolume;
    if (result.has(source)) continue;
    const volume = declared.get(source);
    if (storage !== undefined && volume === undefined) {
      throw new Error(
        `${container} mounts volume "${source}" at ${mountPoint.containerPath}, but the task declares only ${[...declared.keys()].join(", ")}`,
      );
    }
    const persistent = storage !== undefined && volume?.efsVolumeConfiguration !== undefined;
    result.set(
      source,
      persistent
        ? {
            sourceVolume: source,
            name: persistentVolumeName(storage.stack, source),
            persistent,
            labels: { [STACK_VOLUME_LABEL]: storage.stack },
          }
        : {
            sourceVolume: source,
            name: taskVolumeName(taskId, source),
            persistent,
            labels: { [TASK_LABEL]: taskId },
          },
    );
  }
  return [...result.values()];
}

/**
 * Removes the stack's persistent volumes (`--fresh-data`), found by label and name so that no
 * other volume is touched. Fails while a container still uses one (a task of the stack running).
 */
export async function removeStackVolumes(docker: Docker, stack: string): Promise<string[]> {
  const listed = await docker.listVolumes({
    filters: { label: [`${STACK_VOLUME_LABEL}=${stack}`] },
  });
  const names = (listed.Volumes ?? [])
    .map((volume) => volume.Name)
    .filter((name) => name.startsWith(`aura-local-${stack}-`))
    .sort();
  for (const name of names) {
    try {
      await docker.getVolume(name).remove();
    } catch (error) {
      throw new Error(
        `cannot remove ${name} (is a task of stack ${stack} still running?): ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }
  return names;
}
