import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { CONTAINER_NAMES } from "../../lib/containers";
import { DEFAULT_RESTART_POLICY, DEFAULT_STOP_TIMEOUT, defaultHealthCheck } from "../../lib/config";
import { containerDefinition } from "../../lib/taskDefinition";

const ROOT = path.join(__dirname, "..", "..");
const ENTRYPOINT = fs.readFileSync(
  path.join(ROOT, "containers/databases/rootfs/usr/local/bin/aura-db-entrypoint"),
  "utf8",
);

describe("the databases entrypoint's test pause points", () => {
  it("are never set by a container definition the program builds", () => {
    for (const name of CONTAINER_NAMES) {
      const definition = containerDefinition(
        name,
        {
          healthCheck: defaultHealthCheck(name),
          stopTimeout: DEFAULT_STOP_TIMEOUT[name],
          restartPolicy: DEFAULT_RESTART_POLICY[name],
        },
        `example.com/${name}:1`,
        { group: "/ecs/test", region: "us-east-2" },
      );
      assert.deepEqual(
        definition.environment.filter((variable) => variable.name.startsWith("AURA_TEST_")),
        [],
        name,
      );
    }
  });

  it("are the steps docs/containers.md lists", () => {
    const inScript = [...ENTRYPOINT.matchAll(/pause_point "?([a-z$-]+[a-z])"?$/gm)].map(
      (m) => m[1],
    );
    const expanded = inScript.flatMap((step) =>
      step === "$db-renamed" ? ["postgres-renamed", "mongodb-renamed"] : [step],
    );
    const docs = fs.readFileSync(path.join(ROOT, "docs/containers.md"), "utf8");
    const listed = /Steps: (.*?)\. Inert/s.exec(docs)![1].replace(/\s+/g, " ");
    assert.deepEqual(
      [...expanded].sort(),
      [...listed.matchAll(/`([a-z-]+)`/g)].map((m) => m[1]).sort(),
    );
  });
});
