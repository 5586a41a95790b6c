export { Module } from './module.js';
export { Conv3d, ConvTranspose3d, observeConvolutions, type ConvOptions, type ConvObserver } from './conv.js';
export { BatchNorm3d, ReLU, PReLU, MaxPool3d, MaxUnpool3d, Upsample, Sequential, type UpsampleMode } from './layers.js';
export { glorotUniform, constant } from './init.js';
