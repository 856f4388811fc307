/**
 * CREATE DATABASE … TEMPLATE in main's own server (psql's `\timing` gives the server time).
 *
 * @module
 */
import { mainSql, sizeProgress, type SizeRun } from "../size_run.ts";
import { sleep, timed } from "../timed.ts";
import { formatMs } from "../units.ts";

/** `altRuns` copies of the size's database, each dropped after. */
export async function benchTemplate(run: SizeRun): Promise<void> {
  for (let i = 1; i <= run.altRuns; i++) {
    const target = `tpl_${run.label}_${i}`;
    await mainSql(
      run,
      "postgres",
      `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '${run.db}'`,
    );
    const r = await createFromTemplate(run, target);
    const serverMs = Number(/Time: ([\d.]+) ms/.exec(r.value)?.[1] ?? NaN);
    run.result.template.push({ run: i, ms: r.ms, serverMs });
    sizeProgress(run, `TEMPLATE #${i}: ${formatMs(r.ms)}`);
    await mainSql(run, "postgres", `DROP DATABASE ${target}`);
  }
}

/** The CREATE, retried while a session that was just ended still holds the template. */
async function createFromTemplate(run: SizeRun, target: string) {
  for (let attempt = 0;; attempt++) {
    try {
      return await timed(() =>
        mainSql(run, "postgres", `CREATE DATABASE ${target} TEMPLATE ${run.db}`, { timing: true })
      );
    } catch (e) {
      if (!/being accessed by other users/.test(String(e)) || attempt === 4) throw e;
      await sleep(500);
    }
  }
}
