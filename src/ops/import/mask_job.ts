/**
 * The masking rules file of an import, read, validated and hashed (see src/ops/import/mask.ts).
 *
 * @module
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { ZvpgError } from "../../errors.ts";
import { type MaskRules, parseMaskRules } from "../../domain/mask_rules.ts";

/** The rules an import masks with. */
export interface MaskJob {
  rules: MaskRules;
  /** The rules file, absolute (recorded on main for later refreshes). */
  file: string;
  /** `sha256:<hex>` of the file's bytes (recorded on main and its import snapshots). */
  hash: string;
}

/** Reads and validates the rules file `path` (a one-line error naming file, line, column). */
export async function loadMaskJob(path: string): Promise<MaskJob> {
  const file = resolve(path);
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = new Uint8Array(readFileSync(file));
  } catch (error) {
    throw new ZvpgError(
      `cannot read the masking rules ${path}: ${
        (error as { code?: string }).code ?? (error as Error).message
      }`,
      {
        hint: "pass the path of a rules file (docs/masking.md)",
      },
    );
  }
  const rules = parseMaskRules(new TextDecoder().decode(bytes), path);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  const hex = [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
  return { rules, file, hash: `sha256:${hex}` };
}
