/**
 * aura-probe, the probe with memory every default health check runs, inside each real image and
 * its running container (the apps as uid 10000 on a read-only root with /tmp writable): failures
 * before the first pass answered at once, after a pass answered "degraded" until the window, a
 * hanging check killed inside the probe's own timeout. Windows of seconds keep it fast; the task
 * uses the real numbers (lib/healthCheck.ts).
 */
import assert from "node:assert/strict";
import { CONTAINER_NAMES } from "../../lib/containers";
import { PROBE_WITH_MEMORY } from "../../lib/healthCheck";
import { CONTAINERS, dockerResult, logs, sleep } from "./harness";

interface Answer {
  readonly status: number | null;
  readonly stdout: string;
  readonly ms: number;
}

/** The programs running in `container`, one command line each. */
function processes(container: string): string[] {
  const result = dockerResult(
    "exec",
    container,
    "python3",
    "-c",
    "import os\nfor p in os.listdir('/proc'):\n  try: print(open(f'/proc/{p}/cmdline','rb').read().replace(b'\\0', b' ').decode().strip())\n  except OSError: pass",
  );
  return result.stdout.split("\n");
}

for (const name of CONTAINER_NAMES) {
  describe(`aura-probe in ${name}`, () => {
    const container = CONTAINERS[name];
    let files = 0;
    /** A fresh state file per test, so each starts with no memory. */
    const freshState = () => `/tmp/aura-probe-test-${process.pid}-${++files}.json`;

    function probe(state: string, window: number, timeout: number, ...check: string[]): Answer {
      const started = Date.now();
      const result = dockerResult(
        "exec",
        container,
        PROBE_WITH_MEMORY,
        "--window",
        String(window),
        "--timeout",
        String(timeout),
        "--state",
        state,
        "--",
        ...check,
      );
      return { status: result.status, stdout: result.stdout.trim(), ms: Date.now() - started };
    }
    const up = ["/bin/sh", "-c", "echo up"];
    const down = ["/bin/sh", "-c", "echo down; exit 1"];

    it("before any pass, answers a failure at once with exit 1 (the start period covers a boot)", () => {
      const answer = probe(freshState(), 60, 5, ...down);
      assert.deepEqual(
        [answer.status, answer.stdout],
        [
          1,
          "unhealthy: the check failed (exit 1) and has not passed since the container started: down",
        ],
      );
      assert.ok(answer.ms < 3000, `took ${answer.ms} ms`);
    });

    it('after a pass, answers failures "healthy, degraded for N s" until the window, then exit 1; a pass resets it', async function () {
      this.timeout(30_000);
      const state = freshState();
      assert.deepEqual(
        [probe(state, 3, 5, ...up).status, probe(state, 3, 5, ...up).stdout],
        [0, "healthy: up"],
      );
      const firstFailure = Date.now();
      const first = probe(state, 3, 5, ...down);
      assert.deepEqual(
        [first.status, first.stdout],
        [0, "healthy, degraded for 0 s (of 3 s): the check failed (exit 1): down"],
      );
      await sleep(1500 - (Date.now() - firstFailure));
      const second = probe(state, 3, 5, ...down);
      assert.equal(second.status, 0);
      // 1.5 s after the first failure, give or take docker exec's own start (under a second here).
      assert.match(
        second.stdout,
        /^healthy, degraded for [12] s \(of 3 s\): the check failed \(exit 1\): down$/,
      );
      await sleep(3500 - (Date.now() - firstFailure));
      const over = probe(state, 3, 5, ...down);
      assert.equal(over.status, 1);
      assert.match(
        over.stdout,
        /^unhealthy: the check has failed for [34] s, longer than the 3 s window: failed \(exit 1\): down$/,
      );
      assert.equal(probe(state, 3, 5, ...down).status, 1);
      // Back to a pass: memory of the failures is gone, the next failure is degraded again.
      assert.deepEqual([probe(state, 3, 5, ...up).status], [0]);
      assert.deepEqual(
        [probe(state, 3, 5, ...down).status, probe(state, 3, 5, ...up).status],
        [0, 0],
      );
      // Docker shows a degraded probe as healthy: the transitions are in the container's log.
      const log = logs(container);
      assert.match(
        log,
        /aura-probe: degraded: the check failed \(exit 1\); answering healthy for up to 3 s: down/,
      );
      assert.match(
        log,
        /aura-probe: unhealthy: the check has failed for [34] s, the whole 3 s window: down/,
      );
      assert.match(log, /aura-probe: recovered: the check passes again after [3-9] s/);
    });

    it("kills a hanging check (its whole process group) inside its own timeout, and counts it", async function () {
      this.timeout(30_000);
      const state = freshState();
      const hang = ["/bin/sh", "-c", "sleep 31 & sleep 32"];
      const before = probe(state, 60, 2, ...hang);
      assert.deepEqual(
        [before.status, before.stdout],
        [
          1,
          "unhealthy: the check hung and has not passed since the container started: [killed after 2 s]",
        ],
      );
      // The probe's 2 s plus docker exec; ECS's timeout (15 or 20 s) is far off.
      assert.ok(before.ms >= 2000 && before.ms < 5000, `took ${before.ms} ms`);
      assert.equal(probe(state, 60, 2, ...up).status, 0);
      const after = probe(state, 60, 2, ...hang);
      assert.deepEqual(
        [after.status, after.stdout],
        [0, "healthy, degraded for 0 s (of 60 s): the check hung: [killed after 2 s]"],
      );
      const left = processes(container).filter((line) => /^sleep 3[12]$/.test(line));
      assert.deepEqual(left, []);
    });

    it("ignores memory from an earlier run of the container (a restart starts without it)", () => {
      const state = freshState();
      const earlier = JSON.stringify({
        run: "another-boot/12345",
        passed: true,
        failingSince: null,
        gaveUp: false,
      });
      dockerResult("exec", container, "python3", "-c", `open('${state}', 'w').write('${earlier}')`);
      assert.equal(probe(state, 60, 5, ...down).status, 1);
    });

    it("without writable state, says so and answers as the check did (less tolerant, never wrongly healthy)", () => {
      const state = "/nonexistent/aura-probe.json";
      const passed = probe(state, 60, 5, ...up);
      assert.deepEqual(
        [passed.status, passed.stdout],
        [
          0,
          `aura-probe: no memory (${state}: No such file or directory), answering as the check did\nhealthy: up`,
        ],
      );
      const failed = probe(state, 60, 5, ...down);
      assert.deepEqual(
        [failed.status, failed.stdout],
        [
          1,
          "unhealthy: the check failed (exit 1) and has not passed since the container started: down",
        ],
      );
    });
  });
}
