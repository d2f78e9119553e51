/**
 * The entrypoint's and the health check's MongoDB paths, on the real image with real PostgreSQL
 * and Redis, but with stand-in `mongod` and `mongosh` (test/faults/standins) bind-mounted over
 * /usr/bin: MongoDB's repository is unreachable from this machine, so the image is built
 * without it. The stand-ins record every call (arguments, uid, MONGO_* variables), and these
 * tests assert the exact commands. What this does NOT prove, because no real MongoDB ran, is
 * listed in the README ("What never ran against a real MongoDB"). The containers run with no
 * network of their own (their own loopback only): these tests need none of the task's ports.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { IMAGES, SECRETS, docker, dockerResult } from "../containers/harness";
import {
  FAULT_CONTAINERS,
  assertNoSecret,
  createVolume,
  databasesLog,
  healthyWithinBudget,
  processList,
  sigkill,
  startDatabases,
  startPausedAt,
} from "./support";

const DB = FAULT_CONTAINERS.databases;
const VOLUME = "aura-faults-mongodb";
const STANDINS = path.join(__dirname, "standins");
const NEW_PASSWORD = "mongo-rotated-Secret-7";

/** The script the entrypoint gives mongosh to create or update the user (exactly). */
const USER_SCRIPT = `
    const target = db.getSiblingDB(process.env.MONGO_DB);
    const user = process.env.MONGO_USER;
    const roles = [{ role: "readWrite", db: process.env.MONGO_DB }];
    if (target.getUser(user) === null) {
      target.createUser({ user: user, pwd: process.env.MONGO_PASSWORD, roles: roles });
      print("created");
    } else {
      target.updateUser(user, { pwd: process.env.MONGO_PASSWORD, roles: roles });
      print("updated");
    }`;
const SETUP_URI = "mongodb://%2Frun%2Faura%2Fmongodb-setup%2Fmongod.sock/admin";
const PING = "print(db.runCommand({ ping: 1 }).ok)";
const MONGO_UID = 10003;
/** The script itself (the task's command may wrap it): its MongoDB path is what is tested here. */
const HEALTH_CHECK = "/usr/local/bin/aura-db-healthcheck";

interface Call {
  tool: "mongod" | "mongosh";
  uid: number;
  args?: string[];
  env?: Record<string, string>;
  answer?: string;
  signal?: string;
}

