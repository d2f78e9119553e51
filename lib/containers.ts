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

/**
 * Fixed users and data directories baked into the images, so that volumes (EFS access points)
 * can be created with the right POSIX owner before the image ever runs.
 */
export const APP_USER = { name: "aura", uid: 10000, gid: 10000 } as const;
export const DATA_DIRECTORIES = {
  postgres: { path: "/var/lib/aura/postgres", uid: 10001, gid: 10001 },
  redis: { path: "/var/lib/aura/redis", uid: 10002, gid: 10002 },
  mongodb: { path: "/var/lib/aura/mongodb", uid: 10003, gid: 10003 },
} as const;

/**
 * The executables each image declares for health checks (its `org.aura.tools` label holds the
 * same list). A health check may only call these: the original loop came from checks that
 * called curl and mongosh in images that had neither. aura-probe (the probe with memory that
 * wraps each default check, lib/healthCheck.ts PROBE_WITH_MEMORY) is in every image.
 */
export const IMAGE_TOOLS: Readonly<Record<ContainerName, readonly string[]>> = {
  databases: [
    "/usr/local/bin/aura-probe",
    "/usr/local/bin/aura-db-healthcheck",
    "pg_isready",
    "psql",
    "redis-cli",
    "mongosh",
  ],
  "api-gateway": ["/usr/local/bin/aura-probe", "python3"],
  "service-desk-host": ["/usr/local/bin/aura-probe", "python3"],
};

/** The label, on the image and on the container definition, that declares `IMAGE_TOOLS`. */
export const TOOLS_LABEL = "org.aura.tools";
