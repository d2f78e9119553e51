/** The three containers of the Aura task and the ports they listen on (all on the task's 127.0.0.1). */

export const CONTAINER_NAMES = ["databases", "api-gateway", "service-desk-host"] as const;
export type ContainerName = (typeof CONTAINER_NAMES)[number];

/** The apps' HTTP ports. Only the gateway's is reachable from outside the task (through the ALB). */
export const APP_PORTS = { "api-gateway": 8000, "service-desk-host": 8001 } as const;
export type AppName = keyof typeof APP_PORTS;

/** The databases' ports: task-local only, never mapped, never in a security group. */
export const DATABASE_PORTS = { postgres: 5432, mongodb: 27017, redis: 6379 } as const;

/** The address every container uses for the others: they share the task's network namespace. */
export const TASK_LOCAL_HOST = "127.0.0.1";

/** Fixed database names and users; passwords are secrets and never appear here. */
export const DATABASE_USER = "aura_user";
export const DATABASE_NAME = "aura";

export function isContainerName(name: string): name is ContainerName {
  return (CONTAINER_NAMES as readonly string[]).includes(name);
}
