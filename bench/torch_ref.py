# PyTorch reference for side-by-side benchmarks of comboseg's three networks, mirroring
# src/networks/{proposed,unet3d,vnet}.ts at their default options (1 input, 5 output channels):
#   proposed: no skips; per level 2 × (3³ conv → BN → ReLU), widths 32,64,128,256,312; 2³ max-pool down,
#             2³ nearest up-sampling up; 1³ head.                                      13,972,629 parameters
#   unet3d:   Çiçek; encoder level i: conv(→ f_i), conv(f_i → 2 f_i), f = 32,64,128,256, each conv → BN → ReLU;
#             2³ max-pool; 2³ stride-2 transposed conv (channels kept), concat with the skip, 2 convs to
#             2 f_i; 1³ head.                                                          19,073,925 parameters
#   vnet:     Milletari; 5³ conv → BN → PReLU (per channel), channels 16..256, encoder convs 1,2,3,3,3,
#             decoder 3,3,2,1; residual add per stage (the 1-channel input broadcast by its channel mean);
#             down: 2³ stride-2 conv → BN → PReLU doubling channels; up: 2³ stride-2 transposed conv → BN →
#             PReLU halving, concat with the skip; 1³ head.                           65,182,325 parameters
# Module names follow comboseg's state-dict names (encoder.i, decoder.i, up.i, down.i, head); convolutions
# are Glorot-uniform with zero biases, batch norm momentum 0.1, eps 1e-5, PReLU slopes 0.25, as comboseg.
# Training step: Combo loss (α 0.5, β 0.4, smooth 1, 'paper' variant, flattened Dice) on float32 logits,
# Adadelta (lr 1, ρ 0.95, ε 1e-8), as comboseg's bench/network-step.ts and training.
#
# usage:
#   python3 bench/torch_ref.py step NAME SIZE BATCH MODE STEPS
#       one training step, input SIZE³, batch BATCH; prints one JSON line
#       {"name","size","batch","mode","params","medianMs","bestMs","torch"}
#   python3 bench/torch_ref.py window NAME MODE REPS
#       eval-mode forward of one 80³ window, batch 1, under torch.inference_mode; prints one JSON line
#       {"name","mode","windowMs","torch"}
#   NAME: proposed | unet3d | vnet; MODE: fp32 | bf16 (torch.autocast bfloat16) | bf16cl (bf16 with the
#   network and input in channels_last_3d). CPU, torch.set_num_threads(2); one warm-up step or pass, then
#   the median (upper median for an even count) and the best of STEPS / REPS timings.
#
# It exists because ../shared/bench has a PyTorch reference only for the proposed network
# (../shared/bench/torch_proposed.py, whose measurement protocol and loss this follows).
import json, sys, time, torch, torch.nn as nn, torch.nn.functional as F

NAMES, MODES = ('proposed', 'unet3d', 'vnet'), ('fp32', 'bf16', 'bf16cl')
USAGE = ('usage: torch_ref.py step NAME SIZE BATCH MODE STEPS | torch_ref.py window NAME MODE REPS\n'
         f'  NAME: {" | ".join(NAMES)}; MODE: {" | ".join(MODES)}')


class BatchNorm3d(nn.BatchNorm3d):
    """nn.BatchNorm3d calling aten::batch_norm directly, as comboseg's nn/layers.ts does: without F.batch_norm's
    "more than 1 value per channel" check, so SIZE = divisor at batch 1 (a 1³ bottleneck) trains, as in comboseg."""

    def forward(s, x):
        return torch.batch_norm(x, s.weight, s.bias, s.running_mean, s.running_var, s.training, s.momentum, s.eps,
                                False)


