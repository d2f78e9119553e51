import { strict as assert } from "assert";
import { restartDecision } from "../../local/restartPolicy";

/** The ECS agent's ShouldRestart (ecs-agent/api/container/restart/restart_tracker.go), case by case. */
describe("local runner: restart policy decisions", () => {
  const policy = { enabled: true as const, ignoredExitCodes: [0], restartAttemptPeriod: 60 };
  const crash = { exitCode: 137, taskStopping: false, ranForMs: 60_000 };
  const cases: [string, Parameters<typeof restartDecision>, ReturnType<typeof restartDecision>][] =
    [
      ["a crash after the attempt period restarts", [policy, crash], { restart: true }],
      [
        "a crash 1 ms short of the period does not",
        [policy, { ...crash, ranForMs: 59_999 }],
        { restart: false, reason: "attempt reset period has not elapsed" },
      ],
      [
        "an ignored exit code does not",
        [policy, { ...crash, exitCode: 0 }],
        { restart: false, reason: "exit code 0 should be ignored" },
      ],
      [
        "nothing restarts while the task is stopping",
        [policy, { ...crash, taskStopping: true }],
        { restart: false, reason: "container's desired status is stopped" },
      ],
      [
        "an exit without a code (the engine lost it) does not",
        [policy, { ...crash, exitCode: undefined }],
        { restart: false, reason: "exit code is nil" },
      ],
      [
        "a disabled policy does not",
        [{ enabled: false }, crash],
        { restart: false, reason: "restart policy is not enabled" },
      ],
      [
        "no policy does not",
        [undefined, crash],
        { restart: false, reason: "restart policy is not enabled" },
      ],
    ];
  for (const [name, args, expected] of cases) {
    it(name, () => assert.deepEqual(restartDecision(...args), expected));
  }
});
