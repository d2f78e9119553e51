import * as path from "path";
import * as aws from "@pulumi/aws";
import * as dockerBuild from "@pulumi/docker-build";
import * as pulumi from "@pulumi/pulumi";
import { ContainerConfig, Platform, StorageMode } from "../lib/config";
import { ContainerName } from "../lib/containers";
import { contextDigest } from "../lib/contextDigest";
import { HealthCheckPolicy, HealthCheckTimeline, healthCheckTimeline } from "../lib/healthCheck";
import { assertImagePlatform } from "../lib/imagePlatform";
import { PROJECT_DIR } from "../lib/stackFile";
import { ContainerDefinition, SecretRef, containerDefinition } from "../lib/taskDefinition";

/**
 * The build contexts, relative to the project directory. docker-build diffs `context.location`
 * as a string, so an absolute path would differ on every checkout (a laptop, CI) and rebuild
 * every image; Pulumi starts the program and its providers in the project directory, where the
 * provider resolves a relative location (docker-build's own examples use `./app` so).
 */
export const CONTAINERS_DIR = "containers";

/** How many images each repository keeps; older ones expire (the running one is always newer). */
export const IMAGES_KEPT = 20;

/** The tag that holds the registry build cache; it is the only tag ever overwritten. */
export const CACHE_TAG = "buildcache";

interface RegistryCredentials {
  readonly username: string;
  readonly password: string;
}

export interface AuraContainerArgs {
  /** The container's validated stack settings: health check, stop/start timeouts, prebuilt image. */
  readonly settings: ContainerConfig;
  /** Platform the image is built for; the task's cpuArchitecture follows it. */
  readonly platform: Platform;
  /** ECR repository to create and push to. Unused when `settings.image` names a prebuilt image. */
  readonly repositoryName: string;
  /** Build context, relative to the project directory. @default `containers/<container name>` */
  readonly context?: string;
  /** awslogs destination. */
  readonly logGroup: pulumi.Input<string>;
  readonly region: pulumi.Input<string>;
  /** Secrets to inject with `valueFrom`. @default none */
  readonly secrets?: pulumi.Input<SecretRef[]>;
  /**
   * With `managed` the apps wait for no `databases` container (there is none); the service adds
   * the engines' endpoints to the definition. @default "efs"
   */
  readonly storage?: StorageMode;
  /** The task's CPU units; the apps' worker processes follow it (lib/fargate.ts appWorkers). @default 1024 */
  readonly taskCpu?: number;
  /** Tags for the ECR repository. @default none */
  readonly tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

/** Each container's component type: a state identity, renamed only with `aliases`. */
export const CONTAINER_TYPES: Readonly<Record<ContainerName, string>> = {
  databases: "aura:containers:Databases",
  "api-gateway": "aura:containers:ApiGateway",
  "service-desk-host": "aura:containers:ServiceDeskHost",
};

/**
 * One container of the Aura task: its image (built for the stack's platform and pushed to its
 * own ECR repository, or a prebuilt reference), its health-check policy, and the ECS container
 * definition that runs the digest-pinned image.
 */
export class AuraContainer extends pulumi.ComponentResource {
  /** The image the task runs: digest-pinned when built here. */
  public readonly imageRef: pulumi.Output<string>;
  public readonly definition: pulumi.Output<ContainerDefinition>;
  public readonly healthCheck: HealthCheckPolicy;
  public readonly timeline: HealthCheckTimeline;
  public readonly repository?: aws.ecr.Repository;
  public readonly image?: dockerBuild.Image;

  constructor(
    public readonly containerName: ContainerName,
    name: string,
    args: AuraContainerArgs,
    opts?: pulumi.ComponentResourceOptions,
  ) {
    super(CONTAINER_TYPES[containerName], name, {}, opts);
    this.healthCheck = args.settings.healthCheck;
    this.timeline = healthCheckTimeline(this.healthCheck);

    if (args.settings.image !== undefined) {
      this.imageRef = this.verifyPlatform(
        pulumi.output(args.settings.image),
        args.platform,
        this.prebuiltCredentials(args.settings.image),
      );
    } else {
      this.repository = this.createRepository(name, args);
      const credentials = this.ecrCredentials(this.repository.registryId);
      this.image = this.buildImage(name, args, this.repository, credentials);
      this.imageRef = this.verifyPlatform(this.image.ref, args.platform, credentials);
    }

    this.definition = pulumi
      .all([this.imageRef, args.logGroup, args.region, args.secrets ?? []])
      .apply(([image, group, region, secrets]) =>
        containerDefinition(
          containerName,
          args.settings,
          image,
          { group, region },
          secrets,
          args.storage,
          // The managed engines' endpoints are added by the service (withDatabaseEndpoints).
          undefined,
          args.taskCpu,
        ),
      );

    this.registerOutputs({ imageRef: this.imageRef, definition: this.definition });
  }

