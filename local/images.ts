/**
 * The local images: built by scripts/build-images.sh (the same script `npm run test:containers`
 * uses, so its cache is shared), checked against the stack's platform, and read for what this
 * machine's build left out.
 */
import Docker from "dockerode";
import { spawnSync } from "child_process";
import * as path from "path";
import type { Platform } from "../lib/config";
import { PROJECT_DIR } from "../lib/stackFile";
import { ContainerName } from "../lib/containers";
import { imageLabels } from "./docker";

/** The label the databases image carries when it was built without MongoDB. */
export const MONGODB_LABEL = "org.aura.mongodb";

/** Docker's architecture names for the stack's platforms. */
const ENGINE_ARCHITECTURES: Readonly<Record<Platform, string>> = {
  "linux/amd64": "amd64",
  "linux/arm64": "arm64",
};

/**
 * Fails when the engine cannot run the stack's platform natively: the original loop began with
 * images built for the wrong architecture, and a local run must not hide that.
 */
export async function checkPlatform(docker: Docker, platform: Platform): Promise<void> {
  const version = await docker.version();
  const engine = `${version.Os}/${version.Arch}`;
  if (version.Os !== "linux" || version.Arch !== ENGINE_ARCHITECTURES[platform]) {
    throw new Error(
      `aura:platform is ${platform} but the local engine is ${engine}: a local run uses native images only`,
    );
  }
}

/** Runs scripts/build-images.sh, streaming its output; throws when it fails. */
export function buildImages(): void {
  const script = path.join(PROJECT_DIR, "scripts", "build-images.sh");
  const result = spawnSync("bash", [script], { stdio: "inherit", cwd: PROJECT_DIR });
  if (result.status !== 0) {
    throw new Error(`scripts/build-images.sh failed (exit ${result.status ?? result.signal})`);
  }
}

/** Throws naming every image that is not on the engine. */
export async function checkImagesPresent(
  docker: Docker,
  images: Readonly<Record<ContainerName, string>>,
): Promise<void> {
  const missing: string[] = [];
  for (const image of Object.values(images)) {
    if ((await imageLabels(docker, image)) === undefined) missing.push(image);
  }
  if (missing.length > 0) {
    throw new Error(
      `missing image(s) ${missing.join(", ")}: build them with scripts/build-images.sh or drop --no-build`,
    );
  }
}

/** Whether the databases image was built without MongoDB, by its label, never by guessing. */
export async function mongoAbsent(docker: Docker, databasesImage: string): Promise<boolean> {
  const labels = await imageLabels(docker, databasesImage);
  return labels?.[MONGODB_LABEL] === "absent";
}

/**
 * Environment this machine's build needs on top of the definitions: an app told that MongoDB is
 * not in the databases image, so it does not wait for it. Empty for a full build.
 */
export async function buildAdaptations(
  docker: Docker,
  images: Readonly<Record<ContainerName, string>>,
): Promise<Record<string, Record<string, string>>> {
  return (await mongoAbsent(docker, images.databases))
    ? { "service-desk-host": { MONGO_ENABLED: "false" } }
    : {};
}
