/**
 * `npm run bench:load`: the task's three containers under load through the gateway, with wrk.
 *
 * The containers run from their task definitions (lib/taskDefinition.ts, as the container tests
 * do) in a network namespace of their own: the databases container gets `--network none` (a
 * loopback only), the apps join it, and wrk runs inside it through `nsenter`. So the benchmark
 * never touches the host's ports, and its 127.0.0.1 is the task's shared loopback, as on Fargate.
 *
 * It seeds tickets, then runs test/bench/mix.lua (POST, GET one, GET a page, PATCH) for
 * BENCH_DURATION at BENCH_CONNECTIONS, prints requests/s and p50/p90/p99, and fails on any 5xx,
 * any other non-2xx answer, or any connection error or timeout (a dropped connection).
 *
 *   BENCH_CONNECTIONS  open connections              (default 64)
 *   BENCH_DURATION     seconds of load                (default 30)
 *   BENCH_THREADS      wrk threads                    (default 2)
 *   BENCH_TASK_CPU     task CPU units the apps' workers are sized for (default 1024, the stack's)
 *   IMAGE_TAG          images aura-*:<tag>            (default local)
 *   BENCH_JSON         also write the result to this file
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { ContainerName } from "../../lib/containers";
import { SECRET_VARIABLES } from "../../lib/taskDefinition";
import {
  IMAGES,
  SECRETS,
  definition,
  docker,
  dockerResult,
  healthCheckExecArgs,
} from "../containers/harness";

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? "64");
const DURATION = Number(process.env.BENCH_DURATION ?? "30");
const THREADS = Number(process.env.BENCH_THREADS ?? "2");
const TASK_CPU = Number(process.env.BENCH_TASK_CPU ?? "1024");
const SEEDED = 100;
const PREFIX = `bench-load-${process.pid}`;
const LABEL = "org.aura.test=bench-load";
const NAMES: Readonly<Record<ContainerName, string>> = {
  databases: `${PREFIX}-databases`,
  "service-desk-host": `${PREFIX}-service-desk-host`,
  "api-gateway": `${PREFIX}-api-gateway`,
};

interface WrkResult {
  requests: number;
  duration_us: number;
  errors: { connect: number; read: number; write: number; timeout: number; status: number };
  latency_us: { p50: number; p90: number; p99: number; max: number; mean: number };
  statuses: Record<string, number>;
}

function start(name: ContainerName): void {
  const def = definition(name, TASK_CPU);
  const args = ["run", "--detach", "--name", NAMES[name], "--label", LABEL];
  if (name === "databases") {
    // An anonymous volume: removed with the container (`rm --volumes`).
    args.push("--network", "none", "--volume", "/var/lib/aura");
  } else {
    args.push("--network", `container:${NAMES.databases}`, "--read-only", "--tmpfs", "/tmp");
  }
  const env: Record<string, string> = {};
  for (const { name: key, value } of def.environment) env[key] = value;
  for (const key of SECRET_VARIABLES[name]) env[key] = SECRETS[key];
  // This machine's databases image has no MongoDB (its repository is unreachable here).
  if (name === "service-desk-host") env.MONGO_ENABLED = "false";
  for (const [key, value] of Object.entries(env)) args.push("--env", `${key}=${value}`);
  args.push(IMAGES[name]);
  docker(...args);
}

async function waitHealthy(name: ContainerName, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (dockerResult("exec", NAMES[name], ...healthCheckExecArgs(name)).status === 0) return;
    if (Date.now() > deadline) {
      throw new Error(
        `${NAMES[name]} not healthy after ${timeoutMs} ms:\n${dockerResult("logs", "--tail", "30", NAMES[name]).stdout}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

function removeAll(): void {
  const ids = dockerResult("ps", "-aq", "--filter", `label=${LABEL}`).stdout.trim();
  if (ids !== "") dockerResult("rm", "--force", "--volumes", ...ids.split("\n"));
}

/** Creates SEEDED tickets from inside the gateway container (python3 is all it has). */
function seed(key: string): void {
  const script = [
    "import json, urllib.request",
    `for i in range(${SEEDED}):`,
    `    r = urllib.request.Request('http://127.0.0.1:8000/api/service-desk/tickets', data=json.dumps({'title': f'seed {i}'}).encode(), headers={'Content-Type': 'application/json', 'Authorization': 'Bearer ${key}'}, method='POST')`,
    "    assert urllib.request.urlopen(r, timeout=10).status == 201",
  ].join("\n");
  docker("exec", NAMES["api-gateway"], "python3", "-c", script);
}

