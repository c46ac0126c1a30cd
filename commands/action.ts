import type { Command, Option } from 'commander';
import { InputError } from '../src/errors.js';
import { Context, type GlobalFlags } from './context.js';
import { flagSpeller } from './options/spelling.js';

interface Alias {
  /** the old option's key and flag */
  key: string;
  flag: string;
  /** the key and flag that replace it */
  to: string;
  use: string;
}

const aliases = new WeakMap<Command, Alias[]>();

/**
 * Keeps an old spelling working, hidden from --help: its value goes to the option that replaced
 * it, and a note says the new spelling. Scripts written against an earlier release keep running.
 */
export function deprecatedAlias(command: Command, option: Option, to: string, use: string): Command {
  command.addOption(option.hideHelp());
  aliases.set(command, [...(aliases.get(command) ?? []), { key: option.attributeName(), flag: option.long ?? option.flags, to, use }]);
  return command;
}

/** Moves the values of deprecated spellings to their replacements; returns the notes saying so. */
function applyAliases(command: Command, raw: Record<string, unknown>): string[] {
  const notes: string[] = [];
  for (const { key, flag, to, use } of aliases.get(command) ?? []) {
    if (raw[key] === undefined) continue;
    const [old, current] = [raw[key], raw[to]];
    if (current !== undefined && !(Array.isArray(old) && Array.isArray(current))) {
      throw new InputError(`${flag} is the old spelling of ${use}: give one of them`, { kind: 'usage' });
    }
    raw[to] = Array.isArray(old) ? [...((current as unknown[] | undefined) ?? []), ...old] : old;
    delete raw[key];
    notes.push(`${flag} is deprecated and will be removed; use ${use}`);
  }
  return notes;
}

/** Adds the global flags to a command (the program and every subcommand carry them). */
export function addGlobalOptions(command: Command): Command {
  return command
    .option('--json', 'print one JSON document on stdout (human text goes to stderr)')
    .option('-q, --quiet', 'print the result alone (a gate its verdict line): no notes, no progress')
    .option('--verbose', 'show tool logs and stack traces')
    .option('--no-progress', 'no progress spinner');
}

/** The global flags as given before or after the subcommand's name. */
export function globalFlags(command: Command): GlobalFlags {
  const chain: Command[] = [];
  for (let c: Command | null = command; c; c = c.parent) chain.push(c);
  const opts = chain.map((c) => c.opts());
  return {
    json: opts.some((o) => o.json === true),
    quiet: opts.some((o) => o.quiet === true),
    verbose: opts.some((o) => o.verbose === true),
    progress: opts.every((o) => o.progress !== false),
  };
}

/**
 * Wraps a command body for commander: builds the Context from the global flags and hands the
 * positional arguments, the raw options and the context to `body`. Errors propagate to the one
 * handler in cli.ts.
 */
export function action<Args extends [...unknown[], Record<string, unknown>, Context]>(
  body: (...args: Args) => Promise<void>,
): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]) => {
    const command = args[args.length - 1] as Command;
    const ctx = new Context(globalFlags(command), flagSpeller(command.name()));
    currentContext = ctx;
    ctx.notes.push(...applyAliases(command, args[args.length - 2] as Record<string, unknown>));
    try {
      await body(...([...args.slice(0, -1), ctx] as Args));
    } finally {
      ctx.finish();
    }
  };
}

/** The context of the command being run, for the error handler (did the command already report?). */
export let currentContext: Context | undefined;
