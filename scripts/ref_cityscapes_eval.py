"""Fixtures for tests/test_cityscapes_eval.c: the official Cityscapes pixel-level rules.

A reference of the evaluation of cityscapesScripts (evalPixelLevelSemanticLabeling.py),
written in NumPy from the rules of metrics/README.md, applied to small synthetic
labelId / prediction / instanceId maps.

Rules (C: the 34 x 34 confusion over labelIds, rows ground truth, columns prediction):
- class l with ignoreInEval: no score (NaN). Else TP = C[l,l], FN = row sum - TP,
  FP = sum of C[r,l] over rows r that are evaluated and r != l; IoU = TP/(TP+FP+FN),
  NaN when that denominator is 0.
- category: the same over its evaluated labelIds (TP = the block of those rows and
  columns), FP from evaluated rows of other categories; NaN without evaluated labels.
- instances: every value v > 1000 of the instanceIds (in ascending order per image) is
  an instance of class v // 1000; ignored classes are skipped; with size = its pixels,
  tp = pixels predicted as the class, w = avg_size[class] / size, tpW += tp * w,
  fnW += (size - tp) * w. Class iIoU = tpW / (tpW + FP + fnW) with the FP above.
- category iIoU for the categories whose labels (id >= 0) all have instances (human,
  vehicle): tp counts predictions of any labelId of the category (ignored ones too), FP
  is the column sum over those labelIds on evaluated rows of other categories.
- averages skip NaN. Extras (not in the official script): Acc = TP / row sum, mAcc,
  aAcc = sum TP / sum of evaluated rows.

Files, for each case NAME (all float32):
  cityscapes_eval_NAME_imgI.npy       (3, H, W) per image I = 0, 1, ...: labelIds,
                                      predicted labelIds, instanceIds
  cityscapes_eval_NAME_confusion.npy  (34, 34) counts (exact: every count < 2^24)
  cityscapes_eval_NAME_class.npy      (2, 3, 34): [hi, lo] x [IoU, iIoU, Acc] x labelId
  cityscapes_eval_NAME_category.npy   (2, 3, 8): [hi, lo] x [IoU, iIoU, Acc] x category id
  cityscapes_eval_NAME_average.npy    (2, 6): [hi, lo] x [class IoU, class iIoU,
                                      category IoU, category iIoU, mAcc, aAcc]
A double x is stored as hi = float32(x) and lo = float32(x - hi), so hi + lo gives x to
about 1e-15; NaN is hi = NaN, lo = 0.
"""
import os

import numpy as np

# name, labelId, category, category id, hasInstances, ignoreInEval (the official table)
LABELS = [
    ("unlabeled", 0, "void", 0, False, True),
    ("ego vehicle", 1, "void", 0, False, True),
    ("rectification border", 2, "void", 0, False, True),
    ("out of roi", 3, "void", 0, False, True),
    ("static", 4, "void", 0, False, True),
    ("dynamic", 5, "void", 0, False, True),
    ("ground", 6, "void", 0, False, True),
    ("road", 7, "flat", 1, False, False),
    ("sidewalk", 8, "flat", 1, False, False),
    ("parking", 9, "flat", 1, False, True),
    ("rail track", 10, "flat", 1, False, True),
    ("building", 11, "construction", 2, False, False),
    ("wall", 12, "construction", 2, False, False),
    ("fence", 13, "construction", 2, False, False),
    ("guard rail", 14, "construction", 2, False, True),
    ("bridge", 15, "construction", 2, False, True),
    ("tunnel", 16, "construction", 2, False, True),
    ("pole", 17, "object", 3, False, False),
    ("polegroup", 18, "object", 3, False, True),
    ("traffic light", 19, "object", 3, False, False),
    ("traffic sign", 20, "object", 3, False, False),
    ("vegetation", 21, "nature", 4, False, False),
    ("terrain", 22, "nature", 4, False, False),
    ("sky", 23, "sky", 5, False, False),
    ("person", 24, "human", 6, True, False),
    ("rider", 25, "human", 6, True, False),
    ("car", 26, "vehicle", 7, True, False),
    ("truck", 27, "vehicle", 7, True, False),
    ("bus", 28, "vehicle", 7, True, False),
    ("caravan", 29, "vehicle", 7, True, True),
    ("trailer", 30, "vehicle", 7, True, True),
    ("train", 31, "vehicle", 7, True, False),
    ("motorcycle", 32, "vehicle", 7, True, False),
    ("bicycle", 33, "vehicle", 7, True, False),
    ("license plate", -1, "vehicle", 7, False, True),
]
NUM_IDS = 34
NUM_CATS = 8

