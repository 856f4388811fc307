/** The zvpg version, as printed by `zvpg --version` and stored on snapshots. */
export const VERSION = "2.0.0";
