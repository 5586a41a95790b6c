export * from './volume.js';
export {
  readVolume,
  readLabels,
  writeVolume,
  toLabelArray,
  imageExtension,
  EXTENSIONS,
  type ReadOptions,
} from './io.js';
export { volumeInfo, type VolumeInfo } from './info.js';
export { labelSetFrom, oneHot, labelsFromProbabilities, labelCounts, type LabelSet } from './labels.js';
export {
  computeNormalisation,
  computeChannelNormalisation,
  normalise,
  normaliseChannels,
  minMaxInPlace,
  minMaxChannelsInPlace,
  type Normalisation,
  type NormalisationKind,
} from './normalise.js';
export {
  resampleToSize,
  resampleToSpacing,
  resampleLike,
  geometryForSize,
  sizeForSpacing,
  type ResampleMode,
} from './resample.js';
export { extractPatch, extractChannelsPatch, toBatch, type Patch } from './patch.js';
export {
  PaperSampler,
  RatioSampler,
  WholeVolumeSampler,
  mixSeed,
  type Sampler,
  type SampleCase,
  type PaperSamplerOptions,
  type RatioSamplerOptions,
} from './sampler.js';
export {
  readMsd,
  readPairs,
  readCaseFolders,
  openDataset,
  split,
  kFold,
  loadCase,
  loadCaseImage,
  caseImageFiles,
  channelFileName,
  type Dataset,
  type DatasetCase,
  type DataSpec,
} from './datasets.js';
export {
  phantomCase,
  writeSyntheticDataset,
  PHANTOM_KINDS,
  petPhantom,
  mriProstatePhantom,
  echoLvPhantom,
  type Phantom,
  type PhantomKind,
} from './phantoms/index.js';
export {
  sliceOverlay,
  errorOverlay,
  sideBySide,
  fitZoom,
  centreOfMass,
  displayWindow,
  SLICE_AXES,
  type SliceAxis,
  type Picture,
  type PlaneOptions,
} from './overlay.js';
export {
  ORGAN_COLOURS,
  // eslint-disable-next-line @typescript-eslint/no-deprecated -- the old name, kept for its users
  LABEL_COLOURS,
  ERROR_COLOURS,
  ERROR_NAMES,
  ORGAN_FILL_OPACITY,
  SUV_WINDOW,
  organColour,
  type Rgb,
  type ErrorKind,
} from './palette.js';
export { differenceMap, differenceLegend, voxelOutcome, DIFFERENCE_CODES, type LegendEntry } from './difference.js';
