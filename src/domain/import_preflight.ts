/**
 * The import preflight as pure decisions: given what the source server and the image are
 * (read by the caller), the first mismatch that would break the copy, as a one-line error
 * naming what to change. Nothing is made before these pass.
 *
 * @module
 */
import { ZvpgError } from "../errors.ts";
import type { ImportMode } from "./import_source.ts";

/** A database of the source, as `pg_database` describes it. */
export interface SourceDatabase {
  name: string;
  /** `c` (libc), `i` (ICU) or `b` (builtin); `c` before PostgreSQL 15. */
  localeProvider: string;
  collate: string;
  ctype: string;
  /** `datcollversion` (PostgreSQL 15+): the glibc version for libc collations. */
  collationVersion?: string;
  /** Extensions installed in it (plpgsql included). */
  extensions: string[];
}

/** What the preflight read from the source server. */
export interface SourceFacts {
  versionNum: number;
  sharedPreloadLibraries: string[];
  databases: SourceDatabase[];
}

/** What the preflight read from the configured image. */
export interface ImageFacts {
  major: number;
  /** e.g. `2.41`. */
  glibc?: string;
  /** Locales `locale -a` lists. */
  locales: string[];
  /** Extensions with a `.control` file. */
  extensions: string[];
  /** Shared libraries in the server's library directory (without `.so`). */
  libraries: string[];
}

/** Refused by the preflight; nothing was made. */
export class PreflightError extends ZvpgError {}

/** The major version of a `server_version_num` (170002 → 17, 90624 → 9). */
export function majorOf(versionNum: number): number {
  return versionNum >= 100000 ? Math.floor(versionNum / 10000) : Math.floor(versionNum / 100);
}

/** Parses `postgres --version` output (`postgres (PostgreSQL) 17.2 (Debian …)`) to a major. */
export function parseServerVersion(text: string): number | undefined {
  const m = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?/.exec(text);
  if (!m) return undefined;
  const major = Number(m[1]);
  return major >= 10 ? major : Number(`${m[1]}${m[2] ?? ""}`);
}

/** Parses `ldd --version` (`ldd (Debian GLIBC 2.41-12) 2.41`) to the glibc version. */
export function parseGlibcVersion(text: string): string | undefined {
  return /GLIBC[^)]*\)\s+(\d+\.\d+)/i.exec(text)?.[1] ??
    /GNU libc[^\d]*(\d+\.\d+)/i.exec(text)?.[1];
}

/** A locale name compared the way glibc does (`en_US.UTF-8` = `en_US.utf8`). */
export function normalizeLocale(name: string): string {
  const [lang, codeset] = name.split(".", 2);
  return codeset === undefined ? lang : `${lang}.${codeset.toLowerCase().replaceAll("-", "")}`;
}

/** Locales every glibc has. */
const ALWAYS_LOCALES = new Set(["c", "posix", "c.utf8"]);

/**
 * Throws {@link PreflightError} for the first problem: a version the image cannot load
 * (physical needs the same major; logical refuses a source newer than the image), a glibc
 * other than the one the source's indexes were sorted with (physical), a locale the image
 * lacks (logical recreates databases with it), an extension or a preloaded library the
 * image does not have.
 */
export function checkPreflight(
  mode: ImportMode,
  source: SourceFacts,
  image: ImageFacts,
  imageName: string,
): void {
  const sourceMajor = majorOf(source.versionNum);
  if (mode === "physical" && sourceMajor !== image.major) {
    throw new PreflightError(
      `the source runs PostgreSQL ${sourceMajor} but image '${imageName}' has ${image.major}: a physical copy needs the same major version`,
      { hint: `set pgBaseImage to a PostgreSQL ${sourceMajor} image, or use --mode logical` },
    );
  }
  if (sourceMajor > image.major) {
    throw new PreflightError(
      `the source runs PostgreSQL ${sourceMajor}, newer than image '${imageName}' (${image.major})`,
      { hint: `set pgBaseImage to a PostgreSQL ${sourceMajor} (or newer) image` },
    );
  }
  for (const db of source.databases) checkDatabase(mode, db, image, imageName);
  const libraries = new Set(image.libraries);
  const missingLib = source.sharedPreloadLibraries.find((l) =>
    !libraries.has(l.replace(/^\$libdir\//, "").replace(/\.so$/, ""))
  );
  if (missingLib) {
    throw new PreflightError(
      `the source preloads '${missingLib}' (shared_preload_libraries) but image '${imageName}' lacks it`,
      { hint: `use an image that has ${missingLib}, or remove it from the source's settings` },
    );
  }
}

function checkDatabase(
  mode: ImportMode,
  db: SourceDatabase,
  image: ImageFacts,
  imageName: string,
): void {
  const available = new Set(image.extensions);
  const missing = db.extensions.find((e) => !available.has(e));
  if (missing) {
    throw new PreflightError(
      `database '${db.name}' uses extension '${missing}' which image '${imageName}' lacks`,
      { hint: `use an image that ships ${missing}, or drop it from the source` },
    );
  }
  if (db.localeProvider !== "c") return;
  if (
    mode === "physical" && db.collationVersion && image.glibc &&
    db.collationVersion !== image.glibc
  ) {
    throw new PreflightError(
      `database '${db.name}' was sorted with glibc ${db.collationVersion} but image '${imageName}' has glibc ${image.glibc}: its text indexes would be corrupt`,
      { hint: `use an image built on glibc ${db.collationVersion}, or use --mode logical` },
    );
  }
  const locales = new Set([...image.locales.map((l) => normalizeLocale(l).toLowerCase())]);
  for (const locale of new Set([db.collate, db.ctype])) {
    const key = normalizeLocale(locale).toLowerCase();
    if (ALWAYS_LOCALES.has(key) || locales.has(key)) continue;
    throw new PreflightError(
      `database '${db.name}' uses locale '${locale}' which image '${imageName}' lacks`,
      { hint: `use an image with the ${locale} locale generated (locale-gen)` },
    );
  }
}

/** The extension names of `.control` paths and library names of `.so` paths `find` printed. */
export function parseImageFiles(findOutput: string): { extensions: string[]; libraries: string[] } {
  const extensions = new Set<string>();
  const libraries = new Set<string>();
  for (const path of findOutput.split("\n")) {
    const base = path.trim().split("/").pop() ?? "";
    if (base.endsWith(".control")) extensions.add(base.slice(0, -".control".length));
    else if (base.endsWith(".so")) libraries.add(base.slice(0, -".so".length));
  }
  return { extensions: [...extensions].sort(), libraries: [...libraries].sort() };
}

/** Splits a `shared_preload_libraries` value. */
export function parseLibraryList(value: string): string[] {
  return value.split(",").map((s) => s.trim().replace(/^"|"$/g, "")).filter((s) => s !== "");
}
