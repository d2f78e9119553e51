import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { contextDigest } from "../../lib/contextDigest";
import { PROJECT_DIR } from "../../lib/stackFile";
import { ProgramRun, RecordedResource, runProgram } from "../mocks";

const IMAGES = ["databases", "api-gateway", "service-desk-host"].map(
  (name) =>
    `urn:pulumi:dev::aura::aura:containers:${pascal(name)}$docker-build:index:Image::aura-${name}-image`,
);

function pascal(name: string): string {
  return name.replace(/(^|-)([a-z])/g, (_, _dash, letter: string) => letter.toUpperCase());
}

function byUrn(run: ProgramRun): Map<string, RecordedResource> {
  const resources = new Map(run.resources.map((resource) => [resource.urn, resource]));
  assert.equal(resources.size, run.resources.length, "every URN is registered once");
  return resources;
}

describe("previews", function () {
  this.timeout(20000);
  let update: ProgramRun;

  before(async () => {
    update = await runProgram();
  });

  it("a preview of the unchanged dev stack registers every resource with the update's inputs and options", async () => {
    // The engine hands a preview of an existing stack the outputs the last update stored, as
    // these mocks do; any input that still differs is a change `pulumi preview` would show.
    const preview = await runProgram({ preview: true });
    const updated = byUrn(update);
    const previewed = byUrn(preview);
    assert.deepEqual([...previewed.keys()].sort(), [...updated.keys()].sort());
    assert.ok(updated.size > 50, `the whole stack is compared (${updated.size} resources)`);
    for (const [urn, resource] of updated) {
      assert.deepEqual(previewed.get(urn)!.inputs, resource.inputs, urn);
      assert.deepEqual(previewed.get(urn)!.options, resource.options, urn);
      assert.equal(previewed.get(urn)!.parent, resource.parent, urn);
    }
    for (const urn of IMAGES) assert.equal(previewed.get(urn)!.inputs.push, true, urn);
  });

  it("a brand-new stack's first preview registers the same resources, pushing only once the tags are known", async () => {
    const preview = await runProgram({ preview: true, newStack: true });
    const previewed = byUrn(preview);
    assert.deepEqual([...previewed.keys()].sort(), [...byUrn(update).keys()].sort());
    for (const urn of IMAGES) {
      const image = previewed.get(urn)!.inputs;
      // Unknown, which docker-build reads as false (pulumi-docker-build#251), not `true`.
      assert.equal(pulumi.isUnknown(image.push), true, urn);
      assert.equal(pulumi.isUnknown(image.tags[0]), true, urn);
      assert.equal(image.buildOnPreview, false, urn);
    }
  });

  it("names each build context by a path relative to the project, whose digest is the same at any checkout path", () => {
    const elsewhere = fs.mkdtempSync(path.join(os.tmpdir(), "aura-checkout-"));
    try {
      for (const name of ["databases", "api-gateway", "service-desk-host"]) {
        const source = path.join(PROJECT_DIR, "containers", name);
        const copy = path.join(elsewhere, "containers", name);
        fs.cpSync(source, copy, { recursive: true });
        assert.equal(contextDigest(copy, "linux/amd64"), contextDigest(source, "linux/amd64"));
        const image = update.one("docker-build:index:Image", `aura-${name}-image`).inputs;
        assert.deepEqual(image.context, { location: `containers/${name}` });
      }
    } finally {
      fs.rmSync(elsewhere, { recursive: true, force: true });
    }
  });
});
