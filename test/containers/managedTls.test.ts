/**
 * The managed databases' TLS on the service desk image: the build step that installs the RDS CA
 * bundle (pinned sha256), and the app's TLS settings read from the environment the managed task
 * definition gives it. AWS's truststore is unreachable from this machine, so a local HTTP
 * server plays it, serving a bundle of real certificates made here with openssl; the checksum
 * logic, the Dockerfile's build args and the file in the image are the real ones.
 */
import { strict as assert } from "assert";
import { ChildProcess, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { endpointEnvironment, RDS_CA_BUNDLE_PATH } from "../../lib/managedDatabases";
import { IMAGES, dockerResult } from "./harness";

const CONTEXT = path.resolve(__dirname, "..", "..", "containers", "service-desk-host");
const TEST_IMAGE = "aura-service-desk-host:managed-ca-test";

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** The base the :local images were built on (scripts/build-images.sh may have made a 0755 copy). */
function baseImage(): string {
  const base = process.env.BASE_IMAGE ?? "aura-base:bookworm";
  const id = dockerResult("image", "inspect", "--format", "{{.Id}}", base).stdout.trim();
  const fixed = `${base}-root755-${id.slice(7, 19)}`;
  return dockerResult("image", "inspect", fixed).status === 0 ? fixed : base;
}

function build(url: string, sha256: string) {
  return spawnSync(
    "docker",
    [
      "build",
      "--network",
      "host",
      "--build-arg",
      `BASE_IMAGE=${baseImage()}`,
      "--build-arg",
      `RDS_CA_BUNDLE_URL=${url}`,
      "--build-arg",
      `RDS_CA_BUNDLE_SHA256=${sha256}`,
      "--label",
      "org.aura.test=containers",
      "--tag",
      TEST_IMAGE,
      CONTEXT,
    ],
    { encoding: "utf8", timeout: 300_000 },
  );
}

/** Runs python3 in `image` with `environment`, importing the app, and returns its output. */
function appSettings(image: string, environment: Record<string, string>) {
  const script = [
    "import json, sys",
    "sys.path.insert(0, '/opt/aura')",
    "import main",
    "s = main.settings",
    "hide = lambda d: {k: v for k, v in d.items() if k != 'password'}",
    "print(json.dumps({'postgres': hide(s.postgres), 'redis': hide(s.redis), 'mongo': hide(s.mongo)}))",
  ].join("; ");
  const env = Object.entries(environment).flatMap(([key, value]) => ["--env", `${key}=${value}`]);
  return dockerResult(
    "run",
    "--rm",
    "--network",
    "none",
    "--label",
    "org.aura.test=containers",
    ...env,
    "--entrypoint",
    "python3",
    image,
    "-B",
    "-c",
    script,
  );
}

describe("managed databases: TLS in the service desk image", function () {
  this.timeout(600_000);
  let directory: string;
  let server: ChildProcess;
  let url: string;
  let sha256: string;

  before(async () => {
    directory = fs.mkdtempSync(path.join(os.tmpdir(), "aura-ca-"));
    // Two real self-signed CA certificates stand in for AWS's bundle.
    const pems: string[] = [];
    for (const name of ["test-root-a", "test-root-b"]) {
      const key = path.join(directory, `${name}.key`);
      const pem = path.join(directory, `${name}.pem`);
      const made = spawnSync("openssl", [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        `/CN=${name}`,
        "-keyout",
        key,
        "-out",
        pem,
      ]);
      assert.equal(made.status, 0, String(made.stderr));
      pems.push(fs.readFileSync(pem, "utf8"));
    }
    const bundle = pems.join("");
    fs.writeFileSync(path.join(directory, "global-bundle.pem"), bundle);
    sha256 = createHash("sha256").update(bundle).digest("hex");
    const port = await freePort();
    server = spawn("python3", ["-m", "http.server", String(port), "--bind", "127.0.0.1"], {
      cwd: directory,
      stdio: "ignore",
    });
    url = `http://127.0.0.1:${port}/global-bundle.pem`;
    for (let attempt = 0; attempt < 50; attempt += 1) {
      const up = await new Promise<boolean>((resolve) => {
        const socket = net.connect({ host: "127.0.0.1", port });
        socket.once("connect", () => (socket.destroy(), resolve(true)));
        socket.once("error", () => resolve(false));
      });
      if (up) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  });

  after(() => {
    server?.kill();
    dockerResult("image", "rm", "--force", TEST_IMAGE);
    fs.rmSync(directory, { recursive: true, force: true });
  });

  it("refuses a bundle whose sha256 is not the pinned one, naming both", () => {
    const wrong = "0".repeat(64);
    const result = build(url, wrong);
    assert.notEqual(result.status, 0);
    assert.match(
      result.stdout + result.stderr,
      new RegExp(`has sha256 ${sha256}, not the pinned ${wrong}: refusing it`),
    );
  });

  it("installs the bundle read-only at the path the task definition names when the sha256 matches", () => {
    const result = build(url, sha256);
    assert.equal(result.status, 0, result.stdout + result.stderr);
    const inImage = dockerResult(
      "run",
      "--rm",
      "--network",
      "none",
      "--entrypoint",
      "/bin/sh",
      TEST_IMAGE,
      "-c",
      `sha256sum ${RDS_CA_BUNDLE_PATH}; stat -c '%a %u' ${RDS_CA_BUNDLE_PATH}; grep -c 'BEGIN CERTIFICATE' ${RDS_CA_BUNDLE_PATH}`,
    );
    assert.equal(inImage.status, 0, inImage.stderr);
    assert.deepEqual(inImage.stdout.trim().split("\n"), [
      `${sha256}  ${RDS_CA_BUNDLE_PATH}`,
      "444 0",
      "2",
    ]);
  });

  it("turns the managed task definition's environment into verified TLS for all three drivers", () => {
    const environment = Object.fromEntries(
      endpointEnvironment({
        postgres: { host: "aura.abc.us-east-2.rds.amazonaws.com", port: 5432 },
        redis: { host: "master.aura.abc.use2.cache.amazonaws.com", port: 6379 },
        mongodb: { host: "aura.cluster-abc.us-east-2.docdb.amazonaws.com", port: 27017 },
      }).map(({ name, value }) => [name, value]),
    );
    const result = appSettings(TEST_IMAGE, environment);
    assert.equal(result.status, 0, result.stderr);
    const settings = JSON.parse(result.stdout.trim().split("\n").pop()!);
    assert.deepEqual(settings, {
      postgres: {
        host: "aura.abc.us-east-2.rds.amazonaws.com",
        port: 5432,
        user: "aura_user",
        dbname: "aura",
        sslmode: "verify-full",
        sslrootcert: RDS_CA_BUNDLE_PATH,
      },
      redis: {
        host: "master.aura.abc.use2.cache.amazonaws.com",
        port: 6379,
        ssl: true,
        ssl_cert_reqs: "required",
        ssl_check_hostname: true,
        ssl_ca_certs: "/etc/ssl/certs/ca-certificates.crt",
      },
      mongo: {
        host: "aura.cluster-abc.us-east-2.docdb.amazonaws.com",
        port: 27017,
        username: "aurauser",
        authSource: "admin",
        tls: true,
        tlsCAFile: RDS_CA_BUNDLE_PATH,
        replicaSet: "rs0",
        retryWrites: false,
      },
    });
  });

  it("keeps the in-task databases' plain settings when no TLS variable is set", () => {
    const result = appSettings(IMAGES["service-desk-host"], {});
    assert.equal(result.status, 0, result.stderr);
    const settings = JSON.parse(result.stdout.trim().split("\n").pop()!);
    assert.deepEqual(settings.postgres, {
      host: "127.0.0.1",
      port: 5432,
      user: "aura_user",
      dbname: "aura",
    });
    assert.equal(settings.redis.ssl, undefined);
    assert.equal(settings.mongo.tls, undefined);
    assert.equal(settings.mongo.authSource, "aura");
  });

  it("refuses to start with TLS on in an image built without the bundle, naming the variable", () => {
    // scripts/build-images.sh builds the :local image with RDS_CA_BUNDLE_URL=none.
    const result = appSettings(IMAGES["service-desk-host"], {
      POSTGRES_SSLMODE: "verify-full",
      POSTGRES_SSLROOTCERT: RDS_CA_BUNDLE_PATH,
    });
    assert.notEqual(result.status, 0);
    assert.match(
      result.stderr,
      /POSTGRES_SSLROOTCERT = '\/etc\/aura\/tls\/global-bundle\.pem' does not exist: the image has no CA bundle there/,
    );
  });
});
