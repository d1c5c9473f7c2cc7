/**
 * An ETag without its quotes or weak marker, so a listing and a lookup of the same object give
 * the same token (services quote them in one place and not the other).
 *
 * @example
 * plainEtag('"0x1BEAAFE09339750"'); // "0x1BEAAFE09339750"
 */
export function plainEtag(etag: string | undefined): string {
  return (etag ?? "").replace(/^W\//, "").replace(/^"(.*)"$/, "$1");
}
