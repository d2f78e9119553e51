/**
 * What `npm run adopt` imports: the program's resources that the operators made by hand, named
 * and parented exactly as the program registers them, so that `pulumi import --file` puts each
 * at the URN the next `pulumi up` looks for, and that `up` updates it in place.
 */
import { CONTAINER_TYPES } from "../../components/auraContainer";
import { AuraConfig } from "../../lib/config";
import { CONTAINER_NAMES, ContainerName } from "../../lib/containers";
import { ResourceNames, resourceNames } from "../../lib/taskDefinition";

/** The program's own component types and names (index.ts, components/auraService.ts). */
export const SERVICE_COMPONENT = { type: "aura:service:AuraService", name: "aura" } as const;

/**
 * awsx's FargateService is a remote component: its `aws.ecs.Service` child is created in
 * awsx's provider, named after the component and parented to it (awsx/ecs/fargateService.ts:
 * `new aws.ecs.Service(name, {...}, { parent: this })`).
 */
export const FARGATE_SERVICE = {
  type: "awsx:ecs:FargateService",
  name: `${SERVICE_COMPONENT.name}-service`,
} as const;

/** One row of a Pulumi import file (`pulumi import --file`). */
export interface ImportSpec {
  readonly type: string;
  /** The row's name in the file, which other rows' `parent` refers to. */
  readonly name: string;
  /** The resource's Pulumi name, when the row's `name` had to differ from it. */
  readonly logicalName?: string;
  /** The provider's import ID (each resource's "Import" section in the Pulumi Registry). */
  readonly id?: string;
  readonly parent?: string;
  /** A component to create (empty) as a parent: it has no ID. */
  readonly component?: boolean;
  /** A component of another package (awsx), constructed by its provider. */
  readonly remote?: boolean;
  /** The provider version of a remote component. */
  readonly version?: string;
}

export interface ImportFile {
  /** Parents that already exist in the stack, by name; empty: every parent is a row. */
  readonly nameTable: Record<string, string>;
  readonly resources: ImportSpec[];
}

/** A hand-made resource the program also declares, and where it goes in the stack. */
export interface Twin {
  /** What it is, for the report: `ECR repository aura-databases`. */
  readonly label: string;
  readonly kind: "repository" | "logGroup" | "cluster" | "service";
  /** Its physical name (cluster/service for the service). */
  readonly physicalName: string;
  readonly spec: ImportSpec;
  /** The component rows it needs, outermost first. */
  readonly parents: ImportSpec[];
}

const serviceComponent: ImportSpec = { ...SERVICE_COMPONENT, component: true };

/** The twins of a stack, in the order the program registers them. */
export function twins(config: AuraConfig, awsxVersion: string): Twin[] {
  const names: ResourceNames = resourceNames(config.stack, config.repositoryPrefix);
  // A prebuilt image has no repository in the program: nothing to adopt for it.
  const built = CONTAINER_NAMES.filter((name) => config.containers[name].image === undefined);
  const repositories = built.map((container: ContainerName): Twin => {
    const component: ImportSpec = {
      type: CONTAINER_TYPES[container],
      name: `aura-${container}`,
      component: true,
    };
    return {
      label: `ECR repository ${names.repositories[container]}`,
      kind: "repository",
      physicalName: names.repositories[container],
      // ECR repository import ID: the repository name.
      spec: {
        type: "aws:ecr/repository:Repository",
        name: `aura-${container}-repository`,
        id: names.repositories[container],
        parent: component.name,
      },
      parents: [component],
    };
  });
  const fargateService: ImportSpec = {
    type: FARGATE_SERVICE.type,
    // The row's name must differ from the child's, which awsx names after the component.
    name: `${FARGATE_SERVICE.name}-component`,
    logicalName: FARGATE_SERVICE.name,
    parent: serviceComponent.name,
    component: true,
    remote: true,
    version: awsxVersion,
  };
  return [
    ...repositories,
    {
      label: `log group ${names.logGroup}`,
      kind: "logGroup",
      physicalName: names.logGroup,
      // CloudWatch log group import ID: the log group name.
      spec: {
        type: "aws:cloudwatch/logGroup:LogGroup",
        name: `${SERVICE_COMPONENT.name}-logs`,
        id: names.logGroup,
        parent: serviceComponent.name,
      },
      parents: [serviceComponent],
    },
    {
      label: `ECS cluster ${names.cluster}`,
      kind: "cluster",
      physicalName: names.cluster,
      // ECS cluster import ID: the cluster name.
      spec: {
        type: "aws:ecs/cluster:Cluster",
        name: `${SERVICE_COMPONENT.name}-cluster`,
        id: names.cluster,
        parent: serviceComponent.name,
      },
      parents: [serviceComponent],
    },
    {
      label: `ECS service ${names.service} in ${names.cluster}`,
      kind: "service",
      physicalName: `${names.cluster}/${names.service}`,
      // ECS service import ID: cluster-name/service-name.
      spec: {
        type: "aws:ecs/service:Service",
        name: FARGATE_SERVICE.name,
        id: `${names.cluster}/${names.service}`,
        parent: fargateService.name,
      },
      parents: [serviceComponent, fargateService],
    },
  ];
}

/** The import file for `adopted`: each twin once, after the components it needs (once each). */
export function importFile(adopted: readonly Twin[]): ImportFile {
  const rows: ImportSpec[] = [];
  const seen = new Set<string>();
  for (const twin of adopted) {
    for (const row of [...twin.parents, twin.spec]) {
      if (seen.has(row.name)) continue;
      seen.add(row.name);
      rows.push(row);
    }
  }
  return { nameTable: {}, resources: rows };
}

/**
 * The URN `pulumi import` gives a row: the parent rows' types joined with `$` before its own
 * (pulumi/pulumi pkg/cmd/pulumi/operations/import.go, parseImportFile), its Pulumi name last.
 */
export function urnOfRow(
  file: ImportFile,
  row: ImportSpec,
  stack: string,
  project = "aura",
): string {
  const types: string[] = [row.type];
  let parent = row.parent;
  while (parent !== undefined) {
    const found = file.resources.find((candidate) => candidate.name === parent);
    if (found === undefined) throw new Error(`row ${row.name} has no parent row ${parent}`);
    types.unshift(found.type);
    parent = found.parent;
  }
  return `urn:pulumi:${stack}::${project}::${types.join("$")}::${row.logicalName ?? row.name}`;
}
