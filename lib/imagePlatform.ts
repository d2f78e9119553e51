/**
 * Checks through the registry HTTP API (OCI distribution spec / Docker Registry v2) that an image
 * has the platform the Fargate task runs on, before ECS tries to pull it. Without this check an
 * image pushed from an ARM laptop deploys "fine" and then loops on
 * `CannotPullContainerError: ... image Manifest does not contain descriptor matching platform`.
 *
 * Plain module, no Pulumi: the program, the policy pack and the diagnose tool share it.
 */
import { createHash } from "node:crypto";
import { BUILDABLE_PLATFORMS, CPU_ARCHITECTURES, PLATFORMS, Platform } from "./config";

export const MEDIA_TYPES = {
  ociIndex: "application/vnd.oci.image.index.v1+json",
  dockerManifestList: "application/vnd.docker.distribution.manifest.list.v2+json",
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
} as const;

/** Every manifest kind we can read; without them a registry may fall back to schema1 or 404. */
const MANIFEST_ACCEPT = [
  MEDIA_TYPES.ociIndex,
  MEDIA_TYPES.dockerManifestList,
  MEDIA_TYPES.ociManifest,
  MEDIA_TYPES.dockerManifest,
].join(", ");

/** Docker Hub's names as users write them, and the host that actually serves its API. */
const DOCKER_HUB_NAMES = new Set(["docker.io", "index.docker.io", "registry-1.docker.io"]);
export const DOCKER_HUB_REGISTRY = "registry-1.docker.io";

export interface ImageReference {
  /** Host (and port) serving the registry API, Docker Hub already mapped to `registry-1.docker.io`. */
  readonly registry: string;
  /** Repository path inside the registry, `library/` added for Docker Hub official images. */
  readonly repository: string;
  /** The tag, `latest` when the reference has neither tag nor digest. */
  readonly tag?: string;
  /** `algorithm:hex`; when present it is what gets fetched, the tag is only informative. */
  readonly digest?: string;
}

// The grammar of github.com/distribution/reference, trimmed to what names and tags need.
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^\w[\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;
const SHA256_DIGEST = /^sha256:[a-f0-9]{64}$/;

/**
 * Parses `registry/repo:tag`, `registry/repo@sha256:...` or a Docker Hub short name
 * (`debian:bookworm`), normalised the way the Docker CLI does it. Throws on malformed input,
 * because a typo here would otherwise surface as a confusing 404 from the registry.
 */
export function parseImageReference(ref: string): ImageReference {
  const input = ref.trim();
  const invalid = (why: string) =>
    new Error(`image reference ${JSON.stringify(ref)} is not valid: ${why}`);
  if (input === "") throw invalid("it is empty");

  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest))
      throw invalid(`digest ${JSON.stringify(digest)} is not algorithm:hex`);
    if (digest.startsWith("sha256:") && !SHA256_DIGEST.test(digest)) {
      throw invalid(`digest ${JSON.stringify(digest)} is not sha256: followed by 64 hex digits`);
    }
  }

  // A colon after the last slash is a tag; one before it belongs to a registry port.
  let tag: string | undefined;
  const colon = rest.lastIndexOf(":");
  if (colon > rest.lastIndexOf("/")) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw invalid(`tag ${JSON.stringify(tag)} is not a valid tag`);
  }

  // Like the Docker CLI: the first component is a registry only if it looks like a host.
  let registry = "docker.io";
  let repository = rest;
  const slash = rest.indexOf("/");
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (
      first.includes(".") ||
      first.includes(":") ||
      first === "localhost" ||
      first !== first.toLowerCase()
    ) {
      registry = first;
      repository = rest.slice(slash + 1);
    }
  }
  if (registry === "" || /[/\s]/.test(registry))
    throw invalid(`registry ${JSON.stringify(registry)}`);
  if (DOCKER_HUB_NAMES.has(registry)) {
    registry = DOCKER_HUB_REGISTRY;
    if (!repository.includes("/")) repository = `library/${repository}`;
  }
  const bad = repository.split("/").find((part) => !PATH_COMPONENT.test(part));
  if (bad !== undefined) {
    throw invalid(
      `repository path component ${JSON.stringify(bad)} must be lowercase letters and digits separated by ".", "_", "__" or "-"`,
    );
  }

  if (tag === undefined && digest === undefined) tag = "latest";
  return {
    registry,
    repository,
    ...(tag !== undefined ? { tag } : {}),
    ...(digest ? { digest } : {}),
  };
}

