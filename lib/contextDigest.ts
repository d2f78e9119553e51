import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";

function listFiles(dir: string, prefix = ""): string[] {
  return fs
    .readdirSync(path.join(dir, prefix), { withFileTypes: true })
    .flatMap((entry) => {
      const relative = path.posix.join(prefix, entry.name);
      return entry.isDirectory() ? listFiles(dir, relative) : [relative];
    })
    .sort();
}

/**
 * A short digest of a build context's files and the target platform: the image tag that says
 * exactly what was built. The same sources for the same platform give the same tag.
 */
export function contextDigest(dir: string, platform: string): string {
  const hash = crypto.createHash("sha256").update(`platform=${platform}\n`);
  for (const file of listFiles(dir)) {
    hash.update(`${file}\n`).update(fs.readFileSync(path.join(dir, file)));
  }
  return hash.digest("hex").slice(0, 12);
}