  private createRepository(name: string, args: AuraContainerArgs): aws.ecr.Repository {
    const repository = new aws.ecr.Repository(
      `${name}-repository`,
      {
        name: args.repositoryName,
        // Images are rebuilt from this repository's sources, so `pulumi destroy` may delete a
        // repository that still holds images (ECR refuses otherwise: RepositoryNotEmptyException).
        forceDelete: true,
        imageScanningConfiguration: { scanOnPush: true },
        // Tags stay movable for the build cache; no deploy reads a tag: the task runs `ref`,
        // which is pinned to the digest that was pushed.
        imageTagMutability: "MUTABLE",
        encryptionConfigurations: [{ encryptionType: "AES256" }],
        tags: args.tags,
      },
      { parent: this },
    );
    new aws.ecr.LifecyclePolicy(
      `${name}-lifecycle`,
      {
        repository: repository.name,
        policy: JSON.stringify(lifecyclePolicy()),
      },
      { parent: this },
    );
    return repository;
  }

  private ecrCredentials(registryId: pulumi.Input<string>): pulumi.Output<RegistryCredentials> {
    const token = aws.ecr.getAuthorizationTokenOutput({ registryId }, { parent: this });
    return pulumi.secret(
      pulumi.all([token.userName, token.password]).apply(([username, password]) => ({
        username,
        password,
      })),
    );
  }

  /** ECR images need this account's token; any other registry is asked anonymously. */
  private prebuiltCredentials(image: string): pulumi.Output<RegistryCredentials | undefined> {
    const ecr = /^(\d{12})\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?\//.exec(image);
    return ecr === null ? pulumi.output(undefined) : this.ecrCredentials(ecr[1]);
  }

  /**
   * Asks the registry, before the task definition is registered, whether the image has the
   * task's platform; an ARM-only image fails `pulumi up` here with ECS's CannotPullContainerError
   * explained, instead of looping on ECS. Previews skip it: nothing has been pushed yet.
   */
  private verifyPlatform(
    ref: pulumi.Output<string>,
    platform: Platform,
    credentials: pulumi.Output<RegistryCredentials | undefined>,
  ): pulumi.Output<string> {
    const checked = pulumi
      .all([ref, credentials])
      .apply(async ([imageRef, registryCredentials]) => {
        if (!pulumi.runtime.isDryRun()) {
          await assertImagePlatform(imageRef, platform, registryCredentials ?? {});
        }
        return imageRef;
      });
    // The reference is public knowledge; only the credentials that checked it are secret.
    return pulumi.unsecret(checked);
  }

  private buildImage(
    name: string,
    args: AuraContainerArgs,
    repository: aws.ecr.Repository,
    credentials: pulumi.Output<RegistryCredentials>,
  ): dockerBuild.Image {
    const context = args.context ?? path.posix.join(CONTAINERS_DIR, this.containerName);
    const cacheRef = pulumi.interpolate`${repository.repositoryUrl}:${CACHE_TAG}`;
    // The tag names what was built: the context's content and the platform.
    const tag = pulumi.interpolate`${repository.repositoryUrl}:${contextDigest(path.resolve(PROJECT_DIR, context), args.platform)}`;
    return new dockerBuild.Image(
      `${name}-image`,
      {
        context: { location: context },
        platforms: [args.platform as dockerBuild.Platform],
        tags: [tag],
        // `push` is the same in a preview as in the update that follows it (docker-build diffs
        // it, so `!isDryRun()` showed three image updates in every preview). It is unknown only
        // while the tag is, on a brand-new stack's first preview: docker-build reads an unknown
        // input as its zero value (false) and so never refuses to push to unknown tags
        // (pulumi-docker-build#251). A preview never pushes anyway: the provider turns the
        // registry export's push off in previews, and with buildOnPreview false it does not
        // build at all.
        push: tag.apply(() => true),
        buildOnPreview: false,
        registries: [
          {
            address: repository.repositoryUrl,
            username: credentials.username,
            password: credentials.password,
          },
        ],
        cacheFrom: [{ registry: { ref: cacheRef } }],
        cacheTo: [
          { registry: { ref: cacheRef, imageManifest: true, ociMediaTypes: true, mode: "max" } },
        ],
      },
      { parent: this },
    );
  }
}

/** Keeps the newest images; the build cache, rewritten by every build, is always among them. */
export function lifecyclePolicy(): object {
  return {
    rules: [
      {
        rulePriority: 1,
        description: `Keep the ${IMAGES_KEPT} newest images`,
        selection: { tagStatus: "any", countType: "imageCountMoreThan", countNumber: IMAGES_KEPT },
        action: { type: "expire" },
      },
    ],
  };
}
