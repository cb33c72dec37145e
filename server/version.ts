// Replaced at build time by esbuild's `define`; the fallback serves tsx runs from source.
declare const STEPLENS_VERSION: string | undefined;
export const VERSION: string = typeof STEPLENS_VERSION === "string" ? STEPLENS_VERSION : "0.1.0-dev";
