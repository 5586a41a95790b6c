// networks.create(name, options) and checkpoint helpers.
import type { z } from 'zod';
import { ComboSegError } from '../engine/errors.js';
import { loadSafetensors, saveSafetensors, type JsonValue } from '../engine/safetensors.js';
import { dispose } from '../engine/scope.js';
import { didYouMean } from '../util/options.js';
import type { Network } from './network.js';
import { ProposedNet, ProposedOptionsSchema } from './proposed.js';
import { Unet3d, Unet3dOptionsSchema } from './unet3d.js';
import { Vnet, VnetOptionsSchema } from './vnet.js';
import { Segnet3d, Segnet3dOptionsSchema } from './segnet3d.js';

interface NetworkEntry<S extends z.ZodTypeAny> {
  schema: S;
  create: (o?: Partial<z.output<S>>) => Network;
}

const entry = <S extends z.ZodTypeAny>(e: NetworkEntry<S>): NetworkEntry<S> => e;

/** Every network, with the schema of its options (the one declaration of them). */
export const NETWORKS = {
  proposed: entry({ schema: ProposedOptionsSchema, create: (o) => new ProposedNet(o) }),
  unet3d: entry({ schema: Unet3dOptionsSchema, create: (o) => new Unet3d(o) }),
  vnet: entry({ schema: VnetOptionsSchema, create: (o) => new Vnet(o) }),
  segnet3d: entry({ schema: Segnet3dOptionsSchema, create: (o) => new Segnet3d(o) }),
} as const;

export type NetworkName = keyof typeof NETWORKS;
export type NetworkOptionsByName = { [K in NetworkName]: z.output<(typeof NETWORKS)[K]['schema']> };
export const NETWORK_NAMES = Object.keys(NETWORKS) as NetworkName[];

/** Whether `name` is a network; else throws, naming the closest one. */
export function checkNetworkName(name: string): asserts name is NetworkName {
  if (!(name in NETWORKS)) {
    throw new ComboSegError(
      `unknown network '${name}'.${didYouMean(name, NETWORK_NAMES)} Known networks: ${NETWORK_NAMES.join(', ')}`,
      { code: 'invalid-option' },
    );
  }
}

/**
 * Builds a network by name; options are checked once, against the network's schema.
 * @example const net = create('proposed', { inChannels: 1, outChannels: 5 });
 */
export function create<K extends NetworkName>(name: K, options?: Partial<NetworkOptionsByName[K]>): Network;
export function create(name: string, options?: Record<string, unknown>): Network;
export function create(name: string, options: Record<string, unknown> = {}): Network {
  checkNetworkName(name);
  return (NETWORKS[name].create as (o: Record<string, unknown>) => Network)(options);
}

/** Saves weights and running statistics as safetensors, with the network's name and options as metadata. */
export function saveNetwork(path: string, net: Network, extra: { [k: string]: JsonValue } = {}): void {
  const options: { [k: string]: JsonValue } = { ...net.options };
  saveSafetensors(path, net.stateDict(), { ...extra, network: net.name, options });
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
