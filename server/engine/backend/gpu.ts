// Which GPU types llama.cpp could use on this machine and, for each one it cannot, why not: the
// status bar, `steplens doctor` and the error for a wrong `steplens.gpu` all say the same thing.
// node-llama-cpp only answers "supported or not"; the reasons come from what is missing (a platform
// that has no such GPU, a prebuilt binary that is not installed, a driver or runtime not found).

import { existsSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import type { GpuSetting } from "./llamaCpp.js";

export const GPU_TYPES = ["cuda", "vulkan", "metal"] as const;
export type GpuType = (typeof GPU_TYPES)[number];

export interface GpuTypeStatus {
  type: GpuType;
  usable: boolean;
  /** Why it cannot be used, and what would fix it. */
  reason?: string;
}

export interface GpuSurvey {
  /** node-llama-cpp's platform name (linux, mac, win) and architecture. */
  platform: string;
  arch: string;
  types: GpuTypeStatus[];
  /** Installed prebuilt llama.cpp binary packages, e.g. linux-x64, linux-x64-cuda. */
  prebuilt: string[];
  /** node-llama-cpp's package folder, when it can be found. */
  packageDir?: string;
}

export const GPU_NAMES: Record<GpuType, string> = { cuda: "CUDA", vulkan: "Vulkan", metal: "Metal" };

export function llamaPlatform(): string {
  return process.platform === "darwin" ? "mac" : process.platform === "win32" ? "win" : process.platform;
}

/** node_modules/node-llama-cpp, wherever the CLI or the extension runs from. */
export function nodeLlamaCppDir(): string | undefined {
  try {
    const entry = createRequire(import.meta.url).resolve("node-llama-cpp");
    const i = entry.lastIndexOf(`${path.sep}node-llama-cpp${path.sep}`);
    return i >= 0 ? entry.slice(0, i + `${path.sep}node-llama-cpp`.length) : undefined;
  } catch {
    return undefined;
  }
}

/** The @node-llama-cpp/* binary packages beside node-llama-cpp. */
export function installedPrebuilt(packageDir: string | undefined): string[] {
  if (!packageDir) return [];
  const scope = path.join(path.dirname(packageDir), "@node-llama-cpp");
  if (!existsSync(scope)) return [];
  return readdirSync(scope)
    .filter((name) => existsSync(path.join(scope, name, "bins")))
    .sort();
}

function missingRuntime(type: GpuType, platform: string): string {
  if (type === "cuda") {
    const driver = platform === "linux" ? existsSync("/proc/driver/nvidia/version") : undefined;
    return driver === false
      ? "no NVIDIA driver is loaded (/proc/driver/nvidia/version is missing): this machine has no usable NVIDIA GPU, or its driver is not installed"
      : "the CUDA runtime libraries (libcudart, libcublas; CUDA 12) were not found: install the NVIDIA driver and the CUDA 12 runtime";
  }
  if (type === "vulkan") return "no Vulkan loader or driver was found (libvulkan): install the GPU vendor's Vulkan driver (on Linux e.g. mesa-vulkan-drivers)";
  return "Metal is not available on this Mac";
}

let surveyed: Promise<GpuSurvey> | undefined;

/** Drivers and installed binaries do not change while the process runs, so the survey is made once. */
export function surveyGpus(): Promise<GpuSurvey> {
  surveyed ??= survey();
  surveyed.catch(() => (surveyed = undefined));
  return surveyed;
}

async function survey(): Promise<GpuSurvey> {
  const { getLlamaGpuTypes } = await import("node-llama-cpp");
  const [supported, valid] = await Promise.all([getLlamaGpuTypes("supported"), getLlamaGpuTypes("allValid")]);
  const platform = llamaPlatform();
  const arch = process.arch;
  const packageDir = nodeLlamaCppDir();
  const prebuilt = installedPrebuilt(packageDir);
  const types = GPU_TYPES.map((type): GpuTypeStatus => {
    if (!(valid as readonly unknown[]).includes(type)) {
      return { type, usable: false, reason: `${GPU_NAMES[type]} does not exist on ${platform}-${arch}${type === "metal" ? " (Metal is macOS only)" : ""}` };
    }
    // Metal is built into the mac-arm64-metal binary; the others ship as their own package.
    const binary = type === "metal" ? prebuilt.some((p) => p.includes("metal")) : prebuilt.some((p) => p.startsWith(`${platform}-${arch}-${type}`));
    if (!binary && packageDir) {
      return {
        type,
        usable: false,
        reason: `no prebuilt llama.cpp binary for ${GPU_NAMES[type]} is installed (@node-llama-cpp/${platform}-${arch}-${type}); install node-llama-cpp with its optional dependencies, or use the StepLens build for this platform`,
      };
    }
    if (!(supported as readonly unknown[]).includes(type)) return { type, usable: false, reason: missingRuntime(type, platform) };
    return { type, usable: true };
  });
  return { platform, arch, types, prebuilt, packageDir };
}

/** Why `gpu: auto` ended up on the CPU: each GPU type's reason, one sentence. */
export function whyNoGpu(survey: GpuSurvey): string {
  const parts = survey.types.filter((t) => !t.usable && !t.reason?.includes("does not exist")).map((t) => `${GPU_NAMES[t.type]}: ${t.reason}`);
  return parts.length > 0 ? `no usable GPU (${parts.join("; ")})` : `no GPU type llama.cpp supports exists on ${survey.platform}-${survey.arch}`;
}

/**
 * The message for a `gpu` setting that names a GPU this machine cannot use: what is missing, and
 * that auto or off work.
 */
export function gpuUnavailableMessage(requested: GpuSetting, survey: GpuSurvey | undefined, detail?: string): string {
  const type = requested as GpuType;
  const status = survey?.types.find((t) => t.type === type);
  const why = status?.reason ?? detail ?? "llama.cpp could not start with it";
  return (
    `the GPU setting is "${requested}" (--gpu / steplens.gpu) but ${GPU_NAMES[type] ?? requested} cannot be used here: ${why}. ` +
    `Use "auto" (a GPU when one works, otherwise the CPU) or "off" (CPU only).`
  );
}
