import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { CONTAINER_NAMES } from "../lib/containers";
import { ContainerSecrets, SECRET_VARIABLES, SecretRef } from "../lib/taskDefinition";

export interface CredentialsArgs {
  /** Secrets Manager secret name. */
  readonly secretName: pulumi.Input<string>;
  /** Days Secrets Manager keeps a deleted secret recoverable. @default 7 */
  readonly recoveryWindowInDays?: pulumi.Input<number>;
  readonly tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/** Every secret variable any container needs, once each. */
export const SECRET_KEYS = [...new Set(CONTAINER_NAMES.flatMap((name) => SECRET_VARIABLES[name]))];

/**
 * The databases' passwords: generated once, kept in one Secrets Manager secret as JSON, and
 * handed to containers only as `valueFrom` references, never as values.
 */
export class Credentials extends pulumi.ComponentResource {
  public readonly secret: aws.secretsmanager.Secret;
  /** What each container receives, by environment variable name. */
  public readonly containerSecrets: pulumi.Output<ContainerSecrets>;
  /** The generated values by variable name, for the managed engines' master passwords. */
  public readonly passwords: Readonly<Record<string, pulumi.Output<string>>>;

  constructor(name: string, args: CredentialsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("aura:secrets:Credentials", name, {}, opts);

    const passwords = SECRET_KEYS.map((key) => {
      const password = new random.RandomPassword(
        `${name}-${key.toLowerCase().replace(/_/g, "-")}`,
        // URL- and shell-safe: the apps put them in connection strings.
        { length: 32, special: false },
        { parent: this },
      );
      return [key, password.result] as const;
    });

    this.passwords = Object.fromEntries(passwords);

    this.secret = new aws.secretsmanager.Secret(
      `${name}-secret`,
      {
        name: args.secretName,
        description: "Aura database passwords (generated; read by the ECS execution role only)",
        recoveryWindowInDays: args.recoveryWindowInDays ?? 7,
        tags: args.tags,
      },
      { parent: this },
    );
    new aws.secretsmanager.SecretVersion(
      `${name}-secret-version`,
      {
        secretId: this.secret.id,
        secretString: pulumi
          .all(Object.fromEntries(passwords))
          .apply((values) => JSON.stringify(values)),
      },
      { parent: this },
    );

    this.containerSecrets = this.secret.arn.apply((arn) =>
      Object.fromEntries(
        CONTAINER_NAMES.map((container) => [
          container,
          SECRET_VARIABLES[container].map((key): SecretRef => ({
            name: key,
            valueFrom: `${arn}:${key}::`,
          })),
        ]),
      ),
    );

    this.registerOutputs({ secretArn: this.secret.arn });
  }
}
