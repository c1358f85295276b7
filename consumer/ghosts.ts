/**
 * No ghost consumers in a stream design's group (see `forgetIdleConsumers`): a consumer that
 * stops holding nothing leaves the group, and the live ones remove, now and then, members idle
 * longer than `CONSUMER_GC_MS` that hold nothing, so the monitor's active count stays honest.
 * @module
 */
import {
  errorMessage,
  forgetConsumer,
  forgetIdleConsumers,
  type Logger,
  type RedisClient,
  unhealableReason,
} from "@fastpix/infra";

/** How often a consumer looks for idle members: half of `CONSUMER_GC_MS`, at most once a minute. */
export function ghostCheckEveryMs(gcMs: number): number {
  return Math.min(60_000, Math.max(100, Math.floor(gcMs / 2)));
}

/**
 * One consumer's part in keeping its group free of ghosts. Where Redis does not permit it (an ACL
 * user without `+xinfo|consumers` or `+xgroup|delconsumer`), it says so once and leaves the
 * clean-up to others: it is a nicety, not a reason to stop consuming.
 */
export class GroupMembership {
  #next = 0;
  #refused = false;

  constructor(
    readonly redis: RedisClient,
    readonly where: { stream: string; group: string; consumerName: string },
    readonly gcMs: number,
    readonly log: Logger,
  ) {}

  /** Removes members idle longer than `gcMs` that hold nothing, when it is time to look. */
  async collect(now = Date.now()): Promise<void> {
    if (now < this.#next || this.#refused) return;
    this.#next = now + ghostCheckEveryMs(this.gcMs);
    const { stream, group, consumerName } = this.where;
    let gone: string[];
    try {
      gone = await forgetIdleConsumers(this.redis, stream, group, this.gcMs, consumerName);
    } catch (error) {
      if (unhealableReason(error) === undefined) throw error;
      this.#refused = true;
      this.log.warn(
        `cannot remove idle consumers from group ${group} (${errorMessage(error)}): ` +
          "grant +xinfo|consumers and +xgroup|delconsumer; clean-up off in this consumer",
      );
      return;
    }
    if (gone.length === 0) return;
    this.log.info(
      `removed ${gone.length} consumer${
        gone.length > 1 ? "s" : ""
      } idle for over ${this.gcMs} ms ` +
        `with nothing pending from group ${group}: ${gone.join(", ")}`,
    );
  }

  /**
   * On a clean exit: leaves the group, unless it still holds entries (they must be reclaimed
   * first). A failure is only logged: the live consumers forget this one later.
   */
  async leave(): Promise<void> {
    const { stream, group, consumerName } = this.where;
    let outcome: Awaited<ReturnType<typeof forgetConsumer>>;
    try {
      outcome = await forgetConsumer(this.redis, stream, group, consumerName);
    } catch (error) {
      this.log.warn(`cannot leave group ${group}: ${errorMessage(error)}`);
      return;
    }
    if (outcome !== "kept") return;
    this.log.info(
      `stays in group ${group}: it holds pending entries, which another consumer reclaims after ` +
        "IDLE_THRESHOLD_MS (then the group forgets it)",
    );
  }
}
