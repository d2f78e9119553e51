import { strict as assert } from "assert";
import { ConfigError, parseAuraConfig } from "../../lib/config";
import { appWorkers } from "../../lib/fargate";
import {
  HTTP_ONLY_WARNING,
  TLS_POLICY,
  acmCertificateRegion,
  httpsProblems,
  isInZone,
  listenerSpecs,
  publicUrl,
  zoneProblem,
} from "../../lib/https";
import { loadModel, validateShape } from "../awsModel";
import { ACCOUNT, ProgramRun, runProgram } from "../mocks";

const CERTIFICATE = `arn:aws:acm:us-east-2:${ACCOUNT}:certificate/12345678-90ab-cdef-1234-567890abcdef`;
const ALB_DNS = "aura-alb-123.us-east-2.elb.amazonaws.com";
const ZONE = "Z0123456789ABCDEFGHIJ";
const REDIRECT = {
  port: 80,
  protocol: "HTTP",
  defaultActions: [
    { type: "redirect", redirect: { protocol: "HTTPS", port: "443", statusCode: "HTTP_301" } },
  ],
};

describe("HTTPS settings (lib/https.ts)", () => {
  it("reads the region of an ACM certificate ARN and nothing else", () => {
    assert.equal(acmCertificateRegion(CERTIFICATE), "us-east-2");
    assert.equal(
      acmCertificateRegion(
        `arn:aws-us-gov:acm:us-gov-west-1:${ACCOUNT}:certificate/${"a".repeat(36)}`,
      ),
      "us-gov-west-1",
    );
    for (const notAcm of [
      `arn:aws:iam::${ACCOUNT}:server-certificate/aura`,
      `arn:aws:acm:us-east-2:${ACCOUNT}:certificate/`,
      "12345678-90ab-cdef-1234-567890abcdef",
    ]) {
      assert.equal(acmCertificateRegion(notAcm), undefined, notAcm);
    }
  });

  const cases: [string, Parameters<typeof httpsProblems>[0], string[]][] = [
    ["nothing set: plain HTTP, no problem", {}, []],
    ["a certificate of the stack's region", { certificateArn: CERTIFICATE }, []],
    ["a domain in a zone", { domainName: "aura.example.com", hostedZoneId: ZONE }, []],
    [
      "a domain with a certificate and no zone",
      { domainName: "aura.example.com", certificateArn: CERTIFICATE },
      [],
    ],
    [
      "not an ACM ARN",
      { certificateArn: `arn:aws:iam::${ACCOUNT}:server-certificate/aura` },
      [
        `aura:certificateArn = "arn:aws:iam::${ACCOUNT}:server-certificate/aura" is not an ACM certificate ARN: expected arn:aws:acm:<region>:<account>:certificate/<id>`,
      ],
    ],
    [
      "a certificate from another region",
      { certificateArn: CERTIFICATE.replace("us-east-2", "us-east-1") },
      [
        `aura:certificateArn = "${CERTIFICATE.replace("us-east-2", "us-east-1")}" is a certificate in us-east-1: an ALB in us-east-2 can only use an ACM certificate from us-east-2`,
      ],
    ],
    [
      "a URL instead of a name",
      { domainName: "https://aura.example.com", hostedZoneId: ZONE },
      [
        'aura:domainName = "https://aura.example.com" is not a DNS name: expected lowercase labels such as aura.example.com (no scheme, port, path or wildcard)',
      ],
    ],
    [
      "a zone ID that is not one",
      { domainName: "aura.example.com", hostedZoneId: "example.com" },
      [
        'aura:hostedZoneId = "example.com" is not a Route 53 hosted zone ID: expected Z followed by uppercase letters and digits, e.g. Z0123456789ABCDEFGHIJ',
      ],
    ],
    [
      "a zone without a domain",
      { hostedZoneId: ZONE },
      [
        `aura:hostedZoneId = "${ZONE}" is set without aura:domainName: set the name to create in that zone, or unset aura:hostedZoneId`,
      ],
    ],
    [
      "a domain with neither zone nor certificate",
      { domainName: "aura.example.com" },
      [
        'aura:domainName = "aura.example.com" needs aura:hostedZoneId (to request and DNS-validate its certificate and create its record) or aura:certificateArn (a certificate you manage, with DNS you point at the ALB yourself)',
      ],
    ],
  ];
  for (const [what, https, expected] of cases) {
    it(`judges ${what}`, () => {
      assert.deepEqual(httpsProblems(https, "us-east-2"), expected);
    });
  }

  it("knows which names a zone holds (its apex and below, trailing dot or not)", () => {
    assert.equal(isInZone("example.com", "example.com."), true);
    assert.equal(isInZone("aura.example.com", "example.com"), true);
    assert.equal(isInZone("a.b.example.com", "Example.com."), true);
    assert.equal(isInZone("badexample.com", "example.com"), false);
    assert.equal(isInZone("example.com.evil.org", "example.com"), false);
  });

  it("refuses a domain outside the zone and a private zone, naming the key", () => {
    assert.equal(
      zoneProblem("aura.example.com", ZONE, { name: "example.com.", privateZone: false }),
      undefined,
    );
    assert.equal(
      zoneProblem("aura.other.org", ZONE, { name: "example.com.", privateZone: false }),
      `aura:domainName = "aura.other.org" is outside the hosted zone example.com (aura:hostedZoneId = ${ZONE}): use example.com or a name ending in .example.com, or set aura:hostedZoneId to the zone that holds aura.other.org`,
    );
    assert.equal(
      zoneProblem("aura.internal.example", ZONE, { name: "internal.example.", privateZone: true }),
      `aura:hostedZoneId = "${ZONE}" is the private zone internal.example: the ALB is internet-facing and ACM validates certificates through public DNS; use the public zone of aura.internal.example`,
    );
  });

  it("listens on HTTP 80 only without a certificate; with one, 80 redirects (301) and 443 serves HTTPS", () => {
    assert.deepEqual(listenerSpecs(undefined), [{ port: 80, protocol: "HTTP" }]);
    assert.deepEqual(listenerSpecs(CERTIFICATE), [
      REDIRECT,
      { port: 443, protocol: "HTTPS", sslPolicy: TLS_POLICY, certificateArn: CERTIFICATE },
    ]);
    assert.equal(TLS_POLICY, "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09");
  });

  it("builds listeners CreateListener accepts (ELBv2 API model)", () => {
    const model = loadModel("aws-elbv2-2015-12-01.service-2.json");
    assert.equal(model.operations.CreateListener.input?.shape, "CreateListenerInput");
    const [http, https] = listenerSpecs(CERTIFICATE);
    const request = (spec: typeof http) => ({
      LoadBalancerArn: `arn:aws:elasticloadbalancing:us-east-2:${ACCOUNT}:loadbalancer/app/aura/1`,
      Protocol: spec.protocol,
      Port: spec.port,
      ...(spec.sslPolicy ? { SslPolicy: spec.sslPolicy } : {}),
      ...(spec.certificateArn ? { Certificates: [{ CertificateArn: spec.certificateArn }] } : {}),
      DefaultActions: (spec.defaultActions ?? []).map((action) => ({
        Type: action.type,
        RedirectConfig: {
          Protocol: action.redirect.protocol,
          Port: action.redirect.port,
          StatusCode: action.redirect.statusCode,
        },
      })),
    });
    assert.deepEqual(validateShape(model, "CreateListenerInput", request(http)), []);
    assert.deepEqual(validateShape(model, "CreateListenerInput", request(https)), []);
  });

  it("puts the scheme and host in the URL", () => {
    assert.equal(publicUrl(false, ALB_DNS), `http://${ALB_DNS}`);
    assert.equal(publicUrl(true, ALB_DNS), `https://${ALB_DNS}`);
    assert.equal(publicUrl(true, ALB_DNS, "aura.example.com"), "https://aura.example.com");
  });

  it("refuses bad HTTPS keys at config time, with every other problem", () => {
    assert.throws(
      () =>
        parseAuraConfig(
          {
            "aws:region": "us-east-2",
            "aura:assignPublicIp": "true",
            "aura:certificateArn": CERTIFICATE.replace("us-east-2", "eu-west-1"),
            "aura:hostedZoneId": ZONE,
          },
          "dev",
        ),
      (error: ConfigError) =>
        error.problems.length === 2 &&
        error.problems[0].startsWith("aura:certificateArn = ") &&
        error.problems[0].includes("is a certificate in eu-west-1") &&
        error.problems[1].startsWith(
          `aura:hostedZoneId = "${ZONE}" is set without aura:domainName`,
        ),
    );
    const config = parseAuraConfig(
      {
        "aws:region": "us-east-2",
        "aura:assignPublicIp": "true",
        "aura:domainName": " aura.example.com ",
        "aura:hostedZoneId": ZONE,
      },
      "dev",
    );
    assert.deepEqual(config.https, {
      certificateArn: undefined,
      domainName: "aura.example.com",
      hostedZoneId: ZONE,
    });
  });
});

