/**
 * SCRAM-SHA-256 verifiers as PostgreSQL stores them (RFC 7677, `pg_authid.rolpassword`):
 * `ALTER ROLE … PASSWORD '<verifier>'` sets a password without the password itself ever
 * being in a statement, an argv or a server log.
 *
 * @module
 */

const encoder = new TextEncoder();

function b64(bytes: ArrayBuffer | Uint8Array): string {
  return btoa(String.fromCharCode(...new Uint8Array(bytes)));
}

async function hmac(key: ArrayBuffer, text: string): Promise<ArrayBuffer> {
  const k = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  return await crypto.subtle.sign("HMAC", k, encoder.encode(text));
}

/** The verifier of `password` (ASCII; SASLprep is the identity for it). */
export async function scramVerifier(
  password: string,
  salt: Uint8Array = crypto.getRandomValues(new Uint8Array(16)),
  iterations = 4096,
): Promise<string> {
  const base = await crypto.subtle.importKey("raw", encoder.encode(password), "PBKDF2", false, [
    "deriveBits",
  ]);
  const salted = await crypto.subtle.deriveBits(
    { name: "PBKDF2", hash: "SHA-256", salt: salt as BufferSource, iterations },
    base,
    256,
  );
  const clientKey = await hmac(salted, "Client Key");
  const storedKey = await crypto.subtle.digest("SHA-256", clientKey);
  const serverKey = await hmac(salted, "Server Key");
  return `SCRAM-SHA-256$${iterations}:${b64(salt)}$${b64(storedKey)}:${b64(serverKey)}`;
}