function runWrk(key: string): WrkResult {
  const pid = docker("inspect", "--format", "{{.State.Pid}}", NAMES.databases);
  const script = path.join(__dirname, "mix.lua");
  const wrk = spawnSync(
    "nsenter",
    [
      "--target",
      pid,
      "--net",
      "wrk",
      `--threads=${THREADS}`,
      `--connections=${CONNECTIONS}`,
      `--duration=${DURATION}s`,
      "--timeout=5s",
      `--script=${script}`,
      "http://127.0.0.1:8000",
    ],
    {
      encoding: "utf8",
      env: { ...process.env, AURA_API_KEY: key, AURA_SEEDED: String(SEEDED) },
      timeout: (DURATION + 60) * 1000,
    },
  );
  if (wrk.status !== 0) throw new Error(`wrk exited ${wrk.status}: ${wrk.stderr}${wrk.stdout}`);
  const line = wrk.stdout.split("\n").find((l) => l.startsWith("AURA_RESULT "));
  if (line === undefined) throw new Error(`wrk printed no result:\n${wrk.stdout}`);
  return JSON.parse(line.slice("AURA_RESULT ".length)) as WrkResult;
}

async function main(): Promise<void> {
  const key = SECRETS.AURA_API_KEYS.split(",")[0];
  removeAll();
  try {
    start("databases");
    await waitHealthy("databases", 300_000);
    start("service-desk-host");
    start("api-gateway");
    await waitHealthy("service-desk-host", 60_000);
    await waitHealthy("api-gateway", 60_000);
    seed(key);
    console.log(
      `bench:load: ${DURATION} s at ${CONNECTIONS} connections (${THREADS} wrk threads), task CPU ${TASK_CPU}, images ${IMAGES["api-gateway"]}; mix 20% POST, 30% GET one, 30% GET page, 20% PATCH`,
    );
    const result = runWrk(key);
    const seconds = result.duration_us / 1e6;
    const rps = result.requests / seconds;
    const ms = (us: number) => (us / 1000).toFixed(1);
    const fivexx = Object.entries(result.statuses)
      .filter(([status]) => Number(status) >= 500)
      .reduce((sum, [, n]) => sum + n, 0);
    const non2xx = Object.entries(result.statuses)
      .filter(([status]) => Number(status) < 200 || Number(status) >= 300)
      .reduce((sum, [, n]) => sum + n, 0);
    const { connect, read, write, timeout } = result.errors;
    const dropped = connect + read + write + timeout;
    console.log(
      `requests ${result.requests} in ${seconds.toFixed(1)} s: ${rps.toFixed(0)} req/s; latency p50 ${ms(result.latency_us.p50)} ms, p90 ${ms(result.latency_us.p90)} ms, p99 ${ms(result.latency_us.p99)} ms, max ${ms(result.latency_us.max)} ms`,
    );
    console.log(
      `statuses ${JSON.stringify(result.statuses)}; 5xx ${fivexx}; connection errors connect ${connect}, read ${read}, write ${write}, timeout ${timeout}`,
    );
    if (process.env.BENCH_JSON) {
      fs.writeFileSync(
        process.env.BENCH_JSON,
        JSON.stringify(
          { connections: CONNECTIONS, threads: THREADS, taskCpu: TASK_CPU, rps, ...result },
          null,
          2,
        ),
      );
    }
    const problems = [
      ...(fivexx > 0 ? [`${fivexx} answers were 5xx`] : []),
      ...(non2xx > fivexx ? [`${non2xx - fivexx} answers were neither 2xx nor 5xx`] : []),
      ...(dropped > 0 ? [`${dropped} connection errors or timeouts`] : []),
    ];
    if (problems.length > 0) {
      console.log(dockerResult("logs", "--tail", "20", NAMES["api-gateway"]).stdout);
      throw new Error(`bench:load failed: ${problems.join("; ")}`);
    }
    console.log("bench:load: no 5xx, no dropped connection");
  } finally {
    if (process.env.KEEP_CONTAINERS !== "1") removeAll();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
