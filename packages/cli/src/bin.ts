#!/usr/bin/env node
import { main } from './main.js';

// The only place that listens for signals: commands see them as an aborted
// signal and stop cleanly (berth copy saves its checkpoint). A second signal
// stops at once.
const interrupt = new AbortController();
const onSignal = (signal: NodeJS.Signals): void => {
  if (interrupt.signal.aborted) process.exit(130);
  interrupt.abort(new Error(`received ${signal}`));
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

process.exitCode = await main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  signal: interrupt.signal,
});
process.removeListener('SIGINT', onSignal);
process.removeListener('SIGTERM', onSignal);
