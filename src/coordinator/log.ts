/*
 * The coordinator's log: one line per event, ISO timestamp first, to stderr (which is a log
 * file when the coordinator runs detached). The core takes a Logger so tests can capture it.
 */

export type Logger = (line: string) => void;

export function stderrLogger(prefix = 'stasis-coordinator'): Logger {
  return (line) => {
    process.stderr.write(`${new Date().toISOString()} ${prefix}: ${line}\n`);
  };
}

export const silentLogger: Logger = () => undefined;
