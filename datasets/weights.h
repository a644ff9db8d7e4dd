/*
 * Class weights for the loss from a dataset's labels: median frequency balancing
 * (Eigen and Fergus, 2015; the SegNet weights of CamVid):
 *
 *     freq(c) = pixels of class c / pixels of the images in which c is present
 *     w(c)    = median over classes of freq / freq(c)
 *
 * Ignored pixels count in neither term ("pixels of the images" are their labelled
 * pixels). A class that never appears
 * gets weight 0 (it cannot be learned and must not divide by zero). On the CamVid train
 * labels here this gives 0.2794 0.2018 4.7889 0.1491 1.0000 0.4235 3.8464 1.9798 0.7890
 * 6.3847 8.8193; the weights the SegNet authors published (0.2595 ... 9.6446 ... 7.3614)
 * are not reproduced by this or the obvious variants (void counted, void a class), so
 * they were computed from other label data; pass them with --class-weights to use them. Labels are read in
 * parallel and summed in sample order, so the result does not depend on threads.
 */
#ifndef KNSEG_DATASETS_WEIGHTS_H
#define KNSEG_DATASETS_WEIGHTS_H

#include "datasets/dataset.h"

/* weights[0..K) for d's classes; fails naming the first label that cannot be read. */
int class_weights_median_frequency(const struct dataset *d, float *weights);

#endif
