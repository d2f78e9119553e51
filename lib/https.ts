/**
 * HTTPS at the ALB: which certificate, which listeners, which URL. Pure: the stack config comes
 * in as strings, the listener arguments go out in `aws.lb.Listener`'s (and awsx's) shape.
 */

/** `aura:certificateArn`, `aura:domainName`, `aura:hostedZoneId`, validated. */
export interface HttpsConfig {
  /** An ACM certificate in the stack's region; unset: requested for `domainName`. */
  readonly certificateArn?: string;
  /** The name clients use; the URL's host. With `hostedZoneId`, its alias record is created. */
  readonly domainName?: string;
  /** The public Route 53 zone `domainName` lives in (its DNS validation records go there too). */
  readonly hostedZoneId?: string;
}

/**
 * The HTTPS listener's TLS policy: TLS 1.3 and 1.2 only, with forward-secret AEAD ciphers and
 * hybrid post-quantum key exchange. The ELB guide ("Security policies for your Application
 * Load Balancer", 2025-11) makes it the console's default and recommends it; the API's own
 * default, ELBSecurityPolicy-2016-08, still allows TLS 1.0.
 */
export const TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09";

/** What preview says whenever the ALB serves plain HTTP only. */
export const HTTP_ONLY_WARNING =
  "the ALB serves plain HTTP only: API keys and tickets cross the internet unencrypted; set aura:certificateArn (an ACM certificate in the stack's region), or aura:domainName with aura:hostedZoneId to have one requested and DNS-validated";

const ACM_ARN = /^arn:(aws[a-z-]*):acm:([a-z0-9-]+):(\d{12}):certificate\/([0-9a-f-]{36})$/;
// RFC 1035 host names: letters, digits and hyphens per label, 63 per label, 253 in all.
const DNS_NAME = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;
const ZONE_ID = /^Z[A-Z0-9]{1,31}$/;

/** The region of an ACM certificate ARN, or undefined when it is not one. */
export function acmCertificateRegion(arn: string): string | undefined {
  return ACM_ARN.exec(arn)?.[2];
}

/**
 * Every problem with the HTTPS keys, each naming the key, the value and what is allowed.
 * Empty strings mean unset.
 */
export function httpsProblems(raw: HttpsConfig, region: string | undefined): string[] {
  const problems: string[] = [];
  const { certificateArn, domainName, hostedZoneId } = raw;
  if (certificateArn !== undefined) {
    const certificateRegion = acmCertificateRegion(certificateArn);
    if (certificateRegion === undefined) {
      problems.push(
        `aura:certificateArn = ${JSON.stringify(certificateArn)} is not an ACM certificate ARN: expected arn:aws:acm:<region>:<account>:certificate/<id>`,
      );
    } else if (region !== undefined && region !== "" && certificateRegion !== region) {
      problems.push(
        `aura:certificateArn = ${JSON.stringify(certificateArn)} is a certificate in ${certificateRegion}: an ALB in ${region} can only use an ACM certificate from ${region}`,
      );
    }
  }
  if (domainName !== undefined && !DNS_NAME.test(domainName)) {
    problems.push(
      `aura:domainName = ${JSON.stringify(domainName)} is not a DNS name: expected lowercase labels such as aura.example.com (no scheme, port, path or wildcard)`,
    );
  }
  if (hostedZoneId !== undefined && !ZONE_ID.test(hostedZoneId)) {
    problems.push(
      `aura:hostedZoneId = ${JSON.stringify(hostedZoneId)} is not a Route 53 hosted zone ID: expected Z followed by uppercase letters and digits, e.g. Z0123456789ABCDEFGHIJ`,
    );
  }
  if (hostedZoneId !== undefined && domainName === undefined) {
    problems.push(
      `aura:hostedZoneId = ${JSON.stringify(hostedZoneId)} is set without aura:domainName: set the name to create in that zone, or unset aura:hostedZoneId`,
    );
  }
  if (domainName !== undefined && hostedZoneId === undefined && certificateArn === undefined) {
    problems.push(
      `aura:domainName = ${JSON.stringify(domainName)} needs aura:hostedZoneId (to request and DNS-validate its certificate and create its record) or aura:certificateArn (a certificate you manage, with DNS you point at the ALB yourself)`,
    );
  }
  return problems;
}

/** Whether `domainName` is the zone's apex or a name below it (zone names may end in a dot). */
export function isInZone(domainName: string, zoneName: string): boolean {
  const zone = zoneName.toLowerCase().replace(/\.$/, "");
  return domainName === zone || domainName.endsWith(`.${zone}`);
}

/**
 * Why aura:hostedZoneId cannot hold aura:domainName, or undefined when it can: the zone must be
 * public (ACM validates through public DNS, and the ALB is internet-facing) and contain the name.
 */
export function zoneProblem(
  domainName: string,
  hostedZoneId: string,
  zone: { readonly name: string; readonly privateZone?: boolean },
): string | undefined {
  const zoneName = zone.name.replace(/\.$/, "");
  if (zone.privateZone) {
    return `aura:hostedZoneId = ${JSON.stringify(hostedZoneId)} is the private zone ${zoneName}: the ALB is internet-facing and ACM validates certificates through public DNS; use the public zone of ${domainName}`;
  }
  if (!isInZone(domainName, zoneName)) {
    return `aura:domainName = ${JSON.stringify(domainName)} is outside the hosted zone ${zoneName} (aura:hostedZoneId = ${hostedZoneId}): use ${zoneName} or a name ending in .${zoneName}, or set aura:hostedZoneId to the zone that holds ${domainName}`;
  }
  return undefined;
}

/** A listener in `aws.lb.Listener`'s shape (what awsx's `listeners` takes); `C` is the ARN's type. */
export interface ListenerSpec<C = string> {
  port: number;
  protocol: "HTTP" | "HTTPS";
  sslPolicy?: string;
  certificateArn?: C;
  defaultActions?: {
    type: "redirect";
    redirect: { protocol: "HTTPS"; port: "443"; statusCode: "HTTP_301" };
  }[];
}

/**
 * With a certificate: HTTP on 80 answers every request with a permanent redirect to the same
 * host, path and query on HTTPS 443, which forwards to the gateway. Port 80 comes first so that
 * the listener a stack already has (awsx names them by position) stays the port-80 one.
 * Without: HTTP on 80 forwards (awsx adds the forward action when none is given).
 */
export function listenerSpecs<C>(certificateArn: C | undefined): ListenerSpec<C>[] {
  if (certificateArn === undefined) return [{ port: 80, protocol: "HTTP" }];
  return [
    {
      port: 80,
      protocol: "HTTP",
      defaultActions: [
        { type: "redirect", redirect: { protocol: "HTTPS", port: "443", statusCode: "HTTP_301" } },
      ],
    },
    { port: 443, protocol: "HTTPS", sslPolicy: TLS_POLICY, certificateArn },
  ];
}

/** The public URL: https on the domain name (else the ALB's name) with a certificate, else http. */
export function publicUrl(https: boolean, albDnsName: string, domainName?: string): string {
  return https ? `https://${domainName ?? albDnsName}` : `http://${albDnsName}`;
}
