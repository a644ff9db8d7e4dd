/* The official Cityscapes label table. See cityscapes_labels.h. */
#include "datasets/cityscapes_labels.h"

#include <stddef.h>

const struct cityscapes_label cityscapes_labels[CITYSCAPES_NUM_LABELS] = {
	/* name, id, trainId, category, catId, hasInstances, ignoreInEval, colour */
	{"unlabeled", 0, 255, "void", 0, false, true, {0, 0, 0}},
	{"ego vehicle", 1, 255, "void", 0, false, true, {0, 0, 0}},
	{"rectification border", 2, 255, "void", 0, false, true, {0, 0, 0}},
	{"out of roi", 3, 255, "void", 0, false, true, {0, 0, 0}},
	{"static", 4, 255, "void", 0, false, true, {0, 0, 0}},
	{"dynamic", 5, 255, "void", 0, false, true, {111, 74, 0}},
	{"ground", 6, 255, "void", 0, false, true, {81, 0, 81}},
	{"road", 7, 0, "flat", 1, false, false, {128, 64, 128}},
	{"sidewalk", 8, 1, "flat", 1, false, false, {244, 35, 232}},
	{"parking", 9, 255, "flat", 1, false, true, {250, 170, 160}},
	{"rail track", 10, 255, "flat", 1, false, true, {230, 150, 140}},
	{"building", 11, 2, "construction", 2, false, false, {70, 70, 70}},
	{"wall", 12, 3, "construction", 2, false, false, {102, 102, 156}},
	{"fence", 13, 4, "construction", 2, false, false, {190, 153, 153}},
	{"guard rail", 14, 255, "construction", 2, false, true, {180, 165, 180}},
	{"bridge", 15, 255, "construction", 2, false, true, {150, 100, 100}},
	{"tunnel", 16, 255, "construction", 2, false, true, {150, 120, 90}},
	{"pole", 17, 5, "object", 3, false, false, {153, 153, 153}},
	{"polegroup", 18, 255, "object", 3, false, true, {153, 153, 153}},
	{"traffic light", 19, 6, "object", 3, false, false, {250, 170, 30}},
	{"traffic sign", 20, 7, "object", 3, false, false, {220, 220, 0}},
	{"vegetation", 21, 8, "nature", 4, false, false, {107, 142, 35}},
	{"terrain", 22, 9, "nature", 4, false, false, {152, 251, 152}},
	{"sky", 23, 10, "sky", 5, false, false, {70, 130, 180}},
	{"person", 24, 11, "human", 6, true, false, {220, 20, 60}},
	{"rider", 25, 12, "human", 6, true, false, {255, 0, 0}},
	{"car", 26, 13, "vehicle", 7, true, false, {0, 0, 142}},
	{"truck", 27, 14, "vehicle", 7, true, false, {0, 0, 70}},
	{"bus", 28, 15, "vehicle", 7, true, false, {0, 60, 100}},
	{"caravan", 29, 255, "vehicle", 7, true, true, {0, 0, 90}},
	{"trailer", 30, 255, "vehicle", 7, true, true, {0, 0, 110}},
	{"train", 31, 16, "vehicle", 7, true, false, {0, 80, 100}},
	{"motorcycle", 32, 17, "vehicle", 7, true, false, {0, 0, 230}},
	{"bicycle", 33, 18, "vehicle", 7, true, false, {119, 11, 32}},
	{"license plate", -1, -1, "vehicle", 7, false, true, {0, 0, 142}},
};

const struct cityscapes_label *cityscapes_by_id(int id)
{
	for (int i = 0; i < CITYSCAPES_NUM_LABELS; i++)
		if (cityscapes_labels[i].id == id && id >= 0)
			return &cityscapes_labels[i];
	return NULL;
}

const struct cityscapes_label *cityscapes_by_train_id(int t)
{
	for (int i = 0; i < CITYSCAPES_NUM_LABELS; i++)
		if (cityscapes_labels[i].train_id == t && t >= 0 && t < CITYSCAPES_NUM_TRAIN)
			return &cityscapes_labels[i];
	return NULL;
}
