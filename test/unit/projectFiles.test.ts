import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import Ajv2020 from "ajv/dist/2020";
import { parse } from "yaml";
import { LIST_DEFAULTS, SCALAR_DEFAULTS, parseAuraConfig } from "../../lib/config";
import { PROJECT_DIR } from "../../lib/stackFile";
import { REFERENCE_DIR } from "../awsModel";

const project = parse(fs.readFileSync(path.join(PROJECT_DIR, "Pulumi.yaml"), "utf8"));

describe("project files", () => {
  it("Pulumi.yaml validates against the Pulumi project schema", () => {
    const schema = JSON.parse(
      fs.readFileSync(path.join(REFERENCE_DIR, "pulumi-project.schema.json"), "utf8"),
    );
    const validate = new Ajv2020({ strict: false, allErrors: true }).compile(schema);
    const valid = validate(project);
    assert.deepEqual(validate.errors ?? [], []);
    assert.equal(valid, true);
    assert.equal(project.name, "aura");
    assert.equal(project.runtime.name, "nodejs");
  });

  it("declares every key with a type, a description and the program's own default", () => {
    const declared = Object.fromEntries(
      Object.entries(
        project.config as Record<
          string,
          { type: string; items?: { type: string }; default: unknown; description: string }
        >,
      ).map(([key, declaration]) => {
        assert.ok(declaration.description.length > 20, `${key} needs a description`);
        assert.ok(
          ["string", "integer", "boolean", "array"].includes(declaration.type),
          `${key} has type ${declaration.type}`,
        );
        // The lists are subnet IDs: the program reads them as lists of strings.
        if (declaration.type === "array") assert.deepEqual(declaration.items, { type: "string" });
        return [key, declaration.default];
      }),
    );
    assert.deepEqual(
      declared,
      Object.fromEntries(
        Object.entries({ ...SCALAR_DEFAULTS, ...LIST_DEFAULTS }).map(([key, value]) => [
          `aura:${key}`,
          value,
        ]),
      ),
    );
  });

  it("Pulumi.dev.yaml sets us-east-2 and passes the program's validation", () => {
    const stack = parse(fs.readFileSync(path.join(PROJECT_DIR, "Pulumi.dev.yaml"), "utf8"));
    assert.equal(stack.config["aws:region"], "us-east-2");
    const raw = Object.fromEntries(
      Object.entries(stack.config as Record<string, unknown>).map(([key, value]) => [
        key,
        typeof value === "string" ? value : JSON.stringify(value),
      ]),
    );
    assert.equal(parseAuraConfig(raw, "dev").platform, "linux/amd64");
  });
});
