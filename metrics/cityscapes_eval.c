/*
 * The Cityscapes pixel-level evaluation. See cityscapes_eval.h for the rules.
 *
 * Per image: the values are checked first, then the instances are counted into a
 * scratch table indexed by instance value (size, pixels predicted as the class, pixels
 * predicted as any label of the category) and checked, and only then is anything added,
 * so a bad image leaves the accumulator untouched. Instances are folded into the
 * weighted sums in ascending instance value, image by image, the order in which the
 * official script sums them. knseg's split evaluation adds each image into a fresh
 * accumulator and then its sums to the total, in image order (cityscapes_eval_weights_*),
 * an order that does not depend on how the images were shared between processes; it
 * differs from the official one in the last bits of the weighted sums only.
 */
#include "metrics/cityscapes_eval.h"

#include "io/alloc.h"
#include "io/error.h"

#include <math.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Instance values are class * 1000 + index, so labelIds 0..33 need values below this. */
#define INST_LIMIT (CITYSCAPES_NUM_IDS * 1000)

/* Official average instance sizes (pixels, at 1024x2048) of the instance classes. */
double cityscapes_avg_instance_size(int label_id)
{
	switch (label_id) {
	case 24: return 3462.4756337644;   /* person */
	case 25: return 3930.4788056518;   /* rider */
	case 26: return 12794.0202738185;  /* car */
	case 27: return 27855.1264367816;  /* truck */
	case 28: return 35732.1511111111;  /* bus */
	case 29: return 36771.8241758242;  /* caravan */
	case 30: return 16926.9763313609;  /* trailer */
	case 31: return 67583.7075812274;  /* train */
	case 32: return 6298.7200839748;   /* motorcycle */
	case 33: return 4672.3249222261;   /* bicycle */
	default: return NAN;
	}
}

/* The table lists labelIds 0..33 in order in its first rows: direct lookup. */
static const struct cityscapes_label *label_of(int id)
{
	CHECK(id >= 0 && id < CITYSCAPES_NUM_IDS && cityscapes_labels[id].id == id);
	return &cityscapes_labels[id];
}

static bool evaluated(int id)
{
	return !label_of(id)->ignore_in_eval;
}

/*
 * Categories with instance scores are those whose labels (labelId >= 0) all have
 * instances: human and vehicle.
 */
static bool category_has_instances(int cat)
{
	bool any = false;

	for (int i = 0; i < CITYSCAPES_NUM_LABELS; i++) {
		const struct cityscapes_label *l = &cityscapes_labels[i];

		if (l->id < 0 || l->category_id != cat)
			continue;
		if (!l->has_instances)
			return false;
		any = true;
	}
	return any;
}

void cityscapes_eval_init(struct cityscapes_eval *e)
{
	memset(e, 0, sizeof(*e));
	confusion_init(&e->conf, CITYSCAPES_NUM_IDS);
}

void cityscapes_eval_free(struct cityscapes_eval *e)
{
	confusion_free(&e->conf);
}

static int check_ids(const uint8_t *v, size_t n, const char *what)
{
	uint8_t max = 0;

	for (size_t i = 0; i < n; i++)
		max = v[i] > max ? v[i] : max;
	if (max < CITYSCAPES_NUM_IDS)
		return KN_OK;
	for (size_t i = 0;; i++)
		if (v[i] >= CITYSCAPES_NUM_IDS)
			return kn_error(KN_EINVAL,
					"%s value %u at pixel %zu is not a labelId (0..%d)", what,
					v[i], i, CITYSCAPES_NUM_IDS - 1);
}

struct inst_count {
	uint32_t size, hit, cat_hit;
};

/* in_cat[c][p]: prediction p is a label of class c's category (for category iIoU). */
static void category_table(bool in_cat[CITYSCAPES_NUM_IDS][CITYSCAPES_NUM_IDS])
{
	for (int c = 0; c < CITYSCAPES_NUM_IDS; c++)
		for (int p = 0; p < CITYSCAPES_NUM_IDS; p++)
			in_cat[c][p] = label_of(c)->category_id == label_of(p)->category_id &&
				       category_has_instances(label_of(c)->category_id);
}

