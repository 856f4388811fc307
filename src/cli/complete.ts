/**
 * Shell completion from the command tree itself: `zvpg __complete -- <words>` walks the
 * commander tree along the words typed so far and prints what may come next — commands,
 * options, option choices, and branch or snapshot names (read from the inventory). The
 * scripts `zvpg completions <shell>` prints only call it, so they never go stale.
 *
 * @module
 */
import type { CommandUnknownOpts, Option } from "@commander-js/extra-typings";

/** What a word may be: fixed words, or names read from the pool. */
export type Completion =
  | { kind: "words"; words: string[] }
  | { kind: "branches" }
  /** `pulled`: those pulled from remotes too, as `<remote>/<name>`. */
  | { kind: "snapshots"; pulled?: boolean }
  | { kind: "remotes" }
  | { kind: "none" };

/**
 * Where a snapshot pulled from a remote (`<remote>/<name>`) is taken as well as this
 * pool's: the snapshot to branch from, and the one to show or delete.
 */
const PULLED_TOO = new Set([
  "branch create --from",
  ...["snapshot", "commit"].flatMap((g) =>
    ["info", "show", "delete", "remove"].map((c) => `${g} ${c} <name>`)
  ),
]);

/** Commands whose name arguments are new names: existing ones are not offered. */
const NEW_NAMES = new Set(["branch create", "snapshot create", "commit create"]);

/**
 * What the last of `words` (the word under the cursor, possibly empty) may be, after the
 * words before it. Pure: walks `program` only.
 */
export function complete(program: CommandUnknownOpts, words: string[]): Completion {
  let cmd = program;
  let positional = 0;
  let pending: Option | undefined;
  let operandsOnly = false;
  for (const word of words.slice(0, -1)) {
    if (pending) {
      pending = undefined;
    } else if (operandsOnly) {
      positional++;
    } else if (word === "--") {
      operandsOnly = true;
    } else if (word.startsWith("-") && word !== "-") {
      const option = findOption(cmd, word.split("=")[0]);
      if (option && takesValue(option) && !word.includes("=") && !isShortWithValue(word)) {
        pending = option;
      }
    } else {
      const sub = findCommand(cmd, word);
      if (sub) {
        cmd = sub;
        positional = 0;
      } else positional++;
    }
  }
  if (pending) return optionValue(cmd, pending);
  const current = words.at(-1) ?? "";
  if (operandsOnly) return { kind: "none" };
  if (current.startsWith("-")) return { kind: "words", words: optionNames(cmd) };
  const subs = visibleCommands(cmd);
  if (subs.length > 0 && positional === 0) {
    return { kind: "words", words: subs.map((c) => c.name()) };
  }
  return argumentValue(cmd, positional);
}

/** The path of a command below the program ("branch create"). */
function pathOf(cmd: CommandUnknownOpts): string {
  const names: string[] = [];
  for (let c: CommandUnknownOpts | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(" ");
}

function visibleCommands(cmd: CommandUnknownOpts): CommandUnknownOpts[] {
  return cmd.commands.filter((c) => !c.name().startsWith("_"));
}

function findCommand(cmd: CommandUnknownOpts, word: string): CommandUnknownOpts | undefined {
  return cmd.commands.find((c) => c.name() === word || c.aliases().includes(word));
}

/** The command's options and those of its ancestors (`-c` is the program's). */
function allOptions(cmd: CommandUnknownOpts): readonly Option[] {
  const options: Option[] = [];
  for (let c: CommandUnknownOpts | null = cmd; c; c = c.parent) {
    options.push(...(c.options as readonly Option[]));
  }
  return options;
}

function findOption(cmd: CommandUnknownOpts, flag: string): Option | undefined {
  return allOptions(cmd).find((o) => o.long === flag || o.short === flag);
}

function takesValue(option: Option): boolean {
  return option.required || option.optional;
}

/** `-fjson`: a short option with its value attached. */
function isShortWithValue(word: string): boolean {
  return /^-[A-Za-z]./.test(word);
}

function optionNames(cmd: CommandUnknownOpts): string[] {
  const names = allOptions(cmd).filter((o) => !o.hidden).flatMap((o) =>
    [o.long, o.short].filter((n): n is string => n !== undefined)
  );
  return [...names, "--help"];
}

/** What an option's value may be: its choices, or names by its value's name. */
function optionValue(cmd: CommandUnknownOpts, option: Option): Completion {
  if (option.argChoices) return { kind: "words", words: [...option.argChoices] };
  const value = /<(\w+)>/.exec(option.flags)?.[1];
  if (value === "branch" || value === "parent") return { kind: "branches" };
  if (value === "snapshot") return snapshots(`${pathOf(cmd)} ${option.long}`);
  return { kind: "none" };
}

/** This pool's snapshots, and the pulled ones where `where` ({@link PULLED_TOO}) takes them. */
function snapshots(where: string): Completion {
  return PULLED_TOO.has(where) ? { kind: "snapshots", pulled: true } : { kind: "snapshots" };
}

/** What the command's `index`-th operand may be, by the argument's name and command. */
function argumentValue(cmd: CommandUnknownOpts, index: number): Completion {
  const args = cmd.registeredArguments;
  const arg = args[index] ?? (args.at(-1)?.variadic ? args.at(-1) : undefined);
  if (!arg) return { kind: "none" };
  if (arg.argChoices) return { kind: "words", words: [...arg.argChoices] };
  const path = pathOf(cmd);
  const group = path.split(" ")[0];
  const name = arg.name();
  if (name === "remote" || (path === "remote remove" && name === "name")) {
    return { kind: "remotes" };
  }
  // a pulled snapshot is the remote's: none of this pool's names is one
  if (path === "pull") return { kind: "none" };
  if (name === "branch" || name === "parent") return { kind: "branches" };
  if (NEW_NAMES.has(path) || (path === "branch snapshot" && name === "snapshot")) {
    return { kind: "none" };
  }
  if (name === "snapshot") return { kind: "snapshots" };
  if (name === "name" && group === "branch") return { kind: "branches" };
  if (name === "name" && (group === "snapshot" || group === "commit")) {
    return snapshots(`${group} ${cmd.name()} <name>`);
  }
  return { kind: "none" };
}
