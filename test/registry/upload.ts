/**
 * Uploads test images straight through the distribution API (no Docker engine): blobs with the
 * two-step POST + PUT upload, manifests with PUT. Test-only.
 */
import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";
import { MEDIA_TYPES, PlatformSpec } from "../../lib/imagePlatform";

export interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly platform?: PlatformSpec;
  readonly annotations?: Record<string, string>;
}

export interface Registry {
  /** `127.0.0.1:port` */
  readonly host: string;
  /** The Authorization header for pushing to `repository`, if the registry needs one. */
  readonly authorization?: (repository: string) => Promise<string>;
}

export const digestOf = (bytes: Buffer) =>
  `sha256:${createHash("sha256").update(bytes).digest("hex")}`;

async function call(
  registry: Registry,
  repository: string,
  method: string,
  url: string,
  body?: Buffer,
  contentType = "application/octet-stream",
): Promise<Response> {
  const headers: Record<string, string> = {};
  if (registry.authorization) headers.Authorization = await registry.authorization(repository);
  if (body !== undefined) headers["Content-Type"] = contentType;
  const response = await fetch(url, { method, headers, body });
  if (!response.ok) {
    throw new Error(`${method} ${url} -> ${response.status} ${await response.text()}`);
  }
  return response;
}

export async function pushBlob(
  registry: Registry,
  repository: string,
  bytes: Buffer,
  mediaType: string,
): Promise<Descriptor> {
  const digest = digestOf(bytes);
  const start = await call(
    registry,
    repository,
    "POST",
    `http://${registry.host}/v2/${repository}/blobs/uploads/`,
  );
  const location = new URL(start.headers.get("location") ?? "", `http://${registry.host}`);
  location.searchParams.set("digest", digest);
  await call(registry, repository, "PUT", location.toString(), bytes);
  return { mediaType, digest, size: bytes.length };
}

export async function pushManifest(
  registry: Registry,
  repository: string,
  reference: string | undefined,
  manifest: object,
): Promise<Descriptor> {
  const bytes = Buffer.from(JSON.stringify(manifest));
  const digest = digestOf(bytes);
  const mediaType = (manifest as { mediaType: string }).mediaType;
  await call(
    registry,
    repository,
    "PUT",
    `http://${registry.host}/v2/${repository}/manifests/${reference ?? digest}`,
    bytes,
    mediaType,
  );
  return { mediaType, digest, size: bytes.length };
}

/** An empty tar archive (two zero blocks): the smallest layer a runtime would unpack. */
const EMPTY_TAR = Buffer.alloc(1024);

/**
 * A single-platform image: config blob with os/architecture, one tiny layer, and its manifest
 * (OCI or Docker schema2 media types). Tagged if `tag` is given, else pushed by digest only, as
 * BuildKit does for the children of an index.
 */
export async function pushImage(
  registry: Registry,
  repository: string,
  platform: PlatformSpec,
  flavour: "oci" | "docker",
  tag?: string,
): Promise<Descriptor> {
  const oci = flavour === "oci";
  const config = Buffer.from(
    JSON.stringify({
      architecture: platform.architecture,
      os: platform.os,
      ...(platform.variant ? { variant: platform.variant } : {}),
      config: { Cmd: ["/bin/true"] },
      rootfs: { type: "layers", diff_ids: [digestOf(EMPTY_TAR)] },
    }),
  );
  const configDescriptor = await pushBlob(
    registry,
    repository,
    config,
    oci
      ? "application/vnd.oci.image.config.v1+json"
      : "application/vnd.docker.container.image.v1+json",
  );
  const layer = await pushBlob(
    registry,
    repository,
    gzipSync(EMPTY_TAR),
    oci
      ? "application/vnd.oci.image.layer.v1.tar+gzip"
      : "application/vnd.docker.image.rootfs.diff.tar.gzip",
  );
  const manifest = {
    schemaVersion: 2,
    mediaType: oci ? MEDIA_TYPES.ociManifest : MEDIA_TYPES.dockerManifest,
    config: configDescriptor,
    layers: [layer],
  };
  return { ...(await pushManifest(registry, repository, tag, manifest)), platform };
}

/**
 * A BuildKit-style provenance attestation for `subject`: an OCI manifest with an in-toto layer,
 * listed in the index as platform unknown/unknown.
 */
export async function pushAttestation(
  registry: Registry,
  repository: string,
  subject: Descriptor,
): Promise<Descriptor> {
  const config = await pushBlob(
    registry,
    repository,
    Buffer.from(
      JSON.stringify({
        architecture: "unknown",
        os: "unknown",
        rootfs: { type: "layers", diff_ids: [] },
      }),
    ),
    "application/vnd.oci.image.config.v1+json",
  );
  const statement = await pushBlob(
    registry,
    repository,
    Buffer.from(JSON.stringify({ _type: "https://in-toto.io/Statement/v0.1", subject: [] })),
    "application/vnd.in-toto+json",
  );
  const manifest = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.ociManifest,
    config,
    layers: [statement],
  };
  return {
    ...(await pushManifest(registry, repository, undefined, manifest)),
    platform: { os: "unknown", architecture: "unknown" },
    annotations: {
      "vnd.docker.reference.digest": subject.digest,
      "vnd.docker.reference.type": "attestation-manifest",
    },
  };
}

/** An OCI index or Docker manifest list over already pushed manifests. */
export async function pushIndex(
  registry: Registry,
  repository: string,
  tag: string,
  mediaType: typeof MEDIA_TYPES.ociIndex | typeof MEDIA_TYPES.dockerManifestList,
  manifests: readonly Descriptor[],
): Promise<Descriptor> {
  return pushManifest(registry, repository, tag, { schemaVersion: 2, mediaType, manifests });
}
