// The one rule for collection names, checked by the master before anything is allocated (an
// assign, a grow) and by the volume server before it creates files: a name the master accepts is
// never refused by a volume server after a volume id was spent on it.
import { ErrorCode, WeedError } from "./errors.js";

/**
 * Volume files are named `<collection>_<volumeId>.<ext>` (SeaweedFS's layout): with a 10-digit
 * id and the longest extension, 200 characters keep the file name under the 255 bytes that
 * ext4, xfs and most file systems allow.
 */
export const collectionNameCharsMax = 200;

/** Letters, digits, '.', '_' and '-', starting with a letter or digit: no separators, no "..". */
const COLLECTION_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** "" (the default collection) or a valid name; anything else is a BAD_PARAM naming the rule. */
export function checkCollectionName(name: string): string {
  if (name === "" || (name.length <= collectionNameCharsMax && COLLECTION_NAME.test(name))) return name;
  throw new WeedError(
    ErrorCode.BAD_PARAM,
    `invalid collection name ${JSON.stringify(name.slice(0, 64))}${name.length > 64 ? "..." : ""}: ` +
      `1-${collectionNameCharsMax} letters, digits, '.', '_' or '-', starting with a letter or digit`,
  );
}