/* Counts the instances of one image into cnt (INST_LIMIT entries, zeroed). */
static int count_instances(struct inst_count *cnt, const uint8_t *pred, const uint16_t *inst,
			   size_t n)
{
	bool in_cat[CITYSCAPES_NUM_IDS][CITYSCAPES_NUM_IDS];

	category_table(in_cat);
	for (size_t i = 0; i < n; i++) {
		unsigned v = inst[i], cls = v / 1000;

		if (v <= 1000)
			continue;
		if (v >= INST_LIMIT)
			return kn_error(KN_EINVAL, "instance value %u at pixel %zu has no "
					"class (%u is not a labelId)", v, i, cls);
		cnt[v].size++;
		cnt[v].hit += pred[i] == cls;
		cnt[v].cat_hit += in_cat[cls][pred[i]];
	}
	for (unsigned v = 1001; v < INST_LIMIT; v++) {
		const struct cityscapes_label *l;

		if (!cnt[v].size)
			continue;
		l = label_of((int)(v / 1000));
		if (!l->ignore_in_eval && !l->has_instances)
			return kn_error(KN_EINVAL, "instance value %u: class '%s' has no instances",
					v, l->name);
	}
	return KN_OK;
}

static void add_instances(struct cityscapes_eval *e, const struct inst_count *cnt)
{
	for (unsigned v = 1001; v < INST_LIMIT; v++) {
		int cls = (int)(v / 1000);
		const struct cityscapes_label *l;
		double w;

		if (!cnt[v].size)
			continue;
		l = label_of(cls);
		if (l->ignore_in_eval)
			continue;
		w = cityscapes_avg_instance_size(cls) / (double)cnt[v].size;
		e->tp[cls] += cnt[v].hit;
		e->fn[cls] += cnt[v].size - cnt[v].hit;
		e->tp_w[cls] += (double)cnt[v].hit * w;
		e->fn_w[cls] += (double)(cnt[v].size - cnt[v].hit) * w;
		e->instances[cls]++;
		if (category_has_instances(l->category_id)) {
			e->cat_tp_w[l->category_id] += (double)cnt[v].cat_hit * w;
			e->cat_fn_w[l->category_id] += (double)(cnt[v].size - cnt[v].cat_hit) * w;
		}
	}
}

int cityscapes_eval_add(struct cityscapes_eval *e, const uint8_t *gt, const uint8_t *pred,
			const uint16_t *inst, size_t n)
{
	struct inst_count *cnt = NULL;
	int rc;

	if ((rc = check_ids(gt, n, "ground truth")) < 0 ||
	    (rc = check_ids(pred, n, "prediction")) < 0)
		return rc;
	if (inst) {
		cnt = xcalloc(INST_LIMIT, sizeof(*cnt));
		if ((rc = count_instances(cnt, pred, inst, n)) < 0) {
			free(cnt);
			return rc;
		}
		add_instances(e, cnt);
		free(cnt);
	}
	confusion_add(&e->conf, gt, pred, n);
	e->images++;
	return KN_OK;
}

int cityscapes_eval_add_labels(struct cityscapes_eval *e, const struct label_image *gt,
			       const struct label_image *pred,
			       const struct label_image *inst)
{
	CHECK(gt->bits == 8 && pred->bits == 8 && (!inst || inst->bits == 16));
	if (gt->w != pred->w || gt->h != pred->h)
		return kn_error(KN_EMISMATCH,
				"prediction is %dx%d but the ground truth is %dx%d", pred->w,
				pred->h, gt->w, gt->h);
	if (inst && (inst->w != gt->w || inst->h != gt->h))
		return kn_error(KN_EMISMATCH,
				"instanceIds are %dx%d but the labelIds are %dx%d", inst->w,
				inst->h, gt->w, gt->h);
	return cityscapes_eval_add(e, gt->u8, pred->u8, inst ? inst->u16 : NULL,
				   (size_t)gt->w * (size_t)gt->h);
}

void cityscapes_eval_merge_counts(struct cityscapes_eval *dst,
				  const struct cityscapes_eval *src)
{
	confusion_merge(&dst->conf, &src->conf);
	for (int i = 0; i < CITYSCAPES_NUM_IDS; i++) {
		dst->tp[i] += src->tp[i];
		dst->fn[i] += src->fn[i];
		dst->instances[i] += src->instances[i];
	}
	dst->images += src->images;
}

void cityscapes_eval_weights_get(const struct cityscapes_eval *e, double *row)
{
	double *p = row;

	memcpy(p, e->tp_w, sizeof(e->tp_w));
	memcpy(p += CITYSCAPES_NUM_IDS, e->fn_w, sizeof(e->fn_w));
	memcpy(p += CITYSCAPES_NUM_IDS, e->cat_tp_w, sizeof(e->cat_tp_w));
	memcpy(p += CITYSCAPES_NUM_CATEGORIES, e->cat_fn_w, sizeof(e->cat_fn_w));
}

