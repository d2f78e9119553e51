/**
 * `npm run bench`: how long constructing the whole dev stack under mocks takes. The first run
 * pays for loading the providers; the median of the warm runs is what a test adds (each run is
 * its own: the tests' shared runs would make the warm ones free).
 */
import { runProgramAfresh } from "./mocks";

const RUNS = Number(process.env.BENCH_RUNS ?? 7);

async function main(): Promise<void> {
  const timings: number[] = [];
  for (let index = 0; index <= RUNS; index += 1) {
    const started = process.hrtime.bigint();
    const run = await runProgramAfresh();
    const milliseconds = Number(process.hrtime.bigint() - started) / 1e6;
    const label = index === 0 ? "cold (loads the providers)" : `warm ${index}`;
    console.log(
      `${label.padEnd(28)} ${milliseconds.toFixed(0).padStart(6)} ms  ${run.resources.length} resources`,
    );
    if (index > 0) timings.push(milliseconds);
  }
  timings.sort((a, b) => a - b);
  const median = timings[Math.floor(timings.length / 2)];
  console.log(`median of ${RUNS} warm runs: ${median.toFixed(0)} ms`);
  process.exit(0);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
