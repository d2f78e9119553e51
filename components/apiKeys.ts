import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { API_KEYS_VARIABLE, SecretRef } from "../lib/taskDefinition";

export interface ApiKeysArgs {
  /** Secrets Manager secret name. */
  readonly secretName: pulumi.Input<string>;
  /**
   * How many keys are valid at once. Two or more let one key be replaced while clients move to
   * another, so a rotation never locks a client out. @default 2
   */
  readonly count?: number;
  /** Days Secrets Manager keeps a deleted secret recoverable. @default 7 */
  readonly recoveryWindowInDays?: pulumi.Input<number>;
  readonly tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/** Characters per key: 48 of [A-Za-z0-9] is about 285 bits. */
export const API_KEY_LENGTH = 48;
export const DEFAULT_API_KEY_COUNT = 2;

/**
 * The gateway's API keys: generated, kept in one Secrets Manager secret as the comma-separated
 * list the gateway reads from `AURA_API_KEYS`, and handed to the container only as a
 * `valueFrom` reference. Rotating a key: `pulumi up --replace <urn of one key>` (the others
 * stay valid); each key is also a secret stack output for the operators.
 */
export class ApiKeys extends pulumi.ComponentResource {
  public readonly secret: aws.secretsmanager.Secret;
  /** The keys, in order, as secret outputs. */
  public readonly keys: pulumi.Output<string>[];
  /** The gateway's `secrets` entry. */
  public readonly containerSecret: pulumi.Output<SecretRef>;

  constructor(name: string, args: ApiKeysArgs, opts?: pulumi.ComponentResourceOptions) {
    super("aura:secrets:ApiKeys", name, {}, opts);
    const count = args.count ?? DEFAULT_API_KEY_COUNT;
    if (!Number.isInteger(count) || count < 1 || count > 10) {
      throw new pulumi.ResourceError(
        `ApiKeys count = ${count} is out of range: 1-10 keys (2 or more to rotate without downtime)`,
        this,
      );
    }

    this.keys = Array.from({ length: count }, (_, index) => {
      const key = new random.RandomPassword(
        `${name}-key-${index + 1}`,
        // Letters and digits only: no comma (the separator) and safe in any header or shell.
        { length: API_KEY_LENGTH, special: false },
        { parent: this },
      );
      return pulumi.secret(key.result);
    });

    this.secret = new aws.secretsmanager.Secret(
      `${name}-secret`,
      {
        name: args.secretName,
        description: `Aura API keys for the gateway (${API_KEYS_VARIABLE}, comma-separated; generated; read by the ECS execution role only)`,
        recoveryWindowInDays: args.recoveryWindowInDays ?? 7,
        tags: args.tags,
      },
      { parent: this },
    );
    new aws.secretsmanager.SecretVersion(
      `${name}-secret-version`,
      {
        secretId: this.secret.id,
        secretString: pulumi.all(this.keys).apply((keys) => keys.join(",")),
      },
      { parent: this },
    );

    // The whole secret string: the gateway splits it on commas.
    this.containerSecret = this.secret.arn.apply((arn): SecretRef => ({
      name: API_KEYS_VARIABLE,
      valueFrom: arn,
    }));
    this.registerOutputs({ secretArn: this.secret.arn });
  }
}
