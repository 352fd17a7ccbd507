/* Names for the negative errno values agents put in `status` fields. */

import * as os from 'node:os';

const NAMES = new Map<number, string>();
for (const [name, value] of Object.entries(os.constants.errno)) {
  if (!NAMES.has(value)) NAMES.set(value, name);
}

/** "EIO (errno 5)" for status -5. */
export function describeStatus(status: number): string {
  const name = NAMES.get(-status);
  return name ? `${name} (errno ${-status})` : `status ${status}`;
}
