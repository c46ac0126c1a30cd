import fs from 'node:fs';
import path from 'node:path';

/** The config file `run` and `doctor` read when none is given: this one, in the current folder. */
export const CONFIG_FILE = 'tdeploy.config.json';

/** `given`, else ./tdeploy.config.json when it exists, else undefined (the bundled example). */
export function discoverConfig(given: string | undefined, cwd: string): string | undefined {
  if (given !== undefined) return given;
  const here = path.join(cwd, CONFIG_FILE);
  return fs.existsSync(here) ? here : undefined;
}
