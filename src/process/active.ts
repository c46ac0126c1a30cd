/**
 * The process groups of the external tools running now. Kept apart from the runner so the CLI's
 * Ctrl-C handler can kill them without loading execa at start-up.
 */

const active = new Set<number>();

export function trackTool(pid: number): void {
  active.add(pid);
}

export function untrackTool(pid: number): void {
  active.delete(pid);
}

export function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

/** Kills every running tool's process group (the CLI calls this on Ctrl-C). */
export function killActiveTools(): void {
  for (const pid of active) killGroup(pid, 'SIGKILL');
  active.clear();
}
