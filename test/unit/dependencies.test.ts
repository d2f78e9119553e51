import { strict as assert } from "assert";
import { dependencyCycles, dependencyProblems } from "../../lib/dependencies";

const node = (name: string, ...targets: string[]) => ({
  name,
  dependsOn: targets.map((containerName) => ({ containerName })),
});

describe("lib/dependencies: the dependsOn graph's shape", () => {
  it("finds no problem in the dev task's graph", () => {
    const dev = [
      node("databases"),
      node("api-gateway", "databases"),
      node("service-desk-host", "databases"),
    ];
    assert.deepEqual(dependencyProblems(dev), []);
  });

  it("reports each cycle once, from its first container in definition order", () => {
    const graph = [
      node("a", "b"),
      node("b", "c"),
      node("c", "a"),
      node("d", "e"),
      node("e", "d"),
      node("f", "a"),
    ];
    assert.deepEqual(dependencyCycles(graph), [
      ["a", "b", "c", "a"],
      ["d", "e", "d"],
    ]);
  });

  it("takes the shortest way round a component with several loops", () => {
    assert.deepEqual(dependencyCycles([node("a", "b", "c"), node("b", "c"), node("c", "a")]), [
      ["a", "c", "a"],
    ]);
  });

  it("reports a self-dependency and an unknown target by name, not as cycles", () => {
    assert.deepEqual(
      dependencyProblems([node("a", "a"), node("b", "ghost")]).map((p) => [p.kind, p.message]),
      [
        [
          "self",
          "a.dependsOn names a itself: a container cannot wait for itself, ECS would never start it; remove that entry",
        ],
        [
          "missing",
          'b.dependsOn names "ghost", which is not a container of the task: it must be one of a, b',
        ],
      ],
    );
  });
});
