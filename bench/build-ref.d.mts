// Types for the plain ESM helper build-ref.mjs.

/** Path of the compiled C++ reference binary (bench/build/unet_ref). */
export declare const refBinary: string;

/** Compiles bench/cpp/unet_ref.cc unless up to date; returns the binary's path. */
export declare function buildReference(): string;
