/**
 * The shape of a task's `dependsOn` graph: containers that wait for themselves, for containers the
 * task does not have, or for each other in a cycle. ECS can never start such a task (the agent
 * waits forever or fails it), so the policy pack rejects it before deploy and the local runner
 * refuses to start it. Pure; one source of truth for both.
 */

/** A container as far as ordering goes: its name and whom it waits for. */
export interface DependencyNode {
  readonly name: string;
  readonly dependsOn?: readonly { readonly containerName: string }[];
}

/** One thing wrong with the graph, with a message that names the containers. */
export type DependencyProblem =
  | { readonly kind: "self"; readonly container: string; readonly message: string }
  | {
      readonly kind: "missing";
      readonly container: string;
      readonly target: string;
      readonly message: string;
    }
  | { readonly kind: "cycle"; readonly cycle: readonly string[]; readonly message: string };

export function selfDependencyMessage(container: string): string {
  return `${container}.dependsOn names ${container} itself: a container cannot wait for itself, ECS would never start it; remove that entry`;
}

export function missingDependencyMessage(
  container: string,
  target: string,
  names: readonly string[],
): string {
  return `${container}.dependsOn names "${target}", which is not a container of the task: it must be one of ${names.join(", ")}`;
}

export function cycleMessage(cycle: readonly string[]): string {
  return `dependsOn has a cycle: ${cycle.join(" -> ")}: each of ${cycle
    .slice(0, -1)
    .join(", ")} waits for another, so ECS can never start them; remove one of these dependencies`;
}

/**
 * The cycles of the graph, one per strongly connected component of two or more containers (a
 * self-dependency is reported on its own), each as a path that starts and ends with the
 * component's first container in definition order. Edges to unknown containers are ignored.
 */
export function dependencyCycles(nodes: readonly DependencyNode[]): string[][] {
  const order = new Map(nodes.map((node, index) => [node.name, index]));
  const edges = new Map(
    nodes.map((node) => [
      node.name,
      (node.dependsOn ?? [])
        .map((dependency) => dependency.containerName)
        .filter((target) => order.has(target) && target !== node.name),
    ]),
  );
  // Tarjan's strongly connected components.
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const connect = (name: string): void => {
    index.set(name, counter);
    low.set(name, counter);
    counter += 1;
    stack.push(name);
    onStack.add(name);
    for (const next of edges.get(name) ?? []) {
      if (!index.has(next)) {
        connect(next);
        low.set(name, Math.min(low.get(name)!, low.get(next)!));
      } else if (onStack.has(next)) {
        low.set(name, Math.min(low.get(name)!, index.get(next)!));
      }
    }
    if (low.get(name) === index.get(name)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== name);
      if (component.length > 1) components.push(component);
    }
  };
  for (const node of nodes) if (!index.has(node.name)) connect(node.name);
  return components
    .map((component) => {
      const members = new Set(component);
      const start = [...component].sort((a, b) => order.get(a)! - order.get(b)!)[0];
      return [...pathWithin(start, start, members, edges)!];
    })
    .sort((a, b) => order.get(a[0])! - order.get(b[0])!);
}

/** A shortest path from `from` back to `to` through `members` (breadth first, so it is stable). */
function pathWithin(
  from: string,
  to: string,
  members: ReadonlySet<string>,
  edges: ReadonlyMap<string, readonly string[]>,
): string[] | undefined {
  const previous = new Map<string, string>();
  const queue = [from];
  while (queue.length > 0) {
    const name = queue.shift()!;
    for (const next of edges.get(name) ?? []) {
      if (!members.has(next)) continue;
      if (next === to) {
        const path = [to];
        for (let at: string | undefined = name; at !== undefined; at = previous.get(at)) {
          path.unshift(at);
          if (at === from) break;
        }
        return path;
      }
      if (previous.has(next) || next === from) continue;
      previous.set(next, name);
      queue.push(next);
    }
  }
  return undefined;
}

/** Every self-dependency, unknown target and cycle, in definition order. */
export function dependencyProblems(nodes: readonly DependencyNode[]): DependencyProblem[] {
  const names = nodes.map((node) => node.name);
  const problems: DependencyProblem[] = [];
  for (const node of nodes) {
    for (const { containerName } of node.dependsOn ?? []) {
      if (containerName === node.name) {
        problems.push({
          kind: "self",
          container: node.name,
          message: selfDependencyMessage(node.name),
        });
      } else if (!names.includes(containerName)) {
        problems.push({
          kind: "missing",
          container: node.name,
          target: containerName,
          message: missingDependencyMessage(node.name, containerName, names),
        });
      }
    }
  }
  for (const cycle of dependencyCycles(nodes)) {
    problems.push({ kind: "cycle", cycle, message: cycleMessage(cycle) });
  }
  return problems;
}
