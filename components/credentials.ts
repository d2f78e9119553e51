import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { CONTAINER_NAMES } from "../lib/containers";
import {
  ContainerSecrets,
  DATABASE_SECRET_VARIABLES,
  SECRET_VARIABLES,
  SecretRef,
} from "../lib/taskDefinition";

export interface CredentialsArgs {
  /** Secrets Manager secret name. */
  readonly secretName: pulumi.Input<string>;
  /**
   * Days Secrets Manager keeps the secret recoverable once deleted (7-30, or 0 for at once).
   * Only a deletion through Pulumi uses it, which `retainOnDelete` rules out until someone
   * removes that option on purpose. @default 30 (RECOVERY_WINDOW_DAYS)
   */
  readonly recoveryWindowInDays?: pulumi.Input<number>;
  readonly tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/**
 * The longest window Secrets Manager allows. The secret holds the only copy of the passwords of
 * the databases on EFS, whose AWS Backup recovery points are kept 35 days: a restored file
 * system is useless without them, so a deleted secret stays recoverable as long as possible.
 * The cost, a name that cannot be reused for 30 days, does not arise: a stack created again
 * should adopt the retained secret (`pulumi import`), not make a new one.
 */
export const RECOVERY_WINDOW_DAYS = 30;

/**
 * The passwords and the secret that holds them outlive the stack: `protect` makes `pulumi
 * destroy` and any replacement stop with an error before anything is deleted (a new password
 * would lock the apps out of the databases on EFS, which keep the first one), and
 * `retainOnDelete` keeps the secret in AWS even after someone unprotects it and destroys.
 */
const KEPT: pulumi.CustomResourceOptions = { protect: true, retainOnDelete: true };

/** Every database password any container needs, once each (the API keys are components/apiKeys.ts'). */
export const SECRET_KEYS: readonly string[] = [...DATABASE_SECRET_VARIABLES];
const DATABASE_SECRETS = new Set(SECRET_KEYS);

/**
 * The databases' passwords: generated once, kept in one Secrets Manager secret as JSON, and
 * handed to containers only as `valueFrom` references, never as values.
 */
export class Credentials extends pulumi.ComponentResource {
  public readonly secret: aws.secretsmanager.Secret;
  /** The secret's value: the tasks cannot start before it exists. */
  public readonly secretVersion: aws.secretsmanager.SecretVersion;
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
        { parent: this, protect: true },
      );
      return [key, password.result] as const;
    });

    this.passwords = Object.fromEntries(passwords);

    this.secret = new aws.secretsmanager.Secret(
      `${name}-secret`,
      {
        name: args.secretName,
        description: "Aura database passwords (generated; read by the ECS execution role only)",
        recoveryWindowInDays: args.recoveryWindowInDays ?? RECOVERY_WINDOW_DAYS,
        tags: args.tags,
      },
      { parent: this, ...KEPT },
    );
    this.secretVersion = new aws.secretsmanager.SecretVersion(
      `${name}-secret-version`,
      {
        secretId: this.secret.id,
        secretString: pulumi
          .all(Object.fromEntries(passwords))
          .apply((values) => JSON.stringify(values)),
      },
      { parent: this, ...KEPT },
    );

    this.containerSecrets = this.secret.arn.apply((arn) =>
      Object.fromEntries(
        CONTAINER_NAMES.map((container) => [
          container,
          SECRET_VARIABLES[container]
            .filter((key) => DATABASE_SECRETS.has(key))
            .map((key): SecretRef => ({ name: key, valueFrom: `${arn}:${key}::` })),
        ]),
      ),
    );

    this.registerOutputs({ secretArn: this.secret.arn });
  }
}
