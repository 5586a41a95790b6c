// networks.create(name, options) and checkpoint helpers.
import { ComboSegError } from '../engine/errors.js';
import { loadSafetensors, saveSafetensors, type JsonValue } from '../engine/safetensors.js';
import { dispose } from '../engine/scope.js';
import type { Network } from './network.js';
import { ProposedNet, type ProposedOptions } from './proposed.js';
import { Unet3d, type Unet3dOptions } from './unet3d.js';
import { Vnet, type VnetOptions } from './vnet.js';
import { Segnet3d, type Segnet3dOptions } from './segnet3d.js';

export interface NetworkOptionsByName { proposed: ProposedOptions; unet3d: Unet3dOptions; vnet: VnetOptions; segnet3d: Segnet3dOptions }
export type NetworkName = keyof NetworkOptionsByName;

const CLASSES: { [K in NetworkName]: new (o?: Partial<NetworkOptionsByName[K]>) => Network } = {
  proposed: ProposedNet, unet3d: Unet3d, vnet: Vnet, segnet3d: Segnet3d,
};
export const NETWORK_NAMES = Object.keys(CLASSES) as NetworkName[];

/**
 * Builds a network by name; options are checked once.
 * @example const net = create('proposed', { inChannels: 1, outChannels: 5 });
 */
export function create<K extends NetworkName>(name: K, options?: Partial<NetworkOptionsByName[K]>): Network;
export function create(name: string, options?: Record<string, unknown>): Network;
export function create(name: string, options: Record<string, unknown> = {}): Network {
  if (!(name in CLASSES)) throw new ComboSegError(`unknown network '${name}'. Known networks: ${NETWORK_NAMES.join(', ')}`);
  return new (CLASSES[name as NetworkName] as new (o: Record<string, unknown>) => Network)(options);
}

/** Saves weights and running statistics as safetensors, with the network's name and options as metadata. */
export function saveNetwork(path: string, net: Network, extra: { [k: string]: JsonValue } = {}): void {
  saveSafetensors(path, net.stateDict(), { ...extra, network: net.name, options: net.options as unknown as JsonValue });
}

/** Rebuilds a network saved by saveNetwork. */
export function loadNetwork(path: string): { network: Network; metadata: { [k: string]: JsonValue } } {
  const st = loadSafetensors(path);
  try {
    const name = st.metadata.network;
    if (typeof name !== 'string') throw new ComboSegError(`${path}: no network name in the checkpoint metadata`);
    const network = create(name, (st.metadata.options ?? {}) as Record<string, unknown>);
    network.loadStateDict(st.tensors);
    return { network, metadata: st.metadata };
  } finally {
    dispose(st.tensors);
  }
}
