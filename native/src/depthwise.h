// Depthwise Conv2D (filter [fh, fw, in, multiplier]) and its backprops over NHWC tensors, as
// direct loops: there is no reduction over channels for a GEMM to exploit.
#pragma once
#include "conv_geometry.h"

namespace samflow {

void depthwise_forward(const ConvGeometry& g, const float* x, const float* filter, float* y);
void depthwise_backprop_input(const ConvGeometry& g, const float* dy, const float* filter, float* dx);
void depthwise_backprop_filter(const ConvGeometry& g, const float* x, const float* dy, float* dfilter);

}  // namespace samflow
