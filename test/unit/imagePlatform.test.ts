import * as assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  ImagePlatformError,
  MEDIA_TYPES,
  PlatformReport,
  RegistryError,
  assertImagePlatform,
  checkImagePlatform,
  explainPlatformMismatch,
  formatImageReference,
  interpretManifest,
  parseAuthChallenge,
  parseImageReference,
  platformFromConfig,
} from "../../lib/imagePlatform";

const DIGEST_A = `sha256:${"a".repeat(64)}`;
const DIGEST_B = `sha256:${"b".repeat(64)}`;
const DIGEST_C = `sha256:${"c".repeat(64)}`;
const ECR = "123456789012.dkr.ecr.us-east-2.amazonaws.com";

describe("parseImageReference", () => {
  const cases: [string, ReturnType<typeof parseImageReference>][] = [
    [
      "debian:bookworm",
      { registry: "registry-1.docker.io", repository: "library/debian", tag: "bookworm" },
    ],
    ["debian", { registry: "registry-1.docker.io", repository: "library/debian", tag: "latest" }],
    [
      "docker.io/library/debian:12",
      { registry: "registry-1.docker.io", repository: "library/debian", tag: "12" },
    ],
    [
      "index.docker.io/debian:12",
      { registry: "registry-1.docker.io", repository: "library/debian", tag: "12" },
    ],
    [
      "bitnami/redis:7.2",
      { registry: "registry-1.docker.io", repository: "bitnami/redis", tag: "7.2" },
    ],
    [
      `${ECR}/aura-databases:abc123`,
      { registry: ECR, repository: "aura-databases", tag: "abc123" },
    ],
    [
      `127.0.0.1:5000/aura/app@${DIGEST_A}`,
      { registry: "127.0.0.1:5000", repository: "aura/app", digest: DIGEST_A },
    ],
    ["localhost/app:1", { registry: "localhost", repository: "app", tag: "1" }],
    [
      "localhost:5000/a/b/c:v1.2_rc-1",
      { registry: "localhost:5000", repository: "a/b/c", tag: "v1.2_rc-1" },
    ],
    ["[::1]:5000/app", { registry: "[::1]:5000", repository: "app", tag: "latest" }],
    [
      `registry.example.com:443/team/my_app__x:1.0@${DIGEST_B}`,
      {
        registry: "registry.example.com:443",
        repository: "team/my_app__x",
        tag: "1.0",
        digest: DIGEST_B,
      },
    ],
  ];
  for (const [input, expected] of cases) {
    it(`parses ${input}`, () => assert.deepEqual(parseImageReference(input), expected));
  }

  const invalid: [string, string][] = [
    ["", 'image reference "" is not valid: it is empty'],
    [
      "Debian:12",
      'image reference "Debian:12" is not valid: repository path component "Debian" must be lowercase letters and digits separated by ".", "_", "__" or "-"',
    ],
    ["app:bad!tag", 'image reference "app:bad!tag" is not valid: tag "bad!tag" is not a valid tag'],
    [
      "app@sha256:abc",
      'image reference "app@sha256:abc" is not valid: digest "sha256:abc" is not algorithm:hex',
    ],
    [
      `app@sha256:${"g".repeat(64)}`,
      `image reference "app@sha256:${"g".repeat(64)}" is not valid: digest "sha256:${"g".repeat(64)}" is not sha256: followed by 64 hex digits`,
    ],
    [
      "example.com//app:1",
      'image reference "example.com//app:1" is not valid: repository path component "" must be lowercase letters and digits separated by ".", "_", "__" or "-"',
    ],
  ];
  for (const [input, message] of invalid) {
    it(`rejects ${JSON.stringify(input)}`, () =>
      assert.throws(() => parseImageReference(input), { message }));
  }

  it("formats the normalised reference back", () => {
    assert.equal(
      formatImageReference(parseImageReference("debian")),
      "registry-1.docker.io/library/debian:latest",
    );
    assert.equal(
      formatImageReference(parseImageReference(`localhost:5000/a:1@${DIGEST_A}`)),
      `localhost:5000/a:1@${DIGEST_A}`,
    );
  });
});

