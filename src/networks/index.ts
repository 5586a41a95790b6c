export { create, saveNetwork, loadNetwork, NETWORK_NAMES, type NetworkName, type NetworkOptionsByName } from './registry.js';
export { Network, type NetworkOptions } from './network.js';
export { ProposedNet, PROPOSED_DEFAULTS, type ProposedOptions } from './proposed.js';
export { Unet3d, UNET3D_DEFAULTS, type Unet3dOptions, type UnetUpsampling } from './unet3d.js';
export { Vnet, VNET_DEFAULTS, type VnetOptions } from './vnet.js';
export { Segnet3d, SEGNET3D_DEFAULTS, type Segnet3dOptions } from './segnet3d.js';
