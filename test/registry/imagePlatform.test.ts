/**
 * The image platform check against real registries (Debian's docker-registry, started by
 * scripts/test-registry.sh): an open one, one with htpasswd Basic auth (the ECR shape) and one
 * with Bearer token auth (the Docker Hub shape).
 */
import * as assert from "node:assert/strict";
import {
  ImagePlatformError,
  MEDIA_TYPES,
  RegistryError,
  assertImagePlatform,
  checkImagePlatform,
} from "../../lib/imagePlatform";
import { TokenServer, startTokenServer } from "./tokenServer";
import { Descriptor, Registry, pushAttestation, pushImage, pushIndex } from "./upload";

function env(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === "") {
    throw new Error(`${name} is not set: run these tests with \`bash scripts/test-registry.sh\``);
  }
  return value;
}

const OPEN = env("AURA_TEST_REGISTRY_OPEN");
const BASIC = env("AURA_TEST_REGISTRY_BASIC");
const TOKEN = env("AURA_TEST_REGISTRY_TOKEN");
const USERNAME = env("AURA_TEST_REGISTRY_USERNAME");
const PASSWORD = env("AURA_TEST_REGISTRY_PASSWORD");
const TOKEN_SERVICE_PORT = Number(env("AURA_TEST_TOKEN_SERVICE_PORT"));
const credentials = { username: USERNAME, password: PASSWORD };

const AMD64 = { os: "linux", architecture: "amd64" };
const ARM64 = { os: "linux", architecture: "arm64", variant: "v8" };