describe("interpretManifest", () => {
  it("reads an OCI index and drops the BuildKit attestation entry", () => {
    const body = JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.ociIndex,
      manifests: [
        {
          mediaType: MEDIA_TYPES.ociManifest,
          digest: DIGEST_A,
          size: 1,
          platform: { os: "linux", architecture: "amd64" },
        },
        {
          mediaType: MEDIA_TYPES.ociManifest,
          digest: DIGEST_B,
          size: 1,
          platform: { os: "linux", architecture: "arm64", variant: "v8" },
        },
        {
          mediaType: MEDIA_TYPES.ociManifest,
          digest: DIGEST_C,
          size: 1,
          platform: { os: "unknown", architecture: "unknown" },
          annotations: {
            "vnd.docker.reference.type": "attestation-manifest",
            "vnd.docker.reference.digest": DIGEST_A,
          },
        },
      ],
    });
    const content = interpretManifest(body, MEDIA_TYPES.ociIndex);
    assert.equal(content.kind, "index");
    assert.equal(content.mediaType, MEDIA_TYPES.ociIndex);
    assert.ok(content.kind === "index");
    assert.deepEqual(
      content.entries.map((e) => e.digest),
      [DIGEST_A, DIGEST_B],
    );
    assert.equal(content.attestations, 1);
  });

  it("takes the media type from Content-Type when the body has none (Docker manifest list)", () => {
    const body = JSON.stringify({
      schemaVersion: 2,
      manifests: [{ digest: DIGEST_A, platform: { os: "linux", architecture: "amd64" } }],
    });
    const content = interpretManifest(body, `${MEDIA_TYPES.dockerManifestList}; charset=utf-8`);
    assert.deepEqual(content, {
      kind: "index",
      mediaType: MEDIA_TYPES.dockerManifestList,
      entries: [{ digest: DIGEST_A, platform: { os: "linux", architecture: "amd64" } }],
      attestations: 0,
    });
  });

  it("reads the config digest of a single image manifest", () => {
    for (const mediaType of [MEDIA_TYPES.ociManifest, MEDIA_TYPES.dockerManifest]) {
      const body = JSON.stringify({
        schemaVersion: 2,
        mediaType,
        config: {
          mediaType: "application/vnd.oci.image.config.v1+json",
          digest: DIGEST_C,
          size: 2,
        },
        layers: [],
      });
      assert.deepEqual(interpretManifest(body, "application/json"), {
        kind: "manifest",
        mediaType,
        configDigest: DIGEST_C,
      });
    }
  });

  it("rejects schema 1, non-JSON and unknown shapes with a reason", () => {
    assert.throws(
      () => interpretManifest(JSON.stringify({ schemaVersion: 1, architecture: "amd64" })),
      {
        message:
          "manifest is Docker schema 1, which ECS no longer pulls: push the image again with a current Docker or BuildKit",
      },
    );
    assert.throws(() => interpretManifest("<html>", "text/html"), {
      message: "manifest is not JSON (Content-Type text/html)",
    });
    assert.throws(() => interpretManifest(JSON.stringify({ schemaVersion: 2, mediaType: "x/y" })), {
      message:
        'manifest of media type "x/y" has neither "manifests" (an index) nor "config" (an image manifest)',
    });
  });
});

describe("platformFromConfig", () => {
  it("reads os, architecture and variant", () => {
    assert.deepEqual(
      platformFromConfig('{"architecture":"arm64","os":"linux","variant":"v8","rootfs":{}}'),
      {
        os: "linux",
        architecture: "arm64",
        variant: "v8",
      },
    );
    assert.deepEqual(platformFromConfig('{"architecture":"amd64","os":"linux"}'), {
      os: "linux",
      architecture: "amd64",
    });
  });
  it("refuses a config without them", () => {
    assert.throws(() => platformFromConfig('{"os":"linux"}'), {
      message: 'image config blob has no "os" and "architecture"',
    });
  });
});

