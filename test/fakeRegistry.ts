/**
 * ECR's registry API, faked for unit tests through `fetch` (ECR is cloud; the real-registry
 * tests of the same code run against Debian's docker-registry in `npm run test:registry`).
 * Serves Docker schema2 manifests and config blobs, and asks for ECR's Basic credentials.
 */
import * as crypto from "crypto";

const MANIFEST_TYPE = "application/vnd.docker.distribution.manifest.v2+json";

function sha256(text: string): string {
  return `sha256:${crypto.createHash("sha256").update(text).digest("hex")}`;
}

export class FakeRegistry {
  private readonly documents = new Map<string, { body: string; type: string }>();
  /** Every request: its URL and Authorization header. */
  readonly requests: { url: string; authorization: string | null }[] = [];

  constructor(private readonly credentials: { username: string; password: string }) {}

  /** Stores a single-platform image in `repository` (`host/name`); returns its digest ref. */
  publish(repository: string, platform: string): string {
    const [os, architecture] = platform.split("/");
    const config = JSON.stringify({ architecture, os, rootfs: { type: "layers", diff_ids: [] } });
    const configDigest = sha256(config);
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: MANIFEST_TYPE,
      config: {
        mediaType: "application/vnd.docker.container.image.v1+json",
        size: config.length,
        digest: configDigest,
      },
      layers: [],
    });
    const digest = sha256(manifest);
    const [host, ...path] = repository.split("/");
    const base = `https://${host}/v2/${path.join("/")}`;
    this.documents.set(`${base}/blobs/${configDigest}`, { body: config, type: "application/json" });
    this.documents.set(`${base}/manifests/${digest}`, { body: manifest, type: MANIFEST_TYPE });
    return `${repository}@${digest}`;
  }

  readonly fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = String(input instanceof Request ? input.url : input);
    const authorization = new Headers(init?.headers).get("authorization");
    this.requests.push({ url, authorization });
    const expected = `Basic ${Buffer.from(`${this.credentials.username}:${this.credentials.password}`).toString("base64")}`;
    if (authorization !== expected) {
      return Response.json(
        { errors: [{ code: "DENIED", message: "Not Authorized" }] },
        { status: 401, headers: { "www-authenticate": 'Basic realm="fake-ecr"' } },
      );
    }
    const document = this.documents.get(url);
    if (document === undefined) {
      return Response.json(
        { errors: [{ code: "MANIFEST_UNKNOWN", message: "manifest unknown" }] },
        { status: 404 },
      );
    }
    return new Response(document.body, { status: 200, headers: { "content-type": document.type } });
  };
}
