export {
  create,
  checkNetworkName,
  saveNetwork,
  loadNetwork,
  NETWORKS,
  NETWORK_NAMES,
  type NetworkName,
  type NetworkOptionsByName,
} from './registry.js';
export { Network } from './network.js';
export { NetworkOptionsSchema, type NetworkOptions } from './options.js';
export { ProposedNet, ProposedOptionsSchema, type ProposedOptions } from './proposed.js';
export { Unet3d, Unet3dOptionsSchema, type Unet3dOptions, type UnetUpsampling } from './unet3d.js';
export { Vnet, VnetOptionsSchema, type VnetOptions } from './vnet.js';
export { Segnet3d, Segnet3dOptionsSchema, type Segnet3dOptions } from './segnet3d.js';
