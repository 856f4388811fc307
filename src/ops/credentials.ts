/**
 * The pool's PostgreSQL password: made once by `init env`, read by every step that
 * connects (initdb, import, connect, diff and merge).
 *
 * @module
 */
import { readFileSync } from "node:fs";
import { ZvpgError } from "../errors.ts";

/** A random password of 32 URL-safe characters. */
export function generatePassword(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_");
}

/** The password stored in a pgpass file written by zvpg. */
export function readPassword(passFile: string): string {
  const line = readFileSync(passFile, "utf8").split("\n").find((l) =>
    l.trim() !== "" && !l.startsWith("#")
  );
  const password = line?.split(":").slice(4).join(":");
  if (!password) {
    throw new ZvpgError(`no password in ${passFile}`, {
      hint: "delete the file and run 'zvpg init env'",
    });
  }
  return password;
}
