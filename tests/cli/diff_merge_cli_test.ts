/**
 * `branch diff` and `branch merge`: the text and JSON forms of their results (rendered from
 * fixed results: a real comparison needs PostgreSQL, see tests/integration/diff_merge_test.ts)
 * and their errors, run in process on the strict fake runner.
 */
import { render, terminal } from "../../src/cli/render.ts";
import { branchDiffView, branchMergeView } from "../../src/cli/views.ts";
import type { DiffResult, MergeResult } from "../../src/workflows/diff_merge_service.ts";
import { assertGolden, type CliRun, runCli } from "./harness.ts";
import { branchScope, FEATURE, mainDataset } from "./fixtures.ts";

const DIFF: DiffResult = {
  base: { branch: "main", snapshot: "auto-20240115T103000000Z-ab12" },
  compare: { branch: "feature/auth" },
  database: "postgres",
  engine: "migra",
  hasChanges: true,
  objects: [
    {
      id: 'functions:"public"."answer"()',
      kind: "function",
      name: "public.answer()",
      change: "added",
      after:
        "CREATE OR REPLACE FUNCTION public.answer()\n RETURNS integer\n LANGUAGE sql\nAS $function$select 42$function$",
    },
    {
      id: 'tables:"public"."users"',
      kind: "table",
      name: "public.users",
      change: "modified",
      before: 'create table "public"."users" (\n    "id" integer not null\n);',
      after: 'create table "public"."users" (\n    "id" integer not null,\n    "email" text\n);',
    },
  ],
  statements: [
    'alter table "public"."users" add column "email" text;',
    "CREATE OR REPLACE FUNCTION public.answer()\n RETURNS integer\n LANGUAGE sql\nAS $function$select 42$function$\n;",
  ],
  data: [
    {
      table: "public.users",
      rowsBase: 2,
      rowsCompare: 3,
      inserted: 1,
      updated: 0,
      deleted: 0,
      changed: true,
      method: "estimate",
    },
    {
      table: "public.other",
      rowsBase: 0,
      rowsCompare: 0,
      inserted: 0,
      updated: 0,
      deleted: 0,
      changed: false,
      method: "estimate",
    },
  ],
  dumpChanges: ["FUNCTION public.answer()", "TABLE public.users"],
};

const MERGE: MergeResult = {
  branch: "feature/auth",
  into: "main",
  base: "auto-20240115T103000000Z-ab12",
  database: "postgres",
  engine: "migra",
  objects: DIFF.objects,
  statements: [
    ...DIFF.statements,
    'alter table "public"."users" drop column "legacy";',
  ],
  dataLoss: [{
    statement: 'alter table "public"."users" drop column "legacy";',
    reason: "drops column public.users.legacy and its values",
  }],
  dryRun: false,
  applied: true,
  preMergeSnapshot: "pre-merge-feature-auth-20240115T103000000Z",
  output: null,
  proof: { objectsChecked: 14, differences: [] },
};

function rendered(fn: () => number): CliRun {
  let stdout = "";
  let stderr = "";
  const saved = { ...terminal };
  terminal.out = (s) => void (stdout += s);
  terminal.err = (s) => void (stderr += s);
  try {
    return { code: fn(), stdout, stderr, ctx: undefined as never };
  } finally {
    Object.assign(terminal, saved);
  }
}

for (const [format, ext] of [["table", "txt"], ["json", "json"]] as const) {
  Deno.test(`branch diff: ${format} output`, () => {
    assertGolden(
      `branch_diff.${ext}`,
      rendered(() => render({ diff: DIFF }, branchDiffView, format)),
    );
  });

  Deno.test(`branch merge: ${format} output`, () => {
    assertGolden(`branch_merge.${ext}`, rendered(() => render(MERGE, branchMergeView, format)));
  });
}

Deno.test("branch diff: --exit-code exits 1 on differences, 0 without", () => {
  assertGolden(
    "branch_diff_exit_code.txt",
    rendered(() => render({ diff: DIFF, exitCode: true }, branchDiffView, "json")),
  );
  const none = {
    ...DIFF,
    hasChanges: false,
    objects: [],
    statements: [],
    data: null,
    dumpChanges: [],
  };
  assertGolden(
    "branch_diff_none.txt",
    rendered(() => render({ diff: none, exitCode: true }, branchDiffView, "table")),
  );
});

Deno.test("branch merge --dry-run: prints the migration SQL", () => {
  const dry = { ...MERGE, dryRun: true, applied: false, preMergeSnapshot: null };
  assertGolden("branch_merge_dry_run.txt", rendered(() => render(dry, branchMergeView, "table")));
});

Deno.test("branch diff: changes only pg_dump sees are named, and are changes", () => {
  const unmodeled = {
    ...DIFF,
    objects: [],
    statements: [],
    data: null,
    dumpChanges: ["COMMENT ON TABLE public.users"],
  };
  assertGolden(
    "branch_diff_unmodeled.txt",
    rendered(() => render({ diff: unmodeled, exitCode: true }, branchDiffView, "table")),
  );
});

Deno.test("branch merge --allow-difference: the accepted differences are in the SQL and JSON", () => {
  const accepted: MergeResult = {
    ...MERGE,
    dryRun: true,
    applied: false,
    preMergeSnapshot: null,
    proof: {
      objectsChecked: 14,
      differences: [{
        object: "TABLE public.users",
        expected: "branch",
        problem: "column order",
        detail: "-id integer NOT NULL, +email text,",
      }],
    },
  };
  assertGolden(
    "branch_merge_not_proven.txt",
    rendered(() => render(accepted, branchMergeView, "table")),
  );
  assertGolden(
    "branch_merge_not_proven.json",
    rendered(() => render(accepted, branchMergeView, "json")),
  );
});

Deno.test("branch diff: a stopped branch is refused before anything is cloned", async () => {
  const run = await runCli(["branch", "diff", "feature/auth"], { calls: () => branchScope() });
  assertGolden("error_branch_diff_not_running.txt", run);
});

Deno.test("branch diff: the default branch has no origin to compare with (exit 2)", async () => {
  const run = await runCli(["branch", "diff", "main"], {
    calls: () => branchScope("main", mainDataset().name),
  });
  assertGolden("error_branch_diff_no_origin.txt", run);
});

Deno.test("branch merge: a branch cannot be merged into itself (exit 2)", async () => {
  const run = await runCli(["branch", "merge", "feature/auth", "--into", "feature/auth"], {
    calls: () => branchScope("feature/auth", FEATURE),
  });
  assertGolden("error_branch_merge_itself.txt", run);
});

Deno.test("branch merge: a missing argument is a usage error (exit 2)", async () => {
  const run = await runCli(["branch", "merge"]);
  assertGolden("error_branch_merge_usage.txt", run);
});
