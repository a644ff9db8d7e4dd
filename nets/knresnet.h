/*
 * KNResNet-18/34/50 backbones and the segmentation heads, built as graphs (graph.h).
 *
 * The networks follow nets/README.md 2 exactly: pre-activation blocks (ReLU then
 * KNConv), identity shortcuts without a ReLU after the add, transition blocks (ReLU,
 * KNConv 2x2 with asymmetric padding, MaxPool 2x2/2), Kaiming-normal fan_out init.
 * Parameter names are the reference PyTorch names prefixed by "backbone." (head
 * parameters by "head."), so that imported weights load by name.
 *
 * Heads: NET_HEAD_FCN and NET_HEAD_FPN produce logits (K, H, W) at the input size;
 * NET_HEAD_CLASSIFIER is the reference ImageNet head (max_pool_f, conv_block_f,
 * kn_f, fc): it is built only to name and count the reference parameters (the global
 * average pool and fc are declared as parameters but not run), so that a test can prove
 * the backbone shapes equal the reference ones.
 */
#ifndef KNSEG_NETS_KNRESNET_H
#define KNSEG_NETS_KNRESNET_H

#include "nets/graph.h"

#include <stdbool.h>

enum net_arch { NET_KNRESNET18, NET_KNRESNET34, NET_KNRESNET50 };
enum net_head { NET_HEAD_FCN, NET_HEAD_FPN, NET_HEAD_CLASSIFIER };

struct net_config {
	enum net_arch arch;
	enum net_head head;
	float width;      /* channel multiplier; 1.0 reproduces the reference shapes */
	int num_classes;
	float p;          /* KNConv statistics dropout while training (reference 0.05) */
	bool imagenet_pads; /* trans_block3 pad (2,1,2,1) as in the ImageNet model */
};

/* The defaults: width 1, p 0.05, segmentation pads; arch, head and classes as given. */
struct net_config net_config_default(enum net_arch arch, enum net_head head, int num_classes);

/*
 * Builds the network for n images of h x w into g (initialized here; graph_free after).
 * Segmentation heads need h and w to be multiples of 32 (callers pad); returns KN_EINVAL
 * with a message otherwise, or when the input is too small for the network.
 */
int net_build(struct graph *g, const struct net_config *cfg, int n, int h, int w);

/* Channel count c scaled by width: c itself at width 1, else a multiple of 8, >= 8. */
int net_channels(float width, int c);

/* Names as used on the command line and in checkpoints ("knresnet18", "fpn", ...). */
const char *net_arch_name(enum net_arch arch);
const char *net_head_name(enum net_head head);
int net_arch_parse(const char *s, enum net_arch *arch);
int net_head_parse(const char *s, enum net_head *head);

/* KernelNorm 1x1 dropout of the heads: min(5 p, 0.25), as the reference head uses. */
float net_final_p(float p);

#endif