describe("app workers (lib/fargate.ts appWorkers)", () => {
  for (const [cpu, workers] of [
    [256, 1],
    [512, 1],
    [1024, 1],
    [2048, 2],
    [4096, 4],
    [8192, 8],
    [16384, 16],
  ]) {
    it(`gives a task of ${cpu} CPU units ${workers} worker(s) per app`, () => {
      assert.equal(appWorkers(cpu), workers);
    });
  }
});

describe("HTTPS under mocks", function () {
  this.timeout(30000);
  const rules = (run: ProgramRun, port: number) =>
    run
      .all("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
      .filter((rule) => rule.inputs.fromPort === port)
      .map((rule) => rule.name);

  describe("without a certificate (dev)", () => {
    let run: ProgramRun;
    before(async () => {
      run = await runProgram();
    });

    it("serves HTTP only, warns at every preview, and opens no 443", () => {
      assert.ok(run.warnings.includes(HTTP_ONLY_WARNING), run.warnings.join("\n"));
      const alb = run.one("awsx:lb:ApplicationLoadBalancer").inputs;
      assert.deepEqual([alb.listener, alb.listeners], [{ port: 80, protocol: "HTTP" }, undefined]);
      assert.deepEqual(rules(run, 443), []);
      assert.deepEqual(run.all("aws:acm/certificate:Certificate"), []);
      assert.deepEqual(run.all("aws:route53/record:Record"), []);
      assert.equal(run.outputs.url, `http://${ALB_DNS}`);
    });
  });

  describe("with aura:certificateArn", () => {
    let run: ProgramRun;
    before(async () => {
      run = await runProgram({ overrides: { "aura:certificateArn": CERTIFICATE } });
    });

    it("listens on 443 with the certificate and the TLS 1.3/1.2 policy, and redirects 80 to it", () => {
      const alb = run.one("awsx:lb:ApplicationLoadBalancer").inputs;
      assert.equal(alb.listener, undefined);
      assert.deepEqual(alb.listeners, [
        REDIRECT,
        { port: 443, protocol: "HTTPS", sslPolicy: TLS_POLICY, certificateArn: CERTIFICATE },
      ]);
      assert.ok(!run.warnings.includes(HTTP_ONLY_WARNING));
    });

    it("opens 443 and 80 from anywhere (v4 and v6) on the ALB's group only", () => {
      assert.deepEqual(rules(run, 443), ["aura-alb-https-ipv4", "aura-alb-https-ipv6"]);
      assert.deepEqual(rules(run, 80), ["aura-alb-http-ipv4", "aura-alb-http-ipv6"]);
      for (const name of rules(run, 443)) {
        const rule = run.one(
          "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
          name,
        ).inputs;
        assert.deepEqual(
          [rule.securityGroupId, rule.ipProtocol, rule.toPort, rule.cidrIpv4 ?? rule.cidrIpv6],
          ["aura-alb-sg-id", "tcp", 443, name.endsWith("ipv4") ? "0.0.0.0/0" : "::/0"],
        );
      }
    });

    it("requests no certificate and creates no record, and its URL is https on the ALB's name", () => {
      assert.deepEqual(run.all("aws:acm/certificate:Certificate"), []);
      assert.deepEqual(run.all("aws:route53/record:Record"), []);
      assert.equal(run.outputs.url, `https://${ALB_DNS}`);
    });
  });

  describe("with aura:domainName and aura:hostedZoneId", () => {
    let run: ProgramRun;
    before(async () => {
      run = await runProgram({
        overrides: { "aura:domainName": "aura.example.com", "aura:hostedZoneId": ZONE },
      });
    });

    it("requests a DNS-validated ACM certificate that RequestCertificate accepts", () => {
      const certificate = run.one("aws:acm/certificate:Certificate").inputs;
      assert.deepEqual(
        [certificate.domainName, certificate.validationMethod, certificate.tags],
        ["aura.example.com", "DNS", { project: "aura", stack: "dev" }],
      );
      const model = loadModel("aws-acm-2015-12-08.service-2.json");
      assert.equal(model.operations.RequestCertificate.input?.shape, "RequestCertificateRequest");
      assert.deepEqual(
        validateShape(model, "RequestCertificateRequest", {
          DomainName: certificate.domainName,
          ValidationMethod: certificate.validationMethod,
          Tags: Object.entries(certificate.tags).map(([Key, Value]) => ({ Key, Value })),
        }),
        [],
      );
    });

    it("writes ACM's validation CNAME into the zone and waits for the certificate before listening", () => {
      const record = run.one("aws:route53/record:Record", "aura-certificate-validation").inputs;
      assert.deepEqual(record, {
        zoneId: ZONE,
        name: "_3f2a.aura.example.com.",
        type: "CNAME",
        records: ["_9c1d.acm-validations.aws."],
        ttl: 300,
        allowOverwrite: true,
      });
      const validation = run.one("aws:acm/certificateValidation:CertificateValidation").inputs;
      const arn = `arn:aws:acm:us-east-2:${ACCOUNT}:certificate/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d`;
      assert.deepEqual(validation, {
        certificateArn: arn,
        validationRecordFqdns: ["_3f2a.aura.example.com"],
      });
      const alb = run.one("awsx:lb:ApplicationLoadBalancer").inputs;
      assert.deepEqual(alb.listeners, [
        REDIRECT,
        { port: 443, protocol: "HTTPS", sslPolicy: TLS_POLICY, certificateArn: arn },
      ]);
    });

    it("points the name at the ALB with an alias record, and the URL is https on the name", () => {
      assert.deepEqual(run.one("aws:route53/record:Record", "aura-alias").inputs, {
        zoneId: ZONE,
        name: "aura.example.com",
        type: "A",
        aliases: [{ name: ALB_DNS, zoneId: "Z3AADJGX6KTTL2", evaluateTargetHealth: true }],
      });
      assert.equal(run.outputs.url, "https://aura.example.com");
    });
  });
});