describe("parseAuthChallenge", () => {
  it("reads a Bearer challenge whose scope contains commas", () => {
    assert.deepEqual(
      parseAuthChallenge(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/debian:pull,push"',
      ),
      {
        scheme: "bearer",
        params: {
          realm: "https://auth.docker.io/token",
          service: "registry.docker.io",
          scope: "repository:library/debian:pull,push",
        },
      },
    );
    assert.deepEqual(parseAuthChallenge('Basic realm="Registry Realm"'), {
      scheme: "basic",
      params: { realm: "Registry Realm" },
    });
  });
});

describe("explainPlatformMismatch", () => {
  it("explains the ARM laptop case with the platforms found, and never offers linux/arm64 (the databases image cannot be built for it)", () => {
    const report: PlatformReport = {
      reference: `${ECR}/aura-databases:abc123`,
      image: parseImageReference(`${ECR}/aura-databases:abc123`),
      wanted: "linux/amd64",
      matches: false,
      platforms: ["linux/arm64/v8"],
      digest: DIGEST_A,
      mediaType: MEDIA_TYPES.ociManifest,
      kind: "manifest",
    };
    assert.equal(
      explainPlatformMismatch(report),
      [
        `Image ${ECR}/aura-databases:abc123 has no linux/amd64 variant (it has only: linux/arm64/v8), so the ECS task would fail with "CannotPullContainerError: ... image Manifest does not contain descriptor matching platform 'linux/amd64'" and the service would keep replacing it.`,
        "The image was most likely built on an ARM machine (an Apple silicon laptop, a Graviton host) without --platform, so Docker built it for that machine's CPU; Fargate runs this task on linux/amd64 (runtimePlatform X86_64).",
        `Fix: rebuild and push it for the task's platform, e.g. \`docker buildx build --platform linux/amd64 -t ${ECR}/aura-databases:abc123 --push .\`, or let the program build it (leave aura:<container>.image unset; aura:platform = "linux/amd64").`,
      ].join("\n"),
    );
  });

  it("uses a tag placeholder for a digest-only reference, no ARM guess for an amd64 image, and offers only what the program can build", () => {
    const reference = `${ECR}/aura-api-gateway@${DIGEST_B}`;
    const message = explainPlatformMismatch({
      reference,
      image: parseImageReference(reference),
      wanted: "linux/arm64",
      matches: false,
      platforms: ["linux/amd64"],
      digest: DIGEST_B,
      mediaType: MEDIA_TYPES.dockerManifest,
      kind: "manifest",
    });
    assert.deepEqual(message.split("\n").slice(1), [
      "Fargate runs this task on linux/arm64 (runtimePlatform ARM64) and cannot run an image built for another CPU.",
      `Fix: rebuild and push it for the task's platform, e.g. \`docker buildx build --platform linux/arm64 -t ${ECR}/aura-api-gateway:<tag> --push .\`, or let the program build the app images (leave aura:api-gateway.image and aura:service-desk-host.image unset; it cannot build the databases image for linux/arm64: MongoDB publishes no Debian packages for it); or, to run the image as it is, set aura:platform = "linux/amd64" (Fargate runtimePlatform X86_64).`,
    ]);
  });
});

/** A fake registry: routes keyed by "METHOD url", recording every request's headers. */
function fakeFetch(routes: Record<string, (headers: Headers) => Response>) {
  const calls: { url: string; authorization: string | null; accept: string | null }[] = [];
  const impl = (async (input: string | URL | Request, init?: RequestInit) => {
    const url = input.toString();
    const headers = new Headers(init?.headers);
    calls.push({ url, authorization: headers.get("authorization"), accept: headers.get("accept") });
    const route = routes[url];
    if (route === undefined)
      throw new TypeError("fetch failed", { cause: new Error("connect ECONNREFUSED") });
    return route(headers);
  }) as typeof fetch;
  return { impl, calls };
}

