/**
 * `zvpg branch url|env|psql`: connecting to a running branch without parsing `info`.
 *
 * @module
 */
import { Command } from "@commander-js/extra-typings";
import { ConnectService } from "../workflows/connect_service.ts";
import { examples, formatOption } from "./options.ts";
import { render } from "./render.ts";
import type { Session } from "./session.ts";
import { branchEnvView, branchUrlView } from "./views.ts";

const SHOW_PASSWORD = "print the password itself (default: name the 0600 passfile holding it)";

/** The `url`, `env` and `psql` subcommands of `branch`. */
export function connectCommands(session: Session) {
  const url = new Command("url")
    .description("Print the connection URI of a running branch (no password unless asked)")
    .argument("<name>", "branch name")
    .option("--show-password", SHOW_PASSWORD)
    .addOption(formatOption())
    .addHelpText(
      "after",
      examples(
        'psql "$(zvpg branch url feature/new-api)"',
        "zvpg branch url feature/new-api --show-password   # for clients without libpq",
      ),
    )
    .action(session.action(async (ctx, name, options) => {
      const connection = await new ConnectService(ctx).connect(name, {
        showPassword: options.showPassword,
      });
      return render(connection, branchUrlView, options.format);
    }));

  const env = new Command("env")
    .description(
      "Print PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSFILE and DATABASE_URL of a running branch",
    )
    .argument("<name>", "branch name")
    .option("--github", "plain NAME=value lines for $GITHUB_ENV (default: export lines for eval)")
    .option("--show-password", SHOW_PASSWORD)
    .addOption(formatOption())
    .addHelpText(
      "after",
      examples(
        'eval "$(zvpg branch env feature/new-api)" && psql -c "select 1"',
        'zvpg branch env ci-db --github >> "$GITHUB_ENV"',
      ),
    )
    .action(session.action(async (ctx, name, options) => {
      const connection = await new ConnectService(ctx).connect(name, {
        showPassword: options.showPassword,
      });
      return render(connection, branchEnvView(options.github ? "github" : "sh"), options.format);
    }));

  const psql = new Command("psql")
    .description("Run psql connected to a running branch; exits with psql's exit code")
    .argument("<name>", "branch name")
    .argument("[args...]", "arguments for psql (after --)")
    .addHelpText(
      "after",
      examples(
        "zvpg branch psql feature/new-api",
        "zvpg branch psql feature/new-api -- -c 'select count(*) from users'",
      ),
    )
    .action(session.action((ctx, name, args) => new ConnectService(ctx).psql(name, args)));
  return [url, env, psql];
}