def block(ci, co, k=3, act='relu'):
    """network.ts convBlock: k³ conv ('same' padding) → batch norm → ReLU or per-channel PReLU."""
    return nn.Sequential(nn.Conv3d(ci, co, k, padding=(k - 1) // 2), BatchNorm3d(co),
                         nn.PReLU(co, init=0.25) if act == 'prelu' else nn.ReLU(inplace=True))


def stack(n, ci, co, k=3, act='relu'):
    """network.ts convStack: n blocks, the first ci → co, the rest co → co."""
    return nn.Sequential(*[block(ci if i == 0 else co, co, k, act) for i in range(n)])


class Proposed(nn.Module):
    def __init__(s, cin=1, cout=5, c=(32, 64, 128, 256, 312), convs=2, up='nearest'):
        super().__init__()
        s.divisor, s.up = 2 ** (len(c) - 1), up
        s.encoder = nn.ModuleList([stack(convs, cin if i == 0 else c[i - 1], ch) for i, ch in enumerate(c)])
        s.decoder = nn.ModuleList([stack(convs, c[i + 1], c[i]) for i in range(len(c) - 1)])  # run deepest first
        s.head = nn.Conv3d(c[0], cout, 1)

    def forward(s, x):
        for i, level in enumerate(s.encoder): x = level(x if i == 0 else F.max_pool3d(x, 2))
        for level in reversed(s.decoder): x = level(F.interpolate(x, scale_factor=2, mode=s.up))
        return s.head(x)


class Unet3d(nn.Module):
    def __init__(s, cin=1, cout=5, f=(32, 64, 128, 256)):
        super().__init__()
        out, n = [2 * fi for fi in f], len(f)
        s.divisor = 2 ** (n - 1)
        s.encoder = nn.ModuleList([nn.Sequential(block(cin if i == 0 else out[i - 1], fi), block(fi, 2 * fi))
                                   for i, fi in enumerate(f)])
        # up.i / decoder.i for i = n-2 … 0, in that (run) order; `below`: channels arriving from the level below.
        s.up, s.decoder = nn.ModuleDict(), nn.ModuleDict()
        for i in range(n - 2, -1, -1):
            below = out[i + 1]
            s.up[str(i)] = nn.ConvTranspose3d(below, below, 2, stride=2)
            s.decoder[str(i)] = stack(2, below + out[i], out[i])
        s.head = nn.Conv3d(out[0], cout, 1)

    def forward(s, x):
        skips = []
        for i, level in enumerate(s.encoder):
            x = level(x if i == 0 else F.max_pool3d(x, 2)); skips.append(x)
        for i in range(len(s.encoder) - 2, -1, -1):
            x = s.decoder[str(i)](torch.cat([s.up[str(i)](x), skips[i]], 1))
        return s.head(x)


def resample(kind, ci, co):
    """vnet.ts resample: 2³ stride-2 (transposed) conv → batch norm → PReLU."""
    conv = nn.Conv3d(ci, co, 2, stride=2) if kind == 'down' else nn.ConvTranspose3d(ci, co, 2, stride=2)
    return nn.Sequential(conv, BatchNorm3d(co), nn.PReLU(co, init=0.25))


class Vnet(nn.Module):
    def __init__(s, cin=1, cout=5, c=(16, 32, 64, 128, 256), enc=(1, 2, 3, 3, 3), dec=(3, 3, 2, 1), k=5,
                 residual=True):
        super().__init__()
        n = len(c)
        s.divisor, s.residual = 2 ** (n - 1), residual
        s.encoder = nn.ModuleList([stack(enc[i], cin if i == 0 else ch, ch, k, 'prelu') for i, ch in enumerate(c)])
        s.down = nn.ModuleList([resample('down', c[i], ch) for i, ch in enumerate(c[1:])])
        s.up, s.decoder = nn.ModuleDict(), nn.ModuleDict()
        below = c[-1]
        for st, i in enumerate(range(n - 2, -1, -1)):
            s.up[str(i)] = resample('up', below, c[i])
            s.decoder[str(i)] = stack(dec[st], 2 * c[i], 2 * c[i], k, 'prelu')
            below = 2 * c[i]
        s.head = nn.Conv3d(below, cout, 1)

    def res(s, out, inp):
        if not s.residual: return out
        # The first stage's input has fewer channels: its channel mean, broadcast (vnet.ts #residual).
        return out + (inp if inp.shape[1] == out.shape[1] else inp.mean(1, keepdim=True).expand(out.shape))

    def forward(s, x):
        skips = []
        for i, stage in enumerate(s.encoder):
            inp = x if i == 0 else s.down[i - 1](x)
            x = s.res(stage(inp), inp); skips.append(x)
        for i in range(len(s.encoder) - 2, -1, -1):
            inp = torch.cat([s.up[str(i)](x), skips[i]], 1)
            x = s.res(s.decoder[str(i)](inp), inp)
        return s.head(x)


def create(name):
    net = {'proposed': Proposed, 'unet3d': Unet3d, 'vnet': Vnet}[name]()
    with torch.no_grad():  # comboseg's init (nn/init.ts): Glorot uniform weights, zero biases
        for m in net.modules():
            if isinstance(m, (nn.Conv3d, nn.ConvTranspose3d)):
                nn.init.xavier_uniform_(m.weight); nn.init.zeros_(m.bias)
    return net


def combo(logits, t, a=0.5, b=0.4, smooth=1.0):
    """losses/combo.ts, 'paper' variant, flattened Dice, on float32 logits."""
    logits = logits.float()
    lp, l1p = F.logsigmoid(logits), F.logsigmoid(-logits)
    ce = -(b * t * lp + (1 - b) * (1 - t) * l1p).mean()
    p = torch.sigmoid(logits)
    dice = (2 * (p * t).sum() + smooth) / (p.sum() + t.sum() + smooth)
    return a * ce - (1 - a) * dice


def timed(fn, n):
    fn()  # warm-up
    ts = []
    for _ in range(n):
        t0 = time.perf_counter(); fn(); ts.append((time.perf_counter() - t0) * 1000)
    ts.sort()
    return ts[len(ts) // 2], ts[0]


def main(argv):
    cmd = argv[0] if argv else None
    if cmd not in ('step', 'window') or len(argv) != (6 if cmd == 'step' else 4) or argv[1] not in NAMES \
            or argv[-2] not in MODES:
        sys.exit(USAGE)
    name, mode = argv[1], argv[-2]
    torch.manual_seed(0)
    torch.set_num_threads(2)
    net = create(name)
    if cmd == 'step':
        size, batch, steps = int(argv[2]), int(argv[3]), int(argv[5])
        if size % net.divisor or size <= 0 or batch < 1 or steps < 1:
            sys.exit(f'{name}: SIZE must be a positive multiple of {net.divisor}; BATCH and STEPS at least 1')
    else:
        size, batch, steps = 80, 1, int(argv[3])
        if steps < 1: sys.exit('REPS must be at least 1')
    params = sum(p.numel() for p in net.parameters() if p.requires_grad)
    x = torch.rand(batch, 1, size, size, size)
    if mode == 'bf16cl':
        net = net.to(memory_format=torch.channels_last_3d); x = x.to(memory_format=torch.channels_last_3d)
    amp = dict(device_type='cpu', dtype=torch.bfloat16, enabled=mode != 'fp32')
    if cmd == 'step':
        t = (torch.rand(batch, 5, size, size, size) < 0.05).float()
        opt = torch.optim.Adadelta(net.parameters(), lr=1.0, rho=0.95, eps=1e-8)
        net.train()

        def step():
            with torch.autocast(**amp):
                out = net(x)
            loss = combo(out, t); opt.zero_grad(); loss.backward(); opt.step(); return loss.item()

        med, best = timed(step, steps)
        res = dict(name=name, size=size, batch=batch, mode=mode, params=params, medianMs=round(med, 1),
                   bestMs=round(best, 1), torch=torch.__version__)
    else:
        net.eval()

        def window():
            with torch.inference_mode(), torch.autocast(**amp):
                return net(x).float()  # Network.run() hands back float32 logits

        med, _ = timed(window, steps)
        res = dict(name=name, mode=mode, windowMs=round(med, 1), torch=torch.__version__)
    print(json.dumps(res))


if __name__ == '__main__':
    main(sys.argv[1:])
