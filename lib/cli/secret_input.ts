/**
 * Secrets given to the command-line tools: `deno task` echoes its whole command line (and shells keep
 * it in their history), so a secret is best read from the environment, or from standard input with
 * `-` as the flag's value. A value typed on the command line still works, with a warning.
 */

/** A mistake in the command line itself (exit 2). */
export class UsageError extends Error {}

/**
 * The secret a flag gives: its value, `-` (one line of standard input), or the environment variable
 * `env` when the flag is absent. `warn` receives the warning for a literal value.
 */
export async function secretInput(
  flag: string,
  value: string | undefined,
  env: { name: string; value: string | undefined } | null,
  warn: (line: string) => void,
): Promise<string | undefined> {
  if (value === "-") {
    const line = await readStdinLine();
    if (!line) throw new UsageError(`--${flag} - reads the value from standard input, and none came.`);
    return line;
  }
  if (value !== undefined) {
    warn(
      `note: --${flag}'s value is echoed by \`deno task\` and kept in shell history; ${
        env ? `prefer ${env.name} in the environment, or ` : "prefer "
      }--${flag} - (read from standard input).`,
    );
    return value;
  }
  return env?.value?.trim() || undefined;
}

async function readStdinLine(): Promise<string> {
  const decoder = new TextDecoder();
  let text = "";
  for await (const chunk of Deno.stdin.readable) {
    text += decoder.decode(chunk, { stream: true });
    if (text.includes("\n")) break;
  }
  return text.split(/\r?\n/)[0].trim();
}
