"""PyTorch models of knseg's networks, for parity fixtures, benchmarks and imports.

Written from nets/README.md 2: KNResNet-18/34/50 backbones with the reference
parameter names, the fcn and fpn heads with knseg's names ("backbone." and "head."
prefixes), and two ways of computing the KN statistics:

  stats="boxsum"  per-pixel channel sums of the dropped input and window box sums
                  (the efficient formulation knseg itself uses);
  stats="unfold"  the units materialized with unfold and torch.var_mean, as the
                  original authors' layers compute them.

Dropout of the statistics follows module.training here (the original layers keep it on
in eval mode); `kn_eval` selects knseg's inference modes: "expected", "none", "sample".
"""
import math

import torch
import torch.nn.functional as F
from torch import nn

EPS = 1e-5


def channels(width, c):
    """Channel count scaled by width, as net_channels() in nets/knresnet.c."""
    if width == 1.0:
        return c
    # C's lroundf rounds halves away from zero; Python's round() would round to even.
    r = int(math.floor(c * width / 8.0 + 0.5)) * 8
    return max(r, 8)


def final_p(p):
    return min(5 * p, 0.25)


def _window_stats(xd, k, stride, stats):
    """Mean and biased variance of every k x k window across all channels of xd."""
    c = xd.shape[1]
    if stats == "unfold":
        u = xd.unfold(2, k[0], stride[0]).unfold(3, k[1], stride[1])
        u = u.permute(0, 2, 3, 1, 4, 5)
        var, mu = torch.var_mean(u, dim=[3, 4, 5], unbiased=False)
        return mu.unsqueeze(1), var.unsqueeze(1)
    s1 = xd.sum(1, keepdim=True)
    s2 = (xd * xd).sum(1, keepdim=True)
    mu = F.avg_pool2d(s1, k, stride) / c
    ex2 = F.avg_pool2d(s2, k, stride) / c
    return mu, (ex2 - mu * mu).clamp_min(0)


