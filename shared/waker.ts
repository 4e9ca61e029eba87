/** A loop's sleep that a notification (or stop) cuts short; a wake before the wait is not lost. */
export class Waker {
  private pending = false;
  private release: (() => void) | null = null;

  wake(): void {
    this.pending = true;
    this.release?.();
  }

  /** Waits up to `ms`, or until `wake()` — including one that came since the last wait. True when woken. */
  wait(ms: number): Promise<boolean> {
    if (this.pending) {
      this.pending = false;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      const done = (woken: boolean) => {
        clearTimeout(timer);
        this.release = null;
        this.pending = false;
        resolve(woken);
      };
      const timer = setTimeout(() => done(false), Math.max(0, ms));
      this.release = () => done(true);
    });
  }
}
