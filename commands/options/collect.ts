/** commander collector for repeatable options: `--shape a:1x2 --shape b:3`. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
