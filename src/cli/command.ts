import type { Command } from "commander";
import type { CliContext } from "./context.js";

/**
 * How a command joins the program: a function that adds it (with its options, help and action)
 * to the root command. src/cli/commands/index.ts lists them all.
 *
 * @example
 * export const registerHello: RegisterCommand = (program, context) => {
 *   program.command("hello").description("Say hello").action(() => context.stdout.write("hello\n"));
 * };
 */
export type RegisterCommand = (program: Command, context: CliContext) => void;

/**
 * The "Examples:" block shown after a command's options in --help.
 *
 * @example
 * command.addHelpText("after", examples(["cairn ls --filter 'params.lr < 0.01'"]));
 */
export function examples(lines: string[]): string {
  return `\nExamples:\n${lines.map((line) => (line.startsWith("#") ? `  ${line}` : `  $ ${line}`)).join("\n")}\n`;
}

/** Commander's collector for repeatable options. @example .option("--filter <f>", "…", collect, []) */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}