describe("image platform check against a real registry", function () {
  this.slow(2000);

  const open: Registry = { host: OPEN };
  let amd64Only: Descriptor;
  let arm64Only: Descriptor;
  let multi: { index: Descriptor; amd64: Descriptor; arm64: Descriptor; attestation: Descriptor };
  let laptop: { index: Descriptor; arm64: Descriptor };
  let list: { index: Descriptor; amd64: Descriptor; arm64: Descriptor };

  before(async () => {
    amd64Only = await pushImage(open, "aura/amd64-only", AMD64, "docker", "v1");
    arm64Only = await pushImage(open, "aura/arm64-only", ARM64, "oci", "v1");

    const multiAmd64 = await pushImage(open, "aura/multi", AMD64, "oci");
    const multiArm64 = await pushImage(open, "aura/multi", ARM64, "oci");
    const attestation = await pushAttestation(open, "aura/multi", multiAmd64);
    multi = {
      amd64: multiAmd64,
      arm64: multiArm64,
      attestation,
      index: await pushIndex(open, "aura/multi", "v1", MEDIA_TYPES.ociIndex, [
        multiAmd64,
        multiArm64,
        attestation,
      ]),
    };

    // What `docker buildx build --push` makes on an ARM laptop: one arm64 image plus provenance.
    const laptopArm64 = await pushImage(open, "aura/laptop", ARM64, "oci");
    laptop = {
      arm64: laptopArm64,
      index: await pushIndex(open, "aura/laptop", "v1", MEDIA_TYPES.ociIndex, [
        laptopArm64,
        await pushAttestation(open, "aura/laptop", laptopArm64),
      ]),
    };

    const listAmd64 = await pushImage(open, "aura/list", AMD64, "docker");
    const listArm64 = await pushImage(open, "aura/list", ARM64, "docker");
    list = {
      amd64: listAmd64,
      arm64: listArm64,
      index: await pushIndex(open, "aura/list", "v1", MEDIA_TYPES.dockerManifestList, [
        listAmd64,
        listArm64,
      ]),
    };
  });

  describe("single-platform images", () => {
    it("accepts the amd64 image for linux/amd64, reading the platform from its config blob", async () => {
      const reference = `${OPEN}/aura/amd64-only:v1`;
      assert.deepEqual(await assertImagePlatform(reference, "linux/amd64"), {
        reference,
        image: { registry: OPEN, repository: "aura/amd64-only", tag: "v1" },
        wanted: "linux/amd64",
        digest: amd64Only.digest,
        mediaType: MEDIA_TYPES.dockerManifest,
        kind: "manifest",
        matches: true,
        platforms: ["linux/amd64"],
        platformDigest: amd64Only.digest,
      });
    });

    it("fails the arm64-only image (the ARM laptop case) for linux/amd64 with the ECS error explained", async () => {
      const reference = `${OPEN}/aura/arm64-only:v1`;
      await assert.rejects(assertImagePlatform(reference, "linux/amd64"), (err) => {
        assert.ok(err instanceof ImagePlatformError);
        assert.equal(
          err.message,
          [
            `Image ${reference} has no linux/amd64 variant (it has only: linux/arm64/v8), so the ECS task would fail with "CannotPullContainerError: ... image Manifest does not contain descriptor matching platform 'linux/amd64'" and the service would keep replacing it.`,
            "The image was most likely built on an ARM machine (an Apple silicon laptop, a Graviton host) without --platform, so Docker built it for that machine's CPU; Fargate runs this task on linux/amd64 (runtimePlatform X86_64).",
            `Fix: rebuild and push it for the task's platform, e.g. \`docker buildx build --platform linux/amd64 -t ${reference} --push .\`, or let the program build it (leave aura:<container>.image unset; aura:platform = "linux/amd64").`,
          ].join("\n"),
        );
        assert.deepEqual(err.report, {
          reference,
          image: { registry: OPEN, repository: "aura/arm64-only", tag: "v1" },
          wanted: "linux/amd64",
          digest: arm64Only.digest,
          mediaType: MEDIA_TYPES.ociManifest,
          kind: "manifest",
          matches: false,
          platforms: ["linux/arm64/v8"],
        });
        return true;
      });
    });

    it("accepts the same arm64-only image for linux/arm64", async () => {
      const report = await assertImagePlatform(`${OPEN}/aura/arm64-only:v1`, "linux/arm64");
      assert.equal(report.platformDigest, arm64Only.digest);
    });

    it("checks a digest-pinned reference and returns that digest", async () => {
      const reference = `${OPEN}/aura/amd64-only@${amd64Only.digest}`;
      const report = await checkImagePlatform(reference, "linux/arm64");
      assert.deepEqual(
        [report.matches, report.digest, report.platforms, report.image.tag],
        [false, amd64Only.digest, ["linux/amd64"], undefined],
      );
    });
  });

  describe("multi-platform images", () => {
    it("finds linux/amd64 in the OCI index and ignores the unknown/unknown attestation", async () => {
      const reference = `${OPEN}/aura/multi:v1`;
      assert.deepEqual(await assertImagePlatform(reference, "linux/amd64"), {
        reference,
        image: { registry: OPEN, repository: "aura/multi", tag: "v1" },
        wanted: "linux/amd64",
        digest: multi.index.digest,
        mediaType: MEDIA_TYPES.ociIndex,
        kind: "index",
        matches: true,
        platforms: ["linux/amd64", "linux/arm64/v8"],
        platformDigest: multi.amd64.digest,
      });
    });

    it("picks the arm64 child of the same index for linux/arm64, also by the index digest", async () => {
      const report = await assertImagePlatform(
        `${OPEN}/aura/multi@${multi.index.digest}`,
        "linux/arm64",
      );
      assert.deepEqual(
        [report.digest, report.platformDigest, report.kind],
        [multi.index.digest, multi.arm64.digest, "index"],
      );
    });

    it("fails a digest that pins the index's arm64 child for linux/amd64", async () => {
      const reference = `${OPEN}/aura/multi@${multi.arm64.digest}`;
      await assert.rejects(assertImagePlatform(reference, "linux/amd64"), (err) => {
        assert.ok(err instanceof ImagePlatformError);
        assert.deepEqual(
          [err.report.kind, err.report.digest, err.report.platforms],
          ["manifest", multi.arm64.digest, ["linux/arm64/v8"]],
        );
        return true;
      });
    });

    it("fails the buildx-on-ARM index (arm64 plus attestation) for linux/amd64, listing only arm64", async () => {
      const reference = `${OPEN}/aura/laptop:v1`;
      await assert.rejects(assertImagePlatform(reference, "linux/amd64"), (err) => {
        assert.ok(err instanceof ImagePlatformError);
        assert.deepEqual(err.report, {
          reference,
          image: { registry: OPEN, repository: "aura/laptop", tag: "v1" },
          wanted: "linux/amd64",
          digest: laptop.index.digest,
          mediaType: MEDIA_TYPES.ociIndex,
          kind: "index",
          matches: false,
          platforms: ["linux/arm64/v8"],
        });
        assert.ok(err.message.includes("(it has only: linux/arm64/v8)"), err.message);
        return true;
      });
    });

    it("reads a Docker manifest list for both platforms", async () => {
      const reference = `${OPEN}/aura/list:v1`;
      const amd64 = await assertImagePlatform(reference, "linux/amd64");
      const arm64 = await assertImagePlatform(reference, "linux/arm64");
      assert.deepEqual(
        [
          amd64.mediaType,
          amd64.digest,
          amd64.platforms,
          amd64.platformDigest,
          arm64.platformDigest,
        ],
        [
          MEDIA_TYPES.dockerManifestList,
          list.index.digest,
          ["linux/amd64", "linux/arm64/v8"],
          list.amd64.digest,
          list.arm64.digest,
        ],
      );
    });
  });

  describe("registry errors", () => {
    it("names the registry, status and error code for an unknown tag", async () => {
      await assert.rejects(checkImagePlatform(`${OPEN}/aura/multi:nope`, "linux/amd64"), (err) => {
        assert.ok(err instanceof RegistryError);
        assert.equal(err.status, 404);
        assert.equal(
          err.message,
          `registry ${OPEN} answered 404 Not Found for manifest aura/multi:nope (MANIFEST_UNKNOWN: manifest unknown): no such repository, tag or digest`,
        );
        return true;
      });
    });

    it("names an unknown repository", async () => {
      await assert.rejects(checkImagePlatform(`${OPEN}/aura/missing:v1`, "linux/amd64"), {
        message: `registry ${OPEN} answered 404 Not Found for manifest aura/missing:v1 (MANIFEST_UNKNOWN: manifest unknown): no such repository, tag or digest`,
      });
    });

    it("says when the registry cannot be reached", async () => {
      // The token service's port is free until its suite starts; nothing else listens there.
      const host = `127.0.0.1:${TOKEN_SERVICE_PORT}`;
      await assert.rejects(checkImagePlatform(`${host}/aura/multi:v1`, "linux/amd64"), {
        message: `registry ${host} could not be reached for manifest aura/multi:v1 (http://${host}/v2/aura/multi/manifests/v1): connect ECONNREFUSED ${host}`,
      });
    });
  });

  describe("Basic auth (htpasswd, the ECR shape)", () => {
    const basicAuth = `Basic ${Buffer.from(`${USERNAME}:${PASSWORD}`).toString("base64")}`;
    const basic: Registry = { host: BASIC, authorization: async () => basicAuth };
    let image: Descriptor;
    before(async () => {
      image = await pushImage(basic, "aura/app", AMD64, "oci", "v1");
    });

    it("checks the image with the credentials", async () => {
      const report = await assertImagePlatform(`${BASIC}/aura/app:v1`, "linux/amd64", credentials);
      assert.deepEqual([report.matches, report.digest], [true, image.digest]);
    });

    it("says credentials are needed when none are given", async () => {
      await assert.rejects(checkImagePlatform(`${BASIC}/aura/app:v1`, "linux/amd64"), {
        message: `registry ${BASIC} answered 401 Unauthorized for manifest aura/app:v1 (UNAUTHORIZED: authentication required): the registry needs credentials and none were given`,
      });
    });

    it("says the credentials were refused when the password is wrong", async () => {
      await assert.rejects(
        checkImagePlatform(`${BASIC}/aura/app:v1`, "linux/amd64", {
          username: USERNAME,
          password: "wrong",
        }),
        {
          message: `registry ${BASIC} answered 401 Unauthorized for manifest aura/app:v1 (UNAUTHORIZED: authentication required): the credentials were refused`,
        },
      );
    });
  });

  describe("Bearer token auth (the Docker Hub shape)", () => {
    let tokens: TokenServer;
    let image: Descriptor;
    before(async () => {
      tokens = await startTokenServer({
        port: TOKEN_SERVICE_PORT,
        keyFile: env("AURA_TEST_TOKEN_KEY"),
        certFile: env("AURA_TEST_TOKEN_CERT"),
        issuer: "aura-test-issuer",
        ...credentials,
      });
      const pushToken = async (repository: string) => {
        const url = `http://127.0.0.1:${TOKEN_SERVICE_PORT}/token?service=aura-test-registry&scope=repository:${repository}:pull,push`;
        const auth = `Basic ${Buffer.from(`${USERNAME}:${PASSWORD}`).toString("base64")}`;
        const body = (await (await fetch(url, { headers: { Authorization: auth } })).json()) as {
          token: string;
        };
        return `Bearer ${body.token}`;
      };
      image = await pushImage(
        { host: TOKEN, authorization: pushToken },
        "aura/app",
        ARM64,
        "oci",
        "v1",
      );
    });
    after(() => tokens.close());

    it("answers the challenge with one pull token for manifest and config blob", async () => {
      const before = tokens.requests.length;
      const report = await checkImagePlatform(`${TOKEN}/aura/app:v1`, "linux/arm64", credentials);
      assert.deepEqual(
        [report.matches, report.digest, report.platforms],
        [true, image.digest, ["linux/arm64/v8"]],
      );
      assert.deepEqual(tokens.requests.slice(before), [
        { service: "aura-test-registry", scope: "repository:aura/app:pull", authorized: true },
      ]);
    });

    it("reports the token service's refusal without credentials", async () => {
      await assert.rejects(checkImagePlatform(`${TOKEN}/aura/app:v1`, "linux/arm64"), {
        message: `registry ${TOKEN}: token service http://127.0.0.1:${TOKEN_SERVICE_PORT}/token answered 401 Unauthorized (no credentials were given)`,
      });
    });
  });
});
