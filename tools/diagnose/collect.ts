/**
 * The AWS calls of the diagnose command: the service, its recently stopped tasks and, for the
 * failed ones, the last lines their containers logged. Nothing here interprets what it reads.
 */
import {
  ClusterNotFoundException,
  DescribeServicesCommand,
  DescribeTasksCommand,
  ECSClient,
  ListTasksCommand,
  Service,
  Task,
} from "@aws-sdk/client-ecs";
import { CloudWatchLogsClient, GetLogEventsCommand } from "@aws-sdk/client-cloudwatch-logs";
import { BEFORE_START_CAUSES, classifyStoppedTask } from "./classify";

/** What to look at. */
export interface DiagnoseTarget {
  readonly cluster: string;
  readonly service: string;
  /** The awslogs group; each container logs to `<container>/<container>/<task id>`. */
  readonly logGroup: string;
  /** How many stopped tasks to describe, newest first. */
  readonly limit: number;
  /** How many log lines to fetch per failed container; 0 fetches none. */
  readonly logLines: number;
}

/** Everything read from AWS, as AWS returned it. */
export interface ServiceSnapshot {
  /** Undefined when the service or its cluster does not exist. */
  readonly service: Service | undefined;
  /** Newest first, at most `limit`. */
  readonly stoppedTasks: readonly Task[];
  /** Last log lines by `<task id>/<container>`, for failed tasks' implicated containers. */
  readonly logs: Readonly<Record<string, readonly string[]>>;
}

/** ECS returns at most 100 task ARNs per ListTasks page and describes at most 100 per call. */
const ECS_PAGE_SIZE = 100;
/** Logs are fetched for this many failed tasks at most: the newest ones tell the story. */
const TASKS_WITH_LOGS = 3;
/** Causes where no container ever ran, so there is nothing in the logs. */
const NOTHING_LOGGED = BEFORE_START_CAUSES;

export function taskId(taskArn: string): string {
  return taskArn.slice(taskArn.lastIndexOf("/") + 1);
}

async function describeService(
  ecs: ECSClient,
  target: DiagnoseTarget,
): Promise<Service | undefined> {
  try {
    const described = await ecs.send(
      new DescribeServicesCommand({ cluster: target.cluster, services: [target.service] }),
    );
    return described.services?.[0];
  } catch (error) {
    // A missing cluster means the stack was never deployed, the same finding as a missing service.
    if (error instanceof ClusterNotFoundException) return undefined;
    throw error;
  }
}

async function listStoppedTasks(ecs: ECSClient, target: DiagnoseTarget): Promise<Task[]> {
  const listed = await ecs.send(
    new ListTasksCommand({
      cluster: target.cluster,
      serviceName: target.service,
      desiredStatus: "STOPPED",
      maxResults: ECS_PAGE_SIZE,
    }),
  );
  const arns = listed.taskArns ?? [];
  if (arns.length === 0) return [];
  const described = await ecs.send(
    new DescribeTasksCommand({ cluster: target.cluster, tasks: arns }),
  );
  // ListTasks promises no order, so the newest are chosen after describing them all.
  return [...(described.tasks ?? [])]
    .sort((a, b) => (b.stoppedAt?.getTime() ?? 0) - (a.stoppedAt?.getTime() ?? 0))
    .slice(0, target.limit);
}

async function lastLogLines(
  logs: CloudWatchLogsClient,
  logGroup: string,
  stream: string,
  lines: number,
): Promise<string[] | undefined> {
  try {
    const events = await logs.send(
      new GetLogEventsCommand({
        logGroupName: logGroup,
        logStreamName: stream,
        limit: lines,
        startFromHead: false,
      }),
    );
    return (events.events ?? []).map((event) => (event.message ?? "").trimEnd());
  } catch {
    // Logs are a bonus: a stream that was never created or a denied read must not hide the diagnosis.
    return undefined;
  }
}

async function collectLogs(
  logs: CloudWatchLogsClient,
  target: DiagnoseTarget,
  tasks: readonly Task[],
): Promise<Record<string, string[]>> {
  const wanted: { key: string; stream: string }[] = [];
  const failed = tasks
    .map((task) => ({ task, diagnosis: classifyStoppedTask(task) }))
    .filter(({ diagnosis }) => diagnosis.failure && !NOTHING_LOGGED.has(diagnosis.cause))
    .slice(0, TASKS_WITH_LOGS);
  for (const { task, diagnosis } of failed) {
    const id = taskId(task.taskArn ?? "");
    for (const container of diagnosis.containers) {
      wanted.push({ key: `${id}/${container}`, stream: `${container}/${container}/${id}` });
    }
  }
  const fetched = await Promise.all(
    wanted.map(async ({ key, stream }) => ({
      key,
      lines: await lastLogLines(logs, target.logGroup, stream, target.logLines),
    })),
  );
  const byKey: Record<string, string[]> = {};
  for (const { key, lines } of fetched) {
    if (lines !== undefined && lines.length > 0) byKey[key] = lines;
  }
  return byKey;
}

/** Reads the service, its newest stopped tasks and, when `logs` is given, their last log lines. */
export async function collectSnapshot(
  ecs: ECSClient,
  target: DiagnoseTarget,
  logs?: CloudWatchLogsClient,
): Promise<ServiceSnapshot> {
  const service = await describeService(ecs, target);
  // ListTasks rejects an INACTIVE (deleted) service by name; it has no recent tasks anyway.
  if (service === undefined || service.status === "INACTIVE") {
    return { service, stoppedTasks: [], logs: {} };
  }
  const stoppedTasks = await listStoppedTasks(ecs, target);
  const lines =
    logs !== undefined && target.logLines > 0 ? await collectLogs(logs, target, stoppedTasks) : {};
  return { service, stoppedTasks, logs: lines };
}
