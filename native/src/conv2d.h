// Conv2D and its two backprops over NHWC tensors as im2col + SGEMM (filter [fh, fw, in, out]).
#pragma once
#include "conv_geometry.h"

namespace samflow {

void conv2d_forward(const ConvGeometry& g, const float* x, const float* filter, float* y);
void conv2d_backprop_input(const ConvGeometry& g, const float* dy, const float* filter, float* dx);
void conv2d_backprop_filter(const ConvGeometry& g, const float* x, const float* dy, float* dfilter);

}  // namespace samflow