class KNConv2d(nn.Module):
    """Kernel normalized convolution; padding is (left, right, top, bottom)."""

    def __init__(self, cin, cout, k, stride=1, padding=(0, 0, 0, 0), p=0.05,
                 stats="boxsum", kn_eval="expected"):
        super().__init__()
        self.k = (k, k)
        self.stride = (stride, stride)
        self.padding = tuple(padding)
        self.p = p
        self.stats = stats
        self.kn_eval = kn_eval
        self.weight = nn.Parameter(torch.empty(cout, cin, k, k))
        self.bias = nn.Parameter(torch.zeros(cout))
        nn.init.kaiming_normal_(self.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        xp = F.pad(x, self.padding)
        a = F.conv2d(xp, self.weight, stride=self.stride)
        sample = self.training or self.kn_eval == "sample"
        p = self.p if (sample or self.kn_eval == "expected") else 0.0
        xd = F.dropout(xp, p, True) if (sample and p > 0) else xp
        mu, var = _window_stats(xd, self.k, self.stride, self.stats)
        if not sample and p > 0:
            m = xp.shape[1] * self.k[0] * self.k[1]
            mean_sq = F.avg_pool2d((xp * xp).sum(1, keepdim=True), self.k, self.stride) / xp.shape[1]
            var = var + p / (1 - p) * (1 - 1 / m) * mean_sq
        sw = self.weight.sum(dim=(1, 2, 3)).view(1, -1, 1, 1)
        return (a - mu * sw) / torch.sqrt(var + EPS) + self.bias.view(1, -1, 1, 1)


class KernelNorm1x1(nn.Module):
    """Each pixel normalized across its channels (statistics of the dropped input)."""

    def __init__(self, p, kn_eval="expected"):
        super().__init__()
        self.p = p
        self.kn_eval = kn_eval

    def forward(self, x):
        sample = self.training or self.kn_eval == "sample"
        p = self.p if (sample or self.kn_eval == "expected") else 0.0
        xd = F.dropout(x, p, True) if (sample and p > 0) else x
        var, mu = torch.var_mean(xd, dim=1, keepdim=True, unbiased=False)
        if not sample and p > 0:
            m = x.shape[1]
            var = var + p / (1 - p) * (1 - 1 / m) * (x * x).mean(1, keepdim=True)
        return (x - mu) / torch.sqrt(var + EPS)


class KNConv2d1x1(nn.Module):
    """KernelNorm 1x1 then a 1x1 convolution with bias (parameters under conv1x1)."""

    def __init__(self, cin, cout, p=0.05, kn_eval="expected"):
        super().__init__()
        self.kernel_norm1x1 = KernelNorm1x1(p, kn_eval)
        self.conv1x1 = nn.Conv2d(cin, cout, 1, bias=True)
        nn.init.kaiming_normal_(self.conv1x1.weight, mode="fan_out", nonlinearity="relu")
        nn.init.zeros_(self.conv1x1.bias)

    def forward(self, x):
        return self.conv1x1(self.kernel_norm1x1(x))


class ResBlock(nn.Module):
    def __init__(self, c, inner, kw):
        super().__init__()
        self.conv1 = KNConv2d(c, inner, 2, padding=(1, 1, 1, 1), **kw)
        self.conv2 = KNConv2d(inner, c, 2, padding=(0, 0, 0, 0), **kw)

    def forward(self, x):
        return self.conv2(F.relu(self.conv1(F.relu(x)))) + x


class Bottleneck(nn.Module):
    def __init__(self, c, inner, kw, one_by_one=False):
        super().__init__()
        if one_by_one:
            kw1 = {"p": kw["p"], "kn_eval": kw["kn_eval"]}
            self.conv1 = KNConv2d1x1(c, inner, **kw1)
            self.conv3 = KNConv2d1x1(inner, c, **kw1)
        else:
            self.conv1 = KNConv2d(c, inner, 2, padding=(1, 1, 1, 1), **kw)
            self.conv3 = KNConv2d(inner, c, 2, padding=(0, 0, 0, 0), **kw)
        self.conv2 = KNConv2d(inner, inner, 3, padding=(1, 1, 1, 1), **kw)

    def forward(self, x):
        y = self.conv1(F.relu(x))
        y = self.conv2(F.relu(y))
        return self.conv3(F.relu(y)) + x


class TransBlock(nn.Module):
    def __init__(self, cin, cout, padding, kw, one_by_one=False):
        super().__init__()
        if one_by_one:
            self.conv = KNConv2d1x1(cin, cout, p=kw["p"], kn_eval=kw["kn_eval"])
        else:
            self.conv = KNConv2d(cin, cout, 2, padding=padding, **kw)

    def forward(self, x):
        return F.max_pool2d(self.conv(F.relu(x)), 2, 2)


ARCHS = {
    "knresnet18": (64, [(2, 64, 256), (2, 256, 256), (1, 512, 512), (1, 724, 724)], False),
    "knresnet34": (64, [(4, 64, 256), (5, 256, 320), (3, 512, 640), (2, 512, 843)], False),
    "knresnet50": (256, [(4, 256, 64), (5, 512, 128), (4, 810, 201), (2, 2048, 512)], True),
}
TRANS_PADS = [(1, 0, 1, 0), (0, 1, 0, 1), (1, 0, 1, 0)]


class Backbone(nn.Module):
    """Module names are the reference ones: block0, res_blockN, trans_blockN."""

    def __init__(self, arch, width=1.0, p=0.05, stats="boxsum", kn_eval="expected",
                 imagenet_pads=False):
        super().__init__()
        stem, stages, bottleneck = ARCHS[arch]
        kw = {"p": p, "stats": stats, "kn_eval": kn_eval}
        self.block0 = nn.Sequential(
            KNConv2d(3, channels(width, stem), 7, stride=2, padding=(3, 3, 3, 3), **kw),
            nn.MaxPool2d(3, 2, 1))
        self.order = []
        c = channels(width, stem)
        block = 1
        for s, (nblocks, cs, inner) in enumerate(stages):
            cs = channels(width, cs)
            if s > 0:
                pad = TRANS_PADS[s - 1]
                if s == 3 and imagenet_pads:
                    pad = (2, 1, 2, 1)
                name = "trans_block%d" % s
                setattr(self, name, TransBlock(c, cs, pad, kw, bottleneck and s == 3))
                self.order.append(name)
            c = cs
            for _ in range(nblocks):
                name = "res_block%d" % block
                if bottleneck:
                    mod = Bottleneck(c, channels(width, inner), kw, s == 3)
                else:
                    mod = ResBlock(c, channels(width, inner), kw)
                setattr(self, name, mod)
                self.order.append(name)
                block += 1
            self.order.append("tap")
        self.out_channels = [channels(width, st[1]) for st in stages]

    def forward(self, x):
        x = self.block0(x)
        taps = []
        for name in self.order:
            if name == "tap":
                taps.append(x)
            else:
                x = getattr(self, name)(x)
        return taps


class FCNHead(nn.Module):
    def __init__(self, cin, classes, width, p, stats, kn_eval):
        super().__init__()
        mid = channels(width, 512)
        self.conv = KNConv2d(cin, mid, 3, padding=(1, 1, 1, 1), p=p, stats=stats,
                             kn_eval=kn_eval)
        self.kn = KernelNorm1x1(final_p(p), kn_eval)
        self.cls = nn.Conv2d(mid, classes, 1)
        nn.init.normal_(self.cls.weight, std=0.01)
        nn.init.zeros_(self.cls.bias)

    def forward(self, taps, size):
        x = self.conv(F.relu(taps[3]))
        x = self.cls(F.relu(self.kn(x)))
        return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


class FPNHead(nn.Module):
    def __init__(self, cins, classes, width, p, stats, kn_eval):
        super().__init__()
        d = channels(width, 128)
        self.lateral = nn.ModuleDict(
            {str(i + 1): KNConv2d1x1(c, d, p=p, kn_eval=kn_eval) for i, c in enumerate(cins)})
        self.smooth = nn.ModuleDict(
            {str(i + 1): KNConv2d(d, d, 3, padding=(1, 1, 1, 1), p=p, stats=stats,
                                  kn_eval=kn_eval) for i in range(4)})
        self.kn = KernelNorm1x1(final_p(p), kn_eval)
        self.cls = nn.Conv2d(d, classes, 1)
        nn.init.normal_(self.cls.weight, std=0.01)
        nn.init.zeros_(self.cls.bias)

    def forward(self, taps, size):
        lat = [self.lateral[str(i + 1)](F.relu(t)) for i, t in enumerate(taps)]
        for i in (2, 1, 0):
            up = F.interpolate(lat[i + 1], size=lat[i].shape[2:], mode="bilinear",
                               align_corners=False)
            lat[i] = lat[i] + up
        out = None
        for i in range(4):
            y = self.smooth[str(i + 1)](F.relu(lat[i]))
            if i > 0:
                y = F.interpolate(y, size=lat[0].shape[2:], mode="bilinear",
                                  align_corners=False)
            out = y if out is None else out + y
        x = self.cls(F.relu(self.kn(out)))
        return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


class SegNet(nn.Module):
    """Backbone plus head; state_dict names match knseg checkpoints."""

    def __init__(self, arch="knresnet18", head="fpn", classes=19, width=1.0, p=0.05,
                 stats="boxsum", kn_eval="expected"):
        super().__init__()
        self.backbone = Backbone(arch, width, p, stats, kn_eval)
        outs = self.backbone.out_channels
        if head == "fcn":
            self.head = FCNHead(outs[3], classes, width, p, stats, kn_eval)
        else:
            self.head = FPNHead(outs, classes, width, p, stats, kn_eval)

    def forward(self, x):
        return self.head(self.backbone(x), x.shape[2:])


# The reference classification head's modules, dropped when importing a backbone.
CLASSIFIER_PREFIXES = ("max_pool_f", "conv_block_f", "kn_f", "relu_f", "avg_pool", "fc")
