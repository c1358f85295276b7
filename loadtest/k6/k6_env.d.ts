/**
 * What the k6 runtime has and `@types/k6@1.7.0` does not declare (the scripts are checked without
 * Deno's or the DOM's globals, so anything else they use must come from k6).
 */
export {};

declare global {
  /** k6's console (its output goes to k6's log). */
  var console: {
    log(...data: unknown[]): void;
    info(...data: unknown[]): void;
    warn(...data: unknown[]): void;
    error(...data: unknown[]): void;
    debug(...data: unknown[]): void;
  };
}

declare module "k6/experimental/redis" {
  interface Client {
    /**
     * Sends any command (documented by k6 as `Client.sendCommand(command, args)`); resolves to
     * the server's reply.
     */
    sendCommand(command: string, ...args: Array<string | number | boolean>): Promise<unknown>;
  }
}
