/**
 * How each storage of this process was opened (its URL and `storage:` settings), so that a
 * worker thread can open the same storage itself (see worker-storage.ts). Kept by URL: a
 * storage and the wrappers around it (the object cache) share it.
 */
export interface StorageRecipe {
  /** The storage's own URL (`storage.url`): an absolute folder, or s3://, gs://, azure://. */
  url: string;
  /** The `storage:` mapping of cairn.yaml it was opened with, unchecked (openStorage checks it). */
  settings: unknown;
}

const recipes = new Map<string, StorageRecipe>();

/**
 * Notes how a storage was opened. Called by openStorage for every storage it returns.
 *
 * @example
 * rememberRecipe({ url: storage.url, settings: { region: "eu-west-1" } });
 */
export function rememberRecipe(recipe: StorageRecipe): void {
  try {
    // A copy, as the worker will get it (and safe from later changes to the caller's object).
    recipes.set(recipe.url, { url: recipe.url, settings: structuredClone(recipe.settings) });
  } catch {
    // Settings that cannot be copied to a thread: this storage is used on the main thread only.
    recipes.delete(recipe.url);
  }
}

/**
 * How the storage at `url` was opened in this process, or null for one not opened by
 * openStorage (a test's stand-in), which no worker can reproduce.
 *
 * @example
 * const recipe = recipeFor(storage.url); // { url: "s3://models/team-a", settings: {...} }
 */
export function recipeFor(url: string): StorageRecipe | null {
  return recipes.get(url) ?? null;
}
