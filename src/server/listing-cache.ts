import { buildListing, type Listing, type ListingQuery } from "./listing.js";
import type { Snapshot } from "./snapshot.js";

/** How many recent queries are kept: enough for a table being paged, sorted back and forth. */
const KEEP = 16;

/**
 * Listings of recent queries for the current snapshot. Scrolling a 10,000-row table asks for many
 * windows of the same query; each is then a slice instead of a filter and sort of everything.
 *
 * @example
 * const listing = cache.get(snapshot, { filter: [], sort: "metrics.loss" });
 */
export class ListingCache {
  private version = -1;
  private readonly entries = new Map<string, Listing>();

  get(snapshot: Snapshot, query: ListingQuery): Listing {
    if (snapshot.version !== this.version) {
      this.entries.clear();
      this.version = snapshot.version;
    }
    const key = JSON.stringify([query.filter, query.sort ?? null]);
    let listing = this.entries.get(key);
    if (listing) {
      this.entries.delete(key); // re-insert: most recently used last
    } else {
      listing = buildListing(snapshot, query);
      if (this.entries.size >= KEEP) this.entries.delete(this.entries.keys().next().value!);
    }
    this.entries.set(key, listing);
    return listing;
  }
}
