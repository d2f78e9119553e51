/**
 * The Aura policy pack: `pulumi preview --stack dev --policy-pack policy` from the repository
 * root. The policies live in ./policies so tests can call them without starting this server.
 */
import { PolicyPack } from "@pulumi/policy";
import { auraPolicies } from "./policies";

new PolicyPack("aura", {
  description:
    "Guardrails against the Aura ECS restart loop: health checks, dependencies, image tools and platforms, digests, circuit breaker, secrets and Fargate sizes.",
  // Every rule guards against a failure that ends in a task restart loop, so none is advisory.
  enforcementLevel: "mandatory",
  policies: [...auraPolicies],
});
