export { slidingWindow, wholeVolume, windowStarts, gaussianMap, type Aggregation, type SlidingWindowOptions } from './sliding-window.js';
