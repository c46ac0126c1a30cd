import { type Command, Help, type Option } from 'commander';
import { collect } from './collect.js';

/**
 * One way to show an option's extras in every --help: `(required)`, `(repeatable)`,
 * `(one of: a, b)`, `(default: x)`, joined by `; `. A default that is not a value (a rule, a file found at run
 * time) is given as the option's default description with no value.
 */
export function optionExtras(option: Option): string[] {
  const extras: string[] = [];
  if (option.mandatory) extras.push('required');
  if (option.parseArg === collect) extras.push('repeatable');
  if (option.argChoices) extras.push(`one of: ${option.argChoices.join(', ')}`);
  // commander's own boolean defaults (--no-x is true) say nothing a user needs; a described one does.
  const valued = option.required || option.optional;
  const value = option.defaultValue === undefined || !valued ? undefined : Array.isArray(option.defaultValue) ? option.defaultValue.join(',') : String(option.defaultValue);
  const shown = option.defaultValueDescription ?? value;
  if (shown !== undefined) extras.push(`default: ${shown}`);
  return extras;
}

class TdeployHelp extends Help {
  override optionDescription(option: Option): string {
    const extras = optionExtras(option);
    return extras.length ? `${option.description} (${extras.join('; ')})` : option.description;
  }
}

/** Every command's help is formatted by the same rules. */
export function configureHelp(command: Command): Command {
  command.createHelp = () => Object.assign(new TdeployHelp(), command.configureHelp());
  return command;
}
