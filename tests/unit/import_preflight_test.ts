import assert from "node:assert/strict";
import {
  checkPreflight,
  type ImageFacts,
  majorOf,
  normalizeLocale,
  parseGlibcVersion,
  parseImageFiles,
  parseServerVersion,
  type SourceFacts,
} from "../../src/domain/import_preflight.ts";

const image: ImageFacts = {
  major: 17,
  glibc: "2.41",
  locales: ["C", "C.utf8", "POSIX", "en_US.utf8"],
  extensions: ["plpgsql", "pgcrypto"],
  libraries: ["pg_stat_statements", "plpgsql"],
};

function source(extra: Partial<SourceFacts> = {}): SourceFacts {
  return {
    versionNum: 170002,
    sharedPreloadLibraries: [],
    databases: [{
      name: "app",
      localeProvider: "c",
      collate: "en_US.UTF-8",
      ctype: "en_US.UTF-8",
      collationVersion: "2.41",
      extensions: ["plpgsql", "pgcrypto"],
    }],
    ...extra,
  };
}

Deno.test("checkPreflight() passes a matching source", () => {
  checkPreflight("logical", source(), image, "img");
  checkPreflight("physical", source(), image, "img");
  checkPreflight("logical", source({ versionNum: 150004 }), image, "img");
});

Deno.test("checkPreflight() refuses a newer source, and any other major when physical", () => {
  assert.throws(
    () => checkPreflight("logical", source({ versionNum: 180000 }), image, "img"),
    /PostgreSQL 18, newer than image 'img' \(17\)/,
  );
  assert.throws(
    () => checkPreflight("physical", source({ versionNum: 160003 }), image, "img"),
    /needs the same major version/,
  );
});

Deno.test("checkPreflight() refuses a missing extension, preloaded library or locale", () => {
  const db = source().databases[0];
  assert.throws(
    () =>
      checkPreflight(
        "logical",
        source({ databases: [{ ...db, extensions: ["postgis"] }] }),
        image,
        "img",
      ),
    /database 'app' uses extension 'postgis' which image 'img' lacks/,
  );
  assert.throws(
    () =>
      checkPreflight("logical", source({ sharedPreloadLibraries: ["timescaledb"] }), image, "img"),
    /preloads 'timescaledb'/,
  );
  checkPreflight(
    "logical",
    source({ sharedPreloadLibraries: ["pg_stat_statements"] }),
    image,
    "img",
  );
  assert.throws(
    () =>
      checkPreflight(
        "logical",
        source({ databases: [{ ...db, collate: "de_DE.UTF-8" }] }),
        image,
        "img",
      ),
    /locale 'de_DE.UTF-8'/,
  );
});

Deno.test("checkPreflight() refuses another glibc for a physical copy only", () => {
  const db = { ...source().databases[0], collationVersion: "2.36" };
  assert.throws(
    () => checkPreflight("physical", source({ databases: [db] }), image, "img"),
    /glibc 2.36 .* glibc 2.41/,
  );
  checkPreflight("logical", source({ databases: [db] }), image, "img");
});

Deno.test("preflight parsers: versions, glibc, locales, image files", () => {
  assert.equal(majorOf(170002), 17);
  assert.equal(majorOf(100022), 10);
  assert.equal(parseServerVersion("postgres (PostgreSQL) 17.12 (Debian 17.12-0+deb13u1)"), 17);
  assert.equal(parseGlibcVersion("ldd (Debian GLIBC 2.41-12+deb13u5) 2.41"), "2.41");
  assert.equal(normalizeLocale("en_US.UTF-8"), "en_US.utf8");
  assert.deepEqual(
    parseImageFiles(
      "/usr/share/postgresql/17/extension/pgcrypto.control\n/usr/lib/postgresql/17/lib/auto_explain.so\n",
    ),
    { extensions: ["pgcrypto"], libraries: ["auto_explain"] },
  );
});
