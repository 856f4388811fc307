/**
 * The scripts `zvpg completions <shell>` prints. They hold no command or option: each
 * passes the words typed so far to `zvpg __complete --` (see complete.ts) and offers what
 * it prints; an error prints nothing.
 *
 * @module
 */

/** The shells `zvpg completions` writes scripts for. */
export const SHELLS = ["bash", "zsh", "fish"] as const;
/** One of {@link SHELLS}. */
export type Shell = typeof SHELLS[number];

/**
 * The completion script for `shell`. Each one passes the words typed so far to
 * `zvpg __complete --` and offers what it prints; errors print nothing.
 */
export function completionScript(shell: Shell, program = "zvpg"): string {
  const fn = `_${program.replace(/[^A-Za-z0-9_]/g, "_")}_complete`;
  switch (shell) {
    case "bash":
      return `# bash completion for ${program}: source <(${program} completions bash)
${fn}() {
  local cur="\${COMP_WORDS[COMP_CWORD]}"
  local IFS=$'\\n'
  COMPREPLY=($(compgen -W "$(${program} __complete -- "\${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null)" -- "$cur"))
}
complete -o default -F ${fn} ${program}
`;
    case "zsh":
      return `#compdef ${program}
# zsh completion for ${program}: source <(${program} completions zsh)
${fn}() {
  local -a candidates
  candidates=("\${(@f)$(${program} __complete -- "\${(@)words[2,CURRENT]}" 2>/dev/null)}")
  compadd -- "\${candidates[@]}"
}
if (( $+functions[compdef] )); then compdef ${fn} ${program}; fi
`;
    case "fish":
      return `# fish completion for ${program}: ${program} completions fish | source
function ${fn}
    set -l words (commandline -opc) (commandline -ct)
    ${program} __complete -- $words[2..-1] 2>/dev/null
end
complete -c ${program} -f -a '(${fn})'
`;
  }
}
