// Post-processing of a label map: nnU-Net's "remove all but the largest component" per organ.
//
// Components are 26-connected (voxels that share a face, an edge or a corner belong together), as
// nnU-Net's full connectivity (scipy.ndimage.label with a 3×3×3 structure): a thin or oblique organ
// whose voxels touch only along edges or corners stays one component instead of being cut into
// pieces of which all but one would be erased. Connectivity is on the voxel grid, whatever the
// spacing.
import { ComboSegError } from '../engine/errors.js';
import type { LabelSet } from '../data/labels.js';
import { channelCount, withData, type Volume, type VoxelArray } from '../data/volume.js';

/**
 * Labels the components of the voxels whose value is in `organs`: `component[i]` is the index
 * (1-based, in scan order of their first voxel) of voxel i's component, 0 for other voxels.
 * `sizes[c]` is component c's voxel count and `organOf[c]` its label value. Linear time: a
 * breadth-first search that visits each voxel once and looks at its 26 neighbours.
 */
function components(data: VoxelArray, size: readonly number[], organs: ReadonlySet<number>) {
  const [X, Y, Z] = size;
  const XY = X * Y;
  const component = new Int32Array(data.length);
  const queue = new Int32Array(data.length);
  const sizes = [0],
    organOf = [0];
  for (let seed = 0; seed < data.length; seed++) {
    const v = data[seed];
    if (component[seed] !== 0 || !organs.has(v)) continue;
    const c = sizes.length;
    let head = 0,
      tail = 0;
    queue[tail++] = seed;
    component[seed] = c;
    while (head < tail) {
      const i = queue[head++];
      const z = Math.floor(i / XY),
        y = Math.floor((i % XY) / X),
        x = i % X;
      for (let dz = z > 0 ? -1 : 0; dz <= (z < Z - 1 ? 1 : 0); dz++) {
        for (let dy = y > 0 ? -1 : 0; dy <= (y < Y - 1 ? 1 : 0); dy++) {
          for (let dx = x > 0 ? -1 : 0; dx <= (x < X - 1 ? 1 : 0); dx++) {
            const j = i + dz * XY + dy * X + dx;
            if (component[j] === 0 && data[j] === v) {
              component[j] = c;
              queue[tail++] = j;
            }
          }
        }
      }
    }
    sizes.push(tail);
    organOf.push(v);
  }
  return { component, sizes, organOf };
}

/**
 * A copy of the label map `labels` where each label value in `organs` keeps only its largest
 * 26-connected component (the first in scan order, x fastest, among equally large ones); that
 * organ's other voxels become background (0). Other values, and an organ with no voxels, are
 * left as they are.
 */
export function largestComponents(labels: Volume, organs: number[]): Volume {
  if (channelCount(labels) !== 1) {
    throw new ComboSegError(`largestComponents: a label map has one channel, got ${channelCount(labels)}`, {
      code: 'invalid-input',
    });
  }
  const out = labels.data.slice();
  const { component, sizes, organOf } = components(labels.data, labels.size, new Set(organs));
  const largest = new Map<number, number>(); // organ → its largest component
  for (let c = 1; c < sizes.length; c++) {
    const best = largest.get(organOf[c]);
    if (best === undefined || sizes[c] > sizes[best]) largest.set(organOf[c], c);
  }
  for (let i = 0; i < out.length; i++) {
    const c = component[i];
    if (c !== 0 && largest.get(organOf[c]) !== c) out[i] = 0;
  }
  return withData(labels, out, labels.pixelType);
}

/**
 * The label values the `largestComponent` inference setting names: every organ (true), none
 * (false, unset), or the organs named; an unknown name is a ComboSegError listing the known ones.
 */
export function largestComponentOrgans(labels: LabelSet, setting: boolean | string[] | undefined): number[] {
  if (setting === undefined || setting === false) return [];
  if (setting === true) return [...labels.values];
  return setting.map((name) => {
    const k = labels.names.indexOf(name);
    if (k < 0) {
      const known = labels.names.map((n) => `'${n}'`).join(', ');
      throw new ComboSegError(`largestComponent: no organ '${name}' in the model; its organs are ${known}`, {
        code: 'invalid-option',
        path: 'largestComponent',
      });
    }
    return labels.values[k];
  });
}
