export * from './volume.js';
export { readVolume, readLabels, writeVolume, toLabelArray, imageExtension, EXTENSIONS } from './io.js';
