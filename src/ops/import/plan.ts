/**
 * What the user asked to import and the plan it resolves into: the source, the mode and the
 * options, checked against each other before anything is read or made.
 *
 * @module
 */
import { UsageError } from "../../errors.ts";
import { describeSource, type ImportMode, type ImportSource } from "../../domain/import_source.ts";
import { resolveSource } from "./source.ts";
import { loadMaskJob, type MaskJob } from "./mask_job.ts";

/** What the user asked to import. */
export interface ImportRequest {
  from: string;
  mode?: ImportMode;
  /** Databases to copy (server sources), or the one to restore a dump into. */
  databases?: string[];
  /** Parallel jobs of pg_dump and pg_restore. */
  jobs?: number;
  /** Objects go to zvpg's superuser, not to their owners (pg_restore --no-owner). */
  noOwner?: boolean;
  /** No GRANT or REVOKE is restored (pg_restore --no-privileges). */
  noPrivileges?: boolean;
  /** Mask the data by these rules in scratch space; main gets only the masked copy. */
  mask?: MaskJob;
  /** The rules file to read into {@link mask} (see {@link withMaskJob}). */
  maskFile?: string;
}

/** A resolved, preflighted import. */
export interface ImportPlan {
  source: ImportSource;
  mode: ImportMode;
  databases: string[];
  jobs: number;
  /** How the source is named in messages and snapshots (no password). */
  description: string;
  /** What is recorded in ZFS to refresh from later (no password). */
  recorded: string;
  /** The databases named with --database (recorded for refresh; empty: all of them). */
  requested: string[];
  /** pg_restore's `--no-owner` and `--no-privileges` (see {@link ImportRequest}). */
  noOwner: boolean;
  noPrivileges: boolean;
  /** The masking rules, when masked (see src/ops/import/mask.ts). */
  mask?: MaskJob;
}

/**
 * Resolves the source of `request` and checks its options against it; throws a usage error
 * for a mode or option the source cannot take. The preflight then fills `databases` in.
 */
export function planImport(request: ImportRequest): ImportPlan {
  const source = resolveSource(request.from);
  const mode: ImportMode = request.mode ?? "logical";
  if (mode === "physical" && source.kind !== "server") {
    throw new UsageError("--mode physical needs a server source (a postgresql:// URI)", {
      hint: "drop --mode, or pass the server's URI",
    });
  }
  const noOwner = request.noOwner === true;
  const noPrivileges = request.noPrivileges === true;
  const restored = source.kind === "server" ? mode === "logical" : source.kind === "dump" &&
    source.format !== "plain";
  if ((noOwner || noPrivileges) && !restored) {
    throw new UsageError(
      "--no-owner and --no-privileges need a pg_dump archive or a logical copy of a server",
      {
        hint:
          "drop them: a plain SQL dump runs as written (make it with pg_dump --no-owner --no-privileges), a data directory or physical copy is taken whole",
      },
    );
  }
  return {
    source,
    mode,
    databases: request.databases ?? [],
    jobs: request.jobs ?? Math.max(1, Math.min(4, navigator.hardwareConcurrency ?? 2)),
    description: describeSource(source, request.databases),
    recorded: source.kind === "server" ? describeSource(source) : source.path,
    requested: request.databases ?? [],
    noOwner,
    noPrivileges,
    ...(request.mask ? { mask: request.mask } : {}),
  };
}

/** `request` with its rules file ({@link ImportRequest.maskFile}) read and validated. */
export async function withMaskJob(request: ImportRequest): Promise<ImportRequest> {
  if (!request.maskFile || request.mask) return request;
  return { ...request, mask: await loadMaskJob(request.maskFile) };
}