describe("the databases image's MongoDB paths, against stand-in mongod and mongosh", function () {
  this.timeout(10 * 60_000);
  const record = fs.mkdtempSync(path.join(os.tmpdir(), "aura-faults-mongodb-"));
  const databasesFile = path.join(record, "databases");
  const callsFile = path.join(record, "calls.jsonl");
  const mounts = [
    "--volume",
    `${STANDINS}/mongod:/usr/bin/mongod:ro`,
    "--volume",
    `${STANDINS}/mongosh:/usr/bin/mongosh:ro`,
    "--volume",
    `${databasesFile}:/etc/aura/databases:ro`,
    "--volume",
    `${record}:/aura-standin`,
  ];

  function calls(): Call[] {
    if (!fs.existsSync(callsFile)) return [];
    return fs
      .readFileSync(callsFile, "utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as Call);
  }
  /**
   * The entrypoint's calls up to the servers' start: without the health checks that the test
   * runs meanwhile (over TCP), nor the setup pings sent before the setup mongod was up.
   */
  function entrypointCalls(): Call[] {
    const all = calls().filter(
      (call) =>
        call.tool === "mongod" ||
        (call.args?.includes(SETUP_URI) && !(call.args.includes(PING) && call.answer !== "1")),
    );
    const serverStart = all.findIndex((call) => call.args?.includes("--auth"));
    assert.ok(serverStart > 0, JSON.stringify(calls(), null, 2));
    return all.slice(0, serverStart + 1);
  }
  const env = (password: string) => ({
    MONGO_USER: "aura_user",
    MONGO_DB: "aura",
    MONGO_PASSWORD: password,
  });
  const setupMongod = (dbpath: string): Call => ({
    tool: "mongod",
    uid: MONGO_UID,
    args: [
      "--dbpath",
      dbpath,
      "--port",
      "27017",
      "--bind_ip",
      "/run/aura/mongodb-setup/mongod.sock",
      "--nounixsocket",
    ],
  });
  const setupPing = (password: string): Call => ({
    tool: "mongosh",
    uid: 0,
    args: ["--quiet", "--norc", SETUP_URI, "--eval", PING],
    env: env(password),
    answer: "1",
  });
  const userScript = (password: string, answer: string): Call => ({
    tool: "mongosh",
    uid: 0,
    args: ["--quiet", "--norc", SETUP_URI, "--eval", USER_SCRIPT],
    env: env(password),
    answer,
  });
  const server: Call = {
    tool: "mongod",
    uid: MONGO_UID,
    args: [
      "--bind_ip",
      "127.0.0.1",
      "--port",
      "27017",
      "--dbpath",
      "/var/lib/aura/mongodb/data",
      "--auth",
    ],
  };

  before(() => {
    // The image as if built WITH_MONGODB=true: its build-time list names MongoDB.
    fs.writeFileSync(databasesFile, "postgres redis mongodb\n");
    fs.chmodSync(record, 0o777);
    createVolume(VOLUME);
  });
  after(() => fs.rmSync(record, { recursive: true, force: true }));

  it("killed while the user is set in a first start: no password in ps, and the next start discards and redoes it", async () => {
    await startPausedAt("mongodb-user", { volume: VOLUME, dockerArgs: mounts, network: "none" });
    assertNoSecret(
      processList(),
      Object.values(SECRETS),
      "the process list while MongoDB's user is set",
    );
    assert.match(
      processList(),
      /mongod --dbpath \/var\/lib\/aura\/mongodb\/\.aura-staging --port 27017 --bind_ip \/run\/aura\/mongodb-setup\/mongod\.sock --nounixsocket/,
    );
    sigkill();
    // The user lived in the staging directory that the next start discards.
    fs.rmSync(path.join(record, "user-exists"));
    fs.rmSync(callsFile);

    const started = startDatabases({ volume: VOLUME, dockerArgs: mounts, network: "none" });
    await healthyWithinBudget(started);
    const output = databasesLog();
    assert.match(
      output,
      /mongodb: discarding \/var\/lib\/aura\/mongodb\/\.aura-staging, left by an interrupted first start/,
    );
    assert.match(output, /mongodb: initialised \(user aura_user, database aura\)/);
    assert.match(
      output,
      /mongodb: \/var\/lib\/aura\/mongodb\/\.aura-staging complete, renamed to \/var\/lib\/aura\/mongodb\/data/,
    );
    assert.deepEqual(entrypointCalls(), [
      setupMongod("/var/lib/aura/mongodb/.aura-staging"),
      setupPing(SECRETS.MONGO_PASSWORD),
      userScript(SECRETS.MONGO_PASSWORD, "created"),
      { tool: "mongod", uid: MONGO_UID, signal: "SIGTERM" },
      server,
    ]);
    assertNoSecret(output, Object.values(SECRETS), "the databases container's output");
  });

  it("the health check asks mongosh for an authenticated ping with the password in the environment only", () => {
    fs.rmSync(callsFile);
    const result = dockerResult("exec", DB, HEALTH_CHECK);
    assert.deepEqual(
      [result.status, result.stdout.trim()],
      [0, "postgres: ok\nredis: ok\nmongodb: ok\nhealthy: postgres redis mongodb"],
    );
    assert.deepEqual(calls(), [
      {
        tool: "mongosh",
        uid: 0,
        args: [
          "--quiet",
          "--norc",
          "mongodb://127.0.0.1:27017/aura",
          "--eval",
          "db.auth(process.env.MONGO_USER, process.env.MONGO_PASSWORD); print(db.runCommand({ ping: 1 }).ok)",
        ],
        env: env(SECRETS.MONGO_PASSWORD),
        answer: "1",
      },
    ]);
  });

  it("the health check fails naming MongoDB when its ping does not answer 1", () => {
    fs.writeFileSync(path.join(record, "ping-answer"), "MongoServerError: Authentication failed.");
    try {
      const result = dockerResult("exec", DB, HEALTH_CHECK);
      assert.deepEqual(
        [result.status, result.stdout.trim().split("\n")],
        [
          1,
          [
            "postgres: ok",
            "redis: ok",
            "mongodb: FAILED: MongoServerError: Authentication failed. ",
            "unhealthy: mongodb",
          ],
        ],
      );
    } finally {
      fs.rmSync(path.join(record, "ping-answer"));
    }
  });

  it("a new MONGO_PASSWORD on the same volume: the next start updates the user before mongod listens on TCP", async () => {
    fs.rmSync(callsFile);
    const started = startDatabases({
      volume: VOLUME,
      dockerArgs: mounts,
      network: "none",
      env: { MONGO_PASSWORD: NEW_PASSWORD },
    });
    await healthyWithinBudget(started);
    const output = databasesLog();
    assert.match(output, /mongodb: existing data in \/var\/lib\/aura\/mongodb, not initialising/);
    assert.match(output, /mongodb: credentials applied \(user aura_user, database aura\)/);
    assert.deepEqual(entrypointCalls(), [
      setupMongod("/var/lib/aura/mongodb/data"),
      setupPing(NEW_PASSWORD),
      userScript(NEW_PASSWORD, "updated"),
      { tool: "mongod", uid: MONGO_UID, signal: "SIGTERM" },
      server,
    ]);
    assertNoSecret(output + processList(), [NEW_PASSWORD], "the output or the process list");
  });

  it("a volume holding files the entrypoint did not write is refused, and left as it was", () => {
    const foreign = createVolume("aura-faults-foreign");
    docker(
      "run",
      "--rm",
      "--network",
      "none",
      "--volume",
      `${foreign}:/var/lib/aura`,
      "--entrypoint",
      "/bin/sh",
      IMAGES.databases,
      "-c",
      "mkdir -p /var/lib/aura/postgres && echo 15 > /var/lib/aura/postgres/PG_VERSION",
    );
    startDatabases({ volume: foreign, network: "none" });
    assert.equal(docker("wait", DB), "1");
    assert.match(
      databasesLog(),
      /ERROR: postgres: \/var\/lib\/aura\/postgres holds files this entrypoint did not write \(PG_VERSION \); refusing to initialise over them/,
    );
    assert.equal(
      docker(
        "run",
        "--rm",
        "--network",
        "none",
        "--volume",
        `${foreign}:/var/lib/aura`,
        "--entrypoint",
        "/bin/ls",
        IMAGES.databases,
        "-A",
        "/var/lib/aura/postgres",
      ),
      "PG_VERSION",
    );
  });
});