AVG_SIZE = {
    "person": 3462.4756337644, "rider": 3930.4788056518, "car": 12794.0202738185,
    "truck": 27855.1264367816, "bus": 35732.1511111111, "train": 67583.7075812274,
    "motorcycle": 6298.7200839748, "bicycle": 4672.3249222261,
    "caravan": 36771.8241758242, "trailer": 16926.9763313609,
}

BY_ID = {l[1]: l for l in LABELS if l[1] >= 0}


def _cat(i):
    return BY_ID[i][3]


def _evaluated(i):
    return not BY_ID[i][5]


def _instance_categories():
    """Category id -> all its labelIds, for categories whose labels all have instances."""
    out = {}
    for cat in range(NUM_CATS):
        labels = [l for l in LABELS if l[3] == cat and l[1] >= 0]
        if labels and all(l[4] for l in labels):
            out[cat] = [l[1] for l in labels]
    return out


def accumulate(images):
    """Confusion matrix and instance sums of a list of (gt, pred, inst) int arrays."""
    conf = np.zeros((NUM_IDS, NUM_IDS), dtype=np.int64)
    tpw = np.zeros(NUM_IDS)
    fnw = np.zeros(NUM_IDS)
    cat_tpw = np.zeros(NUM_CATS)
    cat_fnw = np.zeros(NUM_CATS)
    inst_cats = _instance_categories()
    for gt, pred, inst in images:
        assert gt.max() < NUM_IDS and pred.max() < NUM_IDS
        np.add.at(conf, (gt.ravel(), pred.ravel()), 1)
        for v in np.unique(inst[inst > 1000]):
            cls = int(v) // 1000
            name, _, _, cat, has_inst, ignored = BY_ID[cls]
            if ignored:
                continue
            assert has_inst
            mask = inst == v
            size = int(np.count_nonzero(mask))
            tp = int(np.count_nonzero(pred[mask] == cls))
            w = AVG_SIZE[name] / float(size)
            tpw[cls] += float(tp) * w
            fnw[cls] += float(size - tp) * w
            if cat in inst_cats:
                ctp = int(np.count_nonzero(np.isin(pred[mask], inst_cats[cat])))
                cat_tpw[cat] += float(ctp) * w
                cat_fnw[cat] += float(size - ctp) * w
    return conf, tpw, fnw, cat_tpw, cat_fnw


def _ratio(num, den):
    return float("nan") if den == 0 else num / den


def _nanmean(values):
    valid = [v for v in values if not np.isnan(v)]
    return sum(valid) / len(valid) if valid else float("nan")


def scores(conf, tpw, fnw, cat_tpw, cat_fnw):
    """(class [3, 34], category [3, 8], averages [6]) as the official rules give them."""
    ev_rows = [r for r in range(NUM_IDS) if _evaluated(r)]
    cls = np.full((3, NUM_IDS), np.nan)
    correct = valid = 0
    for l in ev_rows:
        tp = int(conf[l, l])
        fn = int(conf[l, :].sum()) - tp
        fp = int(conf[[r for r in ev_rows if r != l], l].sum())
        cls[0, l] = _ratio(float(tp), tp + fp + fn)
        cls[2, l] = _ratio(float(tp), tp + fn)
        if BY_ID[l][4]:
            cls[1, l] = _ratio(tpw[l], tpw[l] + fp + fnw[l])
        correct += tp
        valid += tp + fn
    cat = np.full((3, NUM_CATS), np.nan)
    inst_cats = _instance_categories()
    for c in range(NUM_CATS):
        ids = [l for l in ev_rows if _cat(l) == c]
        others = [r for r in ev_rows if _cat(r) != c]
        if ids:
            tp = int(conf[np.ix_(ids, ids)].sum())
            fn = int(conf[ids, :].sum()) - tp
            fp = int(conf[np.ix_(others, ids)].sum())
            cat[0, c] = _ratio(float(tp), tp + fp + fn)
            cat[2, c] = _ratio(float(tp), tp + fn)
        if c in inst_cats:
            fp = int(conf[np.ix_(others, inst_cats[c])].sum())
            cat[1, c] = _ratio(cat_tpw[c], cat_tpw[c] + fp + cat_fnw[c])
    avg = np.array([_nanmean(cls[0]), _nanmean(cls[1]), _nanmean(cat[0]), _nanmean(cat[1]),
                    _nanmean(cls[2]), _ratio(float(correct), valid)])
    return cls, cat, avg


def _split(x):
    """Doubles as [hi, lo] float32 pairs (NaN -> hi NaN, lo 0)."""
    x = np.asarray(x, dtype=np.float64)
    hi = x.astype(np.float32)
    lo = np.where(np.isnan(x), 0.0, x - hi.astype(np.float64)).astype(np.float32)
    return np.stack([hi, lo])