void cityscapes_eval_weights_add(struct cityscapes_eval *e, const double *row)
{
	const double *fn_w = row + CITYSCAPES_NUM_IDS, *cat_tp_w = fn_w + CITYSCAPES_NUM_IDS;
	const double *cat_fn_w = cat_tp_w + CITYSCAPES_NUM_CATEGORIES;

	for (int i = 0; i < CITYSCAPES_NUM_IDS; i++) {
		e->tp_w[i] += row[i];
		e->fn_w[i] += fn_w[i];
	}
	for (int c = 0; c < CITYSCAPES_NUM_CATEGORIES; c++) {
		e->cat_tp_w[c] += cat_tp_w[c];
		e->cat_fn_w[c] += cat_fn_w[c];
	}
}

void cityscapes_eval_merge(struct cityscapes_eval *dst, const struct cityscapes_eval *src)
{
	double row[CITYSCAPES_EVAL_WEIGHTS];

	cityscapes_eval_merge_counts(dst, src);
	cityscapes_eval_weights_get(src, row);
	cityscapes_eval_weights_add(dst, row);
}

/* Sum of C[r][col] over evaluated rows r whose category differs from cat (or r != skip). */
static uint64_t false_pos(const struct confusion *c, int col, int skip_row, int skip_cat)
{
	uint64_t fp = 0;

	for (int r = 0; r < CITYSCAPES_NUM_IDS; r++)
		if (evaluated(r) && r != skip_row && label_of(r)->category_id != skip_cat)
			fp += confusion_at(c, r, col);
	return fp;
}

static double ratio(double num, double den)
{
	return den == 0 ? NAN : num / den;
}

static double nan_mean(const double *v, int n)
{
	double sum = 0;
	int count = 0;

	for (int i = 0; i < n; i++)
		if (!isnan(v[i])) {
			sum += v[i];
			count++;
		}
	return count ? sum / count : NAN;
}

static void class_scores(const struct cityscapes_eval *e, struct cityscapes_scores *s)
{
	uint64_t correct = 0;

	for (int l = 0; l < CITYSCAPES_NUM_IDS; l++) {
		uint64_t tp = confusion_at(&e->conf, l, l);
		uint64_t fn = confusion_row_sum(&e->conf, l) - tp;
		uint64_t fp = false_pos(&e->conf, l, l, -1);

		s->class_iou[l] = s->class_iiou[l] = s->class_acc[l] = NAN;
		if (!evaluated(l))
			continue;
		s->class_iou[l] = ratio((double)tp, (double)(tp + fp + fn));
		s->class_acc[l] = ratio((double)tp, (double)(tp + fn));
		if (label_of(l)->has_instances)
			s->class_iiou[l] = ratio(e->tp_w[l], e->tp_w[l] + (double)fp + e->fn_w[l]);
		correct += tp;
		s->valid += tp + fn;
	}
	s->aacc = ratio((double)correct, (double)s->valid);
}

/* Category cat over the labels that count: evaluated ones, or all for instance scores. */
static void category_score(const struct cityscapes_eval *e, int cat, bool all_labels,
			   uint64_t *tp, uint64_t *fn, uint64_t *fp)
{
	bool in[CITYSCAPES_NUM_IDS];

	*tp = *fn = *fp = 0;
	for (int l = 0; l < CITYSCAPES_NUM_IDS; l++)
		in[l] = label_of(l)->category_id == cat && (all_labels || evaluated(l));
	for (int r = 0; r < CITYSCAPES_NUM_IDS; r++) {
		if (!in[r])
			continue;
		for (int c = 0; c < CITYSCAPES_NUM_IDS; c++) {
			if (in[c])
				*tp += confusion_at(&e->conf, r, c);
			else
				*fn += confusion_at(&e->conf, r, c);
		}
	}
	for (int c = 0; c < CITYSCAPES_NUM_IDS; c++)
		if (in[c])
			*fp += false_pos(&e->conf, c, -1, cat);
}

