/**
 * The service scheduler's part: when the task stops, start a new one. ECS replaces a task that
 * reached RUNNING and then failed without any back-off, which is how a bad health check becomes
 * an endless restart loop; here a cap ends it, and the loop is reported as one.
 */
import type { RunningTask, TaskResult } from "./task";
import { STOPPED_REASONS } from "./task";

export interface ServiceOptions {
  /** How many replacement tasks may be started after the first one stops (0: none). */
  readonly replacements: number;
  /** Called when each task has started, with its 1-based number. */
  readonly onTaskStarted?: (task: RunningTask, number: number) => void;
  readonly onTaskStopped?: (result: TaskResult, number: number) => void;
}

export interface ServiceResult {
  readonly tasks: readonly TaskResult[];
  /** Each task's stop reason, in order. */
  readonly reasons: readonly string[];
  /** True when the last task stopped and the cap kept the scheduler from replacing it. */
  readonly capReached: boolean;
  /** True when the user stopped the service; a task stopped by the user is not replaced. */
  readonly stoppedByUser: boolean;
}

/** The stop handle the CLI uses for Ctrl-C: it stops the current task and ends the loop. */
export interface ServiceHandle {
  readonly done: Promise<ServiceResult>;
  stop(): void;
}

export function runService(
  startOne: (number: number) => RunningTask | Promise<RunningTask>,
  options: ServiceOptions,
): ServiceHandle {
  let current: RunningTask | undefined;
  let stopping = false;
  const done = (async () => {
    const tasks: TaskResult[] = [];
    for (let number = 1; ; number++) {
      current = await startOne(number);
      options.onTaskStarted?.(current, number);
      const result = await current.done;
      tasks.push(result);
      options.onTaskStopped?.(result, number);
      const byUser = stopping || result.stoppedReason === STOPPED_REASONS.userInitiated;
      const capReached = !byUser && number > options.replacements;
      if (byUser || capReached) {
        return {
          tasks,
          reasons: tasks.map((t) => t.stoppedReason),
          capReached,
          stoppedByUser: byUser,
        };
      }
    }
  })();
  return {
    done,
    stop: () => {
      stopping = true;
      current?.stop(STOPPED_REASONS.userInitiated);
    },
  };
}
