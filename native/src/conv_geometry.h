// The geometry of a 2-D convolution over NHWC tensors, as tfjs's computeConv2DInfo gives it.
#pragma once

namespace samflow {

struct ConvGeometry {
  int batch, in_h, in_w, in_c;
  int out_h, out_w, out_c;
  int f_h, f_w;
  int stride_h, stride_w, dil_h, dil_w;
  int pad_top, pad_left;
};

}  // namespace samflow