function manifestResponse(body: string, mediaType: string): Response {
  return new Response(body, { status: 200, headers: { "content-type": mediaType } });
}

const sha = (s: string) => `sha256:${createHash("sha256").update(s).digest("hex")}`;

describe("checkImagePlatform against a fake registry", () => {
  const config = JSON.stringify({
    architecture: "arm64",
    os: "linux",
    rootfs: { type: "layers", diff_ids: [] },
  });
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.ociManifest,
    config: {
      mediaType: "application/vnd.oci.image.config.v1+json",
      digest: sha(config),
      size: config.length,
    },
    layers: [],
  });

  it("follows the Bearer challenge once, with Basic credentials to the token service and a pull scope", async () => {
    const base = "https://registry.example.com/v2/team/app";
    const challenge =
      'Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:team/app:pull"';
    const bearerOnly = (ok: () => Response) => (headers: Headers) =>
      headers.get("authorization") === "Bearer t0k"
        ? ok()
        : new Response("{}", { status: 401, headers: { "www-authenticate": challenge } });
    const { impl, calls } = fakeFetch({
      [`${base}/manifests/1.0`]: bearerOnly(() =>
        manifestResponse(manifest, MEDIA_TYPES.ociManifest),
      ),
      [`${base}/blobs/${sha(config)}`]: bearerOnly(() => new Response(config)),
      "https://auth.example.com/token?service=registry.example.com&scope=repository%3Ateam%2Fapp%3Apull":
        (h) =>
          h.get("authorization") === `Basic ${Buffer.from("bob:secret").toString("base64")}`
            ? Response.json({ token: "t0k" })
            : new Response("", { status: 401 }),
    });
    const report = await checkImagePlatform("registry.example.com/team/app:1.0", "linux/amd64", {
      username: "bob",
      password: "secret",
      fetch: impl,
    });
    assert.deepEqual(report, {
      reference: "registry.example.com/team/app:1.0",
      image: { registry: "registry.example.com", repository: "team/app", tag: "1.0" },
      wanted: "linux/amd64",
      digest: sha(manifest),
      mediaType: MEDIA_TYPES.ociManifest,
      kind: "manifest",
      matches: false,
      platforms: ["linux/arm64"],
    });
    const basic = `Basic ${Buffer.from("bob:secret").toString("base64")}`;
    assert.deepEqual(
      calls.map((c) => [c.url.replace(/^https:\/\/[^/]+/, ""), c.authorization]),
      [
        ["/v2/team/app/manifests/1.0", basic],
        ["/token?service=registry.example.com&scope=repository%3Ateam%2Fapp%3Apull", basic],
        ["/v2/team/app/manifests/1.0", "Bearer t0k"],
        [`/v2/team/app/blobs/${sha(config)}`, "Bearer t0k"],
      ],
    );
    assert.equal(
      calls[0].accept,
      `${MEDIA_TYPES.ociIndex}, ${MEDIA_TYPES.dockerManifestList}, ${MEDIA_TYPES.ociManifest}, ${MEDIA_TYPES.dockerManifest}`,
    );
  });

  it("assertImagePlatform throws the explained error for the arm64-only image", async () => {
    const { impl } = fakeFetch({
      "http://127.0.0.1:5000/v2/app/manifests/latest": () =>
        manifestResponse(manifest, MEDIA_TYPES.ociManifest),
      [`http://127.0.0.1:5000/v2/app/blobs/${sha(config)}`]: () => new Response(config),
    });
    await assert.rejects(
      assertImagePlatform("127.0.0.1:5000/app", "linux/amd64", { fetch: impl }),
      (err) => {
        assert.ok(err instanceof ImagePlatformError);
        assert.deepEqual(err.report.platforms, ["linux/arm64"]);
        assert.match(
          err.message,
          /^Image 127\.0\.0\.1:5000\/app has no linux\/amd64 variant \(it has only: linux\/arm64\)/,
        );
        return true;
      },
    );
  });

  it("uses https for a non-loopback registry unless insecure, and http for loopback unless insecure: false", async () => {
    const { impl, calls } = fakeFetch({});
    for (const [ref, insecure] of [
      ["example.com/app", undefined],
      ["example.com/app", true],
      ["localhost:5000/app", undefined],
      ["localhost:5000/app", false],
    ] as const) {
      await assert.rejects(
        checkImagePlatform(ref, "linux/amd64", { fetch: impl, insecure }),
        RegistryError,
      );
    }
    assert.deepEqual(
      calls.map((c) => c.url),
      [
        "https://example.com/v2/app/manifests/latest",
        "http://example.com/v2/app/manifests/latest",
        "http://localhost:5000/v2/app/manifests/latest",
        "https://localhost:5000/v2/app/manifests/latest",
      ],
    );
  });

  it("names the registry, status and registry error code for an unknown tag", async () => {
    const { impl } = fakeFetch({
      [`https://${ECR}/v2/aura-databases/manifests/nope`]: () =>
        Response.json(
          { errors: [{ code: "MANIFEST_UNKNOWN", message: "manifest unknown" }] },
          { status: 404, statusText: "Not Found" },
        ),
    });
    await assert.rejects(
      checkImagePlatform(`${ECR}/aura-databases:nope`, "linux/amd64", { fetch: impl }),
      {
        name: "RegistryError",
        message: `registry ${ECR} answered 404 Not Found for manifest aura-databases:nope (MANIFEST_UNKNOWN: manifest unknown): no such repository, tag or digest`,
      },
    );
  });

  it("says when a Basic registry refuses missing credentials", async () => {
    const { impl, calls } = fakeFetch({
      "https://example.com/v2/app/manifests/1": () =>
        new Response("", {
          status: 401,
          statusText: "Unauthorized",
          headers: { "www-authenticate": 'Basic realm="basic-realm"' },
        }),
    });
    await assert.rejects(checkImagePlatform("example.com/app:1", "linux/amd64", { fetch: impl }), {
      message:
        "registry example.com answered 401 Unauthorized for manifest app:1: the registry needs credentials and none were given",
    });
    assert.equal(calls.length, 1);
  });

  it("reports an unreachable registry with its URL and cause", async () => {
    const { impl } = fakeFetch({});
    await assert.rejects(checkImagePlatform("example.com/app:1", "linux/amd64", { fetch: impl }), {
      message:
        "registry example.com could not be reached for manifest app:1 (https://example.com/v2/app/manifests/1): connect ECONNREFUSED",
    });
  });

  it("refuses a manifest whose bytes do not match the digest asked for", async () => {
    const { impl } = fakeFetch({
      [`https://example.com/v2/app/manifests/${DIGEST_A}`]: () =>
        manifestResponse(manifest, MEDIA_TYPES.ociManifest),
    });
    await assert.rejects(
      checkImagePlatform(`example.com/app@${DIGEST_A}`, "linux/amd64", { fetch: impl }),
      {
        message: `registry example.com returned a manifest for app@${DIGEST_A} whose content hashes to ${sha(manifest)}`,
      },
    );
  });

  it("refuses a platform Fargate does not run before any request", async () => {
    const { impl, calls } = fakeFetch({});
    await assert.rejects(checkImagePlatform("example.com/app:1", "linux/arm/v7", { fetch: impl }), {
      message: 'platform "linux/arm/v7" is not supported: Fargate runs linux/amd64 or linux/arm64',
    });
    assert.equal(calls.length, 0);
  });
});
