// Point sampling for the set loss (src/nodes/losses/point-sampling.ts holds the definitions and
// the JS versions these replace). A point (x, y) in [0, 1]^2 is read bilinearly from an h x w map
// at pixel coordinate (x*w - 0.5, y*h - 0.5), as grid_sample(align_corners=False) places it:
// neighbours outside the map weigh 0, or with clamp the coordinate is clamped (F.interpolate).
// A class mask at a point is the weight of the neighbours whose label is that class.
#pragma once
#include <cstddef>
#include <cstdint>

namespace samflow {

// The compact labels' id of ignored pixels (compact labels hold classes < 255).
constexpr uint8_t kCompactIgnore = 255;

// present[b * classes + id] = 1 for each label id in [0, classes) of image b (labels: images x
// pixels). Returns the index of the first label outside [0, classes) that is not `ignore`, or -1.
// Where `compact` is not null (classes <= 255), it gets the labels as bytes, ignored ones
// kCompactIgnore: a quarter of the memory, so that a 1024^2 label map fits in L2.
int64_t present_classes(const int32_t* labels, std::size_t images, std::size_t pixels, int32_t classes, int32_t ignore,
                        uint8_t* present, uint8_t* compact);

// HF's matching costs of one image (labels as int32 or compact bytes): the rows' maps (data + offsets[r], h x w) and the label map's
// class masks (labels, label_h x label_w; class id -> column slot[id] when >= 0, ids < slots) at
// `count` shared points. bce[r, j] = mean BCE of row r against column j, dice[r, j] = 1 - (2 sum
// p t + 1) / (sum p + sum t + 1) with p = sigmoid.
void matching_costs(const float* data, const int64_t* offsets, std::size_t rows, const float* points, std::size_t count,
                    int h, int w, const int32_t* labels, int label_h, int label_w, bool clamp, const int32_t* slot,
                    std::size_t slots, std::size_t columns, double* bce, double* dice);
void matching_costs(const float* data, const int64_t* offsets, std::size_t rows, const float* points, std::size_t count,
                    int h, int w, const uint8_t* labels, int label_h, int label_w, bool clamp, const int32_t* slot,
                    std::size_t slots, std::size_t columns, double* bce, double* dice);

// out[r, p] = row r's map (data + offsets[r], h x w) at point p of `count` shared ones.
void sample_points(const float* data, const int64_t* offsets, std::size_t rows, const float* points, std::size_t count, int h,
                   int w, bool clamp, float* out);

// PointRend's importance sampling of each row's map (zero padding): its block of draws holds
// 2*drawn candidate coordinates, then 2*(points - uncertain) uniform ones. out[r] (2*points) gets
// the `uncertain` candidates of smallest |logit| in draw order (ties: the earlier), then the
// uniform ones; logits[r] (points) the map at them. The draws are `draws`, or where that is null
// the mulberry32 stream from *state (advanced past them), made row by row.
void importance_points(const float* data, const int64_t* offsets, std::size_t rows, const float* draws, uint32_t* state, int h,
                       int w, std::size_t drawn, std::size_t uncertain, std::size_t points, float* out, float* logits);

// Each row's truth (class classes[r] of the label map at labels + label_offsets[r]) at its points
// (`count` shared by every row, or `count` per row) into truth [rows, count], and with its logits
// there the row sums stats[r] = (sum softplus(x) - x t, sum p, sum p t, sum t), p = sigmoid(x).
void point_loss(const float* logits, std::size_t rows, const float* points, std::size_t count, bool per_row,
                const int32_t* labels, const int64_t* label_offsets, const int32_t* classes, int label_h, int label_w,
                bool clamp, float* truth, double* stats);
void point_loss(const float* logits, std::size_t rows, const float* points, std::size_t count, bool per_row,
                const uint8_t* labels, const int64_t* label_offsets, const int32_t* classes, int label_h, int label_w,
                bool clamp, float* truth, double* stats);

// The gradient of the point losses: at each point of row r, d/dlogit = a (p - t) + (b t + c) p (1 - p)
// with (a, b, c) = coefficients[r], summed at the point's neighbours on row r's map, which is
// written in full (its pages faulted in and cleared first). Rows that share a map sum into it serially.
void point_loss_grad(float* dx, const int64_t* offsets, std::size_t rows, const float* points, std::size_t count,
                     bool per_row, int h, int w, bool clamp, const float* logits, const float* truth,
                     const double* coefficients);

// The next n floats of a mulberry32 stream (state advanced in place), as src/nodes/random.ts makes them.
void mulberry32_fill(uint32_t* state, float* out, std::size_t n);

}  // namespace samflow