/** The canonical form, e.g. `registry-1.docker.io/library/debian:bookworm`. */
export function formatImageReference(ref: ImageReference): string {
  return `${ref.registry}/${ref.repository}${ref.tag !== undefined ? `:${ref.tag}` : ""}${ref.digest !== undefined ? `@${ref.digest}` : ""}`;
}

/** One `platform` object of an index entry or the os/architecture of an image config. */
export interface PlatformSpec {
  readonly os: string;
  readonly architecture: string;
  readonly variant?: string;
}

/** `linux/arm64/v8` style, the form Docker and ECS print. */
export function formatPlatform(p: PlatformSpec): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ""}`;
}

/**
 * Whether an image platform satisfies the wanted one. ECS asks for os/architecture only, so a
 * variant such as arm64's `v8` never causes a mismatch.
 */
export function platformMatches(found: PlatformSpec, wanted: Platform): boolean {
  return `${found.os}/${found.architecture}` === wanted;
}

/**
 * BuildKit stores provenance/SBOM attestations as index entries with platform `unknown/unknown`;
 * they are not runnable images and must not be reported as platforms.
 */
function isAttestation(entry: IndexEntry): boolean {
  return (
    entry.annotations?.["vnd.docker.reference.type"] === "attestation-manifest" ||
    (entry.platform?.os === "unknown" && entry.platform.architecture === "unknown")
  );
}

export interface IndexEntry {
  readonly mediaType?: string;
  readonly digest: string;
  readonly platform?: PlatformSpec;
  readonly annotations?: Readonly<Record<string, string>>;
}

/** A manifest body reduced to what the platform check needs. */
export type ManifestContent =
  | {
      readonly kind: "index";
      readonly mediaType: string;
      /** Runnable entries, attestations removed. */
      readonly entries: readonly IndexEntry[];
      readonly attestations: number;
    }
  | { readonly kind: "manifest"; readonly mediaType: string; readonly configDigest: string };

/**
 * Classifies a manifest body. `contentType` is the response's Content-Type; the body's own
 * `mediaType` wins when present because some registries answer `application/json`.
 */
export function interpretManifest(body: string, contentType?: string): ManifestContent {
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch {
    throw new Error(`manifest is not JSON (Content-Type ${contentType ?? "none"})`);
  }
  if (typeof doc !== "object" || doc === null) throw new Error("manifest is not a JSON object");
  const m = doc as {
    schemaVersion?: unknown;
    mediaType?: unknown;
    manifests?: unknown;
    config?: { digest?: unknown };
  };
  const headerType = contentType?.split(";")[0].trim();
  const mediaType = typeof m.mediaType === "string" ? m.mediaType : (headerType ?? "");
  if (m.schemaVersion === 1) {
    throw new Error(
      "manifest is Docker schema 1, which ECS no longer pulls: push the image again with a current Docker or BuildKit",
    );
  }
  if (Array.isArray(m.manifests)) {
    const all = (m.manifests as IndexEntry[]).filter(
      (e) => typeof e === "object" && e !== null && typeof e.digest === "string",
    );
    const entries = all.filter((e) => !isAttestation(e));
    return { kind: "index", mediaType, entries, attestations: all.length - entries.length };
  }
  if (m.config !== undefined && typeof m.config.digest === "string") {
    return { kind: "manifest", mediaType, configDigest: m.config.digest };
  }
  throw new Error(
    `manifest of media type ${JSON.stringify(mediaType)} has neither "manifests" (an index) nor "config" (an image manifest)`,
  );
}

/** Reads os/architecture/variant from an image config blob. */
export function platformFromConfig(body: string): PlatformSpec {
  let doc: { os?: unknown; architecture?: unknown; variant?: unknown };
  try {
    doc = JSON.parse(body) as typeof doc;
  } catch {
    throw new Error("image config blob is not JSON");
  }
  if (typeof doc.os !== "string" || typeof doc.architecture !== "string") {
    throw new Error('image config blob has no "os" and "architecture"');
  }
  return {
    os: doc.os,
    architecture: doc.architecture,
    ...(typeof doc.variant === "string" && doc.variant !== "" ? { variant: doc.variant } : {}),
  };
}

export interface ImagePlatformOptions {
  /** Registry user; `AWS` for ECR (`aws.ecr.getAuthorizationToken`). */
  readonly username?: string;
  /** Registry password; for ECR the authorization token's password. */
  readonly password?: string;
  /**
   * `true` talks plain http, `false` https. @default http for localhost/127.0.0.1/::1, https
   * otherwise
   */
  readonly insecure?: boolean;
  /** Per-request timeout in milliseconds. @default 30000 */
  readonly timeoutMs?: number;
  /** Injected by tests; @default the global `fetch` of Node 20 */
  readonly fetch?: typeof fetch;
}

export interface PlatformReport {
  /** The reference as given. */
  readonly reference: string;
  /** The parsed, normalised reference. */
  readonly image: ImageReference;
  readonly wanted: Platform;
  /** Whether the image has the wanted platform. */
  readonly matches: boolean;
  /** Runnable platforms found, sorted, attestations excluded, e.g. `["linux/amd64", "linux/arm64/v8"]`. */
  readonly platforms: readonly string[];
  /** Digest of the manifest the reference resolves to (the index for multi-platform images). */
  readonly digest: string;
  readonly mediaType: string;
  readonly kind: "index" | "manifest";
  /** Digest of the single-platform manifest ECS will pull for `wanted`, when there is one. */
  readonly platformDigest?: string;
}

/** A registry answered with an error status, or could not be reached. */
export class RegistryError extends Error {
  constructor(
    message: string,
    readonly registry: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = "RegistryError";
  }
}

/** The image exists but lacks the task's platform: the original ECS failure, explained. */
export class ImagePlatformError extends Error {
  constructor(readonly report: PlatformReport) {
    super(explainPlatformMismatch(report));
    this.name = "ImagePlatformError";
  }
}

function assertPlatform(platform: string): asserts platform is Platform {
  if (!(PLATFORMS as readonly string[]).includes(platform)) {
    throw new Error(
      `platform ${JSON.stringify(platform)} is not supported: Fargate runs ${PLATFORMS.join(" or ")}`,
    );
  }
}

function isLoopback(registry: string): boolean {
  const host = registry.startsWith("[")
    ? registry.slice(0, registry.indexOf("]") + 1)
    : registry.split(":")[0];
  return host === "localhost" || host === "127.0.0.1" || host === "[::1]";
}

/** Parses `Bearer realm="...",service="...",scope="..."` (quoted values may contain commas). */
export function parseAuthChallenge(header: string): {
  scheme: string;
  params: Record<string, string>;
} {
  const space = header.indexOf(" ");
  const scheme = (space < 0 ? header : header.slice(0, space)).trim().toLowerCase();
  const params: Record<string, string> = {};
  const re = /([A-Za-z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g;
  for (const match of (space < 0 ? "" : header.slice(space + 1)).matchAll(re)) {
    params[match[1].toLowerCase()] =
      match[2] !== undefined ? match[2].replace(/\\(.)/g, "$1") : match[3];
  }
  return { scheme, params };
}

/**
 * One registry session: remembers the Authorization header that worked so the manifest, the
 * child manifest and the config blob cost one token request, not three.
 */
class RegistryClient {
  private authorization?: string;
  private readonly base: string;
  private readonly fetchImpl: typeof fetch;
  private readonly timeoutMs: number;

  constructor(
    private readonly image: ImageReference,
    private readonly options: ImagePlatformOptions,
  ) {
    const insecure = options.insecure ?? isLoopback(image.registry);
    this.base = `${insecure ? "http" : "https"}://${image.registry}/v2/${image.repository}`;
    this.fetchImpl = options.fetch ?? fetch;
    this.timeoutMs = options.timeoutMs ?? 30000;
    // ECR and htpasswd registries take Basic directly; Bearer registries answer 401 and we switch.
    if (options.username !== undefined && options.password !== undefined) {
      this.authorization = basic(options.username, options.password);
    }
  }

  async get(path: string, accept: string, what: string): Promise<Response> {
    const url = `${this.base}/${path}`;
    let response = await this.send(url, accept, what);
    if (response.status === 401) {
      const challenged = response;
      const retryWith = await this.answerChallenge(
        challenged.headers.get("www-authenticate"),
        what,
      ).catch(async (err: unknown) => {
        await challenged.body?.cancel();
        throw err;
      });
      if (retryWith !== undefined) {
        await challenged.body?.cancel();
        this.authorization = retryWith;
        response = await this.send(url, accept, what);
      }
    }
    if (!response.ok) throw await this.statusError(response, what);
    return response;
  }

  private async send(url: string, accept: string, what: string): Promise<Response> {
    const headers: Record<string, string> = { Accept: accept };
    if (this.authorization !== undefined) headers.Authorization = this.authorization;
    try {
      return await this.fetchImpl(url, { headers, signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (err) {
      throw this.networkError(err, url, what);
    }
  }

  /** The Authorization header to retry with, or undefined when retrying cannot help. */
  private async answerChallenge(
    challenge: string | null,
    what: string,
  ): Promise<string | undefined> {
    const { username, password } = this.options;
    const haveCredentials = username !== undefined && password !== undefined;
    if (challenge === null) return undefined;
    const { scheme, params } = parseAuthChallenge(challenge);
    if (scheme === "basic") {
      // We already sent Basic if we had credentials; a second identical try would fail again.
      return undefined;
    }
    if (scheme !== "bearer" || params.realm === undefined) {
      throw new RegistryError(
        `registry ${this.image.registry} asked for unsupported authentication ${JSON.stringify(challenge)} when reading ${what}`,
        this.image.registry,
        401,
      );
    }
    const tokenUrl = new URL(params.realm);
    if (params.service !== undefined) tokenUrl.searchParams.set("service", params.service);
    tokenUrl.searchParams.set("scope", params.scope ?? `repository:${this.image.repository}:pull`);
    const headers: Record<string, string> = { Accept: "application/json" };
    if (haveCredentials) headers.Authorization = basic(username, password);
    let response: Response;
    try {
      response = await this.fetchImpl(tokenUrl, {
        headers,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw this.networkError(err, tokenUrl.toString(), `a token for ${what}`);
    }
    if (!response.ok) {
      const detail = await errorDetail(response);
      throw new RegistryError(
        `registry ${this.image.registry}: token service ${tokenUrl.origin}${tokenUrl.pathname} answered ${response.status} ${response.statusText}${detail}${haveCredentials ? " (check the username and password)" : " (no credentials were given)"}`,
        this.image.registry,
        response.status,
      );
    }
    const body = (await response.json()) as { token?: unknown; access_token?: unknown };
    const token = typeof body.token === "string" ? body.token : body.access_token;
    if (typeof token !== "string" || token === "") {
      throw new RegistryError(
        `registry ${this.image.registry}: token service ${tokenUrl.origin}${tokenUrl.pathname} returned no token`,
        this.image.registry,
      );
    }
    return `Bearer ${token}`;
  }

  private async statusError(response: Response, what: string): Promise<RegistryError> {
    const detail = await errorDetail(response);
    let hint = "";
    if (response.status === 401) {
      hint =
        this.options.username !== undefined
          ? ": the credentials were refused"
          : ": the registry needs credentials and none were given";
    } else if (response.status === 403) {
      hint = ": the credentials are not allowed to pull this repository";
    } else if (response.status === 404) {
      hint = ": no such repository, tag or digest";
    }
    return new RegistryError(
      `registry ${this.image.registry} answered ${response.status} ${response.statusText} for ${what}${detail}${hint}`,
      this.image.registry,
      response.status,
    );
  }

  private networkError(err: unknown, url: string, what: string): RegistryError {
    const cause =
      err instanceof Error
        ? ((err.cause as Error | undefined)?.message ?? err.message)
        : String(err);
    return new RegistryError(
      `registry ${this.image.registry} could not be reached for ${what} (${url}): ${cause}`,
      this.image.registry,
    );
  }
}

function basic(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`;
}

/** The registry's JSON error codes (`MANIFEST_UNKNOWN: manifest unknown`), when it sent any. */
async function errorDetail(response: Response): Promise<string> {
  const text = await response.text().catch(() => "");
  try {
    const body = JSON.parse(text) as { errors?: { code?: string; message?: string }[] };
    const errors = (body.errors ?? []).map((e) => [e.code, e.message].filter(Boolean).join(": "));
    return errors.length > 0 ? ` (${errors.join("; ")})` : "";
  } catch {
    return "";
  }
}

function sha256(bytes: Uint8Array): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

/**
 * Reports which platforms an image has and whether `platform` is one of them. Never throws for a
 * mismatch (see `assertImagePlatform`); throws `RegistryError` for network, auth and 404 errors.
 */
export async function checkImagePlatform(
  reference: string,
  platform: string,
  options: ImagePlatformOptions = {},
): Promise<PlatformReport> {
  assertPlatform(platform);
  const image = parseImageReference(reference);
  const client = new RegistryClient(image, options);
  const ref = image.digest ?? (image.tag as string);
  const what = `manifest ${image.repository}${image.digest !== undefined ? "@" : ":"}${ref}`;

  const response = await client.get(`manifests/${ref}`, MANIFEST_ACCEPT, what);
  const bytes = new Uint8Array(await response.arrayBuffer());
  // Hash the bytes ourselves: the Docker-Content-Digest header is optional in the spec.
  const digest = sha256(bytes);
  if (image.digest !== undefined && image.digest.startsWith("sha256:") && image.digest !== digest) {
    throw new RegistryError(
      `registry ${image.registry} returned a manifest for ${image.repository}@${image.digest} whose content hashes to ${digest}`,
      image.registry,
    );
  }
  const content = interpretManifest(
    Buffer.from(bytes).toString("utf8"),
    response.headers.get("content-type") ?? undefined,
  );
  const common = { reference, image, wanted: platform, digest, mediaType: content.mediaType };

  if (content.kind === "index") {
    const platforms = content.entries
      .filter((e) => e.platform !== undefined)
      .map((e) => formatPlatform(e.platform as PlatformSpec));
    const match = content.entries.find(
      (e) => e.platform !== undefined && platformMatches(e.platform, platform),
    );
    return {
      ...common,
      kind: "index",
      matches: match !== undefined,
      platforms: [...new Set(platforms)].sort(),
      ...(match !== undefined ? { platformDigest: match.digest } : {}),
    };
  }

  const config = await client.get(
    `blobs/${content.configDigest}`,
    "application/json, */*",
    `config blob ${content.configDigest} of ${image.repository}`,
  );
  const found = platformFromConfig(await config.text());
  const matches = platformMatches(found, platform);
  return {
    ...common,
    kind: "manifest",
    matches,
    platforms: [formatPlatform(found)],
    ...(matches ? { platformDigest: digest } : {}),
  };
}

/**
 * `checkImagePlatform`, throwing `ImagePlatformError` (the ECS failure explained) when the image
 * lacks the platform, so `pulumi up` stops before ECS starts a restart loop.
 */
export async function assertImagePlatform(
  reference: string,
  platform: string,
  options: ImagePlatformOptions = {},
): Promise<PlatformReport> {
  const report = await checkImagePlatform(reference, platform, options);
  if (!report.matches) throw new ImagePlatformError(report);
  return report;
}

/** The plain-words explanation of ECS's `CannotPullContainerError` for a report without a match. */
export function explainPlatformMismatch(report: PlatformReport): string {
  const has = report.platforms.length > 0 ? report.platforms.join(", ") : "no runnable platform";
  // A switch of aura:platform is offered only to a platform the program can build every image
  // for: linux/arm64 would also need a prebuilt databases image, so it is never recommended.
  const others = BUILDABLE_PLATFORMS.filter(
    (p) => p !== report.wanted && report.platforms.some((f) => f === p || f.startsWith(`${p}/`)),
  );
  const buildHere = (BUILDABLE_PLATFORMS as readonly string[]).includes(report.wanted)
    ? `or let the program build it (leave aura:<container>.image unset; aura:platform = "${report.wanted}")`
    : `or let the program build the app images (leave aura:api-gateway.image and aura:service-desk-host.image unset; ` +
      `it cannot build the databases image for ${report.wanted}: MongoDB publishes no Debian packages for it)`;
  // `docker build -t` takes a tag, not a digest: show the tag the image was referenced by.
  const target =
    report.image.tag !== undefined
      ? report.reference.split("@")[0]
      : `${report.reference.split("@")[0]}:<tag>`;
  const builtOnArm =
    report.wanted === "linux/amd64" &&
    report.platforms.some((p) => p === "linux/arm64" || p.startsWith("linux/arm64/"));
  const lines = [
    `Image ${report.reference} has no ${report.wanted} variant (it has only: ${has}), so the ECS task would fail with ` +
      `"CannotPullContainerError: ... image Manifest does not contain descriptor matching platform '${report.wanted}'" ` +
      `and the service would keep replacing it.`,
    builtOnArm
      ? `The image was most likely built on an ARM machine (an Apple silicon laptop, a Graviton host) without --platform, so Docker built it for that machine's CPU; Fargate runs this task on ${report.wanted} (runtimePlatform ${CPU_ARCHITECTURES[report.wanted]}).`
      : `Fargate runs this task on ${report.wanted} (runtimePlatform ${CPU_ARCHITECTURES[report.wanted]}) and cannot run an image built for another CPU.`,
    `Fix: rebuild and push it for the task's platform, e.g. \`docker buildx build --platform ${report.wanted} -t ${target} --push .\`, ` +
      buildHere +
      (others.length > 0
        ? `; or, to run the image as it is, set aura:platform = "${others[0]}" (Fargate runtimePlatform ${CPU_ARCHITECTURES[others[0]]}).`
        : "."),
  ];
  return lines.join("\n");
}
