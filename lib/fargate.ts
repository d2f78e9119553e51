/** Fargate task sizes: which memory values (MiB) each cpu value (units) allows. */

interface MemoryRange {
  readonly min: number;
  readonly max: number;
  readonly step: number;
}

/** The Fargate table from the ECS documentation (Linux platform version 1.4.0). */
export const FARGATE_SIZES: ReadonlyMap<number, readonly number[] | MemoryRange> = new Map<
  number,
  readonly number[] | MemoryRange
>([
  [256, [512, 1024, 2048]],
  [512, { min: 1024, max: 4096, step: 1024 }],
  [1024, { min: 2048, max: 8192, step: 1024 }],
  [2048, { min: 4096, max: 16384, step: 1024 }],
  [4096, { min: 8192, max: 30720, step: 1024 }],
  [8192, { min: 16384, max: 61440, step: 4096 }],
  [16384, { min: 32768, max: 122880, step: 8192 }],
]);

/** Every memory value Fargate accepts with `cpu`, in ascending order; empty for an unknown cpu. */
export function fargateMemoryOptions(cpu: number): number[] {
  const allowed = FARGATE_SIZES.get(cpu);
  if (allowed === undefined) return [];
  if (Array.isArray(allowed)) return [...allowed];
  const { min, max, step } = allowed as MemoryRange;
  const options: number[] = [];
  for (let memory = min; memory <= max; memory += step) options.push(memory);
  return options;
}

/** Describes the memory Fargate allows with `cpu`, for error messages. */
export function describeFargateMemory(cpu: number): string {
  const allowed = FARGATE_SIZES.get(cpu);
  if (allowed === undefined) return "";
  if (Array.isArray(allowed)) return allowed.join(", ");
  const { min, max, step } = allowed as MemoryRange;
  return `${min}-${max} in steps of ${step}`;
}

/**
 * Problems with a cpu/memory pair, as messages naming the config keys; empty when Fargate
 * accepts it.
 */
export function validateFargateSize(cpu: number, memory: number, keyPrefix = "aura"): string[] {
  const cpus = [...FARGATE_SIZES.keys()];
  if (!FARGATE_SIZES.has(cpu)) {
    return [
      `${keyPrefix}:cpu = ${JSON.stringify(cpu)} is not a Fargate task size: allowed cpu values are ${cpus.join(", ")}`,
    ];
  }
  if (!fargateMemoryOptions(cpu).includes(memory)) {
    return [
      `${keyPrefix}:memory = ${JSON.stringify(memory)} does not fit ${keyPrefix}:cpu = ${cpu}: Fargate allows ${describeFargateMemory(cpu)} MiB with that cpu`,
    ];
  }
  return [];
}

/**
 * uvicorn worker processes per app for a task of `cpu` units: one per whole vCPU, at least one.
 * Each app is one Python process per worker (the GIL makes threads no substitute), and the two
 * apps and the databases share the task's vCPUs, so more workers than vCPUs only add switching.
 */
export function appWorkers(cpu: number): number {
  return Math.max(1, Math.floor(cpu / 1024));
}