def _rect(rng, h, w, max_h, max_w):
    rh = int(rng.integers(1, max_h + 1))
    rw = int(rng.integers(1, max_w + 1))
    y = int(rng.integers(0, h - rh + 1))
    x = int(rng.integers(0, w - rw + 1))
    return slice(y, y + rh), slice(x, x + rw)


def _scene(rng, h, w):
    """Ground truth labelIds and instanceIds: stuff, ignored regions, instances, groups."""
    gt = np.full((h, w), 7, dtype=np.int64)               # road
    gt[: h // 4] = 23                                     # sky
    gt[h // 4: h // 2] = 11                               # building
    gt[h // 2: h // 2 + 3] = 8                            # sidewalk
    gt[h // 4: h // 2, : w // 5] = 21                     # vegetation
    for cls in (0, 1, 3, 9, 14, 4, 12, 13, 17, 18, 20, 22):   # ignored and small stuff
        if rng.random() < 0.7:
            gt[_rect(rng, h, w, h // 4, w // 4)] = cls
    inst = gt.copy()
    next_idx = {}
    for _ in range(int(rng.integers(6, 12))):
        cls = int(rng.choice([24, 24, 25, 26, 26, 26, 27, 29, 30, 33, 32, 28]))
        big = rng.random() < 0.3
        region = _rect(rng, h, w, h // 2 if big else 3, w // 2 if big else 4)
        gt[region] = cls
        if rng.random() < 0.2:
            inst[region] = cls                            # a group region
        elif cls in next_idx and rng.random() < 0.2:
            inst[region] = cls * 1000 + next_idx[cls]     # a second part of the last one
        else:
            next_idx[cls] = next_idx.get(cls, -1) + 1     # index 0 too: e.g. 26000
            inst[region] = cls * 1000 + next_idx[cls]
    gt[-1, -3:] = 1                                       # ego vehicle: 1000 is no instance
    inst[-1, -3:] = 1000
    return gt, inst


def _predict(rng, gt):
    """A noisy prediction: wrong ids (ignored ones too), swapped blocks, absent classes."""
    pred = gt.copy()
    h, w = gt.shape
    noise = rng.random(gt.shape) < 0.08
    wrong = [i for i in range(NUM_IDS) if i != 19]        # traffic light: never seen (NaN)
    pred[noise] = rng.choice(wrong, size=int(noise.sum()))
    swaps = {24: 25, 25: 24, 26: 27, 27: 26, 33: 32, 7: 8, 11: 12, 21: 22}
    for _ in range(4):
        region = _rect(rng, h, w, h // 3, w // 3)
        block = pred[region]                              # a view: writes go to pred
        for a, b in swaps.items():
            if rng.random() < 0.5:
                block[gt[region] == a] = b
    pred[_rect(rng, h, w, 4, 6)] = 31                     # train: predicted, never in the gt
    pred[_rect(rng, h, w, 3, 5)] = int(rng.choice([0, 9, 29]))
    return pred


def _cases():
    rng = np.random.default_rng(20240611)
    mixed = []
    for i in range(4):
        h, w = (40, 64) if i % 2 == 0 else (48, 56)
        gt, inst = _scene(rng, h, w)
        if i == 3:                                        # one tiny instance alone
            gt[0, 0] = 24
            inst[0, 0] = 24999
        mixed.append((gt, _predict(rng, gt), inst))
    gt, inst = _scene(rng, 32, 48)
    gt[-6:-2, 2:8] = inst[-6:-2, 2:8] = 27                # truck only as a group: no iIoU
    perfect = [(gt, gt.copy(), inst)]
    void_gt = rng.choice([0, 1, 2, 3, 4, 5, 6, 9, 10, 14, 15, 16, 18, 29, 30], size=(24, 32))
    void_inst = void_gt.copy()
    void_inst[2:6, 3:9] = 29001                           # instances of ignored classes
    void_inst[10:12, 20:30] = 30002
    void = [(void_gt, rng.integers(0, NUM_IDS, size=(24, 32)), void_inst)]
    return {"mixed": mixed, "perfect": perfect, "void": void}


def _save(outdir, name, a):
    np.save(os.path.join(outdir, name + ".npy"),
            np.ascontiguousarray(np.asarray(a, dtype=np.float32)))


def generate(outdir):
    for case, images in _cases().items():
        acc = accumulate(images)
        cls, cat, avg = scores(*acc)
        prefix = "cityscapes_eval_%s_" % case
        for n, (g, p, i) in enumerate(images):
            _save(outdir, prefix + "img%d" % n, np.stack([g, p, i]))
        _save(outdir, prefix + "confusion", acc[0])
        _save(outdir, prefix + "class", _split(cls))
        _save(outdir, prefix + "category", _split(cat))
        _save(outdir, prefix + "average", _split(avg))


if __name__ == "__main__":
    generate(os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures"))
