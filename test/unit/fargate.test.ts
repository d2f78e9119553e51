import { strict as assert } from "assert";
import { fargateMemoryOptions, validateFargateSize } from "../../lib/fargate";

describe("Fargate sizes", () => {
  const accepted: [number, number][] = [
    [256, 512],
    [256, 2048],
    [512, 1024],
    [512, 4096],
    [1024, 3072],
    [1024, 8192],
    [2048, 16384],
    [4096, 30720],
    [8192, 20480],
    [16384, 122880],
  ];
  for (const [cpu, memory] of accepted) {
    it(`accepts cpu ${cpu} with memory ${memory}`, () => {
      assert.deepEqual(validateFargateSize(cpu, memory), []);
    });
  }

  const rejected: [number, number, string][] = [
    [
      256,
      1536,
      "aura:memory = 1536 does not fit aura:cpu = 256: Fargate allows 512, 1024, 2048 MiB with that cpu",
    ],
    [
      512,
      512,
      "aura:memory = 512 does not fit aura:cpu = 512: Fargate allows 1024-4096 in steps of 1024 MiB with that cpu",
    ],
    [
      1024,
      1024,
      "aura:memory = 1024 does not fit aura:cpu = 1024: Fargate allows 2048-8192 in steps of 1024 MiB with that cpu",
    ],
    [
      8192,
      18432,
      "aura:memory = 18432 does not fit aura:cpu = 8192: Fargate allows 16384-61440 in steps of 4096 MiB with that cpu",
    ],
    [
      16384,
      36864,
      "aura:memory = 36864 does not fit aura:cpu = 16384: Fargate allows 32768-122880 in steps of 8192 MiB with that cpu",
    ],
    [
      1000,
      2048,
      "aura:cpu = 1000 is not a Fargate task size: allowed cpu values are 256, 512, 1024, 2048, 4096, 8192, 16384",
    ],
  ];
  for (const [cpu, memory, message] of rejected) {
    it(`rejects cpu ${cpu} with memory ${memory}`, () => {
      assert.deepEqual(validateFargateSize(cpu, memory), [message]);
    });
  }

  it("lists every memory value of a stepped row", () => {
    assert.deepEqual(fargateMemoryOptions(512), [1024, 2048, 3072, 4096]);
    assert.equal(fargateMemoryOptions(4096).length, 23);
    assert.deepEqual(fargateMemoryOptions(3), []);
  });
});
