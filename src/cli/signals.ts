// Stop requests reaching the CLI: Ctrl-C (SIGINT), `kill` / systemd / containers (SIGTERM), a closed
// terminal (SIGHUP), and the launcher's death (bin/comboseg.js runs this process as its child).

/** Signals that stop a command the way Ctrl-C does. */
export const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
export type StopSignalName = (typeof STOP_SIGNALS)[number];

/** A terminal's Ctrl-C reaches the launcher and this process; the launcher forwards it: one press. */
const SAME_PRESS_MS = 1000;

/**
 * Calls `handler` for each stop request, counting requests (1: stop cleanly, 2: abort); signals
 * arriving within a second of the last one are the same request. Returns the function that
 * removes the handler.
 */
export function onStopRequest(handler: (count: number, signal: StopSignalName) => void): () => void {
  let count = 0;
  let last = -Infinity;
  const listeners = STOP_SIGNALS.map((signal) => {
    const listener = (): void => {
      const now = performance.now();
      if (now - last < SAME_PRESS_MS) return;
      last = now;
      count++;
      handler(count, signal);
    };
    process.on(signal, listener);
    return [signal, listener] as const;
  });
  return () => {
    for (const [signal, listener] of listeners) process.off(signal, listener);
  };
}

/**
 * When the launcher that started this process dies (SIGKILL, a crash), this process would run on
 * as an orphan: it sends itself SIGTERM instead, so a command stops as it would on `kill`.
 * Checked every `intervalMs`; the timer never keeps the process alive.
 */
export function watchLauncher(intervalMs = 1000): void {
  if (!process.env.COMBOSEG_LAUNCHED) return;
  const launcher = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid !== launcher) {
      clearInterval(timer);
      process.kill(process.pid, 'SIGTERM');
    }
  }, intervalMs);
  timer.unref();
}