static void category_scores(const struct cityscapes_eval *e, struct cityscapes_scores *s)
{
	for (int cat = 0; cat < CITYSCAPES_NUM_CATEGORIES; cat++) {
		uint64_t tp, fn, fp;

		category_score(e, cat, false, &tp, &fn, &fp);
		/* No evaluated label (void): tp, fn and fp are all 0, so NaN. */
		s->cat_iou[cat] = ratio((double)tp, (double)(tp + fp + fn));
		s->cat_acc[cat] = ratio((double)tp, (double)(tp + fn));
		s->cat_iiou[cat] = NAN;
		if (category_has_instances(cat)) {
			category_score(e, cat, true, &tp, &fn, &fp);
			s->cat_iiou[cat] = ratio(e->cat_tp_w[cat],
						 e->cat_tp_w[cat] + (double)fp + e->cat_fn_w[cat]);
		}
	}
}

void cityscapes_eval_scores(const struct cityscapes_eval *e, struct cityscapes_scores *s)
{
	memset(s, 0, sizeof(*s));
	class_scores(e, s);
	category_scores(e, s);
	s->avg_class_iou = nan_mean(s->class_iou, CITYSCAPES_NUM_IDS);
	s->avg_class_iiou = nan_mean(s->class_iiou, CITYSCAPES_NUM_IDS);
	s->avg_cat_iou = nan_mean(s->cat_iou, CITYSCAPES_NUM_CATEGORIES);
	s->avg_cat_iiou = nan_mean(s->cat_iiou, CITYSCAPES_NUM_CATEGORIES);
	s->macc = nan_mean(s->class_acc, CITYSCAPES_NUM_IDS);
}

static void report_class(const struct cityscapes_eval *e, const struct cityscapes_scores *s,
			 struct report_row *row, int id)
{
	const struct cityscapes_label *l = label_of(id);

	snprintf(row->name, sizeof(row->name), "%s", l->name);
	row->iou = s->class_iou[id];
	row->acc = s->class_acc[id];
	row->iiou = s->class_iiou[id];
	row->has_iiou = l->has_instances;
	row->pixels = confusion_row_sum(&e->conf, id);
}

/* The evaluated rows and columns of e's matrix; ignored predicted ids go to void. */
static void report_matrix(const struct cityscapes_eval *e, const int *ids, struct confusion *c)
{
	for (int i = 0; i < c->k; i++) {
		uint64_t *row = c->m + (size_t)i * (size_t)(c->k + 1);

		for (int j = 0; j < c->k; j++)
			row[j] = confusion_at(&e->conf, ids[i], ids[j]);
		for (int l = 0; l < CITYSCAPES_NUM_IDS; l++)
			if (!evaluated(l))
				row[c->k] += confusion_at(&e->conf, ids[i], l);
	}
}

void cityscapes_eval_report(const struct cityscapes_eval *e, struct report *r)
{
	struct cityscapes_scores s;
	int ids[CITYSCAPES_NUM_IDS], cats[CITYSCAPES_NUM_CATEGORIES], k = 0, ncat = 0;

	cityscapes_eval_scores(e, &s);
	for (int l = 0; l < CITYSCAPES_NUM_IDS; l++)
		if (evaluated(l))
			ids[k++] = l;
	/* Categories with an evaluated label (all but void), as the official table shows. */
	for (int cat = 0; cat < CITYSCAPES_NUM_CATEGORIES; cat++)
		for (int i = 0; i < k; i++)
			if (label_of(ids[i])->category_id == cat) {
				cats[ncat++] = cat;
				break;
			}
	report_init(r, k, ncat, "cityscapes");
	r->images = e->images;
	for (int i = 0; i < k; i++) {
		report_class(e, &s, &r->classes[i], ids[i]);
		r->correct_pixels += confusion_at(&e->conf, ids[i], ids[i]);
	}
	report_matrix(e, ids, &r->conf);
	for (int i = 0; i < ncat; i++) {
		struct report_row *row = &r->categories[i];
		uint64_t tp, fn, fp;

		category_score(e, cats[i], false, &tp, &fn, &fp);
		for (int j = 0; j < CITYSCAPES_NUM_LABELS; j++)
			if (cityscapes_labels[j].category_id == cats[i])
				snprintf(row->name, sizeof(row->name), "%s",
					 cityscapes_labels[j].category);
		row->iou = s.cat_iou[cats[i]];
		row->acc = s.cat_acc[cats[i]];
		row->iiou = s.cat_iiou[cats[i]];
		row->has_iiou = category_has_instances(cats[i]);
		row->pixels = tp + fn;
	}
	r->miou = s.avg_class_iou;
	r->macc = s.macc;
	r->aacc = s.aacc;
	r->has_iiou = true;
	r->miiou = s.avg_class_iiou;
	r->cat_miou = s.avg_cat_iou;
	r->cat_miiou = s.avg_cat_iiou;
	r->valid_pixels = s.valid;
}
