/**
 * What the images declare is what they contain: the tools label, the MongoDB label, the fixed
 * users and data directories, and no secrets or curl baked in.
 */
import assert from "node:assert/strict";
import { APP_USER, DATA_DIRECTORIES, IMAGE_TOOLS, TOOLS_LABEL } from "../../lib/containers";
import { CONTAINERS, IMAGES, WITH_MONGODB, docker, dockerResult } from "./harness";

/** Runs a shell line in a fresh container of `image` (not the running one). */
function inImage(image: string, line: string): { status: number | null; stdout: string } {
  const result = dockerResult(
    "run",
    "--rm",
    "--network",
    "host",
    "--entrypoint",
    "/bin/sh",
    image,
    "-c",
    line,
  );
  return { status: result.status, stdout: result.stdout.trim() };
}

function label(image: string, key: string): string {
  return docker("image", "inspect", "--format", `{{index .Config.Labels "${key}"}}`, image);
}

/** The no-MongoDB build leaves mongosh out, and says so (docs/containers.md). */
const databasesTools = IMAGE_TOOLS.databases.filter((tool) => WITH_MONGODB || tool !== "mongosh");

describe("images", () => {
  describe("databases", () => {
    const image = IMAGES.databases;

    it(`labels ${TOOLS_LABEL} with exactly the tools it was built with`, () => {
      assert.equal(
        label(image, TOOLS_LABEL),
        WITH_MONGODB
          ? "/usr/local/bin/aura-probe,/usr/local/bin/aura-db-healthcheck,pg_isready,psql,redis-cli,mongosh"
          : "/usr/local/bin/aura-probe,/usr/local/bin/aura-db-healthcheck,pg_isready,psql,redis-cli",
      );
      assert.equal(label(image, TOOLS_LABEL), databasesTools.join(","));
    });

    it("says in a label whether MongoDB is in the build", () => {
      assert.equal(label(image, "org.aura.mongodb"), WITH_MONGODB ? "present" : "absent");
    });

    // One container per check: with the vfs storage driver every `docker run` copies the image.
    it("contains every tool the label lists, and MongoDB only when built with it", () => {
      const found = inImage(
        image,
        `for tool in ${databasesTools.join(" ")}; do command -v "$tool" || echo "missing: $tool"; done`,
      );
      assert.deepEqual(
        found.stdout.split("\n"),
        databasesTools.map((tool) => (tool.startsWith("/") ? tool : `/usr/bin/${tool}`)),
      );
      const mongo = inImage(
        image,
        "for tool in mongod mongosh; do command -v $tool; done; cat /etc/aura/databases",
      );
      assert.equal(
        mongo.stdout,
        WITH_MONGODB
          ? "/usr/bin/mongod\n/usr/bin/mongosh\npostgres redis mongodb"
          : "postgres redis",
      );
    });

    it("has the fixed users and data directories of DATA_DIRECTORIES", () => {
      const entries = Object.entries(DATA_DIRECTORIES);
      const owners = inImage(
        image,
        entries
          .map(
            ([user, dir]) =>
              `echo "$(id -u ${user}):$(id -g ${user}) $(stat -c '%u:%g %a' ${dir.path})"`,
          )
          .join("; "),
      );
      assert.deepEqual(
        owners.stdout.split("\n"),
        entries.map(([, dir]) => `${dir.uid}:${dir.gid} ${dir.uid}:${dir.gid} 700`),
      );
    });

    it("runs supervisord as PID 1", () => {
      const cmdline = docker("exec", CONTAINERS.databases, "cat", "/proc/1/cmdline").split("\0");
      assert.deepEqual(cmdline.slice(1, 3), ["/usr/bin/supervisord", "-n"]);
    });
  });

  for (const app of ["api-gateway", "service-desk-host"] as const) {
    describe(app, () => {
      const image = IMAGES[app];

      it(`labels ${TOOLS_LABEL} aura-probe and python3, and has both but no curl`, () => {
        assert.equal(label(image, TOOLS_LABEL), IMAGE_TOOLS[app].join(","));
        assert.equal(label(image, TOOLS_LABEL), "/usr/local/bin/aura-probe,python3");
        const tools = inImage(
          image,
          "for tool in aura-probe python3 curl wget; do command -v $tool; done; true",
        );
        // and neither curl nor wget
        assert.equal(tools.stdout, "/usr/local/bin/aura-probe\n/usr/bin/python3");
      });

      it("runs as aura (uid/gid 10000) on a read-only root filesystem", () => {
        assert.equal(
          docker("image", "inspect", "--format", "{{.Config.User}}", image),
          "10000:10000",
        );
        assert.equal(
          docker("exec", CONTAINERS[app], "id"),
          `uid=${APP_USER.uid}(${APP_USER.name}) gid=${APP_USER.gid}(${APP_USER.name}) groups=${APP_USER.gid}(${APP_USER.name})`,
        );
        assert.equal(
          docker("inspect", "--format", "{{.HostConfig.ReadonlyRootfs}}", CONTAINERS[app]),
          "true",
        );
        const write = dockerResult(
          "exec",
          CONTAINERS[app],
          "python3",
          "-c",
          "open('/opt/aura/x', 'w')",
        );
        assert.equal(write.status, 1);
        assert.match(write.stderr, /OSError: \[Errno 30\] Read-only file system: '\/opt\/aura\/x'/);
      });
    });
  }

  it("bakes no password into any image", () => {
    for (const image of Object.values(IMAGES)) {
      const env = docker("image", "inspect", "--format", "{{json .Config.Env}}", image);
      assert.doesNotMatch(env, /PASSWORD/, image);
    }
  });
});
