/**
 * A minimal Docker token service (the `realm` of a `Bearer` challenge) for the token-auth test
 * registry: checks Basic credentials and returns an ES256 JWT that distribution's `auth: token`
 * verifies against the self-signed certificate in its `rootcertbundle` (sent as `x5c`).
 * Test-only: grants every action asked for to the one test user.
 */
import { X509Certificate, createPrivateKey, randomUUID, sign } from "node:crypto";
import { readFileSync } from "node:fs";
import * as http from "node:http";
import { AddressInfo } from "node:net";

export interface TokenServerOptions {
  readonly port: number;
  readonly keyFile: string;
  readonly certFile: string;
  readonly issuer: string;
  readonly username: string;
  readonly password: string;
}

export interface TokenRequest {
  readonly service: string | null;
  readonly scope: string | null;
  readonly authorized: boolean;
}

export interface TokenServer {
  /** Every token request seen, so tests can assert how often the client asked. */
  readonly requests: TokenRequest[];
  close(): Promise<void>;
}

const base64url = (data: Buffer | string) => Buffer.from(data).toString("base64url");

export async function startTokenServer(options: TokenServerOptions): Promise<TokenServer> {
  const key = createPrivateKey(readFileSync(options.keyFile));
  const cert = new X509Certificate(readFileSync(options.certFile));
  const expected = `Basic ${Buffer.from(`${options.username}:${options.password}`).toString("base64")}`;
  const requests: TokenRequest[] = [];

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const service = url.searchParams.get("service");
    const scope = url.searchParams.get("scope");
    const authorized = req.headers.authorization === expected;
    requests.push({ service, scope, authorized });
    if (url.pathname !== "/token" || !authorized) {
      res.writeHead(401, { "content-type": "application/json" });
      res.end(JSON.stringify({ details: "incorrect username or password" }));
      return;
    }
    // scope = repository:<name>:<action>[,<action>]; the name may contain '/', never ':'.
    const access = (scope ?? "")
      .split(" ")
      .filter((s) => s !== "")
      .map((s) => {
        const [type, name, actions] = s.split(":");
        return { type, name, actions: actions.split(",") };
      });
    const now = Math.floor(Date.now() / 1000);
    const header = { typ: "JWT", alg: "ES256", x5c: [cert.raw.toString("base64")] };
    const claims = {
      iss: options.issuer,
      sub: options.username,
      aud: service,
      exp: now + 300,
      nbf: now - 10,
      iat: now,
      jti: randomUUID(),
      access,
    };
    const signingInput = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
    // JWS wants the raw r||s signature, not Node's default DER encoding.
    const signature = sign("sha256", Buffer.from(signingInput), { key, dsaEncoding: "ieee-p1363" });
    const token = `${signingInput}.${base64url(signature)}`;
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ token, access_token: token, expires_in: 300 }));
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, "127.0.0.1", resolve);
  });
  if ((server.address() as AddressInfo).port !== options.port) throw new Error("token port moved");
  return {
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
