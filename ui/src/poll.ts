/**
 * Repeats `work` every `intervalMs` after the previous run finished, paused while the tab is
 * hidden, until `stop()`. Live updates are polling: simple, cacheable on the server, and robust
 * to a server restart.
 *
 * @example
 * const poll = new Poller(() => refresh(), 2000);
 * poll.stop();
 */
export class Poller {
  private timer: number | null = null;
  private stopped = false;
  private readonly onVisibility = (): void => {
    if (!document.hidden && this.timer === null && !this.stopped) this.schedule(0);
  };

  constructor(
    private readonly work: () => Promise<unknown>,
    private readonly intervalMs: number,
  ) {
    document.addEventListener("visibilitychange", this.onVisibility);
    this.schedule(intervalMs);
  }

  private schedule(delay: number): void {
    this.timer = window.setTimeout(async () => {
      this.timer = null;
      if (this.stopped || document.hidden) return;
      try {
        await this.work();
      } catch {
        // A failed poll (server restarting) is retried at the next tick.
      }
      if (!this.stopped) this.schedule(this.intervalMs);
    }, delay);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) window.clearTimeout(this.timer);
    document.removeEventListener("visibilitychange", this.onVisibility);
  }
}
